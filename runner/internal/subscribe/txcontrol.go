package subscribe

import (
	"fmt"
	"strings"
	"unicode"
)

// A statements record runs inside the batch's transaction. A statement that ends or nests
// transactions (COMMIT inside the record would commit the batch half-way, without its
// checkpoint) would break the one-transaction rule that makes the apply exactly once, so such a
// record is refused before it runs: it is a poison record.
var txControl = map[string]bool{
	"BEGIN": true, "START": true, "COMMIT": true, "END": true, "ROLLBACK": true, "ABORT": true,
	"SAVEPOINT": true, "RELEASE": true, "PREPARE": true, "VACUUM": true,
}

// checkNoTxControl returns an error naming the first statement of sql whose first word controls
// transactions. It splits statements on ";" outside quotes, dollar quotes and comments, so a
// function body's BEGIN … END is not mistaken for one.
func checkNoTxControl(sql string) error {
	for _, stmt := range splitStatements(sql) {
		word := firstWord(stmt)
		if !txControl[word] {
			continue
		}
		if word == "PREPARE" && !strings.Contains(strings.ToUpper(stmt), "TRANSACTION") {
			continue // PREPARE name AS …: a prepared statement, not PREPARE TRANSACTION
		}
		return fmt.Errorf("the record runs %s: a record is applied inside the batch's transaction, which only the subscriber may begin and end (and VACUUM cannot run in one); send the statements without it", word)
	}
	return nil
}

func firstWord(stmt string) string {
	stmt = strings.TrimLeftFunc(stmt, unicode.IsSpace)
	end := strings.IndexFunc(stmt, func(r rune) bool { return !unicode.IsLetter(r) })
	if end < 0 {
		end = len(stmt)
	}
	return strings.ToUpper(stmt[:end])
}

// splitStatements splits sql on top-level semicolons and drops comments.
func splitStatements(sql string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == '-' && strings.HasPrefix(sql[i:], "--"):
			nl := strings.IndexByte(sql[i:], '\n')
			if nl < 0 {
				i = len(sql)
			} else {
				i += nl
			}
			cur.WriteByte(' ')
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				i = len(sql)
			} else {
				i += end + 4
			}
			cur.WriteByte(' ')
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(sql) {
				if sql[j] == c {
					if j+1 < len(sql) && sql[j+1] == c { // '' or "" inside: an escaped quote
						j += 2
						continue
					}
					break
				}
				j++
			}
			cur.WriteString(sql[i:min(j+1, len(sql))])
			i = j + 1
		case c == '$':
			// $tag$ … $tag$ (the tag may be empty); a $1 parameter is not a dollar quote.
			end := strings.IndexByte(sql[i+1:], '$')
			tag := ""
			if end >= 0 {
				tag = sql[i : i+end+2]
			}
			if end < 0 || !isDollarTag(tag[1:len(tag)-1]) {
				cur.WriteByte(c)
				i++
				continue
			}
			closing := strings.Index(sql[i+len(tag):], tag)
			if closing < 0 {
				cur.WriteString(sql[i:])
				i = len(sql)
				continue
			}
			stop := i + len(tag) + closing + len(tag)
			cur.WriteString(sql[i:stop])
			i = stop
		case c == ';':
			out = append(out, cur.String())
			cur.Reset()
			i++
		default:
			cur.WriteByte(c)
			i++
		}
	}
	return append(out, cur.String())
}

func isDollarTag(s string) bool {
	for i, r := range s {
		ok := r == '_' || unicode.IsLetter(r) || (i > 0 && unicode.IsDigit(r))
		if !ok {
			return false
		}
	}
	return true
}
