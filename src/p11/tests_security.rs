//! The guarantees of `docs/security.md` at the module level: the kept PIN lives in locked
//! memory and is dropped when the card is reset by another process, without being replayed.

use super::error::Error;
use super::mechanism::Mechanism;
use super::object::Attr;
use super::test_util::{find, module, open};
use cryptoki_sys::*;

/// VERIFY commands that carried a PIN, in the simulated card's trace.
fn pin_verifies(card: &crate::transport::r#virtual::SharedCard) -> usize {
    let trace = card.lock().unwrap().trace();
    trace
        .apdus()
        .iter()
        .filter(|(c, _)| c.len() > 5 && c[1] == 0x20)
        .count()
}

#[test]
fn kept_pin_is_locked_and_dropped_on_reset_by_another_process() {
    let (mut m, card) = module("cps3-doctor");
    let h = open(&mut m, false);
    m.login(h, CKU_USER, b"1234").unwrap();
    {
        let token = m.slots[0].token.as_ref().unwrap();
        let pin = token.pin.as_ref().expect("PIN cache on: the PIN is kept");
        assert_eq!(pin.as_bytes(), b"1234");
        // Root (the tests' environment) may always mlock.
        if std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        }) {
            assert!(pin.is_locked(), "the kept PIN is not in locked memory");
        }
        assert!(!format!("{pin:?}").contains("1234"));
    }
    let keys = find(&mut m, h, &[Attr::ulong(CKA_CLASS, CKO_PRIVATE_KEY)]);
    assert!(!keys.is_empty());
    let verifies = pin_verifies(&card);
    // Another application resets the card: its security state is gone, and PC/SC reports
    // the reset on our next exchange (SCARD_W_RESET_CARD).
    card.lock().unwrap().inject(1, crate::sim::FaultKind::Reset);
    m.sign_init(h, &Mechanism::new(CKM_SHA256_RSA_PKCS), keys[0])
        .and_then(|()| m.sign(h, b"after the reset", Some(256)).map(|_| ()))
        .map_err(|e: Error| assert_eq!(e.rv(), CKR_USER_NOT_LOGGED_IN, "{e}"))
        .expect_err("a signature after a reset by someone else");
    assert_eq!(
        pin_verifies(&card),
        verifies,
        "the kept PIN was replayed after a reset"
    );
    assert!(
        m.slots[0].token.as_ref().unwrap().pin.is_none(),
        "the kept PIN survived the reset"
    );
}
