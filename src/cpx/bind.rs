//! Binding: confirm the card is a CPx card, then read everything the token needs once
//! (EF.SN, ODF, TokenInfo, AODF, PrKDF, CDF + certificates, DODF + public data objects) —
//! or take it from the persistent card cache (`cache.rs`) when it holds this card's entry
//! and (CPS3) EF_ACTUA says the card was not updated since.
//!
//! Object-level problems (a certificate that does not parse, a data object file that
//! cannot be read) are logged and the object is skipped or left without a value; card
//! removal and transport failures abort the bind.

use super::cache::{CacheKey, CachedFile, CardCache, Entry, PinFacts};
use super::files::Content;
use super::layout::{self, label, mechanism, Cps3AlgRefs, MF};
use super::pkcs15::{self, op, usage, Path};
use super::session::{path_bytes, path_fids, ObjectSource, PinCache, PinRecord, Session};
use super::types::{CertInfo, DataObject, Generation, KeyInfo, KeyRole, PinInfo, TokenContents};
use super::{cps3, cps4, files, serial};
use crate::apdu::{CardError, Channel};

/// Errors that must abort a bind (the card is gone or unusable), as opposed to problems
/// with one object.
fn fatal(e: &CardError) -> bool {
    matches!(
        e,
        CardError::Transport(_) | CardError::UnsupportedCard { .. }
    )
}

/// A file's content and its size (when known: a cache entry's length; the bind reads the
/// card without FCP, so `None` from the card).
type FileRead = (Vec<u8>, Option<usize>);

/// Where the bind's files come from.
enum Source<'e> {
    /// The card. Reads are recorded for the cache; `complete` turns false when a file could
    /// not be read (such a bind is not cached: the failure may be passing).
    Card {
        record: Vec<CachedFile>,
        complete: bool,
    },
    /// A cache entry: no card I/O. A file the entry lacks makes it unusable (`missing`).
    Cached { entry: &'e Entry, missing: bool },
}

impl Source<'_> {
    fn card() -> Source<'static> {
        Source::Card {
            record: Vec::new(),
            complete: true,
        }
    }

    /// Reads an optional file: object-level errors become `None` (logged). From the card:
    /// SELECT without FCP and READ until the file or the needed `content` ends (issue 9).
    fn read(
        &mut self,
        ch: &mut Channel<'_>,
        s: &mut Session,
        path: &[u16],
        what: &str,
        content: Content,
    ) -> Result<Option<FileRead>, CardError> {
        match self {
            Source::Cached { entry, missing } => match entry.file(path) {
                Some(v) => Ok(Some((v.to_vec(), Some(v.len())))),
                None => {
                    *missing = true;
                    Ok(None)
                }
            },
            Source::Card { record, complete } => {
                match files::read_file_lean(ch, s, path, content) {
                    Ok(v) => {
                        record.push(CachedFile {
                            path: path.to_vec(),
                            content: v.clone(),
                        });
                        Ok(Some((v, None)))
                    }
                    Err(e) if fatal(&e) => Err(e),
                    Err(e) => {
                        *complete = false;
                        log::warn!("{what} ({}) not readable: {e}", hex_path(path));
                        Ok(None)
                    }
                }
            }
        }
    }
}

fn hex_path(path: &[u16]) -> String {
    path.iter()
        .map(|f| format!("{f:04X}"))
        .collect::<Vec<_>>()
        .join("/")
}

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

/// EF.SN in the fewest APDUs: CPS3 READ BINARY by SFI (what OpenSC sends, cpx-cards §8.3),
/// falling back to SELECT + READ; CPS4 SELECT without FCI + READ (§10.1).
fn read_ef_sn(ch: &mut Channel<'_>, s: &mut Session) -> Result<Vec<u8>, CardError> {
    let path = [MF, layout::FID_EF_SN];
    if s.generation == Generation::Cps4 {
        files::select_ef_no_fcp(ch, s, &path)?;
        return files::read_current(ch, Some(layout::EF_SN_LEN));
    }
    match files::read_sfi(ch, s, layout::SFI_EF_SN, layout::EF_SN_LEN) {
        Ok(v) if !v.is_empty() => Ok(v),
        Err(e) if fatal(&e) => Err(e),
        _ => files::read_file(ch, s, &path).map(|(v, _)| v),
    }
}

/// EF_ACTUA (CPS3 card-update dates, cpx-cards §4.6): `None` when the card has none.
/// SELECT without FCP, then `expected_len` (the cached content's length) in one READ
/// BINARY, or (cold) a read until its `EC` template is in.
fn read_actua(
    ch: &mut Channel<'_>,
    s: &mut Session,
    expected_len: Option<usize>,
) -> Result<Option<Vec<u8>>, CardError> {
    let path = [MF, layout::FID_EF_ACTUA];
    let r = match expected_len {
        Some(n) if n > 0 => {
            files::select_ef_no_fcp(ch, s, &path).and_then(|_| files::read_current(ch, Some(n)))
        }
        _ => files::read_file_lean(ch, s, &path, Content::Tlv),
    };
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if fatal(&e) => Err(e),
        Err(e) => {
            log::debug!("EF_ACTUA not readable: {e}");
            Ok(None)
        }
    }
}

/// Whether EF_ACTUA is what the entry saw (always true on CPS4, which has no update marker
/// the Cryptolib or we check: the entry's maximum age covers it, `cache.rs`).
fn still_current(ch: &mut Channel<'_>, s: &mut Session, e: &Entry) -> Result<bool, CardError> {
    if s.generation == Generation::Cps4 {
        return Ok(true);
    }
    let now = read_actua(ch, s, Some(e.actua.as_ref().map_or(0, Vec::len)))?;
    Ok(now == e.actua)
}

/// The PIN counters that never change (CPS3 DOCP), for the cache: read now so the first
/// C_GetTokenInfo costs one VERIFY without data. `None` when they cannot be cached (no PIN,
/// a PIN with its own usage counter, unreadable).
fn pin_facts(ch: &mut Channel<'_>, s: &mut Session) -> Result<Option<PinFacts>, CardError> {
    if s.generation != Generation::Cps3 {
        return Ok(None);
    }
    let (Some(pin), Some(puk)) = (s.user_pin.clone(), s.so_pin.clone()) else {
        return Ok(None);
    };
    let docp = |ch: &mut Channel<'_>, s: &mut Session, r: u8| match cps3::read_chv_docp(ch, s, r) {
        Ok(d) => Ok(Some(d)),
        Err(e) if fatal(&e) => Err(e),
        Err(e) => {
            log::debug!("DOCP of CHV {r} not readable: {e}");
            Ok(None)
        }
    };
    let Some(p) = docp(ch, s, pin.info.reference)? else {
        return Ok(None);
    };
    let (Some(max_tries), None) = (p.max_tries, p.usage_left) else {
        return Ok(None);
    };
    let puk_usage_left = docp(ch, s, puk.info.reference)?.and_then(|d| d.usage_left);
    s.pins = PinCache {
        max_tries: Some(max_tries),
        pin_usage_left: None,
        puk_usage_left: Some(puk_usage_left),
    };
    Ok(Some(PinFacts {
        max_tries,
        puk_usage_left,
    }))
}

/// Confirms the card (CPS4: ChipDoc on channel 1; all: EF.SN issuer prefix) and reads the
/// token contents: from `cache` when it holds a valid entry for this card (EF.SN, plus
/// EF_ACTUA on CPS3: 3 APDUs), else from the card (then stored in `cache`).
pub fn read_contents(
    ch: &mut Channel<'_>,
    s: &mut Session,
    atr: &[u8],
    cache: Option<&CardCache>,
) -> Result<TokenContents, CardError> {
    let unsupported = || CardError::UnsupportedCard { atr: atr.to_vec() };
    if s.generation == Generation::Cps4 {
        // No ChipDoc on channel 1 (even after the re-selection sequence): not a CPS4.
        if !s.chipdoc_selected {
            cps4::select_chipdoc(ch, s).map_err(|e| if fatal(&e) { e } else { unsupported() })?;
        }
    }
    let sn = match read_ef_sn(ch, s) {
        Ok(v) => v,
        Err(e) if fatal(&e) => return Err(e),
        Err(e) => {
            log::debug!("EF.SN not readable ({e}): not a CPx card");
            return Err(unsupported());
        }
    };
    let serial = serial::parse_ef_sn(&sn, atr)?;
    let Some(cache) = cache else {
        return contents_from(ch, s, atr, &serial, &mut Source::card());
    };
    let key = CacheKey {
        generation: s.generation,
        pan: serial.pan.clone(),
        atr: atr.to_vec(),
    };
    if let Some(entry) = cache.load(&key) {
        if still_current(ch, s, &entry)? {
            let mut source = Source::Cached {
                entry: &entry,
                missing: false,
            };
            let contents = contents_from(ch, s, atr, &serial, &mut source);
            match (contents, source) {
                (Ok(c), Source::Cached { missing: false, .. }) => {
                    if let Some(p) = entry.pins {
                        s.pins = PinCache {
                            max_tries: Some(p.max_tries),
                            pin_usage_left: None,
                            puk_usage_left: Some(p.puk_usage_left),
                        };
                    }
                    log::debug!("card {} bound from the cache", serial.pan);
                    return Ok(c);
                }
                (r, _) => log::info!(
                    "card cache: entry of card {} unusable ({}); reading the card",
                    serial.pan,
                    r.err().map_or("incomplete".to_string(), |e| e.to_string())
                ),
            }
        } else {
            log::info!(
                "card {}: EF_ACTUA changed (card updated); reading the card",
                serial.pan
            );
        }
    }
    // Cold: read the card, then keep what never changes.
    let actua = match s.generation {
        Generation::Cps4 => None,
        _ => read_actua(ch, s, None)?,
    };
    let mut source = Source::card();
    let contents = contents_from(ch, s, atr, &serial, &mut source)?;
    let pins = pin_facts(ch, s)?;
    if let Source::Card {
        record,
        complete: true,
    } = source
    {
        let mut entry = Entry::new(key);
        entry.actua = actua;
        entry.pins = pins;
        entry.files = record;
        cache.store(&entry);
    }
    Ok(contents)
}

/// The token contents from the PKCS#15 files of `source`.
fn contents_from(
    ch: &mut Channel<'_>,
    s: &mut Session,
    atr: &[u8],
    serial: &serial::CardSerial,
    source: &mut Source<'_>,
) -> Result<TokenContents, CardError> {
    let unsupported = || CardError::UnsupportedCard { atr: atr.to_vec() };
    let app = s.app_df.clone();
    let odf_path = [&app[..], &[layout::FID_ODF]].concat();
    let odf = match source.read(ch, s, &odf_path, "ODF", Content::Directory)? {
        Some((f, _)) => pkcs15::parse_odf(&f),
        None => return Err(unsupported()),
    };
    let token_info = match source.read(
        ch,
        s,
        &[&app[..], &[layout::FID_TOKEN_INFO]].concat(),
        "TokenInfo",
        Content::Tlv,
    )? {
        Some((f, _)) => pkcs15::parse_token_info(&f).unwrap_or_else(|e| {
            log::warn!("TokenInfo does not parse: {e}");
            pkcs15::TokenInfo::default()
        }),
        None => pkcs15::TokenInfo::default(),
    };
    if s.generation != Generation::Cps4 {
        s.alg = alg_refs(&token_info);
    }

    // Directory files: all of each kind, concatenated.
    let mut read_dir = |ch: &mut Channel<'_>, s: &mut Session, paths: &[Path], what: &str| {
        let mut all = Vec::new();
        for p in paths {
            if let Some(abs) = absolute(&app, p) {
                if let Some((f, _)) = source.read(ch, s, &abs, what, Content::Directory)? {
                    all.push(f);
                }
            }
        }
        Ok::<Vec<Vec<u8>>, CardError>(all)
    };
    let aodf: Vec<_> = read_dir(ch, s, &odf.aodf, "AODF")?
        .iter()
        .flat_map(|f| pkcs15::parse_aodf(f))
        .collect();
    let prkdf: Vec<_> = read_dir(ch, s, &odf.prkdf, "PrKDF")?
        .iter()
        .flat_map(|f| pkcs15::parse_prkdf(f))
        .collect();
    let cdf: Vec<_> = read_dir(ch, s, &odf.cdf, "CDF")?
        .iter()
        .flat_map(|f| pkcs15::parse_cdf(f))
        .collect();
    let dodf: Vec<_> = read_dir(ch, s, &odf.dodf, "DODF")?
        .iter()
        .flat_map(|f| pkcs15::parse_dodf(f))
        .collect();

    pins(s, &aodf);
    let certs = read_certificates(ch, s, &cdf, source)?;
    let keys = keys(s.generation, &prkdf, &certs);
    let data_objects = read_data_objects(ch, s, &dodf, source)?;

    Ok(TokenContents {
        generation: s.generation,
        atr: atr.to_vec(),
        pan: serial.pan.clone(),
        serial: serial.serial.clone(),
        label: token_info.label.unwrap_or_default(),
        manufacturer: token_info
            .manufacturer
            .unwrap_or_else(|| "ASIP SANTE".to_string()),
        model: layout::model(s.generation).to_string(),
        certs: certs.into_iter().map(|(c, _)| c).collect(),
        keys,
        data_objects,
        user_pin: s.user_pin.as_ref().map(|p| p.info.clone()),
        so_pin: s.so_pin.as_ref().map(|p| p.info.clone()),
    })
}

/// CPS3 algorithm references from TokenInfo, defaulting to the known values.
fn alg_refs(info: &pkcs15::TokenInfo) -> Cps3AlgRefs {
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
fn pins(s: &mut Session, aodf: &[pkcs15::AuthObject]) {
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

/// Certificates of the CDF, read, trimmed and patched; with the parsed fields.
fn read_certificates(
    ch: &mut Channel<'_>,
    s: &mut Session,
    cdf: &[pkcs15::Certificate],
    source: &mut Source<'_>,
) -> Result<Vec<(CertInfo, crate::x509::CertFields)>, CardError> {
    let app = s.app_df.clone();
    let mut out = Vec::new();
    for c in cdf {
        let Some(path) = c.path.as_ref().and_then(|p| absolute(&app, p)) else {
            log::warn!("certificate {:?} has no file path; skipped", c.common.label);
            continue;
        };
        let Some((file, _)) = source.read(ch, s, &path, &c.common.label, Content::Tlv)? else {
            continue;
        };
        let der = match crate::x509::card_certificate(&file) {
            Ok(d) => d,
            Err(e) => {
                log::warn!("certificate {:?}: {e}; skipped", c.common.label);
                continue;
            }
        };
        let fields = match crate::x509::parse(&der) {
            Ok(f) => f,
            Err(e) => {
                log::warn!(
                    "certificate {:?} does not parse: {e}; skipped",
                    c.common.label
                );
                continue;
            }
        };
        out.push((
            CertInfo {
                label: c.common.label.clone(),
                id: c.id.clone(),
                der,
                authority: c.authority,
            },
            fields,
        ));
    }
    Ok(out)
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
fn keys(
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

/// Data objects of the DODF, plus on CPS3 contact the CPS2ter volet copies the Cryptolib
/// synthesises (cryptolib-compat §6.3). Values of public objects that cannot change are read
/// now; private ones after login, modifiable ones (CPS_DATA) when first asked for (never
/// from the cache: another program may have written them).
fn read_data_objects(
    ch: &mut Channel<'_>,
    s: &mut Session,
    dodf: &[pkcs15::DataObject],
    source: &mut Source<'_>,
) -> Result<Vec<DataObject>, CardError> {
    let app = s.app_df.clone();
    let mut out = Vec::new();
    let mut sources = Vec::new();
    for d in dodf {
        let Some(path) = d.path.as_ref().and_then(|p| absolute(&app, p)) else {
            log::warn!("data object {:?} has no file path; skipped", d.common.label);
            continue;
        };
        let private = d.common.private();
        let mut value = None;
        let mut size = None;
        if !private && !d.common.modifiable() {
            // Data object values are opaque (ANS formats): read to the file's end.
            if let Some((v, sz)) = source.read(ch, s, &path, &d.common.label, Content::Opaque)? {
                value = Some(v);
                size = sz;
            }
        }
        sources.push(ObjectSource {
            label: d.common.label.clone(),
            path: path.clone(),
            volet: false,
            size,
        });
        out.push(DataObject {
            label: d.common.label.clone(),
            application: d.application.clone().unwrap_or_default(),
            private,
            modifiable: d.common.modifiable(),
            path: path_bytes(&path),
            value,
        });
    }
    if s.generation == Generation::Cps3 {
        for (obj, src) in volet_objects(&out) {
            out.push(obj);
            sources.push(src);
        }
    }
    s.objects = sources;
    Ok(out)
}

/// `CPS2TER_ACTIVITY_nn_PS` for each `CPS_ACTIVITY_nn_PS`, and `CPS_SIT_FACT` (unless the
/// DODF has it), all private, read from the volet on demand.
fn volet_objects(dodf: &[DataObject]) -> Vec<(DataObject, ObjectSource)> {
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
