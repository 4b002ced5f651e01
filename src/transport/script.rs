//! `ScriptedTransport`: a card that answers from a script. Used by golden-trace tests,
//! fuzzing and `cpx-vcard --rules`.
//!
//! # Text format
//!
//! One item per line; `#` starts a comment (to the end of the line); blank lines are ignored.
//!
//! ```text
//! # the ATR (optional; empty if absent) and the protocol (optional; T=0 if absent)
//! atr 3B 8F 80 01 00 31 B8 64 04 B0 EC C1 73 94 01 80 82 90 00 0E
//! protocol T=1
//! # C-APDU pattern -> R-APDU; ".." matches any byte
//! 00 A4 04 04 08 80 25 00 00 01 FF 01 00 -> 61 20
//! 00 C0 00 00 ..                         -> 62 1E 82 01 38 90 00
//! 00B0   6A82                            # compact form: two tokens, no spaces inside
//! 00 84 00 00 08 $ -> 01 02 03 04 05 06 07 08 90 00   # "$": exact length required
//! ```
//!
//! Hex may be written with or without spaces; with spaces, separate the command and the
//! response with `->` (or `=>`). Without an arrow the line must be exactly two tokens.
//!
//! * **Rules mode** (default): the first rule whose pattern is a prefix of the C-APDU wins
//!   (with `$`, the C-APDU must also have the pattern's length); no match answers `6D 00`
//!   and is remembered ([`ScriptedTransport::unmatched`]).
//! * **Strict mode** (a line `strict` before the first rule): the lines are the exact
//!   sequence of exchanges. Each C-APDU must match the next pattern over its whole length
//!   (`..` still matches any byte). The first deviation fails that `transmit` with
//!   [`TransportError::Io`], is kept, and makes every later `transmit` fail too;
//!   [`ScriptedTransport::finish`] reports it, or the steps never reached.
//!
//! The transport keeps every raw exchange ([`ScriptedTransport::exchanges`]) for test
//! assertions: it is test equipment and does not mask PIN data.

use std::collections::VecDeque;
use std::fmt;
use std::path::Path;

use super::{CardIo, ResetSeen, TransactionBody, Transport, TransportError};
use crate::log::hex_spaced;

/// What a script answers when no rule matches.
pub const UNMATCHED_RESPONSE: [u8; 2] = [0x6D, 0x00];

/// A problem with a script: parse error, or a strict-mode deviation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    #[error("cannot read script: {0}")]
    Io(String),
    #[error("script line {line}: {msg}")]
    Parse { line: usize, msg: String },
    #[error("strict script step {step}: expected {expected}, got {got}")]
    Mismatch {
        step: usize,
        expected: String,
        got: String,
    },
    #[error("strict script: command after the last step: {got}")]
    Unexpected { got: String },
    #[error("strict script: only {done} of {total} steps were run")]
    Incomplete { done: usize, total: usize },
}

/// A C-APDU pattern: bytes, `None` for `..` (any byte), optionally exact-length.
#[derive(Clone, PartialEq, Eq)]
pub struct Pattern {
    bytes: Vec<Option<u8>>,
    exact: bool,
}

impl Pattern {
    /// Parses hex with optional spaces, `..` wildcards and a trailing `$`.
    pub fn parse(text: &str) -> Result<Pattern, String> {
        let mut compact: String = text.split_whitespace().collect();
        let exact = compact.ends_with('$');
        if exact {
            compact.pop();
        }
        if compact.is_empty() {
            return Err("empty command pattern".into());
        }
        if compact.len() % 2 != 0 || !compact.is_ascii() {
            return Err(format!("odd number of hex digits in {text:?}"));
        }
        let bytes = (0..compact.len())
            .step_by(2)
            .map(|i| match &compact[i..i + 2] {
                ".." => Ok(None),
                pair => u8::from_str_radix(pair, 16)
                    .map(Some)
                    .map_err(|_| format!("bad hex byte {pair:?}")),
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Pattern { bytes, exact })
    }

    /// A pattern matching exactly these bytes.
    pub fn exact(bytes: &[u8]) -> Pattern {
        Pattern {
            bytes: bytes.iter().map(|b| Some(*b)).collect(),
            exact: true,
        }
    }

    /// Prefix match (or full match if the pattern is exact).
    pub fn matches_prefix(&self, apdu: &[u8]) -> bool {
        apdu.len() >= self.bytes.len()
            && (!self.exact || apdu.len() == self.bytes.len())
            && self.bytes_match(apdu)
    }

    /// Full-length match.
    pub fn matches_exact(&self, apdu: &[u8]) -> bool {
        apdu.len() == self.bytes.len() && self.bytes_match(apdu)
    }

    fn bytes_match(&self, apdu: &[u8]) -> bool {
        self.bytes
            .iter()
            .zip(apdu)
            .all(|(p, b)| p.map_or(true, |p| p == *b))
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.bytes.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            match b {
                Some(b) => write!(f, "{b:02X}")?,
                None => f.write_str("..")?,
            }
        }
        if self.exact {
            f.write_str(" $")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({self})")
    }
}

/// One line of a script: command pattern and the R-APDU to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub command: Pattern,
    pub response: Vec<u8>,
}

/// A parsed script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub atr: Vec<u8>,
    /// The protocol the scripted card "negotiated" (`protocol T=0|T=1`; default T=0, as
    /// the CPS3). Informative: the APDU channel is told the protocol by its caller.
    pub t0: bool,
    pub strict: bool,
    pub rules: Vec<Rule>,
}

impl Default for Script {
    fn default() -> Script {
        Script {
            atr: Vec::new(),
            t0: true,
            strict: false,
            rules: Vec::new(),
        }
    }
}

impl Script {
    /// Parses the text format described in the module documentation.
    pub fn parse(text: &str) -> Result<Script, ScriptError> {
        let mut script = Script::default();
        for (index, raw_line) in text.lines().enumerate() {
            let line_no = index + 1;
            let err = |msg: String| ScriptError::Parse { line: line_no, msg };
            let line = raw_line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let lower = line.to_ascii_lowercase();
            if lower == "strict" {
                if !script.rules.is_empty() {
                    return Err(err("`strict` must come before the first rule".into()));
                }
                script.strict = true;
                continue;
            }
            if let Some(rest) = lower.strip_prefix("protocol") {
                script.t0 = match rest.trim_start_matches([' ', '\t', ':']) {
                    "t=0" | "t0" => true,
                    "t=1" | "t1" => false,
                    _ => return Err(err("protocol must be T=0 or T=1".into())),
                };
                continue;
            }
            if let Some(rest) = lower.strip_prefix("atr") {
                if rest.starts_with([' ', '\t', ':']) {
                    let value = line[3..].trim_start_matches([' ', '\t', ':']);
                    script.atr = parse_hex(value).map_err(err)?;
                    continue;
                }
            }
            let (cmd, resp) = split_rule(line).map_err(err)?;
            let command = Pattern::parse(cmd).map_err(err)?;
            let response = parse_hex(resp).map_err(err)?;
            if response.len() < 2 {
                return Err(err("response shorter than a status word".into()));
            }
            script.rules.push(Rule { command, response });
        }
        Ok(script)
    }
}

/// `cmd -> resp`, `cmd => resp`, `cmd → resp`, or two whitespace-separated tokens.
fn split_rule(line: &str) -> Result<(&str, &str), String> {
    for arrow in ["->", "=>", "→"] {
        if let Some((c, r)) = line.split_once(arrow) {
            return Ok((c, r));
        }
    }
    let tokens: Vec<&str> = line.split_whitespace().collect();
    match tokens.as_slice() {
        [c, r] => Ok((c, r)),
        _ => Err("expected `COMMAND -> RESPONSE` (an arrow is needed when hex has spaces)".into()),
    }
}

/// Hex with optional whitespace; no wildcards.
pub(crate) fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let compact: String = text.split_whitespace().collect();
    if compact.len() % 2 != 0 || !compact.is_ascii() {
        return Err(format!("odd number of hex digits in {text:?}"));
    }
    (0..compact.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&compact[i..i + 2], 16)
                .map_err(|_| format!("bad hex byte {:?}", &compact[i..i + 2]))
        })
        .collect()
}

/// A scripted card (see the module documentation).
#[derive(Debug)]
pub struct ScriptedTransport {
    script: Script,
    /// Strict mode: index of the next step.
    next_step: usize,
    mismatch: Option<ScriptError>,
    exchanges: Vec<(Vec<u8>, Vec<u8>)>,
    unmatched: Vec<Vec<u8>>,
    injected: VecDeque<TransportError>,
    reset_pending: bool,
    begins: usize,
    ends: usize,
}

impl ScriptedTransport {
    /// A transport answering from `script`.
    pub fn new(script: Script) -> ScriptedTransport {
        ScriptedTransport {
            script,
            next_step: 0,
            mismatch: None,
            exchanges: Vec::new(),
            unmatched: Vec::new(),
            injected: VecDeque::new(),
            reset_pending: false,
            begins: 0,
            ends: 0,
        }
    }

    /// Parses a script text.
    pub fn parse(text: &str) -> Result<ScriptedTransport, ScriptError> {
        Ok(ScriptedTransport::new(Script::parse(text)?))
    }

    /// Reads and parses a script file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<ScriptedTransport, ScriptError> {
        let text = std::fs::read_to_string(path.as_ref())
            .map_err(|e| ScriptError::Io(format!("{}: {e}", path.as_ref().display())))?;
        ScriptedTransport::parse(&text)
    }

    /// Rules mode from already-built rules.
    pub fn with_rules(atr: &[u8], rules: Vec<Rule>) -> ScriptedTransport {
        ScriptedTransport::new(Script {
            atr: atr.to_vec(),
            strict: false,
            rules,
            ..Script::default()
        })
    }

    /// Strict mode from an exact sequence of (C-APDU, R-APDU).
    pub fn strict(atr: &[u8], steps: &[(&[u8], &[u8])]) -> ScriptedTransport {
        let rules = steps
            .iter()
            .map(|(c, r)| Rule {
                command: Pattern::exact(c),
                response: r.to_vec(),
            })
            .collect();
        ScriptedTransport::new(Script {
            atr: atr.to_vec(),
            strict: true,
            rules,
            ..Script::default()
        })
    }

    /// The script's protocol is T=0 (see [`Script::t0`]).
    pub fn is_t0(&self) -> bool {
        self.script.t0
    }

    /// Every exchange so far, raw (C-APDU, R-APDU).
    pub fn exchanges(&self) -> &[(Vec<u8>, Vec<u8>)] {
        &self.exchanges
    }

    /// Just the C-APDUs sent so far.
    pub fn commands(&self) -> Vec<Vec<u8>> {
        self.exchanges.iter().map(|(c, _)| c.clone()).collect()
    }

    /// Rules mode: the C-APDUs no rule matched (answered `6D 00`).
    pub fn unmatched(&self) -> &[Vec<u8>] {
        &self.unmatched
    }

    /// Strict mode: the first deviation, if any.
    pub fn mismatch(&self) -> Option<&ScriptError> {
        self.mismatch.as_ref()
    }

    /// Strict mode: `Ok` if every step ran and nothing deviated. Rules mode: always `Ok`.
    pub fn finish(&self) -> Result<(), ScriptError> {
        if let Some(e) = &self.mismatch {
            return Err(e.clone());
        }
        if self.script.strict && self.next_step < self.script.rules.len() {
            return Err(ScriptError::Incomplete {
                done: self.next_step,
                total: self.script.rules.len(),
            });
        }
        Ok(())
    }

    /// Makes the next `transmit` fail with `error` (queued; one per call).
    pub fn inject_error(&mut self, error: TransportError) {
        self.injected.push_back(error);
    }

    /// Makes the next `begin()` report [`ResetSeen::Yes`].
    pub fn inject_reset(&mut self) {
        self.reset_pending = true;
    }

    /// `begin()` calls so far.
    pub fn begins(&self) -> usize {
        self.begins
    }

    /// `end()` calls so far.
    pub fn ends(&self) -> usize {
        self.ends
    }

    fn answer(&mut self, c_apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        if !self.script.strict {
            return Ok(
                match self
                    .script
                    .rules
                    .iter()
                    .find(|r| r.command.matches_prefix(c_apdu))
                {
                    Some(rule) => rule.response.clone(),
                    None => {
                        self.unmatched.push(c_apdu.to_vec());
                        UNMATCHED_RESPONSE.to_vec()
                    }
                },
            );
        }
        if let Some(e) = &self.mismatch {
            return Err(TransportError::Io(e.to_string()));
        }
        let got = hex_spaced(c_apdu);
        let error = match self.script.rules.get(self.next_step) {
            Some(step) if step.command.matches_exact(c_apdu) => {
                self.next_step += 1;
                return Ok(step.response.clone());
            }
            Some(step) => ScriptError::Mismatch {
                step: self.next_step + 1,
                expected: step.command.to_string(),
                got,
            },
            None => ScriptError::Unexpected { got },
        };
        let message = error.to_string();
        self.mismatch = Some(error);
        Err(TransportError::Io(message))
    }
}

impl Transport for ScriptedTransport {
    fn atr(&self) -> &[u8] {
        &self.script.atr
    }

    fn protocol(&self) -> super::Protocol {
        if self.is_t0() {
            super::Protocol::T0
        } else {
            super::Protocol::T1
        }
    }

    fn transaction(&mut self, body: &mut TransactionBody<'_>) -> Result<(), TransportError> {
        self.begins += 1;
        let seen = if std::mem::take(&mut self.reset_pending) {
            ResetSeen::Yes
        } else {
            ResetSeen::No
        };
        body(self, seen);
        self.ends += 1;
        Ok(())
    }
}

impl CardIo for ScriptedTransport {
    fn transmit(&mut self, c_apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        if let Some(e) = self.injected.pop_front() {
            return Err(e);
        }
        let r_apdu = self.answer(c_apdu)?;
        self.exchanges.push((c_apdu.to_vec(), r_apdu.clone()));
        Ok(r_apdu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = "\
# CPS3 contact, a few answers
atr: 3B 8F 80 01 00 31 B8 64 04 B0 EC C1 73 94 01 80 82 90 00 0E

00 A4 04 04 08 80 25 00 00 01 FF 01 00 -> 61 20   # MF by AID
00 A4 .. 04 -> 6A 82
00C0000020 621E9000
00 84 00 00 08 $ => 01 02 03 04 05 06 07 08 90 00
00 84 -> 67 00
";

    #[test]
    fn rules_first_match_wins() {
        let mut t = ScriptedTransport::parse(RULES).unwrap();
        assert!(t.is_t0());
        assert!(!ScriptedTransport::parse("protocol T=1").unwrap().is_t0());
        assert_eq!(t.atr()[..3], [0x3B, 0x8F, 0x80]);
        assert_eq!(t.atr().len(), 20);
        let mf = [
            0x00, 0xA4, 0x04, 0x04, 0x08, 0x80, 0x25, 0, 0, 1, 0xFF, 1, 0,
        ];
        assert_eq!(t.transmit(&mf).unwrap(), vec![0x61, 0x20]);
        // Wildcard rule catches other SELECTs with P2=04.
        assert_eq!(
            t.transmit(&[0x00, 0xA4, 0x09, 0x04, 0x02, 0x3F, 0x00])
                .unwrap(),
            vec![0x6A, 0x82]
        );
        // Compact form.
        assert_eq!(
            t.transmit(&[0x00, 0xC0, 0x00, 0x00, 0x20]).unwrap(),
            vec![0x62, 0x1E, 0x90, 0x00]
        );
        // `$`: exact length only; a longer command falls through to the next rule.
        assert_eq!(
            t.transmit(&[0x00, 0x84, 0x00, 0x00, 0x08]).unwrap().len(),
            10
        );
        assert_eq!(
            t.transmit(&[0x00, 0x84, 0x00, 0x00, 0x08, 0x00]).unwrap(),
            vec![0x67, 0x00]
        );
        // Unmatched.
        assert_eq!(
            t.transmit(&[0x00, 0x20, 0x00, 0x01]).unwrap(),
            vec![0x6D, 0x00]
        );
        assert_eq!(t.unmatched(), &[vec![0x00, 0x20, 0x00, 0x01]]);
        // A pattern longer than the command does not match.
        assert_eq!(t.transmit(&[0x00, 0xA4]).unwrap(), vec![0x6D, 0x00]);
        assert_eq!(t.exchanges().len(), 7);
        assert!(t.finish().is_ok());
    }

    #[test]
    fn parse_errors_name_the_line() {
        for (text, line) in [
            ("00 A4 6A 82", 1),
            ("# c\n00A4 -> 6A8", 2),
            ("00A4 -> 90", 1),
            ("00G4 -> 9000", 1),
            ("atr 3B 8", 1),
            ("00A4 9000\nstrict", 2),
            (" -> 9000", 1),
            ("00 é -> 9000", 1),
            ("atr 3B\nprotocol T=2", 2),
        ] {
            match Script::parse(text) {
                Err(ScriptError::Parse { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn strict_sequence_passes() {
        let text = "strict\natr 3B00\n00A40404 -> 6120\n00 C0 00 00 20 -> 62 00 90 00\n";
        let mut t = ScriptedTransport::parse(text).unwrap();
        assert!(matches!(
            t.finish(),
            Err(ScriptError::Incomplete { done: 0, total: 2 })
        ));
        assert_eq!(
            t.transmit(&[0x00, 0xA4, 0x04, 0x04]).unwrap(),
            vec![0x61, 0x20]
        );
        assert!(matches!(
            t.finish(),
            Err(ScriptError::Incomplete { done: 1, total: 2 })
        ));
        assert_eq!(
            t.transmit(&[0x00, 0xC0, 0x00, 0x00, 0x20]).unwrap(),
            vec![0x62, 0x00, 0x90, 0x00]
        );
        assert_eq!(t.finish(), Ok(()));
        // One more command is a deviation.
        let err = t.transmit(&[0x00, 0x84, 0x00, 0x00, 0x08]).unwrap_err();
        assert!(matches!(err, TransportError::Io(ref m) if m.contains("after the last step")));
        assert!(matches!(t.finish(), Err(ScriptError::Unexpected { .. })));
    }

    #[test]
    fn strict_reports_first_mismatch() {
        let steps: &[(&[u8], &[u8])] = &[
            (&[0x00, 0x20, 0x00, 0x01], &[0x63, 0xC3]),
            (&[0x00, 0x20, 0x00, 0x02], &[0x63, 0xCA]),
        ];
        let mut t = ScriptedTransport::strict(&[0x3B], steps);
        t.transmit(&[0x00, 0x20, 0x00, 0x01]).unwrap();
        // Prefix of the expected command is not enough in strict mode.
        let err = t.transmit(&[0x00, 0x20, 0x00]).unwrap_err();
        assert!(
            matches!(err, TransportError::Io(ref m) if m.contains("step 2")),
            "{err:?}"
        );
        // Derailed: even the right command fails now, and the first mismatch is kept.
        assert!(t.transmit(&[0x00, 0x20, 0x00, 0x02]).is_err());
        match t.finish() {
            Err(ScriptError::Mismatch {
                step,
                expected,
                got,
            }) => {
                assert_eq!(step, 2);
                assert_eq!(expected, "00 20 00 02 $");
                assert_eq!(got, "00 20 00");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(t.exchanges().len(), 1);
    }

    #[test]
    fn strict_wildcards_need_full_length() {
        let mut t = ScriptedTransport::parse("strict\n00 88 00 00 02 .. .. -> 90 00").unwrap();
        assert!(t.transmit(&[0x00, 0x88, 0x00, 0x00, 0x02, 0xAA]).is_err());
        let mut t = ScriptedTransport::parse("strict\n00 88 00 00 02 .. .. -> 90 00").unwrap();
        assert!(t
            .transmit(&[0x00, 0x88, 0x00, 0x00, 0x02, 0xAA, 0xBB])
            .is_ok());
        assert_eq!(t.finish(), Ok(()));
    }

    #[test]
    fn injected_errors_and_resets() {
        let mut t = ScriptedTransport::parse("00 -> 90 00").unwrap();
        t.inject_error(TransportError::Removed);
        assert_eq!(t.transmit(&[0, 0, 0, 0]), Err(TransportError::Removed));
        assert_eq!(t.transmit(&[0, 0, 0, 0]).unwrap(), vec![0x90, 0x00]);
        t.inject_reset();
        let mut seen = Vec::new();
        for _ in 0..2 {
            t.transaction(&mut |_, s| seen.push(s)).unwrap();
        }
        assert_eq!(seen, [ResetSeen::Yes, ResetSeen::No]);
        assert_eq!((t.begins(), t.ends()), (2, 2));
    }

    #[test]
    fn file_loading() {
        let dir = std::env::temp_dir().join(format!("cpx-script-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.rules");
        std::fs::write(&path, RULES).unwrap();
        let t = ScriptedTransport::from_file(&path).unwrap();
        assert_eq!(t.atr().len(), 20);
        std::fs::remove_file(&path).unwrap();
        let _ = std::fs::remove_dir(&dir);
        assert!(matches!(
            ScriptedTransport::from_file(&path),
            Err(ScriptError::Io(_))
        ));
    }
}
