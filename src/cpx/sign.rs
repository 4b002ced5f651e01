//! Signatures and decryption: the card's signing rules (which path each key and input
//! takes, the INTERNAL AUTHENTICATE size limit, padding) decided without card I/O, then run.

use super::*;

/// What the card is asked to do for a signature (decided without card I/O).
#[derive(Debug, Clone, PartialEq, Eq)]
enum SignPlan {
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
/// The size of neither → `WrongLength` (CKR_DATA_LEN_RANGE); the size of a DigestInfo but
/// not one → `Status(IncorrectData)` (CKR_DATA_INVALID).
fn hash_input(data: &[u8]) -> Result<(HashAlg, &[u8]), CardError> {
    if let Some(found) = soft::hash_or_digest_info(data) {
        return Ok(found);
    }
    let info_len = |a: HashAlg| a.digest_info_prefix().len() + a.len();
    if data.len() == info_len(HashAlg::Sha1) || data.len() == info_len(HashAlg::Sha256) {
        Err(incorrect_data())
    } else {
        Err(CardError::WrongLength)
    }
}

fn incorrect_data() -> CardError {
    CardError::Status(StatusWord::IncorrectData)
}

/// Chooses the signing path (cryptolib-compat §7.2, cpx-cards §8.9–§8.11, §10.2).
fn plan_sign(
    generation: Generation,
    key: &KeyInfo,
    input: &SignInput,
) -> Result<SignPlan, CardError> {
    if !key.can_sign {
        return Err(CardError::ConditionsNotSatisfied);
    }
    let k = key_len(key);
    let key_ref = key.key_ref;
    // Software hash → DigestInfo, for keys that take CKM_RSA_PKCS over a DigestInfo.
    let digest_info = |alg: HashAlg, message: &[u8]| {
        soft::digest_info(alg, &soft::digest(alg, message)).map_err(|_| incorrect_data())
    };
    match (generation, key.role) {
        (Generation::Cps3 | Generation::Cps3Cl, KeyRole::Signature) => match input {
            SignInput::Pkcs1Message { alg, message } if !message.is_empty() => {
                Ok(SignPlan::Cps3PartialHash {
                    alg: *alg,
                    partial: cps3::partial_hash(*alg, message),
                    key_ref,
                })
            }
            // No client sends an empty PSO HASH: hash in software, sign the hash.
            SignInput::Pkcs1Message { alg, message } => Ok(SignPlan::Cps3HashOnly {
                alg: *alg,
                hash: soft::digest(*alg, message),
                key_ref,
            }),
            SignInput::Pkcs1 { data } => {
                let (alg, hash) = hash_input(data)?;
                Ok(SignPlan::Cps3HashOnly {
                    alg,
                    hash: hash.to_vec(),
                    key_ref,
                })
            }
            SignInput::Pss { .. } | SignInput::Raw { .. } => Err(CardError::ConditionsNotSatisfied),
        },
        (Generation::Cps3 | Generation::Cps3Cl, _) => {
            let data = match input {
                SignInput::Pkcs1 { data } => data.clone(),
                SignInput::Pkcs1Message { alg, message } => digest_info(*alg, message)?,
                SignInput::Pss { .. } | SignInput::Raw { .. } => {
                    return Err(CardError::ConditionsNotSatisfied)
                }
            };
            let max = k * layout::INTERNAL_AUTH_MAX_PERCENT / 100;
            if data.is_empty() || data.len() > max {
                return Err(CardError::WrongLength);
            }
            Ok(SignPlan::Cps3InternalAuth { data, key_ref })
        }
        (Generation::Cps4, role) => {
            let pkcs1_id = |alg| match alg {
                HashAlg::Sha1 => chipdoc_alg::PKCS1_SHA1,
                HashAlg::Sha256 => chipdoc_alg::PKCS1_SHA256,
            };
            match (role, input) {
                (_, SignInput::Pss { alg, hash }) => {
                    if hash.len() != alg.len() {
                        return Err(CardError::WrongLength);
                    }
                    let alg_id = match alg {
                        HashAlg::Sha1 => chipdoc_alg::PSS_SHA1,
                        HashAlg::Sha256 => chipdoc_alg::PSS_SHA256,
                    };
                    Ok(SignPlan::Cps4Cds {
                        alg_id,
                        hash: hash.clone(),
                        key_ref,
                    })
                }
                (KeyRole::Signature, SignInput::Pkcs1Message { alg, message }) => {
                    Ok(SignPlan::Cps4Cds {
                        alg_id: pkcs1_id(*alg),
                        hash: soft::digest(*alg, message),
                        key_ref,
                    })
                }
                (KeyRole::Signature, SignInput::Pkcs1 { data }) => {
                    let (alg, hash) = hash_input(data)?;
                    Ok(SignPlan::Cps4Cds {
                        alg_id: pkcs1_id(alg),
                        hash: hash.to_vec(),
                        key_ref,
                    })
                }
                (KeyRole::Signature, SignInput::Raw { .. }) => {
                    Err(CardError::ConditionsNotSatisfied)
                }
                (_, SignInput::Pkcs1 { data }) => {
                    let block =
                        soft::pkcs1_type1_pad(data, k).map_err(|_| CardError::WrongLength)?;
                    Ok(SignPlan::Cps4Raw { block, key_ref })
                }
                (_, SignInput::Pkcs1Message { alg, message }) => {
                    let block = soft::pkcs1_type1_pad(&digest_info(*alg, message)?, k)
                        .map_err(|_| CardError::WrongLength)?;
                    Ok(SignPlan::Cps4Raw { block, key_ref })
                }
                (_, SignInput::Raw { block }) => {
                    if block.len() > k {
                        return Err(CardError::WrongLength);
                    }
                    let mut full = vec![0u8; k - block.len()];
                    full.extend_from_slice(block);
                    Ok(SignPlan::Cps4Raw {
                        block: full,
                        key_ref,
                    })
                }
            }
        }
    }
}

/// Checks a decryption input (cpx-cards §8.12, §10.2).
fn check_decrypt_input(key: &KeyInfo, cryptogram: &[u8]) -> Result<(), CardError> {
    if !key.can_decrypt || key.role == KeyRole::Signature {
        return Err(CardError::ConditionsNotSatisfied);
    }
    if cryptogram.len() != key_len(key) {
        return Err(CardError::WrongLength);
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
    /// Whether `sign(key_id, input)` would be refused without touching the card, and why
    /// (same errors as `sign`).
    pub fn check_sign(&self, key_id: &[u8], input: &SignInput) -> Result<(), CardError> {
        let key = self.key(key_id)?;
        plan_sign(self.session.generation, key, input).map(|_| ())
    }

    /// Whether `decrypt(key_id, cryptogram)` would be refused without touching the card.
    pub fn check_decrypt(&self, key_id: &[u8], cryptogram: &[u8]) -> Result<(), CardError> {
        check_decrypt_input(self.key(key_id)?, cryptogram)
    }

    /// Signs with the key whose CKA_ID is `key_id`; returns modulus-length bytes.
    pub fn sign(&mut self, key_id: &[u8], input: &SignInput) -> Result<Vec<u8>, CardError> {
        let key = self.key(key_id)?.clone();
        let plan = plan_sign(self.session.generation, &key, input)?;
        let k = key_len(&key);
        let sig = self.run(|ch, s| execute_sign(ch, s, &plan, k))?;
        fixed_len(sig, k)
    }

    /// PKCS#1 v1.5 decryption with the authentication key; returns the plaintext.
    pub fn decrypt(&mut self, key_id: &[u8], cryptogram: &[u8]) -> Result<Vec<u8>, CardError> {
        let key = self.key(key_id)?.clone();
        check_decrypt_input(&key, cryptogram)?;
        let k = key_len(&key);
        self.run(|ch, s| match s.generation {
            Generation::Cps4 => {
                cps4::mse_decipher(ch, key.key_ref)?;
                let block = cps4::raw_rsa(ch, cryptogram, k)?;
                let block = zeroize::Zeroizing::new(fixed_len(block, k)?);
                let plain = soft::pkcs1_type2_unpad(&block).map_err(|_| incorrect_data())?;
                Ok(plain.to_vec())
            }
            _ => {
                let alg = s.alg.decipher;
                cps3::mse_key(ch, s, template::CT, alg, key.key_ref)?;
                cps3::pso_decipher(ch, cryptogram)
            }
        })
    }
}

/// Runs a signing plan on the card.
fn execute_sign(
    ch: &mut Channel<'_>,
    s: &mut Session,
    plan: &SignPlan,
    k: usize,
) -> Result<Vec<u8>, CardError> {
    let hash_refs = |alg: HashAlg, s: &Session| match alg {
        HashAlg::Sha1 => (s.alg.hash_sha1, s.alg.sign_sha1),
        HashAlg::Sha256 => (s.alg.hash_sha256, s.alg.sign_sha256),
    };
    match plan {
        SignPlan::Cps3PartialHash {
            alg,
            partial,
            key_ref,
        } => {
            let (ht, dst) = hash_refs(*alg, s);
            // The key DF first: a SELECT between PSO HASH and PSO CDS could drop the hash.
            let df = s.app_df.clone();
            files::ensure_df(ch, s, &df)?;
            cps3::mse_set(ch, template::HT, ht, None)?;
            cps3::pso_hash(ch, partial)?;
            cps3::mse_key(ch, s, template::DST, dst, *key_ref)?;
            cps3::pso_cds(ch, None, k)
        }
        SignPlan::Cps3HashOnly { alg, hash, key_ref } => {
            let (_, dst) = hash_refs(*alg, s);
            cps3::mse_key(ch, s, template::DST, dst, *key_ref)?;
            cps3::pso_cds(ch, Some(hash), k)
        }
        SignPlan::Cps3InternalAuth { data, key_ref } => {
            let alg = s.alg.sign_raw;
            cps3::mse_key(ch, s, template::AT, alg, *key_ref)?;
            cps3::internal_authenticate(ch, data, k)
        }
        SignPlan::Cps4Cds {
            alg_id,
            hash,
            key_ref,
        } => {
            cps4::mse_signature(ch, *alg_id, *key_ref)?;
            cps4::pso_cds(ch, hash, k)
        }
        SignPlan::Cps4Raw { block, key_ref } => {
            cps4::mse_decipher(ch, *key_ref)?;
            cps4::raw_rsa(ch, block, k)
        }
    }
}
