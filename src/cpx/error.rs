//! What a card operation of the `cpx` layer can end with, by who decided it: the card (or
//! the way to it) answered, the card layer refused the request without sending anything,
//! or the token has no such thing. No CK_* here: `p11/error.rs` maps these.

use crate::apdu::CardError;
use crate::transport::TransportError;

/// The error of every `CpxCard` operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CpxError {
    /// The card answered this, or the byte pipe to it failed (reset, removal, PC/SC), or
    /// its answer did not have the expected shape.
    #[error(transparent)]
    Card(#[from] CardError),
    /// Refused by the host before anything reached the card: the request breaks one of the
    /// card's rules.
    #[error("refused before reaching the card: {0}")]
    Refused(#[from] Refusal),
    /// The token has no such key, PIN or object.
    #[error("this token has no {0}")]
    Missing(#[from] Missing),
}

/// A card rule the request breaks (decided without card I/O).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The input is too long or too short for the key or the operation (the INTERNAL
    /// AUTHENTICATE 40 % limit, a hash of the wrong size, a cryptogram that is not one
    /// modulus long, a data object longer than its file).
    #[error("input length outside what the card takes")]
    InputLength,
    /// The input has the size but not the form the key takes: neither a hash nor a
    /// SHA-1/SHA-256 DigestInfo for a signature key; a cryptogram that does not decrypt to a
    /// PKCS#1 block.
    #[error("input not of the form the card takes")]
    InputForm,
    /// The key cannot do this: PSS on a CPS3, raw RSA or decryption with a signature key.
    #[error("the key cannot do this")]
    KeyCannot,
    /// A PIN or PUK whose length is outside the bounds the card's AODF gives.
    #[error("PIN length outside the card's bounds")]
    PinLength,
    /// The object cannot be written (not modifiable, or on the CPS2ter volet).
    #[error("the object is read-only")]
    ReadOnly,
}

/// What the token does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Missing {
    #[error("key with this CKA_ID")]
    Key,
    #[error("user PIN")]
    UserPin,
    #[error("PUK")]
    Puk,
    #[error("data object with this label")]
    DataObject,
}

impl CpxError {
    /// The card answered this (or its transport failed).
    pub fn card(&self) -> Option<&CardError> {
        match self {
            CpxError::Card(e) => Some(e),
            _ => None,
        }
    }

    /// The transport's verdict, if that is what this is.
    pub fn transport(&self) -> Option<&TransportError> {
        match self {
            CpxError::Card(CardError::Transport(t)) => Some(t),
            _ => None,
        }
    }
}

impl From<TransportError> for CpxError {
    fn from(e: TransportError) -> Self {
        CpxError::Card(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_who_decided() {
        let e: CpxError = Missing::Key.into();
        assert_eq!(e.to_string(), "this token has no key with this CKA_ID");
        let e: CpxError = Refusal::InputLength.into();
        assert!(e
            .to_string()
            .starts_with("refused before reaching the card"));
        let e: CpxError = TransportError::Removed.into();
        assert_eq!(e.transport(), Some(&TransportError::Removed));
        assert_eq!(
            e.card(),
            Some(&CardError::Transport(TransportError::Removed))
        );
        assert_eq!(CpxError::from(Missing::Puk).card(), None);
    }
}
