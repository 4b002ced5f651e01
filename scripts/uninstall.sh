#!/usr/bin/env bash
# Removes what scripts/install.sh installed (same PREFIX and DESTDIR), from its list
# $PREFIX/share/cpx-pkcs11/installed-files: the files, then the directories it created if
# they are empty. Users' NSS registrations are theirs: `cpx unregister all` (run before this)
# removes them.
set -euo pipefail
PREFIX=${PREFIX:-/usr/local}
D=${DESTDIR:-}
MANIFEST=$PREFIX/share/cpx-pkcs11/installed-files
[[ -f $D$MANIFEST ]] || { echo "uninstall.sh: $D$MANIFEST missing: nothing installed by install.sh here" >&2; exit 1; }
n=0
dirs=()
while read -r kind path; do
    case $kind in
    file) rm -f "$D$path" && n=$((n + 1)) ;;
    dir) dirs=("$path" "${dirs[@]}") ;; # deepest first
    esac
done <"$D$MANIFEST"
for d in "${dirs[@]}"; do rmdir "$D$d" 2>/dev/null || true; done
[[ -n $D ]] || ldconfig 2>/dev/null || true
echo "uninstall.sh: removed $n files"
