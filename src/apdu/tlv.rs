//! BER-TLV (ISO 7816-4 §6.3 / X.690 subset) and FCP templates.
//!
//! The parser borrows from its input and never panics: truncated or oversized fields come
//! back as [`CardError::Malformed`]. Tags are up to 4 bytes (`BF 81 01`, `7F 41`); lengths
//! are short form or `81`–`84` long form (non-minimal encodings accepted, indefinite refused).

use super::error::CardError;

/// A BER tag, its bytes packed big-endian into a `u32` (`BF 81 01` is `Tag(0xBF8101)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(pub u32);

impl Tag {
    /// The tag's bytes (at least one).
    pub fn to_bytes(self) -> Vec<u8> {
        let bytes = self.0.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count().min(3);
        bytes[skip..].to_vec()
    }

    /// First tag byte.
    fn first_byte(self) -> u8 {
        self.to_bytes()[0]
    }

    /// Constructed encoding (bit 6 of the first byte): the value is itself TLVs.
    pub fn is_constructed(self) -> bool {
        self.first_byte() & 0x20 != 0
    }

    /// Reads a tag from the start of `input`; returns it and the number of bytes used.
    pub fn parse(input: &[u8]) -> Result<(Tag, usize), CardError> {
        let first = *input
            .first()
            .ok_or(CardError::Malformed("TLV: missing tag"))?;
        let mut value = u32::from(first);
        let mut used = 1;
        if first & 0x1F == 0x1F {
            loop {
                let b = *input
                    .get(used)
                    .ok_or(CardError::Malformed("TLV: truncated tag"))?;
                used += 1;
                if used > 4 {
                    return Err(CardError::Malformed("TLV: tag longer than 4 bytes"));
                }
                value = (value << 8) | u32::from(b);
                if b & 0x80 == 0 {
                    break;
                }
            }
        }
        Ok((Tag(value), used))
    }
}

/// Reads a BER length from the start of `input`; returns it and the number of bytes used.
pub fn parse_length(input: &[u8]) -> Result<(usize, usize), CardError> {
    let first = *input
        .first()
        .ok_or(CardError::Malformed("TLV: missing length"))?;
    match first {
        0x00..=0x7F => Ok((usize::from(first), 1)),
        0x81..=0x84 => {
            let n = usize::from(first & 0x7F);
            let bytes = input
                .get(1..1 + n)
                .ok_or(CardError::Malformed("TLV: truncated length"))?;
            let len = bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
            let len =
                usize::try_from(len).map_err(|_| CardError::Malformed("TLV: length too large"))?;
            Ok((len, 1 + n))
        }
        0x80 => Err(CardError::Malformed("TLV: indefinite length")),
        _ => Err(CardError::Malformed("TLV: length field too long")),
    }
}

/// One TLV, borrowing its value from the parsed buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: Tag,
    pub value: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// Parses one TLV at the start of `input`; returns it and the bytes that follow.
    pub fn parse(input: &'a [u8]) -> Result<(Tlv<'a>, &'a [u8]), CardError> {
        let (tag, tag_len) = Tag::parse(input)?;
        let (len, len_len) = parse_length(&input[tag_len..])?;
        let start = tag_len + len_len;
        let end = start
            .checked_add(len)
            .ok_or(CardError::Malformed("TLV: length overflow"))?;
        let value = input
            .get(start..end)
            .ok_or(CardError::Malformed("TLV: value shorter than its length"))?;
        Ok((Tlv { tag, value }, &input[end..]))
    }

    /// The TLVs inside this TLV's value.
    pub fn children(&self) -> TlvIter<'a> {
        TlvIter::new(self.value)
    }

    /// The first child with `tag`.
    pub fn find(&self, tag: Tag) -> Result<Option<Tlv<'a>>, CardError> {
        find(self.value, tag)
    }
}

/// Iterator over consecutive TLVs. After the first error it yields nothing more.
#[derive(Debug, Clone)]
pub struct TlvIter<'a> {
    rest: &'a [u8],
    skip_padding: bool,
    failed: bool,
}

impl<'a> TlvIter<'a> {
    /// Strict: every byte must belong to a TLV.
    pub fn new(input: &'a [u8]) -> TlvIter<'a> {
        TlvIter {
            rest: input,
            skip_padding: false,
            failed: false,
        }
    }

    /// ISO 7816-4 padding allowed: `00` and `FF` bytes before, between and after TLVs are
    /// skipped (EF.DIR is padded with `00` up to its file size).
    pub fn padded(input: &'a [u8]) -> TlvIter<'a> {
        TlvIter {
            rest: input,
            skip_padding: true,
            failed: false,
        }
    }
}

impl<'a> Iterator for TlvIter<'a> {
    type Item = Result<Tlv<'a>, CardError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if self.skip_padding {
            let pad = self
                .rest
                .iter()
                .take_while(|b| **b == 0x00 || **b == 0xFF)
                .count();
            self.rest = &self.rest[pad..];
        }
        if self.rest.is_empty() {
            return None;
        }
        match Tlv::parse(self.rest) {
            Ok((tlv, rest)) => {
                self.rest = rest;
                Some(Ok(tlv))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// All TLVs of `input` (strict).
pub fn parse_all(input: &[u8]) -> Result<Vec<Tlv<'_>>, CardError> {
    TlvIter::new(input).collect()
}

/// The first top-level TLV with `tag`. Parsing stops at the match, so garbage after it is
/// not an error.
pub fn find(input: &[u8], tag: Tag) -> Result<Option<Tlv<'_>>, CardError> {
    for tlv in TlvIter::new(input) {
        let tlv = tlv?;
        if tlv.tag == tag {
            return Ok(Some(tlv));
        }
    }
    Ok(None)
}

/// Follows a path of tags through nested constructed TLVs, e.g. `[70, BF8101, A0]`.
pub fn find_path<'a>(input: &'a [u8], path: &[Tag]) -> Result<Option<Tlv<'a>>, CardError> {
    let mut current: Option<Tlv<'a>> = None;
    let mut scope = input;
    for tag in path {
        match find(scope, *tag)? {
            Some(t) => {
                scope = t.value;
                current = Some(t);
            }
            None => return Ok(None),
        }
    }
    Ok(current)
}

/// Appends a BER length in the shortest form.
pub fn push_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u64).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let n = 8 - skip;
        out.push(0x80 | n as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// Appends tag ‖ length ‖ value.
pub fn push_tlv(out: &mut Vec<u8>, tag: Tag, value: &[u8]) {
    out.extend_from_slice(&tag.to_bytes());
    push_length(out, value.len());
    out.extend_from_slice(value);
}

/// tag ‖ length ‖ value as a new buffer.
pub fn tlv(tag: Tag, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 8);
    push_tlv(&mut out, tag, value);
    out
}

// ---------------------------------------------------------------------------------------
// FCP
// ---------------------------------------------------------------------------------------

/// FCP template tag.
pub const TAG_FCP: Tag = Tag(0x62);
/// FCI template tag.
pub const TAG_FCI: Tag = Tag(0x6F);

/// Security attributes in compact form (`8C`/`9C`): an access-mode byte (AMB), then one
/// security-condition byte (SCB) per AMB bit set among `0x40 … 0x01`, in that order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRule {
    /// The raw value (first AMB/SCB group, plus anything that follows it).
    pub raw: Vec<u8>,
}

impl AccessRule {
    /// Checks that the first AMB is followed by all its SCBs.
    pub fn parse(value: &[u8]) -> Result<AccessRule, CardError> {
        let amb = *value
            .first()
            .ok_or(CardError::Malformed("access rule: empty"))?;
        let needed = (amb & 0x7F).count_ones() as usize;
        if value.len() < 1 + needed {
            return Err(CardError::Malformed("access rule: missing SCB"));
        }
        Ok(AccessRule {
            raw: value.to_vec(),
        })
    }

    /// The access-mode byte.
    pub fn amb(&self) -> u8 {
        self.raw[0]
    }

    /// The SCB for one access-mode bit (`0x40` … `0x01`), `None` if the AMB does not have
    /// that bit (the operation is not described by this rule).
    pub fn scb(&self, mode_bit: u8) -> Option<u8> {
        if mode_bit.count_ones() != 1 || mode_bit & 0x7F == 0 || self.amb() & mode_bit == 0 {
            return None;
        }
        // SCBs are in order of decreasing bit: count the set bits above `mode_bit`.
        let above = self.amb() & 0x7F & !(mode_bit | (mode_bit - 1));
        self.raw.get(1 + above.count_ones() as usize).copied()
    }
}

/// The fields of an FCP (or FCI) we use. Unknown tags are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fcp {
    /// `80`: number of data bytes of an EF.
    pub size: Option<usize>,
    /// `82`: first byte of the file descriptor (`01` transparent EF, `38` DF).
    pub descriptor: Option<u8>,
    /// `83`: file identifier.
    pub fid: Option<u16>,
    /// `84`: DF name (AID).
    pub df_name: Option<Vec<u8>>,
    /// `88`: short EF identifier (the value byte shifted right by 3: `E8` → `1D`).
    pub sfi: Option<u8>,
    /// `8A`: life-cycle status (`05` = operational, activated).
    pub lcs: Option<u8>,
    /// `A1`/`8C`: contact access rules.
    pub contact_rule: Option<AccessRule>,
    /// `A1`/`9C`: contactless access rules.
    pub contactless_rule: Option<AccessRule>,
}

impl Fcp {
    /// Parses the answer to a SELECT: an FCP `62 …`, an FCI `6F …` (its FCP tags read
    /// directly or from a nested `62`), or nothing at all (`Fcp::default()`). Bytes after
    /// the template are ignored.
    pub fn parse(data: &[u8]) -> Result<Fcp, CardError> {
        if data.is_empty() {
            return Ok(Fcp::default());
        }
        let (outer, _) = Tlv::parse(data)?;
        let mut fcp = Fcp::default();
        match outer.tag {
            TAG_FCP => fcp.absorb(outer.value)?,
            TAG_FCI => {
                fcp.absorb(outer.value)?;
                if let Some(inner) = outer.find(TAG_FCP)? {
                    fcp.absorb(inner.value)?;
                }
            }
            _ => return Err(CardError::Malformed("FCP: neither 62 nor 6F")),
        }
        Ok(fcp)
    }

    /// Reads the known tags of one template level.
    fn absorb(&mut self, template: &[u8]) -> Result<(), CardError> {
        for item in TlvIter::new(template) {
            let item = item?;
            let v = item.value;
            match item.tag.0 {
                0x80 => self.size = Some(be_uint(v, "FCP: file size")?),
                0x82 => self.descriptor = v.first().copied(),
                0x83 => {
                    let fid: [u8; 2] = v
                        .try_into()
                        .map_err(|_| CardError::Malformed("FCP: file ID not 2 bytes"))?;
                    self.fid = Some(u16::from_be_bytes(fid));
                }
                0x84 => self.df_name = Some(v.to_vec()),
                0x88 => self.sfi = v.first().map(|b| b >> 3),
                0x8A => self.lcs = v.first().copied(),
                0xA1 => {
                    for rule in TlvIter::new(v) {
                        let rule = rule?;
                        match rule.tag.0 {
                            0x8C => self.contact_rule = Some(AccessRule::parse(rule.value)?),
                            0x9C => self.contactless_rule = Some(AccessRule::parse(rule.value)?),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// File descriptor says DF.
    pub fn is_df(&self) -> bool {
        self.descriptor.is_some_and(|d| d & 0xBF == 0x38)
    }

    /// File descriptor says transparent (working or internal) EF.
    pub fn is_transparent_ef(&self) -> bool {
        self.descriptor
            .is_some_and(|d| d & 0x80 == 0 && d & 0x38 != 0x38 && d & 0x07 == 0x01)
    }

    /// Parses the CPS2ter volet's FCI (cpx-cards.md §11): tag `85`, then file size (2),
    /// file ID (2), type (1: `01` MF, `02` DF, `04` EF), then more proprietary bytes. The
    /// `85` may stand alone or inside a `6F`. The type becomes a descriptor `38` or `01`.
    pub fn parse_cps2ter(data: &[u8]) -> Result<Fcp, CardError> {
        let (outer, _) = Tlv::parse(data)?;
        let prop = match outer.tag.0 {
            0x85 => outer,
            0x6F => outer
                .find(Tag(0x85))?
                .ok_or(CardError::Malformed("CPS2ter FCI: no tag 85"))?,
            _ => return Err(CardError::Malformed("CPS2ter FCI: neither 85 nor 6F")),
        };
        let v = prop.value;
        if v.len() < 5 {
            return Err(CardError::Malformed("CPS2ter FCI: shorter than 5 bytes"));
        }
        let descriptor = match v[4] {
            0x01 | 0x02 => 0x38,
            0x04 => 0x01,
            _ => return Err(CardError::Malformed("CPS2ter FCI: unknown file type")),
        };
        Ok(Fcp {
            size: Some(usize::from(u16::from_be_bytes([v[0], v[1]]))),
            fid: Some(u16::from_be_bytes([v[2], v[3]])),
            descriptor: Some(descriptor),
            ..Fcp::default()
        })
    }
}

/// Big-endian unsigned integer of 1 to 4 bytes.
fn be_uint(v: &[u8], what: &'static str) -> Result<usize, CardError> {
    if v.is_empty() || v.len() > 4 {
        return Err(CardError::Malformed(what));
    }
    Ok(v.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apdu::hex_bytes as h;

    #[test]
    fn multibyte_tags() {
        assert_eq!(Tag::parse(&h("BF 81 01 03")).unwrap(), (Tag(0xBF8101), 3));
        assert_eq!(Tag::parse(&h("7F 41 80")).unwrap(), (Tag(0x7F41), 2));
        assert_eq!(Tag::parse(&h("5F 20")).unwrap(), (Tag(0x5F20), 2));
        assert_eq!(Tag::parse(&h("8C")).unwrap(), (Tag(0x8C), 1));
        assert!(Tag::parse(&h("BF 81")).is_err());
        assert!(Tag::parse(&h("BF 81 81 81 01")).is_err());
        assert!(Tag::parse(&[]).is_err());
        assert_eq!(Tag(0xBF8101).to_bytes(), h("BF 81 01"));
        assert_eq!(Tag(0x7F41).to_bytes(), h("7F 41"));
        assert_eq!(Tag(0x00).to_bytes(), vec![0]);
        assert!(Tag(0xBF8101).is_constructed());
        assert!(Tag(0x7F41).is_constructed());
        assert!(!Tag(0x80).is_constructed());
    }

    #[test]
    fn lengths() {
        assert_eq!(parse_length(&[0x7F]).unwrap(), (0x7F, 1));
        assert_eq!(parse_length(&h("81 80")).unwrap(), (0x80, 2));
        assert_eq!(parse_length(&h("82 01 04")).unwrap(), (0x104, 3));
        assert_eq!(parse_length(&h("81 05")).unwrap(), (5, 2)); // non-minimal accepted
        assert!(parse_length(&h("80")).is_err());
        assert!(parse_length(&h("85 00 00 00 00 01")).is_err());
        assert!(parse_length(&h("82 01")).is_err());
        for len in [0, 1, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x1_0000] {
            let mut out = Vec::new();
            push_length(&mut out, len);
            assert_eq!(parse_length(&out).unwrap(), (len, out.len()), "{len}");
        }
        let mut out = Vec::new();
        push_length(&mut out, 0x104);
        assert_eq!(out, h("82 01 04"));
    }

    #[test]
    fn nested_sdo_docp() {
        // Real CHV 1 DOCP (cpx-cards.md §6).
        let data = h("70 16 BF 81 01 12 A0 10 9A 01 03 9B 01 03 A1 08 8C 06 F3 00 00 13 FF 00");
        let a0 = find_path(&data, &[Tag(0x70), Tag(0xBF8101), Tag(0xA0)])
            .unwrap()
            .unwrap();
        assert_eq!(a0.find(Tag(0x9A)).unwrap().unwrap().value, &[3]);
        assert_eq!(a0.find(Tag(0x9B)).unwrap().unwrap().value, &[3]);
        let rule = find_path(a0.value, &[Tag(0xA1), Tag(0x8C)])
            .unwrap()
            .unwrap();
        assert_eq!(rule.value, h("F3 00 00 13 FF 00"));
        assert_eq!(find_path(&data, &[Tag(0x70), Tag(0xBF8102)]).unwrap(), None);
        let children: Vec<_> = a0.children().collect::<Result<_, _>>().unwrap();
        assert_eq!(children.len(), 3);
    }

    #[test]
    fn encode_round_trip() {
        let inner = tlv(Tag(0x7F41), &[0x80, 0x00]);
        let sdo = tlv(Tag(0xBF8101), &inner);
        assert_eq!(sdo, h("BF 81 01 05 7F 41 02 80 00"));
        let long = tlv(Tag(0x04), &[0xAB; 300]);
        assert_eq!(&long[..4], &h("04 82 01 2C")[..]);
        let (t, rest) = Tlv::parse(&long).unwrap();
        assert_eq!(t.tag, Tag(0x04));
        assert_eq!(t.value.len(), 300);
        assert!(rest.is_empty());
        let mut two = sdo.clone();
        two.extend_from_slice(&long);
        assert_eq!(parse_all(&two).unwrap().len(), 2);
    }

    #[test]
    fn strict_and_padded_iteration() {
        let mut dir = h("61 05 4F 03 E8 28 BD");
        dir.extend_from_slice(&[0u8; 6]);
        // Strict: each `00 00` is a (tag 00, length 0) TLV: one real TLV plus three.
        assert_eq!(parse_all(&dir).unwrap().len(), 4);
        let padded: Vec<_> = TlvIter::padded(&dir).collect::<Result<_, _>>().unwrap();
        assert_eq!(padded.len(), 1);
        assert_eq!(padded[0].tag, Tag(0x61));
        let ff = h("FF FF 4F 01 AA FF");
        assert_eq!(TlvIter::padded(&ff).count(), 1);
    }

    #[test]
    fn hostile_tlv_is_an_error() {
        for bad in [
            h("62 05 80 02 00"),
            h("62"),
            h("62 83 FF FF FF"),
            h("62 84 FF FF FF FF 00"),
            h("1F"),
            h("62 80 00 00"),
        ] {
            assert!(Tlv::parse(&bad).is_err(), "{bad:02X?}");
        }
        // The iterator stops after an error.
        let bad = h("80 01 00 80 05 00");
        let items: Vec<_> = TlvIter::new(&bad).collect();
        assert_eq!(items.len(), 2);
        assert!(items[0].is_ok() && items[1].is_err());
        assert!(find(&bad, Tag(0x99)).is_err());
        assert_eq!(find(&bad, Tag(0x80)).unwrap().unwrap().value, &[0]);
    }

    #[test]
    fn random_input_never_panics() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 40) as usize;
            let mut buf = Vec::with_capacity(len);
            let mut y = x;
            for _ in 0..len {
                y = y
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let b = (y >> 56) as u8;
                // Bias towards structure bytes.
                buf.push(match b % 8 {
                    0 => 0x62,
                    1 => 0x81,
                    2 => 0xA1,
                    3 => 0x1F,
                    _ => b,
                });
            }
            let _ = parse_all(&buf);
            let _ = TlvIter::padded(&buf).count();
            let _ = Fcp::parse(&buf);
            let _ = Fcp::parse_cps2ter(&buf);
            let _ = find_path(&buf, &[Tag(0x62), Tag(0xA1), Tag(0x8C)]);
        }
    }

    #[test]
    fn real_mf_fcp() {
        let fcp = Fcp::parse(&h(
            "62 1E 82 01 38 83 02 3F 00 84 08 80 25 00 00 01 FF 01 00 A1 08 8C 06 7A FF FF FF FF 45 8A 01 05",
        ))
        .unwrap();
        assert!(fcp.is_df());
        assert!(!fcp.is_transparent_ef());
        assert_eq!(fcp.fid, Some(0x3F00));
        assert_eq!(fcp.df_name, Some(h("80 25 00 00 01 FF 01 00")));
        assert_eq!(fcp.lcs, Some(0x05));
        assert_eq!(fcp.size, None);
        assert_eq!(fcp.sfi, None);
        let rule = fcp.contact_rule.unwrap();
        assert_eq!(rule.amb(), 0x7A);
        // 7A = 40 20 10 08 02: only CREATE EF (02) possible, under SM SE #5.
        assert_eq!(rule.scb(0x40), Some(0xFF));
        assert_eq!(rule.scb(0x02), Some(0x45));
        assert_eq!(rule.scb(0x01), None);
        assert_eq!(rule.scb(0x04), None);
        assert!(fcp.contactless_rule.is_none());
    }

    #[test]
    fn real_ef_atr_fcp() {
        let fcp = Fcp::parse(&h(
            "62 25 80 02 00 39 82 01 01 83 02 2F 01 88 01 E8 A1 12 8C 07 7B 45 FF FF FF 45 00 9C 07 7B FF FF FF FF FF 00 8A 01 05",
        ))
        .unwrap();
        assert!(fcp.is_transparent_ef());
        assert!(!fcp.is_df());
        assert_eq!(fcp.size, Some(0x39));
        assert_eq!(fcp.fid, Some(0x2F01));
        assert_eq!(fcp.sfi, Some(0x1D));
        assert_eq!(fcp.lcs, Some(0x05));
        let contact = fcp.contact_rule.unwrap();
        // DELETE and UPDATE under SM SE #5, READ always.
        assert_eq!(contact.scb(0x40), Some(0x45));
        assert_eq!(contact.scb(0x20), Some(0xFF));
        assert_eq!(contact.scb(0x02), Some(0x45));
        assert_eq!(contact.scb(0x01), Some(0x00));
        let cl = fcp.contactless_rule.unwrap();
        assert_eq!(cl.scb(0x40), Some(0xFF));
        assert_eq!(cl.scb(0x01), Some(0x00));
    }

    #[test]
    fn chv_rule_decoding() {
        // CHV 1: F3 00 00 13 FF 00 → CHANGE always, VERIFY always, RESET after SE #3.
        let r = AccessRule::parse(&h("F3 00 00 13 FF 00")).unwrap();
        assert_eq!(r.scb(0x40), Some(0x00));
        assert_eq!(r.scb(0x20), Some(0x00));
        assert_eq!(r.scb(0x10), Some(0x13));
        assert_eq!(r.scb(0x02), Some(0xFF));
        assert_eq!(r.scb(0x01), Some(0x00));
        assert_eq!(r.scb(0x80), None);
        assert_eq!(r.scb(0x03), None);
        assert!(AccessRule::parse(&h("F3 00 00")).is_err());
        assert!(AccessRule::parse(&[]).is_err());
    }

    #[test]
    fn fcp_variants() {
        assert_eq!(Fcp::parse(&[]).unwrap(), Fcp::default());
        // FCI with FCP tags directly.
        let fci = Fcp::parse(&h("6F 07 83 02 D0 03 80 01 0C")).unwrap();
        assert_eq!(fci.fid, Some(0xD003));
        assert_eq!(fci.size, Some(12));
        // FCI with a nested FCP and a DF name outside it.
        let fci = Fcp::parse(&h("6F 0C 84 02 E8 28 62 06 82 01 38 83 01 01")).unwrap_err();
        assert!(matches!(fci, CardError::Malformed(_))); // 83 of one byte is refused
        let fci = Fcp::parse(&h("6F 0D 84 02 E8 28 62 07 82 01 38 83 02 00 01")).unwrap();
        assert_eq!(fci.df_name, Some(h("E8 28")));
        assert_eq!(fci.fid, Some(0x0001));
        assert!(fci.is_df());
        // Trailing bytes after the template are ignored.
        let fcp = Fcp::parse(&h("62 03 80 01 10 90 00")).unwrap();
        assert_eq!(fcp.size, Some(0x10));
        // Not an FCP.
        assert!(Fcp::parse(&h("70 00")).is_err());
        // Truncated template.
        assert!(Fcp::parse(&h("62 1E 82 01 38")).is_err());
        // Oversized size field.
        assert!(Fcp::parse(&h("62 07 80 05 01 02 03 04 05")).is_err());
        // Empty SFI tag: no SFI.
        assert_eq!(Fcp::parse(&h("62 02 88 00")).unwrap().sfi, None);
    }

    #[test]
    fn cps2ter_fci() {
        let fcp = Fcp::parse_cps2ter(&h("85 07 00 40 40 10 04 00 00")).unwrap();
        assert_eq!(fcp.size, Some(0x40));
        assert_eq!(fcp.fid, Some(0x4010));
        assert!(fcp.is_transparent_ef());
        let df = Fcp::parse_cps2ter(&h("6F 07 85 05 00 00 7F 01 02")).unwrap();
        assert!(df.is_df());
        assert_eq!(df.fid, Some(0x7F01));
        assert!(Fcp::parse_cps2ter(&h("85 03 00 40 40")).is_err());
        assert!(Fcp::parse_cps2ter(&h("85 05 00 40 40 10 09")).is_err());
        assert!(Fcp::parse_cps2ter(&h("62 00")).is_err());
    }
}
