//! Running each command with its validated configuration; printing what the library
//! reports (summaries, warnings) on stderr.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

use kellect::replayer;
use kellect::replayer::render::output::{escape_control, Collectors, Sink};

use super::args::{
    Cli, Cmd, InfoArgs, InputArgs, KeygenArgs, LiveArgs, RecordArgs, ReplayArgs, SliceArgs,
    VerifyArgs,
};
#[cfg(feature = "record")]
use super::validate::RecordJob;
use super::validate::{memory_budget, OutputPlan};
use super::UsageError;

/// The segment files that `files` stand for ([`replayer::input::trace::find_inputs`]); what was
/// left out is printed as warnings.
pub(super) fn find_inputs(files: &[PathBuf], a: &InputArgs) -> Result<Vec<PathBuf>> {
    let inputs = replayer::input::trace::find_inputs(files, !a.only_given)?;
    for note in &inputs.notes {
        eprintln!("kellect: warning: {}", escape_control(note));
    }
    Ok(inputs.paths)
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
    for (key, meaning) in kellect::replayer::views::records::legend::legend() {
        writeln!(out, "{key:<28} {meaning}")?;
    }
    writeln!(
        out,
        "\nBytes that are not UTF-8:\n    {}",
        kellect::replayer::views::records::legend::NOT_UTF8
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Runs a parsed command line.
pub(crate) fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Cmd::Completions { shell } => completions(shell),
        Cmd::Man { dir } => man_pages(dir),
        Cmd::Record(args) => record(args),
        Cmd::Live(args) => live(args),
        Cmd::Replay(args) => replay(args),
        Cmd::Verify(args) => verify(args),
        Cmd::Keygen(args) => keygen(args),
        Cmd::Slice(args) => slice(args),
        Cmd::Tree(args) => super::tree::tree(args),
        Cmd::Report(args) => super::tree::report(args),
        Cmd::Snapshot { target } => snapshot(&target),
        Cmd::Info(args) => info(args),
    }
}

/// `kellect completions SHELL`.
fn completions(shell: clap_complete::Shell) -> Result<ExitCode> {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    // Into memory first: the generator panics on a failed write (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "kellect", &mut script);
    io::stdout().lock().write_all(&script)?;
    Ok(ExitCode::SUCCESS)
}

/// `kellect replay`.
fn replay(args: ReplayArgs) -> Result<ExitCode> {
    if args.out.legend {
        return print_legend();
    }
    let threads = args.threads;
    let budget = memory_budget(args.max_memory)?;
    let files = find_inputs(&args.files, &args.inputs)?;
    let mut plan = OutputPlan::try_from(args.out)?;
    let parquet = plan.cfg.format == replayer::OutputFormat::Parquet;
    if parquet && args.to.is_none() {
        bail!(UsageError(
            "-o parquet writes a binary file, never to stdout: name it with --to FILE".into()
        ));
    }
    let file = match &args.to {
        Some(path) => Some(open_output(path, "--to", &files, parquet)?),
        None => None,
    };
    plan.cfg.inputs = files;
    plan.cfg.budget = budget;
    let done = with_threads(threads, || {
        let stdout = io::stdout();
        let mut text: Box<dyn Write> = match &file {
            Some(f) => Box::new(io::BufWriter::with_capacity(1 << 16, f.writer()?)),
            None => Box::new(io::BufWriter::with_capacity(1 << 16, stdout.lock())),
        };
        let collectors = Collectors::open(plan.collectors.clone(), plan.udp_rate, &plan.syslog_tcp)
            .context("opening the UDP socket for -u")?;
        // -q silences stdout; a --to file is written whatever it says.
        let out: Option<&mut dyn Write> = if parquet || (plan.quiet && file.is_none()) {
            None
        } else {
            Some(&mut *text)
        };
        let mut sink = Sink::new(out, plan.cfg.format, collectors);
        if let (true, Some(f)) = (parquet, &file) {
            let writer = io::BufWriter::with_capacity(1 << 20, f.writer()?);
            sink = sink.with_parquet(replayer::render::parquet::ParquetOut::new(
                Box::new(writer),
                plan.cfg.view,
            )?);
        }
        // On a terminal, unless -q: bytes, records/s and time left, on stderr.
        let mut progress = replayer::input::progress::Progress::new(0, plan.quiet);
        let report = replayer::replay_with_progress(&plan.cfg, &mut sink, &mut progress)?;
        if let Some(c) = &sink.collectors {
            warn_collectors(c);
        }
        sink.finish()?;
        drop(sink);
        text.flush()?;
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
    })?;
    if let Some(f) = file {
        f.commit()?;
    }
    Ok(done)
}

/// Where `--to` output goes. A regular file (or a name not taken yet) is written as a
/// temporary file beside it, renamed over it by [`commit`](Self::commit) once the replay
/// succeeded: a failed or cut replay (a full disk, a damaged trace) leaves what was there
/// untouched and no partial file under the name. Anything else that takes writes (a FIFO,
/// a device) is written in place.
pub(super) struct OutputFile {
    file: std::fs::File,
    path: PathBuf,
    /// The temporary file, until renamed (removed when dropped before).
    temp: Option<PathBuf>,
}

impl OutputFile {
    /// The file, its write errors naming `--to` (which `io::Error` alone does not).
    pub(super) fn writer(&self) -> Result<ToFile> {
        Ok(ToFile {
            file: self.file.try_clone()?,
            path: self.path.clone(),
        })
    }

    /// Puts the output under its name: flushed to disk, then renamed over it.
    pub(super) fn commit(mut self) -> Result<()> {
        let Some(temp) = self.temp.take() else {
            return Ok(());
        };
        let done = self
            .file
            .sync_all()
            .and_then(|()| std::fs::rename(&temp, &self.path));
        if let Err(e) = done {
            let _ = std::fs::remove_file(&temp);
            return Err(
                anyhow::Error::new(e).context(format!("cannot write --to {}", self.path.display()))
            );
        }
        Ok(())
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if let Some(temp) = &self.temp {
            let _ = std::fs::remove_file(temp);
        }
    }
}

/// The `--to` file as a writer whose errors say which file failed.
pub(super) struct ToFile {
    file: std::fs::File,
    path: PathBuf,
}

impl ToFile {
    fn named(&self, e: io::Error) -> io::Error {
        io::Error::new(
            e.kind(),
            format!("writing --to {}: {e}", self.path.display()),
        )
    }
}

impl Write for ToFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf).map_err(|e| self.named(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush().map_err(|e| self.named(e))
    }
}

/// The `--to` file (see [`OutputFile`]); `flag`: the option that named it, for messages
/// (`--to`, `-o`). Usage errors: a symbolic link (never written
/// through), a directory, one of the `inputs`, any kellect trace (a segment of the
/// recording not given, another recording: evidence is never overwritten), a terminal for
/// a binary (Parquet) output.
pub(super) fn open_output(
    path: &std::path::Path,
    flag: &str,
    inputs: &[PathBuf],
    binary: bool,
) -> Result<OutputFile> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let shown = path.display();
    let open = |options: &mut std::fs::OpenOptions, at: &std::path::Path| {
        options
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(at)
    };
    use std::os::unix::ffi::OsStrExt;
    if path.as_os_str().as_bytes().ends_with(b"/") || path.file_name().is_none() {
        usage!("{flag} {shown}: a directory; name the file to write in it");
    }
    let existing = match std::fs::symlink_metadata(path) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(anyhow::Error::new(e).context(format!("cannot write {flag} {shown}"))),
    };
    if let Some(m) = &existing {
        let kind = m.file_type();
        if kind.is_symlink() {
            usage!("{flag} {shown}: a symbolic link; kellect never writes through one");
        }
        if kind.is_dir() {
            usage!("{flag} {shown}: a directory; name the file to write in it");
        }
        for input in inputs {
            if let Ok(i) = std::fs::metadata(input) {
                if (i.dev(), i.ino()) == (m.dev(), m.ino()) {
                    usage!(
                        "{flag} {shown} is the trace being replayed ({}): choose another file",
                        input.display()
                    );
                }
            }
        }
    }
    match existing {
        Some(m) if !m.file_type().is_file() => {
            let file = open(&mut std::fs::OpenOptions::new(), path)
                .with_context(|| format!("cannot write {flag} {shown}"))?;
            // SAFETY: isatty only reads the descriptor's state.
            if binary && unsafe { libc::isatty(std::os::fd::AsRawFd::as_raw_fd(&file)) } == 1 {
                usage!("{flag} {shown}: a terminal; -o parquet is binary, write it to a file");
            }
            Ok(OutputFile {
                file,
                path: path.to_owned(),
                temp: None,
            })
        }
        existing => {
            if existing.is_some() && is_trace(path) {
                usage!(
                    "{flag} {shown} is a kellect trace (a segment of a recording): kellect \
                     never overwrites one with its output; choose another file"
                );
            }
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => std::path::Path::new("."),
            };
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let mut tries = 0u32;
            loop {
                let temp = dir.join(format!(
                    ".{name}.kellect-{}-{tries}.tmp",
                    std::process::id()
                ));
                match open(std::fs::OpenOptions::new().create_new(true), &temp) {
                    Ok(file) => {
                        return Ok(OutputFile {
                            file,
                            path: path.to_owned(),
                            temp: Some(temp),
                        })
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists && tries < 100 => {
                        tries += 1;
                    }
                    Err(e) => {
                        return Err(anyhow::Error::new(e).context(format!(
                            "cannot write --to {shown} (its temporary file {})",
                            temp.display()
                        )))
                    }
                }
            }
        }
    }
}

/// Whether the file at `path` starts as a kellect trace does (its magic bytes).
fn is_trace(path: &std::path::Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| magic == kellect::format::MAGIC)
}

/// `kellect info`.
fn info(args: InfoArgs) -> Result<ExitCode> {
    let budget = memory_budget(args.max_memory)?;
    let files = find_inputs(&args.files, &args.inputs)?;
    let recordings = replayer::input::trace::open_recordings_within(&files, budget)?;
    let total = recordings
        .iter()
        .flat_map(|r| &r.segments)
        .map(|s| s.file_len());
    let mut progress = replayer::input::progress::Progress::new(total.sum(), false);
    let infos: Vec<_> = recordings
        .iter()
        .map(|r| replayer::info::trace_info_with_progress(r, budget, &mut progress))
        .collect();
    progress.finish();
    let mut out = io::stdout().lock();
    if args.json {
        // Trace strings that are not UTF-8 as the replay output writes them: `\xNN` and a
        // `*_bytes` sibling with their exact bytes.
        out.write_all(&replayer::bytes::to_json(&infos, true))?;
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

/// `kellect slice`: validates the filters as `replay` does, then [`replayer::slice::slice`].
fn slice(a: SliceArgs) -> Result<ExitCode> {
    let (quiet, files, input_args) = (a.quiet, a.files.clone(), a.inputs.clone());
    let mut cfg = replayer::slice::SliceConfig::try_from(a)?;
    cfg.inputs = find_inputs(&files, &input_args)?;
    let report = replayer::slice::slice(&cfg)?;
    for w in &report.warnings {
        eprintln!("kellect: warning: {}", escape_control(w));
    }
    if !quiet {
        eprintln!(
            "kellect: {}: {} events, {} records of context, {} frames, {} bytes",
            escape_control(&cfg.output.display().to_string()),
            report.events,
            report.context_records,
            report.frames,
            report.bytes
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `kellect snapshot PIDFILE|PID`: SIGUSR1 to the recorder
/// ([`kellect::pidfile::request_snapshot`]).
fn snapshot(target: &str) -> Result<ExitCode> {
    let pid = match kellect::pidfile::parse_pid(target) {
        Some(pid) => pid,
        None if target.bytes().all(|b| b.is_ascii_digit()) => {
            usage!("{target} is not a process id a recorder can have")
        }
        None => kellect::pidfile::read_pid(std::path::Path::new(target))?,
    };
    kellect::pidfile::request_snapshot(pid)?;
    eprintln!(
        "kellect: asked the recorder (pid {pid}) for a snapshot; it says on its stderr (the \
         journal, for the service) where the snapshot is"
    );
    Ok(ExitCode::SUCCESS)
}

/// `kellect keygen`: a sealing key and its verification key ([`kellect::format::keygen_now`]).
fn keygen(args: KeygenArgs) -> Result<ExitCode> {
    let interval = u64::try_from(args.interval.as_nanos()).unwrap_or(u64::MAX);
    let id = kellect::format::keygen_now(&args.seal_key, &args.verify_key, interval)?;
    eprintln!(
        "kellect: key pair {id}: sealing key {} (keep it on this host: record --seal-key), \
         verification key {} (move it off this host and keep it safe: verify --key)",
        args.seal_key.display(),
        args.verify_key.display()
    );
    Ok(ExitCode::SUCCESS)
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

/// The exit summary of `-u`: sent and refused counts, a warning when any was refused.
fn warn_collectors(c: &Collectors) {
    match c.lost_any() {
        false => eprintln!("kellect: {}", c.summary()),
        true => eprintln!("kellect: warning: {}", c.summary()),
    }
}

pub(super) fn with_threads<T: Send>(
    threads: Option<usize>,
    f: impl FnOnce() -> Result<T> + Send,
) -> Result<T> {
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

/// `kellect record`: [`kellect::recorder::record`], then the summary and why it stopped.
#[cfg(feature = "record")]
fn record(a: RecordArgs) -> Result<ExitCode> {
    let RecordJob { cfg, quiet } = RecordJob::try_from(a)?;
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
    if !quiet {
        eprintln!("kellect: stopped: {}", outcome.stop);
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
    if !quiet {
        for kept in &outcome.sink.snapshots {
            eprintln!(
                "kellect: snapshot {}: {} segments",
                kept.dir.display(),
                kept.segments.len()
            );
        }
    }
    for e in &outcome.sink.snapshot_errors {
        eprintln!("kellect: warning: a snapshot could not be made: {e}");
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
    if outcome.uring_in_flight > 0 {
        eprintln!(
            "kellect: warning: {} io_uring requests were lost: more were in flight at once than \
             the recorder tracks (1024); the trace counts them",
            outcome.uring_in_flight
        );
    }
}

/// `kellect live`: [`kellect::live::live`] on stdout.
#[cfg(feature = "record")]
fn live(a: LiveArgs) -> Result<ExitCode> {
    if a.out.legend {
        return print_legend();
    }
    let outcome = kellect::live::live(kellect::live::LiveConfig::try_from(a)?, io::stdout())?;
    for w in &outcome.warnings {
        eprintln!("kellect: warning: {}", escape_control(w));
    }
    if let Some(c) = &outcome.collectors {
        warn_collectors(c);
    }
    let outcome = outcome.record;
    // The output's end is the user's own doing (a closed pipe): nothing to say.
    if outcome.stop != kellect::recorder::StopReason::Requested {
        eprintln!("kellect: stopped: {}", outcome.stop);
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
