#!/usr/bin/env bash
# Install DIGITS into ./.venv, with its front-end libraries built into digits/static/vendor.
#
#   ./install.sh          what the server needs (bubblewrap, the sandbox, with apt-get if missing)
#   ./install.sh --test   also what the tests need: pytest, Playwright, Debian's chromium, redis-server
#
# Needs Python 3.11+ with venv, and Node.js with npm (installed with apt-get when missing).
set -euo pipefail
cd "$(dirname "$0")"

with_tests=false
[ "${1:-}" = "--test" ] && with_tests=true

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "install.sh: run as root or install: ${*: -1}" >&2; exit 1
  fi
}

apt_updated=false
apt_install() {
  command -v apt-get >/dev/null || { echo "install.sh: please install $*" >&2; exit 1; }
  $apt_updated || { as_root apt-get update -qq; apt_updated=true; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

python=${PYTHON:-python3}
"$python" -c 'import sys; assert sys.version_info >= (3, 11), "DIGITS needs Python 3.11+"'
"$python" -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
[ -x .venv/bin/python ] || "$python" -m venv .venv
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)

# Torch first, pinned: an open range would pick whichever build the index offers first.
.venv/bin/python -c 'import torch' 2>/dev/null || "${pip[@]}" "torch==2.13.0"
if $with_tests; then "${pip[@]}" -e '.[test]'; else "${pip[@]}" -e .; fi

command -v npm >/dev/null || apt_install nodejs npm
# The sandbox that users' code runs in (README: Security model).
command -v bwrap >/dev/null || apt_install bubblewrap
npm ci --silent --no-audit --no-fund
npm run --silent build

if $with_tests; then
  [ -x /usr/bin/chromium ] || apt_install chromium
  command -v redis-server >/dev/null || apt_install redis-server
fi
echo "DIGITS is installed in $(pwd)/.venv"
