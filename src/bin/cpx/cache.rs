//! `cpx cache show` and `cpx cache clear`: the PKCS#11 module's persistent card cache
//! (`cpx_pkcs11::cpx::cache`). Needs no reader and no card.

use cpx_pkcs11::config::Config;
use cpx_pkcs11::cpx::cache::{CardCache, Listed};
use cpx_pkcs11::cpx::Generation;

use crate::json::Json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// List the cached cards: which card, how old, how big.
    Show,
    /// Delete every cached card (the next start reads the card again).
    Clear,
}

/// Runs `cpx cache ACTION`; returns what to print.
pub fn run(action: Action, config: &Config, json: bool) -> Result<String, String> {
    let settings = &config.cache;
    let Some(dir) = settings.dir.as_ref() else {
        return Err(tr!(
            "pas de répertoire de cache : définir CPX_PKCS11_CACHE_DIR ou HOME",
            "no cache directory: set CPX_PKCS11_CACHE_DIR or HOME"
        ));
    };
    let cache = CardCache::new(dir);
    match action {
        Action::Show => {
            let list = cache.list();
            Ok(if json {
                show_json(&cache, settings.enabled, &list).render()
            } else {
                show_text(&cache, settings.enabled, &list)
            })
        }
        Action::Clear => {
            let n = cache
                .clear()
                .map_err(|e| tr!("vidage de {}: {e}", "clearing {}: {e}", dir.display()))?;
            Ok(if json {
                Json::Obj(vec![
                    ("directory", Json::str(dir.display().to_string())),
                    ("removed", Json::uint(n)),
                ])
                .render()
            } else {
                tr!(
                    "{n} fichier(s) supprimé(s) de {}\n",
                    "{n} file(s) removed from {}\n",
                    dir.display()
                )
            })
        }
    }
}

fn generation(g: Generation) -> &'static str {
    match g {
        Generation::Cps3 => "CPS3",
        Generation::Cps3Cl => "CPS3 contactless",
        Generation::Cps4 => "CPS4",
    }
}

/// "3 h", "2 d", "40 s".
fn age(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 2 * 86400 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86400),
    }
}

fn show_text(cache: &CardCache, enabled: bool, list: &[Listed]) -> String {
    let mut out = format!(
        "cache directory: {}{}\n",
        cache.dir().display(),
        if enabled { "" } else { " (cache switched off)" }
    );
    if list.is_empty() {
        out.push_str("no cached card\n");
        return out;
    }
    for l in list {
        let name = l.file.file_name().unwrap_or_default().to_string_lossy();
        match &l.entry {
            Ok(e) => out.push_str(&tr!(
                "{:<18} PAN {}  âge {}  {} octets ({} fichiers)\n",
                "{:<18} PAN {}  age {}  {} bytes ({} files)\n",
                generation(e.key.generation),
                e.key.pan,
                age(e.age().as_secs()),
                l.bytes,
                e.files.len()
            )),
            Err(why) => out.push_str(&tr!(
                "{name} : inutilisable ({why}) ; le module le supprimera\n",
                "{name}: unusable ({why}); the module will discard it\n"
            )),
        }
    }
    out
}

fn show_json(cache: &CardCache, enabled: bool, list: &[Listed]) -> Json {
    let entries = list
        .iter()
        .map(|l| {
            let file = ("file", Json::str(l.file.display().to_string()));
            let bytes = ("bytes", Json::Uint(l.bytes));
            match &l.entry {
                Ok(e) => Json::Obj(vec![
                    file,
                    bytes,
                    ("generation", Json::str(generation(e.key.generation))),
                    ("pan", Json::str(e.key.pan.clone())),
                    ("age_seconds", Json::Uint(e.age().as_secs())),
                    ("files", Json::uint(e.files.len())),
                ]),
                Err(why) => Json::Obj(vec![file, bytes, ("unusable", Json::str(why.to_string()))]),
            }
        })
        .collect();
    Json::Obj(vec![
        ("directory", Json::str(cache.dir().display().to_string())),
        ("enabled", Json::Bool(enabled)),
        ("cards", Json::Arr(entries)),
    ])
}
