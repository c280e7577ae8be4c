//! `kellect live`: record and print at once. The recorder ([`recorder::Session`]) feeds
//! every block it stores to a replay [`Engine`] on another thread — the same blocks, in the
//! same order, that `kellect replay` reads from the file, so both print the same. Linux
//! only (feature `record`).

use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::recorder::{self, CommandOutput, RecordConfig, RecordOutcome, TapItem};
use crate::replayer::render::output::{Collectors, Sink};
use crate::replayer::{decode_raw_frame, is_broken_pipe, Engine, ReplayConfig};

/// How often a frame is closed and a time mark written in live mode: records appear well
/// within a second.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(250);

/// A validated `kellect live` configuration.
#[derive(Debug)]
pub struct LiveConfig {
    /// What to capture; `output` is the `-w` trace file (`None`: keep none). [`live`] sets
    /// `tap`, `flush_interval` ([`FLUSH_INTERVAL`]) and `verbose` (off) itself.
    pub record: RecordConfig,
    /// What to print and how (`inputs` is ignored: the input is the recording).
    pub replay: ReplayConfig,
    /// `-u`: also send every record or event as one UDP datagram to these.
    pub collectors: Vec<SocketAddr>,
    /// `--udp-rate`: datagrams per second to the collectors in all (0: unpaced).
    pub udp_rate: u32,
    /// `--syslog-tcp`: syslog collectors over TCP (RFC 6587 octet counting).
    pub syslog_tcp: Vec<SocketAddr>,
    /// `-q`: print nothing on stdout (the collectors still get everything).
    pub quiet: bool,
}

/// What a live session produced.
pub struct LiveOutcome {
    /// The recording's outcome (its [`RecordOutcome::stop`] says why it ended).
    pub record: RecordOutcome,
    /// Warnings of the replay engine (damage, lost records), unescaped: escape them before
    /// printing to a terminal.
    pub warnings: Vec<String>,
    /// The `-u` collectors as the output left them (their send and failure counts).
    pub collectors: Option<Collectors>,
}

/// Records with `cfg.record` and prints what `cfg.replay` asks for on `out` (line by
/// line), until the recording stops. With a command and no `command_output` chosen, the
/// command's stdout and stderr go to kellect's stderr, so `out` carries only kellect's
/// output. Output that ends (a closed pipe) ends the recording, without an error.
///
/// Errors: those of [`recorder::Session`] (privileges, the `-w` file, a failed write), the
/// UDP socket for `-u`, and output errors other than a closed pipe.
pub fn live<W: Write + Send>(cfg: LiveConfig, out: W) -> Result<LiveOutcome> {
    let LiveConfig {
        record: mut rec,
        replay,
        collectors,
        udp_rate,
        syslog_tcp,
        quiet,
    } = cfg;
    rec.verbose = false;
    // The command's output must not mix with the records on stdout.
    if rec.command_output == CommandOutput::Inherit {
        rec.command_output = CommandOutput::Stderr;
    }
    rec.flush_interval = FLUSH_INTERVAL;
    let (tap_tx, tap_rx) = sync_channel::<TapItem>(256);
    rec.tap = Some(tap_tx);
    let collectors = Collectors::open(collectors, udp_rate, &syslog_tcp)
        .context("opening the UDP socket for -u")?;
    let stop = rec.stop.clone();
    std::thread::scope(|scope| {
        let printer = std::thread::Builder::new()
            .name("kellect-live".into())
            .spawn_scoped(
                scope,
                move || -> Result<(Vec<String>, Option<Collectors>)> {
                    // However printing ends (a closed pipe too), recording ends with it.
                    let _stop = StopOnExit(stop);
                    let mut lock = io::LineWriter::new(out);
                    let out: Option<&mut dyn Write> = if quiet { None } else { Some(&mut lock) };
                    let mut sink = Sink::new(out, replay.format, collectors);
                    let mut engine = Engine::new(&replay, &mut sink);
                    for item in tap_rx {
                        match item {
                            TapItem::Meta { kind, payload } => {
                                engine.meta_block(kind, 0, &payload, || {
                                    format!("live {kind} block")
                                })?
                            }
                            TapItem::Frame { first_ts, bytes } => {
                                let frame = decode_raw_frame(Some(first_ts), bytes, |what| {
                                    format!("live frame: {what}")
                                });
                                engine.frames(vec![frame])?;
                            }
                        }
                    }
                    engine.finish()?;
                    let warnings = std::mem::take(&mut engine.report.warnings);
                    drop(engine);
                    Ok((warnings, sink.collectors.take()))
                },
            )
            .context("starting the output thread")?;
        let outcome = recorder::record(rec);
        // The recorder has dropped its end of the tap: the printer drains and stops.
        let printed = printer
            .join()
            .map_err(|_| anyhow::anyhow!("the output thread panicked"))?;
        let outcome = outcome?;
        let (warnings, collectors) = match printed {
            Ok(printed) => printed,
            Err(e) if is_broken_pipe(&e) => (Vec::new(), None),
            Err(e) => return Err(e),
        };
        Ok(LiveOutcome {
            record: outcome,
            warnings,
            collectors,
        })
    })
}

/// Sets the recorder's stop flag when dropped: the output thread ending, by success, error
/// or a closed pipe, ends the recording.
struct StopOnExit(Arc<AtomicBool>);

impl Drop for StopOnExit {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}
