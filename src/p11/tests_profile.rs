//! The CKO_PROFILE object NSS looks for (PKCS#11 3.0 §4.13), in-process: one per token,
//! CKP_PUBLIC_CERTIFICATES_TOKEN, public, no label, not usable as a key.

use super::object::{Attr, AttrLookup};
use super::test_util::{find, module, open, value};
use crate::p11::mechanism::Mechanism;
use cryptoki_sys::*;

#[test]
fn one_public_certificates_profile_per_token() {
    for persona in ["cps3-doctor", "cps4-nurse", "cps3-contactless"] {
        let (mut m, _) = module(persona);
        let h = open(&mut m, false);
        let found = find(&mut m, h, &[Attr::ulong(CKA_CLASS, CKO_PROFILE)]);
        assert_eq!(found.len(), 1, "{persona}");
        let p = found[0];
        assert_eq!(
            value(&mut m, h, p, CKA_PROFILE_ID),
            CKP_PUBLIC_CERTIFICATES_TOKEN.to_ne_bytes()
        );
        assert_eq!(value(&mut m, h, p, CKA_TOKEN), [CK_TRUE]);
        assert_eq!(value(&mut m, h, p, CKA_PRIVATE), [CK_FALSE]);
        assert_eq!(
            m.get_attributes(h, p, &[CKA_LABEL, CKA_ID, CKA_VALUE])
                .unwrap(),
            vec![AttrLookup::Invalid; 3]
        );
        // Templates NSS uses to find it.
        assert_eq!(
            find(
                &mut m,
                h,
                &[
                    Attr::ulong(CKA_CLASS, CKO_PROFILE),
                    Attr::ulong(CKA_PROFILE_ID, CKP_PUBLIC_CERTIFICATES_TOKEN)
                ]
            ),
            found
        );
        assert!(m.sign_init(h, &Mechanism::new(CKM_RSA_PKCS), p).is_err());
        // Certificates are searched without a label match on the profile.
        assert!(!find(&mut m, h, &[Attr::ulong(CKA_CLASS, CKO_CERTIFICATE)]).contains(&p));
    }
}
