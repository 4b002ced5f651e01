//! Configuration from environment variables (`style.md` §10, `test-harness.md` §6):
//!
//! * `CPX_PKCS11_LOG`: `stderr` (default) or a file path (appended to); `off` disables;
//! * `CPX_PKCS11_LOG_LEVEL`: `off`, `error`, `warn` (default), `info`, `debug`, `trace`;
//! * `CPX_PKCS11_PIN_CACHE`: how a key that needs the PIN before each signature is served
//!   (`docs/security.md`):
//!   * `on` (default, also `1`, `true`, `cryptolib`): as the Cryptolib — the user PIN is kept
//!     in a zeroised buffer while logged in and replayed once, silently, when the card answers
//!     "security status not satisfied"; CKA_ALWAYS_AUTHENTICATE is CK_FALSE;
//!   * `off` (also `0`, `false`, `standard`): the PIN is forgotten as soon as C_Login returns;
//!     such keys have CKA_ALWAYS_AUTHENTICATE = CK_TRUE and each signature needs
//!     C_Login(CKU_CONTEXT_SPECIFIC) after C_SignInit (PKCS#11 2.40 §5.6);
//!   * on a PIN-pad reader nothing is cached whatever the setting (the PIN never reaches us).
//! * `CPX_PKCS11_CACHE`: `on` (default) or `off` — the persistent card cache
//!   (`src/cpx/cache/`, `docs/performance.md`);
//! * `CPX_PKCS11_CACHE_DIR`: its directory; default `$XDG_CACHE_HOME/cpx-pkcs11`, else
//!   `$HOME/.cache/cpx-pkcs11`;
//! * the administrator's file `/etc/cpx-pkcs11/cpx-pkcs11.conf` (another path in
//!   `CPX_PKCS11_CONF`) may set `cache = on|off` and `cache_dir = PATH` (`key = value`
//!   lines, `#` comments); the environment wins over it;
//! * `CPX_SIM_CARDS` (only in `sim` builds): simulated cards, comma-separated personas or
//!   persona directories (`pinpad:<persona>` for a PIN-pad reader); when set, only virtual
//!   readers are listed.
//! * `CPX_SIM_PINPAD` (only in `sim` builds): what is "typed" on the virtual PIN pads, in
//!   order: comma-separated PINs, `cancel`, `timeout`.

use std::path::PathBuf;

/// Where log lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    Off,
    Stderr,
    File(PathBuf),
}

/// The persistent card cache: on/off and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheSettings {
    pub enabled: bool,
    /// `None` when no directory can be derived (no HOME): no cache.
    pub dir: Option<PathBuf>,
}

/// The administrator's configuration file (`CPX_PKCS11_CONF` overrides the path).
pub const ADMIN_CONF: &str = "/etc/cpx-pkcs11/cpx-pkcs11.conf";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub log_target: LogTarget,
    pub log_level: ::log::LevelFilter,
    /// `CPX_PKCS11_PIN_CACHE`: keep the user PIN for the silent re-verification.
    pub pin_cache: bool,
    /// `CPX_PKCS11_CACHE`, `CPX_PKCS11_CACHE_DIR`, the administrator's file.
    pub cache: CacheSettings,
    /// `CPX_SIM_CARDS`, read only by builds with the simulator.
    #[cfg(feature = "sim")]
    pub sim_cards: Option<String>,
    /// `CPX_SIM_PINPAD`, read only by builds with the simulator.
    #[cfg(feature = "sim")]
    pub sim_pinpad: Option<String>,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Config {
        let get = |k: &str| std::env::var(k).ok();
        let admin_path = get("CPX_PKCS11_CONF").unwrap_or_else(|| ADMIN_CONF.to_string());
        let admin = std::fs::read_to_string(admin_path).unwrap_or_default();
        Config::from_sources(get, &admin)
    }

    /// Reads variables through `get` (tests pass a map), no administrator file.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Config {
        Config::from_sources(get, "")
    }

    /// Variables through `get`, over the administrator file's text `admin`.
    pub fn from_sources(get: impl Fn(&str) -> Option<String>, admin: &str) -> Config {
        let log_target = match get("CPX_PKCS11_LOG").as_deref().map(str::trim) {
            None | Some("") | Some("stderr") => LogTarget::Stderr,
            Some("off") | Some("none") => LogTarget::Off,
            Some(path) => LogTarget::File(PathBuf::from(path)),
        };
        let log_level = get("CPX_PKCS11_LOG_LEVEL")
            .and_then(|v| v.trim().parse::<::log::LevelFilter>().ok())
            .unwrap_or(::log::LevelFilter::Warn);
        let pin_cache = match get("CPX_PKCS11_PIN_CACHE")
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("") | Some("on") | Some("1") | Some("true") | Some("yes")
            | Some("cryptolib") => true,
            Some("off") | Some("0") | Some("false") | Some("no") | Some("standard") => false,
            Some(other) => {
                ::log::warn!("CPX_PKCS11_PIN_CACHE={other:?} not understood: using \"on\"");
                true
            }
        };
        let cache = cache_settings(&get, admin);
        Config {
            log_target,
            log_level,
            pin_cache,
            cache,
            #[cfg(feature = "sim")]
            sim_cards: get("CPX_SIM_CARDS").filter(|v| !v.trim().is_empty()),
            #[cfg(feature = "sim")]
            sim_pinpad: get("CPX_SIM_PINPAD"),
        }
    }
}

/// `key = value` lines of the administrator file (`#` starts a comment).
fn admin_value(admin: &str, key: &str) -> Option<String> {
    admin.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or("");
        let (k, v) = line.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
    })
}

fn switch(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "" | "on" | "1" | "true" | "yes" => Some(true),
        "off" | "0" | "false" | "no" => Some(false),
        _ => None,
    }
}

fn cache_settings(get: &impl Fn(&str) -> Option<String>, admin: &str) -> CacheSettings {
    let enabled = match get("CPX_PKCS11_CACHE").or_else(|| admin_value(admin, "cache")) {
        None => true,
        Some(v) => switch(&v).unwrap_or_else(|| {
            ::log::warn!("CPX_PKCS11_CACHE={v:?} not understood: cache on");
            true
        }),
    };
    let absolute = |v: Option<String>| v.map(PathBuf::from).filter(|p| p.is_absolute());
    let dir = absolute(get("CPX_PKCS11_CACHE_DIR"))
        .or_else(|| absolute(admin_value(admin, "cache_dir")))
        .or_else(|| absolute(get("XDG_CACHE_HOME")).map(|d| d.join("cpx-pkcs11")))
        .or_else(|| absolute(get("HOME")).map(|h| h.join(".cache").join("cpx-pkcs11")));
    CacheSettings { enabled, dir }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Config {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_vars(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = cfg(&[]);
        assert_eq!(c.log_target, LogTarget::Stderr);
        assert_eq!(c.log_level, ::log::LevelFilter::Warn);
        assert!(c.pin_cache, "the Cryptolib behaviour by default");
    }

    #[test]
    fn pin_cache_switch() {
        for v in ["off", "0", "false", "standard", " OFF "] {
            assert!(!cfg(&[("CPX_PKCS11_PIN_CACHE", v)]).pin_cache, "{v}");
        }
        for v in ["on", "1", "true", "cryptolib", "", "bogus"] {
            assert!(cfg(&[("CPX_PKCS11_PIN_CACHE", v)]).pin_cache, "{v}");
        }
    }

    #[test]
    fn explicit_values() {
        let c = cfg(&[
            ("CPX_PKCS11_LOG", "/tmp/cpx.log"),
            ("CPX_PKCS11_LOG_LEVEL", "DEBUG"),
        ]);
        assert_eq!(c.log_target, LogTarget::File("/tmp/cpx.log".into()));
        assert_eq!(c.log_level, ::log::LevelFilter::Debug);
        assert_eq!(cfg(&[("CPX_PKCS11_LOG", "off")]).log_target, LogTarget::Off);
        assert_eq!(
            cfg(&[("CPX_PKCS11_LOG_LEVEL", "bogus")]).log_level,
            ::log::LevelFilter::Warn
        );
    }

    #[test]
    fn cache_location_and_switch() {
        let c = cfg(&[("HOME", "/home/u")]).cache;
        assert!(c.enabled);
        assert_eq!(c.dir, Some("/home/u/.cache/cpx-pkcs11".into()));
        let c = cfg(&[("HOME", "/home/u"), ("XDG_CACHE_HOME", "/x")]).cache;
        assert_eq!(c.dir, Some("/x/cpx-pkcs11".into()));
        // A relative XDG_CACHE_HOME is ignored (XDG base directory specification).
        let c = cfg(&[("HOME", "/home/u"), ("XDG_CACHE_HOME", "rel")]).cache;
        assert_eq!(c.dir, Some("/home/u/.cache/cpx-pkcs11".into()));
        let c = cfg(&[("XDG_CACHE_HOME", "/x"), ("CPX_PKCS11_CACHE_DIR", "/d")]).cache;
        assert_eq!(c.dir, Some("/d".into()));
        assert_eq!(cfg(&[]).cache.dir, None);
        for v in ["off", "0", "false", "OFF"] {
            assert!(!cfg(&[("CPX_PKCS11_CACHE", v)]).cache.enabled, "{v}");
        }
    }

    #[test]
    fn administrator_file() {
        let admin = "# site policy\ncache = off\ncache_dir = /var/cache/cpx # shared\n";
        let get = |k: &str| (k == "HOME").then(|| "/home/u".to_string());
        let c = Config::from_sources(get, admin).cache;
        assert!(!c.enabled);
        assert_eq!(c.dir, Some("/var/cache/cpx".into()));
        // The environment wins.
        let get = |k: &str| match k {
            "CPX_PKCS11_CACHE" => Some("on".to_string()),
            "CPX_PKCS11_CACHE_DIR" => Some("/mine".to_string()),
            _ => None,
        };
        let c = Config::from_sources(get, admin).cache;
        assert!(c.enabled);
        assert_eq!(c.dir, Some("/mine".into()));
    }

    #[cfg(feature = "sim")]
    #[test]
    fn sim_cards() {
        assert_eq!(cfg(&[]).sim_cards, None);
        assert_eq!(
            cfg(&[("CPX_SIM_CARDS", "cps3-doctor")])
                .sim_cards
                .as_deref(),
            Some("cps3-doctor")
        );
    }
}
