//! A card swapped for another of the same generation and ATR between two PKCS#11 calls,
//! through the built cdylib: at every point of a client's sequence (C_GetTokenInfo,
//! C_OpenSession, C_Login, the certificate found and read, the key found, C_SignInit), most of
//! them calls served from memory. Afterwards never the previous card's token, session,
//! objects or PIN state; the other card's own login and signature work. The swap at every
//! APDU of bind, login, signing, decryption and PIN change is in `flow_fault_matrix.rs`.
//!
//! Two ways a swap reaches the module: PC/SC sees it (the reader's event counter moves: every
//! call notices), or PC/SC misses it (the new card only looks reset): calls served from memory
//! cannot know, the first card operation finds another EF.SN and fails, and nothing of the
//! previous card's session — its kept PIN above all — reaches the other card.
#![cfg(feature = "sim")]

mod common;
mod sim_lib;

use common::fixture;
use cryptoki_sys::*;
use rsa::Pkcs1v15Sign;
use sha2::{Digest, Sha256};
use sim_lib::*;

/// How far a client got on the first card before the swap.
const STEPS: [&str; 7] = [
    "nothing",
    "C_GetTokenInfo",
    "C_OpenSession",
    "C_Login",
    "the certificate found and read",
    "the key found",
    "C_SignInit",
];

/// What the client holds from the first card.
#[derive(Default)]
struct Held {
    session: Option<CK_SESSION_HANDLE>,
    cert: Option<CK_OBJECT_HANDLE>,
    key: Option<CK_OBJECT_HANDLE>,
}

/// Runs the first `n` steps of [`STEPS`] on the card (each must succeed).
fn client_steps(lib: &Lib, slot: CK_SLOT_ID, n: usize) -> Held {
    let mut held = Held::default();
    for step in 1..=n {
        match step {
            1 => drop(lib.token_info(slot).expect("C_GetTokenInfo")),
            2 => held.session = Some(lib.open(slot).expect("C_OpenSession")),
            3 => assert_eq!(lib.login(held.session.unwrap()), CKR_OK),
            4 => {
                let h = held.session.unwrap();
                let cert = lib.find(h, CKO_CERTIFICATE, AUT_CERT);
                lib.value(h, cert).expect("CKA_VALUE");
                held.cert = Some(cert);
            }
            5 => held.key = Some(lib.find(held.session.unwrap(), CKO_PRIVATE_KEY, AUT)),
            6 => {
                let mut mech = CK_MECHANISM {
                    mechanism: CKM_SHA256_RSA_PKCS,
                    pParameter: std::ptr::null_mut(),
                    ulParameterLen: 0,
                };
                // SAFETY: a plain C_* call with valid arguments.
                let rv = unsafe {
                    lib.p
                        .C_SignInit(held.session.unwrap(), &mut mech, held.key.unwrap())
                };
                assert_eq!(rv, CKR_OK, "C_SignInit");
            }
            _ => unreachable!(),
        }
    }
    held
}

/// The signature C_Sign makes in `h` (an operation begun), or its CK_RV.
fn finish_sign(lib: &Lib, h: CK_SESSION_HANDLE) -> Result<Vec<u8>, CK_RV> {
    let mut sig = vec![0u8; 512];
    let mut n = sig.len() as CK_ULONG;
    let data = b"document";
    // SAFETY: a plain C_* call; the data is only read, the buffer holds 512 bytes.
    let rv = unsafe {
        lib.p.C_Sign(
            h,
            data.as_ptr() as *mut _,
            data.len() as CK_ULONG,
            sig.as_mut_ptr(),
            &mut n,
        )
    };
    ok(rv).map(|_| {
        sig.truncate(n as usize);
        sig
    })
}

/// C_GenerateRandom (the card's GET CHALLENGE): a card operation that needs no login.
fn random(lib: &Lib, h: CK_SESSION_HANDLE) -> Result<(), CK_RV> {
    let mut bytes = [0u8; 8];
    // SAFETY: a plain C_* call; the buffer holds 8 bytes.
    ok(unsafe { lib.p.C_GenerateRandom(h, bytes.as_mut_ptr(), 8) })
}

/// After the swap, when the module knows it: every handle of the first card is dead, the
/// token is the other card's, nobody is logged in, its certificate is its own; its own login
/// and signature work.
fn check_other_card(lib: &Lib, slot: CK_SLOT_ID, held: &Held, (a, b): (&str, &str), what: &str) {
    let a_cert = fixture(&format!("{a}-auth")).1;
    let b_cert = fixture(&format!("{b}-auth")).1;
    if let Some(h) = held.session {
        assert_eq!(
            lib.state(h).map_err(name),
            Err(name(CKR_SESSION_HANDLE_INVALID)),
            "{what}: the first card's session"
        );
        assert_eq!(
            finish_sign(lib, h).map_err(name),
            Err(name(CKR_SESSION_HANDLE_INVALID)),
            "{what}: signing in the first card's session"
        );
    }
    let h = lib
        .open(slot)
        .unwrap_or_else(|rv| panic!("{what}: {}", name(rv)));
    assert_eq!(
        lib.state(h),
        Ok(CKS_RW_PUBLIC_SESSION),
        "{what}: logged in?"
    );
    // The first card's object handles name nothing (handles are never reused).
    for o in [held.cert, held.key].into_iter().flatten() {
        let v = lib.value(h, o);
        assert!(
            v.is_err(),
            "{what}: object {o} of the first card still answers"
        );
    }
    assert_eq!(lib.aut_certificate(h), b_cert, "{what}");
    assert_ne!(b_cert, a_cert);
    assert_eq!(
        lib.control("verified 0"),
        0,
        "{what}: the other card was verified"
    );
    assert_eq!(lib.control("tries 0"), 3, "{what}: the other card's tries");
    assert_eq!(lib.login(h), CKR_OK, "{what}: the other card's login");
    let key = lib.find(h, CKO_PRIVATE_KEY, AUT);
    let mut calls = Calls::default();
    let sig = lib
        .sign(h, key, b"document", &mut calls)
        .unwrap_or_else(|| panic!("{what}: {calls:?}"));
    lib.public_key(h)
        .verify(
            Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(b"document"),
            &sig,
        )
        .unwrap_or_else(|e| panic!("{what}: {e}"));
}

fn swap_between_calls(a: &'static str, b: &'static str) {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lib = Lib::load();
    for pin_cache in [true, false] {
        for unseen in [false, true] {
            for (n, step) in STEPS.iter().enumerate() {
                let what = format!(
                    "{a} → {b}, {} swap after {step}, PIN cache {pin_cache}",
                    if unseen { "unseen" } else { "seen" },
                );
                let slot = lib.fresh(a, pin_cache, false);
                let held = client_steps(&lib, slot, n);
                let a_serial = (n >= 1).then(|| lib.token_info(slot).unwrap().serialNumber);
                lib.control(&format!(
                    "swap 0 {b}{}",
                    if unseen { " unseen" } else { "" }
                ));
                if unseen {
                    // Calls served from memory cannot know (PC/SC said nothing); the next
                    // card operation finds another card: the signature begun, or random
                    // bytes from the card in the session held (or a new one).
                    let first = match held.session {
                        Some(h) if n == 6 => finish_sign(&lib, h).map(|_| ()),
                        Some(h) => random(&lib, h),
                        None => lib.open(slot).and_then(|h| random(&lib, h)),
                    };
                    if n >= 1 {
                        assert_eq!(
                            first.map_err(name),
                            Err(name(CKR_TOKEN_NOT_PRESENT)),
                            "{what}: the first card operation"
                        );
                    }
                    assert_eq!(lib.control("verified 0"), 0, "{what}: kept PIN replayed");
                }
                let info = lib
                    .token_info(slot)
                    .unwrap_or_else(|rv| panic!("{what}: {}", name(rv)));
                if let Some(s) = a_serial {
                    assert_ne!(info.serialNumber, s, "{what}: the first card's token");
                }
                check_other_card(&lib, slot, &held, (a, b), &what);
                // SAFETY: a plain C_* call.
                assert_eq!(unsafe { lib.p.C_Finalize(std::ptr::null_mut()) }, CKR_OK);
            }
        }
    }
}

#[test]
fn cps3_swapped_between_calls() {
    swap_between_calls("cps3-doctor", "cps3-expired");
}

#[test]
fn cps4_swapped_between_calls() {
    swap_between_calls("cps4-nurse", "cps4-pharmacist");
}
