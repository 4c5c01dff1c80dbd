#!/usr/bin/env bash
# Make Debian's headless-capable `chromium` available for tests/integration/test_record_browser.py.
#
# Exit 0 with the browser's path on stdout when it is (or now is) installed. Exit 0 and print nothing when it cannot
# be installed here (not root, no apt-get): the test then skips with the reason. Exit 1 when an install was attempted
# and failed. Never downloads a browser build of its own: only `apt-get install chromium` from Debian.
set -u
found="$(command -v chromium 2>/dev/null || true)"
if [ -z "$found" ] && [ -x /usr/bin/chromium ]; then found=/usr/bin/chromium; fi
if [ -n "$found" ]; then
  echo "$found"
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "ensure-chromium: chromium is missing and this is not root: not installing it" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: chromium is missing and apt-get is not available: not installing it" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
echo "ensure-chromium: installing Debian's chromium with apt-get" >&2
if ! apt-get install -y --no-install-recommends chromium >&2; then
  apt-get update >&2 && apt-get install -y --no-install-recommends chromium >&2 || {
    echo "ensure-chromium: apt-get install chromium failed" >&2
    exit 1
  }
fi
if [ -x /usr/bin/chromium ]; then
  echo /usr/bin/chromium
  exit 0
fi
echo "ensure-chromium: apt-get reported success but /usr/bin/chromium is missing" >&2
exit 1
