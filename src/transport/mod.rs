//! L0: byte pipes to a card. No status-word logic here: GET RESPONSE, Le correction,
//! chaining and channels live in `apdu`. Only `pcsc.rs` imports the `pcsc` crate.

use crate::config::Config;

#[cfg(feature = "pcsc")]
pub mod pcsc;
pub mod script;
#[cfg(feature = "sim")]
pub mod r#virtual;

/// What went wrong below the APDU layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    #[error("no such reader")]
    NoReader,
    #[error("no card in the reader")]
    NoCard,
    #[error("card removed")]
    Removed,
    #[error("card reset by another application")]
    Reset,
    #[error("card or reader timed out")]
    Timeout,
    #[error("card in exclusive use by another application")]
    Sharing,
    #[error("transport error: {0}")]
    Io(String),
    /// The reader cannot do what was asked (e.g. PIN entry on a reader without a keypad).
    #[error("not supported by the reader")]
    Unsupported,
}

/// Whether the card was reset since our last transaction (its security state is gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetSeen {
    No,
    Yes,
}

/// The transmission protocol negotiated with the card. It only changes how case 4 is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// T=0: a case-4 command goes without Le; the card answers `61 xx`.
    T0,
    /// T=1: every field is sent as is.
    T1,
}

/// Reader capabilities beyond the byte pipe (PC/SC part 10 features).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReaderFeatures {
    /// FEATURE_VERIFY_PIN_DIRECT: the reader reads a PIN on its keypad and sends the VERIFY.
    pub verify_pin_direct: bool,
    /// FEATURE_MODIFY_PIN_DIRECT: the same for a PIN change (old and/or new PIN typed).
    pub modify_pin_direct: bool,
}

impl ReaderFeatures {
    /// A PIN pad: PINs are typed on the reader and never pass through the host.
    pub fn pin_pad(&self) -> bool {
        self.verify_pin_direct
    }
}

/// What the reader's keypad is asked to collect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinPadOp {
    /// One PIN, written at `offset` in the command data (FEATURE_VERIFY_PIN_DIRECT).
    Verify { offset: u8 },
    /// Old PIN (if asked) and new PIN, each at its offset in the command data; the reader asks
    /// for the new PIN twice and compares (FEATURE_MODIFY_PIN_DIRECT).
    Modify {
        old_offset: Option<u8>,
        new_offset: u8,
    },
}

/// A command to complete with PINs typed on the reader's keypad (PC/SC part 10
/// PIN_VERIFY_STRUCTURE / PIN_MODIFY_STRUCTURE). Each PIN is written as ASCII digits,
/// left-justified, over a block of `block_len` bytes already filled with the pad byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinPadRequest {
    pub op: PinPadOp,
    /// The complete short C-APDU (`CLA INS P1 P2 Lc data`), PIN blocks holding pad bytes only.
    pub apdu: Vec<u8>,
    pub min_len: u8,
    pub max_len: u8,
    pub block_len: u8,
}

/// Status words a PIN pad answers instead of the card's (PC/SC part 10).
pub mod pinpad_sw {
    pub const TIMEOUT: u16 = 0x6400;
    pub const CANCELLED: u16 = 0x6401;
    pub const MISMATCH: u16 = 0x6402;
    pub const TOO_SHORT_OR_LONG: u16 = 0x6403;
}

/// One connected card.
pub trait Transport: Send {
    fn atr(&self) -> &[u8];
    /// The protocol in use on this connection.
    fn protocol(&self) -> Protocol;
    /// One C-APDU in, the raw R-APDU out (data ‖ SW1 SW2). No 61xx/6Cxx logic here.
    fn transmit(&mut self, c_apdu: &[u8]) -> Result<Vec<u8>, TransportError>;
    /// Exclusive access; reports whether the card was reset since the last transaction.
    fn begin(&mut self) -> Result<ResetSeen, TransportError>;
    fn end(&mut self) -> Result<(), TransportError>;
    /// What the reader can do besides transmitting (default: nothing).
    fn features(&mut self) -> ReaderFeatures {
        ReaderFeatures::default()
    }
    /// Lets the reader collect PINs on its keypad and send the completed command; returns
    /// the raw R-APDU (the card's, or a PIN-pad status word of [`pinpad_sw`]). The PIN never
    /// reaches the host.
    fn pin_pad(&mut self, _request: &PinPadRequest) -> Result<Vec<u8>, TransportError> {
        Err(TransportError::Unsupported)
    }
}

/// A reader as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderInfo {
    pub name: String,
    pub card_present: bool,
    pub atr: Vec<u8>,
}

/// The set of readers of one kind (PC/SC, virtual).
pub trait Readers: Send {
    fn list(&mut self) -> Result<Vec<ReaderInfo>, TransportError>;
    fn connect(&mut self, reader: &str) -> Result<Box<dyn Transport>, TransportError>;
}

/// The readers the module and the `cpx` tool drive (`config.rs`): in a `sim` build with
/// `CPX_SIM_CARDS` set, its simulated cards (the `CPX_SIM_PINPAD` entries queued on their
/// keypad); else PC/SC; a build without PC/SC then has no readers. Err: `CPX_SIM_CARDS` names
/// a card that cannot be loaded (the message names the variable).
pub fn readers_from_config(config: &Config) -> Result<Box<dyn Readers>, String> {
    #[cfg(feature = "sim")]
    if let Some(spec) = &config.sim_cards {
        let readers = r#virtual::SimReaders::from_spec(spec)
            .map_err(|e| format!("CPX_SIM_CARDS={spec:?}: {e}"))?;
        if let Some(keys) = &config.sim_pinpad {
            readers.queue_keys(keys);
        }
        return Ok(Box::new(readers));
    }
    let _ = config;
    #[cfg(feature = "pcsc")]
    return Ok(Box::new(pcsc::PcscReaders::new()));
    #[cfg(not(feature = "pcsc"))]
    Ok(Box::new(NoReaders))
}

/// Builds without PC/SC and without simulated cards have no readers.
#[cfg(not(feature = "pcsc"))]
struct NoReaders;

#[cfg(not(feature = "pcsc"))]
impl Readers for NoReaders {
    fn list(&mut self) -> Result<Vec<ReaderInfo>, TransportError> {
        Ok(Vec::new())
    }
    fn connect(&mut self, _: &str) -> Result<Box<dyn Transport>, TransportError> {
        Err(TransportError::NoReader)
    }
}
