package load

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func readAllText(t *testing.T, in string, pc *pgCopy) []string {
	t.Helper()
	tr := newTextRecords(strings.NewReader(in), "file:///x", pc)
	var out []string
	for {
		rec, err := tr.Read()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(rec))
		for i, f := range rec {
			if f == nil {
				parts[i] = "∅"
			} else {
				parts[i] = "[" + *f + "]"
			}
		}
		out = append(out, strings.Join(parts, " "))
	}
}

func TestTextRecords_FollowRedshiftsDelimitedText(t *testing.T) {
	tab, empty := byte('\t'), ""
	for _, c := range []struct {
		name string
		in   string
		pc   pgCopy
		want []string
	}{
		{"pipe and \\N by default", "1|a|\\N\n2||x\r\n", pgCopy{}, []string{"[1] [a] ∅", "[2] [] [x]"}},
		{"backslashes are plain without ESCAPE", `1|c:\dir|a\|b` + "\n", pgCopy{}, []string{`[1] [c:\dir] [a\] [b]`}},
		{"ESCAPE keeps a delimiter, a newline and a backslash", "1|a\\|b|two\\\nlines|back\\\\slash\n", pgCopy{escape: true},
			[]string{"[1] [a|b] [two\nlines] [back\\slash]"}},
		{"tab delimiter and a NULL AS of our own", "1\tNULL\tz\n", pgCopy{delimiter: tab, null: ptrTo("NULL")}, []string{"[1] ∅ [z]"}},
		{"REMOVEQUOTES keeps delimiters inside quotes", `"1"|"a|b"|"\N"|""` + "\n", pgCopy{removeQuotes: true}, []string{"[1] [a|b] [\\N] []"}},
		{"empty NULL AS makes empty fields NULL", "1||\n", pgCopy{null: &empty}, []string{"[1] ∅ ∅"}},
		{"no newline at the end", "7|z", pgCopy{}, []string{"[7] [z]"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			pc := c.pc
			got := readAllText(t, c.in, &pc)
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
	if _, err := newTextRecords(strings.NewReader(`"open|x`), "file:///x", &pgCopy{removeQuotes: true}).Read(); err == nil || !strings.Contains(err.Error(), "not closed") {
		t.Errorf("an unclosed quote: %v", err)
	}
}

func ptrTo(s string) *string { return &s }

func TestTextCSV_QuotesValuesAndLeavesNULLEmpty(t *testing.T) {
	x := &textCSV{rec: newTextRecords(strings.NewReader("1|say \"hi\"|\\N\n"), "u", &pgCopy{})}
	out, err := io.ReadAll(x)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), "\"1\",\"say \"\"hi\"\"\",\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestRedshiftCopySQL_TextHasNoFormatClauseAndKeepsItsOptions(t *testing.T) {
	opts, err := parseOptions([]string{"DELIMITER '\t'", "ESCAPE", "REMOVEQUOTES", `NULL AS '\N'`, "GZIP"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := redshiftCopySQL("s3://b/p/", "text", "arn:aws:iam::123456789012:role/r", opts)
	if err != nil {
		t.Fatal(err)
	}
	want := `COPY "sluice_staging" FROM 's3://b/p/' IAM_ROLE 'arn:aws:iam::123456789012:role/r' DELIMITER '` + "\t" + `' ESCAPE REMOVEQUOTES NULL AS '\\N' GZIP`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if _, err := planPostgres("csv", mustOptions(t, "ESCAPE")); err == nil || !strings.Contains(err.Error(), "format text only") {
		t.Errorf("ESCAPE with csv: %v", err)
	}
	if _, err := planPostgres("text", mustOptions(t, "QUOTE '\"'")); err == nil || !strings.Contains(err.Error(), "REMOVEQUOTES") {
		t.Errorf("QUOTE with text: %v", err)
	}
}

func TestRedshiftCopySQL_DynamoDBSourceNeedsAReadRatioAndNoFileOptions(t *testing.T) {
	role := "arn:aws:iam::123456789012:role/r"
	got, err := redshiftCopySQL("dynamodb://Profiles", "csv", role, mustOptions(t, "READRATIO 50", "TIMEFORMAT 'auto'"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `COPY "sluice_staging" FROM 'dynamodb://Profiles' IAM_ROLE '` + role + `' READRATIO 50 TIMEFORMAT 'auto'`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	for _, c := range []struct {
		from, role string
		opts       []string
		want       string
	}{
		{"dynamodb://Profiles", role, nil, "needs READRATIO"},
		{"dynamodb://Profiles", role, []string{"READRATIO 10", "GZIP"}, "GZIP does not apply to a DynamoDB source"},
		{"dynamodb://Profiles", "", []string{"READRATIO 10"}, "iam_role is required"},
		{"dynamodb://", role, []string{"READRATIO 10"}, "is not dynamodb://TABLE_NAME"},
	} {
		if _, err := redshiftCopySQL(c.from, "csv", c.role, mustOptions(t, c.opts...)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: %v, want %q", c.from, c.opts, err, c.want)
		}
	}
}
