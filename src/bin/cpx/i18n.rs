//! French or English: every message of `cpx` is written in both, side by side, with
//! [`tr!`]; the language is chosen once at start (`--lang`, else the locale).
//!
//! Rule: `--lang fr|en` wins; else the first non-empty of `LC_ALL`, `LC_MESSAGES`, `LANG`
//! (POSIX precedence) decides: a value starting with `en` gives English, anything else
//! (French locales, `C`, `POSIX`, other languages) French, the language of the users.

use std::cell::Cell;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Fr,
    En,
}

thread_local! {
    static LANG: Cell<Lang> = const { Cell::new(Lang::Fr) };
}

/// The language messages are written in (per thread; the tool sets it once in `main`).
pub fn lang() -> Lang {
    LANG.with(Cell::get)
}

pub fn set_lang(l: Lang) {
    LANG.with(|c| c.set(l));
}

impl Lang {
    /// `fr` / `en` (also `fr_FR.UTF-8`, `en-GB`, case-insensitive); `None` for anything else.
    pub fn parse(value: &str) -> Option<Lang> {
        let v = value.trim().to_ascii_lowercase();
        if v.starts_with("en") {
            Some(Lang::En)
        } else if v.starts_with("fr") {
            Some(Lang::Fr)
        } else {
            None
        }
    }

    /// The language of the locale variables read through `get`.
    pub fn from_locale(get: impl Fn(&str) -> Option<String>) -> Lang {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|k| get(k))
            .find(|v| !v.trim().is_empty())
            .and_then(|v| Lang::parse(&v))
            .unwrap_or(Lang::Fr)
    }

    /// The value of a `--lang X` / `--lang=X` in `args` (the last one), before any parsing
    /// (so that the parser's own messages are in the right language).
    pub fn from_args(args: &[String]) -> Option<Result<Lang, String>> {
        let mut found = None;
        let mut it = args.iter().skip(1);
        while let Some(a) = it.next() {
            if a == "--" {
                break;
            }
            let value = if a == "--lang" {
                it.next().cloned()
            } else {
                a.strip_prefix("--lang=").map(str::to_string)
            };
            if let Some(v) = value {
                found = Some(Lang::parse(&v).filter(|_| v.len() == 2).ok_or(v));
            }
        }
        found
    }

    /// `fr` / `en`, as JSON and the trace header show it.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }
}

/// A message in the current language: `tr!("français {x}", "English {x}")`; both strings
/// are `format!` strings (named captures and extra arguments work as in `format!`).
macro_rules! tr {
    ($fr:literal, $en:literal $(,)?) => {
        match $crate::i18n::lang() {
            $crate::i18n::Lang::Fr => format!($fr),
            $crate::i18n::Lang::En => format!($en),
        }
    };
    ($fr:literal, $en:literal, $($arg:tt)+) => {
        match $crate::i18n::lang() {
            $crate::i18n::Lang::Fr => format!($fr, $($arg)+),
            $crate::i18n::Lang::En => format!($en, $($arg)+),
        }
    };
}

/// Runs `f` with messages in `l` (tests).
#[cfg(test)]
pub fn with_lang<R>(l: Lang, f: impl FnOnce() -> R) -> R {
    let before = lang();
    set_lang(l);
    let r = f();
    set_lang(before);
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn locale(pairs: &[(&str, &str)]) -> Lang {
        let m: HashMap<&str, &str> = pairs.iter().copied().collect();
        Lang::from_locale(|k| m.get(k).map(|v| v.to_string()))
    }

    #[test]
    fn locale_precedence() {
        assert_eq!(locale(&[]), Lang::Fr);
        assert_eq!(locale(&[("LANG", "C")]), Lang::Fr);
        assert_eq!(locale(&[("LANG", "en_US.UTF-8")]), Lang::En);
        assert_eq!(
            locale(&[("LANG", "en_US.UTF-8"), ("LC_MESSAGES", "fr_FR.UTF-8")]),
            Lang::Fr
        );
        assert_eq!(
            locale(&[("LC_ALL", "en_GB"), ("LC_MESSAGES", "fr_FR.UTF-8")]),
            Lang::En
        );
        // An empty variable counts as unset.
        assert_eq!(locale(&[("LC_ALL", ""), ("LANG", "en_US")]), Lang::En);
        assert_eq!(locale(&[("LANG", "de_DE.UTF-8")]), Lang::Fr);
    }

    #[test]
    fn lang_argument() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(Lang::from_args(&args(&["cpx", "info"])), None);
        assert_eq!(
            Lang::from_args(&args(&["cpx", "--lang", "en", "info"])),
            Some(Ok(Lang::En))
        );
        assert_eq!(
            Lang::from_args(&args(&["cpx", "info", "--lang=fr"])),
            Some(Ok(Lang::Fr))
        );
        assert_eq!(
            Lang::from_args(&args(&["cpx", "--lang", "de"])),
            Some(Err("de".into()))
        );
        assert_eq!(Lang::from_args(&args(&["cpx", "--", "--lang", "en"])), None);
    }

    #[test]
    fn messages_follow_the_language() {
        let n = 2;
        assert_eq!(
            with_lang(Lang::Fr, || tr!("{n} essais", "{n} tries")),
            "2 essais"
        );
        assert_eq!(
            with_lang(Lang::En, || tr!("{} essais", "{} tries", n)),
            "2 tries"
        );
    }
}
