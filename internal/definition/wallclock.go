package definition

import "time"

// Wall clocks and instants
//
// A schedule is written in local wall-clock times ("03:00 in Europe/Berlin"), but a wall-clock
// time is not always one instant: on a spring-forward day some local times do not exist, on a
// fall-back day some occur twice. time.Date picks one answer for both cases and its own
// documentation says the choice "is not guaranteed", so the schedule math resolves wall-clock
// times itself, from the zone's periods (Time.ZoneBounds), and every rule about gaps and
// repeats is stated here, once.
//
// A wall-clock time is carried as "wall seconds": the Unix seconds the same date and clock
// reading would have in UTC. An instant u has wall seconds u + offset(u).

// maxOffsetSpread bounds the difference between any two UTC offsets a zone has used (+14h and
// -12h today, and no LMT pair is wider). Every instant whose wall clock reads w lies within it
// of w, so only the zone periods that meet [w-maxOffsetSpread, w+maxOffsetSpread] matter.
const maxOffsetSpread = 30 * 60 * 60

// wallResolution is what a wall-clock time is in a zone.
type wallResolution struct {
	// instants holds the instants (Unix seconds) whose wall clock reads the time, ascending:
	// one normally, two in a fall-back overlap, none in a spring-forward gap.
	instants [2]int64
	n        int
	// In a gap: jump is the transition instant (the first instant after the gap) and
	// offsetBefore the offset in force before it.
	jump         int64
	offsetBefore int64
}

// wallResolver resolves wall-clock times in one zone. It remembers the zone period of its last
// answer, so resolving times in order costs one comparison each away from transitions. It is
// not safe for concurrent use; make one per iteration.
type wallResolver struct {
	loc *time.Location
	// the cached period [start, end) in Unix seconds with its offset; valid when set
	set        bool
	start, end int64
	offset     int64
}

func newWallResolver(loc *time.Location) *wallResolver { return &wallResolver{loc: loc} }

// period returns the zone period containing instant u: [start, end) and the offset. An
// unbounded side is reported as the extreme int64 value.
func (r *wallResolver) period(u int64) (start, end, offset int64) {
	return zonePeriodAt(r.loc, u)
}

// zonePeriodAt is the zone period holding instant u: [start, end) in Unix seconds and its
// offset, with end > u always.
//
// Past the tz database's last listed transition Go computes periods from the zone's rule a
// year at a time, and for about the last day of such a year ZoneBounds reports an end that is
// not after the instant asked about (Europe/Berlin, 2040-12-31T12:00Z: end 2040-12-31T00:00Z).
// The offset it reports is right, and no DST rule changes clocks on the last day of a year, so
// the period runs on to where ZoneBounds is sane again: probe forward an hour at a time.
func zonePeriodAt(loc *time.Location, u int64) (start, end, offset int64) {
	start, end, offset = zonePeriod(loc, u)
	if end > u {
		return start, end, offset
	}
	for p := u + 3600; p <= u+72*3600; p += 3600 {
		s2, e2, o2 := zonePeriod(loc, p)
		if e2 <= p {
			continue
		}
		if o2 == offset {
			return start, e2, offset
		}
		return start, s2, offset
	}
	return start, u + 1, offset // not seen: at worst the walk advances one second
}

// zonePeriod is Time.ZoneBounds and Time.Zone for instant u, in Unix seconds.
func zonePeriod(loc *time.Location, u int64) (start, end, offset int64) {
	t := time.Unix(u, 0).In(loc)
	_, off := t.Zone()
	s, e := t.ZoneBounds()
	start, end = int64(-1<<63), int64(1<<63-1)
	if !s.IsZero() {
		start = s.Unix()
	}
	if !e.IsZero() {
		end = e.Unix()
	}
	return start, end, int64(off)
}

// resolve returns what wall seconds w is in the zone.
func (r *wallResolver) resolve(w int64) wallResolution {
	// Fast path: w read with the cached period's offset lands well inside that period. No
	// other period can then hold an instant reading w (it would be within maxOffsetSpread, so
	// inside this period), and no transition is near enough to put w in a gap.
	if r.set {
		u := w - r.offset
		if u-maxOffsetSpread >= r.start && u+maxOffsetSpread < r.end {
			return wallResolution{instants: [2]int64{u}, n: 1}
		}
	}
	var res wallResolution
	u := w - maxOffsetSpread
	prevOffset, havePrev := int64(0), false
	for {
		start, end, off := r.period(u)
		if havePrev {
			start = u // the boundary the walk crossed
		}
		if havePrev && off > prevOffset && w >= start+prevOffset && w < start+off && res.n == 0 {
			// w lies in the wall-clock range the transition at start skipped.
			res.jump, res.offsetBefore = start, prevOffset
		}
		if c := w - off; c >= start && c < end && res.n < len(res.instants) {
			res.instants[res.n] = c
			res.n++
			r.set, r.start, r.end, r.offset = true, start, end, off
		}
		if end > w+maxOffsetSpread || end == 1<<63-1 {
			break
		}
		u, prevOffset, havePrev = end, off, true
	}
	return res
}

// firstOrJump is the instant a fixed-time cron job fires for wall seconds w: the first
// occurrence of w, or the transition instant when w falls in a spring-forward gap.
func (r *wallResolver) firstOrJump(w int64) int64 {
	res := r.resolve(w)
	if res.n > 0 {
		return res.instants[0]
	}
	return res.jump
}

// firstOrShift is the instant an every-days schedule starts an interval for wall seconds w:
// the first occurrence of w, or, when w falls in a gap, w read with the offset before the gap
// (the wall clock moves forward by the gap's length: Berlin 02:30 -> 03:30 CEST).
func (r *wallResolver) firstOrShift(w int64) int64 {
	res := r.resolve(w)
	if res.n > 0 {
		return res.instants[0]
	}
	return w - res.offsetBefore
}

// wallSeconds is the wall seconds of t in loc.
func wallSeconds(t time.Time, loc *time.Location) int64 {
	_, off := t.In(loc).Zone()
	return t.Unix() + int64(off)
}
