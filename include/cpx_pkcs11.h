/*
 * cpx_pkcs11.h — vendor constants documented by cpx-pkcs11 (documentation only).
 *
 * C users include the standard OASIS pkcs11.h; cpx-pkcs11 never returns these codes in
 * v1. They are the Cryptolib CPS vendor extensions (cryptolib-compat.md §12), listed so
 * that applications written against the Cryptolib keep compiling.
 */
#ifndef CPX_PKCS11_H
#define CPX_PKCS11_H

#include "pkcs11.h"

/* Card update incomplete: card recognised but unusable (Cryptolib: at C_OpenSession). */
#define CKR_ASIP_BAD_EF_ACTUA (CKR_VENDOR_DEFINED + 1UL)

/* TSE/RDP: the remote machine changed; re-initialise. */
#define CKR_ASIP_REINIT_NEEDED (CKR_VENDOR_DEFINED + 2UL)

/* Legacy CPS2ter module key type attribute: 'A' (authentication) or 'S' (signature).
 * Not exposed by cpx-pkcs11. */
#define CKA_CPS_KEY_TYPE (CKA_VENDOR_DEFINED + 1UL)

#endif /* CPX_PKCS11_H */
