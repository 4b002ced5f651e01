//! Library integration, `CPX_SIM_CARDS=cps3-signer`, `CPX_PKCS11_PIN_CACHE=off`: the
//! standard per-signature PIN. The PIN is not kept; CPS_PRIV_SIG has
//! CKA_ALWAYS_AUTHENTICATE = CK_TRUE; C_Sign without C_Login(CKU_CONTEXT_SPECIFIC) gets
//! CKR_USER_NOT_LOGGED_IN; with it, each signature works; a wrong context PIN costs one try.
#![cfg(feature = "sim")]

mod common;
use common::*;

use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType};
use cryptoki::session::UserType;

#[test]
fn context_specific_login() {
    std::env::set_var("CPX_PKCS11_PIN_CACHE", "off");
    let p11 = load("cps3-signer");
    let slot = p11.get_slots_with_token().unwrap()[0];
    let s = p11.open_ro_session(slot).unwrap();
    s.login(UserType::User, Some(&auth_pin("1234"))).unwrap();
    let k = one(&s, &[Attribute::Label("CPS_PRIV_SIG".into())]);
    let aut = one(&s, &[Attribute::Label("CPS_PRIV_AUT".into())]);
    let always = |o| {
        s.get_attributes(o, &[AttributeType::AlwaysAuthenticate])
            .unwrap()
    };
    assert_eq!(always(k), vec![Attribute::AlwaysAuthenticate(true)]);
    assert_eq!(always(aut), vec![Attribute::AlwaysAuthenticate(false)]);
    // cryptoki's sign() is C_SignInit + C_Sign: no room for the context login.
    assert_eq!(
        ck_rv(s.sign(&Mechanism::Sha256RsaPkcs, k, b"x")),
        Some(RvError::UserNotLoggedIn)
    );
    assert_eq!(
        ck_rv(s.login(UserType::ContextSpecific, Some(&auth_pin("1234")))),
        Some(RvError::OperationNotInitialized)
    );
    for _ in 0..2 {
        s.sign_init(&Mechanism::Sha256RsaPkcs, k).unwrap();
        assert_eq!(
            ck_rv(s.login(UserType::ContextSpecific, Some(&auth_pin("0000")))),
            Some(RvError::PinIncorrect)
        );
        assert_eq!(pin_flags(&p11, slot), (true, false, false));
        s.login(UserType::ContextSpecific, Some(&auth_pin("1234")))
            .unwrap();
        assert_eq!(pin_flags(&p11, slot), (false, false, false));
        s.sign_update(b"ordonnance").unwrap();
        assert_eq!(s.sign_final().unwrap().len(), 256);
    }
    drop(s);
    p11.finalize().unwrap();
}
