//! Writes the seed corpora of the fuzz targets (`fuzz/corpus/<target>/`), from the
//! simulator's personas: recorded card sessions (the card target replays them; their
//! answers seed the TLV target), the personas' PKCS#15 files and certificates, and a few
//! PKCS#11 call sequences. Run by `scripts/fuzz.sh seeds`; the output is committed.

// Linked for the coverage callbacks the instrumented code calls (this binary has its own
// main and never starts the fuzzer).
extern crate libfuzzer_sys;

use cpx_pkcs11::transport::r#virtual::SimReaders;
use cpx_pkcs11::transport::Readers;
use cpx_pkcs11_fuzz::card::{decode, drive, Record, Recorder};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const PERSONAS: &[&str] = &[
    "cps3-doctor",
    "cps4-nurse",
    "cps3-contactless",
    "cps2ter-legacy",
    "cps3-pharmacist-blocked",
    "cps3-badcert",
];

fn write(dir: &Path, name: &str, data: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), data).unwrap();
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let corpus = root.join("corpus");
    let cards = root.join("../fixtures/cards");
    let mut answers = BTreeSet::new();
    for persona in PERSONAS {
        let mut readers = SimReaders::from_spec(persona).expect("persona");
        let name = readers.list().unwrap()[0].name.clone();
        let rec = Recorder::new(readers.connect(&name).unwrap());
        let out = rec.tap.out.clone();
        drive(Box::new(rec), None);
        let session = out.lock().unwrap().clone();
        for r in decode(&session[1..]) {
            if let Record::Answer(a) = r {
                // The TLV target gets the data part of each answer.
                if a.len() > 2 {
                    answers.insert(a[..a.len() - 2].to_vec());
                }
            }
        }
        write(&corpus.join("card"), persona, &session);
        let dir = cards.join(persona);
        for (kind, file) in [
            (0u8, "odf.der"),
            (1, "tokeninfo.der"),
            (2, "aodf.der"),
            (3, "prkdf.der"),
            (4, "cdf.der"),
            (5, "dodf.der"),
        ] {
            if let Ok(bytes) = std::fs::read(dir.join(file)) {
                let mut seed = vec![kind];
                seed.extend_from_slice(&bytes);
                write(&corpus.join("pkcs15"), &format!("{persona}-{file}"), &seed);
            }
        }
        for file in ["auth-cert.der", "sig-cert.der"] {
            if let Ok(bytes) = std::fs::read(dir.join(file)) {
                write(&corpus.join("x509"), &format!("{persona}-{file}"), &bytes);
            }
        }
    }
    // Distinct answers, at most 64 of them (the corpus stays small).
    for (i, a) in answers
        .iter()
        .filter(|a| a.len() <= 600)
        .take(64)
        .enumerate()
    {
        write(&corpus.join("tlv"), &format!("answer-{i:02}"), a);
    }
    for (i, seq) in abi_sequences().iter().enumerate() {
        write(&corpus.join("abi"), &format!("seq-{i:02}"), seq);
    }
}

/// Call sequences in the `abi` target's byte language (see `cpx_pkcs11_fuzz::abi::step`).
fn abi_sequences() -> Vec<Vec<u8>> {
    let slot_list = [0u8, 1, 1];
    let open_rw = |slot: u8| [2u8, 0, slot, 1];
    let login = [5u8, 0, 0, 0, 0];
    let find_all = [7u8, 0, 0, 0, 8, 0, 0, 19, 9, 0, 0];
    let mut out = Vec::new();
    for slot in 0..2u8 {
        for mech in [0u8, 1, 2, 3, 5, 6] {
            for key in 0..6u8 {
                let mut s = Vec::new();
                s.extend_from_slice(&slot_list);
                s.extend_from_slice(&open_rw(slot));
                s.extend_from_slice(&login);
                s.extend_from_slice(&find_all);
                // Length query + sign: op 31, session 0, mechanism (pick, PSS params,
                // parameter form 0 = PSS structure), key, data of 32 bytes.
                s.extend_from_slice(&[31, 0, 0, 0, mech, 1, 1, 1, 0, 0, key, 0, 32]);
                s.extend_from_slice(&[0x5C; 32]);
                out.push(s);
            }
        }
        // Attributes of every object, decrypt, digest, random, PIN change, logout.
        let mut s = Vec::new();
        s.extend_from_slice(&slot_list);
        s.extend_from_slice(&open_rw(slot));
        s.extend_from_slice(&login);
        s.extend_from_slice(&find_all);
        for key in 0..8u8 {
            s.extend_from_slice(&[10, 0, 0, 0, key, 4, 0, 4, 3, 0, 2, 1, 3, 4, 1, 5, 3, 6]);
        }
        s.extend_from_slice(&[18, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1, 240, 8, 0x42, 0, 7]);
        s.extend_from_slice(&[22, 0, 0, 0, 8, 0, 0, 0, 2, 0, 3, b'a', b'b', b'c', 0, 1, 32]);
        s.extend_from_slice(&[23, 0, 0, 32, 0]);
        s.extend_from_slice(&[25, 0, 0, 0, 0, 27, 0, 0, 6, 0, 0, 3, 0, 0]);
        out.push(s);
    }
    out
}
