//! What differs between the card generations, behind one trait over the ISO 7816-4 commands
//! they share (`iso.rs`). `CpxCard` (pin.rs, sign.rs, the transactions in mod.rs) is written
//! once against [`Dialect`]; each generation answers in its own file:
//!
//! * `ias`     — CPS3 and its contactless side (IAS-ECC): basic channel, the key DF, DOCP
//!   counters, old ‖ new PIN change, partial-hash PSO HASH, INTERNAL AUTHENTICATE, PSO
//!   DECIPHER with the padding indicator;
//! * `chipdoc` — CPS4 (ChipDoc on logical channel 1): its selection and the `69 85`
//!   recovery, `63 C0` = blocked, VERIFY then new-only PIN change, PSO CDS with PKCS#1 or
//!   PSS, raw RSA through PSO DECIPHER with the padding done on the host.
//!
//! Every method but `takes`/`plan_sign` runs inside one card transaction; none decides
//! anything the PKCS#11 layer must know (that comes back as values: errors, plans, states).

mod chipdoc;
mod ias;

use super::cache::PinFacts;
use super::error::Refusal;
use super::iso::PinState;
use super::session::Session;
use super::sign::SignPlan;
use super::{Generation, KeyInfo, KeyRole, PinStatus, SignForm, SignInput};
use crate::apdu::{CardError, Channel, Command};
use crate::transport::PinPadOp;

/// A PIN-pad entry: the command whose PIN blocks the reader fills, and how.
pub(super) struct PadEntry {
    pub cmd: Command,
    pub op: PinPadOp,
}

/// What PSO DECIPHER gave back.
pub(super) enum Deciphered {
    /// The card removed the padding: the plaintext.
    Plain(Vec<u8>),
    /// Raw RSA: the whole PKCS#1 type-2 block, to unpad on the host.
    Block(Vec<u8>),
}

pub(super) trait Dialect: Sync {
    // ---- binding ----

    /// At bind, before anything is read: that the card answers as this generation (CPS4:
    /// ChipDoc selected on channel 1). An error that is not a transport one means "not one
    /// of ours".
    fn confirm(&self, ch: &mut Channel<'_>, s: &mut Session) -> Result<(), CardError>;

    /// EF.SN in the fewest APDUs.
    fn read_serial(&self, ch: &mut Channel<'_>, s: &mut Session) -> Result<Vec<u8>, CardError>;

    /// What tells that the card's content was updated (CPS3: EF_ACTUA's dates; CPS4: none,
    /// `None`), `expected_len` the length seen last time (one READ BINARY) or `None` (cold).
    /// An unreadable marker is `None` (logged).
    fn update_marker(
        &self,
        ch: &mut Channel<'_>,
        s: &mut Session,
        expected_len: Option<usize>,
    ) -> Result<Option<Vec<u8>>, CardError>;

    /// The PIN counters that never change, for the card cache (CPS3 DOCP): read at a cold
    /// bind so the first C_GetTokenInfo costs one VERIFY without data. `None` when they
    /// cannot be cached.
    fn pin_facts(
        &self,
        ch: &mut Channel<'_>,
        s: &mut Session,
    ) -> Result<Option<PinFacts>, CardError>;

    // ---- operations ----

    /// The start of every transaction: the logical channel, and the application selected
    /// when `app` is set and the session does not know it to be.
    fn enter(&self, ch: &mut Channel<'_>, s: &mut Session, app: bool) -> Result<(), CardError>;

    /// After an operation failed with `e`: whether it may run once more, the card having
    /// been put back in shape (CPS4: `69 85` → ChipDoc re-selected). The one place of that
    /// recovery, PIN-pad entries included.
    fn recover(
        &self,
        ch: &mut Channel<'_>,
        s: &mut Session,
        e: &CardError,
    ) -> Result<bool, CardError>;

    /// The user PIN's counters: VERIFY without data and what the generation keeps elsewhere.
    fn pin_status(
        &self,
        ch: &mut Channel<'_>,
        s: &mut Session,
        pin_ref: u8,
        puk_ref: Option<u8>,
    ) -> Result<PinStatus, CardError>;

    /// What a VERIFY answer means on this generation (CPS4: `63 C0` is "blocked").
    fn verify_answer(&self, r: Result<(), CardError>) -> Result<(), CardError>;

    /// PIN change with both values, encoded as the AODF says.
    fn change_pin(
        &self,
        ch: &mut Channel<'_>,
        reference: u8,
        old: &[u8],
        new: &[u8],
    ) -> Result<(), CardError>;

    /// PIN change typed on the PIN pad over `block` (pad bytes): whether the old PIN is
    /// verified first (its own entry), and the entry of the change itself.
    fn change_on_pad(&self, reference: u8, block: &[u8]) -> (bool, PadEntry);

    /// Unblock after the PUK was verified, with the new PIN.
    fn unblock_pin(&self, ch: &mut Channel<'_>, reference: u8, new: &[u8])
        -> Result<(), CardError>;

    /// Unblock with the new PIN typed on the PIN pad: sends what comes before the entry and
    /// returns the entry.
    fn unblock_on_pad(
        &self,
        ch: &mut Channel<'_>,
        reference: u8,
        block: &[u8],
    ) -> Result<PadEntry, CardError>;

    /// Logout: the security state reset by selecting the application's start again; the
    /// PIN state the card reports after it.
    fn logout(
        &self,
        ch: &mut Channel<'_>,
        s: &mut Session,
        pin_ref: u8,
    ) -> Result<PinState, CardError>;

    /// Whether a key of this role can sign inputs of this form at all.
    fn takes(&self, role: KeyRole, form: SignForm) -> bool;

    /// The signing path for this key and input, `k` the modulus length (no card I/O).
    fn plan_sign(&self, key: &KeyInfo, input: &SignInput, k: usize) -> Result<SignPlan, Refusal>;

    /// Runs a plan of this dialect; returns the card's answer.
    fn sign(
        &self,
        ch: &mut Channel<'_>,
        s: &mut Session,
        plan: &SignPlan,
        k: usize,
    ) -> Result<Vec<u8>, CardError>;

    /// PKCS#1 v1.5 decryption with key `key_ref`.
    fn decrypt(
        &self,
        ch: &mut Channel<'_>,
        s: &mut Session,
        key_ref: u8,
        cryptogram: &[u8],
        k: usize,
    ) -> Result<Deciphered, CardError>;
}

/// The dialect of a generation.
pub(super) fn of(generation: Generation) -> &'static dyn Dialect {
    match generation {
        Generation::Cps3 | Generation::Cps3Cl => &ias::Ias,
        Generation::Cps4 => &chipdoc::ChipDoc,
    }
}

/// A plan handed to the other generation's dialect: a bug of ours, reported, never sent.
fn foreign_plan() -> CardError {
    CardError::Malformed("signing plan of another card generation")
}
