//! The persistent card cache seen from PKCS#11 (`cpx::cache`, issue 9): a warm start costs
//! a few APDUs and gives exactly the objects of a cold one; a damaged, foreign, stale or
//! unwritable cache never changes the objects, never fails a call, never hangs.

use super::object::AttrLookup;
use super::test_util::{apdus, find, open};
use super::Module;
use crate::cpx::cache::{self, CardCache};
use crate::sim::SimCard;
use crate::transport::r#virtual::{SharedCard, SimReaders};
use cryptoki_sys::*;
use std::fs;
use std::path::{Path, PathBuf};

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cpx-cache-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

/// A module over one simulated card (persona name or directory) using the cache in `dir`.
fn module_with(persona: &str, dir: Option<&Path>) -> (Module, SharedCard) {
    let mut readers = SimReaders::new();
    let card = readers.add(SimCard::load(persona).expect("persona"));
    let mut m = Module::new(Box::new(readers));
    m.card_cache = dir.map(CardCache::new);
    (m, card)
}

/// Every object visible before login with the attributes clients read, in handle order
/// (handles themselves differ between modules).
fn snapshot(m: &mut Module) -> Vec<Vec<AttrLookup>> {
    let h = open(m, false);
    let mut out = Vec::new();
    for o in find(m, h, &[]) {
        out.push(
            m.get_attributes(
                h,
                o,
                &[
                    CKA_CLASS,
                    CKA_LABEL,
                    CKA_ID,
                    CKA_VALUE,
                    CKA_MODULUS,
                    CKA_PRIVATE,
                ],
            )
            .unwrap(),
        );
    }
    let info = m.token_info(0).unwrap();
    out.push(vec![
        AttrLookup::Value(info.label.into_bytes()),
        AttrLookup::Value(info.serial.into_bytes()),
        AttrLookup::Value(info.flags.to_be_bytes().to_vec()),
    ]);
    m.close_all_sessions(0).unwrap();
    out
}

/// The objects of `persona` read without a cache.
fn reference(persona: &str) -> Vec<Vec<AttrLookup>> {
    snapshot(&mut module_with(persona, None).0)
}

/// Binds `persona` through the cache in `dir`; returns the objects and the APDUs of the
/// bind (C_OpenSession).
fn bind(persona: &str, dir: &Path) -> (Vec<Vec<AttrLookup>>, u64) {
    let (mut m, card) = module_with(persona, Some(dir));
    let before = apdus(&card);
    let h = open(&mut m, false);
    let n = apdus(&card) - before;
    m.close_session(h).unwrap();
    (snapshot(&mut m), n)
}

fn entry_file(dir: &Path) -> PathBuf {
    let files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|d| d.path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

#[test]
fn warm_start_is_three_apdus_with_the_same_objects() {
    for persona in ["cps3-doctor", "cps4-nurse", "cps3-contactless"] {
        let dir = scratch(&format!("warm-{persona}"));
        let expected = reference(persona);
        let (cold, cold_apdus) = bind(persona, &dir);
        assert_eq!(cold, expected, "{persona}: cold bind through the cache");
        let file = entry_file(&dir);
        let (warm, warm_apdus) = bind(persona, &dir);
        assert_eq!(warm, expected, "{persona}: warm bind");
        eprintln!("{persona}: cold {cold_apdus} APDUs, warm {warm_apdus}");
        assert!(
            warm_apdus <= 3,
            "{persona}: warm bind took {warm_apdus} APDUs"
        );
        assert!(cold_apdus > 10);
        // Nothing secret in the entry: no PIN value, no private data object value.
        let bytes = fs::read(&file).unwrap();
        let e = cache::decode(&bytes).unwrap();
        assert!(e
            .files
            .iter()
            .all(|f| f.path.last() < Some(&0xD100) || f.path.last() > Some(&0xD12F)));
        assert!(!bytes.windows(8).any(|w| w == b"1234\xFF\xFF\xFF\xFF"));
        fs::remove_dir_all(&dir).unwrap();
    }
}

/// C_Initialize → full object list and token info (PIN counters included) on a warm CPS3:
/// EF.SN, EF_ACTUA, one VERIFY without data.
#[test]
fn warm_token_info_costs_one_verify() {
    let dir = scratch("tokeninfo");
    bind("cps3-doctor", &dir);
    let (mut m, card) = module_with("cps3-doctor", Some(&dir));
    let h = open(&mut m, false);
    find(&mut m, h, &[]);
    let info = m.token_info(0).unwrap();
    assert_eq!(info.flags & CKF_USER_PIN_LOCKED, 0);
    assert_eq!(apdus(&card), 4, "3 to bind + 1 VERIFY without data");
    // A blocked card's flags come from the live counters, cache or not.
    let (mut m, _) = module_with("cps3-pharmacist-blocked", Some(&dir));
    assert_ne!(m.token_info(0).unwrap().flags & CKF_USER_PIN_LOCKED, 0);
    let (mut m, _) = module_with("cps3-pharmacist-blocked", Some(&dir));
    assert_ne!(m.token_info(0).unwrap().flags & CKF_USER_PIN_LOCKED, 0);
    fs::remove_dir_all(&dir).unwrap();
}

/// Damaged entries of every kind: discarded, the card read, the right objects, a good entry
/// written again.
#[test]
fn damaged_entries_are_rebuilt() {
    let persona = "cps3-doctor";
    let expected = reference(persona);
    type Damage = fn(&Path, &Path);
    let damages: [(&str, Damage); 7] = [
        ("corrupted", |f, _| {
            let mut b = fs::read(f).unwrap();
            for (i, x) in b.iter_mut().enumerate().skip(20) {
                *x = (i * 131) as u8;
            }
            fs::write(f, b).unwrap();
        }),
        ("truncated", |f, _| {
            let b = fs::read(f).unwrap();
            fs::write(f, &b[..b.len() / 2]).unwrap();
        }),
        ("empty", |f, _| fs::write(f, b"").unwrap()),
        ("tampered", |f, _| {
            // One certificate byte changed, the hash left as it was.
            let mut b = fs::read(f).unwrap();
            let n = b.len();
            b[n - 100] ^= 0x40;
            fs::write(f, b).unwrap();
        }),
        ("wrong-version", |f, _| {
            use sha2::{Digest, Sha256};
            let b = fs::read(f).unwrap();
            let mut body = b[..b.len() - 32].to_vec();
            body[9] = body[9].wrapping_add(1);
            let h = Sha256::digest(&body);
            body.extend_from_slice(&h);
            fs::write(f, body).unwrap();
        }),
        ("another-card", |f, dir| {
            // A valid entry of another card under this card's name.
            let other = scratch("another-card-src");
            bind("cps3-signer", &other);
            fs::copy(entry_file(&other), f).unwrap();
            fs::remove_dir_all(&other).unwrap();
            assert_eq!(fs::read_dir(dir).unwrap().count(), 1);
        }),
        ("a-directory", |f, _| {
            fs::remove_file(f).unwrap();
            fs::create_dir(f).unwrap();
        }),
    ];
    for (name, damage) in damages {
        let dir = scratch(&format!("damage-{name}"));
        bind(persona, &dir);
        let file = entry_file(&dir);
        damage(&file, &dir);
        let (objects, n) = bind(persona, &dir);
        assert_eq!(objects, expected, "{name}");
        assert!(n > 10, "{name}: the card was read ({n} APDUs)");
        if name != "a-directory" {
            // Rebuilt: the next start is warm again.
            let (objects, n) = bind(persona, &dir);
            assert_eq!(objects, expected, "{name}");
            assert!(n <= 3, "{name}: rebuilt entry used ({n} APDUs)");
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn unwritable_directory_means_no_cache() {
    let base = scratch("unwritable");
    let file = base.join("a-file");
    fs::write(&file, b"not a directory").unwrap();
    let expected = reference("cps3-doctor");
    for dir in [file.clone(), file.join("below-a-file")] {
        for _ in 0..2 {
            let (objects, n) = bind("cps3-doctor", &dir);
            assert_eq!(objects, expected);
            assert!(n > 10, "always cold ({n})");
        }
    }
    fs::remove_dir_all(&base).unwrap();
}

/// Two cards with the same ATR (cps3-doctor, cps3-signer) in turn in the same reader, each
/// with a warm entry: each time the right card's objects.
#[test]
fn same_atr_card_swap() {
    let dir = scratch("swap");
    let doctor = reference("cps3-doctor");
    let signer = reference("cps3-signer");
    assert_ne!(doctor, signer);
    bind("cps3-doctor", &dir);
    bind("cps3-signer", &dir);
    let (mut m, card) = module_with("cps3-doctor", Some(&dir));
    assert_eq!(snapshot(&mut m), doctor);
    for (persona, expected) in [("cps3-signer", &signer), ("cps3-doctor", &doctor)] {
        card.lock().unwrap().remove();
        assert!(m.slot_list(true).is_empty());
        let mut next = SimCard::load(persona).unwrap();
        assert_eq!(next.atr(), card.lock().unwrap().atr());
        next.insert();
        *card.lock().unwrap() = next;
        assert_eq!(m.slot_list(true), vec![0]);
        let before = apdus(&card);
        let h = open(&mut m, false);
        let n = apdus(&card) - before;
        assert!(n <= 3, "{persona}: warm bind ({n} APDUs)");
        m.close_session(h).unwrap();
        assert_eq!(&snapshot(&mut m), expected, "{persona}");
    }
    fs::remove_dir_all(&dir).unwrap();
}

/// A copy of `persona` in `dir` (so a test can change the card).
fn persona_copy(persona: &str, dir: &Path) -> PathBuf {
    let src = crate::sim::profile::cards_dir().join(persona);
    let dst = dir.join(persona);
    fs::create_dir_all(&dst).unwrap();
    for f in fs::read_dir(&src).unwrap().flatten() {
        fs::copy(f.path(), dst.join(f.file_name())).unwrap();
    }
    dst
}

/// A card updated by ANS (EF_ACTUA dates changed, and a public data object with them): the
/// entry is not used, the new content is read.
#[test]
fn card_update_is_seen_through_ef_actua() {
    let dir = scratch("actua");
    let cards = scratch("actua-cards");
    let card_dir = persona_copy("cps3-doctor", &cards);
    let card = card_dir.to_str().unwrap().to_string();
    let (before, _) = bind(&card, &dir);
    // Update: new dates (same length) and a new CPS_NAME_PS.
    let mut actua = fs::read(card_dir.join("ef-actua.bin")).unwrap();
    let n = actua.len();
    actua[n - 2] ^= 0x11;
    fs::write(card_dir.join("ef-actua.bin"), actua).unwrap();
    let mut name = fs::read(card_dir.join("do-cps-name-ps.der")).unwrap();
    let n = name.len();
    name[n - 1] ^= 0x01;
    fs::write(card_dir.join("do-cps-name-ps.der"), &name).unwrap();
    let (after, n) = bind(&card, &dir);
    assert!(n > 10, "updated card read again ({n} APDUs)");
    assert_ne!(before, after);
    assert_eq!(after, reference(&card));
    let (again, n) = bind(&card, &dir);
    assert_eq!(again, after);
    assert!(n <= 3);
    fs::remove_dir_all(&dir).unwrap();
    fs::remove_dir_all(&cards).unwrap();
}

/// CPS_DATA is never served from the cache: a value written in one process is what the next
/// one reads.
#[test]
fn cps_data_is_read_from_the_card_and_written_through() {
    let dir = scratch("cps-data");
    bind("cps3-doctor", &dir);
    let (mut m, card) = module_with("cps3-doctor", Some(&dir));
    let rw = open(&mut m, true);
    m.login(rw, CKU_USER, b"1234").unwrap();
    let d = find(&mut m, rw, &[super::Attr::new(CKA_LABEL, "CPS_DATA")]);
    m.set_attributes(
        rw,
        d[0],
        &[super::Attr::new(CKA_VALUE, b"written".to_vec())],
    )
    .unwrap();
    // The next process on the same card, warm.
    let mut m2 = Module::new(Box::new({
        let mut r = SimReaders::new();
        // The same simulated card (its files changed by the write).
        let c = std::mem::replace(
            &mut *card.lock().unwrap(),
            SimCard::load("cps3-doctor").unwrap(),
        );
        r.add(c);
        r
    }));
    m2.card_cache = Some(CardCache::new(&dir));
    let h = open(&mut m2, false);
    let d = find(&mut m2, h, &[super::Attr::new(CKA_LABEL, "CPS_DATA")]);
    match m2.get_attributes(h, d[0], &[CKA_VALUE]).unwrap().remove(0) {
        AttrLookup::Value(v) => assert!(v.starts_with(b"written"), "{v:?}"),
        other => panic!("{other:?}"),
    }
    fs::remove_dir_all(&dir).unwrap();
}

/// Several binds at once on one cache directory (threads here; processes in
/// tests/flow_cache.rs), with entries deleted under their feet: always the right objects.
#[test]
fn concurrent_writers_and_readers() {
    let dir = scratch("race");
    let personas = ["cps3-doctor", "cps3-signer", "cps4-nurse"];
    let expected: Vec<_> = personas.iter().map(|p| reference(p)).collect();
    std::thread::scope(|s| {
        for t in 0..6 {
            let dir = &dir;
            let expected = &expected;
            s.spawn(move || {
                for i in 0..8 {
                    let k = (t + i) % personas.len();
                    let (objects, _) = bind(personas[k], dir);
                    assert_eq!(objects, expected[k], "thread {t} run {i}");
                    if (t + i) % 5 == 0 {
                        let _ = CardCache::new(dir).clear();
                    }
                }
            });
        }
    });
    // What is left is valid.
    for l in CardCache::new(&dir).list() {
        assert!(l.entry.is_ok(), "{}: {:?}", l.file.display(), l.entry.err());
    }
    fs::remove_dir_all(&dir).unwrap();
}
