package redshift

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestUserSQL_Golden(t *testing.T) {
	u := User{Name: `lo"ader`, ConnectionLimit: 5, ValidUntil: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), CreateDatabase: true}
	tests := []struct {
		got, want string
	}{
		{PostgreSQL.CreateUserSQL(u, "SCRAM-SHA-256$4096:c2FsdA==$a:b"),
			`CREATE ROLE "lo""ader" LOGIN PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$a:b' CREATEDB NOSUPERUSER CONNECTION LIMIT 5 VALID UNTIL '2030-01-02 03:04:05+00'`},
		{Redshift.CreateUserSQL(u, "md5abc"),
			`CREATE USER "lo""ader" PASSWORD 'md5abc' CREATEDB NOCREATEUSER CONNECTION LIMIT 5 VALID UNTIL '2030-01-02 03:04:05+00'`},
		{Redshift.CreateUserSQL(User{Name: "iam_user", ConnectionLimit: -1, Superuser: true}, ""),
			`CREATE USER "iam_user" PASSWORD DISABLE NOCREATEDB CREATEUSER CONNECTION LIMIT UNLIMITED VALID UNTIL 'infinity'`},
		{PostgreSQL.CreateUserSQL(User{Name: "nopw", ConnectionLimit: -1}, ""),
			`CREATE ROLE "nopw" LOGIN PASSWORD NULL NOCREATEDB NOSUPERUSER CONNECTION LIMIT -1 VALID UNTIL 'infinity'`},
		{PostgreSQL.AlterUserSQL(User{Name: "u", ConnectionLimit: -1}, "", false),
			`ALTER ROLE "u" NOCREATEDB NOSUPERUSER CONNECTION LIMIT -1 VALID UNTIL 'infinity'`},
		{Redshift.AlterUserSQL(User{Name: "u", ConnectionLimit: 3}, "md5x", true),
			`ALTER USER "u" PASSWORD 'md5x' NOCREATEDB NOCREATEUSER CONNECTION LIMIT 3 VALID UNTIL 'infinity'`},
		{Redshift.RenameRoleSQL(true, "a", "b"), `ALTER GROUP "a" RENAME TO "b"`},
		{Redshift.RenameRoleSQL(false, "a", "b"), `ALTER USER "a" RENAME TO "b"`},
		{PostgreSQL.RenameRoleSQL(true, "a", "b"), `ALTER ROLE "a" RENAME TO "b"`},
		{Redshift.DropUserSQL("u"), `DROP USER "u"`},
		{PostgreSQL.DropGroupSQL("g"), `DROP ROLE "g"`},
		{Redshift.DropGroupSQL("g"), `DROP GROUP "g"`},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got  %s\nwant %s", tt.got, tt.want)
		}
	}
}

func TestGroupSQL_Golden(t *testing.T) {
	g := Group{Name: "readers", Members: []string{"b", "a"}}
	if got, want := Redshift.CreateGroupSQL(g), []string{`CREATE GROUP "readers" WITH USER "a", "b"`}; !reflect.DeepEqual(got, want) {
		t.Errorf("Redshift create = %q", got)
	}
	if got, want := PostgreSQL.CreateGroupSQL(g), []string{`CREATE ROLE "readers" NOLOGIN`, `GRANT "readers" TO "a", "b"`}; !reflect.DeepEqual(got, want) {
		t.Errorf("PostgreSQL create = %q", got)
	}
	if got := PostgreSQL.CreateGroupSQL(Group{Name: "empty"}); len(got) != 1 {
		t.Errorf("empty group = %q", got)
	}
	cur, want := []string{"a", "b"}, []string{"b", "c", "d"}
	if got, w := Redshift.GroupMembersSQL("g", cur, want), []string{`ALTER GROUP "g" ADD USER "c", "d"`, `ALTER GROUP "g" DROP USER "a"`}; !reflect.DeepEqual(got, w) {
		t.Errorf("Redshift members = %q", got)
	}
	if got, w := PostgreSQL.GroupMembersSQL("g", cur, want), []string{`GRANT "g" TO "c", "d"`, `REVOKE "g" FROM "a"`}; !reflect.DeepEqual(got, w) {
		t.Errorf("PostgreSQL members = %q", got)
	}
	if got := PostgreSQL.GroupMembersSQL("g", cur, cur); len(got) != 0 {
		t.Errorf("no change = %q", got)
	}
}

func TestPasswordHash(t *testing.T) {
	// Redshift documents md5(password || user) with an "md5" prefix.
	h, err := Redshift.PasswordHash("user", "pass")
	if err != nil || h != "md57f409a7c046daea1c2c60502d7e2becc" {
		t.Fatalf("Redshift hash = %q, %v", h, err)
	}
	// RFC 7677's example: password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations;
	// its StoredKey and ServerKey follow from the proofs in the RFC.
	v, err := scramVerifier("pencil", mustB64(t, "W22ZaJ0SNY7soEsUEjb6gQ=="), 4096)
	if err != nil {
		t.Fatal(err)
	}
	want := "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
	if v != want {
		t.Fatalf("SCRAM verifier\n got %s\nwant %s", v, want)
	}
	a, _ := PostgreSQL.PasswordHash("u", "same")
	b, _ := PostgreSQL.PasswordHash("u", "same")
	if a == b || !strings.HasPrefix(a, "SCRAM-SHA-256$4096:") {
		t.Fatalf("PostgreSQL hashes must be salted SCRAM verifiers: %q %q", a, b)
	}
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
