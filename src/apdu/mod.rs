//! L1: ISO 7816-4 APDU engine: command encoding, status words, BER-TLV/FCP and the
//! channel that drives GET RESPONSE, Le correction, chaining and logical channels.
//! Nothing here knows about PKCS#11.

pub mod channel;
pub mod command;
pub mod error;
pub mod sw;
pub mod tlv;

pub use channel::{with_transaction, Channel, Response, Trace, TraceEntry};
pub use command::{Command, Protocol};
pub use error::{check_sw, CardError};
pub use sw::StatusWord;
pub use tlv::{Fcp, Tag, Tlv};

/// Test helper: the bytes of hex text with optional spaces (`"00 A4 04 0C"`); panics on bad
/// hex. One parser for the engine: the rules files' (`transport::script`).
#[cfg(test)]
pub(crate) fn hex_bytes(text: &str) -> Vec<u8> {
    crate::transport::script::parse_hex(text).expect("hex")
}
