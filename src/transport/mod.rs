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
    /// The PC/SC service is gone (pcscd stopped or restarted): every handle of the old
    /// context is dead; the readers establish a new context on their next listing.
    #[error("PC/SC service not available")]
    NoService,
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

/// The card inside one transaction: what `apdu::Channel` talks to.
pub trait CardIo {
    /// One C-APDU in, the raw R-APDU out (data ‖ SW1 SW2). No 61xx/6Cxx logic here.
    fn transmit(&mut self, c_apdu: &[u8]) -> Result<Vec<u8>, TransportError>;
    /// Lets the reader collect PINs on its keypad and send the completed command; returns
    /// the raw R-APDU (the card's, or a PIN-pad status word of [`pinpad_sw`]). The PIN never
    /// reaches the host.
    fn pin_pad(&mut self, _request: &PinPadRequest) -> Result<Vec<u8>, TransportError> {
        Err(TransportError::Unsupported)
    }
}

/// The body of a transaction: the card, and whether it was reset since our last one.
pub type TransactionBody<'a> = dyn FnMut(&mut dyn CardIo, ResetSeen) + 'a;

/// One connected card.
pub trait Transport: Send {
    fn atr(&self) -> &[u8];
    /// The protocol in use on this connection.
    fn protocol(&self) -> Protocol;
    /// Runs `body` inside one exclusive transaction (PC/SC: SCardBeginTransaction …
    /// SCardEndTransaction, leaving the card as it is), on every path. `Err` means the body
    /// did not run: the card is gone (`Removed`, `NoCard`), the reader or the PC/SC service
    /// is gone, or the card is held by someone else. A reset of the card since our last
    /// transaction (by another application, or a power cycle) is passed to the body as
    /// `ResetSeen::Yes`, as pcsc-lite reports it (`SCARD_W_RESET_CARD` at the start of the
    /// next transaction).
    fn transaction(&mut self, body: &mut TransactionBody<'_>) -> Result<(), TransportError>;
    /// What the reader can do besides transmitting (default: nothing).
    fn features(&mut self) -> ReaderFeatures {
        ReaderFeatures::default()
    }
}

/// Watches or alters what passes through another transport (the `cpx trace` recorder, test
/// and benchmark wrappers): [`Tapped`] runs the inner transport's transactions and hands
/// each exchange to the tap.
pub trait Tap: Send {
    fn transmit(
        &mut self,
        card: &mut dyn CardIo,
        c_apdu: &[u8],
    ) -> Result<Vec<u8>, TransportError> {
        card.transmit(c_apdu)
    }
    fn pin_pad(
        &mut self,
        card: &mut dyn CardIo,
        request: &PinPadRequest,
    ) -> Result<Vec<u8>, TransportError> {
        card.pin_pad(request)
    }
    /// A transaction began (with what the transport said about resets).
    fn begin(&mut self, _reset_seen: ResetSeen) {}
    /// The transaction's body returned.
    fn end(&mut self) {}
}

/// A transport with a [`Tap`] on it.
pub struct Tapped<T: Tap> {
    pub inner: Box<dyn Transport>,
    pub tap: T,
}

struct TapIo<'a, T: Tap> {
    tap: &'a mut T,
    card: &'a mut dyn CardIo,
}

impl<T: Tap> CardIo for TapIo<'_, T> {
    fn transmit(&mut self, c_apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.tap.transmit(self.card, c_apdu)
    }
    fn pin_pad(&mut self, request: &PinPadRequest) -> Result<Vec<u8>, TransportError> {
        self.tap.pin_pad(self.card, request)
    }
}

impl<T: Tap> Transport for Tapped<T> {
    fn atr(&self) -> &[u8] {
        self.inner.atr()
    }
    fn protocol(&self) -> Protocol {
        self.inner.protocol()
    }
    fn features(&mut self) -> ReaderFeatures {
        self.inner.features()
    }
    fn transaction(&mut self, body: &mut TransactionBody<'_>) -> Result<(), TransportError> {
        let tap = &mut self.tap;
        self.inner.transaction(&mut |card, reset_seen| {
            tap.begin(reset_seen);
            body(&mut TapIo { tap, card }, reset_seen);
            tap.end();
        })
    }
}

/// A reader as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderInfo {
    pub name: String,
    pub card_present: bool,
    pub atr: Vec<u8>,
    /// How many times a card was inserted into or removed from this reader (PC/SC: the upper
    /// 16 bits of the reader's event state). A change between two scans means another card
    /// session, even when the ATR is the same and the scans saw a card both times.
    pub events: u32,
}

/// The set of readers of one kind (PC/SC, virtual).
pub trait Readers: Send {
    fn list(&mut self) -> Result<Vec<ReaderInfo>, TransportError>;
    fn connect(&mut self, reader: &str) -> Result<Box<dyn Transport>, TransportError>;
    /// Something to wait on for reader and card changes without holding this object (so
    /// the module's lock is free meanwhile), and the handle that wakes it.
    fn watch(&mut self) -> Result<(Box<dyn ReaderWatch>, WakeUp), TransportError>;
    /// Listing is cheap (no daemon round trip): the module may list on every call.
    fn listing_is_cheap(&self) -> bool {
        false
    }
}

/// Waits for readers and cards to change (PC/SC: SCardGetStatusChange, with the PnP
/// notification for readers arriving).
pub trait ReaderWatch: Send {
    /// Returns when the readers or cards may differ from `known` (a listing), when
    /// `timeout` has passed, or when woken (`Err(Cancelled)`). The caller lists again to see
    /// what changed.
    fn wait(&mut self, known: &[ReaderInfo], timeout: std::time::Duration)
        -> Result<(), WaitError>;
}

/// Why a wait ended without news.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitError {
    /// [`WakeUp::wake`] was called (C_Finalize).
    Cancelled,
    /// The readers could not be watched (no PC/SC service…); try again later.
    Unavailable(TransportError),
}

/// Wakes a [`ReaderWatch`] from another thread; once woken it stays woken.
#[derive(Clone)]
pub struct WakeUp {
    woken: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Interrupts a wait in progress (PC/SC: SCardCancel on the watch's context).
    interrupt: std::sync::Arc<dyn Fn() + Send + Sync>,
}

impl WakeUp {
    pub fn new(interrupt: impl Fn() + Send + Sync + 'static) -> WakeUp {
        WakeUp {
            woken: Default::default(),
            interrupt: std::sync::Arc::new(interrupt),
        }
    }

    pub fn wake(&self) {
        self.woken.store(true, std::sync::atomic::Ordering::SeqCst);
        (self.interrupt)();
    }

    pub fn is_woken(&self) -> bool {
        self.woken.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The readers the module and the `cpx` tool drive (`config.rs`): in a `sim` build with
/// `CPX_SIM_CARDS` set, its simulated cards (the `CPX_SIM_PINPAD` entries queued on their
/// keypad); else PC/SC; a build without PC/SC then has no readers. Err: `CPX_SIM_CARDS` names
/// a card that cannot be loaded (the message names the variable).
pub fn readers_from_config(config: &Config) -> Result<Box<dyn Readers>, String> {
    #[cfg(feature = "sim")]
    if let Some(readers) = sim_readers_from_config(config)? {
        return Ok(Box::new(readers));
    }
    let _ = config;
    #[cfg(feature = "pcsc")]
    return Ok(Box::new(pcsc::PcscReaders::new()));
    #[cfg(not(feature = "pcsc"))]
    Ok(Box::new(NoReaders))
}

/// The simulated cards of `CPX_SIM_CARDS` (its `CPX_SIM_PINPAD` entries queued on their
/// keypad), if the variable is set: the module's C_Initialize keeps their handles for the
/// `sim`-only control hook (`transport::virtual::control`).
#[cfg(feature = "sim")]
pub fn sim_readers_from_config(config: &Config) -> Result<Option<r#virtual::SimReaders>, String> {
    let Some(spec) = &config.sim_cards else {
        return Ok(None);
    };
    let readers = r#virtual::SimReaders::from_spec(spec)
        .map_err(|e| format!("CPX_SIM_CARDS={spec:?}: {e}"))?;
    if let Some(keys) = &config.sim_pinpad {
        readers.queue_keys(keys);
    }
    Ok(Some(readers))
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
    fn watch(&mut self) -> Result<(Box<dyn ReaderWatch>, WakeUp), TransportError> {
        Err(TransportError::NoReader)
    }
    fn listing_is_cheap(&self) -> bool {
        true
    }
}
