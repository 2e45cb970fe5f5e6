package redshift

import (
	"context"
	"database/sql"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func sqlText(s string) sql.NullString { return sql.NullString{String: s, Valid: true} }

func TestNormalizePrivileges(t *testing.T) {
	tests := []struct {
		t    ObjectType
		d    Dialect
		in   []string
		want PrivSet
	}{
		{ObjectDatabase, PostgreSQL, []string{"ALL"}, NewPrivSet(Create, Temporary, Connect)},
		{ObjectDatabase, Redshift, []string{"all privileges"}, NewPrivSet(Create, Temporary)},
		{ObjectDatabase, Redshift, []string{"temp", "TEMPORARY"}, NewPrivSet(Temporary)},
		{ObjectSchema, PostgreSQL, []string{"usage", "Create"}, NewPrivSet(Usage, Create)},
		{ObjectTable, PostgreSQL, []string{"ALL"}, NewPrivSet(Select, Insert, Update, Delete, References, Truncate)},
		{ObjectAllTables, Redshift, []string{"ALL", "SELECT"}, NewPrivSet(Select, Insert, Update, Delete, References)},
		{ObjectTable, PostgreSQL, nil, 0},
	}
	for _, tt := range tests {
		got, err := NormalizePrivileges(tt.t, tt.d, tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizePrivileges(%s, %s, %q) = %s, %v; want %s", tt.t, tt.d, tt.in, got.SQL(), err, tt.want.SQL())
		}
	}
}

func TestParsePrivilege_Refusals(t *testing.T) {
	rs := Redshift
	tests := []struct {
		t    ObjectType
		in   string
		d    *Dialect
		want string
	}{
		{ObjectSchema, "SELECT", nil, `"SELECT" does not apply to object_type "schema"; allowed: CREATE, USAGE, or ALL`},
		{ObjectDatabase, "USAGE", nil, `allowed: CREATE, TEMPORARY (or TEMP), CONNECT (PostgreSQL only), or ALL`},
		{ObjectTable, "TRIGGER", nil, `allowed: SELECT, INSERT, UPDATE, DELETE, REFERENCES, TRUNCATE (PostgreSQL only), or ALL`},
		{ObjectDatabase, "connect", &rs, `CONNECT on database is PostgreSQL-only and this database is Redshift`},
		{ObjectAllTables, "TRUNCATE", &rs, `TRUNCATE on all_tables is PostgreSQL-only`},
		{ObjectTable, "ALL", nil, `"ALL" does not apply`}, // ALL is expanded by NormalizePrivileges only
	}
	for _, tt := range tests {
		_, err := ParsePrivilege(tt.t, tt.in, tt.d)
		if !errors.Is(err, ErrInvalidPrivilege) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParsePrivilege(%s, %q) = %v, want %q", tt.t, tt.in, err, tt.want)
		}
	}
	if _, err := ParsePrivilege(ObjectDatabase, "CONNECT", nil); err != nil {
		t.Errorf("CONNECT is valid before the dialect is known: %v", err)
	}
	if _, err := NormalizePrivileges(ObjectDatabase, Redshift, []string{"CONNECT", "USAGE"}); err == nil || !strings.Contains(err.Error(), "USAGE") || !strings.Contains(err.Error(), "CONNECT") {
		t.Errorf("both refusals reported: %v", err)
	}
}

func TestGrantID_RoundTrip(t *testing.T) {
	tests := []struct {
		g  Grant
		id string
	}{
		{Grant{GranteeType: GranteeUser, Grantee: "alice", ObjectType: ObjectTable, Schema: "clicks", Table: "events"}, `user:alice:table:clicks:events`},
		{Grant{GranteeType: GranteeGroup, Grantee: "analysts", ObjectType: ObjectAllTables, Schema: "clicks"}, `group:analysts:all_tables:clicks`},
		{Grant{GranteeType: GranteePublic, ObjectType: ObjectDatabase, Database: "dev"}, `public::database:dev`},
		{Grant{GranteeType: GranteeUser, Grantee: `we:ird\`, ObjectType: ObjectSchema, Schema: `a\:b`}, `user:we\:ird\\:schema:a\\\:b`},
		{Grant{GranteeType: GranteeGroup, Grantee: "表 \"x\"", ObjectType: ObjectTable, Schema: "::", Table: ":"}, `group:表 "x":table:\:\::\:`},
	}
	for _, tt := range tests {
		if got := GrantID(tt.g); got != tt.id {
			t.Errorf("GrantID(%+v) = %s, want %s", tt.g, got, tt.id)
		}
		g, err := ParseGrantID(tt.id)
		if err != nil || !reflect.DeepEqual(g, tt.g) {
			t.Errorf("ParseGrantID(%s) = %+v, %v; want %+v", tt.id, g, err, tt.g)
		}
	}
}

func TestParseGrantID_Invalid(t *testing.T) {
	tests := map[string]string{
		`user:alice:table:clicks`:           "object_type table takes 5 fields, got 4",
		`user:alice:schema:clicks:events`:   "object_type schema takes 4 fields, got 5",
		`role:alice:schema:clicks`:          `grantee_type "role" is not one of user, group, public`,
		`user:alice:view:clicks`:            `object_type "view" is not one of database, schema, table, all_tables`,
		`public:alice:schema:clicks`:        "the grantee is empty for public and only for public",
		`user::schema:clicks`:               "the grantee is empty for public and only for public",
		`user:alice:schema:`:                "empty object name",
		`user:a\lice:schema:s`:              `a backslash must be followed by \ or :`,
		`clicks`:                            "too few fields",
		`group:analysts:all_tables:clicks:`: "object_type all_tables takes 4 fields, got 5",
	}
	for id, want := range tests {
		_, err := ParseGrantID(id)
		if !errors.Is(err, ErrInvalidGrantID) || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseGrantID(%s) = %v, want %q", id, err, want)
		}
	}
}

// Golden SQL for both dialects.
func TestSetGrantSQL_Golden(t *testing.T) {
	group := Grant{GranteeType: GranteeGroup, Grantee: `ana"lysts`, ObjectType: ObjectTable, Schema: "clicks", Table: "events",
		Privileges: NewPrivSet(Select, Insert, References)}
	have := Held{Objects: 1, Every: NewPrivSet(Select, Delete), Some: NewPrivSet(Select, Delete)}
	if got, want := Redshift.SetGrantSQL(group, have), []string{
		`GRANT INSERT, REFERENCES ON TABLE "clicks"."events" TO GROUP "ana""lysts"`,
		`REVOKE DELETE ON TABLE "clicks"."events" FROM GROUP "ana""lysts"`,
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("Redshift:\n%q\nwant\n%q", got, want)
	}
	if got, want := PostgreSQL.SetGrantSQL(group, have), []string{
		`GRANT INSERT, REFERENCES ON TABLE "clicks"."events" TO "ana""lysts"`,
		`REVOKE DELETE ON TABLE "clicks"."events" FROM "ana""lysts"`,
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("PostgreSQL:\n%q\nwant\n%q", got, want)
	}

	db := Grant{GranteeType: GranteePublic, ObjectType: ObjectDatabase, Database: "dev", Privileges: NewPrivSet(Temporary)}
	pgDefault := Held{Objects: 1, Every: NewPrivSet(Connect, Temporary), Some: NewPrivSet(Connect, Temporary)}
	if got, want := PostgreSQL.SetGrantSQL(db, pgDefault), []string{`REVOKE CONNECT ON DATABASE "dev" FROM PUBLIC`}; !reflect.DeepEqual(got, want) {
		t.Errorf("database: %q", got)
	}

	schema := Grant{GranteeType: GranteeUser, Grantee: "alice", ObjectType: ObjectSchema, Schema: "s", Privileges: NewPrivSet(Usage, Create)}
	if got, want := Redshift.SetGrantSQL(schema, Held{Objects: 1}), []string{`GRANT CREATE, USAGE ON SCHEMA "s" TO "alice"`}; !reflect.DeepEqual(got, want) {
		t.Errorf("schema: %q", got)
	}
	schema.Privileges = NewPrivSet(Usage)
	if got := PostgreSQL.SetGrantSQL(schema, Held{Objects: 1, Every: NewPrivSet(Usage), Some: NewPrivSet(Usage)}); len(got) != 0 {
		t.Errorf("nothing to do: %q", got)
	}

	all := Grant{GranteeType: GranteeGroup, Grantee: "bi", ObjectType: ObjectAllTables, Schema: "clicks", Privileges: NewPrivSet(Select, Update), FutureTables: true}
	mixed := Held{Objects: 3, Every: NewPrivSet(Select), Some: NewPrivSet(Select, Insert, Update), Future: NewPrivSet(Select, Delete)}
	if got, want := Redshift.SetGrantSQL(all, mixed), []string{
		`GRANT UPDATE ON ALL TABLES IN SCHEMA "clicks" TO GROUP "bi"`,
		`REVOKE INSERT ON ALL TABLES IN SCHEMA "clicks" FROM GROUP "bi"`,
		`ALTER DEFAULT PRIVILEGES IN SCHEMA "clicks" GRANT UPDATE ON TABLES TO GROUP "bi"`,
		`ALTER DEFAULT PRIVILEGES IN SCHEMA "clicks" REVOKE DELETE ON TABLES FROM GROUP "bi"`,
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("Redshift all_tables:\n%q\nwant\n%q", got, want)
	}
	// future_tables off: the defaults go; an empty schema needs no table statement.
	all.FutureTables = false
	if got, want := PostgreSQL.SetGrantSQL(all, Held{Future: NewPrivSet(Select)}), []string{
		`ALTER DEFAULT PRIVILEGES IN SCHEMA "clicks" REVOKE SELECT ON TABLES FROM "bi"`,
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("PostgreSQL all_tables without future:\n%q\nwant\n%q", got, want)
	}
}

func TestRevokeGrantSQL_Golden(t *testing.T) {
	tests := []struct {
		d    Dialect
		g    Grant
		want []string
	}{
		{PostgreSQL, Grant{GranteeType: GranteePublic, ObjectType: ObjectDatabase, Database: `d"b`}, []string{`REVOKE ALL ON DATABASE "d""b" FROM PUBLIC`}},
		{Redshift, Grant{GranteeType: GranteeGroup, Grantee: "g", ObjectType: ObjectSchema, Schema: "s"}, []string{`REVOKE ALL ON SCHEMA "s" FROM GROUP "g"`}},
		{PostgreSQL, Grant{GranteeType: GranteeGroup, Grantee: "g", ObjectType: ObjectTable, Schema: "s", Table: "t"}, []string{`REVOKE ALL ON TABLE "s"."t" FROM "g"`}},
		{Redshift, Grant{GranteeType: GranteeUser, Grantee: "u", ObjectType: ObjectAllTables, Schema: "s"}, []string{
			`REVOKE ALL ON ALL TABLES IN SCHEMA "s" FROM "u"`,
			`ALTER DEFAULT PRIVILEGES IN SCHEMA "s" REVOKE ALL ON TABLES FROM "u"`,
		}},
	}
	for _, tt := range tests {
		if got := tt.d.RevokeGrantSQL(tt.g); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s %s:\n%q\nwant\n%q", tt.d, GrantID(tt.g), got, tt.want)
		}
	}
}

func TestHeldReadBack_AllTables(t *testing.T) {
	sel, ins, upd := NewPrivSet(Select), NewPrivSet(Insert), NewPrivSet(Update)
	tests := []struct {
		name       string
		h          Held
		want       PrivSet
		privs      PrivSet
		futureRead bool
	}{
		{"uniform tables", Held{Objects: 2, Every: sel | ins, Some: sel | ins}, sel | ins, sel | ins, false},
		{"revoked from one table", Held{Objects: 2, Every: sel, Some: sel | ins}, sel | ins, sel, false},
		{"stray grant on one table", Held{Objects: 2, Every: sel, Some: sel | upd}, sel, sel | upd, false},
		{"empty schema contradicts nothing", Held{}, sel | ins, sel | ins, false},
		{"empty schema with defaults", Held{Future: sel}, sel | ins, sel, true},
		{"defaults missing a privilege", Held{Objects: 1, Every: sel | ins, Some: sel | ins, Future: sel}, sel | ins, sel, true},
	}
	for _, tt := range tests {
		p, f := tt.h.ReadBack(ObjectAllTables, tt.want)
		if p != tt.privs || f != tt.futureRead {
			t.Errorf("%s: %s, %v; want %s, %v", tt.name, p.SQL(), f, tt.privs.SQL(), tt.futureRead)
		}
	}
	if p, f := (Held{Objects: 1, Every: sel, Some: sel}).ReadBack(ObjectTable, ins); p != sel || f {
		t.Errorf("table read-back %s %v", p.SQL(), f)
	}
}

func TestCheckGrant(t *testing.T) {
	ok := Grant{GranteeType: GranteeUser, Grantee: "u", ObjectType: ObjectTable, Schema: "s", Table: "t", Privileges: NewPrivSet(Select)}
	if err := Redshift.CheckGrant(ok); err != nil {
		t.Error(err)
	}
	bad := Grant{GranteeType: GranteePublic, Grantee: "x", ObjectType: ObjectDatabase, Privileges: NewPrivSet(Connect, Select), FutureTables: true}
	err := Redshift.CheckGrant(bad)
	for _, want := range []string{`grantee "x" must be empty`, "database: invalid identifier", "SELECT, CONNECT not valid on database in redshift; allowed: CREATE, TEMPORARY", "future_tables applies to object_type all_tables only"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckGrant: %v, want %q", err, want)
		}
	}
}

// fakeExec answers the catalog's queries from canned rows and records statements.
type fakeExec struct {
	d       Dialect
	rows    func(q string) []Row
	queries []string
	execs   [][]string
}

func (f *fakeExec) Dialect() Dialect { return f.d }
func (f *fakeExec) Query(_ context.Context, q string) ([]Row, error) {
	f.queries = append(f.queries, q)
	return f.rows(q), nil
}
func (f *fakeExec) ExecTx(_ context.Context, stmts ...string) error {
	f.execs = append(f.execs, stmts)
	return nil
}
func (f *fakeExec) Exec(_ context.Context, stmt string) error {
	f.execs = append(f.execs, []string{autocommitMark, stmt})
	return nil
}
func (f *fakeExec) Queries() int64 { return int64(len(f.queries)) }
func (f *fakeExec) Close()         {}

func row(vs ...any) Row {
	r := make(Row, len(vs))
	for i, v := range vs {
		if s, ok := v.(string); ok {
			r[i] = sqlText(s)
		}
	}
	return r
}

// The grant part of the snapshot costs four queries however many objects there are, and
// SetGrant reads fresh, sends one transaction and reads back.
func TestCatalogGrants_FixedQueriesAndSet(t *testing.T) {
	// Exact queries only: other loaders of the snapshot get no rows.
	dbs, schemas, tables, defaults := Redshift.grantQueries(allGrants)
	_, _, clicksTables, clicksDefaults := Redshift.grantQueries(scopeOf(Grant{ObjectType: ObjectAllTables, Schema: "clicks"}))
	_, clicksSchema, _, _ := Redshift.grantQueries(scopeOf(Grant{ObjectType: ObjectAllTables, Schema: "clicks"}))
	f := &fakeExec{d: Redshift, rows: func(q string) []Row {
		switch q {
		case dbs:
			return []Row{row("dev", "rdsdb", nil)}
		case schemas, clicksSchema:
			return []Row{row("clicks", "etl", `{etl=UC/etl,"group bi=U/etl"}`)}
		case tables, clicksTables:
			var out []Row
			for _, tbl := range []string{"a", "b", "c", "d"} {
				out = append(out, row("clicks", tbl, "etl", `{etl=arwdxt/etl,"group bi=r/etl"}`))
			}
			return out
		case defaults, clicksDefaults:
			return []Row{row("clicks", `{"group bi=r/sluice"}`)}
		}
		return nil
	}}
	c := NewCatalog(f)
	g := Grant{GranteeType: GranteeGroup, Grantee: "bi", ObjectType: ObjectAllTables, Schema: "clicks", Privileges: NewPrivSet(Select), FutureTables: true}
	st, err := c.Grant(context.Background(), g)
	if err != nil {
		t.Fatal(err)
	}
	if st.Privileges != NewPrivSet(Select) || !st.FutureTables || st.Held.Objects != 4 {
		t.Errorf("read %+v", st)
	}
	grantQueries := 0
	for _, q := range f.queries {
		if slices.Contains([]string{dbs, schemas, tables, defaults}, q) {
			grantQueries++
		}
	}
	if grantQueries != 4 {
		t.Errorf("%d ACL queries, want 4: %q", grantQueries, f.queries)
	}
	if !slices.ContainsFunc(f.queries, func(q string) bool { return strings.Contains(q, "pg_get_userbyid(d.defacluser) = current_user") }) {
		t.Errorf("Redshift default ACLs are per defacluser: %q", f.queries)
	}
	before := len(f.queries)
	for _, name := range []string{"x1", "x2", "x3"} { // more resources: no more queries
		h := g
		h.Grantee = name
		if _, err := c.Grant(context.Background(), h); err != nil {
			t.Fatal(err)
		}
	}
	if len(f.queries) != before {
		t.Errorf("cached snapshot re-queried: %d -> %d", before, len(f.queries))
	}

	g.Privileges = NewPrivSet(Select, Insert)
	if _, err := c.SetGrant(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{
		`GRANT INSERT ON ALL TABLES IN SCHEMA "clicks" TO GROUP "bi"`,
		`ALTER DEFAULT PRIVILEGES IN SCHEMA "clicks" GRANT INSERT ON TABLES TO GROUP "bi"`,
	}}
	if !reflect.DeepEqual(f.execs, want) {
		t.Errorf("SetGrant sent\n%q\nwant\n%q", f.execs, want)
	}

	missing := Grant{GranteeType: GranteeUser, Grantee: "u", ObjectType: ObjectTable, Schema: "clicks", Table: "nope", Privileges: NewPrivSet(Select)}
	if _, err := c.SetGrant(context.Background(), missing); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `table "clicks"."nope"`) || !strings.Contains(err.Error(), "create it first") {
		t.Errorf("missing table: %v", err)
	}
}
