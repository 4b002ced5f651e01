//! Cryptographic operations on `Module` (compat §7.2): signing and decryption on the card,
//! verification and encryption in software with the certificate's public key, digests in
//! software. Signature lengths come from the key size, never from a second card operation.

use super::card_op::Replay;
use super::error::{Error, Result};
use super::mechanism::{self, Hasher, Mechanism};
use super::module::Module;
use super::object::{ObjectKind, ObjectView};
use super::session::{DecryptOp, DigestOp, KeyOp, Operation, Output, SignOp, VerifyOp};
use super::slot::LoginState;
use crate::apdu::CardError;
use crate::cpx::{Generation, HashAlg, KeyInfo, KeyRole, Refusal, SignInput};
use crate::soft::{self, SoftError};
use cryptoki_sys::*;
use zeroize::Zeroizing;

/// Which *Init a check is for: it decides the key lookup and the mechanisms accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitOp {
    Sign,
    Verify,
    Encrypt,
    Decrypt,
    Digest,
}

impl Module {
    /// What every *Init checks, in the order of issue 7 (initialised → session → key handle →
    /// mechanism), before the mechanism's parameter is read: the session, no active
    /// operation, the key handle (sign and decrypt: any object, the private-key rules come
    /// later; verify and encrypt: a visible object), the mechanism pointer (`None`: NULL →
    /// CKR_ARGUMENTS_BAD) and a mechanism this operation takes on this token. Unknown key:
    /// CKR_KEY_HANDLE_INVALID, C_DecryptInit CKR_OBJECT_HANDLE_INVALID (ANS, compat §14).
    pub fn init_check(
        &mut self,
        h: CK_SESSION_HANDLE,
        op: InitOp,
        key: CK_OBJECT_HANDLE,
        ty: impl FnOnce() -> Option<CK_MECHANISM_TYPE>,
    ) -> Result<(usize, Generation)> {
        let idx = self.check_session(h)?;
        let (s, token) = self.parts(h, idx)?;
        if s.op.is_some() {
            return Err(Error::OperationActive);
        }
        let found = token.object(key);
        match op {
            InitOp::Digest => {}
            InitOp::Sign if found.is_none() => return Err(Error::KeyHandleInvalid(key)),
            InitOp::Decrypt if found.is_none() => return Err(Error::ObjectHandleInvalid(key)),
            InitOp::Verify | InitOp::Encrypt if !found.is_some_and(|o| token.visible(&o)) => {
                return Err(Error::KeyHandleInvalid(key))
            }
            _ => {}
        }
        let ty = ty().ok_or(Error::ArgumentsBad)?;
        let g = token.contents().generation;
        let takes = match op {
            InitOp::Sign | InitOp::Verify => {
                mechanism::mechanisms(g).contains(&ty) && !matches!(ty, CKM_SHA_1 | CKM_SHA256)
            }
            InitOp::Encrypt | InitOp::Decrypt => ty == CKM_RSA_PKCS,
            InitOp::Digest => matches!(ty, CKM_SHA_1 | CKM_SHA256),
        };
        if !takes {
            return Err(Error::MechanismInvalid(ty));
        }
        Ok((idx, g))
    }

    /// Common part of the *Init calls ([`Module::init_check`]); forgets the last digest.
    fn op_init(
        &mut self,
        h: CK_SESSION_HANDLE,
        op: InitOp,
        key: CK_OBJECT_HANDLE,
        mech: &Mechanism,
    ) -> Result<(usize, Generation)> {
        let r = self.init_check(h, op, key, || Some(mech.ty))?;
        self.session_mut(h)?.last_digest = None;
        Ok(r)
    }

    fn set_op(&mut self, h: CK_SESSION_HANDLE, op: Operation) -> Result<()> {
        self.session_mut(h)?.op = Some(op);
        Ok(())
    }

    /// Private key `key` of the token at `idx`, for an operation the key must allow
    /// (`allows`, else CKR_KEY_TYPE_INCONSISTENT); a key that needs the PIN needs the user
    /// logged in.
    fn private_key(
        &mut self,
        idx: usize,
        key: CK_OBJECT_HANDLE,
        allows: fn(&KeyInfo) -> bool,
    ) -> Result<KeyInfo> {
        let token = self.token_mut(idx)?;
        let o = token.object(key).ok_or(Error::KeyHandleInvalid(key))?;
        let ObjectKind::PrivateKey(i) = o.kind else {
            return Err(Error::KeyTypeInconsistent);
        };
        let k = token.contents().keys[i].clone();
        if !allows(&k) {
            return Err(Error::KeyTypeInconsistent);
        }
        if k.needs_login && token.login != LoginState::User {
            return Err(Error::UserNotLoggedIn);
        }
        Ok(k)
    }

    /// C_SignUpdate, C_VerifyUpdate, C_DecryptUpdate: appends `data` to the input of the
    /// active operation that `input` picks (none: CKR_OPERATION_NOT_INITIALIZED).
    fn collect(
        &mut self,
        h: CK_SESSION_HANDLE,
        data: &[u8],
        input: impl FnOnce(&mut Operation) -> Option<(&mut Vec<u8>, &mut bool)>,
    ) -> Result<()> {
        self.check_session(h)?;
        let (buffer, multi_part) = self
            .session_mut(h)?
            .op
            .as_mut()
            .and_then(input)
            .ok_or(Error::OperationNotInitialized)?;
        buffer.extend_from_slice(data);
        *multi_part = true;
        Ok(())
    }

    /// A single-part call (C_Sign, C_Verify, C_Decrypt, C_Digest) after the Update of a
    /// multi-part operation: CKR_OPERATION_ACTIVE, the operation goes on (issue 7).
    fn single_part_allowed(&mut self, h: CK_SESSION_HANDLE) -> Result<()> {
        self.check_session(h)?;
        let multi = match &self.session_mut(h)?.op {
            Some(Operation::Sign(op)) => op.multi_part,
            Some(Operation::Verify(op)) => op.multi_part,
            Some(Operation::Decrypt(op)) => op.multi_part,
            Some(Operation::Digest(op)) => op.multi_part,
            _ => false,
        };
        if multi {
            Err(Error::OperationActive)
        } else {
            Ok(())
        }
    }

    // ---- sign ---------------------------------------------------------------------------

    /// C_SignInit.
    pub fn sign_init(
        &mut self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        let (idx, g) = self.op_init(h, InitOp::Sign, key, mech)?;
        let k = self.private_key(idx, key, |k| k.can_sign)?;
        let always_auth = k.user_consent && !self.token_mut(idx)?.keep_pin;
        let pss_hash = pss_hash(mech)?;
        // Raw RSA exists only on the CPS4 authentication key. For the other keys of a token
        // that lists CKM_RSA_X_509 the mechanism is "invalid for this key": clients probing
        // mechanisms key by key (pkcs11-tool --test) go on after CKR_MECHANISM_INVALID and
        // abort on anything else.
        if mech.ty == CKM_RSA_X_509 && !(g == Generation::Cps4 && k.role == KeyRole::Authentication)
        {
            return Err(Error::MechanismInvalid(mech.ty));
        }
        let op = KeyOp {
            key,
            mech: mech.ty,
            pss_hash,
            k: key_bytes(&k),
        };
        // The card's rules, as far as they are known without data (cpx owns them).
        let form = sign_input(&op, &[])?.form();
        self.token_mut(idx)?.card.check_sign_form(&k.id, form)?;
        self.set_op(
            h,
            Operation::Sign(SignOp {
                key: op,
                data: Zeroizing::new(Vec::new()),
                always_auth,
                context_verified: false,
                multi_part: false,
            }),
        )
    }

    /// C_Sign: single part (after C_SignUpdate: CKR_OPERATION_ACTIVE).
    pub fn sign(
        &mut self,
        h: CK_SESSION_HANDLE,
        data: &[u8],
        cap: Option<usize>,
    ) -> Result<Output> {
        self.single_part_allowed(h)?;
        self.sign_finish(h, data, cap)
    }

    /// C_SignUpdate.
    pub fn sign_update(&mut self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        self.collect(h, data, |op| match op {
            Operation::Sign(op) => Some((&mut op.data, &mut op.multi_part)),
            _ => None,
        })
    }

    /// C_SignFinal.
    pub fn sign_final(&mut self, h: CK_SESSION_HANDLE, cap: Option<usize>) -> Result<Output> {
        self.sign_finish(h, &[], cap)
    }

    fn sign_finish(
        &mut self,
        h: CK_SESSION_HANDLE,
        tail: &[u8],
        cap: Option<usize>,
    ) -> Result<Output> {
        let idx = self.check_session(h)?;
        let (s, token) = self.parts(h, idx)?;
        let Some(Operation::Sign(op)) = &s.op else {
            return Err(Error::OperationNotInitialized);
        };
        let mut message = Zeroizing::new(op.data.to_vec());
        message.extend_from_slice(tail);
        let keyop = op.key.clone();
        let needs_context_login = op.always_auth && !op.context_verified;
        // The length is answered before the input is checked (issue 7, compat §14).
        if !fits(cap, keyop.k) {
            return Ok(Output::Len(keyop.k));
        }
        let r = (|| {
            let o = token
                .object(keyop.key)
                .ok_or(Error::KeyHandleInvalid(keyop.key))?;
            let ObjectKind::PrivateKey(ki) = o.kind else {
                return Err(Error::KeyTypeInconsistent);
            };
            let key = token.contents().keys[ki].clone();
            let input = sign_input(&keyop, &message)?;
            // Refused without card I/O when the card could not take it.
            token.card.check_sign(&key.id, &input)?;
            Ok((key, input))
        })();
        let (key, input) = match r {
            Ok(x) => x,
            Err(e) => {
                s.op = None;
                return Err(e);
            }
        };
        if needs_context_login {
            // CKA_ALWAYS_AUTHENTICATE without C_Login(CKU_CONTEXT_SPECIFIC) (PKCS#11 §5.6).
            s.op = None;
            return Err(Error::UserNotLoggedIn);
        }
        let r = self.card_op(idx, Replay::Safe, |t| t.card.sign(&key.id, &input));
        if let Ok(s) = self.session_mut(h) {
            s.op = None;
        }
        // The card layer answers modulus-length signatures (left-padded there).
        let sig = r.map_err(|e| match e {
            Error::Card(CardError::FileNotFound) => Error::DeviceError("key not found on the card"),
            e => e,
        })?;
        Ok(Output::Bytes(sig))
    }

    // ---- verify (software) ----------------------------------------------------------------

    /// C_VerifyInit: with a public key (or a private key: its public half).
    pub fn verify_init(
        &mut self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        let (idx, _) = self.op_init(h, InitOp::Verify, key, mech)?;
        let k = self.public_key_len(idx, key)?;
        let pss_hash = pss_hash(mech)?;
        let op = KeyOp {
            key,
            mech: mech.ty,
            pss_hash,
            k,
        };
        self.set_op(
            h,
            Operation::Verify(VerifyOp {
                key: op,
                data: Vec::new(),
                multi_part: false,
            }),
        )
    }

    fn public_key_len(&mut self, idx: usize, key: CK_OBJECT_HANDLE) -> Result<usize> {
        let token = self.token_mut(idx)?;
        let o = token.object(key).ok_or(Error::KeyHandleInvalid(key))?;
        match o.rsa_public(&token.view()) {
            Some((n, _)) if !n.is_empty() => Ok(n.len()),
            _ => Err(Error::KeyTypeInconsistent),
        }
    }

    /// C_Verify.
    pub fn verify(&mut self, h: CK_SESSION_HANDLE, data: &[u8], sig: &[u8]) -> Result<()> {
        self.single_part_allowed(h)?;
        self.verify_finish(h, data, sig)
    }

    /// C_VerifyUpdate.
    pub fn verify_update(&mut self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        self.collect(h, data, |op| match op {
            Operation::Verify(op) => Some((&mut op.data, &mut op.multi_part)),
            _ => None,
        })
    }

    /// C_VerifyFinal.
    pub fn verify_final(&mut self, h: CK_SESSION_HANDLE, sig: &[u8]) -> Result<()> {
        self.verify_finish(h, &[], sig)
    }

    fn verify_finish(&mut self, h: CK_SESSION_HANDLE, tail: &[u8], sig: &[u8]) -> Result<()> {
        let idx = self.check_session(h)?;
        let (s, token) = self.parts(h, idx)?;
        let Some(Operation::Verify(op)) = s.op.take() else {
            return Err(Error::OperationNotInitialized);
        };
        let mut message = op.data;
        message.extend_from_slice(tail);
        let o = token
            .object(op.key.key)
            .ok_or(Error::KeyHandleInvalid(op.key.key))?;
        let (n, e) = o
            .rsa_public(&token.view())
            .ok_or(Error::KeyTypeInconsistent)?;
        let k = op.key.k;
        // The data length is checked before the signature length (ANS, compat §14).
        let data_len_ok = match op.key.mech {
            CKM_RSA_PKCS => message.len() + soft::PKCS1_OVERHEAD <= k,
            CKM_RSA_PKCS_PSS => op.key.pss_hash.is_some_and(|a| message.len() == a.len()),
            CKM_RSA_X_509 => message.len() <= k,
            _ => true,
        };
        if !data_len_ok {
            return Err(Error::DataLenRange);
        }
        if sig.len() != k {
            return Err(Error::SignatureLenRange);
        }
        let r = match op.key.mech {
            CKM_RSA_PKCS => soft::verify_pkcs1_raw(&n, &e, &message, sig),
            CKM_SHA1_RSA_PKCS | CKM_SHA256_RSA_PKCS => {
                let alg = mechanism::hash_of(op.key.mech).ok_or(Error::Internal("hash"))?;
                soft::verify_pkcs1_hash(&n, &e, alg, &mechanism::hash(alg, &message), sig)
            }
            CKM_RSA_PKCS_PSS => {
                let alg = op.key.pss_hash.ok_or(Error::Internal("pss"))?;
                soft::verify_pss(&n, &e, alg, &message, alg.len(), sig)
            }
            CKM_SHA1_RSA_PKCS_PSS | CKM_SHA256_RSA_PKCS_PSS => {
                let alg = op.key.pss_hash.ok_or(Error::Internal("pss"))?;
                let hash = mechanism::hash(alg, &message);
                soft::verify_pss(&n, &e, alg, &hash, alg.len(), sig)
            }
            CKM_RSA_X_509 => {
                let m = soft::rsa_public_raw(&n, &e, sig).map_err(soft_error)?;
                let mut expected = vec![0u8; k - message.len()];
                expected.extend_from_slice(&message);
                if m == expected {
                    Ok(())
                } else {
                    Err(SoftError::SignatureInvalid)
                }
            }
            other => return Err(Error::MechanismInvalid(other)),
        };
        r.map_err(soft_error)
    }

    // ---- encrypt (software) ---------------------------------------------------------------

    /// C_EncryptInit: CKM_RSA_PKCS with a public key; not with the signature key (the
    /// Cryptolib refuses labels containing "Sign", compat §7.2).
    pub fn encrypt_init(
        &mut self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        let (idx, _) = self.op_init(h, InitOp::Encrypt, key, mech)?;
        let token = self.token_mut(idx)?;
        let o = token.object(key).ok_or(Error::KeyHandleInvalid(key))?;
        let view = token.view();
        if !matches!(o.kind, ObjectKind::PublicKey(_)) || o.label(&view).contains("Sign") {
            return Err(Error::KeyTypeInconsistent);
        }
        let k = self.public_key_len(idx, key)?;
        let op = KeyOp {
            key,
            mech: mech.ty,
            pss_hash: None,
            k,
        };
        self.set_op(h, Operation::Encrypt(op))
    }

    /// C_Encrypt (single part only, compat §8).
    pub fn encrypt(
        &mut self,
        h: CK_SESSION_HANDLE,
        data: &[u8],
        cap: Option<usize>,
    ) -> Result<Output> {
        let idx = self.check_session(h)?;
        let (s, token) = self.parts(h, idx)?;
        let Some(Operation::Encrypt(op)) = &s.op else {
            return Err(Error::OperationNotInitialized);
        };
        let op = op.clone();
        // The length is answered before the input is checked (issue 7).
        if !fits(cap, op.k) {
            return Ok(Output::Len(op.k));
        }
        if data.len() + 11 > op.k {
            s.op = None;
            return Err(Error::DataLenRange);
        }
        s.op = None;
        let view: ObjectView = token.view();
        let o = token
            .object(op.key)
            .ok_or(Error::KeyHandleInvalid(op.key))?;
        let (n, e) = o.rsa_public(&view).ok_or(Error::KeyTypeInconsistent)?;
        soft::encrypt_pkcs1(&n, &e, data)
            .map(Output::Bytes)
            .map_err(soft_error)
    }

    // ---- decrypt (card) -------------------------------------------------------------------

    /// C_DecryptInit: an unknown key handle gives CKR_OBJECT_HANDLE_INVALID (ANS, §14).
    pub fn decrypt_init(
        &mut self,
        h: CK_SESSION_HANDLE,
        mech: &Mechanism,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        let (idx, _) = self.op_init(h, InitOp::Decrypt, key, mech)?;
        let k = self.private_key(idx, key, |k| k.can_decrypt)?;
        let op = KeyOp {
            key,
            mech: mech.ty,
            pss_hash: None,
            k: key_bytes(&k),
        };
        self.set_op(
            h,
            Operation::Decrypt(DecryptOp {
                key: op,
                data: Vec::new(),
                result: None,
                multi_part: false,
            }),
        )
    }

    /// C_Decrypt.
    pub fn decrypt(
        &mut self,
        h: CK_SESSION_HANDLE,
        data: &[u8],
        cap: Option<usize>,
    ) -> Result<Output> {
        self.single_part_allowed(h)?;
        self.decrypt_finish(h, Some(data), cap)
    }

    /// C_DecryptUpdate: collects the cryptogram; the plaintext comes with C_DecryptFinal.
    pub fn decrypt_update(&mut self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<Output> {
        self.collect(h, data, |op| match op {
            Operation::Decrypt(op) => Some((&mut op.data, &mut op.multi_part)),
            _ => None,
        })?;
        Ok(Output::Bytes(Vec::new()))
    }

    /// C_DecryptFinal.
    pub fn decrypt_final(&mut self, h: CK_SESSION_HANDLE, cap: Option<usize>) -> Result<Output> {
        self.decrypt_finish(h, None, cap)
    }

    fn decrypt_finish(
        &mut self,
        h: CK_SESSION_HANDLE,
        data: Option<&[u8]>,
        cap: Option<usize>,
    ) -> Result<Output> {
        let idx = self.check_session(h)?;
        let s = self.session_mut(h)?;
        let Some(Operation::Decrypt(op)) = &mut s.op else {
            return Err(Error::OperationNotInitialized);
        };
        if let Some(r) = &op.result {
            if !fits(cap, r.len()) {
                return Ok(Output::Len(r.len()));
            }
            let out = r.to_vec();
            s.op = None;
            return Ok(Output::Bytes(out));
        }
        let cryptogram = match data {
            Some(d) => d.to_vec(),
            None => op.data.clone(),
        };
        let (key, k) = (op.key.key, op.key.k);
        // A length query is answered before the input is checked (issue 7).
        let Some(cap) = cap else {
            return Ok(Output::Len(k));
        };
        if cryptogram.len() != k {
            s.op = None;
            return Err(Error::EncryptedDataLenRange);
        }
        let key_id = {
            let token = self.token_mut(idx)?;
            match token.object(key).map(|o| o.kind) {
                Some(ObjectKind::PrivateKey(i)) => Some(token.contents().keys[i].id.clone()),
                _ => None,
            }
        };
        let Some(key_id) = key_id else {
            self.end_operation(h);
            return Err(Error::ObjectHandleInvalid(key));
        };
        let r = self.card_op(idx, Replay::Safe, |t| t.card.decrypt(&key_id, &cryptogram));
        let plain = match r {
            Ok(p) => Zeroizing::new(p),
            Err(e) => {
                // A card pulled meanwhile took the session with it: its error is the answer
                // (CKR_TOKEN_NOT_PRESENT, as C_Sign), not the session's.
                self.end_operation(h);
                return Err(match e {
                    Error::Card(CardError::Status(_)) | Error::Refused(Refusal::InputForm) => {
                        Error::EncryptedDataInvalid
                    }
                    Error::Card(CardError::WrongLength) | Error::Refused(Refusal::InputLength) => {
                        Error::EncryptedDataLenRange
                    }
                    e => e,
                });
            }
        };
        let s = self.session_mut(h)?;
        if plain.len() <= cap {
            s.op = None;
            Ok(Output::Bytes(plain.to_vec()))
        } else {
            let n = plain.len();
            if let Some(Operation::Decrypt(op)) = &mut s.op {
                op.result = Some(plain);
            }
            Ok(Output::Len(n))
        }
    }

    // ---- digest (software) ----------------------------------------------------------------

    /// C_DigestInit: CKM_SHA_1 or CKM_SHA256.
    pub fn digest_init(&mut self, h: CK_SESSION_HANDLE, mech: &Mechanism) -> Result<()> {
        self.op_init(h, InitOp::Digest, 0, mech)?;
        if !mech.param.is_empty() {
            return Err(Error::MechanismParamInvalid);
        }
        let alg = mechanism::hash_of(mech.ty).ok_or(Error::Internal("hash"))?;
        let s = self.session_mut(h)?;
        s.op = Some(Operation::Digest(DigestOp {
            hasher: Hasher::new(alg),
            multi_part: false,
        }));
        Ok(())
    }

    /// C_Digest.
    pub fn digest(
        &mut self,
        h: CK_SESSION_HANDLE,
        data: &[u8],
        cap: Option<usize>,
    ) -> Result<Output> {
        self.single_part_allowed(h)?;
        let s = self.session_mut(h)?;
        let Some(Operation::Digest(DigestOp { hasher, .. })) = &s.op else {
            return Err(Error::OperationNotInitialized);
        };
        let n = mechanism::hash_len(hasher.alg());
        if !fits(cap, n) {
            return Ok(Output::Len(n));
        }
        let mut hasher = hasher.clone();
        hasher.update(data);
        let out = hasher.finish();
        s.op = None;
        s.last_digest = Some(out.clone());
        Ok(Output::Bytes(out))
    }

    /// C_DigestUpdate.
    pub fn digest_update(&mut self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        self.check_session(h)?;
        match &mut self.session_mut(h)?.op {
            Some(Operation::Digest(op)) => {
                op.hasher.update(data);
                op.multi_part = true;
                Ok(())
            }
            _ => Err(Error::OperationNotInitialized),
        }
    }

    /// C_DigestFinal; after a completed C_Digest it returns that digest again (compat §14).
    pub fn digest_final(&mut self, h: CK_SESSION_HANDLE, cap: Option<usize>) -> Result<Output> {
        self.check_session(h)?;
        let s = self.session_mut(h)?;
        match &s.op {
            Some(Operation::Digest(op)) => {
                let n = mechanism::hash_len(op.hasher.alg());
                if !fits(cap, n) {
                    return Ok(Output::Len(n));
                }
                let Some(Operation::Digest(op)) = s.op.take() else {
                    return Err(Error::Internal("digest state"));
                };
                Ok(Output::Bytes(op.hasher.finish()))
            }
            None if s.last_digest.is_some() => {
                let d = s.last_digest.as_ref().map_or(0, Vec::len);
                if !fits(cap, d) {
                    return Ok(Output::Len(d));
                }
                Ok(Output::Bytes(s.last_digest.take().unwrap_or_default()))
            }
            _ => Err(Error::OperationNotInitialized),
        }
    }
}

/// Whether a caller's buffer of `cap` bytes (None: a length query) takes `n` bytes; when it
/// does not, the call answers with the length (PKCS#11 2.40 §5.2).
fn fits(cap: Option<usize>, n: usize) -> bool {
    matches!(cap, Some(c) if c >= n)
}

/// The modulus length of a card key in bytes: the signature / cryptogram length.
fn key_bytes(k: &KeyInfo) -> usize {
    k.modulus.len().max(k.bits.div_ceil(8))
}

/// The hash of a PSS mechanism's parameters; None for the other mechanisms.
fn pss_hash(mech: &Mechanism) -> Result<Option<HashAlg>> {
    if mechanism::is_pss(mech.ty) {
        mechanism::check_pss_params(mech.ty, &mech.param).map(Some)
    } else {
        Ok(None)
    }
}

/// Maps (card, key, mechanism, message) to what the card signs (compat §7.2).
/// The signing input the mechanism asks for; the card's rules (which path, what size the
/// key takes, padding) are the card layer's (`CpxCard::check_sign`).
fn sign_input(op: &KeyOp, message: &[u8]) -> Result<SignInput> {
    Ok(match op.mech {
        CKM_RSA_PKCS => SignInput::Pkcs1 {
            data: message.to_vec(),
        },
        CKM_SHA1_RSA_PKCS | CKM_SHA256_RSA_PKCS => SignInput::Pkcs1Message {
            alg: mechanism::hash_of(op.mech).ok_or(Error::Internal("hash"))?,
            message: message.to_vec(),
        },
        CKM_RSA_PKCS_PSS => SignInput::Pss {
            alg: op.pss_hash.ok_or(Error::MechanismParamInvalid)?,
            hash: message.to_vec(),
        },
        CKM_SHA1_RSA_PKCS_PSS | CKM_SHA256_RSA_PKCS_PSS => {
            let alg = op.pss_hash.ok_or(Error::MechanismParamInvalid)?;
            SignInput::Pss {
                alg,
                hash: mechanism::hash(alg, message),
            }
        }
        CKM_RSA_X_509 => SignInput::Raw {
            block: message.to_vec(),
        },
        other => return Err(Error::MechanismInvalid(other)),
    })
}

/// Software-crypto failures in PKCS#11 terms.
fn soft_error(e: SoftError) -> Error {
    match e {
        SoftError::DataLen => Error::DataLenRange,
        SoftError::DataInvalid => Error::DataInvalid,
        SoftError::SignatureInvalid => Error::SignatureInvalid,
        SoftError::SignatureLen => Error::SignatureLenRange,
        SoftError::Key => Error::KeyTypeInconsistent,
    }
}
