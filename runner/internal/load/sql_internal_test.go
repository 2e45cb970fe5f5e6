package load

import (
	"strings"
	"testing"

	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
)

func mustOptions(t *testing.T, entries ...string) []option {
	t.Helper()
	opts, err := parseOptions(entries)
	if err != nil {
		t.Fatal(err)
	}
	return opts
}

// There is no Redshift here: the statements sent to it are pinned as golden strings.
func TestRedshiftCopySQL_Golden(t *testing.T) {
	const role = "arn:aws:iam::123456789012:role/redshift-copy"
	for _, tc := range []struct {
		name, from, format string
		opts               []string
		want               string
	}{
		{"csv prefix with options", "s3://lake/views/dt=2024-05-01/", "csv",
			[]string{"IGNOREHEADER 1", "TIMEFORMAT 'auto'", "delimiter as '|'", "NULL AS '\\N'", "GZIP", "compupdate off", "ACCEPTINVCHARS"},
			`COPY "sluice_staging" FROM 's3://lake/views/dt=2024-05-01/' IAM_ROLE 'arn:aws:iam::123456789012:role/redshift-copy' FORMAT AS CSV IGNOREHEADER 1 TIMEFORMAT 'auto' DELIMITER '|' NULL AS '\\N' GZIP COMPUPDATE OFF ACCEPTINVCHARS`},
		{"json object", "s3://lake/events/part-0.json", "json", []string{"MAXERROR 10", "REGION 'eu-west-1'"},
			`COPY "sluice_staging" FROM 's3://lake/events/part-0.json' IAM_ROLE 'arn:aws:iam::123456789012:role/redshift-copy' FORMAT AS JSON 'auto' MAXERROR 10 REGION 'eu-west-1'`},
		{"parquet", "s3://lake/p/", "parquet", nil,
			`COPY "sluice_staging" FROM 's3://lake/p/' IAM_ROLE 'arn:aws:iam::123456789012:role/redshift-copy' FORMAT AS PARQUET`},
		{"a .gz object implies GZIP", "s3://lake/views.csv.GZ", "csv", nil,
			`COPY "sluice_staging" FROM 's3://lake/views.csv.GZ' IAM_ROLE 'arn:aws:iam::123456789012:role/redshift-copy' FORMAT AS CSV GZIP`},
		{"quotes in literals are doubled", "s3://lake/o'brien/", "csv", []string{"QUOTE AS ''''", "ACCEPTINVCHARS AS '?'"},
			`COPY "sluice_staging" FROM 's3://lake/o''brien/' IAM_ROLE 'arn:aws:iam::123456789012:role/redshift-copy' FORMAT AS CSV QUOTE '''' ACCEPTINVCHARS '?'`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := redshiftCopySQL(tc.from, tc.format, role, mustOptions(t, tc.opts...))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestRedshiftCopySQL_RefusesFileLocationsAndAMissingRole(t *testing.T) {
	_, err := redshiftCopySQL("file:///data/views/", "csv", "arn:aws:iam::123456789012:role/r", nil)
	if err == nil || !strings.Contains(err.Error(), `redshift_copy.from: "file:///data/views/": Redshift COPY reads from s3:// or dynamodb:// only`) {
		t.Errorf("file://: err = %v", err)
	}
	_, err = redshiftCopySQL("s3://lake/views/", "csv", "", nil)
	if err == nil || !strings.Contains(err.Error(), "redshift_copy.iam_role is required when loading into Redshift") {
		t.Errorf("no role: err = %v", err)
	}
	_, err = redshiftCopySQL("s3://lake/views/", "avro", "arn:aws:iam::123456789012:role/r", nil)
	if err == nil || !strings.Contains(err.Error(), `redshift_copy.format: "avro" is not one of csv, text, json, parquet`) {
		t.Errorf("avro: err = %v", err)
	}
}

func TestMergeSQL_Golden(t *testing.T) {
	tg := target{schema: "web", table: "page_views"}
	cols := []string{"id", "url", "views"}
	const insert = `INSERT INTO "web"."page_views" ("id", "url", "views") SELECT "id", "url", "views" FROM "sluice_staging"`
	for _, tc := range []struct {
		mode     string
		keys     []string
		del, ins string
	}{
		{"TRUNCATE", nil, `DELETE FROM "web"."page_views"`, insert},
		{"APPEND", nil, "", insert},
		{"KEEP_EXISTING", []string{"id", "url"}, "",
			insert + ` WHERE NOT EXISTS (SELECT 1 FROM "web"."page_views" AS "t" WHERE "t"."id" = "sluice_staging"."id" AND "t"."url" = "sluice_staging"."url")`},
		{"OVERWRITE_EXISTING", []string{"id"},
			`DELETE FROM "web"."page_views" USING "sluice_staging" WHERE "web"."page_views"."id" = "sluice_staging"."id"`, insert},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			del, ins, err := mergeSQL(tc.mode, tg, cols, tc.keys)
			if err != nil {
				t.Fatal(err)
			}
			if del != tc.del {
				t.Errorf("delete:\n%s\nwant\n%s", del, tc.del)
			}
			if ins != tc.ins {
				t.Errorf("insert:\n%s\nwant\n%s", ins, tc.ins)
			}
		})
	}
	if _, _, err := mergeSQL("UPSERT", tg, cols, nil); err == nil || !strings.Contains(err.Error(), `redshift_copy.insert_mode: "UPSERT" is not one of TRUNCATE, APPEND, KEEP_EXISTING, OVERWRITE_EXISTING`) {
		t.Errorf("UPSERT: err = %v", err)
	}
}

func TestStagingAndCatalogSQL_Golden(t *testing.T) {
	tg := target{schema: "web", table: "page_views"}
	for _, tc := range []struct{ got, want string }{
		{createStagingSQL(tg), `CREATE TEMPORARY TABLE "sluice_staging" (LIKE "web"."page_views")`},
		{dropStagingSQL(), `DROP TABLE "sluice_staging"`},
		{columnsQuery(tg, redshift.Redshift), `SELECT column_name FROM information_schema.columns WHERE table_schema = 'web' AND table_name = 'page_views' ORDER BY ordinal_position`},
		{columnsQuery(tg, redshift.PostgreSQL), `SELECT column_name FROM information_schema.columns WHERE table_schema = 'web' AND table_name = 'page_views' AND is_generated = 'NEVER' ORDER BY ordinal_position`},
		{keyProblemSQL([]string{"id", "url"}), `SELECT CAST("id" AS VARCHAR(256)), CAST("url" AS VARCHAR(256)), COUNT(*) FROM "sluice_staging" GROUP BY "id", "url" HAVING COUNT(*) > 1 OR "id" IS NULL OR "url" IS NULL LIMIT 1`},
		{copyStdinSQL([]string{"id", "url"}, "FORMAT csv, NULL 'NA'"), `COPY "sluice_staging" ("id", "url") FROM STDIN WITH (FORMAT csv, NULL 'NA')`},
	} {
		if tc.got != tc.want {
			t.Errorf("got\n%s\nwant\n%s", tc.got, tc.want)
		}
	}
}

func TestParseTarget_FoldsToLowerCaseAndRefusesOtherForms(t *testing.T) {
	tg, err := parseTarget("Web.Page_Views", redshift.PostgreSQL)
	if err != nil || tg != (target{schema: "web", table: "page_views"}) {
		t.Errorf("got %+v, %v", tg, err)
	}
	for _, s := range []string{"page_views", "a.b.c", ".x", "x."} {
		if _, err := parseTarget(s, redshift.PostgreSQL); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
	if _, err := parseTarget("web."+strings.Repeat("x", 64), redshift.PostgreSQL); err == nil || !strings.Contains(err.Error(), "postgresql allows at most 63") {
		t.Errorf("long name: err = %v", err)
	}
}

func TestParseOptions_RefusesMalformedEntriesByIndex(t *testing.T) {
	for _, tc := range []struct{ entry, want string }{
		{"SKIPROWS 1", "redshift_copy.options[0]: unknown COPY option SKIPROWS"},
		{"IGNOREHEADER 1 DELIMITER '|'", "holds more than one option; give each option its own entry"},
		{"IGNOREHEADER 1; DROP TABLE web.page_views", `unexpected ';'`},
		{"IGNOREHEADER", "IGNOREHEADER needs a number"},
		{"IGNOREHEADER 'one'", "IGNOREHEADER needs a number"},
		{"MAXERROR -1", `unexpected '-'`},
		{"DELIMITER |", "values other than numbers and words must be single-quoted"},
		{"DELIMITER pipe", "DELIMITER needs a quoted value"},
		{"DELIMITER '|", "unterminated quoted value"},
		{"GZIP 9", "GZIP takes no value"},
		{"COMPUPDATE MAYBE", `COMPUPDATE value "MAYBE" is not one of ON, OFF, TRUE, FALSE, PRESET`},
		{"ENCODING 'UTF8'", "ENCODING takes a bare word"},
		{"'auto'", "must start with an option keyword"},
		{"   ", "empty option"},
	} {
		_, err := parseOptions([]string{tc.entry})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.entry, err, tc.want)
		}
	}
	_, err := parseOptions([]string{"GZIP", "IGNOREHEADER 1", "gzip"})
	if err == nil || !strings.Contains(err.Error(), "redshift_copy.options[2]: GZIP is already set by redshift_copy.options[0]") {
		t.Errorf("duplicate: err = %v", err)
	}
}

func TestPlanPostgres_MapsCSVOptionsAndRefusesTheRest(t *testing.T) {
	pc, err := planPostgres("csv", mustOptions(t, "IGNOREHEADER 2", "DELIMITER '|'", "NULL AS 'it''s \\N'", "QUOTE AS '`'", "GZIP", "DATEFORMAT 'AUTO'"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `FORMAT csv, DELIMITER '|', NULL 'it''s \N', QUOTE '` + "`" + `'`; pc.with != want {
		t.Errorf("with = %s, want %s", pc.with, want)
	}
	if pc.skipLines != 2 || !pc.gzip || pc.bzip2 || len(pc.notes) != 1 {
		t.Errorf("plan = %+v", pc)
	}
	for _, tc := range []struct {
		format string
		opts   []string
		want   string
	}{
		{"json", []string{"IGNOREHEADER 1"}, "redshift_copy.options[0]: IGNOREHEADER applies to formats csv and text only, not json"},
		{"json", []string{"GZIP", "NULL AS 'x'"}, "redshift_copy.options[1]: NULL applies to formats csv and text only"},
		{"csv", []string{"DELIMITER '||'"}, "DELIMITER must be a single one-byte character, got '||'"},
		{"csv", []string{"ZSTD"}, "COPY option ZSTD is supported on Redshift only"},
		{"csv", []string{"DATEFORMAT 'YYYY-MM-DD'"}, "only DATEFORMAT 'auto' is accepted"},
		{"parquet", nil, "parquet needs a Redshift connection"},
		{"xml", nil, `redshift_copy.format: "xml" is not one of csv, text, json, parquet`},
	} {
		_, err := planPostgres(tc.format, mustOptions(t, tc.opts...))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q: err = %v, want %q", tc.format, tc.opts, err, tc.want)
		}
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1204: "1,204", 1234567: "1,234,567", -1000: "-1,000"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestKnownOptions_AreSortedAndCoverThePostgreSQLMappings(t *testing.T) {
	got := KnownOptions()
	for i := 1; i < len(got); i++ {
		if got[i-1] >= got[i] {
			t.Fatalf("not sorted at %d: %v", i, got)
		}
	}
	for _, k := range []string{"IGNOREHEADER", "DELIMITER", "NULL", "QUOTE", "GZIP", "BZIP2", "TIMEFORMAT", "DATEFORMAT"} {
		if knownOptions[k].pg == pgRefused {
			t.Errorf("%s is refused on PostgreSQL", k)
		}
	}
}
