#!/usr/bin/env bash
# ops/local/pg.sh — a private PostgreSQL cluster for Observatory development
# and tests: its own data directory under the git-ignored run directory, its
# own port on 127.0.0.1, trust authentication, database and role `observatory`.
# Uses the distribution's server binaries (no Docker, no system cluster).
set -euo pipefail

PROG=postgres
# shellcheck source=ops/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    cat <<EOF
Usage: ops/local/pg.sh COMMAND

Private PostgreSQL cluster on 127.0.0.1, trust auth, database/role "observatory".

Commands:
  start    initdb on first use, start, wait until it accepts connections,
           create database and role "observatory" if missing; prints
           "postgres: URL". Already running: says so, exit 0
  stop     fast shutdown (pg_ctl stop -m fast, bounded), exit 0 if not running
  status   one line: running (pid, URL) or stopped; exit 0 when running,
           3 when stopped
  url      print the connection URL (postgresql://observatory@127.0.0.1:PORT/observatory)
  psql     run psql on the database (extra arguments are passed on)

Environment:
  OBS_RUN                  run dir (default: <repo>/.run); cluster in \$OBS_RUN/pg
  OBS_PG_PORT              TCP port on 127.0.0.1 (default: 15432)
  OBS_PG_BINDIR            server binaries (default: pg_config --bindir, then
                           /usr/lib/postgresql/15/bin, then newest installed)
  OBS_PG_USER              when run as root: unprivileged system user that owns
                           and runs the cluster (default: observatory; created
                           with useradd --system if missing)
  OBS_PG_START_TIMEOUT     seconds until the server answers (default: 60)
  OBS_PG_RECOVERY_TIMEOUT  seconds it may spend starting up, e.g. replaying
                           WAL after an unclean shutdown (default: 1800)
  OBS_PG_STOP_TIMEOUT      seconds (default: 60)

Layout: \$OBS_RUN/pg/data (PGDATA, server log in data/log/), the unix socket in
\$OBS_RUN/pg. PostgreSQL refuses to run as root: as root, everything runs as
OBS_PG_USER via runuser. If that user cannot reach \$OBS_RUN (a parent
directory is not traversable), the cluster goes to
/var/tmp/observatory-pg-<hash of the run dir path> and \$OBS_RUN/pg becomes a
symlink to it. Remove \$OBS_RUN/pg (and its target) while stopped to start afresh.
EOF
}

PORT=${OBS_PG_PORT:-15432}
START_TIMEOUT=${OBS_PG_START_TIMEOUT:-60}
RECOVERY_TIMEOUT=${OBS_PG_RECOVERY_TIMEOUT:-1800}
STOP_TIMEOUT=${OBS_PG_STOP_TIMEOUT:-60}
DB=observatory
ROLE=observatory
URL="postgresql://$ROLE@127.0.0.1:$PORT/$DB"
for v in PORT START_TIMEOUT RECOVERY_TIMEOUT STOP_TIMEOUT; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "bad $v value '${!v}': expected a number"
done

find_bindir() {
    local d
    if [[ -n ${OBS_PG_BINDIR:-} ]]; then
        [[ -x $OBS_PG_BINDIR/pg_ctl ]] || die "OBS_PG_BINDIR=$OBS_PG_BINDIR has no pg_ctl"
        printf '%s\n' "$OBS_PG_BINDIR"
        return 0
    fi
    if command -v pg_config >/dev/null; then
        d=$(pg_config --bindir 2>/dev/null || true)
        if [[ -n $d && -x $d/pg_ctl && -x $d/initdb ]]; then
            printf '%s\n' "$d"
            return 0
        fi
    fi
    if [[ -x /usr/lib/postgresql/15/bin/pg_ctl ]]; then
        echo /usr/lib/postgresql/15/bin
        return 0
    fi
    d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k5,5n | tail -n1)
    if [[ -n $d && -x $d/pg_ctl ]]; then
        printf '%s\n' "$d"
        return 0
    fi
    return 1
}

# ---- who runs the server ------------------------------------------------------

if ((EUID == 0)); then
    PGUSER_SYS=${OBS_PG_USER:-observatory}
    [[ $PGUSER_SYS != root ]] || die "OBS_PG_USER must not be root"
else
    PGUSER_SYS=$(id -un)
fi

ensure_user() {
    ((EUID == 0)) || return 0
    id -u "$PGUSER_SYS" >/dev/null 2>&1 && return 0
    local nologin=/usr/sbin/nologin
    [[ -x $nologin ]] || nologin=/bin/false
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell "$nologin" --comment "Observatory local PostgreSQL" "$PGUSER_SYS" ||
        die "cannot create system user '$PGUSER_SYS' (useradd failed)"
}

# as_pg CMD... — run CMD as the cluster owner, from a directory it can read.
as_pg() {
    if ((EUID == 0)); then
        (cd / && runuser -u "$PGUSER_SYS" -- "$@")
    else
        (cd / && "$@")
    fi
}

# ---- where the cluster lives --------------------------------------------------

PGLINK=$OBS_RUN_DIR/pg
FALLBACK=/var/tmp/observatory-pg-$(printf '%s' "$OBS_RUN_DIR" | sha256sum | cut -c1-12)

# resolve_root — print the cluster root (parent of data/), without creating it.
# Follows the $OBS_RUN/pg symlink that a previous fallback left.
resolve_root() {
    if [[ -L $PGLINK ]]; then
        readlink -f "$PGLINK"
    else
        printf '%s\n' "$PGLINK"
    fi
}

# prepare_root — create the cluster root owned by the server user, falling back
# to /var/tmp when the user cannot traverse the run directory. Prints the root.
prepare_root() {
    local root
    ensure_dir "$OBS_RUN_DIR" 2>/dev/null || true
    if [[ -L $PGLINK ]]; then
        root=$(readlink -f "$PGLINK")
    elif [[ -d $PGLINK ]] || as_pg test -x "$OBS_RUN_DIR" 2>/dev/null; then
        # test -x fails when any parent directory is not searchable either.
        root=$PGLINK
    else
        root=$FALLBACK
        echo "postgres: $PGUSER_SYS cannot traverse $OBS_RUN_DIR; using $root (symlinked from $PGLINK)" >&2
    fi
    if [[ ! -d $root ]]; then
        (umask 022 && mkdir -p "$root") || die "cannot create $root"
    fi
    if ((EUID == 0)); then
        chown "$PGUSER_SYS:" "$root"
        chmod 0755 "$root"
    fi
    as_pg test -x "$root" -a -w "$root" ||
        die "$PGUSER_SYS cannot use $root (a parent directory is not traversable?)"
    if [[ $root != "$PGLINK" && ! -e $PGLINK && ! -L $PGLINK ]]; then
        ln -s "$root" "$PGLINK" 2>/dev/null || true
    fi
    printf '%s\n' "$root"
}

ROOT=$(resolve_root)
PGDATA=$ROOT/data

# The socket path must fit in sun_path (107 bytes); otherwise use a short dir.
socket_dir() {
    local d=$ROOT
    if ((${#d} + ${#PORT} + 10 > 100)); then
        d=/tmp/observatory-pg-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)
    fi
    printf '%s\n' "$d"
}

# running_pid — the postmaster's pid, if our cluster is running.
running_pid() {
    local pid
    [[ -f $PGDATA/postmaster.pid ]] || return 1
    pid=$(head -n1 "$PGDATA/postmaster.pid" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] && pid_alive "$pid" && pid_cmdline_has "$pid" postgres || return 1
    printf '%s\n' "$pid"
}

write_conf() {
    local sock=$1
    # initdb's postgresql.conf stays as generated; our settings are included.
    if ! grep -q "^include_if_exists = 'observatory.conf'" "$PGDATA/postgresql.conf"; then
        printf "\n# Added by ops/local/pg.sh\ninclude_if_exists = 'observatory.conf'\n" |
            as_pg tee -a "$PGDATA/postgresql.conf" >/dev/null
    fi
    as_pg tee "$PGDATA/observatory.conf.tmp" >/dev/null <<EOF
# Generated by ops/local/pg.sh on every start; edit the script, not this file.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$sock'
max_connections = 200
shared_buffers = 1GB
fsync = on
# Write-heavy ingest (docs/adr/0025): with the defaults (max_wal_size 1GB)
# a worker ingest forced a checkpoint every ~17 s, and every page touched
# after each one went into the WAL whole again.
max_wal_size = 8GB
checkpoint_timeout = 15min
checkpoint_completion_target = 0.9
wal_compression = lz4
logging_collector = on
log_directory = 'log'
log_filename = 'postgresql-%a.log'
log_truncate_on_rotation = on
log_rotation_age = 1d
log_rotation_size = 0
log_line_prefix = '%m [%p] %q%u@%d '
log_timezone = 'UTC'
timezone = 'UTC'
EOF
    as_pg mv "$PGDATA/observatory.conf.tmp" "$PGDATA/observatory.conf"
}

psql_q() {
    "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U "$ROLE" "$@"
}

# lock_run — serialise start/stop of this cluster (e.g. under make -j).
lock_run() {
    ensure_dir "$OBS_RUN_DIR"
    exec 9>"$OBS_RUN_DIR/.pg.lock"
    flock -w 120 9 || die "another pg.sh holds $OBS_RUN_DIR/.pg.lock"
}

cmd_start() {
    local pid
    lock_run
    if pid=$(running_pid); then
        echo "postgres: already running (pid $pid) $URL"
        return 0
    fi
    BINDIR=$(find_bindir) || die "PostgreSQL server binaries not found; run ops/local/deps.sh"
    if tcp_open 127.0.0.1 "$PORT"; then
        die "port $PORT on 127.0.0.1 is in use by another process (set OBS_PG_PORT)"
    fi
    ensure_user
    ROOT=$(prepare_root)
    PGDATA=$ROOT/data
    local sock
    sock=$(socket_dir)
    if [[ ! -d $sock ]]; then
        (umask 022 && mkdir -p "$sock")
        ((EUID != 0)) || chown "$PGUSER_SYS:" "$sock"
    fi

    if [[ ! -f $PGDATA/PG_VERSION ]]; then
        if [[ -e $PGDATA ]]; then
            [[ -z $(ls -A "$PGDATA" 2>/dev/null) ]] ||
                die "$PGDATA exists but is not a PostgreSQL cluster; remove it"
        fi
        as_pg "$BINDIR/initdb" -D "$PGDATA" -U "$ROLE" --auth=trust -E UTF8 --locale=C \
            --no-instructions >"$ROOT/initdb.log" 2>&1 ||
            die "initdb failed; see $ROOT/initdb.log"
    fi
    local have_ver
    have_ver=$(cat "$PGDATA/PG_VERSION")
    [[ $BINDIR == */"$have_ver"/bin || $("$BINDIR/pg_ctl" --version) == *" $have_ver"* ]] ||
        die "cluster in $PGDATA is PostgreSQL $have_ver but binaries in $BINDIR are $("$BINDIR/pg_ctl" --version | awk '{print $NF}')"
    write_conf "$sock"

    # pg_ctl -l catches messages from before the logging collector is up;
    # 9>&-: the postmaster must not inherit (and hold) the start/stop lock.
    as_pg "$BINDIR/pg_ctl" -D "$PGDATA" -l "$PGDATA/startup.log" -W start >/dev/null 2>&1 9>&- ||
        die "pg_ctl could not start the server; see $PGDATA/startup.log and $PGDATA/log/"
    # pg_isready: 0 accepting, 1 up but rejecting (starting; after an unclean
    # shutdown it replays up to max_wal_size = 8GB of WAL, which can take
    # minutes: that wait is bounded by OBS_PG_RECOVERY_TIMEOUT, not
    # OBS_PG_START_TIMEOUT), 2 no answer.
    local t0=$SECONDS said=$SECONDS rc
    while :; do
        rc=0
        "$BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 1 || rc=$?
        ((rc == 0)) && break
        # (the postmaster writes its pid file a moment after pg_ctl -W returns)
        if ((SECONDS - t0 >= 3)) && ! as_pg "$BINDIR/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
            die "the server exited while starting; see $PGDATA/startup.log and $PGDATA/log/"
        fi
        if ((rc == 1)); then
            ((SECONDS - t0 < RECOVERY_TIMEOUT)) ||
                die "server still starting up (crash recovery?) after ${RECOVERY_TIMEOUT}s; see $PGDATA/log/"
            if ((SECONDS - said >= 10)); then
                echo "postgres: starting up ($((SECONDS - t0)) s; replaying WAL after an unclean shutdown?" \
                    "see $PGDATA/log/)" >&2
                said=$SECONDS
            fi
        elif ((SECONDS - t0 >= START_TIMEOUT)); then
            die "server not answering on 127.0.0.1:$PORT after ${START_TIMEOUT}s; see $PGDATA/startup.log and $PGDATA/log/"
        fi
        sleep 0.2
    done
    if [[ $(psql_q -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$DB'") != 1 ]]; then
        psql_q -d postgres -c "CREATE DATABASE $DB OWNER $ROLE" >/dev/null ||
            die "cannot create database $DB"
    fi
    echo "postgres: $URL"
}

cmd_stop() {
    local pid
    pid=$(running_pid) || return 0
    lock_run
    BINDIR=$(find_bindir) || die "PostgreSQL server binaries not found"
    if ! as_pg "$BINDIR/pg_ctl" -D "$PGDATA" -m fast -w -t "$STOP_TIMEOUT" stop >/dev/null 2>&1; then
        echo "postgres: fast shutdown did not finish in ${STOP_TIMEOUT}s, using immediate" >&2
        as_pg "$BINDIR/pg_ctl" -D "$PGDATA" -m immediate -w -t 10 stop >/dev/null 2>&1 || true
    fi
    if ! wait_pid_gone "$pid" 10; then
        kill -KILL "$pid" 2>/dev/null || true
        wait_pid_gone "$pid" 5 || die "postmaster pid $pid survived SIGKILL"
    fi
}

cmd_status() {
    local pid
    if pid=$(running_pid); then
        echo "postgres: running pid $pid $URL"
    else
        echo "postgres: stopped $URL"
        return 3
    fi
}

cmd_psql() {
    BINDIR=$(find_bindir) || die "PostgreSQL binaries not found"
    exec "$BINDIR/psql" "$URL" "$@"
}

case ${1:-} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    url) echo "$URL" ;;
    psql) shift; cmd_psql "$@" ;;
    -h | --help | help) usage ;;
    "") usage_error "missing command: start|stop|status|url" ;;
    *) usage_error "unknown command '$1': start|stop|status|url" ;;
esac
