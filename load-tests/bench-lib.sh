# Sourced by the statistics benchmarks (stats-bench.sh, summary-bench.sh,
# activity-stats-bench.sh): a private PostgreSQL cluster in a fresh directory, `tally serve` on
# it, both removed on exit, and the timing of a route. Needs `root` (the checkout) and `tally`.

# bench_cluster NAME [postgres settings...]: sets `dir`, `pg_port`, `app_port` and
# `DATABASE_URL`, starts the cluster, and on exit stops the processes in `poll_pid`, `load_pid`
# and `server_pid` (whichever a script set), then the cluster, and removes the directory.
bench_cluster() {
    local name=$1
    shift
    dir=$(mktemp -d "/tmp/tally-$name.XXXXXX")
    chmod 755 "$dir"
    pg_port=$("$root/scripts/free-port.sh")
    app_port=$("$root/scripts/free-port.sh")
    server_pid="" load_pid="" poll_pid=""
    trap bench_cleanup EXIT
    "$root/scripts/pg.sh" start "$dir/data" "$pg_port" "$@" >&2
    export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"
}

bench_cleanup() {
    local pid
    for pid in "$poll_pid" "$load_pid" "$server_pid"; do
        if [ -n "$pid" ]; then kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; fi
    done
    "$root/scripts/pg.sh" stop "$dir/data"
    rm -rf "$dir"
}

# bench_serve [VAR=value...]: `tally serve` on `app_port` with the keys bench-ingest and
# bench-admin, no limits, logs at warn in `$dir/server.log` (the arguments add to or override
# that environment); returns once it is ready, with `server_pid` set.
bench_serve() {
    env TALLY_BIND="127.0.0.1:$app_port" TALLY_INGEST_KEYS=bench-ingest \
        TALLY_ADMIN_KEYS=bench-admin TALLY_RATE_LIMIT_PER_HOUR=0 TALLY_EVENT_RATE_LIMIT_PER_HOUR=0 \
        TALLY_IP_RATE_PER_MINUTE=0 \
        RUST_LOG=warn "$@" "$tally" serve >"$dir/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 100); do
        curl -fs "http://127.0.0.1:$app_port/ready" >/dev/null && return
        sleep 0.2
    done
    echo "tally serve did not become ready:" >&2
    tail -5 "$dir/server.log" >&2
    exit 1
}

# time_route PATH REQUESTS: "p50 p95 p99" in ms of REQUESTS GETs of PATH with the admin key on
# one keep-alive connection, as a dashboard holds it, after 10 warm-up ones (prepared
# statements, pool); "FAILED" when one was not a success.
time_route() {
    local url="http://127.0.0.1:$app_port$1" requests=$2 transfers=() p
    for _ in $(seq $((requests + 10))); do transfers+=(-o /dev/null "$url"); done
    if ! curl -fs -w '%{time_total}\n' -H "X-API-Key: bench-admin" "${transfers[@]}" \
        | tail -n "$requests" | sort -n >"$dir/times"; then
        echo FAILED
        return
    fi
    for p in 50 95 99; do
        sed -n "$(( (requests * p + 99) / 100 ))p" "$dir/times" | awk '{printf "%.2f ", $1 * 1000}'
    done
    echo
}

# elapsed COMMAND...: the seconds COMMAND took (its output dropped, logs at warn); fails as
# COMMAND failed (called as `x=$(elapsed ...)`, where `set -e` does not reach).
elapsed() {
    local a b
    a=$(date +%s.%N)
    RUST_LOG=${BENCH_RUST_LOG:-warn} "$@" >/dev/null || return
    b=$(date +%s.%N)
    echo "$b - $a" | bc
}
