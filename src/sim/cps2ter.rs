//! The CPS2ter-compatible data volet: CLA A0, SELECT by file ID one level at a time, FCI
//! fetched with GET RESPONSE after `9F xx`, READ BINARY. Facts: cpx-cards.md §11. The volet
//! keeps its own current file [assume §14 #15]; private files need the user PIN verified on
//! the IAS side, otherwise `98 04` [assume].

use super::command::{sw, Command, Out};
use super::fs::{Body, NodeId, MF};
use super::profile::{Generation, Profile};
use super::state::{App, CardState};

/// CPS2ter status words (§11).
pub mod sw2ter {
    pub const BAD_ADDRESS_OR_LENGTH: u16 = 0x9402;
    pub const FILE_NOT_FOUND: u16 = 0x9404;
    pub const FILE_UNUSABLE: u16 = 0x9408;
    pub const ACCESS_DENIED: u16 = 0x9804;
}

pub fn process(p: &Profile, s: &mut CardState, cmd: &Command) -> Out {
    let has_volet = !s.volet.node(MF).children.is_empty();
    let reachable = match p.generation {
        Generation::Cps3 => true,
        Generation::Cps3Cl => false,
        Generation::Cps2ter => true,
        // [assume] on CPS4 the volet is the CPS2ter applet of the basic channel.
        Generation::Cps4 => s.channels[0].app == App::Cps2ter,
    };
    if cmd.cla != 0xA0 || !has_volet || !reachable {
        return Out::sw(sw::CLA_NOT_SUPPORTED);
    }
    if cmd.ins != 0xC0 {
        s.volet_pending = None;
    }
    match cmd.ins {
        0xA4 => select(s, cmd),
        0xC0 => get_response(s, cmd),
        0xB0 => read_binary(p, s, cmd),
        _ => Out::sw(sw::INS_NOT_SUPPORTED),
    }
}

fn select(s: &mut CardState, cmd: &Command) -> Out {
    if (cmd.p1, cmd.p2) != (0, 0) {
        return Out::sw(sw::WRONG_P1P2);
    }
    if cmd.data.len() != 2 {
        return Out::sw(sw::WRONG_LENGTH);
    }
    let fid = u16::from_be_bytes([cmd.data[0], cmd.data[1]]);
    let cur = s.volet_current;
    let df = if s.volet.node(cur).is_df() {
        cur
    } else {
        s.volet.node(cur).parent.unwrap_or(MF)
    };
    let found = if fid == 0x3F00 {
        Some(MF)
    } else {
        s.volet.child(df, fid)
    };
    let Some(n) = found else {
        return Out::sw(sw2ter::FILE_NOT_FOUND);
    };
    s.volet_current = n;
    let fci = fci(s, n);
    let len = fci.len() as u16;
    s.volet_pending = Some(fci);
    Out::sw(0x9F00 | len)
}

/// `85 L size(2) fid(2) type(1)`, type 01 MF, 02 DF, 04 EF.
fn fci(s: &CardState, n: NodeId) -> Vec<u8> {
    let node = s.volet.node(n);
    let (size, kind) = match &node.body {
        Body::Ef { data } => (data.len() as u16, 0x04),
        Body::Df { .. } if n == MF => (0, 0x01),
        Body::Df { .. } => (0, 0x02),
    };
    let mut v = vec![0x85, 5];
    v.extend_from_slice(&size.to_be_bytes());
    v.extend_from_slice(&node.fid.to_be_bytes());
    v.push(kind);
    v
}

fn get_response(s: &mut CardState, cmd: &Command) -> Out {
    let Some(data) = s.volet_pending.take() else {
        return Out::sw(sw::CONDITIONS_NOT_SATISFIED);
    };
    let le = cmd.le.unwrap_or(256);
    if le > data.len() {
        return Out::sw(sw::WRONG_LENGTH);
    }
    Out::data(data[..le].to_vec())
}

fn read_binary(p: &Profile, s: &mut CardState, cmd: &Command) -> Out {
    let node = s.volet.node(s.volet_current);
    let Some(data) = node.data() else {
        return Out::sw(sw2ter::FILE_UNUSABLE);
    };
    if node.private && !user_pin_verified(p, s) {
        return Out::sw(sw2ter::ACCESS_DENIED);
    }
    let offset = ((cmd.p1 as usize) << 8) | cmd.p2 as usize;
    let le = cmd.le.unwrap_or(256);
    if offset + le > data.len() {
        return Out::sw(sw2ter::BAD_ADDRESS_OR_LENGTH);
    }
    Out::data(data[offset..offset + le].to_vec())
}

/// The user PIN is the CHV of SE #1.
fn user_pin_verified(p: &Profile, s: &CardState) -> bool {
    p.se.iter()
        .find(|e| e.number == 1)
        .is_some_and(|e| s.verified.contains(&e.chv))
}
