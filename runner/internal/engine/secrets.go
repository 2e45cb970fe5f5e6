package engine

import "github.com/sluice-data/terraform-provider-sluice/runner/internal/redact"

// scrub removes the runner's secrets (Options.Secrets) from text the engine stores, logs or
// hands to River: attempt errors and logs, activity errors and the errors River keeps in its
// job rows.
func (e *Engine) scrub(text string) string {
	if e.opts.Secrets == nil {
		return text
	}
	return e.opts.Secrets.Scrub(text)
}

// scrubErr is scrub for an error; the result still unwraps to err (River's JobCancel and
// JobSnooze, activity.IsPermanent keep working).
func (e *Engine) scrubErr(err error) error {
	if e.opts.Secrets == nil || err == nil {
		return err
	}
	return e.opts.Secrets.Error(err)
}

var _ redact.Scrubber = (*redact.Secrets)(nil)
