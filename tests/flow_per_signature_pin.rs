//! Library integration, `CPX_SIM_CARDS=cps3-signer` with the default PIN cache (the
//! Cryptolib behaviour): the card forgets the PIN after each signature, the module re-verifies
//! the kept PIN silently, so existing software signs again and again after one C_Login.
//! CKA_ALWAYS_AUTHENTICATE stays CK_FALSE. Every signature verifies with the fixture
//! certificate.
#![cfg(feature = "sim")]

mod common;
use common::*;

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType};
use cryptoki::session::UserType;
use rsa::Pkcs1v15Sign;
use sha2::Digest;

#[test]
fn silent_reverification() {
    let p11 = load("cps3-signer");
    let slot = p11.get_slots_with_token().unwrap()[0];
    let s = p11.open_ro_session(slot).unwrap();
    s.login(UserType::User, Some(&auth_pin("1234"))).unwrap();
    let k = one(&s, &[Attribute::Label("CPS_PRIV_SIG".into())]);
    let always = s
        .get_attributes(k, &[AttributeType::AlwaysAuthenticate])
        .unwrap();
    assert_eq!(always, vec![Attribute::AlwaysAuthenticate(false)]);
    let (public, _) = fixture("cps3-signer-sig");
    for i in 0..3 {
        let msg = format!("ordonnance {i}");
        let sig = s
            .sign(&Mechanism::Sha256RsaPkcs, k, msg.as_bytes())
            .unwrap();
        let hash = sha2::Sha256::digest(msg.as_bytes());
        public
            .verify(Pkcs1v15Sign::new::<sha2::Sha256>(), &hash, &sig)
            .unwrap();
    }
    assert_eq!(pin_flags(&p11, slot), (false, false, false), "no try spent");
    drop(s);
    p11.finalize().unwrap();
}
