//! L2: the CPx card application: what is where on each generation and how to drive it.
//! Returns domain types (`types`), never CK_*.
//!
//! CONTRACT (the PKCS#11 layer builds on exactly this API; bodies are being implemented).

pub mod types;

pub use types::*;

use crate::apdu::error::CardError;
use crate::transport::Transport;

/// A bound card: the transport plus everything read at bind time.
pub struct CpxCard {
    transport: Box<dyn Transport>,
    contents: TokenContents,
}

impl CpxCard {
    /// Recognises the card (ATR mask + EF.SN issuer prefix; CPS4 confirmed on channel 1)
    /// and reads everything once: EF.SN, TokenInfo, AODF, PrKDF, CDF + certificates, DODF +
    /// public data-object values. Not a CPx card → `CardError::UnsupportedCard`.
    pub fn bind(transport: Box<dyn Transport>) -> Result<CpxCard, CardError> {
        let _ = transport;
        Err(CardError::Malformed("not implemented"))
    }

    pub fn contents(&self) -> &TokenContents {
        &self.contents
    }

    /// Reads the user PIN counters from the card (VERIFY without data + DOCP on CPS3;
    /// VERIFY without data on CPS4). `unblock_left` from the PUK when the card tells it.
    pub fn pin_status(&mut self) -> Result<PinStatus, CardError> {
        Err(CardError::Malformed("not implemented"))
    }

    /// VERIFY the user PIN (padded as the AODF says). Wrong → `PinIncorrect { tries_left }`,
    /// blocked → `PinBlocked`. Never retries on its own.
    pub fn login(&mut self, pin: &[u8]) -> Result<(), CardError> {
        let _ = pin;
        Err(CardError::Malformed("not implemented"))
    }

    /// VERIFY the PUK (C_Login(CKU_SO)).
    pub fn login_so(&mut self, puk: &[u8]) -> Result<(), CardError> {
        let _ = puk;
        Err(CardError::Malformed("not implemented"))
    }

    /// Resets the card's security status (re-select the MF AID / ChipDoc).
    pub fn logout(&mut self) -> Result<(), CardError> {
        Err(CardError::Malformed("not implemented"))
    }

    /// CHANGE REFERENCE DATA (CPS3: old ‖ new; CPS4: VERIFY old then new only).
    pub fn change_pin(&mut self, old: &[u8], new: &[u8]) -> Result<(), CardError> {
        let _ = (old, new);
        Err(CardError::Malformed("not implemented"))
    }

    /// Unblock after `login_so`: CPS3 RESET RETRY COUNTER with the new PIN; CPS4 RESET
    /// RETRY COUNTER without data, then CHANGE REFERENCE DATA (new only).
    pub fn unblock_pin(&mut self, new: &[u8]) -> Result<(), CardError> {
        let _ = new;
        Err(CardError::Malformed("not implemented"))
    }

    /// Signs with the key whose CKA_ID is `key_id`; returns modulus-length bytes.
    pub fn sign(&mut self, key_id: &[u8], input: &SignInput) -> Result<Vec<u8>, CardError> {
        let _ = (key_id, input);
        Err(CardError::Malformed("not implemented"))
    }

    /// PKCS#1 v1.5 decryption with the authentication key; returns the plaintext.
    pub fn decrypt(&mut self, key_id: &[u8], cryptogram: &[u8]) -> Result<Vec<u8>, CardError> {
        let _ = (key_id, cryptogram);
        Err(CardError::Malformed("not implemented"))
    }

    /// Reads a data object's value from the card (private ones need the PIN verified) and
    /// keeps it in the contents.
    pub fn read_data_object(&mut self, label: &str) -> Result<Vec<u8>, CardError> {
        let _ = label;
        Err(CardError::Malformed("not implemented"))
    }

    /// Writes a modifiable data object (CPS_DATA): zero-padded to the file size.
    pub fn write_data_object(&mut self, label: &str, value: &[u8]) -> Result<(), CardError> {
        let _ = (label, value);
        Err(CardError::Malformed("not implemented"))
    }

    /// GET CHALLENGE, 8 bytes at a time.
    pub fn random(&mut self, len: usize) -> Result<Vec<u8>, CardError> {
        let _ = len;
        Err(CardError::Malformed("not implemented"))
    }

    /// Whether the card is still there (and is the same card); false after removal.
    pub fn is_present(&mut self) -> bool {
        let _ = &mut self.transport;
        false
    }
}
