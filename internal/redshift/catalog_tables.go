package redshift

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// tablesFilter restricts the table queries to one table, or to none ("" for all tables).
func (d Dialect) tablesFilter(only *TableKey) string {
	f := `n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' AND c.relkind IN ('r', 'p')`
	if only != nil {
		f += " AND n.nspname = " + d.QuoteLiteral(only.Schema) + " AND c.relname = " + d.QuoteLiteral(only.Name)
	}
	return f
}

// tablesSQL reads one row per table: schema, name, owner, comment, and on Redshift the effective
// distribution style (PG_CLASS_INFO: 0 EVEN, 1 KEY, 8 ALL, 10-12 AUTO) and the BACKUP flag.
func (d Dialect) tablesSQL(only *TableKey) string {
	extra := `, '', '1'`
	join := ""
	if d == Redshift {
		extra = `, COALESCE(ci.releffectivediststyle, 10)::text,
  COALESCE((SELECT min(p.backup) FROM stv_tbl_perm p WHERE p.id = c.oid), 1)::text`
		join = " LEFT JOIN pg_class_info ci ON ci.reloid = c.oid"
	}
	return `SELECT n.nspname::text, c.relname::text, pg_get_userbyid(c.relowner)::text,
  COALESCE(obj_description(c.oid, 'pg_class'), '')::text` + extra + `
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace` + join + `
WHERE ` + d.tablesFilter(only) + `
ORDER BY 1, 2`
}

// columnsSQL reads one row per column of every table, in column order: schema, table, name,
// format_type, NOT NULL, default expression, comment, and on Redshift the encoding, whether it is
// the distribution key and its position in the sort key (negative positions: interleaved).
func (d Dialect) columnsSQL(only *TableKey) string {
	extra := `, '', 'false', '0'`
	if d == Redshift {
		extra = `, format_encoding(a.attencodingtype::integer)::text, a.attisdistkey::text, a.attsortkeyord::text`
	}
	return `SELECT n.nspname::text, c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod)::text,
  a.attnotnull::text, COALESCE(pg_get_expr(ad.adbin, ad.adrelid), '')::text,
  COALESCE(col_description(c.oid, a.attnum), '')::text` + extra + `
FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped AND ` + d.tablesFilter(only) + `
ORDER BY 1, 2, a.attnum`
}

// primaryKeysSQL reads one row per primary key column, in key order: schema, table, constraint
// name, column. generate_series over the key positions works on both dialects (Redshift has no
// unnest WITH ORDINALITY).
func (d Dialect) primaryKeysSQL(only *TableKey) string {
	return `SELECT n.nspname::text, c.relname::text, con.conname::text, a.attname::text
FROM pg_constraint con
  JOIN pg_class c ON c.oid = con.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  CROSS JOIN generate_series(1, 32) AS k(i)
  JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[k.i]
WHERE con.contype = 'p' AND ` + d.tablesFilter(only) + `
ORDER BY 1, 2, k.i`
}

// distStyleName maps PG_CLASS_INFO.releffectivediststyle to a DISTSTYLE.
func distStyleName(code string) string {
	switch strings.TrimSpace(code) {
	case "0":
		return DistEven
	case "1":
		return DistKey
	case "8":
		return DistAll
	default:
		return DistAuto
	}
}

// loadTables reads every table (or only one) in three queries, however many tables there are.
func (c *Catalog) loadTables(ctx context.Context, only *TableKey) (map[TableKey]TableState, error) {
	d := c.Dialect()
	tables, err := c.ex.Query(ctx, d.tablesSQL(only))
	if err != nil {
		return nil, fmt.Errorf("reading tables: %w", err)
	}
	out := make(map[TableKey]TableState, len(tables))
	for _, r := range tables {
		st := TableState{Table: Table{
			Schema: r[0].String, Name: r[1].String, Owner: r[2].String, Description: r[3].String,
			Backup: strings.TrimSpace(r[5].String) != "0",
		}}
		if d == Redshift {
			st.DistStyle = distStyleName(r[4].String)
		}
		out[st.Key()] = st
	}
	if len(out) == 0 {
		return out, nil
	}
	cols, err := c.ex.Query(ctx, d.columnsSQL(only))
	if err != nil {
		return nil, fmt.Errorf("reading table columns: %w", err)
	}
	type sortPos struct {
		pos  int
		name string
	}
	sorts := map[TableKey][]sortPos{}
	for _, r := range cols {
		k := TableKey{Schema: r[0].String, Name: r[1].String}
		st, ok := out[k]
		if !ok {
			continue
		}
		col := Column{
			Name: r[2].String, Type: r[3].String, Nullable: r[4].String != "true",
			Default: r[5].String, Comment: r[6].String,
		}
		if d == Redshift {
			col.Encode = strings.ToUpper(strings.TrimSpace(r[7].String))
			if col.Encode == "NONE" || col.Encode == "" {
				col.Encode = EncodeRaw
			}
			if r[8].String == "true" && st.DistStyle == DistKey {
				st.DistKey = col.Name
			}
			if p := atoi(r[9].String); p != 0 {
				sorts[k] = append(sorts[k], sortPos{pos: p, name: col.Name})
			}
		}
		st.Columns = append(st.Columns, col)
		out[k] = st
	}
	for k, ps := range sorts {
		st := out[k]
		st.SortStyle = SortCompound
		for _, p := range ps {
			if p.pos < 0 {
				st.SortStyle = SortInterleaved
			}
		}
		sort.Slice(ps, func(i, j int) bool { return abs(ps[i].pos) < abs(ps[j].pos) })
		for _, p := range ps {
			st.SortKeys = append(st.SortKeys, p.name)
		}
		out[k] = st
	}
	pks, err := c.ex.Query(ctx, d.primaryKeysSQL(only))
	if err != nil {
		return nil, fmt.Errorf("reading primary keys: %w", err)
	}
	for _, r := range pks {
		k := TableKey{Schema: r[0].String, Name: r[1].String}
		st, ok := out[k]
		if !ok {
			continue
		}
		st.PrimaryKeyName = r[2].String
		st.PrimaryKey = append(st.PrimaryKey, r[3].String)
		out[k] = st
	}
	return out, nil
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// Table returns one table from the snapshot.
func (c *Catalog) Table(ctx context.Context, k TableKey) (*TableState, error) {
	snap, err := c.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	t, ok := snap.Tables[k]
	if !ok {
		return nil, fmt.Errorf("table %s: %w", k, ErrNotFound)
	}
	return &t, nil
}

// readTable reads one table fresh from the database, bypassing the snapshot (see readSchema).
func (c *Catalog) readTable(ctx context.Context, k TableKey) (*TableState, error) {
	m, err := c.loadTables(ctx, &k)
	if err != nil {
		return nil, err
	}
	t, ok := m[k]
	if !ok {
		return nil, fmt.Errorf("table %s: %w", k, ErrNotFound)
	}
	return &t, nil
}

// RowCount counts a table's rows.
func (c *Catalog) RowCount(ctx context.Context, k TableKey) (int64, error) {
	rows, err := c.ex.Query(ctx, c.Dialect().CountRowsSQL(k))
	if err != nil {
		if SQLState(err) == "42P01" { // undefined_table
			return 0, fmt.Errorf("table %s: %w", k, ErrNotFound)
		}
		return 0, fmt.Errorf("counting the rows of table %s: %w", k, err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	return int64(atoi(rows[0][0].String)), nil
}

// DataLossError refuses to drop a table that holds rows.
type DataLossError struct {
	Table TableKey
	Rows  int64
	// Replacing is set when the table is to be dropped and created again by the same change, so
	// allow_data_loss can be set in that change; a plain drop reads it from state, so it must be
	// applied first.
	Replacing bool
}

func (e *DataLossError) Error() string {
	if e.Replacing {
		return fmt.Sprintf("table %s holds %d row(s); replacing it would delete them. Set allow_data_loss = true (in this same change) to accept the loss, or copy the data elsewhere first",
			e.Table, e.Rows)
	}
	return fmt.Sprintf("table %s holds %d row(s); dropping it would delete them. Set allow_data_loss = true on the resource and apply that before destroying it to accept the loss, or move the data elsewhere first",
		e.Table, e.Rows)
}

func (c *Catalog) checkTable(t Table) error {
	d := c.Dialect()
	if err := d.ValidateIdent(t.Schema); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	if err := d.ValidateIdent(t.Name); err != nil {
		return fmt.Errorf("table name: %w", err)
	}
	if t.Owner != "" {
		if err := d.ValidateIdent(t.Owner); err != nil {
			return fmt.Errorf("owner: %w", err)
		}
	}
	var errs []error
	for _, p := range d.Problems(t) {
		errs = append(errs, p)
	}
	if len(errs) > 0 {
		return fmt.Errorf("table %s: %w", t.Key(), errors.Join(errs...))
	}
	return nil
}

// CreateTable creates a table in one transaction and reads it back.
func (c *Catalog) CreateTable(ctx context.Context, t Table) (*TableState, error) {
	if err := c.checkTable(t); err != nil {
		return nil, err
	}
	if err := c.exec(ctx, c.Dialect().CreateTableSQL(t)...); err != nil {
		switch SQLState(err) {
		case "42P07":
			return nil, fmt.Errorf("table %s already exists; import it with `terraform import` instead of creating it: %w", t.Key(), err)
		case "3F000":
			return nil, fmt.Errorf("creating table %s: schema %s does not exist; create it first (sluice_redshift_schema): %w", t.Key(), QuoteIdent(t.Schema), err)
		}
		return nil, fmt.Errorf("creating table %s: %w", t.Key(), err)
	}
	return c.readTable(ctx, t.Key())
}

// UpdateTable changes table cur (as declared in state) into want in one transaction and reads it
// back. A difference that needs replacement is refused (the provider plans a replacement for
// those): nothing is half-done.
func (c *Catalog) UpdateTable(ctx context.Context, cur, want Table) (*TableState, error) {
	if err := c.checkTable(want); err != nil {
		return nil, err
	}
	d := c.Dialect()
	if rs := d.ReplaceReasons(cur, want); len(rs) > 0 {
		reasons := make([]string, len(rs))
		for i, r := range rs {
			reasons[i] = r.Reason
		}
		return nil, fmt.Errorf("table %s cannot be changed in place (%s): %w", cur.Key(), strings.Join(reasons, "; "), ErrNeedsReplacement)
	}
	// The primary key constraint's name is only in the catalog. When the schema was renamed
	// under the table (sluice_redshift_schema renames in place), the table is already there.
	fresh, err := c.readTable(ctx, cur.Key())
	if errors.Is(err, ErrNotFound) && cur.Schema != want.Schema {
		moved := TableKey{Schema: want.Schema, Name: cur.Name}
		if fresh, err = c.readTable(ctx, moved); err == nil {
			cur.Schema = want.Schema
		}
	}
	if err != nil {
		return nil, fmt.Errorf("updating table %s: %w", cur.Key(), err)
	}
	if stmts := d.AlterTableSQL(TableState{Table: cur, PrimaryKeyName: fresh.PrimaryKeyName}, want); len(stmts) > 0 {
		if err := c.exec(ctx, stmts...); err != nil {
			return nil, fmt.Errorf("updating table %s: %w", cur.Key(), err)
		}
	}
	return c.readTable(ctx, want.Key())
}

// DropTable drops a table. One that holds rows is refused unless allowDataLoss, with the row
// count in the error; a table already gone is not an error.
func (c *Catalog) DropTable(ctx context.Context, k TableKey, allowDataLoss bool) error {
	n, err := c.RowCount(ctx, k)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if n > 0 && !allowDataLoss {
		return &DataLossError{Table: k, Rows: n}
	}
	if err := c.exec(ctx, c.Dialect().DropTableSQL(k)); err != nil {
		if SQLState(err) == "42P01" {
			return nil
		}
		return fmt.Errorf("dropping table %s: %w", k, err)
	}
	return nil
}
