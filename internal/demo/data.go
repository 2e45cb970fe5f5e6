package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-data/terraform-provider-sluice/internal/acctest"
)

// requestsPerDay is above the worked case's row_count check (min 1000).
const requestsPerDay = 1200

// parseLog is the streaming mapper: a log line "TIME METHOD PATH STATUS REQUEST_ID" becomes
// "REQUEST_ID<TAB>TIME,PATH" (the key first, as Hadoop streaming sorts on it).
const parseLog = `#!/usr/bin/env python3
import sys
for line in sys.stdin:
    f = line.split()
    if len(f) != 5 or f[3] != "200":
        continue  # malformed lines and errors are not page views
    print(f"{f[4]}\t{f[0]},{f[2]}")
`

// dedupe is the streaming reducer: input sorted by request id; the first line of each id
// becomes one CSV row "request_id,viewed_at,path" (the log shipper sends some lines twice).
const dedupe = `#!/usr/bin/env python3
import sys
last = None
for line in sys.stdin:
    key, _, value = line.rstrip("\n").partition("\t")
    if key != last:
        print(f"{key},{value}")
        last = key
`

// writeLogs writes the days' logs (two files a day, with duplicated and malformed lines) and
// the mapper and reducer, and returns how many distinct page views they hold.
func writeLogs(data string, start time.Time, days int) (int, error) {
	total := 0
	for d := range days {
		day := start.AddDate(0, 0, d)
		dir := filepath.Join(data, "raw", day.Format("2006-01-02"))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return 0, fmt.Errorf("creating %s: %w", dir, err)
		}
		var files [2]strings.Builder
		for i := range requestsPerDay {
			at := day.Add(time.Duration(i) * 24 * time.Hour / requestsPerDay)
			line := fmt.Sprintf("%s GET /page/%d 200 req-%s-%05d\n", at.Format(time.RFC3339), i%37, day.Format("20060102"), i)
			files[i%2].WriteString(line)
			if i%50 == 0 {
				files[(i+1)%2].WriteString(line) // shipped twice
			}
			total++
		}
		files[0].WriteString("garbage line\n")
		files[1].WriteString(day.Format(time.RFC3339) + " GET /missing 404 req-x\n")
		for i, f := range files {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("access-%d.log", i)), []byte(f.String()), 0o600); err != nil {
				return 0, fmt.Errorf("writing logs: %w", err)
			}
		}
	}
	code := filepath.Join(data, "code")
	if err := os.MkdirAll(code, 0o755); err != nil {
		return 0, fmt.Errorf("creating %s: %w", code, err)
	}
	for name, body := range map[string]string{"parse_log.py": parseLog, "dedupe.py": dedupe} {
		if err := os.WriteFile(filepath.Join(code, name), []byte(body), 0o755); err != nil { //nolint:gosec // scripts must be executable
			return 0, fmt.Errorf("writing %s: %w", name, err)
		}
	}
	return total, nil
}

func countRows(ctx context.Context, pg *acctest.Postgres) (int, error) {
	c, err := pgx.Connect(ctx, pg.URL("warehouse"))
	if err != nil {
		return 0, fmt.Errorf("connecting to the warehouse: %w", err)
	}
	defer c.Close(context.WithoutCancel(ctx))
	var n int
	if err := c.QueryRow(ctx, `SELECT COUNT(*) FROM web.page_views`).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting web.page_views: %w", err)
	}
	return n, nil
}
