package redshift

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// validUntilLayout is how the role queries render an expiry: RFC 3339 in UTC.
const validUntilLayout = "2006-01-02T15:04:05Z"

// usersSQL lists users (PostgreSQL: roles with LOGIN), one row each:
// name, connection limit (-1 unlimited), expiry ("" never), createdb, superuser.
func (c *Catalog) usersSQL(only string) string {
	d := c.Dialect()
	var q string
	if d == Redshift {
		q = `SELECT u.usename::text,
  CASE WHEN u.useconnlimit = 'UNLIMITED' THEN '-1' ELSE u.useconnlimit END::text,
  COALESCE(to_char(u.valuntil, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), '')::text,
  u.usecreatedb::text, u.usesuper::text
FROM pg_user_info u WHERE u.usename <> 'rdsdb'`
		if only != "" {
			q += " AND u.usename = " + d.QuoteLiteral(only)
		}
	} else {
		q = `SELECT r.rolname::text, r.rolconnlimit::text,
  CASE WHEN r.rolvaliduntil IS NULL OR NOT isfinite(r.rolvaliduntil) THEN ''
       ELSE to_char(r.rolvaliduntil AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') END::text,
  r.rolcreatedb::text, r.rolsuper::text
FROM pg_roles r WHERE r.rolcanlogin AND r.rolname !~ '^pg_'`
		if only != "" {
			q += " AND r.rolname = " + d.QuoteLiteral(only)
		}
	}
	return q + " ORDER BY 1"
}

// groupsSQL lists (group, member) pairs, with a NULL member for an empty group.
func (c *Catalog) groupsSQL(only string) string {
	d := c.Dialect()
	var q string
	if d == Redshift {
		q = `SELECT g.groname::text, u.usename::text
FROM pg_group g LEFT JOIN pg_user u ON u.usesysid = ANY(g.grolist)`
		if only != "" {
			q += " WHERE g.groname = " + d.QuoteLiteral(only)
		}
	} else {
		q = `SELECT g.rolname::text, m.rolname::text
FROM pg_roles g
LEFT JOIN pg_auth_members am ON am.roleid = g.oid
LEFT JOIN pg_roles m ON m.oid = am.member
WHERE NOT g.rolcanlogin AND g.rolname !~ '^pg_'`
		if only != "" {
			q += " AND g.rolname = " + d.QuoteLiteral(only)
		}
	}
	return q + " ORDER BY 1, 2"
}

func (c *Catalog) loadUsers(ctx context.Context, only string) (map[string]RoleState, error) {
	rows, err := c.ex.Query(ctx, c.usersSQL(only))
	if err != nil {
		return nil, fmt.Errorf("reading users: %w", err)
	}
	out := make(map[string]RoleState, len(rows))
	for _, r := range rows {
		st := RoleState{Name: r[0].String, Login: true, ConnectionLimit: -1,
			CreateDatabase: isTrue(r[3].String), Superuser: isTrue(r[4].String)}
		if n, err := strconv.Atoi(strings.TrimSpace(r[1].String)); err == nil {
			st.ConnectionLimit = n
		}
		if r[2].String != "" {
			t, err := time.Parse(validUntilLayout, r[2].String)
			if err != nil {
				return nil, fmt.Errorf("reading users: expiry of %s: %w", QuoteIdent(st.Name), err)
			}
			st.ValidUntil = t
		}
		out[st.Name] = st
	}
	return out, nil
}

func (c *Catalog) loadGroups(ctx context.Context, only string) (map[string]RoleState, error) {
	rows, err := c.ex.Query(ctx, c.groupsSQL(only))
	if err != nil {
		return nil, fmt.Errorf("reading groups: %w", err)
	}
	out := map[string]RoleState{}
	for _, r := range rows {
		g := out[r[0].String]
		g.Name = r[0].String
		if g.Members == nil {
			g.Members = []string{}
		}
		if r[1].Valid {
			g.Members = append(g.Members, r[1].String)
		}
		out[g.Name] = g
	}
	for n, g := range out {
		sort.Strings(g.Members)
		out[n] = g
	}
	return out, nil
}

func isTrue(s string) bool { return s == "true" || s == "t" }

// User returns one user from the snapshot.
func (c *Catalog) User(ctx context.Context, name string) (*RoleState, error) {
	snap, err := c.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	u, ok := snap.Users[name]
	if !ok {
		return nil, fmt.Errorf("user %s: %w", QuoteIdent(name), ErrNotFound)
	}
	return &u, nil
}

// Group returns one group from the snapshot.
func (c *Catalog) Group(ctx context.Context, name string) (*RoleState, error) {
	snap, err := c.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	g, ok := snap.Groups[name]
	if !ok {
		return nil, fmt.Errorf("group %s: %w", QuoteIdent(name), ErrNotFound)
	}
	return &g, nil
}

func (c *Catalog) readUser(ctx context.Context, name string) (*RoleState, error) {
	m, err := c.loadUsers(ctx, name)
	if err != nil {
		return nil, err
	}
	u, ok := m[name]
	if !ok {
		return nil, fmt.Errorf("user %s: %w", QuoteIdent(name), ErrNotFound)
	}
	return &u, nil
}

func (c *Catalog) readGroup(ctx context.Context, name string) (*RoleState, error) {
	m, err := c.loadGroups(ctx, name)
	if err != nil {
		return nil, err
	}
	g, ok := m[name]
	if !ok {
		return nil, fmt.Errorf("group %s: %w", QuoteIdent(name), ErrNotFound)
	}
	return &g, nil
}

func (c *Catalog) checkName(what, name string) error {
	if err := c.Dialect().ValidateIdent(name); err != nil {
		return fmt.Errorf("%s name: %w", what, err)
	}
	return nil
}

// CreateUser creates a user and reads it back.
func (c *Catalog) CreateUser(ctx context.Context, u User) (*RoleState, error) {
	if err := c.checkName("user", u.Name); err != nil {
		return nil, err
	}
	hash := ""
	if u.Password != "" {
		var err error
		if hash, err = c.Dialect().PasswordHash(u.Name, u.Password); err != nil {
			return nil, err
		}
	}
	if err := c.exec(ctx, c.Dialect().CreateUserSQL(u, hash)); err != nil {
		if SQLState(err) == "42710" {
			return nil, fmt.Errorf("user %s already exists; import it with `terraform import` instead of creating it: %w", QuoteIdent(u.Name), redactSQL(err))
		}
		return nil, fmt.Errorf("creating user %s: %w", QuoteIdent(u.Name), redactSQL(err))
	}
	return c.readUser(ctx, u.Name)
}

// UpdateUser renames the user when needed and applies want's options; the password is set only
// when setPassword is true.
func (c *Catalog) UpdateUser(ctx context.Context, curName string, want User, setPassword bool) (*RoleState, error) {
	if err := c.checkName("user", want.Name); err != nil {
		return nil, err
	}
	d := c.Dialect()
	var stmts []string
	if curName != want.Name {
		stmts = append(stmts, d.RenameRoleSQL(false, curName, want.Name))
	}
	hash := ""
	if setPassword && want.Password != "" {
		var err error
		if hash, err = d.PasswordHash(want.Name, want.Password); err != nil {
			return nil, err
		}
	}
	stmts = append(stmts, d.AlterUserSQL(want, hash, setPassword))
	if err := c.exec(ctx, stmts...); err != nil {
		return nil, fmt.Errorf("updating user %s: %w", QuoteIdent(curName), redactSQL(err))
	}
	return c.readUser(ctx, want.Name)
}

// DropUser drops a user. The database refuses while the user owns objects or holds privileges,
// and its error names them.
func (c *Catalog) DropUser(ctx context.Context, name string) error {
	err := c.exec(ctx, c.Dialect().DropUserSQL(name))
	if err != nil && SQLState(err) != "42704" { // undefined_object: already gone
		return fmt.Errorf("dropping user %s (reassign or drop what it owns and revoke its grants first): %w", QuoteIdent(name), err)
	}
	return nil
}

// CreateGroup creates a group with its members and reads it back.
func (c *Catalog) CreateGroup(ctx context.Context, g Group) (*RoleState, error) {
	if err := c.checkName("group", g.Name); err != nil {
		return nil, err
	}
	if err := c.exec(ctx, c.Dialect().CreateGroupSQL(g)...); err != nil {
		if SQLState(err) == "42710" {
			return nil, fmt.Errorf("group %s already exists; import it with `terraform import` instead of creating it: %w", QuoteIdent(g.Name), err)
		}
		return nil, fmt.Errorf("creating group %s: %w", QuoteIdent(g.Name), err)
	}
	return c.readGroup(ctx, g.Name)
}

// UpdateGroup renames the group when needed and makes its members exactly want's.
func (c *Catalog) UpdateGroup(ctx context.Context, cur *RoleState, want Group) (*RoleState, error) {
	if err := c.checkName("group", want.Name); err != nil {
		return nil, err
	}
	d := c.Dialect()
	var stmts []string
	if cur.Name != want.Name {
		stmts = append(stmts, d.RenameRoleSQL(true, cur.Name, want.Name))
	}
	stmts = append(stmts, d.GroupMembersSQL(want.Name, cur.Members, want.Members)...)
	if len(stmts) > 0 {
		if err := c.exec(ctx, stmts...); err != nil {
			return nil, fmt.Errorf("updating group %s: %w", QuoteIdent(cur.Name), err)
		}
	}
	return c.readGroup(ctx, want.Name)
}

// DropGroup drops a group.
func (c *Catalog) DropGroup(ctx context.Context, name string) error {
	err := c.exec(ctx, c.Dialect().DropGroupSQL(name))
	if err != nil && SQLState(err) != "42704" {
		return fmt.Errorf("dropping group %s (revoke its grants first): %w", QuoteIdent(name), err)
	}
	return nil
}
