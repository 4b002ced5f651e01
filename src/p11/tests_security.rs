//! The guarantees of `docs/security.md` at the module level: the kept PIN lives in locked
//! memory; when the card is reset by another process it is replayed exactly once (issue 10:
//! "PIN cache on: one transparent re-verification with the kept PIN"), and never after a
//! failure.

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
fn kept_pin_is_locked_and_replayed_once_after_a_reset_by_another_process() {
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
        .expect("the signature after a reset goes through with the kept PIN");
    assert_eq!(
        pin_verifies(&card),
        verifies + 1,
        "the kept PIN is replayed exactly once after a reset"
    );
    assert!(m.slots[0].token.as_ref().unwrap().pin.is_some());
    // A kept PIN the card refuses is never replayed again: the token is logged out and the
    // PIN dropped.
    card.lock().unwrap().reset();
    for at in [2, 3] {
        // After the identity check (EF.SN, the first APDU after a reset), the SELECT or the
        // VERIFY of the replay: refused either way.
        card.lock()
            .unwrap()
            .inject(at, crate::sim::FaultKind::Status(0x63C2));
    }
    let verifies = pin_verifies(&card);
    let r = m
        .sign_init(h, &Mechanism::new(CKM_SHA256_RSA_PKCS), keys[0])
        .and_then(|()| m.sign(h, b"refused", Some(256)).map(|_| ()));
    assert!(r.is_err(), "{r:?}");
    assert!(
        pin_verifies(&card) <= verifies + 1,
        "replayed more than once"
    );
    assert!(
        m.slots[0].token.as_ref().unwrap().pin.is_none(),
        "a refused kept PIN is dropped"
    );
}
