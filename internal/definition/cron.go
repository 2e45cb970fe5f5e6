package definition

import (
	"fmt"
	"iter"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Cron semantics (the one definition; the "Writing pipelines" guide repeats it for users)
//
//   - Matching is by local calendar day and local wall clock in the schedule's IANA zone. A
//     day matches when its month matches and: day-of-month AND day-of-week match when either
//     field is unrestricted ("*" or "?"); day-of-month OR day-of-week match when both are
//     restricted (Vixie cron's rule).
//   - A job is fixed-time when neither its minute nor its hour field starts with "*" (or "?");
//     otherwise it is a wildcard job.
//   - A local time that does not exist (spring-forward gap): a fixed-time job fires once, at
//     the first instant after the gap (the moment the clocks jump), so every calendar day keeps
//     its run; a wildcard job skips the minutes that do not exist.
//   - A local time that occurs twice (fall-back): a fixed-time job fires once, at the first
//     occurrence; a wildcard job fires at both, so an hourly schedule has 8,760 one-hour
//     intervals in any non-leap year, in any zone.
//   - There is no search horizon: a spec that can fire finds its next tick however far away
//     (a leap day after 2100 is eight years off); one that can never fire ("0 0 31 2 *") is
//     refused when the schedule is compiled.
//   - "7" is Sunday as well as "0" (also in ranges, "5-7"); @hourly, @daily (@midnight),
//     @weekly, @monthly and @yearly (@annually) are their 5-field equivalents.
//
// robfig/cron parses each field (its errors name the problem well) but does not compute the
// ticks: its Next steps through elapsed hours and searches five years, which puts runs on the
// wrong day where clocks jump at midnight, loses repeated hours and gives up on leap days.

// cronMacros are the accepted @-macros with their 5-field forms, in the order docs list them.
var cronMacros = [][2]string{
	{"@hourly", "0 * * * *"},
	{"@daily", "0 0 * * *"},
	{"@midnight", "0 0 * * *"},
	{"@weekly", "0 0 * * 0"},
	{"@monthly", "0 0 1 * *"},
	{"@yearly", "0 0 1 1 *"},
	{"@annually", "0 0 1 1 *"},
}

// CronMacros lists the accepted @-macros, for documentation.
func CronMacros() []string {
	out := make([]string, len(cronMacros))
	for i, m := range cronMacros {
		out[i] = m[0]
	}
	return out
}

// expandMacro returns the 5-field form of an @-macro.
func expandMacro(expr string) (string, bool) {
	for _, m := range cronMacros {
		if strings.EqualFold(expr, m[0]) {
			return m[1], true
		}
	}
	return "", false
}

// cronFields names the five cron fields in order.
var cronFields = []string{"minute", "hour", "day-of-month", "month", "day-of-week"}

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// starBit is robfig/cron's mark of a field written as "*" or "?".
const starBit = 1 << 63

// cronSpec is a parsed 5-field expression.
type cronSpec struct {
	minutes, hours []int // ascending
	dom, month     uint64
	dow            uint64 // bit 0 is Sunday
	// dayOr: both day fields are restricted, so a day matches when either does.
	dayOr bool
	// fixed: neither the minute nor the hour field starts with a wildcard.
	fixed bool
}

// parseCron parses a 5-field cron expression (or a macro) and names the offending field on
// error.
func parseCron(expr string) (*cronSpec, error) {
	trimmed := strings.TrimSpace(expr)
	if strings.HasPrefix(trimmed, "@") {
		if five, ok := expandMacro(trimmed); ok {
			trimmed = five
		} else {
			return nil, fmt.Errorf("%q: only the descriptors @hourly, @daily, @midnight, @weekly, @monthly, @yearly and @annually are supported (not @reboot or @every): use the 5-field form (minute hour day-of-month month day-of-week), e.g. \"*/15 * * * *\", or schedule.every", expr)
		}
	}
	if strings.HasPrefix(trimmed, "CRON_TZ=") || strings.HasPrefix(trimmed, "TZ=") {
		return nil, fmt.Errorf("%q: set the time zone with schedule.timezone, not in the expression", expr)
	}
	fields := strings.Fields(trimmed)
	if len(fields) != len(cronFields) {
		return nil, fmt.Errorf("%q has %d fields, expected 5: minute hour day-of-month month day-of-week", expr, len(fields))
	}
	for i, f := range fields {
		upper := strings.ToUpper(f)
		switch {
		case i == 2 && strings.ContainsAny(upper, "LW"):
			return nil, fmt.Errorf("%q: day-of-month field %q: L (last day) and W (nearest weekday) are not supported; use day-of-month 28-31 with care, or schedule at the start of the next month (\"0 0 1 * *\") and use the previous day in templates", expr, f)
		case i == 4 && strings.ContainsAny(upper, "L#"):
			return nil, fmt.Errorf("%q: day-of-week field %q: L (last) and # (nth weekday) are not supported", expr, f)
		}
	}
	dow, err := sundayAsZero(fields[4])
	if err != nil {
		return nil, fmt.Errorf("%q: day-of-week field %q: %w", expr, fields[4], err)
	}
	parsedFields := slices.Clone(fields)
	parsedFields[4] = dow
	for i, f := range parsedFields {
		probe := []string{"*", "*", "*", "*", "*"}
		probe[i] = f
		if _, err := cronParser.Parse(strings.Join(probe, " ")); err != nil {
			return nil, fmt.Errorf("%q: %s field %q: %w", expr, cronFields[i], fields[i], err)
		}
	}
	sched, err := cronParser.Parse(strings.Join(parsedFields, " "))
	if err != nil {
		return nil, fmt.Errorf("%q: %w", expr, err)
	}
	rs, ok := sched.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("%q: unexpected schedule type %T", expr, sched)
	}
	wild := func(f string) bool { return strings.HasPrefix(f, "*") || strings.HasPrefix(f, "?") }
	spec := &cronSpec{
		minutes: bitList(rs.Minute, 0, 59),
		hours:   bitList(rs.Hour, 0, 23),
		dom:     rs.Dom &^ starBit,
		month:   rs.Month &^ starBit,
		dow:     rs.Dow &^ starBit,
		dayOr:   rs.Dom&starBit == 0 && rs.Dow&starBit == 0,
		fixed:   !wild(fields[0]) && !wild(fields[1]),
	}
	if !spec.canFire() {
		return nil, fmt.Errorf("%q never fires: no month in it has the day of the month it asks for", expr)
	}
	return spec, nil
}

// sundayAsZero rewrites a day-of-week field so that 7 (Sunday, as in Vixie cron) reads as 0,
// which robfig/cron requires: "7" -> "0", "5-7" -> "5-6,0", "1-7/2" -> "1,3,5,0".
func sundayAsZero(field string) (string, error) {
	parts := strings.Split(field, ",")
	for i, part := range parts {
		rng, step, hasStep := strings.Cut(part, "/")
		lo, hi, isRange := strings.Cut(rng, "-")
		if lo != "7" && hi != "7" {
			continue
		}
		first, err := dowNumber(lo)
		if err != nil {
			return "", err
		}
		last := first
		if isRange {
			if last, err = dowNumber(hi); err != nil {
				return "", err
			}
		} else if hasStep {
			last = 7
		}
		every := 1
		if hasStep {
			if every, err = strconv.Atoi(step); err != nil || every < 1 {
				return "", fmt.Errorf("step %q is not a positive number", step)
			}
		}
		if first > last {
			return "", fmt.Errorf("range %q starts after it ends", rng)
		}
		var days []string
		for d := first; d <= last; d += every {
			days = append(days, strconv.Itoa(d%7))
		}
		parts[i] = strings.Join(days, ",")
	}
	return strings.Join(parts, ","), nil
}

var dowNames = map[string]int{"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}

func dowNumber(s string) (int, error) {
	if n, ok := dowNames[strings.ToUpper(s)]; ok {
		return n, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 7 {
		return 0, fmt.Errorf("%q is not a day of the week (0-7 or SUN-SAT)", s)
	}
	return n, nil
}

// bitList lists the set bits of mask between lo and hi.
func bitList(mask uint64, lo, hi int) []int {
	var out []int
	for v := lo; v <= hi; v++ {
		if mask&(1<<uint(v)) != 0 {
			out = append(out, v)
		}
	}
	return out
}

// daysIn is the most days a month can have (February: 29).
var daysIn = [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

// canFire reports whether some calendar day matches. Only day-of-month ANDed with an
// unrestricted day-of-week can fail: "31 2" (never) and "29 2" (leap years) are the cases.
func (s *cronSpec) canFire() bool {
	if s.dayOr || bits.OnesCount64(s.dow) < 7 {
		return true // a restricted day-of-week matches some day of every month
	}
	for m := 1; m <= 12; m++ {
		if s.month&(1<<uint(m)) == 0 {
			continue
		}
		for d := 1; d <= daysIn[m]; d++ {
			if s.dom&(1<<uint(d)) != 0 {
				return true
			}
		}
	}
	return false
}

// civil is a calendar date; arithmetic on it never touches a time zone.
type civil struct {
	y int
	m time.Month
	d int
}

func civilOf(wall int64) civil {
	y, m, d := time.Unix(wall, 0).UTC().Date()
	return civil{y, m, d}
}

func (c civil) addDays(n int) civil {
	y, m, d := time.Date(c.y, c.m, c.d+n, 0, 0, 0, 0, time.UTC).Date()
	return civil{y, m, d}
}

// wall is the wall seconds of hh:mm on the date.
func (c civil) wall(h, mi int) int64 {
	return time.Date(c.y, c.m, c.d, h, mi, 0, 0, time.UTC).Unix()
}

func (c civil) weekday() time.Weekday {
	return time.Date(c.y, c.m, c.d, 0, 0, 0, 0, time.UTC).Weekday()
}

// matchesDay reports whether the spec fires on the date.
func (s *cronSpec) matchesDay(c civil) bool {
	if s.month&(1<<uint(c.m)) == 0 {
		return false
	}
	domOK := s.dom&(1<<uint(c.d)) != 0
	dowOK := s.dow&(1<<uint(c.weekday())) != 0
	if s.dayOr {
		return domOK || dowOK
	}
	return domOK && dowOK
}

// appendDayTicks appends the ticks (Unix seconds) whose wall clock is on date c, unsorted
// across the fall-back overlap for wildcard jobs.
func (s *cronSpec) appendDayTicks(out []int64, r *wallResolver, c civil) []int64 {
	for _, h := range s.hours {
		for _, mi := range s.minutes {
			w := c.wall(h, mi)
			if s.fixed {
				u := r.firstOrJump(w)
				if n := len(out); n > 0 && out[n-1] == u {
					continue // several times in one gap fire once, at the jump
				}
				out = append(out, u)
				continue
			}
			res := r.resolve(w)
			out = append(out, res.instants[:res.n]...)
		}
	}
	return out
}

// tickReach bounds how far (in seconds) a tick can lie from the wall-clock day it belongs to:
// an offset, or a gap jump, moves it by less than maxOffsetSpread.
const tickReach = maxOffsetSpread + 60*60

// maxQuietDays bounds the days without a tick in a spec that can fire (a leap day is at most
// eight years away): a guard against a bug turning into an endless loop, not a horizon.
const maxQuietDays = 9 * 366

// ticksFrom yields the ticks at or after from (Unix seconds), strictly ascending, until the
// caller stops. Days are generated in calendar order; a tick is yielded once no later day can
// produce an earlier one.
func (s *cronSpec) ticksFrom(loc *time.Location, from int64) iter.Seq[int64] {
	return func(yield func(int64) bool) {
		r := newWallResolver(loc)
		day := civilOf(from).addDays(-3)
		var buf []int64
		last, yielded := int64(0), false
		for quiet := 0; quiet < maxQuietDays; {
			if s.matchesDay(day) {
				buf = s.appendDayTicks(buf, r, day)
				slices.Sort(buf)
				quiet = 0
			} else {
				quiet++
			}
			day = day.addDays(1)
			safe := day.wall(0, 0) - tickReach // no later day has a tick before this
			i := 0
			for ; i < len(buf) && buf[i] < safe; i++ {
				u := buf[i]
				if u < from || (yielded && u <= last) {
					continue // before from, or the same jump instant reached from two days
				}
				if !yield(u) {
					return
				}
				last, yielded = u, true
			}
			buf = append(buf[:0], buf[i:]...)
		}
	}
}

// lastTickAtOrBefore is the last tick at or before t and at or after floor (Unix seconds).
func (s *cronSpec) lastTickAtOrBefore(loc *time.Location, t, floor int64) (int64, bool) {
	r := newWallResolver(loc)
	best, found := int64(0), false
	var buf []int64
	floorDay := civilOf(floor).addDays(-3)
	for day := civilOf(t).addDays(3); !dayBefore(day, floorDay); day = day.addDays(-1) {
		if s.matchesDay(day) {
			buf = s.appendDayTicks(buf[:0], r, day)
			for _, u := range buf {
				if u <= t && u >= floor && (!found || u > best) {
					best, found = u, true
				}
			}
		}
		// every earlier day's ticks are below day's midnight + tickReach
		if found && best >= day.wall(0, 0)+tickReach {
			return best, true
		}
	}
	return best, found
}

func dayBefore(a, b civil) bool {
	if a.y != b.y {
		return a.y < b.y
	}
	if a.m != b.m {
		return a.m < b.m
	}
	return a.d < b.d
}
