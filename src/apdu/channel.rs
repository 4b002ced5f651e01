//! The APDU channel: what turns a [`Command`] into a complete [`Response`] over a dumb
//! [`Transport`].
//!
//! * command chaining for data over 255 bytes (CLA bit `0x10` on all pieces but the last);
//! * `61 xx`: GET RESPONSE `CLA C0 00 00 xx` on the same logical channel, repeated while
//!   `61 xx` comes back, data concatenated;
//! * `9F xx` (CPS2ter volet): GET RESPONSE `A0 C0 00 00 xx`;
//! * `6C xx`: the command is re-sent once with Le = xx (never one that carries a PIN);
//! * a hostile card cannot make it loop or grow without bound: at most
//!   [`MAX_GET_RESPONSE_ROUNDS`] GET RESPONSEs and [`MAX_RESPONSE_BYTES`] bytes per command;
//! * an APDU counter and an optional in-memory trace in which PIN data is masked; `trace`
//!   level logging of headers and status words (data only for SELECT, READ BINARY, GET DATA).

use std::panic::{self, AssertUnwindSafe};

use zeroize::Zeroizing;

use super::command::{
    cla_with_channel, is_first_interindustry, is_sensitive_ins, Command, Protocol, CLA_CHAINING,
    INS_GET_DATA, INS_GET_DATA_ODD, INS_READ_BINARY, INS_SELECT,
};
use super::error::{check_sw, CardError};
use super::sw::{le_to_len, StatusWord};
use crate::log::hex;
use crate::transport::{
    pinpad_sw, CardIo, PinPadOp, PinPadRequest, ResetSeen, Transport, TransportError,
};

/// Most GET RESPONSE commands sent for one command before giving up.
pub const MAX_GET_RESPONSE_ROUNDS: usize = 32;
/// Most response bytes accepted for one command (data of all GET RESPONSEs together).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Byte that replaces PIN data in the trace.
pub const MASK_BYTE: u8 = 0x2A;

/// CLA of the CPS2ter volet's GET RESPONSE after `9F xx`.
const CLA_CPS2TER: u8 = 0xA0;

/// A complete response: all data, and the final status word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub data: Vec<u8>,
    pub sw: StatusWord,
}

impl Response {
    /// Splits a raw R-APDU (data ‖ SW1 SW2).
    pub fn from_raw(raw: &[u8]) -> Result<Response, CardError> {
        match raw {
            [data @ .., sw1, sw2] => Ok(Response {
                data: data.to_vec(),
                sw: StatusWord::from_bytes(*sw1, *sw2),
            }),
            _ => Err(CardError::Malformed("R-APDU shorter than 2 bytes")),
        }
    }

    /// Success (`90 00`, `62 82`) or the mapped [`CardError`].
    pub fn check(&self) -> Result<(), CardError> {
        check_sw(self.sw)
    }

    /// The data if the status word is a success, else the mapped error.
    pub fn into_data(self) -> Result<Vec<u8>, CardError> {
        self.check()?;
        Ok(self.data)
    }
}

/// One exchange on the wire, as kept in the trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEntry {
    /// The C-APDU as sent; for VERIFY / CHANGE REFERENCE DATA / RESET RETRY COUNTER every
    /// data byte is replaced by [`MASK_BYTE`].
    pub command: Vec<u8>,
    /// The data bytes were masked.
    pub redacted: bool,
    /// The raw R-APDU (data ‖ SW1 SW2).
    pub response: Vec<u8>,
}

/// APDU counters and, when recording is on, every exchange.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    /// C-APDUs sent (chained pieces and GET RESPONSEs count one each).
    pub apdus: usize,
    /// C-APDU bytes sent.
    pub bytes_sent: usize,
    /// R-APDU bytes received, status words included.
    pub bytes_received: usize,
    /// Exchanges, only when recording (see [`Channel::set_recording`]).
    pub entries: Vec<TraceEntry>,
}

/// A card session over a transport: protocol, current logical channel, counters.
pub struct Channel<'a> {
    transport: &'a mut dyn CardIo,
    protocol: Protocol,
    logical: u8,
    reset_seen: ResetSeen,
    recording: bool,
    trace: Trace,
}

impl<'a> Channel<'a> {
    /// A channel on logical channel 0. Prefer [`with_transaction`] for real work.
    pub fn new(transport: &'a mut dyn CardIo, protocol: Protocol) -> Channel<'a> {
        Channel {
            transport,
            protocol,
            logical: 0,
            reset_seen: ResetSeen::No,
            recording: false,
            trace: Trace::default(),
        }
    }

    /// The protocol commands are encoded for.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The logical channel [`Channel::transmit`] puts commands on.
    pub fn logical_channel(&self) -> u8 {
        self.logical
    }

    /// Switches the logical channel (0..=3) for the following commands.
    pub fn set_logical_channel(&mut self, n: u8) -> Result<(), CardError> {
        cla_with_channel(0, n)?;
        self.logical = n;
        Ok(())
    }

    /// Whether the card was reset since our last transaction (see [`with_transaction`]).
    pub fn reset_seen(&self) -> ResetSeen {
        self.reset_seen
    }

    /// Keep every exchange in the trace (off by default; the counters always run).
    pub fn set_recording(&mut self, on: bool) {
        self.recording = on;
    }

    /// Counters and recorded exchanges so far.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// Returns the trace and starts a new one.
    pub fn take_trace(&mut self) -> Trace {
        std::mem::take(&mut self.trace)
    }

    /// Sends `cmd` on the current logical channel: a first-interindustry CLA gets the
    /// channel's bits (whatever bits it had); other CLAs (e.g. `A0`) are sent unchanged.
    pub fn transmit(&mut self, cmd: &Command) -> Result<Response, CardError> {
        if is_first_interindustry(cmd.cla) {
            let mut on_channel = cmd.clone();
            on_channel.cla = cla_with_channel(cmd.cla, self.logical)?;
            self.transmit_as_is(&on_channel)
        } else {
            self.transmit_as_is(cmd)
        }
    }

    /// [`Channel::transmit`], then [`Response::into_data`].
    pub fn transmit_ok(&mut self, cmd: &Command) -> Result<Vec<u8>, CardError> {
        self.transmit(cmd)?.into_data()
    }

    /// Sends `cmd` with its CLA as given (no channel rewrite): chaining, `6C xx`
    /// correction and the GET RESPONSE loop all apply.
    pub fn transmit_as_is(&mut self, cmd: &Command) -> Result<Response, CardError> {
        let pieces = cmd.chain()?;
        let Some((last, init)) = pieces.split_last() else {
            return Err(CardError::Malformed("empty command chain"));
        };
        for piece in init {
            let r = self.exchange(piece, cmd.ins)?;
            if r.sw != StatusWord::Ok {
                // The card broke the chain off; its answer is the answer.
                return Ok(r);
            }
        }
        let mut r = self.exchange(last, cmd.ins)?;
        // A command carrying a PIN or PUK is sent once: a `6C xx` to it is the card's error,
        // never a reason to send the secret again (found by fuzz/ card target).
        let carries_secret = cmd.is_sensitive() && !cmd.data.is_empty();
        if let (StatusWord::WrongLe(n), false) = (r.sw, carries_secret) {
            let mut again = last.clone();
            again.le = Some(le_to_len(n));
            r = self.exchange(&again, cmd.ins)?;
        }
        self.collect(last.cla, cmd.ins, r)
    }

    /// Sends `cmd` through the reader's PIN pad (PC/SC part 10): the reader writes the PINs
    /// typed on its keypad over the pad-filled blocks of `cmd.data` at the offsets of `op`
    /// and sends the command itself. The PIN never passes through the host. A cancelled or
    /// timed-out entry → `PinEntryCancelled`; differing or badly sized entries →
    /// `PinEntryInvalid`; a reader without a keypad → `Transport(Unsupported)`.
    pub fn pin_pad(
        &mut self,
        cmd: &Command,
        op: PinPadOp,
        min_len: u8,
        max_len: u8,
        block_len: u8,
    ) -> Result<Response, CardError> {
        let mut on_channel = cmd.clone();
        if is_first_interindustry(cmd.cla) {
            on_channel.cla = cla_with_channel(cmd.cla, self.logical)?;
        }
        let request = PinPadRequest {
            op,
            apdu: on_channel.encode(self.protocol)?,
            min_len,
            max_len,
            block_len,
        };
        log::trace!("> {} via the PIN pad", hex(&request.apdu[..4]));
        let raw = self.transport.pin_pad(&request)?;
        self.trace.apdus += 1;
        self.trace.bytes_sent += request.apdu.len();
        self.trace.bytes_received += raw.len();
        let response = Response::from_raw(&raw)?;
        log::trace!("< {} (PIN pad)", response.sw);
        match response.sw.to_u16() {
            pinpad_sw::TIMEOUT | pinpad_sw::CANCELLED => Err(CardError::PinEntryCancelled),
            pinpad_sw::MISMATCH | pinpad_sw::TOO_SHORT_OR_LONG => Err(CardError::PinEntryInvalid),
            _ => Ok(response),
        }
    }

    /// The GET RESPONSE loop after `61 xx` / `9F xx`.
    fn collect(&mut self, cla: u8, origin_ins: u8, first: Response) -> Result<Response, CardError> {
        let Response { mut data, mut sw } = first;
        let mut rounds = 0;
        while let Some(n) = sw.pending_bytes() {
            rounds += 1;
            if rounds > MAX_GET_RESPONSE_ROUNDS {
                return Err(CardError::Malformed("too many GET RESPONSE rounds"));
            }
            let gr_cla = match sw {
                StatusWord::Cps2terMoreData(_) => CLA_CPS2TER,
                _ if is_first_interindustry(cla) => cla & !CLA_CHAINING,
                _ => cla,
            };
            let mut r = self.exchange(&Command::get_response(gr_cla, n), origin_ins)?;
            if let StatusWord::WrongLe(m) = r.sw {
                rounds += 1;
                r = self.exchange(&Command::get_response(gr_cla, le_to_len(m)), origin_ins)?;
            }
            if data.len() + r.data.len() > MAX_RESPONSE_BYTES {
                return Err(CardError::Malformed("response longer than 64 KiB"));
            }
            data.extend_from_slice(&r.data);
            sw = r.sw;
        }
        Ok(Response { data, sw })
    }

    /// One C-APDU out, one R-APDU in: encoding, counters, trace, log.
    fn exchange(&mut self, cmd: &Command, origin_ins: u8) -> Result<Response, CardError> {
        let wire = Zeroizing::new(cmd.encode(self.protocol)?);
        let show_data = is_loggable_ins(origin_ins);
        if log::log_enabled!(log::Level::Trace) {
            let head = &wire[..4];
            if cmd.data.is_empty() {
                log::trace!("> {} Le={:?}", hex(head), cmd.le);
            } else if show_data && !cmd.is_sensitive() {
                log::trace!("> {} Lc={} {}", hex(head), cmd.data.len(), hex(&cmd.data));
            } else {
                log::trace!("> {} Lc={}", hex(head), cmd.data.len());
            }
        }
        let raw = Zeroizing::new(self.transport.transmit(&wire)?);
        self.trace.apdus += 1;
        self.trace.bytes_sent += wire.len();
        self.trace.bytes_received += raw.len();
        if self.recording {
            let redacted = is_sensitive_ins(cmd.ins) && !cmd.data.is_empty();
            let mut command = wire.to_vec();
            if redacted {
                // Header (4) and Lc (1), then the data.
                let end = (5 + cmd.data.len()).min(command.len());
                command[5..end].fill(MASK_BYTE);
            }
            self.trace.entries.push(TraceEntry {
                command,
                redacted,
                response: raw.to_vec(),
            });
        }
        let response = Response::from_raw(&raw)?;
        if log::log_enabled!(log::Level::Trace) {
            if show_data && !response.data.is_empty() {
                log::trace!("< {} {}", response.sw, hex(&response.data));
            } else {
                log::trace!("< {} ({} bytes)", response.sw, response.data.len());
            }
        }
        Ok(response)
    }
}

/// INS whose data (both ways) may be logged: SELECT, READ BINARY, GET DATA.
fn is_loggable_ins(ins: u8) -> bool {
    matches!(
        ins,
        INS_SELECT | INS_READ_BINARY | INS_GET_DATA | INS_GET_DATA_ODD
    )
}

/// Runs `f` inside one card transaction (`Transport::transaction`: ended on every path,
/// error and panic included). The channel starts on logical channel 0 and reports a reset
/// since our last transaction through [`Channel::reset_seen`]. A transaction that cannot
/// begin is the transport's error; `f` then never runs.
pub fn with_transaction<R>(
    transport: &mut dyn Transport,
    protocol: Protocol,
    f: impl FnOnce(&mut Channel<'_>) -> Result<R, CardError>,
) -> Result<R, CardError> {
    let mut f = Some(f);
    let mut outcome = None;
    transport.transaction(&mut |io, reset_seen| {
        let Some(f) = f.take() else { return };
        let mut channel = Channel::new(io, protocol);
        channel.reset_seen = reset_seen;
        outcome = Some(panic::catch_unwind(AssertUnwindSafe(|| f(&mut channel))));
    })?;
    match outcome {
        Some(Ok(result)) => result,
        Some(Err(panic_payload)) => panic::resume_unwind(panic_payload),
        None => Err(TransportError::Io("the transaction body did not run".into()).into()),
    }
}

#[cfg(test)]
mod tests;
