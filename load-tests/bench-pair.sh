#!/usr/bin/env bash
# `make bench-pair`: Tally against the bare pipeline, in pairs run back to back.
#
# Each pair runs the standard submit scenario (load-tests/bench.sh, without its GET /health
# run) first against `tally-bare`, then against `tally`: the same generator and seed, each on
# a fresh PostgreSQL cluster. On a shared machine one run varies by ±20%; a pair's two runs see
# about the same neighbours, so the ratio Tally/bare within a pair is steadier than either
# figure, and the median over the pairs is the figure to quote.
#
# Prints a table (each run, then the medians) and writes every figure to BENCH_PAIR_REPORT
# (target/bench-pair.json). Exit status 1 when a run lost a report (acknowledged != stored).
#
# Knobs: PAIRS (3), and bench.sh's BENCH_DURATION, BENCH_WARMUP, BENCH_CONNECTIONS.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
pairs=${PAIRS:-3}
case "$pairs" in
    '' | *[!0-9]* | 0) echo "PAIRS must be a positive number, not $pairs" >&2; exit 2 ;;
esac
summary=${BENCH_PAIR_REPORT:-$root/target/bench-pair.json}
runs=$(mktemp -d /tmp/tally-bench-pair.XXXXXX)
trap 'rm -rf "$runs"' EXIT

for pair in $(seq "$pairs"); do
    for server in bare tally; do
        echo "bench-pair: pair $pair of $pairs, $server" >&2
        BENCH_SERVER=$server BENCH_HEALTH=0 BENCH_REPORT="$runs/$pair-$server.json" \
            "$root/load-tests/bench.sh" >/dev/null
    done
done

mkdir -p "$(dirname "$summary")"
python3 - "$runs" "$pairs" "$summary" "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" <<'PY'
import datetime, json, statistics, sys
runs, pairs, summary, commit = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

def figures(report):
    submit = report["submit"]
    return {
        "throughput_rps": submit["throughput_rps"],
        "p50_ms": submit["latency_ms"]["p50"],
        "p99_ms": submit["latency_ms"]["p99"],
        "accepted_in_window": report["accepted_in_window"],
        "non_200": sum(n for s, n in submit["status_counts"].items() if s != "200"),
        "transport_errors": submit["transport_errors"],
        "acknowledged": submit["acknowledged"],
        "stored_rows": report["stored_rows"],
        "acknowledged_equals_stored": report["acknowledged_equals_stored_rows"],
        "cpu_secs": submit["cpu_secs"],
        "cpu_secs_per_1000_accepted": report["cpu_secs_per_1000_accepted"],
        # Cores the three kept busy: well under 2 on this machine means neighbours took the rest.
        "cores_used": round(sum(submit["cpu_secs"].values()) / submit["duration_secs"], 2),
        "load_average_before": report["machine"]["load_average_before"][0],
        "load_average_after": report["machine"]["load_average_after"][0],
        "server_rss_peak_mib": report["server_rss_mib"]["peak"],
    }

rows = []
for pair in range(1, pairs + 1):
    bare, tally = (figures(json.load(open(f"{runs}/{pair}-{s}.json"))) for s in ("bare", "tally"))
    ratio = lambda key: round(tally[key] / bare[key], 3) if bare[key] else None
    rows.append({"pair": pair, "bare": bare, "tally": tally,
                 "ratio_throughput": ratio("throughput_rps"), "ratio_p99": ratio("p99_ms")})

def median(path):
    values = [r for r in (path(row) for row in rows) if r is not None]
    return round(statistics.median(values), 4) if values else None

cpu = lambda side, who: lambda row: row[side]["cpu_secs_per_1000_accepted"].get(who)
medians = {
    "ratio_throughput": median(lambda r: r["ratio_throughput"]),
    "ratio_p99": median(lambda r: r["ratio_p99"]),
}
for side in ("bare", "tally"):
    medians[side] = {
        "throughput_rps": median(lambda r: r[side]["throughput_rps"]),
        "p99_ms": median(lambda r: r[side]["p99_ms"]),
        "cpu_secs_per_1000_accepted": {
            who: median(cpu(side, who)) for who in ("server", "postgres", "generator")
        },
    }
first = json.load(open(f"{runs}/1-tally.json"))["submit"]
result = {
    "commit": commit,
    "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "scenario": {k: first[k] for k in ("target", "mode", "connections", "installations", "seed",
                                       "warmup_secs", "duration_secs")},
    "pairs": rows,
    "medians": medians,
    "every_run_acknowledged_equals_stored": all(
        row[s]["acknowledged_equals_stored"] for row in rows for s in ("bare", "tally")),
}
with open(summary, "w") as f:
    json.dump(result, f, indent=2)
    f.write("\n")

cols = ("pair", "server", "reports/s", "p99 ms", "server CPU s/1k", "PG CPU s/1k",
        "gen CPU s/1k", "cores", "acked", "stored", "ok", "load")
table = [cols]
fmt = lambda v: "-" if v is None else f"{v:.4f}"
def line(pair, side, fig):
    per = fig["cpu_secs_per_1000_accepted"]
    return (str(pair), side, f"{fig['throughput_rps']:,.0f}", f"{fig['p99_ms']:.1f}",
            fmt(per.get("server")), fmt(per.get("postgres")), fmt(per.get("generator")),
            f"{fig['cores_used']:.2f}",
            str(fig["acknowledged"]), str(fig["stored_rows"]),
            "yes" if fig["acknowledged_equals_stored"] else "NO",
            f"{fig['load_average_before']:.1f}->{fig['load_average_after']:.1f}")
for row in rows:
    table.append(line(row["pair"], "bare", row["bare"]))
    table.append(line(row["pair"], "tally", row["tally"]))
widths = [max(len(r[i]) for r in table) for i in range(len(cols))]
for r in table:
    print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
print()
print("Tally/bare throughput by pair: " + ", ".join(fmt(r["ratio_throughput"]) for r in rows)
      + f"; median {fmt(medians['ratio_throughput'])}")
for side in ("bare", "tally"):
    m = medians[side]
    c = m["cpu_secs_per_1000_accepted"]
    print(f"median {side:5}: {m['throughput_rps']:,.0f} reports/s, p99 {m['p99_ms']:.1f} ms, "
          f"CPU s per 1,000 accepted: server {fmt(c['server'])}, PostgreSQL {fmt(c['postgres'])}, "
          f"generator {fmt(c['generator'])}")
print(f"acknowledged == stored in every run: "
      f"{'yes' if result['every_run_acknowledged_equals_stored'] else 'NO'}")
print(f"written to {summary}")
sys.exit(0 if result["every_run_acknowledged_equals_stored"] else 1)
PY
