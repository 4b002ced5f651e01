#!/usr/bin/env bash
# The Debian package, built and installed for real: scripts/build-deb.sh (cargo-deb), then
# `dpkg -i`, then clients through the installed paths with a simulated card behind real
# pcscd + vpcd + cpx-vcard, then `dpkg -r` and `dpkg -P` leaving nothing behind. Also
# scripts/install.sh / uninstall.sh into a staging root (DESTDIR).
#
#   tests/e2e/package.sh
#
# Checks: the package's files and control fields; `p11-kit list-modules` shows the module and
# the token; pkcs11-tool through /usr/lib/<multiarch>/pkcs11/libcpx_pkcs11.so and through each
# Cryptolib name (libcps3_pkcs11_lux.so); Firefox's cps3.json names the library; the
# installed `cpx register nss` finds the installed module and `certutil -L -h all` lists the
# card's certificates; `dpkg -r` removes every file and p11-kit stops listing the module;
# `dpkg -P` leaves the package unknown and the file tree exactly as before the install.
#
# Installing a p11-kit module system-wide reaches every p11-kit user on the machine, so the
# package is installed, tested and purged while this suite holds the machine-wide pcscd lock
# (tests/e2e/lib.sh), and purged in the EXIT trap whatever happens. A cpx-pkcs11 package
# installed before the suite starts is a failure (not ours to remove).
#
# Environment: CPX_VCARD, CPX_RUN_DIR, CPX_KEEP, CPX_PCSCD_WAIT (tests/e2e/lib.sh). Needs root,
# dpkg, p11-kit, pkcs11-tool, certutil/modutil, and cargo-deb (scripts/build-deb.sh installs
# it). Prints PASS/FAIL per check and ends with "N passed, M failed".
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
unset CPX_SIM_CARDS
e2e_begin package
PKG=cpx-pkcs11
PIN=1234
LABEL=CPS3v3-2699700011

installed_by_us=0
pkg_purge() {
    if ((installed_by_us)) && dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -qv 'not-installed'; then
        echo "package.sh: purging $PKG (exit trap)"
        dpkg -P "$PKG" >/dev/null 2>&1 || true
    fi
}
trap 'rc=$?; pkg_purge; (exit $rc); e2e_cleanup' EXIT

need_tools dpkg dpkg-deb p11-kit pkcs11-tool certutil modutil
build_vcard

# --- build --------------------------------------------------------------------------------
t0=$(date +%s%N)
# Not a client command: on a fresh machine build-deb.sh first builds cargo-deb (`cargo install`,
# 1.5–3 min on 2 cores), so it gets its own time limit.
if T=900 run "$W/build.out" bash scripts/build-deb.sh "$W/deb"; then
    DEB=$(find "$W/deb" -name "${PKG}_*.deb" | head -1)
fi
if [[ -n ${DEB:-} && -f $DEB ]]; then
    pass "scripts/build-deb.sh: $(basename "$DEB") ($(du -k "$DEB" | cut -f1) KiB, $(ms_since "$t0") ms)"
else
    show "$W/build.out"
    fatal "scripts/build-deb.sh built no .deb"
fi

# --- what the package holds ---------------------------------------------------------------
dpkg-deb -c "$DEB" | awk '{ $1=$2=$3=$4=$5=""; sub(/^ +/, ""); sub(/^\./, ""); print }' >"$W/contents.txt"
# The multiarch directory (x86_64-linux-gnu, …) the library went to.
MA=$(sed -nE 's|^/usr/lib/([^/]+-linux-[^/]+)/libcpx_pkcs11\.so$|\1|p' "$W/contents.txt" | head -1)
[[ -n $MA ]] || fatal "no /usr/lib/<multiarch>/libcpx_pkcs11.so in the package"
L=/usr/lib/$MA
want=(
    "$L/libcpx_pkcs11.so"
    "$L/pkcs11/libcpx_pkcs11.so -> ../libcpx_pkcs11.so"
    "$L/libcps3_pkcs11_lux.so -> libcpx_pkcs11.so"
    "/opt/santesocial/CPS/lib/libcps3_pkcs11_lux.so -> $L/libcpx_pkcs11.so"
    "/usr/lib64/libcps3_pkcs11_lux.so -> "
    "/usr/lib64/libcps3_pkcs11_lux.so.0 -> "
    "/usr/lib64/libcps3_pkcs11_lux.so.3.1.0 -> "
    /usr/share/p11-kit/modules/cpx-pkcs11.module
    /usr/lib/mozilla/pkcs11-modules/cps3.json
    /usr/lib64/mozilla/pkcs11-modules/cps3.json
    /usr/bin/cpx
    /usr/share/doc/cpx-pkcs11/README.md
    /usr/share/doc/cpx-pkcs11/copyright
)
missing=()
for w in "${want[@]}"; do grep -qF -- "$w" "$W/contents.txt" || missing+=("$w"); done
if ((${#missing[@]} == 0)); then
    pass "package contents: library in $L/, link in $L/pkcs11/, Cryptolib names (multiarch, /opt/santesocial/CPS/lib, /usr/lib64), p11-kit module file, cps3.json, /usr/bin/cpx, docs"
else
    fail "package contents lack: ${missing[*]}"
    sed -e 's/^/    | /' "$W/contents.txt" | head -40
fi
if grep -qE '^/etc/' "$W/contents.txt" || grep -q 'policies.json' "$W/contents.txt"; then
    fail "the package installs files under /etc (a Firefox policies.json is exclusive to the administrator)"
else
    pass "no file under /etc (no Firefox policies.json, no conffile)"
fi
depends=$(dpkg-deb -f "$DEB" Depends)
if [[ ,$depends, =~ [,\ ]pcscd[,\ ] && $depends == *libpcsclite1* ]]; then
    pass "Depends: $depends"
else
    fail "Depends lacks pcscd or libpcsclite1: \"$depends\""
fi
dpkg-deb --fsys-tarfile "$DEB" | tar -xO ./usr/share/p11-kit/modules/cpx-pkcs11.module >"$W/module-file" 2>/dev/null || true
if grep -qx 'module: libcpx_pkcs11.so' "$W/module-file" && grep -qx 'critical: no' "$W/module-file" &&
    ! grep -qE '^trust-policy: *yes' "$W/module-file"; then
    pass "p11-kit module file: relative \"module: libcpx_pkcs11.so\", critical: no, no trust policy"
else
    fail "p11-kit module file is not as expected"
    show "$W/module-file"
fi

# --- scripts/install.sh / uninstall.sh into a staging root ---------------------------------
STAGE=$W/stage
mkdir -p "$STAGE"
if run "$W/install.out" env DESTDIR="$STAGE" bash scripts/install.sh &&
    [[ -f $STAGE/usr/local/lib/libcpx_pkcs11.so && -x $STAGE/usr/local/bin/cpx ]] &&
    grep -qx "module: /usr/local/lib/libcpx_pkcs11.so" "$STAGE/etc/pkcs11/modules/cpx-pkcs11.module" &&
    [[ $(readlink "$STAGE/opt/santesocial/CPS/lib/libcps3_pkcs11_lux.so") == /usr/local/lib/libcpx_pkcs11.so ]]; then
    n=$(find "$STAGE" ! -type d | wc -l)
    if run "$W/uninstall.out" env DESTDIR="$STAGE" bash scripts/uninstall.sh &&
        [[ -z $(find "$STAGE" -mindepth 1) ]]; then
        pass "scripts/install.sh (DESTDIR): $n files (module, cpx, p11-kit file with the absolute path, Cryptolib names); uninstall.sh leaves the root empty"
    else
        fail "scripts/uninstall.sh left: $(find "$STAGE" -mindepth 1 | head -5 | tr '\n' ' ')"
    fi
else
    fail "scripts/install.sh (DESTDIR) did not install the expected files"
    show "$W/install.out"
fi

# --- installed, with a card ---------------------------------------------------------------
if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q ' installed'; then
    fatal "$PKG is already installed on this machine: not this suite's to remove (dpkg -P $PKG)"
fi
start_pcscd
start_card cps3-doctor
pass "pcscd up, card cps3-doctor in \"$CPX_READER\""

# Every path of the package (files, links, directories), and whether it exists: before the
# install and after the purge. (Only these paths: other agents may install packages meanwhile.)
sed -e 's/ -> .*//; s|/$||' "$W/contents.txt" | grep -v '^$' | sort -u >"$W/paths.txt"
snapshot() {
    local p
    while read -r p; do
        if [[ -L $p ]]; then echo "$p link"; elif [[ -d $p ]]; then echo "$p dir"; elif [[ -e $p ]]; then echo "$p file"; fi
    done <"$W/paths.txt"
}
snapshot >"$W/before.txt"

installed_by_us=1
if run "$W/dpkg-i.out" dpkg -i "$DEB"; then
    pass "dpkg -i $(basename "$DEB")"
else
    show "$W/dpkg-i.out"
    fatal "dpkg -i failed"
fi

if run "$W/p11kit.out" p11-kit list-modules &&
    grep -qE "^$PKG: libcpx_pkcs11\.so\$" "$W/p11kit.out" &&
    awk -v m="$PKG:" '$1 == m {on=1; next} /^[^ ]/ {on=0} on' "$W/p11kit.out" | grep -qE "token: $LABEL\$"; then
    pass "p11-kit list-modules: \"$PKG: libcpx_pkcs11.so\" with token $LABEL"
else
    fail "p11-kit list-modules does not show $PKG with token $LABEL"
    show "$W/p11kit.out" 30
fi

for path in "$L/pkcs11/libcpx_pkcs11.so" "$L/libcps3_pkcs11_lux.so" \
    /opt/santesocial/CPS/lib/libcps3_pkcs11_lux.so /usr/lib64/libcps3_pkcs11_lux.so; do
    if run "$W/p11-$(basename "$(dirname "$path")").out" pkcs11-tool --module "$path" --login --pin "$PIN" -O &&
        grep -qxF "  label:      CPS_PRIV_AUT" "$W/p11-$(basename "$(dirname "$path")").out" &&
        grep -qxF "  label:      Certificat d'Authentification CPS" "$W/p11-$(basename "$(dirname "$path")").out"; then
        pass "pkcs11-tool --module $path --login -O: certificates and CPS_PRIV_AUT"
    else
        fail "pkcs11-tool through $path does not list the card's objects"
        show "$W/p11-$(basename "$(dirname "$path")").out"
    fi
done
json=/usr/lib/mozilla/pkcs11-modules/cps3.json
jpath=$(sed -nE 's/^ *"path": *"([^"]+)".*/\1/p' "$json" 2>/dev/null || true)
if grep -qE '"name": *"cps3"' "$json" && grep -qF 'CPS2ter-2020_Firefox@asipsante.fr' "$json" &&
    [[ -n $jpath && $(realpath "$jpath") == "$(realpath "$L/libcpx_pkcs11.so")" ]]; then
    pass "Firefox manifest $json: name cps3, ANS's extension allowed, path $jpath → the installed library"
else
    fail "Firefox manifest $json does not name the installed library (path \"$jpath\")"
fi

# The installed cpx registers the installed module (found by itself) in a fresh user's NSS db.
H=$W/home
mkdir -p "$H"
if HOME=$H run "$W/register.out" /usr/bin/cpx register nss &&
    grep -qx "library=$L/libcpx_pkcs11.so" "$H/.pki/nssdb/pkcs11.txt" &&
    run "$W/certutil.out" certutil -L -d "sql:$H/.pki/nssdb" -h all &&
    grep -qF "$LABEL:Certificat d'Authentification CPS" "$W/certutil.out" &&
    grep -qF "$LABEL:Certificat de Signature CPS" "$W/certutil.out"; then
    pass "/usr/bin/cpx register nss: $L/libcpx_pkcs11.so in ~/.pki/nssdb; certutil -L -h all lists both certificates of $LABEL"
else
    fail "cpx register nss + certutil -L -h all did not list the card's certificates"
    show "$W/register.out"
    show "$W/certutil.out"
fi
HOME=$H /usr/bin/cpx unregister nss >/dev/null 2>&1 || true

# --- removal ------------------------------------------------------------------------------
dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ { $1=$2=$3=$4=$5=""; sub(/^ +\./, ""); sub(/ -> .*/, ""); print }' >"$W/files.txt"
if run "$W/dpkg-r.out" dpkg -r "$PKG"; then
    left=()
    while read -r f; do [[ -e $f || -L $f ]] && left+=("$f"); done <"$W/files.txt"
    if ((${#left[@]} == 0)) && ! p11-kit list-modules 2>/dev/null | grep -q "^$PKG:"; then
        pass "dpkg -r: none of the package's $(wc -l <"$W/files.txt") files left; p11-kit no longer lists $PKG"
    else
        fail "dpkg -r left: ${left[*]:-(p11-kit still lists $PKG)}"
    fi
else
    fail "dpkg -r failed"
    show "$W/dpkg-r.out"
fi
if run "$W/dpkg-P.out" dpkg -P "$PKG"; then
    installed_by_us=0
    status=$(dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null || echo "not known to dpkg")
    snapshot >"$W/after.txt"
    if [[ $status != *" installed"* ]] && diff -u "$W/before.txt" "$W/after.txt" >"$W/tree.diff"; then
        pass "dpkg -P: package status \"$status\"; of the package's $(wc -l <"$W/paths.txt") paths, exactly the $(wc -l <"$W/before.txt") that existed before remain (shared directories), nothing else"
    else
        fail "dpkg -P: the file tree differs from before the install"
        sed -e 's/^/    | /' "$W/tree.diff" | head -20
    fi
else
    fail "dpkg -P failed"
    show "$W/dpkg-P.out"
fi

summary
