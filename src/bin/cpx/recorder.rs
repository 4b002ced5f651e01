//! `cpx trace`: a transport wrapper that keeps every exchange with the card, PIN data
//! masked, so that the tool can show the APDUs the card layer sent.
//!
//! The card layer keeps its own masked trace inside each `Channel`, but does not hand it
//! out; recording one level lower sees exactly the same bytes. `cpx trace` never sends a
//! PIN, but the masking is applied to everything anyway, so that a trace can always be sent
//! to a support desk: every data byte of VERIFY, CHANGE REFERENCE DATA and RESET RETRY
//! COUNTER (PIN, PUK) and of PERFORM SECURITY OPERATION and INTERNAL AUTHENTICATE (data to
//! sign, hash, cryptogram) is replaced by `*` (0x2A), and so is the answer to PSO DECIPHER
//! (the plaintext).

use std::sync::{Arc, Mutex};

use cpx_pkcs11::apdu::channel::MASK_BYTE;
use cpx_pkcs11::apdu::command::{INS_CHANGE_REFERENCE_DATA, INS_RESET_RETRY_COUNTER, INS_VERIFY};

/// PERFORM SECURITY OPERATION (CDS, HASH, DECIPHER).
const INS_PSO: u8 = 0x2A;
/// INTERNAL AUTHENTICATE (the CPS3 authentication key's signature).
const INS_INTERNAL_AUTHENTICATE: u8 = 0x88;
use cpx_pkcs11::transport::{
    CardIo, PinPadRequest, ResetSeen, Tap, Tapped, Transport, TransportError,
};

/// One thing that happened on the transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Start of a card transaction; `reset` if the card was reset by someone else.
    Begin {
        reset: bool,
    },
    End,
    /// One C-APDU (masked if `redacted`) and its raw R-APDU, or the transport error.
    Exchange {
        command: Vec<u8>,
        redacted: bool,
        response: Result<Vec<u8>, TransportError>,
    },
    /// A command completed on the reader's PIN pad: only its header is kept.
    PinPad {
        header: Vec<u8>,
        response: Result<Vec<u8>, TransportError>,
    },
}

/// The events, shared between the recorder (owned by the card) and the tool.
#[derive(Debug, Clone, Default)]
pub struct Recording(Arc<Mutex<Vec<Event>>>);

impl Recording {
    fn push(&self, e: Event) {
        if let Ok(mut v) = self.0.lock() {
            v.push(e);
        }
    }

    pub fn events(&self) -> Vec<Event> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// Records what passes through a transport.
pub struct Recorder {
    recording: Recording,
}

impl Recorder {
    /// `inner`, recording into `recording`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(inner: Box<dyn Transport>, recording: Recording) -> Tapped<Recorder> {
        Tapped {
            inner,
            tap: Recorder { recording },
        }
    }
}

/// True for the commands whose data is a PIN, a PUK, data to sign or a cryptogram.
fn carries_secret(c_apdu: &[u8]) -> bool {
    matches!(
        c_apdu.get(1),
        Some(
            &(INS_VERIFY
                | INS_CHANGE_REFERENCE_DATA
                | INS_RESET_RETRY_COUNTER
                | INS_PSO
                | INS_INTERNAL_AUTHENTICATE)
        )
    )
}

/// PSO DECIPHER (`2A 80 86`, any CLA): its answer is a plaintext.
fn answers_plaintext(c_apdu: &[u8]) -> bool {
    matches!(c_apdu.get(1..4), Some([INS_PSO, 0x80, 0x86]))
}

/// The R-APDU as it may be shown: a plaintext's data masked, the status word kept.
pub fn mask_response(c_apdu: &[u8], r_apdu: &[u8]) -> Vec<u8> {
    let mut shown = r_apdu.to_vec();
    if answers_plaintext(c_apdu) && shown.len() > 2 {
        let n = shown.len() - 2;
        shown[..n].fill(MASK_BYTE);
    }
    shown
}

/// The C-APDU as it may be shown: for secret-carrying commands everything after the header
/// and Lc is masked (the data; a trailing Le too, harmlessly). Returns whether bytes were
/// masked.
pub fn mask(c_apdu: &[u8]) -> (Vec<u8>, bool) {
    let mut shown = c_apdu.to_vec();
    if carries_secret(c_apdu) && shown.len() > 5 {
        shown[5..].fill(MASK_BYTE);
        return (shown, true);
    }
    (shown, false)
}

impl Tap for Recorder {
    fn transmit(
        &mut self,
        card: &mut dyn CardIo,
        c_apdu: &[u8],
    ) -> Result<Vec<u8>, TransportError> {
        let result = card.transmit(c_apdu);
        let (command, redacted) = mask(c_apdu);
        self.recording.push(Event::Exchange {
            command,
            redacted,
            response: result
                .as_ref()
                .map(|r| mask_response(c_apdu, r))
                .map_err(Clone::clone),
        });
        result
    }

    fn pin_pad(
        &mut self,
        card: &mut dyn CardIo,
        request: &PinPadRequest,
    ) -> Result<Vec<u8>, TransportError> {
        let result = card.pin_pad(request);
        self.recording.push(Event::PinPad {
            header: request.apdu.iter().take(4).copied().collect(),
            response: result.clone(),
        });
        result
    }

    fn begin(&mut self, reset_seen: ResetSeen) {
        self.recording.push(Event::Begin {
            reset: reset_seen == ResetSeen::Yes,
        });
    }

    fn end(&mut self) {
        self.recording.push(Event::End);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_commands_are_masked() {
        let verify = [0x00, 0x20, 0x00, 0x01, 0x04, 0x31, 0x32, 0x33, 0x34];
        let (shown, redacted) = mask(&verify);
        assert!(redacted);
        assert_eq!(&shown[..5], &verify[..5]);
        assert!(shown[5..].iter().all(|b| *b == MASK_BYTE));
        for ins in [0x24, 0x2C] {
            let (shown, redacted) = mask(&[0x00, ins, 0x00, 0x01, 0x02, 0x31, 0x32]);
            assert!(redacted);
            assert_eq!(shown[5..], [MASK_BYTE, MASK_BYTE]);
        }
        // The CPS2ter volet's VERIFY (CLA A0) too.
        assert!(mask(&[0xA0, 0x20, 0x00, 0x01, 0x01, 0x39]).1);
    }

    #[test]
    fn signature_inputs_and_plaintexts_are_masked() {
        // PSO CDS with a hash, INTERNAL AUTHENTICATE with a DigestInfo, chained DECIPHER.
        for c in [
            &[0x00, 0x2A, 0x9E, 0x9A, 0x03, 0xAA, 0xBB, 0xCC][..],
            &[0x00, 0x88, 0x02, 0x00, 0x02, 0x30, 0x31],
            &[0x11, 0x2A, 0x80, 0x86, 0x02, 0x00, 0x01],
        ] {
            let (shown, redacted) = mask(c);
            assert!(redacted, "{c:02X?}");
            assert!(shown[5..].iter().all(|b| *b == MASK_BYTE), "{c:02X?}");
        }
        let decipher = [0x00, 0x2A, 0x80, 0x86, 0x01, 0x00];
        assert_eq!(
            mask_response(&decipher, &[0x41, 0x42, 0x90, 0x00]),
            [MASK_BYTE, MASK_BYTE, 0x90, 0x00]
        );
        let cds = [0x00, 0x2A, 0x9E, 0x9A, 0x01, 0x00];
        assert_eq!(mask_response(&cds, &[0x41, 0x90, 0x00]), [0x41, 0x90, 0x00]);
    }

    #[test]
    fn other_commands_are_kept() {
        // VERIFY without data (the PIN-status probe) has nothing to hide.
        let probe = [0x00, 0x20, 0x00, 0x01];
        assert_eq!(mask(&probe), (probe.to_vec(), false));
        let select = [0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00];
        assert_eq!(mask(&select), (select.to_vec(), false));
    }
}
