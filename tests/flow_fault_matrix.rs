//! The fault matrix through the built cdylib (C ABI): on a CPS3 (cps3-doctor) and a CPS4
//! (cps4-nurse), the card is pulled — and, separately, reset — at every APDU index of bind,
//! login, a signature with each key (CPS_PRIV_AUT, CPS_PRIV_SIG), a decryption and a PIN
//! change (to itself), with the PIN cache on and off. Each case runs on a fresh module
//! (C_Finalize, C_Initialize) within a time limit, and checks:
//!
//! * the CK_RV of the faulted call is the documented one (`docs/compatibility.md`, "Fault
//!   matrix"): [`expected`] says which, per operation, fault and PIN-cache setting;
//! * no CKR_GENERAL_ERROR (a panic caught at the boundary), no crash, no hang;
//! * after a pull: the old session handle is CKR_SESSION_HANDLE_INVALID, the token
//!   CKR_TOKEN_NOT_PRESENT; after a reset: the session lives on, logged in (PIN cache on) or
//!   logged out (off); C_CloseAllSessions works and leaves no session counted;
//! * the PIN try counter never moves (no wrong PIN is ever presented here);
//! * the first operation after reinsertion works: open a session, log in, sign with the
//!   authentication key, verify the signature with the certificate's public key.
//!
//! The faults are injected through the `sim`-only hook `CPX_SimControl` of the library
//! (`src/abi/sim_control.rs`), found with dlsym: a library without it fails the test.
#![cfg(feature = "sim")]

mod common;
use common::*;

use cryptoki::error::Rv;
use cryptoki_sys::*;
use rsa::pkcs8::DecodePublicKey;
use rsa::{Pkcs1v15Encrypt, Pkcs1v15Sign, RsaPublicKey};
use sha2::{Digest, Sha256};
use std::ffi::{c_char, c_void, CString};
use std::ptr::null_mut;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use x509_cert::der::{Decode, Encode};

/// Longest a case may take (each takes milliseconds): beyond it, the module hangs.
const CASE_LIMIT: Duration = Duration::from_secs(20);
const PIN: &[u8] = b"1234";
const AUT: &str = "CPS_PRIV_AUT";
const SIG: &str = "CPS_PRIV_SIG";
const AUT_CERT: &str = "Certificat d'Authentification CPS";

type Control = unsafe extern "C" fn(*const c_char, *mut CK_ULONG) -> CK_RV;

/// The loaded library: its C_* functions and the simulator's control hook.
struct Lib {
    p: Pkcs11,
    control: Control,
}

/// The module is one per process: the tests of this file take turns.
static SERIAL: Mutex<()> = Mutex::new(());

impl Lib {
    fn load() -> Lib {
        common::use_scratch_cache();
        let path = library();
        // SAFETY: loading our own PKCS#11 module (no initialisers with preconditions).
        let p = unsafe { Pkcs11::new(&path) }.expect("load module");
        let c_path = CString::new(path.to_str().expect("UTF-8 path")).unwrap();
        // SAFETY: dlopen of the library just loaded (RTLD_NOLOAD: its handle, no second copy)
        // and dlsym of a NUL-terminated name.
        let sym = unsafe {
            let h = libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD);
            assert!(!h.is_null(), "dlopen {path:?}");
            libc::dlsym(h, c"CPX_SimControl".as_ptr())
        };
        assert!(
            !sym.is_null(),
            "{path:?} has no CPX_SimControl: not a `sim` build of the module"
        );
        // SAFETY: CPX_SimControl has this signature (src/abi/sim_control.rs).
        let control = unsafe { std::mem::transmute::<*mut c_void, Control>(sym) };
        Lib { p, control }
    }

    /// One control command on reader 0; its answer.
    fn control(&self, command: &str) -> u64 {
        let c = CString::new(command).unwrap();
        let mut answer: CK_ULONG = 0;
        // SAFETY: a NUL-terminated command and a writable answer.
        let rv = unsafe { (self.control)(c.as_ptr(), &mut answer) };
        assert_eq!(rv, CKR_OK, "CPX_SimControl({command:?}): {}", name(rv));
        answer as u64
    }

    /// C_Finalize if initialised, then C_Initialize over `persona` with this PIN cache
    /// setting, and the persistent card cache on (a bind checks what it knows of the card)
    /// or off (a bind reads the whole card).
    fn fresh(&self, persona: &str, pin_cache: bool, card_cache: bool) -> CK_SLOT_ID {
        let on_off = |on| if on { "on" } else { "off" };
        std::env::set_var("CPX_SIM_CARDS", persona);
        std::env::set_var("CPX_PKCS11_PIN_CACHE", on_off(pin_cache));
        std::env::set_var("CPX_PKCS11_CACHE", on_off(card_cache));
        if std::env::var_os("CPX_PKCS11_LOG").is_none() {
            std::env::set_var("CPX_PKCS11_LOG", "off");
        }
        // SAFETY: plain C_* calls with valid arguments (here and in the methods below).
        unsafe {
            let _ = self.p.C_Finalize(null_mut());
            assert_eq!(self.p.C_Initialize(null_mut()), CKR_OK);
            let mut slots = [0 as CK_SLOT_ID; 4];
            let mut n = slots.len() as CK_ULONG;
            let rv = self.p.C_GetSlotList(CK_FALSE, slots.as_mut_ptr(), &mut n);
            assert_eq!((rv, n), (CKR_OK, 1), "one virtual reader");
            slots[0]
        }
    }

    fn open(&self, slot: CK_SLOT_ID) -> Result<CK_SESSION_HANDLE, CK_RV> {
        let mut h = 0;
        let flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
        // SAFETY: as above.
        let rv = unsafe { self.p.C_OpenSession(slot, flags, null_mut(), None, &mut h) };
        ok(rv).map(|_| h)
    }

    fn token_info(&self, slot: CK_SLOT_ID) -> Result<CK_TOKEN_INFO, CK_RV> {
        let mut info = CK_TOKEN_INFO::default();
        // SAFETY: as above.
        ok(unsafe { self.p.C_GetTokenInfo(slot, &mut info) }).map(|_| info)
    }

    fn state(&self, h: CK_SESSION_HANDLE) -> Result<CK_STATE, CK_RV> {
        let mut info = CK_SESSION_INFO::default();
        // SAFETY: as above.
        ok(unsafe { self.p.C_GetSessionInfo(h, &mut info) }).map(|_| info.state)
    }

    fn login(&self, h: CK_SESSION_HANDLE) -> CK_RV {
        // SAFETY: as above; the PIN is only read.
        unsafe {
            self.p
                .C_Login(h, CKU_USER, PIN.as_ptr() as *mut _, PIN.len() as CK_ULONG)
        }
    }

    fn set_pin(&self, h: CK_SESSION_HANDLE) -> CK_RV {
        let p = PIN.as_ptr() as *mut CK_UTF8CHAR;
        let n = PIN.len() as CK_ULONG;
        // SAFETY: as above; the PINs are only read.
        unsafe { self.p.C_SetPIN(h, p, n, p, n) }
    }

    /// The single object of this class and label.
    fn find(&self, h: CK_SESSION_HANDLE, class: CK_OBJECT_CLASS, label: &str) -> CK_OBJECT_HANDLE {
        let mut class = class;
        let mut template = [
            CK_ATTRIBUTE {
                type_: CKA_CLASS,
                pValue: &mut class as *mut _ as *mut c_void,
                ulValueLen: std::mem::size_of::<CK_OBJECT_CLASS>() as CK_ULONG,
            },
            CK_ATTRIBUTE {
                type_: CKA_LABEL,
                pValue: label.as_ptr() as *mut c_void,
                ulValueLen: label.len() as CK_ULONG,
            },
        ];
        let mut found = [0 as CK_OBJECT_HANDLE; 4];
        let mut n: CK_ULONG = 0;
        // SAFETY: as above; the template outlives the search.
        unsafe {
            assert_eq!(
                self.p.C_FindObjectsInit(h, template.as_mut_ptr(), 2),
                CKR_OK
            );
            assert_eq!(
                self.p.C_FindObjects(h, found.as_mut_ptr(), 4, &mut n),
                CKR_OK
            );
            assert_eq!(self.p.C_FindObjectsFinal(h), CKR_OK);
        }
        assert_eq!(n, 1, "{label}");
        found[0]
    }

    /// The authentication certificate's public key, read from the token.
    fn public_key(&self, h: CK_SESSION_HANDLE) -> RsaPublicKey {
        let cert = self.find(h, CKO_CERTIFICATE, AUT_CERT);
        let mut a = CK_ATTRIBUTE {
            type_: CKA_VALUE,
            pValue: null_mut(),
            ulValueLen: 0,
        };
        let mut der;
        // SAFETY: as above: a length query, then a buffer of that length.
        unsafe {
            assert_eq!(self.p.C_GetAttributeValue(h, cert, &mut a, 1), CKR_OK);
            der = vec![0u8; a.ulValueLen as usize];
            a.pValue = der.as_mut_ptr() as *mut c_void;
            assert_eq!(self.p.C_GetAttributeValue(h, cert, &mut a, 1), CKR_OK);
        }
        let cert = x509_cert::Certificate::from_der(&der).expect("certificate");
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .unwrap();
        RsaPublicKey::from_public_key_der(&spki).expect("RSA key")
    }

    /// C_SignInit + C_Sign (CKM_SHA256_RSA_PKCS) over `data`: each call's CK_RV, up to the
    /// first failure, and the signature.
    fn sign(
        &self,
        h: CK_SESSION_HANDLE,
        key: CK_OBJECT_HANDLE,
        data: &[u8],
        calls: &mut Calls,
    ) -> Option<Vec<u8>> {
        let mut mech = CK_MECHANISM {
            mechanism: CKM_SHA256_RSA_PKCS,
            pParameter: null_mut(),
            ulParameterLen: 0,
        };
        let mut sig = vec![0u8; 512];
        let mut n = sig.len() as CK_ULONG;
        // SAFETY: as above; the data is only read, the buffer holds 512 bytes.
        unsafe {
            calls.call("C_SignInit", self.p.C_SignInit(h, &mut mech, key))?;
            let rv = self.p.C_Sign(
                h,
                data.as_ptr() as *mut _,
                data.len() as CK_ULONG,
                sig.as_mut_ptr(),
                &mut n,
            );
            calls.call("C_Sign", rv)?;
        }
        sig.truncate(n as usize);
        Some(sig)
    }

    /// C_DecryptInit + C_Decrypt (CKM_RSA_PKCS) of `cryptogram`.
    fn decrypt(
        &self,
        h: CK_SESSION_HANDLE,
        key: CK_OBJECT_HANDLE,
        cryptogram: &[u8],
        calls: &mut Calls,
    ) -> Option<Vec<u8>> {
        let mut mech = CK_MECHANISM {
            mechanism: CKM_RSA_PKCS,
            pParameter: null_mut(),
            ulParameterLen: 0,
        };
        let mut plain = vec![0u8; 512];
        let mut n = plain.len() as CK_ULONG;
        // SAFETY: as above.
        unsafe {
            calls.call("C_DecryptInit", self.p.C_DecryptInit(h, &mut mech, key))?;
            let rv = self.p.C_Decrypt(
                h,
                cryptogram.as_ptr() as *mut _,
                cryptogram.len() as CK_ULONG,
                plain.as_mut_ptr(),
                &mut n,
            );
            calls.call("C_Decrypt", rv)?;
        }
        plain.truncate(n as usize);
        Some(plain)
    }
}

fn ok(rv: CK_RV) -> Result<(), CK_RV> {
    if rv == CKR_OK {
        Ok(())
    } else {
        Err(rv)
    }
}

fn name(rv: CK_RV) -> String {
    format!("{:?}", Rv::from(rv))
}

/// The faulted calls of one case and their CK_RVs, up to the first failure.
#[derive(Default, Debug)]
struct Calls(Vec<(&'static str, CK_RV)>);

impl Calls {
    /// Records a call; `None` (stop here) when it failed.
    fn call(&mut self, f: &'static str, rv: CK_RV) -> Option<()> {
        self.0.push((f, rv));
        (rv == CKR_OK).then_some(())
    }

    /// The failing call and its CK_RV, or the last call and CKR_OK.
    fn outcome(&self) -> (&'static str, CK_RV) {
        *self.0.last().expect("at least one call")
    }
}

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
}

impl Fault {
    fn spec(self) -> &'static str {
        match self {
            Fault::Pull => "remove",
            Fault::Reset => "reset",
        }
    }
}

/// The documented CK_RV of the faulted call when `fault` hit one of the APDUs of `op`
/// (`docs/compatibility.md`, "Fault matrix"), whichever APDU it was.
fn expected(op: Op, fault: Fault, pin_cache: bool) -> CK_RV {
    match (fault, op) {
        // The card is gone: the call that saw it go says so.
        (Fault::Pull, _) => CKR_TOKEN_NOT_PRESENT,
        // A reset while reading the card, signing or decrypting: the operation is replayed
        // (the kept PIN verified again first, when the PIN cache is on).
        (Fault::Reset, Op::Bind | Op::BindCached | Op::Decrypt | Op::SignAut | Op::SignSig)
            if pin_cache =>
        {
            CKR_OK
        }
        (Fault::Reset, Op::Bind | Op::BindCached) => CKR_OK,
        // PIN cache off: the token is logged out, the replayed operation needs a login.
        (Fault::Reset, Op::SignAut | Op::SignSig | Op::Decrypt) => CKR_USER_NOT_LOGGED_IN,
        // A reset during a PIN verification or change is never replayed (the card may have
        // counted it).
        (Fault::Reset, Op::Login | Op::ChangePin) => CKR_DEVICE_ERROR,
    }
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
fn run_case(lib: &Lib, persona: &str, op: Op, fault: Fault, at: u64, pin_cache: bool) -> Case {
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
    lib.control(&format!("fault 0 {at}:{}", fault.spec()));
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
        assert_eq!(
            name(rv),
            name(expected(op, fault, pin_cache)),
            "{what}: not the documented CK_RV"
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
    let info = lib
        .token_info(slot)
        .unwrap_or_else(|rv| panic!("{what}: {}", name(rv)));
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
fn bounded(
    lib: &Arc<Lib>,
    persona: &'static str,
    op: Op,
    fault: Fault,
    at: u64,
    cache: bool,
) -> Case {
    let (tx, rx) = mpsc::channel();
    let worker = {
        let lib = lib.clone();
        std::thread::spawn(move || {
            let case = run_case(&lib, persona, op, fault, at, cache);
            let _ = tx.send(());
            case
        })
    };
    match rx.recv_timeout(CASE_LIMIT) {
        Err(mpsc::RecvTimeoutError::Timeout) => panic!(
            "{persona}, PIN cache {cache}: {op:?}, {fault:?} at APDU {at}: no answer within {CASE_LIMIT:?}"
        ),
        _ => worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
    }
}

/// Every case for one card: operations × {pull, reset} × PIN cache {on, off} × every APDU
/// index of the operation (until the fault no longer fires: the operation took fewer).
fn matrix(persona: &'static str) {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lib = Arc::new(Lib::load());
    let start = Instant::now();
    let mut cases = 0;
    let mut outcomes = std::collections::BTreeMap::new();
    for cache in [true, false] {
        for op in OPS {
            for fault in [Fault::Pull, Fault::Reset] {
                let mut at = 1;
                loop {
                    let case = bounded(&lib, persona, op, fault, at, cache);
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
                    fault.spec(),
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
    matrix("cps3-doctor");
}

#[test]
fn fault_matrix_cps4_nurse() {
    matrix("cps4-nurse");
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
