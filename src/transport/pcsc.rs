//! PC/SC readers and cards (feature `pcsc`): the only module that imports the `pcsc` crate.
//!
//! * Connections are always `ShareMode::Shared` with `Protocols::ANY` (never `Direct`: the
//!   `pcsc` crate panics on transmit over a direct connection).
//! * Errors are mapped by [`map_error`]: `ResetCard` → `Reset` (and the handle is
//!   reconnected with `Disposition::LeaveCard` so the next call works), `RemovedCard` →
//!   `Removed`, `NoSmartcard` → `NoCard`, reader errors → `NoReader`, the rest → `Io(text)`.
//!
//! # Transactions
//!
//! [`Transport::transaction`] holds one `SCardBeginTransaction` … `SCardEndTransaction
//! (SCARD_LEAVE_CARD)` for the length of its body (the `pcsc` crate's scoped guard), so a
//! multi-APDU operation is one transaction and costs two PC/SC calls besides its APDUs.
//! `SCARD_W_RESET_CARD` (the card was reset by another application) at the start of a
//! transaction or on an APDU: the handle is reconnected with `SCARD_LEAVE_CARD` and the
//! reset is reported to the body of the next transaction (`ResetSeen::Yes`).
//! `SCARD_W_REMOVED_CARD`: this handle is dead for good (even if a card is back in the
//! reader, it is another card session): `Removed` from then on.
//! `SCARD_E_NO_SERVICE` / `SCARD_E_INVALID_HANDLE` (pcscd stopped or restarted): `NoService`;
//! [`PcscReaders`] establishes a new context at its next listing.

use std::ffi::CString;
use std::time::Duration;

use pcsc::{Card, Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State};
use zeroize::Zeroize;

use super::{
    CardIo, PinPadOp, PinPadRequest, ReaderFeatures, ReaderInfo, ReaderWatch, Readers, ResetSeen,
    TransactionBody, Transport, TransportError, WaitError, WakeUp,
};

/// Maps a PC/SC error to ours; the PC/SC text and code are kept for logs in `Io`.
pub fn map_error(e: pcsc::Error) -> TransportError {
    use pcsc::Error as E;
    match e {
        E::ResetCard | E::UnpoweredCard => TransportError::Reset,
        E::RemovedCard => TransportError::Removed,
        E::NoSmartcard => TransportError::NoCard,
        E::UnknownReader | E::ReaderUnavailable | E::NoReadersAvailable => TransportError::NoReader,
        E::SharingViolation => TransportError::Sharing,
        E::Timeout => TransportError::Timeout,
        E::NoService | E::ServiceStopped | E::InvalidHandle => TransportError::NoService,
        other => TransportError::Io(format!("PC/SC: {other} ({:#010X})", other as u32)),
    }
}

/// Errors after which the PC/SC context must be established again (pcscd restarted).
fn context_lost(e: pcsc::Error) -> bool {
    matches!(
        e,
        pcsc::Error::InvalidHandle | pcsc::Error::NoService | pcsc::Error::ServiceStopped
    )
}

/// The PC/SC readers of this machine.
pub struct PcscReaders {
    context: Option<Context>,
}

impl PcscReaders {
    /// No PC/SC call yet: the context is established on first use.
    pub fn new() -> PcscReaders {
        PcscReaders { context: None }
    }

    fn context(&mut self) -> Result<Context, pcsc::Error> {
        if let Some(ctx) = &self.context {
            return Ok(ctx.clone());
        }
        let ctx = Context::establish(Scope::User)?;
        self.context = Some(ctx.clone());
        Ok(ctx)
    }

    /// Runs `op` with the context, re-establishing it once if pcscd went away.
    fn with_context<T>(
        &mut self,
        op: impl Fn(&Context) -> Result<T, pcsc::Error>,
    ) -> Result<T, pcsc::Error> {
        match self.context().and_then(|ctx| op(&ctx)) {
            Err(e) if context_lost(e) => {
                self.context = None;
                self.context().and_then(|ctx| op(&ctx))
            }
            other => other,
        }
    }
}

impl Default for PcscReaders {
    fn default() -> Self {
        PcscReaders::new()
    }
}

/// The readers' names, and their states as PC/SC reports them with a zero timeout (no
/// waiting).
fn states_now(ctx: &Context) -> Result<Vec<ReaderState>, pcsc::Error> {
    let names = match ctx.list_readers_owned() {
        Err(pcsc::Error::NoReadersAvailable) => return Ok(Vec::new()),
        other => other?,
    };
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let mut states: Vec<ReaderState> = names
        .into_iter()
        .map(|name| ReaderState::new(name, State::UNAWARE))
        .collect();
    match ctx.get_status_change(Duration::ZERO, &mut states) {
        Ok(()) | Err(pcsc::Error::Timeout) => Ok(states),
        Err(e) => Err(e),
    }
}

/// What a slot shows of a reader's state.
fn reader_info(s: &ReaderState) -> ReaderInfo {
    let ev = s.event_state();
    let present = ev.contains(State::PRESENT) && !ev.contains(State::MUTE);
    ReaderInfo {
        name: s.name().to_string_lossy().into_owned(),
        card_present: present,
        atr: if present {
            s.atr().to_vec()
        } else {
            Vec::new()
        },
        events: s.event_count(),
    }
}

fn list_with(ctx: &Context) -> Result<Vec<ReaderInfo>, pcsc::Error> {
    Ok(states_now(ctx)?.iter().map(reader_info).collect())
}

/// Waits on its own PC/SC context, which [`WakeUp`] cancels (SCardCancel).
struct PcscWatch {
    context: Context,
    wake: WakeUp,
}

impl ReaderWatch for PcscWatch {
    fn wait(&mut self, known: &[ReaderInfo], timeout: Duration) -> Result<(), WaitError> {
        let unavailable = |e| WaitError::Unavailable(map_error(e));
        if self.wake.is_woken() {
            return Err(WaitError::Cancelled);
        }
        let mut states = states_now(&self.context).map_err(unavailable)?;
        let now: Vec<ReaderInfo> = states.iter().map(reader_info).collect();
        if now != known {
            return Ok(());
        }
        // Readers arriving or leaving: the PnP notification pseudo-reader.
        let mut pnp = ReaderState::new(pcsc::PNP_NOTIFICATION(), State::UNAWARE);
        match self
            .context
            .get_status_change(Duration::ZERO, std::slice::from_mut(&mut pnp))
        {
            Ok(()) | Err(pcsc::Error::Timeout) => states.push(pnp),
            Err(e) => log::debug!("PnP notification not available: {e}"),
        }
        for st in &mut states {
            st.sync_current_state();
        }
        let r = self.context.get_status_change(timeout, &mut states);
        if self.wake.is_woken() {
            return Err(WaitError::Cancelled);
        }
        match r {
            Ok(()) | Err(pcsc::Error::Timeout) => Ok(()),
            Err(pcsc::Error::Cancelled) => Err(WaitError::Cancelled),
            Err(e) => Err(unavailable(e)),
        }
    }
}

impl Readers for PcscReaders {
    fn list(&mut self) -> Result<Vec<ReaderInfo>, TransportError> {
        match self.with_context(list_with) {
            // No PC/SC service: no readers.
            Err(pcsc::Error::NoService) | Err(pcsc::Error::ServiceStopped) => Ok(Vec::new()),
            other => other.map_err(map_error),
        }
    }

    fn watch(&mut self) -> Result<(Box<dyn ReaderWatch>, WakeUp), TransportError> {
        // A context of its own: SCardCancel ends the waits of one context only.
        let context = Context::establish(Scope::User).map_err(map_error)?;
        let canceller = context.clone();
        let wake = WakeUp::new(move || {
            if let Err(e) = canceller.cancel() {
                log::debug!("SCardCancel: {e}");
            }
        });
        Ok((
            Box::new(PcscWatch {
                context,
                wake: wake.clone(),
            }),
            wake,
        ))
    }

    fn connect(&mut self, reader: &str) -> Result<Box<dyn Transport>, TransportError> {
        let name = CString::new(reader).map_err(|_| TransportError::NoReader)?;
        let transport = self
            .with_context(|ctx| PcscTransport::open(ctx.clone(), name.clone()))
            .map_err(map_error)?;
        Ok(Box::new(transport))
    }
}

/// Receive buffer: a short R-APDU is at most 258 bytes; allow extended ones.
const RX_BUFFER: usize = pcsc::MAX_BUFFER_SIZE_EXTENDED;

/// One card in a PC/SC reader.
pub struct PcscTransport {
    context: Context,
    reader: CString,
    card: Option<Card>,
    atr: Vec<u8>,
    t0: bool,
    /// A reset (or an unobserved gap) to report to the next transaction.
    reset_pending: bool,
    /// The card was removed: this connection is dead for good.
    removed: bool,
    rx: Vec<u8>,
    /// PC/SC part 10 control codes, asked once (`None` = not asked yet).
    features: Option<Part10>,
}

/// Control codes of the PC/SC part 10 features the reader offers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Part10 {
    pub verify_pin_direct: Option<u32>,
    pub modify_pin_direct: Option<u32>,
}

/// `CM_IOCTL_GET_FEATURE_REQUEST` (PC/SC part 10 §2.2).
const IOCTL_GET_FEATURE_REQUEST: u32 = 3400;
const FEATURE_VERIFY_PIN_DIRECT: u8 = 0x06;
const FEATURE_MODIFY_PIN_DIRECT: u8 = 0x07;
/// Reader waits this long for the PIN (seconds; 0 would mean the reader's default).
const PIN_TIMEOUT_S: u8 = 30;
/// wLangId of the reader's prompts: French.
const LANG_FR: u16 = 0x040C;

/// Parses the answer to `CM_IOCTL_GET_FEATURE_REQUEST`: TLVs of tag (1), length (1, = 4),
/// control code (4, big-endian). Malformed trailing bytes are ignored.
pub fn parse_features(tlv: &[u8]) -> Part10 {
    let mut out = Part10::default();
    let mut rest = tlv;
    while let [tag, len, tail @ ..] = rest {
        let len = usize::from(*len);
        if tail.len() < len {
            break;
        }
        if len == 4 {
            let code = u32::from_be_bytes([tail[0], tail[1], tail[2], tail[3]]);
            match *tag {
                FEATURE_VERIFY_PIN_DIRECT => out.verify_pin_direct = Some(code),
                FEATURE_MODIFY_PIN_DIRECT => out.modify_pin_direct = Some(code),
                _ => {}
            }
        }
        rest = &tail[len..];
    }
    out
}

/// bmFormatString: byte units, PIN at `position` bytes into the data, left-justified, ASCII.
fn format_string(position: u8) -> u8 {
    0x80 | ((position & 0x0F) << 3) | 0x02
}

/// PIN_VERIFY_STRUCTURE / PIN_MODIFY_STRUCTURE (PC/SC part 10 §2.5.2 / §2.5.3), little-endian
/// multi-byte fields.
pub fn pin_structure(req: &PinPadRequest) -> Vec<u8> {
    let block = req.block_len.min(0x0F);
    let mut v = Vec::with_capacity(32 + req.apdu.len());
    v.extend_from_slice(&[PIN_TIMEOUT_S, PIN_TIMEOUT_S]);
    match req.op {
        PinPadOp::Verify { offset } => {
            v.extend_from_slice(&[format_string(offset), block, 0x00]);
            v.extend_from_slice(&[req.max_len, req.min_len]);
            // Validation key; one message; prompt language; message index 0.
            v.extend_from_slice(&[0x02, 0x01]);
            v.extend_from_slice(&LANG_FR.to_le_bytes());
            v.push(0x00);
        }
        PinPadOp::Modify {
            old_offset,
            new_offset,
        } => {
            v.extend_from_slice(&[format_string(0), block, 0x00]);
            v.extend_from_slice(&[old_offset.unwrap_or(0), new_offset]);
            v.extend_from_slice(&[req.max_len, req.min_len]);
            // bConfirmPIN: confirm the new PIN; ask the current one when it is in the command.
            let confirm = 0x01 | if old_offset.is_some() { 0x02 } else { 0x00 };
            let messages = if old_offset.is_some() { 3 } else { 2 };
            v.extend_from_slice(&[confirm, 0x02, messages]);
            v.extend_from_slice(&LANG_FR.to_le_bytes());
            v.extend_from_slice(&[0x00, 0x01, 0x02]);
        }
    }
    v.extend_from_slice(&[0, 0, 0]);
    v.extend_from_slice(&(req.apdu.len() as u32).to_le_bytes());
    v.extend_from_slice(&req.apdu);
    v
}

impl PcscTransport {
    /// Connects (shared, T=0 or T=1 as the card and reader negotiate).
    pub fn open(context: Context, reader: CString) -> Result<PcscTransport, pcsc::Error> {
        let (card, atr, t0) = connect_card(&context, &reader)?;
        Ok(PcscTransport {
            context,
            reader,
            card: Some(card),
            atr,
            t0,
            reset_pending: false,
            removed: false,
            rx: Vec::new(),
            features: None,
        })
    }

    /// The reader's part 10 features (asked once per connection).
    fn part10(&mut self) -> Part10 {
        if let Some(f) = self.features {
            return f;
        }
        let mut buf = [0u8; 256];
        let f = match self.card() {
            Ok(card) => {
                match card.control(
                    pcsc::ctl_code(IOCTL_GET_FEATURE_REQUEST as _),
                    &[],
                    &mut buf,
                ) {
                    Ok(tlv) => parse_features(tlv),
                    Err(e) => {
                        log::debug!("reader features not available: {e}");
                        Part10::default()
                    }
                }
            }
            Err(_) => return Part10::default(),
        };
        self.features = Some(f);
        f
    }

    /// A transport that is not connected to anything (tests move a real one out of a
    /// closure with it).
    #[cfg(test)]
    fn placeholder() -> PcscTransport {
        PcscTransport {
            context: Context::establish(Scope::User).expect("PC/SC context"),
            reader: CString::default(),
            card: None,
            atr: Vec::new(),
            t0: false,
            reset_pending: false,
            removed: true,
            rx: Vec::new(),
            features: None,
        }
    }

    /// The negotiated protocol is T=0 (else T=1). The APDU channel needs it: under T=0 a
    /// case-4 command is sent without Le.
    pub fn is_t0(&self) -> bool {
        self.t0
    }

    /// The reader's name.
    pub fn reader(&self) -> &str {
        self.reader.to_str().unwrap_or("")
    }

    /// The connected card, connecting again if a reconnection after a reset could not.
    fn card(&mut self) -> Result<&mut Card, TransportError> {
        if self.removed {
            return Err(TransportError::Removed);
        }
        if self.card.is_none() {
            let (card, atr, t0) = connect_card(&self.context, &self.reader).map_err(map_error)?;
            self.atr = atr;
            self.t0 = t0;
            self.reset_pending = true;
            self.card = Some(card);
        }
        self.card.as_mut().ok_or(TransportError::NoCard)
    }

    /// After an exchange the reader could not carry out (`SCARD_E_NOT_TRANSACTED`: the card
    /// did not answer — mute, or another card put in unpowered while pcscd was not looking):
    /// reset the card in the reader (`SCardReconnect` with `SCARD_RESET_CARD`) and report a
    /// reset, as for one made by someone else. The card layer then checks the card is the
    /// bound one before anything else (EF.SN), so a card swapped behind pcscd's back is found,
    /// and a mute bound card gets one fresh start instead of failing every call.
    fn reset_mute_card(&mut self) {
        self.reset_pending = true;
        if let Some(card) = self.card.as_mut() {
            log::info!("the card did not answer: resetting it");
            if let Err(e) =
                card.reconnect(ShareMode::Shared, Protocols::ANY, Disposition::ResetCard)
            {
                log::debug!("PC/SC reconnect (reset) of a mute card failed: {e}");
                self.card = None;
            }
        }
    }

    /// After `ResetCard`: reconnect without resetting again, remember to tell `begin()`.
    fn recover_from_reset(&mut self) {
        self.reset_pending = true;
        if let Some(card) = self.card.as_mut() {
            if let Err(e) =
                card.reconnect(ShareMode::Shared, Protocols::ANY, Disposition::LeaveCard)
            {
                log::debug!("PC/SC reconnect after reset failed: {e}");
                self.card = None;
            }
        }
    }
}

/// `SCardConnect` (shared, any protocol), then ATR and protocol from `SCardStatus`.
fn connect_card(ctx: &Context, reader: &CString) -> Result<(Card, Vec<u8>, bool), pcsc::Error> {
    let card = ctx.connect(reader, ShareMode::Shared, Protocols::ANY)?;
    let status = card.status2_owned()?;
    let t0 = match status.protocol2() {
        Some(pcsc::Protocol::T0) => true,
        Some(pcsc::Protocol::T1) => false,
        // RAW or undefined: nothing we can speak APDUs over.
        _ => return Err(pcsc::Error::ProtoMismatch),
    };
    Ok((card, status.atr().to_vec(), t0))
}

impl Transport for PcscTransport {
    fn atr(&self) -> &[u8] {
        &self.atr
    }

    fn features(&mut self) -> ReaderFeatures {
        let f = self.part10();
        ReaderFeatures {
            verify_pin_direct: f.verify_pin_direct.is_some(),
            modify_pin_direct: f.modify_pin_direct.is_some(),
        }
    }

    fn protocol(&self) -> super::Protocol {
        if self.is_t0() {
            super::Protocol::T0
        } else {
            super::Protocol::T1
        }
    }

    fn transaction(&mut self, body: &mut TransactionBody<'_>) -> Result<(), TransportError> {
        let part10 = self.part10();
        for _ in 0..2 {
            let mut rx = std::mem::take(&mut self.rx);
            rx.resize(RX_BUFFER, 0);
            let reset_pending = self.reset_pending;
            let card = self.card()?;
            let outcome = match card.transaction() {
                Ok(tx) => {
                    let mut io = TxIo {
                        card: &tx,
                        rx: &mut rx,
                        part10,
                        reset: false,
                        removed: false,
                        mute: false,
                    };
                    let seen = if reset_pending {
                        ResetSeen::Yes
                    } else {
                        ResetSeen::No
                    };
                    body(&mut io, seen);
                    let (reset, removed, mute) = (io.reset, io.removed, io.mute);
                    if let Err((_, e)) = tx.end(Disposition::LeaveCard) {
                        log::debug!("PC/SC end of transaction: {e}");
                    }
                    Ok((reset, removed, mute))
                }
                Err(e) => Err(e),
            };
            self.rx = rx;
            match outcome {
                Ok((reset, removed, mute)) => {
                    self.reset_pending = false;
                    if removed {
                        self.removed = true;
                    } else if mute {
                        self.reset_mute_card();
                    } else if reset {
                        self.recover_from_reset();
                    }
                    return Ok(());
                }
                Err(pcsc::Error::ResetCard) => self.recover_from_reset(),
                Err(e) => {
                    let err = map_error(e);
                    if err == TransportError::Removed {
                        self.removed = true;
                    }
                    return Err(err);
                }
            }
        }
        Err(TransportError::Reset)
    }
}

/// The card inside one PC/SC transaction.
struct TxIo<'a, 'tx> {
    card: &'a pcsc::Transaction<'tx>,
    rx: &'a mut Vec<u8>,
    part10: Part10,
    /// `SCARD_W_RESET_CARD` / `SCARD_W_REMOVED_CARD` seen on an exchange.
    reset: bool,
    removed: bool,
    /// `SCARD_E_NOT_TRANSACTED` on an exchange: the card did not answer (reset afterwards).
    mute: bool,
}

impl TxIo<'_, '_> {
    fn outcome(&mut self, r: Result<Vec<u8>, pcsc::Error>) -> Result<Vec<u8>, TransportError> {
        r.map_err(|e| {
            if e == pcsc::Error::NotTransacted {
                // Reported to the card layer as a reset during the command: the card is reset
                // once the transaction ends (`reset_mute_card`).
                self.mute = true;
                return TransportError::Reset;
            }
            let err = map_error(e);
            match err {
                TransportError::Reset => self.reset = true,
                TransportError::Removed => self.removed = true,
                _ => {}
            }
            err
        })
    }
}

impl CardIo for TxIo<'_, '_> {
    fn transmit(&mut self, c_apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        let result = self.card.transmit(c_apdu, self.rx).map(|r| r.to_vec());
        // The buffer may have held key material or plaintext.
        let used = result.as_ref().map_or(0, Vec::len);
        self.rx[..used].zeroize();
        self.outcome(result)
    }

    fn pin_pad(&mut self, request: &PinPadRequest) -> Result<Vec<u8>, TransportError> {
        let code = match request.op {
            PinPadOp::Verify { .. } => self.part10.verify_pin_direct,
            PinPadOp::Modify { .. } => self.part10.modify_pin_direct,
        }
        .ok_or(TransportError::Unsupported)?;
        let structure = pin_structure(request);
        let mut buf = [0u8; 258];
        // The control code comes from the reader as is (already a full IOCTL code).
        let result = self
            .card
            .control(code as _, &structure, &mut buf)
            .map(|r| r.to_vec());
        self.outcome(result)
    }
}

impl Drop for PcscTransport {
    fn drop(&mut self) {
        // `pcsc::Card`'s own Drop resets the card; leave it as it is for other applications.
        if let Some(card) = self.card.take() {
            if let Err((_card, e)) = card.disconnect(Disposition::LeaveCard) {
                log::debug!("PC/SC disconnect failed: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part10_features_and_structures() {
        // A reader with VERIFY (06) and MODIFY (07) direct, plus an unrelated feature (12).
        let tlv = [
            0x06, 4, 0x42, 0x33, 0x00, 0x06, 0x07, 4, 0x42, 0x33, 0x00, 0x07, 0x12, 4, 0x42, 0x33,
            0x00, 0x12, 0xFF,
        ];
        let f = parse_features(&tlv);
        assert_eq!(f.verify_pin_direct, Some(0x4233_0006));
        assert_eq!(f.modify_pin_direct, Some(0x4233_0007));
        assert_eq!(parse_features(&[]), Part10::default());
        assert_eq!(parse_features(&[0x06, 4, 1]), Part10::default());

        let mut apdu = vec![0x00, 0x20, 0x00, 0x01, 0x08];
        apdu.extend_from_slice(&[0xFF; 8]);
        let verify = PinPadRequest {
            op: PinPadOp::Verify { offset: 0 },
            apdu: apdu.clone(),
            min_len: 4,
            max_len: 4,
            block_len: 8,
        };
        let s = pin_structure(&verify);
        assert_eq!(
            &s[..19],
            &[30, 30, 0x82, 0x08, 0x00, 4, 4, 0x02, 0x01, 0x0C, 0x04, 0, 0, 0, 0, 13, 0, 0, 0]
        );
        assert_eq!(&s[19..], &apdu[..]);

        let modify = PinPadRequest {
            op: PinPadOp::Modify {
                old_offset: Some(0),
                new_offset: 8,
            },
            apdu: vec![0x00, 0x24, 0x00, 0x01, 0x10],
            min_len: 4,
            max_len: 4,
            block_len: 8,
        };
        let s = pin_structure(&modify);
        assert_eq!(
            &s[..24],
            &[
                30, 30, 0x82, 0x08, 0x00, 0, 8, 4, 4, 0x03, 0x02, 3, 0x0C, 0x04, 0, 1, 2, 0, 0, 0,
                5, 0, 0, 0
            ]
        );
    }

    #[test]
    fn error_mapping() {
        use pcsc::Error as E;
        let table = [
            (E::ResetCard, TransportError::Reset),
            (E::UnpoweredCard, TransportError::Reset),
            (E::RemovedCard, TransportError::Removed),
            (E::NoSmartcard, TransportError::NoCard),
            (E::UnknownReader, TransportError::NoReader),
            (E::ReaderUnavailable, TransportError::NoReader),
            (E::NoReadersAvailable, TransportError::NoReader),
            (E::SharingViolation, TransportError::Sharing),
            (E::Timeout, TransportError::Timeout),
        ];
        for (pcsc_err, ours) in table {
            assert_eq!(map_error(pcsc_err), ours, "{pcsc_err:?}");
        }
        match map_error(E::CommError) {
            TransportError::Io(text) => assert!(text.contains("0x80100013"), "{text}"),
            other => panic!("{other:?}"),
        }
        assert!(context_lost(E::NoService));
        assert!(context_lost(E::InvalidHandle));
        assert!(!context_lost(E::ResetCard));
    }

    /// Needs a running pcscd; with `CPX_TEST_READER` set, also talks to the card in that
    /// reader (any card answering `00 A4 04 00 00` with at least a status word):
    /// `CPX_TEST_READER="Virtual PCD 00 00" cargo test --lib real_pcscd -- --ignored`.
    #[test]
    #[ignore]
    fn real_pcscd() {
        use std::sync::mpsc;
        let mut readers = PcscReaders::new();
        let list = readers.list().unwrap();
        eprintln!("{list:?}");
        let Ok(name) = std::env::var("CPX_TEST_READER") else {
            return;
        };
        let info = list.iter().find(|r| r.name == name).expect("reader listed");
        assert!(info.card_present);
        let select = [0x00, 0xA4, 0x04, 0x00, 0x00];
        let ctx = Context::establish(Scope::User).unwrap();
        let reader = CString::new(name.clone()).unwrap();
        let mut t = PcscTransport::open(ctx.clone(), reader.clone()).unwrap();
        assert_eq!(t.atr(), info.atr.as_slice());
        eprintln!("T=0: {}", t.is_t0());
        // One transaction: (answer length, what the transaction said about resets).
        let run = |t: &mut PcscTransport| {
            let mut out = None;
            t.transaction(&mut |io, seen| out = Some((io.transmit(&select), seen)))
                .map(|()| out.expect("body ran"))
        };
        let (answer, seen) = run(&mut t).unwrap();
        assert!(answer.unwrap().len() >= 2);
        assert_eq!(seen, ResetSeen::No);

        // While we hold a transaction, another handle cannot get through.
        let mut other = PcscTransport::open(ctx, reader).unwrap();
        let (tx, rx) = mpsc::channel();
        let mut worker = None;
        t.transaction(&mut |io, _| {
            let tx = tx.clone();
            let mut other = std::mem::replace(&mut other, PcscTransport::placeholder());
            worker = Some(std::thread::spawn(move || {
                let mut sent = None;
                let r = other.transaction(&mut |io, _| sent = Some(io.transmit(&select)));
                tx.send((r, sent)).unwrap();
            }));
            match rx.recv_timeout(Duration::from_millis(500)) {
                Err(mpsc::RecvTimeoutError::Timeout) => {} // blocked, as it should be
                Ok(r) => panic!("second handle got through a transaction: {r:?}"),
                Err(e) => panic!("{e}"),
            }
            assert!(io.transmit(&select).unwrap().len() >= 2);
        })
        .unwrap();
        // Released: the other handle now runs.
        let (r, sent) = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("lock released at the end of the transaction");
        r.unwrap();
        assert!(sent.unwrap().unwrap().len() >= 2);
        worker.unwrap().join().unwrap();

        // A reset by someone else is reported once, and the handle keeps working.
        let ctx2 = Context::establish(Scope::User).unwrap();
        let card = ctx2
            .connect(
                &CString::new(name).unwrap(),
                ShareMode::Shared,
                Protocols::ANY,
            )
            .unwrap();
        card.disconnect(Disposition::ResetCard)
            .map_err(|(_, e)| e)
            .unwrap();
        let (answer, seen) = run(&mut t).unwrap();
        assert_eq!(seen, ResetSeen::Yes);
        assert!(answer.unwrap().len() >= 2);
        let (_, seen) = run(&mut t).unwrap();
        assert_eq!(seen, ResetSeen::No);
    }
}
