package redshift

import (
	"reflect"
	"strings"
	"testing"
)

func TestNormaliseType_AliasesMatchFormatType(t *testing.T) {
	tests := []struct{ in, want string }{
		{"int", "integer"},
		{"INTEGER", "integer"},
		{"int4", "integer"},
		{"bigint", "bigint"},
		{"int8", "bigint"},
		{"smallint", "smallint"},
		{"int2", "smallint"},
		{"varchar(32)", "character varying(32)"},
		{"VARCHAR ( 32 )", "character varying(32)"},
		{"character varying(32)", "character varying(32)"},
		{"text", "text"},
		{"bool", "boolean"},
		{"boolean", "boolean"},
		{"timestamp", "timestamp without time zone"},
		{"timestamp without time zone", "timestamp without time zone"},
		{"timestamptz", "timestamp with time zone"},
		{"TIMESTAMP   WITH TIME ZONE", "timestamp with time zone"},
		{"timestamp(3)", "timestamp(3) without time zone"},
		{"numeric(12,2)", "numeric(12,2)"},
		{"decimal(12, 2)", "numeric(12,2)"},
		{"numeric(10)", "numeric(10,0)"},
		{"numeric", "numeric"},
		{"double precision", "double precision"},
		{"float8", "double precision"},
		{"real", "real"},
		{"float4", "real"},
		{"char(3)", "character(3)"},
		{"character(3)", "character(3)"},
		{"char", "character(1)"},
		{"date", "date"},
		{"int[]", "integer[]"},
		{"jsonb", "jsonb"},
	}
	for _, tt := range tests {
		if got := PostgreSQL.NormaliseType(tt.in); got != tt.want {
			t.Errorf("NormaliseType(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNormaliseType_RedshiftDefaultsMadeExplicit(t *testing.T) {
	tests := []struct{ in, want string }{
		{"text", "character varying(256)"},
		{"varchar", "character varying(256)"},
		{"varchar(max)", "character varying(65535)"},
		{"numeric", "numeric(18,0)"},
		{"float", "double precision"},
	}
	for _, tt := range tests {
		if got := Redshift.NormaliseType(tt.in); got != tt.want {
			t.Errorf("Redshift.NormaliseType(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if !Redshift.SameType("text", "character varying(256)") || PostgreSQL.SameType("text", "character varying(256)") {
		t.Error("text is varchar(256) on Redshift only")
	}
}

func TestSameType(t *testing.T) {
	same := [][2]string{{"varchar(32)", "character varying(32)"}, {"int", "int4"}, {"timestamptz", "timestamp with time zone"}, {"Bool", "boolean"}}
	for _, p := range same {
		if !PostgreSQL.SameType(p[0], p[1]) {
			t.Errorf("SameType(%q, %q) = false", p[0], p[1])
		}
	}
	differ := [][2]string{{"int", "bigint"}, {"varchar(32)", "varchar(64)"}, {"timestamp", "timestamptz"}, {"numeric(10,2)", "numeric(10,3)"}}
	for _, p := range differ {
		if PostgreSQL.SameType(p[0], p[1]) {
			t.Errorf("SameType(%q, %q) = true", p[0], p[1])
		}
	}
}

func TestValidateType(t *testing.T) {
	for _, ok := range []string{"bigint", "varchar(32)", "numeric(12, 2)", "timestamp with time zone", "timestamp(3) without time zone", "double precision", "varchar(max)", "int[]"} {
		if err := ValidateType(ok); err != nil {
			t.Errorf("ValidateType(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "int; DROP TABLE x", "int -- c", "varchar(32", "text DEFAULT 1", "int)", "text primary key"} {
		if err := ValidateType(bad); err == nil {
			t.Errorf("ValidateType(%q) accepted", bad)
		}
	}
}

func TestValidateDefault(t *testing.T) {
	for _, ok := range []string{"0", "'a;b'", "now()", "'it''s'", `'--'`, "coalesce(1, (2))"} {
		if err := ValidateDefault(ok); err != nil {
			t.Errorf("ValidateDefault(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"0; DROP TABLE x", "'open", "1 -- c", "f(", "f())", "1 /* c */"} {
		if err := ValidateDefault(bad); err == nil {
			t.Errorf("ValidateDefault(%q) accepted", bad)
		}
	}
}

func TestNormaliseDefault_StripsLiteralCastsOnly(t *testing.T) {
	tests := []struct{ a, b string }{
		{"'x'", "'x'::text"},
		{"'x'", "'x'::character varying"},
		{"'x'", "'x'::character varying(10)"},
		{"'2024-01-01'", "'2024-01-01'::date"},
		{"'2024-01-01 00:00'", "'2024-01-01 00:00'::timestamp without time zone"},
		{"NOW()", "now()"},
		{"nextval('s')", "nextval('s'::regclass)"},
		{"'it''s'", "'it''s'::text"},
		{"0", "0"},
	}
	for _, tt := range tests {
		if !SameDefault(tt.a, tt.b) {
			t.Errorf("SameDefault(%q, %q) = false (%q vs %q)", tt.a, tt.b, NormaliseDefault(tt.a), NormaliseDefault(tt.b))
		}
	}
	differ := [][2]string{{"now()", "now()::date"}, {"'x'", "'y'::text"}, {"0", "1"}, {"'X'", "'x'"}, {"", "0"}}
	for _, p := range differ {
		if SameDefault(p[0], p[1]) {
			t.Errorf("SameDefault(%q, %q) = true", p[0], p[1])
		}
	}
}

func events() Table {
	return Table{
		Schema: `clicks "raw"`, Name: "events;", Owner: "etl",
		Columns: []Column{
			{Name: "id", Type: "bigint", Encode: EncodeAZ64},
			{Name: "kind", Type: "varchar(32)", Nullable: true, Default: "'view'", Encode: EncodeZSTD, Comment: "What happened."},
			{Name: "at", Type: "timestamp", Default: "getdate()"},
		},
		PrimaryKey: []string{"id"},
		DistStyle:  DistKey, DistKey: "id",
		SortStyle: SortCompound, SortKeys: []string{"at", "id"},
		Backup:      false,
		Description: "It's raw.",
	}
}

func TestCreateTableSQL_Golden(t *testing.T) {
	wantRS := []string{
		`CREATE TABLE "clicks ""raw"""."events;" ("id" bigint ENCODE AZ64 NOT NULL, "kind" varchar(32) DEFAULT 'view' ENCODE ZSTD, "at" timestamp DEFAULT getdate() NOT NULL, PRIMARY KEY ("id")) BACKUP NO DISTSTYLE KEY DISTKEY ("id") COMPOUND SORTKEY ("at", "id")`,
		`ALTER TABLE "clicks ""raw"""."events;" OWNER TO "etl"`,
		`COMMENT ON TABLE "clicks ""raw"""."events;" IS 'It''s raw.'`,
		`COMMENT ON COLUMN "clicks ""raw"""."events;"."kind" IS 'What happened.'`,
	}
	if got := Redshift.CreateTableSQL(events()); !reflect.DeepEqual(got, wantRS) {
		t.Errorf("Redshift:\n%q\nwant\n%q", got, wantRS)
	}
	wantPG := append([]string{
		`CREATE TABLE "clicks ""raw"""."events;" ("id" bigint NOT NULL, "kind" varchar(32) DEFAULT 'view', "at" timestamp DEFAULT getdate() NOT NULL, PRIMARY KEY ("id"))`,
	}, wantRS[1:]...)
	if got := PostgreSQL.CreateTableSQL(events()); !reflect.DeepEqual(got, wantPG) {
		t.Errorf("PostgreSQL:\n%q\nwant\n%q", got, wantPG)
	}
	plain := Table{Schema: "s", Name: "t", Columns: []Column{{Name: "a", Type: "int", Nullable: true}}, DistStyle: DistAuto, SortStyle: SortCompound, Backup: true}
	if got := Redshift.CreateTableSQL(plain); !reflect.DeepEqual(got, []string{`CREATE TABLE "s"."t" ("a" int) DISTSTYLE AUTO`}) {
		t.Errorf("plain Redshift: %q", got)
	}
	plain.SortStyle, plain.SortKeys = SortInterleaved, []string{"a"}
	if got := Redshift.CreateTableSQL(plain)[0]; !strings.HasSuffix(got, ` DISTSTYLE AUTO INTERLEAVED SORTKEY ("a")`) {
		t.Errorf("interleaved: %s", got)
	}
}

func TestAlterTableSQL_PostgreSQLGolden(t *testing.T) {
	cur := events()
	want := events()
	want.Name = "events v2"
	want.Owner = "loader"
	want.Columns = []Column{
		{Name: "id", Type: "bigint"},
		{Name: "kind", Type: "character varying(64)", Nullable: false, Default: "'click'", Comment: ""},
		{Name: "at", Type: "timestamp without time zone", Nullable: true},
		{Name: "note", Type: "text", Nullable: true, Default: "'n/a'", Comment: "Free text."},
	}
	want.PrimaryKey = []string{"id", "kind"}
	want.Description = ""
	got := PostgreSQL.AlterTableSQL(TableState{Table: cur, PrimaryKeyName: "events;_pkey"}, want)
	wantSQL := []string{
		`ALTER TABLE "clicks ""raw"""."events;" RENAME TO "events v2"`,
		`ALTER TABLE "clicks ""raw"""."events v2" OWNER TO "loader"`,
		`ALTER TABLE "clicks ""raw"""."events v2" DROP CONSTRAINT "events;_pkey"`,
		`ALTER TABLE "clicks ""raw"""."events v2" ALTER COLUMN "kind" TYPE character varying(64)`,
		`ALTER TABLE "clicks ""raw"""."events v2" ALTER COLUMN "kind" SET NOT NULL`,
		`ALTER TABLE "clicks ""raw"""."events v2" ALTER COLUMN "kind" SET DEFAULT 'click'`,
		`COMMENT ON COLUMN "clicks ""raw"""."events v2"."kind" IS NULL`,
		`ALTER TABLE "clicks ""raw"""."events v2" ALTER COLUMN "at" DROP NOT NULL`,
		`ALTER TABLE "clicks ""raw"""."events v2" ALTER COLUMN "at" DROP DEFAULT`,
		`ALTER TABLE "clicks ""raw"""."events v2" ADD COLUMN "note" text DEFAULT 'n/a'`,
		`COMMENT ON COLUMN "clicks ""raw"""."events v2"."note" IS 'Free text.'`,
		`ALTER TABLE "clicks ""raw"""."events v2" ADD PRIMARY KEY ("id", "kind")`,
		`COMMENT ON TABLE "clicks ""raw"""."events v2" IS NULL`,
	}
	if !reflect.DeepEqual(got, wantSQL) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantSQL, "\n"))
	}
	if got := PostgreSQL.AlterTableSQL(TableState{Table: cur}, cur); len(got) != 0 {
		t.Errorf("no change, statements %q", got)
	}
	// Spelling differences are no change.
	respelled := events()
	respelled.Columns[1].Type = "CHARACTER VARYING(32)"
	respelled.Columns[1].Default = "'view'::text"
	if got := PostgreSQL.AlterTableSQL(TableState{Table: cur}, respelled); len(got) != 0 {
		t.Errorf("respelled, statements %q", got)
	}
	moved := events()
	moved.Schema = "archive"
	dropped := moved
	dropped.Columns = moved.Columns[:2]
	dropped.SortKeys = []string{"id"}
	wantMove := []string{
		`ALTER TABLE "clicks ""raw"""."events;" SET SCHEMA "archive"`,
		`ALTER TABLE "archive"."events;" DROP COLUMN "at"`,
	}
	if got := PostgreSQL.AlterTableSQL(TableState{Table: cur}, dropped); !reflect.DeepEqual(got, wantMove) {
		t.Errorf("move and drop:\n%q\nwant\n%q", got, wantMove)
	}
}

func TestAlterTableSQL_RedshiftGolden(t *testing.T) {
	cur := events()
	want := events()
	want.Columns[0].Encode = EncodeRaw
	want.Columns[1].Type = "varchar(64)"
	want.Columns[1].Comment = "Kind."
	want.Columns = append(want.Columns, Column{Name: "n", Type: "int", Default: "0", Encode: EncodeAZ64})
	want.DistStyle, want.DistKey = DistEven, ""
	want.SortKeys = []string{"id"}
	got := Redshift.AlterTableSQL(TableState{Table: cur}, want)
	wantSQL := []string{
		`ALTER TABLE "clicks ""raw"""."events;" ALTER COLUMN "id" ENCODE RAW`,
		`ALTER TABLE "clicks ""raw"""."events;" ALTER COLUMN "kind" TYPE varchar(64)`,
		`COMMENT ON COLUMN "clicks ""raw"""."events;"."kind" IS 'Kind.'`,
		`ALTER TABLE "clicks ""raw"""."events;" ADD COLUMN "n" int DEFAULT 0 ENCODE AZ64 NOT NULL`,
		`ALTER TABLE "clicks ""raw"""."events;" ALTER DISTSTYLE EVEN`,
		`ALTER TABLE "clicks ""raw"""."events;" ALTER COMPOUND SORTKEY ("id")`,
	}
	if !reflect.DeepEqual(got, wantSQL) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantSQL, "\n"))
	}
	want = events()
	want.DistKey = "at"
	want.SortKeys = nil
	wantSQL = []string{
		`ALTER TABLE "clicks ""raw"""."events;" ALTER DISTSTYLE KEY DISTKEY "at"`,
		`ALTER TABLE "clicks ""raw"""."events;" ALTER SORTKEY NONE`,
	}
	if got := Redshift.AlterTableSQL(TableState{Table: cur}, want); !reflect.DeepEqual(got, wantSQL) {
		t.Errorf("got %q, want %q", got, wantSQL)
	}
	// Encode "" means no opinion: nothing to change.
	want = events()
	want.Columns[0].Encode = ""
	if got := Redshift.AlterTableSQL(TableState{Table: cur}, want); len(got) != 0 {
		t.Errorf("unset encode, statements %q", got)
	}
	if got := Redshift.DropTableSQL(TableKey{Schema: "a", Name: `b"`}); got != `DROP TABLE "a"."b"""` {
		t.Errorf("drop: %s", got)
	}
	if got := PostgreSQL.CountRowsSQL(TableKey{Schema: "a", Name: "b"}); got != `SELECT count(*)::text FROM "a"."b"` {
		t.Errorf("count: %s", got)
	}
}

func reasons(rs []Replacement) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Attribute + "/" + r.Column + ": " + r.Reason
	}
	return out
}

func TestReplaceReasons(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Table)
		pg, rs []string
	}{
		{"nothing", func(*Table) {}, nil, nil},
		{"spelling only", func(t *Table) { t.Columns[1].Type = "character varying(32)"; t.Columns[1].Default = "'view'::text" }, nil, nil},
		{"varchar widened", func(t *Table) { t.Columns[1].Type = "varchar(64)" }, nil, nil},
		{"varchar narrowed", func(t *Table) { t.Columns[1].Type = "varchar(16)" },
			[]string{`type/kind: column "kind" type varchar(32) -> varchar(16) cannot be changed in place on Redshift (only a VARCHAR can be made longer)`},
			[]string{`type/kind: column "kind" type varchar(32) -> varchar(16) cannot be changed in place on Redshift (only a VARCHAR can be made longer)`}},
		{"int to bigint", func(t *Table) { t.Columns[0].Type = "int" },
			[]string{`type/id: column "id" type bigint -> int cannot be changed in place on Redshift (only a VARCHAR can be made longer)`},
			[]string{`type/id: column "id" type bigint -> int cannot be changed in place on Redshift (only a VARCHAR can be made longer)`}},
		{"default and nullable", func(t *Table) { t.Columns[1].Default = "'x'"; t.Columns[1].Nullable = false }, nil,
			[]string{
				`nullable/kind: column "kind" nullable true -> false: Redshift cannot ALTER COLUMN SET/DROP NOT NULL`,
				`default/kind: column "kind" default 'view' -> 'x': Redshift cannot ALTER COLUMN SET DEFAULT`,
			}},
		{"column added last", func(t *Table) { t.Columns = append(t.Columns, Column{Name: "x", Type: "int"}) }, nil, nil},
		{"column added first", func(t *Table) { t.Columns = append([]Column{{Name: "x", Type: "int"}}, t.Columns...) },
			[]string{`columns/: a new column is declared before existing column "id": new columns can only be added after the existing ones`},
			[]string{`columns/: a new column is declared before existing column "id": new columns can only be added after the existing ones`}},
		{"columns swapped", func(t *Table) { t.Columns[0], t.Columns[1] = t.Columns[1], t.Columns[0] },
			[]string{`columns/: the columns change order ("id", "kind", "at" → "kind", "id", "at"): columns cannot be reordered in place`},
			[]string{`columns/: the columns change order ("id", "kind", "at" → "kind", "id", "at"): columns cannot be reordered in place`}},
		{"column dropped", func(t *Table) { t.Columns = t.Columns[1:] }, nil, nil},
		{"backup", func(t *Table) { t.Backup = true }, nil, []string{`backup/: backup false -> true: Redshift cannot change BACKUP in place`}},
		{"interleaved", func(t *Table) { t.SortStyle = SortInterleaved }, nil,
			[]string{`sort_keys/: interleaved sort key (COMPOUND "at", "id") -> (INTERLEAVED "at", "id"): Redshift cannot alter an interleaved sort key in place`}},
		{"schema", func(t *Table) { t.Schema = "b" }, nil,
			[]string{`schema/: moving table "clicks ""raw"""."events;" to schema "b": Redshift cannot move a table between schemas`}},
		{"dist key and compound sort key in place", func(t *Table) { t.DistKey = "at"; t.SortKeys = []string{"id"} }, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := events()
			tt.change(&want)
			if got := reasons(PostgreSQL.ReplaceReasons(events(), want)); !reflect.DeepEqual(got, orEmpty(tt.pg)) {
				t.Errorf("PostgreSQL:\n%q\nwant\n%q", got, tt.pg)
			}
			if got := reasons(Redshift.ReplaceReasons(events(), want)); !reflect.DeepEqual(got, orEmpty(tt.rs)) {
				t.Errorf("Redshift:\n%q\nwant\n%q", got, tt.rs)
			}
		})
	}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func TestProblems(t *testing.T) {
	bad := Table{
		Schema: "s", Name: "t",
		Columns: []Column{
			{Name: "id", Type: "bigint", Nullable: true},
			{Name: "id", Type: "int; drop table x"},
			{Name: "v", Type: "text", Default: "1; select 2", Encode: "GZIP"},
		},
		PrimaryKey: []string{"id", "nope"},
		DistStyle:  DistEven, DistKey: "v",
		SortStyle: "SIDEWAYS", SortKeys: []string{"missing"},
	}
	var got []string
	for _, p := range PostgreSQL.Problems(bad) {
		got = append(got, p.Error())
	}
	want := []string{
		`columns[1].name: column "id" is declared twice (columns[0] and columns[1]); column names must be unique`,
		`columns[1].type: "int; drop table x" is not a SQL type name; write a type such as bigint, varchar(64), numeric(12,2) or timestamp`,
		`columns[2].default: default "1; select 2" contains ; outside quotes: a default is one SQL expression, not statements`,
		`columns[2].encode: "GZIP" is not an encoding; use one of RAW, AZ64, BYTEDICT, DELTA, DELTA32K, LZO, MOSTLY8, MOSTLY16, MOSTLY32, RUNLENGTH, TEXT255, TEXT32K, ZSTD`,
		`columns[0].nullable: column "id" is in the primary key, so it cannot be nullable; set nullable = false`,
		`primary_key[1]: "nope" is not a declared column; declare it in columns or use one of "id", "id", "v"`,
		`dist_key: dist_key is set, but dist_style is "EVEN"; set dist_style = "KEY" to distribute on "v", or remove dist_key`,
		`sort_style: "SIDEWAYS" is not a sort style; use one of COMPOUND, INTERLEAVED`,
		`sort_keys[0]: "missing" is not a declared column; declare it in columns or use one of "id", "id", "v"`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if p := PostgreSQL.Problems(Table{Schema: "s", Name: "t"}); len(p) != 1 || p[0].Message != "a table needs at least one column" {
		t.Errorf("no columns: %v", p)
	}
	keyless := events()
	keyless.DistKey = ""
	if p := PostgreSQL.Problems(keyless); len(p) != 1 || p[0].Attribute != "dist_key" {
		t.Errorf("KEY without dist_key: %v", p)
	}
	if p := PostgreSQL.Problems(events()); len(p) != 0 {
		t.Errorf("valid table: %v", p)
	}
}

func TestReadBack_KeepsDeclaredSpellingAndDetectsHandChanges(t *testing.T) {
	declared := Table{
		Schema: "s", Name: "t", DistStyle: DistKey, DistKey: "id", SortStyle: SortCompound, SortKeys: []string{"id"}, Backup: false,
		Columns: []Column{
			{Name: "id", Type: "int", Encode: EncodeAZ64},
			{Name: "kind", Type: "varchar(8)", Nullable: true, Default: "'x'"},
		},
	}
	db := TableState{Table: Table{
		Schema: "s", Name: "t", Owner: "o", Backup: true,
		Columns: []Column{
			{Name: "id", Type: "integer"},
			{Name: "kind", Type: "character varying(8)", Nullable: true, Default: "'x'::character varying"},
			{Name: "extra", Type: "text", Nullable: true, Default: "0"},
		},
	}}
	forms := RecordDefaults(declared, db)
	if want := (DefaultForms{"kind": {Configured: "'x'", Database: "'x'::character varying"}}); !reflect.DeepEqual(forms, want) {
		t.Fatalf("forms %v", forms)
	}
	got := PostgreSQL.ReadBack(declared, db, forms)
	want := Table{
		Schema: "s", Name: "t", Owner: "o", DistStyle: DistKey, DistKey: "id", SortStyle: SortCompound, SortKeys: []string{"id"}, Backup: false,
		Columns: []Column{
			{Name: "id", Type: "int", Encode: EncodeAZ64},
			{Name: "kind", Type: "varchar(8)", Nullable: true, Default: "'x'"},
			{Name: "extra", Type: "text", Nullable: true, Default: "0"},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
	// Changed by hand: the database form no longer matches the recorded one.
	db.Columns[1].Default = "'y'::character varying"
	if got := PostgreSQL.ReadBack(declared, db, forms); got.Columns[1].Default != "'y'::character varying" {
		t.Errorf("hand change hidden: %q", got.Columns[1].Default)
	}
	// Even when the hand change only adds a cast that the fallback comparison would forgive.
	db.Columns[1].Default = "'x'::text"
	if got := PostgreSQL.ReadBack(declared, db, forms); got.Columns[1].Default != "'x'::text" {
		t.Errorf("hand change hidden: %q", got.Columns[1].Default)
	}
	// Without a record (after import), SameDefault decides.
	if got := PostgreSQL.ReadBack(declared, db, nil); got.Columns[1].Default != "'x'" {
		t.Errorf("no record: %q", got.Columns[1].Default)
	}
	// Redshift reports its physical attributes, and they are kept as read.
	db.DistStyle, db.SortKeys, db.SortStyle = DistEven, nil, ""
	db.Columns[0].Encode = EncodeRaw
	got = Redshift.ReadBack(declared, db, forms)
	if got.DistStyle != DistEven || got.DistKey != "" || len(got.SortKeys) != 0 || got.SortStyle != SortCompound || got.Columns[0].Encode != EncodeRaw || !got.Backup {
		t.Errorf("Redshift read-back %+v", got)
	}
}
