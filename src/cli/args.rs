//! What the user typed: the clap definitions of every command (stage one of two; the
//! validated configurations are made from these in [`super::validate`]). The man pages and
//! completions are generated from these definitions too.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use kellect::defaults;
use kellect::replayer::MemoryBudget;

/// `kellect --version`: the package version, the git revision it was built from and the
/// build's features (build.rs): `0.1.0 (git 1a2b3c4d5e6f, record and replay)`.
pub(crate) const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (git ",
    env!("KELLECT_GIT_REVISION"),
    ", ",
    env!("KELLECT_FEATURES"),
    ")"
);

#[derive(Parser)]
#[command(
    name = "kellect",
    version = VERSION,
    about = "eBPF forensic recorder: record raw kernel events on a host, replay them anywhere",
    propagate_version = true
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Cmd,
}

#[derive(Subcommand)]
pub(crate) enum Cmd {
    /// Record kernel events into a trace file (needs root or CAP_BPF+CAP_PERFMON).
    #[command(after_help = "Examples:\n  \
        kellect record -o trace.kz -- make -j4      record a command's process tree\n  \
        kellect record -o trace.kz --duration 60s   record the whole system for a minute\n  \
        kellect record -o trace.kz                  record the whole system until Ctrl-C")]
    #[command(after_long_help = "Signals:\n  \
        SIGINT, SIGTERM  stop recording (with a command: the command is sent SIGTERM and \
        recording ends when it exits)\n  \
        SIGHUP           with a command: as SIGTERM; without one: close the current \
        segment and start the next now (with --keep, the oldest beyond N is deleted)\n  \
        SIGUSR1          keep a snapshot: close the current segment and hard-link every \
        closed segment into TRACE-STEM.snapshot-UTC/ beside the trace, which the ring never \
        deletes from (kellect snapshot PIDFILE sends it)")]
    Record(RecordArgs),
    /// Replay traces: kflowd-style records or kernel events, as JSON or a table (no root).
    Replay(ReplayArgs),
    /// Describe traces: host, time range, record counts, drops, frames and damage.
    Info(InfoArgs),
    /// Verify the hash chain of traces: exit 0 intact, 1 failed (or format v1, which has
    /// no chain), 3 cut (everything up to the cut verifies), 2 usage error.
    #[command(after_help = "Examples:\n  \
        kellect verify trace.kz                      one segment\n  \
        kellect verify trace.kz trace.1.kz trace.2.kz  a rotated recording, links included\n  \
        kellect verify --json trace.kz               machine-readable")]
    Verify(VerifyArgs),
    /// Make a key pair for sealing: the sealing key stays on the recording host
    /// (`record --seal-key`), the verification key goes elsewhere (`verify --key`).
    #[command(after_help = "Examples:\n  \
        kellect keygen --seal-key /var/lib/kellect/seal.key --verify-key verify.key\n  \
        kellect keygen --seal-key seal.key --verify-key verify.key --interval 1m")]
    Keygen(KeygenArgs),
    /// Record and print at once, as the classic console tools do (needs root).
    #[command(after_help = "Examples:\n  \
        kellect live                                   records of the whole system, until Ctrl-C\n  \
        kellect live -o table -m socket                a socket table\n  \
        kellect live --view events -o json-min -- make  the events of a build\n  \
        kellect live -w trace.kz -u 10.0.0.5:5140 -q    keep the trace, send records to a collector")]
    Live(LiveArgs),
    /// Cut a smaller, closed trace from a recording: the events that `replay --view events`
    /// with the same filters shows, with the state replay needs to show them the same.
    #[command(after_help = "Examples:\n  \
        kellect slice trace.kz -o p1234.kz --pid 1234      one process's events\n  \
        kellect slice trace.kz -o ten.kz --since 60 --until 70   ten seconds, a minute in\n  \
        kellect slice /var/lib/kellect -o curl.kz --comm curl --event net_connect")]
    Slice(SliceArgs),
    /// Print the process tree of traces: each process's image, arguments, user, lifetime,
    /// exit status, container and exec id, with its file and network activity summed.
    #[command(after_help = "Examples:\n  \
        kellect tree trace.kz                       the whole tree\n  \
        kellect tree trace.kz --comm 'curl*'        curl processes and their ancestors\n  \
        kellect tree trace.kz -o json | jq .        nested JSON (docs/TREE.md)")]
    Tree(super::tree::TreeArgs),
    /// Write one self-contained HTML page (no script, nothing fetched) with the process
    /// tree and a timeline of process lifetimes and their file and network activity.
    #[command(after_help = "Examples:\n  \
        kellect report trace.kz -o report.html\n  \
        kellect report /var/lib/kellect -o busy.html --since 2026-11-21T07:00:00Z --limit 500")]
    Report(super::tree::ReportArgs),
    /// Ask a running recorder to keep a snapshot of its segments (SIGUSR1): the current
    /// segment is closed and every closed segment is kept in TRACE-STEM.snapshot-UTC/
    /// beside the trace, out of the --keep ring's reach; the recorder logs what it kept.
    #[command(after_help = "Examples:\n  \
        kellect snapshot /run/kellect/kellect.pid   the recorder started with --pidfile\n  \
        kellect snapshot 4242                       by process id\n  \
        systemctl kill -s USR1 kellect              the packaged service, the same")]
    Snapshot {
        /// The recorder's --pidfile, or its process id.
        #[arg(value_name = "PIDFILE|PID")]
        target: String,
    },

    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    #[command(after_help = "Examples:\n  \
        kellect completions bash > /etc/bash_completion.d/kellect\n  \
        kellect completions zsh > /usr/local/share/zsh/site-functions/_kellect\n  \
        kellect completions fish > ~/.config/fish/completions/kellect.fish")]
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the kellect(1) man page (roff) on stdout, or write one page per command
    /// into a directory.
    #[command(after_help = "Examples:\n  \
        kellect man | man -l -\n  \
        kellect man --dir /usr/local/share/man/man1")]
    Man {
        /// Write kellect.1 and kellect-COMMAND.1 for every command into DIR instead.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
pub(crate) struct RecordArgs {
    /// Read options from this TOML file (keys named as the long options: `output`,
    /// `rotate-size`, ...); the command line overrides it.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// The trace file to write (mode 0600). Further segments, with --rotate-size, are
    /// named FILE.1.kz, FILE.2.kz, ... Required, here or in the --config file.
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Replace the output file if it is a regular file: a new file is created beside it and
    /// renamed over it (never truncated in place). A symlink, device, FIFO or directory is
    /// refused, with or without -f.
    #[arg(short, long)]
    pub(crate) force: bool,
    #[command(flatten)]
    pub(crate) capture: CaptureArgs,
    /// zstd level for frames (1 = fastest, 19 = smallest).
    #[arg(long, value_name = "LEVEL", default_value_t = defaults::COMPRESSION_LEVEL)]
    pub(crate) compression_level: i32,
    /// Start a new segment file when the current one reaches this many MiB.
    #[arg(long, value_name = "MIB")]
    pub(crate) rotate_size: Option<u64>,
    /// Start a new segment file when the current one is this old (e.g. 10m, 1h).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) rotate_time: Option<std::time::Duration>,
    /// Flight recorder: keep at most N segment files, deleting the oldest when a new one
    /// starts (each segment replays alone). Segments start by --rotate-size,
    /// --rotate-time or SIGHUP.
    #[arg(long, value_name = "N")]
    pub(crate) keep: Option<u32>,
    /// Write the recorder's process id to FILE once its signal handlers are in place
    /// (for `kellect snapshot FILE`); removed when recording ends.
    #[arg(long, value_name = "FILE")]
    pub(crate) pidfile: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub(crate) quiet: bool,
    /// The command to record, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    pub(crate) command: Vec<OsString>,
}

/// What to capture: shared by `record` and `live`.
#[derive(clap::Args)]
pub(crate) struct CaptureArgs {
    /// Stop after this long (e.g. 30s, 5m, 2h). With a command, the command is sent
    /// SIGTERM and recording ends when it exits.
    #[arg(short, long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) duration: Option<std::time::Duration>,
    /// With a command: record the whole system while it runs, not just its process tree.
    #[arg(short = 'a', long)]
    pub(crate) all: bool,
    /// Event groups to record: file, process, network, permission, system (comma-separated).
    /// Unselected syscalls are filtered in the kernel. Process lifecycle (fork, exec,
    /// exit) is always recorded: replay needs it to follow processes. `packets` (with
    /// network) also counts each socket's packets in the kernel: TCP flags, TTL, drops,
    /// fragments (the records view's SockTxFlags, SockRxFlags, SockRxTTL, ...).
    #[arg(
        short = 'e',
        long,
        value_delimiter = ',',
        value_name = "GROUPS",
        default_value = super::validate::default_groups()
    )]
    pub(crate) events: Vec<String>,
    /// Capture payloads of an application protocol on these ports, kflowd's syntax:
    /// `dns=udp/53,tcp/53`, `http=tcp/80,tcp/8080`, `syslog=udp/514,tcp/514,unix`,
    /// `http=off`. Repeatable; protocols not named keep these defaults.
    #[arg(short = 'p', long, value_name = "PROTO=PORTS")]
    pub(crate) protocol: Vec<String>,
    /// Payload bytes captured per message (0 turns payload capture off).
    #[arg(long, value_name = "BYTES", default_value_t = defaults::PAYLOAD_SIZE)]
    pub(crate) payload_size: u32,
    /// Look up the installed package version of executables (dpkg), off the hot path.
    #[arg(short = 'v', long = "versions")]
    pub(crate) versions: bool,
    /// Compute MD5 and SHA-256 of executables and files with an execute bit.
    #[arg(short = 'c', long = "checksums")]
    pub(crate) checksums: bool,
    /// Ring buffer size in MiB (a power of two): larger absorbs bigger bursts.
    #[arg(long, value_name = "MIB", default_value_t = defaults::RING_SIZE_MIB)]
    pub(crate) ring_size: u32,
    /// Raw KiB collected per compressed frame.
    #[arg(long, value_name = "KIB", default_value_t = defaults::FRAME_SIZE_KIB)]
    pub(crate) frame_size: usize,
    /// Seal the trace with this sealing key (`kellect keygen`): every epoch and at every
    /// segment end; the key evolves and its file is rewritten, forgetting the old key.
    #[arg(long, value_name = "FILE")]
    pub(crate) seal_key: Option<PathBuf>,
    /// The operator's note, recorded with the chain-of-custody facts (`kellect info`).
    #[arg(long, value_name = "TEXT")]
    pub(crate) note: Option<String>,
}

#[derive(clap::Args)]
pub(crate) struct KeygenArgs {
    /// Where to write the sealing key (a new file, mode 0600): keep it on the recording
    /// host, for `record --seal-key`.
    #[arg(long, value_name = "FILE")]
    pub(crate) seal_key: PathBuf,
    /// Where to write the verification key (a new file, mode 0600): move it off the host;
    /// `verify --key` needs it.
    #[arg(long, value_name = "FILE")]
    pub(crate) verify_key: PathBuf,
    /// Length of a sealing epoch (1s to 1d).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub(crate) interval: std::time::Duration,
}

#[derive(clap::Args)]
pub(crate) struct LiveArgs {
    /// Read options from this TOML file (keys named as the long options: `write`,
    /// `events`, `udp`, ...); the command line overrides it.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Keep the trace too, in this file (mode 0600).
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub(crate) write: Option<PathBuf>,
    /// Replace the -w file if it is a regular file (a new file renamed over it; a symlink,
    /// device, FIFO or directory is refused).
    #[arg(short, long)]
    pub(crate) force: bool,
    #[command(flatten)]
    pub(crate) capture: CaptureArgs,
    #[command(flatten)]
    pub(crate) out: OutputArgs,
    /// Write the command's stdout and stderr to this file (mode 0600, truncated; a
    /// symbolic link is refused) instead of kellect's stderr. Kellect's stdout carries
    /// only its own output either way.
    #[arg(long, value_name = "FILE", requires = "command")]
    pub(crate) command_output: Option<PathBuf>,
    /// The command to record, after `--` (without one: the whole system until Ctrl-C).
    #[arg(last = true, value_name = "COMMAND")]
    pub(crate) command: Vec<OsString>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum FormatArg {
    /// Pretty-printed JSON.
    Json,
    /// One JSON object per line.
    JsonMin,
    /// Aligned columns for a terminal.
    Table,
    /// A Parquet file with a typed schema (replay only, with --to FILE; docs/PARQUET.md).
    Parquet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ViewArg {
    /// kflowd-style records: one per file touch, socket and process lifetime.
    Records,
    /// One object per kernel event (Kellect's catalogue of 38 types and those added since).
    Events,
}

/// How replayed events and records are chosen and printed (replay and live).
#[derive(clap::Args)]
pub(crate) struct OutputArgs {
    /// What to print.
    #[arg(long, value_enum, default_value_t = ViewArg::Records)]
    pub(crate) view: ViewArg,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = FormatArg::Json)]
    pub(crate) output: FormatArg,
    /// Records view: monitors to print (file, socket, process; comma-separated).
    #[arg(
        short = 'm',
        long,
        value_delimiter = ',',
        value_name = "MONITORS",
        default_value = super::validate::default_monitors()
    )]
    pub(crate) monitor: Vec<String>,
    /// Records view: export a file record after N events (1: no aggregation).
    #[arg(long, value_name = "N")]
    pub(crate) max_events: Option<u32>,
    /// Records view: export sockets idle IDLE seconds or open ACTIVE seconds (event time).
    #[arg(
        short = 't',
        long,
        value_name = "IDLE,ACTIVE",
        default_value_t = super::validate::default_timeouts()
    )]
    pub(crate) timeouts: String,
    /// Records view: add InfoHostToken to every record.
    #[arg(short = 'T', long = "token", value_name = "TOKEN")]
    pub(crate) token: Option<String>,
    /// Also send each record or event as one UDP datagram (NDJSON) to these collectors
    /// (IP:PORT, IPv4 or [IPv6]:PORT; up to 8, comma-separated).
    #[arg(
        short = 'u',
        long = "udp",
        value_delimiter = ',',
        value_name = "IP:PORT"
    )]
    pub(crate) udp: Vec<String>,
    /// With -u: send at most this many datagrams per second in all (bursts of 64), so a
    /// collector is not flooded past its receive buffer; 0 sends as fast as the kernel
    /// takes them. What the kernel refuses is counted by reason and said at the end.
    #[arg(
        long,
        value_name = "N",
        default_value_t = kellect::replayer::render::output::DEFAULT_UDP_RATE
    )]
    pub(crate) udp_rate: u32,
    /// Also send each record or event as a syslog message (RFC 5424, facility local0, the
    /// JSON as its message) over TCP with octet-counting framing (RFC 6587) to these
    /// collectors (IP:PORT; up to 8, comma-separated). A lost connection is made again,
    /// with a backoff of 100 ms to 5 s; what could not be sent is counted and said.
    #[arg(long, value_delimiter = ',', value_name = "IP:PORT")]
    pub(crate) syslog_tcp: Vec<String>,
    /// Print nothing on stdout (with -u: the collectors still get everything).
    #[arg(short = 'q', long)]
    pub(crate) quiet: bool,
    /// Events view: only these event types (comma-separated, e.g. process_exec,file_open).
    #[arg(long, value_delimiter = ',', value_name = "TYPE")]
    pub(crate) event: Vec<String>,
    /// Only these process ids.
    #[arg(long, value_delimiter = ',', value_name = "PID")]
    pub(crate) pid: Vec<u32>,
    /// Only processes with these names (comm): globs (`ba*`, `kworker/*`), comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "GLOB")]
    pub(crate) comm: Vec<String>,
    /// Only processes in these containers: an id in full or its first 12 (or more)
    /// characters, or a systemd-nspawn or LXC container's name.
    #[arg(long, value_delimiter = ',', value_name = "ID")]
    pub(crate) container: Vec<String>,
    /// Only events and records about a path that matches GLOB (absolute paths; `*` stops at
    /// `/`, `**` does not; `{a,b}` alternatives); repeat the flag for more.
    #[arg(long, value_name = "GLOB")]
    pub(crate) path: Vec<String>,
    /// Only processes with these real user ids.
    #[arg(long, value_delimiter = ',', value_name = "UID")]
    pub(crate) uid: Vec<u32>,
    /// Only sockets whose remote end is ADDR, ADDR:PORT or in a CIDR network
    /// (192.0.2.7:443, 10.0.0.0/8, [2001:db8::1]:53), comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "ADDR[:PORT]")]
    pub(crate) remote: Vec<String>,
    /// Only process exits with this exit status (0-255): process_exit events and process
    /// records.
    #[arg(long, value_delimiter = ',', value_name = "N")]
    pub(crate) exit_code: Vec<u32>,
    /// Only events at or after TIME, records whose span reaches TIME: RFC 3339
    /// (2026-11-21T07:40:49Z) or seconds after the recording started (12.5).
    #[arg(long, value_name = "TIME")]
    pub(crate) since: Option<String>,
    /// Only events at or before TIME, records that began by TIME (same forms as --since).
    #[arg(long, value_name = "TIME")]
    pub(crate) until: Option<String>,
    /// Print every key of the output with its meaning, and exit.
    #[arg(long)]
    pub(crate) legend: bool,
}

#[derive(clap::Args)]
pub(crate) struct ReplayArgs {
    /// Trace files or directories. A file brings the other segments of its recording
    /// found beside it (t.kz, t.1.kz, t.2.kz, ...: same recording id); a directory stands
    /// for every trace in it, recordings replayed oldest first.
    #[arg(required_unless_present = "legend", value_name = "FILE|DIR")]
    pub(crate) files: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) inputs: InputArgs,
    #[command(flatten)]
    pub(crate) out: OutputArgs,
    /// Write the output to FILE instead of stdout, in any format (a temporary file, mode
    /// 0600, renamed over FILE once the replay succeeded; a symbolic link, a directory or a
    /// kellect trace is refused). Required by -o parquet.
    #[arg(long, value_name = "FILE")]
    pub(crate) to: Option<PathBuf>,
    /// Worker threads (default: one per CPU). Output is the same for any number.
    #[arg(short = 'j', long, value_name = "N")]
    pub(crate) threads: Option<usize>,
    /// Memory replay may use, whatever the trace holds (beyond the mapped trace files);
    /// at least 32.
    #[arg(long, value_name = "MIB", default_value_t = MemoryBudget::DEFAULT_MIB)]
    pub(crate) max_memory: u64,
}

#[derive(clap::Args)]
pub(crate) struct InfoArgs {
    /// Trace files or directories, as for `replay`.
    #[arg(required = true, value_name = "FILE|DIR")]
    pub(crate) files: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) inputs: InputArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    /// Memory info may use, whatever the trace holds (beyond the mapped trace files);
    /// at least 32.
    #[arg(long, value_name = "MIB", default_value_t = MemoryBudget::DEFAULT_MIB)]
    pub(crate) max_memory: u64,
}

/// How the paths given to `replay` and `info` are expanded.
#[derive(clap::Args, Clone)]
pub(crate) struct InputArgs {
    /// Read only the files named: do not look for the other segments of their recordings
    /// (a segment then replays alone, and what is not given is named as missing).
    #[arg(long)]
    pub(crate) only_given: bool,
}

#[derive(clap::Args)]
pub(crate) struct SliceArgs {
    /// Trace files or directories of one recording, as for `replay`.
    #[arg(required = true, value_name = "FILE|DIR")]
    pub(crate) files: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) inputs: InputArgs,
    /// The slice to write (mode 0600): an existing file is an error; a symlink, device,
    /// FIFO or directory is always refused.
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: PathBuf,
    /// Replace the output if it is a regular file (the slice is renamed over it).
    #[arg(short, long)]
    pub(crate) force: bool,
    /// Only events at or after TIME: RFC 3339 or seconds after the recording started.
    #[arg(long, value_name = "TIME")]
    pub(crate) since: Option<String>,
    /// Only events at or before TIME (same forms as --since).
    #[arg(long, value_name = "TIME")]
    pub(crate) until: Option<String>,
    /// Only these process ids.
    #[arg(long, value_delimiter = ',', value_name = "PID")]
    pub(crate) pid: Vec<u32>,
    /// Only processes with these names (comm).
    #[arg(long, value_delimiter = ',', value_name = "NAME")]
    pub(crate) comm: Vec<String>,
    /// Only processes in these containers (as for `replay`).
    #[arg(long, value_delimiter = ',', value_name = "ID")]
    pub(crate) container: Vec<String>,
    /// Only these event types (comma-separated, e.g. process_exec,file_open).
    #[arg(long, value_delimiter = ',', value_name = "TYPE")]
    pub(crate) event: Vec<String>,
    /// Memory each pass over the recording may use, as for `replay`; at least 32.
    #[arg(long, value_name = "MIB", default_value_t = MemoryBudget::DEFAULT_MIB)]
    pub(crate) max_memory: u64,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub(crate) quiet: bool,
}

#[derive(clap::Args)]
pub(crate) struct VerifyArgs {
    /// Segment files, of one or several recordings.
    #[arg(required = true, value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    /// Check the seals with this verification key (`kellect keygen`), each epoch with its
    /// own key; without it, seals are reported as present but not verified.
    #[arg(long, value_name = "VERIFICATION_KEY")]
    pub(crate) key: Option<PathBuf>,
}

pub(crate) fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let (number, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((s, "s"), |i| s.split_at(i));
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (examples: 90s, 5m, 1.5h)"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => {
            return Err(format!(
                "unknown unit `{unit}` in `{s}` (use ms, s, m or h)"
            ))
        }
    };
    if !(seconds > 0.0 && seconds.is_finite()) {
        return Err(format!("`{s}` is not a positive duration"));
    }
    Ok(std::time::Duration::from_secs_f64(seconds))
}
