//! Signatures and decryption: the card's signing rules (which path each key and input
//! takes, the INTERNAL AUTHENTICATE size limit, padding) decided without card I/O by the
//! generation's dialect (`dialect/`), then run in one transaction.

use super::dialect::Deciphered;
use super::*;

/// What the card is asked to do for a signature (decided without card I/O).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SignPlan {
    /// CPS3 signature key: PSO HASH with the host's partial hash, then PSO CDS.
    Cps3PartialHash {
        alg: HashAlg,
        partial: cps3::PartialHash,
        key_ref: u8,
    },
    /// CPS3 signature key: PSO CDS with the hash.
    Cps3HashOnly {
        alg: HashAlg,
        hash: Vec<u8>,
        key_ref: u8,
    },
    /// CPS3 authentication / technical key: INTERNAL AUTHENTICATE, the card pads.
    Cps3InternalAuth { data: Vec<u8>, key_ref: u8 },
    /// CPS4: PSO CDS with the hash, the card encodes (PKCS#1 or PSS).
    Cps4Cds {
        alg_id: u8,
        hash: Vec<u8>,
        key_ref: u8,
    },
    /// CPS4 authentication key: raw RSA on a full block through PSO DECIPHER.
    Cps4Raw { block: Vec<u8>, key_ref: u8 },
}

/// Modulus length in bytes of a key.
fn key_len(key: &KeyInfo) -> usize {
    if key.modulus.is_empty() {
        key.bits.div_ceil(8)
    } else {
        soft::modulus_len(&key.modulus)
    }
}

/// What a signature key takes for CKM_RSA_PKCS: a bare hash or a SHA-1/SHA-256 DigestInfo.
/// The size of neither → `InputLength`; the size of a DigestInfo but not one → `InputForm`.
pub(super) fn hash_input(data: &[u8]) -> Result<(HashAlg, &[u8]), Refusal> {
    if let Some(found) = soft::hash_or_digest_info(data) {
        return Ok(found);
    }
    let info_len = |a: HashAlg| a.digest_info_prefix().len() + a.len();
    if data.len() == info_len(HashAlg::Sha1) || data.len() == info_len(HashAlg::Sha256) {
        Err(Refusal::InputForm)
    } else {
        Err(Refusal::InputLength)
    }
}

/// Software hash → DigestInfo, for keys that take CKM_RSA_PKCS over a DigestInfo.
pub(super) fn digest_info_of(alg: HashAlg, message: &[u8]) -> Result<Vec<u8>, Refusal> {
    soft::digest_info(alg, &soft::digest(alg, message)).map_err(|_| Refusal::InputForm)
}

/// Whether the key can sign inputs of this form at all (decided before any data is seen).
fn check_form(generation: Generation, key: &KeyInfo, form: SignForm) -> Result<(), Refusal> {
    if key.can_sign && dialect::of(generation).takes(key.role, form) {
        Ok(())
    } else {
        Err(Refusal::KeyCannot)
    }
}

/// Chooses the signing path (cryptolib-compat §7.2, cpx-cards §8.9–§8.11, §10.2).
fn plan_sign(
    generation: Generation,
    key: &KeyInfo,
    input: &SignInput,
) -> Result<SignPlan, Refusal> {
    check_form(generation, key, input.form())?;
    dialect::of(generation).plan_sign(key, input, key_len(key))
}

/// Checks a decryption input (cpx-cards §8.12, §10.2).
fn check_decrypt_input(key: &KeyInfo, cryptogram: &[u8]) -> Result<(), Refusal> {
    if !key.can_decrypt || key.role == KeyRole::Signature {
        return Err(Refusal::KeyCannot);
    }
    if cryptogram.len() != key_len(key) {
        return Err(Refusal::InputLength);
    }
    Ok(())
}

/// A card answer of at most `k` bytes, left-padded to exactly `k`.
fn fixed_len(mut out: Vec<u8>, k: usize) -> Result<Vec<u8>, CardError> {
    if out.len() > k {
        return Err(CardError::Malformed("card answer longer than the modulus"));
    }
    if out.len() < k {
        let mut padded = vec![0u8; k - out.len()];
        padded.append(&mut out);
        return Ok(padded);
    }
    Ok(out)
}

impl CpxCard {
    /// Whether the key can sign inputs of this form at all (C_SignInit: no data yet).
    pub fn check_sign_form(&self, key_id: &[u8], form: SignForm) -> Result<(), CpxError> {
        Ok(check_form(
            self.session.generation,
            self.key(key_id)?,
            form,
        )?)
    }

    /// Whether `sign(key_id, input)` would be refused without touching the card, and why
    /// (same errors as `sign`).
    pub fn check_sign(&self, key_id: &[u8], input: &SignInput) -> Result<(), CpxError> {
        let key = self.key(key_id)?;
        plan_sign(self.session.generation, key, input)?;
        Ok(())
    }

    /// Whether `decrypt(key_id, cryptogram)` would be refused without touching the card.
    pub fn check_decrypt(&self, key_id: &[u8], cryptogram: &[u8]) -> Result<(), CpxError> {
        Ok(check_decrypt_input(self.key(key_id)?, cryptogram)?)
    }

    /// Signs with the key whose CKA_ID is `key_id`; returns modulus-length bytes.
    pub fn sign(&mut self, key_id: &[u8], input: &SignInput) -> Result<Vec<u8>, CpxError> {
        let key = self.key(key_id)?.clone();
        let plan = plan_sign(self.session.generation, &key, input)?;
        let k = key_len(&key);
        let d = self.dialect();
        let sig = self.run(|ch, s| d.sign(ch, s, &plan, k))?;
        Ok(fixed_len(sig, k)?)
    }

    /// PKCS#1 v1.5 decryption with the authentication key; returns the plaintext.
    pub fn decrypt(&mut self, key_id: &[u8], cryptogram: &[u8]) -> Result<Vec<u8>, CpxError> {
        let key = self.key(key_id)?.clone();
        check_decrypt_input(&key, cryptogram)?;
        let k = key_len(&key);
        let d = self.dialect();
        match self.run(|ch, s| d.decrypt(ch, s, key.key_ref, cryptogram, k))? {
            Deciphered::Plain(plain) => Ok(plain),
            Deciphered::Block(block) => {
                let block = zeroize::Zeroizing::new(fixed_len(block, k)?);
                let plain = soft::pkcs1_type2_unpad(&block).map_err(|_| Refusal::InputForm)?;
                Ok(plain.to_vec())
            }
        }
    }
}
