//! A PKCS#11 application for the live-card end-to-end suite (`tests/e2e/live.sh`): it loads
//! a module with the `cryptoki` crate and runs commands read one per line on standard input,
//! answering one line each, so that a script can act on the card (pull it, reset it from
//! another process, restart pcscd) between two calls of the same application.
//!
//! ```text
//! live-client MODULE            then, on stdin:
//!   open                        a R/O session on the first slot with a token → "ok"
//!   login PIN                   C_Login(CKU_USER) → "ok" or the CK_RV
//!   state                       C_GetSessionInfo → "public", "user" or the CK_RV
//!   sign [N]                    N (default 1) CKM_SHA256_RSA_PKCS signatures with the
//!                               authentication key, each verified with the certificate's
//!                               public key → "ok N" or the CK_RV of the first failure
//!   cert                        the authentication certificate's CKA_VALUE in the session →
//!                               "cert <SHA-256 in hex>" or the CK_RV (which card is this?)
//!   slots                       C_GetSlotList(token present) → "slots N"
//!   wait [FINALIZE_AFTER_MS]    a blocking C_WaitForSlotEvent (C_Finalize from another
//!                               thread after the delay, if given) → "slot S in T ms" or
//!                               "CK_RV in T ms"
//!   fork-sign PIN               fork; the child initialises the module afresh, logs in and
//!                               signs (exit 0 if verified); → "child ok" / "child failed"
//!   quit
//! ```
//! Errors print the CK_RV's name as `cryptoki` spells it (e.g. `UserNotLoggedIn`).

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::types::AuthPin;
use rsa::pkcs8::DecodePublicKey;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use sha2::{Digest, Sha256};
use std::io::{BufRead, Write};
use std::time::{Duration, Instant};
use x509_cert::der::{Decode, Encode};

const KEY: &str = "CPS_PRIV_AUT";
const CERT: &str = "Certificat d'Authentification CPS";

fn rv(e: cryptoki::error::Error) -> String {
    match e {
        cryptoki::error::Error::Pkcs11(rv, _) => format!("{rv:?}"),
        other => format!("error: {other}"),
    }
}

fn load(module: &str) -> Pkcs11 {
    let p11 = Pkcs11::new(module).expect("load the module");
    p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .expect("C_Initialize");
    p11
}

fn open(p11: &Pkcs11) -> Result<Session, String> {
    let slot = *p11
        .get_slots_with_token()
        .map_err(rv)?
        .first()
        .ok_or("no token")?;
    p11.open_ro_session(slot).map_err(rv)
}

fn one(s: &Session, template: &[Attribute]) -> Result<ObjectHandle, String> {
    let found = s.find_objects(template).map_err(rv)?;
    match found.as_slice() {
        [o] => Ok(*o),
        other => Err(format!("{} objects for {template:?}", other.len())),
    }
}

/// The authentication certificate's DER, read from the token.
fn certificate(s: &Session) -> Result<Vec<u8>, String> {
    let cert = one(
        s,
        &[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::Label(CERT.into()),
        ],
    )?;
    let der = match s
        .get_attributes(cert, &[cryptoki::object::AttributeType::Value])
        .map_err(rv)?
        .pop()
    {
        Some(Attribute::Value(v)) => v,
        other => return Err(format!("certificate value: {other:?}")),
    };
    Ok(der)
}

/// The authentication certificate's public key, read from the token.
fn public_key(s: &Session) -> Result<RsaPublicKey, String> {
    let der = certificate(s)?;
    let cert = x509_cert::Certificate::from_der(&der).map_err(|e| e.to_string())?;
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| e.to_string())?;
    RsaPublicKey::from_public_key_der(&spki).map_err(|e| e.to_string())
}

/// `n` signatures, each verified; Err: the first failure.
fn sign(s: &Session, n: usize) -> Result<usize, String> {
    let key = one(
        s,
        &[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Label(KEY.into()),
        ],
    )?;
    let public = public_key(s)?;
    for i in 0..n {
        let data = format!("document {i} from process {}", std::process::id());
        let sig = s
            .sign(&Mechanism::Sha256RsaPkcs, key, data.as_bytes())
            .map_err(rv)?;
        let hash = Sha256::digest(data.as_bytes());
        public
            .verify(Pkcs1v15Sign::new::<Sha256>(), &hash, &sig)
            .map_err(|e| format!("signature {i} does not verify: {e}"))?;
    }
    Ok(n)
}

fn fork_sign(module: &str, pin: &str) -> String {
    // SAFETY: fork in a process whose other threads (none here) are not needed by the child;
    // the child only initialises the module again, signs and exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let p11 = load(module);
        let ok = open(&p11).and_then(|s| {
            s.login(UserType::User, Some(&AuthPin::new(pin.into())))
                .map_err(rv)?;
            sign(&s, 1)
        });
        let _ = p11.finalize();
        std::process::exit(if ok.is_ok() { 0 } else { 1 });
    }
    let mut status = 0;
    // SAFETY: waiting for the child we just forked.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        "child ok".into()
    } else {
        format!("child failed (status {status})")
    }
}

fn main() {
    let module = std::env::args().nth(1).expect("usage: live-client MODULE");
    let mut p11 = Some(load(&module));
    let mut session: Option<Session> = None;
    let stdout = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(p) = p11.clone() else {
            println!("finalized");
            continue;
        };
        let answer = match words.as_slice() {
            ["open"] => match open(&p) {
                Ok(s) => {
                    session = Some(s);
                    "ok".into()
                }
                Err(e) => e,
            },
            ["login", pin] => match &session {
                Some(s) => match s.login(UserType::User, Some(&AuthPin::new((*pin).into()))) {
                    Ok(()) => "ok".into(),
                    Err(e) => rv(e),
                },
                None => "no session".into(),
            },
            ["state"] => match session.as_ref().map(|s| s.get_session_info()) {
                Some(Ok(i)) => match i.session_state() {
                    SessionState::RoPublic | SessionState::RwPublic => "public".into(),
                    SessionState::RoUser | SessionState::RwUser => "user".into(),
                    other => format!("{other:?}"),
                },
                Some(Err(e)) => rv(e),
                None => "no session".into(),
            },
            ["sign", rest @ ..] => {
                let n = rest.first().and_then(|n| n.parse().ok()).unwrap_or(1);
                match session.as_ref().map(|s| sign(s, n)) {
                    Some(Ok(n)) => format!("ok {n}"),
                    Some(Err(e)) => e,
                    None => "no session".into(),
                }
            }
            ["cert"] => match session.as_ref().map(certificate) {
                Some(Ok(der)) => {
                    let hex: String = Sha256::digest(&der)
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect();
                    format!("cert {hex}")
                }
                Some(Err(e)) => e,
                None => "no session".into(),
            },
            ["slots"] => match p.get_slots_with_token() {
                Ok(s) => format!("slots {}", s.len()),
                Err(e) => rv(e),
            },
            ["wait", rest @ ..] => {
                let start = Instant::now();
                let finalizer = rest.first().and_then(|ms| ms.parse().ok()).map(|ms| {
                    session = None;
                    let p = p11.take().expect("initialised");
                    std::thread::spawn(move || {
                        std::thread::sleep(Duration::from_millis(ms));
                        p.finalize()
                    })
                });
                let r = p.wait_for_slot_event();
                let ms = start.elapsed().as_millis();
                if let Some(f) = finalizer {
                    let _ = f.join();
                }
                match r {
                    Ok(slot) => format!("slot {} in {ms} ms", slot.id()),
                    Err(e) => format!("{} in {ms} ms", rv(e)),
                }
            }
            ["fork-sign", pin] => fork_sign(&module, pin),
            ["quit"] => break,
            _ => format!("unknown command {line:?}"),
        };
        let mut out = stdout.lock();
        let _ = writeln!(out, "{answer}");
        let _ = out.flush();
    }
}
