//! Latency model: per APDU, per byte at the ATR's line rate, per on-card RSA operation.
//! Off by default (`Profile.latency.enabled`).

use super::profile::Profile;

/// Fi and Di from TA1 (ISO 7816-3 tables 7 and 8); (372, 1) when TA1 is absent.
pub fn fi_di(atr: &[u8]) -> (u64, u64) {
    let t0 = atr.get(1).copied().unwrap_or(0);
    if t0 & 0x10 == 0 {
        return (372, 1);
    }
    let ta1 = atr.get(2).copied().unwrap_or(0x11);
    let fi = match ta1 >> 4 {
        0 | 1 => 372,
        2 => 558,
        3 => 744,
        4 => 1116,
        5 => 1488,
        6 => 1860,
        9 => 512,
        10 => 768,
        11 => 1024,
        12 => 1536,
        13 => 2048,
        _ => 372,
    };
    let di = match ta1 & 0x0F {
        1 => 1,
        2 => 2,
        3 => 4,
        4 => 8,
        5 => 16,
        6 => 32,
        7 => 64,
        8 => 12,
        9 => 20,
        _ => 1,
    };
    (fi, di)
}

/// Line rate in bit/s at the usual 3.5712 MHz reader clock.
pub fn baud(profile: &Profile) -> u64 {
    if profile.latency.baud > 0 {
        return profile.latency.baud;
    }
    let (fi, di) = fi_di(&profile.atr.0);
    3_571_200 * di / fi
}

/// Modelled cost of one exchange of `bytes` bytes that ran `rsa_ops` private-key operations.
pub fn cost_us(profile: &Profile, bytes: usize, rsa_ops: u32) -> u64 {
    let l = &profile.latency;
    if !l.enabled {
        return 0;
    }
    // 10 etu per byte (start bit, 8 data bits, parity; guard time ignored).
    let line = bytes as u64 * 10 * 1_000_000 / baud(profile).max(1);
    l.per_apdu_us + line + u64::from(rsa_ops) * l.per_rsa_us
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_rates_from_atr() {
        // CPS3: no TA1 → 9600 bit/s; CPS4: TA1 = 18 → Fi 372, Di 12 → 115200 bit/s.
        assert_eq!(fi_di(&[0x3B, 0xAC, 0x00, 0x40]), (372, 1));
        assert_eq!(fi_di(&[0x3B, 0x9B, 0x18, 0x80]), (372, 12));
        assert_eq!(3_571_200 * 12 / 372, 115_200);
    }
}
