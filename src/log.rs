//! The logger sink (`style.md` §10): a `log::Log` writing to stderr or a file, installed
//! once from `C_Initialize`, plus redaction helpers. PIN buffers, signature inputs and
//! plaintexts are never formatted: callers log lengths through [`redacted`].

use crate::config::{Config, LogTarget};
use std::io::Write;
use std::sync::{Mutex, Once, OnceLock};

struct Sink {
    out: OnceLock<Mutex<Box<dyn Write + Send>>>,
}

static SINK: Sink = Sink {
    out: OnceLock::new(),
};
static INIT: Once = Once::new();

impl ::log::Log for Sink {
    fn enabled(&self, metadata: &::log::Metadata) -> bool {
        metadata.level() <= ::log::max_level()
    }

    fn log(&self, record: &::log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        if let Some(out) = self.out.get() {
            if let Ok(mut w) = out.lock() {
                let _ = writeln!(
                    w,
                    "cpx-pkcs11[{}] {:<5} {}: {}",
                    std::process::id(),
                    record.level(),
                    record.target(),
                    record.args()
                );
            }
        }
    }

    fn flush(&self) {
        if let Some(out) = self.out.get() {
            if let Ok(mut w) = out.lock() {
                let _ = w.flush();
            }
        }
    }
}

/// Installs the sink once per process. If the host application already installed a
/// logger (same `log` crate instance), ours stays out of its way.
pub fn init(config: &Config) {
    INIT.call_once(|| {
        let out: Box<dyn Write + Send> = match &config.log_target {
            LogTarget::Off => return,
            LogTarget::Stderr => Box::new(std::io::stderr()),
            LogTarget::File(path) => {
                match std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                {
                    Ok(f) => Box::new(f),
                    Err(_) => Box::new(std::io::stderr()),
                }
            }
        };
        let _ = SINK.out.set(Mutex::new(out));
        if ::log::set_logger(&SINK).is_ok() {
            ::log::set_max_level(config.log_level);
        }
    });
}

/// Uppercase hex of public bytes (ATRs, object IDs, APDU headers), no separators.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02X}");
    }
    s
}

/// Uppercase hex with a space between bytes (ATRs and APDUs for people).
pub fn hex_spaced(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What is logged instead of secret bytes: their length only.
pub fn redacted(bytes: &[u8]) -> String {
    format!("<{} bytes redacted>", bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(hex(&[0x3B, 0x0a]), "3B0A");
        assert_eq!(hex_spaced(&[0x3B, 0x0a]), "3B 0A");
        assert_eq!(hex_spaced(&[]), "");
        assert_eq!(redacted(b"1234"), "<4 bytes redacted>");
        assert!(!redacted(b"1234").contains("1234"));
    }
}
