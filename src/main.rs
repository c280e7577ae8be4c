//! The kellect command line: parse, validate into a library config, run, map errors to
//! exit codes (0 ok, 1 error, 2 usage; `record -- CMD` exits with CMD's status).

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use kellect::replayer::events::EVENT_TYPES;
use kellect::replayer::{self, Filter, OutputFormat, ReplayConfig, TimeBound, View};

#[derive(Parser)]
#[command(
    name = "kellect",
    version,
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
    Record(RecordArgs),
    /// Replay traces: decode, enrich and print events as JSON (no privileges needed).
    Replay(ReplayArgs),
    /// Describe traces: host, time range, record counts, drops, frames and damage.
    Info(InfoArgs),
}

#[derive(clap::Args)]
struct RecordArgs {
    /// The trace file to write (mode 0600). Further segments, with --rotate-size, are
    /// named FILE.1.kz, FILE.2.kz, ...
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
    /// Replace the output file if it exists.
    #[arg(short, long)]
    force: bool,
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
    /// Ring buffer size in MiB (a power of two): larger absorbs bigger bursts.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    ring_size: u32,
    /// Raw KiB collected per compressed frame.
    #[arg(long, value_name = "KIB", default_value_t = 1024)]
    frame_size: usize,
    /// zstd level for frames (1 = fastest, 19 = smallest).
    #[arg(long, value_name = "LEVEL", default_value_t = 3,
          value_parser = clap::value_parser!(i32).range(1..=19))]
    compression_level: i32,
    /// Start a new segment file when the current one reaches this many MiB.
    #[arg(long, value_name = "MIB")]
    rotate_size: Option<u64>,
    /// Print nothing but errors.
    #[arg(short, long)]
    quiet: bool,
    /// The command to record, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    /// Pretty-printed JSON.
    Json,
    /// One JSON object per line.
    JsonMin,
}

#[derive(Clone, Copy, ValueEnum)]
enum ViewArg {
    /// One object per kernel event.
    Events,
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// Trace files (all segments of a recording, or several recordings).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = FormatArg::JsonMin)]
    output: FormatArg,
    /// What to print.
    #[arg(long, value_enum, default_value_t = ViewArg::Events)]
    view: ViewArg,
    /// Only these event types (comma-separated, e.g. process_exec,process_exit).
    #[arg(long, value_delimiter = ',', value_name = "TYPE")]
    event: Vec<String>,
    /// Only events of these process ids.
    #[arg(long, value_delimiter = ',', value_name = "PID")]
    pid: Vec<u32>,
    /// Only events of processes with these names (comm).
    #[arg(long, value_delimiter = ',', value_name = "NAME")]
    comm: Vec<String>,
    /// Only events at or after TIME: RFC 3339 (2026-11-21T07:40:49Z) or seconds after
    /// the trace's first event (12.5).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only events at or before TIME (same forms as --since).
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Worker threads (default: one per CPU). Output is the same for any number.
    #[arg(short = 'j', long, value_name = "N")]
    threads: Option<usize>,
}

#[derive(clap::Args)]
struct InfoArgs {
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
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

impl TryFrom<ReplayArgs> for ReplayConfig {
    type Error = anyhow::Error;

    fn try_from(a: ReplayArgs) -> Result<Self> {
        for t in &a.event {
            if !EVENT_TYPES.contains(&t.as_str()) {
                usage!(
                    "unknown event type `{t}` in --event (known: {})",
                    EVENT_TYPES.join(", ")
                );
            }
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
        Ok(ReplayConfig {
            inputs: a.files,
            format: match a.output {
                FormatArg::Json => OutputFormat::Json,
                FormatArg::JsonMin => OutputFormat::JsonMin,
            },
            view: match a.view {
                ViewArg::Events => View::Events,
            },
            filter: Filter {
                event_types: a.event,
                pids: a.pid,
                comms: a.comm,
                since,
                until,
            },
        })
    }
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
        Cmd::Record(args) => record(args),
        Cmd::Replay(args) => {
            let threads = args.threads;
            let cfg = ReplayConfig::try_from(args)?;
            with_threads(threads, || {
                let stdout = io::stdout();
                let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
                let report = replayer::replay(&cfg, &mut out)?;
                out.flush()?;
                for w in &report.warnings {
                    eprintln!("kellect: warning: {w}");
                }
                Ok(ExitCode::SUCCESS)
            })
        }
        Cmd::Info(args) => {
            let recordings = replayer::trace::open_recordings(&args.files)?;
            let infos: Vec<_> = recordings.iter().map(replayer::info::trace_info).collect();
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

#[cfg(feature = "record")]
fn record(a: RecordArgs) -> Result<ExitCode> {
    use kellect::recorder::{self, RecordConfig};
    use kellect::syscalls::Group;
    if !a.ring_size.is_power_of_two() || a.ring_size == 0 || a.ring_size > 2048 {
        usage!(
            "--ring-size must be a power of two between 1 and 2048 MiB, not {}",
            a.ring_size
        );
    }
    if a.frame_size == 0 || a.frame_size > 32 * 1024 {
        usage!(
            "--frame-size must be between 1 and 32768 KiB, not {}",
            a.frame_size
        );
    }
    if a.all && a.command.is_empty() {
        usage!(
            "-a/--all goes with a command (without one, kellect records the whole system anyway)"
        );
    }
    let mut groups = Vec::new();
    for name in &a.groups {
        match Group::from_name(name) {
            Some(g) if !groups.contains(&g) => groups.push(g),
            Some(_) => {}
            None => usage!(
                "unknown event group `{name}` in -e (known: file, process, network, permission)"
            ),
        }
    }
    let mut cfg = RecordConfig::new(a.output);
    cfg.groups = groups;
    cfg.overwrite = a.force;
    cfg.command = a.command;
    cfg.system_wide = a.all;
    cfg.duration = a.duration;
    cfg.ring_size = a.ring_size << 20;
    cfg.frame_size = a.frame_size << 10;
    cfg.compression_level = a.compression_level;
    cfg.rotate_size = match a.rotate_size {
        Some(0) => usage!("--rotate-size must be at least 1 MiB"),
        Some(mib) => Some(mib << 20),
        None => None,
    };
    cfg.verbose = !a.quiet;
    let quiet = a.quiet;
    let outcome = recorder::record(cfg)?;
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
    if outcome.dropped > 0 || outcome.malformed > 0 {
        eprintln!(
            "kellect: warning: {} events were lost (ring buffer full: {}, unusable: {}); \
             the trace counts them — try a larger --ring-size",
            outcome.dropped + outcome.malformed,
            outcome.dropped,
            outcome.malformed
        );
    }
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
    anyhow::bail!(
        "this kellect was built without the recorder (cargo build --no-default-features); \
         rebuild with the default features on Linux to record"
    )
}
