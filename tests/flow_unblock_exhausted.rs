//! Library integration, `CPX_SIM_CARDS=cps3-unblock-exhausted`: a card whose PIN is blocked
//! and whose PUK has no unblock use left is reported CKF_USER_PIN_LOCKED (Cryptolib fix
//! 1175); the PUK still verifies but C_InitPIN gets CKR_PIN_LOCKED and the card stays
//! blocked.
#![cfg(feature = "sim")]

mod common;
use common::*;

use cryptoki::error::RvError;
use cryptoki::session::UserType;

#[test]
fn exhausted_card_stays_locked() {
    let p11 = load("cps3-unblock-exhausted");
    let slot = p11.get_slots_with_token().unwrap()[0];
    assert!(pin_flags(&p11, slot).2);
    let rw = p11.open_rw_session(slot).unwrap();
    rw.login(UserType::So, Some(&auth_pin("12345678"))).unwrap();
    assert_eq!(
        ck_rv(rw.init_pin(&auth_pin("4321"))),
        Some(RvError::PinLocked)
    );
    rw.logout().unwrap();
    assert!(pin_flags(&p11, slot).2);
    assert_eq!(
        ck_rv(rw.login(UserType::User, Some(&auth_pin("4321")))),
        Some(RvError::PinLocked)
    );
    drop(rw);
    p11.finalize().unwrap();
}
