#!/usr/bin/env bash
# The README's test command: installs what the tests need, then runs lint, types and the whole
# pytest suite, browser tests included. .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt

# System packages the tests drive: Debian's chromium (browser tests), PostgreSQL (warehouse
# tests start a throwaway server) and poppler-utils (pdftotext/pdfinfo read exported PDF reports).
# Installed only when missing.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)  # PDF report tests
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing ${missing[*]} for the tests…"
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

echo "== ruff"; python -m ruff check .
echo "== mypy"; python -m mypy relmark_core
echo "== pytest"
# pytest's own exit code is kept: 5 (no test ran) fails like any other failure.
python -m pytest "$@"
