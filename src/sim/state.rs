//! Card state: persistent (file contents, CHV values and counters, keys) and volatile (per
//! logical channel: current DF/EF, selected applet, security environment, pending response,
//! command chain; the security status).

use super::command::{short_len, sw, Command};
use super::fs::{FileSystem, NodeId, MF};
use super::profile::{ChvSpec, Generation, KeyOp, KeySpec, Profile, Volet};
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use std::collections::BTreeSet;
use zeroize::Zeroizing;

/// A CHV (PIN or PUK) with its live counters.
pub struct Chv {
    pub spec: ChvSpec,
    /// The reference value as stored on the card (padded).
    pub value: Zeroizing<Vec<u8>>,
    pub tries_left: u8,
    pub usage_left: Option<u16>,
}

impl Chv {
    pub fn pad(spec: &ChvSpec, digits: &[u8]) -> Zeroizing<Vec<u8>> {
        let mut v = Zeroizing::new(digits.to_vec());
        if v.len() < spec.stored_length {
            v.resize(spec.stored_length, spec.pad_byte);
        }
        v
    }
}

/// A private key SDO.
pub struct Key {
    pub spec: KeySpec,
    pub df: NodeId,
    pub rsa: RsaPrivateKey,
}

impl Key {
    pub fn modulus_len(&self) -> usize {
        self.rsa.size()
    }
    pub fn allows(&self, op: KeyOp) -> bool {
        self.spec.ops.contains(&op)
    }
}

/// Which applet a logical channel talks to (CPS4 has several; CPS3 only the IAS one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum App {
    None,
    /// CPS3 IAS-ECC MF, or the CPS4 ChipDoc applet.
    Card,
    /// CPS4 CPS2ter-compatible applet.
    Cps2ter,
    /// CPS4 GlobalPlatform issuer security domain.
    Isd,
}

/// The current security environment (MSE:SET results and the PSO HASH result).
#[derive(Debug, Clone, Default)]
pub struct SecEnv {
    /// Hash template (AA): algorithm reference.
    pub ht: Option<u8>,
    /// Digital signature template (B6): key index, algorithm.
    pub dst: Option<(usize, u8)>,
    /// Authentication template (A4): key index, algorithm.
    pub at: Option<(usize, u8)>,
    /// Confidentiality template (B8): key index, algorithm.
    pub ct: Option<(usize, u8)>,
    /// Digest computed by PSO HASH: (hash algorithm reference, digest).
    pub hash: Option<(u8, Vec<u8>)>,
}

#[derive(Debug, Clone)]
pub struct Chain {
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct ChannelState {
    pub open: bool,
    pub app: App,
    pub current_df: NodeId,
    pub current_ef: Option<NodeId>,
    pub se: SecEnv,
    pub pending: Option<(Vec<u8>, u16)>,
    pub chain: Option<Chain>,
}

impl ChannelState {
    fn closed() -> Self {
        ChannelState {
            open: false,
            app: App::None,
            current_df: MF,
            current_ef: None,
            se: SecEnv::default(),
            pending: None,
            chain: None,
        }
    }
}

pub const CHANNELS: usize = 4;

pub struct CardState {
    pub iso: FileSystem,
    pub volet: FileSystem,
    pub chvs: Vec<Chv>,
    pub keys: Vec<Key>,
    /// CHV references verified in this card session (the security status).
    pub verified: BTreeSet<u8>,
    pub channels: Vec<ChannelState>,
    /// Current file of the CPS2ter volet (separate from the IAS current DF [assume]).
    pub volet_current: NodeId,
    pub volet_pending: Option<Vec<u8>>,
    /// Private-key operations run by the last command (for the latency model).
    pub rsa_ops_last: u32,
}

impl CardState {
    pub fn new(profile: &Profile) -> Result<CardState, String> {
        let iso = FileSystem::build(profile, Volet::Iso)?;
        let volet = FileSystem::build(profile, Volet::Cps2ter)?;
        let chvs = profile
            .chv
            .iter()
            .map(|spec| Chv {
                value: Chv::pad(spec, spec.value.as_bytes()),
                tries_left: spec.tries_left,
                usage_left: spec.usage_left,
                spec: spec.clone(),
            })
            .collect();
        let mut keys = Vec::new();
        for spec in &profile.key {
            let der = profile.read_blob(&spec.file)?;
            let rsa =
                RsaPrivateKey::from_pkcs8_der(&der).map_err(|e| format!("{}: {e}", spec.file))?;
            let df = super::fs::parse_path(&spec.df)
                .ok()
                .and_then(|p| iso.resolve_absolute(&p))
                .ok_or_else(|| format!("key {}: DF {} missing", spec.label, spec.df))?;
            keys.push(Key {
                spec: spec.clone(),
                df,
                rsa,
            });
        }
        let mut s = CardState {
            iso,
            volet,
            chvs,
            keys,
            verified: BTreeSet::new(),
            channels: vec![ChannelState::closed(); CHANNELS],
            volet_current: MF,
            volet_pending: None,
            rsa_ops_last: 0,
        };
        s.reset_volatile(profile);
        Ok(s)
    }

    /// Power-on or reset: forget the security status, the current files, the security
    /// environments and the channels; keep files and counters.
    pub fn reset_volatile(&mut self, profile: &Profile) {
        self.verified.clear();
        self.channels = vec![ChannelState::closed(); CHANNELS];
        let basic = &mut self.channels[0];
        basic.open = true;
        basic.app = match profile.generation {
            Generation::Cps3 | Generation::Cps3Cl => App::Card,
            Generation::Cps2ter => App::Cps2ter,
            // [assume] the CPS2ter applet is the default selection of the basic channel.
            Generation::Cps4 => App::Cps2ter,
        };
        if profile.generation == Generation::Cps4 && !profile.quirks.chipdoc_needs_select {
            let ch1 = &mut self.channels[1];
            ch1.open = true;
            ch1.app = App::Card;
        }
        self.volet_current = MF;
        self.volet_pending = None;
    }

    pub fn chv(&self, reference: u8) -> Option<&Chv> {
        self.chvs.iter().find(|c| c.spec.reference == reference)
    }

    pub fn chv_mut(&mut self, reference: u8) -> Option<&mut Chv> {
        self.chvs.iter_mut().find(|c| c.spec.reference == reference)
    }

    pub fn chv_status(&self, reference: u8) -> Option<(u8, u8, Option<u16>)> {
        self.chv(reference)
            .map(|c| (c.tries_left, c.spec.max_tries, c.usage_left))
    }

    /// Whether a security-condition byte is satisfied now.
    /// `00` always; `FF` never; `1n` user authentication in SE #n; SM conditions never
    /// (the simulator has no secure messaging, like normal card use).
    pub fn scb_satisfied(&self, profile: &Profile, scb: u8) -> bool {
        match scb {
            0x00 => true,
            0xFF => false,
            s if s & 0x70 == 0x10 => {
                let se = s & 0x0F;
                profile
                    .se
                    .iter()
                    .find(|e| e.number == se)
                    .is_some_and(|e| self.verified.contains(&e.chv))
            }
            _ => false,
        }
    }

    pub fn set_pending(&mut self, channel: usize, data: Vec<u8>, sw: u16) {
        self.channels[channel].pending = Some((data, sw));
    }

    pub fn drop_pending(&mut self, channel: usize) {
        self.channels[channel].pending = None;
    }

    /// GET RESPONSE (`xx C0 00 00 Le`): serves the pending answer of this channel, in pieces
    /// with `61 xx` while more remains, `6C xx` when Le exceeds what remains.
    pub fn get_response(&mut self, channel: usize, cmd: &Command) -> Vec<u8> {
        if cmd.p1 != 0 || cmd.p2 != 0 {
            return sw::WRONG_P1P2.to_be_bytes().to_vec();
        }
        let Some((data, status)) = self.channels[channel].pending.take() else {
            // [assume] nothing to fetch.
            return sw::CONDITIONS_NOT_SATISFIED.to_be_bytes().to_vec();
        };
        let le = cmd.le.unwrap_or(256);
        if le > data.len() {
            let n = data.len();
            self.channels[channel].pending = Some((data, status));
            return vec![0x6C, short_len(n)];
        }
        let mut out = data[..le].to_vec();
        let rest = data[le..].to_vec();
        if rest.is_empty() {
            out.extend_from_slice(&status.to_be_bytes());
        } else {
            out.extend_from_slice(&[0x61, short_len(rest.len())]);
            self.channels[channel].pending = Some((rest, status));
        }
        out
    }
}
