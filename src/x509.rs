//! X.509 certificates as the PKCS#11 layer needs them: the DER-encoded subject, issuer and
//! serial number (CKA_SUBJECT / CKA_ISSUER / CKA_SERIAL_NUMBER), the RSA public key
//! (CKA_MODULUS / CKA_PUBLIC_EXPONENT), validity dates, key usage.
//!
//! Also the two repairs card certificates need before anything parses them:
//! * [`trim_to_der`]: a certificate file is often longer than the certificate (padding);
//! * [`patch_signature_bit_string`]: the Cryptolib's fix 1232 (cryptolib-compat §6.4,
//!   cpx-cards §5.5 #8): a non-zero unused-bits byte in the signatureValue BIT STRING is
//!   rewritten to `00`, otherwise strict parsers (OpenSSL ≥ 1.0.1k, webpki) refuse it.
//!
//! A leaf module: no card, no CK_* types.

use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

/// Why a certificate could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum X509Error {
    #[error("not a DER certificate: {0}")]
    Malformed(&'static str),
    #[error("certificate does not parse: {0}")]
    Parse(String),
    #[error("certificate key is not RSA")]
    NotRsa,
}

/// The fields of a certificate, copied out of the DER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFields {
    /// DER of the subject Name (CKA_SUBJECT).
    pub subject: Vec<u8>,
    /// DER of the issuer Name (CKA_ISSUER).
    pub issuer: Vec<u8>,
    /// DER of the serial number INTEGER, tag and length included (CKA_SERIAL_NUMBER).
    pub serial_der: Vec<u8>,
    /// RSA modulus, big-endian, without leading zero bytes.
    pub modulus: Vec<u8>,
    /// RSA public exponent, big-endian, without leading zero bytes.
    pub public_exponent: Vec<u8>,
    /// Modulus size in bits.
    pub modulus_bits: usize,
    /// notBefore / notAfter as Unix timestamps (seconds).
    pub not_before: i64,
    pub not_after: i64,
    /// KeyUsage bits (RFC 5280 numbering: bit 0 digitalSignature = 0x0001 … ), if present.
    pub key_usage: Option<u16>,
}

/// One DER header: (tag byte, header length, content length). Single-byte tags only
/// (all that certificates use at the levels we walk); definite lengths up to 4 bytes.
fn der_header(input: &[u8]) -> Result<(u8, usize, usize), X509Error> {
    let tag = *input.first().ok_or(X509Error::Malformed("empty"))?;
    if tag & 0x1F == 0x1F {
        return Err(X509Error::Malformed("multi-byte tag"));
    }
    let first = *input
        .get(1)
        .ok_or(X509Error::Malformed("truncated length"))?;
    match first {
        0x00..=0x7F => Ok((tag, 2, usize::from(first))),
        0x81..=0x84 => {
            let n = usize::from(first & 0x7F);
            let bytes = input
                .get(2..2 + n)
                .ok_or(X509Error::Malformed("truncated length"))?;
            let len = bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            Ok((tag, 2 + n, len))
        }
        _ => Err(X509Error::Malformed("unsupported length form")),
    }
}

/// Total length (header + content) of the TLV at the start of `input`, checked to fit.
fn tlv_len(input: &[u8]) -> Result<usize, X509Error> {
    let (_, header, content) = der_header(input)?;
    let total = header
        .checked_add(content)
        .ok_or(X509Error::Malformed("length overflow"))?;
    if total > input.len() {
        return Err(X509Error::Malformed("truncated"));
    }
    Ok(total)
}

/// The certificate without whatever follows it in its file (zero or `FF` padding of a
/// fixed-size EF). Fails if `file` does not start with a complete SEQUENCE.
pub fn trim_to_der(file: &[u8]) -> Result<&[u8], X509Error> {
    if file.first() != Some(&0x30) {
        return Err(X509Error::Malformed("does not start with a SEQUENCE"));
    }
    Ok(&file[..tlv_len(file)?])
}

/// Offset of the signatureValue BIT STRING's unused-bits byte, if the certificate has the
/// shape `SEQUENCE { tbsCertificate, signatureAlgorithm, BIT STRING }` with exact lengths.
fn signature_unused_bits_offset(cert: &[u8]) -> Result<usize, X509Error> {
    let (tag, header, content) = der_header(cert)?;
    if tag != 0x30 || header + content != cert.len() {
        return Err(X509Error::Malformed("outer SEQUENCE length"));
    }
    let mut pos = header;
    for _ in 0..2 {
        pos += tlv_len(&cert[pos..])?;
    }
    let (tag, bs_header, bs_len) = der_header(&cert[pos..])?;
    if tag != 0x03 || bs_len == 0 || pos + bs_header + bs_len != cert.len() {
        return Err(X509Error::Malformed(
            "signatureValue is not the last BIT STRING",
        ));
    }
    Ok(pos + bs_header)
}

/// Rewrites a non-zero unused-bits byte of the signatureValue BIT STRING to `00`
/// (Cryptolib fix 1232). Returns whether the certificate was changed. A certificate that
/// does not have the expected shape is left alone.
pub fn patch_signature_bit_string(cert: &mut [u8]) -> bool {
    match signature_unused_bits_offset(cert) {
        Ok(at) if cert[at] != 0 => {
            cert[at] = 0;
            true
        }
        _ => false,
    }
}

/// The certificate as a card file holds it → the CKA_VALUE to serve: trimmed to its DER
/// length and with the signature BIT STRING patched.
pub fn card_certificate(file: &[u8]) -> Result<Vec<u8>, X509Error> {
    let mut der = trim_to_der(file)?.to_vec();
    if patch_signature_bit_string(&mut der) {
        log::debug!("certificate signatureValue unused-bits byte patched to 00");
    }
    Ok(der)
}

fn strip_leading_zeros(v: &[u8]) -> Vec<u8> {
    let skip = v.iter().take_while(|b| **b == 0).count();
    let s = &v[skip.min(v.len().saturating_sub(1))..];
    s.to_vec()
}

/// DER encoding of an INTEGER from its content bytes.
fn der_integer(content: &[u8]) -> Vec<u8> {
    let mut out = vec![0x02];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend_from_slice(&[0x81, n as u8]);
    } else {
        out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(content);
    out
}

/// Parses a certificate (already trimmed and patched, see [`card_certificate`]).
pub fn parse(der: &[u8]) -> Result<CertFields, X509Error> {
    let (rest, cert) =
        X509Certificate::from_der(der).map_err(|e| X509Error::Parse(e.to_string()))?;
    if !rest.is_empty() {
        return Err(X509Error::Malformed("bytes after the certificate"));
    }
    fields(&cert)
}

fn fields(cert: &X509Certificate<'_>) -> Result<CertFields, X509Error> {
    let tbs = &cert.tbs_certificate;
    let (modulus, public_exponent) = match tbs.subject_pki.parsed() {
        Ok(PublicKey::RSA(rsa)) => (
            strip_leading_zeros(rsa.modulus),
            strip_leading_zeros(rsa.exponent),
        ),
        Ok(_) => return Err(X509Error::NotRsa),
        Err(e) => return Err(X509Error::Parse(e.to_string())),
    };
    let modulus_bits = match modulus.first() {
        None => 0,
        Some(b) => (modulus.len() - 1) * 8 + (8 - b.leading_zeros() as usize),
    };
    let key_usage = cert.key_usage().ok().flatten().map(|ext| ext.value.flags);
    Ok(CertFields {
        subject: tbs.subject.as_raw().to_vec(),
        issuer: tbs.issuer.as_raw().to_vec(),
        serial_der: der_integer(tbs.raw_serial()),
        modulus,
        public_exponent,
        modulus_bits,
        not_before: tbs.validity.not_before.timestamp(),
        not_after: tbs.validity.not_after.timestamp(),
        key_usage,
    })
}

/// A Unix timestamp as a CK_DATE value: 8 ASCII digits `YYYYMMDD` (UTC).
pub fn ck_date(timestamp: i64) -> [u8; 8] {
    // Days since 1970-01-01 → civil date (proleptic Gregorian calendar).
    let days = timestamp.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let text = format!("{:04}{:02}{:02}", year.clamp(0, 9999), month, day);
    let mut out = [b'0'; 8];
    out.copy_from_slice(&text.as_bytes()[..8]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn pki(name: &str) -> Option<Vec<u8>> {
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures/pki")
                .join(name),
        )
        .ok()
    }

    /// A minimal certificate-shaped DER: SEQUENCE { SEQUENCE{}, SEQUENCE{}, BIT STRING }.
    fn shaped(unused: u8) -> Vec<u8> {
        vec![
            0x30, 0x0A, 0x30, 0x00, 0x30, 0x00, 0x03, 0x04, unused, 0xDE, 0xAD, 0xBE,
        ]
    }

    #[test]
    fn bit_string_patch() {
        let mut c = shaped(0x05);
        assert!(patch_signature_bit_string(&mut c));
        assert_eq!(c, shaped(0x00));
        // Already fine: unchanged.
        assert!(!patch_signature_bit_string(&mut c));
        // Not the expected shape (BIT STRING not last / trailing bytes): left alone.
        let mut odd = shaped(0x05);
        odd.push(0);
        assert!(!patch_signature_bit_string(&mut odd));
        assert_eq!(odd[8], 0x05);
        let mut not_bs = shaped(0x05);
        not_bs[6] = 0x04;
        assert!(!patch_signature_bit_string(&mut not_bs));
    }

    #[test]
    fn trimming() {
        let mut file = shaped(0x03);
        file.extend([0u8; 20]);
        assert_eq!(trim_to_der(&file).unwrap(), &shaped(0x03)[..]);
        assert_eq!(card_certificate(&file).unwrap(), shaped(0x00));
        assert!(trim_to_der(&file[..5]).is_err());
        assert!(trim_to_der(&[0x04, 0x00]).is_err());
        assert!(trim_to_der(&[]).is_err());
    }

    #[test]
    fn long_form_lengths() {
        // 0x82 two-byte length, as in real certificates.
        let mut c = vec![0x30, 0x82, 0x01, 0x08, 0x30, 0x00, 0x30, 0x00];
        c.extend([0x03, 0x82, 0x01, 0x00, 0x07]);
        c.extend([0xAB; 255]);
        assert_eq!(c.len(), 4 + 0x108);
        assert!(patch_signature_bit_string(&mut c));
        assert_eq!(c[12], 0);
    }

    #[test]
    fn integer_encoding() {
        assert_eq!(der_integer(&[0x5E, 0xED]), vec![0x02, 0x02, 0x5E, 0xED]);
        assert_eq!(der_integer(&[0x00, 0x80]), vec![0x02, 0x02, 0x00, 0x80]);
        let long = der_integer(&[1; 200]);
        assert_eq!(&long[..3], &[0x02, 0x81, 200]);
        assert_eq!(strip_leading_zeros(&[0, 0, 1, 0]), vec![1, 0]);
        assert_eq!(strip_leading_zeros(&[0]), vec![0]);
    }

    #[test]
    fn dates() {
        assert_eq!(&ck_date(0), b"19700101");
        assert_eq!(&ck_date(951_782_400), b"20000229");
        assert_eq!(&ck_date(1_672_531_199), b"20221231");
        assert_eq!(&ck_date(1_672_531_200), b"20230101");
        assert_eq!(&ck_date(4_102_444_800), b"21000101");
    }

    #[test]
    fn parses_fixture_certificates() {
        // The test PKI is generated by another tool; skip quietly while it is absent.
        let Ok(entries) =
            std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pki"))
        else {
            return;
        };
        let mut seen = 0;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if !name.ends_with(".der") {
                continue;
            }
            let der = pki(&name).unwrap();
            let f = parse(&der).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(f.subject[0], 0x30, "{name}");
            assert_eq!(f.issuer[0], 0x30, "{name}");
            assert_eq!(f.serial_der[0], 0x02, "{name}");
            assert!(f.modulus_bits >= 1024, "{name}");
            assert_eq!(f.modulus.len() * 8, f.modulus_bits.div_ceil(8) * 8);
            assert_eq!(f.public_exponent, vec![0x01, 0x00, 0x01], "{name}");
            assert!(f.not_before < f.not_after);
            // The subject is a sub-slice of the certificate.
            assert!(der.windows(f.subject.len()).any(|w| w == f.subject));
            seen += 1;
        }
        let _ = seen;
    }
}
