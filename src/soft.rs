//! Software cryptography shared by the card layer and the PKCS#11 layer: SHA-1/SHA-256
//! digests, DigestInfo prefixes (recognise, build, strip), PKCS#1 v1.5 type-1 padding and
//! type-2 removal (for the CPS4 raw-RSA path), and public-key operations (verify PKCS#1
//! v1.5 and PSS, encrypt PKCS#1 v1.5) for C_Verify / C_Encrypt.
//!
//! A leaf module: no card, no CK_* types.

use rsa::{BigUint, Pkcs1v15Encrypt, Pkcs1v15Sign, RsaPublicKey};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Hash algorithms the cards sign with (re-exported as `cpx::HashAlg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlg {
    Sha1,
    Sha256,
}

/// DER prefix of a SHA-1 DigestInfo (RFC 8017 §9.2 note 1); the 20-byte hash follows.
pub const SHA1_DIGEST_INFO_PREFIX: [u8; 15] = [
    0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2B, 0x0E, 0x03, 0x02, 0x1A, 0x05, 0x00, 0x04, 0x14,
];

/// DER prefix of a SHA-256 DigestInfo; the 32-byte hash follows.
pub const SHA256_DIGEST_INFO_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// Minimum PKCS#1 v1.5 padding overhead: `00 BT` + 8 padding bytes + `00`.
pub const PKCS1_OVERHEAD: usize = 11;

/// Why a software operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SoftError {
    /// Input longer than the key allows (or of a length the operation refuses).
    #[error("data length out of range")]
    DataLen,
    /// Malformed padding, bad encoding.
    #[error("invalid data")]
    DataInvalid,
    /// The signature does not verify.
    #[error("signature invalid")]
    SignatureInvalid,
    /// Signature length differs from the modulus length.
    #[error("signature length out of range")]
    SignatureLen,
    /// The public key is unusable (zero modulus, too large, …).
    #[error("invalid public key")]
    Key,
}

impl HashAlg {
    /// Digest length in bytes.
    pub fn len(self) -> usize {
        match self {
            HashAlg::Sha1 => 20,
            HashAlg::Sha256 => 32,
        }
    }

    /// Never true (a digest has a length); present for clippy's `len_without_is_empty`.
    pub fn is_empty(self) -> bool {
        false
    }

    /// The DigestInfo DER prefix.
    pub fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            HashAlg::Sha1 => &SHA1_DIGEST_INFO_PREFIX,
            HashAlg::Sha256 => &SHA256_DIGEST_INFO_PREFIX,
        }
    }

    /// The algorithm whose digest has this length (20 → SHA-1, 32 → SHA-256).
    pub fn from_len(len: usize) -> Option<HashAlg> {
        match len {
            20 => Some(HashAlg::Sha1),
            32 => Some(HashAlg::Sha256),
            _ => None,
        }
    }
}

/// Hashes `data` in one go.
pub fn digest(alg: HashAlg, data: &[u8]) -> Vec<u8> {
    match alg {
        HashAlg::Sha1 => Sha1::digest(data).to_vec(),
        HashAlg::Sha256 => Sha256::digest(data).to_vec(),
    }
}

/// A multi-part digest (C_DigestUpdate / C_SignUpdate accumulate into it).
#[derive(Clone)]
pub enum Hasher {
    Sha1(Sha1),
    Sha256(Sha256),
}

impl Hasher {
    pub fn new(alg: HashAlg) -> Hasher {
        match alg {
            HashAlg::Sha1 => Hasher::Sha1(Sha1::new()),
            HashAlg::Sha256 => Hasher::Sha256(Sha256::new()),
        }
    }

    pub fn alg(&self) -> HashAlg {
        match self {
            Hasher::Sha1(_) => HashAlg::Sha1,
            Hasher::Sha256(_) => HashAlg::Sha256,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
        }
    }

    pub fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
        }
    }
}

/// DigestInfo ‖ hash for `alg`. `hash` must have the algorithm's length.
pub fn digest_info(alg: HashAlg, hash: &[u8]) -> Result<Vec<u8>, SoftError> {
    if hash.len() != alg.len() {
        return Err(SoftError::DataLen);
    }
    let mut out = alg.digest_info_prefix().to_vec();
    out.extend_from_slice(hash);
    Ok(out)
}

/// Recognises a SHA-1 or SHA-256 DigestInfo and returns the algorithm and the hash.
/// Only the exact DER encodings (with the NULL parameters) are recognised.
pub fn strip_digest_info(data: &[u8]) -> Option<(HashAlg, &[u8])> {
    [HashAlg::Sha1, HashAlg::Sha256]
        .into_iter()
        .find_map(|alg| {
            let prefix = alg.digest_info_prefix();
            (data.len() == prefix.len() + alg.len() && data.starts_with(prefix))
                .then(|| (alg, &data[prefix.len()..]))
        })
}

/// A bare hash (20 or 32 bytes) or a SHA-1/SHA-256 DigestInfo → (algorithm, hash).
/// This is what the signature keys accept for CKM_RSA_PKCS (cryptolib-compat §7.2).
pub fn hash_or_digest_info(data: &[u8]) -> Option<(HashAlg, &[u8])> {
    HashAlg::from_len(data.len())
        .map(|alg| (alg, data))
        .or_else(|| strip_digest_info(data))
}

/// PKCS#1 v1.5 type-1 (signature) padding of `data` to `k` bytes:
/// `00 01 FF…FF 00 data`, at least 8 `FF` bytes.
pub fn pkcs1_type1_pad(data: &[u8], k: usize) -> Result<Vec<u8>, SoftError> {
    if data.len() + PKCS1_OVERHEAD > k {
        return Err(SoftError::DataLen);
    }
    let mut out = Vec::with_capacity(k);
    out.extend_from_slice(&[0x00, 0x01]);
    out.resize(k - data.len() - 1, 0xFF);
    out.push(0x00);
    out.extend_from_slice(data);
    Ok(out)
}

/// Removes PKCS#1 v1.5 type-2 (encryption) padding from a `k`-byte block:
/// `00 02 <≥ 8 non-zero bytes> 00 message`. The whole block is scanned whatever its
/// content, so the time taken does not depend on where the padding breaks.
pub fn pkcs1_type2_unpad(block: &[u8]) -> Result<Zeroizing<Vec<u8>>, SoftError> {
    if block.len() < PKCS1_OVERHEAD {
        return Err(SoftError::DataInvalid);
    }
    let mut good = u8::from(block[0] == 0x00) & u8::from(block[1] == 0x02);
    // Index of the first zero byte after the header (0 = not found yet).
    let mut separator = 0usize;
    for (i, b) in block.iter().enumerate().skip(2) {
        let is_zero = usize::from(*b == 0);
        let not_found = usize::from(separator == 0);
        separator |= i * is_zero * not_found;
    }
    good &= u8::from(separator >= 10);
    if good == 0 {
        return Err(SoftError::DataInvalid);
    }
    Ok(Zeroizing::new(block[separator + 1..].to_vec()))
}

/// Builds an RSA public key from big-endian modulus and exponent.
pub fn public_key(modulus: &[u8], exponent: &[u8]) -> Result<RsaPublicKey, SoftError> {
    RsaPublicKey::new(
        BigUint::from_bytes_be(modulus),
        BigUint::from_bytes_be(exponent),
    )
    .map_err(|_| SoftError::Key)
}

/// Modulus length in bytes of a big-endian modulus (leading zeros ignored).
pub fn modulus_len(modulus: &[u8]) -> usize {
    let bits = BigUint::from_bytes_be(modulus).bits();
    bits.div_ceil(8)
}

fn check_sig_len(modulus: &[u8], signature: &[u8]) -> Result<(), SoftError> {
    if signature.len() != modulus_len(modulus) {
        return Err(SoftError::SignatureLen);
    }
    Ok(())
}

/// Verifies a PKCS#1 v1.5 signature over `data` as CKM_RSA_PKCS does: `data` is exactly
/// what was padded (normally a DigestInfo).
pub fn verify_pkcs1_raw(
    modulus: &[u8],
    exponent: &[u8],
    data: &[u8],
    signature: &[u8],
) -> Result<(), SoftError> {
    check_sig_len(modulus, signature)?;
    let key = public_key(modulus, exponent)?;
    if data.len() + PKCS1_OVERHEAD > modulus_len(modulus) {
        return Err(SoftError::DataLen);
    }
    key.verify(Pkcs1v15Sign::new_unprefixed(), data, signature)
        .map_err(|_| SoftError::SignatureInvalid)
}

/// Verifies a PKCS#1 v1.5 signature over a hash (DigestInfo built here).
pub fn verify_pkcs1_hash(
    modulus: &[u8],
    exponent: &[u8],
    alg: HashAlg,
    hash: &[u8],
    signature: &[u8],
) -> Result<(), SoftError> {
    let info = digest_info(alg, hash)?;
    verify_pkcs1_raw(modulus, exponent, &info, signature)
}

/// Verifies an RSA-PSS signature over a hash, MGF1 with the same hash, salt length
/// `salt_len`.
pub fn verify_pss(
    modulus: &[u8],
    exponent: &[u8],
    alg: HashAlg,
    hash: &[u8],
    salt_len: usize,
    signature: &[u8],
) -> Result<(), SoftError> {
    check_sig_len(modulus, signature)?;
    if hash.len() != alg.len() {
        return Err(SoftError::DataLen);
    }
    let key = public_key(modulus, exponent)?;
    let scheme = match alg {
        HashAlg::Sha1 => rsa::Pss::new_with_salt::<Sha1>(salt_len),
        HashAlg::Sha256 => rsa::Pss::new_with_salt::<Sha256>(salt_len),
    };
    key.verify(scheme, hash, signature)
        .map_err(|_| SoftError::SignatureInvalid)
}

/// Raw RSA public operation (CKM_RSA_X_509 verify): `signature^e mod n`, left-padded to
/// the modulus length.
pub fn rsa_public_raw(modulus: &[u8], exponent: &[u8], input: &[u8]) -> Result<Vec<u8>, SoftError> {
    let k = modulus_len(modulus);
    if input.len() > k {
        return Err(SoftError::DataLen);
    }
    let n = BigUint::from_bytes_be(modulus);
    let m = BigUint::from_bytes_be(input);
    if m >= n {
        return Err(SoftError::DataInvalid);
    }
    let out = m
        .modpow(&BigUint::from_bytes_be(exponent), &n)
        .to_bytes_be();
    let mut padded = vec![0u8; k - out.len()];
    padded.extend_from_slice(&out);
    Ok(padded)
}

/// PKCS#1 v1.5 encryption with a public key (C_Encrypt, single block).
pub fn encrypt_pkcs1(
    modulus: &[u8],
    exponent: &[u8],
    message: &[u8],
) -> Result<Vec<u8>, SoftError> {
    if message.len() + PKCS1_OVERHEAD > modulus_len(modulus) {
        return Err(SoftError::DataLen);
    }
    let key = public_key(modulus, exponent)?;
    key.encrypt(&mut rsa::rand_core::OsRng, Pkcs1v15Encrypt, message)
        .map_err(|_| SoftError::DataInvalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::traits::PublicKeyParts;
    use rsa::RsaPrivateKey;

    fn test_key() -> RsaPrivateKey {
        use rsa::rand_core::SeedableRng;
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        RsaPrivateKey::new(&mut rng, 1024).unwrap()
    }

    fn parts(k: &RsaPrivateKey) -> (Vec<u8>, Vec<u8>) {
        (k.n().to_bytes_be(), k.e().to_bytes_be())
    }

    #[test]
    fn digest_info_prefixes_are_der() {
        // The prefix is the DER of DigestInfo with an empty OCTET STRING of the hash
        // length: outer length = prefix length - 2 + hash length.
        for alg in [HashAlg::Sha1, HashAlg::Sha256] {
            let p = alg.digest_info_prefix();
            assert_eq!(usize::from(p[1]), p.len() - 2 + alg.len());
            assert_eq!(usize::from(p[p.len() - 1]), alg.len());
        }
        assert_eq!(digest(HashAlg::Sha1, b"abc")[..4], [0xA9, 0x99, 0x3E, 0x36]);
        assert_eq!(
            digest(HashAlg::Sha256, b"abc")[..4],
            [0xBA, 0x78, 0x16, 0xBF]
        );
    }

    #[test]
    fn strip_and_recognise() {
        let h1 = digest(HashAlg::Sha1, b"x");
        let h2 = digest(HashAlg::Sha256, b"x");
        let d1 = digest_info(HashAlg::Sha1, &h1).unwrap();
        let d2 = digest_info(HashAlg::Sha256, &h2).unwrap();
        assert_eq!(d1.len(), 35);
        assert_eq!(d2.len(), 51);
        assert_eq!(strip_digest_info(&d1), Some((HashAlg::Sha1, &h1[..])));
        assert_eq!(strip_digest_info(&d2), Some((HashAlg::Sha256, &h2[..])));
        // A bare hash is not a DigestInfo, but is accepted by hash_or_digest_info.
        assert_eq!(strip_digest_info(&h2), None);
        assert_eq!(hash_or_digest_info(&h2), Some((HashAlg::Sha256, &h2[..])));
        assert_eq!(hash_or_digest_info(&h1), Some((HashAlg::Sha1, &h1[..])));
        // Truncated, extended, or a wrong OID byte: refused.
        assert_eq!(strip_digest_info(&d2[..50]), None);
        let mut longer = d2.clone();
        longer.push(0);
        assert_eq!(hash_or_digest_info(&longer), None);
        let mut bad = d1.clone();
        bad[10] ^= 1;
        assert_eq!(hash_or_digest_info(&bad), None);
        assert_eq!(hash_or_digest_info(&[0u8; 33]), None);
        assert!(digest_info(HashAlg::Sha1, &h2).is_err());
    }

    #[test]
    fn type1_padding() {
        let p = pkcs1_type1_pad(&[1, 2, 3], 16).unwrap();
        assert_eq!(
            p,
            [0, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 1, 2, 3]
        );
        assert_eq!(pkcs1_type1_pad(&[7; 5], 16).unwrap().len(), 16);
        assert_eq!(pkcs1_type1_pad(&[7; 6], 16), Err(SoftError::DataLen));
        assert_eq!(pkcs1_type1_pad(&[7; 245], 256).unwrap()[..3], [0, 1, 0xFF]);
    }

    #[test]
    fn type2_removal() {
        let mut block = vec![0x00, 0x02];
        block.extend([0x11; 8]);
        block.push(0x00);
        block.extend(b"hello");
        assert_eq!(&pkcs1_type2_unpad(&block).unwrap()[..], b"hello");
        // Empty message.
        let mut e = vec![0x00, 0x02];
        e.extend([0x5A; 12]);
        e.push(0x00);
        assert!(pkcs1_type2_unpad(&e).unwrap().is_empty());
        // Fewer than 8 padding bytes.
        let mut short = vec![0x00, 0x02];
        short.extend([0x11; 7]);
        short.push(0);
        short.extend(b"abc");
        assert_eq!(pkcs1_type2_unpad(&short), Err(SoftError::DataInvalid));
        // Wrong block type, wrong leading byte, no separator.
        let mut t1 = block.clone();
        t1[1] = 0x01;
        assert!(pkcs1_type2_unpad(&t1).is_err());
        let mut lead = block.clone();
        lead[0] = 0x01;
        assert!(pkcs1_type2_unpad(&lead).is_err());
        assert!(pkcs1_type2_unpad(&[0, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]).is_err());
    }

    #[test]
    fn verify_and_encrypt_round_trip() {
        let key = test_key();
        let (n, e) = parts(&key);
        let hash = digest(HashAlg::Sha256, b"message");
        let sig = key.sign(Pkcs1v15Sign::new::<Sha256>(), &hash).unwrap();
        verify_pkcs1_hash(&n, &e, HashAlg::Sha256, &hash, &sig).unwrap();
        let info = digest_info(HashAlg::Sha256, &hash).unwrap();
        verify_pkcs1_raw(&n, &e, &info, &sig).unwrap();
        let other = digest(HashAlg::Sha256, b"other");
        assert_eq!(
            verify_pkcs1_hash(&n, &e, HashAlg::Sha256, &other, &sig),
            Err(SoftError::SignatureInvalid)
        );
        assert_eq!(
            verify_pkcs1_raw(&n, &e, &info, &sig[1..]),
            Err(SoftError::SignatureLen)
        );
        // Raw public operation recovers the padded block.
        let block = rsa_public_raw(&n, &e, &sig).unwrap();
        assert_eq!(block, pkcs1_type1_pad(&info, n.len()).unwrap());

        // PSS with salt = hash length.
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(9);
        use rsa::rand_core::SeedableRng;
        let pss = key
            .sign_with_rng(&mut rng, rsa::Pss::new_with_salt::<Sha256>(32), &hash)
            .unwrap();
        verify_pss(&n, &e, HashAlg::Sha256, &hash, 32, &pss).unwrap();
        assert!(verify_pss(&n, &e, HashAlg::Sha256, &other, 32, &pss).is_err());

        // Encryption decrypts with the private key.
        let c = encrypt_pkcs1(&n, &e, b"secret").unwrap();
        assert_eq!(c.len(), n.len());
        assert_eq!(key.decrypt(Pkcs1v15Encrypt, &c).unwrap(), b"secret");
        assert_eq!(
            encrypt_pkcs1(&n, &e, &vec![0u8; n.len() - 10]),
            Err(SoftError::DataLen)
        );
    }

    #[test]
    fn multi_part_hasher() {
        let mut h = Hasher::new(HashAlg::Sha256);
        h.update(b"mess");
        h.update(b"age");
        assert_eq!(h.alg(), HashAlg::Sha256);
        assert_eq!(h.finish(), digest(HashAlg::Sha256, b"message"));
        let mut h = Hasher::new(HashAlg::Sha1);
        h.update(b"");
        assert_eq!(h.finish(), digest(HashAlg::Sha1, b""));
    }
}
