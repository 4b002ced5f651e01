//! L2: the CPx card application: what is where on each generation and how to drive it.
//! Returns domain types (`types`), never CK_*.
//!
//! CONTRACT (the PKCS#11 layer builds on exactly this API).
//!
//! * `layout`  — AIDs, FIDs, references, ATR patterns, labels (data tables)
//! * `serial`  — EF.SN and the token serial number
//! * `pkcs15`  — lenient PKCS#15 parsing
//! * `files`   — SELECT / READ BINARY / UPDATE BINARY per dialect
//! * `bind`    — recognition and the one-time read of the token contents (or its cache
//!   entry); `contents` — the token contents from the PKCS#15 files, no card I/O
//! * `iso`     — the ISO 7816-4 commands both generations share (VERIFY, CHANGE REFERENCE
//!   DATA, RESET RETRY COUNTER, MSE:SET, PSO CDS, PSO DECIPHER, INTERNAL AUTHENTICATE)
//! * `dialect` — what differs between generations, behind one trait (`Dialect`): `ias`
//!   (CPS3), `chipdoc` (CPS4); the card object below is written once against it
//! * `cps3`    — IAS-ECC commands of its own: DOCP, MSE forms and the key DF, partial-hash
//!   PSO HASH, PSO DECIPHER with the padding indicator
//! * `cps4`    — ChipDoc on channel 1: selection and the `69 85` re-selection sequence, MSE
//!   forms, raw RSA through PSO DECIPHER
//! * `cps2ter` — the CLA `A0` volet (CPS3 situations, CPS_SIT_FACT)
//! * `session` — engine state between transactions
//! * this file — `CpxCard`: binding, the transaction every operation runs in, card events
//! * `pin`     — PIN/PUK counters, VERIFY, change, unblock, PIN-pad entry, logout
//! * `sign`    — the card's signing rules (path per key and input) and their execution;
//!   decryption
//! * `data`    — data objects and GET CHALLENGE
//!
//! Every public method is one card transaction. Card events are values: a reset since the
//! last transaction is `Transport(Reset)` with nothing sent (the caller deals with the lost
//! security state and may run the operation again), a reset during the operation is
//! `ResetDuringCommand`, a card gone is `Transport(Removed | NoCard | NoService)`.
//! Errors are [`CpxError`]s and say who decided: `Card` (the card answered, or the way to
//! it failed), `Refused` (a rule of the card the request breaks, decided without sending
//! anything: [`Refusal`]), `Missing` (no such key, PIN or data object on this token:
//! [`Missing`]).
//!
//! [`CpxCard::check_sign`] and [`CpxCard::check_decrypt`] give the same verdicts without
//! any card I/O (for C_SignInit / C_Sign argument checks).

mod bind;
pub mod cache;
mod contents;
pub mod cps2ter;
pub mod cps3;
pub mod cps4;
mod data;
mod dialect;
mod error;
pub mod files;
pub mod iso;
pub mod layout;
mod pin;
pub mod pkcs15;
pub mod serial;
mod session;
mod sign;
pub mod types;

#[cfg(all(test, feature = "sim"))]
mod tests;
#[cfg(all(test, feature = "sim"))]
mod tests_hostile;

pub use error::{CpxError, Missing, Refusal};
pub use types::*;

use crate::apdu::{with_transaction, CardError, Channel, Command, Protocol, StatusWord};
use crate::soft;
use crate::transport::{PinPadOp, ReaderFeatures, ResetSeen, Transport, TransportError};
use iso::PinState;
use session::Session;

/// A bound card: the transport plus everything read at bind time.
pub struct CpxCard {
    transport: Box<dyn Transport>,
    contents: TokenContents,
    session: Session,
    /// What the reader can do (PIN pad), asked once at bind.
    features: ReaderFeatures,
}

impl CpxCard {
    /// Recognises the card (ATR mask + EF.SN issuer prefix; CPS4 confirmed on channel 1)
    /// and reads everything once: EF.SN, TokenInfo, AODF, PrKDF, CDF + certificates, DODF +
    /// public data-object values. Not a CPx card → `CardError::UnsupportedCard`.
    pub fn bind(transport: Box<dyn Transport>) -> Result<CpxCard, CpxError> {
        CpxCard::bind_cached(transport, None)
    }

    /// [`CpxCard::bind`] through the persistent card cache (`cache/`).
    pub fn bind_cached(
        mut transport: Box<dyn Transport>,
        cache: Option<&cache::CardCache>,
    ) -> Result<CpxCard, CpxError> {
        let atr = transport.atr().to_vec();
        let features = transport.features();
        let Some(pattern) = layout::match_atr(&atr) else {
            if is_legacy_cps2ter(transport.as_mut()) {
                return Err(CardError::LegacyCps2ter { atr }.into());
            }
            return Err(CardError::UnsupportedCard { atr }.into());
        };
        let protocol = transport.protocol();
        log::debug!("binding a {} ({protocol:?})", pattern.name);
        let generation = pattern.generation;
        let mut card = CpxCard {
            transport,
            contents: TokenContents {
                generation,
                atr: atr.clone(),
                pan: String::new(),
                serial: String::new(),
                label: String::new(),
                manufacturer: String::new(),
                model: layout::model(generation).to_string(),
                certs: Vec::new(),
                keys: Vec::new(),
                data_objects: Vec::new(),
                user_pin: None,
                so_pin: None,
            },
            session: Session::new(generation, protocol),
            features,
        };
        // A reset since we connected (pcscd powering the card), or while we read it, is part
        // of getting to know the card, not news: read it once more, from the start.
        let contents =
            match card.transaction(false, |ch, s| bind::read_contents(ch, s, &atr, cache)) {
                Err(CpxError::Card(
                    CardError::Transport(TransportError::Reset) | CardError::ResetDuringCommand,
                )) => {
                    card.session = Session::new(generation, protocol);
                    card.transaction(false, |ch, s| bind::read_contents(ch, s, &atr, cache))?
                }
                other => other?,
            };
        card.contents = contents;
        Ok(card)
    }

    pub fn contents(&self) -> &TokenContents {
        &self.contents
    }

    /// The reader's features (PIN pad or not), as reported at bind.
    pub fn reader_features(&self) -> ReaderFeatures {
        self.features
    }

    /// APDUs exchanged with the card since bind began (chained pieces and GET RESPONSEs
    /// count one each). For tests and benchmarks.
    pub fn apdu_count(&self) -> usize {
        self.session.apdus
    }

    /// The protocol commands are encoded for (the transport's).
    pub fn protocol(&self) -> Protocol {
        self.session.protocol
    }

    /// One card transaction, begun as the generation's dialect wants (CPS4: commands go to
    /// logical channel 1 and, if `app` is set, ChipDoc is selected first when needed). Card events come back as values:
    /// * the card was reset since our last transaction (another application, a power
    ///   cycle): `Transport(Reset)` and `f` does not run — nothing was sent, the caller may
    ///   run the operation again once it has dealt with the lost security state;
    /// * the card was reset while `f` was running: `ResetDuringCommand` (the transport's
    ///   report of that reset is taken here, so it is returned once);
    /// * the card is gone: `Transport(Removed | NoCard | …)`, and every later call fails.
    fn transaction<R>(
        &mut self,
        app: bool,
        f: impl FnOnce(&mut Channel<'_>, &mut Session) -> Result<R, CardError>,
    ) -> Result<R, CpxError> {
        if self.session.removed {
            return Err(TransportError::Removed.into());
        }
        let protocol = self.session.protocol;
        let session = &mut self.session;
        let bound = &self.contents;
        let mut ran = false;
        let result = with_transaction(self.transport.as_mut(), protocol, |ch| {
            if ch.reset_seen() == ResetSeen::Yes {
                log::info!("the card was reset by another application or a power cycle");
                session.on_reset();
                return Err(TransportError::Reset.into());
            }
            ran = true;
            let r = (|| {
                if session.check_identity {
                    same_card(ch, session, bound)?;
                }
                dialect::of(session.generation).enter(ch, session, app)?;
                f(ch, session)
            })();
            session.apdus += ch.trace().apdus;
            r
        });
        match result {
            Err(CardError::Transport(TransportError::Reset)) if ran => {
                self.session.on_reset();
                // The transport reports this reset again at the next transaction: take it.
                let _ = with_transaction(self.transport.as_mut(), protocol, |_| Ok(()));
                Err(CardError::ResetDuringCommand.into())
            }
            Err(CardError::Transport(
                e @ (TransportError::Removed | TransportError::NoCard | TransportError::NoService),
            )) => {
                self.session.removed = true;
                self.session.forget_position();
                Err(e.into())
            }
            // A card that answered an error did not move; a failed SELECT already made
            // the position unknown (files.rs). Only a broken exchange leaves it in doubt.
            Err(e @ CardError::Transport(_)) => {
                self.session.forget_position();
                Err(e.into())
            }
            other => Ok(other?),
        }
    }

    /// An empty transaction: no APDU, only what the transport says about the card (reset
    /// since our last transaction, gone) — see [`CpxCard::transaction`].
    pub fn check_events(&mut self) -> Result<(), CpxError> {
        self.transaction(false, |_, _| Ok(()))
    }

    /// [`CpxCard::transaction`] with the application selected (all operations after bind).
    ///
    /// The whole operation runs once more when the dialect put the card back in shape
    /// after its answer (CPS4: ChipDoc refused it because the applet was not selected,
    /// `69 85` and kin, cpx-cards §10.7): the one place of that recovery, PIN-pad entries
    /// included.
    fn run<R>(
        &mut self,
        mut f: impl FnMut(&mut Channel<'_>, &mut Session) -> Result<R, CardError>,
    ) -> Result<R, CpxError> {
        let d = self.dialect();
        self.transaction(true, |ch, s| match f(ch, s) {
            Err(e) if d.recover(ch, s, &e)? => f(ch, s),
            other => other,
        })
    }

    /// What this card's generation does its own way.
    fn dialect(&self) -> &'static dyn dialect::Dialect {
        dialect::of(self.session.generation)
    }

    fn key(&self, key_id: &[u8]) -> Result<&KeyInfo, CpxError> {
        self.contents
            .keys
            .iter()
            .find(|k| k.id == key_id)
            .ok_or(Missing::Key.into())
    }

    /// The user PIN's record (`Missing::UserPin` on the contactless token).
    fn user_pin(&self) -> Result<session::PinRecord, CpxError> {
        self.session.user_pin.clone().ok_or(Missing::UserPin.into())
    }

    /// The PUK's record.
    fn so_pin(&self) -> Result<session::PinRecord, CpxError> {
        self.session.so_pin.clone().ok_or(Missing::Puk.into())
    }

    /// Whether the card is still there (and is the same card); false after removal. After
    /// a reset the card's EF.SN is compared with the bound PAN (see [`same_card`]);
    /// otherwise this only opens and closes a transaction.
    pub fn is_present(&mut self) -> bool {
        // A reset answered instead of the first APDU (the card was powered again): one
        // more try, now on a powered card.
        for _ in 0..2 {
            match self.transaction(false, |_, _| Ok(())) {
                Ok(()) => return true,
                Err(CpxError::Card(CardError::Transport(TransportError::Reset))) => continue,
                Err(CpxError::Card(CardError::Transport(_))) => return false,
                // The card answers, but not as expected: still there.
                Err(_) => return true,
            }
        }
        true
    }
}

/// After a reset, before anything else reaches the card (above all a replayed PIN): the
/// card must be the bound one — its EF.SN PAN the bound PAN (the dialect's fewest APDUs:
/// CPS3 one READ BINARY by SFI, CPS4 the ChipDoc selection and EF.SN). PC/SC reports a
/// swap as a removal, except when pcscd missed it: a card pulled and another inserted
/// between two polls of a reader that does not report card movements is found unpowered
/// (`SCARD_W_UNPOWERED_CARD`, or exchanges failing with `SCARD_E_NOT_TRANSACTED`, after which
/// the transport resets the card): a reset. Another card, or none readable, is the bound
/// card gone: `Transport(Removed)`, and the session is dead.
fn same_card(
    ch: &mut Channel<'_>,
    s: &mut Session,
    bound: &TokenContents,
) -> Result<(), CardError> {
    let d = dialect::of(s.generation);
    let sn = d
        .enter(ch, s, false)
        .and_then(|_| d.confirm(ch, s))
        .and_then(|_| d.read_serial(ch, s));
    let sn = match sn {
        Ok(sn) => sn,
        Err(e) if bind::fatal(&e) => return Err(e),
        Err(e) => {
            log::info!("after a reset the card's EF.SN cannot be read ({e}): another card");
            return Err(TransportError::Removed.into());
        }
    };
    if serial::parse_ef_sn(&sn, &bound.atr).is_ok_and(|sn| sn.pan == bound.pan) {
        s.check_identity = false;
        Ok(())
    } else {
        log::info!("after a reset another card is in the reader: the bound card is gone");
        Err(TransportError::Removed.into())
    }
}

/// Whether a card whose ATR is not a CPx one is a legacy CPS2ter card: it answers a CLA `A0`
/// SELECT of the MF with `9F xx` and a CPS2ter FCI (`85 …`, cpx-cards §11). Only asked of
/// cards the ATR did not recognise (a CPS3 is never identified by this probe, compat §15 #5).
fn is_legacy_cps2ter(transport: &mut dyn Transport) -> bool {
    let protocol = transport.protocol();
    let select_mf = Command::new(0xA0, 0xA4, 0x00, 0x00).with_data(&[0x3F, 0x00]);
    with_transaction(transport, protocol, |ch| ch.transmit_as_is(&select_mf))
        .is_ok_and(|r| r.sw == StatusWord::Ok && r.data.first() == Some(&0x85))
}
