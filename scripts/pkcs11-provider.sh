#!/usr/bin/env bash
# The OpenSSL 3 pkcs11-provider, which Debian 12 has in bookworm-backports only: downloaded
# with apt from bookworm-backports WITHOUT touching the system's apt configuration (a private
# sources file and package lists), unpacked (dpkg-deb -x, not installed) into a cache
# directory. Prints the directory to give OpenSSL as OPENSSL_MODULES (it holds pkcs11.so).
#
#   scripts/pkcs11-provider.sh [CACHE_DIR]     default CACHE_DIR: target/pkcs11-provider
#
# Use: OPENSSL_MODULES=$(scripts/pkcs11-provider.sh) PKCS11_PROVIDER_MODULE=<module> \
#        openssl s_client -provider default -provider pkcs11 -key "pkcs11:…" …
# (`-provider default` first: with pkcs11 first, OpenSSL 3.0 asks the provider to verify the
# server's signature with a key it does not hold, and the handshake fails.)
set -euo pipefail
cd "$(dirname "$0")/.."
C=$(realpath -m "${1:-target/pkcs11-provider}")
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
find_so() { find "$C/root" -path '*/ossl-modules/pkcs11.so' 2>/dev/null | head -1 || true; }
so=$(find_so)
if [[ -z $so ]]; then
    rm -rf "$C"
    mkdir -p "$C/lists/partial" "$C/archives/partial" "$C/parts"
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$MIRROR" >"$C/parts/backports.sources"
    apt_opts=(-o Dir::Etc::sourcelist=- -o "Dir::Etc::sourceparts=$C/parts"
        -o "Dir::State::Lists=$C/lists" -o "Dir::Cache::archives=$C/archives"
        -o APT::Sandbox::User=root -qq)
    apt-get "${apt_opts[@]}" update >&2
    (cd "$C" && apt-get "${apt_opts[@]}" download pkcs11-provider >&2)
    dpkg-deb -x "$C"/pkcs11-provider_*.deb "$C/root"
    so=$(find_so)
    [[ -n $so ]] || { echo "pkcs11-provider.sh: no ossl-modules/pkcs11.so in the package" >&2; exit 1; }
    echo "pkcs11-provider.sh: $(basename "$C"/pkcs11-provider_*.deb) unpacked in $C/root" >&2
fi
dirname "$so"
