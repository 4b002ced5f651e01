//! The CPx card simulator: a behavioural model of the card operating system.
//!
//! `SimCard::process` takes a raw C-APDU and returns the raw R-APDU, exactly what a reader
//! would carry. The model is written independently of the engine (`apdu`, `cpx`): it parses
//! commands itself and never calls the engine's encoders or parsers.
//!
//! * `profile` — personas (fixtures/cards/<name>/card.toml)
//! * `command` — C-APDU parsing and status-word constants of the simulator
//! * `fs`      — file trees, FCP, access rules
//! * `state`   — persistent (files, counters) and volatile (current DF, SE, PIN status) state
//! * `iasecc`  — CPS3 (contact and contactless) command handlers
//! * `chipdoc` — CPS4 ChipDoc handlers (channel 1) and the CPS4 applet selection
//! * `cps2ter` — the CLA A0 volet
//! * `crypto`  — RSA with the test keys, partial-hash completion, PSS
//! * `trace`, `faults`, `latency` — observation and fault injection
//! * `vpcd`    — the vsmartcard vpcd protocol client used by `cpx-vcard`

pub mod chipdoc;
pub mod command;
pub mod cps2ter;
pub mod crypto;
pub mod faults;
pub mod fs;
pub mod iasecc;
pub mod latency;
pub mod profile;
pub mod state;
pub mod trace;
pub mod vpcd;

use command::{Command, Out};
pub use faults::{Fault, FaultKind};
pub use profile::{Generation, Profile, Protocol};
use state::CardState;
use std::sync::{Arc, Mutex};
pub use trace::{Trace, TraceEvent};

/// What the card did with a C-APDU when a fault intervened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimFault {
    /// The card is not in the reader (removed, or never inserted).
    Removed,
    /// The card was reset instead of answering (another application reset it).
    Reset,
    /// The card is powered off.
    Unpowered,
}

/// A simulated CPx card.
pub struct SimCard {
    profile: Arc<Profile>,
    state: CardState,
    trace: Trace,
    faults: Arc<Mutex<faults::FaultPlan>>,
    present: bool,
    powered: bool,
    /// Insertions and removals so far (what PC/SC counts in a reader's event state).
    events: u32,
    /// Resets and power-ups so far: a connection that saw fewer is told of a reset.
    resets: u64,
    apdu_count: u64,
    /// Channels whose pending GET RESPONSE data is deciphered plaintext (not traced).
    secret_pending: [bool; state::CHANNELS],
}

impl SimCard {
    /// Loads a persona by name or directory and builds a powered-off, inserted card.
    pub fn load(name_or_path: &str) -> Result<SimCard, String> {
        SimCard::from_profile(Profile::load(name_or_path)?)
    }

    pub fn from_profile(profile: Profile) -> Result<SimCard, String> {
        let state = CardState::new(&profile)?;
        Ok(SimCard {
            profile: Arc::new(profile),
            state,
            trace: Trace::default(),
            faults: Arc::default(),
            present: true,
            powered: false,
            events: 0,
            resets: 0,
            apdu_count: 0,
            secret_pending: [false; state::CHANNELS],
        })
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    pub fn atr(&self) -> Vec<u8> {
        self.profile.atr.0.clone()
    }

    /// A shared handle on the APDU trace (survives moving the card into a reader).
    pub fn trace(&self) -> Trace {
        self.trace.clone()
    }

    /// A shared handle on the fault plan.
    pub fn faults(&self) -> Arc<Mutex<faults::FaultPlan>> {
        self.faults.clone()
    }

    /// Schedules a fault at the `nth` APDU from now (1 = the next one).
    pub fn inject(&self, nth: u64, kind: FaultKind) {
        if let Ok(mut plan) = self.faults.lock() {
            plan.schedule(self.apdu_count + nth, kind);
        }
    }

    /// Power-on (cold reset): volatile state dropped, persistent state kept. Returns the ATR.
    pub fn power_on(&mut self) -> Vec<u8> {
        self.state.reset_volatile(&self.profile);
        self.powered = true;
        self.resets += 1;
        self.trace.event(TraceEvent::PowerOn);
        self.atr()
    }

    pub fn power_off(&mut self) {
        if self.powered {
            self.trace.event(TraceEvent::PowerOff);
        }
        self.powered = false;
    }

    /// Warm reset: the same as a power-on for the card's state.
    pub fn reset(&mut self) -> Vec<u8> {
        self.state.reset_volatile(&self.profile);
        self.powered = true;
        self.resets += 1;
        self.trace.event(TraceEvent::Reset);
        self.atr()
    }

    pub fn is_present(&self) -> bool {
        self.present
    }

    pub fn is_powered(&self) -> bool {
        self.powered
    }

    /// Takes the card out of the reader (it loses power).
    pub fn remove(&mut self) {
        if self.present {
            self.events = self.events.wrapping_add(1);
        }
        self.present = false;
        self.powered = false;
        self.trace.event(TraceEvent::Removed);
    }

    /// Puts the card back (powered off until the reader powers it).
    pub fn insert(&mut self) {
        if !self.present {
            self.events = self.events.wrapping_add(1);
        }
        self.present = true;
        self.trace.event(TraceEvent::Inserted);
    }

    /// Pulls this card and puts `other` in its place, in the same reader (however quickly:
    /// the reader's event counter moves by two, as PC/SC's does). `other`'s trace and fault
    /// plan come with it.
    pub fn swap(&mut self, other: SimCard) {
        self.remove();
        let (events, resets) = (self.events, self.resets);
        *self = other;
        self.events = events;
        self.resets = resets;
        self.present = false;
        self.insert();
    }

    /// A swap PC/SC did not see: `other` takes this card's place while the reader's event
    /// counter stays put (pcscd polled before the card left and after the other arrived, on
    /// a reader that does not report card movements). The new card is unpowered: the next
    /// transaction finds it powered again, reported as a reset (`SCARD_W_UNPOWERED_CARD`).
    pub fn swap_unseen(&mut self, other: SimCard) {
        let (events, resets) = (self.events, self.resets);
        *self = other;
        self.events = events;
        self.resets = resets;
        self.present = true;
        self.powered = false;
    }

    /// A swap reported neither as a removal nor as a reset: `other` takes this card's place,
    /// powered, with the reader's counters untouched. Real readers cannot do this (a new card
    /// answers only after a power-up, which PC/SC reports), but our virtual stack can: when
    /// pcscd misses a quick swap behind vpcd, `cpx-vcard` powers the new card on at its first
    /// APDU. Tests use it to show the kept PIN still never reaches another card.
    pub fn swap_silent(&mut self, other: SimCard) {
        self.swap_unseen(other);
        self.state.reset_volatile(&self.profile);
        self.powered = true;
    }

    /// Insertions and removals so far (a reader's PC/SC event counter).
    pub fn events(&self) -> u32 {
        self.events
    }

    /// Resets and power-ups so far.
    pub fn resets(&self) -> u64 {
        self.resets
    }

    /// APDUs received since the card was made (what [`SimCard::inject`] counts from).
    pub fn apdu_count(&self) -> u64 {
        self.apdu_count
    }

    /// Live counters, for tests: (tries left, max tries, unblock uses left) of a CHV.
    pub fn chv_status(&self, reference: u8) -> Option<(u8, u8, Option<u16>)> {
        self.state.chv_status(reference)
    }

    /// Whether the CHV is verified in the current card session.
    pub fn chv_verified(&self, reference: u8) -> bool {
        self.state.verified.contains(&reference)
    }

    /// Current content of an EF of the ISO tree, by absolute path ("3F00/0001/A001").
    pub fn file_content(&self, path: &str) -> Option<Vec<u8>> {
        self.state.iso.content_by_path(path)
    }

    /// One C-APDU in, the R-APDU out (data ‖ SW1 SW2).
    pub fn process(&mut self, c_apdu: &[u8]) -> Result<Vec<u8>, SimFault> {
        if !self.present {
            return Err(SimFault::Removed);
        }
        if !self.powered {
            return Err(SimFault::Unpowered);
        }
        self.apdu_count += 1;
        let fault = self
            .faults
            .lock()
            .ok()
            .and_then(|mut p| p.take(self.apdu_count));
        let response = match fault {
            Some(FaultKind::Remove) => {
                self.trace.apdu(c_apdu, &[], 0, false);
                self.remove();
                return Err(SimFault::Removed);
            }
            Some(FaultKind::Reset) => {
                self.trace.apdu(c_apdu, &[], 0, false);
                self.reset();
                return Err(SimFault::Reset);
            }
            Some(FaultKind::Swap { persona, seen }) => {
                self.trace.apdu(c_apdu, &[], 0, false);
                match SimCard::load(&persona) {
                    Ok(other) if seen => self.swap(other),
                    Ok(other) => self.swap_unseen(other),
                    Err(e) => {
                        log::warn!("simulated swap: {e}; the card is pulled instead");
                        self.remove();
                    }
                }
                return Err(if seen || !self.present {
                    SimFault::Removed
                } else {
                    SimFault::Unpowered
                });
            }
            Some(FaultKind::Status(sw)) => sw.to_be_bytes().to_vec(),
            Some(FaultKind::Truncate(keep)) => {
                let mut r = self.execute(c_apdu);
                r.truncate(keep);
                r
            }
            None => self.execute(c_apdu),
        };
        let micros = latency::cost_us(
            &self.profile,
            c_apdu.len() + response.len(),
            self.state.rsa_ops_last,
        );
        self.state.rsa_ops_last = 0;
        let secret = self.answer_is_secret(c_apdu);
        self.trace.apdu(c_apdu, &response, micros, secret);
        if self.profile.latency.enabled && self.profile.latency.sleep {
            std::thread::sleep(std::time::Duration::from_micros(micros));
        }
        Ok(response)
    }

    /// Whether the answer to this command carries deciphered plaintext, directly or through
    /// GET RESPONSE after a PSO DECIPHER on the same channel.
    fn answer_is_secret(&mut self, c_apdu: &[u8]) -> bool {
        let Some(&cla) = c_apdu.first() else {
            return false;
        };
        let ch = if cla & 0xF0 == 0xA0 {
            0
        } else {
            (cla & 0x03) as usize
        };
        let get_response = c_apdu.get(1) == Some(&0xC0);
        let secret = trace::secret_answer(c_apdu) || (get_response && self.secret_pending[ch]);
        self.secret_pending[ch] = secret;
        secret
    }

    /// Switches the latency model on or off at run time.
    pub fn set_latency(&mut self, latency: profile::Latency) {
        Arc::make_mut(&mut self.profile).latency = latency;
    }

    fn execute(&mut self, c_apdu: &[u8]) -> Vec<u8> {
        let cmd = match Command::parse(c_apdu) {
            Ok(c) => c,
            Err(sw) => return sw.to_be_bytes().to_vec(),
        };
        let profile = self.profile.clone();
        if cmd.cla & 0xF0 == 0xA0 {
            // The CPS2ter volet has its own response procedure (SW1 9F).
            return cps2ter::process(&profile, &mut self.state, &cmd).into_bytes();
        }
        if cmd.cla & 0x80 != 0 || profile.generation == Generation::Cps2ter {
            // A legacy CPS2ter card knows no ISO class.
            return command::sw::CLA_NOT_SUPPORTED.to_be_bytes().to_vec();
        }
        let channel = (cmd.cla & 0x03) as usize;
        // GET RESPONSE serves what the previous command of this channel left.
        if cmd.ins == 0xC0 {
            return self.state.get_response(channel, &cmd);
        }
        self.state.drop_pending(channel);
        let out = match profile.generation {
            Generation::Cps3 | Generation::Cps3Cl => {
                iasecc::process(&profile, &mut self.state, &cmd)
            }
            Generation::Cps4 => chipdoc::process(&profile, &mut self.state, &cmd),
            Generation::Cps2ter => Out::sw(command::sw::CLA_NOT_SUPPORTED),
        };
        self.shape(channel, &cmd, out)
    }

    /// Applies the transmission protocol to a handler's answer: under T=0 a case-4 answer
    /// goes through `61 xx` + GET RESPONSE, and a case-2 command with the wrong Le gets `6C xx`.
    fn shape(&mut self, channel: usize, cmd: &Command, out: Out) -> Vec<u8> {
        let Out { data, sw } = out;
        if data.is_empty() || !command::sw::carries_data(sw) {
            return sw.to_be_bytes().to_vec();
        }
        match self.profile.protocol {
            Protocol::T1 => {
                let mut r = data;
                if let Some(le) = cmd.le {
                    if le < r.len() {
                        r.truncate(le);
                    }
                }
                r.extend_from_slice(&sw.to_be_bytes());
                r
            }
            Protocol::T0 => match cmd.le {
                Some(le) if cmd.data.is_empty() => {
                    if le == data.len() {
                        let mut r = data;
                        r.extend_from_slice(&sw.to_be_bytes());
                        r
                    } else {
                        vec![0x6C, command::short_len(data.len())]
                    }
                }
                _ => {
                    let n = data.len();
                    self.state.set_pending(channel, data, sw);
                    vec![0x61, command::short_len(n)]
                }
            },
        }
    }
}

#[cfg(test)]
mod tests;
