//! CPS3, IAS-ECC (cpx-cards.md §6–§8): what this generation sends its own way — the DOCP
//! GET DATA of the PIN counters, the MSE:SET forms and the key DF, the partial-hash PSO
//! HASH, PSO CDS after it, and PSO DECIPHER with the padding indicator. The ISO commands
//! both generations share are in `iso.rs`.
//!
//! MSE TLVs are written in the Cryptolib's order (`80` algorithm, then `84` key).

use sha2::digest::generic_array::GenericArray;

use super::files;
use super::iso;
use super::layout::MF;
use super::session::Session;
use crate::apdu::tlv::{find_path, Tag};
use crate::apdu::{CardError, Channel, Command, StatusWord};
use crate::soft::HashAlg;

/// MSE:SET control reference templates (P2).
pub mod template {
    /// Authentication (INTERNAL AUTHENTICATE).
    pub const AT: u8 = 0xA4;
    /// Hash.
    pub const HT: u8 = 0xAA;
    /// Digital signature.
    pub const DST: u8 = 0xB6;
    /// Confidentiality (PSO DECIPHER).
    pub const CT: u8 = 0xB8;
}

/// The counters of a CHV's DOCP: `9A` max tries, `9B` tries left, `9D` usage left.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Docp {
    pub max_tries: Option<u8>,
    pub tries_left: Option<u8>,
    pub usage_left: Option<u16>,
}

/// DOCP GET DATA of CHV `reference`: `00 CB 3F FF 0A 4D 08 70 06 BF 81 0r 02 A0 80 [00]`,
/// with the MF current (quirk §5.5 #11; `00 A4 09 0C 02 3F 00` first when needed).
pub fn read_chv_docp(
    ch: &mut Channel<'_>,
    s: &mut Session,
    reference: u8,
) -> Result<Docp, CardError> {
    files::ensure_df(ch, s, &[MF])?;
    let data = [
        0x4D, 0x08, 0x70, 0x06, 0xBF, 0x81, reference, 0x02, 0xA0, 0x80,
    ];
    let cmd = Command::new(0x00, 0xCB, 0x3F, 0xFF)
        .with_data(&data)
        .with_le(256);
    let answer = ch.transmit_ok(&cmd)?;
    parse_docp(&answer, reference)
}

/// Parses `70 L BF 81 0r L A0 L { 9A, 9B, 9D, A1 … }`.
pub fn parse_docp(answer: &[u8], reference: u8) -> Result<Docp, CardError> {
    let sdo = Tag(0xBF8100 | u32::from(reference));
    let docp = find_path(answer, &[Tag(0x70), sdo, Tag(0xA0)])?
        .ok_or(CardError::Malformed("DOCP: no 70/BF81xx/A0 template"))?;
    let mut out = Docp::default();
    for item in docp.children() {
        let item = item?;
        let v = item.value;
        let num = || v.iter().fold(0u16, |acc, b| (acc << 8) | u16::from(*b));
        match item.tag.0 {
            0x9A => out.max_tries = v.last().copied(),
            0x9B => out.tries_left = v.last().copied(),
            0x9D if !v.is_empty() && v.len() <= 2 => out.usage_left = Some(num()),
            _ => {}
        }
    }
    Ok(out)
}

/// MSE:SET `00 22 41 <template> Lc 80 01 <alg> [84 01 <key>]`.
pub fn mse_set(
    ch: &mut Channel<'_>,
    template: u8,
    alg: u8,
    key_ref: Option<u8>,
) -> Result<(), CardError> {
    let mut data = vec![0x80, 0x01, alg];
    if let Some(k) = key_ref {
        data.extend_from_slice(&[0x84, 0x01, k]);
    }
    iso::mse_set(ch, 0x41, template, &data)
}

/// MSE:SET for a key in the application DF. The key SDOs are local to that DF (§5.5 #11):
/// select it when the session does not know it to be current; if the card does not find
/// the key anyway (someone else moved the current DF), select and try once more.
pub fn mse_key(
    ch: &mut Channel<'_>,
    s: &mut Session,
    template: u8,
    alg: u8,
    key_ref: u8,
) -> Result<(), CardError> {
    let df = s.app_df.clone();
    files::ensure_df(ch, s, &df)?;
    match mse_set(ch, template, alg, Some(key_ref)) {
        Err(CardError::Status(StatusWord::DataNotFound | StatusWord::ReferenceDataUnusable))
        | Err(CardError::FileNotFound) => {
            s.forget_position();
            files::select_no_fcp(ch, s, &df)?;
            mse_set(ch, template, alg, Some(key_ref))
        }
        other => other,
    }
}

/// The host part of a partial hash (cpx-cards §8.9, Cryptolib style): every complete
/// 64-byte block except the last one of the message is hashed here; the card gets the
/// intermediate state, the bit count and a tail of 1 to 64 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialHash {
    /// Intermediate state words, big-endian (20 or 32 bytes); empty if no block was hashed.
    pub state: Vec<u8>,
    /// Message bits absorbed into `state`.
    pub bit_count: u64,
    /// The bytes the card hashes (1..=64 for a non-empty message).
    pub tail: Vec<u8>,
}

/// SHA-1 initial state (FIPS 180-4 §5.3.1).
const SHA1_INIT: [u32; 5] = [
    0x6745_2301,
    0xEFCD_AB89,
    0x98BA_DCFE,
    0x1032_5476,
    0xC3D2_E1F0,
];
/// SHA-256 initial state (FIPS 180-4 §5.3.3).
const SHA256_INIT: [u32; 8] = [
    0x6A09_E667,
    0xBB67_AE85,
    0x3C6E_F372,
    0xA54F_F53A,
    0x510E_527F,
    0x9B05_688C,
    0x1F83_D9AB,
    0x5BE0_CD19,
];

/// Splits `message` for PSO HASH. Empty messages have no tail (callers hash them in
/// software instead: no client sends an empty PSO HASH).
pub fn partial_hash(alg: HashAlg, message: &[u8]) -> PartialHash {
    let blocks = message.len().saturating_sub(1) / 64;
    let (head, tail) = message.split_at(blocks * 64);
    let chunks: Vec<GenericArray<u8, _>> = head
        .chunks_exact(64)
        .map(GenericArray::clone_from_slice)
        .collect();
    let state: Vec<u8> = if blocks == 0 {
        Vec::new()
    } else {
        match alg {
            HashAlg::Sha1 => {
                let mut st = SHA1_INIT;
                sha1::compress(&mut st, &chunks);
                st.iter().flat_map(|w| w.to_be_bytes()).collect()
            }
            HashAlg::Sha256 => {
                let mut st = SHA256_INIT;
                sha2::compress256(&mut st, &chunks);
                st.iter().flat_map(|w| w.to_be_bytes()).collect()
            }
        }
    };
    PartialHash {
        state,
        bit_count: (blocks as u64) * 512,
        tail: tail.to_vec(),
    }
}

/// PSO HASH data: `90 L [state ‖ count]` (or `90 00`) then `80 L tail`.
pub fn pso_hash_data(p: &PartialHash) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + p.state.len() + 8 + p.tail.len());
    if p.state.is_empty() {
        out.extend_from_slice(&[0x90, 0x00]);
    } else {
        out.push(0x90);
        out.push((p.state.len() + 8) as u8);
        out.extend_from_slice(&p.state);
        out.extend_from_slice(&p.bit_count.to_be_bytes());
    }
    out.push(0x80);
    out.push(p.tail.len() as u8);
    out.extend_from_slice(&p.tail);
    out
}

/// PSO HASH `00 2A 90 A0 Lc <data>` (after MSE HT).
pub fn pso_hash(ch: &mut Channel<'_>, p: &PartialHash) -> Result<(), CardError> {
    let cmd = Command::new(0x00, 0x2A, 0x90, 0xA0).with_data(&pso_hash_data(p));
    ch.transmit_ok(&cmd).map(|_| ())
}

/// PSO COMPUTE DIGITAL SIGNATURE: without data after PSO HASH (`00 2A 9E 9A 00`), or with
/// the hash (`00 2A 9E 9A <14|20> <hash> [00]`).
pub fn pso_cds(
    ch: &mut Channel<'_>,
    hash: Option<&[u8]>,
    sig_len: usize,
) -> Result<Vec<u8>, CardError> {
    iso::pso_cds(ch, hash, sig_len)
}

/// PSO DECIPHER with the padding indicator `81`, chained (§8.12); the card removes the
/// PKCS#1 padding.
pub fn pso_decipher(ch: &mut Channel<'_>, cryptogram: &[u8]) -> Result<Vec<u8>, CardError> {
    let mut data = Vec::with_capacity(cryptogram.len() + 1);
    data.push(0x81);
    data.extend_from_slice(cryptogram);
    iso::pso_decipher(ch, &data, 256)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    /// Completes a partial hash the way the card does (an independent finish: standard
    /// SHA padding over the tail with the total length), to compare with a full SHA.
    fn finish(alg: HashAlg, p: &PartialHash) -> Vec<u8> {
        let total_bits = p.bit_count + 8 * p.tail.len() as u64;
        let mut padded = p.tail.clone();
        padded.push(0x80);
        while padded.len() % 64 != 56 {
            padded.push(0);
        }
        padded.extend_from_slice(&total_bits.to_be_bytes());
        let blocks: Vec<GenericArray<u8, _>> = padded
            .chunks_exact(64)
            .map(GenericArray::clone_from_slice)
            .collect();
        let words = |bytes: &[u8]| -> Vec<u32> {
            bytes
                .chunks_exact(4)
                .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        };
        match alg {
            HashAlg::Sha1 => {
                let mut st = SHA1_INIT;
                if !p.state.is_empty() {
                    st.copy_from_slice(&words(&p.state));
                }
                sha1::compress(&mut st, &blocks);
                st.iter().flat_map(|w| w.to_be_bytes()).collect()
            }
            HashAlg::Sha256 => {
                let mut st = SHA256_INIT;
                if !p.state.is_empty() {
                    st.copy_from_slice(&words(&p.state));
                }
                sha2::compress256(&mut st, &blocks);
                st.iter().flat_map(|w| w.to_be_bytes()).collect()
            }
        }
    }

    #[test]
    fn partial_hash_completes_to_full_sha() {
        let message: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        for len in [1, 55, 56, 63, 64, 65, 100, 127, 128, 129, 640, 1000] {
            let m = &message[..len];
            for alg in [HashAlg::Sha1, HashAlg::Sha256] {
                let p = partial_hash(alg, m);
                assert!(
                    (1..=64).contains(&p.tail.len()),
                    "tail {} for {len}",
                    p.tail.len()
                );
                assert_eq!(p.bit_count as usize, (len - p.tail.len()) * 8);
                assert_eq!(p.state.len(), if len <= 64 { 0 } else { alg.len() });
                let full = match alg {
                    HashAlg::Sha1 => sha1::Sha1::digest(m).to_vec(),
                    HashAlg::Sha256 => sha2::Sha256::digest(m).to_vec(),
                };
                assert_eq!(finish(alg, &p), full, "{alg:?} {len}");
            }
        }
    }

    #[test]
    fn pso_hash_encoding() {
        // ≤ 64 bytes: "90 00 80 L message".
        let p = partial_hash(HashAlg::Sha256, b"abc");
        assert_eq!(
            pso_hash_data(&p),
            vec![0x90, 0x00, 0x80, 0x03, b'a', b'b', b'c']
        );
        // 100 bytes SHA-256 (§8.9 example): 90 28 <32-byte state> 00..02 00 80 24 <36 bytes>.
        let m = [0x42u8; 100];
        let d = pso_hash_data(&partial_hash(HashAlg::Sha256, &m));
        assert_eq!(d.len(), 2 + 40 + 2 + 36);
        assert_eq!(&d[..2], &[0x90, 0x28]);
        assert_eq!(&d[34..42], &[0, 0, 0, 0, 0, 0, 0x02, 0x00]);
        assert_eq!(&d[42..44], &[0x80, 0x24]);
        // A 128-byte message keeps the last full block as the tail (Cryptolib style).
        let d = pso_hash_data(&partial_hash(HashAlg::Sha1, &[1u8; 128]));
        assert_eq!(&d[..2], &[0x90, 0x1C]);
        assert_eq!(&d[30..32], &[0x80, 0x40]);
        assert_eq!(d.len(), 2 + 28 + 2 + 64);
        // Largest PSO HASH: 108 bytes (§8.9).
        assert_eq!(
            pso_hash_data(&partial_hash(HashAlg::Sha256, &[0u8; 1024])).len(),
            108
        );
    }

    #[test]
    fn docp_parsing() {
        // The real card's answer for the user PIN (§6).
        let real = [
            0x70, 0x16, 0xBF, 0x81, 0x01, 0x12, 0xA0, 0x10, 0x9A, 0x01, 0x03, 0x9B, 0x01, 0x03,
            0xA1, 0x08, 0x8C, 0x06, 0xF3, 0x00, 0x00, 0x13, 0xFF, 0x00,
        ];
        let d = parse_docp(&real, 1).unwrap();
        assert_eq!(
            d,
            Docp {
                max_tries: Some(3),
                tries_left: Some(3),
                usage_left: None
            }
        );
        let puk = [
            0x70, 0x10, 0xBF, 0x81, 0x02, 0x0C, 0xA0, 0x0A, 0x9A, 0x01, 0x0A, 0x9B, 0x01, 0x09,
            0x9D, 0x02, 0x00, 0x64,
        ];
        let d = parse_docp(&puk, 2).unwrap();
        assert_eq!(d.max_tries, Some(10));
        assert_eq!(d.tries_left, Some(9));
        assert_eq!(d.usage_left, Some(100));
        // Wrong reference → no template.
        assert!(parse_docp(&real, 2).is_err());
    }
}
