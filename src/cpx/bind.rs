//! Binding: confirm the card is a CPx card, then read everything the token needs once
//! (EF.SN, ODF, TokenInfo, AODF, PrKDF, CDF + certificates, DODF + public data objects) —
//! or take it from the persistent card cache (`cache/`) when it holds this card's entry
//! and (CPS3) EF_ACTUA says the card was not updated since.
//!
//! Object-level problems (a certificate that does not parse, a data object file that
//! cannot be read) are logged and the object is skipped or left without a value; card
//! removal and transport failures abort the bind.

use super::cache::{CacheKey, CachedFile, CardCache, Entry};
use super::contents::{absolute, alg_refs, keys, pins, volet_objects};
use super::files::Content;
use super::layout;
use super::pkcs15::{self, Path};
use super::session::{path_bytes, ObjectSource, PinCache, Session};
use super::types::{CertInfo, DataObject, Generation, TokenContents};
use super::{dialect, files, serial};
use crate::apdu::{CardError, Channel};

/// Errors that must abort a bind (the card is gone or unusable), as opposed to problems
/// with one object.
pub(super) fn fatal(e: &CardError) -> bool {
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
    let d = dialect::of(s.generation);
    // CPS4: no ChipDoc on channel 1 (even after the re-selection sequence): not a CPS4.
    d.confirm(ch, s)
        .map_err(|e| if fatal(&e) { e } else { unsupported() })?;
    let sn = match d.read_serial(ch, s) {
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
        // The card's update marker is what the entry saw (CPS4 has none: the entry's
        // maximum age covers it, `cache/`).
        let expected = entry.actua.as_ref().map_or(0, Vec::len);
        if d.update_marker(ch, s, Some(expected))? == entry.actua {
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
    let actua = d.update_marker(ch, s, None)?;
    let mut source = Source::card();
    let contents = contents_from(ch, s, atr, &serial, &mut source)?;
    let pins = d.pin_facts(ch, s)?;
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
