//! The APDU trace: every command and response, with PIN and PUK bytes masked.
//! Tests and benchmarks read it to count APDUs and bytes; `cpx-vcard --trace` writes it.

use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One thing that happened to the card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceEvent {
    PowerOn,
    PowerOff,
    Reset,
    Removed,
    Inserted,
    /// A C-APDU (secret data masked with `2A`) and its R-APDU; `micros` is the latency
    /// model's cost of the exchange (0 when the model is off).
    Apdu {
        command: Vec<u8>,
        response: Vec<u8>,
        micros: u64,
    },
}

#[derive(Debug, Clone)]
pub struct TraceEntry {
    pub elapsed_us: u128,
    pub event: TraceEvent,
}

#[derive(Debug)]
struct Inner {
    start: Instant,
    entries: Vec<TraceEntry>,
}

/// A shared, cloneable handle on a card's trace.
#[derive(Debug, Clone)]
pub struct Trace(Arc<Mutex<Inner>>);

impl Default for Trace {
    fn default() -> Self {
        Trace(Arc::new(Mutex::new(Inner {
            start: Instant::now(),
            entries: Vec::new(),
        })))
    }
}

/// Whether a command's data must not be traced: PINs, PUKs and new reference values
/// (VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER) and signature inputs (INTERNAL
/// AUTHENTICATE, PSO HASH, PSO CDS).
pub fn secret_command(c: &[u8]) -> bool {
    match c {
        [_, 0x20 | 0x24 | 0x2C | 0x88, ..] => true,
        [_, 0x2A, p1, p2, ..] => matches!((p1, p2), (0x90, 0xA0) | (0x9E, 0x9A)),
        _ => false,
    }
}

/// Whether a command's answer must not be traced: deciphered plaintext (PSO DECIPHER).
pub fn secret_answer(c: &[u8]) -> bool {
    matches!(c, [_, 0x2A, 0x80, 0x86, ..])
}

/// The command with its secret data bytes replaced by `2A` (the header and Lc are kept).
pub fn mask_command(c: &[u8]) -> Vec<u8> {
    let mut m = c.to_vec();
    if c.len() > 5 && secret_command(c) {
        for b in &mut m[5..] {
            *b = 0x2A;
        }
    }
    m
}

/// An answer with its data bytes replaced by `2A` (the status word is kept).
pub fn mask_answer(r: &[u8]) -> Vec<u8> {
    let mut m = r.to_vec();
    let n = m.len().saturating_sub(2);
    for b in &mut m[..n] {
        *b = 0x2A;
    }
    m
}

impl Trace {
    fn push(&self, event: TraceEvent) {
        if let Ok(mut t) = self.0.lock() {
            let elapsed_us = t.start.elapsed().as_micros();
            t.entries.push(TraceEntry { elapsed_us, event });
        }
    }

    pub fn event(&self, event: TraceEvent) {
        self.push(event);
    }

    /// Records an exchange; `secret_answer` masks the answer's data (plaintext).
    pub fn apdu(&self, command: &[u8], response: &[u8], micros: u64, secret_answer: bool) {
        self.push(TraceEvent::Apdu {
            command: mask_command(command),
            response: if secret_answer {
                mask_answer(response)
            } else {
                response.to_vec()
            },
            micros,
        });
    }

    pub fn entries(&self) -> Vec<TraceEntry> {
        self.0.lock().map(|t| t.entries.clone()).unwrap_or_default()
    }

    /// The (command, response) pairs in order.
    pub fn apdus(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.entries()
            .into_iter()
            .filter_map(|e| match e.event {
                TraceEvent::Apdu {
                    command, response, ..
                } => Some((command, response)),
                _ => None,
            })
            .collect()
    }

    pub fn apdu_count(&self) -> usize {
        self.apdus().len()
    }

    /// Bytes exchanged (commands + responses).
    pub fn byte_count(&self) -> usize {
        self.apdus().iter().map(|(c, r)| c.len() + r.len()).sum()
    }

    /// Sum of the latency model's costs, microseconds.
    pub fn modelled_micros(&self) -> u64 {
        self.entries()
            .iter()
            .map(|e| match e.event {
                TraceEvent::Apdu { micros, .. } => micros,
                _ => 0,
            })
            .sum()
    }

    pub fn clear(&self) {
        if let Ok(mut t) = self.0.lock() {
            t.entries.clear();
        }
    }

    /// One line per entry: `<µs> > C-APDU` / `<µs> < R-APDU` / `<µs> * event`.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for e in self.entries() {
            match e.event {
                TraceEvent::Apdu {
                    command, response, ..
                } => {
                    s.push_str(&format!("{:>10} > {}\n", e.elapsed_us, hex(&command)));
                    s.push_str(&format!("{:>10} < {}\n", e.elapsed_us, hex(&response)));
                }
                other => s.push_str(&format!("{:>10} * {:?}\n", e.elapsed_us, other)),
            }
        }
        s
    }
}

pub fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_bytes_are_masked() {
        let verify = [
            0x00, 0x20, 0x00, 0x01, 0x08, 0x31, 0x32, 0x33, 0x34, 0xFF, 0xFF, 0xFF, 0xFF,
        ];
        let m = mask_command(&verify);
        assert_eq!(&m[..5], &verify[..5]);
        assert!(m[5..].iter().all(|b| *b == 0x2A));
        let select = [0x00, 0xA4, 0x09, 0x04, 0x02, 0x3F, 0x00];
        assert_eq!(mask_command(&select), select.to_vec());
        let t = Trace::default();
        t.apdu(&verify, &[0x90, 0x00], 0, false);
        assert!(!t.render().contains("31 32 33 34"));
        assert_eq!(t.apdu_count(), 1);
        assert_eq!(t.byte_count(), 15);
        // Signature inputs and plaintext are masked too; other commands are not.
        assert!(secret_command(&[0x00, 0x2A, 0x9E, 0x9A, 0x01, 0x55]));
        assert!(secret_command(&[0x10, 0x88, 0x00, 0x00, 0x01, 0x55]));
        assert!(!secret_command(&[0x00, 0x2A, 0x80, 0x86, 0x01, 0x55]));
        assert!(secret_answer(&[0x00, 0x2A, 0x80, 0x86, 0x01, 0x55]));
        assert_eq!(
            mask_answer(&[1, 2, 0x90, 0x00]),
            vec![0x2A, 0x2A, 0x90, 0x00]
        );
    }
}
