#!/usr/bin/env bash
# Debian packages the test suite needs besides PostgreSQL (scripts/postgres.sh installs that):
# Prometheus, which a test starts against a running Zhiku to read a metric back through its query API,
# and tmux, in which a test drives the terminal chat as a person would (keys, Ctrl-C).
# Idempotent; installs nothing that is already there. The package's service is not started here
# (no init system runs in these machines); the test starts its own prometheus process.
set -euo pipefail
need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
if [ ${#need[@]} -gt 0 ]; then
  echo "test-deps.sh: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
