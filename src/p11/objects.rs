//! Object searches and attribute access on `Module` (`style.md` §7, compat §6). Everything
//! is answered from the bound contents; only private data-object values (first read after
//! login) and CPS_DATA writes touch the card.

use super::card_op::Replay;
use super::error::{Error, Result};
use super::module::Module;
use super::object::{Attr, AttrLookup, Object, ObjectKind};
use super::session::Operation;
use super::slot::LoginState;
use cryptoki_sys::*;

impl Module {
    /// The object `obj` of the session's token, if visible in the current login state.
    fn visible_object(
        &mut self,
        h: CK_SESSION_HANDLE,
        obj: CK_OBJECT_HANDLE,
    ) -> Result<(usize, Object)> {
        let idx = self.check_session(h)?;
        let token = self.token_mut(idx)?;
        match token.object(obj) {
            Some(o) if token.visible(&o) => Ok((idx, o)),
            _ => Err(Error::ObjectHandleInvalid(obj)),
        }
    }

    /// C_FindObjectsInit: matches now; an unknown attribute type matches nothing.
    pub fn find_init(&mut self, h: CK_SESSION_HANDLE, template: &[Attr]) -> Result<()> {
        let idx = self.check_session(h)?;
        let (s, token) = self.parts(h, idx)?;
        if s.op.is_some() {
            return Err(Error::OperationActive);
        }
        let view = token.view();
        let results = token
            .objects
            .iter()
            .filter(|o| token.visible(o) && o.matches(&view, template))
            .map(|o| o.handle)
            .collect();
        s.op = Some(Operation::Find { results, pos: 0 });
        Ok(())
    }

    /// C_FindObjects: up to `max` handles.
    pub fn find_next(&mut self, h: CK_SESSION_HANDLE, max: usize) -> Result<Vec<CK_OBJECT_HANDLE>> {
        self.check_session(h)?;
        match &mut self.session_mut(h)?.op {
            Some(Operation::Find { results, pos }) => {
                let end = pos.saturating_add(max).min(results.len());
                let out = results[*pos..end].to_vec();
                *pos = end;
                Ok(out)
            }
            _ => Err(Error::OperationNotInitialized),
        }
    }

    /// C_FindObjectsFinal.
    pub fn find_final(&mut self, h: CK_SESSION_HANDLE) -> Result<()> {
        self.check_session(h)?;
        let s = self.session_mut(h)?;
        match s.op {
            Some(Operation::Find { .. }) => {
                s.op = None;
                Ok(())
            }
            _ => Err(Error::OperationNotInitialized),
        }
    }

    /// C_GetAttributeValue: one lookup per requested type (the ABI applies the template
    /// rules). A data object's value not read at bind (private ones, after login;
    /// CPS_DATA) is read from the card the first time.
    pub fn get_attributes(
        &mut self,
        h: CK_SESSION_HANDLE,
        obj: CK_OBJECT_HANDLE,
        types: &[CK_ATTRIBUTE_TYPE],
    ) -> Result<Vec<AttrLookup>> {
        let (idx, o) = self.visible_object(h, obj)?;
        if let ObjectKind::Data(i) = o.kind {
            let token = self.token_mut(idx)?;
            let d = &token.contents().data_objects[i];
            // Private values after login; public modifiable ones (CPS_DATA) when first asked.
            let readable = !d.private || token.login == LoginState::User;
            if types.contains(&CKA_VALUE) && d.value.is_none() && readable {
                let label = d.label.clone();
                self.card_op(idx, Replay::Safe, |t| t.card.read_data_object(&label))?;
            }
        }
        let token = self.token_mut(idx)?;
        let view = token.view();
        Ok(types.iter().map(|&t| o.attribute(&view, t)).collect())
    }

    /// C_SetAttributeValue: only CKA_VALUE of a modifiable data object (CPS_DATA), in a
    /// R/W session (compat §8).
    pub fn set_attributes(
        &mut self,
        h: CK_SESSION_HANDLE,
        obj: CK_OBJECT_HANDLE,
        template: &[Attr],
    ) -> Result<()> {
        let (idx, o) = self.visible_object(h, obj)?;
        let (s, token) = self.parts(h, idx)?;
        let ObjectKind::Data(i) = o.kind else {
            return Err(Error::TokenWriteProtected);
        };
        let d = &token.contents().data_objects[i];
        if !d.modifiable {
            return Err(Error::ActionProhibited);
        }
        if !s.rw {
            return Err(Error::SessionReadOnly);
        }
        let label = d.label.clone();
        let mut value = None;
        for a in template {
            match a.ty {
                CKA_VALUE => value = Some(a.value.clone()),
                CKA_CLASS | CKA_TOKEN | CKA_PRIVATE | CKA_MODIFIABLE | CKA_LABEL
                | CKA_APPLICATION | CKA_OBJECT_ID => return Err(Error::AttributeReadOnly),
                _ => return Err(Error::AttributeTypeInvalid),
            }
        }
        match value {
            Some(v) => self.card_op(idx, Replay::Safe, |t| t.card.write_data_object(&label, &v)),
            None => Ok(()),
        }
    }
}
