package cli

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/trigger"
)

// newTriggers returns the consumers of the pipelines' triggers (package trigger): SQS queues
// and trigger.after.
func (rt *runtime) newTriggers(log *slog.Logger) *trigger.Manager {
	return trigger.New(trigger.Options{
		DB: rt.db,
		Queue: func(url string) trigger.Queue {
			if rt.awsErr != nil {
				return unavailableQueue{fmt.Errorf("queue %s: AWS is not configured: %w", url, rt.awsErr)}
			}
			return &trigger.SQS{API: rt.aws.SQS(), URL: url}
		},
		Kinds: rt.eng.ActivityKinds, Started: rt.eng.PromoteNow,
		// The engine records the registry's pipelines every tick: read them as often.
		Refresh: min(time.Duration(rt.cfg.Tick), 5*time.Second),
		Logger:  log,
	})
}

// unavailableQueue is a queue this runner cannot reach: every call says why.
type unavailableQueue struct{ err error }

func (q unavailableQueue) Receive(context.Context, int, time.Duration, time.Duration) ([]trigger.Message, error) {
	return nil, q.err
}
func (q unavailableQueue) Delete(context.Context, []trigger.Message) error { return q.err }
func (q unavailableQueue) Extend(context.Context, []trigger.Message, time.Duration) error {
	return q.err
}
