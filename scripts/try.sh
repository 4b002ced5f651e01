#!/usr/bin/env bash
# The main job on the built-in virtual card: a simulated CPS3 ("cps3-doctor") inserted in a
# real pcscd through vsmartcard-vpcd, then used through our PKCS#11 module (release build, no
# simulator inside) as an application would: list the token and its objects, log in, sign a
# document with the non-repudiation key (CKM_SHA256_RSA_PKCS: the last block is hashed on the
# card) and verify the signature with openssl; `cpx info` shows the card for a support desk.
#
#   scripts/try.sh [PERSONA]        (cps3-doctor, cps4-nurse, cpe-staff, …: fixtures/cards/)
#
# Needs root (pcscd). Installs its Debian packages first (scripts/deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
persona=${1:-cps3-doctor}
export CPX_RUN_DIR=${CPX_RUN_DIR:-$(mktemp -d /tmp/cpx-try.XXXXXX)}
cargo build -q --release
cargo build -q --features sim --bin cpx-vcard
export CPX_VCARD=$PWD/target/debug/cpx-vcard
unset CPX_SIM_CARDS
trap 'bash scripts/pcsc-down.sh >/dev/null 2>&1 || true' EXIT
bash scripts/pcsc-up.sh "$persona"

module=$PWD/target/release/libcpx_pkcs11.so
work=$CPX_RUN_DIR
echo "== the card, as the cpx tool shows it"
target/release/cpx info
echo "== slots and token through our module ($module)"
pkcs11-tool --module "$module" -L
echo "== objects after login"
pkcs11-tool --module "$module" --login --pin 1234 -O
sig_id=$(pkcs11-tool --module "$module" -O --type cert 2>/dev/null |
    awk '/Certificat de Signature CPS/ {f=1} f && /ID:/ {print $2; exit}')
echo "== sign a document with the signature key (CKM_SHA256_RSA_PKCS, id $sig_id), verify with openssl"
printf 'Feuille de soins électronique, 2026-11-22, 25,00 EUR\n' > "$work/document.txt"
pkcs11-tool --module "$module" --login --pin 1234 --sign -m SHA256-RSA-PKCS \
    --id "$sig_id" -i "$work/document.txt" -o "$work/document.sig"
pkcs11-tool --module "$module" --read-object --type cert --id "$sig_id" -o "$work/sig.der"
openssl x509 -inform DER -in "$work/sig.der" -noout -subject
openssl x509 -inform DER -in "$work/sig.der" -pubkey -noout > "$work/sig.pub"
openssl dgst -sha256 -verify "$work/sig.pub" -signature "$work/document.sig" "$work/document.txt"
echo "== the card's APDU trace (PIN bytes masked): $CPX_RUN_DIR/vcard.trace"
