#!/usr/bin/env bash
# Install Debian's chromium (if missing) for the console's browser tests; print its path.
#
# The browser tests drive this binary with Playwright (executable_path), so no browser is ever
# downloaded by Playwright itself. Needs root (or sudo) the first time; afterwards it only
# prints the path. Exit status 1 when no chromium can be found or installed.
set -euo pipefail

find_chromium() {
  for name in chromium chromium-browser; do
    if command -v "$name" >/dev/null 2>&1; then
      command -v "$name"
      return 0
    fi
  done
  return 1
}

if path=$(find_chromium); then
  echo "$path"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
  else
    echo "chromium is not installed and this user cannot install it (not root, no sudo);" \
      "run: apt-get install -y chromium" >&2
    exit 1
  fi
fi

echo "installing Debian's chromium package..." >&2
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y --no-install-recommends chromium >&2; then
  $sudo apt-get update >&2
  $sudo apt-get install -y --no-install-recommends chromium >&2
fi

if path=$(find_chromium); then
  echo "$path"
else
  echo "apt-get finished but no chromium executable is on PATH" >&2
  exit 1
fi
