package redshift

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// GrantIndex holds every ACL of the database, read as text in four queries (databases, schemas,
// relations, default ACLs) whatever the number of grants, and parsed on lookup so one odd ACL
// elsewhere never breaks a plan.
type GrantIndex struct {
	Databases map[string]ACLObject
	Schemas   map[string]ACLObject
	// Tables is keyed by schema, then table; it holds tables, views, materialized views and
	// foreign tables — what GRANT ... ON ALL TABLES IN SCHEMA covers.
	Tables map[string]map[string]ACLObject
	// DefaultTables is, per schema, the connected user's default privileges for tables created
	// there (pg_default_acl, objtype 'r'), as aclitem[] text.
	DefaultTables map[string]string
}

// ACLObject is one object's owner and ACL text; a NULL ACL means the default privileges.
type ACLObject struct {
	Owner string
	ACL   sql.NullString
}

// NULL ACLs. PostgreSQL and Redshift store NULL until the first GRANT or REVOKE on an object and
// then use the built-in defaults: the owner holds every privilege, and on a database PUBLIC
// holds TEMPORARY (and CONNECT on PostgreSQL); nobody else holds anything. sluice reads a NULL
// ACL as exactly those defaults, which is what the server then materialises on the first GRANT —
// so a fresh object never shows a diff, and a PUBLIC grant on a fresh database reads CONNECT and
// TEMPORARY.
func (d Dialect) nullACL(t ObjectType, owner string, g Grant) PrivSet {
	switch {
	case g.GranteeType == GranteePublic && t == ObjectDatabase:
		return d.Privileges(ObjectDatabase) & NewPrivSet(Temporary, Connect)
	case g.GranteeType == GranteePublic:
		return 0
	case g.Grantee == owner && (d == PostgreSQL || g.GranteeType == GranteeUser):
		return d.Privileges(t)
	}
	return 0
}

// aclMatches reports whether an aclitem is the grant's grantee. PostgreSQL has roles only, so a
// user and a group are both a role name; Redshift marks groups with "group ".
func (d Dialect) aclMatches(it ACLItem, g Grant) bool {
	switch g.GranteeType {
	case GranteePublic:
		return it.Public()
	case GranteeGroup:
		if d == Redshift {
			return it.Group && it.Grantee == g.Grantee
		}
	}
	return !it.Group && it.Grantee != "" && it.Grantee == g.Grantee
}

// heldIn is what g's grantee holds in one ACL text (privileges of type t only).
func (d Dialect) heldIn(t ObjectType, acl string, g Grant) (PrivSet, error) {
	items, err := ParseACL(acl)
	if err != nil {
		return 0, err
	}
	var s PrivSet
	for _, it := range items {
		if d.aclMatches(it, g) {
			s |= it.Privileges
		}
	}
	return s & d.Privileges(t), nil
}

func (d Dialect) heldOn(t ObjectType, o ACLObject, g Grant) (PrivSet, error) {
	if !o.ACL.Valid {
		return d.nullACL(t, o.Owner, g), nil
	}
	return d.heldIn(t, o.ACL.String, g)
}

// Held returns what g's grantee holds on g's object(s), or ErrNotFound when the object is not in
// the index.
func (x *GrantIndex) Held(d Dialect, g Grant) (Held, error) {
	var h Held
	one := func(t ObjectType, o ACLObject, ok bool, what string) (Held, error) {
		if !ok {
			return h, fmt.Errorf("%s: %w", what, ErrNotFound)
		}
		s, err := d.heldOn(t, o, g)
		if err != nil {
			return h, fmt.Errorf("reading the ACL of %s: %w", what, err)
		}
		return Held{Objects: 1, Every: s, Some: s}, nil
	}
	switch g.ObjectType {
	case ObjectDatabase:
		o, ok := x.Databases[g.Database]
		return one(ObjectDatabase, o, ok, "database "+QuoteIdent(g.Database))
	case ObjectSchema:
		o, ok := x.Schemas[g.Schema]
		return one(ObjectSchema, o, ok, "schema "+QuoteIdent(g.Schema))
	case ObjectTable:
		o, ok := x.Tables[g.Schema][g.Table]
		return one(ObjectTable, o, ok, "table "+QuoteQualified(g.Schema, g.Table))
	case ObjectAllTables:
		if _, ok := x.Schemas[g.Schema]; !ok {
			return h, fmt.Errorf("schema %s: %w", QuoteIdent(g.Schema), ErrNotFound)
		}
		h.Every = d.Privileges(ObjectTable)
		for name, o := range x.Tables[g.Schema] {
			s, err := d.heldOn(ObjectTable, o, g)
			if err != nil {
				return h, fmt.Errorf("reading the ACL of table %s: %w", QuoteQualified(g.Schema, name), err)
			}
			h.Objects++
			h.Every &= s
			h.Some |= s
		}
		if h.Objects == 0 {
			h.Every = 0
		}
		if acl, ok := x.DefaultTables[g.Schema]; ok {
			s, err := d.heldIn(ObjectTable, acl, g)
			if err != nil {
				return h, fmt.Errorf("reading the default privileges of schema %s: %w", QuoteIdent(g.Schema), err)
			}
			h.Future = s
		}
		return h, nil
	}
	return h, fmt.Errorf("object_type %q is not one of the known types", g.ObjectType)
}

// grantScope says which parts of the ACLs to read and, for a fresh read of one grant, of which
// objects. The zero filters read everything.
type grantScope struct {
	databases, schemas, tables, defaults bool
	database, schema, table              string
}

var allGrants = grantScope{databases: true, schemas: true, tables: true, defaults: true}

func scopeOf(g Grant) grantScope {
	switch g.ObjectType {
	case ObjectDatabase:
		return grantScope{databases: true, database: g.Database}
	case ObjectSchema:
		return grantScope{schemas: true, schema: g.Schema}
	case ObjectTable:
		return grantScope{tables: true, schema: g.Schema, table: g.Table}
	default:
		return grantScope{schemas: true, tables: true, defaults: true, schema: g.Schema}
	}
}

// grantQueries returns the catalog queries of a scope: at most four, each one a fixed query.
func (d Dialect) grantQueries(sc grantScope) (dbs, schemas, tables, defaults string) {
	eq := func(col, v string) string {
		if v == "" {
			return ""
		}
		return " AND " + col + " = " + d.QuoteLiteral(v)
	}
	const userSchemas = "n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'"
	if sc.databases {
		dbs = "SELECT datname::text, pg_get_userbyid(datdba)::text, datacl::text FROM pg_database WHERE true" + eq("datname", sc.database)
	}
	if sc.schemas {
		schemas = "SELECT n.nspname::text, pg_get_userbyid(n.nspowner)::text, n.nspacl::text FROM pg_namespace n WHERE " +
			userSchemas + eq("n.nspname", sc.schema)
	}
	if sc.tables {
		tables = "SELECT n.nspname::text, c.relname::text, pg_get_userbyid(c.relowner)::text, c.relacl::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND " +
			userSchemas + eq("n.nspname", sc.schema) + eq("c.relname", sc.table)
	}
	if sc.defaults {
		role := "d.defaclrole"
		if d == Redshift {
			role = "d.defacluser"
		}
		defaults = "SELECT n.nspname::text, d.defaclacl::text FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace WHERE d.defaclobjtype = 'r' AND pg_get_userbyid(" +
			role + ") = current_user" + eq("n.nspname", sc.schema)
	}
	return dbs, schemas, tables, defaults
}

func (c *Catalog) loadGrants(ctx context.Context, sc grantScope) (*GrantIndex, error) {
	x := &GrantIndex{
		Databases: map[string]ACLObject{}, Schemas: map[string]ACLObject{},
		Tables: map[string]map[string]ACLObject{}, DefaultTables: map[string]string{},
	}
	dbs, schemas, tables, defaults := c.Dialect().grantQueries(sc)
	query := func(q, what string, each func(Row)) error {
		if q == "" {
			return nil
		}
		rows, err := c.ex.Query(ctx, q)
		if err != nil {
			return fmt.Errorf("reading %s: %w", what, err)
		}
		for _, r := range rows {
			each(r)
		}
		return nil
	}
	err := errors.Join(
		query(dbs, "database privileges", func(r Row) {
			x.Databases[r[0].String] = ACLObject{Owner: r[1].String, ACL: r[2]}
		}),
		query(schemas, "schema privileges", func(r Row) {
			x.Schemas[r[0].String] = ACLObject{Owner: r[1].String, ACL: r[2]}
		}),
		query(tables, "table privileges", func(r Row) {
			if x.Tables[r[0].String] == nil {
				x.Tables[r[0].String] = map[string]ACLObject{}
			}
			x.Tables[r[0].String][r[1].String] = ACLObject{Owner: r[2].String, ACL: r[3]}
		}),
		query(defaults, "default privileges", func(r Row) {
			if r[1].Valid {
				x.DefaultTables[r[0].String] = r[1].String
			}
		}),
	)
	if err != nil {
		return nil, err
	}
	return x, nil
}

func (c *Catalog) grantState(x *GrantIndex, g Grant) (*GrantState, error) {
	h, err := x.Held(c.Dialect(), g)
	if err != nil {
		return nil, err
	}
	st := &GrantState{Grant: g, Held: h}
	st.Privileges, st.FutureTables = h.ReadBack(g.ObjectType, g.Privileges)
	return st, nil
}

// Grant reads a grant from the snapshot. g.Privileges are the declared privileges (see
// Held.ReadBack); the read-back replaces them. ErrNotFound means the object is gone.
func (c *Catalog) Grant(ctx context.Context, g Grant) (*GrantState, error) {
	snap, err := c.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	return c.grantState(snap.Grants, g)
}

// readGrant reads one grant fresh from the database, bypassing the snapshot.
func (c *Catalog) readGrant(ctx context.Context, g Grant) (*GrantState, error) {
	x, err := c.loadGrants(ctx, scopeOf(g))
	if err != nil {
		return nil, err
	}
	return c.grantState(x, g)
}

// grantMu serialises grant changes in this process. PostgreSQL (and Redshift) refuse two
// transactions that change the ACL of the same object at once ("tuple concurrently updated",
// XX000), and Terraform applies resources in parallel: two grants on one database or schema
// would fail at random. Every provider instance (alias) shares the process, so one lock covers
// them all; the transactions are short.
var grantMu sync.Mutex

// SetGrant makes the grantee hold exactly g.Privileges on the object — granting what is
// missing and revoking what is extra in one transaction — and reads the grant back.
func (c *Catalog) SetGrant(ctx context.Context, g Grant) (*GrantState, error) {
	d := c.Dialect()
	if err := d.CheckGrant(g); err != nil {
		return nil, err
	}
	grantMu.Lock()
	defer grantMu.Unlock()
	cur, err := c.readGrant(ctx, g)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("cannot grant %s: %w; create it first (or fix the name: names are case-sensitive and always quoted)", g.Describe(d), err)
	}
	if err != nil {
		return nil, err
	}
	if stmts := d.SetGrantSQL(g, cur.Held); len(stmts) > 0 {
		if err := c.exec(ctx, stmts...); err != nil {
			if SQLState(err) == "42704" { // undefined_object: the role or group
				return nil, fmt.Errorf("granting %s: the grantee does not exist; create the %s %s first: %w", g.Describe(d), g.GranteeType, QuoteIdent(g.Grantee), err)
			}
			return nil, fmt.Errorf("granting %s: %w", g.Describe(d), err)
		}
	}
	return c.readGrant(ctx, g)
}

// RevokeGrant takes every privilege of the pair away (see RevokeGrantSQL). An object or grantee
// that is already gone holds nothing, which is not an error.
func (c *Catalog) RevokeGrant(ctx context.Context, g Grant) error {
	d := c.Dialect()
	grantMu.Lock()
	defer grantMu.Unlock()
	err := c.exec(ctx, d.RevokeGrantSQL(g)...)
	switch SQLState(err) {
	case "42P01", "3F000", "3D000", "42704": // undefined table, schema, database, role
		return nil
	}
	if err != nil {
		return fmt.Errorf("revoking %s: %w", g.Describe(d), err)
	}
	return nil
}
