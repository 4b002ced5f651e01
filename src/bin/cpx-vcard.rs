//! cpx-vcard: puts a simulated CPx card into vsmartcard's vpcd reader, so that real pcscd
//! clients (our module through PC/SC, OpenSC, pcsc-tools) talk to the simulator.
//!
//! ```text
//! cpx-vcard --card <persona|dir> [--vpcd HOST:PORT | --port PORT] [--trace FILE]
//!           [--fault N:KIND]... [--latency] [--wait SECS] [--removed] [--quiet|--verbose]
//! ```
//!
//! * SIGUSR1 toggles the card: remove (close the connection) / insert (connect again).
//! * SIGTERM, SIGINT: clean exit (the trace file is complete at every moment anyway: it is
//!   appended and flushed after every exchange).
//! * The card state (PIN counters, files) lives as long as the process; vpcd power cycles
//!   and removals keep it, as a real card's EEPROM would.
#![forbid(unsafe_code)]

use cpx_pkcs11::sim::faults::parse_spec;
use cpx_pkcs11::sim::vpcd::{self, Link, SessionEnd};
use cpx_pkcs11::sim::SimCard;
use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const USAGE: &str = "\
usage: cpx-vcard --card <persona|dir> [options]

  --card NAME|DIR     persona under fixtures/cards (or $CPX_SIM_FIXTURES), or a persona directory
  --vpcd HOST:PORT    vpcd address (default 127.0.0.1:35963 = reader \"Virtual PCD 00 00\")
  --port PORT         same as --vpcd 127.0.0.1:PORT (35964 = \"Virtual PCD 00 01\")
  --trace FILE        append every C-APDU/R-APDU (PIN data masked) and card event to FILE
  --fault N:KIND      inject a fault at the N-th APDU: remove, reset, sw=XXXX, truncate=N
                      (repeatable)
  --latency           model the card's speed (sleep per APDU and per RSA operation)
  --wait SECS         how long to retry connecting to vpcd (default 30; 0 = forever)
  --removed           start with the card out of the reader (SIGUSR1 inserts it)
  --quiet, --verbose  less / more logging on stderr

signals: SIGUSR1 toggles removal/insertion; SIGTERM/SIGINT exit cleanly.
";

/// The smallest stderr logger (no extra dependency).
struct StderrLogger;

static LOGGER: StderrLogger = StderrLogger;
static LEVEL: AtomicU8 = AtomicU8::new(3);

impl log::Log for StderrLogger {
    fn enabled(&self, m: &log::Metadata) -> bool {
        (m.level() as u8) <= LEVEL.load(Ordering::Relaxed)
    }
    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            eprintln!(
                "cpx-vcard: {}: {}",
                r.level().as_str().to_lowercase(),
                r.args()
            );
        }
    }
    fn flush(&self) {}
}

struct Args {
    card: String,
    addr: String,
    trace: Option<String>,
    faults: Vec<String>,
    latency: bool,
    wait: Option<Duration>,
    start_removed: bool,
    level: log::LevelFilter,
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args {
        card: String::new(),
        addr: vpcd::DEFAULT_ADDR.to_string(),
        trace: None,
        faults: Vec::new(),
        latency: false,
        wait: Some(Duration::from_secs(30)),
        start_removed: false,
        level: log::LevelFilter::Info,
    };
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || -> Result<String, String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it.next().ok_or_else(|| format!("{flag} needs a value")),
            }
        };
        match flag.as_str() {
            "--card" => a.card = value()?,
            "--vpcd" => a.addr = value()?,
            "--port" => {
                let p: u16 = value()?.parse().map_err(|_| "--port: not a port number")?;
                a.addr = format!("127.0.0.1:{p}");
            }
            "--trace" => a.trace = Some(value()?),
            "--fault" => a.faults.push(value()?),
            "--latency" => a.latency = true,
            "--wait" => {
                let s: u64 = value()?.parse().map_err(|_| "--wait: not a number")?;
                a.wait = (s > 0).then(|| Duration::from_secs(s));
            }
            "--removed" => a.start_removed = true,
            "--quiet" | "-q" => a.level = log::LevelFilter::Warn,
            "--verbose" | "-v" => a.level = log::LevelFilter::Debug,
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if a.card.is_empty() {
        return Err("--card is required".into());
    }
    Ok(a)
}

/// The trace file: what the simulator recorded since the last flush, appended and flushed.
struct TraceSink {
    file: Option<File>,
    trace: cpx_pkcs11::sim::Trace,
}

impl TraceSink {
    fn flush(&mut self) {
        let text = self.trace.render();
        if text.is_empty() {
            return;
        }
        // The card lives on this thread only: nothing is recorded between render and clear.
        self.trace.clear();
        if let Some(f) = &mut self.file {
            if let Err(e) = f.write_all(text.as_bytes()).and_then(|_| f.flush()) {
                log::error!("trace file: {e}");
            }
        }
    }

    fn note(&mut self, what: &str) {
        self.flush();
        if let Some(f) = &mut self.file {
            let _ = writeln!(f, "# {} {what}", unix_time()).and_then(|_| f.flush());
        }
    }
}

fn unix_time() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:06}", d.as_secs(), d.subsec_micros())
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprint!("cpx-vcard: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    LEVEL.store(args.level as u8, Ordering::Relaxed);
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(args.level);
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    let mut card = SimCard::load(&args.card)?;
    for spec in &args.faults {
        let f = parse_spec(spec)?;
        card.inject(f.at_apdu, f.kind);
    }
    if args.latency {
        let mut l = card.profile().latency.clone();
        l.enabled = true;
        l.sleep = true;
        card.set_latency(l);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let toggle = Arc::new(AtomicBool::new(false));
    for sig in [SIGTERM, SIGINT] {
        signal_hook::flag::register(sig, stop.clone()).map_err(|e| format!("signal: {e}"))?;
    }
    signal_hook::flag::register(SIGUSR1, toggle.clone()).map_err(|e| format!("signal: {e}"))?;

    let file = match &args.trace {
        Some(p) => Some(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| format!("trace file {p}: {e}"))?,
        ),
        None => None,
    };
    let mut sink = TraceSink {
        file,
        trace: card.trace(),
    };
    sink.note(&format!(
        "cpx-vcard pid {} card {} ({}) vpcd {}; times below in µs since this line",
        std::process::id(),
        args.card,
        card.profile().persona,
        args.addr
    ));

    let mut inserted = !args.start_removed;
    if !inserted {
        card.remove();
        log::info!("card {} out of the reader; SIGUSR1 inserts it", args.card);
    }
    let result = session_loop(&args, &mut card, &mut inserted, &stop, &toggle, &mut sink);
    card.power_off();
    sink.note(&format!(
        "cpx-vcard exit ({})",
        if result.is_ok() { "ok" } else { "error" }
    ));
    result
}

fn session_loop(
    args: &Args,
    card: &mut SimCard,
    inserted: &mut bool,
    stop: &AtomicBool,
    toggle: &AtomicBool,
    sink: &mut TraceSink,
) -> Result<(), String> {
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        if toggle.swap(false, Ordering::Relaxed) {
            *inserted = !*inserted;
            if *inserted {
                log::info!("SIGUSR1: inserting the card");
            }
        }
        if !*inserted {
            std::thread::sleep(vpcd::POLL_INTERVAL);
            continue;
        }
        if !card.is_present() {
            card.insert();
        }
        let mut link = match Link::connect(&args.addr, args.wait, || {
            stop.load(Ordering::Relaxed) || toggle.load(Ordering::Relaxed)
        }) {
            Ok(l) => l,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.to_string()),
        };
        log::info!("card {} inserted in vpcd {}", args.card, args.addr);
        sink.note("connected to vpcd");
        let end = vpcd::serve(&mut link, card, |_| {
            sink.flush();
            stop.load(Ordering::Relaxed) || toggle.load(Ordering::Relaxed)
        });
        link.close();
        match end {
            Ok(SessionEnd::Stopped) => {
                if toggle.swap(false, Ordering::Relaxed) {
                    log::info!("SIGUSR1: removing the card");
                    card.remove();
                    *inserted = false;
                }
            }
            Ok(SessionEnd::Closed) => {
                log::warn!("vpcd closed the connection; reconnecting");
                card.power_off();
                sink.note("vpcd closed the connection");
            }
            Ok(SessionEnd::Removed) => {
                log::info!("fault: card removed; SIGUSR1 inserts it again");
                *inserted = false;
            }
            Ok(SessionEnd::Reset) => {
                // vpcd cannot carry a card-side reset: show pcscd a removal and an insertion.
                log::info!("fault: card reset; reconnecting after pcscd saw the card leave");
                sink.note("card reset by fault: reconnecting");
                card.power_off();
                std::thread::sleep(Duration::from_millis(1000));
            }
            Err(e) => {
                log::warn!("vpcd connection: {e}; reconnecting");
                card.power_off();
                sink.note(&format!("vpcd connection error: {e}"));
                std::thread::sleep(vpcd::POLL_INTERVAL);
            }
        }
        sink.flush();
    }
}
