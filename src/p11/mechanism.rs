//! Mechanisms per card generation (`cryptolib-compat.md` §7), their flags and key sizes,
//! DigestInfo prefixes and the `CK_RSA_PKCS_PSS_PARAMS` check.

use super::error::{Error, Result};
use crate::cpx::{Generation, HashAlg};
use crate::soft;

pub use crate::soft::{digest as hash, Hasher};
use cryptoki_sys::*;

/// A mechanism as the client passed it: type and raw parameter bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mechanism {
    pub ty: CK_MECHANISM_TYPE,
    pub param: Vec<u8>,
}

impl Mechanism {
    pub fn new(ty: CK_MECHANISM_TYPE) -> Self {
        Mechanism {
            ty,
            param: Vec::new(),
        }
    }
}

/// Mechanisms advertised for a token of `generation`, in `C_GetMechanismList` order.
pub fn mechanisms(generation: Generation) -> &'static [CK_MECHANISM_TYPE] {
    match generation {
        Generation::Cps3 => &[
            CKM_RSA_PKCS,
            CKM_SHA1_RSA_PKCS,
            CKM_SHA256_RSA_PKCS,
            CKM_SHA_1,
            CKM_SHA256,
        ],
        // The contactless token signs with CKM_RSA_PKCS only (compat §7.1).
        Generation::Cps3Cl => &[CKM_RSA_PKCS, CKM_SHA_1, CKM_SHA256],
        Generation::Cps4 => &[
            CKM_RSA_PKCS,
            CKM_SHA1_RSA_PKCS,
            CKM_SHA256_RSA_PKCS,
            CKM_RSA_PKCS_PSS,
            CKM_SHA1_RSA_PKCS_PSS,
            CKM_SHA256_RSA_PKCS_PSS,
            CKM_RSA_X_509,
            CKM_SHA_1,
            CKM_SHA256,
        ],
    }
}

/// `CK_MECHANISM_INFO` for `ty` on a token of `generation`.
pub fn info(generation: Generation, ty: CK_MECHANISM_TYPE) -> Result<CK_MECHANISM_INFO> {
    if !mechanisms(generation).contains(&ty) {
        return Err(Error::MechanismInvalid(ty));
    }
    let (min, max) = match generation {
        Generation::Cps3 | Generation::Cps3Cl => (512, 2048),
        Generation::Cps4 => (2048, 2048),
    };
    let rsa = CKF_HW | CKF_SIGN | CKF_VERIFY;
    let flags = match ty {
        CKM_SHA_1 | CKM_SHA256 => return Ok(mech_info(0, 0, CKF_DIGEST)),
        // Encrypt and verify are done in software with the certificate's public key.
        CKM_RSA_PKCS if generation == Generation::Cps3Cl => rsa | CKF_ENCRYPT,
        CKM_RSA_PKCS => rsa | CKF_ENCRYPT | CKF_DECRYPT,
        _ => rsa,
    };
    Ok(mech_info(min, max, flags))
}

fn mech_info(min: CK_ULONG, max: CK_ULONG, flags: CK_FLAGS) -> CK_MECHANISM_INFO {
    CK_MECHANISM_INFO {
        ulMinKeySize: min,
        ulMaxKeySize: max,
        flags,
    }
}

/// The hash a `*_RSA_PKCS*` mechanism computes, if any.
pub fn hash_of(ty: CK_MECHANISM_TYPE) -> Option<HashAlg> {
    match ty {
        CKM_SHA1_RSA_PKCS | CKM_SHA1_RSA_PKCS_PSS | CKM_SHA_1 => Some(HashAlg::Sha1),
        CKM_SHA256_RSA_PKCS | CKM_SHA256_RSA_PKCS_PSS | CKM_SHA256 => Some(HashAlg::Sha256),
        _ => None,
    }
}

pub fn is_pss(ty: CK_MECHANISM_TYPE) -> bool {
    matches!(
        ty,
        CKM_RSA_PKCS_PSS | CKM_SHA1_RSA_PKCS_PSS | CKM_SHA256_RSA_PKCS_PSS
    )
}

pub fn hash_len(alg: HashAlg) -> usize {
    alg.len()
}

/// What a CKM_RSA_PKCS input for a signature key is: a bare SHA-1/SHA-256 hash or a
/// DigestInfo over one. Anything else cannot be signed by PSO CDS (compat §7.2):
/// a DigestInfo length with another prefix is CKR_DATA_INVALID, any other length
/// CKR_DATA_LEN_RANGE.
pub fn classify_hash_input(data: &[u8]) -> Result<HashAlg> {
    if let Some((alg, _)) = soft::hash_or_digest_info(data) {
        return Ok(alg);
    }
    let info_len = |a: HashAlg| a.digest_info_prefix().len() + a.len();
    if data.len() == info_len(HashAlg::Sha1) || data.len() == info_len(HashAlg::Sha256) {
        Err(Error::DataInvalid)
    } else {
        Err(Error::DataLenRange)
    }
}

/// DigestInfo ‖ hash of `message` (software hash).
pub fn digest_info_of(alg: HashAlg, message: &[u8]) -> Result<Vec<u8>> {
    soft::digest_info(alg, &soft::digest(alg, message)).map_err(|_| Error::Internal("digest info"))
}

/// Checks `CK_RSA_PKCS_PSS_PARAMS` (three native-endian `CK_ULONG`s) for mechanism `ty`:
/// hash = the mechanism's hash (for CKM_RSA_PKCS_PSS any of SHA-1/SHA-256), MGF1 over the same
/// hash, salt length = hash length (what the cards compute). Returns the hash.
pub fn check_pss_params(ty: CK_MECHANISM_TYPE, param: &[u8]) -> Result<HashAlg> {
    const W: usize = std::mem::size_of::<CK_ULONG>();
    if param.len() != 3 * W {
        return Err(Error::MechanismParamInvalid);
    }
    let word = |i: usize| {
        let mut b = [0u8; W];
        b.copy_from_slice(&param[i * W..(i + 1) * W]);
        CK_ULONG::from_ne_bytes(b)
    };
    let (hash_alg, mgf, salt) = (word(0), word(1), word(2));
    let alg = match hash_alg {
        CKM_SHA_1 => HashAlg::Sha1,
        CKM_SHA256 => HashAlg::Sha256,
        _ => return Err(Error::MechanismParamInvalid),
    };
    if let Some(expected) = hash_of(ty) {
        if expected != alg {
            return Err(Error::MechanismParamInvalid);
        }
    }
    let mgf_ok = matches!(
        (alg, mgf),
        (HashAlg::Sha1, CKG_MGF1_SHA1) | (HashAlg::Sha256, CKG_MGF1_SHA256)
    );
    if !mgf_ok || salt as usize != hash_len(alg) {
        return Err(Error::MechanismParamInvalid);
    }
    Ok(alg)
}

/// Encodes `CK_RSA_PKCS_PSS_PARAMS` the way a client passes it (tests, in-process callers).
pub fn pss_params(alg: HashAlg) -> Vec<u8> {
    let (h, mgf) = match alg {
        HashAlg::Sha1 => (CKM_SHA_1, CKG_MGF1_SHA1),
        HashAlg::Sha256 => (CKM_SHA256, CKG_MGF1_SHA256),
    };
    let mut v = Vec::new();
    for w in [h, mgf, hash_len(alg) as CK_ULONG] {
        v.extend_from_slice(&w.to_ne_bytes());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pss_only_on_cps4() {
        assert!(mechanisms(Generation::Cps4).contains(&CKM_SHA256_RSA_PKCS_PSS));
        assert!(!mechanisms(Generation::Cps3).contains(&CKM_RSA_PKCS_PSS));
        assert!(!mechanisms(Generation::Cps3).contains(&CKM_RSA_X_509));
        assert_eq!(mechanisms(Generation::Cps3Cl)[0], CKM_RSA_PKCS);
        assert!(matches!(
            info(Generation::Cps3, CKM_RSA_PKCS_PSS),
            Err(Error::MechanismInvalid(_))
        ));
        let i = info(Generation::Cps4, CKM_RSA_PKCS).unwrap();
        assert_eq!((i.ulMinKeySize, i.ulMaxKeySize), (2048, 2048));
        assert_ne!(i.flags & CKF_ENCRYPT, 0);
        assert_eq!(
            info(Generation::Cps3, CKM_SHA256).unwrap().flags,
            CKF_DIGEST
        );
    }

    #[test]
    fn digest_info_classification() {
        let h1 = hash(HashAlg::Sha1, b"abc");
        let h2 = hash(HashAlg::Sha256, b"abc");
        assert_eq!(classify_hash_input(&h1).unwrap(), HashAlg::Sha1);
        assert_eq!(classify_hash_input(&h2).unwrap(), HashAlg::Sha256);
        assert_eq!(
            classify_hash_input(&digest_info_of(HashAlg::Sha256, b"abc").unwrap()).unwrap(),
            HashAlg::Sha256
        );
        assert_eq!(digest_info_of(HashAlg::Sha1, b"abc").unwrap().len(), 35);
        let mut bad = digest_info_of(HashAlg::Sha256, b"abc").unwrap();
        bad[3] ^= 1;
        assert!(matches!(classify_hash_input(&bad), Err(Error::DataInvalid)));
        assert!(matches!(
            classify_hash_input(&[0; 21]),
            Err(Error::DataLenRange)
        ));
    }

    #[test]
    fn pss_params_rules() {
        let p = pss_params(HashAlg::Sha256);
        assert_eq!(
            check_pss_params(CKM_SHA256_RSA_PKCS_PSS, &p).unwrap(),
            HashAlg::Sha256
        );
        assert_eq!(
            check_pss_params(CKM_RSA_PKCS_PSS, &p).unwrap(),
            HashAlg::Sha256
        );
        assert!(check_pss_params(CKM_SHA1_RSA_PKCS_PSS, &p).is_err());
        assert!(check_pss_params(CKM_RSA_PKCS_PSS, &p[..16]).is_err());
        let mut wrong_salt = p.clone();
        wrong_salt[16] = 20;
        assert!(check_pss_params(CKM_RSA_PKCS_PSS, &wrong_salt).is_err());
    }

    #[test]
    fn hasher_matches_one_shot() {
        let mut h = Hasher::new(HashAlg::Sha256);
        h.update(b"ab");
        h.update(b"c");
        assert_eq!(h.finish(), hash(HashAlg::Sha256, b"abc"));
    }
}
