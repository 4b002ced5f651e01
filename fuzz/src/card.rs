//! A hostile card: its ATR, every R-APDU and every transport event are read from the fuzz
//! input, in order. The engine (`CpxCard`) binds, reads the PIN status, logs in, signs with
//! every mechanism form, decrypts, reads data objects, changes and unblocks the PIN and logs
//! out. Properties: no panic, a bounded number of APDUs, and one PIN operation sends its
//! secret at most once.
//!
//! Input format: a sequence of records. A record is one length byte `n`:
//! * `n < 0xFE`: the next `n` bytes;
//! * `n = 0xFE`: one more byte `m`, then `254 + m` bytes (long answers);
//! * `n = 0xFF`: one event byte `e` instead of an answer: `e % 4` = 0 the card is reset
//!   (the next `begin` reports it), 1 the transmit fails with `Reset`, 2 with `Removed`,
//!   3 with `Timeout`.
//!
//! The first record is the ATR; each following one answers one C-APDU. When the input runs
//! out the card is gone (`Removed`).

use cpx_pkcs11::cpx::{CpxCard, HashAlg, SignInput};
use cpx_pkcs11::transport::{
    CardIo, Protocol, ResetSeen, Tap, Tapped, TransactionBody, Transport, TransportError,
};
use std::sync::{Arc, Mutex};

/// Most APDUs one run may send before we call it a loop.
pub const MAX_APDUS: usize = 3_000;

/// What one record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Answer(Vec<u8>),
    ResetBeforeNext,
    Fail(TransportError),
}

/// Splits the input into records (a truncated last record is dropped).
pub fn decode(mut data: &[u8]) -> Vec<Record> {
    let mut out = Vec::new();
    while let Some((&n, rest)) = data.split_first() {
        data = rest;
        let len = match n {
            0xFF => {
                let Some((&e, rest)) = data.split_first() else {
                    break;
                };
                data = rest;
                out.push(match e % 4 {
                    0 => Record::ResetBeforeNext,
                    1 => Record::Fail(TransportError::Reset),
                    2 => Record::Fail(TransportError::Removed),
                    _ => Record::Fail(TransportError::Timeout),
                });
                continue;
            }
            0xFE => {
                let Some((&m, rest)) = data.split_first() else {
                    break;
                };
                data = rest;
                254 + usize::from(m)
            }
            n => usize::from(n),
        };
        if data.len() < len {
            break;
        }
        out.push(Record::Answer(data[..len].to_vec()));
        data = &data[len..];
    }
    out
}

/// Appends one answer record.
pub fn encode_answer(out: &mut Vec<u8>, answer: &[u8]) {
    assert!(answer.len() < 254 + 256, "answer too long for a record");
    if answer.len() < 0xFE {
        out.push(answer.len() as u8);
    } else {
        out.push(0xFE);
        out.push((answer.len() - 254) as u8);
    }
    out.extend_from_slice(answer);
}

/// The card that answers from the input. `sent` keeps every C-APDU for the checks.
pub struct FuzzCard {
    atr: Vec<u8>,
    protocol: Protocol,
    records: std::vec::IntoIter<Record>,
    reset_pending: bool,
    pub sent: Arc<Mutex<Vec<(Vec<u8>, Option<Vec<u8>>)>>>,
}

impl FuzzCard {
    /// `None` when the input has no ATR record.
    pub fn new(data: &[u8]) -> Option<FuzzCard> {
        let (&flags, data) = data.split_first()?;
        let mut records = decode(data).into_iter();
        let Some(Record::Answer(atr)) = records.next() else {
            return None;
        };
        Some(FuzzCard {
            atr,
            protocol: if flags & 1 == 0 {
                Protocol::T0
            } else {
                Protocol::T1
            },
            records,
            reset_pending: false,
            sent: Arc::new(Mutex::new(Vec::new())),
        })
    }
}

impl Transport for FuzzCard {
    fn atr(&self) -> &[u8] {
        &self.atr
    }
    fn protocol(&self) -> Protocol {
        self.protocol
    }
    fn transaction(&mut self, body: &mut TransactionBody<'_>) -> Result<(), TransportError> {
        let seen = if std::mem::take(&mut self.reset_pending) {
            ResetSeen::Yes
        } else {
            ResetSeen::No
        };
        body(self, seen);
        Ok(())
    }
}

impl CardIo for FuzzCard {
    fn transmit(&mut self, c_apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        let answer = loop {
            match self.records.next() {
                None => break Err(TransportError::Removed),
                Some(Record::Answer(r)) => break Ok(r),
                Some(Record::Fail(e)) => break Err(e),
                Some(Record::ResetBeforeNext) => self.reset_pending = true,
            }
        };
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        sent.push((c_apdu.to_vec(), answer.as_ref().ok().cloned()));
        let n = sent.len();
        assert!(n <= MAX_APDUS, "the engine sent {n} APDUs: a loop");
        answer
    }
}

/// Wraps a real (simulated) card and records its ATR and answers in the input format: a
/// seed whose replay follows the same path through the engine.
pub struct Recorder {
    pub out: Arc<Mutex<Vec<u8>>>,
}

impl Recorder {
    /// `inner` with a recorder on it (`.tap.out` holds the input).
    #[allow(clippy::new_ret_no_self)]
    pub fn new(inner: Box<dyn Transport>) -> Tapped<Recorder> {
        let mut out = vec![u8::from(inner.protocol() == Protocol::T1)];
        encode_answer(&mut out, inner.atr());
        Tapped {
            inner,
            tap: Recorder {
                out: Arc::new(Mutex::new(out)),
            },
        }
    }
}

impl Tap for Recorder {
    fn transmit(
        &mut self,
        card: &mut dyn CardIo,
        c_apdu: &[u8],
    ) -> Result<Vec<u8>, TransportError> {
        let r = card.transmit(c_apdu)?;
        encode_answer(&mut self.out.lock().unwrap(), &r);
        Ok(r)
    }
}

/// How often a PIN or PUK went to the card beyond the allowed once: for each of VERIFY,
/// CHANGE REFERENCE DATA and RESET RETRY COUNTER with data (any CLA, so CPS2ter's A0 too;
/// the pieces of a chained command count once), the sends minus one, minus the number of
/// `69 85` answers to any of them: "not evaluated, no try spent" makes the ChipDoc recovery
/// re-select and run the whole operation once more (cpx-cards §10.7).
pub fn secret_resends(sent: &[(Vec<u8>, Option<Vec<u8>>)]) -> usize {
    let secret = |c: &Vec<u8>, ins: u8| {
        // A chained command's pieces (CLA bit 0x10) are one command.
        c.len() > 5 && c[1] == ins && (c[0] & 0x80 != 0 || c[0] & 0x10 == 0)
    };
    // Any `69 85` counts: it may end a GET RESPONSE that completes a PIN command.
    let not_evaluated = sent
        .iter()
        .filter(|(_, r)| r.as_deref().is_some_and(|r| r.ends_with(&[0x69, 0x85])))
        .count();
    [0x20u8, 0x24, 0x2C]
        .iter()
        .map(|ins| {
            let sends = sent.iter().filter(|(c, _)| secret(c, *ins)).count();
            sends.saturating_sub(1 + not_evaluated)
        })
        .sum()
}

/// The engine's whole life against one card. Returns whether it bound.
pub fn drive(
    transport: Box<dyn Transport>,
    sent: Option<Arc<Mutex<Vec<(Vec<u8>, Option<Vec<u8>>)>>>>,
) -> bool {
    // Where each operation starts in the exchange log.
    let count = || {
        sent.as_ref()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .unwrap_or(0)
    };
    let Ok(mut card) = CpxCard::bind(transport) else {
        return false;
    };
    let _ = card.pin_status();
    // Each PIN operation below sends each secret once, whatever the card answered (twice
    // only after a `69 85` "not evaluated").
    let once = |what: &str, start: usize| {
        if let Some(s) = &sent {
            let log = s.lock().unwrap_or_else(|e| e.into_inner());
            let n = secret_resends(&log[start.min(log.len())..]);
            if n != 0 {
                let lines: Vec<String> = log[start.min(log.len())..]
                    .iter()
                    .map(|(c, r)| {
                        let head = &c[..c.len().min(5)];
                        let sw = r.as_deref().map(|r| &r[r.len().saturating_sub(2)..]);
                        format!("{head:02X?} -> {sw:02X?}")
                    })
                    .collect();
                panic!(
                    "{what} resent a PIN or PUK {n} times:\n{}",
                    lines.join("\n")
                );
            }
        }
    };
    let before = count();
    let _ = card.login(b"1234");
    once("login", before);
    let keys = card.contents().keys.clone();
    let sha256 = cpx_pkcs11::soft::digest(HashAlg::Sha256, b"fuzz");
    let sha1 = cpx_pkcs11::soft::digest(HashAlg::Sha1, b"fuzz");
    for k in &keys {
        let inputs = [
            SignInput::Pkcs1 {
                data: sha256.clone(),
            },
            SignInput::Pkcs1 { data: sha1.clone() },
            SignInput::Pkcs1Message {
                alg: HashAlg::Sha256,
                message: vec![0x42; 150],
            },
            SignInput::Pkcs1Message {
                alg: HashAlg::Sha1,
                message: vec![0x17; 3],
            },
            SignInput::Pss {
                alg: HashAlg::Sha256,
                hash: sha256.clone(),
            },
            SignInput::Raw {
                block: vec![0x01; k.bits.div_ceil(8).min(512)],
            },
        ];
        for input in &inputs {
            let before = count();
            if card.check_sign(&k.id, input).is_ok() {
                let _ = card.sign(&k.id, input);
            }
            // The engine never verifies on its own (the kept-PIN replay is p11's).
            once("sign", before);
        }
        let cryptogram = vec![0x11; k.bits.div_ceil(8).min(512)];
        if card.check_decrypt(&k.id, &cryptogram).is_ok() {
            let _ = card.decrypt(&k.id, &cryptogram);
        }
    }
    let labels: Vec<String> = card
        .contents()
        .data_objects
        .iter()
        .map(|d| d.label.clone())
        .collect();
    for l in &labels {
        let _ = card.read_data_object(l);
    }
    if let Some(l) = labels.first() {
        let _ = card.write_data_object(l, b"fuzz");
    }
    let _ = card.random(20);
    let before = count();
    let _ = card.change_pin(b"1234", b"4321");
    once("change", before);
    let before = count();
    let _ = card.login_so(b"12345678");
    once("login_so", before);
    let before = count();
    let _ = card.unblock_pin(b"1234");
    once("unblock", before);
    let _ = card.check_events();
    let _ = card.is_present();
    let _ = card.logout();
    true
}
