package subscribe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/internal/redshift"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/load"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/storage"
)

// Rows through the staging prefix: Redshift takes rows fast only through COPY from S3, one
// statement for the whole batch, so a batch of rows is written to the replication's staging
// prefix as one JSON-lines object and loaded from there with the same staging table, insert
// mode and key check as a redshift_copy activity — inside the batch's transaction, with its
// checkpoint. On PostgreSQL the runner streams the same object into COPY … FROM STDIN, so a
// replication with staging set loads every replica the same way.
//
// The object is named by the shard and the batch's first and last sequence numbers: a batch
// applied again after a crash writes the same name again, and nothing but the batch that
// commits decides what the replica holds. Objects are left in place (like Firehose's S3
// backup); an S3 lifecycle rule on the prefix expires them.

// stagedRow is a decoded rows record and its key (the key columns' values, for the key modes).
type stagedRow struct {
	rec record
	key string
}

// stagingURL is where a batch of rows from first to last (sequence numbers) is written.
func (c *consumer) stagingURL(first, last string) string {
	return storage.Join(c.rep.Staging, c.key.Replication+"/"+c.key.Replica+"/"+c.key.Shard+"/"+first+"-"+last+".json")
}

// applyRowsStaged loads rows (in sequence order) through the staging prefix. A key mode keeps
// one row per key — the last for OVERWRITE_EXISTING, the first for KEEP_EXISTING — as applying
// them one after another would, since the load refuses a key twice in its files.
func (c *consumer) applyRowsStaged(ctx context.Context, tx pgx.Tx, d redshift.Dialect, rows []stagedRow) error {
	if len(rows) == 0 {
		return nil
	}
	mode := c.rep.Records.InsertMode
	keep := make([]bool, len(rows))
	switch mode {
	case definition.InsertOverwriteExisting, definition.InsertKeepExisting:
		pick := map[string]int{}
		for i, r := range rows {
			if _, seen := pick[r.key]; !seen || mode == definition.InsertOverwriteExisting {
				pick[r.key] = i
			}
		}
		for _, i := range pick {
			keep[i] = true
		}
	default:
		for i := range keep {
			keep[i] = true
		}
	}
	var body bytes.Buffer
	for i, r := range rows {
		if !keep[i] {
			continue
		}
		// One object per line: a record's own newlines (pretty-printed JSON) are compacted away.
		if err := json.Compact(&body, r.rec.data); err != nil {
			return &PoisonError{Sequence: r.rec.sequence, Err: fmt.Errorf("record is not JSON: %w", err)}
		}
		body.WriteByte('\n')
	}
	role := c.rep.Replicas[c.key.Replica].IAMRole
	if d == redshift.Redshift && role == "" {
		return fmt.Errorf("replica %s is Redshift and loads rows with COPY from %s, which needs an IAM role: set replicas.%s.iam_role on the replication",
			c.key.Replica, c.rep.Staging, c.key.Replica)
	}
	url := c.stagingURL(rows[0].rec.sequence, rows[len(rows)-1].rec.sequence)
	if c.svc.store == nil {
		return fmt.Errorf("staging %s: this runner has no storage configured", url)
	}
	if err := c.svc.store.Put(ctx, url, bytes.NewReader(body.Bytes())); err != nil {
		return fmt.Errorf("writing the batch's rows to the staging prefix (%s): %w", url, err)
	}
	_, err := load.FilesTx(ctx, tx, d, c.svc.store, load.Files{
		Conn: c.conn, Table: c.rep.Records.Table, Files: []string{url}, Format: definition.FormatJSON,
		InsertMode: mode, KeyColumns: c.rep.Records.KeyColumns, IAMRole: role,
	})
	if err != nil {
		if poisonous(err) {
			return &PoisonError{Sequence: rows[0].rec.sequence, Err: err}
		}
		return fmt.Errorf("loading %s: %w", url, err)
	}
	return nil
}
