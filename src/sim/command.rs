//! The simulator's own view of a C-APDU (it never uses the engine's encoder) and the status
//! words it answers with.

/// A parsed short C-APDU. `le` is the number of bytes asked for (Le `00` = 256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    pub data: Vec<u8>,
    pub le: Option<usize>,
}

/// A handler's answer before the transmission protocol shapes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Out {
    pub data: Vec<u8>,
    pub sw: u16,
}

impl Out {
    pub fn sw(sw: u16) -> Out {
        Out {
            data: Vec::new(),
            sw,
        }
    }
    pub fn ok() -> Out {
        Out::sw(sw::OK)
    }
    pub fn data(data: Vec<u8>) -> Out {
        Out { data, sw: sw::OK }
    }
    /// data ‖ SW1 SW2, unshaped (the CPS2ter volet shapes its own answers).
    pub fn into_bytes(self) -> Vec<u8> {
        let mut r = self.data;
        r.extend_from_slice(&self.sw.to_be_bytes());
        r
    }
}

/// Encodes a length of 1..=256 as a short Le/SW2 byte (256 → 00).
pub fn short_len(n: usize) -> u8 {
    if n >= 256 {
        0
    } else {
        n as u8
    }
}

impl Command {
    /// Parses a short APDU (ISO 7816-4 cases 1–4). Extended lengths are not supported by
    /// the cards (EF.ATR card capabilities) and answer `67 00`.
    pub fn parse(b: &[u8]) -> Result<Command, u16> {
        if b.len() < 4 {
            return Err(sw::WRONG_LENGTH);
        }
        let (cla, ins, p1, p2) = (b[0], b[1], b[2], b[3]);
        let body = &b[4..];
        let (data, le) = match body.len() {
            0 => (Vec::new(), None),
            1 => (Vec::new(), Some(le_of(body[0]))),
            _ => {
                let lc = body[0] as usize;
                if lc == 0 {
                    // Extended length: not supported by CPx cards.
                    return Err(sw::WRONG_LENGTH);
                }
                match body.len() - 1 {
                    n if n == lc => (body[1..].to_vec(), None),
                    n if n == lc + 1 => (body[1..=lc].to_vec(), Some(le_of(body[lc + 1]))),
                    _ => return Err(sw::WRONG_LENGTH),
                }
            }
        };
        Ok(Command {
            cla,
            ins,
            p1,
            p2,
            data,
            le,
        })
    }

    /// Command chaining bit (ISO 7816-4: CLA b5).
    pub fn chained(&self) -> bool {
        self.cla & 0x10 != 0
    }
}

fn le_of(b: u8) -> usize {
    if b == 0 {
        256
    } else {
        b as usize
    }
}

/// Status words used by the simulator.
pub mod sw {
    pub const OK: u16 = 0x9000;
    pub const END_OF_FILE: u16 = 0x6282;
    pub const WRONG_LENGTH: u16 = 0x6700;
    pub const CHANNEL_NOT_SUPPORTED: u16 = 0x6881;
    pub const LAST_COMMAND_EXPECTED: u16 = 0x6883;
    pub const CHAINING_NOT_SUPPORTED: u16 = 0x6884;
    pub const SECURITY_NOT_SATISFIED: u16 = 0x6982;
    pub const AUTH_BLOCKED: u16 = 0x6983;
    pub const CONDITIONS_NOT_SATISFIED: u16 = 0x6985;
    pub const NO_CURRENT_EF: u16 = 0x6986;
    pub const INCORRECT_DATA: u16 = 0x6A80;
    pub const FUNCTION_NOT_SUPPORTED: u16 = 0x6A81;
    pub const FILE_NOT_FOUND: u16 = 0x6A82;
    pub const INCORRECT_P1P2: u16 = 0x6A86;
    pub const DATA_NOT_FOUND: u16 = 0x6A88;
    pub const WRONG_P1P2: u16 = 0x6B00;
    pub const INS_NOT_SUPPORTED: u16 = 0x6D00;
    pub const CLA_NOT_SUPPORTED: u16 = 0x6E00;
    pub const NO_DIAGNOSIS: u16 = 0x6F00;

    /// `63 Cx`: verification failed, x tries left.
    pub fn tries_left(x: u8) -> u16 {
        0x63C0 | u16::from(x.min(15))
    }

    /// Whether an answer with this status word carries its data (success and warnings).
    pub fn carries_data(sw: u16) -> bool {
        sw == OK || sw >> 8 == 0x62
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_four_cases() {
        let c = Command::parse(&[0x00, 0x20, 0x00, 0x01]).unwrap();
        assert_eq!((c.data.len(), c.le), (0, None));
        let c = Command::parse(&[0x00, 0x84, 0x00, 0x00, 0x08]).unwrap();
        assert_eq!(c.le, Some(8));
        let c = Command::parse(&[0x00, 0xB0, 0x00, 0x00, 0x00]).unwrap();
        assert_eq!(c.le, Some(256));
        let c = Command::parse(&[0x00, 0xA4, 0x09, 0x04, 0x02, 0x3F, 0x00]).unwrap();
        assert_eq!((c.data, c.le), (vec![0x3F, 0x00], None));
        let c = Command::parse(&[0x00, 0xA4, 0x09, 0x04, 0x02, 0x3F, 0x00, 0x00]).unwrap();
        assert_eq!(c.le, Some(256));
        assert!(!c.chained());
    }

    #[test]
    fn rejects_malformed_lengths() {
        assert_eq!(Command::parse(&[0x00, 0xA4, 0x09]), Err(sw::WRONG_LENGTH));
        assert_eq!(
            Command::parse(&[0x00, 0xA4, 0x09, 0x04, 0x03, 0x3F]),
            Err(sw::WRONG_LENGTH)
        );
        assert_eq!(
            Command::parse(&[0x00, 0xA4, 0x09, 0x04, 0x00, 0x00, 0x02]),
            Err(sw::WRONG_LENGTH)
        );
    }

    #[test]
    fn tries_left_encoding() {
        assert_eq!(sw::tries_left(2), 0x63C2);
        assert_eq!(sw::tries_left(0), 0x63C0);
        assert!(sw::carries_data(0x6282));
        assert!(!sw::carries_data(0x6982));
    }
}
