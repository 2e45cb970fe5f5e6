package state

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/status"
)

func eventRun(start time.Time, keys ...string) EventRun {
	return EventRun{
		Run: NewRun{Pipeline: "raw", IntervalStart: start, IntervalEnd: start.Add(time.Hour), Version: "v1",
			Trigger: TriggerSQS, MaxActive: 1, Activities: map[string]string{"load": "shell"}},
		Keys: keys, Source: TriggerSQS, Messages: len(keys), Objects: len(keys),
		Event: []byte(`{"source":"sqs"}`), Params: []byte(`{"date":"2026-01-01"}`),
	}
}

func TestInsertEventRun_KeysAreRecordedWithTheRunAndRefuseASecondRecord(t *testing.T) {
	bothDatabases(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		keys := make([]string, 1203) // crosses the statement chunks
		for i := range keys {
			keys[i] = fmt.Sprintf("s3:acme/raw/%04d.csv:seq%d", i, i)
		}
		var first, second int64
		if err := db.InTx(ctx, func(q Q) error {
			var err error
			first, err = InsertEventRun(ctx, q, db.Dialect, eventRun(testEpoch, keys...), testEpoch)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		// The same interval again (more files for the same hour): the next seq.
		if err := db.InTx(ctx, func(q Q) error {
			var err error
			second, err = InsertEventRun(ctx, q, db.Dialect, eventRun(testEpoch, "other"), testEpoch)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		r, err := GetRun(ctx, db.Reader(), second)
		if err != nil || r.Seq != 1 || r.Trigger != TriggerSQS || r.State != status.RunScheduled {
			t.Fatalf("second run %+v, %v", r, err)
		}
		var known map[string]bool
		if err := db.InTx(ctx, func(q Q) error {
			var err error
			known, err = KnownKeys(ctx, q, db.Dialect, "raw", append([]string{"never"}, keys...))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if len(known) != len(keys) || known["never"] {
			t.Errorf("known %d keys (never: %v), want %d", len(known), known["never"], len(keys))
		}
		// A key recorded twice fails the transaction, and nothing of it stays.
		err = db.InTx(ctx, func(q Q) error {
			_, err := InsertEventRun(ctx, q, db.Dialect, eventRun(testEpoch.Add(time.Hour), "fresh", keys[7]), testEpoch)
			return err
		})
		if err == nil {
			t.Fatal("a recorded key was recorded again")
		}
		if n := count(t, db, `SELECT COUNT(*) FROM sluice_runs WHERE pipeline = 'raw'`); n != 2 {
			t.Errorf("%d runs after the refused insert, want 2", n)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM sluice_trigger_keys WHERE dedupe_key = 'fresh'`); n != 0 {
			t.Errorf("the refused run's key stayed")
		}
		ev, ok, err := EventOf(ctx, db.Reader(), first)
		if err != nil || !ok || ev.Messages != len(keys) || string(ev.Params) != `{"date":"2026-01-01"}` {
			t.Errorf("event of run %d: %+v %v %v", first, ev, ok, err)
		}
		if _, ok, _ := EventOf(ctx, db.Reader(), 999999); ok {
			t.Error("a run without an event has one")
		}
	})
}

func TestCovered_SucceededRunsMustCoverTheWholeInterval(t *testing.T) {
	bothDatabases(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		runs := hourlyRuns("up", 0, 4, 1) // hours 0..3
		ids := map[int64]int64{}
		if err := db.InTx(ctx, func(q Q) error {
			var err error
			ids, err = InsertRuns(ctx, q, db.Dialect, runs, testEpoch)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		for i, r := range runs {
			if i == 2 {
				continue // hour 2 has not succeeded
			}
			if err := db.InTx(ctx, func(q Q) error {
				return FinishRun(ctx, q, ids[Micros(r.IntervalStart)], status.RunSuccess, testEpoch)
			}); err != nil {
				t.Fatal(err)
			}
		}
		h := func(n int) time.Time { return testEpoch.Add(time.Duration(n) * time.Hour) }
		for _, tc := range []struct {
			from, to int
			want     bool
		}{{0, 2, true}, {0, 1, true}, {1, 3, false}, {3, 4, true}, {3, 5, false}, {0, 4, false}} {
			ok, missing, err := Covered(ctx, db.Reader(), "up", h(tc.from), h(tc.to))
			if err != nil || ok != tc.want {
				t.Errorf("[%d, %d): covered %v (missing %s), %v; want %v", tc.from, tc.to, ok, missing, err, tc.want)
			}
		}
		if ok, _, _ := Covered(ctx, db.Reader(), "nobody", h(0), h(1)); ok {
			t.Error("a pipeline without runs covers an interval")
		}
	})
}
