# Shared by scripts/run, scripts/test and deploy/Dockerfile (sourced from the repository's root): what
# they need before cargo builds the binary, and the release build itself. Functions return non-zero on
# failure; the caller decides what that means.

# Node.js and npm, from Debian's packages when missing.
ensure_node() {
  if command -v node >/dev/null && command -v npm >/dev/null; then return 0; fi
  echo "==> installing Node.js and npm (Debian packages)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
}

# Whether there is a console to build (console/package.json).
has_console() {
  [ -f console/package.json ]
}

# console/node_modules as console/package-lock.json asks: `npm ci` when it is missing or older.
console_deps() {
  local installed=console/node_modules/.package-lock.json
  if [ ! -d console/node_modules ] || [ ! -f "$installed" ] || [ console/package-lock.json -nt "$installed" ]; then
    echo "==> npm ci (console)"
    ( cd console && npm ci --no-audit --no-fund --loglevel=error >/dev/null )
  fi
}

# Whether console/dist is older than some file of the console's sources (or missing).
console_stale() {
  [ -f console/dist/index.html ] || return 0
  [ -n "$(find console -path console/node_modules -prune -o -path console/dist -prune -o \
    -type f -newer console/dist/index.html -print -quit)" ]
}

# Builds the console into console/dist, which the next cargo build embeds in the binary (crates/console).
# An up-to-date dist is left alone: rewriting it would make cargo rebuild the binary for nothing.
build_console() {
  has_console || return 0
  ensure_node || { echo "error: cannot install Node.js to build the console" >&2; return 1; }
  console_deps || { echo "error: npm ci failed in console/" >&2; return 1; }
  console_stale || { echo "==> console/dist is up to date"; return 0; }
  echo "==> npm run build (console)"
  ( cd console && npm run build --silent >/dev/null ) || { echo "error: the console's build failed (cd console && npm run build)" >&2; return 1; }
}

# The release binary with the console inside, target/release/switchboard: what `scripts/run` starts and
# what deploy/Dockerfile ships, built by this one function so the two cannot differ.
build_release() {
  build_console || return 1
  cargo build --release --locked -p switchboard
}

# Whether console/package.json has a test script.
console_has_tests() {
  has_console && node -e 'process.exit(require("./console/package.json").scripts?.test ? 0 : 1)'
}

# A throwaway PostgreSQL 15 server (Debian's package, installed when missing) in a temporary folder,
# on a free local port, for the tests; `stop_postgres` removes it. Sets PG_URL (a URL whose user may
# create and drop schemas) and PG_DIR.
PG_BIN=/usr/lib/postgresql/15/bin
start_postgres() {
  if [ ! -x "$PG_BIN/initdb" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null || return 1
  fi
  PG_DIR=$(mktemp -d /tmp/switchboard-pg.XXXXXX) || return 1
  # PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user.
  PG_AS=()
  if [ "$(id -u)" = 0 ]; then chown postgres "$PG_DIR" && PG_AS=(runuser -u postgres --); fi
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') || return 1
  "${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; return 1; }
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-k $PG_DIR -p $port -c listen_addresses=127.0.0.1 -c max_connections=500 -c max_locks_per_transaction=256" start >/dev/null || { cat "$PG_DIR/server.log" >&2; return 1; }
  PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
}
stop_postgres() {
  [ -n "${PG_DIR:-}" ] || return 0
  # Immediate: the cluster is thrown away, so it need not write a shutdown checkpoint (on a loaded
  # machine a fast stop's checkpoint wrote WAL while the removal below ran, and the folder stayed).
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w -t 120 stop >/dev/null 2>&1
  rm -rf "$PG_DIR"
  PG_DIR=
}
