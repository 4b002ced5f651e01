//! Virtual readers backed by the card simulator (feature `sim`): one reader per simulated
//! card. The test (or `CPX_SIM_CARDS`) keeps a handle on each card to pull it, reset it or
//! inject faults.

use super::{Protocol, ReaderInfo, Readers, ResetSeen, Transport, TransportError};
use crate::sim::profile;
use crate::sim::{SimCard, SimFault};
use std::sync::{Arc, Mutex};

/// A simulated card shared between its reader and whoever controls it.
pub type SharedCard = Arc<Mutex<SimCard>>;

pub struct SimReaders {
    readers: Vec<(String, SharedCard)>,
}

impl SimReaders {
    pub fn new() -> Self {
        SimReaders {
            readers: Vec::new(),
        }
    }

    /// Adds a reader holding `card`; returns the control handle.
    pub fn add(&mut self, card: SimCard) -> SharedCard {
        let name = format!(
            "CPX Virtual Reader {} ({})",
            self.readers.len(),
            card.profile().persona
        );
        let shared = Arc::new(Mutex::new(card));
        self.readers.push((name, shared.clone()));
        shared
    }

    /// Builds readers from a `CPX_SIM_CARDS` value: personas or persona directories,
    /// comma-separated, one reader each.
    pub fn from_spec(spec: &str) -> Result<Self, String> {
        let mut r = SimReaders::new();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            r.add(SimCard::load(item)?);
        }
        Ok(r)
    }

    pub fn cards(&self) -> Vec<(String, SharedCard)> {
        self.readers.clone()
    }
}

impl Default for SimReaders {
    fn default() -> Self {
        Self::new()
    }
}

impl Readers for SimReaders {
    fn list(&mut self) -> Result<Vec<ReaderInfo>, TransportError> {
        Ok(self
            .readers
            .iter()
            .map(|(name, card)| {
                let (present, atr) = card
                    .lock()
                    .map(|c| {
                        (
                            c.is_present(),
                            if c.is_present() { c.atr() } else { Vec::new() },
                        )
                    })
                    .unwrap_or((false, Vec::new()));
                ReaderInfo {
                    name: name.clone(),
                    card_present: present,
                    atr,
                }
            })
            .collect())
    }

    fn connect(&mut self, reader: &str) -> Result<Box<dyn Transport>, TransportError> {
        let (_, card) = self
            .readers
            .iter()
            .find(|(n, _)| n == reader)
            .ok_or(TransportError::NoReader)?;
        let (atr, protocol) = {
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
            (c.atr(), protocol)
        };
        Ok(Box::new(SimTransport {
            card: card.clone(),
            atr,
            protocol,
        }))
    }
}

/// A connection to one simulated card.
pub struct SimTransport {
    card: SharedCard,
    atr: Vec<u8>,
    protocol: Protocol,
}

impl Transport for SimTransport {
    fn atr(&self) -> &[u8] {
        &self.atr
    }

    fn protocol(&self) -> Protocol {
        self.protocol
    }

    fn transmit(&mut self, c_apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        let mut card = self
            .card
            .lock()
            .map_err(|_| TransportError::Io("poisoned".into()))?;
        match card.process(c_apdu) {
            Ok(r) => Ok(r),
            Err(SimFault::Removed) => Err(TransportError::Removed),
            Err(SimFault::Reset) => Err(TransportError::Reset),
            Err(SimFault::Unpowered) => {
                // PC/SC powers the card again on use.
                card.power_on();
                Err(TransportError::Reset)
            }
        }
    }

    fn begin(&mut self) -> Result<ResetSeen, TransportError> {
        let card = self
            .card
            .lock()
            .map_err(|_| TransportError::Io("poisoned".into()))?;
        if !card.is_present() {
            return Err(TransportError::Removed);
        }
        Ok(ResetSeen::No)
    }

    fn end(&mut self) -> Result<(), TransportError> {
        Ok(())
    }
}
