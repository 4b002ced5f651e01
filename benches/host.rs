//! Host CPU per PKCS#11 operation, the card excluded, with a statistics-grade harness
//! (criterion). `cargo bench --features sim --bench host`.
//!
//! The module runs over the simulated cards through a *replaying* transport: every
//! command is sent to the simulator once and its answer remembered (keyed by every command
//! of the card transaction so far, so a GET RESPONSE or a READ BINARY is told apart by what
//! it follows); the measured
//! iterations then get the remembered answers without running the simulator (whose RSA is
//! host CPU too). What is timed is the module alone: argument checks, hashing, DigestInfo
//! and padding work, APDU encoding, status words, attribute templates, and — for the warm
//! bind — reading, checking and parsing the cache entry.

use cpx_pkcs11::cpx::cache::CardCache;
use cpx_pkcs11::cpx::HashAlg;
use cpx_pkcs11::p11::{mechanism, Attr, AttrLookup, Mechanism, Module, Output};
use cpx_pkcs11::transport::r#virtual::SimReaders;
use cpx_pkcs11::transport::{
    CardIo, ReaderInfo, ReaderWatch, Readers, ResetSeen, Tap, Tapped, Transport, TransportError,
    WakeUp,
};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use cryptoki_sys::*;
use std::collections::HashMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

type Memo = Arc<Mutex<HashMap<Vec<u8>, Vec<u8>>>>;

struct ReplayReaders {
    inner: SimReaders,
    memo: Memo,
}

impl Readers for ReplayReaders {
    fn list(&mut self) -> Result<Vec<ReaderInfo>, TransportError> {
        self.inner.list()
    }
    fn connect(&mut self, reader: &str) -> Result<Box<dyn Transport>, TransportError> {
        Ok(Box::new(Tapped {
            inner: self.inner.connect(reader)?,
            tap: Replay {
                memo: self.memo.clone(),
                history: Vec::new(),
            },
        }))
    }
    fn watch(&mut self) -> Result<(Box<dyn ReaderWatch>, WakeUp), TransportError> {
        self.inner.watch()
    }
    fn listing_is_cheap(&self) -> bool {
        true
    }
}

/// Answers from memory what the simulator answered once.
struct Replay {
    memo: Memo,
    /// The commands of the current transaction, length-prefixed.
    history: Vec<u8>,
}

impl Tap for Replay {
    fn transmit(
        &mut self,
        card: &mut dyn CardIo,
        c_apdu: &[u8],
    ) -> Result<Vec<u8>, TransportError> {
        self.history
            .extend_from_slice(&(c_apdu.len() as u32).to_be_bytes());
        self.history.extend_from_slice(c_apdu);
        let key = self.history.clone();
        if let Some(r) = self.memo.lock().unwrap().get(&key) {
            return Ok(r.clone());
        }
        let r = card.transmit(c_apdu)?;
        self.memo.lock().unwrap().insert(key, r.clone());
        Ok(r)
    }
    fn begin(&mut self, _: ResetSeen) {
        self.history.clear();
    }
}

fn module(persona: &str, memo: &Memo, cache: Option<&PathBuf>) -> Module {
    let readers = ReplayReaders {
        inner: SimReaders::from_spec(persona).expect("persona"),
        memo: memo.clone(),
    };
    let mut m = Module::new(Box::new(readers));
    m.card_cache = cache.map(CardCache::new);
    m
}

fn find(m: &mut Module, h: CK_SESSION_HANDLE, template: &[Attr]) -> Vec<CK_OBJECT_HANDLE> {
    m.find_init(h, template).unwrap();
    let r = m.find_next(h, 100).unwrap();
    m.find_final(h).unwrap();
    r
}

fn key(m: &mut Module, h: CK_SESSION_HANDLE, label: &str) -> CK_OBJECT_HANDLE {
    find(
        m,
        h,
        &[
            Attr::ulong(CKA_CLASS, CKO_PRIVATE_KEY),
            Attr::new(CKA_LABEL, label),
        ],
    )[0]
}

fn sign(m: &mut Module, h: CK_SESSION_HANDLE, mech: &Mechanism, k: CK_OBJECT_HANDLE, data: &[u8]) {
    m.sign_init(h, mech, k).unwrap();
    match m.sign(h, data, Some(512)).unwrap() {
        Output::Bytes(sig) => assert_eq!(sig.len(), 256),
        Output::Len(_) => panic!("no signature"),
    }
}

fn benches(c: &mut Criterion) {
    let document: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
    let info = mechanism::digest_info_of(HashAlg::Sha256, &document).unwrap();
    let hash = mechanism::hash(HashAlg::Sha256, &document);
    let cases: Vec<(&str, &str, &str, Mechanism, Vec<u8>)> = vec![
        (
            "cps3-doctor",
            "CPS3 C_Sign AUT CKM_RSA_PKCS (DigestInfo)",
            "CPS_PRIV_AUT",
            Mechanism::new(CKM_RSA_PKCS),
            info.clone(),
        ),
        (
            "cps3-doctor",
            "CPS3 C_Sign SIG CKM_SHA256_RSA_PKCS (1000 B)",
            "CPS_PRIV_SIG",
            Mechanism::new(CKM_SHA256_RSA_PKCS),
            document.clone(),
        ),
        (
            "cps3-doctor",
            "CPS3 C_Sign SIG CKM_RSA_PKCS (DigestInfo)",
            "CPS_PRIV_SIG",
            Mechanism::new(CKM_RSA_PKCS),
            info.clone(),
        ),
        (
            "cps4-nurse",
            "CPS4 C_Sign AUT CKM_RSA_PKCS_PSS (hash)",
            "CPS_PRIV_AUT",
            Mechanism {
                ty: CKM_RSA_PKCS_PSS,
                param: mechanism::pss_params(HashAlg::Sha256),
            },
            hash,
        ),
        (
            "cps4-nurse",
            "CPS4 C_Sign AUT CKM_RSA_PKCS (DigestInfo, raw RSA)",
            "CPS_PRIV_AUT",
            Mechanism::new(CKM_RSA_PKCS),
            info,
        ),
        (
            "cps4-nurse",
            "CPS4 C_Sign SIG CKM_SHA256_RSA_PKCS (1000 B)",
            "CPS_PRIV_SIG",
            Mechanism::new(CKM_SHA256_RSA_PKCS),
            document,
        ),
    ];
    for (persona, name, label, mech, data) in &cases {
        let memo = Memo::default();
        let mut m = module(persona, &memo, None);
        let slot = m.slot_list(true)[0];
        let h = m.open_session(slot, CKF_SERIAL_SESSION).unwrap();
        m.login(h, CKU_USER, b"1234").unwrap();
        let k = key(&mut m, h, label);
        // Warm-up: the card answers once, then only the memo does.
        sign(&mut m, h, mech, k, data);
        sign(&mut m, h, mech, k, data);
        c.bench_function(name, |b| {
            b.iter(|| sign(&mut m, h, mech, k, black_box(data)))
        });
    }

    // Served from memory.
    let memo = Memo::default();
    let mut m = module("cps3-doctor", &memo, None);
    let h = m.open_session(0, CKF_SERIAL_SESSION).unwrap();
    c.bench_function("CPS3 C_FindObjects + C_GetAttributeValue(CKA_VALUE)", |b| {
        b.iter(|| {
            let certs = find(&mut m, h, &[Attr::ulong(CKA_CLASS, CKO_CERTIFICATE)]);
            match m
                .get_attributes(h, certs[0], &[CKA_VALUE])
                .unwrap()
                .remove(0)
            {
                AttrLookup::Value(v) => black_box(v),
                other => panic!("{other:?}"),
            }
        })
    });

    // A warm start: C_Initialize (a new Module), C_OpenSession binding from the cache
    // (entry read, hash checked, X.509 parsed), the object list.
    for persona in ["cps3-doctor", "cps4-nurse"] {
        let dir = std::env::temp_dir().join(format!("cpx-bench-host-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let memo = Memo::default();
        for _ in 0..2 {
            let mut m = module(persona, &memo, Some(&dir));
            m.open_session(0, CKF_SERIAL_SESSION).unwrap();
        }
        let name = format!(
            "{} warm start: C_Initialize + C_OpenSession + object list",
            {
                if persona.starts_with("cps3") {
                    "CPS3"
                } else {
                    "CPS4"
                }
            }
        );
        c.bench_function(&name, |b| {
            b.iter_batched(
                || SimReaders::from_spec(persona).unwrap(),
                |sim| {
                    let mut m = Module::new(Box::new(ReplayReaders {
                        inner: sim,
                        memo: memo.clone(),
                    }));
                    m.card_cache = Some(CardCache::new(&dir));
                    let h = m.open_session(0, CKF_SERIAL_SESSION).unwrap();
                    black_box(find(&mut m, h, &[]).len())
                },
                BatchSize::SmallInput,
            )
        });
        let _ = std::fs::remove_dir_all(&dir);
    }
}

criterion_group! {
    name = host;
    config = Criterion::default()
        .sample_size(50)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = benches
}
criterion_main!(host);
