//! `kellect tree` and `kellect report`: what the user typed (clap), the validated
//! [`TreeConfig`] made from it, and running them ([`kellect::replayer::tree`],
//! [`kellect::replayer::report`]).

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::ValueEnum;

use kellect::replayer::input::progress::Progress;
use kellect::replayer::render::output::escape_control;
use kellect::replayer::render::report;
use kellect::replayer::views::tree::{self, Drawing, Forest, Selection, TreeConfig};
use kellect::replayer::MemoryBudget;

use super::args::InputArgs;
use super::commands::{find_inputs, open_output, with_threads};
use super::validate::{
    activity, check_comms, container_ids, memory_budget, time_bound, time_range,
};
use super::UsageError;

/// Processes `kellect tree` shows by default.
const TREE_LIMIT: usize = 10_000;
/// Processes `kellect report` draws by default: a page a laptop's browser opens at once.
const REPORT_LIMIT: usize = 2_000;

/// Which processes to show, and from which traces: shared by `tree` and `report`.
#[derive(clap::Args)]
pub(crate) struct TreeInputArgs {
    /// Trace files or directories, as for `replay`.
    #[arg(required = true, value_name = "FILE|DIR")]
    pub(crate) files: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) inputs: InputArgs,
    /// Only these process ids (and their ancestors, for context).
    #[arg(long, value_delimiter = ',', value_name = "PID")]
    pub(crate) pid: Vec<u32>,
    /// Only processes with these names (comm): globs, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "GLOB")]
    pub(crate) comm: Vec<String>,
    /// Only processes in these containers (an id in full or its first 12 characters).
    #[arg(long, value_delimiter = ',', value_name = "ID")]
    pub(crate) container: Vec<String>,
    /// Only processes with these real user ids.
    #[arg(long, value_delimiter = ',', value_name = "UID")]
    pub(crate) uid: Vec<u32>,
    /// Only processes with a file record whose path (or a socket record whose UNIX path)
    /// matches GLOB (absolute paths; `*` stops at `/`, `**` does not); repeat for more.
    #[arg(long, value_name = "GLOB")]
    pub(crate) path: Vec<String>,
    /// Only processes with a socket record whose remote end is ADDR, ADDR:PORT or in a
    /// CIDR network (192.0.2.7:443, 10.0.0.0/8, [2001:db8::1]:53), comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "ADDR[:PORT]")]
    pub(crate) remote: Vec<String>,
    /// Only processes that exited with this status (0-255).
    #[arg(long, value_delimiter = ',', value_name = "N")]
    pub(crate) exit_code: Vec<u32>,
    /// Only processes alive at or after TIME: RFC 3339 or seconds after the recording
    /// started.
    #[arg(long, value_name = "TIME")]
    pub(crate) since: Option<String>,
    /// Only processes started at or before TIME (same forms as --since).
    #[arg(long, value_name = "TIME")]
    pub(crate) until: Option<String>,
    /// Worker threads (default: one per CPU). Output is the same for any number.
    #[arg(short = 'j', long, value_name = "N")]
    pub(crate) threads: Option<usize>,
    /// Memory the replay and the tree may use; at least 32. The tree takes 1/8 of it.
    #[arg(long, value_name = "MIB", default_value_t = MemoryBudget::DEFAULT_MIB)]
    pub(crate) max_memory: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TreeFormat {
    /// The tree drawn for a terminal.
    Text,
    /// One JSON object, children nested (docs/TREE.md).
    Json,
}

#[derive(clap::Args)]
pub(crate) struct TreeArgs {
    #[command(flatten)]
    pub(crate) select: TreeInputArgs,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = TreeFormat::Text)]
    pub(crate) output: TreeFormat,
    /// Draw the tree with ASCII characters instead of box-drawing ones.
    #[arg(long)]
    pub(crate) ascii: bool,
    /// Show at most N processes (the rest are counted, with their activity).
    #[arg(long, value_name = "N", default_value_t = TREE_LIMIT)]
    pub(crate) limit: usize,
    /// Write the tree to FILE instead of stdout (mode 0600; replaced if it exists; a
    /// symbolic link, FIFO, socket or device is refused; `-`: stdout). Text or JSON only:
    /// a name ending in `.parquet` or `.html` is refused.
    #[arg(long, value_name = "FILE|-")]
    pub(crate) to: Option<PathBuf>,
}

#[derive(clap::Args)]
pub(crate) struct ReportArgs {
    #[command(flatten)]
    pub(crate) select: TreeInputArgs,
    /// The HTML file to write (mode 0600; replaced if it exists; a symbolic link, a FIFO,
    /// a socket or a device is refused), or `-` for stdout. `--to` is the same.
    #[arg(short, long, visible_alias = "to", value_name = "FILE|-")]
    pub(crate) output: PathBuf,
    /// Draw at most N processes (the rest are counted, with their activity).
    #[arg(long, value_name = "N", default_value_t = REPORT_LIMIT)]
    pub(crate) limit: usize,
}

/// Where a tree or page goes: stdout, or a file written beside its name and renamed over
/// it when complete.
enum Destination {
    Stdout,
    File(super::commands::OutputFile),
}

impl Destination {
    /// `path` (`-`: stdout), refused by [`check_output`] as `flag`.
    fn open(
        path: Option<&std::path::Path>,
        flag: &str,
        formats: &[&str],
        hint: &str,
        inputs: &[PathBuf],
    ) -> Result<Destination> {
        match path.filter(|p| p.as_os_str() != "-") {
            None => Ok(Destination::Stdout),
            Some(p) => {
                check_output(p, flag, formats, hint)?;
                Ok(Destination::File(open_output(p, flag, inputs, false)?))
            }
        }
    }

    fn writer(&self) -> Result<Box<dyn Write + '_>> {
        Ok(match self {
            Destination::Stdout => Box::new(io::stdout().lock()),
            Destination::File(f) => Box::new(f.writer()?),
        })
    }

    /// Puts a file under its name (nothing for stdout).
    fn commit(self) -> Result<()> {
        match self {
            Destination::Stdout => Ok(()),
            Destination::File(f) => f.commit(),
        }
    }
}

/// The validated configuration of `select` (without inputs, which are expanded by the
/// caller), showing at most `limit` processes.
fn config(select: &TreeInputArgs, limit: usize) -> Result<TreeConfig> {
    if limit == 0 {
        bail!(UsageError("--limit must be at least 1".into()));
    }
    let mut selection =
        Selection::with_comms(&select.comm).map_err(|e| UsageError(e.to_string()))?;
    selection.pids = select.pid.clone();
    selection.containers = container_ids(select.container.clone())?;
    selection.uids = select.uid.clone();
    if let Some(code) = select.exit_code.iter().find(|&&c| c > 255) {
        bail!(UsageError(format!(
            "--exit-code {code}: an exit status is 0-255"
        )));
    }
    selection.exit_codes = select.exit_code.clone();
    selection.activity = activity(&select.path, &select.remote)?;
    selection.since = time_bound("--since", &select.since)?;
    selection.until = time_bound("--until", &select.until)?;
    time_range(selection.since, selection.until)?;
    check_comms(&select.comm)?;
    Ok(TreeConfig {
        inputs: Vec::new(),
        budget: memory_budget(select.max_memory)?,
        selection,
        limit,
    })
}

/// Builds the tree; prints the replay's warnings on stderr. Errors: as `replay`, and
/// nothing recovered from the trace.
fn build(cfg: &TreeConfig) -> Result<Forest> {
    let mut progress = Progress::new(0, false);
    let forest = tree::build(cfg, &mut progress)?;
    for w in &forest.report.warnings {
        eprintln!("kellect: warning: {}", escape_control(w));
    }
    if forest.report.frames_decoded == 0 && forest.report.being_written == 0 {
        bail!("nothing was recovered: no data frame of the trace could be decoded");
    }
    Ok(forest)
}

/// `kellect tree`.
pub(crate) fn tree(a: TreeArgs) -> Result<ExitCode> {
    let mut cfg = config(&a.select, a.limit)?;
    cfg.inputs = find_inputs(&a.select.files, &a.select.inputs)?;
    let to = Destination::open(
        a.to.as_deref(),
        "--to",
        &["parquet", "html", "htm"],
        "the tree is text or JSON (-o text|json); Parquet is `kellect replay -o parquet --to \
         FILE`, the HTML page `kellect report -o FILE`",
        &cfg.inputs,
    )?;
    let code = with_threads(a.select.threads, || {
        let forest = build(&cfg)?;
        let mut out = io::BufWriter::with_capacity(1 << 16, to.writer()?);
        match a.output {
            TreeFormat::Text => tree::write_text(
                &forest,
                if a.ascii {
                    Drawing::ASCII
                } else {
                    Drawing::BOXES
                },
                &mut out,
            )?,
            TreeFormat::Json => tree::write_json(&forest, &mut out)?,
        }
        out.flush()?;
        Ok(ExitCode::SUCCESS)
    })?;
    to.commit()?;
    Ok(code)
}

/// Refuses an output (`flag` PATH) that is not a file to write to: a FIFO, socket or
/// device (opening a FIFO waits for a reader; `-` is stdout), or a name ending in one of
/// `formats` (extensions of formats this command does not write; `hint` says which does).
fn check_output(path: &std::path::Path, flag: &str, formats: &[&str], hint: &str) -> Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let shown = escape_control(&path.display().to_string()).into_owned();
    let other = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .filter(|e| formats.contains(&e.as_str()));
    if let Some(ext) = other {
        bail!(UsageError(format!(
            "{flag} {shown}: a .{ext} name is refused: {hint}"
        )));
    }
    if let Ok(m) = std::fs::symlink_metadata(path) {
        let t = m.file_type();
        if t.is_fifo() || t.is_socket() || t.is_char_device() || t.is_block_device() {
            bail!(UsageError(format!(
                "{flag} {shown} is not a regular file (a FIFO, socket or device): write to a \
                 file, or to stdout with `{flag} -`"
            )));
        }
    }
    Ok(())
}

/// `kellect report`.
pub(crate) fn report(a: ReportArgs) -> Result<ExitCode> {
    let mut cfg = config(&a.select, a.limit)?;
    cfg.inputs = find_inputs(&a.select.files, &a.select.inputs)?;
    let to_stdout = a.output.as_os_str() == "-";
    let to = Destination::open(
        Some(&a.output),
        "-o",
        &["json", "ndjson", "jsonl", "parquet", "csv", "txt"],
        "the report is one HTML page; the tree as JSON or text is `kellect tree -o json` or \
         `kellect tree`",
        &cfg.inputs,
    )?;
    let (shown, left_out) = with_threads(a.select.threads, || {
        let forest = build(&cfg)?;
        let mut out = io::BufWriter::with_capacity(1 << 16, to.writer()?);
        let inputs: Vec<&std::path::Path> = cfg.inputs.iter().map(PathBuf::as_path).collect();
        report::write_html(&forest, &inputs, &mut out)?;
        out.flush()?;
        Ok((forest.order.len(), forest.left_out))
    })?;
    to.commit()?;
    eprintln!(
        "kellect: wrote {} ({} processes{})",
        if to_stdout {
            "the page to stdout".to_owned()
        } else {
            escape_control(&a.output.display().to_string()).into_owned()
        },
        shown,
        if left_out > 0 {
            format!(", {left_out} more left out by --limit")
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}
