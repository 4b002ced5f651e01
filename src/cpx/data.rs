//! Data objects (read when asked, CPS_DATA written through) and the card's random numbers.

use super::*;

impl CpxCard {
    /// Where the data object labelled `label` stands in the contents.
    fn data_object_index(&self, label: &str) -> Result<usize, CpxError> {
        self.contents
            .data_objects
            .iter()
            .position(|d| d.label == label)
            .ok_or(Missing::DataObject.into())
    }

    /// Where the data object labelled `label` lives on the card.
    fn data_object_source(&self, label: &str) -> Result<session::ObjectSource, CpxError> {
        self.session
            .object(label)
            .cloned()
            .ok_or(Missing::DataObject.into())
    }

    /// Reads a data object's value from the card (private ones need the PIN verified) and
    /// keeps it in the contents. A value already in the contents is returned without I/O.
    pub fn read_data_object(&mut self, label: &str) -> Result<Vec<u8>, CpxError> {
        let index = self.data_object_index(label)?;
        if let Some(v) = &self.contents.data_objects[index].value {
            return Ok(v.clone());
        }
        let source = self.data_object_source(label)?;
        let value = self.run(|ch, s| {
            if source.volet {
                cps2ter::read_file(ch, &source.path)
            } else {
                let (v, size) = files::read_file(ch, s, &source.path)?;
                if let Some(o) = s.objects.iter_mut().find(|o| o.label == source.label) {
                    o.size = size;
                }
                Ok(v)
            }
        })?;
        self.contents.data_objects[index].value = Some(value.clone());
        Ok(value)
    }

    /// Writes a modifiable data object (CPS_DATA): zero-padded to the file size. A value
    /// longer than the file → `Refused(InputLength)` (nothing written); a non-modifiable
    /// object → `Refused(ReadOnly)`.
    pub fn write_data_object(&mut self, label: &str, value: &[u8]) -> Result<(), CpxError> {
        let index = self.data_object_index(label)?;
        if !self.contents.data_objects[index].modifiable {
            return Err(Refusal::ReadOnly.into());
        }
        let source = self.data_object_source(label)?;
        if source.volet {
            return Err(Refusal::ReadOnly.into());
        }
        let written = self.run(|ch, s| {
            let size = match source.size {
                Some(n) => n,
                None => files::select(ch, s, &source.path)?
                    .size
                    .ok_or(CardError::Malformed("data object file without a size"))?,
            };
            if value.len() > size {
                return Ok(Err(Refusal::InputLength));
            }
            // The size comes from the card's FCP (up to 4 GiB): never pad beyond a file.
            if size > files::MAX_FILE {
                return Err(CardError::Malformed("data object file larger than 32 KiB"));
            }
            let mut padded = value.to_vec();
            padded.resize(size, 0);
            files::update_file(ch, s, &source.path, &padded)?;
            if let Some(o) = s.objects.iter_mut().find(|o| o.label == source.label) {
                o.size = Some(size);
            }
            Ok(Ok(padded))
        })??;
        self.contents.data_objects[index].value = Some(written);
        Ok(())
    }

    /// GET CHALLENGE, 8 bytes at a time.
    pub fn random(&mut self, len: usize) -> Result<Vec<u8>, CpxError> {
        if len == 0 {
            return Ok(Vec::new());
        }
        self.run(|ch, _| {
            let mut out = Vec::with_capacity(len + 8);
            while out.len() < len {
                let chunk = ch.transmit_ok(&Command::new(0x00, 0x84, 0x00, 0x00).with_le(8))?;
                if chunk.is_empty() {
                    return Err(CardError::Malformed("GET CHALLENGE returned nothing"));
                }
                out.extend_from_slice(&chunk);
            }
            out.truncate(len);
            Ok(out)
        })
    }
}
