//! ISO 7816-4 status words (SW1 SW2) as a data-carrying enum.
//!
//! [`StatusWord::from_u16`] and [`StatusWord::to_u16`] are exact inverses over all 65536
//! values: every value that does not have a named variant is kept in [`StatusWord::Other`].

use std::fmt;

/// A status word, classified. Values without a named variant are kept in `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusWord {
    /// `90 00`: success.
    Ok,
    /// `61 xx`: xx response bytes available (`00` = 256), fetch with GET RESPONSE.
    MoreData(u8),
    /// `6C xx`: wrong Le, re-send with Le = xx (`00` = 256).
    WrongLe(u8),
    /// `9F xx`: CPS2ter volet (CLA `A0`), xx response bytes available.
    Cps2terMoreData(u8),
    /// `62 82`: end of file reached before Le bytes were read (warning, data is valid).
    EndOfFile,
    /// `63 Cx`: verification failed or not done yet, x tries left (0..=15).
    TriesLeft(u8),
    /// `67 00`: wrong length (Lc or Le).
    WrongLength,
    /// `68 81`: logical channel not supported.
    ChannelNotSupported,
    /// `68 82`: secure messaging not supported.
    SecureMessagingNotSupported,
    /// `68 83`: last command of the chain expected.
    LastCommandOfChainExpected,
    /// `68 84`: command chaining not supported.
    ChainingNotSupported,
    /// `69 81`: command incompatible with the file structure.
    IncompatibleFile,
    /// `69 82`: security status not satisfied.
    SecurityNotSatisfied,
    /// `69 83`: authentication method blocked.
    Blocked,
    /// `69 84`: reference data not usable.
    ReferenceDataUnusable,
    /// `69 85`: conditions of use not satisfied.
    ConditionsNotSatisfied,
    /// `69 86`: command not allowed (no current EF).
    CommandNotAllowed,
    /// `6A 80`: incorrect data in the command.
    IncorrectData,
    /// `6A 81`: function not supported.
    FunctionNotSupported,
    /// `6A 82`: file or application not found.
    FileNotFound,
    /// `6A 83`: record not found.
    RecordNotFound,
    /// `6A 84`: not enough memory space in the file.
    NotEnoughMemory,
    /// `6A 86`: incorrect parameters P1-P2.
    IncorrectP1P2,
    /// `6A 88`: referenced data not found.
    DataNotFound,
    /// `6B 00`: wrong parameters P1-P2 (offset outside the EF).
    WrongP1P2,
    /// `6D 00`: instruction not supported.
    InsNotSupported,
    /// `6E 00`: class not supported.
    ClaNotSupported,
    /// `6F 00`: no precise diagnosis.
    NoDiagnosis,
    /// Any other value, kept verbatim.
    Other(u16),
}

impl StatusWord {
    /// Classifies a status word.
    pub fn from_u16(sw: u16) -> StatusWord {
        let [sw1, sw2] = sw.to_be_bytes();
        match (sw1, sw2) {
            (0x90, 0x00) => StatusWord::Ok,
            (0x61, n) => StatusWord::MoreData(n),
            (0x6C, n) => StatusWord::WrongLe(n),
            (0x9F, n) => StatusWord::Cps2terMoreData(n),
            (0x62, 0x82) => StatusWord::EndOfFile,
            (0x63, n) if n & 0xF0 == 0xC0 => StatusWord::TriesLeft(n & 0x0F),
            (0x67, 0x00) => StatusWord::WrongLength,
            (0x68, 0x81) => StatusWord::ChannelNotSupported,
            (0x68, 0x82) => StatusWord::SecureMessagingNotSupported,
            (0x68, 0x83) => StatusWord::LastCommandOfChainExpected,
            (0x68, 0x84) => StatusWord::ChainingNotSupported,
            (0x69, 0x81) => StatusWord::IncompatibleFile,
            (0x69, 0x82) => StatusWord::SecurityNotSatisfied,
            (0x69, 0x83) => StatusWord::Blocked,
            (0x69, 0x84) => StatusWord::ReferenceDataUnusable,
            (0x69, 0x85) => StatusWord::ConditionsNotSatisfied,
            (0x69, 0x86) => StatusWord::CommandNotAllowed,
            (0x6A, 0x80) => StatusWord::IncorrectData,
            (0x6A, 0x81) => StatusWord::FunctionNotSupported,
            (0x6A, 0x82) => StatusWord::FileNotFound,
            (0x6A, 0x83) => StatusWord::RecordNotFound,
            (0x6A, 0x84) => StatusWord::NotEnoughMemory,
            (0x6A, 0x86) => StatusWord::IncorrectP1P2,
            (0x6A, 0x88) => StatusWord::DataNotFound,
            (0x6B, 0x00) => StatusWord::WrongP1P2,
            (0x6D, 0x00) => StatusWord::InsNotSupported,
            (0x6E, 0x00) => StatusWord::ClaNotSupported,
            (0x6F, 0x00) => StatusWord::NoDiagnosis,
            _ => StatusWord::Other(sw),
        }
    }

    /// Classifies SW1 SW2.
    pub fn from_bytes(sw1: u8, sw2: u8) -> StatusWord {
        StatusWord::from_u16(u16::from_be_bytes([sw1, sw2]))
    }

    /// The two-byte value. `TriesLeft(n)` keeps only the low nibble of `n`.
    pub fn to_u16(self) -> u16 {
        match self {
            StatusWord::Ok => 0x9000,
            StatusWord::MoreData(n) => 0x6100 | u16::from(n),
            StatusWord::WrongLe(n) => 0x6C00 | u16::from(n),
            StatusWord::Cps2terMoreData(n) => 0x9F00 | u16::from(n),
            StatusWord::EndOfFile => 0x6282,
            StatusWord::TriesLeft(n) => 0x63C0 | u16::from(n & 0x0F),
            StatusWord::WrongLength => 0x6700,
            StatusWord::ChannelNotSupported => 0x6881,
            StatusWord::SecureMessagingNotSupported => 0x6882,
            StatusWord::LastCommandOfChainExpected => 0x6883,
            StatusWord::ChainingNotSupported => 0x6884,
            StatusWord::IncompatibleFile => 0x6981,
            StatusWord::SecurityNotSatisfied => 0x6982,
            StatusWord::Blocked => 0x6983,
            StatusWord::ReferenceDataUnusable => 0x6984,
            StatusWord::ConditionsNotSatisfied => 0x6985,
            StatusWord::CommandNotAllowed => 0x6986,
            StatusWord::IncorrectData => 0x6A80,
            StatusWord::FunctionNotSupported => 0x6A81,
            StatusWord::FileNotFound => 0x6A82,
            StatusWord::RecordNotFound => 0x6A83,
            StatusWord::NotEnoughMemory => 0x6A84,
            StatusWord::IncorrectP1P2 => 0x6A86,
            StatusWord::DataNotFound => 0x6A88,
            StatusWord::WrongP1P2 => 0x6B00,
            StatusWord::InsNotSupported => 0x6D00,
            StatusWord::ClaNotSupported => 0x6E00,
            StatusWord::NoDiagnosis => 0x6F00,
            StatusWord::Other(sw) => sw,
        }
    }

    /// SW1 and SW2.
    pub fn to_bytes(self) -> [u8; 2] {
        self.to_u16().to_be_bytes()
    }

    /// `90 00`.
    pub fn is_ok(self) -> bool {
        self == StatusWord::Ok
    }

    /// Bytes available for GET RESPONSE (`61 xx` or `9F xx`), `00` meaning 256.
    pub fn pending_bytes(self) -> Option<usize> {
        match self {
            StatusWord::MoreData(n) | StatusWord::Cps2terMoreData(n) => Some(le_to_len(n)),
            _ => None,
        }
    }
}

/// A one-byte length field where `00` means 256 (Le, `61 xx`, `6C xx`).
pub(crate) fn le_to_len(n: u8) -> usize {
    if n == 0 {
        256
    } else {
        usize::from(n)
    }
}

impl From<u16> for StatusWord {
    fn from(sw: u16) -> Self {
        StatusWord::from_u16(sw)
    }
}

impl From<StatusWord> for u16 {
    fn from(sw: StatusWord) -> Self {
        sw.to_u16()
    }
}

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [sw1, sw2] = self.to_bytes();
        write!(f, "{sw1:02X} {sw2:02X}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_all_values() {
        for v in 0..=u16::MAX {
            let sw = StatusWord::from_u16(v);
            assert_eq!(sw.to_u16(), v, "{v:04X} -> {sw:?}");
            // `Other` never hides a value that has a named variant.
            if let StatusWord::Other(o) = sw {
                assert_eq!(o, v);
            }
        }
    }

    #[test]
    fn named_variants_round_trip() {
        let named = [
            StatusWord::Ok,
            StatusWord::MoreData(0x27),
            StatusWord::WrongLe(0x0C),
            StatusWord::Cps2terMoreData(0x10),
            StatusWord::EndOfFile,
            StatusWord::TriesLeft(2),
            StatusWord::WrongLength,
            StatusWord::ChannelNotSupported,
            StatusWord::SecurityNotSatisfied,
            StatusWord::Blocked,
            StatusWord::ConditionsNotSatisfied,
            StatusWord::IncorrectData,
            StatusWord::FileNotFound,
            StatusWord::IncorrectP1P2,
            StatusWord::DataNotFound,
            StatusWord::WrongP1P2,
            StatusWord::InsNotSupported,
            StatusWord::ClaNotSupported,
            StatusWord::NoDiagnosis,
        ];
        for sw in named {
            assert_eq!(StatusWord::from_u16(sw.to_u16()), sw);
        }
    }

    #[test]
    fn classification() {
        assert_eq!(StatusWord::from_bytes(0x90, 0x00), StatusWord::Ok);
        assert_eq!(
            StatusWord::from_bytes(0x61, 0x27),
            StatusWord::MoreData(0x27)
        );
        assert_eq!(StatusWord::from_bytes(0x63, 0xC2), StatusWord::TriesLeft(2));
        assert_eq!(
            StatusWord::from_bytes(0x63, 0x00),
            StatusWord::Other(0x6300)
        );
        assert_eq!(StatusWord::from_bytes(0x69, 0x83), StatusWord::Blocked);
        assert_eq!(
            StatusWord::from_bytes(0x68, 0x81),
            StatusWord::ChannelNotSupported
        );
        assert_eq!(
            StatusWord::from_bytes(0x9F, 0x1A),
            StatusWord::Cps2terMoreData(0x1A)
        );
        assert_eq!(
            StatusWord::from_bytes(0x94, 0x04),
            StatusWord::Other(0x9404)
        );
        assert_eq!(StatusWord::MoreData(0).pending_bytes(), Some(256));
        assert_eq!(StatusWord::Cps2terMoreData(5).pending_bytes(), Some(5));
        assert_eq!(StatusWord::Ok.pending_bytes(), None);
        assert_eq!(StatusWord::TriesLeft(0x13).to_u16(), 0x63C3);
        assert_eq!(StatusWord::FileNotFound.to_string(), "6A 82");
    }
}
