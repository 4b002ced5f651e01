//! L0: byte pipes to a card. No status-word logic here: GET RESPONSE, Le correction,
//! chaining and channels live in `apdu`. Only `pcsc.rs` imports the `pcsc` crate.

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
