//! EF.SN (`3F00/D003`): the card's PAN and the token serial number derived from it
//! (cpx-cards.md §4.5, cryptolib-compat.md §5).
//!
//! The file is 12 bytes `5A 0A <PAN>`; the PAN is 10 BCD bytes starting with the ANS issuer
//! prefix `80 25 00 00 01`, ending with the Luhn digit and an `F` filler. The Cryptolib
//! takes the hex of the PAN without its last byte (`802500000199213845`), removes the
//! leading `8025000001` (`99213845`) and keeps the last 16 characters if longer.

use super::layout::{EF_SN_LEN, ISSUER_PREFIX};
use crate::apdu::CardError;
use crate::log::hex;

/// What EF.SN tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardSerial {
    /// The PAN digits without the last byte (Luhn digit + filler), e.g. `802500000199213845`.
    pub pan: String,
    /// CK_TOKEN_INFO.serialNumber, e.g. `99213845`.
    pub serial: String,
}

/// Parses EF.SN. Anything but a 12-byte `5A 0A` file with the ANS issuer prefix is not a
/// CPx card: [`CardError::UnsupportedCard`] (with the given ATR, for the log).
pub fn parse_ef_sn(file: &[u8], atr: &[u8]) -> Result<CardSerial, CardError> {
    let unsupported = || CardError::UnsupportedCard { atr: atr.to_vec() };
    if file.len() != EF_SN_LEN || file[0] != 0x5A || usize::from(file[1]) != EF_SN_LEN - 2 {
        log::debug!(
            "EF.SN is not a 12-byte 5A 0A template ({} bytes)",
            file.len()
        );
        return Err(unsupported());
    }
    if file[2..7] != ISSUER_PREFIX {
        log::debug!("EF.SN issuer prefix {} is not ANS's", hex(&file[2..7]));
        return Err(unsupported());
    }
    let pan = hex(&file[2..EF_SN_LEN - 1]);
    let prefix = hex(&ISSUER_PREFIX);
    let rest = pan.strip_prefix(&prefix).unwrap_or(&pan);
    let serial = if rest.len() > 16 {
        rest[rest.len() - 16..].to_string()
    } else {
        rest.to_string()
    };
    Ok(CardSerial { pan, serial })
}

/// Luhn check digit of a digit string (the digit to append on the right).
pub fn luhn_digit(digits: &str) -> Option<u8> {
    let mut sum = 0u32;
    for (i, c) in digits.chars().rev().enumerate() {
        let d = c.to_digit(10)?;
        let v = if i % 2 == 0 { d * 2 } else { d };
        sum += if v > 9 { v - 9 } else { v };
    }
    Some(((10 - sum % 10) % 10) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL: [u8; 12] = [
        0x5A, 0x0A, 0x80, 0x25, 0x00, 0x00, 0x01, 0x99, 0x21, 0x38, 0x45, 0x0F,
    ];

    #[test]
    fn published_example() {
        let s = parse_ef_sn(&REAL, &[]).unwrap();
        assert_eq!(s.pan, "802500000199213845");
        assert_eq!(s.serial, "99213845");
        // The published card's Luhn digit (0) is consistent with its PAN.
        assert_eq!(luhn_digit(&s.pan), Some(0));
        assert_eq!(luhn_digit("7992739871"), Some(3));
        assert_eq!(luhn_digit("12a"), None);
    }

    #[test]
    fn rejects_non_cpx() {
        let atr = [0x3B, 0xAC];
        let mut wrong_issuer = REAL;
        wrong_issuer[6] = 0x02;
        let mut wrong_tag = REAL;
        wrong_tag[0] = 0x5B;
        let mut wrong_len = REAL;
        wrong_len[1] = 0x09;
        for f in [
            &wrong_issuer[..],
            &wrong_tag[..],
            &wrong_len[..],
            &REAL[..11],
            &[][..],
        ] {
            assert_eq!(
                parse_ef_sn(f, &atr),
                Err(CardError::UnsupportedCard { atr: atr.to_vec() }),
                "{f:02X?}"
            );
        }
        let mut longer = REAL.to_vec();
        longer.push(0);
        assert!(parse_ef_sn(&longer, &atr).is_err());
    }

    #[test]
    fn other_serials() {
        let f = [
            0x5A, 0x0A, 0x80, 0x25, 0x00, 0x00, 0x01, 0x99, 0x70, 0x00, 0x11, 0x3F,
        ];
        let s = parse_ef_sn(&f, &[]).unwrap();
        assert_eq!(s.serial, "99700011");
        assert_eq!(s.pan, "802500000199700011");
    }
}
