//! Library integration, `CPX_SIM_CARDS=cps3-doctor`: a wrong PIN costs exactly one try,
//! CKF_USER_PIN_COUNT_LOW / FINAL_TRY / LOCKED appear as the counter falls, a PIN of the
//! wrong length costs nothing, and the PUK unblocks (C_Login(CKU_SO) + C_InitPIN).
#![cfg(feature = "sim")]

mod common;
use common::*;

use cryptoki::error::{Error, RvError};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;

fn rv(r: cryptoki::error::Result<()>) -> Option<RvError> {
    match r {
        Ok(()) => None,
        Err(Error::Pkcs11(rv, _)) => Some(rv),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn wrong_pin_counts_down_and_puk_unblocks() {
    let p11 = load("cps3-doctor");
    let slot = p11.get_slots_with_token().unwrap()[0];
    let flags = || {
        let t = p11.get_token_info(slot).unwrap();
        (
            t.user_pin_count_low(),
            t.user_pin_final_try(),
            t.user_pin_locked(),
        )
    };
    assert_eq!(flags(), (false, false, false));
    let s = p11.open_ro_session(slot).unwrap();
    let pin = |p: &str| AuthPin::new(p.into());
    // Wrong length: refused without touching the card.
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin("12")))),
        Some(RvError::PinIncorrect)
    );
    assert_eq!(flags(), (false, false, false));
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin("0000")))),
        Some(RvError::PinIncorrect)
    );
    assert_eq!(flags(), (true, false, false));
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin("0000")))),
        Some(RvError::PinIncorrect)
    );
    assert_eq!(flags(), (true, true, false));
    let last = rv(s.login(UserType::User, Some(&pin("0000"))));
    assert!(
        matches!(last, Some(RvError::PinIncorrect | RvError::PinLocked)),
        "{last:?}"
    );
    assert!(flags().2, "locked after three wrong PINs");
    assert_eq!(
        rv(s.login(UserType::User, Some(&pin("1234")))),
        Some(RvError::PinLocked)
    );

    // Unblock: no R/O session may exist, then C_Login(CKU_SO, PUK) + C_InitPIN.
    assert_eq!(
        rv(s.login(UserType::So, Some(&pin("12345678")))),
        Some(RvError::SessionReadOnlyExists)
    );
    drop(s);
    let rw = p11.open_rw_session(slot).unwrap();
    rw.login(UserType::So, Some(&pin("12345678"))).unwrap();
    assert_eq!(rv(rw.init_pin(&pin("12"))), Some(RvError::PinLenRange));
    rw.init_pin(&pin("4321")).unwrap();
    rw.logout().unwrap();
    assert_eq!(flags(), (false, false, false));
    rw.login(UserType::User, Some(&pin("4321"))).unwrap();
    rw.set_pin(&pin("4321"), &pin("1234")).unwrap();
    rw.logout().unwrap();
    rw.login(UserType::User, Some(&pin("1234"))).unwrap();
    drop(rw);
    p11.finalize().unwrap();
}
