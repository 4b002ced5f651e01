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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub log_target: LogTarget,
    pub log_level: ::log::LevelFilter,
    /// `CPX_PKCS11_PIN_CACHE`: keep the user PIN for the silent re-verification.
    pub pin_cache: bool,
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
        Config::from_vars(|k| std::env::var(k).ok())
    }

    /// Reads variables through `get` (tests pass a map).
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Config {
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
        Config {
            log_target,
            log_level,
            pin_cache,
            #[cfg(feature = "sim")]
            sim_cards: get("CPX_SIM_CARDS").filter(|v| !v.trim().is_empty()),
            #[cfg(feature = "sim")]
            sim_pinpad: get("CPX_SIM_PINPAD"),
        }
    }
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
