//! What the engine remembers about the card between transactions: generation and protocol,
//! the current DF as far as we know it (CPS3), whether ChipDoc is selected on channel 1
//! (CPS4), reset/removal observations, counters, and cached PIN facts.

use super::layout::{self, Cps3AlgRefs};
use super::types::{Generation, PinInfo};
use crate::apdu::Protocol;

/// The longest PIN block sent: old ‖ new of a CHANGE REFERENCE DATA fits a short APDU.
pub const MAX_PIN_BLOCK: usize = 127;

/// A PIN or PUK as the engine uses it (the AODF entry plus what `PinInfo` leaves out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinRecord {
    pub info: PinInfo,
    /// PinFlags.needs-padding: pad to `stored_len` with the pad byte.
    pub needs_padding: bool,
}

impl PinRecord {
    /// The value as sent in VERIFY / CHANGE / RESET RETRY COUNTER: padded to the stored
    /// length when the AODF asks for padding (pad byte from the AODF, `FF` otherwise).
    pub fn encode(&self, pin: &[u8]) -> Option<super::types::Secret> {
        let stored = self.info.stored_len;
        if stored > 0 && pin.len() > stored {
            return None;
        }
        // The stored length comes from the card's AODF: a block that could not travel in a
        // short APDU (old ‖ new of a change included) is refused, never allocated (a hostile
        // card announcing 2^51 bytes aborted the process; found by fuzz/ card target).
        if stored.max(pin.len()) > MAX_PIN_BLOCK {
            return None;
        }
        // Allocate once at the final size, so no unzeroised copy is left behind by a
        // reallocation.
        let mut out = super::types::Secret::new(Vec::with_capacity(stored.max(pin.len())));
        out.extend_from_slice(pin);
        if self.needs_padding || self.info.pad_char.is_some() {
            let pad = self.info.pad_char.unwrap_or(layout::DEFAULT_PAD);
            out.resize(stored.max(pin.len()), pad);
        }
        Some(out)
    }

    /// Whether `pin` has a length the AODF allows (min..=max).
    pub fn length_ok(&self, pin: &[u8]) -> bool {
        (self.info.min_len..=self.info.max_len).contains(&pin.len())
    }

    /// Defaults when the AODF does not describe the PIN (CPS4 [assume], cpx-cards §10.4).
    pub fn default_user() -> PinRecord {
        let (min_len, max_len, stored_len) = layout::DEFAULT_PIN_LEN;
        PinRecord {
            info: PinInfo {
                label: String::new(),
                reference: layout::PIN_REF,
                min_len,
                max_len,
                stored_len,
                pad_char: Some(layout::DEFAULT_PAD),
            },
            needs_padding: true,
        }
    }

    /// PUK defaults (8 digits, no padding needed).
    pub fn default_so() -> PinRecord {
        let (min_len, max_len, stored_len) = layout::DEFAULT_PUK_LEN;
        PinRecord {
            info: PinInfo {
                label: String::new(),
                reference: layout::PUK_REF,
                min_len,
                max_len,
                stored_len,
                pad_char: None,
            },
            needs_padding: false,
        }
    }
}

/// Counters that rarely change, read once (CPS3 DOCP).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PinCache {
    /// DOCP `9A` of the user PIN.
    pub max_tries: Option<u8>,
    /// DOCP `9D` of the user PIN, if it has one (read with `max_tries`).
    pub pin_usage_left: Option<u16>,
    /// DOCP `9D` of the PUK; `Some(None)` = read, the card has none.
    pub puk_usage_left: Option<Option<u16>>,
}

/// Where a data object's value lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectSource {
    pub label: String,
    /// Absolute path (FIDs from 3F00).
    pub path: Vec<u16>,
    /// In the CPS2ter volet (CLA A0) rather than the ISO file system.
    pub volet: bool,
    /// File size from the FCP, when the file was selected.
    pub size: Option<usize>,
}

/// Engine state of one bound card.
#[derive(Debug, Clone)]
pub struct Session {
    pub generation: Generation,
    pub protocol: Protocol,
    /// Absolute path of the PKCS#15 application DF.
    pub app_df: Vec<u16>,
    /// CPS3: the current DF (basic channel) as far as we know; `None` = unknown.
    pub current_df: Option<Vec<u16>>,
    /// CPS4: ChipDoc is selected on logical channel 1 in this card session.
    pub chipdoc_selected: bool,
    /// The card was removed (this connection is dead).
    pub removed: bool,
    /// After a reset, `is_present` compares EF.SN with the bound PAN once.
    pub check_identity: bool,
    /// APDUs exchanged since bind (all transactions).
    pub apdus: usize,
    pub pins: PinCache,
    pub alg: Cps3AlgRefs,
    pub user_pin: Option<PinRecord>,
    pub so_pin: Option<PinRecord>,
    pub objects: Vec<ObjectSource>,
}

impl Session {
    pub fn new(generation: Generation, protocol: Protocol) -> Session {
        Session {
            generation,
            protocol,
            app_df: layout::application_df(generation).to_vec(),
            current_df: None,
            chipdoc_selected: false,
            removed: false,
            check_identity: false,
            apdus: 0,
            pins: PinCache::default(),
            alg: layout::CPS3_ALG_REFS,
            user_pin: None,
            so_pin: None,
            objects: Vec::new(),
        }
    }

    /// The card lost its volatile state (reset by someone else, or power cycle).
    pub fn on_reset(&mut self) {
        self.current_df = None;
        self.chipdoc_selected = false;
        self.check_identity = true;
    }

    /// After an error nothing is certain about the current file.
    pub fn forget_position(&mut self) {
        self.current_df = None;
    }

    pub fn object(&self, label: &str) -> Option<&ObjectSource> {
        self.objects.iter().find(|o| o.label == label)
    }
}

/// FIDs → path bytes.
pub fn path_bytes(path: &[u16]) -> Vec<u8> {
    path.iter().flat_map(|f| f.to_be_bytes()).collect()
}

/// Path bytes → FIDs (odd trailing byte dropped).
pub fn path_fids(bytes: &[u8]) -> Vec<u16> {
    bytes
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_encoding() {
        let pin = PinRecord::default_user();
        assert_eq!(&pin.encode(b"1234").unwrap()[..], b"1234\xFF\xFF\xFF\xFF");
        assert!(pin.length_ok(b"1234"));
        assert!(!pin.length_ok(b"12345"));
        assert!(!pin.length_ok(b"123"));
        let puk = PinRecord::default_so();
        assert_eq!(&puk.encode(b"12345678").unwrap()[..], b"12345678");
        assert!(!puk.length_ok(b"1234567"));
        // No padding requested and no pad byte: sent as is.
        let mut raw = PinRecord::default_so();
        raw.info.stored_len = 8;
        assert_eq!(&raw.encode(b"1234").unwrap()[..], b"1234");
    }

    #[test]
    fn absurd_stored_length_from_the_card_is_refused() {
        // A hostile AODF's storedLength: refused, not allocated (the process used to abort).
        let mut rec = PinRecord::default_user();
        rec.info.stored_len = 2_254_003_207_405_825;
        assert!(rec.encode(b"1234").is_none());
        rec.info.stored_len = MAX_PIN_BLOCK + 1;
        assert!(rec.encode(b"1234").is_none());
        rec.info.stored_len = MAX_PIN_BLOCK;
        assert_eq!(rec.encode(b"1234").unwrap().len(), MAX_PIN_BLOCK);
    }

    #[test]
    fn paths() {
        assert_eq!(
            path_bytes(&[0x3F00, 0x0001, 0xD120]),
            vec![0x3F, 0, 0, 1, 0xD1, 0x20]
        );
        assert_eq!(path_fids(&[0x3F, 0, 0x70, 0x01, 9]), vec![0x3F00, 0x7001]);
    }
}
