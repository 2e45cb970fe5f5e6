package state

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
)

// TestLivenessTellsDeadRunnersJobs: a running job is orphaned exactly when the runner that
// attempted it last holds no liveness lock; releasing makes it available; an id held by a
// live runner cannot be taken twice; closing the lock's connection is death.
func TestLivenessTellsDeadRunnersJobs(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, acctest.NewPostgresDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	alive, err := HoldLiveness(ctx, db, "alive-1")
	if err != nil {
		t.Fatal(err)
	}
	job := func(state, owner string) int64 {
		t.Helper()
		var id int64
		if err := db.Pool.QueryRow(ctx, `INSERT INTO river_job (args, kind, max_attempts, state, attempt, attempted_at, attempted_by)
			VALUES ('{}', 'test', 5, $1, 1, now(), ARRAY['earlier', $2]) RETURNING id`, state, owner).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	live, dead, mine := job("running", "alive-1"), job("running", "dead-1"), job("running", "me")
	job("available", "dead-1")

	got, err := OrphanedJobs(ctx, db.Reader(), "me")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string][]int64{"dead-1": {dead}}; !reflect.DeepEqual(got, want) {
		t.Errorf("orphans %v, want %v", got, want)
	}
	if _, err := HoldLiveness(ctx, db, "alive-1"); !errors.Is(err, ErrRunnerIDInUse) {
		t.Errorf("a second holder of alive-1: %v, want ErrRunnerIDInUse", err)
	}
	if n, err := ReleaseJobs(ctx, db.Reader(), "dead-1", []int64{dead, live}, time.Now()); err != nil || n != 1 {
		t.Errorf("released %d (%v), want 1: only dead-1's job", n, err)
	}
	var state string
	if err := db.Pool.QueryRow(ctx, `SELECT state FROM river_job WHERE id = $1`, dead).Scan(&state); err != nil || state != "available" {
		t.Errorf("released job is %q (%v), want available", state, err)
	}

	alive.Close(ctx)
	// The server ends the backend, and so releases its locks, shortly after the client left.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if got, err = OrphanedJobs(ctx, db.Reader(), "me"); err != nil {
			t.Fatal(err)
		}
		if len(got) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if want := map[string][]int64{"alive-1": {live}}; !reflect.DeepEqual(got, want) {
		t.Errorf("after alive-1's connection closed: orphans %v, want %v (never my own job %d)", got, want, mine)
	}
	again, err := HoldLiveness(ctx, db, "alive-1")
	if err != nil {
		t.Fatalf("alive-1 is free again: %v", err)
	}
	again.Close(ctx)
}
