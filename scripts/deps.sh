#!/usr/bin/env bash
# Installs the Debian 12 packages the tests and the demo need (as root, with apt-get).
# Idempotent: does nothing when every tool is already there.
set -euo pipefail
PKGS=(pcscd libpcsclite-dev pkg-config vsmartcard-vpcd pcsc-tools opensc opensc-pkcs11 openssl gnutls-bin libnss3-tools p11-kit libengine-pkcs11-openssl curl python3 dpkg-dev time)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "deps.sh: missing Debian packages: ${missing[*]} (run as root, or: sudo $0)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
    { apt-get -f install -y -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; }
