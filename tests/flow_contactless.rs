//! Library integration, `CPX_SIM_CARDS=cps3-contactless`: the contactless token CPS3v3_CL
//! has no PIN: no CKF_LOGIN_REQUIRED, C_Login → CKR_USER_PIN_NOT_INITIALIZED, C_Logout →
//! CKR_USER_NOT_LOGGED_IN; "Certificat Technique CPS" and CPS_PRIV_TECH_AUT are visible
//! and the key signs (CKM_RSA_PKCS) without login; the signature verifies with the fixture
//! certificate.
#![cfg(feature = "sim")]

mod common;
use common::*;

use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::UserType;
use rsa::Pkcs1v15Sign;

#[test]
fn contactless_token() {
    let p11 = load("cps3-contactless");
    let slot = p11.get_slots_with_token().unwrap()[0];
    let t = p11.get_token_info(slot).unwrap();
    assert_eq!(t.label(), "CPS3v3_CL");
    assert!(!t.login_required() && !t.user_pin_initialized());
    let s = p11.open_rw_session(slot).unwrap();
    assert_eq!(
        ck_rv(s.login(UserType::User, Some(&auth_pin("1234")))),
        Some(RvError::UserPinNotInitialized)
    );
    assert_eq!(ck_rv(s.logout()), Some(RvError::UserNotLoggedIn));
    let cert = one(
        &s,
        &[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::Label("Certificat Technique CPS".into()),
        ],
    );
    let (public, der) = fixture("cps3-contactless-tech");
    assert_eq!(attr(&s, cert, AttributeType::Value), der);
    let k = one(
        &s,
        &[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Label("CPS_PRIV_TECH_AUT".into()),
        ],
    );
    assert_eq!(
        attr(&s, k, AttributeType::Id),
        attr(&s, cert, AttributeType::Id)
    );
    let challenge = [0x5Au8; 32];
    let sig = s.sign(&Mechanism::RsaPkcs, k, &challenge).unwrap();
    public
        .verify(Pkcs1v15Sign::new_unprefixed(), &challenge, &sig)
        .unwrap();
    drop(s);
    p11.finalize().unwrap();
}
