//! CPS4: the ChipDoc applet (used on logical channel 1), the CPS2ter-compatible applet
//! (basic channel) and the issuer security domain; MANAGE CHANNEL. Facts: cpx-cards.md §10;
//! everything about ChipDoc's files and channel behaviour is [assume] (§14 #13).

use super::command::{sw, Command, Out};
use super::crypto::HashAlg;
use super::fs::{op, NodeId, MF};
use super::iasecc::{self, MF_AID};
use super::profile::{KeyOp, Profile};
use super::state::{App, CardState, CHANNELS};

/// The CPS2ter-compatible applet (basic channel).
pub const CPS2TER_AID: [u8; 8] = [0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x02];
/// GlobalPlatform issuer security domain.
pub const ISD_AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x01, 0x51, 0x00, 0x00];

pub fn process(p: &Profile, s: &mut CardState, cmd: &Command) -> Out {
    let ch = (cmd.cla & 0x03) as usize;
    if cmd.ins == 0x70 {
        return manage_channel(s, ch, cmd);
    }
    if !s.channels[ch].open {
        if cmd.ins != 0xA4 {
            return Out::sw(sw::CHANNEL_NOT_SUPPORTED);
        }
        // ISO 7816-4: a SELECT on a closed channel opens it [inf].
        s.channels[ch] = open_channel();
    }
    let cmd = match iasecc::chain(s, ch, cmd, &[0x2A]) {
        Ok(c) => c,
        Err(out) => return out,
    };
    if cmd.ins == 0xA4 && cmd.p1 == 0x04 {
        return select_aid(p, s, ch, &cmd);
    }
    match s.channels[ch].app {
        App::Card => chipdoc(p, s, ch, &cmd),
        App::Isd | App::Cps2ter if cmd.ins == 0xA4 => Out::sw(sw::FILE_NOT_FOUND),
        App::Isd | App::Cps2ter => Out::sw(sw::INS_NOT_SUPPORTED),
        // No applet selected on this channel (e.g. after a reset): the state ChipDoc
        // commands need is missing → 69 85, which the Cryptolib answers with its
        // re-selection sequence (§10.7) [assume].
        App::None => Out::sw(sw::CONDITIONS_NOT_SATISFIED),
    }
}

fn open_channel() -> super::state::ChannelState {
    super::state::ChannelState {
        open: true,
        app: App::None,
        current_df: MF,
        current_ef: None,
        se: Default::default(),
        pending: None,
        chain: None,
    }
}

/// MANAGE CHANNEL: open (P1=00; P2=00 lets the card choose) or close (P1=80).
fn manage_channel(s: &mut CardState, ch: usize, cmd: &Command) -> Out {
    match cmd.p1 {
        0x00 => {
            let n = if cmd.p2 == 0 {
                match (1..CHANNELS).find(|i| !s.channels[*i].open) {
                    Some(n) => n,
                    None => return Out::sw(sw::FUNCTION_NOT_SUPPORTED),
                }
            } else {
                cmd.p2 as usize
            };
            if n == 0 || n >= CHANNELS || s.channels[n].open {
                return Out::sw(sw::INCORRECT_P1P2);
            }
            s.channels[n] = open_channel();
            if cmd.p2 == 0 {
                Out::data(vec![n as u8])
            } else {
                Out::ok()
            }
        }
        0x80 => {
            let n = if cmd.p2 == 0 { ch } else { cmd.p2 as usize };
            if n == 0 || n >= CHANNELS || !s.channels[n].open {
                return Out::sw(sw::INCORRECT_P1P2);
            }
            s.channels[n].open = false;
            s.channels[n].app = App::None;
            Out::ok()
        }
        _ => Out::sw(sw::INCORRECT_P1P2),
    }
}

/// SELECT by AID: applets, or the PKCS#15 application DF inside ChipDoc.
fn select_aid(p: &Profile, s: &mut CardState, ch: usize, cmd: &Command) -> Out {
    let with_fci = match cmd.p2 {
        0x00 | 0x04 => true,
        0x0C => false,
        _ => return Out::sw(sw::INCORRECT_P1P2),
    };
    let app = if cmd.data == MF_AID {
        App::Card
    } else if cmd.data == CPS2TER_AID {
        App::Cps2ter
    } else if cmd.data == ISD_AID {
        App::Isd
    } else {
        // An application DF inside ChipDoc.
        if s.channels[ch].app != App::Card {
            return Out::sw(sw::FILE_NOT_FOUND);
        }
        let Some(df) = s.iso.find_aid(&cmd.data) else {
            return Out::sw(sw::FILE_NOT_FOUND);
        };
        iasecc::set_current_on(s, ch, df);
        return fci(s, df, with_fci);
    };
    if app == App::Card && p.quirks.mf_aid_select_resets_security {
        // [assume §14 #7] selecting the applet resets its security status, as selecting
        // the MF AID does on CPS3.
        s.verified.clear();
    }
    let st = &mut s.channels[ch];
    st.app = app;
    st.current_df = MF;
    st.current_ef = None;
    st.se = Default::default();
    if app == App::Card {
        fci(s, MF, with_fci)
    } else {
        Out::ok()
    }
}

/// [assume] ChipDoc answers P2=00 (FCI) with the same FCP template as P2=04.
fn fci(s: &CardState, n: NodeId, with: bool) -> Out {
    if with {
        Out::data(s.iso.fcp(n))
    } else {
        Out::ok()
    }
}

fn chipdoc(p: &Profile, s: &mut CardState, ch: usize, cmd: &Command) -> Out {
    match cmd.ins {
        0xA4 => select_file(s, ch, cmd),
        0xB0 => iasecc::read_binary(p, s, ch, cmd),
        0xD6 => iasecc::update_binary(p, s, ch, cmd),
        0x20 => iasecc::verify(p, s, cmd),
        0x24 => iasecc::change_reference_data(p, s, cmd, true),
        0x2C => iasecc::reset_retry_counter(p, s, cmd, true),
        0x22 => mse(s, ch, cmd),
        0x2A => pso(p, s, ch, cmd),
        0x84 => iasecc::get_challenge(cmd),
        // No INTERNAL AUTHENTICATE on ChipDoc (external spec), no SDO GET DATA.
        _ => Out::sw(sw::INS_NOT_SUPPORTED),
    }
}

/// ISO SELECT forms ChipDoc uses: P1=00 by file ID, P1=08 path from the MF without 3F00,
/// P1=09 path from the current DF.
fn select_file(s: &mut CardState, ch: usize, cmd: &Command) -> Out {
    let with_fci = match cmd.p2 {
        0x00 | 0x04 => true,
        0x0C => false,
        _ => return Out::sw(sw::INCORRECT_P1P2),
    };
    if cmd.data.is_empty() || cmd.data.len() % 2 != 0 {
        return Out::sw(sw::WRONG_LENGTH);
    }
    let fids: Vec<u16> = cmd
        .data
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    let current = s.channels[ch].current_df;
    let found = match cmd.p1 {
        0x00 if fids == [0x3F00] => Some(MF),
        0x00 if fids.len() == 1 => s.iso.child(current, fids[0]),
        0x08 => s.iso.resolve_from(MF, &fids),
        0x09 if fids[0] == 0x3F00 => s.iso.resolve_absolute(&fids),
        0x09 => s.iso.resolve_from(current, &fids),
        _ => return Out::sw(sw::INCORRECT_P1P2),
    };
    let Some(n) = found else {
        return Out::sw(sw::FILE_NOT_FOUND);
    };
    iasecc::set_current_on(s, ch, n);
    fci(s, n, with_fci)
}

/// ChipDoc algorithm identifiers (MSE tag 91): (hash, PSS?).
fn chipdoc_alg(id: u8) -> Option<(HashAlg, bool)> {
    match id {
        0x0A => Some((HashAlg::Sha1, false)),
        0x28 => Some((HashAlg::Sha256, false)),
        0x15 => Some((HashAlg::Sha1, true)),
        0x2C => Some((HashAlg::Sha256, true)),
        _ => None,
    }
}

/// MSE:SET, ChipDoc forms: `81 B6 { 91 02 <alg> <key|80> }` for signatures and
/// `41 B8 { 83 01 <key> }` for deciphering.
fn mse(s: &mut CardState, ch: usize, cmd: &Command) -> Out {
    if cmd.p1 == 0xF3 {
        s.channels[ch].se = Default::default();
        return Out::ok();
    }
    let Some((tag, value, rest)) = iasecc::read_tlv(&cmd.data) else {
        return Out::sw(sw::INCORRECT_DATA);
    };
    if !rest.is_empty() {
        return Out::sw(sw::INCORRECT_DATA);
    }
    match (cmd.p1, cmd.p2, tag, value) {
        (0x81 | 0x41, 0xB6, 0x91, [alg, key]) => {
            if chipdoc_alg(*alg).is_none() {
                return Out::sw(sw::INCORRECT_DATA);
            }
            match iasecc::find_key(s, ch, key & 0x7F) {
                Some(k) if s.keys[k].allows(KeyOp::Cds) => {
                    s.channels[ch].se.dst = Some((k, *alg));
                    Out::ok()
                }
                Some(_) => Out::sw(sw::INCORRECT_DATA),
                None => Out::sw(sw::DATA_NOT_FOUND),
            }
        }
        (0x41, 0xB8, 0x83, [key]) => match iasecc::find_key(s, ch, key & 0x7F) {
            Some(k) if s.keys[k].allows(KeyOp::Decipher) => {
                s.channels[ch].se.ct = Some((k, 0));
                Out::ok()
            }
            Some(_) => Out::sw(sw::INCORRECT_DATA),
            None => Out::sw(sw::DATA_NOT_FOUND),
        },
        (0x41 | 0x81, 0xB6 | 0xB8 | 0xA4 | 0xAA, _, _) => Out::sw(sw::INCORRECT_DATA),
        _ => Out::sw(sw::INCORRECT_P1P2),
    }
}

fn pso(p: &Profile, s: &mut CardState, ch: usize, cmd: &Command) -> Out {
    match (cmd.p1, cmd.p2) {
        (0x9E, 0x9A) => {
            let Some((key, alg)) = s.channels[ch].se.dst else {
                return Out::sw(sw::CONDITIONS_NOT_SATISFIED);
            };
            if let Err(e) = iasecc::key_access(p, s, key, op::CDS_OR_CHANGE) {
                return Out::sw(e);
            }
            let Some((hash, pss)) = chipdoc_alg(alg) else {
                return Out::sw(sw::CONDITIONS_NOT_SATISFIED);
            };
            let data = cmd.data.clone();
            iasecc::sign_hash_with(p, s, key, &data, hash, pss)
        }
        (0x80, 0x86) => iasecc::pso_decipher(p, s, ch, cmd, false),
        // PSO HASH is not used on CPS4 [assume: not supported].
        _ => Out::sw(sw::INCORRECT_P1P2),
    }
}
