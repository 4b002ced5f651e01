//! Virtual readers backed by the card simulator (feature `sim`): one reader per simulated
//! card. The test (or `CPX_SIM_CARDS`) keeps a handle on each card to pull it, reset it or
//! inject faults.
//!
//! A virtual reader may be a PIN pad (`pinpad:<persona>` in `CPX_SIM_CARDS`): it reports
//! FEATURE_VERIFY_PIN_DIRECT and FEATURE_MODIFY_PIN_DIRECT, and its "keypad" is a queue of
//! entries the test fills in advance ([`Keypad`], or `CPX_SIM_PINPAD` for the library): each
//! PIN the reader asks for takes the next entry. The reader writes the typed digits into the
//! command itself and sends it to the card, as a real PIN pad does.

use super::{
    pinpad_sw, CardIo, PinPadOp, PinPadRequest, Protocol, ReaderFeatures, ReaderInfo, ReaderWatch,
    Readers, ResetSeen, TransactionBody, Transport, TransportError, WaitError, WakeUp,
};
use crate::sim::profile;
use crate::sim::{SimCard, SimFault};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use zeroize::Zeroizing;

/// A simulated card shared between its reader and whoever controls it.
pub type SharedCard = Arc<Mutex<SimCard>>;

/// What the person at the PIN pad does when asked for a PIN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyEntry {
    /// Types these digits and presses OK.
    Pin(Zeroizing<String>),
    /// Presses Cancel.
    Cancel,
    /// Walks away (the reader times out).
    Timeout,
}

impl KeyEntry {
    /// `cancel`, `timeout`, or the digits to type.
    pub fn parse(s: &str) -> KeyEntry {
        match s.trim() {
            "cancel" => KeyEntry::Cancel,
            "timeout" => KeyEntry::Timeout,
            digits => KeyEntry::Pin(Zeroizing::new(digits.to_string())),
        }
    }
}

/// The keypad of the virtual PIN-pad readers: entries the test queued, taken in order.
#[derive(Clone, Debug, Default)]
pub struct Keypad(Arc<Mutex<VecDeque<KeyEntry>>>);

impl Keypad {
    /// Queues what will be typed at the next PIN request.
    pub fn push(&self, entry: KeyEntry) {
        if let Ok(mut q) = self.0.lock() {
            q.push_back(entry);
        }
    }

    /// Queues a PIN.
    pub fn type_pin(&self, digits: &str) {
        self.push(KeyEntry::Pin(Zeroizing::new(digits.to_string())));
    }

    /// Entries not consumed yet.
    pub fn pending(&self) -> usize {
        self.0.lock().map_or(0, |q| q.len())
    }

    /// The next entry; an empty queue behaves as nobody typing (timeout).
    fn next(&self) -> KeyEntry {
        self.0
            .lock()
            .ok()
            .and_then(|mut q| q.pop_front())
            .unwrap_or(KeyEntry::Timeout)
    }
}

struct VirtualReader {
    name: String,
    card: SharedCard,
    pin_pad: bool,
}

pub struct SimReaders {
    readers: Vec<VirtualReader>,
    keypad: Keypad,
    /// Tell the module that listing costs nothing (default), so it lists at every call;
    /// tests of the coalesced scans of PC/SC readers turn it off.
    cheap_listing: bool,
}

impl SimReaders {
    pub fn new() -> Self {
        SimReaders {
            readers: Vec::new(),
            keypad: Keypad::default(),
            cheap_listing: true,
        }
    }

    fn push(&mut self, card: SimCard, pin_pad: bool) -> SharedCard {
        let name = format!(
            "CPX Virtual {}Reader {} ({})",
            if pin_pad { "PIN Pad " } else { "" },
            self.readers.len(),
            card.profile().persona
        );
        let shared = Arc::new(Mutex::new(card));
        self.readers.push(VirtualReader {
            name,
            card: shared.clone(),
            pin_pad,
        });
        shared
    }

    /// Adds a reader holding `card`; returns the control handle.
    pub fn add(&mut self, card: SimCard) -> SharedCard {
        self.push(card, false)
    }

    /// Adds a PIN-pad reader holding `card` (its keypad is [`SimReaders::keypad`]).
    pub fn add_pin_pad(&mut self, card: SimCard) -> SharedCard {
        self.push(card, true)
    }

    /// Builds readers from a `CPX_SIM_CARDS` value: personas or persona directories,
    /// comma-separated, one reader each; `pinpad:<persona>` makes that reader a PIN pad,
    /// `removed:<persona>` starts with the card out of its reader; `none` alone means no
    /// reader at all.
    pub fn from_spec(spec: &str) -> Result<Self, String> {
        let mut r = SimReaders::new();
        if spec.trim() == "none" {
            return Ok(r);
        }
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if let Some(persona) = item.strip_prefix("pinpad:") {
                r.add_pin_pad(SimCard::load(persona.trim())?);
            } else if let Some(persona) = item.strip_prefix("removed:") {
                let mut card = SimCard::load(persona.trim())?;
                card.remove();
                r.add(card);
            } else {
                r.add(SimCard::load(item)?);
            }
        }
        Ok(r)
    }

    /// Queues keypad entries from a `CPX_SIM_PINPAD` value (comma-separated PINs, `cancel`,
    /// `timeout`).
    pub fn queue_keys(&self, spec: &str) {
        for item in spec.split(',').filter(|s| !s.trim().is_empty()) {
            self.keypad.push(KeyEntry::parse(item));
        }
    }

    /// Behave as PC/SC readers, whose listing the module coalesces (`Module::scan_ttl`).
    pub fn with_costly_listing(mut self) -> Self {
        self.cheap_listing = false;
        self
    }

    /// The keypad shared by the PIN-pad readers.
    pub fn keypad(&self) -> Keypad {
        self.keypad.clone()
    }

    pub fn cards(&self) -> Vec<(String, SharedCard)> {
        self.readers
            .iter()
            .map(|r| (r.name.clone(), r.card.clone()))
            .collect()
    }
}

impl Default for SimReaders {
    fn default() -> Self {
        Self::new()
    }
}

/// The listing of virtual readers.
fn listing(readers: &[(String, SharedCard)]) -> Vec<ReaderInfo> {
    readers
        .iter()
        .map(|(name, card)| {
            let (present, atr, events) = card
                .lock()
                .map(|c| {
                    let atr = if c.is_present() { c.atr() } else { Vec::new() };
                    (c.is_present(), atr, c.events())
                })
                .unwrap_or((false, Vec::new(), 0));
            ReaderInfo {
                name: name.clone(),
                card_present: present,
                atr,
                events,
            }
        })
        .collect()
}

/// Polls the virtual readers every few milliseconds (they live in this process).
struct SimWatch {
    readers: Vec<(String, SharedCard)>,
    wake: WakeUp,
}

impl ReaderWatch for SimWatch {
    fn wait(
        &mut self,
        known: &[ReaderInfo],
        timeout: std::time::Duration,
    ) -> Result<(), WaitError> {
        let start = std::time::Instant::now();
        loop {
            if self.wake.is_woken() {
                return Err(WaitError::Cancelled);
            }
            if listing(&self.readers) != known || start.elapsed() >= timeout {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

impl Readers for SimReaders {
    fn list(&mut self) -> Result<Vec<ReaderInfo>, TransportError> {
        Ok(listing(&self.cards()))
    }

    fn watch(&mut self) -> Result<(Box<dyn ReaderWatch>, WakeUp), TransportError> {
        let wake = WakeUp::new(|| {});
        Ok((
            Box::new(SimWatch {
                readers: self.cards(),
                wake: wake.clone(),
            }),
            wake,
        ))
    }

    fn listing_is_cheap(&self) -> bool {
        self.cheap_listing
    }

    fn connect(&mut self, reader: &str) -> Result<Box<dyn Transport>, TransportError> {
        let r = self
            .readers
            .iter()
            .find(|r| r.name == reader)
            .ok_or(TransportError::NoReader)?;
        let card = &r.card;
        let (atr, protocol, events, resets) = {
            let mut c = card
                .lock()
                .map_err(|_| TransportError::Io("poisoned".into()))?;
            if !c.is_present() {
                return Err(TransportError::NoCard);
            }
            if !c.is_powered() {
                c.power_on();
            }
            let protocol = match c.profile().protocol {
                profile::Protocol::T0 => Protocol::T0,
                profile::Protocol::T1 => Protocol::T1,
            };
            (c.atr(), protocol, c.events(), c.resets())
        };
        Ok(Box::new(SimTransport {
            card: card.clone(),
            atr,
            protocol,
            keypad: r.pin_pad.then(|| self.keypad.clone()),
            events,
            resets,
        }))
    }
}

/// A connection to one simulated card.
pub struct SimTransport {
    card: SharedCard,
    atr: Vec<u8>,
    protocol: Protocol,
    /// The keypad, on a PIN-pad reader.
    keypad: Option<Keypad>,
    /// The reader's event counter when we connected: once it moves, the card this
    /// connection was made to is gone (PC/SC: `SCARD_W_REMOVED_CARD` on the old handle).
    events: u32,
    /// The card's resets we were told of.
    resets: u64,
}

/// One PIN typed on the keypad, checked against the request's bounds and written over the
/// PIN block at `offset` of the command data. `Err` is the reader's status word.
fn type_into(
    keypad: &Keypad,
    apdu: &mut [u8],
    offset: u8,
    request: &PinPadRequest,
) -> Result<(), u16> {
    let digits = match keypad.next() {
        KeyEntry::Pin(d) => d,
        KeyEntry::Cancel => return Err(pinpad_sw::CANCELLED),
        KeyEntry::Timeout => return Err(pinpad_sw::TIMEOUT),
    };
    let n = digits.len();
    if n < usize::from(request.min_len) || n > usize::from(request.max_len) {
        return Err(pinpad_sw::TOO_SHORT_OR_LONG);
    }
    let start = 5 + usize::from(offset);
    let block = apdu
        .get_mut(start..start + usize::from(request.block_len).max(n))
        .ok_or(0x6B80u16)?;
    block[..n].copy_from_slice(digits.as_bytes());
    Ok(())
}

impl SimTransport {
    /// What the PIN-pad reader does: collect the PINs, build the command, send it.
    fn run_pin_pad(&mut self, keypad: &Keypad, request: &PinPadRequest) -> Result<Vec<u8>, u16> {
        let mut apdu = Zeroizing::new(request.apdu.clone());
        if apdu.len() < 5 {
            return Err(0x6B80);
        }
        match request.op {
            PinPadOp::Verify { offset } => type_into(keypad, &mut apdu, offset, request)?,
            PinPadOp::Modify {
                old_offset,
                new_offset,
            } => {
                if let Some(o) = old_offset {
                    type_into(keypad, &mut apdu, o, request)?;
                }
                type_into(keypad, &mut apdu, new_offset, request)?;
                // The reader asks for the new PIN a second time and compares.
                let mut again = Zeroizing::new(request.apdu.clone());
                type_into(keypad, &mut again, new_offset, request)?;
                let r =
                    5 + usize::from(new_offset)..5 + usize::from(new_offset + request.block_len);
                if apdu.get(r.clone()) != again.get(r) {
                    return Err(pinpad_sw::MISMATCH);
                }
            }
        }
        Ok(apdu.to_vec())
    }
}

impl SimTransport {
    /// The card, if it is still the one this connection was made to.
    fn card(&self) -> Result<std::sync::MutexGuard<'_, SimCard>, TransportError> {
        let card = self
            .card
            .lock()
            .map_err(|_| TransportError::Io("poisoned".into()))?;
        if !card.is_present() || card.events() != self.events {
            return Err(TransportError::Removed);
        }
        Ok(card)
    }
}

impl Transport for SimTransport {
    fn atr(&self) -> &[u8] {
        &self.atr
    }

    fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// As pcsc-lite: a removed card fails the transaction; a card reset since our last
    /// transaction is powered and reported to the body (`SCARD_W_RESET_CARD`).
    fn transaction(&mut self, body: &mut TransactionBody<'_>) -> Result<(), TransportError> {
        let seen = {
            let mut card = self.card()?;
            if !card.is_powered() {
                card.power_on();
            }
            card.resets()
        };
        let seen = std::mem::replace(&mut self.resets, seen) != seen;
        body(self, if seen { ResetSeen::Yes } else { ResetSeen::No });
        Ok(())
    }

    fn features(&mut self) -> ReaderFeatures {
        let pad = self.keypad.is_some();
        ReaderFeatures {
            verify_pin_direct: pad,
            modify_pin_direct: pad,
        }
    }
}

impl CardIo for SimTransport {
    fn transmit(&mut self, c_apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        let mut card = self.card()?;
        match card.process(c_apdu) {
            Ok(r) => Ok(r),
            Err(SimFault::Removed) => Err(TransportError::Removed),
            // The reset stays unreported in `resets`: the next transaction is told.
            Err(SimFault::Reset | SimFault::Unpowered) => Err(TransportError::Reset),
        }
    }

    fn pin_pad(&mut self, request: &PinPadRequest) -> Result<Vec<u8>, TransportError> {
        let Some(keypad) = self.keypad.clone() else {
            return Err(TransportError::Unsupported);
        };
        match self.run_pin_pad(&keypad, request) {
            Ok(apdu) => self.transmit(&Zeroizing::new(apdu)),
            Err(sw) => Ok(sw.to_be_bytes().to_vec()),
        }
    }
}

/// Why a [`control`] command was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlError {
    /// Not a command of [`control`], or a bad argument.
    Syntax(String),
    /// No simulated card at this reader index.
    NoReader(usize),
}

/// Acts on simulated cards from outside the module (the `sim`-only C hook
/// `CPX_SimControl`, which tests/flow_fault_matrix.rs finds with dlsym). `cards` are the
/// readers in `CPX_SIM_CARDS` order; `I` is an index in it. Commands (answer in the `Ok`):
///
/// * `fault I N:KIND` — the N-th APDU from now (1 = the next) fails as KIND, the syntax of
///   `cpx-vcard --fault` (`remove`, `reset`, `sw=XXXX`, `truncate=N`) → 0;
/// * `remove I`, `insert I` — the card leaves / enters its reader; `reset I` — another
///   application resets it → 0;
/// * `swap I PERSONA [unseen]` — the card is pulled and PERSONA's card put in its place at
///   once (`unseen`: without the reader's event counter moving, see
///   [`SimCard::swap_unseen`](crate::sim::SimCard::swap_unseen)) → 0;
/// * `tries I [REF]` — tries left of the PIN with reference REF (hex, default `01`, the user
///   PIN of the CPS3 and CPS4 profiles);
/// * `verified I [REF]` — 1 when that PIN is verified in the card's current session, else 0;
/// * `fired I` — 1 when every fault scheduled on the card has fired, else 0; `clear I` —
///   drops the faults not fired yet → 0;
/// * `apdus I` — the APDUs the card has received since it was made (what `fault` counts).
pub fn control(cards: &[SharedCard], command: &str) -> Result<u64, ControlError> {
    let words: Vec<&str> = command.split_whitespace().collect();
    let syntax = || ControlError::Syntax(command.to_string());
    let (verb, index, rest) = match words.as_slice() {
        [verb, index, rest @ ..] => (*verb, index.parse::<usize>().map_err(|_| syntax())?, rest),
        _ => return Err(syntax()),
    };
    let card = cards.get(index).ok_or(ControlError::NoReader(index))?;
    let mut card = card
        .lock()
        .map_err(|_| ControlError::Syntax("card lock poisoned".into()))?;
    match (verb, rest) {
        ("fault", [spec]) => {
            let f = crate::sim::faults::parse_spec(spec).map_err(ControlError::Syntax)?;
            card.inject(f.at_apdu, f.kind);
            Ok(0)
        }
        ("remove", []) => {
            card.remove();
            Ok(0)
        }
        ("insert", []) => {
            card.insert();
            Ok(0)
        }
        ("reset", []) => {
            card.reset();
            Ok(0)
        }
        ("swap", [persona, how @ ..]) if how.is_empty() || how == ["unseen"] => {
            let other = SimCard::load(persona).map_err(ControlError::Syntax)?;
            if how.is_empty() {
                card.swap(other);
            } else {
                card.swap_unseen(other);
            }
            Ok(0)
        }
        ("tries", reference) if reference.len() <= 1 => {
            let reference = match reference.first() {
                Some(r) => u8::from_str_radix(r, 16).map_err(|_| syntax())?,
                None => 0x01,
            };
            let (tries, _, _) = card.chv_status(reference).ok_or_else(syntax)?;
            Ok(u64::from(tries))
        }
        ("verified", reference) if reference.len() <= 1 => {
            let reference = match reference.first() {
                Some(r) => u8::from_str_radix(r, 16).map_err(|_| syntax())?,
                None => 0x01,
            };
            Ok(u64::from(card.chv_verified(reference)))
        }
        ("fired", []) => Ok(u64::from(card.faults().lock().is_ok_and(|p| p.is_empty()))),
        ("clear", []) => {
            if let Ok(mut plan) = card.faults().lock() {
                *plan = Default::default();
            }
            Ok(0)
        }
        ("apdus", []) => Ok(card.apdu_count()),
        _ => Err(syntax()),
    }
}
