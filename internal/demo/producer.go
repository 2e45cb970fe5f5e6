package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// producer puts changes into the replication with `sluice-runner put`, as people and programs
// outside the pipelines do: four tables, each under its own partition key (the keys are chosen
// so that the four land on four different shards once the stream has four, and two and two
// while it has two). Each table gets, in order on its key: CREATE TABLE; then every round an
// INSERT of a new batch, an UPDATE of the previous batch (amount*2+1), every fifth round a
// second UPDATE of it (amount+7: the two do not commute, so order shows in the sums), every
// tenth round a DELETE of some rows of an older batch, once an ALTER TABLE ADD COLUMN after
// which the inserts fill the new column; at the end a CREATE TABLE … AS summary. It keeps
// what each table must hold, so the replicas can be checked against what was produced, not
// only against each other.
type producer struct {
	bin   string
	env   []string
	dir   string
	size  ReplicasSize
	alter atomic.Bool

	tables []*prodTable
}

// prodTable is one table and its partition key, and what it holds once every change is applied.
type prodTable struct {
	name, key string
	rows      map[int64]*prodRow
	altered   bool
	mu        sync.Mutex
	records   int64 // changes put
	inserted  int64 // rows inserted
	// marks are the rounds put: the highest id each inserted and when its put returned.
	marks []roundMark
}

type roundMark struct {
	maxID int64
	at    time.Time
}

type prodRow struct {
	amount int64
}

// partition keys: MD5 0x12…, 0x4b…, 0x86…, 0xc9… — one per quarter of the hash key range.
var producerTables = [][2]string{{"orders", "orders"}, {"customers", "customers"}, {"products", "products"}, {"clicks", "clicks"}}

func newProducer(bin string, env []string, dir string, size ReplicasSize) *producer {
	p := &producer{bin: bin, env: env, dir: dir, size: size}
	for _, t := range producerTables {
		p.tables = append(p.tables, &prodTable{name: t[0], key: t[1], rows: map[int64]*prodRow{}})
	}
	return p
}

// alterSoon makes every table ALTER at its next round.
func (p *producer) alterSoon() { p.alter.Store(true) }

// run puts rounds into every table until ctx is done, then each table's summary.
func (p *producer) run(ctx context.Context) error {
	errs := make(chan error, len(p.tables))
	for _, t := range p.tables {
		go func() { errs <- p.runTable(ctx, t) }()
	}
	var all []error
	for range p.tables {
		if err := <-errs; err != nil {
			all = append(all, err)
		}
	}
	return errors.Join(all...)
}

func (p *producer) runTable(ctx context.Context, t *prodTable) error {
	// The puts themselves are not cut short when the producer is told to stop: a round is put
	// whole, and the summary after it.
	putCtx := context.WithoutCancel(ctx)
	tick := time.NewTicker(p.size.PutEvery)
	defer tick.Stop()
	for round := 0; ; round++ {
		changes := t.round(round, p.size.RowsPerChange, p.alter.Load())
		if err := p.put(putCtx, t, round, int64((round+1)*p.size.RowsPerChange), changes); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			summary := fmt.Sprintf("CREATE TABLE analytics.%s_by_status AS SELECT status, COUNT(*) AS n, SUM(amount) AS amount FROM analytics.%s GROUP BY status", t.name, t.name)
			return p.put(putCtx, t, round+1, 0, []string{summary})
		case <-tick.C:
		}
	}
}

// round returns the changes of one round of t and applies them to what t must hold.
func (t *prodTable) round(r, batch int, alter bool) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	name := "analytics." + t.name
	var changes []string
	if r == 0 {
		changes = append(changes, "CREATE TABLE "+name+" (id BIGINT PRIMARY KEY, created_at TIMESTAMP NOT NULL, amount BIGINT NOT NULL, status VARCHAR(16) NOT NULL)")
	}
	if alter && !t.altered {
		changes = append(changes, "ALTER TABLE "+name+" ADD COLUMN region VARCHAR(16) NOT NULL DEFAULT 'unknown'")
		t.altered = true
	}
	lo, hi := func(b int) int64 { return int64(b*batch) + 1 }, func(b int) int64 { return int64((b + 1) * batch) }
	var ins strings.Builder
	cols := "id, created_at, amount, status"
	if t.altered {
		cols += ", region"
	}
	fmt.Fprintf(&ins, "INSERT INTO %s (%s) VALUES ", name, cols)
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for id := lo(r); id <= hi(r); id++ {
		if id > lo(r) {
			ins.WriteString(", ")
		}
		amount := id % 1000
		fmt.Fprintf(&ins, "(%d, '%s', %d, 'new'", id, base.Add(time.Duration(id)*time.Second).Format("2006-01-02 15:04:05"), amount)
		if t.altered {
			ins.WriteString(", '" + t.key + "'")
		}
		ins.WriteString(")")
		t.rows[id] = &prodRow{amount: amount}
		t.inserted++
	}
	changes = append(changes, ins.String())
	between := func(b int) string { return fmt.Sprintf("id BETWEEN %d AND %d", lo(b), hi(b)) }
	each := func(b int, f func(id int64, row *prodRow)) {
		for id := lo(b); id <= hi(b); id++ {
			if row, ok := t.rows[id]; ok {
				f(id, row)
			}
		}
	}
	if r >= 1 {
		changes = append(changes, "UPDATE "+name+" SET amount = amount * 2 + 1, status = 'updated' WHERE "+between(r-1))
		each(r-1, func(_ int64, row *prodRow) { row.amount = row.amount*2 + 1 })
	}
	if r%5 == 4 {
		changes = append(changes, "UPDATE "+name+" SET amount = amount + 7 WHERE "+between(r-1))
		each(r-1, func(_ int64, row *prodRow) { row.amount += 7 })
	}
	if r%10 == 9 {
		changes = append(changes, "DELETE FROM "+name+" WHERE "+between(r-2)+" AND id % 10 = 0")
		each(r-2, func(id int64, _ *prodRow) {
			if id%10 == 0 {
				delete(t.rows, id)
			}
		})
	}
	return changes
}

// put puts one round's changes with `sluice-runner put` under t's partition key; maxID is the
// highest id the round inserts (0: none).
func (p *producer) put(ctx context.Context, t *prodTable, round int, maxID int64, changes []string) error {
	dir := filepath.Join(p.dir, t.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	args := []string{"put", "warehouse", "--partition-key", t.key, "--output", "json"}
	for i, c := range changes {
		f := filepath.Join(dir, fmt.Sprintf("%05d-%d.sql", round, i))
		if err := os.WriteFile(f, []byte(c), 0o600); err != nil {
			return fmt.Errorf("writing %s: %w", f, err)
		}
		args = append(args, "--file", f)
	}
	cmd := exec.CommandContext(ctx, p.bin, args...)
	cmd.Env = append(os.Environ(), p.env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var res struct {
		Changes []struct {
			SequenceNumber string `json:"sequence_number"`
		} `json:"changes"`
	}
	if jerr := json.Unmarshal(out, &res); jerr != nil && err == nil {
		err = fmt.Errorf("reading its output: %w", jerr)
	}
	put := 0
	for _, c := range res.Changes {
		if c.SequenceNumber != "" {
			put++
		}
	}
	t.mu.Lock()
	t.records += int64(put)
	if err == nil && maxID > 0 {
		t.marks = append(t.marks, roundMark{maxID: maxID, at: time.Now()})
	}
	t.mu.Unlock()
	if err != nil {
		return fmt.Errorf("sluice-runner put warehouse --partition-key %s (round %d, %d of %d changes put): %w\n%s", t.key, round, put, len(changes), err, stderr.String())
	}
	return nil
}

// records is how many changes were put into the stream.
func (p *producer) records() int64 {
	var n int64
	for _, t := range p.tables {
		t.mu.Lock()
		n += t.records
		t.mu.Unlock()
	}
	return n
}

// rows is how many rows were inserted.
func (p *producer) rows() int64 {
	var n int64
	for _, t := range p.tables {
		t.mu.Lock()
		n += t.inserted
		t.mu.Unlock()
	}
	return n
}

// amounts is the sum of amount over the rows t must hold.
func (t *prodTable) amounts() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var s int64
	for _, r := range t.rows {
		s += r.amount
	}
	return s
}

// keyList names the tables and their keys, for the narration.
func (p *producer) keyList() string {
	var parts []string
	for _, t := range p.tables {
		parts = append(parts, "analytics."+t.name+" (key "+strconv.Quote(t.key)+")")
	}
	return strings.Join(parts, ", ")
}

// behind is how long ago the oldest round of t that a replica holding ids up to applied lacks
// was put: 0 when it has every round put so far.
func (t *prodTable) behind(applied int64, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, m := range t.marks {
		if m.maxID > applied {
			return now.Sub(m.at)
		}
	}
	return 0
}

// altered is how many tables were altered.
func (p *producer) altered() int {
	n := 0
	for _, t := range p.tables {
		t.mu.Lock()
		if t.altered {
			n++
		}
		t.mu.Unlock()
	}
	return n
}
