//! Configuration from environment variables (`style.md` §10, `test-harness.md` §6):
//!
//! * `CPX_PKCS11_LOG`: `stderr` (default) or a file path (appended to); `off` disables;
//! * `CPX_PKCS11_LOG_LEVEL`: `off`, `error`, `warn` (default), `info`, `debug`, `trace`;
//! * `CPX_SIM_CARDS` (only in `sim` builds): simulated cards, comma-separated personas or
//!   persona directories; when set, only virtual readers are listed.

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
    /// `CPX_SIM_CARDS`, read only by builds with the simulator.
    #[cfg(feature = "sim")]
    pub sim_cards: Option<String>,
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
        Config {
            log_target,
            log_level,
            #[cfg(feature = "sim")]
            sim_cards: get("CPX_SIM_CARDS").filter(|v| !v.trim().is_empty()),
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
