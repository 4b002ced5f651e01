//! Per-operation cost of the module on the simulated cards (`style.md` §9: benches report APDU
//! counts per operation, not only time).
//!
//! The whole stack minus the C ABI: `p11::Module` over `SimReaders`, on cps3-doctor and
//! cps4-nurse. For each operation: APDUs and bytes (exact, from the simulator's trace), host
//! wall time (median and minimum of N runs), the module's own time (wall time minus the time
//! spent inside `Transport` calls, i.e. in the simulator, whose RSA is host CPU too), and the
//! latency model's card time (2 ms per APDU, line rate from the ATR, 250 ms per on-card RSA
//! operation; computed, never slept).
//!
//! `cargo bench --features sim --bench engine`; results on stdout and in
//! `target/bench/engine.tsv` (plotted by `scripts/bench-plot.py`).

use cpx_pkcs11::cpx::cache::CardCache;
use cpx_pkcs11::cpx::HashAlg;
use cpx_pkcs11::p11::{mechanism, Attr, AttrLookup, Mechanism, Module, Output};
use cpx_pkcs11::sim::profile::Latency;
use cpx_pkcs11::sim::trace::Trace;
use cpx_pkcs11::transport::r#virtual::{SharedCard, SimReaders};
use cpx_pkcs11::transport::{
    CardIo, PinPadRequest, ReaderInfo, ReaderWatch, Readers, Tap, Tapped, Transport,
    TransportError, WakeUp,
};
use cryptoki_sys::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PIN: &[u8] = b"1234";
/// Runs per operation (cheap in-memory operations get more).
const RUNS: usize = 200;
const RUNS_WARM: usize = 2000;

// ---- a Transport wrapper that accounts the time spent below the module ---------------------

/// Nanoseconds spent inside `Transport` calls (the simulator), shared by all connections.
#[derive(Clone, Default)]
struct Spent(Arc<AtomicU64>);

impl Spent {
    fn nanos(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
    fn time<T>(&self, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let r = f();
        self.0
            .fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        r
    }
}

struct TimedReaders {
    inner: SimReaders,
    spent: Spent,
}

impl Readers for TimedReaders {
    fn list(&mut self) -> Result<Vec<ReaderInfo>, TransportError> {
        self.inner.list()
    }
    fn watch(&mut self) -> Result<(Box<dyn ReaderWatch>, WakeUp), TransportError> {
        self.inner.watch()
    }
    fn listing_is_cheap(&self) -> bool {
        self.inner.listing_is_cheap()
    }
    fn connect(&mut self, reader: &str) -> Result<Box<dyn Transport>, TransportError> {
        let inner = self.inner.connect(reader)?;
        Ok(Box::new(Tapped {
            inner,
            tap: Timed {
                spent: self.spent.clone(),
            },
        }))
    }
}

/// Times what the card takes (APDUs and PIN-pad entries), so that it can be subtracted.
struct Timed {
    spent: Spent,
}

impl Tap for Timed {
    fn transmit(
        &mut self,
        card: &mut dyn CardIo,
        c_apdu: &[u8],
    ) -> Result<Vec<u8>, TransportError> {
        self.spent.time(|| card.transmit(c_apdu))
    }
    fn pin_pad(
        &mut self,
        card: &mut dyn CardIo,
        request: &PinPadRequest,
    ) -> Result<Vec<u8>, TransportError> {
        self.spent.time(|| card.pin_pad(request))
    }
}

// ---- the bench fixture --------------------------------------------------------------------

/// A module over one simulated card with the latency model on (accounted, not slept).
struct Rig {
    m: Module,
    trace: Trace,
    spent: Spent,
    /// `CPX_BENCH_TRACE` set: print the APDUs of the next measured run on stderr.
    show_next: bool,
}

/// Simulated readers holding `persona` (loaded from disk), wrapped for timing, and the
/// card's trace.
fn readers(persona: &str) -> (TimedReaders, Trace, Spent) {
    let readers = SimReaders::from_spec(persona).expect("persona");
    let card: SharedCard = readers.cards().remove(0).1;
    let trace = {
        let mut c = card.lock().unwrap();
        c.set_latency(Latency {
            enabled: true,
            sleep: false,
            ..Latency::default()
        });
        c.trace()
    };
    let spent = Spent::default();
    let timed = TimedReaders {
        inner: readers,
        spent: spent.clone(),
    };
    (timed, trace, spent)
}

fn rig(persona: &str) -> Rig {
    let (readers, trace, spent) = readers(persona);
    let m = Module::new(Box::new(readers));
    Rig {
        m,
        trace,
        spent,
        show_next: false,
    }
}

/// One measured run.
#[derive(Clone, Copy)]
struct Sample {
    apdus: usize,
    bytes: usize,
    modelled_us: u64,
    wall_ns: u64,
    /// Wall time minus the time inside the transport (the simulator).
    host_ns: u64,
}

/// Measures `op` on `rig`: trace cleared before, counters read after (outside the timing).
fn measure(rig: &mut Rig, op: impl FnOnce(&mut Module)) -> Sample {
    rig.trace.clear();
    let spent0 = rig.spent.nanos();
    let t = Instant::now();
    op(&mut rig.m);
    let wall_ns = t.elapsed().as_nanos() as u64;
    let below = rig.spent.nanos() - spent0;
    if std::mem::take(&mut rig.show_next) {
        eprint!("{}", rig.trace.render());
    }
    Sample {
        apdus: rig.trace.apdu_count(),
        bytes: rig.trace.byte_count(),
        modelled_us: rig.trace.modelled_micros(),
        wall_ns,
        host_ns: wall_ns.saturating_sub(below),
    }
}

/// The summary of N runs of one operation.
struct Row {
    card: &'static str,
    op: &'static str,
    runs: usize,
    /// APDUs of the first run and of every later run (they differ only where the first call
    /// reads something once, e.g. the CPS3 PIN-counter DOCP).
    apdus_first: usize,
    apdus: usize,
    bytes: usize,
    modelled_us: u64,
    wall_median_ns: u64,
    wall_min_ns: u64,
    host_median_ns: u64,
    host_min_ns: u64,
    /// Binds: the bytes of file content the card sent (see [`file_bytes`]); 0 elsewhere.
    file_bytes: usize,
}

fn summarise(card: &'static str, op: &'static str, samples: &[Sample]) -> Row {
    let last = samples.last().expect("at least one run");
    for s in &samples[1..] {
        assert_eq!(
            (s.apdus, s.bytes, s.modelled_us),
            (last.apdus, last.bytes, last.modelled_us),
            "{card} {op}: APDU counts must be repeatable"
        );
    }
    let median_min = |f: fn(&Sample) -> u64| {
        let mut v: Vec<u64> = samples.iter().map(f).collect();
        v.sort_unstable();
        (v[v.len() / 2], v[0])
    };
    let (wall_median_ns, wall_min_ns) = median_min(|s| s.wall_ns);
    let (host_median_ns, host_min_ns) = median_min(|s| s.host_ns);
    Row {
        card,
        op,
        runs: samples.len(),
        apdus_first: samples[0].apdus,
        apdus: last.apdus,
        bytes: last.bytes,
        modelled_us: last.modelled_us,
        wall_median_ns,
        wall_min_ns,
        host_median_ns,
        host_min_ns,
        file_bytes: 0,
    }
}

/// The file content a bind read: data bytes of the READ BINARY answers that succeeded
/// (`90 00`, `62 82`), keyed by the file (the last SELECT's P1 and data, or the SFI) and
/// offset. The same bytes read twice fail the bench, so this is the bytes of the files the
/// bind had to read — the denominator of issue 9's "cold start bytes ≤ 1.05 × the bytes of
/// the files that must be read".
fn file_bytes(trace: &Trace) -> usize {
    let mut current = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    for (c, r) in trace.apdus() {
        let (Some(&ins), Some(&p1), Some(&p2)) = (c.get(1), c.get(2), c.get(3)) else {
            continue;
        };
        if ins == 0xA4 && c.len() > 5 {
            current = [&[p1], &c[5..]].concat();
        }
        let ok = r.ends_with(&[0x90, 0x00]) || r.ends_with(&[0x62, 0x82]);
        if ins != 0xB0 || !ok || r.len() == 2 {
            continue;
        }
        let key = if p1 & 0x80 != 0 {
            (vec![0xFF, p1 & 0x1F], usize::from(p2))
        } else {
            (current.clone(), usize::from(p1) << 8 | usize::from(p2))
        };
        assert!(seen.insert(key), "the same file bytes were read twice");
        total += r.len() - 2;
    }
    total
}

// ---- PKCS#11 calls as a client makes them -------------------------------------------------

fn find(m: &mut Module, h: CK_SESSION_HANDLE, template: &[Attr]) -> Vec<CK_OBJECT_HANDLE> {
    m.find_init(h, template).unwrap();
    let r = m.find_next(h, 100).unwrap();
    m.find_final(h).unwrap();
    r
}

fn one(m: &mut Module, h: CK_SESSION_HANDLE, template: &[Attr]) -> CK_OBJECT_HANDLE {
    let found = find(m, h, template);
    assert_eq!(found.len(), 1);
    found[0]
}

fn private_key(m: &mut Module, h: CK_SESSION_HANDLE, label: &str) -> CK_OBJECT_HANDLE {
    one(
        m,
        h,
        &[
            Attr::ulong(CKA_CLASS, CKO_PRIVATE_KEY),
            Attr::new(CKA_LABEL, label),
        ],
    )
}

/// C_FindObjects for the first certificate, then C_GetAttributeValue(CKA_VALUE).
fn first_certificate(m: &mut Module, h: CK_SESSION_HANDLE) -> Vec<u8> {
    let certs = find(m, h, &[Attr::ulong(CKA_CLASS, CKO_CERTIFICATE)]);
    match m
        .get_attributes(h, certs[0], &[CKA_VALUE])
        .unwrap()
        .remove(0)
    {
        AttrLookup::Value(v) => v,
        other => panic!("CKA_VALUE: {other:?}"),
    }
}

fn open(m: &mut Module) -> CK_SESSION_HANDLE {
    let slots = m.slot_list(true);
    m.open_session(slots[0], CKF_SERIAL_SESSION).unwrap()
}

fn sign(m: &mut Module, h: CK_SESSION_HANDLE, mech: &Mechanism, k: CK_OBJECT_HANDLE, data: &[u8]) {
    m.sign_init(h, mech, k).unwrap();
    match m.sign(h, data, Some(512)).unwrap() {
        Output::Bytes(sig) => assert_eq!(sig.len(), 256),
        Output::Len(_) => panic!("no signature"),
    }
}

fn pss(ty: CK_MECHANISM_TYPE) -> Mechanism {
    Mechanism {
        ty,
        param: mechanism::pss_params(HashAlg::Sha256),
    }
}

// ---- the operations -----------------------------------------------------------------------

/// A signature to measure: key label, mechanism, input, description.
struct SignCase {
    op: &'static str,
    key: &'static str,
    mech: Mechanism,
    data: Vec<u8>,
}

fn sign_cases(card: &str) -> Vec<SignCase> {
    // A 1000-byte document: for the CPS3 partial hash the host hashes 15 full blocks and the
    // card the last one.
    let document: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
    let info = mechanism::digest_info_of(HashAlg::Sha256, &document).unwrap();
    let hash = mechanism::hash(HashAlg::Sha256, &document);
    if card.starts_with("cps3") {
        vec![
            SignCase {
                op: "C_Sign AUT CKM_RSA_PKCS (DigestInfo)",
                key: "CPS_PRIV_AUT",
                mech: Mechanism::new(CKM_RSA_PKCS),
                data: info.clone(),
            },
            SignCase {
                op: "C_Sign SIG CKM_SHA256_RSA_PKCS (1000 B, partial hash)",
                key: "CPS_PRIV_SIG",
                mech: Mechanism::new(CKM_SHA256_RSA_PKCS),
                data: document,
            },
            SignCase {
                op: "C_Sign SIG CKM_RSA_PKCS (DigestInfo)",
                key: "CPS_PRIV_SIG",
                mech: Mechanism::new(CKM_RSA_PKCS),
                data: info,
            },
        ]
    } else {
        vec![
            SignCase {
                op: "C_Sign AUT CKM_RSA_PKCS_PSS (SHA-256 hash)",
                key: "CPS_PRIV_AUT",
                mech: pss(CKM_RSA_PKCS_PSS),
                data: hash,
            },
            SignCase {
                op: "C_Sign SIG CKM_SHA256_RSA_PKCS (1000 B)",
                key: "CPS_PRIV_SIG",
                mech: Mechanism::new(CKM_SHA256_RSA_PKCS),
                data: document,
            },
        ]
    }
}

/// Runs `op` `n` times on `rig` (`between` after each run, not timed) and summarises.
fn run(
    rig: &mut Rig,
    card: &'static str,
    name: &'static str,
    n: usize,
    mut op: impl FnMut(&mut Module),
    mut between: impl FnMut(&mut Module),
) -> Row {
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        if i == 0 && show_traces() {
            eprintln!("--- {card}: {name}, first run");
            rig.show_next = true;
        }
        samples.push(measure(rig, &mut op));
        between(&mut rig.m);
    }
    summarise(card, name, &samples)
}

fn show_traces() -> bool {
    std::env::var_os("CPX_BENCH_TRACE").is_some()
}

/// A process start: a new Module (C_Initialize), C_OpenSession (bind), the first
/// certificate's value. `cache`: the cache directory, and whether to clear it before each run.
fn start_row(card: &'static str, name: &'static str, cache: Option<(&Path, bool)>) -> Row {
    let mut samples = Vec::new();
    let mut content = 0;
    if let Some((dir, _)) = cache {
        // Fill the cache once (a warm series needs it; a cold one clears it anyway).
        let (readers, _, _) = readers(card);
        let mut m = Module::new(Box::new(readers));
        m.card_cache = Some(CardCache::new(dir));
        open(&mut m);
    }
    for i in 0..RUNS {
        if let Some((dir, true)) = cache {
            let _ = std::fs::remove_dir_all(dir);
        }
        let (readers, trace, spent) = readers(card);
        let t = Instant::now();
        let mut m = Module::new(Box::new(readers));
        m.card_cache = cache.map(|(d, _)| CardCache::new(d));
        let h = open(&mut m);
        let der = first_certificate(&mut m, h);
        let wall_ns = t.elapsed().as_nanos() as u64;
        assert!(der.len() > 500);
        if i == 0 {
            content = file_bytes(&trace);
            if show_traces() {
                eprintln!("--- {card}: {name}");
                eprint!("{}", trace.render());
            }
        }
        samples.push(Sample {
            apdus: trace.apdu_count(),
            bytes: trace.byte_count(),
            modelled_us: trace.modelled_micros(),
            wall_ns,
            host_ns: wall_ns.saturating_sub(spent.nanos()),
        });
    }
    let mut row = summarise(card, name, &samples);
    row.file_bytes = content;
    row
}

fn bench_card(card: &'static str) -> Vec<Row> {
    let mut rows = Vec::new();

    // Cold ("time to first certificate"): a new Module (C_Initialize), C_GetSlotList,
    // C_OpenSession (binds: reads the card), C_FindObjects, C_GetAttributeValue(CKA_VALUE).
    // Loading the persona from disk is not timed. Without the persistent cache, then with it
    // (cold: cleared before each run, the entry written; warm: the entry of the card used).
    rows.push(start_row(
        card,
        "bind + first certificate (cold, no cache)",
        None,
    ));
    let dir = std::env::temp_dir().join(format!("cpx-bench-cache-{}", std::process::id()));
    let cache = Some((dir.as_path(), true));
    rows.push(start_row(
        card,
        "bind + first certificate (cold, cache written)",
        cache,
    ));
    let cache = Some((dir.as_path(), false));
    rows.push(start_row(
        card,
        "bind + first certificate (warm: cache hit)",
        cache,
    ));
    let _ = std::fs::remove_dir_all(&dir);

    let mut r = rig(card);
    r.m.pin_status_ttl = Duration::ZERO;
    let h = open(&mut r.m);
    first_certificate(&mut r.m, h);

    // Warm: the same on a bound token must cost nothing on the card.
    let name = "C_FindObjects + CKA_VALUE (warm)";
    let row = run(
        &mut r,
        card,
        name,
        RUNS_WARM,
        |m| {
            first_certificate(m, h);
        },
        |_| {},
    );
    assert_eq!(
        (row.apdus_first, row.apdus),
        (0, 0),
        "{card}: a warm certificate read must cost 0 APDUs"
    );
    rows.push(row);

    // C_GetTokenInfo re-reading the PIN counters (TTL 0: every call goes to the card).
    rows.push(run(
        &mut r,
        card,
        "C_GetTokenInfo (PIN counters)",
        RUNS,
        |m| {
            m.token_info(0).unwrap();
        },
        |_| {},
    ));

    // C_Login (C_Logout between runs, not timed).
    rows.push(run(
        &mut r,
        card,
        "C_Login",
        RUNS,
        |m| m.login(h, CKU_USER, PIN).unwrap(),
        |m| m.logout(h).unwrap(),
    ));
    r.m.login(h, CKU_USER, PIN).unwrap();

    // C_SignInit + C_Sign (the init costs no APDU).
    for case in sign_cases(card) {
        let k = private_key(&mut r.m, h, case.key);
        rows.push(run(
            &mut r,
            card,
            case.op,
            RUNS,
            |m| sign(m, h, &case.mech, k, &case.data),
            |_| {},
        ));
    }

    // C_DecryptInit + C_Decrypt with the authentication key (ciphertext made in software).
    let pk = one(
        &mut r.m,
        h,
        &[
            Attr::ulong(CKA_CLASS, CKO_PUBLIC_KEY),
            Attr::new(
                CKA_LABEL,
                "Cle publique - Certificat d'Authentification CPS",
            ),
        ],
    );
    let mech = Mechanism::new(CKM_RSA_PKCS);
    r.m.encrypt_init(h, &mech, pk).unwrap();
    let secret = b"a 32-byte session key 0123456789";
    let Output::Bytes(ciphertext) = r.m.encrypt(h, secret, Some(256)).unwrap() else {
        panic!("encrypt")
    };
    let k = private_key(&mut r.m, h, "CPS_PRIV_AUT");
    rows.push(run(
        &mut r,
        card,
        "C_Decrypt AUT CKM_RSA_PKCS",
        RUNS,
        |m| {
            m.decrypt_init(h, &mech, k).unwrap();
            let out = m.decrypt(h, &ciphertext, Some(256)).unwrap();
            assert_eq!(out, Output::Bytes(secret.to_vec()));
        },
        |_| {},
    ));

    rows.push(run(
        &mut r,
        card,
        "C_GenerateRandom (20 bytes)",
        RUNS,
        |m| assert_eq!(m.random(h, 20).unwrap().len(), 20),
        |_| {},
    ));
    rows
}

// ---- output -------------------------------------------------------------------------------

fn us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1000.0)
}

fn ms(us: u64) -> String {
    format!("{:.1}", us as f64 / 1000.0)
}

fn main() {
    let started = Instant::now();
    let mut rows = Vec::new();
    for card in ["cps3-doctor", "cps4-nurse"] {
        rows.extend(bench_card(card));
    }

    let mut table = String::new();
    writeln!(
        table,
        "{:<12} {:<54} {:>6} {:>7} {:>10} {:>11} {:>11} {:>11} {:>11}",
        "card",
        "operation",
        "APDUs",
        "bytes",
        "model ms",
        "wall med µs",
        "wall min µs",
        "host med µs",
        "host min µs"
    )
    .unwrap();
    for r in &rows {
        let apdus = if r.apdus_first == r.apdus {
            r.apdus.to_string()
        } else {
            format!("{}/{}", r.apdus_first, r.apdus)
        };
        writeln!(
            table,
            "{:<12} {:<54} {:>6} {:>7} {:>10} {:>11} {:>11} {:>11} {:>11}",
            r.card,
            r.op,
            apdus,
            r.bytes,
            ms(r.modelled_us),
            us(r.wall_median_ns),
            us(r.wall_min_ns),
            us(r.host_median_ns),
            us(r.host_min_ns)
        )
        .unwrap();
    }
    print!("{table}");
    println!(
        "APDUs a/b: first call / every later call. model: latency model (2 ms/APDU, ATR line \
         rate, 250 ms/RSA), not slept. host: wall time minus time inside the simulator."
    );
    for r in rows.iter().filter(|r| r.file_bytes > 0) {
        println!(
            "{:<12} {:<54} {} bytes on the line for {} bytes of file content read: {:.3} ×",
            r.card,
            r.op,
            r.bytes,
            r.file_bytes,
            r.bytes as f64 / r.file_bytes as f64
        );
    }

    let mut tsv = String::from(
        "card\toperation\truns\tapdus_first\tapdus\tbytes\tmodelled_us\twall_median_us\t\
         wall_min_us\thost_median_us\thost_min_us\tfile_bytes\n",
    );
    for r in &rows {
        writeln!(
            tsv,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            r.card,
            r.op,
            r.runs,
            r.apdus_first,
            r.apdus,
            r.bytes,
            r.modelled_us,
            us(r.wall_median_ns),
            us(r.wall_min_ns),
            us(r.host_median_ns),
            us(r.host_min_ns),
            r.file_bytes
        )
        .unwrap();
    }
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("bench");
    std::fs::create_dir_all(&dir).expect("target/bench");
    let path = dir.join("engine.tsv");
    std::fs::write(&path, tsv).expect("write engine.tsv");
    println!(
        "wrote {} ({} rows) in {:.1} s",
        path.display(),
        rows.len(),
        started.elapsed().as_secs_f64()
    );
}
