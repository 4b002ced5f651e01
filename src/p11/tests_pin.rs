//! Module tests in-process for the PIN lifecycle, PIN pads, the per-signature PIN, data
//! objects, the contactless token and the legacy CPS2ter card (issue #4). Each test holds the
//! simulated card and checks its live counters (`SimCard::chv_status`) after every step: a
//! wrong PIN costs exactly one try, a good one resets, an unblock restores, a change takes
//! effect, a blocked PIN stays blocked.

use super::error::Error;
use super::mechanism::Mechanism;
use super::object::{Attr, AttrLookup};
use super::session::Output;
use super::test_util::{apdus, find, module, open, value};
use super::Module;
use crate::sim::{Profile, SimCard};
use crate::transport::r#virtual::{KeyEntry, Keypad, SharedCard, SimReaders};
use cryptoki_sys::*;

const PIN: u8 = 1;
const PUK: u8 = 2;

fn pin_pad_module(persona: &str) -> (Module, SharedCard, Keypad) {
    let mut readers = SimReaders::new();
    let card = readers.add_pin_pad(SimCard::load(persona).unwrap());
    let keypad = readers.keypad();
    (Module::new(Box::new(readers)), card, keypad)
}

/// (tries left, unblock uses left) of a CHV on the simulated card.
fn chv(card: &SharedCard, reference: u8) -> (u8, Option<u16>) {
    let (tries, _, usage) = card.lock().unwrap().chv_status(reference).unwrap();
    (tries, usage)
}

fn flags(m: &mut Module) -> CK_FLAGS {
    // Counters are coalesced for a second: force a fresh read.
    m.pin_status_ttl = std::time::Duration::ZERO;
    m.token_info(0).unwrap().flags
}

fn rv<T: std::fmt::Debug>(r: Result<T, Error>) -> CK_RV {
    r.expect_err("an error").rv()
}

fn by_label(m: &mut Module, h: CK_SESSION_HANDLE, label: &str) -> CK_OBJECT_HANDLE {
    let found = find(m, h, &[Attr::new(CKA_LABEL, label)]);
    assert_eq!(found.len(), 1, "{label}");
    found[0]
}

fn sign_once(m: &mut Module, h: CK_SESSION_HANDLE, k: CK_OBJECT_HANDLE) -> Result<Vec<u8>, Error> {
    m.sign_init(h, &Mechanism::new(CKM_SHA256_RSA_PKCS), k)?;
    match m.sign(h, b"ordonnance", Some(256))? {
        Output::Bytes(s) => Ok(s),
        Output::Len(_) => panic!("no signature"),
    }
}

const LOCK_FLAGS: CK_FLAGS = CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED;

#[test]
fn set_pin_counts_and_takes_effect() {
    let (mut m, card) = module("cps3-doctor");
    let ro = open(&mut m, false);
    assert_eq!(rv(m.set_pin(ro, b"1234", b"5678")), CKR_SESSION_READ_ONLY);
    let rw = open(&mut m, true);
    // Length checks before anything reaches the card.
    let before = apdus(&card);
    assert_eq!(rv(m.set_pin(rw, b"1234", b"56")), CKR_PIN_LEN_RANGE);
    assert_eq!(rv(m.set_pin(rw, b"1234", b"567890123")), CKR_PIN_LEN_RANGE);
    assert_eq!(rv(m.set_pin(rw, b"12", b"5678")), CKR_PIN_INCORRECT);
    assert_eq!(rv(m.login(rw, CKU_USER, b"12345")), CKR_PIN_INCORRECT);
    assert_eq!(
        apdus(&card),
        before,
        "no APDU for a PIN of the wrong length"
    );
    assert_eq!(chv(&card, PIN).0, 3);
    // A wrong old PIN costs exactly one try, and is not sent again.
    let before = apdus(&card);
    assert_eq!(rv(m.set_pin(rw, b"0000", b"5678")), CKR_PIN_INCORRECT);
    assert_eq!(
        apdus(&card) - before,
        1,
        "one CHANGE REFERENCE DATA, no retry"
    );
    assert_eq!(chv(&card, PIN).0, 2);
    assert_ne!(flags(&mut m) & CKF_USER_PIN_COUNT_LOW, 0);
    // The right one resets the counter and changes the PIN.
    m.set_pin(rw, b"1234", b"5678").unwrap();
    assert_eq!(chv(&card, PIN).0, 3);
    assert_eq!(flags(&mut m) & LOCK_FLAGS, 0);
    assert_eq!(rv(m.login(rw, CKU_USER, b"1234")), CKR_PIN_INCORRECT);
    assert_eq!(chv(&card, PIN).0, 2);
    m.login(rw, CKU_USER, b"5678").unwrap();
    assert_eq!(chv(&card, PIN).0, 3);
    // Logged in: the new PIN replaces the kept one.
    m.set_pin(rw, b"5678", b"1234").unwrap();
    assert_eq!(
        m.slots[0]
            .token
            .as_ref()
            .unwrap()
            .pin
            .as_ref()
            .map(|p| p.as_bytes()),
        Some(&b"1234"[..])
    );
    m.logout(rw).unwrap();
    m.login(rw, CKU_USER, b"1234").unwrap();
}

#[test]
fn blocked_stays_blocked_and_unblock_restores() {
    let (mut m, card) = module("cps3-doctor");
    let rw = open(&mut m, true);
    for left in [2, 1, 0] {
        let r = m.login(rw, CKU_USER, b"0000");
        assert!(matches!(rv(r), CKR_PIN_INCORRECT | CKR_PIN_LOCKED));
        assert_eq!(chv(&card, PIN).0, left);
    }
    assert_ne!(flags(&mut m) & CKF_USER_PIN_LOCKED, 0);
    // Even the right PIN cannot log in; nothing changes on the card.
    assert_eq!(rv(m.login(rw, CKU_USER, b"1234")), CKR_PIN_LOCKED);
    assert_eq!(chv(&card, PIN).0, 0);
    assert_eq!(rv(m.set_pin(rw, b"1234", b"5678")), CKR_PIN_LOCKED);
    assert_eq!(chv(&card, PIN).0, 0);
    // Unblock exactly as the Cryptolib: no R/O session, C_Login(SO, PUK), C_InitPIN.
    let ro = open(&mut m, false);
    assert_eq!(
        rv(m.login(rw, CKU_SO, b"12345678")),
        CKR_SESSION_READ_ONLY_EXISTS
    );
    m.close_session(ro).unwrap();
    assert_eq!(rv(m.init_pin(rw, b"4321")), CKR_USER_NOT_LOGGED_IN);
    assert_eq!(
        rv(m.login(rw, CKU_SO, b"1234")),
        CKR_PIN_INCORRECT,
        "PUK is 8 digits"
    );
    assert_eq!(chv(&card, PUK), (10, Some(100)));
    assert_eq!(rv(m.login(rw, CKU_SO, b"87654321")), CKR_PIN_INCORRECT);
    assert_eq!(chv(&card, PUK), (9, Some(100)));
    m.login(rw, CKU_SO, b"12345678").unwrap();
    assert_eq!(chv(&card, PUK), (10, Some(100)));
    assert_eq!(
        rv(m.open_session(0, CKF_SERIAL_SESSION)),
        CKR_SESSION_READ_WRITE_SO_EXISTS
    );
    assert_eq!(rv(m.init_pin(rw, b"43")), CKR_PIN_LEN_RANGE);
    m.init_pin(rw, b"4321").unwrap();
    assert_eq!(chv(&card, PIN).0, 3);
    assert_eq!(chv(&card, PUK), (10, Some(99)), "one unblock use spent");
    m.logout(rw).unwrap();
    assert_eq!(flags(&mut m) & LOCK_FLAGS, 0);
    m.login(rw, CKU_USER, b"4321").unwrap();
}

#[test]
fn exhausted_unblock_is_reported_locked() {
    // The generated persona: PIN blocked, PUK without unblock uses.
    let (mut m, card) = module("cps3-unblock-exhausted");
    assert_ne!(flags(&mut m) & CKF_USER_PIN_LOCKED, 0);
    let rw = open(&mut m, true);
    m.login(rw, CKU_SO, b"12345678").unwrap();
    assert_eq!(rv(m.init_pin(rw, b"4321")), CKR_PIN_LOCKED);
    assert_eq!(chv(&card, PIN).0, 0);
    assert_eq!(chv(&card, PUK), (10, Some(0)));
    m.logout(rw).unwrap();
    assert_ne!(flags(&mut m) & CKF_USER_PIN_LOCKED, 0);
    assert_eq!(rv(m.login(rw, CKU_USER, b"1234")), CKR_PIN_LOCKED);

    // A card with one unblock use left: it is spent, then the card is blocked for good.
    let mut profile = Profile::load("cps3-pharmacist-blocked").unwrap();
    profile.chv[1].usage_left = Some(1);
    let mut readers = SimReaders::new();
    let card = readers.add(SimCard::from_profile(profile).unwrap());
    let mut m = Module::new(Box::new(readers));
    let rw = open(&mut m, true);
    m.login(rw, CKU_SO, b"12345678").unwrap();
    m.init_pin(rw, b"1234").unwrap();
    assert_eq!(chv(&card, PUK).1, Some(0));
    m.logout(rw).unwrap();
    assert_eq!(
        flags(&mut m) & CKF_USER_PIN_LOCKED,
        0,
        "usable until blocked again"
    );
    for _ in 0..3 {
        let _ = m.login(rw, CKU_USER, b"0000");
    }
    assert_ne!(flags(&mut m) & CKF_USER_PIN_LOCKED, 0);
    m.login(rw, CKU_SO, b"12345678").unwrap();
    assert_eq!(rv(m.init_pin(rw, b"1234")), CKR_PIN_LOCKED);
    assert_eq!(chv(&card, PIN).0, 0);
}

#[test]
fn pin_pad_login_change_and_unblock() {
    let (mut m, card, keypad) = pin_pad_module("cps3-doctor");
    let t = m.token_info(0).unwrap();
    assert_ne!(t.flags & CKF_PROTECTED_AUTHENTICATION_PATH, 0);
    let rw = open(&mut m, true);
    // Wrong PIN typed: one try; cancel and timeout: nothing sent, CKR_FUNCTION_CANCELED.
    keypad.type_pin("0000");
    assert_eq!(rv(m.login_with(rw, CKU_USER, None)), CKR_PIN_INCORRECT);
    assert_eq!(chv(&card, PIN).0, 2);
    keypad.push(KeyEntry::Cancel);
    assert_eq!(rv(m.login_with(rw, CKU_USER, None)), CKR_FUNCTION_CANCELED);
    keypad.push(KeyEntry::Timeout);
    assert_eq!(rv(m.login_with(rw, CKU_USER, None)), CKR_FUNCTION_CANCELED);
    assert_eq!(chv(&card, PIN).0, 2);
    keypad.type_pin("1234");
    m.login_with(rw, CKU_USER, None).unwrap();
    assert_eq!(chv(&card, PIN).0, 3);
    assert!(card.lock().unwrap().chv_verified(PIN));
    let token = m.slots[0].token.as_ref().unwrap();
    assert!(
        token.pin.is_none(),
        "nothing kept: the PIN never reached the module"
    );
    m.logout(rw).unwrap();

    // Change on the keypad: old, new, new again.
    for p in ["1234", "5678", "5678"] {
        keypad.type_pin(p);
    }
    m.set_pin_with(rw, None, None).unwrap();
    assert_eq!(keypad.pending(), 0);
    // The two entries of the new PIN differ: CKR_PIN_INVALID, the card is not asked.
    for p in ["5678", "1111", "2222"] {
        keypad.type_pin(p);
    }
    assert_eq!(rv(m.set_pin_with(rw, None, None)), CKR_PIN_INVALID);
    assert_eq!(chv(&card, PIN).0, 3);
    assert_eq!(
        rv(m.set_pin_with(rw, Some(b"5678"), None)),
        CKR_ARGUMENTS_BAD
    );
    // A PIN given by the application still works on a PIN-pad reader.
    m.login(rw, CKU_USER, b"5678").unwrap();
    m.logout(rw).unwrap();

    // Unblock with the PUK and the new PIN typed on the keypad.
    for _ in 0..3 {
        keypad.type_pin("0000");
        let _ = m.login_with(rw, CKU_USER, None);
    }
    assert_eq!(chv(&card, PIN).0, 0);
    keypad.type_pin("12345678");
    m.login_with(rw, CKU_SO, None).unwrap();
    for p in ["2468", "2468"] {
        keypad.type_pin(p);
    }
    m.init_pin_with(rw, None).unwrap();
    assert_eq!(chv(&card, PIN).0, 3);
    assert_eq!(chv(&card, PUK), (10, Some(99)));
    m.logout(rw).unwrap();
    keypad.type_pin("2468");
    m.login_with(rw, CKU_USER, None).unwrap();
}

#[test]
fn null_pin_without_pin_pad_is_refused() {
    let (mut m, card) = module("cps3-doctor");
    assert_eq!(
        m.token_info(0).unwrap().flags & CKF_PROTECTED_AUTHENTICATION_PATH,
        0
    );
    let rw = open(&mut m, true);
    assert_eq!(rv(m.login_with(rw, CKU_USER, None)), CKR_ARGUMENTS_BAD);
    assert_eq!(rv(m.set_pin_with(rw, None, None)), CKR_ARGUMENTS_BAD);
    assert_eq!(chv(&card, PIN).0, 3);
}

#[test]
fn cps4_pin_pad_and_change() {
    let (mut m, card, keypad) = pin_pad_module("cps4-nurse");
    let rw = open(&mut m, true);
    keypad.type_pin("1234");
    m.login_with(rw, CKU_USER, None).unwrap();
    m.logout(rw).unwrap();
    for p in ["1234", "9876", "9876"] {
        keypad.type_pin(p);
    }
    m.set_pin_with(rw, None, None).unwrap();
    assert_eq!(chv(&card, PIN).0, 3);
    m.login(rw, CKU_USER, b"9876").unwrap();
}

#[test]
fn per_signature_pin_cryptolib_mode() {
    let (mut m, card) = module("cps3-signer");
    let h = open(&mut m, false);
    m.login(h, CKU_USER, b"1234").unwrap();
    let k = by_label(&mut m, h, "CPS_PRIV_SIG");
    // The Cryptolib never exposes it.
    assert_eq!(value(&mut m, h, k, CKA_ALWAYS_AUTHENTICATE), vec![CK_FALSE]);
    for _ in 0..3 {
        sign_once(&mut m, h, k).unwrap();
        // The card forgot the PIN after the signature; the next one is re-verified silently.
        assert!(!card.lock().unwrap().chv_verified(PIN));
        assert_eq!(chv(&card, PIN).0, 3);
    }
    // Logout drops the kept PIN: nothing to replay.
    m.logout(h).unwrap();
    assert!(m.slots[0].token.as_ref().unwrap().pin.is_none());
}

#[test]
fn per_signature_pin_standard_mode() {
    let (mut m, card) = module("cps3-signer");
    m.pin_cache = false;
    let h = open(&mut m, false);
    m.login(h, CKU_USER, b"1234").unwrap();
    assert!(
        m.slots[0].token.as_ref().unwrap().pin.is_none(),
        "PIN not kept"
    );
    let sig = by_label(&mut m, h, "CPS_PRIV_SIG");
    let aut = by_label(&mut m, h, "CPS_PRIV_AUT");
    assert_eq!(
        value(&mut m, h, sig, CKA_ALWAYS_AUTHENTICATE),
        vec![CK_TRUE]
    );
    assert_eq!(
        value(&mut m, h, aut, CKA_ALWAYS_AUTHENTICATE),
        vec![CK_FALSE]
    );
    assert_eq!(
        rv(m.login_with(h, CKU_CONTEXT_SPECIFIC, Some(b"1234"))),
        CKR_OPERATION_NOT_INITIALIZED
    );
    // Without the context-specific login: refused, without touching the card.
    m.sign_init(h, &Mechanism::new(CKM_SHA256_RSA_PKCS), sig)
        .unwrap();
    let before = apdus(&card);
    assert_eq!(rv(m.sign(h, b"x", Some(256))), CKR_USER_NOT_LOGGED_IN);
    assert_eq!(apdus(&card), before);
    for _ in 0..2 {
        m.sign_init(h, &Mechanism::new(CKM_SHA256_RSA_PKCS), sig)
            .unwrap();
        // A wrong context PIN costs one try and is not replayed.
        assert_eq!(
            rv(m.login_with(h, CKU_CONTEXT_SPECIFIC, Some(b"0000"))),
            CKR_PIN_INCORRECT
        );
        assert_eq!(chv(&card, PIN).0, 2);
        m.login_with(h, CKU_CONTEXT_SPECIFIC, Some(b"1234"))
            .unwrap();
        assert_eq!(chv(&card, PIN).0, 3);
        let Output::Bytes(s) = m.sign(h, b"ordonnance", Some(256)).unwrap() else {
            panic!()
        };
        assert_eq!(s.len(), 256);
        assert!(!card.lock().unwrap().chv_verified(PIN));
    }
}

#[test]
fn per_signature_pin_on_a_pin_pad() {
    let (mut m, card, keypad) = pin_pad_module("cps3-signer");
    let h = open(&mut m, false);
    keypad.type_pin("1234");
    m.login_with(h, CKU_USER, None).unwrap();
    let sig = by_label(&mut m, h, "CPS_PRIV_SIG");
    assert_eq!(
        value(&mut m, h, sig, CKA_ALWAYS_AUTHENTICATE),
        vec![CK_TRUE]
    );
    m.sign_init(h, &Mechanism::new(CKM_SHA256_RSA_PKCS), sig)
        .unwrap();
    keypad.type_pin("1234");
    m.login_with(h, CKU_CONTEXT_SPECIFIC, None).unwrap();
    assert!(matches!(m.sign(h, b"x", Some(256)), Ok(Output::Bytes(_))));
    assert_eq!(chv(&card, PIN).0, 3);
}

#[test]
fn data_objects_raw_as_stored() {
    let (mut m, card) = module("cps3-doctor");
    let dir = card.lock().unwrap().profile().dir.clone();
    let file = |name: &str| std::fs::read(dir.join(name)).unwrap();
    let ro = open(&mut m, false);
    for (label, blob) in [
        ("CPS_ID_CARD", "do-cps-id-card.der"),
        ("CPS_NAME_PS", "do-cps-name-ps.der"),
        ("CPS_LANG_PS", "do-cps-lang-ps.der"),
        ("CPS_INFO_PS", "do-cps-info-ps.der"),
    ] {
        let found = find(
            &mut m,
            ro,
            &[
                Attr::ulong(CKA_CLASS, CKO_DATA),
                Attr::bool(CKA_PRIVATE, false),
                Attr::new(CKA_LABEL, label),
            ],
        );
        assert_eq!(found.len(), 1, "{label}");
        assert_eq!(
            value(&mut m, ro, found[0], CKA_VALUE),
            file(blob),
            "{label}"
        );
        assert_eq!(
            value(&mut m, ro, found[0], CKA_APPLICATION),
            b"CPS".to_vec()
        );
        assert!(matches!(
            m.get_attributes(ro, found[0], &[CKA_ID]).unwrap()[0],
            AttrLookup::Invalid
        ));
    }
    for label in [
        "CPS_ACTIVITY_01_PS",
        "CPS_SIT_FACT",
        "CPS2TER_ACTIVITY_01_PS",
    ] {
        assert!(
            find(&mut m, ro, &[Attr::new(CKA_LABEL, label)]).is_empty(),
            "{label}"
        );
    }
    m.login(ro, CKU_USER, b"1234").unwrap();
    for (label, blob) in [
        ("CPS_ACTIVITY_01_PS", "do-cps-activity-01-ps.der"),
        ("CPS_SIT_FACT", "cps2ter-4000.der"),
        ("CPS2TER_ACTIVITY_01_PS", "cps2ter-4010.der"),
    ] {
        let o = by_label(&mut m, ro, label);
        assert_eq!(value(&mut m, ro, o, CKA_PRIVATE), vec![CK_TRUE]);
        assert_eq!(value(&mut m, ro, o, CKA_VALUE), file(blob), "{label}");
    }
    // CPS_DATA: written zero-padded to the file size in a R/W session; too long refused.
    let rw = open(&mut m, true);
    let d = by_label(&mut m, rw, "CPS_DATA");
    assert_eq!(value(&mut m, rw, d, CKA_MODIFIABLE), vec![CK_TRUE]);
    m.set_attributes(rw, d, &[Attr::new(CKA_VALUE, b"note".to_vec())])
        .unwrap();
    let stored = card.lock().unwrap().file_content("3F00/0001/A001").unwrap();
    assert_eq!(&stored[..4], b"note");
    assert!(stored[4..].iter().all(|b| *b == 0));
    assert_eq!(value(&mut m, rw, d, CKA_VALUE), stored);
    assert_eq!(
        rv(m.set_attributes(rw, d, &[Attr::new(CKA_VALUE, vec![1; 257])])),
        CKR_DATA_LEN_RANGE
    );
    let name = by_label(&mut m, rw, "CPS_NAME_PS");
    assert_eq!(
        rv(m.set_attributes(rw, name, &[Attr::new(CKA_VALUE, b"x".to_vec())])),
        CKR_ACTION_PROHIBITED
    );
}

#[test]
fn cps4_volet_objects() {
    let (mut m, _) = module("cps4-nurse");
    let h = open(&mut m, false);
    for label in [
        "CPS2TER_ATR",
        "CPS2TER_ID",
        "CPS2TER_ICC",
        "CPS2TER_NAME",
        "CPS2TER_LANG",
        "CPS2TER_PSINFO",
        "CPS2TER_DIRAMO",
    ] {
        let o = by_label(&mut m, h, label);
        assert!(!value(&mut m, h, o, CKA_VALUE).is_empty(), "{label}");
    }
    m.login(h, CKU_USER, b"1234").unwrap();
    for label in [
        "CPS2TER_ACTIVITY_01_PS",
        "CPS2TER_ACTIVITY_02_PS",
        "CPS_SIT_FACT",
    ] {
        let o = by_label(&mut m, h, label);
        assert!(!value(&mut m, h, o, CKA_VALUE).is_empty(), "{label}");
    }
}

#[test]
fn contactless_token_has_no_pin() {
    let (mut m, card) = module("cps3-contactless");
    let t = m.token_info(0).unwrap();
    assert_eq!(t.flags & (CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED), 0);
    let rw = open(&mut m, true);
    let before = apdus(&card);
    assert_eq!(
        rv(m.login(rw, CKU_USER, b"1234")),
        CKR_USER_PIN_NOT_INITIALIZED
    );
    assert_eq!(
        rv(m.login(rw, CKU_SO, b"12345678")),
        CKR_USER_PIN_NOT_INITIALIZED
    );
    assert_eq!(
        rv(m.set_pin(rw, b"1234", b"5678")),
        CKR_USER_PIN_NOT_INITIALIZED
    );
    assert_eq!(apdus(&card), before);
    let cert = by_label(&mut m, rw, "Certificat Technique CPS");
    let k = by_label(&mut m, rw, "CPS_PRIV_TECH_AUT");
    assert_eq!(
        value(&mut m, rw, k, CKA_ID),
        value(&mut m, rw, cert, CKA_ID)
    );
    m.sign_init(rw, &Mechanism::new(CKM_RSA_PKCS), k).unwrap();
    assert!(matches!(
        m.sign(rw, b"challenge", Some(256)),
        Ok(Output::Bytes(_))
    ));
}

#[test]
fn legacy_cps2ter_card_is_not_recognized() {
    let (mut m, card) = module("cps2ter-legacy");
    assert_eq!(m.slot_list(true), vec![0]);
    assert_eq!(rv(m.token_info(0)), CKR_TOKEN_NOT_RECOGNIZED);
    let after_probe = apdus(&card);
    assert!(after_probe > 0);
    assert_eq!(
        rv(m.open_session(0, CKF_SERIAL_SESSION)),
        CKR_TOKEN_NOT_RECOGNIZED
    );
    assert_eq!(rv(m.mechanism_list(0)), CKR_TOKEN_NOT_RECOGNIZED);
    assert_eq!(apdus(&card), after_probe, "recognised once per insertion");
    assert_ne!(m.slot_info(0).unwrap().flags & CKF_TOKEN_PRESENT, 0);
}

/// OpenSC's unblock convention (`pkcs11-tool --unlock-pin --login-type context-specific`):
/// C_Login(CKU_CONTEXT_SPECIFIC, PUK) outside an operation, then C_SetPIN(PUK, new PIN).
#[test]
fn context_specific_puk_then_set_pin_unblocks() {
    let (mut m, card) = module("cps3-pharmacist-blocked");
    assert_eq!(chv(&card, PIN).0, 0);
    let ro = open(&mut m, false);
    let h = open(&mut m, true);
    // A R/O session open: refused before any APDU, like C_Login(CKU_SO).
    let before = apdus(&card);
    assert_eq!(
        rv(m.login(h, CKU_CONTEXT_SPECIFIC, b"12345678")),
        CKR_SESSION_READ_ONLY_EXISTS
    );
    m.close_session(ro).unwrap();
    // A value outside the PUK's bounds costs nothing.
    assert_eq!(
        rv(m.login(h, CKU_CONTEXT_SPECIFIC, b"1234")),
        CKR_PIN_INCORRECT
    );
    assert_eq!(apdus(&card), before);
    // A wrong PUK costs exactly one PUK try; the right one restores it.
    assert_eq!(
        rv(m.login(h, CKU_CONTEXT_SPECIFIC, b"87654321")),
        CKR_PIN_INCORRECT
    );
    assert_eq!(chv(&card, PUK), (9, Some(100)));
    m.login(h, CKU_CONTEXT_SPECIFIC, b"12345678").unwrap();
    assert_eq!(chv(&card, PUK), (10, Some(100)));
    // C_SetPIN(PUK, new): RESET RETRY COUNTER with the new PIN.
    m.set_pin(h, b"12345678", b"4321").unwrap();
    assert_eq!(chv(&card, PIN).0, 3);
    assert_eq!(chv(&card, PUK).1, Some(99));
    assert_eq!(flags(&mut m) & LOCK_FLAGS, 0);
    m.login(h, CKU_USER, b"4321").unwrap();
    // Once used, C_SetPIN is a PIN change again.
    m.set_pin(h, b"4321", b"1357").unwrap();
    m.logout(h).unwrap();
    assert_eq!(rv(m.login(h, CKU_USER, b"4321")), CKR_PIN_INCORRECT);
    m.login(h, CKU_USER, b"1357").unwrap();
}

#[test]
fn context_specific_puk_is_dropped_by_another_login_or_logout() {
    let (mut m, card) = module("cps3-doctor");
    let h = open(&mut m, true);
    m.login(h, CKU_CONTEXT_SPECIFIC, b"12345678").unwrap();
    m.logout(h).unwrap();
    // After the logout C_SetPIN is an ordinary change again: the PUK as old PIN is refused
    // for its length, without touching the card.
    let before = apdus(&card);
    assert_eq!(rv(m.set_pin(h, b"12345678", b"4321")), CKR_PIN_INCORRECT);
    assert_eq!(apdus(&card), before);
    m.login(h, CKU_CONTEXT_SPECIFIC, b"12345678").unwrap();
    m.login(h, CKU_USER, b"1234").unwrap();
    m.set_pin(h, b"1234", b"2468").unwrap();
    assert_eq!(chv(&card, PIN).0, 3);
    // The contactless token has no PUK: outside an operation it is the usual error.
    let (mut m, _) = module("cps3-contactless");
    let h = open(&mut m, true);
    assert_eq!(
        rv(m.login(h, CKU_CONTEXT_SPECIFIC, b"12345678")),
        CKR_OPERATION_NOT_INITIALIZED
    );
}
