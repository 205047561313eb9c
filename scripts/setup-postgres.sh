#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for the Postgres store tests and prints its URL.
#
#   scripts/setup-postgres.sh [DIR]      (default DIR: ${CARGO_TARGET_DIR:-target}/pg)
#
# Installs Debian's `postgresql` when no initdb is found under /usr/lib/postgresql/*/bin (needs root
# or sudo), creates a cluster in DIR/data (trust auth, 127.0.0.1 only, port ${PGPORT:-55432}, its
# socket in DIR, owned by the `postgres` system user when run as root since initdb refuses root),
# starts it unless it runs, creates the role and database `jiralink`, turns TLS on with a
# certificate for localhost and 127.0.0.1 signed by a throwaway CA (DIR/tls/ca.crt, also the
# server's `ssl_ca_file`, so a test finds it with `SHOW ssl_ca_file`), and prints
# `postgres://jiralink@127.0.0.1:PORT/jiralink` as the last line on stdout (everything else goes to
# stderr). Idempotent: a second run reuses the cluster. Stop it with
#   pg_ctl -D DIR/data stop      (as the postgres user when it was created as root)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
port="${PGPORT:-55432}"
explicit=0
if [ $# -ge 1 ] && [ -n "$1" ]; then
  dir="$1"
  explicit=1
elif [ -n "${CARGO_TARGET_DIR:-}" ]; then
  dir="$CARGO_TARGET_DIR/pg"
else
  dir="$repo/target/pg"
fi
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
data="$dir/data"

log() { echo "setup-postgres: $*" >&2; }

find_bin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V -r); do
    if [ -x "$d/initdb" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

root=0
if [ "$(id -u)" = 0 ]; then root=1; fi

if ! bin="$(find_bin)"; then
  log "no initdb under /usr/lib/postgresql/*/bin: installing Debian's postgresql"
  sudo=""
  if [ "$root" = 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >&2
  $sudo apt-get install -y -qq --no-install-recommends postgresql >&2
  bin="$(find_bin)" || { log "postgresql installed, but still no initdb"; exit 1; }
fi
log "using $bin"

# As root, the cluster belongs to the postgres system user (Debian's package creates it).
as_owner() { "$@"; }
if [ "$root" = 1 ]; then
  if ! id -u postgres > /dev/null 2>&1; then
    log "creating the postgres system user"
    useradd --system --user-group --no-create-home --home-dir /var/lib/postgresql \
      --shell /bin/bash postgres
  fi
  chown postgres: "$dir"
  if ! runuser -u postgres -- test -w "$dir" && [ "$explicit" = 0 ]; then
    # The default directory lies under one closed to other users (a checkout under /root).
    dir="/tmp/jiralink-pg-$(printf '%s' "$dir" | cksum | cut -d' ' -f1)"
    data="$dir/data"
    log "the postgres user cannot reach the default directory: using $dir instead"
    mkdir -p "$dir"
    chown postgres: "$dir"
    chmod 700 "$dir"
  fi
  if ! runuser -u postgres -- test -w "$dir"; then
    log "the postgres user cannot write to $dir (a parent directory is closed to it);"
    log "pass a directory it can reach, e.g. scripts/setup-postgres.sh /tmp/jiralink-pg"
    exit 1
  fi
  as_owner() { (cd "$dir" && runuser -u postgres -- "$@"); }
fi

if [ ! -s "$data/PG_VERSION" ]; then
  if [ -d "$data" ] && [ -n "$(ls -A "$data")" ]; then
    log "$data is not empty but holds no cluster: remove it or pass another directory"
    exit 1
  fi
  log "creating a cluster in $data"
  as_owner mkdir -p "$data"
  as_owner "$bin/initdb" -D "$data" --username=postgres --auth=trust --encoding=UTF8 \
    --locale=C > "$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
fi

# A throwaway CA and a server certificate it signs, made once (for the TLS tests).
tls="$dir/tls"
if [ ! -s "$tls/server.crt" ]; then
  if ! command -v openssl > /dev/null; then
    log "no openssl: installing Debian's openssl"
    sudo=""
    if [ "$root" = 0 ]; then sudo="sudo"; fi
    $sudo apt-get install -y -qq --no-install-recommends openssl >&2
  fi
  log "creating a test CA and a server certificate in $tls"
  as_owner mkdir -p "$tls"
  as_owner openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=jiralink test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$tls/ca.key" -out "$tls/ca.crt" 2> /dev/null
  as_owner openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$tls/server.key" -out "$tls/server.csr" 2> /dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
    | as_owner tee "$tls/server.ext" > /dev/null
  as_owner openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" \
    -CAcreateserial -days 3650 -extfile "$tls/server.ext" -out "$tls/server.crt" 2> /dev/null
  as_owner chmod 600 "$tls/server.key" "$tls/ca.key"
fi

# The settings of this throwaway cluster, rewritten on every run (so PGPORT may change).
# A Unix socket path is limited to 107 bytes; with a longer DIR, TCP alone is used.
sockets="$dir"
if [ $((${#dir} + 20)) -gt 107 ]; then
  log "$dir is too long a path for a Unix socket; listening on TCP only"
  sockets=""
fi
as_owner tee "$data/jiralink.conf" > /dev/null << EOF
# Written by scripts/setup-postgres.sh: a local, throwaway cluster for tests.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sockets'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
ssl = on
ssl_cert_file = '$tls/server.crt'
ssl_key_file = '$tls/server.key'
ssl_ca_file = '$tls/ca.crt'
EOF
if ! grep -q "^include_if_exists = 'jiralink.conf'" "$data/postgresql.conf"; then
  echo "include_if_exists = 'jiralink.conf'" | as_owner tee -a "$data/postgresql.conf" > /dev/null
fi

ready() { "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -d postgres -U postgres; }
wait_ready() {
  local _
  for _ in $(seq 1 "$1"); do
    if ready; then return 0; fi
    sleep 0.5
  done
  ready
}

# The postmaster of DIR/data/postmaster.pid, if it still runs (not a zombie nor a reused pid).
pidfile="$data/postmaster.pid"
running_pid() {
  local pid
  [ -s "$pidfile" ] || return 1
  pid="$(head -n 1 "$pidfile")"
  [ -r "/proc/$pid/stat" ] || return 1
  [ "$(awk '{ print $3 }' "/proc/$pid/stat")" != Z ] || return 1
  grep -qa postgres "/proc/$pid/cmdline" || return 1
  echo "$pid"
}

start() {
  log "starting the cluster on 127.0.0.1:$port"
  # After a crash the old server's children may hold its shared memory for a moment: retry.
  local try
  for try in 1 2 3; do
    if as_owner "$bin/pg_ctl" -D "$data" -w -t 60 start -l "$dir/postgres.log" > /dev/null; then
      return 0
    fi
    sleep 2
  done
  tail -n 20 "$dir/postgres.log" >&2
  exit 1
}

if running_pid > /dev/null; then
  if [ "$(sed -n 4p "$pidfile")" != "$port" ]; then
    log "the cluster runs on another port: restarting it on 127.0.0.1:$port"
    as_owner "$bin/pg_ctl" -D "$data" -m fast -w -t 60 stop > /dev/null
    start
  elif ! as_owner "$bin/pg_ctl" -D "$data" reload > /dev/null || ! wait_ready 60; then
    log "the cluster runs but does not answer on 127.0.0.1:$port: restarting it"
    as_owner "$bin/pg_ctl" -D "$data" -m fast -w -t 60 stop > /dev/null || true
    start
  fi
else
  if [ -e "$pidfile" ]; then
    log "removing the stale $pidfile of a server that no longer runs"
    rm -f "$pidfile"
  fi
  start
fi
if ! wait_ready 60; then
  log "PostgreSQL does not answer on 127.0.0.1:$port"
  tail -n 20 "$dir/postgres.log" >&2
  exit 1
fi

psql_admin() {
  "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres -tA "$@"
}
if [ -z "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'jiralink'")" ]; then
  log "creating role jiralink"
  psql_admin -c "CREATE ROLE jiralink LOGIN CREATEDB" > /dev/null
fi
if [ -z "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = 'jiralink'")" ]; then
  log "creating database jiralink"
  psql_admin -c "CREATE DATABASE jiralink OWNER jiralink" > /dev/null
fi

echo "postgres://jiralink@127.0.0.1:$port/jiralink"
