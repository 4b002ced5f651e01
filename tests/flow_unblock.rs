//! Library integration, `CPX_SIM_CARDS=cps3-pharmacist-blocked`: the unblock exactly as the
//! Cryptolib does it — a blocked PIN stays blocked (even the right PIN gets
//! CKR_PIN_LOCKED), C_Login(CKU_SO) is refused while a read-only session is open, then in a
//! R/W session C_Login(CKU_SO, PUK) + C_InitPIN(new PIN) restores the counter.
#![cfg(feature = "sim")]

mod common;
use common::*;

use cryptoki::error::RvError;
use cryptoki::session::UserType;

#[test]
fn unblock_with_the_puk() {
    let p11 = load("cps3-pharmacist-blocked");
    let slot = p11.get_slots_with_token().unwrap()[0];
    assert!(pin_flags(&p11, slot).2, "CKF_USER_PIN_LOCKED");
    let ro = p11.open_ro_session(slot).unwrap();
    assert_eq!(
        ck_rv(ro.login(UserType::User, Some(&auth_pin("1234")))),
        Some(RvError::PinLocked)
    );
    assert!(pin_flags(&p11, slot).2, "blocked stays blocked");
    assert_eq!(
        ck_rv(ro.login(UserType::So, Some(&auth_pin("12345678")))),
        Some(RvError::SessionReadOnlyExists)
    );
    drop(ro);
    let rw = p11.open_rw_session(slot).unwrap();
    assert_eq!(
        ck_rv(rw.init_pin(&auth_pin("4321"))),
        Some(RvError::UserNotLoggedIn)
    );
    assert_eq!(
        ck_rv(rw.login(UserType::So, Some(&auth_pin("1234")))),
        Some(RvError::PinIncorrect),
        "PUK length checked first"
    );
    rw.login(UserType::So, Some(&auth_pin("12345678"))).unwrap();
    assert_eq!(
        ck_rv(rw.init_pin(&auth_pin("123"))),
        Some(RvError::PinLenRange)
    );
    rw.init_pin(&auth_pin("4321")).unwrap();
    rw.logout().unwrap();
    assert_eq!(pin_flags(&p11, slot), (false, false, false), "unblocked");
    rw.login(UserType::User, Some(&auth_pin("4321"))).unwrap();
    drop(rw);
    p11.finalize().unwrap();
}
