package redshift

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// ErrNotFound is wrapped when a declared object is not in the database.
var ErrNotFound = errors.New("not found")

// SchemaState is a schema as the catalog reports it.
type SchemaState struct {
	Schema
	// Tables counts ordinary and partitioned tables; Objects counts every relation (tables,
	// views, materialized views, sequences, foreign tables).
	Tables  int
	Objects int
}

// Snapshot is everything a plan needs from one database, loaded in a fixed number of queries
// however many resources read it.
type Snapshot struct {
	Schemas map[string]SchemaState
	Tables  map[TableKey]TableState
	Users   map[string]RoleState
	Groups  map[string]RoleState
	Grants  *GrantIndex
}

// snapshotLoaders fill one part of a Snapshot each, with a fixed number of queries. Every kind of
// object adds its loader here.
func (c *Catalog) snapshotLoaders() []func(context.Context, *Snapshot) error {
	return []func(context.Context, *Snapshot) error{
		func(ctx context.Context, s *Snapshot) (err error) {
			s.Schemas, err = c.loadSchemas(ctx, "")
			return err
		},
		func(ctx context.Context, s *Snapshot) (err error) {
			s.Tables, err = c.loadTables(ctx, nil)
			return err
		},
		func(ctx context.Context, s *Snapshot) (err error) {
			s.Grants, err = c.loadGrants(ctx, allGrants)
			return err
		},
		func(ctx context.Context, s *Snapshot) (err error) {
			s.Users, err = c.loadUsers(ctx, "")
			return err
		},
		func(ctx context.Context, s *Snapshot) (err error) {
			s.Groups, err = c.loadGroups(ctx, "")
			return err
		},
	}
}

// Catalog reads and changes one database. It caches one Snapshot, shared by every resource of a
// Terraform operation (one provider process), so a plan costs the same few queries for 10 or 500
// resources; any change made through it invalidates the cache.
type Catalog struct {
	ex   Executor
	mu   sync.Mutex
	snap *Snapshot
}

// NewCatalog returns a Catalog on ex.
func NewCatalog(ex Executor) *Catalog { return &Catalog{ex: ex} }

// Dialect is the connected database's dialect.
func (c *Catalog) Dialect() Dialect { return c.ex.Dialect() }

// Queries is how many statements the executor has sent.
func (c *Catalog) Queries() int64 { return c.ex.Queries() }

// Snapshot returns the cached snapshot, loading it on first use. Concurrent callers wait for one
// load.
func (c *Catalog) Snapshot(ctx context.Context) (*Snapshot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.snap != nil {
		return c.snap, nil
	}
	snap := &Snapshot{}
	for _, load := range c.snapshotLoaders() {
		if err := load(ctx, snap); err != nil {
			return nil, err
		}
	}
	c.snap = snap
	return c.snap, nil
}

// Invalidate drops the cached snapshot after a change.
func (c *Catalog) Invalidate() {
	c.mu.Lock()
	c.snap = nil
	c.mu.Unlock()
}

func (c *Catalog) schemasSQL(only string) string {
	d := c.Dialect()
	quota := "'0'"
	join := ""
	if d == Redshift {
		quota = "COALESCE(q.quota, 0)::text"
		join = " LEFT JOIN svv_schema_quota_state q ON q.schema_id = n.oid"
	}
	q := `SELECT n.nspname::text, pg_get_userbyid(n.nspowner)::text,
  COALESCE(obj_description(n.oid, 'pg_namespace'), '')::text, ` + quota + `,
  (SELECT count(*) FROM pg_class c WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p'))::text,
  (SELECT count(*) FROM pg_class c WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S'))::text
FROM pg_namespace n` + join + `
WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'`
	if only != "" {
		q += " AND n.nspname = " + d.QuoteLiteral(only)
	}
	return q + " ORDER BY 1"
}

func (c *Catalog) loadSchemas(ctx context.Context, only string) (map[string]SchemaState, error) {
	rows, err := c.ex.Query(ctx, c.schemasSQL(only))
	if err != nil {
		return nil, fmt.Errorf("reading schemas: %w", err)
	}
	out := make(map[string]SchemaState, len(rows))
	for _, r := range rows {
		desc, resp := ParseComment(r[2].String)
		st := SchemaState{
			Schema:  Schema{Name: r[0].String, Owner: r[1].String, Description: desc, Responsible: resp},
			Tables:  atoi(r[4].String),
			Objects: atoi(r[5].String),
		}
		st.QuotaMB = int64(atoi(r[3].String))
		out[st.Name] = st
	}
	return out, nil
}

func atoi(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}

// Schema returns one schema from the snapshot.
func (c *Catalog) Schema(ctx context.Context, name string) (*SchemaState, error) {
	snap, err := c.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	s, ok := snap.Schemas[name]
	if !ok {
		return nil, fmt.Errorf("schema %s: %w", QuoteIdent(name), ErrNotFound)
	}
	return &s, nil
}

// readSchema reads one schema fresh from the database, bypassing the snapshot: after a change the
// caller needs the truth, and reloading everything for one object would make applies of many
// resources quadratic.
func (c *Catalog) readSchema(ctx context.Context, name string) (*SchemaState, error) {
	m, err := c.loadSchemas(ctx, name)
	if err != nil {
		return nil, err
	}
	s, ok := m[name]
	if !ok {
		return nil, fmt.Errorf("schema %s: %w", QuoteIdent(name), ErrNotFound)
	}
	return &s, nil
}

// exec runs a change. Everything runs in one transaction, except on Redshift the statements it
// refuses inside a transaction block (see needsAutocommit): the statements around them still run
// in transactions, in order, so a failure stops the change at that point.
func (c *Catalog) exec(ctx context.Context, stmts ...string) error {
	defer c.Invalidate()
	if c.Dialect() != Redshift {
		return c.ex.ExecTx(ctx, stmts...)
	}
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := c.ex.ExecTx(ctx, batch...)
		batch = nil
		return err
	}
	for _, s := range stmts {
		if !needsAutocommit(s) {
			batch = append(batch, s)
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		if err := c.ex.Exec(ctx, s); err != nil {
			return err
		}
	}
	return flush()
}

// needsAutocommit reports whether Redshift refuses the statement inside a transaction block:
// ALTER TABLE ... ALTER COLUMN ... TYPE or ENCODE, and ALTER DISTSTYLE / DISTKEY / SORTKEY.
// Quoted identifiers and literals are blanked first, so a column named "TYPE" matches nothing.
func needsAutocommit(stmt string) bool {
	s := " " + strings.ToUpper(blankQuoted(stmt)) + " "
	if !strings.HasPrefix(strings.TrimSpace(s), "ALTER TABLE") {
		return false
	}
	if strings.Contains(s, " ALTER COLUMN ") && (strings.Contains(s, " TYPE ") || strings.Contains(s, " ENCODE ")) {
		return true
	}
	for _, kw := range []string{" ALTER DISTSTYLE ", " ALTER DISTKEY ", " ALTER SORTKEY ", " ALTER COMPOUND SORTKEY ", " ALTER ENCODE "} {
		if strings.Contains(s, kw) {
			return true
		}
	}
	return false
}

// blankQuoted replaces the contents of "identifiers" and 'literals' with spaces.
func blankQuoted(s string) string {
	out := []byte(s)
	var quote byte
	for i := 0; i < len(out); i++ {
		ch := out[i]
		switch {
		case quote == 0 && (ch == '"' || ch == '\''):
			quote = ch
		case quote != 0 && ch == quote:
			if i+1 < len(out) && out[i+1] == quote { // doubled quote inside
				out[i], out[i+1] = ' ', ' '
				i++
				continue
			}
			quote = 0
		case quote != 0:
			out[i] = ' '
		}
	}
	return string(out)
}

// CreateSchema creates a schema and reads it back.
func (c *Catalog) CreateSchema(ctx context.Context, s Schema) (*SchemaState, error) {
	if err := c.checkSchema(s); err != nil {
		return nil, err
	}
	if err := c.exec(ctx, c.Dialect().CreateSchemaSQL(s)...); err != nil {
		if SQLState(err) == "42P06" {
			return nil, fmt.Errorf("schema %s already exists; import it with `terraform import` instead of creating it: %w", QuoteIdent(s.Name), err)
		}
		return nil, fmt.Errorf("creating schema %s: %w", QuoteIdent(s.Name), err)
	}
	return c.readSchema(ctx, s.Name)
}

// UpdateSchema changes schema cur into want in one transaction and reads it back.
func (c *Catalog) UpdateSchema(ctx context.Context, cur, want Schema) (*SchemaState, error) {
	if err := c.checkSchema(want); err != nil {
		return nil, err
	}
	if stmts := c.Dialect().AlterSchemaSQL(cur, want); len(stmts) > 0 {
		if err := c.exec(ctx, stmts...); err != nil {
			return nil, fmt.Errorf("updating schema %s: %w", QuoteIdent(cur.Name), err)
		}
	}
	return c.readSchema(ctx, want.Name)
}

// DropSchema drops a schema. Without cascade, a schema that still holds objects is refused with
// the objects named, so nothing is dropped by surprise.
func (c *Catalog) DropSchema(ctx context.Context, name string, cascade bool) error {
	err := c.exec(ctx, c.Dialect().DropSchemaSQL(name, cascade))
	switch SQLState(err) {
	case "":
		if err != nil {
			return fmt.Errorf("dropping schema %s: %w", QuoteIdent(name), err)
		}
		return nil
	case "3F000": // invalid_schema_name: already gone
		return nil
	case "2BP01": // dependent_objects_still_exist
		objs, n, lerr := c.schemaObjects(ctx, name, 10)
		if lerr != nil {
			return fmt.Errorf("dropping schema %s: it is not empty: %w", QuoteIdent(name), err)
		}
		more := ""
		if n > len(objs) {
			more = fmt.Sprintf(", and %d more", n-len(objs))
		}
		return fmt.Errorf("schema %s is not empty: it holds %d object(s) (%s%s); drop them first, or set drop_cascade = true to drop them with the schema",
			QuoteIdent(name), n, strings.Join(objs, ", "), more)
	default:
		return fmt.Errorf("dropping schema %s: %w", QuoteIdent(name), err)
	}
}

// schemaObjects names up to limit relations in a schema and counts them all.
func (c *Catalog) schemaObjects(ctx context.Context, schema string, limit int) ([]string, int, error) {
	d := c.Dialect()
	rows, err := c.ex.Query(ctx, `SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view'
  WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' ELSE 'relation' END::text,
  c.relname::text, count(*) OVER ()::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = `+d.QuoteLiteral(schema)+` AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
ORDER BY c.relname LIMIT `+strconv.Itoa(limit))
	if err != nil {
		return nil, 0, err
	}
	var out []string
	total := 0
	for _, r := range rows {
		out = append(out, r[0].String+" "+QuoteQualified(schema, r[1].String))
		total = atoi(r[2].String)
	}
	return out, total, nil
}

func (c *Catalog) checkSchema(s Schema) error {
	d := c.Dialect()
	if err := d.ValidateIdent(s.Name); err != nil {
		return fmt.Errorf("schema name: %w", err)
	}
	if s.Owner != "" {
		if err := d.ValidateIdent(s.Owner); err != nil {
			return fmt.Errorf("owner: %w", err)
		}
	}
	if err := ValidateResponsible(s.Responsible); err != nil {
		return err
	}
	if s.QuotaMB != 0 && d != Redshift {
		return errors.New("quota is a Redshift feature; this database is PostgreSQL")
	}
	return nil
}
