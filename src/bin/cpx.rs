//! `cpx`: command-line tool for people and support desks. It reads a CPx card through the
//! same card layer as the PKCS#11 module and never changes the card: no PIN is asked for or
//! sent (the PIN counters come from VERIFY without data, which costs no try), nothing is
//! written.
//!
//! ```text
//! cpx [--json] readers                      readers, card present, ATR, CPx or not
//! cpx [--json] info [--reader NAME]         token, certificates, keys, data objects, PIN counters
//! cpx [--json] pin-status [--reader NAME]   PIN tries left / max, unblock uses left
//! cpx [--json] trace [--reader NAME] [--full]   `info`, then the APDU exchange (PIN data masked)
//! cpx register|unregister firefox|chromium|nss|all   the module in the user's NSS databases
//! ```
//!
//! Readers are PC/SC ones; a build with the `sim` feature uses the simulated cards of
//! `CPX_SIM_CARDS` instead when that variable is set (the module's rule,
//! `transport::readers_from_config`).
//! `--reader` takes a reader's full name or a unique part of it (case-insensitive); without
//! it, the first reader holding a card with a CPx ATR is used.
//!
//! Exit status: 0 success, 1 error (message on stderr), 2 usage error.
#![forbid(unsafe_code)]

#[path = "cpx/json.rs"]
mod json;
#[path = "cpx/recorder.rs"]
mod recorder;
#[path = "cpx/register.rs"]
mod register;
#[path = "cpx/report.rs"]
mod report;

use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, Parser, Subcommand};
use cpx_pkcs11::apdu::CardError;
use cpx_pkcs11::config::Config;
use cpx_pkcs11::cpx::{layout, CpxCard};
use cpx_pkcs11::transport::{readers_from_config, ReaderInfo, Readers, Transport, TransportError};

use json::Json;
use recorder::{Recorder, Recording};
use report::{Info, Pin};

/// Reads CPx health-professional cards (CPS3, CPS4): readers, token contents, PIN
/// counters. Never asks for a PIN and never changes the card.
#[derive(Debug, Parser)]
#[command(name = "cpx", version)]
struct Cli {
    /// Machine-readable output (JSON)
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the readers: card present, ATR, whether it looks like a CPx card
    Readers,
    /// Show the card: token, certificates, keys, data objects, PIN counters
    Info(CardArgs),
    /// Show the PIN counters only (costs no PIN try)
    PinStatus(CardArgs),
    /// Run `info`, then show every APDU exchanged with the card (PIN data masked)
    Trace {
        #[command(flatten)]
        card: CardArgs,
        /// Show response data in full (default: the first 32 bytes)
        #[arg(long)]
        full: bool,
    },
    /// Register the PKCS#11 module in the user's NSS databases (Firefox, Chromium)
    Register(register::RegisterArgs),
    /// Remove the module from the user's NSS databases
    Unregister(register::UnregisterArgs),
}

#[derive(Debug, Args)]
struct CardArgs {
    /// Reader to use: its full name or a unique part of it (default: the first reader
    /// holding a CPx card)
    #[arg(long, value_name = "NAME")]
    reader: Option<String>,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with status 0; usage errors to stderr with 2.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    panic::set_hook(Box::new(|info| {
        eprintln!("cpx: internal error: {info}");
    }));
    let result = panic::catch_unwind(AssertUnwindSafe(|| run(&cli)));
    match result {
        Ok(Ok(output)) => match io::stdout().lock().write_all(output.as_bytes()) {
            Ok(()) => ExitCode::SUCCESS,
            // `cpx info | head`: the reader went away; nothing more to say.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("cpx: error: writing the output: {e}");
                ExitCode::FAILURE
            }
        },
        Ok(Err(message)) => {
            eprintln!("cpx: error: {message}");
            ExitCode::FAILURE
        }
        // The hook already printed the message.
        Err(_) => ExitCode::FAILURE,
    }
}

/// Runs one command; returns what to print on stdout, or the error message.
fn run(cli: &Cli) -> Result<String, String> {
    match &cli.command {
        Command::Register(args) => return register::register(args),
        Command::Unregister(args) => return register::unregister(args),
        _ => {}
    }
    let config = Config::from_env();
    cpx_pkcs11::log::init(&config);
    let mut readers = open_readers(&config)?;
    match &cli.command {
        Command::Readers => {
            let list = list_readers(readers.as_mut())?;
            Ok(if cli.json {
                report::readers_json(&list).render()
            } else {
                report::readers_text(&list)
            })
        }
        Command::Info(args) => card_report(cli.json, readers.as_mut(), args, None),
        Command::PinStatus(args) => {
            let (reader, mut card) = bind(readers.as_mut(), args, None)?;
            let pin = match read_pin(&mut card) {
                Pin::Unreadable(e) => return Err(format!("reading the PIN counters: {e}")),
                pin => pin,
            };
            Ok(if cli.json {
                report::pin_status_json(&reader, card.contents(), &pin).render()
            } else {
                report::pin_status_text(&reader, card.contents(), &pin)
            })
        }
        Command::Trace { card: args, full } => {
            card_report(cli.json, readers.as_mut(), args, Some(*full))
        }
        // Handled above, before the readers are opened.
        Command::Register(_) | Command::Unregister(_) => Ok(String::new()),
    }
}

/// `info`: the card's token, objects and PIN counters; with `trace = Some(full)` (`trace`),
/// then every APDU exchanged meanwhile.
fn card_report(
    json: bool,
    readers: &mut dyn Readers,
    args: &CardArgs,
    trace: Option<bool>,
) -> Result<String, String> {
    let recording = trace.map(|_| Recording::default());
    let (reader, mut card) = bind(readers, args, recording.clone())?;
    let pin = read_pin(&mut card);
    let info = Info {
        reader: &reader,
        contents: card.contents(),
        pin,
        now: now(),
    };
    let (Some(full), Some(recording)) = (trace, recording) else {
        return Ok(if json {
            info.json().render()
        } else {
            info.text()
        });
    };
    let events = recording.events();
    let count = card.apdu_count();
    if json {
        let mut j = info.json();
        if let Json::Obj(members) = &mut j {
            members.push(("trace", report::trace_json(&events, count)));
        }
        return Ok(j.render());
    }
    let mut out = info.text();
    out.push('\n');
    out.push_str(&report::trace_text(&events, count, full));
    Ok(out)
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The readers the module would drive (`transport::readers_from_config`).
fn open_readers(config: &Config) -> Result<Box<dyn Readers>, String> {
    #[cfg(not(feature = "sim"))]
    if std::env::var_os("CPX_SIM_CARDS").is_some() {
        eprintln!("cpx: warning: CPX_SIM_CARDS ignored (this build has no simulator)");
    }
    readers_from_config(config)
}

fn list_readers(readers: &mut dyn Readers) -> Result<Vec<ReaderInfo>, String> {
    readers
        .list()
        .map_err(|e| format!("listing the readers: {e}"))
}

fn quoted_names(list: &[&ReaderInfo]) -> String {
    list.iter()
        .map(|r| format!("{:?}", r.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The reader to use: `wanted` is a full name or a unique case-insensitive part of one;
/// by default the first reader holding a card with a CPx ATR, else the first holding a card.
fn pick_reader(list: &[ReaderInfo], wanted: Option<&str>) -> Result<ReaderInfo, String> {
    if list.is_empty() {
        return Err(
            "no smart-card reader found (is pcscd running and a reader plugged in?)".into(),
        );
    }
    let all: Vec<&ReaderInfo> = list.iter().collect();
    let chosen = match wanted {
        Some(name) => {
            if let Some(r) = list.iter().find(|r| r.name == name) {
                r
            } else {
                let needle = name.to_lowercase();
                let hits: Vec<&ReaderInfo> = list
                    .iter()
                    .filter(|r| r.name.to_lowercase().contains(&needle))
                    .collect();
                match hits.as_slice() {
                    [one] => *one,
                    [] => {
                        return Err(format!(
                            "no reader named {name:?} (readers: {})",
                            quoted_names(&all)
                        ))
                    }
                    many => {
                        return Err(format!(
                            "reader name {name:?} is ambiguous: it matches {}",
                            quoted_names(many)
                        ))
                    }
                }
            }
        }
        None => list
            .iter()
            .filter(|r| r.card_present)
            .find(|r| layout::match_atr(&r.atr).is_some())
            .or_else(|| list.iter().find(|r| r.card_present))
            .ok_or_else(|| format!("no card in any reader (readers: {})", quoted_names(&all)))?,
    };
    if !chosen.card_present {
        return Err(format!("no card in reader {:?}", chosen.name));
    }
    Ok(chosen.clone())
}

/// Connects to the chosen reader and binds the card (one read of everything public).
fn bind(
    readers: &mut dyn Readers,
    args: &CardArgs,
    recording: Option<Recording>,
) -> Result<(String, CpxCard), String> {
    let list = list_readers(readers)?;
    let reader = pick_reader(&list, args.reader.as_deref())?;
    let name = reader.name;
    let transport = readers
        .connect(&name)
        .map_err(|e| transport_message(&name, &e))?;
    let transport: Box<dyn Transport> = match recording {
        Some(rec) => Box::new(Recorder::new(transport, rec)),
        None => transport,
    };
    let card = CpxCard::bind(transport).map_err(|e| bind_message(&name, &e))?;
    Ok((name, card))
}

fn transport_message(reader: &str, e: &TransportError) -> String {
    match e {
        TransportError::NoCard => format!("no card in reader {reader:?}"),
        TransportError::NoReader => format!("reader {reader:?} is gone"),
        TransportError::Removed => format!("the card was removed from {reader:?}"),
        TransportError::Sharing => {
            format!("the card in {reader:?} is in exclusive use by another application")
        }
        other => format!("reader {reader:?}: {other}"),
    }
}

fn bind_message(reader: &str, e: &CardError) -> String {
    match e {
        CardError::Transport(t) => transport_message(reader, t),
        CardError::UnsupportedCard { atr } => format!(
            "the card in {reader:?} is not a CPx card (ATR {})",
            report::hex_spaced(atr)
        ),
        CardError::LegacyCps2ter { .. } => format!("reader {reader:?}: {e}"),
        other => format!("reading the card in {reader:?} failed: {other}"),
    }
}

/// The PIN counters (VERIFY without data: costs no try).
fn read_pin(card: &mut CpxCard) -> Pin {
    if card.contents().user_pin.is_none() {
        return Pin::Absent;
    }
    match card.pin_status() {
        Ok(s) => Pin::Status(s),
        Err(e) => Pin::Unreadable(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn reader(name: &str, atr: &[u8]) -> ReaderInfo {
        ReaderInfo {
            name: name.into(),
            card_present: !atr.is_empty(),
            atr: atr.to_vec(),
        }
    }

    const CPS3_ATR: &[u8] = &[
        0x3B, 0xAC, 0x00, 0x40, 0x2A, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x03, 0x10, 0x00,
        0x90, 0x00,
    ];

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn default_reader_prefers_a_cpx_card() {
        let list = [
            reader("Empty 0", &[]),
            reader("Bank card 1", &[0x3B, 0x00]),
            reader("CPS 2", CPS3_ATR),
        ];
        assert_eq!(pick_reader(&list, None).unwrap().name, "CPS 2");
        assert_eq!(pick_reader(&list[..2], None).unwrap().name, "Bank card 1");
        let e = pick_reader(&list[..1], None).unwrap_err();
        assert!(e.contains("no card in any reader"), "{e}");
        assert!(pick_reader(&[], None)
            .unwrap_err()
            .contains("no smart-card reader"));
    }

    #[test]
    fn named_reader() {
        let list = [
            reader("Gemalto PC Twin Reader 00 00", CPS3_ATR),
            reader("Virtual PCD 00 00", &[]),
            reader("Virtual PCD 00 01", CPS3_ATR),
        ];
        assert_eq!(
            pick_reader(&list, Some("gemalto")).unwrap().name,
            "Gemalto PC Twin Reader 00 00"
        );
        assert_eq!(
            pick_reader(&list, Some("Virtual PCD 00 01")).unwrap().name,
            "Virtual PCD 00 01"
        );
        let e = pick_reader(&list, Some("virtual")).unwrap_err();
        assert!(e.contains("ambiguous"), "{e}");
        let e = pick_reader(&list, Some("Virtual PCD 00 00")).unwrap_err();
        assert!(e.contains("no card in reader"), "{e}");
        let e = pick_reader(&list, Some("nosuch")).unwrap_err();
        assert!(e.contains("no reader named \"nosuch\""), "{e}");
        assert!(e.contains("Gemalto"), "{e}");
    }
}
