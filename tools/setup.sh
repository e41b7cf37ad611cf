#!/usr/bin/env bash
# One-step set-up for a fresh machine: npm dependencies (when node_modules is absent or older than
# package-lock.json) and the Debian packages Baran runs (nats-server). `tools/setup.sh test` also
# installs what only the tests need (chromium for the web UI tests), so `npm start` never pulls a
# browser. Idempotent and quiet when everything is already in place. Runs on the system Node/npm:
# the pinned Node 22 comes with npm ci.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*" >&2; }

stamp=node_modules/.baran-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -d node_modules ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    say "error: $* is missing and installing it needs root: run 'sudo apt-get install -y $*'"
    exit 1
  fi
  say "installing Debian packages: $*"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; }; then
    say "error: could not install $* with apt-get; install it by hand and run again"
    exit 1
  fi
}

# The JavaScript the node runs (only what changed since the last build; apps/node/bin/baran runs the sources
# while a source is newer than the build).
node_modules/node/bin/node tools/build.mjs

if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then
  apt_install nats-server
fi
# Debian enables a system nats-server unit; Baran starts its own per node, never that one.
# The web UI's browser tests drive Debian's Chromium (playwright-core never downloads a browser).
if [ "${1:-}" = test ] && [ ! -x /usr/bin/chromium ]; then
  apt_install chromium
fi
