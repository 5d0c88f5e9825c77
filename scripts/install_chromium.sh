#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests (never a downloaded browser build).
# Quietly does nothing when it is already there; says why when it cannot install it,
# and the browser tests then skip with that reason.
set -u
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install_chromium: cannot install Chromium here (needs root and apt-get); browser tests will be skipped" >&2
  exit 0
fi
echo "install_chromium: installing Debian's chromium package"
(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
  || echo "install_chromium: apt-get failed; browser tests will be skipped" >&2
exit 0
