#!/usr/bin/env bash
# A private PostgreSQL cluster for development, tests and benchmarks: loopback only, trust auth,
# from the machine's PostgreSQL server binaries. As root it runs as the `postgres` user.
#
#   scripts/pg.sh start DIR PORT [postgres -c options...]   init DIR if needed, start if stopped
#   scripts/pg.sh stop DIR [immediate]                       immediate: as a crash would
#   scripts/pg.sh standby DIR PORT PRIMARY_PORT [options...] a streaming standby of a cluster
#   scripts/pg.sh promote DIR                                the standby becomes a primary
#   scripts/pg.sh bindir                                     where initdb/pg_ctl/pg_dump live
#   scripts/pg.sh devdir CLONE                               where CLONE's dev cluster lives
set -euo pipefail

bindir() {
    local dir
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return
    fi
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            echo "$dir"
            return
        fi
    done
    echo "PostgreSQL server binaries (initdb, pg_ctl) not found." >&2
    echo "Install them with: apt-get install -y postgresql   (Debian/Ubuntu)" >&2
    exit 1
}

# Runs a PostgreSQL binary as a user allowed to own a cluster.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start() {
    local dir=$1 port=$2
    shift 2
    local bin
    bin=$(bindir)
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$dir"
        chmod 700 "$dir"
        if ! runuser -u postgres -- test -w "$dir"; then
            echo "the postgres user cannot write to $dir (a parent directory is closed to it)" >&2
            exit 1
        fi
    fi
    if [ ! -f "$dir/PG_VERSION" ]; then
        # --no-sync: a cluster lost to a crash in the seconds after its creation is made anew;
        # the flush costs tests that start their own cluster two seconds each.
        as_owner "$bin/initdb" -D "$dir" -A trust -U postgres --encoding=UTF8 --locale=C --no-sync >"$dir.initdb.log" 2>&1 || {
            cat "$dir.initdb.log" >&2
            exit 1
        }
    fi
    if as_owner "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
        return
    fi
    local options="-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=300"
    local extra
    for extra in "$@"; do options="$options -c $extra"; done
    as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -o "$options" -w -t 60 start >/dev/null || {
        tail -20 "$dir/server.log" >&2
        exit 1
    }
}

stop() {
    local dir=$1 mode=${2:-fast} bin
    bin=$(bindir)
    if [ -f "$dir/PG_VERSION" ]; then
        as_owner "$bin/pg_ctl" -D "$dir" -m "$mode" -w stop >/dev/null 2>&1 || true
    fi
}

# A copy of the primary on PRIMARY_PORT (pg_basebackup, WAL streamed), started as its standby.
standby() {
    local dir=$1 port=$2 primary=$3
    shift 3
    local bin
    bin=$(bindir)
    if [ ! -f "$dir/PG_VERSION" ]; then
        mkdir -p "$dir"
        if [ "$(id -u)" = 0 ]; then
            chown postgres: "$dir"
            chmod 700 "$dir"
        fi
        as_owner "$bin/pg_basebackup" -h 127.0.0.1 -p "$primary" -U postgres -D "$dir" \
            -X stream -R >"$dir.basebackup.log" 2>&1 || {
            cat "$dir.basebackup.log" >&2
            exit 1
        }
    fi
    start "$dir" "$port" "$@"
}

promote() {
    as_owner "$(bindir)/pg_ctl" -D "$1" -w promote >/dev/null
}

# The development cluster of a clone lives in it (.tally-dev/pg), unless we are root and the
# `postgres` user, who then runs the cluster, cannot reach the clone (under /root, in a mktemp
# directory): then in a directory under /var/tmp named after the clone's path.
devdir() {
    local clone name hash parent
    clone=$(cd "$1" && pwd -P)
    if [ "$(id -u)" != 0 ] || runuser -u postgres -- test -x "$clone" 2>/dev/null; then
        echo "$clone/.tally-dev/pg"
        return
    fi
    name=$(basename "$clone" | tr -c 'A-Za-z0-9._\n-' '_')
    hash=$(printf '%s' "$clone" | sha256sum | cut -c1-12)
    parent="/var/tmp/tally-dev-$name-$hash"
    # /var/tmp is everyone's: a cluster we start as root must be in a directory root made.
    if [ -L "$parent" ] || { [ -e "$parent" ] && [ "$(stat -c %u "$parent")" != 0 ]; }; then
        echo "$parent is not a directory owned by root; remove it to start the dev cluster" >&2
        exit 1
    fi
    echo "$parent/pg"
}

case "${1:-}" in
    start) shift; start "$@" ;;
    stop) shift; stop "$@" ;;
    standby) shift; standby "$@" ;;
    promote) shift; promote "$@" ;;
    bindir) bindir ;;
    devdir) shift; devdir "$@" ;;
    *) echo "usage: $0 start DIR PORT [option=value...] | stop DIR [immediate] | standby DIR PORT PRIMARY_PORT [option=value...] | promote DIR | bindir | devdir CLONE" >&2; exit 2 ;;
esac
