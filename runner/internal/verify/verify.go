// Package verify proves that the replicas of a stream replication hold the same data: for every
// replicated table it reads a row count and an order-independent checksum on each replica and
// lists every difference. Replicas apply the same changes in the same order, so equal data is
// the claim; a checksum that does not depend on the order rows are stored in is what lets two
// independently written clusters be compared without moving their rows.
package verify

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
)

// CheckpointSchema is the schema the subscribers keep their checkpoints in, on every replica:
// it differs between replicas by design and is never compared.
const CheckpointSchema = "sluice"

// Replica is one database to compare.
type Replica struct {
	Name string
	Exec redshift.Executor
}

// Sum is what one replica holds of one table.
type Sum struct {
	Rows int64 `json:"rows"`
	// Checksum is the sum over rows of a 120-bit hash of the row's text, as a decimal string:
	// equal whatever order the rows are in, different when a row differs, is missing or is
	// duplicated.
	Checksum string `json:"checksum"`
}

// TableResult is one table across the replicas.
type TableResult struct {
	Table string `json:"table"`
	// Sums by replica; a replica without the table has no entry.
	Sums map[string]Sum `json:"sums"`
	// Differences say, in words, how the replicas differ on this table; empty when equal.
	Differences []string `json:"differences,omitempty"`
}

// Result is the comparison of every table.
type Result struct {
	Replicas []string      `json:"replicas"`
	Tables   []TableResult `json:"tables"`
}

// Equal reports whether every table is equal on every replica.
func (r Result) Equal() bool {
	for _, t := range r.Tables {
		if len(t.Differences) > 0 {
			return false
		}
	}
	return true
}

// Compare reads every replicated table on every replica (the replicas in parallel) and
// compares them. rec says which tables are replicated: the one table of a rows replication,
// or every base table outside the system schemas and the checkpoint schema for statements
// (DDL in the stream may create any). A replica that cannot be read is an error naming it:
// "could not look" is not "equal".
func Compare(ctx context.Context, replicas []Replica, rec definition.Records) (Result, error) {
	type replicaSums struct {
		sums map[string]Sum
		err  error
	}
	out := make([]replicaSums, len(replicas))
	var wg sync.WaitGroup
	for i, rep := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sums, err := replicaTables(ctx, rep.Exec, rec)
			if err != nil {
				err = fmt.Errorf("replica %s: %w", rep.Name, err)
			}
			out[i] = replicaSums{sums, err}
		}()
	}
	wg.Wait()
	res := Result{}
	tables := map[string]bool{}
	for i, rep := range replicas {
		if out[i].err != nil {
			return Result{}, out[i].err
		}
		res.Replicas = append(res.Replicas, rep.Name)
		for t := range out[i].sums {
			tables[t] = true
		}
	}
	names := make([]string, 0, len(tables))
	for t := range tables {
		names = append(names, t)
	}
	slices.Sort(names)
	for _, t := range names {
		tr := TableResult{Table: t, Sums: map[string]Sum{}}
		for i, rep := range replicas {
			if s, ok := out[i].sums[t]; ok {
				tr.Sums[rep.Name] = s
			}
		}
		tr.Differences = differences(res.Replicas, tr.Sums)
		res.Tables = append(res.Tables, tr)
	}
	return res, nil
}

// differences describes how the sums of one table differ across the replicas.
func differences(replicas []string, sums map[string]Sum) []string {
	var diffs, missing []string
	for _, r := range replicas {
		if _, ok := sums[r]; !ok {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		diffs = append(diffs, "missing on "+strings.Join(missing, ", "))
	}
	var rows, checks []string
	var firstRows int64 = -1
	firstCheck, sameRows, sameCheck := "", true, true
	for _, r := range replicas {
		s, ok := sums[r]
		if !ok {
			continue
		}
		rows = append(rows, fmt.Sprintf("%s %d", r, s.Rows))
		checks = append(checks, fmt.Sprintf("%s %s", r, s.Checksum))
		if firstRows < 0 {
			firstRows, firstCheck = s.Rows, s.Checksum
			continue
		}
		sameRows = sameRows && s.Rows == firstRows
		sameCheck = sameCheck && s.Checksum == firstCheck
	}
	switch {
	case !sameRows:
		diffs = append(diffs, "row counts differ: "+strings.Join(rows, ", "))
	case !sameCheck:
		diffs = append(diffs, "same row count, different rows (checksums: "+strings.Join(checks, ", ")+")")
	}
	return diffs
}

// replicaTables sums every replicated table on one replica, keyed by "schema.table".
func replicaTables(ctx context.Context, ex redshift.Executor, rec definition.Records) (map[string]Sum, error) {
	d := ex.Dialect()
	var tables []redshift.TableKey
	if rec.Format == definition.RecordsRows {
		schema, name, _ := strings.Cut(rec.Table, ".")
		rows, err := ex.Query(ctx, existsSQL(d, schema, name))
		if err != nil {
			return nil, fmt.Errorf("looking up table %s: %w", rec.Table, err)
		}
		if len(rows) > 0 {
			tables = append(tables, redshift.TableKey{Schema: schema, Name: name})
		}
	} else {
		rows, err := ex.Query(ctx, listSQL(d))
		if err != nil {
			return nil, fmt.Errorf("listing tables: %w", err)
		}
		for _, r := range rows {
			tables = append(tables, redshift.TableKey{Schema: r[0].String, Name: r[1].String})
		}
	}
	out := make(map[string]Sum, len(tables))
	for _, t := range tables {
		q := sumSQL(t)
		if d == redshift.Redshift {
			cols, err := ex.Query(ctx, columnsSQL(d, t))
			if err != nil {
				return nil, fmt.Errorf("reading the columns of %s.%s: %w", t.Schema, t.Name, err)
			}
			names := make([]string, len(cols))
			for i, c := range cols {
				names[i] = c[0].String
			}
			q = redshiftSumSQL(t, names)
		}
		rows, err := ex.Query(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("summing %s.%s: %w", t.Schema, t.Name, err)
		}
		if len(rows) != 1 || len(rows[0]) != 3 {
			return nil, fmt.Errorf("summing %s.%s: unexpected result shape", t.Schema, t.Name)
		}
		var n int64
		if _, err := fmt.Sscan(rows[0][0].String, &n); err != nil {
			return nil, fmt.Errorf("summing %s.%s: row count %q: %w", t.Schema, t.Name, rows[0][0].String, err)
		}
		out[t.Schema+"."+t.Name] = Sum{Rows: n, Checksum: rows[0][1].String + "." + rows[0][2].String}
	}
	return out, nil
}

// systemSchemas are never replicated data.
var systemSchemas = []string{"pg_catalog", "information_schema", "pg_toast", "pg_internal", "pg_automv", "pg_auto_copy", CheckpointSchema}

func listSQL(d redshift.Dialect) string {
	quoted := make([]string, len(systemSchemas))
	for i, s := range systemSchemas {
		quoted[i] = d.QuoteLiteral(s)
	}
	return `SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN (` +
		strings.Join(quoted, ", ") + `) AND table_schema NOT LIKE 'pg_temp%' ORDER BY 1, 2`
}

func existsSQL(d redshift.Dialect, schema, name string) string {
	return `SELECT 1 FROM information_schema.tables WHERE table_schema = ` + d.QuoteLiteral(schema) + ` AND table_name = ` + d.QuoteLiteral(name)
}

func columnsSQL(d redshift.Dialect, t redshift.TableKey) string {
	return `SELECT column_name FROM information_schema.columns WHERE table_schema = ` + d.QuoteLiteral(t.Schema) +
		` AND table_name = ` + d.QuoteLiteral(t.Name) + ` ORDER BY ordinal_position`
}

// sumSQL is PostgreSQL's: the row's own text form (t::text) is unambiguous for every type and
// NULL, so it is hashed whole. Two 60-bit slices of its MD5, summed as numeric (which cannot
// overflow), make the checksum.
func sumSQL(t redshift.TableKey) string {
	return `SELECT count(*)::text, ` +
		`coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint::numeric), 0)::text, ` +
		`coalesce(sum(('x' || substr(md5(t::text), 16, 15))::bit(60)::bigint::numeric), 0)::text ` +
		`FROM ` + redshift.QuoteQualified(t.Schema, t.Name) + ` AS t`
}

// redshiftSumSQL is Redshift's: it has no row-to-text cast, so each column is cast to text,
// prefixed with its length (so that ("ab", "c") and ("a", "bc") differ) or marked NULL, and the
// pieces are joined. STRTOL reads each 15-hex-digit slice of the MD5; the sums are
// DECIMAL(38,0) so they cannot overflow.
func redshiftSumSQL(t redshift.TableKey, columns []string) string {
	parts := make([]string, len(columns))
	for i, c := range columns {
		col := redshift.QuoteIdent(c) + "::varchar(max)"
		parts[i] = `coalesce(len(` + col + `)::varchar || ':' || ` + col + `, 'N')`
	}
	row := `'|'`
	if len(parts) > 0 {
		row = strings.Join(parts, ` || '|' || `)
	}
	return `SELECT count(*)::varchar, ` +
		`coalesce(sum(strtol(substring(md5(` + row + `), 1, 15), 16)::decimal(38,0)), 0)::varchar, ` +
		`coalesce(sum(strtol(substring(md5(` + row + `), 16, 15), 16)::decimal(38,0)), 0)::varchar ` +
		`FROM ` + redshift.QuoteQualified(t.Schema, t.Name)
}
