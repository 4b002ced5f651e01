//! The card's cryptography with the test keys: PKCS#1 v1.5 and PSS signatures, PKCS#1
//! v1.5 and raw deciphering, and completion of a partial hash (PSO HASH).

use rand_core::OsRng;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BigUint, Pkcs1v15Encrypt, Pkcs1v15Sign, Pss, RsaPrivateKey};

/// Hash algorithms the cards know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    Sha1,
    Sha256,
}

impl HashAlg {
    pub fn digest_len(self) -> usize {
        match self {
            HashAlg::Sha1 => 20,
            HashAlg::Sha256 => 32,
        }
    }
}

/// PKCS#1 v1.5 signature of a hash: the card builds DigestInfo and the padding.
pub fn sign_pkcs1_hash(key: &RsaPrivateKey, alg: HashAlg, hash: &[u8]) -> Option<Vec<u8>> {
    let scheme = match alg {
        HashAlg::Sha1 => Pkcs1v15Sign::new::<sha1::Sha1>(),
        HashAlg::Sha256 => Pkcs1v15Sign::new::<sha2::Sha256>(),
    };
    key.sign_with_rng(&mut OsRng, scheme, hash).ok()
}

/// PKCS#1 v1.5 type-1 padding of arbitrary data (normally a DigestInfo), then the private
/// operation: what INTERNAL AUTHENTICATE does.
pub fn sign_pkcs1_raw(key: &RsaPrivateKey, data: &[u8]) -> Option<Vec<u8>> {
    key.sign_with_rng(&mut OsRng, Pkcs1v15Sign::new_unprefixed(), data)
        .ok()
}

/// RSA-PSS over a hash, salt length = hash length, MGF1 with the same hash [assume].
pub fn sign_pss(key: &RsaPrivateKey, alg: HashAlg, hash: &[u8]) -> Option<Vec<u8>> {
    let salt = alg.digest_len();
    let scheme = match alg {
        HashAlg::Sha1 => Pss::new_with_salt::<sha1::Sha1>(salt),
        HashAlg::Sha256 => Pss::new_with_salt::<sha2::Sha256>(salt),
    };
    key.sign_with_rng(&mut OsRng, scheme, hash).ok()
}

/// PKCS#1 v1.5 decryption (the card removes the type-2 padding). `None` on bad padding.
pub fn decrypt_pkcs1(key: &RsaPrivateKey, cryptogram: &[u8]) -> Option<Vec<u8>> {
    if cryptogram.len() != key.size() {
        return None;
    }
    key.decrypt(Pkcs1v15Encrypt, cryptogram).ok()
}

/// Raw RSA private operation (CPS4 PSO DECIPHER without padding indicator): the result is
/// left-padded with zeros to the modulus length. `None` if the input is not below the modulus.
pub fn raw_private(key: &RsaPrivateKey, input: &[u8]) -> Option<Vec<u8>> {
    let c = BigUint::from_bytes_be(input);
    if input.len() != key.size() || &c >= key.n() {
        return None;
    }
    let m = c.modpow(key.d(), key.n()).to_bytes_be();
    let mut out = vec![0u8; key.size() - m.len()];
    out.extend_from_slice(&m);
    Some(out)
}

/// Finishes a hash whose first `count_bits / 8` bytes were absorbed off-card into `state`
/// (big-endian words, no padding applied), with the remaining `tail` bytes.
pub fn finish_partial_hash(
    alg: HashAlg,
    state: &[u8],
    count_bits: u64,
    tail: &[u8],
) -> Option<Vec<u8>> {
    if count_bits % 512 != 0 || tail.len() > 64 {
        return None;
    }
    let total_bits = count_bits.checked_add(tail.len() as u64 * 8)?;
    // Standard SHA padding of the remaining bytes: 0x80, zeros, 64-bit bit length.
    let mut rest = tail.to_vec();
    rest.push(0x80);
    while rest.len() % 64 != 56 {
        rest.push(0);
    }
    rest.extend_from_slice(&total_bits.to_be_bytes());
    let blocks: Vec<_> = rest
        .chunks(64)
        .map(|c| *sha2::digest::generic_array::GenericArray::from_slice(c))
        .collect();
    match alg {
        HashAlg::Sha1 => {
            let mut h = words::<5>(state)?;
            sha1::compress(&mut h, &blocks);
            Some(h.iter().flat_map(|w| w.to_be_bytes()).collect())
        }
        HashAlg::Sha256 => {
            let mut h = words::<8>(state)?;
            sha2::compress256(&mut h, &blocks);
            Some(h.iter().flat_map(|w| w.to_be_bytes()).collect())
        }
    }
}

/// The initial hash value (state before any block), for a PSO HASH with an empty `90`.
pub fn initial_state(alg: HashAlg) -> Vec<u8> {
    let words: &[u32] = match alg {
        HashAlg::Sha1 => &[0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0],
        HashAlg::Sha256 => &[
            0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
            0x5be0cd19,
        ],
    };
    words.iter().flat_map(|w| w.to_be_bytes()).collect()
}

fn words<const N: usize>(state: &[u8]) -> Option<[u32; N]> {
    if state.len() != N * 4 {
        return None;
    }
    let mut w = [0u32; N];
    for (i, c) in state.chunks(4).enumerate() {
        w[i] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
    }
    Some(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    /// Absorbs whole 64-byte blocks the way a client would, to build test input.
    fn absorb256(msg: &[u8]) -> Vec<u8> {
        let mut h = words::<8>(&initial_state(HashAlg::Sha256)).unwrap();
        let blocks: Vec<_> = msg
            .chunks(64)
            .map(|c| *sha2::digest::generic_array::GenericArray::from_slice(c))
            .collect();
        sha2::compress256(&mut h, &blocks);
        h.iter().flat_map(|w| w.to_be_bytes()).collect()
    }

    #[test]
    fn partial_hash_completion_matches_full_sha256() {
        let msg: Vec<u8> = (0..300u32).map(|i| (i * 7) as u8).collect();
        for split in [0usize, 64, 128, 192, 256] {
            let state = absorb256(&msg[..split]);
            let got = finish_partial_hash(HashAlg::Sha256, &state, split as u64 * 8, &msg[split..])
                .filter(|_| msg.len() - split <= 64);
            if msg.len() - split <= 64 {
                assert_eq!(
                    got.unwrap(),
                    sha2::Sha256::digest(&msg).to_vec(),
                    "split {split}"
                );
            } else {
                assert!(got.is_none());
            }
        }
    }

    #[test]
    fn partial_hash_completion_matches_full_sha1() {
        let msg = b"The quick brown fox jumps over the lazy dog, twice over: the quick brown fox.";
        let mut h = words::<5>(&initial_state(HashAlg::Sha1)).unwrap();
        let block = *sha2::digest::generic_array::GenericArray::from_slice(&msg[..64]);
        sha1::compress(&mut h, &[block]);
        let state: Vec<u8> = h.iter().flat_map(|w| w.to_be_bytes()).collect();
        let got = finish_partial_hash(HashAlg::Sha1, &state, 512, &msg[64..]).unwrap();
        assert_eq!(got, sha1::Sha1::digest(msg).to_vec());
        // Bit count not a whole number of blocks: refused.
        assert!(finish_partial_hash(HashAlg::Sha1, &state, 500, &msg[64..]).is_none());
    }
}
