package redshift

import (
	"crypto/hmac"
	"crypto/md5" //nolint:gosec // Redshift's documented password hash format is md5(password || user).
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// User is a database user as declared. On PostgreSQL a user is a role with LOGIN.
type User struct {
	Name string
	// Password is the clear-text password; "" means none (log in through IAM, or not at all).
	// It is hashed before it reaches SQL and is never read back.
	Password string
	// ConnectionLimit caps concurrent connections; -1 means unlimited.
	ConnectionLimit int
	// ValidUntil is when the password expires; the zero time means never.
	ValidUntil     time.Time
	CreateDatabase bool
	Superuser      bool
}

// Group is a group of users. On PostgreSQL a group is a role without LOGIN whose members are
// granted the role.
type Group struct {
	Name    string
	Members []string
}

// RoleState is a user or group as the catalog reports it.
type RoleState struct {
	Name            string
	Login           bool
	ConnectionLimit int
	ValidUntil      time.Time
	CreateDatabase  bool
	Superuser       bool
	// Members lists, for a group, the users in it, sorted.
	Members []string
}

// scramIterations is PostgreSQL's default for SCRAM-SHA-256 verifiers.
const scramIterations = 4096

// PasswordHash returns the password in the form the dialect stores, so the clear text never
// appears in SQL, statement logs or the query history: a SCRAM-SHA-256 verifier on PostgreSQL,
// md5(password || user) on Redshift.
func (d Dialect) PasswordHash(user, password string) (string, error) {
	if d == Redshift {
		sum := md5.Sum([]byte(password + user)) //nolint:gosec // the format Redshift documents
		return "md5" + hex.EncodeToString(sum[:]), nil
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("generating a password salt: %w", err)
	}
	return scramVerifier(password, salt, scramIterations)
}

// scramVerifier builds the SCRAM-SHA-256 verifier PostgreSQL accepts in place of a password
// (RFC 5802 and 7677): SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>.
func scramVerifier(password string, salt []byte, iterations int) (string, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("deriving the password key: %w", err)
	}
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	clientKey := mac(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	serverKey := mac(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(stored[:]), b64(serverKey)), nil
}

// validUntilSQL renders an expiry for VALID UNTIL.
func (d Dialect) validUntilSQL(t time.Time) string {
	if t.IsZero() {
		return d.QuoteLiteral("infinity")
	}
	return d.QuoteLiteral(t.UTC().Format("2006-01-02 15:04:05+00"))
}

// userOptions renders the options shared by CREATE and ALTER.
func (d Dialect) userOptions(u User, passwordHash string, withPassword bool) string {
	var opts []string
	if withPassword {
		switch {
		case passwordHash != "":
			opts = append(opts, "PASSWORD "+d.QuoteLiteral(passwordHash))
		case d == Redshift:
			opts = append(opts, "PASSWORD DISABLE")
		default:
			opts = append(opts, "PASSWORD NULL")
		}
	}
	opts = append(opts, flag(u.CreateDatabase, "CREATEDB", "NOCREATEDB"))
	if d == Redshift {
		opts = append(opts, flag(u.Superuser, "CREATEUSER", "NOCREATEUSER"))
	} else {
		opts = append(opts, flag(u.Superuser, "SUPERUSER", "NOSUPERUSER"))
	}
	switch {
	case u.ConnectionLimit < 0 && d == Redshift:
		opts = append(opts, "CONNECTION LIMIT UNLIMITED")
	case u.ConnectionLimit < 0:
		opts = append(opts, "CONNECTION LIMIT -1")
	default:
		opts = append(opts, "CONNECTION LIMIT "+strconv.Itoa(u.ConnectionLimit))
	}
	opts = append(opts, "VALID UNTIL "+d.validUntilSQL(u.ValidUntil))
	return strings.Join(opts, " ")
}

func flag(on bool, yes, no string) string {
	if on {
		return yes
	}
	return no
}

// CreateUserSQL creates a user; passwordHash comes from PasswordHash ("" for none).
func (d Dialect) CreateUserSQL(u User, passwordHash string) string {
	if d == Redshift {
		return "CREATE USER " + QuoteIdent(u.Name) + " " + d.userOptions(u, passwordHash, true)
	}
	return "CREATE ROLE " + QuoteIdent(u.Name) + " LOGIN " + d.userOptions(u, passwordHash, true)
}

// AlterUserSQL brings a user's options to u. The password is set only when setPassword is true:
// it cannot be read back, so it changes only when its configured value does.
func (d Dialect) AlterUserSQL(u User, passwordHash string, setPassword bool) string {
	kw := "ALTER ROLE "
	if d == Redshift {
		kw = "ALTER USER "
	}
	return kw + QuoteIdent(u.Name) + " " + d.userOptions(u, passwordHash, setPassword)
}

// RenameRoleSQL renames a user or group.
func (d Dialect) RenameRoleSQL(group bool, from, to string) string {
	kw := "ALTER ROLE "
	if d == Redshift {
		kw = "ALTER USER "
		if group {
			kw = "ALTER GROUP "
		}
	}
	return kw + QuoteIdent(from) + " RENAME TO " + QuoteIdent(to)
}

// DropUserSQL drops a user.
func (d Dialect) DropUserSQL(name string) string {
	if d == Redshift {
		return "DROP USER " + QuoteIdent(name)
	}
	return "DROP ROLE " + QuoteIdent(name)
}

// CreateGroupSQL creates a group with its members.
func (d Dialect) CreateGroupSQL(g Group) []string {
	if d == Redshift {
		stmt := "CREATE GROUP " + QuoteIdent(g.Name)
		if len(g.Members) > 0 {
			stmt += " WITH USER " + QuoteIdentList(sorted(g.Members))
		}
		return []string{stmt}
	}
	out := []string{"CREATE ROLE " + QuoteIdent(g.Name) + " NOLOGIN"}
	if len(g.Members) > 0 {
		out = append(out, "GRANT "+QuoteIdent(g.Name)+" TO "+QuoteIdentList(sorted(g.Members)))
	}
	return out
}

// GroupMembersSQL adds and removes members so the group holds exactly want.
func (d Dialect) GroupMembersSQL(group string, cur, want []string) []string {
	add, drop := setDiff(want, cur), setDiff(cur, want)
	var out []string
	if d == Redshift {
		if len(add) > 0 {
			out = append(out, "ALTER GROUP "+QuoteIdent(group)+" ADD USER "+QuoteIdentList(add))
		}
		if len(drop) > 0 {
			out = append(out, "ALTER GROUP "+QuoteIdent(group)+" DROP USER "+QuoteIdentList(drop))
		}
		return out
	}
	if len(add) > 0 {
		out = append(out, "GRANT "+QuoteIdent(group)+" TO "+QuoteIdentList(add))
	}
	if len(drop) > 0 {
		out = append(out, "REVOKE "+QuoteIdent(group)+" FROM "+QuoteIdentList(drop))
	}
	return out
}

// DropGroupSQL drops a group.
func (d Dialect) DropGroupSQL(name string) string {
	if d == Redshift {
		return "DROP GROUP " + QuoteIdent(name)
	}
	return "DROP ROLE " + QuoteIdent(name)
}

// setDiff returns the sorted elements of a not in b.
func setDiff(a, b []string) []string {
	in := make(map[string]bool, len(b))
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
			in[x] = true
		}
	}
	sort.Strings(out)
	return out
}

func sorted(xs []string) []string {
	out := append([]string(nil), xs...)
	sort.Strings(out)
	return out
}
