//! Finding the reader and binding the card, with the errors said in the user's language
//! and, where there is one, what to do about them.

use cpx_pkcs11::apdu::CardError;
use cpx_pkcs11::config::Config;
use cpx_pkcs11::cpx::{layout, CpxCard, CpxError, Refusal};
use cpx_pkcs11::transport::{readers_from_config, ReaderInfo, Readers, Transport, TransportError};

use crate::recorder::{Recorder, Recording};
use crate::report::{self, Pin};

/// The readers the module would drive (`transport::readers_from_config`).
pub fn open_readers(config: &Config) -> Result<Box<dyn Readers>, String> {
    #[cfg(not(feature = "sim"))]
    if std::env::var_os("CPX_SIM_CARDS").is_some() {
        eprintln!(
            "{}",
            tr!(
                "cpx: avertissement : CPX_SIM_CARDS ignoré (cette version n'a pas de simulateur)",
                "cpx: warning: CPX_SIM_CARDS ignored (this build has no simulator)"
            )
        );
    }
    readers_from_config(config)
}

/// Whether the readers are simulated ones (`CPX_SIM_CARDS` in a `sim` build).
pub fn simulated(config: &Config) -> bool {
    #[cfg(feature = "sim")]
    return config.sim_cards.is_some();
    #[cfg(not(feature = "sim"))]
    {
        let _ = config;
        false
    }
}

pub fn list_readers(readers: &mut dyn Readers) -> Result<Vec<ReaderInfo>, String> {
    readers.list().map_err(|e| {
        tr!(
            "liste des lecteurs impossible : {}",
            "listing the readers: {}",
            transport_error(&e)
        )
    })
}

fn quoted_names(list: &[&ReaderInfo]) -> String {
    list.iter()
        .map(|r| format!("{:?}", r.name))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn no_reader_message() -> String {
    tr!(
        "aucun lecteur de carte trouvé (pcscd est-il lancé, le lecteur branché ? voir « cpx diag »)",
        "no smart-card reader found (is pcscd running and a reader plugged in? see `cpx diag`)"
    )
}

/// The reader to use: `wanted` is a full name or a unique case-insensitive part of one;
/// by default the first reader holding a card with a CPx ATR, else the first holding a card.
pub fn pick_reader(list: &[ReaderInfo], wanted: Option<&str>) -> Result<ReaderInfo, String> {
    if list.is_empty() {
        return Err(no_reader_message());
    }
    let all: Vec<&ReaderInfo> = list.iter().collect();
    let chosen = match wanted {
        Some(name) => {
            if let Some(r) = list.iter().find(|r| r.name == name) {
                r
            } else {
                let needle = name.to_lowercase();
                let hits: Vec<&ReaderInfo> = list
                    .iter()
                    .filter(|r| r.name.to_lowercase().contains(&needle))
                    .collect();
                match hits.as_slice() {
                    [one] => *one,
                    [] => {
                        let names = quoted_names(&all);
                        return Err(tr!(
                            "aucun lecteur nommé {name:?} (lecteurs : {names})",
                            "no reader named {name:?} (readers: {names})"
                        ));
                    }
                    many => {
                        let names = quoted_names(many);
                        return Err(tr!(
                            "le nom de lecteur {name:?} est ambigu : il désigne {names}",
                            "reader name {name:?} is ambiguous: it matches {names}"
                        ));
                    }
                }
            }
        }
        None => list
            .iter()
            .filter(|r| r.card_present)
            .find(|r| layout::match_atr(&r.atr).is_some())
            .or_else(|| list.iter().find(|r| r.card_present))
            .ok_or_else(|| {
                let names = quoted_names(&all);
                tr!(
                    "aucune carte dans les lecteurs (lecteurs : {names}) : insérez la carte CPS",
                    "no card in any reader (readers: {names}): insert the CPS card"
                )
            })?,
    };
    if !chosen.card_present {
        let name = &chosen.name;
        return Err(tr!(
            "pas de carte dans le lecteur {name:?}",
            "no card in reader {name:?}"
        ));
    }
    Ok(chosen.clone())
}

/// Connects to `reader` and binds the card (one read of everything public).
pub fn bind_reader(
    readers: &mut dyn Readers,
    reader: &str,
    recording: Option<Recording>,
) -> Result<CpxCard, CpxError> {
    let transport = readers.connect(reader)?;
    let transport: Box<dyn Transport> = match recording {
        Some(rec) => Box::new(Recorder::new(transport, rec)),
        None => transport,
    };
    let mut card = CpxCard::bind(transport)?;
    // Public values the bind leaves for when they are asked for (CPS_DATA).
    let unread: Vec<String> = card
        .contents()
        .data_objects
        .iter()
        .filter(|d| !d.private && d.value.is_none())
        .map(|d| d.label.clone())
        .collect();
    for label in unread {
        if let Err(e) = card.read_data_object(&label) {
            log::debug!("{label}: {e}");
        }
    }
    Ok(card)
}

/// Picks the reader (`--reader`) and binds its card.
pub fn bind(
    readers: &mut dyn Readers,
    wanted: Option<&str>,
    recording: Option<Recording>,
) -> Result<(String, CpxCard), String> {
    let list = list_readers(readers)?;
    let reader = pick_reader(&list, wanted)?;
    let name = reader.name;
    let card = bind_reader(readers, &name, recording).map_err(|e| bind_message(&name, &e))?;
    Ok((name, card))
}

pub fn transport_error(e: &TransportError) -> String {
    match e {
        TransportError::NoReader => tr!("lecteur introuvable", "no such reader"),
        TransportError::NoCard => tr!("pas de carte dans le lecteur", "no card in the reader"),
        TransportError::Removed => tr!("carte retirée", "card removed"),
        TransportError::Reset => tr!(
            "carte réinitialisée par une autre application",
            "card reset by another application"
        ),
        TransportError::Timeout => tr!(
            "la carte ou le lecteur ne répond pas",
            "card or reader timed out"
        ),
        TransportError::Sharing => tr!(
            "carte utilisée en exclusivité par une autre application",
            "card in exclusive use by another application"
        ),
        TransportError::Io(m) => tr!("erreur de transport : {m}", "transport error: {m}"),
        TransportError::Unsupported => tr!(
            "opération non prise en charge par le lecteur",
            "not supported by the reader"
        ),
        other => other.to_string(),
    }
}

pub fn card_error(e: &CpxError) -> String {
    let e = match e {
        CpxError::Card(e) => e,
        CpxError::Refused(Refusal::PinLength) => {
            return tr!("longueur du code incorrecte", "wrong code length")
        }
        CpxError::Refused(r) => return tr!("refusé : {r}", "refused: {r}"),
        CpxError::Missing(m) => return tr!("absent de la carte : {m}", "not on this card: {m}"),
    };
    match e {
        CardError::Transport(t) => transport_error(t),
        CardError::PinIncorrect { tries_left } => {
            let t = report::tries(*tries_left);
            tr!("code incorrect, {t} restant(s)", "wrong code, {t} left")
        }
        CardError::PinBlocked => tr!("code bloqué", "code blocked"),
        CardError::WrongLength => tr!("longueur incorrecte", "wrong length"),
        CardError::UnsupportedCard { atr } => {
            let atr = report::hex_spaced(atr);
            tr!(
                "ce n'est pas une carte CPx (ATR {atr})",
                "not a CPx card (ATR {atr})"
            )
        }
        CardError::LegacyCps2ter { atr } => {
            let atr = report::hex_spaced(atr);
            tr!(
                "ancienne carte CPS2ter (ATR {atr}) : aucun module PKCS#11 ne la prend en charge \
                 (seules les CPS3 et CPS4 le sont)",
                "legacy CPS2ter card (ATR {atr}): not supported by any PKCS#11 module (only \
                 CPS3 and CPS4 cards are)"
            )
        }
        CardError::PinEntryCancelled => tr!(
            "saisie sur le lecteur annulée ou trop lente",
            "PIN entry on the reader cancelled or timed out"
        ),
        CardError::PinEntryInvalid => tr!(
            "saisie sur le lecteur invalide (les deux saisies diffèrent, ou mauvaise longueur)",
            "PIN typed on the reader invalid (entries differ or wrong length)"
        ),
        other => tr!("erreur de la carte : {other}", "card error: {other}"),
    }
}

pub fn bind_message(reader: &str, e: &CpxError) -> String {
    let what = card_error(e);
    match e.card() {
        Some(
            CardError::Transport(_)
            | CardError::UnsupportedCard { .. }
            | CardError::LegacyCps2ter { .. },
        ) => {
            tr!("lecteur {reader:?} : {what}", "reader {reader:?}: {what}")
        }
        _ => tr!(
            "lecture de la carte du lecteur {reader:?} impossible : {what}",
            "reading the card in {reader:?} failed: {what}"
        ),
    }
}

/// The PIN counters (VERIFY without data: costs no try).
pub fn read_pin(card: &mut CpxCard) -> Pin {
    if card.contents().user_pin.is_none() {
        return Pin::Absent;
    }
    match card.pin_status() {
        Ok(s) => Pin::Status(s),
        Err(e) => Pin::Unreadable(card_error(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{with_lang, Lang};

    fn reader(name: &str, atr: &[u8]) -> ReaderInfo {
        ReaderInfo {
            name: name.into(),
            card_present: !atr.is_empty(),
            atr: atr.to_vec(),
            events: 0,
        }
    }

    const CPS3_ATR: &[u8] = &[
        0x3B, 0xAC, 0x00, 0x40, 0x2A, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x03, 0x10, 0x00,
        0x90, 0x00,
    ];

    #[test]
    fn default_reader_prefers_a_cpx_card() {
        with_lang(Lang::En, || {
            let list = [
                reader("Empty 0", &[]),
                reader("Bank card 1", &[0x3B, 0x00]),
                reader("CPS 2", CPS3_ATR),
            ];
            assert_eq!(pick_reader(&list, None).unwrap().name, "CPS 2");
            assert_eq!(pick_reader(&list[..2], None).unwrap().name, "Bank card 1");
            let e = pick_reader(&list[..1], None).unwrap_err();
            assert!(e.contains("no card in any reader"), "{e}");
            assert!(pick_reader(&[], None)
                .unwrap_err()
                .contains("no smart-card reader"));
        });
        with_lang(Lang::Fr, || {
            let e = pick_reader(&[], None).unwrap_err();
            assert!(e.contains("aucun lecteur de carte trouvé"), "{e}");
        });
    }

    #[test]
    fn named_reader() {
        with_lang(Lang::En, || {
            let list = [
                reader("Gemalto PC Twin Reader 00 00", CPS3_ATR),
                reader("Virtual PCD 00 00", &[]),
                reader("Virtual PCD 00 01", CPS3_ATR),
            ];
            assert_eq!(
                pick_reader(&list, Some("gemalto")).unwrap().name,
                "Gemalto PC Twin Reader 00 00"
            );
            assert_eq!(
                pick_reader(&list, Some("Virtual PCD 00 01")).unwrap().name,
                "Virtual PCD 00 01"
            );
            let e = pick_reader(&list, Some("virtual")).unwrap_err();
            assert!(e.contains("ambiguous"), "{e}");
            let e = pick_reader(&list, Some("Virtual PCD 00 00")).unwrap_err();
            assert!(e.contains("no card in reader"), "{e}");
            let e = pick_reader(&list, Some("nosuch")).unwrap_err();
            assert!(e.contains("no reader named \"nosuch\""), "{e}");
            assert!(e.contains("Gemalto"), "{e}");
        });
    }
}
