//! Library integration, `CPX_SIM_CARDS=pinpad:cps3-doctor`: a virtual PIN-pad reader whose
//! keypad "types" `CPX_SIM_PINPAD` (a wrong PIN, a cancel, the right PIN). The token has
//! CKF_PROTECTED_AUTHENTICATION_PATH; C_Login with a NULL PIN uses the keypad: a wrong entry
//! costs one try, a cancel is CKR_FUNCTION_CANCELED and costs nothing, the right one logs in
//! and signs.
#![cfg(feature = "sim")]

mod common;
use common::*;

use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::Attribute;
use cryptoki::session::UserType;

#[test]
fn login_on_the_pin_pad() {
    std::env::set_var("CPX_SIM_PINPAD", "0000,cancel,1234");
    let p11 = load("pinpad:cps3-doctor");
    let slot = p11.get_slots_with_token().unwrap()[0];
    let t = p11.get_token_info(slot).unwrap();
    assert!(t.protected_authentication_path());
    let s = p11.open_ro_session(slot).unwrap();
    assert_eq!(
        ck_rv(s.login(UserType::User, None)),
        Some(RvError::PinIncorrect)
    );
    assert_eq!(pin_flags(&p11, slot), (true, false, false), "one try spent");
    assert_eq!(
        ck_rv(s.login(UserType::User, None)),
        Some(RvError::FunctionCanceled)
    );
    assert_eq!(
        pin_flags(&p11, slot),
        (true, false, false),
        "cancel costs nothing"
    );
    s.login(UserType::User, None).unwrap();
    assert_eq!(
        pin_flags(&p11, slot),
        (false, false, false),
        "counter reset"
    );
    let k = one(&s, &[Attribute::Label("CPS_PRIV_AUT".into())]);
    let sig = s
        .sign(&Mechanism::Sha256RsaPkcs, k, b"authentification")
        .unwrap();
    assert_eq!(sig.len(), 256);
    s.logout().unwrap();
    // The keypad is empty now: nobody types, the reader times out.
    assert_eq!(
        ck_rv(s.login(UserType::User, None)),
        Some(RvError::FunctionCanceled)
    );
    drop(s);
    p11.finalize().unwrap();
}
