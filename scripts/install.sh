#!/usr/bin/env bash
# Installs cpx-pkcs11 from this source tree, for distributions without the .deb
# (scripts/build-deb.sh). As root:
#
#   scripts/install.sh            the release build (cargo build --release if missing)
#   scripts/uninstall.sh          removes exactly what install.sh installed
#
# What goes where (environment overrides in brackets):
#   [PREFIX=/usr/local] [LIBDIR=$PREFIX/lib]
#   $LIBDIR/libcpx_pkcs11.so            the module
#   $PREFIX/bin/cpx                     the tool (cpx register firefox|chromium|nss|all)
#   $PREFIX/share/doc/cpx-pkcs11/       README and docs
#   /etc/pkcs11/modules/cpx-pkcs11.module   p11-kit module file (absolute path, not critical)
#   with COMPAT=1 (default), the Cryptolib's names where applications load it by path
#   (cryptolib-compat.md §2, §13), only where no other file is there already:
#     /opt/santesocial/CPS/lib/libcps3_pkcs11_lux.so, /usr/lib64/libcps3_pkcs11_lux.so{,.0,.3.1.0}
#     (links), Firefox's native manifest cps3.json in /usr/lib{,64}/mozilla/pkcs11-modules/
#   [DESTDIR=] a staging root (packagers); nothing outside it is touched.
# The list of installed files is kept in $PREFIX/share/cpx-pkcs11/installed-files.
# Runtime needs: pcscd and libpcsclite (your distribution's packages); NSS tools (certutil,
# modutil) for `cpx register`.
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=${PREFIX:-/usr/local}
LIBDIR=${LIBDIR:-$PREFIX/lib}
COMPAT=${COMPAT:-1}
D=${DESTDIR:-}
LIB=$LIBDIR/libcpx_pkcs11.so
MANIFEST=$PREFIX/share/cpx-pkcs11/installed-files

if [[ ! -f target/release/libcpx_pkcs11.so || ! -f target/release/cpx ]]; then
    cargo build --release --quiet
fi
scripts/check-release.sh target/release/libcpx_pkcs11.so >/dev/null

installed=()
dirs=()
# mkdirs DIR: creates DIR (and parents) under $D, remembering those it created.
mkdirs() {
    local d=$1 missing=()
    while [[ ! -d $D$d ]]; do
        missing=("$d" "${missing[@]}")
        d=$(dirname "$d")
    done
    ((${#missing[@]} == 0)) && return 0
    mkdir -p "$D$1"
    dirs+=("${missing[@]}")
}
put() { # put SRC DEST MODE
    mkdirs "$(dirname "$2")"
    install -m "$3" "$1" "$D$2"
    installed+=("$2")
}
# ours DEST: DEST is absent, or something this script installed (a link to our library, a
# manifest naming it) — never replace another product's file (the Cryptolib's RPM).
ours() {
    [[ ! -e $D$1 && ! -L $D$1 ]] && return 0
    [[ -L $D$1 && $(readlink "$D$1") == "$LIB" ]] && return 0
    [[ -f $D$1 ]] && grep -qF "\"$LIB\"" "$D$1" 2>/dev/null && return 0
    echo "install.sh: $1 exists and is not ours: left alone" >&2
    return 1
}
link() { # link DEST: DEST -> $LIB
    ours "$1" || return 0
    mkdirs "$(dirname "$1")"
    ln -sfn "$LIB" "$D$1"
    installed+=("$1")
}

put target/release/libcpx_pkcs11.so "$LIB" 755
put target/release/cpx "$PREFIX/bin/cpx" 755
for f in README.md docs/*.md; do put "$f" "$PREFIX/share/doc/cpx-pkcs11/$(basename "$f")" 644; done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed -e "s|^module: .*|module: $LIB|" packaging/cpx-pkcs11.module >"$tmp/cpx-pkcs11.module"
put "$tmp/cpx-pkcs11.module" /etc/pkcs11/modules/cpx-pkcs11.module 644
if [[ $COMPAT == 1 ]]; then
    for l in /opt/santesocial/CPS/lib/libcps3_pkcs11_lux.so /usr/lib64/libcps3_pkcs11_lux.so \
        /usr/lib64/libcps3_pkcs11_lux.so.0 /usr/lib64/libcps3_pkcs11_lux.so.3.1.0; do
        link "$l"
    done
    sed -e "s|\"path\": .*|\"path\": \"$LIB\",|" packaging/cps3.json >"$tmp/cps3.json"
    for m in /usr/lib/mozilla/pkcs11-modules/cps3.json /usr/lib64/mozilla/pkcs11-modules/cps3.json; do
        ours "$m" && put "$tmp/cps3.json" "$m" 644
    done
fi
mkdirs "$(dirname "$MANIFEST")"
installed+=("$MANIFEST")
{
    printf 'file %s\n' "${installed[@]}"
    printf 'dir %s\n' "${dirs[@]}"
} >"$D$MANIFEST"
[[ -n $D ]] || ldconfig 2>/dev/null || true
echo "install.sh: installed ${#installed[@]} files (list: $MANIFEST); register the module with: cpx register all"
