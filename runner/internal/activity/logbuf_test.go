package activity_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-data/terraform-provider-sluice/runner/internal/activity"
)

func write(t *testing.T, b *activity.LogBuffer, s string) {
	t.Helper()
	n, err := b.Write([]byte(s))
	if n != len(s) || err != nil {
		t.Fatalf("Write(%q) = %d, %v; want %d, nil: a log never fails its writer", s, n, err, len(s))
	}
}

func TestLogBuffer_UnderTheLimitKeepsEverything(t *testing.T) {
	b := activity.NewLogBuffer(10)
	write(t, b, "0123")
	write(t, b, "")
	write(t, b, "456789")
	if got := b.String(); got != "0123456789" {
		t.Errorf("String() = %q, want all 10 bytes with no marker", got)
	}
}

func TestLogBuffer_OverTheLimitKeepsHeadAndTailAndCountsTheRest(t *testing.T) {
	cases := []struct {
		name   string
		limit  int
		writes []string
		want   string
	}{
		{"one big write", 10, []string{"0123456789ABCDEF"}, "01234\n… 6 bytes dropped …\nBCDEF"},
		{"one byte over", 10, []string{"0123456789", "X"}, "01234\n… 1 bytes dropped …\n6789X"},
		{"head filled across writes", 10, []string{"01", "23", "45", "67", "89", "AB"}, "01234\n… 2 bytes dropped …\n789AB"},
		{"odd limit gives the tail the extra byte", 7, []string{"abcdefghij"}, "abc\n… 3 bytes dropped …\nghij"},
		{"tail keeps only the newest", 6, []string{"head", "-old-old-", "new"}, "hea\n… 10 bytes dropped …\nnew"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := activity.NewLogBuffer(c.limit)
			for _, w := range c.writes {
				write(t, b, w)
			}
			if got := b.String(); got != c.want {
				t.Errorf("String() = %q, want %q", got, c.want)
			}
		})
	}
}

func TestLogBuffer_ManySmallWritesStayBounded(t *testing.T) {
	b := activity.NewLogBuffer(20)
	var all strings.Builder
	for i := range 1000 {
		line := fmt.Sprintf("%d\n", i)
		all.WriteString(line)
		write(t, b, line)
	}
	s := all.String()
	want := s[:10] + fmt.Sprintf("\n… %d bytes dropped …\n", len(s)-20) + s[len(s)-10:]
	if got := b.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestLogBuffer_DefaultLimit(t *testing.T) {
	for _, limit := range []int{0, -1} {
		b := activity.NewLogBuffer(limit)
		write(t, b, strings.Repeat("a", activity.DefaultLogLimit))
		if got := b.String(); len(got) != activity.DefaultLogLimit || strings.Contains(got, "dropped") {
			t.Errorf("NewLogBuffer(%d) with DefaultLogLimit bytes kept %d bytes", limit, len(got))
		}
		write(t, b, "b")
		if got := b.String(); !strings.Contains(got, "… 1 bytes dropped …") || !strings.HasSuffix(got, "ab") {
			t.Errorf("NewLogBuffer(%d) one byte over the default: String() ends %q", limit, got[len(got)-40:])
		}
	}
}

func TestLogBuffer_ConcurrentWritersAreCountedExactly(t *testing.T) {
	const writers, lines, limit = 8, 500, 1024
	b := activity.NewLogBuffer(limit)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for range lines {
				_, _ = fmt.Fprintf(b, "w%d\n", w) // 3 bytes each
			}
		})
	}
	wg.Wait()
	total := writers * lines * 3
	got := b.String()
	marker := fmt.Sprintf("\n… %d bytes dropped …\n", total-limit)
	if !strings.Contains(got, marker) || len(got) != limit+len(marker) {
		t.Errorf("kept %d bytes, want %d plus the marker %q", len(got), limit, marker)
	}
}
