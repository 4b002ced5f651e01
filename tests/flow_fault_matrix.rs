//! The fault matrix through the built cdylib (C ABI): on a CPS3 (cps3-doctor) and a CPS4
//! (cps4-nurse), the card is pulled — and, separately, reset, and swapped for another card of
//! the same generation and ATR (cps3-expired, cps4-pharmacist), seen by PC/SC or missed by it
//! — at every APDU index of bind, login, a signature with each key (CPS_PRIV_AUT,
//! CPS_PRIV_SIG), a decryption and a PIN change (to itself), with the PIN cache on and off.
//! Each case runs on a fresh module (C_Finalize, C_Initialize) within a time limit, and
//! checks:
//!
//! * the CK_RV of the faulted call is a documented one (`docs/compatibility.md`, "Fault
//!   matrix"): [`expected`] says which, per operation, fault and PIN-cache setting;
//! * no CKR_GENERAL_ERROR (a panic caught at the boundary), no crash, no hang;
//! * after a pull: the old session handle is CKR_SESSION_HANDLE_INVALID, the token
//!   CKR_TOKEN_NOT_PRESENT; after a reset: the session lives on, logged in (PIN cache on) or
//!   logged out (off); C_CloseAllSessions works and leaves no session counted;
//! * after a swap: the old session is gone once the module knows, the other card never got a
//!   VERIFY, the token's serial number and certificate are the other card's;
//! * the PIN try counter never moves (no wrong PIN is ever presented here);
//! * the first operation after reinsertion works: open a session, log in, sign with the
//!   authentication key, verify the signature with the certificate's public key.
//!
//! The faults are injected through the `sim`-only hook `CPX_SimControl` of the library
//! (`src/abi/sim_control.rs`), found with dlsym: a library without it fails the test.
#![cfg(feature = "sim")]

mod common;
mod sim_lib;
use common::fixture;
use sim_lib::*;

use cryptoki_sys::*;
use rsa::{Pkcs1v15Encrypt, Pkcs1v15Sign};
use sha2::{Digest, Sha256};
use std::ptr::null_mut;
use std::sync::{mpsc, Arc};
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    /// The first C_GetTokenInfo, card cache off: the whole card is read.
    Bind,
    /// The same with the card cache warm (filled by a previous module): the card is checked.
    BindCached,
    Login,
    SignAut,
    SignSig,
    Decrypt,
    ChangePin,
}

const OPS: [Op; 7] = [
    Op::Bind,
    Op::BindCached,
    Op::Login,
    Op::SignAut,
    Op::SignSig,
    Op::Decrypt,
    Op::ChangePin,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    Pull,
    Reset,
    /// The card pulled and another of the same generation and ATR put in at once: PC/SC
    /// sees the reader's event counter move (a removal and an insertion).
    Swap,
    /// The same, missed by PC/SC (between two polls of a reader that does not report card
    /// movements): the new card only looks reset (`SCARD_W_UNPOWERED_CARD`).
    SwapUnseen,
}

impl Fault {
    /// The `fault` control spec; `other`: the persona a swap puts in.
    fn spec(self, other: &str) -> String {
        match self {
            Fault::Pull => "remove".into(),
            Fault::Reset => "reset".into(),
            Fault::Swap => format!("swap={other}"),
            Fault::SwapUnseen => format!("swap-unseen={other}"),
        }
    }

    fn is_swap(self) -> bool {
        matches!(self, Fault::Swap | Fault::SwapUnseen)
    }
}

/// The documented CK_RVs of the faulted call when `fault` hit one of the APDUs of `op`
/// (`docs/compatibility.md`, "Fault matrix"), whichever APDU it was.
fn expected(op: Op, fault: Fault, pin_cache: bool) -> &'static [CK_RV] {
    match (fault, op) {
        // The card is gone: the call that saw it go says so. A card swapped for another is
        // the bound card gone.
        (Fault::Pull | Fault::Swap, _) => &[CKR_TOKEN_NOT_PRESENT],
        // A swap PC/SC reported as a reset. Reading the card: the bind starts again and
        // binds the card now in the reader; reading the PIN counters (C_GetTokenInfo's last
        // APDUs, the bind done): the bound card is gone.
        (Fault::SwapUnseen, Op::Bind | Op::BindCached) => &[CKR_OK, CKR_TOKEN_NOT_PRESENT],
        // Signing or decrypting: before anything is replayed (the kept PIN above all) the
        // card's EF.SN is compared with the bound one: another card, the bound one is gone.
        (Fault::SwapUnseen, Op::SignAut | Op::SignSig | Op::Decrypt) => &[CKR_TOKEN_NOT_PRESENT],
        // A PIN verification or change: never replayed (as after a reset); the swap is found
        // at the next card operation.
        (Fault::SwapUnseen, Op::Login | Op::ChangePin) => &[CKR_DEVICE_ERROR],
        // A reset while reading the card, signing or decrypting: the operation is replayed
        // (the kept PIN verified again first, when the PIN cache is on).
        (Fault::Reset, Op::Bind | Op::BindCached | Op::Decrypt | Op::SignAut | Op::SignSig)
            if pin_cache =>
        {
            &[CKR_OK]
        }
        (Fault::Reset, Op::Bind | Op::BindCached) => &[CKR_OK],
        // PIN cache off: the token is logged out, the replayed operation needs a login.
        (Fault::Reset, Op::SignAut | Op::SignSig | Op::Decrypt) => &[CKR_USER_NOT_LOGGED_IN],
        // A reset during a PIN verification or change is never replayed (the card may have
        // counted it).
        (Fault::Reset, Op::Login | Op::ChangePin) => &[CKR_DEVICE_ERROR],
    }
}

/// The card of a matrix and the one a swap puts in its place (same generation and ATR).
struct Pair {
    persona: &'static str,
    other: &'static str,
    /// `persona`'s token serial number (C_GetTokenInfo).
    serial: [u8; 16],
}

/// What a case saw.
#[derive(Debug)]
struct Case {
    fired: bool,
    call: &'static str,
    rv: CK_RV,
}

/// One case: a fresh module, `op` prepared, the fault armed `at` APDUs ahead, `op` run, then
/// every check of the file's header.
fn run_case(
    lib: &Lib,
    &Pair {
        persona,
        other,
        serial,
    }: &Pair,
    op: Op,
    fault: Fault,
    at: u64,
    pin_cache: bool,
) -> Case {
    let what = format!("{persona}, PIN cache {pin_cache}: {op:?}, {fault:?} at APDU {at}");
    let bind = matches!(op, Op::Bind | Op::BindCached);
    let mut slot = lib.fresh(persona, pin_cache, op == Op::BindCached);
    if op == Op::BindCached {
        lib.token_info(slot).expect("bind (fills the card cache)");
        slot = lib.fresh(persona, pin_cache, true);
    }
    let tries = lib.control("tries 0");
    // Preparation, fault-free: bind, session, login, key, cryptogram.
    let mut session = None;
    let mut key = 0;
    let mut cryptogram = Vec::new();
    if !bind {
        lib.token_info(slot).expect("bind");
        let h = lib.open(slot).expect("C_OpenSession");
        session = Some(h);
        if matches!(op, Op::SignAut | Op::SignSig | Op::Decrypt) {
            assert_eq!(lib.login(h), CKR_OK, "{what}: login before the fault");
            key = lib.find(
                h,
                CKO_PRIVATE_KEY,
                if op == Op::SignSig { SIG } else { AUT },
            );
        }
        if op == Op::Decrypt {
            cryptogram = lib
                .public_key(h)
                .encrypt(&mut rsa::rand_core::OsRng, Pkcs1v15Encrypt, b"secret")
                .unwrap();
        }
    }
    let logged_in = matches!(op, Op::SignAut | Op::SignSig | Op::Decrypt);
    lib.control(&format!("fault 0 {at}:{}", fault.spec(other)));
    let mut calls = Calls::default();
    let h = session.unwrap_or(0);
    match op {
        Op::Bind | Op::BindCached => {
            let _ = calls.call(
                "C_GetTokenInfo",
                lib.token_info(slot).err().unwrap_or(CKR_OK),
            );
        }
        Op::Login => {
            let _ = calls.call("C_Login", lib.login(h));
        }
        Op::SignAut | Op::SignSig => {
            let _ = lib.sign(h, key, b"document", &mut calls);
        }
        Op::Decrypt => {
            if let Some(plain) = lib.decrypt(h, key, &cryptogram, &mut calls) {
                assert_eq!(plain, b"secret", "{what}");
            }
        }
        Op::ChangePin => {
            let _ = calls.call("C_SetPIN", lib.set_pin(h));
        }
    }
    let fired = lib.control("fired 0") == 1;
    lib.control("clear 0");
    let (call, rv) = calls.outcome();
    let what = format!("{what}: {call} → {} ({calls:?})", name(rv));
    assert!(
        calls.0.iter().all(|&(_, rv)| rv != CKR_GENERAL_ERROR),
        "{what}: a panic or an internal error"
    );
    if !fired {
        assert_eq!(rv, CKR_OK, "{what}: no fault fired, yet a failure");
    } else {
        assert!(
            expected(op, fault, pin_cache).contains(&rv),
            "{what}: not the documented CK_RV ({:?})",
            expected(op, fault, pin_cache)
                .iter()
                .map(|&rv| name(rv))
                .collect::<Vec<_>>()
        );
        match fault {
            Fault::Pull => {
                if let Some(h) = session {
                    assert_eq!(
                        lib.state(h).map(|_| ()).map_err(name),
                        Err(name(CKR_SESSION_HANDLE_INVALID)),
                        "{what}: the session on the pulled card"
                    );
                }
                assert_eq!(
                    lib.token_info(slot).map(|_| ()).map_err(name),
                    Err(name(CKR_TOKEN_NOT_PRESENT)),
                    "{what}: the token of the pulled card"
                );
                lib.control("insert 0");
            }
            Fault::Swap | Fault::SwapUnseen => {
                // The bound card is gone (at once, or at the first card operation when PC/SC
                // missed the swap): its sessions with it.
                if let (Some(h), true) = (session, rv == CKR_TOKEN_NOT_PRESENT) {
                    assert_eq!(
                        lib.state(h).map(|_| ()).map_err(name),
                        Err(name(CKR_SESSION_HANDLE_INVALID)),
                        "{what}: the session on the swapped card"
                    );
                }
                assert_eq!(
                    lib.control("verified 0"),
                    0,
                    "{what}: the other card got a PIN verification"
                );
            }
            Fault::Reset => {
                if let Some(h) = session {
                    let state = if logged_in && pin_cache {
                        CKS_RW_USER_FUNCTIONS
                    } else {
                        CKS_RW_PUBLIC_SESSION
                    };
                    assert_eq!(
                        lib.state(h),
                        Ok(state),
                        "{what}: the session after the reset"
                    );
                }
            }
        }
    }
    assert_eq!(
        lib.control("tries 0"),
        tries,
        "{what}: the PIN try counter moved"
    );
    // No session left behind, whatever happened.
    // SAFETY: a plain C_* call.
    assert_eq!(unsafe { lib.p.C_CloseAllSessions(slot) }, CKR_OK, "{what}");
    let info = match lib.token_info(slot) {
        // PC/SC missed the swap and no card operation ran since: this one finds the bound
        // card gone; the next binds the card in the reader.
        Err(rv) if fault == Fault::SwapUnseen && fired && rv == CKR_TOKEN_NOT_PRESENT => {
            lib.token_info(slot)
        }
        r => r,
    }
    .unwrap_or_else(|rv| panic!("{what}: {}", name(rv)));
    if fired && fault.is_swap() {
        // Never the previous card's token, objects or PIN state.
        assert_ne!(
            info.serialNumber, serial,
            "{what}: the previous card's serial number"
        );
    }
    assert_eq!(
        info.ulSessionCount, 0,
        "{what}: sessions counted after C_CloseAllSessions"
    );
    // The first operation afterwards works, and its signature verifies.
    let h2 = lib
        .open(slot)
        .unwrap_or_else(|rv| panic!("{what}: {}", name(rv)));
    assert_eq!(lib.state(h2), Ok(CKS_RW_PUBLIC_SESSION), "{what}");
    assert_eq!(
        name(lib.login(h2)),
        name(CKR_OK),
        "{what}: login afterwards"
    );
    if fired && fault.is_swap() {
        let cert = lib.aut_certificate(h2);
        assert_eq!(cert, fixture(&format!("{other}-auth")).1, "{what}");
        assert_ne!(cert, fixture(&format!("{persona}-auth")).1, "{what}");
    }
    let key = lib.find(h2, CKO_PRIVATE_KEY, AUT);
    let mut after = Calls::default();
    let sig = lib
        .sign(h2, key, b"after the fault", &mut after)
        .unwrap_or_else(|| panic!("{what}: signature afterwards: {after:?}"));
    lib.public_key(h2)
        .verify(
            Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(b"after the fault"),
            &sig,
        )
        .unwrap_or_else(|e| panic!("{what}: the signature afterwards does not verify: {e}"));
    assert_eq!(
        lib.control("tries 0"),
        tries,
        "{what}: the PIN try counter moved"
    );
    // SAFETY: a plain C_* call.
    assert_eq!(unsafe { lib.p.C_Finalize(null_mut()) }, CKR_OK);
    Case { fired, call, rv }
}

/// `run_case` on a thread of its own, bounded by [`CASE_LIMIT`].
fn bounded(lib: &Arc<Lib>, pair: &Arc<Pair>, op: Op, fault: Fault, at: u64, cache: bool) -> Case {
    let (tx, rx) = mpsc::channel();
    let worker = {
        let (lib, pair) = (lib.clone(), pair.clone());
        std::thread::spawn(move || {
            let case = run_case(&lib, &pair, op, fault, at, cache);
            let _ = tx.send(());
            case
        })
    };
    match rx.recv_timeout(CASE_LIMIT) {
        Err(mpsc::RecvTimeoutError::Timeout) => panic!(
            "{}, PIN cache {cache}: {op:?}, {fault:?} at APDU {at}: no answer within {CASE_LIMIT:?}",
            pair.persona
        ),
        _ => worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
    }
}

/// Every case for one card: operations × {pull, reset, swap for `other`, the same swap
/// missed by PC/SC} × PIN cache {on, off} × every APDU index of the operation (until the
/// fault no longer fires: the operation took fewer).
fn matrix(persona: &'static str, other: &'static str) {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lib = Arc::new(Lib::load());
    let slot = lib.fresh(persona, true, false);
    let serial = lib.token_info(slot).expect("bind").serialNumber;
    let pair = Arc::new(Pair {
        persona,
        other,
        serial,
    });
    let start = Instant::now();
    let mut cases = 0;
    let mut outcomes = std::collections::BTreeMap::new();
    for cache in [true, false] {
        for op in OPS {
            for fault in [Fault::Pull, Fault::Reset, Fault::Swap, Fault::SwapUnseen] {
                let mut at = 1;
                loop {
                    let case = bounded(&lib, &pair, op, fault, at, cache);
                    cases += 1;
                    if !case.fired {
                        break;
                    }
                    *outcomes
                        .entry((op, fault, cache, case.call, name(case.rv)))
                        .or_insert(0) += 1;
                    at += 1;
                    assert!(at < 200, "{persona}: {op:?} never ends");
                }
                assert!(at > 1, "{persona}: {op:?} sent no APDU: nothing was tested");
                println!(
                    "{persona}, PIN cache {}: {op:?}: {} at each of its {} APDUs",
                    if cache { "on" } else { "off" },
                    fault.spec(other),
                    at - 1
                );
            }
        }
    }
    for ((op, fault, cache, call, rv), n) in &outcomes {
        let cache = if *cache { "on" } else { "off" };
        println!("  {op:?}, {fault:?}, PIN cache {cache}: {call} → {rv} ×{n}");
    }
    // SAFETY: a plain C_* call.
    let _ = unsafe { lib.p.C_Finalize(null_mut()) };
    println!(
        "{persona}: {cases} fault cases through the cdylib in {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

#[test]
fn fault_matrix_cps3_doctor() {
    matrix("cps3-doctor", "cps3-expired");
}

#[test]
fn fault_matrix_cps4_nurse() {
    matrix("cps4-nurse", "cps4-pharmacist");
}

/// A card whose bind met a broken answer (an empty R-APDU, what vpcd hands pcscd when the card
/// leaves during a command) may be "not recognized" — but only until it leaves: pulled and put
/// back between two calls (the reader's event counter moved, same ATR), it is read again.
#[test]
fn unrecognized_card_pulled_and_put_back_is_read_again() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lib = Lib::load();
    let mut unrecognized = 0;
    for persona in ["cps3-doctor", "cps4-nurse"] {
        let mut at = 1;
        loop {
            let slot = lib.fresh(persona, true, false);
            lib.control(&format!("fault 0 {at}:truncate=0"));
            let first = lib.token_info(slot).map(|_| ()).map_err(name);
            let fired = lib.control("fired 0") == 1;
            lib.control("clear 0");
            if first == Err(name(CKR_TOKEN_NOT_RECOGNIZED)) {
                unrecognized += 1;
                lib.control("remove 0");
                lib.control("insert 0");
                let h = lib.open(slot).unwrap_or_else(|rv| {
                    panic!(
                        "{persona}, empty answer at APDU {at}: after reinsertion: {}",
                        name(rv)
                    )
                });
                assert_eq!(lib.login(h), CKR_OK, "{persona}");
            }
            // SAFETY: a plain C_* call.
            assert_eq!(unsafe { lib.p.C_Finalize(null_mut()) }, CKR_OK);
            if !fired {
                break;
            }
            at += 1;
        }
    }
    assert!(
        unrecognized > 0,
        "no bind was ever left unrecognized: nothing tested"
    );
}
