#!/usr/bin/env bash
# The main job on the built-in virtual card: a simulated CPS3 ("cps3-doctor") inserted in a
# real pcscd through vsmartcard-vpcd, then read and used by PKCS#11 clients: list the token
# and its objects, log in, sign with the authentication key and verify with openssl.
#
#   scripts/try.sh [PERSONA]
#
# Needs root (pcscd). Installs its Debian packages first (scripts/deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
persona=${1:-cps3-doctor}
export CPX_RUN_DIR=${CPX_RUN_DIR:-$(mktemp -d /tmp/cpx-try.XXXXXX)}
cargo build -q --features sim --bin cpx-vcard
export CPX_VCARD=$PWD/target/debug/cpx-vcard
trap 'bash scripts/pcsc-down.sh >/dev/null 2>&1 || true' EXIT
bash scripts/pcsc-up.sh "$persona"

module=$(dpkg -L opensc-pkcs11 | grep '/opensc-pkcs11\.so$' | head -1)
echo "== card as OpenSC sees it"
opensc-tool -n
echo "== slots and token (module: $module)"
pkcs11-tool --module "$module" -L
echo "== objects after login"
pkcs11-tool --module "$module" --login --pin 1234 -O
echo "== sign a SHA-256 DigestInfo with the authentication key, verify with openssl"
work=$CPX_RUN_DIR
printf 'Feuille de soins 2026-11-22\n' > "$work/data.txt"
openssl dgst -sha256 -binary "$work/data.txt" > "$work/data.sha256"
# DigestInfo for SHA-256 = fixed prefix ‖ hash.
{ printf '\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20'; cat "$work/data.sha256"; } > "$work/digestinfo.bin"
pkcs11-tool --module "$module" --login --pin 1234 --sign -m RSA-PKCS \
    --id e828bd080f8025000001ff001002 -i "$work/digestinfo.bin" -o "$work/sig.bin"
pkcs11-tool --module "$module" --read-object --type cert --id e828bd080f8025000001ff001002 -o "$work/auth.der"
openssl x509 -inform DER -in "$work/auth.der" -noout -subject
openssl x509 -inform DER -in "$work/auth.der" -pubkey -noout > "$work/auth.pub"
openssl dgst -sha256 -verify "$work/auth.pub" -signature "$work/sig.bin" "$work/data.txt"
echo "== APDU trace of the virtual card: $CPX_RUN_DIR (PIN bytes masked)"
