package engine

import (
	"testing"
	"time"

	"github.com/riverqueue/river"
)

// TestActivityTimeoutIsAlwaysPositive: River's rescuer never rescues a running job whose
// worker timeout is negative, and waits for a positive one to pass; so an activity without a
// timeout is limited to RescueAfter, and one with a timeout gets it plus the margin to record
// its outcome.
func TestActivityTimeoutIsAlwaysPositive(t *testing.T) {
	w := &activityWorker[struct{}]{rescueAfter: 2 * time.Hour}
	if got := w.Timeout(&river.Job[ActivityArgs]{Args: ActivityArgs{}}); got != 2*time.Hour {
		t.Errorf("no activity timeout: River timeout %s, want the rescue delay 2h", got)
	}
	if got := w.Timeout(&river.Job[ActivityArgs]{Args: ActivityArgs{Timeout: 10 * time.Minute}}); got != 10*time.Minute+recordMargin {
		t.Errorf("10m activity timeout: River timeout %s, want 10m15s", got)
	}
}
