//! The token contents from what the PKCS#15 files say (no card I/O): the PIN and PUK
//! records, the CPS3 algorithm references, the keys with their roles, references and public
//! keys, the CPS2ter volet's data objects, and PKCS#15 paths made absolute.

use super::layout::{self, label, mechanism, Cps3AlgRefs, MF};
use super::pkcs15::{self, op, usage, Path};
use super::session::{path_bytes, path_fids, ObjectSource, PinRecord, Session};
use super::types::{CertInfo, DataObject, Generation, KeyInfo, KeyRole, PinInfo};

/// A PKCS#15 path → absolute FIDs: paths starting with `3F00` are absolute, others are
/// relative to the application DF. Empty paths (AID-only keys) give `None`.
pub fn absolute(app_df: &[u16], p: &Path) -> Option<Vec<u16>> {
    let fids = path_fids(&p.path);
    match fids.first() {
        None => None,
        Some(&MF) => Some(fids),
        Some(_) => Some([app_df, &fids].concat()),
    }
}

/// CPS3 algorithm references from TokenInfo, defaulting to the known values.
pub(super) fn alg_refs(info: &pkcs15::TokenInfo) -> Cps3AlgRefs {
    let find = |mech: u64, operation: u64, default: u8| {
        info.algorithms
            .iter()
            .find(|a| a.mechanism == mech && a.operations & operation != 0)
            .and_then(|a| a.alg_ref)
            .and_then(|r| u8::try_from(r).ok())
            .unwrap_or(default)
    };
    let d = layout::CPS3_ALG_REFS;
    Cps3AlgRefs {
        hash_sha1: find(mechanism::SHA_1, op::HASH, d.hash_sha1),
        hash_sha256: find(mechanism::SHA256, op::HASH, d.hash_sha256),
        sign_sha1: find(mechanism::SHA1_RSA_PKCS, op::SIGN, d.sign_sha1),
        sign_sha256: find(mechanism::SHA256_RSA_PKCS, op::SIGN, d.sign_sha256),
        sign_raw: find(mechanism::RSA_PKCS, op::SIGN, d.sign_raw),
        decipher: find(mechanism::RSA_PKCS, op::DECIPHER, d.decipher),
    }
}

/// User PIN and PUK from the AODF (the PUK is the soPin/unblockingPin object). A contact
/// card without an AODF gets the known defaults; the contactless token has no PIN.
pub(super) fn pins(s: &mut Session, aodf: &[pkcs15::AuthObject]) {
    let record = |a: &pkcs15::AuthObject| PinRecord {
        info: PinInfo {
            label: a.common.label.clone(),
            reference: a.reference,
            min_len: a.min_len,
            // maxLength may be absent; storedLength bounds it then.
            max_len: a.max_len.unwrap_or(a.stored_len).max(a.min_len),
            stored_len: a.stored_len,
            pad_char: a.pad_char,
        },
        needs_padding: a.needs_padding(),
    };
    s.user_pin = aodf.iter().find(|a| !a.is_so_pin()).map(record);
    s.so_pin = aodf.iter().find(|a| a.is_so_pin()).map(record);
    if s.generation == Generation::Cps3Cl {
        // The contactless application has no PIN (cpx-cards §12).
        s.user_pin = None;
        s.so_pin = None;
    } else {
        // Contact cards always have both; the AODF only refines the defaults (CPS4's AODF
        // is not published: [assume] the CPS3 values, cpx-cards §10.4).
        s.user_pin.get_or_insert_with(PinRecord::default_user);
        s.so_pin.get_or_insert_with(PinRecord::default_so);
    }
}

fn role_of(generation: Generation, k: &pkcs15::PrivateKey) -> KeyRole {
    match k.common.label.as_str() {
        label::PRIV_SIG => KeyRole::Signature,
        label::PRIV_AUT => KeyRole::Authentication,
        label::PRIV_TECH_AUT => KeyRole::Technical,
        _ if generation == Generation::Cps3Cl => KeyRole::Technical,
        _ if k.usage & usage::NON_REPUDIATION != 0 => KeyRole::Signature,
        _ => KeyRole::Authentication,
    }
}

/// Default MSE key reference when the PrKDF has none.
fn default_key_ref(generation: Generation, role: KeyRole) -> u8 {
    match (generation, role) {
        (Generation::Cps4, KeyRole::Signature) => 0x10,
        (Generation::Cps4, _) => layout::CPS4_AUTH_KEY_REF,
        (_, KeyRole::Authentication) => 0x82,
        (_, _) => 0x81,
    }
}

/// Keys of the PrKDF, with the public key of the certificate of the same iD.
pub(super) fn keys(
    generation: Generation,
    prkdf: &[pkcs15::PrivateKey],
    certs: &[(CertInfo, crate::x509::CertFields)],
) -> Vec<KeyInfo> {
    prkdf
        .iter()
        .map(|k| {
            let role = role_of(generation, k);
            let cert = certs.iter().find(|(c, _)| c.id == k.id).map(|(_, f)| f);
            let key_ref = k
                .key_reference
                .and_then(|r| u8::try_from(r).ok())
                .unwrap_or_else(|| default_key_ref(generation, role));
            let mut can_sign =
                k.usage & (usage::SIGN | usage::SIGN_RECOVER | usage::NON_REPUDIATION) != 0;
            let mut can_decrypt = k.usage & (usage::DECRYPT | usage::UNWRAP) != 0;
            if k.usage == 0 {
                can_sign = true;
                can_decrypt = role == KeyRole::Authentication;
            }
            KeyInfo {
                label: k.common.label.clone(),
                id: k.id.clone(),
                role,
                key_ref,
                bits: k
                    .modulus_bits
                    .or(cert.map(|c| c.modulus_bits))
                    .unwrap_or(2048),
                modulus: cert.map(|c| c.modulus.clone()).unwrap_or_default(),
                public_exponent: cert.map(|c| c.public_exponent.clone()).unwrap_or_default(),
                can_sign,
                can_decrypt,
                non_repudiation: k.usage & usage::NON_REPUDIATION != 0,
                needs_login: generation != Generation::Cps3Cl && k.common.auth_id.is_some(),
                user_consent: k.common.user_consent.is_some_and(|n| n > 0),
            }
        })
        .collect()
}

/// `CPS2TER_ACTIVITY_nn_PS` for each `CPS_ACTIVITY_nn_PS`, and `CPS_SIT_FACT` (unless the
/// DODF has it), all private, read from the volet on demand.
pub(super) fn volet_objects(dodf: &[DataObject]) -> Vec<(DataObject, ObjectSource)> {
    let mut out = Vec::new();
    let mut add = |label: String, path: Vec<u16>| {
        out.push((
            DataObject {
                label: label.clone(),
                application: label::APPLICATION.to_string(),
                private: true,
                modifiable: false,
                path: path_bytes(&path),
                value: None,
            },
            ObjectSource {
                label,
                path,
                volet: true,
                size: None,
            },
        ));
    };
    for d in dodf {
        let Some(n) = d
            .label
            .strip_prefix(label::ACTIVITY_PREFIX)
            .and_then(|r| r.strip_suffix(label::ACTIVITY_SUFFIX))
            .and_then(|n| n.parse::<u16>().ok())
            .filter(|n| (1..=16).contains(n))
        else {
            continue;
        };
        add(
            format!(
                "{}{n:02}{}",
                label::CPS2TER_ACTIVITY_PREFIX,
                label::ACTIVITY_SUFFIX
            ),
            vec![MF, layout::VOLET_SITUATION_BASE + n - 1],
        );
    }
    if !dodf.iter().any(|d| d.label == label::SIT_FACT) {
        add(label::SIT_FACT.to_string(), layout::VOLET_SIT_FACT.to_vec());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_resolution() {
        let app = [MF, 0x0001];
        let rel = Path {
            path: vec![0x70, 0x01],
            ..Path::default()
        };
        assert_eq!(absolute(&app, &rel), Some(vec![MF, 0x0001, 0x7001]));
        let abs = Path {
            path: vec![0x3F, 0x00, 0x00, 0x02, 0x50, 0x31],
            ..Path::default()
        };
        assert_eq!(absolute(&app, &abs), Some(vec![MF, 0x0002, 0x5031]));
        assert_eq!(absolute(&app, &Path::default()), None);
    }

    #[test]
    fn volet_copies() {
        let obj = |label: &str| DataObject {
            label: label.into(),
            application: "CPS".into(),
            private: true,
            modifiable: false,
            path: vec![],
            value: None,
        };
        let list = [
            obj("CPS_DATA"),
            obj("CPS_ACTIVITY_01_PS"),
            obj("CPS_ACTIVITY_03_PS"),
            obj("CPS_ACTIVITY_XX_PS"),
        ];
        let v = volet_objects(&list);
        let labels: Vec<_> = v.iter().map(|(d, _)| d.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "CPS2TER_ACTIVITY_01_PS",
                "CPS2TER_ACTIVITY_03_PS",
                "CPS_SIT_FACT"
            ]
        );
        assert_eq!(v[1].1.path, vec![MF, 0x4012]);
        assert_eq!(v[2].1.path, vec![MF, 0x7F01, 0x4000]);
        assert!(v.iter().all(|(d, s)| d.private && s.volet));
    }
}
