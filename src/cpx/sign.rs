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
/// The size of neither → `InputLength`; the size of a DigestInfo but not one → `InputForm`.
fn hash_input(data: &[u8]) -> Result<(HashAlg, &[u8]), Refusal> {
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

/// Whether the key can sign inputs of this form at all (decided before any data is seen):
/// no PSS on a CPS3, raw RSA only with the CPS4 authentication key.
fn check_form(generation: Generation, key: &KeyInfo, form: SignForm) -> Result<(), Refusal> {
    let cannot = matches!(
        (generation, key.role, form),
        (
            Generation::Cps3 | Generation::Cps3Cl,
            _,
            SignForm::Pss(_) | SignForm::Raw
        ) | (Generation::Cps4, KeyRole::Signature, SignForm::Raw)
    );
    let can = key.can_sign && !cannot;
    if can {
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
    let k = key_len(key);
    let key_ref = key.key_ref;
    // Software hash → DigestInfo, for keys that take CKM_RSA_PKCS over a DigestInfo.
    let digest_info = |alg: HashAlg, message: &[u8]| {
        soft::digest_info(alg, &soft::digest(alg, message)).map_err(|_| Refusal::InputForm)
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
            SignInput::Pss { .. } | SignInput::Raw { .. } => Err(Refusal::KeyCannot),
        },
        (Generation::Cps3 | Generation::Cps3Cl, _) => {
            let data = match input {
                SignInput::Pkcs1 { data } => data.clone(),
                SignInput::Pkcs1Message { alg, message } => digest_info(*alg, message)?,
                SignInput::Pss { .. } | SignInput::Raw { .. } => return Err(Refusal::KeyCannot),
            };
            let max = k * layout::INTERNAL_AUTH_MAX_PERCENT / 100;
            if data.is_empty() || data.len() > max {
                return Err(Refusal::InputLength);
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
                        return Err(Refusal::InputLength);
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
                (KeyRole::Signature, SignInput::Raw { .. }) => Err(Refusal::KeyCannot),
                (_, SignInput::Pkcs1 { data }) => {
                    let block = soft::pkcs1_type1_pad(data, k).map_err(|_| Refusal::InputLength)?;
                    Ok(SignPlan::Cps4Raw { block, key_ref })
                }
                (_, SignInput::Pkcs1Message { alg, message }) => {
                    let block = soft::pkcs1_type1_pad(&digest_info(*alg, message)?, k)
                        .map_err(|_| Refusal::InputLength)?;
                    Ok(SignPlan::Cps4Raw { block, key_ref })
                }
                (_, SignInput::Raw { block }) => {
                    if block.len() > k {
                        return Err(Refusal::InputLength);
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
        let sig = self.run(|ch, s| execute_sign(ch, s, &plan, k))?;
        Ok(fixed_len(sig, k)?)
    }

    /// PKCS#1 v1.5 decryption with the authentication key; returns the plaintext.
    pub fn decrypt(&mut self, key_id: &[u8], cryptogram: &[u8]) -> Result<Vec<u8>, CpxError> {
        let key = self.key(key_id)?.clone();
        check_decrypt_input(&key, cryptogram)?;
        let k = key_len(&key);
        if self.session.generation == Generation::Cps4 {
            // Raw RSA on the card, the PKCS#1 block removed here.
            let block = self.run(|ch, _| {
                cps4::mse_decipher(ch, key.key_ref)?;
                let block = cps4::raw_rsa(ch, cryptogram, k)?;
                Ok(zeroize::Zeroizing::new(fixed_len(block, k)?))
            })?;
            let plain = soft::pkcs1_type2_unpad(&block).map_err(|_| Refusal::InputForm)?;
            return Ok(plain.to_vec());
        }
        self.run(|ch, s| {
            let alg = s.alg.decipher;
            cps3::mse_key(ch, s, template::CT, alg, key.key_ref)?;
            cps3::pso_decipher(ch, cryptogram)
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
