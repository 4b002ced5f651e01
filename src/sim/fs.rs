//! File trees (one per volet), FCP templates and access-rule evaluation.

use super::profile::{FileSpec, FileType, Profile, Volet};

pub type NodeId = usize;
/// The MF is always node 0.
pub const MF: NodeId = 0;

#[derive(Debug, Clone)]
pub enum Body {
    Df { aid: Option<Vec<u8>> },
    Ef { data: Vec<u8> },
}

#[derive(Debug, Clone)]
pub struct Node {
    pub fid: u16,
    pub sfi: Option<u8>,
    pub parent: Option<NodeId>,
    pub children: Vec<NodeId>,
    /// Contact access rule (8C value).
    pub acl: Vec<u8>,
    /// Contactless access rule (9C value), if the file has one.
    pub acl_cl: Option<Vec<u8>>,
    /// CPS2ter volet: readable only after user authentication.
    pub private: bool,
    pub body: Body,
}

impl Node {
    pub fn is_df(&self) -> bool {
        matches!(self.body, Body::Df { .. })
    }
    pub fn aid(&self) -> Option<&[u8]> {
        match &self.body {
            Body::Df { aid } => aid.as_deref(),
            Body::Ef { .. } => None,
        }
    }
    pub fn data(&self) -> Option<&[u8]> {
        match &self.body {
            Body::Ef { data } => Some(data),
            Body::Df { .. } => None,
        }
    }
}

/// A file tree rooted at the MF (`3F00`).
#[derive(Debug, Clone)]
pub struct FileSystem {
    pub nodes: Vec<Node>,
}

/// Parses "3F00/0001/5031" into file IDs.
pub fn parse_path(path: &str) -> Result<Vec<u16>, String> {
    path.split('/')
        .map(|p| u16::from_str_radix(p, 16).map_err(|_| format!("bad path {path:?}")))
        .collect()
}

impl FileSystem {
    /// Builds the tree of one volet from the profile's file list (parents first).
    pub fn build(profile: &Profile, volet: Volet) -> Result<FileSystem, String> {
        let mut fs = FileSystem {
            nodes: vec![Node {
                fid: 0x3F00,
                sfi: None,
                parent: None,
                children: Vec::new(),
                acl: Vec::new(),
                acl_cl: None,
                private: false,
                body: Body::Df { aid: None },
            }],
        };
        for spec in profile.file.iter().filter(|f| f.volet == volet) {
            fs.add(profile, spec)?;
        }
        Ok(fs)
    }

    fn add(&mut self, profile: &Profile, spec: &FileSpec) -> Result<(), String> {
        let fids = parse_path(&spec.path)?;
        if fids.first() != Some(&0x3F00) {
            return Err(format!("{}: paths start at 3F00", spec.path));
        }
        let body = match spec.kind {
            FileType::Df => Body::Df {
                aid: spec.aid.as_ref().map(|h| h.0.clone()),
            },
            FileType::Ef => {
                let mut data = match (&spec.content, &spec.hex) {
                    (Some(name), _) => profile.read_blob(name)?,
                    (None, Some(h)) => h.0.clone(),
                    (None, None) => Vec::new(),
                };
                if let Some(size) = spec.size {
                    if data.len() > size {
                        return Err(format!("{}: content larger than size", spec.path));
                    }
                    data.resize(size, 0);
                }
                Body::Ef { data }
            }
        };
        let acl = spec.acl.as_ref().map(|h| h.0.clone()).unwrap_or_default();
        let acl_cl = spec.acl_cl.as_ref().map(|h| h.0.clone());
        if fids.len() == 1 {
            // The MF itself: its attributes.
            let mf = &mut self.nodes[MF];
            mf.body = body;
            mf.acl = acl;
            mf.acl_cl = acl_cl;
            return Ok(());
        }
        let parent = self
            .resolve_absolute(&fids[..fids.len() - 1])
            .filter(|p| self.nodes[*p].is_df())
            .ok_or_else(|| format!("{}: parent DF missing", spec.path))?;
        let id = self.nodes.len();
        self.nodes.push(Node {
            fid: fids[fids.len() - 1],
            sfi: spec.sfi,
            parent: Some(parent),
            children: Vec::new(),
            acl,
            acl_cl,
            private: spec.private,
            body,
        });
        self.nodes[parent].children.push(id);
        Ok(())
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    pub fn child(&self, df: NodeId, fid: u16) -> Option<NodeId> {
        self.nodes[df]
            .children
            .iter()
            .copied()
            .find(|c| self.nodes[*c].fid == fid)
    }

    /// Resolves file IDs starting with 3F00.
    pub fn resolve_absolute(&self, fids: &[u16]) -> Option<NodeId> {
        let (first, rest) = fids.split_first()?;
        if *first != 0x3F00 {
            return None;
        }
        self.resolve_from(MF, rest)
    }

    /// Resolves file IDs relative to a DF; every intermediate step must be a DF.
    pub fn resolve_from(&self, df: NodeId, fids: &[u16]) -> Option<NodeId> {
        let mut cur = df;
        for fid in fids {
            if !self.nodes[cur].is_df() {
                return None;
            }
            cur = self.child(cur, *fid)?;
        }
        Some(cur)
    }

    pub fn find_aid(&self, aid: &[u8]) -> Option<NodeId> {
        (0..self.nodes.len()).find(|i| self.nodes[*i].aid() == Some(aid))
    }

    /// EF with this short identifier among the children of `df`.
    pub fn find_sfi(&self, df: NodeId, sfi: u8) -> Option<NodeId> {
        self.nodes[df]
            .children
            .iter()
            .copied()
            .find(|c| self.nodes[*c].sfi == Some(sfi) && !self.nodes[*c].is_df())
    }

    pub fn content_by_path(&self, path: &str) -> Option<Vec<u8>> {
        let id = self.resolve_absolute(&parse_path(path).ok()?)?;
        self.nodes[id].data().map(<[u8]>::to_vec)
    }

    pub fn data_mut(&mut self, id: NodeId) -> Option<&mut Vec<u8>> {
        match &mut self.nodes[id].body {
            Body::Ef { data } => Some(data),
            Body::Df { .. } => None,
        }
    }

    /// The FCP template (tag 62) of a file, in the tag order the real cards use.
    pub fn fcp(&self, id: NodeId) -> Vec<u8> {
        let n = &self.nodes[id];
        let mut v = Vec::new();
        if let Some(data) = n.data() {
            tlv(&mut v, 0x80, &(data.len() as u16).to_be_bytes());
        }
        tlv(&mut v, 0x82, &[if n.is_df() { 0x38 } else { 0x01 }]);
        tlv(&mut v, 0x83, &n.fid.to_be_bytes());
        if let Some(aid) = n.aid() {
            tlv(&mut v, 0x84, aid);
        }
        if let Some(sfi) = n.sfi {
            tlv(&mut v, 0x88, &[sfi << 3]);
        }
        let mut sec = Vec::new();
        if !n.acl.is_empty() {
            tlv(&mut sec, 0x8C, &n.acl);
        }
        if let Some(cl) = &n.acl_cl {
            tlv(&mut sec, 0x9C, cl);
        }
        if !sec.is_empty() {
            tlv(&mut v, 0xA1, &sec);
        }
        tlv(&mut v, 0x8A, &[0x05]);
        let mut out = Vec::new();
        tlv(&mut out, 0x62, &v);
        out
    }
}

/// Appends a TLV with a one-byte tag (or a multi-byte tag given big-endian in `tag`).
pub fn tlv(out: &mut Vec<u8>, tag: u32, value: &[u8]) {
    let tb = tag.to_be_bytes();
    let skip = tb.iter().take_while(|b| **b == 0).count().min(3);
    out.extend_from_slice(&tb[skip..]);
    push_len(out, value.len());
    out.extend_from_slice(value);
}

pub fn push_len(out: &mut Vec<u8>, n: usize) {
    if n < 0x80 {
        out.push(n as u8);
    } else if n < 0x100 {
        out.extend_from_slice(&[0x81, n as u8]);
    } else {
        out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    }
}

/// The operation bits of an access-mode byte (AMB), as IAS-ECC assigns them.
pub mod op {
    /// EF: READ BINARY. Key/CHV SDO: GET DATA.
    pub const READ: u8 = 0x01;
    /// EF: UPDATE BINARY. SDO: PUT DATA.
    pub const UPDATE: u8 = 0x02;
    /// Key SDO: PSO DECIPHER. CHV SDO: RESET RETRY COUNTER.
    pub const DECIPHER_OR_RESET: u8 = 0x10;
    /// Key SDO: INTERNAL AUTHENTICATE. CHV SDO: VERIFY.
    pub const INTERNAL_AUTH_OR_VERIFY: u8 = 0x20;
    /// Key SDO: PSO COMPUTE DIGITAL SIGNATURE. CHV SDO: CHANGE REFERENCE DATA.
    pub const CDS_OR_CHANGE: u8 = 0x40;
}

/// The security-condition byte for one operation bit of an access rule (AMB + SCBs);
/// `None` when the AMB does not list the operation (the operation is then never allowed).
pub fn scb_for(rule: &[u8], op_bit: u8) -> Option<u8> {
    let (&amb, scbs) = rule.split_first()?;
    if amb & op_bit == 0 {
        return None;
    }
    let mut idx = 0;
    let mut bit = 0x40u8;
    while bit != 0 {
        if amb & bit != 0 {
            if bit == op_bit {
                return scbs.get(idx).copied();
            }
            idx += 1;
        }
        bit >>= 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scb_lookup_follows_amb_bits() {
        // EF.ATR contact rule 7B 45 FF FF FF 45 00: READ always, UPDATE under SM SE#5.
        let atr = [0x7B, 0x45, 0xFF, 0xFF, 0xFF, 0x45, 0x00];
        assert_eq!(scb_for(&atr, op::READ), Some(0x00));
        assert_eq!(scb_for(&atr, op::UPDATE), Some(0x45));
        // CHV 1 rule F3 00 00 13 FF 00: CHANGE 00, VERIFY 00, RESET 13, PUT FF, GET 00.
        let chv = [0xF3, 0x00, 0x00, 0x13, 0xFF, 0x00];
        assert_eq!(scb_for(&chv, op::CDS_OR_CHANGE), Some(0x00));
        assert_eq!(scb_for(&chv, op::DECIPHER_OR_RESET), Some(0x13));
        assert_eq!(scb_for(&chv, op::READ), Some(0x00));
        // MF 7A …: no READ bit at all.
        assert_eq!(
            scb_for(&[0x7A, 0xFF, 0xFF, 0xFF, 0xFF, 0x45], op::READ),
            None
        );
        assert_eq!(scb_for(&[], op::READ), None);
    }

    #[test]
    fn tlv_lengths() {
        let mut v = Vec::new();
        tlv(&mut v, 0xBF8101, &[1, 2]);
        assert_eq!(v, vec![0xBF, 0x81, 0x01, 0x02, 1, 2]);
        let mut v = Vec::new();
        tlv(&mut v, 0x04, &[0u8; 200]);
        assert_eq!(&v[..3], &[0x04, 0x81, 200]);
        let mut v = Vec::new();
        tlv(&mut v, 0x04, &[0u8; 300]);
        assert_eq!(&v[..4], &[0x04, 0x82, 0x01, 0x2C]);
    }
}
