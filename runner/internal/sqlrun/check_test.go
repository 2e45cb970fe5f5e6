package sqlrun_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/terraform-provider-sluice/internal/definition"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
	"github.com/sluice-data/terraform-provider-sluice/runner/internal/sqlrun"
)

func tp(s string) *time.Time {
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return &ts
}

func TestCheck_EveryKindPassesAndReportsWhatItSaw(t *testing.T) {
	r := newEventsDB(t)
	res, log, err := runCheck(t, r, &definition.CheckActivity{
		Table:     "web.events",
		RowCount:  &definition.RowCount{Min: i64(1), Max: i64(10)},
		Unique:    []string{"id"},
		NotNull:   []string{"id", "Mixed Case"},
		Freshness: &definition.Freshness{Column: "created_at", MaxAge: "1h"},
		Severity:  definition.SeverityFail,
	})
	if err != nil {
		t.Fatal(err)
	}
	newest := tp("2024-03-01T11:30:00.25Z")
	want := []sqlrun.CheckOutcome{
		{Check: "row_count", Passed: true, Observed: 6, Message: "row_count 6 within [1, 10]"},
		{Check: "unique", Columns: []string{"id"}, Passed: true, Observed: 0, Message: "no duplicate id"},
		{Check: "not_null", Column: "id", Passed: true, Observed: 0, Message: "no NULL id"},
		{Check: "not_null", Column: "Mixed Case", Passed: true, Observed: 0, Message: "no NULL Mixed Case"},
		{Check: "freshness", Column: "created_at", Passed: true, Observed: 1799, Newest: newest,
			Message: "freshness: newest created_at 2024-03-01T11:30:00.25Z is 30m0s old <= max_age 1h"},
	}
	if got := res.Details["checks"]; !reflect.DeepEqual(got, want) {
		t.Fatalf("checks =\n%+v\nwant\n%+v", got, want)
	}
	if res.Details["rows"] != int64(6) || res.Summary != "5 check(s) passed on web.events (6 rows)" || len(res.Warnings) != 0 {
		t.Fatalf("result = %+v", res)
	}
	if got := res.Freshness["web.events"]; !got.Equal(*newest) {
		t.Fatalf("Freshness = %v, want %v", got, newest)
	}
	if !strings.HasPrefix(log, "ok   row_count 6 within [1, 10]\n") || strings.Contains(log, "FAIL") {
		t.Fatalf("log = %q", log)
	}
}

// failing configures one failure of every kind on the shared table.
func failing(severity string) *definition.CheckActivity {
	return &definition.CheckActivity{
		Table:     "web.events",
		RowCount:  &definition.RowCount{Min: i64(1000)},
		Unique:    []string{"request_id"},
		NotNull:   []string{"user_id", "id"},
		Freshness: &definition.Freshness{Column: "created_at", MaxAge: "15m"},
		Severity:  severity,
	}
}

const failures = "row_count 6 < min 1000; 1 duplicate request_id; 1 NULL user_id; freshness: newest created_at 2024-03-01T11:30:00.25Z is 30m0s old > max_age 15m"

func TestCheck_SeverityFailIsAPermanentErrorListingEveryFailure(t *testing.T) {
	r := newEventsDB(t)
	res, log, err := runCheck(t, r, failing(definition.SeverityFail))
	if err == nil {
		t.Fatal("the check passed")
	}
	if want := "4 of 5 check(s) failed on web.events: " + failures; err.Error() != want {
		t.Fatalf("err = %q\nwant  %q", err, want)
	}
	if !activity.IsPermanent(err) {
		t.Fatal("a failed check must be permanent")
	}
	if res == nil || len(res.Details["checks"].([]sqlrun.CheckOutcome)) != 5 {
		t.Fatalf("result = %+v", res)
	}
	if strings.Count(log, "FAIL ") != 4 || strings.Count(log, "ok   ") != 1 {
		t.Fatalf("log = %q", log)
	}
}

func TestCheck_SeverityWarnSucceedsWithWarnings(t *testing.T) {
	r := newEventsDB(t)
	res, _, err := runCheck(t, r, failing(definition.SeverityWarn))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(res.Warnings, "; "); got != failures {
		t.Fatalf("warnings = %q\nwant       %q", got, failures)
	}
	if !res.Freshness["web.events"].Equal(*tp("2024-03-01T11:30:00.25Z")) {
		t.Fatalf("Freshness = %v", res.Freshness)
	}
}

func TestCheck_EachKindFailsAlone(t *testing.T) {
	r := newEventsDB(t)
	for _, tc := range []struct {
		name string
		c    definition.CheckActivity
		want string
	}{
		{"row_count max", definition.CheckActivity{RowCount: &definition.RowCount{Max: i64(5)}}, "row_count 6 > max 5"},
		{"row_count min", definition.CheckActivity{RowCount: &definition.RowCount{Min: i64(7)}}, "row_count 6 < min 7"},
		{"unique pair", definition.CheckActivity{Unique: []string{"request_id", "day"}}, "1 duplicate (request_id, day)"},
		{"not_null", definition.CheckActivity{NotNull: []string{"created_at"}}, "1 NULL created_at"},
		{"freshness timestamp", definition.CheckActivity{Freshness: &definition.Freshness{Column: "seen", MaxAge: "29m"}},
			"freshness: newest seen 2024-03-01T11:30:00.25Z is 30m0s old > max_age 29m"},
		{"freshness date", definition.CheckActivity{Freshness: &definition.Freshness{Column: "day", MaxAge: "11h"}},
			"freshness: newest day 2024-03-01T00:00:00Z is 12h0m0s old > max_age 11h"},
		{"freshness no value", definition.CheckActivity{Where: "id = 6", Freshness: &definition.Freshness{Column: "created_at", MaxAge: "1d"}},
			"freshness: no created_at value (no rows, or all NULL)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			c.Table, c.Severity = "web.events", definition.SeverityFail
			_, _, err := runCheck(t, r, &c)
			if err == nil || !activity.IsPermanent(err) || !strings.HasSuffix(err.Error(), ": "+tc.want) {
				t.Fatalf("err = %v, want it to end with %q", err, tc.want)
			}
		})
	}
}

func TestCheck_WhereRestrictsEveryCheck(t *testing.T) {
	r := newEventsDB(t)
	res, _, err := runCheck(t, r, &definition.CheckActivity{
		Table: "web.events",
		// A trailing comment must not swallow the rest of the query.
		Where:     "day = '2024-02-28' -- the run's interval",
		RowCount:  &definition.RowCount{Min: i64(2), Max: i64(2)},
		Unique:    []string{"request_id"},
		NotNull:   []string{"user_id"},
		Freshness: &definition.Freshness{Column: "created_at", MaxAge: "3d"},
		Severity:  definition.SeverityFail,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Freshness["web.events"].Equal(*tp("2024-02-28T09:30:00Z")) || res.Details["rows"] != int64(2) {
		t.Fatalf("result = %+v", res)
	}
	_, _, err = runCheck(t, r, &definition.CheckActivity{
		Table: "web.events", Where: "day = '2024-03-01' OR id = 6", Unique: []string{"request_id"},
		RowCount: &definition.RowCount{Min: i64(5)}, Severity: definition.SeverityFail,
	})
	if err == nil || !strings.HasSuffix(err.Error(), "row_count 4 < min 5; 1 duplicate request_id") {
		t.Fatalf("err = %v", err)
	}
}

func TestCheck_BadInputsArePermanentErrors(t *testing.T) {
	r := newEventsDB(t)
	long := strings.Repeat("t", 64)
	for _, tc := range []struct {
		name string
		c    definition.CheckActivity
		want string
	}{
		{"no schema", definition.CheckActivity{Table: "events"}, `check.table "events" is not schema.table`},
		{"empty schema", definition.CheckActivity{Table: ".events"}, `check.table ".events" is not schema.table`},
		{"empty table", definition.CheckActivity{Table: "web."}, `check.table "web." is not schema.table`},
		{"too long", definition.CheckActivity{Table: "web." + long}, "is 64 bytes, postgresql allows at most 63"},
		{"missing table", definition.CheckActivity{Table: "web.nope"}, `relation "web.nope" does not exist`},
		{"quote in name", definition.CheckActivity{Table: `web.events"; DROP TABLE web.events; --`}, "does not exist"},
		{"missing column", definition.CheckActivity{Table: "web.events", NotNull: []string{"nope"}}, `column "nope" does not exist`},
		{"bad where", definition.CheckActivity{Table: "web.events", Where: "id = = 1"}, "syntax error"},
		{"unknown connection", definition.CheckActivity{Table: "web.events", Connection: "lake"}, `unknown connection "lake"`},
		{"bad max_age", definition.CheckActivity{Table: "web.events", Freshness: &definition.Freshness{Column: "day", MaxAge: "soon"}}, "check.freshness.max_age"},
		{"bad severity", definition.CheckActivity{Table: "web.events", Severity: "loud"}, `check.severity "loud"`},
		{"no checks", definition.CheckActivity{Table: "web.events", Severity: "fail"}, "sets none of row_count"},
		{"empty row_count", definition.CheckActivity{Table: "web.events", RowCount: &definition.RowCount{}, Severity: "fail"}, "neither min nor max"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			if c.RowCount == nil && len(c.NotNull) == 0 && c.Freshness == nil && tc.name != "no checks" {
				c.RowCount = &definition.RowCount{Min: i64(0)}
			}
			_, _, err := runCheck(t, r, &c)
			if err == nil || !activity.IsPermanent(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v (permanent %v), want a permanent error containing %q", err, activity.IsPermanent(err), tc.want)
			}
		})
	}
	// The table the injection attempt named is still there.
	if _, _, err := runCheck(t, r, &definition.CheckActivity{Table: "web.events", RowCount: &definition.RowCount{Min: i64(6)}}); err != nil {
		t.Fatal(err)
	}
}
