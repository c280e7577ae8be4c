//! The kellect command line: parse, validate into a library config, run, map errors to
//! exit codes (0 ok, 1 error, 2 usage; `record -- CMD` exits with CMD's status).

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use kellect::replayer::events::EVENT_TYPES;
use kellect::replayer::output::{escape_control, Collectors, Sink, MAX_COLLECTORS};
use kellect::replayer::records::Monitor;
use kellect::replayer::{
    self, Filter, MemoryBudget, OutputFormat, RecordsConfig, ReplayConfig, TimeBound, View,
};

/// `kellect --version`: the package version, the git revision it was built from and the
/// build's features (build.rs): `0.1.0 (git 1a2b3c4d5e6f, record and replay)`.
const VERSION: &str = concat!(
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
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Record kernel events into a trace file (needs root or CAP_BPF+CAP_PERFMON).
    #[command(after_help = "Examples:\n  \
        kellect record -o trace.kz -- make -j4      record a command's process tree\n  \
        kellect record -o trace.kz --duration 60s   record the whole system for a minute\n  \
        kellect record -o trace.kz                  record the whole system until Ctrl-C")]
    #[command(after_long_help = "Signals:\n  \
        SIGINT, SIGTERM  stop recording (with a command: the command is sent SIGTERM and \
        recording ends when it exits)\n  \
        SIGHUP           with a command: as SIGTERM; without one: close the current \
        segment and start the next now (with --keep, the oldest beyond N is deleted)")]
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
struct RecordArgs {
    /// The trace file to write (mode 0600). Further segments, with --rotate-size, are
    /// named FILE.1.kz, FILE.2.kz, ...
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// Replace the output file if it is a regular file: a new file is created beside it and
    /// renamed over it (never truncated in place). A symlink, device, FIFO or directory is
    /// refused, with or without -f.
    #[arg(short, long)]
    force: bool,
    #[command(flatten)]
    capture: CaptureArgs,
    /// zstd level for frames (1 = fastest, 19 = smallest).
    #[arg(long, value_name = "LEVEL", default_value_t = 3,
          value_parser = clap::value_parser!(i32).range(1..=19))]
    compression_level: i32,
    /// Start a new segment file when the current one reaches this many MiB.
    #[arg(long, value_name = "MIB")]
    rotate_size: Option<u64>,
    /// Start a new segment file when the current one is this old (e.g. 10m, 1h).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    rotate_time: Option<std::time::Duration>,
    /// Flight recorder: keep at most N segment files, deleting the oldest when a new one
    /// starts (each segment replays alone). Segments start by --rotate-size,
    /// --rotate-time or SIGHUP.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    keep: Option<u32>,
    /// Print nothing but errors.
    #[arg(short, long)]
    quiet: bool,
    /// The command to record, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

/// What to capture: shared by `record` and `live`.
#[derive(clap::Args)]
struct CaptureArgs {
    /// Stop after this long (e.g. 30s, 5m, 2h). With a command, the command is sent
    /// SIGTERM and recording ends when it exits.
    #[arg(short, long, value_name = "DURATION", value_parser = parse_duration)]
    duration: Option<std::time::Duration>,
    /// With a command: record the whole system while it runs, not just its process tree.
    #[arg(short = 'a', long)]
    all: bool,
    /// Event groups to record: file, process, network, permission (comma-separated).
    /// Unselected syscalls are filtered in the kernel. Process lifecycle (fork, exec,
    /// exit) is always recorded: replay needs it to follow processes.
    #[arg(
        short = 'e',
        long = "events",
        value_delimiter = ',',
        value_name = "GROUPS",
        default_value = "file,process,network,permission"
    )]
    groups: Vec<String>,
    /// Capture payloads of an application protocol on these ports, kflowd's syntax:
    /// `dns=udp/53,tcp/53`, `http=tcp/80,tcp/8080`, `syslog=udp/514,tcp/514,unix`,
    /// `http=off`. Repeatable; protocols not named keep these defaults.
    #[arg(short = 'p', long = "protocol", value_name = "PROTO=PORTS")]
    protocols: Vec<String>,
    /// Payload bytes captured per message (0 turns payload capture off).
    #[arg(long, value_name = "BYTES", default_value_t = 1400,
          value_parser = clap::value_parser!(u32).range(0..2048))]
    payload_size: u32,
    /// Look up the installed package version of executables (dpkg), off the hot path.
    #[arg(short = 'v', long = "versions")]
    versions: bool,
    /// Compute MD5 and SHA-256 of executables and files with an execute bit.
    #[arg(short = 'c', long = "checksums")]
    checksums: bool,
    /// Ring buffer size in MiB (a power of two): larger absorbs bigger bursts.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    ring_size: u32,
    /// Raw KiB collected per compressed frame.
    #[arg(long, value_name = "KIB", default_value_t = 1024)]
    frame_size: usize,
    /// Seal the trace with this sealing key (`kellect keygen`): every epoch and at every
    /// segment end; the key evolves and its file is rewritten, forgetting the old key.
    #[arg(long, value_name = "FILE")]
    seal_key: Option<PathBuf>,
    /// The operator's note, recorded with the chain-of-custody facts (`kellect info`).
    #[arg(long, value_name = "TEXT")]
    note: Option<String>,
}

#[derive(clap::Args)]
struct KeygenArgs {
    /// Where to write the sealing key (a new file, mode 0600): keep it on the recording
    /// host, for `record --seal-key`.
    #[arg(long, value_name = "FILE")]
    seal_key: PathBuf,
    /// Where to write the verification key (a new file, mode 0600): move it off the host;
    /// `verify --key` needs it.
    #[arg(long, value_name = "FILE")]
    verify_key: PathBuf,
    /// Length of a sealing epoch (1s to 1d).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    interval: std::time::Duration,
}

#[derive(clap::Args)]
struct LiveArgs {
    /// Keep the trace too, in this file (mode 0600).
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    write: Option<PathBuf>,
    /// Replace the -w file if it is a regular file (a new file renamed over it; a symlink,
    /// device, FIFO or directory is refused).
    #[arg(short, long)]
    force: bool,
    #[command(flatten)]
    capture: CaptureArgs,
    #[command(flatten)]
    out: OutputArgs,
    /// Write the command's stdout and stderr to this file (mode 0600, truncated; a
    /// symbolic link is refused) instead of kellect's stderr. Kellect's stdout carries
    /// only its own output either way.
    #[arg(long, value_name = "FILE", requires = "command")]
    command_output: Option<PathBuf>,
    /// The command to record, after `--` (without one: the whole system until Ctrl-C).
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    /// Pretty-printed JSON.
    Json,
    /// One JSON object per line.
    JsonMin,
    /// Aligned columns for a terminal.
    Table,
}

#[derive(Clone, Copy, ValueEnum)]
enum ViewArg {
    /// kflowd-style records: one per file touch, socket and process lifetime.
    Records,
    /// One object per kernel event (Kellect's catalogue of 38 types).
    Events,
}

/// How replayed events and records are chosen and printed (replay and live).
#[derive(clap::Args)]
struct OutputArgs {
    /// What to print.
    #[arg(long, value_enum, default_value_t = ViewArg::Records)]
    view: ViewArg,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = FormatArg::Json)]
    output: FormatArg,
    /// Records view: monitors to print (file, socket, process; comma-separated).
    #[arg(
        short = 'm',
        long = "monitor",
        value_delimiter = ',',
        value_name = "MONITORS",
        default_value = "file,socket,process"
    )]
    monitors: Vec<String>,
    /// Records view: export a file record after N events (1: no aggregation).
    #[arg(long, value_name = "N")]
    max_events: Option<u32>,
    /// Records view: export sockets idle IDLE seconds or open ACTIVE seconds (event time).
    #[arg(
        short = 't',
        long = "timeouts",
        value_name = "IDLE,ACTIVE",
        default_value = "15,1800"
    )]
    timeouts: String,
    /// Records view: add InfoHostToken to every record.
    #[arg(short = 'T', long = "token", value_name = "TOKEN")]
    token: Option<String>,
    /// Also send each record or event as one UDP datagram (NDJSON) to these collectors
    /// (IP:PORT, IPv4 or [IPv6]:PORT; up to 8, comma-separated).
    #[arg(
        short = 'u',
        long = "udp",
        value_delimiter = ',',
        value_name = "IP:PORT"
    )]
    udp: Vec<String>,
    /// Print nothing on stdout (with -u: the collectors still get everything).
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Events view: only these event types (comma-separated, e.g. process_exec,file_open).
    #[arg(long, value_delimiter = ',', value_name = "TYPE")]
    event: Vec<String>,
    /// Only these process ids.
    #[arg(long, value_delimiter = ',', value_name = "PID")]
    pid: Vec<u32>,
    /// Only processes with these names (comm).
    #[arg(long, value_delimiter = ',', value_name = "NAME")]
    comm: Vec<String>,
    /// Events view: only events at or after TIME: RFC 3339 (2026-11-21T07:40:49Z) or
    /// seconds after the recording started (12.5).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Events view: only events at or before TIME (same forms as --since).
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Print every key of the output with its meaning, and exit.
    #[arg(long)]
    legend: bool,
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// Trace files or directories. A file brings the other segments of its recording
    /// found beside it (t.kz, t.1.kz, t.2.kz, ...: same recording id); a directory stands
    /// for every trace in it, recordings replayed oldest first.
    #[arg(required_unless_present = "legend", value_name = "FILE|DIR")]
    files: Vec<PathBuf>,
    #[command(flatten)]
    inputs: InputArgs,
    #[command(flatten)]
    out: OutputArgs,
    /// Worker threads (default: one per CPU). Output is the same for any number.
    #[arg(short = 'j', long, value_name = "N")]
    threads: Option<usize>,
    /// Memory replay may use, whatever the trace holds (beyond the mapped trace files);
    /// at least 32.
    #[arg(long, value_name = "MIB", default_value_t = MemoryBudget::DEFAULT_MIB)]
    max_memory: u64,
}

#[derive(clap::Args)]
struct InfoArgs {
    /// Trace files or directories, as for `replay`.
    #[arg(required = true, value_name = "FILE|DIR")]
    files: Vec<PathBuf>,
    #[command(flatten)]
    inputs: InputArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Memory info may use, whatever the trace holds (beyond the mapped trace files);
    /// at least 32.
    #[arg(long, value_name = "MIB", default_value_t = MemoryBudget::DEFAULT_MIB)]
    max_memory: u64,
}

/// How the paths given to `replay` and `info` are expanded.
#[derive(clap::Args)]
struct InputArgs {
    /// Read only the files named: do not look for the other segments of their recordings
    /// (a segment then replays alone, and what is not given is named as missing).
    #[arg(long)]
    only_given: bool,
}

/// The segment files that `files` stand for ([`replayer::trace::find_inputs`]); what was
/// left out is printed as warnings.
fn find_inputs(files: &[PathBuf], a: &InputArgs) -> Result<Vec<PathBuf>> {
    let inputs = replayer::trace::find_inputs(files, !a.only_given)?;
    for note in &inputs.notes {
        eprintln!("kellect: warning: {}", escape_control(note));
    }
    Ok(inputs.paths)
}

#[derive(clap::Args)]
struct VerifyArgs {
    /// Segment files, of one or several recordings.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Check the seals with this verification key (`kellect keygen`), each epoch with its
    /// own key; without it, seals are reported as present but not verified.
    #[arg(long, value_name = "VERIFICATION_KEY")]
    key: Option<PathBuf>,
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
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

/// A mistake in how kellect was called: exit code 2, like clap's own usage errors.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UsageError(String);

macro_rules! usage {
    ($($arg:tt)*) => {
        return Err(UsageError(format!($($arg)*)).into())
    };
}

/// The budget of `--max-memory`, or a usage error.
fn memory_budget(mib: u64) -> Result<MemoryBudget> {
    match MemoryBudget::from_mib(mib) {
        Some(b) => Ok(b),
        None => usage!(
            "--max-memory must be between {} and {} MiB, not {mib}",
            MemoryBudget::MIN_MIB,
            1u64 << 40
        ),
    }
}

/// A validated replay configuration and its output: what `replay` and `live` share.
struct OutputPlan {
    cfg: ReplayConfig,
    collectors: Vec<std::net::SocketAddr>,
    quiet: bool,
}

fn output_plan(a: OutputArgs, inputs: Vec<PathBuf>) -> Result<OutputPlan> {
    let view = match a.view {
        ViewArg::Events => View::Events,
        ViewArg::Records => View::Records,
    };
    for t in &a.event {
        if !EVENT_TYPES.contains(&t.as_str()) {
            usage!(
                "unknown event type `{t}` in --event (known: {})",
                EVENT_TYPES.join(", ")
            );
        }
    }
    if view == View::Records && (!a.event.is_empty() || a.since.is_some() || a.until.is_some()) {
        usage!("--event, --since and --until select events: use them with --view events");
    }
    let bound = |flag: &str, v: &Option<String>| -> Result<Option<TimeBound>> {
        match v {
            None => Ok(None),
            Some(s) => match TimeBound::parse(s) {
                Some(b) => Ok(Some(b)),
                None => usage!(
                    "{flag} `{s}` is neither an RFC 3339 time (2026-11-21T07:40:49Z) \
                     nor a number of seconds"
                ),
            },
        }
    };
    let since = bound("--since", &a.since)?;
    let until = bound("--until", &a.until)?;
    let Some((idle, active)) = a
        .timeouts
        .split_once(',')
        .and_then(|(i, t)| Some((i.trim().parse::<u64>().ok()?, t.trim().parse::<u64>().ok()?)))
        .filter(|(i, t)| *i > 0 && *t > 0)
    else {
        usage!(
            "-t `{}`: expected IDLE,ACTIVE in whole seconds, e.g. 15,1800",
            a.timeouts
        )
    };
    let mut monitors = Vec::new();
    for m in &a.monitors {
        monitors.push(match m.as_str() {
            "file" | "filesystem" => Monitor::Filesystem,
            "socket" => Monitor::Socket,
            "process" => Monitor::Process,
            other => usage!("unknown monitor `{other}` in -m (known: file, socket, process)"),
        });
    }
    if a.max_events == Some(0) {
        usage!("--max-events must be at least 1");
    }
    if a.udp.len() > MAX_COLLECTORS {
        usage!(
            "-u takes at most {MAX_COLLECTORS} collectors, not {}",
            a.udp.len()
        );
    }
    let mut collectors = Vec::new();
    for u in &a.udp {
        match u.parse::<std::net::SocketAddr>() {
            Ok(addr) => collectors.push(addr),
            Err(_) => usage!("-u `{u}` is not IP:PORT (IPv6: [::1]:5000)"),
        }
    }
    Ok(OutputPlan {
        cfg: ReplayConfig {
            inputs,
            format: match a.output {
                FormatArg::Json => OutputFormat::Json,
                FormatArg::JsonMin => OutputFormat::JsonMin,
                FormatArg::Table => OutputFormat::Table,
            },
            view,
            filter: Filter {
                event_types: a.event,
                pids: a.pid,
                comms: a.comm,
                since,
                until,
            },
            records: RecordsConfig {
                max_events: a.max_events,
                idle_ns: idle.saturating_mul(1_000_000_000),
                active_ns: active.saturating_mul(1_000_000_000),
                token: a.token,
                monitors,
            },
            budget: MemoryBudget::default(),
        },
        collectors,
        quiet: a.quiet,
    })
}

fn verify(args: VerifyArgs) -> Result<ExitCode> {
    for path in &args.files {
        match std::fs::metadata(path) {
            Ok(m) if m.is_file() => {}
            Ok(_) => usage!("{} is not a regular file", path.display()),
            Err(e) => usage!("cannot read {}: {e}", path.display()),
        }
    }
    if let Some(key) = &args.key {
        if let Err(e) = std::fs::metadata(key) {
            usage!("cannot read the verification key {}: {e}", key.display());
        }
    }
    let report = replayer::verify::verify_files_keyed(&args.files, args.key.as_deref())?;
    let mut out = io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        write!(out, "{report}")?;
    }
    out.flush()?;
    Ok(ExitCode::from(report.exit_code))
}

fn print_legend() -> Result<ExitCode> {
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "Keys of the records view (kellect replay --view records):\n"
    )?;
    for (key, meaning) in kellect::replayer::legend::legend() {
        writeln!(out, "{key:<28} {meaning}")?;
    }
    writeln!(out, "\nkflowd keys kellect does not produce, and why:\n")?;
    for (keys, why) in kellect::replayer::legend::NOT_PROVIDED {
        writeln!(out, "{keys}\n    {why}")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) if replayer::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) if e.is::<UsageError>() => {
            eprintln!("kellect: error: {e}\n(see kellect --help)");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("kellect: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Cmd::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            // Into memory first: the generator panics on a failed write (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "kellect", &mut script);
            io::stdout().lock().write_all(&script)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Man { dir } => man_pages(dir),
        Cmd::Record(args) => record(args),
        Cmd::Live(args) => live(args),
        Cmd::Replay(args) => {
            if args.out.legend {
                return print_legend();
            }
            let threads = args.threads;
            let budget = memory_budget(args.max_memory)?;
            let files = find_inputs(&args.files, &args.inputs)?;
            let mut plan = output_plan(args.out, files)?;
            plan.cfg.budget = budget;
            with_threads(threads, || {
                let stdout = io::stdout();
                let mut lock = io::BufWriter::with_capacity(1 << 16, stdout.lock());
                let collectors = match plan.collectors.is_empty() {
                    true => None,
                    false => Some(
                        Collectors::new(plan.collectors.clone())
                            .context("opening the UDP socket for -u")?,
                    ),
                };
                let out: Option<&mut dyn Write> = if plan.quiet { None } else { Some(&mut lock) };
                let mut sink = Sink::new(out, plan.cfg.format, collectors);
                let report = replayer::replay(&plan.cfg, &mut sink)?;
                warn_collectors(&sink);
                drop(sink);
                lock.flush()?;
                for w in &report.warnings {
                    eprintln!("kellect: warning: {}", escape_control(w));
                }
                // Warnings beyond the being-written notes: damage, not a recording starting.
                let damaged = report.warnings.len() > report.being_written;
                if report.frames_decoded == 0 && report.being_written > 0 && !damaged {
                    // A recording that has not committed its first frame yet: not a failure.
                    eprintln!(
                        "kellect: warning: no data frame is committed yet: the recording has \
                         just started; replay it again later"
                    );
                    return Ok(ExitCode::SUCCESS);
                }
                if report.frames_decoded == 0 {
                    // Salvage found nothing: an empty output must not pass for a quiet trace.
                    bail!(
                        "nothing was recovered: no data frame of {} could be decoded{}",
                        plan.cfg
                            .inputs
                            .iter()
                            .map(|p| p.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                        if report.warnings.is_empty() {
                            " (the trace holds no frame)"
                        } else {
                            " (the warnings above say why)"
                        }
                    );
                }
                Ok(ExitCode::SUCCESS)
            })
        }
        Cmd::Verify(args) => verify(args),
        Cmd::Keygen(args) => {
            let interval = u64::try_from(args.interval.as_nanos()).unwrap_or(u64::MAX);
            let id = kellect::format::keygen_now(&args.seal_key, &args.verify_key, interval)?;
            eprintln!(
                "kellect: key pair {id}: sealing key {} (keep it on this host: record \
                 --seal-key), verification key {} (move it off this host and keep it safe: \
                 verify --key)",
                args.seal_key.display(),
                args.verify_key.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Info(args) => {
            let budget = memory_budget(args.max_memory)?;
            let files = find_inputs(&args.files, &args.inputs)?;
            let recordings = replayer::trace::open_recordings_within(&files, budget)?;
            let infos: Vec<_> = recordings
                .iter()
                .map(|r| replayer::info::trace_info_within(r, budget))
                .collect();
            let mut out = io::stdout().lock();
            if args.json {
                serde_json::to_writer_pretty(&mut out, &infos)?;
                writeln!(out)?;
            } else {
                for (i, info) in infos.iter().enumerate() {
                    if i > 0 {
                        writeln!(out)?;
                    }
                    write!(out, "{info}")?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `kellect man`: the main page on stdout, or every page (kellect.1, kellect-record.1, …)
/// written into `dir`, from the clap definitions.
fn man_pages(dir: Option<PathBuf>) -> Result<ExitCode> {
    let cmd = <Cli as clap::CommandFactory>::command();
    match dir {
        None => {
            let mut out = io::stdout().lock();
            clap_mangen::Man::new(cmd).render(&mut out)?;
            out.flush()?;
        }
        Some(dir) => {
            if !dir.is_dir() {
                usage!("--dir {}: not a directory", dir.display());
            }
            clap_mangen::generate_to(cmd, &dir)
                .with_context(|| format!("writing the man pages into {}", dir.display()))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn warn_collectors(sink: &Sink<'_>) {
    if let Some(c) = &sink.collectors {
        if c.failures > 0 {
            eprintln!(
                "kellect: warning: {} of {} datagrams to the -u collectors could not be sent",
                c.failures,
                c.failures + c.sent
            );
        }
    }
}

fn with_threads(
    threads: Option<usize>,
    f: impl FnOnce() -> Result<ExitCode> + Send,
) -> Result<ExitCode> {
    match threads {
        None => f(),
        Some(0) => usage!("--threads must be at least 1"),
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .context("starting worker threads")?
            .install(f),
    }
}

/// The recorder configuration shared by `record` and `live`, validated.
#[cfg(feature = "record")]
fn capture_config(
    c: CaptureArgs,
    output: Option<PathBuf>,
    command: Vec<OsString>,
) -> Result<kellect::recorder::RecordConfig> {
    use kellect::syscalls::Group;
    if !c.ring_size.is_power_of_two() || c.ring_size == 0 || c.ring_size > 2048 {
        usage!(
            "--ring-size must be a power of two between 1 and 2048 MiB, not {}",
            c.ring_size
        );
    }
    if c.frame_size == 0 || c.frame_size > 32 * 1024 {
        usage!(
            "--frame-size must be between 1 and 32768 KiB, not {}",
            c.frame_size
        );
    }
    if c.all && command.is_empty() {
        usage!(
            "-a/--all goes with a command (without one, kellect records the whole system anyway)"
        );
    }
    let mut groups = Vec::new();
    for name in &c.groups {
        match Group::from_name(name) {
            Some(g) if !groups.contains(&g) => groups.push(g),
            Some(_) => {}
            None => usage!(
                "unknown event group `{name}` in -e (known: file, process, network, permission)"
            ),
        }
    }
    let protocols = match kellect::meta::parse_protocol_specs(&c.protocols) {
        Ok(p) => p,
        Err(e) => usage!("-p {e}"),
    };
    let mut cfg = kellect::recorder::RecordConfig::new(output);
    cfg.groups = groups;
    cfg.protocols = protocols;
    cfg.payload_max = c.payload_size;
    cfg.versions = c.versions;
    cfg.checksums = c.checksums;
    cfg.command = command;
    cfg.system_wide = c.all;
    cfg.duration = c.duration;
    cfg.ring_size = c.ring_size << 20;
    cfg.frame_size = c.frame_size << 10;
    cfg.seal_key = c.seal_key;
    cfg.note = c.note;
    Ok(cfg)
}

#[cfg(feature = "record")]
fn record(a: RecordArgs) -> Result<ExitCode> {
    let mut cfg = capture_config(a.capture, Some(a.output), a.command)?;
    cfg.overwrite = a.force;
    cfg.compression_level = a.compression_level;
    cfg.rotate_size = match a.rotate_size {
        Some(0) => usage!("--rotate-size must be at least 1 MiB"),
        Some(mib) => Some(mib << 20),
        None => None,
    };
    cfg.rotate_time = a.rotate_time;
    cfg.keep = a.keep;
    cfg.verbose = !a.quiet;
    let quiet = a.quiet;
    let outcome = kellect::recorder::record(cfg)?;
    if !quiet {
        let s = &outcome.sink;
        eprintln!(
            "kellect: recorded {} records in {:.1} s: {} frames, {} bytes raw, {} bytes written to {}",
            s.records,
            outcome.elapsed.as_secs_f64(),
            s.frames,
            s.raw_bytes,
            s.written_bytes,
            s.segments
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !quiet && !outcome.sink.deleted.is_empty() {
        eprintln!(
            "kellect: the ring (--keep) deleted {} older segments",
            outcome.sink.deleted.len()
        );
    }
    for e in &outcome.sink.delete_errors {
        eprintln!("kellect: warning: the ring (--keep) {e}");
    }
    warn_drops(&outcome);
    Ok(match outcome.command_status {
        Some(status) => exit_code_of(status),
        None => ExitCode::SUCCESS,
    })
}

#[cfg(feature = "record")]
fn warn_drops(outcome: &kellect::recorder::RecordOutcome) {
    if outcome.dropped > 0 || outcome.malformed > 0 {
        eprintln!(
            "kellect: warning: {} events were lost (ring buffer full: {}, unusable: {}); \
             the trace counts them — try a larger --ring-size",
            outcome.dropped + outcome.malformed,
            outcome.dropped,
            outcome.malformed
        );
    }
}

/// `kellect live`: the recorder feeds every block it stores to a replay engine on another
/// thread — the same blocks, in the same order, that `kellect replay` reads from the file,
/// so both print the same.
#[cfg(feature = "record")]
fn live(a: LiveArgs) -> Result<ExitCode> {
    use kellect::recorder::TapItem;
    use kellect::replayer::{decode_raw_frame, Engine};
    if a.out.legend {
        return print_legend();
    }
    let plan = output_plan(a.out, Vec::new())?;
    let mut cfg = capture_config(a.capture, a.write, a.command)?;
    cfg.overwrite = a.force;
    cfg.verbose = false;
    // The command's output must not mix with the records on stdout.
    cfg.command_output = match a.command_output {
        Some(path) => kellect::recorder::CommandOutput::File(path),
        None => kellect::recorder::CommandOutput::Stderr,
    };
    // Short frames and frequent time marks: records appear well within a second.
    cfg.flush_interval = std::time::Duration::from_millis(250);
    let (tap_tx, tap_rx) = std::sync::mpsc::sync_channel::<TapItem>(256);
    cfg.tap = Some(tap_tx);
    // Remote anchoring: with --seal-key, the -u collectors also get every seal.
    if cfg.seal_key.is_some() {
        cfg.anchors = plan.collectors.clone();
    }
    let collectors = match plan.collectors.is_empty() {
        true => None,
        false => Some(
            Collectors::new(plan.collectors.clone()).context("opening the UDP socket for -u")?,
        ),
    };
    let stop = cfg.stop.clone();
    let printer = std::thread::Builder::new()
        .name("kellect-live".into())
        .spawn(move || -> Result<Vec<String>> {
            // However printing ends (a closed pipe too), recording ends with it.
            struct StopOnExit(std::sync::Arc<std::sync::atomic::AtomicBool>);
            impl Drop for StopOnExit {
                fn drop(&mut self) {
                    self.0.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            }
            let _stop = StopOnExit(stop);
            let stdout = io::stdout();
            let mut lock = io::LineWriter::new(stdout.lock());
            let out: Option<&mut dyn Write> = if plan.quiet { None } else { Some(&mut lock) };
            let mut sink = Sink::new(out, plan.cfg.format, collectors);
            let mut engine = Engine::new(&plan.cfg, &mut sink);
            for item in tap_rx {
                match item {
                    TapItem::Meta { kind, payload } => {
                        engine.meta_block(kind, 0, &payload, || format!("live {kind} block"))?
                    }
                    TapItem::Frame { first_ts, bytes } => {
                        let frame = decode_raw_frame(Some(first_ts), &bytes, |what| {
                            format!("live frame: {what}")
                        });
                        engine.frames(vec![frame])?;
                    }
                }
            }
            engine.finish()?;
            let warnings = std::mem::take(&mut engine.report.warnings);
            drop(engine);
            warn_collectors(&sink);
            Ok(warnings)
        })
        .context("starting the output thread")?;
    let outcome = kellect::recorder::record(cfg);
    // The recorder has dropped its end of the tap: the printer drains and stops.
    let printed = printer
        .join()
        .map_err(|_| anyhow::anyhow!("the output thread panicked"))?;
    let outcome = outcome?;
    match printed {
        Ok(warnings) => {
            for w in warnings {
                eprintln!("kellect: warning: {}", escape_control(&w));
            }
        }
        Err(e) if replayer::is_broken_pipe(&e) => {}
        Err(e) => return Err(e),
    }
    warn_drops(&outcome);
    Ok(match outcome.command_status {
        Some(status) => exit_code_of(status),
        None => ExitCode::SUCCESS,
    })
}

#[cfg(feature = "record")]
fn exit_code_of(status: std::process::ExitStatus) -> ExitCode {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitCode::from(code as u8),
        (None, Some(sig)) => ExitCode::from(128u8.wrapping_add(sig as u8)),
        _ => ExitCode::from(1),
    }
}

#[cfg(not(feature = "record"))]
fn record(_: RecordArgs) -> Result<ExitCode> {
    record_unavailable()
}

#[cfg(not(feature = "record"))]
fn live(_: LiveArgs) -> Result<ExitCode> {
    record_unavailable()
}

#[cfg(not(feature = "record"))]
fn record_unavailable() -> Result<ExitCode> {
    anyhow::bail!(
        "this kellect was built without the recorder (cargo build --no-default-features); \
         rebuild with the default features on Linux to record"
    )
}
