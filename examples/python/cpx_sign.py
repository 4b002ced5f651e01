#!/usr/bin/env python3
"""A Python recipe for the CPx card through the cpx-pkcs11 module (python-pkcs11 and
cryptography from PyPI): lists the card's certificates, logs in, signs with one of the card's
keys and verifies the signature with that certificate's public key.

    pip install python-pkcs11 cryptography
    CPX_PIN=…  python3 cpx_sign.py MODULE [--key auth|sign] [--file DATA] [--out SIG]

MODULE is the absolute path of libcpx_pkcs11.so. The PIN is read from the environment variable
CPX_PIN, never from the command line (it would show in `ps`); on a PIN-pad reader leave it unset
and type the PIN on the reader. The key: `auth` (authentication, "Certificat d'Authentification
CPS") or `sign` (signature, "Certificat de Signature CPS"); a certificate and its private key
share their CKA_ID. The mechanism is CKM_SHA256_RSA_PKCS: the module hashes, the card signs.
Exits non-zero when the signature does not verify. Tested by tests/e2e/python.sh.
"""

import argparse
import os
import sys

import pkcs11
from pkcs11 import Attribute, Mechanism, ObjectClass
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

LABELS = {
    "auth": "Certificat d'Authentification CPS",
    "sign": "Certificat de Signature CPS",
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("module")
    ap.add_argument("--key", choices=sorted(LABELS), default="sign")
    ap.add_argument("--file", help="data to sign (default: a fixed text)")
    ap.add_argument("--out", help="write the signature there")
    a = ap.parse_args()
    data = open(a.file, "rb").read() if a.file else b"cpx-pkcs11: signed from Python\n"

    lib = pkcs11.lib(a.module)
    slots = lib.get_slots(token_present=True)
    if not slots:
        sys.exit("no card in any reader")
    token = slots[0].get_token()
    print("token: %s (%s)" % (token.label, token.manufacturer_id))

    pin = os.environ.get("CPX_PIN")
    # user_pin=None with a PIN-pad reader: C_Login without a PIN, the reader asks for it.
    with token.open(user_pin=pin if pin else pkcs11.PROTECTED_AUTH) as session:
        chosen = None
        for cert in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE}):
            c = x509.load_der_x509_certificate(cert[Attribute.VALUE])
            label = cert[Attribute.LABEL]
            print("certificate: %s | %s | id %s" % (label, c.subject.rfc4514_string(), cert[Attribute.ID].hex()))
            if label == LABELS[a.key]:
                chosen = (cert[Attribute.ID], c)
        if chosen is None:
            sys.exit("no certificate labelled %r" % LABELS[a.key])
        key_id, cert = chosen
        key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=key_id)
        print("private key: %s" % key.label)
        signature = key.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS)

    if a.out:
        open(a.out, "wb").write(signature)
    try:
        cert.public_key().verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        sys.exit("the signature does NOT verify with the certificate's public key")
    print("signature: %d bytes, verified with the certificate's public key (serial %x)" % (len(signature), cert.serial_number))


if __name__ == "__main__":
    main()
