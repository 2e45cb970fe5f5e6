package redshift

import (
	"errors"
	"fmt"
	"strings"
)

// ACLs are read as text (relacl::text, nspacl::text, datacl::text, defaclacl::text) and parsed
// here, because Redshift has no aclexplode. The text is an array literal of aclitems:
//
//	{sluice=arwdDxt/sluice,=r/sluice,"group analysts=r/sluice","\"we\"\"ird\"=U/sluice"}
//
// The array quotes an element that holds a special character ({ } , " \ or white space) and
// escapes " and \ inside it with a backslash. Each aclitem is grantee=privileges/grantor: an
// empty grantee is PUBLIC, Redshift writes a group as "group <name>", and a name that is not
// plain lower-case letters, digits and underscores is double-quoted with embedded quotes
// doubled. Each privilege letter may be followed by * (held WITH GRANT OPTION).

// ErrInvalidACL is wrapped by every ACL parse error.
var ErrInvalidACL = errors.New("invalid ACL")

// ACLItem is one aclitem: what one grantee was granted by one grantor.
type ACLItem struct {
	// Grantee is the role, user or group name; "" with Group false is PUBLIC.
	Grantee string
	// Group is true for a Redshift group ("group <name>").
	Group bool
	// Privileges are the privileges held; GrantOption those held WITH GRANT OPTION.
	Privileges  PrivSet
	GrantOption PrivSet
	// Other holds privilege letters sluice does not manage (e.g. PostgreSQL 17's m = MAINTAIN,
	// or Redshift-only letters), in the order read. They are never revoked by a Set.
	Other   string
	Grantor string
}

// Public reports whether the item grants to PUBLIC.
func (it ACLItem) Public() bool { return it.Grantee == "" && !it.Group }

// privilegeLetters maps aclitem letters to privileges (PostgreSQL's ACL_*_CHR).
var privilegeLetters = map[byte]Privilege{
	'r': Select, 'a': Insert, 'w': Update, 'd': Delete, 'D': Truncate, 'x': References,
	't': Trigger, 'C': Create, 'c': Connect, 'T': Temporary, 'U': Usage,
}

// aclLetterOrder is the order PostgreSQL writes the letters in (ACL_ALL_RIGHTS_STR).
const aclLetterOrder = "arwdDxtUCTc"

// ParseACL parses an aclitem[] in its text form. The empty string and "{}" are an empty ACL —
// which is not the same as a NULL ACL (default privileges); callers tell those apart.
func ParseACL(s string) ([]ACLItem, error) {
	elems, err := splitArray(s)
	if err != nil {
		return nil, err
	}
	out := make([]ACLItem, 0, len(elems))
	for _, e := range elems {
		it, err := ParseACLItem(e)
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, nil
}

// splitArray splits a one-dimensional array literal into its elements, unquoting them.
func splitArray(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "{}" {
		return nil, nil
	}
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, fmt.Errorf("%w: %q is not an array literal {...}", ErrInvalidACL, s)
	}
	body := s[1 : len(s)-1]
	var out []string
	for i := 0; i <= len(body); {
		if i < len(body) && body[i] == '"' {
			var b strings.Builder
			j := i + 1
			for ; j < len(body) && body[j] != '"'; j++ {
				if body[j] == '\\' && j+1 < len(body) {
					j++
				}
				b.WriteByte(body[j])
			}
			if j >= len(body) {
				return nil, fmt.Errorf("%w: unterminated quoted element in %q", ErrInvalidACL, s)
			}
			out = append(out, b.String())
			j++ // closing quote
			if j < len(body) && body[j] != ',' {
				return nil, fmt.Errorf("%w: unexpected %q after a quoted element in %q", ErrInvalidACL, body[j], s)
			}
			i = j + 1
			continue
		}
		j := strings.IndexByte(body[i:], ',')
		if j < 0 {
			j = len(body) - i
		}
		elem := strings.TrimSpace(body[i : i+j])
		if elem == "" {
			return nil, fmt.Errorf("%w: empty element in %q", ErrInvalidACL, s)
		}
		out = append(out, elem)
		i += j + 1
	}
	return out, nil
}

// ParseACLItem parses one aclitem: [group ]grantee=privileges[/grantor].
func ParseACLItem(s string) (ACLItem, error) {
	var it ACLItem
	rest := s
	if strings.HasPrefix(rest, "group ") {
		it.Group = true
		rest = rest[len("group "):]
	}
	name, rest, err := parseName(rest, '=')
	if err != nil {
		return it, fmt.Errorf("%w: aclitem %q: grantee: %w", ErrInvalidACL, s, err)
	}
	if it.Group && name == "" {
		return it, fmt.Errorf("%w: aclitem %q: group without a name", ErrInvalidACL, s)
	}
	it.Grantee = name
	if rest == "" || rest[0] != '=' {
		return it, fmt.Errorf("%w: aclitem %q: missing '=' after the grantee", ErrInvalidACL, s)
	}
	rest = rest[1:]
	i := 0
	for ; i < len(rest) && rest[i] != '/'; i++ {
		c := rest[i]
		withGrant := i+1 < len(rest) && rest[i+1] == '*'
		if p, ok := privilegeLetters[c]; ok {
			it.Privileges |= p.bit()
			if withGrant {
				it.GrantOption |= p.bit()
			}
		} else {
			if c == '*' || c == '"' || c == '=' {
				return it, fmt.Errorf("%w: aclitem %q: unexpected %q among the privileges", ErrInvalidACL, s, c)
			}
			it.Other += string(c)
		}
		if withGrant {
			i++
		}
	}
	if i < len(rest) { // '/'
		grantor, tail, err := parseName(rest[i+1:], 0)
		if err != nil {
			return it, fmt.Errorf("%w: aclitem %q: grantor: %w", ErrInvalidACL, s, err)
		}
		if tail != "" {
			return it, fmt.Errorf("%w: aclitem %q: unexpected %q after the grantor", ErrInvalidACL, s, tail)
		}
		it.Grantor = grantor
	}
	return it, nil
}

// parseName reads a possibly double-quoted name up to stop (0: to the end) and returns the rest,
// starting at stop.
func parseName(s string, stop byte) (name, rest string, err error) {
	if s != "" && s[0] == '"' {
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			if s[i] == '"' {
				if i+1 < len(s) && s[i+1] == '"' {
					b.WriteByte('"')
					i++
					continue
				}
				return b.String(), s[i+1:], nil
			}
			b.WriteByte(s[i])
		}
		return "", "", fmt.Errorf("unterminated quoted name in %q", s)
	}
	if stop == 0 {
		return s, "", nil
	}
	i := strings.IndexByte(s, stop)
	if i < 0 {
		return s, "", nil
	}
	return s[:i], s[i:], nil
}

// FormatACLItem writes an aclitem as PostgreSQL does (for tests and messages): names quoted
// unless plain, PUBLIC as the empty name.
func FormatACLItem(it ACLItem) string {
	var b strings.Builder
	if it.Group {
		b.WriteString("group ")
	}
	b.WriteString(aclName(it.Grantee))
	b.WriteByte('=')
	for i := 0; i < len(aclLetterOrder); i++ {
		p := privilegeLetters[aclLetterOrder[i]]
		if it.Privileges.Has(p) {
			b.WriteByte(aclLetterOrder[i])
			if it.GrantOption.Has(p) {
				b.WriteByte('*')
			}
		}
	}
	b.WriteString(it.Other)
	b.WriteByte('/')
	b.WriteString(aclName(it.Grantor))
	return b.String()
}

func aclName(n string) string {
	for i := 0; i < len(n); i++ {
		c := n[i]
		plain := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
		if !plain {
			return `"` + strings.ReplaceAll(n, `"`, `""`) + `"`
		}
	}
	return n
}
