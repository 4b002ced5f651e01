//! Objects of a bound token (`cryptolib-compat.md` §6) and their attributes, computed from
//! `TokenContents` (no card I/O). `attribute()` is the single lookup used by
//! C_GetAttributeValue and C_FindObjects (`style.md` §7).

use crate::cpx::{KeyRole, TokenContents};
use crate::x509::{self, CertFields};
use cryptoki_sys::*;

/// Result of looking up one attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrLookup {
    Value(Vec<u8>),
    /// The attribute exists but may not be revealed (private key material).
    Sensitive,
    /// The object has no such attribute.
    Invalid,
}

/// One template entry as the client gave it (search templates, C_SetAttributeValue).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    pub ty: CK_ATTRIBUTE_TYPE,
    pub value: Vec<u8>,
}

impl Attr {
    pub fn new(ty: CK_ATTRIBUTE_TYPE, value: impl Into<Vec<u8>>) -> Self {
        Attr {
            ty,
            value: value.into(),
        }
    }
    pub fn ulong(ty: CK_ATTRIBUTE_TYPE, v: CK_ULONG) -> Self {
        Attr::new(ty, ulong(v))
    }
    pub fn bool(ty: CK_ATTRIBUTE_TYPE, v: bool) -> Self {
        Attr::new(ty, vec![v as u8])
    }
}

/// `CK_ULONG` attribute encoding (native endianness, as the C struct holds it).
pub fn ulong(v: CK_ULONG) -> Vec<u8> {
    v.to_ne_bytes().to_vec()
}

fn boolean(v: bool) -> Vec<u8> {
    vec![if v { CK_TRUE } else { CK_FALSE }]
}

/// Which piece of the contents an object shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// `contents.certs[i]`.
    Certificate(usize),
    /// `contents.keys[i]`.
    PrivateKey(usize),
    /// The public key of `contents.certs[i]`.
    PublicKey(usize),
    /// `contents.data_objects[i]`.
    Data(usize),
    /// The token's PKCS#11 3.0 profile (CKO_PROFILE): CKP_PUBLIC_CERTIFICATES_TOKEN tells NSS
    /// that every certificate is public, so it lists them without asking for the PIN.
    Profile(CK_PROFILE_ID),
}

/// An object with its session-independent handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Object {
    pub handle: CK_OBJECT_HANDLE,
    pub kind: ObjectKind,
}

/// What attributes are computed from.
pub struct ObjectView<'a> {
    pub contents: &'a TokenContents,
    pub certs: &'a [Option<CertFields>],
    /// Keys with PKCS#15 userConsent need C_Login(CKU_CONTEXT_SPECIFIC) per signature (no
    /// PIN kept for the silent re-verification).
    pub context_login: bool,
}

/// Label of the public key derived from a certificate (compat §6.1).
pub fn public_key_label(cert_label: &str) -> String {
    format!("Cle publique - {cert_label}")
}

impl Object {
    /// CKA_PRIVATE: invisible before C_Login(CKU_USER).
    pub fn is_private(&self, v: &ObjectView) -> bool {
        match self.kind {
            ObjectKind::PrivateKey(i) => v.contents.keys.get(i).map_or(true, |k| k.needs_login),
            ObjectKind::Data(i) => v.contents.data_objects.get(i).map_or(true, |d| d.private),
            ObjectKind::Certificate(_) | ObjectKind::PublicKey(_) | ObjectKind::Profile(_) => false,
        }
    }

    pub fn label(&self, v: &ObjectView) -> String {
        match self.kind {
            ObjectKind::Certificate(i) => v.contents.certs[i].label.clone(),
            ObjectKind::PrivateKey(i) => v.contents.keys[i].label.clone(),
            ObjectKind::PublicKey(i) => public_key_label(&v.contents.certs[i].label),
            ObjectKind::Data(i) => v.contents.data_objects[i].label.clone(),
            ObjectKind::Profile(_) => String::new(),
        }
    }

    /// RSA public key of a key object (private keys: from KeyInfo; public keys: the cert).
    pub fn rsa_public(&self, v: &ObjectView) -> Option<(Vec<u8>, Vec<u8>)> {
        match self.kind {
            ObjectKind::PrivateKey(i) => {
                let k = &v.contents.keys[i];
                Some((k.modulus.clone(), k.public_exponent.clone()))
            }
            ObjectKind::PublicKey(i) => v.certs[i]
                .as_ref()
                .map(|f| (f.modulus.clone(), f.public_exponent.clone())),
            _ => None,
        }
    }

    /// Does the object match every entry of `template`? Unknown types never match.
    pub fn matches(&self, v: &ObjectView, template: &[Attr]) -> bool {
        template
            .iter()
            .all(|a| matches!(self.attribute(v, a.ty), AttrLookup::Value(x) if x == a.value))
    }

    pub fn attribute(&self, v: &ObjectView, ty: CK_ATTRIBUTE_TYPE) -> AttrLookup {
        let common = |class: CK_OBJECT_CLASS, private: bool, modifiable: bool, label: String| {
            Some(match ty {
                CKA_CLASS => ulong(class),
                CKA_TOKEN => boolean(true),
                CKA_PRIVATE => boolean(private),
                CKA_MODIFIABLE => boolean(modifiable),
                CKA_COPYABLE | CKA_DESTROYABLE => boolean(false),
                CKA_LABEL => label.into_bytes(),
                _ => return None,
            })
        };
        let private = self.is_private(v);
        let label = self.label(v);
        let value = match self.kind {
            ObjectKind::Certificate(i) => {
                let c = &v.contents.certs[i];
                let f = v.certs.get(i).and_then(Option::as_ref);
                common(CKO_CERTIFICATE, false, false, label).or_else(|| {
                    Some(match ty {
                        CKA_CERTIFICATE_TYPE => ulong(CKC_X_509),
                        CKA_ID => c.id.clone(),
                        CKA_TRUSTED => boolean(c.authority),
                        // 1 = token user, 2 = authority (PKCS#11 2.40 §4.6.2).
                        CKA_CERTIFICATE_CATEGORY => ulong(if c.authority { 2 } else { 1 }),
                        CKA_VALUE => c.der.clone(),
                        CKA_SUBJECT => f?.subject.clone(),
                        CKA_ISSUER => f?.issuer.clone(),
                        CKA_SERIAL_NUMBER => f?.serial_der.clone(),
                        CKA_START_DATE => x509::ck_date(f?.not_before).to_vec(),
                        CKA_END_DATE => x509::ck_date(f?.not_after).to_vec(),
                        _ => return None,
                    })
                })
            }
            ObjectKind::PrivateKey(i) => {
                let k = &v.contents.keys[i];
                let subject = v
                    .contents
                    .certs
                    .iter()
                    .position(|c| c.id == k.id)
                    .and_then(|ci| v.certs.get(ci).cloned().flatten())
                    .map(|f| f.subject)
                    .unwrap_or_default();
                let decrypt = k.can_decrypt && k.role == KeyRole::Authentication;
                common(CKO_PRIVATE_KEY, private, false, label).or_else(|| {
                    Some(match ty {
                        CKA_KEY_TYPE => ulong(CKK_RSA),
                        CKA_ID => k.id.clone(),
                        CKA_SUBJECT => subject,
                        CKA_START_DATE | CKA_END_DATE => Vec::new(),
                        CKA_LOCAL
                        | CKA_SENSITIVE
                        | CKA_ALWAYS_SENSITIVE
                        | CKA_NEVER_EXTRACTABLE => boolean(true),
                        CKA_EXTRACTABLE | CKA_DERIVE | CKA_SIGN_RECOVER | CKA_WRAP_WITH_TRUSTED => {
                            boolean(false)
                        }
                        // The Cryptolib never exposes it (compat §9): CK_FALSE, not "invalid",
                        // unless the PIN is not kept (CPX_PKCS11_PIN_CACHE=off, PIN pad) and
                        // the card wants a fresh verification per use (userConsent).
                        CKA_ALWAYS_AUTHENTICATE => boolean(k.user_consent && v.context_login),
                        CKA_KEY_GEN_MECHANISM => ulong(CK_UNAVAILABLE_INFORMATION),
                        CKA_SIGN => boolean(k.can_sign),
                        CKA_DECRYPT | CKA_UNWRAP => boolean(decrypt),
                        CKA_MODULUS => k.modulus.clone(),
                        CKA_MODULUS_BITS => ulong(k.bits as CK_ULONG),
                        CKA_PUBLIC_EXPONENT => k.public_exponent.clone(),
                        _ => return None,
                    })
                })
            }
            ObjectKind::PublicKey(i) => {
                let c = &v.contents.certs[i];
                let f = v.certs.get(i).and_then(Option::as_ref);
                let is_auth = v
                    .contents
                    .keys
                    .iter()
                    .find(|k| k.id == c.id)
                    .map_or(true, |k| k.role != KeyRole::Signature);
                common(CKO_PUBLIC_KEY, false, false, label).or_else(|| {
                    Some(match ty {
                        CKA_KEY_TYPE => ulong(CKK_RSA),
                        CKA_ID => c.id.clone(),
                        CKA_SUBJECT => f?.subject.clone(),
                        CKA_START_DATE | CKA_END_DATE => Vec::new(),
                        CKA_LOCAL | CKA_DERIVE | CKA_VERIFY_RECOVER | CKA_TRUSTED => boolean(false),
                        CKA_KEY_GEN_MECHANISM => ulong(CK_UNAVAILABLE_INFORMATION),
                        CKA_VERIFY => boolean(true),
                        CKA_ENCRYPT | CKA_WRAP => boolean(is_auth),
                        CKA_MODULUS => f?.modulus.clone(),
                        CKA_MODULUS_BITS => ulong(f?.modulus_bits as CK_ULONG),
                        CKA_PUBLIC_EXPONENT => f?.public_exponent.clone(),
                        _ => return None,
                    })
                })
            }
            ObjectKind::Data(i) => {
                let d = &v.contents.data_objects[i];
                common(CKO_DATA, d.private, d.modifiable, label).or_else(|| {
                    Some(match ty {
                        CKA_APPLICATION => d.application.clone().into_bytes(),
                        CKA_OBJECT_ID => Vec::new(),
                        CKA_VALUE => d.value.clone()?,
                        _ => return None,
                    })
                })
            }
            // Not a storage object (PKCS#11 3.0 §4.13): no label; CKA_TOKEN and CKA_PRIVATE
            // still answered, as clients put them in search templates.
            ObjectKind::Profile(id) => match ty {
                CKA_CLASS => Some(ulong(CKO_PROFILE)),
                CKA_PROFILE_ID => Some(ulong(id)),
                CKA_TOKEN => Some(boolean(true)),
                CKA_PRIVATE | CKA_MODIFIABLE | CKA_COPYABLE | CKA_DESTROYABLE => {
                    Some(boolean(false))
                }
                _ => None,
            },
        };
        match value {
            Some(x) => AttrLookup::Value(x),
            None if self.is_sensitive(ty) => AttrLookup::Sensitive,
            None => AttrLookup::Invalid,
        }
    }

    fn is_sensitive(&self, ty: CK_ATTRIBUTE_TYPE) -> bool {
        matches!(self.kind, ObjectKind::PrivateKey(_))
            && matches!(
                ty,
                CKA_PRIVATE_EXPONENT
                    | CKA_PRIME_1
                    | CKA_PRIME_2
                    | CKA_EXPONENT_1
                    | CKA_EXPONENT_2
                    | CKA_COEFFICIENT
                    | CKA_VALUE
            )
    }
}
