#!/usr/bin/env bash
# A release library must not contain the simulator: no CPX_SIM_CARDS, no sim:: symbols.
set -euo pipefail
lib=${1:-target/release/libcpx_pkcs11.so}
[ -f "$lib" ] || { echo "check-release: $lib missing" >&2; exit 1; }
if grep -a -q 'CPX_SIM_CARDS' "$lib"; then
    echo "check-release: $lib mentions CPX_SIM_CARDS" >&2
    exit 1
fi
if nm -C "$lib" 2>/dev/null | grep -q 'cpx_pkcs11::sim::'; then
    echo "check-release: $lib contains simulator symbols" >&2
    exit 1
fi
echo "check-release: $lib has no simulator"
# The exported symbols are exactly the checked-in list (68 C_* of 2.40 + the 3.0 interface
# entry points); nothing else leaks.
exports=$(dirname "$0")/../include/exports.txt
if ! diff -u "$exports" <(nm -D --defined-only "$lib" | awk '{print $3}' | sort); then
    echo "check-release: exported symbols differ from include/exports.txt" >&2
    exit 1
fi
echo "check-release: exports match include/exports.txt ($(wc -l < "$exports") symbols)"
