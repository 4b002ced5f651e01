//! Fault injection: at the N-th APDU the card is pulled, reset, swapped for another card,
//! answers a chosen status word, or its response is truncated.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// The card leaves the reader instead of answering.
    Remove,
    /// The card is reset instead of answering (its security state is lost).
    Reset,
    /// The command is not executed; the card answers this status word.
    Status(u16),
    /// The command is executed; only the first N bytes of the response arrive.
    Truncate(usize),
    /// The card leaves instead of answering and the persona's card takes its place at once.
    /// `seen`: the reader's event counter moves by two (what PC/SC reports for a swap,
    /// however quick); unseen: it stays put and the new card only looks reset (a swap between
    /// two polls of a reader without card-movement notification: pcscd finds the new card
    /// unpowered, `SCARD_W_UNPOWERED_CARD`).
    Swap { persona: String, seen: bool },
}

/// A fault scheduled at an absolute APDU number (counted since the card was created).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub at_apdu: u64,
    pub kind: FaultKind,
}

#[derive(Debug, Default)]
pub struct FaultPlan {
    pending: BTreeMap<u64, FaultKind>,
}

impl FaultPlan {
    pub fn schedule(&mut self, at_apdu: u64, kind: FaultKind) {
        self.pending.insert(at_apdu, kind);
    }

    /// The fault due at this APDU, if any (consumed).
    pub fn take(&mut self, apdu: u64) -> Option<FaultKind> {
        self.pending.remove(&apdu)
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

/// Parses a fault spec as `cpx-vcard --fault` takes it: `N:remove`, `N:reset`,
/// `N:sw=6985`, `N:truncate=3`, `N:swap=PERSONA`, `N:swap-unseen=PERSONA` (the persona must
/// load).
pub fn parse_spec(spec: &str) -> Result<Fault, String> {
    let (n, kind) = spec
        .split_once(':')
        .ok_or_else(|| format!("fault {spec:?}: expected N:KIND"))?;
    let at_apdu: u64 = n
        .parse()
        .map_err(|_| format!("fault {spec:?}: bad APDU number"))?;
    let kind = match kind {
        "remove" => FaultKind::Remove,
        "reset" => FaultKind::Reset,
        k if k.starts_with("sw=") => FaultKind::Status(
            u16::from_str_radix(&k[3..], 16).map_err(|_| format!("fault {spec:?}: bad SW"))?,
        ),
        k if k.starts_with("truncate=") => FaultKind::Truncate(
            k[9..]
                .parse()
                .map_err(|_| format!("fault {spec:?}: bad length"))?,
        ),
        k if k.starts_with("swap=") || k.starts_with("swap-unseen=") => {
            let (how, persona) = k.split_once('=').unwrap_or_default();
            super::SimCard::load(persona).map_err(|e| format!("fault {spec:?}: {e}"))?;
            FaultKind::Swap {
                persona: persona.to_string(),
                seen: how == "swap",
            }
        }
        _ => return Err(format!("fault {spec:?}: unknown kind")),
    };
    Ok(Fault { at_apdu, kind })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        assert_eq!(parse_spec("3:remove").unwrap().kind, FaultKind::Remove);
        assert_eq!(
            parse_spec("4:sw=6985").unwrap().kind,
            FaultKind::Status(0x6985)
        );
        assert_eq!(
            parse_spec("5:truncate=1").unwrap().kind,
            FaultKind::Truncate(1)
        );
        assert_eq!(
            parse_spec("6:swap-unseen=cps3-expired").unwrap().kind,
            FaultKind::Swap {
                persona: "cps3-expired".into(),
                seen: false
            }
        );
        assert!(parse_spec("6:swap=no-such-persona").is_err());
        assert!(parse_spec("x:reset").is_err());
        assert!(parse_spec("1:explode").is_err());
    }

    #[test]
    fn a_fault_fires_once() {
        let mut p = FaultPlan::default();
        p.schedule(2, FaultKind::Reset);
        assert_eq!(p.take(1), None);
        assert_eq!(p.take(2), Some(FaultKind::Reset));
        assert_eq!(p.take(2), None);
    }
}
