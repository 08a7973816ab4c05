#!/usr/bin/env bash
# Throwaway PostgreSQL server for the test suite.
#
#   scripts/postgres.sh start   print the SQLAlchemy URL of a running server on stdout,
#                               starting a private cluster when needed
#   scripts/postgres.sh stop    stop the cluster `start` created and delete its files
#   scripts/postgres.sh status  print the URL and exit 0 if that cluster is running
#
# `start` does nothing when SHIPYARD_TEST_POSTGRES_URL already points at a server that
# answers. Otherwise it installs PostgreSQL with apt-get if it is missing, and runs a new
# cluster from a temporary directory on a free loopback port, with trust authentication.
# The cluster never touches the distribution's default cluster.
#
# Only the URL goes to stdout; progress and errors go to stderr, so callers can write
#   url=$(scripts/postgres.sh start)
#
# Environment:
#   SHIPYARD_TEST_POSTGRES_URL  an existing server to use instead of starting one
#   PG_BIN                      directory holding initdb and pg_ctl (default: newest
#                               /usr/lib/postgresql/*/bin)
set -euo pipefail

readonly REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly STATE_DIR="$REPO_ROOT/.pgtest"
readonly STATE_FILE="$STATE_DIR/state"
readonly DB_NAME="shipyard_test"
readonly DB_USER="postgres"
# Every cluster lives in a directory with this prefix; `stop` refuses to delete anything else.
readonly TMP_PREFIX="shipyard-pg."

log() { echo "postgres.sh: $*" >&2; }
die() {
    log "error: $*"
    exit 1
}

usage() {
    echo "usage: $0 {start|stop|status}" >&2
    exit 2
}

# --- locating and installing PostgreSQL ------------------------------------------------

find_pg_bin() {
    if [[ -n "${PG_BIN:-}" ]]; then
        echo "$PG_BIN"
        return
    fi
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    echo "$dir"
}

have_pg_bin() {
    local bin=$1
    [[ -n "$bin" && -x "$bin/initdb" && -x "$bin/pg_ctl" && -x "$bin/pg_isready" ]]
}

install_postgres() {
    if [[ $EUID -ne 0 ]]; then
        die "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin and we are not root;" \
            "install them (apt-get install postgresql), set PG_BIN, or set SHIPYARD_TEST_POSTGRES_URL"
    fi
    command -v apt-get >/dev/null || die "PostgreSQL is not installed and apt-get is not available"
    log "installing PostgreSQL with apt-get (this takes a minute)"
    # The lock timeout rides out unattended-upgrades on freshly booted CI machines.
    local apt=(apt-get -o DPkg::Lock::Timeout=300 -qq)
    "${apt[@]}" update >&2 || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends postgresql >&2 \
        || die "apt-get install postgresql failed"
}

# --- running commands as the cluster owner ---------------------------------------------

# PostgreSQL refuses to run as root, so as root everything runs as the `postgres` user.
# The working directory is the cluster's own, since the caller's may be unreadable to it.
as_owner() {
    local dir=$1
    shift
    if [[ $EUID -eq 0 ]]; then
        (cd "$dir" && runuser -u "$DB_USER" -- "$@")
    else
        (cd "$dir" && "$@")
    fi
}

# --- state file -------------------------------------------------------------------------

state_get() {
    local key=$1
    [[ -f "$STATE_FILE" ]] || return 1
    local line
    line=$(grep -m 1 "^$key=" "$STATE_FILE") || return 1
    echo "${line#*=}"
}

write_state() {
    local dir=$1 port=$2 bin=$3 url=$4
    mkdir -p "$STATE_DIR"
    local tmp="$STATE_FILE.tmp"
    {
        echo "DIR=$dir"
        echo "PORT=$port"
        echo "PG_BIN=$bin"
        echo "URL=$url"
    } >"$tmp"
    mv "$tmp" "$STATE_FILE"
}

make_url() { echo "postgresql+psycopg://$DB_USER@127.0.0.1:$1/$DB_NAME"; }

# --- checks -----------------------------------------------------------------------------

# Is the server behind a SQLAlchemy URL accepting connections?
url_reachable() {
    local url=$1
    local libpq_url
    libpq_url=$(echo "$url" | sed -E 's#^postgres(ql)?\+[A-Za-z0-9_]+://#postgresql://#')
    local bin
    bin=$(find_pg_bin)
    if have_pg_bin "$bin"; then
        "$bin/pg_isready" -q -t 5 -d "$libpq_url"
    elif command -v pg_isready >/dev/null; then
        pg_isready -q -t 5 -d "$libpq_url"
    else
        # No client tools yet (fresh machine): settle for a TCP connection.
        python3 - "$libpq_url" <<'EOF'
import socket, sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
socket.create_connection((u.hostname or "127.0.0.1", u.port or 5432), timeout=5).close()
EOF
    fi
}

# Is the cluster recorded in the state file running?
state_cluster_running() {
    local dir port bin
    dir=$(state_get DIR) && port=$(state_get PORT) && bin=$(state_get PG_BIN) || return 1
    [[ -f "$dir/data/postmaster.pid" ]] || return 1
    "$bin/pg_isready" -q -t 5 -h 127.0.0.1 -p "$port" >/dev/null
}

# Is a postmaster running on the data directory under $1? A crashed server leaves its pid
# file behind, and in containers whose PID 1 does not reap, a dead one lingers as a zombie.
server_running() {
    local dir=$1 bin=$2 pid state
    [[ -f "$dir/data/postmaster.pid" ]] || return 1
    as_owner "$dir" "$bin/pg_ctl" status -D "$dir/data" >/dev/null 2>&1 || return 1
    pid=$(head -n 1 "$dir/data/postmaster.pid")
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 0
    [[ "$state" != "Z" ]]
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# --- commands ---------------------------------------------------------------------------

cmd_status() {
    if state_cluster_running; then
        state_get URL
    else
        log "no test cluster is running"
        return 1
    fi
}

cmd_start() {
    if [[ -n "${SHIPYARD_TEST_POSTGRES_URL:-}" ]]; then
        if url_reachable "$SHIPYARD_TEST_POSTGRES_URL" 2>/dev/null; then
            log "using the server at SHIPYARD_TEST_POSTGRES_URL; nothing to start"
            echo "$SHIPYARD_TEST_POSTGRES_URL"
            return
        fi
        log "SHIPYARD_TEST_POSTGRES_URL is set but its server does not answer; starting a private one"
    fi

    if [[ -f "$STATE_FILE" ]]; then
        if state_cluster_running; then
            log "test cluster already running (stop it with: $0 stop)"
            state_get URL
            return
        fi
        log "cleaning up a test cluster left behind by an earlier run"
        cmd_stop
    fi

    local bin
    bin=$(find_pg_bin)
    if ! have_pg_bin "$bin"; then
        [[ -n "${PG_BIN:-}" ]] && die "PG_BIN=$PG_BIN does not hold initdb, pg_ctl and pg_isready"
        install_postgres
        bin=$(find_pg_bin)
        have_pg_bin "$bin" || die "PostgreSQL was installed but initdb/pg_ctl are not under /usr/lib/postgresql/*/bin"
    fi
    if [[ $EUID -eq 0 ]]; then
        id -u "$DB_USER" >/dev/null 2>&1 || die "system user '$DB_USER' does not exist (it comes with the postgresql package)"
        command -v runuser >/dev/null || die "runuser (util-linux) is needed to run PostgreSQL as '$DB_USER'"
    fi

    # Under /tmp rather than $TMPDIR: the postgres user must be able to reach it.
    local dir
    dir=$(mktemp -d "/tmp/${TMP_PREFIX}XXXXXX")
    # Until the state file is written, a failure must not leave the directory or a server behind.
    trap "start_failed '$dir' '$bin'" EXIT
    if [[ $EUID -eq 0 ]]; then
        chown "$DB_USER:" "$dir"
    fi

    log "creating a cluster in $dir with $bin"
    as_owner "$dir" "$bin/initdb" -D "$dir/data" -U "$DB_USER" --auth=trust \
        --encoding=UTF8 --no-locale --no-sync >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; die "initdb failed"; }

    # A throwaway cluster: durability is not wanted, speed and many connections are
    # (the suite runs 8 processes, each with a connection pool).
    cat >>"$dir/data/postgresql.conf" <<EOF

# shipyard test cluster (scripts/postgres.sh)
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF

    # Another process can take the port between picking and binding it, so try a few.
    local port="" attempt
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        if as_owner "$dir" "$bin/pg_ctl" start -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-p $port" >/dev/null; then
            break
        fi
        log "server did not start on port $port (attempt $attempt):"
        tail -n 5 "$dir/server.log" >&2 || true
        port=""
    done
    [[ -n "$port" ]] || die "could not start PostgreSQL; see the log above"

    local waited=0
    until "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; do
        ((waited++ < 30)) || die "server on port $port never became ready"
        sleep 1
    done

    as_owner "$dir" "$bin/createdb" -h 127.0.0.1 -p "$port" -U "$DB_USER" "$DB_NAME" \
        || die "createdb $DB_NAME failed"

    local url
    url=$(make_url "$port")
    write_state "$dir" "$port" "$bin" "$url"
    trap - EXIT
    log "PostgreSQL $("$bin/pg_ctl" --version | awk '{print $3}') running on 127.0.0.1:$port (stop with: $0 stop)"
    echo "$url"
}

start_failed() {
    local status=$? dir=$1 bin=$2
    if [[ -f "$dir/data/postmaster.pid" ]]; then
        as_owner "$dir" "$bin/pg_ctl" stop -D "$dir/data" -m immediate >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    exit "$status"
}

cmd_stop() {
    if [[ ! -f "$STATE_FILE" ]]; then
        log "no test cluster to stop"
        return 0
    fi
    local dir bin
    dir=$(state_get DIR) || dir=""
    bin=$(state_get PG_BIN) || bin=""

    if [[ -n "$dir" ]]; then
        # Guard the rm -rf below against a damaged state file.
        [[ "$(basename "$dir")" == "$TMP_PREFIX"* && "$dir" == /* ]] \
            || die "refusing to delete '$dir' named in $STATE_FILE; remove it by hand"
        [[ -x "$bin/pg_ctl" ]] || bin=$(find_pg_bin)
        if server_running "$dir" "$bin"; then
            if ! as_owner "$dir" "$bin/pg_ctl" stop -D "$dir/data" -m fast -w -t 60 >/dev/null; then
                log "fast shutdown failed; shutting down immediately"
                as_owner "$dir" "$bin/pg_ctl" stop -D "$dir/data" -m immediate -w -t 30 >/dev/null \
                    || ! server_running "$dir" "$bin" \
                    || die "could not stop the server in $dir/data"
            fi
        fi
        rm -rf "$dir"
    fi
    rm -f "$STATE_FILE"
    rmdir "$STATE_DIR" 2>/dev/null || true
    log "test cluster stopped${dir:+ and $dir deleted}"
}

[[ $# -eq 1 ]] || usage
case "$1" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
*) usage ;;
esac
