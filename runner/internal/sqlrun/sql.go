// Package sqlrun executes the activities that run SQL on a named connection: `sql` (statements
// in one transaction) and `check` (QA checks on a table). Both work on PostgreSQL, Redshift and
// MySQL/MariaDB.
package sqlrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/conn"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/mysql"
)

// NewSQL returns the executor of `sql` activities: it runs the activity's statements on its
// connection in one transaction, so a failed statement leaves nothing of the others behind and a
// retry starts from the same state.
func NewSQL(conns *conn.Resolver) activity.Executor {
	return activity.ExecutorFunc(func(ctx context.Context, t *activity.Task) (*activity.Result, error) {
		return runSQL(ctx, conns, t)
	})
}

func runSQL(ctx context.Context, conns *conn.Resolver, t *activity.Task) (*activity.Result, error) {
	a := t.Activity.SQL
	if a == nil {
		return nil, activity.Permanent(fmt.Errorf("activity %q has no sql block", t.ActivityID))
	}
	if len(a.Statements) == 0 {
		return nil, activity.Permanent(fmt.Errorf("activity %q: sql.statements is empty", t.ActivityID))
	}
	log := logOf(t)
	if conns.Kind(a.Connection) == conn.KindMySQL {
		return runMySQL(ctx, conns, a, log)
	}
	x, err := getConn(ctx, conns, a.Connection)
	if err != nil {
		return nil, err
	}
	return execInTx(ctx, x, "connection", a, log)
}

// txExecer runs statements in one transaction: a PostgreSQL/Redshift or a MySQL connection.
type txExecer interface {
	ExecTx(ctx context.Context, stmts ...string) error
}

// execInTx runs the activity's statements on x in one transaction, logging what happened;
// what names the connection's kind in the log.
func execInTx(ctx context.Context, x txExecer, what string, a *definition.SQLActivity, log io.Writer) (*activity.Result, error) {
	_, _ = fmt.Fprintf(log, "running %d statement(s) on %s %s in one transaction\n", len(a.Statements), what, a.Connection)
	if err := x.ExecTx(ctx, a.Statements...); err != nil {
		err = statementFailure(a.Statements, err)
		_, _ = fmt.Fprintf(log, "rolled back: %v\n", err)
		return nil, err
	}
	_, _ = fmt.Fprintf(log, "committed\n")
	return &activity.Result{
		Summary: fmt.Sprintf("ran %d statement(s) on %s", len(a.Statements), a.Connection),
		Details: map[string]any{"connection": a.Connection, "statements": len(a.Statements)},
	}, nil
}

// runMySQL runs a sql activity on a MySQL connection, in one transaction (MySQL commits DDL
// implicitly: a CREATE TABLE stays when a later statement fails).
func runMySQL(ctx context.Context, conns *conn.Resolver, a *definition.SQLActivity, log io.Writer) (*activity.Result, error) {
	db, err := getMySQL(ctx, conns, a.Connection)
	if err != nil {
		return nil, err
	}
	return execInTx(ctx, db, "MySQL connection", a, log)
}

// getMySQL resolves a MySQL connection; errors as getConn's.
func getMySQL(ctx context.Context, conns *conn.Resolver, name string) (*mysql.DB, error) {
	db, err := conns.GetMySQL(ctx, name)
	if conn.IsPermanent(err) {
		return nil, activity.Permanent(err)
	}
	if err != nil {
		return nil, fmt.Errorf("resolving connection: %w", err)
	}
	return db, nil
}

// statementFailure names the failing statement by its path in the activity (sql.statements.N),
// not by its text: statements can be long, and the author has them.
func statementFailure(stmts []string, err error) error {
	var se *redshift.StatementError
	if !errors.As(err, &se) {
		return fmt.Errorf("sql transaction rolled back: %w", err)
	}
	var idx []string
	for i, s := range stmts {
		if s == se.SQL {
			idx = append(idx, strconv.Itoa(i))
		}
	}
	where := "sql.statements." + strings.Join(idx, " or sql.statements.") // several: identical text
	err = fmt.Errorf("%s failed, the transaction of all %d statement(s) rolled back: %w", where, len(stmts), dbError(se.Err))
	if permanentSQL(se.Err) || mysql.Permanent(se.Err) {
		return activity.Permanent(err)
	}
	return err
}

// dbError keeps the database's message and detail (the server's words, not the statement).
func dbError(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Detail != "" {
		return fmt.Errorf("%w: %s", err, pgErr.Detail)
	}
	return err
}

// permanentSQL reports errors in the SQL text itself: a syntax error or a name that does not
// exist. Running the same SQL again cannot fix them (an upstream activity that creates the table
// runs before this one, not during its retries).
func permanentSQL(err error) bool {
	switch redshift.SQLState(err) {
	case "42601", // syntax_error
		"42P01", // undefined_table
		"42703", // undefined_column
		"42883", // undefined_function
		"3F000": // invalid_schema_name
		return true
	}
	return false
}

// getConn resolves a connection; an unknown name is permanent, a failed open is not (the
// database may be restarting).
func getConn(ctx context.Context, conns *conn.Resolver, name string) (*redshift.PgxExecutor, error) {
	x, err := conns.Get(ctx, name)
	if conn.IsPermanent(err) {
		return nil, activity.Permanent(err)
	}
	if err != nil {
		return nil, fmt.Errorf("resolving connection: %w", err)
	}
	return x, nil
}

func logOf(t *activity.Task) io.Writer {
	if t.Log == nil {
		return io.Discard
	}
	return t.Log
}
