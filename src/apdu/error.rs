//! Card-level errors (style.md §4): what the card, or the way it answered, tells us.

use super::sw::StatusWord;
use crate::log::hex;
use crate::transport::TransportError;

/// An error from the card or from the APDU layer. No CK_* here: `p11/error.rs` maps these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CardError {
    /// The byte pipe failed (reader, removal, reset, PC/SC).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// `63 Cx`: wrong PIN/PUK (or not verified yet), `tries_left` tries left.
    #[error("PIN incorrect, {tries_left} tries left")]
    PinIncorrect { tries_left: u8 },
    /// `69 83`: PIN/PUK blocked.
    #[error("PIN blocked")]
    PinBlocked,
    /// `69 82`.
    #[error("security status not satisfied")]
    SecurityNotSatisfied,
    /// `69 85`.
    #[error("conditions of use not satisfied")]
    ConditionsNotSatisfied,
    /// `6A 82`.
    #[error("file or application not found")]
    FileNotFound,
    /// `67 00`, or `6C xx` that survived the Le correction.
    #[error("wrong length")]
    WrongLength,
    /// Any status word without its own variant.
    #[error("card status {0}")]
    Status(StatusWord),
    /// The answer (or a command we were asked to build) does not have the expected shape.
    #[error("malformed: {0}")]
    Malformed(&'static str),
    /// The ATR is not one of a card we drive.
    #[error("unsupported card (ATR {})", hex(atr))]
    UnsupportedCard { atr: Vec<u8> },
    /// A legacy CPS2ter card (CLA `A0` only): recognised, but not a PKCS#15 token.
    #[error(
        "legacy CPS2ter card (ATR {}): it has no PKCS#15 application and is not supported \
         (CPS3 and CPS4 cards are)",
        hex(atr)
    )]
    LegacyCps2ter { atr: Vec<u8> },
    /// The card was reset (by another application, or a power cycle) while it worked on a
    /// command of ours: its answer is lost and what it did is unknown (a VERIFY may or may
    /// not have been counted). Its security state is gone.
    #[error("card reset during a command")]
    ResetDuringCommand,
    /// PIN entry on the reader's keypad was cancelled or timed out (`64 00` / `64 01`).
    #[error("PIN entry on the reader cancelled or timed out")]
    PinEntryCancelled,
    /// The two entries of the new PIN on the keypad differ (`64 02`), or a PIN of the wrong
    /// length was typed (`64 03`).
    #[error("PIN typed on the reader invalid (entries differ or wrong length)")]
    PinEntryInvalid,
}

/// The one mapping from a final status word to success or a [`CardError`].
///
/// * `90 00` and `62 82` (end of file: the data returned is valid) are success.
/// * `63 Cx` is `PinIncorrect { tries_left: x }` for every x, including 0: whether `63 C0`
///   means "blocked" depends on the card generation and is decided by the `cpx` layer.
/// * `61 xx`/`9F xx` should never reach this function (the channel resolves them); they
///   come out as `Status`.
pub fn check_sw(sw: StatusWord) -> Result<(), CardError> {
    match sw {
        StatusWord::Ok | StatusWord::EndOfFile => Ok(()),
        StatusWord::TriesLeft(n) => Err(CardError::PinIncorrect { tries_left: n }),
        StatusWord::Blocked => Err(CardError::PinBlocked),
        StatusWord::SecurityNotSatisfied => Err(CardError::SecurityNotSatisfied),
        StatusWord::ConditionsNotSatisfied => Err(CardError::ConditionsNotSatisfied),
        StatusWord::FileNotFound => Err(CardError::FileNotFound),
        StatusWord::WrongLength | StatusWord::WrongLe(_) => Err(CardError::WrongLength),
        other => Err(CardError::Status(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sw_mapping_table() {
        let table: &[(u16, Result<(), CardError>)] = &[
            (0x9000, Ok(())),
            (0x6282, Ok(())),
            (0x63C2, Err(CardError::PinIncorrect { tries_left: 2 })),
            (0x63C0, Err(CardError::PinIncorrect { tries_left: 0 })),
            (0x6983, Err(CardError::PinBlocked)),
            (0x6982, Err(CardError::SecurityNotSatisfied)),
            (0x6985, Err(CardError::ConditionsNotSatisfied)),
            (0x6A82, Err(CardError::FileNotFound)),
            (0x6700, Err(CardError::WrongLength)),
            (0x6C10, Err(CardError::WrongLength)),
            (0x6A88, Err(CardError::Status(StatusWord::DataNotFound))),
            (
                0x6881,
                Err(CardError::Status(StatusWord::ChannelNotSupported)),
            ),
            (0x6127, Err(CardError::Status(StatusWord::MoreData(0x27)))),
            (0x9404, Err(CardError::Status(StatusWord::Other(0x9404)))),
            (0x6300, Err(CardError::Status(StatusWord::Other(0x6300)))),
        ];
        for (sw, expected) in table {
            assert_eq!(&check_sw(StatusWord::from_u16(*sw)), expected, "{sw:04X}");
        }
    }

    #[test]
    fn only_success_words_are_ok() {
        let ok: Vec<u16> = (0..=u16::MAX)
            .filter(|v| check_sw(StatusWord::from_u16(*v)).is_ok())
            .collect();
        assert_eq!(ok, vec![0x6282, 0x9000]);
    }

    #[test]
    fn transport_errors_convert() {
        let e: CardError = TransportError::Removed.into();
        assert_eq!(e, CardError::Transport(TransportError::Removed));
        let e = CardError::UnsupportedCard {
            atr: vec![0x3B, 0x8F],
        };
        assert_eq!(e.to_string(), "unsupported card (ATR 3B8F)");
    }
}
