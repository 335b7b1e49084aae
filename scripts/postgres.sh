#!/usr/bin/env bash
# scripts/postgres.sh start|stop|status|url: a private PostgreSQL cluster for the project's database
# tests, the load test and the services' database modes (docs/SERVICE.md, "Database modes").
#
#   start    creates the cluster if missing (initdb), starts it if stopped, makes sure the database
#            `userstore` exists, and prints its URL on stdout: postgres://userstore@127.0.0.1:PORT/userstore
#            (idempotent: on a running cluster it only prints the URL)
#   stop     stops it (fast shutdown: open sessions are ended, committed data kept); nothing if stopped
#   status   prints "running <URL>" (exit 0) or "stopped" (exit 3, as pg_ctl status)
#   url      prints the URL of the running cluster (exit 3 if it is stopped)
#
# The cluster: data folder build/postgres/data of the project root (git-ignored), its log in
# build/postgres/postgres.log; listens on 127.0.0.1 only, on a free port chosen at its first start
# and kept while free (build/postgres/port); no Unix socket; UTF-8, C locale; wal_level=logical with
# room for the replicas and their tests (max_replication_slots, max_wal_senders), and
# max_slot_wal_keep_size bounding the WAL an abandoned slot can pin. The bootstrap superuser is
# `userstore` (it may replicate).
#
# Authentication is `trust` on loopback: this cluster holds test data only, is reachable only from
# this machine, and trust means no password is generated, stored in a file, passed on a command line
# or printed with the URL, where CI logs would keep it. Do not copy this setting to a real database.
#
# PostgreSQL refuses to run as root, so when the caller is root, initdb, pg_ctl and the server run
# as the `postgres` system user (which owns build/postgres); otherwise as the caller.
#
# Settings (environment): USERSTORE_PG_BIN (the folder holding initdb and pg_ctl; default: the
# newest /usr/lib/postgresql/*/bin), USERSTORE_PG_PORT (the port at the first start; default: a
# free one).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
link=$root/build/postgres
# The cluster's paths, through build/postgres's real location (it may be a link, see prepare_base).
resolve() {
  base=$link
  if [ -L "$link" ]; then base=$(readlink -f "$link"); fi
  data=$base/data
  log=$base/postgres.log
  port_file=$base/port
}
resolve
db=userstore
db_user=userstore

die() { echo "postgres.sh: $*" >&2; exit 1; }
say() { echo "postgres.sh: $*" >&2; }

find_bin() {
  if [ -n "${USERSTORE_PG_BIN:-}" ]; then
    [ -x "$USERSTORE_PG_BIN/initdb" ] || die "USERSTORE_PG_BIN=$USERSTORE_PG_BIN holds no initdb"
    echo "$USERSTORE_PG_BIN"
    return
  fi
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -1 || true)
  [ -n "$found" ] && [ -x "$found/initdb" ] \
    || die "no PostgreSQL server found under /usr/lib/postgresql/*/bin: install Debian's postgresql package (apt-get install postgresql) or set USERSTORE_PG_BIN"
  echo "$found"
}

# Runs a PostgreSQL program as the cluster's owner: `postgres` when we are root, else ourselves.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    # From a folder the postgres user may enter (the caller's may be closed to it).
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# build/postgres, owned by the cluster's owner. Under root the `postgres` user must reach it; when a
# folder above it is closed to other users (a private clone), the cluster lives in a folder of its
# own under /tmp and build/postgres is a link to it.
prepare_base() {
  if [ -d "$link" ]; then return; fi
  mkdir -p "$root/build"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres > /dev/null 2>&1 || die "running as root needs the 'postgres' system user (Debian's postgresql package creates it)"
    if runuser -u postgres -- test -x "$root/build"; then
      mkdir -p "$link"
    else
      local elsewhere
      elsewhere=$(mktemp -d "${TMPDIR:-/tmp}/userstore-postgres.XXXXXX")
      chmod 755 "$elsewhere"
      ln -s "$elsewhere" "$link"
      say "the postgres user cannot reach $root/build; the cluster lives in $elsewhere (linked from build/postgres)"
    fi
    chown postgres: "$link/"
    chmod 700 "$link/"
  else
    mkdir -p "$link"
    chmod 700 "$link"
  fi
  resolve
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

port_is_free() {
  # SO_REUSEADDR as PostgreSQL sets it: a port with connections in TIME_WAIT after a stop is free to it.
  python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)' "$1"
}

is_running() {
  [ -f "$data/PG_VERSION" ] && as_owner "$bin/pg_ctl" status -D "$data" > /dev/null 2>&1
}

url() { echo "postgres://$db_user@127.0.0.1:$(cat "$port_file")/$db"; }

init_cluster() {
  say "creating the cluster in $data ($("$bin/postgres" --version))"
  as_owner "$bin/initdb" -D "$data" -U "$db_user" --auth=trust --encoding=UTF8 --locale=C --no-instructions > "$base/initdb.log" 2>&1 \
    || { cat "$base/initdb.log" >&2; die "initdb failed (log above)"; }
  # The settings, appended so they win over the defaults above them.
  as_owner tee -a "$data/postgresql.conf" > /dev/null << 'EOF'

# scripts/postgres.sh: a private cluster for the project's tests and load tests.
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 200
# Logical replication (pgoutput) for the replica mode and its tests: three replicas and more at
# once, each with a slot and a WAL sender, plus the tests' own.
wal_level = logical
max_replication_slots = 32
max_wal_senders = 32
# An abandoned slot pins WAL until it is dropped; past this much it is invalidated instead.
max_slot_wal_keep_size = 1GB
logging_collector = off
EOF
}

start() {
  if is_running; then
    url
    return
  fi
  prepare_base
  if [ ! -f "$data/PG_VERSION" ]; then init_cluster; fi
  local port attempt
  for attempt in 1 2 3; do
    port=
    if [ -f "$port_file" ] && port_is_free "$(cat "$port_file")"; then port=$(cat "$port_file")
    elif [ "$attempt" -eq 1 ] && [ -n "${USERSTORE_PG_PORT:-}" ]; then port=$USERSTORE_PG_PORT
    else port=$(free_port)
    fi
    echo "$port" > "$port_file.new" && mv "$port_file.new" "$port_file"
    # -w: wait until the server accepts connections (or failed).
    if as_owner "$bin/pg_ctl" start -w -t 60 -D "$data" -l "$log" -o "-p $port" > /dev/null; then
      break
    fi
    # Another program took the port between the check and the start: try another one.
    is_running && break
    [ "$attempt" -lt 3 ] || { tail -20 "$log" >&2; die "the server did not start (log: $log)"; }
    rm -f "$port_file"
  done
  # The database the services use; the bootstrap superuser owns it.
  local exists
  exists=$("$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U "$db_user" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")
  if [ "$exists" != 1 ]; then
    "$bin/createdb" -h 127.0.0.1 -p "$port" -U "$db_user" "$db"
  fi
  say "running on 127.0.0.1:$port (data $data, log $log)"
  url
}

stop() {
  if ! is_running; then
    say "not running"
    return
  fi
  as_owner "$bin/pg_ctl" stop -w -m fast -D "$data" > /dev/null
  say "stopped"
}

[ $# -eq 1 ] || die "usage: scripts/postgres.sh start|stop|status|url"
bin=$(find_bin)
case $1 in
  start) start ;;
  stop) stop ;;
  status) if is_running; then echo "running $(url)"; else echo "stopped"; exit 3; fi ;;
  url) if is_running; then url; else say "not running (scripts/postgres.sh start)"; exit 3; fi ;;
  *) die "usage: scripts/postgres.sh start|stop|status|url" ;;
esac
