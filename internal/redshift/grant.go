package redshift

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// A Grant is the privileges of ONE grantee (a user, a group or PUBLIC) on ONE object (a
// database, a schema, a table, or every table of a schema). It is authoritative for that pair:
// privileges the pair holds beyond Privileges are revoked by SetGrant.
type Grant struct {
	GranteeType GranteeType
	// Grantee is the user or group name; empty for PUBLIC.
	Grantee    string
	ObjectType ObjectType
	// Database is the database granted on (ObjectDatabase only).
	Database string
	// Schema is the schema granted on, or holding the table(s).
	Schema string
	// Table is the table (ObjectTable only).
	Table      string
	Privileges PrivSet
	// FutureTables (ObjectAllTables only) also grants Privileges on tables the connected user
	// creates in Schema later (ALTER DEFAULT PRIVILEGES).
	FutureTables bool
}

// GranteeType is who receives privileges.
type GranteeType string

// Grantee types.
const (
	GranteeUser   GranteeType = "user"
	GranteeGroup  GranteeType = "group"
	GranteePublic GranteeType = "public"
)

// GranteeTypes lists the grantee types, for validators and docs.
func GranteeTypes() []string {
	return []string{string(GranteeUser), string(GranteeGroup), string(GranteePublic)}
}

// ObjectType is what privileges are granted on.
type ObjectType string

// Object types.
const (
	ObjectDatabase ObjectType = "database"
	ObjectSchema   ObjectType = "schema"
	ObjectTable    ObjectType = "table"
	// ObjectAllTables is every table (and view) of a schema: GRANT ... ON ALL TABLES IN SCHEMA.
	ObjectAllTables ObjectType = "all_tables"
)

// ObjectTypes lists the object types, for validators and docs.
func ObjectTypes() []string {
	return []string{string(ObjectDatabase), string(ObjectSchema), string(ObjectTable), string(ObjectAllTables)}
}

// NeedsSchema reports whether the object type names a schema.
func (t ObjectType) NeedsSchema() bool { return t != ObjectDatabase }

// NeedsTable reports whether the object type names a table.
func (t ObjectType) NeedsTable() bool { return t == ObjectTable }

// Privilege is one SQL privilege, spelt as in GRANT.
type Privilege string

// Privileges. Trigger is parsed but not managed.
const (
	Select     Privilege = "SELECT"
	Insert     Privilege = "INSERT"
	Update     Privilege = "UPDATE"
	Delete     Privilege = "DELETE"
	Truncate   Privilege = "TRUNCATE"
	References Privilege = "REFERENCES"
	Trigger    Privilege = "TRIGGER"
	Create     Privilege = "CREATE"
	Connect    Privilege = "CONNECT"
	Temporary  Privilege = "TEMPORARY"
	Usage      Privilege = "USAGE"
)

// Privilege aliases accepted in configurations and normalised away.
const (
	// AllPrivileges expands to every privilege of the object type in the connected dialect.
	AllPrivileges = "ALL"
	// TempAlias is TEMPORARY.
	TempAlias = "TEMP"
)

// allPrivileges is the canonical order: SQL lists and letters are written in it.
var allPrivileges = []Privilege{Select, Insert, Update, Delete, Truncate, References, Trigger, Create, Connect, Temporary, Usage}

func (p Privilege) bit() PrivSet {
	i := slices.Index(allPrivileges, p)
	if i < 0 {
		return 0
	}
	return 1 << i
}

// objectPrivileges are the privileges sluice manages per object type, on either dialect.
var objectPrivileges = map[ObjectType][]Privilege{
	ObjectDatabase:  {Create, Temporary, Connect},
	ObjectSchema:    {Create, Usage},
	ObjectTable:     {Select, Insert, Update, Delete, References, Truncate},
	ObjectAllTables: {Select, Insert, Update, Delete, References, Truncate},
}

// PostgreSQLOnly reports the privileges Redshift does not have (CONNECT) or that sluice keeps to
// PostgreSQL (TRUNCATE: newer Redshift versions have TRUNCATE, ALTER and DROP on tables, but not
// every cluster does, so sluice manages the set common to all: SELECT, INSERT, UPDATE, DELETE,
// REFERENCES).
func PostgreSQLOnly(p Privilege) bool { return p == Connect || p == Truncate }

// ObjectPrivileges lists the privileges of an object type on any dialect, in canonical order.
func ObjectPrivileges(t ObjectType) []Privilege { return slices.Clone(objectPrivileges[t]) }

// Privileges lists the privileges of an object type in dialect d.
func (d Dialect) Privileges(t ObjectType) PrivSet {
	var s PrivSet
	for _, p := range objectPrivileges[t] {
		if d == Redshift && PostgreSQLOnly(p) {
			continue
		}
		s |= p.bit()
	}
	return s
}

// ErrInvalidPrivilege is wrapped when a privilege does not apply to the object type or dialect.
var ErrInvalidPrivilege = errors.New("invalid privilege")

// ParsePrivilege reads one configured privilege for an object type: case-insensitive, TEMP for
// TEMPORARY. ALL is not a single privilege; see NormalizePrivileges. With d nil the check is
// dialect-neutral (plan time, before connecting).
func ParsePrivilege(t ObjectType, s string, d *Dialect) (Privilege, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	if u == TempAlias {
		u = string(Temporary)
	}
	p := Privilege(u)
	allowed := objectPrivileges[t]
	if !slices.Contains(allowed, p) {
		return "", fmt.Errorf("%w: %q does not apply to object_type %q; allowed: %s", ErrInvalidPrivilege, s, t, privilegeHelp(t))
	}
	if d != nil && *d == Redshift && PostgreSQLOnly(p) {
		return "", fmt.Errorf("%w: %s on %s is PostgreSQL-only and this database is Redshift; remove it", ErrInvalidPrivilege, p, t)
	}
	return p, nil
}

// privilegeHelp lists the privileges of an object type for messages and docs.
func privilegeHelp(t ObjectType) string {
	var parts []string
	for _, p := range objectPrivileges[t] {
		s := string(p)
		if p == Temporary {
			s += " (or " + TempAlias + ")"
		}
		if PostgreSQLOnly(p) {
			s += " (PostgreSQL only)"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ") + ", or " + AllPrivileges
}

// PrivilegeHelp is privilegeHelp for the provider's descriptions.
func PrivilegeHelp(t ObjectType) string { return privilegeHelp(t) }

// NormalizePrivileges turns configured privileges into a set in dialect d: ALL expands to every
// privilege of the object type, TEMP is TEMPORARY, case does not matter. So ["ALL"] and the
// explicit list are the same grant and never diff.
func NormalizePrivileges(t ObjectType, d Dialect, in []string) (PrivSet, error) {
	var s PrivSet
	var errs []error
	for _, v := range in {
		u := strings.ToUpper(strings.TrimSpace(v))
		if u == AllPrivileges || u == "ALL PRIVILEGES" {
			s |= d.Privileges(t)
			continue
		}
		p, err := ParsePrivilege(t, v, &d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s |= p.bit()
	}
	return s, errors.Join(errs...)
}

// PrivSet is a set of privileges.
type PrivSet uint16

// NewPrivSet returns the set of ps.
func NewPrivSet(ps ...Privilege) PrivSet {
	var s PrivSet
	for _, p := range ps {
		s |= p.bit()
	}
	return s
}

// Has reports whether p is in the set.
func (s PrivSet) Has(p Privilege) bool {
	b := p.bit()
	return b != 0 && s&b != 0
}

// List returns the privileges in canonical order.
func (s PrivSet) List() []Privilege {
	var out []Privilege
	for _, p := range allPrivileges {
		if s.Has(p) {
			out = append(out, p)
		}
	}
	return out
}

// Strings returns the privileges' names in canonical order.
func (s PrivSet) Strings() []string {
	var out []string
	for _, p := range s.List() {
		out = append(out, string(p))
	}
	return out
}

// SQL is the comma-separated list GRANT and REVOKE take.
func (s PrivSet) SQL() string { return strings.Join(s.Strings(), ", ") }

// GrantID is the import ID and resource ID of a grant:
//
//	<grantee_type>:<grantee>:<object_type>:<name>[:<table>]
//
// where <name> is the database for object_type database and the schema otherwise, and <table>
// appears for object_type table only. PUBLIC has an empty grantee. Inside a field, a backslash
// is written \\ and a colon \: — so any name round-trips. Examples:
//
//	user:alice:table:clicks:events
//	group:analysts:all_tables:clicks
//	public::database:dev
//	user:we\:ird:schema:a\\b
func GrantID(g Grant) string {
	name := g.Schema
	if g.ObjectType == ObjectDatabase {
		name = g.Database
	}
	fields := []string{string(g.GranteeType), g.Grantee, string(g.ObjectType), name}
	if g.ObjectType == ObjectTable {
		fields = append(fields, g.Table)
	}
	for i, f := range fields {
		fields[i] = strings.NewReplacer(`\`, `\\`, `:`, `\:`).Replace(f)
	}
	return strings.Join(fields, ":")
}

// ErrInvalidGrantID is wrapped by ParseGrantID errors.
var ErrInvalidGrantID = errors.New("invalid grant ID")

// GrantIDFormat describes GrantID for error messages and docs.
const GrantIDFormat = "`<grantee_type>:<grantee>:<object_type>:<database or schema>[:<table>]`, with `\\` and `:` inside a name written `\\\\` and `\\:`; PUBLIC has an empty grantee (`public::schema:clicks`)"

// ParseGrantID reads a GrantID; the privileges are left empty.
func ParseGrantID(id string) (Grant, error) {
	var fields []string
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		switch c := id[i]; c {
		case '\\':
			if i+1 >= len(id) || (id[i+1] != '\\' && id[i+1] != ':') {
				return Grant{}, fmt.Errorf("%w %q: a backslash must be followed by \\ or : (escape them as \\\\ and \\:)", ErrInvalidGrantID, id)
			}
			i++
			b.WriteByte(id[i])
		case ':':
			fields = append(fields, b.String())
			b.Reset()
		default:
			b.WriteByte(c)
		}
	}
	fields = append(fields, b.String())
	bad := func(why string) (Grant, error) {
		return Grant{}, fmt.Errorf("%w %q: %s; the format is <grantee_type>:<grantee>:<object_type>:<database or schema>[:<table>], e.g. user:alice:table:clicks:events", ErrInvalidGrantID, id, why)
	}
	if len(fields) < 4 {
		return bad("too few fields")
	}
	g := Grant{GranteeType: GranteeType(fields[0]), Grantee: fields[1], ObjectType: ObjectType(fields[2])}
	if !slices.Contains(GranteeTypes(), fields[0]) {
		return bad(fmt.Sprintf("grantee_type %q is not one of %s", fields[0], strings.Join(GranteeTypes(), ", ")))
	}
	if (g.GranteeType == GranteePublic) != (g.Grantee == "") {
		return bad("the grantee is empty for public and only for public")
	}
	if !slices.Contains(ObjectTypes(), fields[2]) {
		return bad(fmt.Sprintf("object_type %q is not one of %s", fields[2], strings.Join(ObjectTypes(), ", ")))
	}
	want := 4
	if g.ObjectType == ObjectTable {
		want = 5
	}
	if len(fields) != want {
		return bad(fmt.Sprintf("object_type %s takes %d fields, got %d", g.ObjectType, want, len(fields)))
	}
	if fields[3] == "" || (want == 5 && fields[4] == "") {
		return bad("empty object name")
	}
	if g.ObjectType == ObjectDatabase {
		g.Database = fields[3]
	} else {
		g.Schema = fields[3]
	}
	if want == 5 {
		g.Table = fields[4]
	}
	return g, nil
}

// objectSQL names the object in GRANT/REVOKE.
func (g Grant) objectSQL() string {
	switch g.ObjectType {
	case ObjectDatabase:
		return "DATABASE " + QuoteIdent(g.Database)
	case ObjectSchema:
		return "SCHEMA " + QuoteIdent(g.Schema)
	case ObjectTable:
		return "TABLE " + QuoteQualified(g.Schema, g.Table)
	default:
		return "ALL TABLES IN SCHEMA " + QuoteIdent(g.Schema)
	}
}

// Describe names the grant for messages: `SELECT on TABLE "s"."t" to GROUP "g"`.
func (g Grant) Describe(d Dialect) string {
	return "privileges on " + g.objectSQL() + " of " + d.granteeSQL(g)
}

// granteeSQL is the grantee in GRANT/REVOKE: Redshift groups are GROUP "g"; PostgreSQL has
// roles only, so a group is a role there.
func (d Dialect) granteeSQL(g Grant) string {
	switch {
	case g.GranteeType == GranteePublic:
		return "PUBLIC"
	case g.GranteeType == GranteeGroup && d == Redshift:
		return "GROUP " + QuoteIdent(g.Grantee)
	default:
		return QuoteIdent(g.Grantee)
	}
}

// Held is what a grantee holds on the object(s) of a grant, as read from the catalog.
type Held struct {
	// Objects counts the objects covered: 1 for a database, schema or table; the tables (and
	// views) of the schema for all_tables.
	Objects int
	// Every is what is held on every object; Some on at least one. Equal for a single object.
	Every, Some PrivSet
	// Future is what tables the connected user creates in the schema later will grant (its
	// default privileges for the grantee there); all_tables only.
	Future PrivSet
}

// GrantState is a grant as read back.
type GrantState struct {
	Grant
	Held Held
}

// ReadBack turns what is held into the grant's attributes, given the declared privileges want.
//
// For a database, schema or table, the privileges are exactly those held.
//
// For all_tables the schema's tables (and, when the grantee has default privileges from the
// connected user in the schema, those defaults, as one more "table") are read together: a
// privilege reads as held when EVERY table has it; a privilege that is not declared reads as
// held when ANY table has it. So a privilege revoked from one table by hand and a stray grant on
// one table both show as drift. A schema without tables and defaults contradicts nothing and
// reads as the declared privileges. FutureTables reads true when the grantee has any default
// privileges from the connected user in the schema.
func (h Held) ReadBack(t ObjectType, want PrivSet) (privs PrivSet, futureTables bool) {
	if t != ObjectAllTables {
		return h.Every, false
	}
	every, some, n := h.Every, h.Some, h.Objects
	if h.Future != 0 {
		if n == 0 {
			every = h.Future
		} else {
			every &= h.Future
		}
		some |= h.Future
		n++
	}
	if n == 0 {
		return want, false
	}
	return every | (some &^ want), h.Future != 0
}

// SetGrantSQL returns the statements that make the grant hold exactly want.Privileges, given
// what it holds now: grant what is missing, revoke what is extra. Nothing to do is no
// statements.
func (d Dialect) SetGrantSQL(want Grant, have Held) []string {
	var out []string
	priv := want.Privileges & d.Privileges(want.ObjectType)
	if want.ObjectType != ObjectAllTables || have.Objects > 0 {
		if add := priv &^ have.Every; add != 0 {
			out = append(out, "GRANT "+add.SQL()+" ON "+want.objectSQL()+" TO "+d.granteeSQL(want))
		}
		if drop := have.Some &^ priv; drop != 0 {
			out = append(out, "REVOKE "+drop.SQL()+" ON "+want.objectSQL()+" FROM "+d.granteeSQL(want))
		}
	}
	if want.ObjectType == ObjectAllTables {
		future := PrivSet(0)
		if want.FutureTables {
			future = priv
		}
		if add := future &^ have.Future; add != 0 {
			out = append(out, d.defaultPrivilegesSQL(want, "GRANT "+add.SQL()+" ON TABLES TO "))
		}
		if drop := have.Future &^ future; drop != 0 {
			out = append(out, d.defaultPrivilegesSQL(want, "REVOKE "+drop.SQL()+" ON TABLES FROM "))
		}
	}
	return out
}

func (d Dialect) defaultPrivilegesSQL(g Grant, action string) string {
	return "ALTER DEFAULT PRIVILEGES IN SCHEMA " + QuoteIdent(g.Schema) + " " + action + d.granteeSQL(g)
}

// RevokeGrantSQL returns the statements that take every privilege of the pair away — REVOKE
// ALL, so privileges sluice does not manage go too — and, for all_tables, the grantee's default
// privileges from the connected user in the schema.
func (d Dialect) RevokeGrantSQL(g Grant) []string {
	out := []string{"REVOKE ALL ON " + g.objectSQL() + " FROM " + d.granteeSQL(g)}
	if g.ObjectType == ObjectAllTables {
		out = append(out, d.defaultPrivilegesSQL(g, "REVOKE ALL ON TABLES FROM "))
	}
	return out
}

// CheckGrant validates a grant for dialect d: names, which fields the object type needs, and
// privileges valid for the object type and dialect.
func (d Dialect) CheckGrant(g Grant) error {
	var errs []error
	switch g.GranteeType {
	case GranteePublic:
		if g.Grantee != "" {
			errs = append(errs, fmt.Errorf("grantee %q must be empty for grantee_type public", g.Grantee))
		}
	case GranteeUser, GranteeGroup:
		if err := d.ValidateIdent(g.Grantee); err != nil {
			errs = append(errs, fmt.Errorf("grantee: %w", err))
		}
	default:
		errs = append(errs, fmt.Errorf("grantee_type %q is not one of %s", g.GranteeType, strings.Join(GranteeTypes(), ", ")))
	}
	switch g.ObjectType {
	case ObjectDatabase:
		if err := d.ValidateIdent(g.Database); err != nil {
			errs = append(errs, fmt.Errorf("database: %w", err))
		}
	case ObjectSchema, ObjectTable, ObjectAllTables:
		if err := d.ValidateIdent(g.Schema); err != nil {
			errs = append(errs, fmt.Errorf("schema: %w", err))
		}
		if g.ObjectType == ObjectTable {
			if err := d.ValidateIdent(g.Table); err != nil {
				errs = append(errs, fmt.Errorf("object: %w", err))
			}
		}
	default:
		errs = append(errs, fmt.Errorf("object_type %q is not one of %s", g.ObjectType, strings.Join(ObjectTypes(), ", ")))
	}
	if extra := g.Privileges &^ d.Privileges(g.ObjectType); extra != 0 {
		errs = append(errs, fmt.Errorf("%w: %s not valid on %s in %s; allowed: %s", ErrInvalidPrivilege, extra.SQL(), g.ObjectType, d, d.Privileges(g.ObjectType).SQL()))
	}
	if g.FutureTables && g.ObjectType != ObjectAllTables {
		errs = append(errs, errors.New("future_tables applies to object_type all_tables only"))
	}
	return errors.Join(errs...)
}
