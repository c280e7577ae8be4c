//! `kellect record`: load the BPF programs, stream the ring buffer's raw records into
//! frames, and hand them to the writer thread. Linux only (feature `record`).
//!
//! Threads: the calling thread drains the ring buffer (its callback only appends bytes to
//! the current frame) and does the periodic bookkeeping; the sink thread compresses and
//! writes. A bounded channel between them gives back-pressure: if the disk cannot keep up,
//! the drain waits, the ring buffer fills and the kernel counts what it drops — so every
//! lost event is accounted for in the trace.

mod bpf;
mod context;
mod custody;
mod enrich;
mod host;
mod segment;
mod sink;

use std::cell::RefCell;
use std::ffi::OsString;
use std::io::Read;
use std::mem::MaybeUninit;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::abi::{peek_header, RecordHeader};
use crate::meta::{AppPort, AppProtocol, Capture, HostInfo, RecordSettings, Stats};

use sink::{FrameBuf, SinkConfig, SinkMsg};
pub use sink::{SinkReport, TapItem};

/// A validated `kellect record` configuration.
#[derive(Debug, Clone)]
pub struct RecordConfig {
    /// The trace file; `None` keeps none (live mode without `-w`).
    pub output: Option<PathBuf>,
    /// Receives a copy of every block as it is stored (live mode).
    pub tap: Option<SyncSender<TapItem>>,
    /// Set by the caller to end the recording (live mode: its output has gone).
    pub stop: Arc<AtomicBool>,
    /// Replace an existing output file.
    pub overwrite: bool,
    /// Record this command's process tree (and exit with its status).
    pub command: Vec<OsString>,
    /// Where the command's stdout and stderr go.
    pub command_output: CommandOutput,
    /// Record every process, even with a command.
    pub system_wide: bool,
    /// Event groups whose syscalls are recorded.
    pub groups: Vec<crate::syscalls::Group>,
    /// Application payloads captured: where, and how many bytes per message (0: none).
    pub protocols: Vec<(AppProtocol, AppPort)>,
    pub payload_max: u32,
    /// `-v`: look up package versions of executables.
    pub versions: bool,
    /// `-c`: MD5 and SHA-256 of executables.
    pub checksums: bool,
    pub duration: Option<Duration>,
    /// Ring buffer bytes: a power of two, at least a page.
    pub ring_size: u32,
    /// Raw bytes collected before a frame is compressed.
    pub frame_size: usize,
    /// A frame is closed after this long even if not full: bounds what a crash loses, and
    /// how far behind `kellect live` runs. Statistics are written as often.
    pub flush_interval: Duration,
    pub compression_level: i32,
    /// Start a new segment when the current one holds this many bytes.
    pub rotate_size: Option<u64>,
    /// Start a new segment when the current one is this old.
    pub rotate_time: Option<Duration>,
    /// Keep at most this many segments (a ring): the oldest is deleted when a new one
    /// starts. Recorded in the trace (`RecordSettings::keep_segments`).
    pub keep: Option<u32>,
    /// Print progress notes on stderr.
    pub verbose: bool,
    /// `--seal-key`: the sealing key file (`kellect keygen`); the chain is sealed every
    /// epoch and at every segment end, and the key evolves in the file.
    pub seal_key: Option<PathBuf>,
    /// `--note`: the operator's note, recorded with the custody facts.
    pub note: Option<String>,
    /// With `seal_key`: collectors that get every seal as a UDP datagram (`live -u`).
    pub anchors: Vec<std::net::SocketAddr>,
}

impl RecordConfig {
    pub fn new(output: Option<PathBuf>) -> Self {
        RecordConfig {
            output,
            tap: None,
            stop: Arc::new(AtomicBool::new(false)),
            overwrite: false,
            command: Vec::new(),
            command_output: CommandOutput::Inherit,
            system_wide: false,
            groups: crate::syscalls::Group::ALL.to_vec(),
            protocols: crate::meta::parse_protocol_specs(&[]).expect("the defaults parse"),
            payload_max: 1400,
            versions: false,
            checksums: false,
            duration: None,
            ring_size: 64 << 20,
            frame_size: 1 << 20,
            flush_interval: Duration::from_secs(1),
            compression_level: 3,
            rotate_size: None,
            rotate_time: None,
            keep: None,
            verbose: true,
            seal_key: None,
            note: None,
            anchors: Vec::new(),
        }
    }
}

/// Where the recorded command's stdout and stderr go. Its stdin is always kellect's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CommandOutput {
    /// Kellect's own stdout and stderr (`kellect record`: the command's output is the
    /// user's).
    #[default]
    Inherit,
    /// Both to kellect's stderr, so that kellect's stdout carries only its own output
    /// (`kellect live`: a JSON stream stays valid).
    Stderr,
    /// Both to this file: created with mode 0600 or truncated, never through a symbolic
    /// link (`O_NOFOLLOW`); a device such as /dev/null is written as it is.
    File(PathBuf),
}

impl CommandOutput {
    /// The command's stdout and stderr. Errors name the file that cannot be opened.
    fn stdio(&self) -> Result<Option<(std::process::Stdio, std::process::Stdio)>> {
        use std::os::fd::AsFd;
        use std::os::unix::fs::OpenOptionsExt;
        let file: std::fs::File = match self {
            CommandOutput::Inherit => return Ok(None),
            CommandOutput::Stderr => std::io::stderr()
                .as_fd()
                .try_clone_to_owned()
                .context("duplicating stderr for the command's output")?
                .into(),
            CommandOutput::File(path) => std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(path)
                .with_context(|| {
                    format!(
                        "cannot open {} for the command's output (a symbolic link is refused)",
                        path.display()
                    )
                })?,
        };
        let second = file
            .try_clone()
            .context("duplicating the command's output file")?;
        Ok(Some((file.into(), second.into())))
    }
}

/// What a recording produced.
#[derive(Debug)]
pub struct RecordOutcome {
    pub sink: SinkReport,
    /// Records the kernel wrote into the ring buffer, and dropped because it was full.
    pub emitted: u64,
    pub dropped: u64,
    /// Records user space rejected as malformed (a kernel-side bug if ever non-zero).
    pub malformed: u64,
    pub elapsed: Duration,
    /// The recorded command's exit status.
    pub command_status: Option<ExitStatus>,
}

const CLOCK_INTERVAL: Duration = Duration::from_secs(10);
const POLL_TIMEOUT: Duration = Duration::from_millis(100);

/// Checks what loading BPF needs, with errors that say what to do.
pub fn preflight() -> Result<()> {
    if !std::path::Path::new("/sys/kernel/btf/vmlinux").exists() {
        bail!(
            "this kernel has no BTF type information (/sys/kernel/btf/vmlinux is missing); \
             kellect record needs a kernel built with CONFIG_DEBUG_INFO_BTF=y, which most \
             distributions enable since 2020"
        );
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 && !has_bpf_capabilities() {
        bail!(
            "kellect record needs root, or the capabilities CAP_BPF and CAP_PERFMON, to load \
             its BPF programs: run it with sudo (replaying a trace needs no privileges)"
        );
    }
    Ok(())
}

fn has_bpf_capabilities() -> bool {
    const CAP_SYS_ADMIN: u32 = 21;
    const CAP_PERFMON: u32 = 38;
    const CAP_BPF: u32 = 39;
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    let caps = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    let has = |cap: u32| caps & (1 << cap) != 0;
    has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON))
}

/// The flags the signals set: SIGINT sets `interrupted`, SIGTERM `terminated`, SIGHUP
/// `hangup` (rotate, or stop: see [`record`]). Registered once, at the start of [`record`].
struct StopSignals {
    interrupted: Arc<AtomicBool>,
    terminated: Arc<AtomicBool>,
    hangup: Arc<AtomicBool>,
}

/// Records until the command exits, `duration` passes, or SIGINT/SIGTERM arrives.
///
/// SIGHUP: with a command, it asks the command to stop, as SIGTERM does (the command is
/// sent SIGTERM and recording ends when it exits); without one, it closes the current
/// segment and starts the next now (a trace file is being written), or ends the recording
/// (live mode without a trace file: nothing to rotate).
pub fn record(cfg: RecordConfig) -> Result<RecordOutcome> {
    preflight()?;
    // The handlers go in before the trace file is created and the programs load (seconds
    // on a busy host): a Ctrl-C during start-up then stops the recording cleanly, with a
    // closed trace, instead of killing the recorder.
    let signals = StopSignals {
        interrupted: Arc::new(AtomicBool::new(false)),
        terminated: Arc::new(AtomicBool::new(false)),
        hangup: Arc::new(AtomicBool::new(false)),
    };
    for (signal, flag) in [
        (signal_hook::consts::SIGINT, &signals.interrupted),
        (signal_hook::consts::SIGTERM, &signals.terminated),
        (signal_hook::consts::SIGHUP, &signals.hangup),
    ] {
        signal_hook::flag::register(signal, flag.clone()).context("installing signal handlers")?;
    }
    let started = Instant::now();
    let target_mode = !cfg.command.is_empty() && !cfg.system_wide;
    let settings = RecordSettings {
        system_wide: !target_mode,
        command: cfg
            .command
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        ring_size: cfg.ring_size as u64,
        frame_size: cfg.frame_size as u32,
        groups: cfg.groups.iter().map(|g| g.name().to_owned()).collect(),
        keep_segments: cfg.keep,
    };
    let ncpus = libbpf_rs::num_possible_cpus().unwrap_or(1) as u32;
    let host = host::host_info(settings, ncpus);

    let (tx, rx) = sync_channel::<SinkMsg>(32);
    let (recycle_tx, recycle_rx) = sync_channel::<Vec<u8>>(8);
    let sink_failed = Arc::new(AtomicBool::new(false));
    let capture = Capture {
        payload_max: cfg.payload_max,
        protocols: cfg.protocols.clone(),
        versions: cfg.versions,
        checksums: cfg.checksums,
        hz: host::kernel_hz(),
    };
    let sealing = match &cfg.seal_key {
        Some(_) if cfg.output.is_none() => {
            anyhow::bail!("--seal-key needs a trace file to seal (live: -w FILE)")
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
            chunk_size: 16 << 20,
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

    let result = record_with_sink(&cfg, target_mode, tx, recycle_rx, &sink_failed, &signals);
    let sink_report = sink_thread
        .join()
        .map_err(|_| anyhow::anyhow!("the writer thread panicked"))?;
    let mut outcome = match result {
        Ok(outcome) => outcome,
        Err(e) => {
            if sink_report.frames == 0 {
                // Nothing was recorded: leave no half-made trace behind.
                for path in &sink_report.segments {
                    let _ = std::fs::remove_file(path);
                }
            }
            return Err(e);
        }
    };
    outcome.elapsed = started.elapsed();
    if let Some(e) = &sink_report.error {
        bail!(
            "writing the trace failed: {e}; the trace is valid up to the failure: {} frames \
             with {} records stored in {}; {} records could not be stored and are lost",
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
    outcome.sink = sink_report;
    Ok(outcome)
}

fn record_with_sink(
    cfg: &RecordConfig,
    target_mode: bool,
    tx: SyncSender<SinkMsg>,
    recycle: Receiver<Vec<u8>>,
    sink_failed: &AtomicBool,
    signals: &StopSignals,
) -> Result<RecordOutcome> {
    let StopSignals {
        interrupted,
        terminated,
        hangup,
    } = signals;
    let mut storage = MaybeUninit::uninit();
    let mut probes = bpf::Probes::load(
        &mut storage,
        &bpf::BpfConfig {
            self_tgid: std::process::id(),
            target_mode,
            ring_size: cfg.ring_size,
            group_mask: cfg.groups.iter().fold(0, |m, g| m | g.bit()),
            payload_max: cfg.payload_max,
            protocols: cfg.protocols.clone(),
            sk_key: recording_id() | 1,
        },
    )?;
    // Attached first, snapshot second: a process that starts in between is in both,
    // never in neither.
    tx.send(SinkMsg::Opening)
        .context("the writer thread stopped")?;

    let mut child = match cfg.command.split_first() {
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

    let enricher = (cfg.versions || cfg.checksums)
        .then(|| enrich::Enricher::spawn(cfg.versions, cfg.checksums, tx.clone()));
    let drain = Rc::new(RefCell::new(Drain::new(
        tx.clone(),
        recycle,
        cfg.frame_size,
    )));
    let mut builder = libbpf_rs::RingBufferBuilder::new();
    let cb_drain = drain.clone();
    builder
        .add(probes.events_map(), {
            let enricher = enricher.as_ref();
            move |data: &[u8]| {
                cb_drain.borrow_mut().push(data);
                if let Some(e) = enricher {
                    notice_files(e, data);
                }
                0
            }
        })
        .context("setting up the ring buffer")?;
    let ring = builder.build().context("setting up the ring buffer")?;

    let started = Instant::now();
    let mut next_stats = started + cfg.flush_interval;
    let mut next_clock = started + CLOCK_INTERVAL;
    let mut command_status = None;
    let mut forwarded = false;
    let mut stop_error = None;
    loop {
        // The kernel wakes us only when much is waiting (see submit_flags in the BPF
        // program): after the wait, take whatever is there.
        let polled = ring.poll(POLL_TIMEOUT).and_then(|()| ring.consume());
        if let Err(e) = polled {
            if e.kind() != libbpf_rs::ErrorKind::Interrupted {
                stop_error = Some(anyhow::Error::new(e).context("reading the ring buffer"));
                break;
            }
        }
        let now = Instant::now();
        drain.borrow_mut().flush_if_older(cfg.flush_interval);
        if now >= next_stats {
            // Records stamped before a statistics block are stored before it: replay takes
            // the block as a time mark ("nothing older is still to come").
            next_stats = now + cfg.flush_interval;
            drain.borrow_mut().flush();
            send_stats(&probes, &tx, drain.borrow().malformed);
        }
        if now >= next_clock {
            next_clock = now + CLOCK_INTERVAL;
            drain.borrow_mut().flush();
            let _ = tx.send(SinkMsg::meta(&host::clock_sample()));
        }
        if sink_failed.load(Ordering::SeqCst) || cfg.stop.load(Ordering::SeqCst) {
            break;
        }
        if hangup.swap(false, Ordering::SeqCst) {
            if child.is_some() || cfg.output.is_none() {
                terminated.store(true, Ordering::SeqCst);
            } else {
                // What was read before the signal ends the current segment.
                drain.borrow_mut().flush();
                let _ = tx.send(SinkMsg::Rotate);
            }
        }
        let out_of_time = cfg.duration.is_some_and(|d| now - started >= d);
        match &mut child {
            Some(c) => {
                if let Some(status) = c.try_wait().context("waiting for the command")? {
                    command_status = Some(status);
                    break;
                }
                // The command decides when recording ends: ask it to stop and wait.
                if !forwarded && (out_of_time || terminated.load(Ordering::SeqCst)) {
                    forwarded = true;
                    terminate(c);
                }
            }
            None => {
                if out_of_time
                    || interrupted.load(Ordering::SeqCst)
                    || terminated.load(Ordering::SeqCst)
                {
                    break;
                }
            }
        }
    }
    // Why the loop ended, for the trace's Stop block.
    let stop_reason = if let Some(e) = &stop_error {
        format!("error: {e:#}")
    } else if sink_failed.load(Ordering::SeqCst) {
        "a write error (see the recorder's report)".to_owned()
    } else if let Some(status) = &command_status {
        format!("the command exited ({status})")
    } else if cfg.stop.load(Ordering::SeqCst) {
        "its consumer went away (live output closed)".to_owned()
    } else if interrupted.load(Ordering::SeqCst) {
        "SIGINT".to_owned()
    } else if terminated.load(Ordering::SeqCst) {
        "SIGTERM or SIGHUP".to_owned()
    } else {
        "--duration reached".to_owned()
    };
    // The stop sequence, in this order, so that emitted = stored + dropped holds exactly:
    // 1. no program emits or counts anything any more (and those already running have
    //    finished); 2. the ring buffer is drained; 3. the counters are read, once, and
    //    stored after the last frame.
    if let Err(e) = probes.stop() {
        // The flag may still be set: programs past it finish within microseconds.
        eprintln!(
            "kellect: warning: {e:#}; the final counts may include records emitted at the very \
             end that were not read"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let drained = ring.consume();
    drop(ring);
    if let Err(e) = drained {
        stop_error.get_or_insert(anyhow::Error::new(e).context("reading the ring buffer"));
    }
    let malformed = {
        let mut d = drain.borrow_mut();
        d.flush();
        d.malformed
    };
    let counters = match probes.counters() {
        Ok(counters) => {
            let _ = tx.send(SinkMsg::meta(&Stats {
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
    drop(probes);
    if let Some(e) = enricher {
        let (looked_up, skipped) = e.finish();
        if skipped > 0 {
            eprintln!(
                "kellect: warning: {skipped} files were not looked at for -v/-c (queue full); \
                 {looked_up} were"
            );
        }
    }
    let _ = tx.send(SinkMsg::Stop {
        reason: stop_reason,
    });
    if let Some(c) = &mut child {
        if command_status.is_none() {
            // Recording failed (a full disk): the command is not ours to kill; let it finish.
            eprintln!(
                "kellect: recording stopped early; waiting for the command (pid {}) to exit",
                c.id()
            );
            command_status = Some(c.wait().context("waiting for the command")?);
        }
    }
    if let Some(e) = stop_error {
        return Err(e);
    }
    Ok(RecordOutcome {
        sink: SinkReport::default(),
        emitted: counters.iter().map(|c| c.emitted).sum(),
        dropped: counters.iter().map(|c| c.dropped).sum(),
        malformed,
        elapsed: Duration::ZERO,
        command_status,
    })
}

/// The metadata blocks that open every segment, first or rotated, in this order:
/// HostInfo, Snapshot, FdTable, Accounts, Mounts, Interfaces, Capture, ClockSync. The
/// snapshot, fd table, accounts, mounts, interfaces and clock are taken afresh on each
/// call; host info and capture settings are the recording's. A metadata block that every
/// segment needs to replay alone is added here, and nowhere else.
fn segment_opening(host: &HostInfo, capture: &Capture) -> Vec<SinkMsg> {
    vec![
        SinkMsg::meta(host),
        SinkMsg::meta(&host::proc_snapshot()),
        SinkMsg::meta(&host::fd_table()),
        // Users and groups, mounts and interfaces: what replay needs to name ids, devices
        // and interfaces as the host did.
        SinkMsg::meta(&context::accounts()),
        SinkMsg::meta(&context::mounts()),
        SinkMsg::meta(&context::interfaces()),
        SinkMsg::meta(capture),
        SinkMsg::meta(&host::clock_sample()),
    ]
}

fn terminate(child: &Child) {
    // SAFETY: kill has no memory-safety preconditions; the pid is our unreaped child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
}

fn send_stats(probes: &bpf::Probes, tx: &SyncSender<SinkMsg>, malformed: u64) {
    if let Ok(counters) = probes.counters() {
        let _ = tx.send(SinkMsg::meta(&Stats {
            at: host::clock_sample(),
            counters,
            user_dropped: malformed,
        }));
    }
}

fn recording_id() -> u64 {
    let mut bytes = [0u8; 8];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_err()
    {
        let now = host::clock_sample();
        return now.realtime_ns as u64 ^ ((std::process::id() as u64) << 32);
    }
    u64::from_le_bytes(bytes)
}

/// Hands executables to the enrichment thread: exec'd files, and files with an execute bit
/// that were opened. A few header reads on the records that are already in memory.
fn notice_files(enricher: &enrich::Enricher, data: &[u8]) {
    use crate::abi::{Record, RecordKind};
    // Most records are neither execs nor opens: the header says so without decoding.
    let Some(h) = peek_header(data) else { return };
    let interesting = match RecordKind::from_raw(h.kind.get()) {
        RecordKind::Exec => true,
        RecordKind::Syscall => matches!(h.syscall.get(), 1..=4),
        _ => false,
    };
    if !interesting {
        return;
    }
    let Some(Ok(record)) = crate::abi::Records::new(data).next() else {
        return;
    };
    let (pid, path, inode) = match record {
        Record::Exec {
            rec,
            filename,
            inode: Some(inode),
            ..
        } => (rec.hdr.pid.get(), filename, inode),
        Record::Syscall { rec, tail } => {
            let opens = matches!(rec.hdr.syscall.get(), 1..=4);
            match tail.inode {
                Some(inode) if opens && inode.mode.get() & 0o111 != 0 => {
                    (rec.hdr.pid.get(), tail.path0, inode)
                }
                _ => return,
            }
        }
        _ => return,
    };
    if inode.mode.get() & 0o170000 != 0o100000 {
        return;
    }
    enricher.submit(enrich::FileRef {
        pid,
        path: String::from_utf8_lossy(path).into_owned(),
        dev: inode.dev.get(),
        ino: inode.ino.get(),
        size: inode.size.get(),
        mtime_ns: inode.mtime_ns.get(),
        mode: inode.mode.get(),
    });
}

/// The ring buffer's consumer: appends raw records to the current frame, nothing more.
struct Drain {
    frame: FrameBuf,
    frame_size: usize,
    opened: Instant,
    tx: SyncSender<SinkMsg>,
    recycle: Receiver<Vec<u8>>,
    malformed: u64,
}

impl Drain {
    fn new(tx: SyncSender<SinkMsg>, recycle: Receiver<Vec<u8>>, frame_size: usize) -> Self {
        Drain {
            frame: empty_frame(Vec::with_capacity(frame_size + crate::abi::PATH_MAX * 3)),
            frame_size,
            opened: Instant::now(),
            tx,
            recycle,
            malformed: 0,
        }
    }

    fn push(&mut self, data: &[u8]) {
        let Some(header) = peek_header(data) else {
            self.malformed += 1;
            return;
        };
        let len = header.len.get() as usize;
        if len < size_of::<RecordHeader>() || len > data.len() {
            self.malformed += 1;
            return;
        }
        let ts = header.ts.get();
        let f = &mut self.frame;
        if f.count == 0 {
            f.first_ts = ts;
            f.last_ts = ts;
            self.opened = Instant::now();
        } else {
            f.first_ts = f.first_ts.min(ts);
            f.last_ts = f.last_ts.max(ts);
        }
        f.bytes.extend_from_slice(&data[..len]);
        f.count += 1;
        if f.bytes.len() >= self.frame_size {
            self.flush();
        }
    }

    fn flush_if_older(&mut self, age: Duration) {
        if self.frame.count > 0 && self.opened.elapsed() >= age {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.frame.count == 0 {
            return;
        }
        let buffer = self
            .recycle
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(self.frame_size + crate::abi::PATH_MAX * 3));
        let frame = std::mem::replace(&mut self.frame, empty_frame(buffer));
        let count = frame.count as u64;
        if self.tx.send(SinkMsg::Frame(frame)).is_err() {
            // The sink has gone (it failed): these records cannot be stored.
            self.malformed += count;
        }
    }
}

fn empty_frame(bytes: Vec<u8>) -> FrameBuf {
    FrameBuf {
        bytes,
        first_ts: 0,
        last_ts: 0,
        count: 0,
    }
}
