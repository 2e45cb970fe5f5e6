package definition

import (
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // embedded IANA zones: the provider and every runner agree whatever the host has
)

// Schedule semantics
//
// A schedule cuts time into contiguous data intervals [start, end). An interval's run starts
// when the interval ends: the run for [2026-03-01, 2026-03-02) starts at 2026-03-02T00:00.
//
//   - every: intervals are Start, Start+every, Start+2·every, … — aligned to Start, not to the
//     clock ("1d" from 03:00 gives 03:00→03:00). Whole days ("1d", "7d") are calendar days in
//     Timezone, so a day across a DST change is 23 or 25 hours long and intervals keep starting
//     at the same wall-clock time. Hours and smaller ("15m", "1h30m", "24h") are fixed lengths.
//     Days cannot be mixed with smaller units in every ("1d12h" is refused: say "36h").
//   - every in days ("1d", "7d"): interval k starts at the local wall clock of Start plus k
//     calendar days. A time that occurs twice that day (fall-back) is its first occurrence; a
//     time that does not exist (spring-forward) moves forward by the length of the gap (Berlin
//     02:30 -> 03:30 CEST, Santiago 00:00 -> 01:00 -03), in every hemisphere.
//   - cron: a 5-field expression (or @hourly, @daily, @weekly, @monthly, @yearly) evaluated on
//     local calendar days and local wall clocks in Timezone; every firing time ("tick") starts
//     an interval that ends at the next tick. The first interval starts at the first tick at or
//     after Start: time between Start and that tick is not covered. The rules for matching
//     days, for times that do not exist or occur twice, and for specs that never fire are in
//     cron.go. Intervals are contiguous (each end is the next start), never overlap, and cover
//     every instant from the first tick on.
//   - End: the schedule covers data before End: the last interval is the last one that ends at
//     or before End.
//   - Catchup: with catchup, every interval that has ended (end <= now) since Start is due; without
//     it only the latest one is (the past before it is never run unless asked for with a
//     backfill). MaxActiveRuns limits how many of them run at once; it does not change which
//     are due.
//
// Nothing here reads the clock: callers pass "now".

// Interval is a data interval [Start, End), in the schedule's time zone.
type Interval struct {
	Start time.Time
	End   time.Time
}

// String shows the interval as "[start, end)" in RFC 3339.
func (iv Interval) String() string {
	return "[" + iv.Start.Format(time.RFC3339) + ", " + iv.End.Format(time.RFC3339) + ")"
}

// CompiledSchedule is a validated Schedule ready for interval arithmetic. It is immutable and
// safe for concurrent use.
type CompiledSchedule struct {
	loc       *time.Location
	start     time.Time // in loc
	end       time.Time // in loc; zero when the schedule never ends
	catchup   bool
	maxActive int

	spec *cronSpec     // cron schedules
	days int           // every: whole calendar days
	step time.Duration // every: fixed length
}

// MinEvery is the shortest period "every" accepts.
const MinEvery = time.Minute

// maxDays bounds the day count of a duration so that it cannot overflow.
const maxDays = 36500

// Compile validates the schedule and prepares it for interval arithmetic. The error, when not
// nil, is a Problems listing every problem with a path such as "schedule.cron".
func (s Schedule) Compile() (*CompiledSchedule, error) {
	c, probs := compileSchedule(s, "schedule")
	if len(probs) > 0 {
		return nil, probs
	}
	return c, nil
}

func compileSchedule(s Schedule, path string) (*CompiledSchedule, Problems) {
	var probs Problems
	add := func(field, format string, args ...any) {
		probs = append(probs, Problem{Path: path + "." + field, Message: fmt.Sprintf(format, args...)})
	}
	c := &CompiledSchedule{catchup: s.Catchup, maxActive: s.MaxActiveRuns}

	loc, err := LoadTimezone(s.Timezone)
	if err != nil {
		add("timezone", "%v", err)
		loc = time.UTC
	}
	c.loc = loc

	if s.MaxActiveRuns < 1 {
		add("max_active_runs", "must be at least 1, got %d", s.MaxActiveRuns)
	}

	startOK := false
	if s.Start == "" {
		add("start", `is required: an RFC 3339 time such as "2026-03-01T00:00:00Z"`)
	} else if t, err := time.Parse(time.RFC3339, s.Start); err != nil {
		add("start", `%q is not an RFC 3339 time such as "2026-03-01T00:00:00Z" or "2026-03-01T03:00:00+01:00"`, s.Start)
	} else {
		c.start, startOK = t.In(loc), true
	}
	if s.End != "" {
		if t, err := time.Parse(time.RFC3339, s.End); err != nil {
			add("end", `%q is not an RFC 3339 time such as "2026-12-31T00:00:00Z"`, s.End)
		} else {
			c.end = t.In(loc)
			if startOK && !c.end.After(c.start) {
				add("end", "%s is not after start %s", s.End, s.Start)
			}
		}
	}

	switch {
	case s.Cron != "" && s.Every != "":
		add("cron", "set exactly one of cron and every, not both")
	case s.Cron == "" && s.Every == "":
		add("cron", `set exactly one of cron (e.g. "0 3 * * *") and every (e.g. "1d")`)
	case s.Cron != "":
		spec, err := parseCron(s.Cron)
		if err != nil {
			add("cron", "%v", err)
			break
		}
		c.spec = spec
	default:
		p, err := parsePeriod(s.Every)
		switch {
		case err != nil:
			add("every", "%v", err)
		case p.days > 0 && p.dur > 0:
			add("every", "%q mixes days with smaller units, which is ambiguous across DST: use whole days (\"2d\") or hours (\"36h\")", s.Every)
		case p.total() < MinEvery:
			add("every", "%q is shorter than the minimum of %s", s.Every, MinEvery)
		default:
			c.days, c.step = p.days, p.dur
		}
	}
	return c, probs
}

// LoadTimezone loads an IANA time zone; the empty name is UTC. "Local" is refused: a schedule
// must mean the same on every machine.
func LoadTimezone(name string) (*time.Location, error) {
	switch name {
	case "", "UTC":
		return time.UTC, nil
	case "Local":
		return nil, errors.New(`"Local" depends on the machine: use an IANA name such as "Europe/Berlin"`)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%q is not an IANA time zone name such as \"Europe/Berlin\" or \"UTC\"", name)
	}
	return loc, nil
}

// period is a parsed duration: whole days (calendar days when used by every) plus a fixed part.
type period struct {
	days int
	dur  time.Duration
}

func (p period) total() time.Duration { return time.Duration(p.days)*24*time.Hour + p.dur }

// ParseDuration parses a duration as sluice documents use it: Go's syntax ("90s", "15m",
// "1h30m", see time.ParseDuration) with an optional leading whole number of days, where a day
// is 24 hours: "1d", "7d", "1d12h". Negative durations are refused. The same parser reads
// schedule.every (where days are calendar days), retry_delay, timeout, poke_interval, max_age
// and on_late.after.
func ParseDuration(s string) (time.Duration, error) {
	p, err := parsePeriod(s)
	if err != nil {
		return 0, err
	}
	return p.total(), nil
}

func parsePeriod(s string) (period, error) {
	bad := func(why string) (period, error) {
		return period{}, fmt.Errorf("%q is not a duration: %s; use a number and a unit (s, m, h or d), e.g. \"90s\", \"15m\", \"1h30m\", \"7d\"", s, why)
	}
	if s == "" {
		return bad("empty")
	}
	if s[0] == '-' || s[0] == '+' {
		return bad("no sign allowed")
	}
	var p period
	rest := s
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i > 0 && i < len(s) && s[i] == 'd' {
		days, err := strconv.Atoi(s[:i])
		if err != nil || days > maxDays {
			return bad(fmt.Sprintf("at most %d days", maxDays))
		}
		p.days = days
		rest = s[i+1:]
	}
	if strings.Contains(rest, "d") {
		return bad("days (d) must come first, as a whole number")
	}
	if rest != "" {
		d, err := time.ParseDuration(rest)
		if err != nil {
			return bad("unknown unit or syntax")
		}
		if d < 0 {
			return bad("no sign allowed")
		}
		p.dur = d
	}
	if p.total() < 0 { // overflow
		return bad("too long")
	}
	return p, nil
}

// Location is the time zone the schedule is evaluated in; intervals are in it.
func (c *CompiledSchedule) Location() *time.Location { return c.loc }

// Start is the schedule's start.
func (c *CompiledSchedule) Start() time.Time { return c.start }

// End is the schedule's end; ok is false when it never ends.
func (c *CompiledSchedule) End() (end time.Time, ok bool) { return c.end, !c.end.IsZero() }

// Catchup reports whether past intervals are run.
func (c *CompiledSchedule) Catchup() bool { return c.catchup }

// MaxActiveRuns caps concurrent runs.
func (c *CompiledSchedule) MaxActiveRuns() int { return c.maxActive }

// Next returns the first interval that starts at or after from (and at or after the schedule's
// start). ok is false when there is none: the schedule has ended. To walk many intervals use
// Intervals, which does not search again for each one.
func (c *CompiledSchedule) Next(from time.Time) (iv Interval, ok bool) {
	for iv := range c.Intervals(from) {
		return iv, true
	}
	return Interval{}, false
}

// Intervals yields, in order, the intervals that start at or after from (and at or after the
// schedule's start) and end within the schedule.
func (c *CompiledSchedule) Intervals(from time.Time) iter.Seq[Interval] {
	return func(yield func(Interval) bool) {
		var prev time.Time
		have := false
		for tick := range c.ticks(from) {
			if have {
				iv := Interval{Start: prev, End: tick}
				if !c.end.IsZero() && iv.End.After(c.end) {
					return
				}
				if !yield(iv) {
					return
				}
			}
			prev, have = tick, true
		}
	}
}

// ticks yields the ticks at or after max(from, start), ascending, without end.
func (c *CompiledSchedule) ticks(from time.Time) iter.Seq[time.Time] {
	if from.Before(c.start) {
		from = c.start
	}
	if c.spec != nil {
		return func(yield func(time.Time) bool) {
			for u := range c.spec.ticksFrom(c.loc, ceilSeconds(from)) {
				if !yield(time.Unix(u, 0).In(c.loc)) {
					return
				}
			}
		}
	}
	return func(yield func(time.Time) bool) {
		for k := c.everyCeilIndex(from); ; k++ {
			if !yield(c.everyTick(k)) {
				return
			}
		}
	}
}

// ceilSeconds is t in Unix seconds, rounded up.
func ceilSeconds(t time.Time) int64 {
	if t.Nanosecond() > 0 {
		return t.Unix() + 1
	}
	return t.Unix()
}

// NextRuns returns the starts of the next n intervals whose run has not started at now, that is
// the intervals with end > now, in order. The first may have started already: at 10:00 on a
// daily schedule it is today's interval, whose run starts at midnight. Fewer than n come back
// when the schedule ends.
func (c *CompiledSchedule) NextRuns(now time.Time, n int) []time.Time {
	var out []time.Time
	if n <= 0 {
		return out
	}
	s, ok := c.lastTickAtOrBefore(now)
	if !ok {
		s = c.start // now is before the first tick: start from the beginning
	}
	for iv := range c.Intervals(s) {
		if iv.End.After(now) {
			out = append(out, iv.Start)
			if len(out) == n {
				break
			}
		}
	}
	return out
}

// Between returns the intervals whose start is in [from, to), within the schedule.
func (c *CompiledSchedule) Between(from, to time.Time) []Interval {
	var out []Interval
	for iv := range c.Intervals(from) {
		if !iv.Start.Before(to) {
			break
		}
		out = append(out, iv)
	}
	return out
}

// DueAt returns the intervals a freshly published schedule would run at now, oldest first.
// With catchup, that is every interval that has ended (end <= now, and end <= the schedule's
// end) since the start; without catchup, only the latest of them (none before the first
// interval ends). It does not know which intervals already ran: the runner subtracts those.
func (c *CompiledSchedule) DueAt(now time.Time) []Interval {
	limit := c.dueLimit(now)
	if c.catchup {
		var out []Interval
		for iv := range c.Intervals(c.start) {
			if iv.End.After(limit) {
				break
			}
			out = append(out, iv)
		}
		return out
	}
	iv, ok := c.latestDue(limit)
	if !ok {
		return nil
	}
	return []Interval{iv}
}

// CatchupCount is len(DueAt(now)), computed without building the list when it can be: the
// number of runs publishing the pipeline at now would start (before MaxActiveRuns spreads them).
func (c *CompiledSchedule) CatchupCount(now time.Time) int {
	limit := c.dueLimit(now)
	if !c.catchup {
		if _, ok := c.latestDue(limit); ok {
			return 1
		}
		return 0
	}
	if c.spec == nil {
		// every: interval k ends at tick k+1, so the intervals ending at or before limit are
		// those ending at ticks 1..j, where j is the last tick at or before limit.
		j := c.everyFloorIndex(limit)
		if j < 1 {
			return 0
		}
		return j
	}
	n := 0
	for iv := range c.Intervals(c.start) {
		if iv.End.After(limit) {
			break
		}
		n++
	}
	return n
}

// dueLimit is the latest end a due interval may have.
func (c *CompiledSchedule) dueLimit(now time.Time) time.Time {
	if !c.end.IsZero() && c.end.Before(now) {
		return c.end
	}
	return now
}

// latestDue is the last interval that ends at or before limit.
func (c *CompiledSchedule) latestDue(limit time.Time) (Interval, bool) {
	e, ok := c.lastTickAtOrBefore(limit)
	if !ok {
		return Interval{}, false
	}
	s, ok := c.lastTickAtOrBefore(e.Add(-time.Nanosecond))
	if !ok {
		return Interval{}, false // e is the first tick: no interval has ended
	}
	iv, ok := c.Next(s)
	if !ok || !iv.Start.Equal(s) {
		return Interval{}, false
	}
	return iv, true
}

// lastTickAtOrBefore is the last tick at or before t (at or after start).
func (c *CompiledSchedule) lastTickAtOrBefore(t time.Time) (time.Time, bool) {
	if t.Before(c.start) {
		return time.Time{}, false
	}
	if c.spec == nil {
		return c.everyTick(c.everyFloorIndex(t)), true
	}
	u, ok := c.spec.lastTickAtOrBefore(c.loc, t.Unix(), ceilSeconds(c.start))
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(u, 0).In(c.loc), true
}

// everyTick is the start of interval k of an every schedule.
func (c *CompiledSchedule) everyTick(k int) time.Time {
	if c.days > 0 {
		w := civilOf(wallSeconds(c.start, c.loc)).addDays(k * c.days)
		h, mi, sec := c.start.Clock()
		u := newWallResolver(c.loc).firstOrShift(w.wall(h, mi) + int64(sec))
		return time.Unix(u, int64(c.start.Nanosecond())).In(c.loc)
	}
	return c.start.Add(time.Duration(k) * c.step)
}

// everyFloorIndex is the largest k >= 0 with everyTick(k) <= t, or -1.
func (c *CompiledSchedule) everyFloorIndex(t time.Time) int {
	if t.Before(c.start) {
		return -1
	}
	length := c.step
	if c.days > 0 {
		length = time.Duration(c.days) * 24 * time.Hour
	}
	k := int(t.Sub(c.start) / length) // exact for fixed steps; within one of the answer for days
	for k > 0 && c.everyTick(k).After(t) {
		k--
	}
	for !c.everyTick(k + 1).After(t) {
		k++
	}
	return k
}

// everyCeilIndex is the smallest k >= 0 with everyTick(k) >= t.
func (c *CompiledSchedule) everyCeilIndex(t time.Time) int {
	k := c.everyFloorIndex(t)
	if k < 0 {
		return 0
	}
	if c.everyTick(k).Before(t) {
		k++
	}
	return k
}

// Describe says the schedule in a line, as status and the web UI show it: "every 1d from
// 2026-11-18T00:00:00Z (Europe/Berlin), catchup", "cron 0 6 * * * from …".
func (s Schedule) Describe() string {
	out := "every " + s.Every
	if s.Cron != "" {
		out = "cron " + s.Cron
	}
	out += " from " + s.Start
	if s.End != "" {
		out += " until " + s.End
	}
	if s.Timezone != "" {
		out += " (" + s.Timezone + ")"
	}
	if s.Catchup {
		out += ", catchup"
	}
	return out
}
