//! Library integration, `CPX_SIM_CARDS=cps2ter-legacy`: a legacy CPS2ter card on its own is
//! recognised and reported clearly: the slot shows a card, every token call answers
//! CKR_TOKEN_NOT_RECOGNIZED at once (no hang, no crash), and the log holds exactly one
//! explanatory line.
#![cfg(feature = "sim")]

mod common;
use common::*;

use cryptoki::error::RvError;

#[test]
fn legacy_card_is_refused_clearly() {
    let log = std::env::temp_dir().join(format!("cpx-legacy-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    std::env::set_var("CPX_PKCS11_LOG", &log);
    std::env::set_var("CPX_PKCS11_LOG_LEVEL", "warn");
    let p11 = load("cps2ter-legacy");
    let slots = p11.get_slots_with_token().unwrap();
    assert_eq!(slots.len(), 1, "the reader holds a card");
    let slot = slots[0];
    assert!(p11.get_slot_info(slot).unwrap().token_present());
    let started = std::time::Instant::now();
    for _ in 0..3 {
        assert_eq!(
            ck_rv(p11.get_token_info(slot)),
            Some(RvError::TokenNotRecognized)
        );
        assert_eq!(
            ck_rv(p11.open_ro_session(slot)),
            Some(RvError::TokenNotRecognized)
        );
        assert_eq!(
            ck_rv(p11.get_mechanism_list(slot)),
            Some(RvError::TokenNotRecognized)
        );
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    p11.finalize().unwrap();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let explained: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("legacy CPS2ter card"))
        .collect();
    assert_eq!(explained.len(), 1, "{text}");
    let _ = std::fs::remove_file(&log);
}
