package definition

import (
	"archive/zip"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The oracle: an independent, brute-force reading of the schedule rules. It parses cron fields
// with its own small parser and walks instants minute by minute, looking only at each
// instant's local wall clock (time.Time.In), never at zone periods:
//
//   - a wildcard job fires at every instant whose wall clock matches (so twice in a repeated
//     hour, never in skipped minutes);
//   - a fixed-time job fires at an instant whose wall clock matches and has not been read
//     before (the first occurrence), and at the instant the clocks jump when any skipped wall
//     minute matches (once, even if the instant itself matches too).
//
// The implementation (cron.go, wallclock.go) works on calendar days and zone periods instead;
// the two agreeing on thousands of generated cases in every zone is the evidence that the
// rules hold.

type oracleCron struct {
	minute, hour, dom, month, dow [60]bool
	domStar, dowStar              bool
	fixed                         bool
}

var oracleMacros = map[string]string{
	"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@weekly": "0 0 * * 0",
	"@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *",
}

var oracleNames = map[string]int{
	"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12,
	"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6,
}

func oracleParse(t testing.TB, expr string) oracleCron {
	t.Helper()
	if m, ok := oracleMacros[expr]; ok {
		expr = m
	}
	f := strings.Fields(expr)
	if len(f) != 5 {
		t.Fatalf("oracle: %q has %d fields", expr, len(f))
	}
	var o oracleCron
	bounds := [5][2]int{{0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, 7}}
	sets := []*[60]bool{&o.minute, &o.hour, &o.dom, &o.month, &o.dow}
	for i, field := range f {
		for _, part := range strings.Split(field, ",") {
			rng, stepText, hasStep := strings.Cut(part, "/")
			lo, hi := bounds[i][0], bounds[i][1]
			if rng != "*" && rng != "?" {
				a, b, isRange := strings.Cut(rng, "-")
				lo = oracleNum(t, a)
				if isRange {
					hi = oracleNum(t, b)
				} else if !hasStep {
					hi = lo
				}
			}
			step := 1
			if hasStep {
				step = oracleNum(t, stepText)
			}
			for v := lo; v <= hi; v += step {
				sets[i][v] = true
			}
		}
	}
	if o.dow[7] {
		o.dow[0] = true
	}
	star := func(s string) bool { return s == "*" || s == "?" || s == "*/1" || s == "?/1" }
	o.domStar, o.dowStar = star(f[2]), star(f[4])
	wild := func(s string) bool { return s[0] == '*' || s[0] == '?' }
	o.fixed = !wild(f[0]) && !wild(f[1])
	return o
}

func oracleNum(t testing.TB, s string) int {
	t.Helper()
	if n, ok := oracleNames[strings.ToUpper(s)]; ok {
		return n
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("oracle: %q is not a number", s)
	}
	return n
}

// matches reports whether a wall clock reading matches.
func (o *oracleCron) matches(w time.Time) bool {
	_, mo, d := w.Date()
	h, mi, s := w.Clock()
	if s != 0 || !o.minute[mi] || !o.hour[h] || !o.month[mo] {
		return false
	}
	domOK, dowOK := o.dom[d], o.dow[w.Weekday()]
	if o.domStar || o.dowStar {
		return domOK && dowOK
	}
	return domOK || dowOK
}

// wallOf is t's wall clock as a UTC time (so that comparisons and arithmetic on it are plain).
func wallOf(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	y, mo, d := l.Date()
	h, mi, s := l.Clock()
	return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
}

// oracleTicks walks the instants from two days before from to to and returns the ticks in
// [from, to). Every offset in the walk must be a whole number of minutes (see wholeMinutes).
func oracleTicks(o *oracleCron, loc *time.Location, from, to time.Time) []time.Time {
	var out []time.Time
	t := from.Add(-48 * time.Hour).Truncate(time.Minute)
	prev := wallOf(t, loc)
	maxWall := prev
	for t = t.Add(time.Minute); t.Before(to); t = t.Add(time.Minute) {
		w := wallOf(t, loc)
		fire := false
		switch {
		case w.Sub(prev) > time.Minute: // the clocks jumped: wall minutes in (prev, w) do not exist
			fire = o.matches(w) && w.After(maxWall)
			if o.fixed {
				for s := prev.Add(time.Minute); s.Before(w); s = s.Add(time.Minute) {
					fire = fire || o.matches(s)
				}
			}
		case !w.After(maxWall): // this wall clock was read before
			fire = !o.fixed && o.matches(w)
		default:
			fire = o.matches(w)
		}
		if fire && !t.Before(from) {
			out = append(out, t.In(loc))
		}
		prev = w
		if w.After(maxWall) {
			maxWall = w
		}
	}
	return out
}

// wholeMinutes reports whether every offset loc uses in [from, to) is a whole number of minutes
// (false only for a few local mean times before 1972, e.g. Africa/Monrovia's -00:44:30): the
// oracle walks whole UTC minutes.
func wholeMinutes(loc *time.Location, from, to time.Time) bool {
	for u := from.Add(-72 * time.Hour).Unix(); u < to.Unix(); {
		_, end, off := zonePeriodAt(loc, u)
		if off%60 != 0 {
			return false
		}
		u = end
	}
	return true
}

// tzZones lists the zones of the tz database Go embeds (time/tzdata is the same zip).
var tzZones = sync.OnceValues(func() ([]string, error) {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return nil, fmt.Errorf("go env GOROOT: %w", err)
	}
	zr, err := zip.OpenReader(filepath.Join(strings.TrimSpace(string(out)), "lib", "time", "zoneinfo.zip"))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, "/") {
			names = append(names, f.Name)
		}
	}
	slices.Sort(names)
	return names, nil
})

// transitionsBetween lists the instants loc changes its UTC offset in [from, to). It reads
// zone periods (which the oracle itself never does) only to choose where to look.
func transitionsBetween(loc *time.Location, from, to time.Time) []time.Time {
	var out []time.Time
	_, end, off := zonePeriodAt(loc, from.Unix())
	for end < to.Unix() {
		_, next, nextOff := zonePeriodAt(loc, end)
		if nextOff != off {
			out = append(out, time.Unix(end, 0))
		}
		end, off = next, nextOff
	}
	return out
}

// oracleCase is one generated comparison.
type oracleCase struct {
	zone     string
	cron     string
	from, to time.Time
}

// genSpec makes a cron expression of a random shape, with its hours near hour (the local hour
// of a transition) so that gaps and repeats are exercised.
func genSpec(r *rand.Rand, hour int) string {
	h := func() int { return (hour + r.IntN(3) - 1 + 24) % 24 }
	m := func() int { return []int{0, 0, 15, 30, 40, 45, 59, r.IntN(60)}[r.IntN(8)] }
	dow := func() string {
		return []string{"0", "6", "1-5", "0-4", "5-7", "7", "SAT,SUN", "*/2", "1,3,5"}[r.IntN(9)]
	}
	switch r.IntN(14) {
	case 0:
		return fmt.Sprintf("%d %d * * *", m(), h())
	case 1:
		return fmt.Sprintf("%d %d,%d * * *", m(), h(), (hour+12)%24)
	case 2:
		a := h()
		return fmt.Sprintf("%d %d-%d * * %s", m(), a, min(a+r.IntN(4), 23), dow())
	case 3:
		return fmt.Sprintf("%d %d * * %s", m(), h(), dow())
	case 4:
		return fmt.Sprintf("%d %d %d * *", m(), h(), 1+r.IntN(31))
	case 5:
		return fmt.Sprintf("%d %d %d * %s", m(), h(), 1+r.IntN(31), dow()) // both restricted: OR
	case 6:
		return fmt.Sprintf("*/%d * * * *", []int{1, 5, 7, 15, 30}[r.IntN(5)])
	case 7:
		return fmt.Sprintf("%d * * * *", m())
	case 8:
		return fmt.Sprintf("* %d * * *", h())
	case 9:
		return fmt.Sprintf("%d */2 * * %s", m(), dow())
	case 10:
		return fmt.Sprintf("0,15,%d %d,%d,%d * * *", 30+r.IntN(30), h(), h(), h())
	case 11:
		return []string{"@hourly", "@daily", "@weekly", "@monthly", "@yearly"}[r.IntN(5)]
	case 12:
		return fmt.Sprintf("%d/%d %d * * *", r.IntN(10), 10+r.IntN(20), h())
	default:
		return fmt.Sprintf("%d %d 1-%d * *", m(), h(), 1+r.IntN(31))
	}
}

// oracleCases generates cases around transitions of every zone with transitions in
// [1970, 2100): per zone, up to perZone transitions (always including the first one after
// 2026-01-01 when there is one), specsPer expressions each.
func oracleCases(t testing.TB, perZone, specsPer int, seed uint64) (cases []oracleCase, zones int) {
	t.Helper()
	names, err := tzZones()
	if err != nil {
		t.Fatalf("listing the tz database: %v", err)
	}
	r := rand.New(rand.NewPCG(seed, 1))
	lo, hi := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, name := range names {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatalf("zone %s from the tz database does not load: %v", name, err)
		}
		trans := transitionsBetween(loc, lo, hi)
		if len(trans) == 0 {
			continue
		}
		zones++
		var pick []time.Time
		if i, _ := slices.BinarySearchFunc(trans, now, time.Time.Compare); i < len(trans) {
			pick = append(pick, trans[i])
		}
		for len(pick) < perZone && len(pick) < len(trans) {
			pick = append(pick, trans[r.IntN(len(trans))])
		}
		for _, b := range pick {
			from, to := b.Add(-4*24*time.Hour).Truncate(time.Hour), b.Add(4*24*time.Hour)
			if !wholeMinutes(loc, from, to) {
				continue
			}
			hour := b.Add(-time.Minute).In(loc).Hour()
			for range specsPer {
				cases = append(cases, oracleCase{zone: name, cron: genSpec(r, hour), from: from, to: to})
			}
		}
	}
	return cases, zones
}

// checkAgainstOracle compares the schedule's intervals and next runs with the oracle's ticks.
func checkAgainstOracle(t testing.TB, tc oracleCase) {
	t.Helper()
	loc, err := time.LoadLocation(tc.zone)
	if err != nil {
		t.Fatal(err)
	}
	o := oracleParse(t, tc.cron)
	want := oracleTicks(&o, loc, tc.from, tc.to)
	c, err := Schedule{Cron: tc.cron, Timezone: tc.zone, Start: tc.from.Format(time.RFC3339), MaxActiveRuns: 1}.Compile()
	if err != nil {
		t.Fatalf("%s in %s: %v", tc.cron, tc.zone, err)
	}
	got := c.Between(tc.from, tc.to)
	if len(got) != len(want) || !slices.EqualFunc(got, want, func(iv Interval, w time.Time) bool { return iv.Start.Equal(w) }) {
		g, w := formatTimes(intervalStarts(got)), formatTimes(want)
		i := 0
		for i < len(g) && i < len(w) && g[i] == w[i] {
			i++
		}
		lo := max(i-2, 0)
		t.Fatalf("%q in %s over [%s, %s): %d ticks, the oracle has %d; first difference at #%d:\n got  %v\n want %v",
			tc.cron, tc.zone, tc.from.Format(time.RFC3339), tc.to.Format(time.RFC3339), len(g), len(w), i,
			g[lo:min(i+3, len(g))], w[lo:min(i+3, len(w))])
	}
	for i := 1; i < len(got); i++ {
		if !got[i-1].End.Equal(got[i].Start) {
			t.Fatalf("%q in %s: interval %v does not end where %v starts", tc.cron, tc.zone, got[i-1], got[i])
		}
	}
	// NextRuns from a moment inside the window: the interval holding it, then the next ones.
	if len(want) >= 3 {
		now := want[1].Add(time.Duration(len(tc.cron)) * time.Second)
		next := c.NextRuns(now, 2)
		if len(next) != 2 || !next[0].Equal(want[1]) || !next[1].Equal(want[2]) {
			t.Fatalf("%q in %s: NextRuns(%s) = %v, want %v", tc.cron, tc.zone, now.Format(time.RFC3339), formatTimes(next), formatTimes(want[1:3]))
		}
	}
}

func intervalStarts(ivs []Interval) []time.Time {
	out := make([]time.Time, len(ivs))
	for i, iv := range ivs {
		out[i] = iv.Start
	}
	return out
}

func TestCron_MatchesTheOracleInEveryZoneWithTransitions(t *testing.T) {
	cases, zones := oracleCases(t, 3, 2, 20261206)
	if zones < 300 || len(cases) < 2000 {
		t.Fatalf("only %d cases in %d zones: the tz database listing is incomplete", len(cases), zones)
	}
	t.Logf("%d generated cases in %d zones with transitions between 1970 and 2100", len(cases), zones)
	for _, tc := range cases {
		checkAgainstOracle(t, tc)
	}
}

// oracleEveryDay is the start of interval k of an every-days schedule, found by walking the
// minutes around the target day: the first instant whose wall clock reads the start's local
// time k·days later, or, when the clocks jump over that reading, the instant it would have
// had with the offset before the jump.
func oracleEveryDay(start time.Time, loc *time.Location, days, k int) time.Time {
	sw := wallOf(start, loc)
	target := time.Date(sw.Year(), sw.Month(), sw.Day()+k*days, sw.Hour(), sw.Minute(), 0, 0, time.UTC)
	t := target.Add(-30 * time.Hour)
	prev := wallOf(t, loc)
	for t = t.Add(time.Minute); ; t = t.Add(time.Minute) {
		w := wallOf(t, loc)
		if w.Equal(target) {
			return t.In(loc)
		}
		if prev.Before(target) && w.After(target) {
			return t.Add(-time.Minute).Add(target.Sub(prev)).In(loc)
		}
		prev = w
	}
}

func TestEvery_DaysMatchTheOracleInEveryZoneWithTransitions(t *testing.T) {
	names, err := tzZones()
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := time.Date(1972, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := 0
	for _, name := range names {
		loc := zone(t, name)
		trans := transitionsBetween(loc, lo, hi)
		for i, b := range trans {
			if i != len(trans)/2 && i != len(trans)-1 { // one in the middle of 1972-2100, and the last one
				continue
			}
			// a start whose time of day falls just after the jump (in the gap or the repeat) on
			// the transition day, three days before it
			w := wallOf(b.Add(-time.Minute), loc).Add(time.Minute + 20*time.Minute)
			startWall := w.AddDate(0, 0, -3)
			start := time.Date(startWall.Year(), startWall.Month(), startWall.Day(), startWall.Hour(), startWall.Minute(), 0, 0, loc)
			for _, days := range []int{1, 3} {
				c := mustCompile(t, Schedule{Every: fmt.Sprintf("%dd", days), Timezone: name, Start: start.Format(time.RFC3339)})
				var got []string
				for iv := range c.Intervals(c.Start()) {
					if got = append(got, iv.Start.Format(time.RFC3339)); len(got) == 6 {
						break
					}
				}
				var want []string
				for k := range 6 {
					want = append(want, oracleEveryDay(c.Start(), loc, days, k).Format(time.RFC3339))
				}
				assertStrings(t, fmt.Sprintf("every %dd from %s in %s", days, c.Start().Format(time.RFC3339), name), got, want)
				cases++
			}
		}
	}
	t.Logf("%d every-days cases", cases)
}

// FuzzCron_MatchesTheOracle: go test -fuzz=FuzzCron_MatchesTheOracle ./internal/definition/
func FuzzCron_MatchesTheOracle(f *testing.F) {
	f.Add(uint64(1), uint16(0), uint32(493000))
	f.Add(uint64(7), uint16(100), uint32(495000))
	f.Add(uint64(42), uint16(300), uint32(500000))
	names, err := tzZones()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, specSeed uint64, zoneIdx uint16, hoursSince1970 uint32) {
		name := names[int(zoneIdx)%len(names)]
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		from := time.Unix(int64(hoursSince1970%(130*366*24))*3600, 0).UTC()
		to := from.Add(3 * 24 * time.Hour)
		if !wholeMinutes(loc, from, to) {
			return // the oracle walks whole UTC minutes (see wholeMinutes)
		}
		r := rand.New(rand.NewPCG(specSeed, 2))
		checkAgainstOracle(t, oracleCase{zone: name, cron: genSpec(r, r.IntN(24)), from: from, to: to})
	})
}
