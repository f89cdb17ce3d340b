#!/usr/bin/env bash
# Private PostgreSQL + pgvector for Zhiku's knowledge bases (tests and `bin/zhiku serve`).
#
#   scripts/postgres.sh install   install PostgreSQL 15 and build pgvector when missing (root, Debian 12)
#   scripts/postgres.sh start     start (initialising on first use) a private cluster on 127.0.0.1
#   scripts/postgres.sh stop      stop it
#   scripts/postgres.sh status    say whether it runs
#   scripts/postgres.sh url       print the JDBC URL
#
# Environment: ZHIKU_DATA_DIR (default <repo>/.zhiku; the cluster lives in $ZHIKU_DATA_DIR/pg),
# ZHIKU_PG_PORT (default 54329). Every command is idempotent.
#
# pgvector is not packaged for Debian 12. Its source package is in the next Debian suite, and it builds
# against this release's postgresql-server-dev-15 in seconds. `install` derives a deb-src entry for that
# suite from the machine's own apt sources (same archive URI, same signing key), uses it through a private
# apt configuration in a temporary directory (the system's sources and package lists stay untouched),
# fetches the source with `apt-get source`, then builds and installs it.
set -euo pipefail

PG_MAJOR=15
PG_BIN="/usr/lib/postgresql/${PG_MAJOR}/bin"
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA_ROOT="${ZHIKU_DATA_DIR:-${REPO_DIR}/.zhiku}"
PG_DATA="${DATA_ROOT}/pg"
PG_LOG="${DATA_ROOT}/pg.log"
PG_PORT="${ZHIKU_PG_PORT:-54329}"
PG_USER="zhiku"
PG_DB="zhiku"

log() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# Runs a command as the account that owns the cluster: `postgres` when we are root (PostgreSQL refuses
# to run as root), ourselves otherwise.
as_owner() {
  if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

apt_install() {
  is_root || die "installing packages needs root: run 'sudo $0 install'"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

# --- install -----------------------------------------------------------------------------------------

next_suite() {
  case "$1" in
    buster) echo bullseye ;;
    bullseye) echo bookworm ;;
    bookworm) echo trixie ;;
    trixie) echo forky ;;
    *) return 1 ;;
  esac
}

# Prints "URI<TAB>SIGNED_BY" of the first apt source that serves the given suite from the main archive
# (deb822 *.sources files and one-line *.list files). SIGNED_BY may be empty.
find_archive_source() {
  local suite="$1" f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v want="$suite" '
      function flush() {
        if (types ~ /(^|[ \t])deb([ \t]|$)/ && (" " suites " ") ~ (" " want " ") && uris != "") {
          split(uris, u, /[ \t]+/); printf "%s\t%s\n", u[1], signed; found = 1; exit
        }
        types = ""; uris = ""; suites = ""; signed = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      {
        line = $0; key = line; sub(/:.*/, "", key); val = line; sub(/^[^:]*:[ \t]*/, "", val)
        if (key == "Types") types = val
        else if (key == "URIs") uris = val
        else if (key == "Suites") suites = val
        else if (key == "Signed-By") signed = val
      }
      END { if (!found) flush() }
    ' "$f" | head -n 1 | grep . && return 0
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v want="$suite" '
      /^[ \t]*#/ { next }
      $1 == "deb" {
        i = 2; signed = ""
        if ($i ~ /^\[/) {
          opts = ""
          while (i <= NF) { opts = opts " " $i; if ($i ~ /\]$/) { i++; break } i++ }
          if (match(opts, /signed-by=[^] ]+/)) signed = substr(opts, RSTART + 10, RLENGTH - 10)
        }
        if ($(i + 1) == want) { printf "%s\t%s\n", $i, signed; exit }
      }
    ' "$f" | head -n 1 | grep . && return 0
  done
  return 1
}

install_pgvector() {
  local ext_dir="$1" codename next src uri signed work
  codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
  [ -n "$codename" ] || die "cannot tell the Debian release from /etc/os-release"
  next="$(next_suite "$codename")" || die "do not know the Debian suite after '$codename'"
  src="$(find_archive_source "$codename")" || die "no apt source for suite '$codename' to derive a deb-src entry from"
  uri="${src%%$'\t'*}"
  signed="${src#*$'\t'}"
  log "building pgvector from the '$next' source package (archive taken from the apt sources for '$codename')"

  work="$(mktemp -d /tmp/zhiku-pgvector.XXXXXX)"
  chmod 755 "$work"
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" EXIT
  mkdir -p "$work/etc/sources.list.d" "$work/lists/partial" "$work/cache/archives/partial" "$work/src"
  {
    echo "Types: deb-src"
    echo "URIs: $uri"
    echo "Suites: $next"
    echo "Components: main"
    [ -n "$signed" ] && echo "Signed-By: $signed"
  } > "$work/etc/sources.list.d/pgvector-src.sources"
  : > "$work/etc/sources.list"
  local apt_opts=(
    -o "Dir::Etc::SourceList=$work/etc/sources.list"
    -o "Dir::Etc::SourceParts=$work/etc/sources.list.d"
    -o "Dir::State::Lists=$work/lists"
    -o "Dir::Cache=$work/cache"
    -o "APT::Sandbox::User=root"
  )
  apt-get "${apt_opts[@]}" update -q >&2
  (cd "$work/src" && apt-get "${apt_opts[@]}" source --download-only -q pgvector >&2)
  (cd "$work/src" && dpkg-source -x ./*.dsc pgvector-src >&2)
  make -C "$work/src/pgvector-src" PG_CONFIG="$PG_BIN/pg_config" OPTFLAGS="" -j"$(nproc)" >&2
  make -C "$work/src/pgvector-src" PG_CONFIG="$PG_BIN/pg_config" OPTFLAGS="" install >&2
  rm -rf "$work"
  trap - EXIT
  [ -f "$ext_dir/vector.control" ] || die "pgvector built but vector.control is not in $ext_dir"
  log "pgvector installed"
}

cmd_install() {
  local need=()
  [ -x "$PG_BIN/postgres" ] || need+=("postgresql-${PG_MAJOR}")
  if [ ! -f "/usr/include/postgresql/${PG_MAJOR}/server/postgres.h" ]; then
    need+=("postgresql-server-dev-${PG_MAJOR}")
  fi
  command -v make >/dev/null || need+=(make)
  command -v gcc >/dev/null || need+=(gcc)
  command -v dpkg-source >/dev/null || need+=(dpkg-dev)
  if [ "${#need[@]}" -gt 0 ]; then
    is_root || die "missing packages (${need[*]}): run 'sudo $0 install'"
    log "installing ${need[*]}"
    apt-get update -q >&2
    apt_install "${need[@]}" >&2
  fi
  local ext_dir
  ext_dir="$("$PG_BIN/pg_config" --sharedir)/extension"
  if [ -f "$ext_dir/vector.control" ]; then
    log "pgvector already installed ($(sed -n "s/^default_version = '\(.*\)'/\1/p" "$ext_dir/vector.control"))"
  else
    is_root || die "building pgvector needs root: run 'sudo $0 install'"
    install_pgvector "$ext_dir"
  fi
}

# --- cluster -----------------------------------------------------------------------------------------

running() { [ -f "$PG_DATA/PG_VERSION" ] && as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; }

psql_admin() {
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" "$@"
}

init_cluster() {
  mkdir -p "$DATA_ROOT"
  if is_root; then
    # the postgres account must be able to reach and own its data directory: grant search (x, not read)
    # permission on any ancestor that denies it
    local d="$DATA_ROOT"
    while [ "$d" != "/" ] && [ -n "$d" ]; do
      if ! runuser -u postgres -- test -x "$d"; then
        log "granting o+x on $d so the postgres account can reach the data directory"
        chmod o+x "$d"
      fi
      d="$(dirname "$d")"
    done
    runuser -u postgres -- test -x "$DATA_ROOT" \
      || die "user postgres cannot reach $DATA_ROOT; set ZHIKU_DATA_DIR to a directory it can traverse"
    mkdir -p "$PG_DATA"
    chown postgres: "$PG_DATA"
    touch "$PG_LOG"
    chown postgres: "$PG_LOG"
  else
    mkdir -p "$PG_DATA"
  fi
  chmod 700 "$PG_DATA"
  log "initialising a new cluster in $PG_DATA"
  as_owner "$PG_BIN/initdb" -D "$PG_DATA" -U "$PG_USER" --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  # Listen on loopback only; no Unix socket (the default socket directory may belong to a system cluster).
  as_owner tee -a "$PG_DATA/postgresql.conf" >/dev/null <<EOF

# --- zhiku ---
listen_addresses = '127.0.0.1'
port = ${PG_PORT}
unix_socket_directories = ''
max_connections = 200
shared_buffers = 256MB
maintenance_work_mem = 512MB
EOF
  # trust on loopback only (initdb --auth=trust also wrote host lines for ::1, which we do not listen on)
  as_owner tee "$PG_DATA/pg_hba.conf" >/dev/null <<EOF
# TYPE  DATABASE  USER  ADDRESS       METHOD
host    all       all   127.0.0.1/32  trust
EOF
}

cmd_start() {
  [ -x "$PG_BIN/postgres" ] || die "PostgreSQL ${PG_MAJOR} is not installed: run '$0 install'"
  [ -f "$PG_DATA/PG_VERSION" ] || init_cluster
  if running; then
    log "already running on 127.0.0.1:${PG_PORT} ($PG_DATA)"
  else
    if is_root; then touch "$PG_LOG"; chown postgres: "$PG_LOG"; fi
    as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -o "-p ${PG_PORT}" -w -t 60 start >/dev/null \
      || { tail -n 20 "$PG_LOG" >&2 || true; die "PostgreSQL did not start (log: $PG_LOG)"; }
    log "started on 127.0.0.1:${PG_PORT} ($PG_DATA)"
  fi
  local i
  for i in $(seq 1 60); do
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break
    sleep 0.5
  done
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" || die "PostgreSQL is not accepting connections"
  if [ "$(psql_admin -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '${PG_DB}'")" != "1" ]; then
    psql_admin -d postgres -c "CREATE DATABASE ${PG_DB}"
    log "created database ${PG_DB}"
  fi
}

cmd_stop() {
  if running; then
    as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null
    log "stopped"
  else
    log "not running"
  fi
}

cmd_status() {
  if running; then
    echo "running on 127.0.0.1:${PG_PORT} (data: $PG_DATA)"
  else
    echo "not running (data: $PG_DATA)"
    return 3
  fi
}

cmd_url() { echo "jdbc:postgresql://127.0.0.1:${PG_PORT}/${PG_DB}?user=${PG_USER}"; }

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  url) cmd_url ;;
  *) echo "usage: $0 install|start|stop|status|url" >&2; exit 2 ;;
esac
