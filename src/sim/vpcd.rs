//! vsmartcard vpcd protocol client (used by `cpx-vcard`).
//!
//! vpcd (the IFD handler that pcscd loads for the "Virtual PCD" readers) listens on TCP port
//! 35963 (reader `Virtual PCD 00 00`) and 35964 (`… 00 01`); a virtual card connects to it.
//! Both directions carry frames made of a 2-byte big-endian length and a payload:
//!
//! * a 1-byte payload from vpcd is a control byte: `00` power off, `01` power on, `02` reset,
//!   `04` get ATR. Only `04` is answered (with the ATR);
//! * a longer payload is a C-APDU, answered with the R-APDU (data ‖ SW1 SW2).
//!
//! Connecting inserts the card; closing the connection removes it.
//!
//! vpcd sends the length and the payload in two `send()` calls with Nagle on, so each payload
//! would wait for our delayed ACK (~40 ms). [`Link`] therefore sets `TCP_NODELAY` and re-arms
//! `TCP_QUICKACK` (not sticky on Linux) before every `recv()`.
//!
//! What the card does with a simulator fault ([`SimFault`]):
//!
//! * `Removed` — nothing is answered and the session ends with [`SessionEnd::Removed`]: the
//!   caller closes the socket (vpcd and pcscd see the card leave).
//! * `Reset` — nothing is answered and the session ends with [`SessionEnd::Reset`]: vpcd has no
//!   way for a card to report a reset, so the caller closes the socket and connects again after
//!   a pause longer than pcscd's presence poll; clients see a removal followed by an insertion
//!   (the card state has been reset by the simulator already).
//! * `Unpowered` — pcscd powers cards lazily: the card is powered on and the command retried.
//!
//! Any other trouble (including a panic in the simulator) is answered `6F 00` and logged: the
//! link never dies because of the card.

use super::{SimCard, SimFault};
use socket2::SockRef;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// vpcd's first reader (`Virtual PCD 00 00`); the second one is on port 35964.
pub const DEFAULT_ADDR: &str = "127.0.0.1:35963";

/// How long a blocked receive waits before giving the caller a chance to look at its flags.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The status word sent when the simulator fails to produce an answer.
pub const SW_NO_PRECISE_DIAGNOSIS: [u8; 2] = [0x6F, 0x00];

/// What a card needs to offer to sit behind vpcd. [`SimCard`] implements it; tests use fakes.
pub trait Icc {
    fn atr(&self) -> Vec<u8>;
    fn power_on(&mut self) -> Vec<u8>;
    fn power_off(&mut self);
    fn reset(&mut self) -> Vec<u8>;
    fn process(&mut self, c_apdu: &[u8]) -> Result<Vec<u8>, SimFault>;
}

impl Icc for SimCard {
    fn atr(&self) -> Vec<u8> {
        SimCard::atr(self)
    }
    fn power_on(&mut self) -> Vec<u8> {
        SimCard::power_on(self)
    }
    fn power_off(&mut self) {
        SimCard::power_off(self)
    }
    fn reset(&mut self) -> Vec<u8> {
        SimCard::reset(self)
    }
    fn process(&mut self, c_apdu: &[u8]) -> Result<Vec<u8>, SimFault> {
        SimCard::process(self, c_apdu)
    }
}

/// One message from vpcd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    PowerOff,
    PowerOn,
    Reset,
    GetAtr,
    /// A control byte this client does not know (logged, not answered).
    UnknownControl(u8),
    /// An empty frame (never sent by vpcd; ignored).
    Empty,
    Apdu(Vec<u8>),
}

impl Request {
    pub fn decode(payload: &[u8]) -> Request {
        match payload {
            [] => Request::Empty,
            [0x00] => Request::PowerOff,
            [0x01] => Request::PowerOn,
            [0x02] => Request::Reset,
            [0x04] => Request::GetAtr,
            [b] => Request::UnknownControl(*b),
            apdu => Request::Apdu(apdu.to_vec()),
        }
    }
}

/// A frame: 2-byte big-endian length, then the payload.
pub fn encode_frame(payload: &[u8]) -> io::Result<Vec<u8>> {
    let len = u16::try_from(payload.len()).map_err(|_| {
        io::Error::new(
            ErrorKind::InvalidInput,
            format!("vpcd frame too long ({} bytes)", payload.len()),
        )
    })?;
    let mut f = Vec::with_capacity(2 + payload.len());
    f.extend_from_slice(&len.to_be_bytes());
    f.extend_from_slice(payload);
    Ok(f)
}

/// What the session must do after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Continue,
    /// The card left the reader: close the connection.
    Removed,
    /// The card was reset behind the reader's back: close, then reconnect.
    Reset,
}

/// Runs one request against the card: the payload to send back (if any) and what to do next.
pub fn answer<C: Icc>(card: &mut C, request: &Request) -> (Option<Vec<u8>>, Next) {
    match request {
        Request::PowerOff => {
            card.power_off();
            (None, Next::Continue)
        }
        Request::PowerOn => {
            card.power_on();
            (None, Next::Continue)
        }
        Request::Reset => {
            card.reset();
            (None, Next::Continue)
        }
        Request::GetAtr => (Some(card.atr()), Next::Continue),
        Request::UnknownControl(b) => {
            log::warn!("vpcd: unknown control byte {b:02X} ignored");
            (None, Next::Continue)
        }
        Request::Empty => {
            log::warn!("vpcd: empty frame ignored");
            (None, Next::Continue)
        }
        Request::Apdu(c_apdu) => match guarded_process(card, c_apdu) {
            Ok(r) => (Some(r), Next::Continue),
            Err(SimFault::Unpowered) => {
                log::info!("vpcd: APDU to an unpowered card: powering it on");
                card.power_on();
                match guarded_process(card, c_apdu) {
                    Ok(r) => (Some(r), Next::Continue),
                    Err(f) => {
                        log::error!("vpcd: simulator fault {f:?} after power-on: answering 6F00");
                        (Some(SW_NO_PRECISE_DIAGNOSIS.to_vec()), Next::Continue)
                    }
                }
            }
            Err(SimFault::Removed) => (None, Next::Removed),
            Err(SimFault::Reset) => (None, Next::Reset),
        },
    }
}

/// `process`, with a simulator panic turned into `6F 00`.
fn guarded_process<C: Icc>(card: &mut C, c_apdu: &[u8]) -> Result<Vec<u8>, SimFault> {
    match panic::catch_unwind(AssertUnwindSafe(|| card.process(c_apdu))) {
        Ok(r) => r,
        Err(e) => {
            let what = e
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| e.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "?".into());
            log::error!(
                "vpcd: simulator panicked on C-APDU {}: {what}; answering 6F00",
                super::trace::hex(&super::trace::mask_command(c_apdu))
            );
            Ok(SW_NO_PRECISE_DIAGNOSIS.to_vec())
        }
    }
}

/// Result of one receive attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Recv {
    Frame(Vec<u8>),
    /// vpcd closed the connection.
    Closed,
    /// Nothing complete arrived within [`POLL_INTERVAL`].
    Idle,
}

/// A connection to vpcd.
pub struct Link {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Link {
    /// Wraps a connected stream: `TCP_NODELAY`, short read timeout.
    pub fn new(stream: TcpStream) -> io::Result<Link> {
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(POLL_INTERVAL))?;
        Ok(Link {
            stream,
            buf: Vec::new(),
        })
    }

    /// Connects to vpcd, retrying until `wait` elapses (`None` = forever) or `give_up()` says so.
    pub fn connect(
        addr: &str,
        wait: Option<Duration>,
        mut give_up: impl FnMut() -> bool,
    ) -> io::Result<Link> {
        let start = Instant::now();
        let mut last_err = None;
        loop {
            if give_up() {
                return Err(io::Error::new(ErrorKind::Interrupted, "connect abandoned"));
            }
            match Self::try_connect(addr) {
                Ok(s) => return Link::new(s),
                Err(e) => {
                    if last_err.as_ref().map(|l: &io::Error| l.kind()) != Some(e.kind()) {
                        log::info!("vpcd: {addr}: {e}; retrying");
                    }
                    last_err = Some(e);
                }
            }
            if wait.is_some_and(|w| start.elapsed() >= w) {
                let e = last_err.unwrap_or_else(|| io::Error::from(ErrorKind::TimedOut));
                return Err(io::Error::new(
                    e.kind(),
                    format!("vpcd at {addr} not reachable: {e}"),
                ));
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    fn try_connect(addr: &str) -> io::Result<TcpStream> {
        let mut last = io::Error::new(ErrorKind::InvalidInput, format!("{addr}: no address"));
        for a in addr.to_socket_addrs()? {
            match TcpStream::connect_timeout(&a, Duration::from_secs(2)) {
                Ok(s) => return Ok(s),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Receives one frame, waiting at most about [`POLL_INTERVAL`]. A partial frame is kept
    /// for the next call.
    pub fn recv(&mut self) -> io::Result<Recv> {
        loop {
            if let Some(frame) = self.take_frame() {
                return Ok(Recv::Frame(frame));
            }
            // Not sticky on Linux: re-armed before every receive (vpcd's Nagle, see above).
            SockRef::from(&self.stream).set_quickack(true)?;
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(Recv::Closed),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Ok(Recv::Idle)
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => return Ok(Recv::Idle),
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(Recv::Closed),
                Err(e) => return Err(e),
            }
        }
    }

    fn take_frame(&mut self) -> Option<Vec<u8>> {
        if self.buf.len() < 2 {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([self.buf[0], self.buf[1]]));
        if self.buf.len() < 2 + len {
            return None;
        }
        let frame = self.buf[2..2 + len].to_vec();
        self.buf.drain(..2 + len);
        Some(frame)
    }

    /// Sends one frame (a single write, so a single segment with `TCP_NODELAY`).
    pub fn send(&mut self, payload: &[u8]) -> io::Result<()> {
        self.stream.write_all(&encode_frame(payload)?)?;
        self.stream.flush()
    }

    /// Closes the connection (vpcd sees the card leave).
    pub fn close(self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// Why [`serve`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    /// vpcd closed the connection (pcscd stopped, or vpcd dropped us).
    Closed,
    /// The simulator removed the card (fault injection).
    Removed,
    /// The simulator reset the card (fault injection).
    Reset,
    /// `between()` asked to leave.
    Stopped,
}

/// Serves vpcd until the connection ends, the card leaves, or `between()` returns `true`.
/// `between()` runs after every exchange and at least every [`POLL_INTERVAL`] when idle
/// (flush logs, look at signal flags there).
pub fn serve<C: Icc>(
    link: &mut Link,
    card: &mut C,
    mut between: impl FnMut(&mut C) -> bool,
) -> io::Result<SessionEnd> {
    loop {
        if between(card) {
            return Ok(SessionEnd::Stopped);
        }
        let payload = match link.recv()? {
            Recv::Frame(p) => p,
            Recv::Idle => continue,
            Recv::Closed => return Ok(SessionEnd::Closed),
        };
        let request = Request::decode(&payload);
        let (reply, next) = answer(card, &request);
        if let Some(reply) = reply {
            link.send(&reply)?;
        }
        match next {
            Next::Continue => {}
            Next::Removed => {
                between(card);
                return Ok(SessionEnd::Removed);
            }
            Next::Reset => {
                between(card);
                return Ok(SessionEnd::Reset);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    /// A card that echoes APDUs back with `90 00`, and can be told to fail.
    #[derive(Default)]
    struct FakeCard {
        powered: bool,
        log: Vec<String>,
        fail_with: Option<SimFault>,
        panic_on: Option<u8>,
    }

    const ATR: [u8; 4] = [0x3B, 0x02, 0x14, 0x50];

    impl Icc for FakeCard {
        fn atr(&self) -> Vec<u8> {
            ATR.to_vec()
        }
        fn power_on(&mut self) -> Vec<u8> {
            self.powered = true;
            self.log.push("on".into());
            ATR.to_vec()
        }
        fn power_off(&mut self) {
            self.powered = false;
            self.log.push("off".into());
        }
        fn reset(&mut self) -> Vec<u8> {
            self.powered = true;
            self.log.push("reset".into());
            ATR.to_vec()
        }
        fn process(&mut self, c: &[u8]) -> Result<Vec<u8>, SimFault> {
            if Some(c[1]) == self.panic_on {
                panic!("boom");
            }
            if let Some(f) = self.fail_with.take() {
                return Err(f);
            }
            if !self.powered {
                return Err(SimFault::Unpowered);
            }
            let mut r = c.to_vec();
            r.extend_from_slice(&[0x90, 0x00]);
            Ok(r)
        }
    }

    /// A fake vpcd: listens on loopback, accepts the card, runs `script` on the connection.
    fn fake_vpcd<T: Send + 'static>(
        script: impl FnOnce(TcpStream) -> T + Send + 'static,
    ) -> (String, thread::JoinHandle<T>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let h = thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            script(s)
        });
        (addr, h)
    }

    fn send(s: &mut TcpStream, payload: &[u8]) {
        // Like vpcd: the length and the payload in two writes.
        s.write_all(&(payload.len() as u16).to_be_bytes()).unwrap();
        s.write_all(payload).unwrap();
    }

    fn recv(s: &mut TcpStream) -> Vec<u8> {
        let mut h = [0u8; 2];
        s.read_exact(&mut h).unwrap();
        let mut p = vec![0u8; usize::from(u16::from_be_bytes(h))];
        s.read_exact(&mut p).unwrap();
        p
    }

    #[test]
    fn requests_decode() {
        assert_eq!(Request::decode(&[0]), Request::PowerOff);
        assert_eq!(Request::decode(&[1]), Request::PowerOn);
        assert_eq!(Request::decode(&[2]), Request::Reset);
        assert_eq!(Request::decode(&[4]), Request::GetAtr);
        assert_eq!(Request::decode(&[3]), Request::UnknownControl(3));
        assert_eq!(Request::decode(&[]), Request::Empty);
        assert_eq!(
            Request::decode(&[0, 0x84, 0, 0, 8]),
            Request::Apdu(vec![0, 0x84, 0, 0, 8])
        );
    }

    #[test]
    fn frames_encode() {
        assert_eq!(encode_frame(&[0x90, 0x00]).unwrap(), vec![0, 2, 0x90, 0x00]);
        assert_eq!(encode_frame(&[]).unwrap(), vec![0, 0]);
        let big = vec![0u8; 300];
        assert_eq!(&encode_frame(&big).unwrap()[..2], &[0x01, 0x2C]);
        assert!(encode_frame(&vec![0u8; 65536]).is_err());
    }

    #[test]
    fn a_session_over_tcp() {
        let (addr, vpcd) = fake_vpcd(|mut s| {
            send(&mut s, &[0x04]);
            let atr = recv(&mut s);
            send(&mut s, &[0x01]);
            send(&mut s, &[0x00, 0x84, 0x00, 0x00, 0x08]);
            let r1 = recv(&mut s);
            // Two frames in one segment, and a frame split across writes.
            let mut both = encode_frame(&[0x00, 0xB0, 0x00, 0x00, 0x01]).unwrap();
            both.extend(encode_frame(&[0x02]).unwrap());
            s.write_all(&both).unwrap();
            let r2 = recv(&mut s);
            let big = vec![0x5Au8; 600];
            let f = encode_frame(&big).unwrap();
            s.write_all(&f[..1]).unwrap();
            thread::sleep(Duration::from_millis(250));
            s.write_all(&f[1..300]).unwrap();
            thread::sleep(Duration::from_millis(50));
            s.write_all(&f[300..]).unwrap();
            let r3 = recv(&mut s);
            send(&mut s, &[0x00]);
            (atr, r1, r2, r3.len())
        });
        let mut link = Link::connect(&addr, Some(Duration::from_secs(5)), || false).unwrap();
        let mut card = FakeCard::default();
        let end = serve(&mut link, &mut card, |_| false).unwrap();
        assert_eq!(end, SessionEnd::Closed);
        let (atr, r1, r2, r3_len) = vpcd.join().unwrap();
        assert_eq!(atr, ATR);
        assert_eq!(r1, vec![0x00, 0x84, 0x00, 0x00, 0x08, 0x90, 0x00]);
        assert_eq!(r2, vec![0x00, 0xB0, 0x00, 0x00, 0x01, 0x90, 0x00]);
        assert_eq!(r3_len, 602);
        assert_eq!(card.log, ["on", "reset", "off"]);
    }

    #[test]
    fn an_unpowered_card_is_powered_on_and_a_panic_answers_6f00() {
        let (addr, vpcd) = fake_vpcd(|mut s| {
            send(&mut s, &[0x00, 0xA4, 0x00, 0x00]);
            let r1 = recv(&mut s);
            send(&mut s, &[0x00, 0xEE, 0x00, 0x00]);
            let r2 = recv(&mut s);
            send(&mut s, &[0x00, 0x20, 0x00, 0x01]);
            let r3 = recv(&mut s);
            (r1, r2, r3)
        });
        let mut link = Link::connect(&addr, Some(Duration::from_secs(5)), || false).unwrap();
        let mut card = FakeCard {
            panic_on: Some(0xEE),
            ..Default::default()
        };
        // (The fake card's panic message below is expected.)
        let end = serve(&mut link, &mut card, |_| false).unwrap();
        assert_eq!(end, SessionEnd::Closed);
        let (r1, r2, r3) = vpcd.join().unwrap();
        assert_eq!(r1, vec![0x00, 0xA4, 0x00, 0x00, 0x90, 0x00]);
        assert_eq!(r2, SW_NO_PRECISE_DIAGNOSIS);
        assert_eq!(r3, vec![0x00, 0x20, 0x00, 0x01, 0x90, 0x00]);
        assert_eq!(card.log, ["on"]);
    }

    #[test]
    fn removal_and_reset_end_the_session_without_an_answer() {
        for (fault, expected) in [
            (SimFault::Removed, SessionEnd::Removed),
            (SimFault::Reset, SessionEnd::Reset),
        ] {
            let (addr, vpcd) = fake_vpcd(|mut s| {
                send(&mut s, &[0x01]);
                send(&mut s, &[0x00, 0xA4, 0x00, 0x00]);
                let mut b = [0u8; 1];
                // The card closes without answering.
                s.read(&mut b).unwrap()
            });
            let mut link = Link::connect(&addr, Some(Duration::from_secs(5)), || false).unwrap();
            let mut card = FakeCard {
                fail_with: Some(fault),
                ..Default::default()
            };
            assert_eq!(serve(&mut link, &mut card, |_| false).unwrap(), expected);
            link.close();
            assert_eq!(vpcd.join().unwrap(), 0);
        }
    }

    #[test]
    fn between_can_stop_an_idle_session() {
        let (addr, vpcd) = fake_vpcd(|mut s| {
            let mut b = [0u8; 1];
            s.read(&mut b).unwrap()
        });
        let mut link = Link::connect(&addr, Some(Duration::from_secs(5)), || false).unwrap();
        let mut card = FakeCard::default();
        let mut calls = 0;
        let end = serve(&mut link, &mut card, |_| {
            calls += 1;
            calls > 3
        })
        .unwrap();
        assert_eq!(end, SessionEnd::Stopped);
        link.close();
        assert_eq!(vpcd.join().unwrap(), 0);
    }

    #[test]
    fn connect_retries_then_gives_up() {
        // A port that was just free: nothing listens there.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let t = Instant::now();
        assert!(Link::connect(&addr, Some(Duration::from_millis(300)), || false).is_err());
        assert!(t.elapsed() >= Duration::from_millis(300));
        let e = Link::connect(&addr, None, || true).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::Interrupted);
        // A listener that appears later is found.
        let later = thread::spawn(move || {
            thread::sleep(Duration::from_millis(250));
            let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
            let _ = l.accept().unwrap();
        });
        assert!(Link::connect(&addr, Some(Duration::from_secs(5)), || false).is_ok());
        later.join().unwrap();
    }
}
