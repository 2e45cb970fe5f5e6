package sqlrun

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/conn"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/mysql"
)

// The names of the checks, as in the pipeline format and in CheckOutcome.Check.
const (
	CheckRowCount  = "row_count"
	CheckUnique    = "unique"
	CheckNotNull   = "not_null"
	CheckFreshness = "freshness"
)

// CheckOutcome is the result of one check, listed in Result.Details["checks"].
type CheckOutcome struct {
	Check string `json:"check"`
	// Column is the column of a not_null or freshness check.
	Column string `json:"column,omitempty"`
	// Columns is the key of a unique check.
	Columns []string `json:"columns,omitempty"`
	Passed  bool     `json:"passed"`
	// Observed is the number the check measured: rows (row_count), duplicate keys (unique),
	// NULLs (not_null), the age of the newest value in seconds (freshness; -1 when there is
	// none).
	Observed int64 `json:"observed"`
	// Newest is the newest value of a freshness check's column, if any.
	Newest *time.Time `json:"newest,omitempty"`
	// Message says what was found and what was expected.
	Message string `json:"message"`
}

// NewCheck returns the executor of `check` activities. now is the clock freshness is measured
// against; nil means time.Now.
//
// Every configured check is evaluated in one query, so all of them see the same rows. A failed
// check with severity "fail" returns an activity.Permanent error listing every failed check
// (together with the Result, whose Details the engine may keep); with severity "warn" the
// activity succeeds and the failures are Result.Warnings. Table and column names are taken
// literally (quoted, so case matters on PostgreSQL). Where is the pipeline author's SQL
// predicate, already rendered for the run's interval, and is inserted as is.
func NewCheck(conns *conn.Resolver, now func() time.Time) activity.Executor {
	if now == nil {
		now = time.Now
	}
	return activity.ExecutorFunc(func(ctx context.Context, t *activity.Task) (*activity.Result, error) {
		return runCheck(ctx, conns, now, t)
	})
}

func runCheck(ctx context.Context, conns *conn.Resolver, now func() time.Time, t *activity.Task) (*activity.Result, error) {
	c := t.Activity.Check
	if c == nil {
		return nil, activity.Permanent(fmt.Errorf("activity %q has no check block", t.ActivityID))
	}
	if err := validateCheck(c); err != nil {
		return nil, activity.Permanent(fmt.Errorf("activity %q: %w", t.ActivityID, err))
	}
	schema, table, _ := strings.Cut(c.Table, ".")
	var maxAge time.Duration
	if c.Freshness != nil {
		d, err := definition.ParseDuration(c.Freshness.MaxAge)
		if err != nil {
			return nil, activity.Permanent(fmt.Errorf("activity %q: check.freshness.max_age: %w", t.ActivityID, err))
		}
		maxAge = d
	}
	// A MySQL session runs with ANSI_QUOTES, so the same "quoted" statement serves; only the
	// seconds since 1970 are spelt differently.
	var query func(context.Context, string) ([]redshift.Row, error)
	var validate func(string) error
	epochOf := "EXTRACT(EPOCH FROM %s)"
	if conns.Kind(c.Connection) == conn.KindMySQL {
		db, err := getMySQL(ctx, conns, c.Connection)
		if err != nil {
			return nil, err
		}
		query, validate, epochOf = db.Query, mysql.ValidateIdent, "UNIX_TIMESTAMP(%s)"
	} else {
		x, err := getConn(ctx, conns, c.Connection)
		if err != nil {
			return nil, err
		}
		query, validate = x.Query, x.Dialect().ValidateIdent
	}
	for _, id := range append([]string{schema, table}, checkColumns(c)...) {
		if err := validate(id); err != nil {
			return nil, activity.Permanent(fmt.Errorf("activity %q: check on %s: %w", t.ActivityID, c.Table, err))
		}
	}

	q := checkQuery(redshift.QuoteQualified(schema, table), c, epochOf)
	rows, err := query(ctx, q.sql)
	if err != nil {
		err = fmt.Errorf("check on %s (connection %s): %w", c.Table, c.Connection, dbError(err))
		if permanentSQL(err) || mysql.Permanent(err) {
			return nil, activity.Permanent(err)
		}
		return nil, err
	}
	if len(rows) != 1 || len(rows[0]) != q.columns {
		return nil, fmt.Errorf("check on %s: the check query returned %d row(s), expected 1 with %d columns", c.Table, len(rows), q.columns)
	}
	m, err := q.read(rows[0])
	if err != nil {
		return nil, fmt.Errorf("check on %s: %w", c.Table, err)
	}
	outcomes := evaluate(c, m, now(), maxAge)

	res := &activity.Result{Details: map[string]any{
		"connection": c.Connection, "table": c.Table, "rows": m.rows, "severity": severity(c), "checks": outcomes,
	}}
	if m.newest != nil {
		res.Freshness = map[string]time.Time{c.Table: *m.newest}
	}
	var failed []string
	log := logOf(t)
	for _, o := range outcomes {
		status := "ok  "
		if !o.Passed {
			status = "FAIL"
			failed = append(failed, o.Message)
		}
		_, _ = fmt.Fprintf(log, "%s %s\n", status, o.Message)
	}
	if len(failed) == 0 {
		res.Summary = fmt.Sprintf("%d check(s) passed on %s (%d rows)", len(outcomes), c.Table, m.rows)
		return res, nil
	}
	res.Summary = fmt.Sprintf("%d of %d check(s) failed on %s: %s", len(failed), len(outcomes), c.Table, strings.Join(failed, "; "))
	if severity(c) == definition.SeverityWarn {
		res.Warnings = failed
		return res, nil
	}
	return res, activity.Permanent(errors.New(res.Summary))
}

func severity(c *definition.CheckActivity) string {
	if c.Severity == "" {
		return definition.SeverityFail
	}
	return c.Severity
}

// validateCheck repeats the plan-time checks the runner relies on, for documents published by
// something other than the provider.
func validateCheck(c *definition.CheckActivity) error {
	schema, table, ok := strings.Cut(c.Table, ".")
	if !ok || schema == "" || table == "" {
		return fmt.Errorf("check.table %q is not schema.table", c.Table)
	}
	if c.RowCount == nil && len(c.Unique) == 0 && len(c.NotNull) == 0 && c.Freshness == nil {
		return errors.New("check sets none of row_count, unique, not_null, freshness")
	}
	if s := severity(c); s != definition.SeverityFail && s != definition.SeverityWarn {
		return fmt.Errorf("check.severity %q is not one of %s", s, strings.Join(definition.Severities(), ", "))
	}
	if rc := c.RowCount; rc != nil && rc.Min == nil && rc.Max == nil {
		return errors.New("check.row_count sets neither min nor max")
	}
	if c.Freshness != nil && c.Freshness.Column == "" {
		return errors.New("check.freshness.column is empty")
	}
	return nil
}

func checkColumns(c *definition.CheckActivity) []string {
	cols := append(append([]string{}, c.Unique...), c.NotNull...)
	if c.Freshness != nil {
		cols = append(cols, c.Freshness.Column)
	}
	return cols
}

// query is the one statement of a check and how to read its single row.
type query struct {
	sql     string
	columns int
	read    func(redshift.Row) (measured, error)
}

// measured holds what the check query found.
type measured struct {
	rows    int64
	nulls   []int64 // per not_null column
	newest  *time.Time
	dupKeys int64
}

// checkQuery builds the check's statement. Shape (every part optional but the row count):
//
//	SELECT a.*, d.dup_keys FROM (
//	  SELECT count(*), count(*) - count("c1"), …, EXTRACT(EPOCH FROM max("ts"))
//	  FROM "s"."t" WHERE (<where>)
//	) a CROSS JOIN (
//	  SELECT count(*) AS dup_keys FROM (
//	    SELECT 1 AS k FROM "s"."t" WHERE (<where>) AND "k1" IS NOT NULL …
//	    GROUP BY "k1", … HAVING count(*) > 1) g
//	) d
//
// A unique key with a NULL part is not a key (as for SQL UNIQUE constraints); not_null catches
// NULLs. EXTRACT(EPOCH FROM …) gives seconds since 1970 UTC on both dialects for timestamp,
// timestamptz and date columns (a timestamp without time zone is read as UTC), which avoids
// parsing the session's text format of timestamps.
//
// epochOf spells the seconds since 1970 of its argument (a %s): EXTRACT(EPOCH FROM %s) on
// PostgreSQL and Redshift, UNIX_TIMESTAMP(%s) on MySQL.
func checkQuery(table string, c *definition.CheckActivity, epochOf string) query {
	var where []string
	if strings.TrimSpace(c.Where) != "" {
		where = append(where, "("+c.Where+"\n)") // a newline ends a trailing -- comment
	}
	aggs := []string{"count(*) AS row_count"}
	for i, col := range c.NotNull {
		aggs = append(aggs, fmt.Sprintf("count(*) - count(%s) AS nulls_%d", redshift.QuoteIdent(col), i))
	}
	if c.Freshness != nil {
		aggs = append(aggs, fmt.Sprintf(epochOf, "max("+redshift.QuoteIdent(c.Freshness.Column)+")")+" AS newest")
	}
	stmt := "SELECT " + strings.Join(aggs, ", ") + " FROM " + table + whereClause(where)
	if len(c.Unique) > 0 {
		keyWhere := append([]string{}, where...)
		for _, col := range c.Unique {
			keyWhere = append(keyWhere, redshift.QuoteIdent(col)+" IS NOT NULL")
		}
		dups := "SELECT count(*) AS dup_keys FROM (SELECT 1 AS k FROM " + table + whereClause(keyWhere) +
			" GROUP BY " + redshift.QuoteIdentList(c.Unique) + " HAVING count(*) > 1) g"
		stmt = "SELECT a.*, d.dup_keys FROM (" + stmt + ") a CROSS JOIN (" + dups + ") d"
	}
	columns := len(aggs)
	if len(c.Unique) > 0 {
		columns++
	}
	read := func(r redshift.Row) (measured, error) {
		var m measured
		var err error
		i := 0
		if m.rows, err = readInt(r[i], "row_count"); err != nil {
			return m, err
		}
		i++
		for range c.NotNull {
			n, err := readInt(r[i], "NULL count")
			if err != nil {
				return m, err
			}
			m.nulls = append(m.nulls, n)
			i++
		}
		if c.Freshness != nil {
			if r[i].Valid {
				ts, err := epoch(r[i].String)
				if err != nil {
					return m, err
				}
				m.newest = &ts
			}
			i++
		}
		if len(c.Unique) > 0 {
			if m.dupKeys, err = readInt(r[i], "duplicate key count"); err != nil {
				return m, err
			}
		}
		return m, nil
	}
	return query{sql: stmt, columns: columns, read: read}
}

func whereClause(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

func readInt(v sql.NullString, what string) (int64, error) {
	if !v.Valid {
		return 0, fmt.Errorf("the database returned no %s", what)
	}
	n, err := strconv.ParseInt(v.String, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("reading the %s %q: %w", what, v.String, err)
	}
	return n, nil
}

// epoch turns seconds since 1970 (as text, possibly fractional) into a UTC time, to the
// microsecond both dialects store.
func epoch(s string) (time.Time, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return time.Time{}, fmt.Errorf("reading the newest value %q: not a finite number of seconds", s)
	}
	return time.UnixMicro(int64(math.Round(f * 1e6))).UTC(), nil
}

// evaluate compares what was measured with what the check asks, in the order of the format:
// row_count, unique, not_null, freshness.
func evaluate(c *definition.CheckActivity, m measured, now time.Time, maxAge time.Duration) []CheckOutcome {
	var out []CheckOutcome
	if rc := c.RowCount; rc != nil {
		o := CheckOutcome{Check: CheckRowCount, Observed: m.rows, Passed: true}
		switch {
		case rc.Min != nil && m.rows < *rc.Min:
			o.Passed, o.Message = false, fmt.Sprintf("row_count %d < min %d", m.rows, *rc.Min)
		case rc.Max != nil && m.rows > *rc.Max:
			o.Passed, o.Message = false, fmt.Sprintf("row_count %d > max %d", m.rows, *rc.Max)
		default:
			o.Message = fmt.Sprintf("row_count %d within %s", m.rows, bounds(rc))
		}
		out = append(out, o)
	}
	if len(c.Unique) > 0 {
		key := strings.Join(c.Unique, ", ")
		if len(c.Unique) > 1 {
			key = "(" + key + ")"
		}
		o := CheckOutcome{Check: CheckUnique, Columns: c.Unique, Observed: m.dupKeys, Passed: m.dupKeys == 0}
		if o.Passed {
			o.Message = "no duplicate " + key
		} else {
			o.Message = fmt.Sprintf("%d duplicate %s", m.dupKeys, key)
		}
		out = append(out, o)
	}
	for i, col := range c.NotNull {
		o := CheckOutcome{Check: CheckNotNull, Column: col, Observed: m.nulls[i], Passed: m.nulls[i] == 0}
		if o.Passed {
			o.Message = "no NULL " + col
		} else {
			o.Message = fmt.Sprintf("%d NULL %s", m.nulls[i], col)
		}
		out = append(out, o)
	}
	if f := c.Freshness; f != nil {
		o := CheckOutcome{Check: CheckFreshness, Column: f.Column, Observed: -1, Newest: m.newest}
		if m.newest == nil {
			o.Message = fmt.Sprintf("freshness: no %s value (no rows, or all NULL)", f.Column)
		} else {
			age := now.Sub(*m.newest)
			o.Observed = int64(age / time.Second)
			o.Passed = age <= maxAge
			cmp := "<="
			if !o.Passed {
				cmp = ">"
			}
			o.Message = fmt.Sprintf("freshness: newest %s %s is %s old %s max_age %s",
				f.Column, m.newest.Format(time.RFC3339Nano), age.Round(time.Second), cmp, f.MaxAge)
		}
		out = append(out, o)
	}
	return out
}

func bounds(rc *definition.RowCount) string {
	lo, hi := "0", "∞"
	if rc.Min != nil {
		lo = strconv.FormatInt(*rc.Min, 10)
	}
	if rc.Max != nil {
		hi = strconv.FormatInt(*rc.Max, 10)
	}
	return "[" + lo + ", " + hi + "]"
}
