//! Library integration, `CPX_SIM_CARDS=cps3-doctor`: C_SetPIN. Lengths are checked before
//! anything reaches the card, a wrong old PIN costs exactly one try (CKF_USER_PIN_COUNT_LOW),
//! the right one resets the counter and the new PIN takes effect (the old one no longer
//! works). The card's own counters are checked in-process (`src/p11/tests_pin.rs`).
#![cfg(feature = "sim")]

mod common;
use common::*;

use cryptoki::error::RvError;
use cryptoki::session::UserType;

#[test]
fn change_pin() {
    let p11 = load("cps3-doctor");
    let slot = p11.get_slots_with_token().unwrap()[0];
    assert_eq!(pin_flags(&p11, slot), (false, false, false));
    let ro = p11.open_ro_session(slot).unwrap();
    assert_eq!(
        ck_rv(ro.set_pin(&auth_pin("1234"), &auth_pin("5678"))),
        Some(RvError::SessionReadOnly)
    );
    drop(ro);
    let rw = p11.open_rw_session(slot).unwrap();
    assert_eq!(
        ck_rv(rw.set_pin(&auth_pin("1234"), &auth_pin("56"))),
        Some(RvError::PinLenRange)
    );
    assert_eq!(
        ck_rv(rw.set_pin(&auth_pin("12"), &auth_pin("5678"))),
        Some(RvError::PinIncorrect)
    );
    assert_eq!(pin_flags(&p11, slot), (false, false, false), "no try spent");
    assert_eq!(
        ck_rv(rw.set_pin(&auth_pin("0000"), &auth_pin("5678"))),
        Some(RvError::PinIncorrect)
    );
    assert_eq!(pin_flags(&p11, slot), (true, false, false), "one try spent");
    rw.set_pin(&auth_pin("1234"), &auth_pin("5678")).unwrap();
    assert_eq!(
        pin_flags(&p11, slot),
        (false, false, false),
        "counter reset"
    );
    assert_eq!(
        ck_rv(rw.login(UserType::User, Some(&auth_pin("1234")))),
        Some(RvError::PinIncorrect)
    );
    rw.login(UserType::User, Some(&auth_pin("5678"))).unwrap();
    assert_eq!(pin_flags(&p11, slot), (false, false, false));
    // Logged in: change back, log out and in with it.
    rw.set_pin(&auth_pin("5678"), &auth_pin("1234")).unwrap();
    rw.logout().unwrap();
    rw.login(UserType::User, Some(&auth_pin("1234"))).unwrap();
    drop(rw);
    p11.finalize().unwrap();
}
