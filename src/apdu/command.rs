//! Command APDUs: short APDUs only (Lc ≤ 255, Le ≤ 256), encoding for T=0 and T=1,
//! logical-channel CLA bits and command chaining.

use std::fmt;

use zeroize::Zeroize;

use super::error::CardError;
use crate::log::hex;

/// Largest Lc of a short APDU; longer data goes through command chaining.
pub const MAX_SHORT_LC: usize = 255;
/// Largest Le of a short APDU (encoded `00`).
pub const MAX_SHORT_LE: usize = 256;

/// CLA bit announcing that more commands of the chain follow (ISO 7816-4 §5.4.1).
pub const CLA_CHAINING: u8 = 0x10;
/// Channel bits of a first-interindustry CLA (`0x00`–`0x1F` without secure messaging).
const CLA_CHANNEL_MASK: u8 = 0x03;

/// VERIFY, CHANGE REFERENCE DATA and RESET RETRY COUNTER: their data is PIN material.
pub const INS_VERIFY: u8 = 0x20;
/// CHANGE REFERENCE DATA.
pub const INS_CHANGE_REFERENCE_DATA: u8 = 0x24;
/// RESET RETRY COUNTER.
pub const INS_RESET_RETRY_COUNTER: u8 = 0x2C;
/// SELECT.
pub const INS_SELECT: u8 = 0xA4;
/// READ BINARY.
pub const INS_READ_BINARY: u8 = 0xB0;
/// GET RESPONSE.
pub const INS_GET_RESPONSE: u8 = 0xC0;
/// GET DATA (even INS).
pub const INS_GET_DATA: u8 = 0xCA;
/// GET DATA (odd INS, IAS-ECC SDO form).
pub const INS_GET_DATA_ODD: u8 = 0xCB;

/// The transmission protocol negotiated with the card (defined by the transport).
pub use crate::transport::Protocol;

/// A short command APDU. The data is zeroised when the command is dropped (it may hold a
/// PIN), and `Debug` never shows the data of VERIFY / CHANGE / RESET RETRY COUNTER.
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    /// Command data (Lc = its length). Up to 255 bytes per APDU; more is chained.
    pub data: Vec<u8>,
    /// Expected response length, 1..=256 (256 is encoded `00`); `None` = no Le field.
    pub le: Option<usize>,
}

impl Command {
    /// A case-1 command (header only).
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Command {
        Command {
            cla,
            ins,
            p1,
            p2,
            data: Vec::new(),
            le: None,
        }
    }

    /// Sets the command data (copied; the copy is zeroised on drop).
    pub fn with_data(mut self, data: &[u8]) -> Command {
        self.data.zeroize();
        self.data = data.to_vec();
        self
    }

    /// Sets Le (1..=256; 256 is encoded `00`). Checked when encoding.
    pub fn with_le(mut self, le: usize) -> Command {
        self.le = Some(le);
        self
    }

    /// GET RESPONSE with the given CLA: `CLA C0 00 00 xx` (xx = `00` for 256).
    pub fn get_response(cla: u8, le: usize) -> Command {
        Command::new(cla, INS_GET_RESPONSE, 0, 0).with_le(le)
    }

    /// Puts the command on logical channel `n` (0..=3) by setting the CLA channel bits.
    ///
    /// Only first-interindustry CLAs (`0x00`–`0x1F`) have channel bits. A proprietary CLA
    /// (bit 8 set, e.g. the CPS2ter `A0`) is accepted unchanged for channel 0 only.
    pub fn with_channel(mut self, n: u8) -> Result<Command, CardError> {
        self.cla = cla_with_channel(self.cla, n)?;
        Ok(self)
    }

    /// The logical channel of a first-interindustry CLA, `None` for other CLAs.
    pub fn channel(&self) -> Option<u8> {
        is_first_interindustry(self.cla).then_some(self.cla & CLA_CHANNEL_MASK)
    }

    /// Whether the data holds PIN material (VERIFY, CHANGE REFERENCE DATA, RESET RETRY
    /// COUNTER): never logged, masked in traces.
    pub fn is_sensitive(&self) -> bool {
        is_sensitive_ins(self.ins)
    }

    /// Encodes one short APDU. Under T=0 a case-4 command is sent without its Le.
    ///
    /// Errors: data longer than 255 bytes (use [`Command::chain`]), Le outside 1..=256.
    pub fn encode(&self, protocol: Protocol) -> Result<Vec<u8>, CardError> {
        if self.data.len() > MAX_SHORT_LC {
            return Err(CardError::Malformed("command data longer than 255 bytes"));
        }
        let le = match self.le {
            None => None,
            Some(n) if (1..=MAX_SHORT_LE).contains(&n) => Some(n),
            Some(_) => return Err(CardError::Malformed("Le outside 1..=256")),
        };
        let le = if protocol == Protocol::T0 && !self.data.is_empty() {
            None
        } else {
            le
        };
        let mut out = Vec::with_capacity(4 + 1 + self.data.len() + 1);
        out.extend_from_slice(&[self.cla, self.ins, self.p1, self.p2]);
        if !self.data.is_empty() {
            // Length checked above.
            out.push(self.data.len() as u8);
            out.extend_from_slice(&self.data);
        }
        if let Some(n) = le {
            // 256 wraps to 0x00.
            out.push((n % 256) as u8);
        }
        Ok(out)
    }

    /// Splits the command for command chaining: pieces of at most 255 data bytes, CLA bit
    /// `0x10` on every piece but the last, Le only on the last. A command that fits is
    /// returned as a single piece.
    ///
    /// Errors: chaining with a proprietary CLA (bit 8 set), which has no chaining bit.
    pub fn chain(&self) -> Result<Vec<Command>, CardError> {
        if self.data.len() <= MAX_SHORT_LC {
            return Ok(vec![self.clone()]);
        }
        if self.cla & 0x80 != 0 {
            return Err(CardError::Malformed(
                "command chaining with a proprietary CLA",
            ));
        }
        let pieces = self.data.chunks(MAX_SHORT_LC);
        let count = pieces.len();
        Ok(pieces
            .enumerate()
            .map(|(i, piece)| {
                let last = i + 1 == count;
                Command {
                    cla: if last {
                        self.cla & !CLA_CHAINING
                    } else {
                        self.cla | CLA_CHAINING
                    },
                    ins: self.ins,
                    p1: self.p1,
                    p2: self.p2,
                    data: piece.to_vec(),
                    le: if last { self.le } else { None },
                }
            })
            .collect())
    }
}

impl Drop for Command {
    fn drop(&mut self) {
        self.data.zeroize();
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Command({:02X} {:02X} {:02X} {:02X}",
            self.cla, self.ins, self.p1, self.p2
        )?;
        if !self.data.is_empty() {
            write!(f, ", Lc={}", self.data.len())?;
            if self.is_sensitive() {
                write!(f, ", data=<redacted>")?;
            } else {
                write!(f, ", data={}", hex(&self.data))?;
            }
        }
        if let Some(le) = self.le {
            write!(f, ", Le={le}")?;
        }
        write!(f, ")")
    }
}

/// True for INS whose data is PIN material.
pub(crate) fn is_sensitive_ins(ins: u8) -> bool {
    matches!(
        ins,
        INS_VERIFY | INS_CHANGE_REFERENCE_DATA | INS_RESET_RETRY_COUNTER
    )
}

/// CLA `0x00`–`0x1F`: first interindustry class, channel bits b2-b1.
pub(crate) fn is_first_interindustry(cla: u8) -> bool {
    cla & 0xE0 == 0
}

/// Sets the logical-channel bits of a CLA (see [`Command::with_channel`]).
pub(crate) fn cla_with_channel(cla: u8, n: u8) -> Result<u8, CardError> {
    if n > 3 {
        return Err(CardError::Malformed("logical channel above 3"));
    }
    if is_first_interindustry(cla) {
        Ok((cla & !CLA_CHANNEL_MASK) | n)
    } else if n == 0 && cla & 0x80 != 0 {
        Ok(cla)
    } else {
        Err(CardError::Malformed("CLA without logical-channel bits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apdu::hex_bytes as h;

    #[test]
    fn case1() {
        let c = Command::new(0x00, 0x20, 0x00, 0x01);
        assert_eq!(c.encode(Protocol::T0).unwrap(), h("00 20 00 01"));
        assert_eq!(c.encode(Protocol::T1).unwrap(), h("00 20 00 01"));
    }

    #[test]
    fn case2_le_256_is_00() {
        let c = Command::new(0x00, 0x2A, 0x9E, 0x9A).with_le(256);
        assert_eq!(c.encode(Protocol::T0).unwrap(), h("00 2A 9E 9A 00"));
        let c = Command::new(0x00, 0xB0, 0x00, 0x00).with_le(0x39);
        assert_eq!(c.encode(Protocol::T1).unwrap(), h("00 B0 00 00 39"));
    }

    #[test]
    fn case3() {
        let c = Command::new(0x00, 0xA4, 0x09, 0x04).with_data(&h("3F 00 2F 01"));
        assert_eq!(
            c.encode(Protocol::T0).unwrap(),
            h("00 A4 09 04 04 3F 00 2F 01")
        );
    }

    #[test]
    fn case4_drops_le_under_t0_only() {
        let c = Command::new(0x00, 0xA4, 0x04, 0x04)
            .with_data(&h("80 25 00 00 01 FF 01 00"))
            .with_le(256);
        assert_eq!(
            c.encode(Protocol::T0).unwrap(),
            h("00 A4 04 04 08 80 25 00 00 01 FF 01 00")
        );
        assert_eq!(
            c.encode(Protocol::T1).unwrap(),
            h("00 A4 04 04 08 80 25 00 00 01 FF 01 00 00")
        );
    }

    #[test]
    fn encode_rejects_bad_lengths() {
        let long = Command::new(0, 0x2A, 0x80, 0x86).with_data(&[0u8; 256]);
        assert!(matches!(
            long.encode(Protocol::T1),
            Err(CardError::Malformed(_))
        ));
        let max = Command::new(0, 0x2A, 0x80, 0x86).with_data(&[7u8; 255]);
        let enc = max.encode(Protocol::T1).unwrap();
        assert_eq!(enc.len(), 4 + 1 + 255);
        assert_eq!(enc[4], 0xFF);
        for le in [0, 257, usize::MAX] {
            let c = Command::new(0, 0xB0, 0, 0).with_le(le);
            assert!(c.encode(Protocol::T0).is_err(), "Le {le}");
        }
    }

    #[test]
    fn channel_bits() {
        let c = Command::new(0x00, 0xA4, 0x04, 0x0C)
            .with_channel(1)
            .unwrap();
        assert_eq!(c.cla, 0x01);
        assert_eq!(c.channel(), Some(1));
        let c = c.with_channel(3).unwrap();
        assert_eq!(c.cla, 0x03);
        let c = c.with_channel(0).unwrap();
        assert_eq!(c.cla, 0x00);
        // Chaining and SM bits are kept.
        let c = Command::new(0x1C, 0x2A, 0, 0).with_channel(2).unwrap();
        assert_eq!(c.cla, 0x1E);
        assert!(Command::new(0, 0xA4, 0, 0).with_channel(4).is_err());
        // Proprietary CLA: only channel 0.
        let c = Command::new(0xA0, 0xA4, 0, 0).with_channel(0).unwrap();
        assert_eq!(c.cla, 0xA0);
        assert_eq!(c.channel(), None);
        assert!(Command::new(0xA0, 0xA4, 0, 0).with_channel(1).is_err());
        assert!(Command::new(0x40, 0xA4, 0, 0).with_channel(1).is_err());
    }

    #[test]
    fn chaining_257_bytes_as_cps3_decipher() {
        // 81 || 256-byte cryptogram: 255 + 2 bytes (cpx-cards.md §8.12).
        let mut data = vec![0x81];
        data.extend((0..256).map(|i| i as u8));
        let c = Command::new(0x00, 0x2A, 0x80, 0x86)
            .with_data(&data)
            .with_le(256);
        let pieces = c.chain().unwrap();
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0].cla, 0x10);
        assert_eq!(pieces[0].data.len(), 255);
        assert_eq!(pieces[0].le, None);
        assert_eq!(pieces[1].cla, 0x00);
        assert_eq!(pieces[1].data, data[255..].to_vec());
        assert_eq!(pieces[1].le, Some(256));
        let e0 = pieces[0].encode(Protocol::T0).unwrap();
        assert_eq!(&e0[..6], &h("10 2A 80 86 FF 81")[..]);
        assert_eq!(
            pieces[1].encode(Protocol::T1).unwrap(),
            h("00 2A 80 86 02 FE FF 00")
        );
        // Re-joined data is the original.
        let joined: Vec<u8> = pieces.iter().flat_map(|p| p.data.clone()).collect();
        assert_eq!(joined, data);
    }

    #[test]
    fn chaining_keeps_channel_and_splits_exact_multiples() {
        let c = Command::new(0x01, 0x2A, 0x80, 0x86).with_data(&[1u8; 510]);
        let pieces = c.chain().unwrap();
        assert_eq!(
            pieces.iter().map(|p| p.cla).collect::<Vec<_>>(),
            vec![0x11, 0x01]
        );
        assert_eq!(
            pieces.iter().map(|p| p.data.len()).collect::<Vec<_>>(),
            vec![255, 255]
        );
        let c = Command::new(0x00, 0x2A, 0x80, 0x86).with_data(&[1u8; 766]);
        let lens: Vec<usize> = c.chain().unwrap().iter().map(|p| p.data.len()).collect();
        assert_eq!(lens, vec![255, 255, 255, 1]);
        // Short commands are one piece, unchanged.
        let c = Command::new(0x00, 0x2A, 0x80, 0x86).with_data(&[1u8; 255]);
        assert_eq!(c.chain().unwrap(), vec![c.clone()]);
        // No chaining bit in a proprietary CLA.
        let c = Command::new(0xA0, 0xD6, 0, 0).with_data(&[0u8; 300]);
        assert!(c.chain().is_err());
    }

    #[test]
    fn debug_redacts_pin_data() {
        let c = Command::new(0x00, 0x20, 0x00, 0x01).with_data(b"1234\xFF\xFF\xFF\xFF");
        let s = format!("{c:?}");
        assert!(s.contains("<redacted>"), "{s}");
        assert!(!s.contains("31323334"), "{s}");
        let c = Command::new(0x00, 0xA4, 0x02, 0x04).with_data(&[0xA0, 0x01]);
        assert!(format!("{c:?}").contains("A001"));
    }

    #[test]
    fn get_response_form() {
        let c = Command::get_response(0x01, 0x27);
        assert_eq!(c.encode(Protocol::T0).unwrap(), h("01 C0 00 00 27"));
        let c = Command::get_response(0xA0, 256);
        assert_eq!(c.encode(Protocol::T0).unwrap(), h("A0 C0 00 00 00"));
    }
}
