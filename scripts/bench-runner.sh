#!/usr/bin/env bash
# Runs the runner's benchmarks and prints markdown tables:
#   - the engine (runner/internal/engine/bench_test.go) on both state databases: the median of
#     COUNT runs of each benchmark (default 3), and the runner's throughput as a fraction of
#     plain River's on the same kind of database;
#   - the web UI's pages (runner/internal/web/bench_test.go) over 500 pipelines and 100,000 runs
#     on both state databases: ms and statements per page (median of COUNT runs);
#   - the stream subscribers (runner/internal/subscribe/bench_test.go) against kinesis-local and
#     PostgreSQL: records/s per shard against a bare GetRecords loop, lag at 1,000 records/s
#     over three replicas, peak heap at N and 10×N records (medians of TPUT_COUNT runs of the
#     throughput, default 3, and SUB_COUNT runs of the others, default 1).
#
#   scripts/bench-runner.sh                  # what `make bench` runs (~15 minutes on 2 cores)
#   COUNT=5 TPUT_COUNT=5 SUB_COUNT=3 scripts/bench-runner.sh   # more runs per median
#   ONLY=subscribe scripts/bench-runner.sh   # one part: engine, web, trigger or subscribe
#   - the trigger consumers (runner/internal/trigger/bench_test.go) against goaws: S3 events/s
#     turned into runs against a bare ReceiveMessage/DeleteMessage loop on the same kind of
#     queue, and event-to-run-started latency p50/p99 with long polling (medians of TRIG_COUNT
#     runs, default 1).
#
# Benchmarks measure the whole machine: run them on an otherwise idle one, and compare figures
# taken on the same machine only.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
COUNT="${COUNT:-3}"
SUB_COUNT="${SUB_COUNT:-1}"
TRIG_COUNT="${TRIG_COUNT:-1}"
TPUT_COUNT="${TPUT_COUNT:-3}"
ONLY="${ONLY:-}"
OUT="$(mktemp)"
SUB_OUT="$(mktemp)"
TRIG_OUT="$(mktemp)"
WEB_OUT="$(mktemp)"
trap 'rm -f "$OUT" "$SUB_OUT" "$TRIG_OUT" "$WEB_OUT"' EXIT

# The median of each benchmark's metrics is what every table prints; MEDIAN is shared by both
# awk programs.
MEDIAN='
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
'

if [ -z "$ONLY" ] || [ "$ONLY" = engine ]; then

echo "\$ go test -run '^\$' -bench 'Throughput|PlanYear|IdleWait|RegistryTick|ScaleOut' -benchtime=1x -count=$COUNT -timeout 30m ./runner/internal/engine/"
(cd "$ROOT" && go test -run '^$' -bench 'Throughput|PlanYear|IdleWait|RegistryTick|ScaleOut' -benchtime=1x -count="$COUNT" -timeout 30m ./runner/internal/engine/) | tee "$OUT"

# Each result line: BenchmarkName/sub-CPUS  N  value unit  value unit ...
awk -v count="$COUNT" "$MEDIAN"'
END {
	printf "\n### Throughput: 2,000 no-op activities (runner) vs 2,000 no-op River jobs (median of %d)\n\n", count
	print "| database | runner activities/s | River jobs/s | runner / River | statements / activity | commits / activity | runner: plan 400 runs (ms) | runner: all 400 runs started (ms) |"
	print "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	for (d = 1; d <= 2; d++) {
		db = (d == 1) ? "sqlite" : "postgres"
		r = median("Throughput/" db "/runner" SUBSEP "activities/s")
		q = median("Throughput/" db "/river" SUBSEP "jobs/s")
		if (r == "" || q == "") { failed = 1; continue }
		printf "| %s | %.0f | %.0f | %.3f (River %.1f× faster) | %.2f | %.2f | %.0f | %.0f |\n", db, r, q, r / q, q / r,
			median("Throughput/" db "/runner" SUBSEP "stmts/activity"), median("Throughput/" db "/runner" SUBSEP "commits/activity"),
			median("Throughput/" db "/runner" SUBSEP "plan-ms"), median("Throughput/" db "/runner" SUBSEP "all-started-ms")
	}
	print ""
	print "Settings: 100 workers, FetchCooldown 1ms, FetchPollInterval 20ms, engine Tick 15s (the default: the backfill starts its runs itself, no run waits for a tick); 400 hourly runs × 5 independent noop activities, --max-active 400. Activities starting or succeeding at once share their writes (group commit). Statements and commits: those of the engine'"'"'s job transactions (engine.Totals: runs started, activities started and finished, dependents queued, runs finished); River'"'"'s own fetches and batched completions, as for plain jobs, are not in them."
	printf "\n### Idle waits: a year of daily catchup, 365 runs × a chain of 3 noop activities, max_active_runs = 1, tick 15 s (median of %d)\n\n", count
	print "| database | runner ms/run | River ms/run (3 chained jobs) | runner / River (time) | runner total (s) |"
	print "| --- | ---: | ---: | ---: | ---: |"
	for (d = 1; d <= 2; d++) {
		db = (d == 1) ? "sqlite" : "postgres"
		r = median("IdleWait/" db "/runner" SUBSEP "ms/run")
		q = median("IdleWait/" db "/river" SUBSEP "ms/run")
		if (r == "" || q == "") { failed = 1; continue }
		printf "| %s | %.1f | %.1f | %.2f | %.1f |\n", db, r, q, r / q, r * 365 / 1000
	}
	print ""
	print "River: each job queues the next from its worker (3 jobs a run). A run that waited for the next tick would cost 15,000 ms; the runner hands over within the finishing transaction."
	printf "\n### Registry: one scheduler tick over 1,000 published pipelines (median of %d)\n\n", count
	print "| registry | first tick: list requests | first tick: GETs | first tick (ms) | unchanged tick: list requests | unchanged tick: GETs | unchanged tick (ms) | first / unchanged (time) |"
	print "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	for (d = 1; d <= 2; d++) {
		reg = (d == 1) ? "s3" : "file"
		k = "RegistryTick/" reg
		c = median(k SUBSEP "first-tick-ms")
		w = median(k SUBSEP "unchanged-tick-ms")
		if (c == "" || w == "") { failed = 1; continue }
		printf "| %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.1f× |\n", (reg == "s3" ? "s3:// (gofakes3)" : "file://"),
			median(k SUBSEP "first-tick-lists"), median(k SUBSEP "first-tick-gets"), c,
			median(k SUBSEP "unchanged-tick-lists"), median(k SUBSEP "unchanged-tick-gets"), w, c / (w > 0 ? w : 1)
	}
	print ""
	print "The first tick reads, checks and records every document: what every tick cost before ticks listed with stamps (ETag and size; size, mtime and inode). An unchanged tick lists (one ListObjectsV2 page per 1,000 keys) and reads nothing; both still look up each pipeline'"'"'s last scheduled interval in the state database (SQLite here). Schedules start after the clock: no run is created."
	printf "\n### Scaling out: runner processes on one PostgreSQL, the throughput workload (median of %d)\n\n", count
	print "| runner processes | activities/s | vs 1 runner | runners that worked attempts |"
	print "| ---: | ---: | ---: | ---: |"
	one = median("ScaleOut/runners=1" SUBSEP "activities/s")
	for (n = 1; n <= 4; n *= 2) {
		k = "ScaleOut/runners=" n
		a = median(k SUBSEP "activities/s")
		if (a == "" || one == "") { failed = 1; continue }
		printf "| %d | %.0f | %.2f× | %.0f |\n", n, a, a / one, median(k SUBSEP "runners-that-worked")
	}
	print ""
	print "Each process: 100 workers, the throughput settings; 400 runs × 5 noop activities planned once all are ready; every activity attempted exactly once (checked). All processes share this machine'"'"'s cores with PostgreSQL: a runner on a machine of its own adds its cores, which this cannot show."
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
fi

if [ -z "$ONLY" ] || [ "$ONLY" = web ]; then
echo
echo "\$ go test -run '^\$' -bench 'RenderPages' -benchtime=20x -count=$COUNT -timeout 30m ./runner/internal/web/"
(cd "$ROOT" && go test -run '^$' -bench 'RenderPages' -benchtime=20x -count="$COUNT" -timeout 30m ./runner/internal/web/) | tee "$WEB_OUT"
awk -v count="$COUNT" "$MEDIAN"'
END {
	printf "\n### Web UI: rendering pages over 500 pipelines and 100,000 runs (median of %d; goal < 200 ms)\n\n", count
	print "| database | page | ms/page | statements/page | bytes/page |"
	print "| --- | --- | ---: | ---: | ---: |"
	split("home home-filtered home-all-500 pipeline", pages, " ")
	for (d = 1; d <= 2; d++) {
		db = (d == 1) ? "sqlite" : "postgres"
		for (p = 1; p <= 4; p++) {
			k = "RenderPages/" db "/" pages[p]
			m = median(k SUBSEP "ms/page")
			if (m == "") { failed = 1; continue }
			printf "| %s | %s | %.1f | %.0f | %.0f |\n", db, pages[p], m, median(k SUBSEP "queries/op"), median(k SUBSEP "bytes/page")
		}
	}
	print ""
	print "Through the web handler (templates included), the definitions decoded once and cached. home: the first page (50 pipelines) of all 500, each with its 25 newest runs; home-filtered: failing pipelines sorted by failure streak; home-all-500: every pipeline on one page; pipeline: one pipeline with its 25-run grid, graph, versions, failures and actions."
	if (failed) { print "\nbench-runner: some web benchmarks reported nothing (see the output above)" > "/dev/stderr"; exit 1 }
}' "$WEB_OUT"
fi

if [ -z "$ONLY" ] || [ "$ONLY" = trigger ]; then
echo
echo "\$ go test -run '^\$' -bench 'Trigger' -benchtime=1x -count=$TRIG_COUNT -timeout 30m ./runner/internal/trigger/"
(cd "$ROOT" && go test -run '^$' -bench 'Trigger' -benchtime=1x -count="$TRIG_COUNT" -timeout 30m ./runner/internal/trigger/) | grep -v '^SDK ' | tee "$TRIG_OUT"

awk -v count="$TRIG_COUNT" "$MEDIAN"'
END {
	printf "\n### Triggers: S3 events turned into runs vs a bare ReceiveMessage/DeleteMessage loop on goaws (median of %d)\n\n", count
	print "| state database / batching | events | runs | runner events/s (recorded, deleted) | runs started: events/s | bare loop events/s | runner / bare |"
	print "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
	split("sqlite/one-run-per-event postgres/one-run-per-event postgres/batches-of-500", cases, " ")
	for (c = 1; c <= 3; c++) {
		k = "TriggerThroughput/" cases[c]
		r = median(k SUBSEP "runner-events/s")
		if (r == "") { failed = 1; continue }
		printf "| %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.2f |\n", cases[c], median(k SUBSEP "events"), median(k SUBSEP "runs"), r,
			median(k SUBSEP "started-events/s"), median(k SUBSEP "bare-events/s"), median(k SUBSEP "ratio")
	}
	print ""
	print "Each message holds one S3 event (AWS'"'"'s documented shape). The bare loop receives 10 messages a call with long polling and deletes them with DeleteMessageBatch, parsing and recording nothing; the runner parses, matches, records each run with its dedupe keys in one transaction per receive, deletes after the commit, and the engine (no-op activities, 100 workers) starts the runs. Both use a 3s visibility timeout: goaws now and then hides the 10 messages of a ReceiveMessage whose response the SDK retried, which then come back after it, so one such stall costs either side 3s and the figures vary from run to run (raise TRIG_COUNT for steadier medians)."
	k = "TriggerLatency"
	printf "\n### Triggers: event to run started, long polling, PostgreSQL (median of %d)\n\n", count
	if (median(k SUBSEP "runner-p50-ms") == "") { failed = 1 } else {
		print "| events/s | runs | runner: sent → run started p50 (ms) | p99 (ms) | bare loop: sent → received p50 (ms) | p99 (ms) |"
		print "| ---: | ---: | ---: | ---: | ---: | ---: |"
		printf "| %.0f | %.0f | %.0f | %.0f | %.0f | %.0f |\n", median(k SUBSEP "events/s"), median(k SUBSEP "runs"), median(k SUBSEP "runner-p50-ms"),
			median(k SUBSEP "runner-p99-ms"), median(k SUBSEP "bare-p50-ms"), median(k SUBSEP "bare-p99-ms")
		print ""
		print "20 messages a second for 10 s, each carrying its send time; a run has started when the engine recorded started_at."
	}
	if (failed) { print "\nbench-runner: some trigger benchmarks reported nothing (see the output above)" > "/dev/stderr"; exit 1 }
}' "$TRIG_OUT"
fi

[ -n "$ONLY" ] && [ "$ONLY" != subscribe ] && exit 0

# Throughput varies most from run to run (it is the shortest): it runs TPUT_COUNT times.
echo
echo "\$ go test -run '^\$' -bench 'SubscriberThroughput' -benchtime=1x -count=$TPUT_COUNT -timeout 30m ./runner/internal/subscribe/"
(cd "$ROOT" && go test -run '^$' -bench 'SubscriberThroughput' -benchtime=1x -count="$TPUT_COUNT" -timeout 30m ./runner/internal/subscribe/) | tee "$SUB_OUT"
echo "\$ go test -run '^\$' -bench 'Subscriber(Lag|Memory)' -benchtime=1x -count=$SUB_COUNT -timeout 30m ./runner/internal/subscribe/"
(cd "$ROOT" && go test -run '^$' -bench 'Subscriber(Lag|Memory)' -benchtime=1x -count="$SUB_COUNT" -timeout 30m ./runner/internal/subscribe/) | tee -a "$SUB_OUT"

awk -v count="$SUB_COUNT" -v tcount="$TPUT_COUNT" "$MEDIAN"'
END {
	printf "\n### Stream subscribers: records/s per shard applied into PostgreSQL vs a bare GetRecords loop (median of %d)\n\n", tcount
	print "| record format | records in the shard | subscriber records/s | bare GetRecords records/s (flat out) | subscriber / bare | bare at 5 calls/s records/s | subscriber / bare at 5 calls/s | kinesis-local PutRecords records/s (filling) |"
	print "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	split("statements rows", formats, " ")
	for (f = 1; f <= 2; f++) {
		k = "SubscriberThroughput/" formats[f]
		s = median(k SUBSEP "subscriber-rec/s")
		if (s == "") { failed = 1; continue }
		printf "| %s | %.0f | %.0f | %.0f | %.2f | %.0f | %.2f | %.0f |\n", formats[f], median(k SUBSEP "records"), s,
			median(k SUBSEP "bare-rec/s"), median(k SUBSEP "ratio"), median(k SUBSEP "paced-rec/s"), median(k SUBSEP "paced-ratio"), median(k SUBSEP "put-rec/s")
	}
	print ""
	print "One subscriber, max_records 2,500; the bare loop asks for 2,500 records a call too and applies nothing, once flat out (what kinesis-local hands out) and once at Kinesis'"'"'s limit of 5 GetRecords calls a second per shard (what any reader of a real stream, the subscriber included, must keep to); each run before and after the subscriber, averaged. The subscriber reads the next call while it applies a batch. statements: an INSERT per record, a batch sent as one script; rows: JSON rows inserted together."
	k = "SubscriberLag"
	rate = median(k SUBSEP "put-rec/s")
	printf "\n### Stream subscribers: lag from put to apply, three replicas (median of %d)\n\n", count
	if (rate == "") { failed = 1 } else {
		print "| replica | put → visible p50 (ms) | put → visible p99 (ms) | accepted → visible p50 (ms) | accepted → visible p99 (ms) | accepted → visible max (ms) |"
		print "| --- | ---: | ---: | ---: | ---: | ---: |"
		split("a b c", reps, " ")
		for (r = 1; r <= 3; r++)
			printf "| %s | %.0f | %.0f | %.0f | %.0f | %.0f |\n", reps[r], median(k SUBSEP reps[r] "-put-p50-ms"), median(k SUBSEP reps[r] "-put-p99-ms"),
				median(k SUBSEP reps[r] "-accepted-p50-ms"), median(k SUBSEP reps[r] "-accepted-p99-ms"), median(k SUBSEP reps[r] "-accepted-max-ms")
		print ""
		printf "Asked for 1,000 records/s into a %d-shard stream; the producer reached %.0f records/s, its PutRecords calls taking %.0f ms (p50) and %.0f ms (p99). put: the call started; accepted: the call returned (the subscriber'"'"'s share starts here); visible: the last apply of the record'"'"'s transaction, just before its commit. One runner serves the three replicas with the default batch (500 records, 1 MiB, 1s), poll_interval (1s) and tick (2s); with three replicas each calls GetRecords at most every 600 ms while records flow.\n",
			median(k SUBSEP "shards"), rate, median(k SUBSEP "put-call-p50-ms"), median(k SUBSEP "put-call-p99-ms")
	}
	printf "\n### Stream subscribers: peak heap applying N and 10×N records of 1 KiB (median of %d)\n\n", count
	print "| records | data (MB) | peak heap in use (MB) | peak live heap after GC (MB) |"
	print "| ---: | ---: | ---: | ---: |"
	for (key in cnt) {
		split(key, parts, SUBSEP)
		if (parts[1] ~ /^SubscriberMemory\/records=/ && parts[2] == "data-MB") {
			n = parts[1]; sub(/.*records=/, "", n)
			mem[n] = parts[1]
		}
	}
	found = 0
	for (n = 1; n <= 10000000; n *= 10) {    # N and 10×N, smallest first
		for (m in mem) {
			if (m + 0 < n || m + 0 >= n * 10) continue
			printf "| %d | %.1f | %.1f | %.1f |\n", m, median(mem[m] SUBSEP "data-MB"), median(mem[m] SUBSEP "peak-heap-MB"), median(mem[m] SUBSEP "peak-live-MB")
			found++
		}
	}
	if (found < 2) failed = 1
	print ""
	print "Default batch (500 records, 1 MiB), one shard, one replica. Above the process heap before the runner started; heap in use counts garbage not yet collected (GOGC=100)."
	if (failed) { print "\nbench-runner: some subscriber benchmarks reported nothing (see the output above)" > "/dev/stderr"; exit 1 }
}' "$SUB_OUT"
