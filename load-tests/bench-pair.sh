#!/usr/bin/env bash
# `make bench-pair SCENARIO=<name>`: Tally against the bare pipeline, in pairs run back to back.
#
# Each pair runs one scenario of load-tests/bench.sh (SCENARIO: submit, submit-known, capture,
# events, telemetry, capture-spread, hot; without its GET /health run) first against the
# reference, then against `tally`: the same generator and seed, each on a fresh PostgreSQL
# cluster. The reference is `tally-bare` taking the same requests, or with REFERENCE=<scenario>
# Tally itself on another scenario (`make bench-hot`: the hot installations against the spread
# case), or with REFERENCE_TALLY=<binary> another build of Tally on the same scenario (a change
# before and after: `cp target/release/tally /tmp/tally-before`, change, build, pair). On a shared machine one run varies by ±20%; a pair's two runs see about the same
# neighbours, so the ratio within a pair is steadier than either figure, and the median over the
# pairs is the figure to quote.
#
# Prints a table (each run, then the medians) and writes every figure to BENCH_PAIR_REPORT
# (target/bench-pair-SCENARIO.json), and whether Tally met the issue's targets: >= 0.9 of the
# reference's requests/s, p99 <= 20 ms, nothing lost, RSS <= 64 MiB. Exit status 1 when a run
# lost an event (what the database counts != what was acknowledged).
#
# Knobs: PAIRS (3), REFERENCE (bare), REFERENCE_TALLY, and bench.sh's BENCH_DURATION, BENCH_WARMUP,
# BENCH_CONNECTIONS, BENCH_GZIP_PERCENT, BENCH_WAITS, KNOWN_POOL.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
pairs=${PAIRS:-3}
scenario=${SCENARIO:-submit}
reference=${REFERENCE:-bare}
case "$pairs" in
    '' | *[!0-9]* | 0) echo "PAIRS must be a positive number, not $pairs" >&2; exit 2 ;;
esac
summary=${BENCH_PAIR_REPORT:-$root/target/bench-pair-$scenario.json}
runs=$(mktemp -d /tmp/tally-bench-pair.XXXXXX)
trap 'rm -rf "$runs"' EXIT

if [ -n "${REFERENCE_TALLY:-}" ]; then
    reference_run=(BENCH_SERVER=tally "BENCH_TALLY=$REFERENCE_TALLY" "BENCH_SCENARIO=$scenario")
    reference_label="tally@$(basename "$REFERENCE_TALLY")"
elif [ "$reference" = bare ]; then
    reference_run=(BENCH_SERVER=bare "BENCH_SCENARIO=$scenario")
    reference_label=bare
else
    reference_run=(BENCH_SERVER=tally "BENCH_SCENARIO=$reference")
    reference_label="tally:$reference"
fi
for pair in $(seq "$pairs"); do
    echo "bench-pair: pair $pair of $pairs, $reference_label" >&2
    env "${reference_run[@]}" BENCH_HEALTH=0 BENCH_REPORT="$runs/$pair-reference.json" \
        "$root/load-tests/bench.sh" >/dev/null
    echo "bench-pair: pair $pair of $pairs, tally:$scenario" >&2
    env BENCH_SERVER=tally "BENCH_SCENARIO=$scenario" BENCH_HEALTH=0 \
        BENCH_REPORT="$runs/$pair-measured.json" "$root/load-tests/bench.sh" >/dev/null
done

mkdir -p "$(dirname "$summary")"
python3 - "$runs" "$pairs" "$summary" "$reference_label" "tally:$scenario" \
    "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" <<'PY'
import datetime, json, statistics, sys
runs, pairs, summary, ref_label, measured_label, commit = sys.argv[1:7]
pairs = int(pairs)
sides = ("reference", "measured")
labels = {"reference": ref_label, "measured": measured_label}

def figures(report):
    submit = report["submit"]
    if not submit["duration_secs"]:
        # A fixed count (the hot pattern) that the reference sent within the warm-up.
        sys.exit("bench-pair: a run measured nothing: every request fell in the warm-up; "
                 "run it with BENCH_WARMUP=0s")
    return {
        "throughput_rps": submit["throughput_rps"],
        "events_per_sec": submit["events_per_sec"],
        "p50_ms": submit["latency_ms"]["p50"],
        "p99_ms": submit["latency_ms"]["p99"],
        "accepted_in_window": report["accepted_in_window"],
        "non_200": sum(n for s, n in submit["status_counts"].items() if s != "200"),
        "transport_errors": submit["transport_errors"],
        "acknowledged": submit["acknowledged"],
        "expected_events": report["expected_events"],
        "stored_events": report["stored_events"],
        "acknowledged_equals_stored": report["acknowledged_equals_stored"],
        "cpu_secs": submit["cpu_secs"],
        "cpu_secs_per_1000_accepted": report["cpu_secs_per_1000_accepted"],
        # Cores the three kept busy: well under 2 on this machine means neighbours took the rest.
        "cores_used": round(sum(submit["cpu_secs"].values()) / submit["duration_secs"], 2),
        "load_average_before": report["machine"]["load_average_before"][0],
        "load_average_after": report["machine"]["load_average_after"][0],
        "server_rss_peak_mib": report["server_rss_mib"]["peak"],
        "wait_samples": report["wait_samples"],
    }

rows = []
for pair in range(1, pairs + 1):
    ref, measured = (figures(json.load(open(f"{runs}/{pair}-{s}.json"))) for s in sides)
    ratio = lambda key: round(measured[key] / ref[key], 3) if ref[key] else None
    rows.append({"pair": pair, "reference": ref, "measured": measured,
                 "ratio_throughput": ratio("throughput_rps"), "ratio_p99": ratio("p99_ms")})

def median(path):
    values = [r for r in (path(row) for row in rows) if r is not None]
    return round(statistics.median(values), 4) if values else None

cpu = lambda side, who: lambda row: row[side]["cpu_secs_per_1000_accepted"].get(who)
medians = {
    "ratio_throughput": median(lambda r: r["ratio_throughput"]),
    "ratio_p99": median(lambda r: r["ratio_p99"]),
}
for side in sides:
    medians[side] = {
        "throughput_rps": median(lambda r: r[side]["throughput_rps"]),
        "events_per_sec": median(lambda r: r[side]["events_per_sec"]),
        "p99_ms": median(lambda r: r[side]["p99_ms"]),
        "server_rss_peak_mib": median(lambda r: r[side]["server_rss_peak_mib"]),
        "cpu_secs_per_1000_accepted": {
            who: median(cpu(side, who)) for who in ("server", "postgres", "generator")
        },
    }
first = json.load(open(f"{runs}/1-measured.json"))["submit"]
every_run_kept = all(row[s]["acknowledged_equals_stored"] for row in rows for s in sides)
rss_max = max(row["measured"]["server_rss_peak_mib"] for row in rows)
targets = {
    ">= 0.9 of the reference's requests/s": (medians["ratio_throughput"] or 0) >= 0.9,
    "p99 <= 20 ms": medians["measured"]["p99_ms"] <= 20,
    "0 lost": every_run_kept,
    "RSS <= 64 MiB": rss_max <= 64,
}
result = {
    "reference": ref_label,
    "measured": measured_label,
    "commit": commit,
    "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "scenario": {k: first[k] for k in ("target", "mode", "connections", "installations", "seed",
                                       "warmup_secs", "duration_secs")},
    "pairs": rows,
    "medians": medians,
    "every_run_acknowledged_equals_stored": every_run_kept,
    "targets_met": targets,
}
with open(summary, "w") as f:
    json.dump(result, f, indent=2)
    f.write("\n")

cols = ("pair", "server", "req/s", "events/s", "p99 ms", "server CPU s/1k", "PG CPU s/1k",
        "gen CPU s/1k", "cores", "RSS MiB", "acked ev", "stored ev", "ok", "load")
table = [cols]
fmt = lambda v: "-" if v is None else f"{v:.4f}"
def line(pair, side, fig):
    per = fig["cpu_secs_per_1000_accepted"]
    return (str(pair), labels[side], f"{fig['throughput_rps']:,.0f}",
            f"{fig['events_per_sec']:,.0f}", f"{fig['p99_ms']:.1f}",
            fmt(per.get("server")), fmt(per.get("postgres")), fmt(per.get("generator")),
            f"{fig['cores_used']:.2f}", f"{fig['server_rss_peak_mib']:.0f}",
            str(fig["expected_events"]), str(fig["stored_events"]),
            "yes" if fig["acknowledged_equals_stored"] else "NO",
            f"{fig['load_average_before']:.1f}->{fig['load_average_after']:.1f}")
for row in rows:
    for side in sides:
        table.append(line(row["pair"], side, row[side]))
widths = [max(len(r[i]) for r in table) for i in range(len(cols))]
for r in table:
    print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
print()
print(f"{measured_label} / {ref_label} requests/s by pair: "
      + ", ".join(fmt(r["ratio_throughput"]) for r in rows)
      + f"; median {fmt(medians['ratio_throughput'])}")
for side in sides:
    m = medians[side]
    c = m["cpu_secs_per_1000_accepted"]
    print(f"median {labels[side]}: {m['throughput_rps']:,.0f} requests/s, "
          f"{m['events_per_sec']:,.0f} events/s, p99 {m['p99_ms']:.1f} ms, "
          f"RSS peak {m['server_rss_peak_mib']:.0f} MiB, CPU s per 1,000 accepted requests: "
          f"server {fmt(c['server'])}, PostgreSQL {fmt(c['postgres'])}, "
          f"generator {fmt(c['generator'])}")
for row in rows:
    for side in sides:
        w = row[side]["wait_samples"]
        if w["samples"]:
            top = ", ".join(f"{k} {v}" for k, v in list(w["backend_states"].items())[:6])
            print(f"pair {row['pair']} {labels[side]}: active backends over {w['samples']} samples: "
                  f"{top}; ungranted locks max {w['locks_waiting_max']}, "
                  f"mean {w['locks_waiting_mean']}")
print(f"acknowledged == stored in every run: {'yes' if every_run_kept else 'NO'}")
print("targets: " + "; ".join(f"{k}: {'met' if ok else 'MISSED'}" for k, ok in targets.items()))
print(f"written to {summary}")
sys.exit(0 if every_run_kept else 1)
PY
