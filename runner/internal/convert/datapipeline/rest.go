package datapipeline

import (
	"slices"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/convert"
)

// defaults sets the pipeline's retry delay from the activities' retryDelay (the most common;
// sluice has one per pipeline).
func (c *converter) defaults(acts []*object) {
	best, n := "", 0
	for _, d := range convert.SortedKeys(c.retryDelays) {
		if c.retryDelays[d] > n {
			best, n = d, c.retryDelays[d]
		}
	}
	if best != "" {
		c.p.Defaults.RetryDelay = best
		if len(c.retryDelays) > 1 {
			c.res.Decide("The activities had different retryDelay values; sluice has one per pipeline: defaults.retry_delay is %s (the most common), "+
				"and retries back off exponentially from it.", best)
		}
	}
	if c.p.Schedule.MaxActiveRuns == 0 {
		c.p.Schedule.MaxActiveRuns = 1
	}
	if c.p.Notify != nil && c.p.Notify.OnLate != nil && c.p.Notify.OnLate.After == "" {
		c.p.Notify.OnLate = nil
	}
	_ = acts
}

// rest reports the objects no activity used, and the fields of the ones that were used that the
// conversion did not read.
func (c *converter) rest(o *object) {
	_, seen := c.entries[o]
	e := c.entry(o)
	switch {
	case slices.Contains(activityTypes, o.typ):
		return // reported by activity
	case o.typ == "Default":
		for _, f := range o.unused() {
			c.unusedField(o, f)
		}
		if len(e.Became) == 0 {
			e.Become("pipeline settings")
		}
		return
	case o.typ == "Ec2Resource":
		e.Become("the runner's host")
		e.Note("activities on an Ec2Resource run on the runner's host: give it the tools and network access the instance had (%s)", or(o.str("instanceType"), "instance"))
		for _, f := range o.unused() {
			o.used[f] = true
		}
		return
	case o.typ == "" && !seen:
		e.Become("fields its children inherit (parent)")
		for _, f := range o.unused() {
			c.unusedField(o, f)
		}
		return
	case !seen:
		switch {
		case slices.Contains(dataNodeTypes, o.typ), slices.Contains(preconditionTypes, o.typ), slices.Contains(formatTypes, o.typ),
			o.typ == "SnsAlarm", o.typ == "Schedule", o.typ == "EmrConfiguration", o.typ == "Property":
			e.Note("no converted activity uses it: it had no effect in the source either, unless the activity that used it is left out")
			return
		}
		e.Leave("type %q has no sluice equivalent", o.typ)
		return
	}
	if e.Status == convert.LeftOut {
		return
	}
	if users := c.nodeUsers[o]; len(users) > 0 {
		converted := false
		for _, u := range users {
			converted = converted || c.entry(u).Status != convert.LeftOut
		}
		if !converted {
			e.Note("only left-out activities use it: its fields are not reported one by one")
			return
		}
	}
	for _, f := range o.unused() {
		c.unusedField(o, f)
	}
}
