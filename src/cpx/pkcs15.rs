//! Lenient PKCS#15 (ISO/IEC 7816-15) parsing of what the CPx cards carry: ODF, TokenInfo,
//! AODF, PrKDF, CDF, DODF (cpx-cards.md §5).
//!
//! Leniency, as the real cards demand (§5.5):
//! * BIT STRINGs with an unused-bits count above 7 (`03 01 08`, `03 02 08 00`) are read as
//!   if the count were 0 (#2);
//! * no `algReference` in the PrKDF is fine: algorithms come from TokenInfo (#3);
//! * a key's Path may be empty or hold only an AID (#7);
//! * the PIN's CommonObjectAttributes.authId may name nothing (#4); maxLength may be below
//!   storedLength (#5);
//! * files are padded (`00`/`FF` after the last entry); an entry that does not parse is
//!   skipped with a log line instead of failing the whole file; unknown fields are ignored.

use crate::apdu::tlv::{Tlv, TlvIter};
use crate::apdu::CardError;

const SEQUENCE: u32 = 0x30;
const INTEGER: u32 = 0x02;
const BIT_STRING: u32 = 0x03;
const OCTET_STRING: u32 = 0x04;
const BOOLEAN: u32 = 0x01;
const UTF8_STRING: u32 = 0x0C;
const ENUMERATED: u32 = 0x0A;

/// ISO 7816-15 Path: a file path (relative to the application DF, or absolute from 3F00),
/// optionally an AID. Empty `path` = the object has no file (keys are SDOs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Path {
    pub path: Vec<u8>,
    pub index: Option<usize>,
    pub length: Option<usize>,
    pub aid: Option<Vec<u8>>,
}

/// CommonObjectAttributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommonObject {
    pub label: String,
    /// CommonObjectFlags: bit 0 private, bit 1 modifiable.
    pub flags: u64,
    pub auth_id: Option<Vec<u8>>,
    /// CommonObjectAttributes.userConsent: the object needs a fresh authentication every
    /// `n` uses (keys: before each signature when 1).
    pub user_consent: Option<u64>,
}

impl CommonObject {
    pub fn private(&self) -> bool {
        self.flags & 1 != 0
    }
    pub fn modifiable(&self) -> bool {
        self.flags & 2 != 0
    }
}

/// ODF: where the directory files are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Odf {
    pub prkdf: Vec<Path>,
    pub pukdf: Vec<Path>,
    /// certificates, trustedCertificates, usefulCertificates.
    pub cdf: Vec<Path>,
    pub dodf: Vec<Path>,
    pub aodf: Vec<Path>,
}

/// One AlgorithmInfo of TokenInfo.supportedAlgorithms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlgorithmInfo {
    pub reference: u64,
    /// PKCS#11 mechanism number.
    pub mechanism: u64,
    /// Operations bits: compute-checksum(0), compute-signature(1), verify-checksum(2),
    /// verify-signature(3), encipher(4), decipher(5), hash(6), derive-key(7).
    pub operations: u64,
    /// algRef: the card's algorithm reference (MSE tag 80).
    pub alg_ref: Option<u64>,
}

/// Operation bits of [`AlgorithmInfo::operations`].
pub mod op {
    pub const SIGN: u64 = 1 << 1;
    pub const DECIPHER: u64 = 1 << 5;
    pub const HASH: u64 = 1 << 6;
}

/// TokenInfo.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenInfo {
    pub serial: Vec<u8>,
    pub manufacturer: Option<String>,
    pub label: Option<String>,
    /// readOnly(0), loginRequired(1), prnGeneration(2), eidCompliant(3).
    pub flags: u64,
    pub algorithms: Vec<AlgorithmInfo>,
}

/// PinFlags bits.
pub mod pin_flag {
    pub const UNBLOCK_DISABLED: u64 = 1 << 3;
    pub const INITIALIZED: u64 = 1 << 4;
    pub const NEEDS_PADDING: u64 = 1 << 5;
    pub const UNBLOCKING_PIN: u64 = 1 << 6;
    pub const SO_PIN: u64 = 1 << 7;
}

/// An AODF PIN object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthObject {
    pub common: CommonObject,
    /// CommonAuthenticationObjectAttributes.authId: what keys and files refer to.
    pub auth_id: Vec<u8>,
    pub pin_flags: u64,
    pub pin_type: Option<u8>,
    pub min_len: usize,
    pub stored_len: usize,
    pub max_len: Option<usize>,
    pub reference: u8,
    pub pad_char: Option<u8>,
    pub path: Option<Path>,
}

impl AuthObject {
    pub fn is_so_pin(&self) -> bool {
        self.pin_flags & (pin_flag::SO_PIN | pin_flag::UNBLOCKING_PIN) != 0
    }
    pub fn needs_padding(&self) -> bool {
        self.pin_flags & pin_flag::NEEDS_PADDING != 0
    }
}

/// KeyUsageFlags bits.
pub mod usage {
    pub const ENCRYPT: u64 = 1 << 0;
    pub const DECRYPT: u64 = 1 << 1;
    pub const SIGN: u64 = 1 << 2;
    pub const SIGN_RECOVER: u64 = 1 << 3;
    pub const UNWRAP: u64 = 1 << 5;
    pub const NON_REPUDIATION: u64 = 1 << 9;
}

/// A PrKDF RSA private key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrivateKey {
    pub common: CommonObject,
    pub id: Vec<u8>,
    pub usage: u64,
    pub key_reference: Option<u64>,
    pub modulus_bits: Option<usize>,
    pub path: Option<Path>,
}

/// A CDF certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Certificate {
    pub common: CommonObject,
    pub id: Vec<u8>,
    pub authority: bool,
    pub path: Option<Path>,
}

/// A DODF data object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataObject {
    pub common: CommonObject,
    pub application: Option<String>,
    pub path: Option<Path>,
}

// ---------------------------------------------------------------------------------------
// Primitive decoders
// ---------------------------------------------------------------------------------------

/// A named-bit BIT STRING as a mask: named bit n (bit 0 = most significant bit of the
/// first content byte) is `1 << n`. An unused-bits count above 7 is the CPx quirk and is
/// read as 0; bits beyond 63 are ignored.
pub fn bit_string_flags(value: &[u8]) -> u64 {
    let Some((&unused, content)) = value.split_first() else {
        return 0;
    };
    let unused = if unused > 7 { 0 } else { unused };
    let mut flags = 0u64;
    for (i, byte) in content.iter().enumerate() {
        let mut byte = *byte;
        if i + 1 == content.len() {
            byte &= 0xFFu8 << unused;
        }
        for bit in 0..8 {
            let n = i * 8 + bit;
            if n < 64 && byte & (0x80 >> bit) != 0 {
                flags |= 1 << n;
            }
        }
    }
    flags
}

/// A non-negative INTEGER of up to 8 content bytes (a leading `00` allowed beyond that).
pub fn uint(value: &[u8]) -> Option<u64> {
    let skip = value.iter().take_while(|b| **b == 0).count();
    let v = &value[skip..];
    if v.len() > 8 {
        return None;
    }
    Some(v.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

fn utf8(value: &[u8]) -> String {
    String::from_utf8_lossy(value).into_owned()
}

/// The children of a constructed value, strict (a malformed child fails the parent).
fn children(value: &[u8]) -> Result<Vec<Tlv<'_>>, CardError> {
    TlvIter::new(value).collect()
}

/// The largest RSA modulus a PrKDF may declare (CPx keys are 2048 bits): the key length sizes
/// the signature buffers and paddings, so a card's absurd figure is ignored (the certificate's
/// modulus, if any, gives the size; else the key cannot sign).
pub const MAX_MODULUS_BITS: usize = 8192;

fn first<'a>(items: &[Tlv<'a>], tag: u32) -> Option<Tlv<'a>> {
    items.iter().find(|t| t.tag.0 == tag).copied()
}

/// Parses a Path SEQUENCE's content.
pub fn parse_path(value: &[u8]) -> Result<Path, CardError> {
    let mut path = Path::default();
    for item in children(value)? {
        match item.tag.0 {
            OCTET_STRING => path.path = item.value.to_vec(),
            INTEGER => path.index = uint(item.value).map(|v| v as usize),
            0x80 => path.length = uint(item.value).map(|v| v as usize),
            0x4F => path.aid = Some(item.value.to_vec()),
            _ => {}
        }
    }
    Ok(path)
}

/// The first Path found in a type-attributes value: a SEQUENCE whose first child is an
/// OCTET STRING or an AID (`4F`), or an empty SEQUENCE (no file). Searches depth-first, at
/// most a few levels down (the CDF nests it one level deeper than the DODF).
fn find_path(value: &[u8], depth: usize) -> Result<Option<Path>, CardError> {
    if depth > 4 {
        return Ok(None);
    }
    for item in children(value)? {
        if item.tag.0 != SEQUENCE {
            if item.tag.is_constructed() {
                if let Some(p) = find_path(item.value, depth + 1)? {
                    return Ok(Some(p));
                }
            }
            continue;
        }
        let inner = children(item.value)?;
        match inner.first().map(|t| t.tag.0) {
            None => return Ok(Some(Path::default())),
            Some(OCTET_STRING) | Some(0x4F) => return Ok(Some(parse_path(item.value)?)),
            Some(_) => {
                if let Some(p) = find_path(item.value, depth + 1)? {
                    return Ok(Some(p));
                }
            }
        }
    }
    Ok(None)
}

fn parse_common(value: &[u8]) -> Result<CommonObject, CardError> {
    let items = children(value)?;
    Ok(CommonObject {
        label: first(&items, UTF8_STRING)
            .map(|t| utf8(t.value))
            .unwrap_or_default(),
        flags: first(&items, BIT_STRING).map_or(0, |t| bit_string_flags(t.value)),
        auth_id: first(&items, OCTET_STRING).map(|t| t.value.to_vec()),
        user_consent: first(&items, INTEGER).and_then(|t| uint(t.value)),
    })
}

/// Iterates the entries of a directory file (padding allowed); entries failing to parse
/// are skipped with a log line; parsing stops at garbage.
fn entries<T>(
    file: &[u8],
    what: &'static str,
    mut parse: impl FnMut(&Tlv<'_>) -> Result<Option<T>, CardError>,
) -> Vec<T> {
    let mut out = Vec::new();
    for item in TlvIter::padded(file) {
        let item = match item {
            Ok(item) => item,
            Err(e) => {
                log::warn!("{what}: stopped at unparsable bytes ({e})");
                break;
            }
        };
        match parse(&item) {
            Ok(Some(v)) => out.push(v),
            Ok(None) => log::debug!("{what}: entry with tag {:X} ignored", item.tag.0),
            Err(e) => log::warn!("{what}: entry skipped ({e})"),
        }
    }
    out
}

/// The three parts of a PKCS#15 object: common attributes, class attributes, and the
/// `[1]` type attributes (the optional `[0]` subclass attributes are skipped).
fn object_parts<'a>(entry: &Tlv<'a>) -> Result<(Tlv<'a>, Tlv<'a>, Option<Tlv<'a>>), CardError> {
    let parts = children(entry.value)?;
    let mut seqs = parts.iter().filter(|t| t.tag.0 == SEQUENCE);
    let common = *seqs
        .next()
        .ok_or(CardError::Malformed("PKCS#15: no common attributes"))?;
    let class = *seqs
        .next()
        .ok_or(CardError::Malformed("PKCS#15: no class attributes"))?;
    let typed = parts.iter().find(|t| t.tag.0 == 0xA1).copied();
    Ok((common, class, typed))
}

// ---------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------

/// ODF: `[n] Path` entries (n = 0 PrKDF … 8 AODF).
pub fn parse_odf(file: &[u8]) -> Odf {
    let mut odf = Odf::default();
    let found = entries(file, "ODF", |item| {
        let Some(path) = find_path(item.value, 0)? else {
            return Ok(None);
        };
        Ok(Some((item.tag.0, path)))
    });
    for (tag, path) in found {
        match tag {
            0xA0 => odf.prkdf.push(path),
            0xA1 | 0xA2 => odf.pukdf.push(path),
            0xA4..=0xA6 => odf.cdf.push(path),
            0xA7 => odf.dodf.push(path),
            0xA8 => odf.aodf.push(path),
            _ => {}
        }
    }
    odf
}

/// TokenInfo.
pub fn parse_token_info(file: &[u8]) -> Result<TokenInfo, CardError> {
    let (outer, _) = Tlv::parse(file)?;
    if outer.tag.0 != SEQUENCE {
        return Err(CardError::Malformed("TokenInfo: not a SEQUENCE"));
    }
    let mut info = TokenInfo::default();
    let mut utf8_strings = Vec::new();
    for item in children(outer.value)? {
        match item.tag.0 {
            OCTET_STRING if info.serial.is_empty() => info.serial = item.value.to_vec(),
            UTF8_STRING => utf8_strings.push(utf8(item.value)),
            0x80 => info.label = Some(utf8(item.value)),
            BIT_STRING => info.flags = bit_string_flags(item.value),
            0xA2 => {
                for alg in TlvIter::new(item.value) {
                    match parse_algorithm(&alg?) {
                        Ok(a) => info.algorithms.push(a),
                        Err(e) => log::warn!("TokenInfo: algorithm skipped ({e})"),
                    }
                }
            }
            _ => {}
        }
    }
    // manufacturerID is the first UTF8String; some encoders put the label untagged after it.
    let mut strings = utf8_strings.into_iter();
    info.manufacturer = strings.next();
    if info.label.is_none() {
        info.label = strings.next();
    }
    Ok(info)
}

fn parse_algorithm(item: &Tlv<'_>) -> Result<AlgorithmInfo, CardError> {
    if item.tag.0 != SEQUENCE {
        return Err(CardError::Malformed("AlgorithmInfo: not a SEQUENCE"));
    }
    let mut ints_before = Vec::new();
    let mut operations = None;
    let mut alg_ref = None;
    for f in children(item.value)? {
        match (f.tag.0, operations) {
            (INTEGER, None) => ints_before.push(uint(f.value).unwrap_or(0)),
            (BIT_STRING, None) => operations = Some(bit_string_flags(f.value)),
            (INTEGER, Some(_)) if alg_ref.is_none() => alg_ref = uint(f.value),
            _ => {}
        }
    }
    match ints_before[..] {
        [reference, mechanism, ..] => Ok(AlgorithmInfo {
            reference,
            mechanism,
            operations: operations.unwrap_or(0),
            alg_ref,
        }),
        _ => Err(CardError::Malformed(
            "AlgorithmInfo: reference/algorithm missing",
        )),
    }
}

/// AODF: PIN objects (other authentication object types are ignored).
pub fn parse_aodf(file: &[u8]) -> Vec<AuthObject> {
    entries(file, "AODF", |entry| {
        if entry.tag.0 != SEQUENCE {
            return Ok(None);
        }
        let (common, class, typed) = object_parts(entry)?;
        let mut obj = AuthObject {
            common: parse_common(common.value)?,
            ..AuthObject::default()
        };
        obj.auth_id = first(&children(class.value)?, OCTET_STRING)
            .map(|t| t.value.to_vec())
            .unwrap_or_default();
        let typed = typed.ok_or(CardError::Malformed("AODF: no PIN attributes"))?;
        let attrs = first(&children(typed.value)?, SEQUENCE)
            .ok_or(CardError::Malformed("AODF: no PIN attributes"))?;
        let mut ints = Vec::new();
        for f in children(attrs.value)? {
            match f.tag.0 {
                BIT_STRING => obj.pin_flags = bit_string_flags(f.value),
                ENUMERATED => obj.pin_type = f.value.last().copied(),
                INTEGER => ints.push(uint(f.value).unwrap_or(0) as usize),
                0x80 => obj.reference = uint(f.value).unwrap_or(0) as u8,
                OCTET_STRING => obj.pad_char = f.value.first().copied(),
                SEQUENCE => obj.path = Some(parse_path(f.value)?),
                _ => {}
            }
        }
        match ints[..] {
            [min, stored, ref rest @ ..] => {
                obj.min_len = min;
                obj.stored_len = stored;
                obj.max_len = rest.first().copied();
            }
            _ => return Err(CardError::Malformed("AODF: PIN lengths missing")),
        }
        Ok(Some(obj))
    })
}

/// PrKDF: RSA private keys (untagged entries; other key types are ignored).
pub fn parse_prkdf(file: &[u8]) -> Vec<PrivateKey> {
    entries(file, "PrKDF", |entry| {
        if entry.tag.0 != SEQUENCE {
            return Ok(None);
        }
        let (common, class, typed) = object_parts(entry)?;
        let mut key = PrivateKey {
            common: parse_common(common.value)?,
            ..PrivateKey::default()
        };
        let class = children(class.value)?;
        key.id = first(&class, OCTET_STRING)
            .map(|t| t.value.to_vec())
            .ok_or(CardError::Malformed("PrKDF: no iD"))?;
        key.usage = first(&class, BIT_STRING).map_or(0, |t| bit_string_flags(t.value));
        key.key_reference = first(&class, INTEGER).and_then(|t| uint(t.value));
        if let Some(typed) = typed {
            key.path = find_path(typed.value, 0)?;
            if let Some(attrs) = first(&children(typed.value)?, SEQUENCE) {
                key.modulus_bits = first(&children(attrs.value)?, INTEGER)
                    .and_then(|t| uint(t.value))
                    .and_then(|v| usize::try_from(v).ok())
                    .filter(|bits| {
                        let plausible = (1..=MAX_MODULUS_BITS).contains(bits);
                        if !plausible {
                            log::info!("PrKDF: modulus length {bits} bits ignored");
                        }
                        plausible
                    });
            }
        }
        Ok(Some(key))
    })
}

/// CDF: X.509 certificates.
pub fn parse_cdf(file: &[u8]) -> Vec<Certificate> {
    entries(file, "CDF", |entry| {
        if entry.tag.0 != SEQUENCE {
            return Ok(None);
        }
        let (common, class, typed) = object_parts(entry)?;
        let class = children(class.value)?;
        let id = first(&class, OCTET_STRING)
            .map(|t| t.value.to_vec())
            .ok_or(CardError::Malformed("CDF: no iD"))?;
        let authority =
            first(&class, BOOLEAN).is_some_and(|t| t.value.first().is_some_and(|b| *b != 0));
        let path = match typed {
            Some(t) => find_path(t.value, 0)?,
            None => None,
        };
        Ok(Some(Certificate {
            common: parse_common(common.value)?,
            id,
            authority,
            path,
        }))
    })
}

/// DODF: opaque data objects (untagged entries).
pub fn parse_dodf(file: &[u8]) -> Vec<DataObject> {
    entries(file, "DODF", |entry| {
        if entry.tag.0 != SEQUENCE {
            return Ok(None);
        }
        let (common, class, typed) = object_parts(entry)?;
        let class = children(class.value)?;
        let path = match typed {
            Some(t) => find_path(t.value, 0)?,
            None => None,
        };
        Ok(Some(DataObject {
            common: parse_common(common.value)?,
            application: first(&class, UTF8_STRING).map(|t| utf8(t.value)),
            path,
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // A tiny DER writer for the tests (independent of the generator's).
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let n = content.len();
        if n < 0x80 {
            out.push(n as u8);
        } else if n < 0x100 {
            out.extend([0x81, n as u8]);
        } else {
            out.extend([0x82, (n >> 8) as u8, n as u8]);
        }
        out.extend_from_slice(content);
        out
    }
    fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
        tlv(0x30, &parts.concat())
    }
    fn utf8s(s: &str) -> Vec<u8> {
        tlv(0x0C, s.as_bytes())
    }
    fn oct(b: &[u8]) -> Vec<u8> {
        tlv(0x04, b)
    }
    fn int(v: u64) -> Vec<u8> {
        let mut b = v.to_be_bytes().to_vec();
        while b.len() > 1 && b[0] == 0 && b[1] & 0x80 == 0 {
            b.remove(0);
        }
        if b[0] & 0x80 != 0 {
            b.insert(0, 0);
        }
        tlv(0x02, &b)
    }
    fn path(fid: &[u8]) -> Vec<u8> {
        seq(&[oct(fid)])
    }
    const AID: [u8; 13] = [
        0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x80, 0x25, 0, 0, 1, 0xFF, 0, 0x10,
    ];
    fn id(n: u8) -> Vec<u8> {
        let mut v = AID.to_vec();
        v.push(n);
        v
    }

    #[test]
    fn bit_strings_including_quirks() {
        assert_eq!(bit_string_flags(&[0x00]), 0);
        // The two CPx mis-encodings mean "no flags".
        assert_eq!(bit_string_flags(&[0x08]), 0);
        assert_eq!(bit_string_flags(&[0x08, 0x00]), 0);
        // unused-bits 8 with content: read as if 0.
        assert_eq!(bit_string_flags(&[0x09, 0x80]), 1);
        // private (bit 0) + modifiable (bit 1): 03 02 06 C0.
        assert_eq!(bit_string_flags(&[0x06, 0xC0]), 0b11);
        // nonRepudiation (bit 9): 03 03 06 00 40.
        assert_eq!(bit_string_flags(&[0x06, 0x00, 0x40]), 1 << 9);
        // Unused bits are masked off.
        assert_eq!(bit_string_flags(&[0x07, 0xFF]), 1);
        // PIN flags initialized(4), needs-padding(5), exchangeRefData(11): 03 03 04 0C 10.
        assert_eq!(
            bit_string_flags(&[0x04, 0x0C, 0x10]),
            (1 << 4) | (1 << 5) | (1 << 11)
        );
        assert_eq!(bit_string_flags(&[]), 0);
    }

    #[test]
    fn integers() {
        assert_eq!(uint(&[0x08, 0x00]), Some(2048));
        assert_eq!(uint(&[0x00, 0x81]), Some(0x81));
        assert_eq!(uint(&[]), Some(0));
        assert_eq!(uint(&[1; 9]), None);
    }

    #[test]
    fn odf_with_padding() {
        let mut odf = [
            tlv(0xA8, &path(&[0x70, 0x01])),
            tlv(0xA0, &path(&[0x70, 0x02])),
            tlv(0xA4, &path(&[0x70, 0x05])),
            tlv(0xA7, &path(&[0x70, 0x04])),
        ]
        .concat();
        odf.extend([0x00; 10]);
        let o = parse_odf(&odf);
        assert_eq!(o.aodf[0].path, vec![0x70, 0x01]);
        assert_eq!(o.prkdf[0].path, vec![0x70, 0x02]);
        assert_eq!(o.cdf[0].path, vec![0x70, 0x05]);
        assert_eq!(o.dodf[0].path, vec![0x70, 0x04]);
        assert!(o.pukdf.is_empty());
    }

    #[test]
    fn token_info_with_algorithms() {
        let alg = |r, m, ops: &[u8], a: Option<u64>| {
            let mut p = vec![int(r), int(m), vec![0x05, 0x00], tlv(0x03, ops)];
            if let Some(a) = a {
                p.push(int(a));
            }
            seq(&p)
        };
        let ti = seq(&[
            int(0),
            oct(&[0x99, 0x21]),
            utf8s("ASIP SANTE"),
            tlv(0x80, b"CPS3v3-2600971845"),
            tlv(0x03, &[0x06, 0xC0]),
            tlv(
                0xA2,
                &[
                    alg(1, 0x220, &[0x01, 0x02], Some(0x10)),
                    alg(3, 0x06, &[0x06, 0x40], Some(0x12)),
                    alg(6, 0x01, &[0x02, 0x04], None),
                ]
                .concat(),
            ),
            tlv(0xA5, &tlv(0x18, b"20100316110000Z")),
        ]);
        let t = parse_token_info(&ti).unwrap();
        assert_eq!(t.label.as_deref(), Some("CPS3v3-2600971845"));
        assert_eq!(t.manufacturer.as_deref(), Some("ASIP SANTE"));
        assert_eq!(t.serial, vec![0x99, 0x21]);
        assert_eq!(t.flags, 0b11);
        assert_eq!(t.algorithms.len(), 3);
        assert_eq!(t.algorithms[0].mechanism, 0x220);
        assert_eq!(t.algorithms[0].operations, op::HASH);
        assert_eq!(t.algorithms[0].alg_ref, Some(0x10));
        assert_eq!(t.algorithms[1].operations, op::SIGN);
        assert_eq!(t.algorithms[2].operations, op::DECIPHER);
        assert_eq!(t.algorithms[2].alg_ref, None);
        assert!(parse_token_info(&[0x04, 0x00]).is_err());
    }

    /// The real card's AODF shape (§5.2), with the `03 01 08` quirk.
    fn real_aodf(flags: &[u8]) -> Vec<u8> {
        let pin = seq(&[
            seq(&[
                utf8s("Code porteur de la carte CPS"),
                flags.to_vec(),
                oct(&[0x02]),
            ]),
            seq(&[oct(&[0x01])]),
            tlv(
                0xA1,
                &seq(&[
                    tlv(0x03, &[0x04, 0x0C, 0x10]),
                    tlv(0x0A, &[0x01]),
                    int(4),
                    int(8),
                    int(4),
                    tlv(0x80, &[0x01]),
                    oct(&[0xFF]),
                ]),
            ),
        ]);
        let puk = seq(&[
            seq(&[utf8s("Code de déblocage de la carte CPS"), flags.to_vec()]),
            seq(&[oct(&[0x04])]),
            tlv(
                0xA1,
                &seq(&[
                    tlv(0x03, &[0x04, 0x1D, 0x10]),
                    tlv(0x0A, &[0x01]),
                    int(8),
                    int(8),
                    int(8),
                    tlv(0x80, &[0x02]),
                ]),
            ),
        ]);
        [pin, puk].concat()
    }

    #[test]
    fn aodf_real_shape_quirky_and_strict() {
        for flags in [
            vec![0x03, 0x01, 0x08],
            vec![0x03, 0x02, 0x08, 0x00],
            vec![0x03, 0x01, 0x00],
        ] {
            let a = parse_aodf(&real_aodf(&flags));
            assert_eq!(a.len(), 2, "{flags:02X?}");
            let pin = &a[0];
            assert_eq!(pin.common.label, "Code porteur de la carte CPS");
            assert_eq!(pin.common.flags, 0);
            // Quirk #4: the common authId names nothing; the PIN's own authId is 01.
            assert_eq!(pin.common.auth_id, Some(vec![0x02]));
            assert_eq!(pin.auth_id, vec![0x01]);
            assert_eq!((pin.min_len, pin.stored_len, pin.max_len), (4, 8, Some(4)));
            assert_eq!(pin.reference, 1);
            assert_eq!(pin.pad_char, Some(0xFF));
            assert!(pin.needs_padding());
            assert!(!pin.is_so_pin());
            let puk = &a[1];
            assert_eq!(puk.common.label, "Code de déblocage de la carte CPS");
            assert!(puk.is_so_pin());
            assert_eq!(
                puk.pin_flags & pin_flag::UNBLOCK_DISABLED,
                pin_flag::UNBLOCK_DISABLED
            );
            assert_eq!(puk.reference, 2);
            assert_eq!(puk.pad_char, None);
            assert_eq!(puk.auth_id, vec![0x04]);
        }
    }

    #[test]
    fn prkdf_without_alg_reference_and_aid_only_path() {
        let key = |label: &str, n: u8, usage: &[u8], kref: u64, p: Vec<u8>| {
            seq(&[
                seq(&[utf8s(label), tlv(0x03, &[0x07, 0x80]), oct(&[0x01])]),
                seq(&[
                    oct(&id(n)),
                    tlv(0x03, usage),
                    tlv(0x03, &[0x04, 0xB0]),
                    int(kref),
                ]),
                tlv(0xA1, &seq(&[p, int(2048)])),
            ])
        };
        let file = [
            key("CPS_PRIV_SIG", 1, &[0x06, 0x00, 0x40], 0x81, seq(&[])),
            key(
                "CPS_PRIV_AUT",
                2,
                &[0x05, 0x60],
                0x82,
                seq(&[tlv(0x4F, &AID)]),
            ),
            // An EC key ([0]-tagged): ignored.
            tlv(0xA0, &seq(&[])),
            vec![0xFF, 0xFF],
        ]
        .concat();
        let keys = parse_prkdf(&file);
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].common.label, "CPS_PRIV_SIG");
        assert_eq!(keys[0].id, id(1));
        assert_eq!(keys[0].usage, usage::NON_REPUDIATION);
        assert_eq!(keys[0].key_reference, Some(0x81));
        assert_eq!(keys[0].modulus_bits, Some(2048));
        assert_eq!(keys[0].path, Some(Path::default()));
        assert!(keys[0].common.private());
        assert_eq!(keys[0].common.auth_id, Some(vec![0x01]));
        assert_eq!(keys[1].usage, usage::DECRYPT | usage::SIGN);
        assert_eq!(keys[1].key_reference, Some(0x82));
        let p = keys[1].path.as_ref().unwrap();
        assert!(p.path.is_empty());
        assert_eq!(p.aid.as_deref(), Some(&AID[..]));
    }

    /// A modulus length no card key has (it would size the signature buffers) is ignored.
    #[test]
    fn prkdf_absurd_modulus_length_is_ignored() {
        for (bits, kept) in [
            (&[0x08, 0x00][..], Some(2048)),
            (&[0x20, 0x00][..], Some(MAX_MODULUS_BITS)),
            (&[0x20, 0x01][..], None),
            (&[0x00][..], None),
            (&[0x01, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00][..], None),
        ] {
            let file = seq(&[
                seq(&[utf8s("CPS_PRIV_AUT")]),
                seq(&[oct(&id(2)), tlv(0x03, &[0x05, 0x60]), int(0x82)]),
                tlv(0xA1, &seq(&[seq(&[]), tlv(0x02, bits)])),
            ]);
            let keys = parse_prkdf(&file);
            assert_eq!(keys.len(), 1);
            assert_eq!(keys[0].modulus_bits, kept, "{bits:02X?}");
        }
    }

    #[test]
    fn cdf_with_quirky_flags() {
        let cert = |label: &str, n: u8, fid: &[u8], flags: Vec<u8>| {
            seq(&[
                seq(&[
                    utf8s(label),
                    flags,
                    seq(&[seq(&[tlv(0x03, &[0x07, 0x80]), vec![0x05, 0x00]])]),
                ]),
                seq(&[oct(&id(n))]),
                tlv(0xA1, &seq(&[path(fid)])),
            ])
        };
        let file = [
            cert(
                "Certificat de Signature CPS",
                1,
                &[0x71, 0x03],
                vec![0x03, 0x02, 0x08, 0x00],
            ),
            cert(
                "Certificat d'Authentification CPS",
                2,
                &[0x71, 0x02],
                vec![0x03, 0x01, 0x08],
            ),
        ]
        .concat();
        let certs = parse_cdf(&file);
        assert_eq!(certs.len(), 2);
        assert_eq!(certs[0].common.label, "Certificat de Signature CPS");
        assert_eq!(certs[0].common.flags, 0);
        assert_eq!(certs[0].id, id(1));
        assert!(!certs[0].authority);
        assert_eq!(certs[0].path.as_ref().unwrap().path, vec![0x71, 0x03]);
        assert_eq!(certs[1].path.as_ref().unwrap().path, vec![0x71, 0x02]);
        // A CA certificate with authority TRUE.
        let ca = seq(&[
            seq(&[utf8s("CA")]),
            seq(&[oct(&[9]), tlv(0x01, &[0xFF])]),
            tlv(0xA1, &seq(&[path(&[0x3F, 0x00, 0x71, 0x09])])),
        ]);
        let c = parse_cdf(&ca);
        assert!(c[0].authority);
        assert_eq!(
            c[0].path.as_ref().unwrap().path,
            vec![0x3F, 0x00, 0x71, 0x09]
        );
    }

    #[test]
    fn dodf_objects_and_a_broken_entry() {
        let obj = |label: &str, flags: Option<Vec<u8>>, fid: &[u8]| {
            let mut common = vec![utf8s(label)];
            if let Some(f) = flags {
                common.push(f);
                common.push(oct(&[0x01]));
            }
            seq(&[seq(&common), seq(&[utf8s("CPS")]), tlv(0xA1, &path(fid))])
        };
        let broken = seq(&[seq(&[utf8s("ONLY_COMMON")])]);
        let file = [
            obj(
                "CPS_DATA",
                Some(vec![0x03, 0x02, 0x06, 0x40]),
                &[0xA0, 0x01],
            ),
            broken,
            obj("CPS_NAME_PS", None, &[0xA0, 0x03]),
            obj(
                "CPS_ACTIVITY_01_PS",
                Some(vec![0x03, 0x02, 0x07, 0x80]),
                &[0xD1, 0x20],
            ),
        ]
        .concat();
        let d = parse_dodf(&file);
        assert_eq!(d.len(), 3);
        assert_eq!(d[0].common.label, "CPS_DATA");
        assert!(d[0].common.modifiable() && !d[0].common.private());
        assert_eq!(d[0].application.as_deref(), Some("CPS"));
        assert_eq!(d[0].path.as_ref().unwrap().path, vec![0xA0, 0x01]);
        assert_eq!(d[1].common.label, "CPS_NAME_PS");
        assert_eq!(d[1].common.flags, 0);
        assert!(d[2].common.private());
        assert_eq!(d[2].path.as_ref().unwrap().path, vec![0xD1, 0x20]);
    }

    #[test]
    fn garbage_stops_without_losing_earlier_entries() {
        let good = seq(&[seq(&[utf8s("A")]), seq(&[]), tlv(0xA1, &path(&[1, 2]))]);
        let mut file = good.clone();
        file.extend([0x30, 0x10, 0x01]); // truncated
        assert_eq!(parse_dodf(&file).len(), 1);
        assert!(parse_dodf(&[]).is_empty());
        assert!(parse_cdf(&[0x00; 16]).is_empty());
    }
}
