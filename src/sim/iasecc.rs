//! CPS3 (IAS-ECC) command handlers, contact and contactless. The PIN, security-environment
//! and cryptographic handlers here are also used by the CPS4 dialect (`chipdoc`) with its own
//! parameters. Facts and their sources: cpx-cards.md §4–§9; choices marked [assume] are
//! profile switches (docs/simulator.md).

use super::command::{sw, Command, Out};
use super::crypto::{self, HashAlg};
use super::fs::{op, scb_for, tlv, NodeId, MF};
use super::profile::{Generation, KeyOp, Profile};
use super::state::{CardState, Chain};
use rand_core::{OsRng, RngCore};

/// The MF's DF name, which OpenSC and the Cryptolib select by AID.
pub const MF_AID: [u8; 8] = [0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x01, 0x00];
/// The contactless PKCS#15 application.
pub const CL_AID: [u8; 13] = [
    0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x20,
];

pub fn process(p: &Profile, s: &mut CardState, cmd: &Command) -> Out {
    if cmd.cla & 0x03 != 0 || cmd.ins == 0x70 {
        // EF.ATR card capabilities: no logical channels [inf].
        return Out::sw(sw::CHANNEL_NOT_SUPPORTED);
    }
    let cmd = match chain(s, 0, cmd, &[0x2A, 0x88]) {
        Ok(c) => c,
        Err(out) => return out,
    };
    match cmd.ins {
        0xA4 => select(p, s, &cmd),
        0xB0 => read_binary(p, s, 0, &cmd),
        0xD6 => update_binary(p, s, 0, &cmd),
        0xCB => get_data(p, s, &cmd),
        0x20 => verify(p, s, &cmd),
        0x24 => change_reference_data(p, s, &cmd, false),
        0x2C => reset_retry_counter(p, s, &cmd, false),
        0x22 => mse(p, s, 0, &cmd),
        0x2A => pso(p, s, 0, &cmd),
        0x88 => internal_authenticate(p, s, 0, &cmd),
        0x84 => get_challenge(&cmd),
        _ => Out::sw(sw::INS_NOT_SUPPORTED),
    }
}

/// Command chaining (CLA b5): intermediate pieces are stored and answered `90 00`; the last
/// piece yields the whole command. Only the listed INS may be chained.
pub fn chain(s: &mut CardState, ch: usize, cmd: &Command, allowed: &[u8]) -> Result<Command, Out> {
    let st = &mut s.channels[ch];
    if let Some(c) = &st.chain {
        if (c.ins, c.p1, c.p2) != (cmd.ins, cmd.p1, cmd.p2) {
            st.chain = None;
            return Err(Out::sw(sw::LAST_COMMAND_EXPECTED));
        }
    }
    if cmd.chained() {
        if !allowed.contains(&cmd.ins) {
            st.chain = None;
            return Err(Out::sw(sw::CHAINING_NOT_SUPPORTED));
        }
        let c = st.chain.get_or_insert(Chain {
            ins: cmd.ins,
            p1: cmd.p1,
            p2: cmd.p2,
            data: Vec::new(),
        });
        c.data.extend_from_slice(&cmd.data);
        if c.data.len() > 1024 {
            st.chain = None;
            return Err(Out::sw(sw::WRONG_LENGTH));
        }
        return Err(Out::ok());
    }
    let mut full = cmd.clone();
    if let Some(c) = st.chain.take() {
        full.data = [c.data, cmd.data.clone()].concat();
    }
    Ok(full)
}

fn contactless(p: &Profile) -> bool {
    p.generation == Generation::Cps3Cl
}

/// The access rule that applies on this interface (9C contactless when present).
pub fn rule_of<'a>(p: &Profile, acl: &'a [u8], acl_cl: Option<&'a [u8]>) -> &'a [u8] {
    match acl_cl {
        Some(cl) if contactless(p) => cl,
        _ => acl,
    }
}

/// Checks one operation of an access rule: `Ok` or the status word to answer.
pub fn check_access(p: &Profile, s: &CardState, rule: &[u8], op_bit: u8) -> Result<(), u16> {
    match scb_for(rule, op_bit) {
        Some(scb) if s.scb_satisfied(p, scb) => Ok(()),
        _ => Err(sw::SECURITY_NOT_SATISFIED),
    }
}

fn fids_of(data: &[u8]) -> Option<Vec<u16>> {
    if data.is_empty() || data.len() % 2 != 0 {
        return None;
    }
    Some(
        data.chunks(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect(),
    )
}

/// SELECT, IAS-ECC forms (cpx-cards.md §8.2, quirks §5.5 #12–#14).
fn select(p: &Profile, s: &mut CardState, cmd: &Command) -> Out {
    let q = &p.quirks;
    let want_fcp = match cmd.p2 {
        0x04 | 0x00 => true,
        0x0C => false,
        _ => return Out::sw(sw::INCORRECT_P1P2),
    };
    let current_df = s.channels[0].current_df;
    let target: NodeId = match cmd.p1 {
        0x00..=0x02 => {
            if cmd.p1 == 0x00 && cmd.data.is_empty() {
                MF
            } else {
                if cmd.data.len() != 2 {
                    return Out::sw(sw::WRONG_LENGTH);
                }
                if cmd.p2 == 0x00 && q.select_fid_p2_00_refused {
                    return Out::sw(sw::INCORRECT_P1P2);
                }
                let fid = u16::from_be_bytes([cmd.data[0], cmd.data[1]]);
                let found = if fid == 0x3F00 {
                    Some(MF)
                } else {
                    s.iso.child(current_df, fid)
                };
                match found {
                    Some(n) if cmd.p1 != 0x01 || s.iso.node(n).is_df() => n,
                    _ => return Out::sw(sw::FILE_NOT_FOUND),
                }
            }
        }
        0x03 => match s.iso.node(current_df).parent {
            Some(parent) => parent,
            None => return Out::sw(sw::FILE_NOT_FOUND),
        },
        0x04 => {
            if cmd.data.is_empty() || cmd.data.len() > 16 {
                return Out::sw(sw::WRONG_LENGTH);
            }
            if cmd.data == CL_AID && !contactless(p) && !q.cl_aid_selectable_on_contact {
                return Out::sw(sw::FILE_NOT_FOUND);
            }
            let Some(n) = s.iso.find_aid(&cmd.data) else {
                return Out::sw(sw::FILE_NOT_FOUND);
            };
            if n == MF {
                if q.mf_aid_select_resets_security {
                    s.verified.clear();
                }
                set_current(s, MF);
                // §5.5 #12: with P2=00 the MF AID answers 90 00 without data.
                return if cmd.p2 == 0x04 {
                    Out::data(s.iso.fcp(MF))
                } else {
                    Out::ok()
                };
            }
            n
        }
        0x08 | 0x09 => {
            let Some(fids) = fids_of(&cmd.data) else {
                return Out::sw(sw::WRONG_LENGTH);
            };
            if cmd.p1 == 0x09 && fids == [0x3F00] && q.select_mf_path_no_fcp {
                set_current(s, MF);
                return Out::ok();
            }
            let found = if cmd.p1 == 0x08 {
                s.iso.resolve_from(MF, &fids)
            } else if fids[0] == 0x3F00 {
                s.iso.resolve_absolute(&fids)
            } else if current_df == MF && q.relative_path_from_mf_refused {
                None
            } else {
                s.iso.resolve_from(current_df, &fids)
            };
            match found {
                Some(n) => n,
                None => return Out::sw(sw::FILE_NOT_FOUND),
            }
        }
        _ => return Out::sw(sw::INCORRECT_P1P2),
    };
    set_current(s, target);
    if want_fcp {
        Out::data(s.iso.fcp(target))
    } else {
        Out::ok()
    }
}

fn set_current(s: &mut CardState, n: NodeId) {
    set_current_on(s, 0, n);
}

/// Makes a file current on a channel: a DF becomes the current DF, an EF the current EF
/// (and its parent the current DF).
pub fn set_current_on(s: &mut CardState, ch: usize, n: NodeId) {
    let node = s.iso.node(n);
    let st = &mut s.channels[ch];
    if node.is_df() {
        st.current_df = n;
        st.current_ef = None;
    } else {
        st.current_df = node.parent.unwrap_or(MF);
        st.current_ef = Some(n);
    }
}

/// The EF a READ/UPDATE BINARY addresses and the offset: by SFI (P1 b8 set; looked up in the
/// current DF, then in the MF [assume]) or the current EF.
fn binary_target(s: &mut CardState, ch: usize, cmd: &Command) -> Result<(NodeId, usize), u16> {
    if cmd.p1 & 0x80 != 0 {
        if cmd.p1 & 0x60 != 0 {
            return Err(sw::INCORRECT_P1P2);
        }
        let sfi = cmd.p1 & 0x1F;
        let df = s.channels[ch].current_df;
        let ef = s
            .iso
            .find_sfi(df, sfi)
            .or_else(|| s.iso.find_sfi(MF, sfi))
            .ok_or(sw::FILE_NOT_FOUND)?;
        set_current_on(s, ch, ef);
        Ok((ef, cmd.p2 as usize))
    } else {
        let ef = s.channels[ch].current_ef.ok_or(sw::NO_CURRENT_EF)?;
        Ok((ef, ((cmd.p1 as usize) << 8) | cmd.p2 as usize))
    }
}

/// READ BINARY: at most `read_binary_max` bytes per answer (§5.5 #15); asking for more than
/// the card can give yields `6C xx` under T=0 (through the response shaping) [assume §14 #11].
pub fn read_binary(p: &Profile, s: &mut CardState, ch: usize, cmd: &Command) -> Out {
    if !cmd.data.is_empty() {
        return Out::sw(sw::WRONG_LENGTH);
    }
    let (ef, offset) = match binary_target(s, ch, cmd) {
        Ok(t) => t,
        Err(e) => return Out::sw(e),
    };
    let node = s.iso.node(ef);
    if let Err(e) = check_access(
        p,
        s,
        rule_of(p, &node.acl, node.acl_cl.as_deref()),
        op::READ,
    ) {
        return Out::sw(e);
    }
    let data = node.data().unwrap_or_default();
    if offset >= data.len() {
        return Out::sw(sw::WRONG_P1P2);
    }
    let avail = data.len() - offset;
    let le = cmd.le.unwrap_or(256);
    let n = le.min(avail).min(p.quirks.read_binary_max);
    let sw_out = if le > avail { sw::END_OF_FILE } else { sw::OK };
    Out {
        data: data[offset..offset + n].to_vec(),
        sw: sw_out,
    }
}

/// UPDATE BINARY at an offset of the current EF (or by SFI).
pub fn update_binary(p: &Profile, s: &mut CardState, ch: usize, cmd: &Command) -> Out {
    if cmd.data.is_empty() {
        return Out::sw(sw::WRONG_LENGTH);
    }
    let (ef, offset) = match binary_target(s, ch, cmd) {
        Ok(t) => t,
        Err(e) => return Out::sw(e),
    };
    let node = s.iso.node(ef);
    if let Err(e) = check_access(
        p,
        s,
        rule_of(p, &node.acl, node.acl_cl.as_deref()),
        op::UPDATE,
    ) {
        return Out::sw(e);
    }
    let Some(data) = s.iso.data_mut(ef) else {
        return Out::sw(sw::NO_CURRENT_EF);
    };
    if offset >= data.len() {
        return Out::sw(sw::WRONG_P1P2);
    }
    if offset + cmd.data.len() > data.len() {
        return Out::sw(sw::WRONG_LENGTH);
    }
    data[offset..offset + cmd.data.len()].copy_from_slice(&cmd.data);
    Out::ok()
}

/// Reads one BER-TLV: (tag, value, rest).
pub fn read_tlv(b: &[u8]) -> Option<(u32, &[u8], &[u8])> {
    let mut i = 0;
    let first = *b.first()?;
    let mut tag = u32::from(first);
    i += 1;
    if first & 0x1F == 0x1F {
        loop {
            let t = *b.get(i)?;
            tag = (tag << 8) | u32::from(t);
            i += 1;
            if t & 0x80 == 0 || i > 3 {
                break;
            }
        }
    }
    let l0 = *b.get(i)?;
    i += 1;
    let len = match l0 {
        0x00..=0x7F => l0 as usize,
        0x80 => 0, // "all" in an extended header list
        0x81 => {
            i += 1;
            *b.get(i - 1)? as usize
        }
        0x82 => {
            i += 2;
            ((*b.get(i - 2)? as usize) << 8) | *b.get(i - 1)? as usize
        }
        _ => return None,
    };
    let value = b.get(i..i + len)?;
    Some((tag, value, &b[i + len..]))
}

/// GET DATA of an SDO part through an extended header list (cpx-cards.md §8.4).
fn get_data(p: &Profile, s: &mut CardState, cmd: &Command) -> Out {
    if (cmd.p1, cmd.p2) != (0x3F, 0xFF) {
        return Out::sw(sw::INCORRECT_P1P2);
    }
    let parsed = read_tlv(&cmd.data)
        .filter(|(t, _, _)| *t == 0x4D)
        .and_then(|(_, v, _)| read_tlv(v))
        .filter(|(t, _, _)| *t == 0x70)
        .and_then(|(_, v, _)| read_tlv(v))
        .filter(|(t, _, _)| *t >> 16 == 0xBF)
        .and_then(|(t, v, _)| read_tlv(v).map(|(part, _, _)| (t, part)));
    let Some((sdo, part)) = parsed else {
        return Out::sw(sw::INCORRECT_DATA);
    };
    let class = ((sdo >> 8) & 0x7F) as u8;
    let reference = (sdo & 0xFF) as u8;
    let current_df = s.channels[0].current_df;
    let strict = p.quirks.sdo_needs_current_df;
    match class {
        0x01 => {
            if strict && current_df != MF {
                return Out::sw(sw::DATA_NOT_FOUND);
            }
            let Some(chv) = s.chv(reference) else {
                return Out::sw(sw::DATA_NOT_FOUND);
            };
            if let Err(e) = check_access(p, s, &chv.spec.acl.0, op::READ) {
                return Out::sw(e);
            }
            match part {
                0xA0 => {
                    let mut docp = Vec::new();
                    tlv(&mut docp, 0x9A, &[chv.spec.max_tries]);
                    tlv(&mut docp, 0x9B, &[chv.tries_left]);
                    if let Some(u) = chv.usage_left {
                        tlv(&mut docp, 0x9D, &u.to_be_bytes());
                    }
                    let mut a1 = Vec::new();
                    tlv(&mut a1, 0x8C, &chv.spec.acl.0);
                    tlv(&mut docp, 0xA1, &a1);
                    Out::data(sdo_answer(sdo, 0xA0, &docp))
                }
                0x7F41 => Out::sw(p.quirks.sdo_public_part_sw),
                _ => Out::sw(sw::DATA_NOT_FOUND),
            }
        }
        0x10 => {
            let Some(key) = s
                .keys
                .iter()
                .find(|k| k.spec.sdo_ref == reference && (!strict || k.df == current_df))
            else {
                return Out::sw(sw::DATA_NOT_FOUND);
            };
            if let Err(e) = check_access(p, s, &key.spec.acl.0, op::READ) {
                return Out::sw(e);
            }
            match part {
                0xA0 => {
                    let mut docp = Vec::new();
                    tlv(&mut docp, 0x80, &(key.modulus_len() as u16).to_be_bytes());
                    let mut a1 = Vec::new();
                    tlv(&mut a1, 0x8C, &key.spec.acl.0);
                    tlv(&mut docp, 0xA1, &a1);
                    Out::data(sdo_answer(sdo, 0xA0, &docp))
                }
                0x7F48 => Out::sw(p.quirks.sdo_public_part_sw),
                _ => Out::sw(sw::DATA_NOT_FOUND),
            }
        }
        0x7B => {
            if p.quirks.se_get_data_needs_mf && current_df != MF {
                return Out::sw(sw::DATA_NOT_FOUND);
            }
            let Some(se) = p.se.iter().find(|e| e.number == reference) else {
                return Out::sw(sw::DATA_NOT_FOUND);
            };
            // [assume §14 #4] a minimal SE: one AT CRT naming the CHV, usage qualifier 08.
            let mut crt = Vec::new();
            tlv(&mut crt, 0x83, &[se.chv]);
            tlv(&mut crt, 0x95, &[0x08]);
            let mut at = Vec::new();
            tlv(&mut at, 0xA4, &crt);
            Out::data(sdo_answer(sdo, 0x7B, &at))
        }
        _ => Out::sw(sw::DATA_NOT_FOUND),
    }
}

/// `70 L <SDO tag> L <part tag> L <value>`.
fn sdo_answer(sdo: u32, part: u32, value: &[u8]) -> Vec<u8> {
    let mut inner = Vec::new();
    tlv(&mut inner, part, value);
    let mut mid = Vec::new();
    tlv(&mut mid, sdo, &inner);
    let mut out = Vec::new();
    tlv(&mut out, 0x70, &mid);
    out
}

/// VERIFY: without data, the status query (costs no try); with data, a verification.
/// A wrong value costs exactly one try; the last one answers `63 C0`, later ones `69 83`
/// [assume §14 #8]; a value of the wrong length is refused with `67 00` and costs nothing
/// [assume].
pub fn verify(p: &Profile, s: &mut CardState, cmd: &Command) -> Out {
    if cmd.p1 != 0x00 {
        return Out::sw(sw::INCORRECT_P1P2);
    }
    let reference = cmd.p2 & 0x7F;
    let Some(chv) = s.chv(reference) else {
        return Out::sw(sw::DATA_NOT_FOUND);
    };
    if let Err(e) = check_access(p, s, &chv.spec.acl.0, op::INTERNAL_AUTH_OR_VERIFY) {
        return Out::sw(e);
    }
    let (tries, stored_len) = (chv.tries_left, chv.spec.stored_length);
    if cmd.data.is_empty() {
        return if tries == 0 {
            Out::sw(sw::AUTH_BLOCKED)
        } else if s.verified.contains(&reference) {
            Out::ok()
        } else {
            Out::sw(sw::tries_left(tries))
        };
    }
    if tries == 0 {
        return Out::sw(sw::AUTH_BLOCKED);
    }
    if cmd.data.len() != stored_len {
        return Out::sw(sw::WRONG_LENGTH);
    }
    check_value(s, reference, &cmd.data)
}

/// Compares a presented value with a CHV: success resets the counter and sets the security
/// status; failure costs one try and clears it.
fn check_value(s: &mut CardState, reference: u8, presented: &[u8]) -> Out {
    let Some(chv) = s.chv_mut(reference) else {
        return Out::sw(sw::DATA_NOT_FOUND);
    };
    if constant_time_eq(&chv.value, presented) {
        chv.tries_left = chv.spec.max_tries;
        s.verified.insert(reference);
        Out::ok()
    } else {
        chv.tries_left = chv.tries_left.saturating_sub(1);
        let left = chv.tries_left;
        s.verified.remove(&reference);
        Out::sw(sw::tries_left(left))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// CHANGE REFERENCE DATA. P1=00: old ‖ new (CPS3); P1=01: new only, after a VERIFY (CPS4,
/// `new_only_allowed`).
pub fn change_reference_data(
    p: &Profile,
    s: &mut CardState,
    cmd: &Command,
    new_only_allowed: bool,
) -> Out {
    let reference = cmd.p2 & 0x7F;
    let Some(chv) = s.chv(reference) else {
        return Out::sw(sw::DATA_NOT_FOUND);
    };
    if let Err(e) = check_access(p, s, &chv.spec.acl.0, op::CDS_OR_CHANGE) {
        return Out::sw(e);
    }
    let n = chv.spec.stored_length;
    if chv.tries_left == 0 {
        return Out::sw(sw::AUTH_BLOCKED);
    }
    let new_value = match cmd.p1 {
        0x00 => {
            if cmd.data.len() != 2 * n {
                return Out::sw(sw::WRONG_LENGTH);
            }
            let out = check_value(s, reference, &cmd.data[..n]);
            if out.sw != sw::OK {
                return out;
            }
            &cmd.data[n..]
        }
        0x01 if new_only_allowed => {
            if cmd.data.len() != n {
                return Out::sw(sw::WRONG_LENGTH);
            }
            // The new value alone is accepted after the CHV itself was verified, or after
            // the CHV that may reset it (the PUK) was: the CPS4 unblock is RESET RETRY
            // COUNTER without data then this command [code: Cryptolib; assume: rule].
            let reset_scb = s
                .chv(reference)
                .and_then(|c| scb_for(&c.spec.acl.0, op::DECIPHER_OR_RESET))
                .unwrap_or(0xFF);
            if !s.verified.contains(&reference) && !s.scb_satisfied(p, reset_scb) {
                return Out::sw(sw::SECURITY_NOT_SATISFIED);
            }
            &cmd.data[..]
        }
        _ => return Out::sw(sw::INCORRECT_P1P2),
    };
    if let Some(chv) = s.chv_mut(reference) {
        chv.value = zeroize::Zeroizing::new(new_value.to_vec());
        chv.tries_left = chv.spec.max_tries;
    }
    s.verified.insert(reference);
    Out::ok()
}

/// RESET RETRY COUNTER. The CHV's RESET rule names the unblocking CHV (SCB `1n` → SE #n →
/// PUK), whose unblock-usage counter must not be exhausted (then `69 83`, §14 #8).
/// P1=02: new value only (after the PUK was verified); P1=00: PUK ‖ new value;
/// P1=03: counter only, after the PUK was verified (CPS4, `counter_only_allowed`).
pub fn reset_retry_counter(
    p: &Profile,
    s: &mut CardState,
    cmd: &Command,
    counter_only_allowed: bool,
) -> Out {
    let reference = cmd.p2 & 0x7F;
    let Some(chv) = s.chv(reference) else {
        return Out::sw(sw::DATA_NOT_FOUND);
    };
    let n = chv.spec.stored_length;
    let scb = scb_for(&chv.spec.acl.0, op::DECIPHER_OR_RESET).unwrap_or(0xFF);
    let unblocker =
        p.se.iter()
            .find(|e| scb & 0x70 == 0x10 && e.number == scb & 0x0F)
            .map(|e| e.chv);
    let Some(puk_ref) = unblocker else {
        return Out::sw(sw::SECURITY_NOT_SATISFIED);
    };
    if s.chv(puk_ref).and_then(|c| c.usage_left) == Some(0) {
        return Out::sw(sw::AUTH_BLOCKED);
    }
    let new_value: Option<Vec<u8>> = match cmd.p1 {
        0x02 => {
            if cmd.data.len() != n {
                return Out::sw(sw::WRONG_LENGTH);
            }
            Some(cmd.data.clone())
        }
        0x00 => {
            let puk_len = s.chv(puk_ref).map_or(0, |c| c.spec.stored_length);
            if cmd.data.len() != puk_len + n {
                return Out::sw(sw::WRONG_LENGTH);
            }
            if s.chv(puk_ref).is_some_and(|c| c.tries_left == 0) {
                return Out::sw(sw::AUTH_BLOCKED);
            }
            let out = check_value(s, puk_ref, &cmd.data[..puk_len]);
            if out.sw != sw::OK {
                return out;
            }
            Some(cmd.data[puk_len..].to_vec())
        }
        0x03 if counter_only_allowed => {
            if !cmd.data.is_empty() {
                return Out::sw(sw::WRONG_LENGTH);
            }
            None
        }
        _ => return Out::sw(sw::INCORRECT_P1P2),
    };
    if !s.scb_satisfied(p, scb) {
        return Out::sw(sw::SECURITY_NOT_SATISFIED);
    }
    if let Some(chv) = s.chv_mut(reference) {
        if let Some(v) = new_value {
            chv.value = zeroize::Zeroizing::new(v);
        }
        chv.tries_left = chv.spec.max_tries;
    }
    if let Some(puk) = s.chv_mut(puk_ref) {
        if let Some(u) = puk.usage_left.as_mut() {
            *u = u.saturating_sub(1);
        }
    }
    // [assume] after an unblock the PIN is not verified.
    s.verified.remove(&reference);
    Out::ok()
}

/// Finds a key by its MSE reference, preferring one local to the current DF.
pub fn find_key(s: &CardState, ch: usize, mse_ref: u8) -> Option<usize> {
    let df = s.channels[ch].current_df;
    s.keys
        .iter()
        .position(|k| k.spec.mse_ref == mse_ref && k.df == df)
        .or_else(|| s.keys.iter().position(|k| k.spec.mse_ref == mse_ref))
}

/// MANAGE SECURITY ENVIRONMENT: SET (P1=41/81) for the AT, HT, DST and CT templates, TLVs
/// in any order (the two clients use opposite orders, §8.8); RESTORE (P1=F3) clears it.
fn mse(_p: &Profile, s: &mut CardState, ch: usize, cmd: &Command) -> Out {
    if cmd.p1 == 0xF3 {
        s.channels[ch].se = Default::default();
        return Out::ok();
    }
    if cmd.p1 != 0x41 && cmd.p1 != 0x81 {
        return Out::sw(sw::INCORRECT_P1P2);
    }
    let (mut alg, mut key_ref) = (None, None);
    let mut rest = &cmd.data[..];
    while !rest.is_empty() {
        let Some((tag, value, next)) = read_tlv(rest) else {
            return Out::sw(sw::INCORRECT_DATA);
        };
        match (tag, value) {
            (0x80, [a]) => alg = Some(*a),
            (0x84 | 0x83, [k]) => key_ref = Some(*k),
            (0x81, _) => {} // file reference: not used by CPx keys
            _ => return Out::sw(sw::INCORRECT_DATA),
        }
        rest = next;
    }
    let (op, allowed_algs): (Option<KeyOp>, &[u8]) = match cmd.p2 {
        0xAA => (None, &[0x10, 0x40]),
        0xB6 => (Some(KeyOp::Cds), &[0x12, 0x42]),
        0xA4 => (Some(KeyOp::InternalAuth), &[0x02]),
        0xB8 => (Some(KeyOp::Decipher), &[0x1A]),
        _ => return Out::sw(sw::INCORRECT_P1P2),
    };
    let Some(alg) = alg.filter(|a| allowed_algs.contains(a)) else {
        return Out::sw(sw::INCORRECT_DATA);
    };
    let se = &mut s.channels[ch].se;
    let Some(op) = op else {
        se.ht = Some(alg);
        se.hash = None;
        return Out::ok();
    };
    // Without a key reference, the only key of the current DF that allows the operation
    // (the contactless MSE names no key, cpx-cards.md §12).
    let key = match key_ref {
        Some(r) => find_key(s, ch, r),
        None => {
            let df = s.channels[ch].current_df;
            s.keys.iter().position(|k| k.df == df && k.allows(op))
        }
    };
    let Some(key) = key else {
        return Out::sw(sw::DATA_NOT_FOUND);
    };
    if !s.keys[key].allows(op) {
        return Out::sw(sw::INCORRECT_DATA);
    }
    let se = &mut s.channels[ch].se;
    match op {
        KeyOp::Cds => se.dst = Some((key, alg)),
        KeyOp::InternalAuth => se.at = Some((key, alg)),
        KeyOp::Decipher => se.ct = Some((key, alg)),
    }
    Out::ok()
}

fn hash_alg_of(alg_ref: u8) -> Option<HashAlg> {
    match alg_ref {
        0x10 | 0x12 => Some(HashAlg::Sha1),
        0x40 | 0x42 => Some(HashAlg::Sha256),
        _ => None,
    }
}

/// PERFORM SECURITY OPERATION: HASH (90 A0), COMPUTE DIGITAL SIGNATURE (9E 9A),
/// DECIPHER (80 86).
fn pso(p: &Profile, s: &mut CardState, ch: usize, cmd: &Command) -> Out {
    match (cmd.p1, cmd.p2) {
        (0x90, 0xA0) => pso_hash(s, ch, cmd),
        (0x9E, 0x9A) => pso_cds(p, s, ch, cmd),
        (0x80, 0x86) => pso_decipher(p, s, ch, cmd, true),
        _ => Out::sw(sw::INCORRECT_P1P2),
    }
}

/// PSO HASH with a partial hash: `90 L [state ‖ bit count]` then `80 L tail` (§8.9).
fn pso_hash(s: &mut CardState, ch: usize, cmd: &Command) -> Out {
    let Some(alg) = s.channels[ch].se.ht.and_then(hash_alg_of) else {
        return Out::sw(sw::CONDITIONS_NOT_SATISFIED);
    };
    let (mut state, mut tail) = (None, None);
    let mut rest = &cmd.data[..];
    while !rest.is_empty() {
        let Some((tag, value, next)) = read_tlv(rest) else {
            return Out::sw(sw::INCORRECT_DATA);
        };
        match tag {
            0x90 => state = Some(value),
            0x80 => tail = Some(value),
            _ => return Out::sw(sw::INCORRECT_DATA),
        }
        rest = next;
    }
    let digest = match (state, tail) {
        // The whole hash supplied (90 L hash) [assume].
        (Some(h), None) if h.len() == alg.digest_len() => Some(h.to_vec()),
        (Some([]), Some(tail)) => {
            crypto::finish_partial_hash(alg, &crypto::initial_state(alg), 0, tail)
        }
        (Some(st), Some(tail)) if st.len() == alg.digest_len() + 8 => {
            let (h, count) = st.split_at(alg.digest_len());
            let bits = u64::from_be_bytes(count.try_into().unwrap_or([0xFF; 8]));
            crypto::finish_partial_hash(alg, h, bits, tail)
        }
        _ => None,
    };
    let Some(digest) = digest else {
        return Out::sw(sw::INCORRECT_DATA);
    };
    let ht = s.channels[ch].se.ht.unwrap_or(0);
    s.channels[ch].se.hash = Some((ht, digest));
    Out::ok()
}

/// The SCB of a key operation must be satisfied; returns the key index.
fn key_for(
    p: &Profile,
    s: &CardState,
    slot: Option<(usize, u8)>,
    op_bit: u8,
) -> Result<(usize, u8), u16> {
    let (k, alg) = slot.ok_or(sw::CONDITIONS_NOT_SATISFIED)?;
    check_access(p, s, &s.keys[k].spec.acl.0, op_bit)?;
    Ok((k, alg))
}

/// After a signature, a key whose use demands a fresh verification drops the PIN status.
pub fn consume_consent(p: &Profile, s: &mut CardState, key: usize) {
    if p.quirks.cds_needs_fresh_verify {
        if let Some(scb) = scb_for(&s.keys[key].spec.acl.0, op::CDS_OR_CHANGE) {
            if let Some(e) = p.se.iter().find(|e| e.number == scb & 0x0F) {
                s.verified.remove(&e.chv);
            }
        }
    }
}

/// PSO CDS (CPS3): with no data, signs the digest left by PSO HASH; with data, the data is
/// the hash itself (hash-only signature, §8.10).
fn pso_cds(p: &Profile, s: &mut CardState, ch: usize, cmd: &Command) -> Out {
    let (key, alg_ref) = match key_for(p, s, s.channels[ch].se.dst, op::CDS_OR_CHANGE) {
        Ok(k) => k,
        Err(e) => return Out::sw(e),
    };
    let Some(alg) = hash_alg_of(alg_ref) else {
        return Out::sw(sw::CONDITIONS_NOT_SATISFIED);
    };
    let hash = if cmd.data.is_empty() {
        match s.channels[ch].se.hash.take() {
            Some((ht, h)) if hash_alg_of(ht) == Some(alg) => h,
            _ => return Out::sw(sw::CONDITIONS_NOT_SATISFIED),
        }
    } else if cmd.data.len() == alg.digest_len() {
        cmd.data.clone()
    } else {
        return Out::sw(sw::INCORRECT_DATA);
    };
    s.rsa_ops_last += 1;
    let Some(sig) = crypto::sign_pkcs1_hash(&s.keys[key].rsa, alg, &hash) else {
        return Out::sw(sw::NO_DIAGNOSIS);
    };
    consume_consent(p, s, key);
    Out::data(sig)
}

/// PSO DECIPHER. CPS3: data = padding indicator `81` ‖ cryptogram, the card removes the
/// PKCS#1 padding. CPS4 (`with_indicator` false): raw RSA, the host removes the padding.
pub fn pso_decipher(
    p: &Profile,
    s: &mut CardState,
    ch: usize,
    cmd: &Command,
    with_indicator: bool,
) -> Out {
    let (key, _) = match key_for(p, s, s.channels[ch].se.ct, op::DECIPHER_OR_RESET) {
        Ok(k) => k,
        Err(e) => return Out::sw(e),
    };
    let k = &s.keys[key];
    let n = k.modulus_len();
    s.rsa_ops_last += 1;
    if with_indicator {
        if cmd.data.len() != n + 1 || cmd.data[0] != 0x81 {
            return Out::sw(sw::INCORRECT_DATA);
        }
        match crypto::decrypt_pkcs1(&k.rsa, &cmd.data[1..]) {
            Some(plain) => Out::data(plain),
            None => Out::sw(p.quirks.bad_padding_sw),
        }
    } else {
        if cmd.data.len() != n {
            return Out::sw(sw::INCORRECT_DATA);
        }
        match crypto::raw_private(&k.rsa, &cmd.data) {
            Some(out) => Out::data(out),
            None => Out::sw(sw::INCORRECT_DATA),
        }
    }
}

/// INTERNAL AUTHENTICATE: PKCS#1 v1.5 type-1 padding of the data, then the private key of
/// the AT (§8.11). Input above `internal_auth_max_percent` of the modulus: `67 00`.
fn internal_authenticate(p: &Profile, s: &mut CardState, ch: usize, cmd: &Command) -> Out {
    if (cmd.p1, cmd.p2) != (0x00, 0x00) {
        return Out::sw(sw::INCORRECT_P1P2);
    }
    let (key, _) = match key_for(p, s, s.channels[ch].se.at, op::INTERNAL_AUTH_OR_VERIFY) {
        Ok(k) => k,
        Err(e) => return Out::sw(e),
    };
    let k = &s.keys[key];
    let max = k.modulus_len() * p.quirks.internal_auth_max_percent / 100;
    if cmd.data.is_empty() || cmd.data.len() > max {
        return Out::sw(sw::WRONG_LENGTH);
    }
    s.rsa_ops_last += 1;
    match crypto::sign_pkcs1_raw(&k.rsa, &cmd.data) {
        Some(sig) => Out::data(sig),
        None => Out::sw(sw::NO_DIAGNOSIS),
    }
}

/// GET CHALLENGE: 8 random bytes (the size both clients ask for).
pub fn get_challenge(cmd: &Command) -> Out {
    if (cmd.p1, cmd.p2) != (0x00, 0x00) {
        return Out::sw(sw::INCORRECT_P1P2);
    }
    match cmd.le {
        Some(8) => {
            let mut r = vec![0u8; 8];
            OsRng.fill_bytes(&mut r);
            Out::data(r)
        }
        _ => Out::sw(sw::WRONG_LENGTH),
    }
}

/// Shared by the ChipDoc dialect: PSO CDS with the hash as data for a given algorithm.
pub fn sign_hash_with(
    p: &Profile,
    s: &mut CardState,
    key: usize,
    hash: &[u8],
    alg: HashAlg,
    pss: bool,
) -> Out {
    if hash.len() != alg.digest_len() {
        return Out::sw(sw::INCORRECT_DATA);
    }
    s.rsa_ops_last += 1;
    let k = &s.keys[key].rsa;
    let sig = if pss {
        crypto::sign_pss(k, alg, hash)
    } else {
        crypto::sign_pkcs1_hash(k, alg, hash)
    };
    match sig {
        Some(sig) => {
            consume_consent(p, s, key);
            Out::data(sig)
        }
        None => Out::sw(sw::NO_DIAGNOSIS),
    }
}

/// Shared by the ChipDoc dialect: checks a key operation's access rule.
pub fn key_access(p: &Profile, s: &CardState, key: usize, op_bit: u8) -> Result<(), u16> {
    check_access(p, s, &s.keys[key].spec.acl.0, op_bit)
}
