#!/usr/bin/env bash
# Runs the runner's benchmarks (runner/internal/engine/bench_test.go) on both state databases
# and prints markdown tables: the median of COUNT runs of each benchmark (default 3), and the
# runner's throughput as a fraction of plain River's on the same kind of database.
#
#   scripts/bench-runner.sh            # what `make bench` runs (~3 minutes on 2 cores)
#   COUNT=5 scripts/bench-runner.sh    # more runs per median
#
# Benchmarks measure the whole machine: run them on an otherwise idle one, and compare figures
# taken on the same machine only.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
COUNT="${COUNT:-3}"
OUT="$(mktemp)"
trap 'rm -f "$OUT"' EXIT

echo "\$ go test -run '^\$' -bench 'Throughput|PlanYear' -benchtime=1x -count=$COUNT -timeout 30m ./runner/internal/engine/"
(cd "$ROOT" && go test -run '^$' -bench 'Throughput|PlanYear' -benchtime=1x -count="$COUNT" -timeout 30m ./runner/internal/engine/) | tee "$OUT"

# Each result line: BenchmarkName/sub-CPUS  N  value unit  value unit ...
awk -v count="$COUNT" '
function median(key,    n, i, j, v, tmp) {
	n = cnt[key]
	if (n == 0) return ""
	for (i = 1; i <= n; i++) tmp[i] = vals[key, i]
	for (i = 2; i <= n; i++) {            # insertion sort: mawk has no asort
		v = tmp[i]
		for (j = i - 1; j >= 1 && tmp[j] > v; j--) tmp[j + 1] = tmp[j]
		tmp[j + 1] = v
	}
	if (n % 2) return tmp[(n + 1) / 2]
	return (tmp[n / 2] + tmp[n / 2 + 1]) / 2
}
/^Benchmark/ {
	name = $1
	sub(/-[0-9]+$/, "", name)
	sub(/^Benchmark/, "", name)
	for (i = 3; i < NF; i += 2) {
		key = name SUBSEP $(i + 1)
		vals[key, ++cnt[key]] = $i
	}
}
END {
	printf "\n### Throughput: 2,000 no-op activities (runner) vs 2,000 no-op River jobs (median of %d)\n\n", count
	print "| database | runner activities/s | River jobs/s | runner / River | runner: plan 400 runs (ms) | runner: all 400 runs started (ms) |"
	print "| --- | ---: | ---: | ---: | ---: | ---: |"
	for (d = 1; d <= 2; d++) {
		db = (d == 1) ? "sqlite" : "postgres"
		r = median("Throughput/" db "/runner" SUBSEP "activities/s")
		q = median("Throughput/" db "/river" SUBSEP "jobs/s")
		if (r == "" || q == "") { failed = 1; continue }
		printf "| %s | %.0f | %.0f | %.3f (River %.1f× faster) | %.0f | %.0f |\n", db, r, q, r / q, q / r,
			median("Throughput/" db "/runner" SUBSEP "plan-ms"), median("Throughput/" db "/runner" SUBSEP "all-started-ms")
	}
	print ""
	print "Settings: 100 workers, FetchCooldown 1ms, FetchPollInterval 20ms, engine Tick 5ms; 400 hourly runs × 5 independent noop activities, --max-active 400."
	printf "\n### Planning a one-year hourly backfill: 8,760 runs × 5 activities, engine not started (median of %d)\n\n", count
	print "| database | ms/plan | µs/run | MB allocated/plan | allocs/plan | peak live heap (MB) |"
	print "| --- | ---: | ---: | ---: | ---: | ---: |"
	for (d = 1; d <= 2; d++) {
		db = (d == 1) ? "sqlite" : "postgres"
		k = "PlanYear/" db
		m = median(k SUBSEP "ms/plan")
		if (m == "") { failed = 1; continue }
		printf "| %s | %.0f | %.0f | %.1f | %.0f | %.1f |\n", db, m, median(k SUBSEP "µs/run"),
			median(k SUBSEP "B/op") / 1048576, median(k SUBSEP "allocs/op"), median(k SUBSEP "peak-heap-MB")
	}
	if (failed) { print "\nbench-runner: some benchmarks reported nothing (see the output above)" > "/dev/stderr"; exit 1 }
}' "$OUT"
