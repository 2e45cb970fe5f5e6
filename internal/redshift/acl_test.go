package redshift

import (
	"errors"
	"reflect"
	"testing"
)

// The first case is verbatim from PostgreSQL 15 (relacl::text after GRANTs to a role named
// `we"ird, =/ü`, WITH GRANT OPTION, to PUBLIC and to a plain role).
func TestParseACL(t *testing.T) {
	tests := []struct {
		in   string
		want []ACLItem
	}{
		{
			`{sluice=arwdDxt/sluice,"\"we\"\"ird, =/ü\"=a*r*/sluice",plain=w/sluice,=w/sluice}`,
			[]ACLItem{
				{Grantee: "sluice", Privileges: NewPrivSet(Select, Insert, Update, Delete, Truncate, References, Trigger), Grantor: "sluice"},
				{Grantee: `we"ird, =/ü`, Privileges: NewPrivSet(Select, Insert), GrantOption: NewPrivSet(Select, Insert), Grantor: "sluice"},
				{Grantee: "plain", Privileges: NewPrivSet(Update), Grantor: "sluice"},
				{Grantee: "", Privileges: NewPrivSet(Update), Grantor: "sluice"},
			},
		},
		{
			`{=Tc/sluice,sluice=CTc/sluice}`,
			[]ACLItem{
				{Privileges: NewPrivSet(Temporary, Connect), Grantor: "sluice"},
				{Grantee: "sluice", Privileges: NewPrivSet(Create, Temporary, Connect), Grantor: "sluice"},
			},
		},
		{
			`{pg_database_owner=UC/pg_database_owner,=U/pg_database_owner}`,
			[]ACLItem{
				{Grantee: "pg_database_owner", Privileges: NewPrivSet(Usage, Create), Grantor: "pg_database_owner"},
				{Privileges: NewPrivSet(Usage), Grantor: "pg_database_owner"},
			},
		},
		{
			// Redshift: groups marked "group ", the R (rule) letter sluice does not manage.
			`{rdsdb=arwdRxt/rdsdb,"group analysts=r/rdsdb","group \"Data, Team\"=rw*/rdsdb",analysts=a/rdsdb}`,
			[]ACLItem{
				{Grantee: "rdsdb", Privileges: NewPrivSet(Select, Insert, Update, Delete, References, Trigger), Other: "R", Grantor: "rdsdb"},
				{Grantee: "analysts", Group: true, Privileges: NewPrivSet(Select), Grantor: "rdsdb"},
				{Grantee: "Data, Team", Group: true, Privileges: NewPrivSet(Select, Update), GrantOption: NewPrivSet(Update), Grantor: "rdsdb"},
				{Grantee: "analysts", Privileges: NewPrivSet(Insert), Grantor: "rdsdb"},
			},
		},
		{
			// Names with every character that matters: braces, backslashes, quotes, =, /, commas.
			`{"\"a{b}c\\\\d\"=U/\"own/er\"","\"x=y/z\"=C/o"}`,
			[]ACLItem{
				{Grantee: `a{b}c\\d`, Privileges: NewPrivSet(Usage), Grantor: "own/er"},
				{Grantee: "x=y/z", Privileges: NewPrivSet(Create), Grantor: "o"},
			},
		},
		{
			// A role named "group" is not a Redshift group; a PostgreSQL role "group x" is quoted.
			`{group=r/o,"\"group x\"=r/o"}`,
			[]ACLItem{
				{Grantee: "group", Privileges: NewPrivSet(Select), Grantor: "o"},
				{Grantee: "group x", Privileges: NewPrivSet(Select), Grantor: "o"},
			},
		},
		{
			// PostgreSQL 17's m (MAINTAIN) is kept aside; no grantor is tolerated.
			`{u=rm,"\"表\"=U/o"}`,
			[]ACLItem{
				{Grantee: "u", Privileges: NewPrivSet(Select), Other: "m"},
				{Grantee: "表", Privileges: NewPrivSet(Usage), Grantor: "o"},
			},
		},
		{`{}`, []ACLItem{}},
		{``, []ACLItem{}},
	}
	for _, tt := range tests {
		got, err := ParseACL(tt.in)
		if err != nil {
			t.Errorf("ParseACL(%s): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseACL(%s):\n got %+v\nwant %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseACL_Invalid(t *testing.T) {
	for _, in := range []string{
		`sluice=r/sluice`,  // not an array
		`{"unterminated}`,  // quoted element never closed
		`{"a=r/o"x}`,       // junk after a quoted element
		`{a=r/o,,b=r/o}`,   // empty element
		`{noequals}`,       // no '='
		`{"\"open=r/o"}`,   // quoted name never closed
		`{a=r/"open}`,      // quoted grantor never closed
		`{a=r/"o"junk}`,    // junk after the grantor
		`{"group =r/o"}`,   // group without a name
		`{a=r**/o}`,        // stray *
		`{"\"a\"\"b=r/o"}`, // unterminated after a doubled quote
	} {
		if _, err := ParseACL(in); !errors.Is(err, ErrInvalidACL) {
			t.Errorf("ParseACL(%s) = %v, want ErrInvalidACL", in, err)
		}
	}
}

// FormatACLItem writes what PostgreSQL writes, and ParseACLItem reads it back, for weird names.
func TestACLItem_RoundTrip(t *testing.T) {
	names := []string{"plain", "Caps", `q"uote`, "com,ma", "eq=ual", "sl/ash", "sp ace", "ünï", "表", `""`, "group"}
	for _, n := range names {
		for _, group := range []bool{false, true} {
			it := ACLItem{Grantee: n, Group: group, Privileges: NewPrivSet(Select, Usage, Temporary), GrantOption: NewPrivSet(Usage), Grantor: n}
			text := FormatACLItem(it)
			got, err := ParseACLItem(text)
			if err != nil {
				t.Errorf("ParseACLItem(%s): %v", text, err)
				continue
			}
			if !reflect.DeepEqual(got, it) {
				t.Errorf("ParseACLItem(%s) = %+v, want %+v", text, got, it)
			}
		}
	}
	if got := FormatACLItem(ACLItem{Privileges: NewPrivSet(Connect, Temporary), Grantor: "o"}); got != "=Tc/o" {
		t.Errorf("PUBLIC item = %s", got)
	}
}

func TestHeld_NullACLIsTheDefaults(t *testing.T) {
	null := ACLObject{Owner: "own"}
	x := &GrantIndex{
		Databases: map[string]ACLObject{"dev": null},
		Schemas:   map[string]ACLObject{"s": null},
		Tables:    map[string]map[string]ACLObject{"s": {"t": null}},
	}
	tests := []struct {
		d    Dialect
		g    Grant
		want PrivSet
	}{
		{PostgreSQL, Grant{GranteeType: GranteePublic, ObjectType: ObjectDatabase, Database: "dev"}, NewPrivSet(Connect, Temporary)},
		{Redshift, Grant{GranteeType: GranteePublic, ObjectType: ObjectDatabase, Database: "dev"}, NewPrivSet(Temporary)},
		{PostgreSQL, Grant{GranteeType: GranteePublic, ObjectType: ObjectSchema, Schema: "s"}, 0},
		{PostgreSQL, Grant{GranteeType: GranteeUser, Grantee: "alice", ObjectType: ObjectDatabase, Database: "dev"}, 0},
		{PostgreSQL, Grant{GranteeType: GranteeUser, Grantee: "own", ObjectType: ObjectSchema, Schema: "s"}, NewPrivSet(Create, Usage)},
		{PostgreSQL, Grant{GranteeType: GranteeGroup, Grantee: "own", ObjectType: ObjectTable, Schema: "s", Table: "t"}, PostgreSQL.Privileges(ObjectTable)},
		{Redshift, Grant{GranteeType: GranteeGroup, Grantee: "own", ObjectType: ObjectTable, Schema: "s", Table: "t"}, 0},
		{Redshift, Grant{GranteeType: GranteeUser, Grantee: "own", ObjectType: ObjectTable, Schema: "s", Table: "t"}, NewPrivSet(Select, Insert, Update, Delete, References)},
	}
	for _, tt := range tests {
		h, err := x.Held(tt.d, tt.g)
		if err != nil {
			t.Fatal(err)
		}
		if h.Every != tt.want || h.Some != tt.want || h.Objects != 1 {
			t.Errorf("%s %s: held %+v, want %s", tt.d, GrantID(tt.g), h, tt.want.SQL())
		}
	}
}

func TestHeld_MatchesTheGrantee(t *testing.T) {
	acl := func(s string) ACLObject { return ACLObject{Owner: "o", ACL: sqlText(s)} }
	x := &GrantIndex{
		Schemas: map[string]ACLObject{"s": acl(`{o=UC/o,a=U/o,a=C/x,"group a=U/o",=U/o}`)},
		Tables: map[string]map[string]ACLObject{"s": {
			"t": acl(`{o=arwdDxt/o,a=arwdD/o}`),
			"u": acl(`{o=arwdDxt/o,a=r/o,b=x/o}`),
		}},
		DefaultTables: map[string]string{"s": `{a=rw/o}`},
	}
	user := Grant{GranteeType: GranteeUser, Grantee: "a", ObjectType: ObjectSchema, Schema: "s"}
	group := Grant{GranteeType: GranteeGroup, Grantee: "a", ObjectType: ObjectSchema, Schema: "s"}
	public := Grant{GranteeType: GranteePublic, ObjectType: ObjectSchema, Schema: "s"}
	for _, tt := range []struct {
		d    Dialect
		g    Grant
		want PrivSet
	}{
		{PostgreSQL, user, NewPrivSet(Usage, Create)}, // two grantors: the union
		{PostgreSQL, group, NewPrivSet(Usage, Create)},
		{Redshift, user, NewPrivSet(Usage, Create)},
		{Redshift, group, NewPrivSet(Usage)},
		{PostgreSQL, public, NewPrivSet(Usage)},
	} {
		h, err := x.Held(tt.d, tt.g)
		if err != nil {
			t.Fatal(err)
		}
		if h.Every != tt.want {
			t.Errorf("%s %s: %s, want %s", tt.d, GrantID(tt.g), h.Every.SQL(), tt.want.SQL())
		}
	}

	all := Grant{GranteeType: GranteeUser, Grantee: "a", ObjectType: ObjectAllTables, Schema: "s"}
	h, err := x.Held(PostgreSQL, all)
	if err != nil {
		t.Fatal(err)
	}
	want := Held{Objects: 2, Every: NewPrivSet(Select), Some: NewPrivSet(Select, Insert, Update, Delete, Truncate), Future: NewPrivSet(Select, Update)}
	if h != want {
		t.Errorf("all_tables held %+v, want %+v", h, want)
	}
	// Redshift has no TRUNCATE among the managed privileges: the D letter is ignored there.
	if h, _ := x.Held(Redshift, all); h.Some.Has(Truncate) {
		t.Errorf("Redshift held %s", h.Some.SQL())
	}

	for _, g := range []Grant{
		{GranteeType: GranteeUser, Grantee: "a", ObjectType: ObjectDatabase, Database: "nope"},
		{GranteeType: GranteeUser, Grantee: "a", ObjectType: ObjectSchema, Schema: "nope"},
		{GranteeType: GranteeUser, Grantee: "a", ObjectType: ObjectTable, Schema: "s", Table: "nope"},
		{GranteeType: GranteeUser, Grantee: "a", ObjectType: ObjectAllTables, Schema: "nope"},
	} {
		if _, err := x.Held(PostgreSQL, g); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", GrantID(g), err)
		}
	}
	// A broken ACL fails the lookup of that object only.
	x.Tables["s"]["bad"] = acl(`{"broken`)
	if _, err := x.Held(PostgreSQL, Grant{GranteeType: GranteeUser, Grantee: "a", ObjectType: ObjectTable, Schema: "s", Table: "bad"}); !errors.Is(err, ErrInvalidACL) {
		t.Errorf("broken ACL: %v", err)
	}
	if _, err := x.Held(PostgreSQL, user); err != nil {
		t.Errorf("schema lookup after a broken table ACL: %v", err)
	}
}
