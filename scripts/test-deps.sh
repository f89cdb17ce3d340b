#!/usr/bin/env bash
# What the test suite needs besides PostgreSQL (scripts/postgres.sh installs that):
# - Prometheus, which a test starts against a running Zhiku to read a metric back through its query API;
# - tmux, in which a test drives the terminal chat as a person would (keys, Ctrl-C);
# - Debian's chromium (and a CJK font for readable screenshots) plus the browser harness's npm packages
#   (playwright-core, pinned in launcher/src/test/webui/package-lock.json; it never downloads a browser),
#   which WebUiBrowserTest drives.
# Idempotent and quiet: installs only what is missing. The Prometheus package's service is not started
# here (no init system runs in these machines); the test starts its own prometheus process.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
if [ ${#need[@]} -gt 0 ]; then
  echo "test-deps.sh: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
HARNESS="$ROOT/launcher/src/test/webui"
if command -v npm >/dev/null 2>&1; then
  # npm ci again only when the lockfile changed since the last install
  if [ ! -f "$HARNESS/node_modules/.package-lock.json" ] || [ "$HARNESS/package-lock.json" -nt "$HARNESS/node_modules/.package-lock.json" ]; then
    echo "test-deps.sh: npm ci in launcher/src/test/webui" >&2
    (cd "$HARNESS" && npm ci --no-audit --no-fund --loglevel=error >&2) \
      || echo "test-deps.sh: npm ci failed; the browser test will be skipped (or fail under CI)" >&2
  fi
else
  echo "test-deps.sh: npm not found; the browser test will be skipped (or fail under CI)" >&2
fi
