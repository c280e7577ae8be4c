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
mod session;
mod sink;

use std::ffi::OsString;
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, ExitStatus};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::abi::peek_header;
use crate::defaults;
use crate::meta::{AppPort, AppProtocol, Capture, HostInfo, Stats};

pub use segment::Snapshot;
pub use session::{ProgramStorage, Session, StopReason, StopSignal};
use sink::{FrameBuf, SinkMsg};
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
    /// `-e packets`: count each socket's packets in the kernel (TCP flags, TTL, drops,
    /// fragments: `REC_SOCK_COUNTERS`). Needs the network group.
    pub packets: bool,
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
    /// `--pidfile`: write the recorder's process id here once its signal handlers are in
    /// place (SIGUSR1 then keeps a snapshot, not ends it); removed when it ends.
    pub pidfile: Option<PathBuf>,
}

impl RecordConfig {
    /// A configuration writing to `output`, with every other value at its default: those of
    /// [`crate::defaults`] (the command line's too), all event groups, kflowd's protocol
    /// ports, no command, no rotation.
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
            packets: false,
            protocols: crate::meta::parse_protocol_specs(&[]).expect("the defaults parse"),
            payload_max: defaults::PAYLOAD_SIZE,
            versions: false,
            checksums: false,
            duration: None,
            ring_size: defaults::RING_SIZE_MIB << 20,
            frame_size: defaults::FRAME_SIZE_KIB << 10,
            flush_interval: Duration::from_secs(1),
            compression_level: defaults::COMPRESSION_LEVEL,
            rotate_size: None,
            rotate_time: None,
            keep: None,
            verbose: true,
            seal_key: None,
            note: None,
            anchors: Vec::new(),
            pidfile: None,
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
    /// io_uring requests lost because the table of requests in flight was full (their
    /// entry pushed out before their CQE; not in `dropped`).
    pub uring_in_flight: u64,
    /// Records user space rejected as malformed (a kernel-side bug if ever non-zero).
    pub malformed: u64,
    pub elapsed: Duration,
    /// The recorded command's exit status.
    pub command_status: Option<ExitStatus>,
    /// Why the recording stopped.
    pub stop: StopReason,
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

/// Records until the command exits, `duration` passes, a signal or the caller's `stop`
/// flag ends it, or writing fails: [`Session::start`], [`Session::poll`] until it gives a
/// [`StopReason`], [`Session::finish`].
///
/// SIGHUP: with a command, it asks the command to stop, as SIGTERM does (the command is
/// sent SIGTERM and recording ends when it exits); without one, it closes the current
/// segment and starts the next now (a trace file is being written), or ends the recording
/// (live mode without a trace file: nothing to rotate).
pub fn record(cfg: RecordConfig) -> Result<RecordOutcome> {
    let mut storage = ProgramStorage::new();
    let mut session = Session::start(cfg, &mut storage)?;
    while session.poll().is_none() {}
    session.finish()
}

/// The metadata blocks that open every segment, first or rotated, in this order:
/// HostInfo, Snapshot, FdTable, Accounts, Mounts, Interfaces, Capture, ClockSync, Cgroups. The
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
        // The cgroup tree and the processes' cgroups: containers, by their cgroup paths.
        SinkMsg::meta(&context::cgroups()),
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
        RecordKind::Syscall | RecordKind::SyscallCompact => {
            matches!(crate::abi::peek_syscall(data), Some(1..=4))
        }
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
        Record::Syscall { rec, tail, .. } => {
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
        if len < crate::abi::min_record_len(header.kind.get()) || len > data.len() {
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
