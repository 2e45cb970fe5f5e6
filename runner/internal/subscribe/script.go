package subscribe

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
)

// A batch of SQL records costs one round trip per record when each is sent alone, and the
// replica's round trip, not its work, is then what limits a subscriber. So a batch is first
// sent as one script: the ids of its changes looked up in one query, then one simple-protocol
// query holding the new ids' insert and every record's SQL in order. A failure does not say
// which record failed; the batch is then rolled back and applied again record by record (the
// careful path), which names the poison record and applies the rest. The script is only
// built when it means exactly what the records mean one by one: every record must end outside
// any quote and comment, so that no record can run on into the next.

// changedRecord is a decoded SQL record of a batch.
type changedRecord struct {
	rec record
	ch  definition.Change
}

// scriptable reports whether recs can be applied as one script: all SQL (a load is its own
// COPY), none controlling transactions, each lexically complete in dialect d, and ids that
// quote to themselves.
func scriptable(recs []record, d redshift.Dialect) ([]changedRecord, bool) {
	out := make([]changedRecord, 0, len(recs))
	for _, r := range recs {
		ch, err := definition.DecodeChange(r.data)
		if err != nil || ch.Load != nil || checkNoTxControl(ch.SQL) != nil || !lexicallyComplete(ch.SQL, d) {
			return nil, false
		}
		if strings.ContainsRune(ch.ID, 0) || !utf8.ValidString(ch.ID) {
			return nil, false
		}
		out = append(out, changedRecord{rec: r, ch: ch})
	}
	return out, true
}

// applyScript applies recs (scriptable) in tx as one script. A change id already applied — by
// an earlier batch, or earlier in this one — is skipped, as the careful path skips it. An
// error is a *PoisonError on the batch's first record when it may come from a record (the
// careful path then finds which), or the error itself when the replica is the problem.
func (c *consumer) applyScript(ctx context.Context, tx pgx.Tx, d redshift.Dialect, recs []changedRecord) error {
	var ids []string
	for _, r := range recs {
		if r.ch.ID != "" {
			ids = append(ids, r.ch.ID)
		}
	}
	done, err := appliedChangeIDs(ctx, tx, d, c.key.Replication, ids)
	if err != nil {
		return err
	}
	var stmts, values strings.Builder
	for _, r := range recs {
		if r.ch.ID != "" {
			if done[r.ch.ID] {
				c.log.Info("change already applied (a retried put): skipped", "sequence", r.rec.sequence, "change_id", r.ch.ID)
				continue
			}
			done[r.ch.ID] = true
			if values.Len() > 0 {
				values.WriteString(", ")
			}
			fmt.Fprintf(&values, "(%s, %s, %s)", d.QuoteLiteral(c.key.Replication), d.QuoteLiteral(r.ch.ID), d.QuoteLiteral(r.rec.sequence))
		}
		// A newline ends a trailing line comment; the semicolon ends the statement.
		stmts.WriteString(r.ch.SQL)
		stmts.WriteString("\n;\n")
	}
	if stmts.Len() == 0 {
		return nil
	}
	script := stmts.String()
	if values.Len() > 0 {
		// The ids first: a concurrent consumer applying the same change (a copy on another
		// shard) makes this insert wait for its commit and then fail, before any record runs.
		script = `INSERT INTO ` + changesTable + ` (replication, change_id, sequence_number) VALUES ` + values.String() + ";\n" + script
	}
	if _, err := tx.Exec(ctx, script); err != nil {
		if poisonous(err) {
			return &PoisonError{Sequence: recs[0].rec.sequence, Err: err}
		}
		return fmt.Errorf("records %s to %s: %w", recs[0].rec.sequence, recs[len(recs)-1].rec.sequence, err)
	}
	if tx.Conn().PgConn().TxStatus() != 'T' {
		return fmt.Errorf("records %s to %s ended the batch's transaction; refusing to go on", recs[0].rec.sequence, recs[len(recs)-1].rec.sequence)
	}
	return nil
}

// appliedChangeIDs returns which of ids the replica has applied, in one query.
func appliedChangeIDs(ctx context.Context, tx pgx.Tx, d redshift.Dialect, replication string, ids []string) (map[string]bool, error) {
	done := make(map[string]bool, len(ids))
	if len(ids) == 0 {
		return done, nil
	}
	quoted := make([]string, len(ids))
	for i, id := range ids {
		quoted[i] = d.QuoteLiteral(id)
	}
	rows, err := tx.Query(ctx, `SELECT change_id FROM `+changesTable+` WHERE replication = `+d.QuoteLiteral(replication)+
		` AND change_id IN (`+strings.Join(quoted, ", ")+`)`, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return nil, fmt.Errorf("looking up the batch's change ids: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("looking up the batch's change ids: %w", err)
		}
		done[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("looking up the batch's change ids: %w", err)
	}
	return done, nil
}

// lexicallyComplete reports whether sql ends outside every quoted string, quoted identifier,
// dollar quote and block comment, as dialect d reads them: PostgreSQL (standard conforming
// strings) escapes with a backslash only in E'…' strings, Redshift in every string. When in
// doubt it says no, and the record is then sent alone.
func lexicallyComplete(sql string, d redshift.Dialect) bool {
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == '-' && strings.HasPrefix(sql[i:], "--"):
			nl := strings.IndexByte(sql[i:], '\n')
			if nl < 0 {
				return true // ends in a line comment: the script's newline ends it
			}
			i += nl + 1
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			// PostgreSQL nests block comments.
			depth := 1
			j := i + 2
			for j < len(sql) && depth > 0 {
				switch {
				case strings.HasPrefix(sql[j:], "/*"):
					depth++
					j += 2
				case strings.HasPrefix(sql[j:], "*/"):
					depth--
					j += 2
				default:
					j++
				}
			}
			if depth > 0 {
				return false
			}
			i = j
		case c == '\'' || c == '"':
			backslash := c == '\'' && (d == redshift.Redshift || (i > 0 && (sql[i-1] == 'E' || sql[i-1] == 'e')))
			j := i + 1
			closed := false
			for j < len(sql) {
				switch {
				case backslash && sql[j] == '\\':
					j += 2
					continue
				case sql[j] == c && j+1 < len(sql) && sql[j+1] == c:
					j += 2
					continue
				case sql[j] == c:
					closed = true
				}
				if closed {
					break
				}
				j++
			}
			if !closed {
				return false
			}
			i = j + 1
		case c == '$':
			end := strings.IndexByte(sql[i+1:], '$')
			if end < 0 || !isDollarTag(sql[i+1:i+1+end]) || (i > 0 && isIdentByte(sql[i-1])) {
				i++
				continue
			}
			tag := sql[i : i+end+2]
			closing := strings.Index(sql[i+len(tag):], tag)
			if closing < 0 {
				return false
			}
			i += len(tag) + closing + len(tag)
		default:
			i++
		}
	}
	return true
}

func isIdentByte(b byte) bool {
	return b == '_' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= 0x80
}
