// Package mysql is the runner's MySQL and MariaDB connection (mysql:// URIs): opening it, running
// statements in one transaction, queries, the quoting of identifiers and literals, and loading
// rows into a table through a staging table with Redshift's insert modes. Sessions run with
// ANSI_QUOTES (so "double quotes" quote identifiers, as on PostgreSQL and Redshift) and UTC.
package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
)

// Schemes are the URI schemes of MySQL connections.
var Schemes = []string{"mysql://", "mariadb://"}

// IsURI reports whether raw is a MySQL connection URI.
func IsURI(raw string) bool {
	for _, s := range Schemes {
		if strings.HasPrefix(strings.ToLower(raw), s) {
			return true
		}
	}
	return false
}

// DefaultPort is the port of a URI that names none.
const DefaultPort = "3306"

// params are the query parameters a mysql:// URI may carry.
var params = []string{"tls", "timeout", "read_timeout", "write_timeout", "charset"}

// Spec is a parsed mysql:// URI.
type Spec struct {
	// DSN is the driver's configuration.
	cfg *mysql.Config
	// Redacted is the URI with the password replaced by xxxxx.
	Redacted string
	// Password is the URI's password, for scrubbing.
	Password string
}

// Parse validates a URI: mysql://user:password@host:3306/database?tls=true. Its errors never
// contain the password.
func Parse(raw string) (*Spec, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a URI such as mysql://user:password@host:3306/database (check that the password is percent-encoded)")
	}
	if u.Host == "" {
		return nil, errors.New("no host: expected mysql://user:password@host:3306/database")
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" || strings.Contains(db, "/") {
		return nil, errors.New("no database: expected mysql://user:password@host:3306/database")
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = DefaultPort
	}
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = net.JoinHostPort(host, port)
	cfg.DBName = db
	cfg.User = u.User.Username()
	pw, _ := u.User.Password()
	cfg.Passwd = pw
	cfg.ParseTime = false
	cfg.MultiStatements = false
	cfg.Loc = time.UTC
	// Every session: identifiers in double quotes, as on PostgreSQL; timestamps in UTC, so
	// UNIX_TIMESTAMP and the load read them as the other dialects do.
	cfg.Params = map[string]string{"sql_mode": "'ANSI_QUOTES,STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'", "time_zone": "'+00:00'"}
	for k, vs := range u.Query() {
		if !slices.Contains(params, k) {
			return nil, fmt.Errorf("unknown parameter %q; allowed: %s", k, strings.Join(params, ", "))
		}
		v := vs[len(vs)-1]
		switch k {
		case "tls":
			if !slices.Contains([]string{"true", "false", "skip-verify", "preferred"}, v) {
				return nil, fmt.Errorf("tls=%q: use true, false, skip-verify or preferred", v)
			}
			cfg.TLSConfig = v
		case "timeout", "read_timeout", "write_timeout":
			d, err := time.ParseDuration(v)
			if err != nil {
				return nil, fmt.Errorf("%s=%q is not a duration such as 10s", k, v)
			}
			switch k {
			case "timeout":
				cfg.Timeout = d
			case "read_timeout":
				cfg.ReadTimeout = d
			default:
				cfg.WriteTimeout = d
			}
		case "charset":
			cfg.Params["charset"] = v
		}
	}
	red := *u
	if _, ok := u.User.Password(); ok {
		red.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return &Spec{cfg: cfg, Redacted: red.String(), Password: pw}, nil
}

// DB is an open MySQL or MariaDB database.
type DB struct {
	db *sql.DB
}

// Open opens the database and checks that it answers.
func Open(ctx context.Context, s *Spec) (*DB, error) {
	connector, err := mysql.NewConnector(s.cfg)
	if err != nil {
		return nil, fmt.Errorf("configuring the MySQL driver: %w", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("connecting to %s: %w", s.cfg.Addr, err)
	}
	return &DB{db: db}, nil
}

// Close closes the database.
func (d *DB) Close() { _ = d.db.Close() }

// SQL returns the database/sql handle, for loads.
func (d *DB) SQL() *sql.DB { return d.db }

// Query runs one statement and returns its rows as text.
func (d *DB) Query(ctx context.Context, q string) ([]redshift.Row, error) {
	rows, err := d.db.QueryContext(ctx, q)
	if err != nil {
		return nil, &redshift.StatementError{SQL: q, Err: err}
	}
	defer func() { _ = rows.Close() }()
	cols, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("reading the columns of the result: %w", err)
	}
	var out []redshift.Row
	for rows.Next() {
		r := make(redshift.Row, len(cols))
		ptrs := make([]any, len(cols))
		for i := range r {
			ptrs[i] = &r[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("reading a row: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, &redshift.StatementError{SQL: q, Err: err}
	}
	return out, nil
}

// ExecTx runs statements in one transaction: all or nothing. (MySQL commits DDL implicitly:
// CREATE TABLE, ALTER, DROP and TRUNCATE cannot be rolled back.)
func (d *DB) ExecTx(ctx context.Context, stmts ...string) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning the transaction: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return &redshift.StatementError{SQL: s, Err: err}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// QuoteIdent quotes an identifier for a session with ANSI_QUOTES: "name", with " doubled.
func QuoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// QuoteLiteral quotes a string literal. MySQL reads backslash escapes in literals (unless
// NO_BACKSLASH_ESCAPES), so backslashes are doubled along with quotes, and NUL, newline and
// Ctrl-Z are escaped so the statement stays one line of safe text.
func QuoteLiteral(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'':
			b.WriteString(`''`)
		case '\\':
			b.WriteString(`\\`)
		case 0:
			b.WriteString(`\0`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case 0x1a:
			b.WriteString(`\Z`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// ValidateIdent checks an identifier: 1 to 64 characters, no NUL.
func ValidateIdent(s string) error {
	if s == "" || len([]rune(s)) > 64 || strings.ContainsRune(s, 0) {
		return fmt.Errorf("%q is not a MySQL identifier (1 to 64 characters)", s)
	}
	return nil
}

// ErrorNumber returns the MySQL error number of err, 0 if it has none.
func ErrorNumber(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// Permanent reports errors in the SQL itself, which a retry cannot fix: a syntax error, an
// unknown table, column or database.
func Permanent(err error) bool {
	switch ErrorNumber(err) {
	case 1064, // ER_PARSE_ERROR
		1146, // ER_NO_SUCH_TABLE
		1054, // ER_BAD_FIELD_ERROR
		1049, // ER_BAD_DB_ERROR
		1305: // ER_SP_DOES_NOT_EXIST (unknown function)
		return true
	}
	return false
}
