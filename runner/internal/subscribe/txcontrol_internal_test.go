package subscribe

import "testing"

func TestCheckNoTxControl(t *testing.T) {
	for sql, refused := range map[string]bool{
		"INSERT INTO t VALUES (1)":                        false,
		"BEGIN; INSERT INTO t VALUES (1); COMMIT;":        true,
		"insert into t values (1); commit":                true,
		"  -- note\n  Rollback":                           true,
		"END":                                             true,
		"START TRANSACTION ISOLATION LEVEL SERIALIZABLE":  true,
		"VACUUM t":                                        true,
		"PREPARE TRANSACTION 'x'":                         true,
		"PREPARE q AS SELECT 1":                           false,
		"INSERT INTO t VALUES ('it''s; COMMIT')":          false,
		`INSERT INTO "weird;name" VALUES (1); SELECT 'x'`: false,
		"CREATE FUNCTION f() RETURNS void AS $$ BEGIN PERFORM 1; END; $$ LANGUAGE plpgsql":      false,
		"CREATE FUNCTION f() RETURNS void AS $body$ BEGIN; END $body$ LANGUAGE plpgsql; COMMIT": true,
		"UPDATE t SET n = $1; /* COMMIT; */ DELETE FROM t":                                      false,
	} {
		if got := checkNoTxControl(sql) != nil; got != refused {
			t.Errorf("checkNoTxControl(%q) refused = %v, want %v", sql, got, refused)
		}
	}
}
