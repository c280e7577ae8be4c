//! A recording as a session: [`Session::start`] loads and attaches the programs and starts
//! the writer, [`Session::poll`] moves the recording one step on and says when it must stop
//! (and why: [`StopReason`], decided in that one place), [`Session::finish`] stops the
//! programs, drains what is left, closes the trace and reports. `kellect record` and
//! `kellect live` both run this loop.

use std::cell::RefCell;
use std::fmt;
use std::mem::MaybeUninit;
use std::process::{Child, Command};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use libbpf_rs::OpenObject;

use super::sink::{self, SinkConfig, SinkMsg, SinkReport};
use super::{
    bpf, custody, enrich, host, notice_files, recording_id, segment_opening, send_stats, terminate,
    Drain, RecordConfig, RecordOutcome, CLOCK_INTERVAL, POLL_TIMEOUT,
};
use crate::meta::{Capture, RecordSettings, Stats};

/// A signal that ends (or, for SIGHUP with a trace file and no command, rotates) a
/// recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM (`systemctl stop`, `kill`).
    Terminate,
    /// SIGHUP where it cannot rotate: with a command, or without a trace file.
    Hangup,
}

impl StopSignal {
    /// The signal's name: `SIGINT`, `SIGTERM` or `SIGHUP`.
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
            StopSignal::Hangup => "SIGHUP",
        }
    }
}

/// Why a recording stopped: the first cause, decided by [`Session::poll`] alone. With a
/// command, a signal or `--duration` asks the command to stop (SIGTERM) and recording ends
/// when it exits: the reason is then the signal or the duration, not the exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// A signal asked for the end.
    Signal(StopSignal),
    /// The recorded command exited by itself (its status: [`RecordOutcome::command_status`]).
    CommandExited,
    /// `--duration` (this long) passed.
    Duration(Duration),
    /// The caller set [`RecordConfig::stop`] (live mode: its output ended), or finished the
    /// session before [`Session::poll`] said to stop.
    Requested,
    /// Writing the trace failed (a full disk, an I/O error): [`Session::finish`] returns the
    /// error, naming what was stored.
    WriteFailed,
    /// Reading the ring buffer failed: [`Session::finish`] returns the error.
    RingBufferFailed,
    /// Waiting for the recorded command failed: [`Session::finish`] returns the error.
    CommandLost,
}

impl StopReason {
    /// Whether the recording ended by a failure (then [`Session::finish`] returns an error).
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            StopReason::WriteFailed | StopReason::RingBufferFailed | StopReason::CommandLost
        )
    }
}

impl fmt::Display for StopReason {
    /// A short phrase for `kellect: stopped: …`: `SIGTERM received`, `the command exited`,
    /// `--duration 60 s passed`, ….
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Signal(s) => write!(f, "{} received", s.name()),
            StopReason::CommandExited => f.write_str("the command exited"),
            StopReason::Duration(d) => write!(f, "--duration {} s passed", d.as_secs_f64()),
            StopReason::Requested => f.write_str("stop requested"),
            StopReason::WriteFailed => f.write_str("writing the trace failed"),
            StopReason::RingBufferFailed => f.write_str("reading the ring buffer failed"),
            StopReason::CommandLost => f.write_str("waiting for the command failed"),
        }
    }
}

/// Memory the loaded BPF object lives in: it must outlive the [`Session`] that borrows it
/// (libbpf keeps pointers into it), so the caller owns it.
pub struct ProgramStorage(MaybeUninit<OpenObject>);

impl ProgramStorage {
    /// Uninitialized storage; [`Session::start`] opens the BPF object in it.
    pub fn new() -> Self {
        ProgramStorage(MaybeUninit::uninit())
    }
}

impl Default for ProgramStorage {
    fn default() -> Self {
        Self::new()
    }
}

/// The flags the signals set: SIGINT sets `interrupted`, SIGTERM `terminated`, SIGHUP
/// `hangup` (rotate, or stop: see [`Session::poll`]), SIGUSR1 `snapshot` (keep the ring's
/// segments now). Registered at [`Session::start`].
struct StopSignals {
    interrupted: Arc<AtomicBool>,
    terminated: Arc<AtomicBool>,
    hangup: Arc<AtomicBool>,
    snapshot: Arc<AtomicBool>,
}

/// A running recording. Dropping it without [`finish`](Self::finish) leaves the trace
/// unclosed (replay salvages it); call `finish`.
pub struct Session<'obj> {
    cfg: RecordConfig,
    signals: StopSignals,
    /// When `start` was called (the outcome's `elapsed` counts from here).
    begun: Instant,
    /// When the programs were attached (`--duration` counts from here).
    started: Instant,
    tx: SyncSender<SinkMsg>,
    sink_thread: JoinHandle<SinkReport>,
    sink_failed: Arc<AtomicBool>,
    probes: bpf::Probes<'obj>,
    ring: Option<libbpf_rs::RingBuffer<'static>>,
    drain: Rc<RefCell<Drain>>,
    enricher: Option<Rc<enrich::Enricher>>,
    child: Option<Child>,
    command_status: Option<std::process::ExitStatus>,
    next_stats: Instant,
    next_clock: Instant,
    /// What asked the command to stop (it was sent SIGTERM); the reason once it exits.
    asked: Option<StopReason>,
    reason: Option<StopReason>,
    failure: Option<anyhow::Error>,
    /// `--pidfile`, removed when the session is dropped.
    _pidfile: Option<crate::pidfile::PidFile>,
}

impl<'obj> Session<'obj> {
    /// Checks privileges ([`super::preflight`]), installs the signal handlers (before
    /// anything slow, so a Ctrl-C during start-up ends with a closed trace), creates the
    /// trace file, loads and attaches the programs, writes the opening blocks and starts the
    /// command. Errors: no BTF or privileges, the trace file cannot be created (refused
    /// path, existing file without `overwrite`), the programs do not load, the command does
    /// not start; a trace file created before the failure is removed.
    pub fn start(cfg: RecordConfig, storage: &'obj mut ProgramStorage) -> Result<Self> {
        super::preflight()?;
        let signals = StopSignals {
            interrupted: Arc::new(AtomicBool::new(false)),
            terminated: Arc::new(AtomicBool::new(false)),
            hangup: Arc::new(AtomicBool::new(false)),
            snapshot: Arc::new(AtomicBool::new(false)),
        };
        for (signal, flag) in [
            (signal_hook::consts::SIGINT, &signals.interrupted),
            (signal_hook::consts::SIGTERM, &signals.terminated),
            (signal_hook::consts::SIGHUP, &signals.hangup),
            (signal_hook::consts::SIGUSR1, &signals.snapshot),
        ] {
            signal_hook::flag::register(signal, flag.clone())
                .context("installing signal handlers")?;
        }
        // Removed when the session ends (or fails to start): dropped with it.
        let pidfile = match &cfg.pidfile {
            Some(path) => {
                Some(crate::pidfile::PidFile::create(path).context("cannot write the --pidfile")?)
            }
            None => None,
        };
        let begun = Instant::now();
        let settings = RecordSettings {
            system_wide: !target_mode(&cfg),
            // Each argument with its exact bytes (`replayer::bytes::text`).
            command: cfg
                .command
                .iter()
                .map(|a| crate::replayer::bytes::path(std::path::Path::new(a)))
                .collect(),
            ring_size: cfg.ring_size as u64,
            frame_size: cfg.frame_size as u32,
            groups: cfg
                .groups
                .iter()
                .map(|g| g.name().to_owned())
                .chain(cfg.packets.then(|| "packets".to_owned()))
                .collect(),
            keep_segments: cfg.keep,
        };
        let ncpus = libbpf_rs::num_possible_cpus().unwrap_or(1) as u32;
        let host = host::host_info(settings, ncpus);

        // Frames waiting for the writer (each --frame-size raw bytes) and emptied frame
        // buffers kept for reuse: both bounded, so a slow disk costs at most 16 frames of
        // memory before the ring buffer starts to fill.
        let (tx, rx) = sync_channel::<SinkMsg>(16);
        let (recycle_tx, recycle_rx) = sync_channel::<Vec<u8>>(4);
        let sink_failed = Arc::new(AtomicBool::new(false));
        let capture = Capture {
            payload_max: cfg.payload_max,
            protocols: cfg.protocols.clone(),
            versions: cfg.versions,
            checksums: cfg.checksums,
            hz: host::kernel_hz(),
            drop_reasons: if cfg.packets {
                bpf::drop_reason_names()
            } else {
                Vec::new()
            },
            task_storage: Some(bpf::uses_task_storage()),
        };
        let sealing = match &cfg.seal_key {
            Some(_) if cfg.output.is_none() => {
                bail!("--seal-key needs a trace file to seal (live: -w FILE)")
            }
            Some(path) => Some(
                sink::Sealing::load(path)
                    .with_context(|| format!("cannot use the sealing key {}", path.display()))?,
            ),
            None => None,
        };
        // Hashing the binary (tens of MB) runs beside the recording, not before it.
        let custody = {
            let (host, note) = (host.clone(), cfg.note.clone());
            let seal = sealing.as_ref().map(|s| s.params());
            std::thread::Builder::new()
                .name("kellect-custody".into())
                .spawn(move || {
                    let exe = custody::exe_sha256().unwrap_or_default();
                    custody::custody(&host, exe, note, seal)
                })
                .context("starting the custody thread")?
        };
        let sink_run = sink::open(
            SinkConfig {
                output: cfg.output.clone(),
                tap: cfg.tap.clone(),
                overwrite: cfg.overwrite,
                recording_id: recording_id(),
                compression_level: cfg.compression_level,
                // The segment file is written through a mapped window of this many bytes,
                // resident while it is written: 4 MiB keeps it small.
                chunk_size: 4 << 20,
                rotate_size: cfg.rotate_size,
                rotate_time: cfg.rotate_time,
                keep: cfg.keep,
                opening: Box::new(move || segment_opening(&host, &capture)),
                custody: Some(custody),
                seal: sealing,
                anchors: cfg.anchors.clone(),
            },
            sink_failed.clone(),
            recycle_tx,
        )
        .with_context(|| {
            let path = cfg.output.as_deref().unwrap_or(std::path::Path::new("-"));
            format!("cannot create the trace file {}", path.display())
        })?;
        let sink_thread = std::thread::Builder::new()
            .name("kellect-sink".into())
            .spawn(move || sink_run(rx))
            .context("starting the writer thread")?;

        let attached = attach(&cfg, &tx, recycle_rx, storage);
        let (probes, ring, drain, enricher, child) = match attached {
            Ok(parts) => parts,
            Err(e) => {
                // The writer ends when its channel closes; nothing was recorded: leave no
                // half-made trace behind.
                drop(tx);
                if let Ok(report) = sink_thread.join() {
                    if report.frames == 0 {
                        for path in &report.segments {
                            let _ = std::fs::remove_file(path);
                        }
                    }
                }
                return Err(e);
            }
        };
        let started = Instant::now();
        Ok(Session {
            next_stats: started + cfg.flush_interval,
            next_clock: started + CLOCK_INTERVAL,
            cfg,
            signals,
            begun,
            started,
            tx,
            sink_thread,
            sink_failed,
            probes,
            ring: Some(ring),
            drain,
            enricher,
            child,
            command_status: None,
            asked: None,
            reason: None,
            failure: None,
            _pidfile: pidfile,
        })
    }

    /// The recorded command's process id, if there is a command.
    pub fn command_pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Waits up to 100 ms for records, moves them into frames, writes the periodic
    /// statistics and clock blocks, acts on SIGHUP (rotate now) and SIGUSR1 (keep a
    /// snapshot of the ring: [`SinkMsg::Snapshot`]) and decides whether the
    /// recording must stop: `Some(reason)` once it must (and on every later call), then
    /// call [`finish`](Self::finish).
    pub fn poll(&mut self) -> Option<StopReason> {
        if self.reason.is_some() {
            return self.reason;
        }
        self.reason = self.step();
        self.reason
    }

    fn step(&mut self) -> Option<StopReason> {
        let ring = self.ring.as_ref()?;
        // The kernel wakes us only when much is waiting (see submit_flags in the BPF
        // program): after the wait, take whatever is there.
        let polled = ring.poll(POLL_TIMEOUT).and_then(|()| ring.consume());
        if let Err(e) = polled {
            if e.kind() != libbpf_rs::ErrorKind::Interrupted {
                self.failure = Some(anyhow::Error::new(e).context("reading the ring buffer"));
                return Some(StopReason::RingBufferFailed);
            }
        }
        let now = Instant::now();
        self.drain
            .borrow_mut()
            .flush_if_older(self.cfg.flush_interval);
        if now >= self.next_stats {
            // Records stamped before a statistics block are stored before it: replay takes
            // the block as a time mark ("nothing older is still to come").
            self.next_stats = now + self.cfg.flush_interval;
            // The sockets' packet counters, stamped now, go before the block too.
            if self.probes.flush_sock_counters().is_ok() {
                let _ = ring.consume();
            }
            self.drain.borrow_mut().flush();
            send_stats(&self.probes, &self.tx, self.drain.borrow().malformed);
        }
        if now >= self.next_clock {
            self.next_clock = now + CLOCK_INTERVAL;
            self.drain.borrow_mut().flush();
            let _ = self.tx.send(SinkMsg::meta(&host::clock_sample()));
        }
        if self.sink_failed.load(Ordering::SeqCst) {
            return Some(StopReason::WriteFailed);
        }
        if self.cfg.stop.load(Ordering::SeqCst) {
            return Some(StopReason::Requested);
        }
        let StopSignals {
            interrupted,
            terminated,
            hangup,
            snapshot,
        } = &self.signals;
        if snapshot.swap(false, Ordering::SeqCst) {
            // What was read before the signal is in the snapshot.
            self.drain.borrow_mut().flush();
            let _ = self.tx.send(SinkMsg::Snapshot);
        }
        let mut hung_up = false;
        if hangup.swap(false, Ordering::SeqCst) {
            if self.child.is_some() || self.cfg.output.is_none() {
                hung_up = true;
            } else {
                // What was read before the signal ends the current segment.
                self.drain.borrow_mut().flush();
                let _ = self.tx.send(SinkMsg::Rotate);
            }
        }
        // The first signal or limit met, in a fixed order when several arrive together.
        let asked = if interrupted.load(Ordering::SeqCst) {
            Some(StopReason::Signal(StopSignal::Interrupt))
        } else if terminated.load(Ordering::SeqCst) {
            Some(StopReason::Signal(StopSignal::Terminate))
        } else if hung_up {
            Some(StopReason::Signal(StopSignal::Hangup))
        } else {
            self.cfg
                .duration
                .filter(|d| now - self.started >= *d)
                .map(StopReason::Duration)
        };
        let Some(child) = &mut self.child else {
            return asked;
        };
        match child.try_wait() {
            Ok(Some(status)) => {
                self.command_status = Some(status);
                // A Ctrl-C reaches the command itself (same process group): it is the cause.
                return Some(self.asked.or(asked).unwrap_or(StopReason::CommandExited));
            }
            Ok(None) => {}
            Err(e) => {
                self.failure = Some(anyhow::Error::new(e).context("waiting for the command"));
                return Some(StopReason::CommandLost);
            }
        }
        // The command decides when recording ends: ask it to stop (SIGTERM) and wait. SIGINT
        // is not forwarded: a terminal's Ctrl-C reaches the command's process group itself.
        if self.asked.is_none() {
            if let Some(reason @ (StopReason::Duration(_) | StopReason::Signal(_))) = asked {
                if reason != StopReason::Signal(StopSignal::Interrupt) {
                    self.asked = Some(reason);
                    terminate(child);
                }
            }
        }
        None
    }

    /// Ends the recording, in this order, so that emitted = stored + dropped holds exactly:
    /// 1. no program emits or counts anything any more (and those already running have
    ///    finished); 2. the ring buffer is drained; 3. the counters are read, once, and
    ///    stored after the last frame; then the trace is closed and, with a command that
    ///    still runs (the recording failed), the command is waited for.
    ///
    /// Errors: the reason is a failure ([`StopReason::is_failure`]): writing the trace
    /// (the message names what was stored and what was lost), reading the ring buffer or
    /// waiting for the command. Without a trace frame stored, the trace file is removed.
    pub fn finish(mut self) -> Result<RecordOutcome> {
        let reason = self.reason.unwrap_or(StopReason::Requested);
        // The sockets' last packet counters, while programs still emit.
        if let Err(e) = self.probes.flush_sock_counters() {
            eprintln!("kellect: warning: {e:#}");
        }
        if let Err(e) = self.probes.stop() {
            // The flag may still be set: programs past it finish within microseconds.
            eprintln!(
                "kellect: warning: {e:#}; the final counts may include records emitted at the \
                 very end that were not read"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let ring = self.ring.take();
        let drained = ring.as_ref().map_or(Ok(()), |r| r.consume());
        // The ring's callback holds the drain and the enricher: dropped with it.
        drop(ring);
        if let Err(e) = drained {
            self.failure
                .get_or_insert(anyhow::Error::new(e).context("reading the ring buffer"));
        }
        let malformed = {
            let mut d = self.drain.borrow_mut();
            d.flush();
            d.malformed
        };
        let counters = match self.probes.counters() {
            Ok(counters) => {
                let _ = self.tx.send(SinkMsg::meta(&Stats {
                    at: host::clock_sample(),
                    counters: counters.clone(),
                    user_dropped: malformed,
                }));
                counters
            }
            Err(e) => {
                eprintln!("kellect: warning: {e:#}; the trace has no final statistics block");
                Vec::new()
            }
        };
        // Why the recording ended, for the trace's Stop block (and `kellect info`).
        let _ = self.tx.send(SinkMsg::Stop {
            reason: match &self.failure {
                Some(e) => format!("{reason}: {e:#}"),
                None => reason.to_string(),
            },
        });
        let Session {
            probes,
            enricher,
            mut child,
            mut command_status,
            failure,
            tx,
            drain,
            sink_thread,
            begun,
            ..
        } = self;
        drop(probes);
        if let Some(e) = enricher.and_then(|e| Rc::try_unwrap(e).ok()) {
            let (looked_up, skipped) = e.finish();
            if skipped > 0 {
                eprintln!(
                    "kellect: warning: {skipped} files were not looked at for -v/-c (queue \
                     full); {looked_up} were"
                );
            }
        }
        let mut failure = failure;
        if let Some(c) = &mut child {
            if command_status.is_none() {
                // Recording failed (a full disk): the command is not ours to kill; let it
                // finish.
                eprintln!(
                    "kellect: recording stopped early; waiting for the command (pid {}) to exit",
                    c.id()
                );
                match c.wait() {
                    Ok(status) => command_status = Some(status),
                    Err(e) => {
                        failure.get_or_insert(
                            anyhow::Error::new(e).context("waiting for the command"),
                        );
                    }
                }
            }
        }
        // The writer ends when every sender is gone: this one and the drain's.
        drop(tx);
        drop(drain);
        let sink_report = sink_thread
            .join()
            .map_err(|_| anyhow::anyhow!("the writer thread panicked"))?;
        if let Some(e) = failure {
            if sink_report.frames == 0 {
                // Nothing was recorded: leave no half-made trace behind.
                for path in &sink_report.segments {
                    let _ = std::fs::remove_file(path);
                }
            }
            return Err(e);
        }
        if let Some(e) = &sink_report.error {
            bail!(
                "writing the trace failed: {e}; the trace is valid up to the failure: {} \
                 frames with {} records stored in {}; {} records could not be stored and are \
                 lost",
                sink_report.frames,
                sink_report.records,
                sink_report
                    .segments
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                sink_report.lost_records,
            );
        }
        Ok(RecordOutcome {
            sink: sink_report,
            emitted: counters.iter().map(|c| c.emitted).sum(),
            dropped: counters
                .iter()
                .filter(|c| c.kind != crate::abi::STAT_URING_IN_FLIGHT)
                .map(|c| c.dropped)
                .sum(),
            uring_in_flight: counters
                .iter()
                .filter(|c| c.kind == crate::abi::STAT_URING_IN_FLIGHT)
                .map(|c| c.dropped)
                .sum(),
            malformed,
            elapsed: begun.elapsed(),
            command_status,
            stop: reason,
        })
    }
}

/// Records only the command's process tree (`-a` not given).
fn target_mode(cfg: &RecordConfig) -> bool {
    !cfg.command.is_empty() && !cfg.system_wide
}

type Attached<'obj> = (
    bpf::Probes<'obj>,
    libbpf_rs::RingBuffer<'static>,
    Rc<RefCell<Drain>>,
    Option<Rc<enrich::Enricher>>,
    Option<Child>,
);

/// Loads and attaches the programs, asks the writer for the opening blocks (attached
/// first, snapshot second: a process that starts in between is in both, never in
/// neither), starts the command and the enrichment thread, and sets up the ring buffer.
fn attach<'obj>(
    cfg: &RecordConfig,
    tx: &SyncSender<SinkMsg>,
    recycle: std::sync::mpsc::Receiver<Vec<u8>>,
    storage: &'obj mut ProgramStorage,
) -> Result<Attached<'obj>> {
    let probes = bpf::Probes::load(
        &mut storage.0,
        &bpf::BpfConfig {
            self_tgid: std::process::id(),
            target_mode: target_mode(cfg),
            ring_size: cfg.ring_size,
            group_mask: cfg.groups.iter().fold(0, |m, g| m | g.bit()),
            payload_max: cfg.payload_max,
            protocols: cfg.protocols.clone(),
            sk_key: recording_id() | 1,
            packets: cfg.packets,
        },
    )?;
    tx.send(SinkMsg::Opening)
        .context("the writer thread stopped")?;

    let child = match cfg.command.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args);
            if let Some((stdout, stderr)) = cfg.command_output.stdio()? {
                command.stdout(stdout).stderr(stderr);
            }
            Some(
                command
                    .spawn()
                    .with_context(|| format!("cannot run {}", program.to_string_lossy()))?,
            )
        }
        None => None,
    };

    let enricher = (cfg.versions || cfg.checksums).then(|| {
        Rc::new(enrich::Enricher::spawn(
            cfg.versions,
            cfg.checksums,
            tx.clone(),
        ))
    });
    let drain = Rc::new(RefCell::new(Drain::new(
        tx.clone(),
        recycle,
        cfg.frame_size,
    )));
    let mut builder = libbpf_rs::RingBufferBuilder::new();
    let cb_drain = drain.clone();
    let cb_enricher = enricher.clone();
    builder
        .add(probes.events_map(), move |data: &[u8]| {
            cb_drain.borrow_mut().push(data);
            if let Some(e) = &cb_enricher {
                notice_files(e, data);
            }
            0
        })
        .context("setting up the ring buffer")?;
    let ring = builder.build().context("setting up the ring buffer")?;
    Ok((probes, ring, drain, enricher, child))
}
