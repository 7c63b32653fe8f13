#!/usr/bin/env bash
# The README's test command: installs what the tests need, then runs lint, types and the whole
# pytest suite, browser tests included. .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt

if [ ! -x /usr/bin/chromium ]; then
  echo "Installing Debian's chromium for the browser tests…"
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

echo "== ruff"; python -m ruff check .
echo "== mypy"; python -m mypy relmark_core
echo "== pytest"
# pytest's own exit code is kept: 5 (no test ran) fails like any other failure.
python -m pytest "$@"
