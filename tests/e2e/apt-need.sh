#!/usr/bin/env bash
# Installs the Debian packages named on the command line that are not installed yet (as root,
# with apt-get, no recommends), for the suites whose clients scripts/deps.sh does not install:
# browsers (tests/e2e/browsers.sh), Java and Python (tests/e2e/java.sh). CI may run on a fresh
# machine, so each suite installs what it drives. Does nothing when everything is there.
#
#   tests/e2e/apt-need.sh PACKAGE...
set -euo pipefail
missing=()
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0
if [[ $(id -u) != 0 ]]; then
    echo "apt-need: missing Debian packages: ${missing[*]} (run as root, or: sudo $0 ${missing[*]})" >&2
    exit 1
fi
echo "apt-need: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt_install() {
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
}
# An old package list (a machine kept from an earlier session) may name files the mirror no
# longer has: refresh once, and repair an interrupted install (test-harness.md §1), then retry.
apt_install || { apt-get -o DPkg::Lock::Timeout=600 update -qq &&
    apt-get -o DPkg::Lock::Timeout=600 -f install -y -qq && apt_install; }
