# The two commands of the quick start, and the benchmark.
.PHONY: run test bench bench-bare bench-pair bench-hot bench-statement bench-stats build

# The scenario of bench-pair (see load-tests/bench.sh) and the product of bench-stats.
SCENARIO ?= submit
PRODUCT ?= printernizer

# One build of the whole workspace: building a package alone unifies features differently and
# would rebuild the dependencies for each target.
build:
	cargo build --release --workspace --bins

## Serve on 127.0.0.1:8080 with a private PostgreSQL (no DATABASE_URL needed).
run: build
	scripts/dev-run.sh

## Formatting, lints, and every test against a PostgreSQL cluster started (and stopped) here.
test:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	scripts/with-test-db.sh cargo test --workspace

## The standard throughput scenario against a fresh database; prints the JSON report.
bench: build
	load-tests/bench.sh

## The same scenario against the issue's bare pipeline (tally-bare): the machine's ceiling.
bench-bare: build
	BENCH_SERVER=bare load-tests/bench.sh

## Bare then Tally on SCENARIO (submit, submit-known, capture, events, telemetry, capture-spread,
## hot), PAIRS times (3): requests/s and events/s, the median ratio Tally/bare, p99, CPU per
## 1,000 accepted requests of the server and of PostgreSQL, acknowledged == stored, the targets;
## also written to target/bench-pair-SCENARIO.json.
bench-pair: build
	SCENARIO=$(SCENARIO) load-tests/bench-pair.sh

## A thousand hot installations (100 single captures each, in rounds) against the spread
## case on Tally, PAIRS times, with PostgreSQL's wait events sampled during each run. No
## warm-up by default: on a fast day the 100,000 captures all go out within one.
bench-hot: build
	SCENARIO=hot REFERENCE=capture-spread BENCH_WAITS=1 BENCH_WARMUP=$${BENCH_WARMUP:-0s} \
		load-tests/bench-pair.sh

## The batch statements alone in pgbench, Tally's (as the server prepares it) against
## tally-bare's, alternated ROUNDS times (3): the database's own cost of a batch.
bench-statement: build
	load-tests/statement-bench.sh

## A year of reports, the backfill, one day's roll, and every /stats route timed; then, on a
## fresh cluster, /stats/summary during and right after a burst of 600,000 reports (see README).
## PRODUCT=stories or indexpilot: a year of 100,000 installations' days generated in SQL, the backfill, one
## incremental run after a day's new events, every /api/v1/* route (activity-stats-bench.sh).
bench-stats: build
ifeq ($(PRODUCT),printernizer)
	load-tests/stats-bench.sh
	load-tests/summary-bench.sh
else
	PRODUCT=$(PRODUCT) load-tests/activity-stats-bench.sh
endif
