//! `kellect tree` and `kellect report`: the process tree of a trace, each process with its
//! exec'd image, arguments, user, lifetime, exit status, container and a summary of its
//! file and network activity.
//!
//! The tree is built from two replays of the trace, not from a pipeline of its own:
//!
//! 1. the events view's process events (`process_fork`, `process_exec` with its failures,
//!    `process_exit`), as `kellect replay --view events --event-type ... -o json-min` would
//!    print them, give the processes: one per process image, named by its `exec_id`; a
//!    fork starts one (its parent: the forking image), an exec another (ending the one it
//!    replaced), a failed exec is listed in the image that tried it, the leader's exit ends
//!    the last. A pid used again is a new process. Every process shows, a forked child that
//!    never exec'd too, and each image starts at its own exec;
//! 2. the records view (every monitor, no filter) gives, joined on the exec id
//!    (`ProcExecId`), each process's user, executable, container and ancestors from its
//!    process record (and whether the replay forgot it: `table-full`), and the activity of
//!    its file and socket records. A process no event told of (one running before the
//!    recording began) comes from its records alone.
//!
//! Two replays rather than one: each view's pipeline stays as `replay` runs it, and the
//! tree says what those views say, with their limits (docs/TREE.md).
//!
//! Memory is bounded: the processes held take at most 1/8 of the [`MemoryBudget`] (by an
//! estimate of their size); events and records of processes met once it is full are
//! counted, not kept. The output is deterministic: events and records come in the replay's
//! order, which is the same for any thread count, and children are ordered by start time,
//! then pid, then exec id.

use std::collections::{BTreeSet, HashMap};
use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::replayer::input::progress::Progress;
use crate::replayer::render::output::{escape_control, OutputFormat, Sink};
use crate::replayer::render::parquet::{kflowd_time_ns, nanos_of_seconds};
use crate::replayer::views::filter::{glob_set, BadGlob, Remote};
use crate::replayer::views::records::kflowd_time;
use crate::replayer::{
    Filter, MemoryBudget, RecordsConfig, ReplayConfig, ReplayReport, TimeBound, View,
};

/// Remote ends listed per process in its network summary; further ones are counted.
pub const REMOTES_PER_PROCESS: usize = 8;
/// Bytes a held process is counted at, besides its strings.
const PROCESS_BYTES: usize = 512;
/// Tree levels drawn as indentation; deeper processes are drawn at this level and say
/// their depth.
pub const DRAWN_DEPTH: usize = 32;

/// Which processes `kellect tree` and `kellect report` show. A process matches when it
/// passes every filter that is set; the tree keeps the ancestors of each match, for context.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// `--pid`: these process ids; empty: any.
    pub pids: Vec<u32>,
    /// `--comm`: process names matching one of these globs.
    comms: Option<globset::GlobSet>,
    /// `--container`: container ids in full or their first 12 or more characters.
    pub containers: Vec<String>,
    /// `--uid`: these real user ids.
    pub uids: Vec<u32>,
    /// `--exit-code`: processes that exited with one of these statuses.
    pub exit_codes: Vec<u32>,
    /// `--since`: processes still alive at or after this time.
    pub since: Option<TimeBound>,
    /// `--until`: processes started at or before this time.
    pub until: Option<TimeBound>,
    /// `--path`, `--remote`: processes with a file or socket record that matches.
    pub activity: Activity,
}

impl Selection {
    /// A selection by `--comm` globs (as `replay --comm`) and the other filters, set on the
    /// result. Errors: a glob that does not compile.
    pub fn with_comms(comms: &[String]) -> Result<Selection, BadGlob> {
        Ok(Selection {
            comms: glob_set("--comm", comms, false)?,
            ..Selection::default()
        })
    }

    /// Whether any filter is set.
    pub fn is_set(&self) -> bool {
        !self.pids.is_empty()
            || self.comms.is_some()
            || !self.containers.is_empty()
            || !self.uids.is_empty()
            || !self.exit_codes.is_empty()
            || self.since.is_some()
            || self.until.is_some()
            || self.activity.is_set()
    }

    /// Whether `p` matches; relative times count from `origin_ns` (ns since the epoch),
    /// and a process still running at the end lives until `end_ns`.
    fn accepts(&self, p: &Process, origin_ns: i64, end_ns: i64) -> bool {
        let resolve = |b: TimeBound| match b {
            TimeBound::Absolute(ns) => ns,
            TimeBound::Relative(s) => origin_ns.saturating_add((s * 1e9) as i64),
        };
        let (start, end) = (
            p.start_ns.unwrap_or(origin_ns),
            p.exit_ns
                .unwrap_or(end_ns)
                .max(p.start_ns.unwrap_or(i64::MIN)),
        );
        (self.pids.is_empty() || self.pids.contains(&p.pid))
            && self
                .comms
                .as_ref()
                .is_none_or(|g| g.is_match(super::filter::as_shown(&p.comm).as_ref()))
            && (self.containers.is_empty()
                || p.container.as_ref().is_some_and(|c| {
                    self.containers
                        .iter()
                        .any(|w| crate::replayer::state::container::id_matches(w, &c.id))
                }))
            && (self.uids.is_empty() || self.uids.contains(&p.uid))
            // A process a signal ended has no exit status (wait(2) reports 0): it never
            // matches, as in `replay --exit-code`.
            && (self.exit_codes.is_empty()
                || (p.exit_signal.is_none()
                    && p.exit_code.is_some_and(|c| self.exit_codes.contains(&c))))
            && self.since.is_none_or(|s| end >= resolve(s))
            && self.until.is_none_or(|u| start <= resolve(u))
            && (!self.activity.is_set() || p.activity_matched)
    }
}

/// What to build a tree from, and how much of it to show.
#[derive(Debug, Clone)]
pub struct TreeConfig {
    /// Segment files, as `replay` takes them.
    pub inputs: Vec<PathBuf>,
    /// The memory the replay and the tree may use (`--max-memory`).
    pub budget: MemoryBudget,
    pub selection: Selection,
    /// The most processes shown (`--limit`); the rest are counted in
    /// [`Forest::left_out`].
    pub limit: usize,
}

/// The container of a process (`ContainerId`, `ContainerRuntime`, `ContainerPod`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Container {
    pub id: String,
    pub runtime: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
}

/// A process's file records, summed: counts of records (one record: one file touched for
/// a while, see the records view) that carry each kind of `FileEvents`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FileActivity {
    /// File records.
    pub records: u64,
    /// Records with `OPEN` or `OPEN_EXEC`.
    pub opened: u64,
    /// Records with `ACCESS` (read).
    pub read: u64,
    /// Records with `MODIFY` or `CLOSE_WRITE` (written).
    pub written: u64,
    /// Records with `CREATE`.
    pub created: u64,
    /// Records with `DELETE`.
    pub deleted: u64,
    /// The sum of `FileSizeChange`: bytes the files grew (negative: shrank). The records
    /// view counts no bytes read or written per file, only the size change.
    pub size_change_bytes: i64,
}

impl FileActivity {
    fn add(&mut self, o: &FileActivity) {
        self.records += o.records;
        self.opened += o.opened;
        self.read += o.read;
        self.written += o.written;
        self.created += o.created;
        self.deleted += o.deleted;
        self.size_change_bytes = self.size_change_bytes.saturating_add(o.size_change_bytes);
    }
}

/// A process's socket records, summed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NetActivity {
    /// Socket records.
    pub sockets: u64,
    /// `SockTxBytes`, summed.
    pub sent_bytes: u64,
    /// `SockRxBytes`, summed.
    pub received_bytes: u64,
    /// The distinct remote ends, first seen first: `PROTO ADDR:PORT` (`TCP
    /// 192.0.2.7:443`, `UDP [2001:db8::1]:53`) or `UNIX PATH`; at most
    /// [`REMOTES_PER_PROCESS`].
    pub remotes: Vec<String>,
    /// Records with a remote end not listed in `remotes` (beyond the first
    /// [`REMOTES_PER_PROCESS`]).
    pub more_remotes: u64,
}

impl NetActivity {
    fn add(&mut self, o: &NetActivity) {
        self.sockets += o.sockets;
        self.sent_bytes = self.sent_bytes.saturating_add(o.sent_bytes);
        self.received_bytes = self.received_bytes.saturating_add(o.received_bytes);
    }
}

/// One process image of the tree: what its records say about it. Strings are as in the
/// records (not escaped: each output escapes them for its medium).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Process {
    /// `ProcExecId`: the image's stable id.
    pub exec_id: String,
    pub pid: u32,
    /// `ProcPPID`: the parent's pid.
    pub ppid: u32,
    /// `Proc`: the name (comm) in its last record.
    pub comm: String,
    /// `ProcExe`: the executable exec ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
    /// `ProcArgv` (the first 16 arguments).
    pub argv: Vec<String>,
    /// `ProcArgvTruncated`: `argv` is not the whole list.
    pub argv_truncated: bool,
    /// `ProcUID`: the real user id.
    pub uid: u32,
    /// `ProcUser`: the user's name, if the trace's metadata names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// When the image began (its exec; a process seen without one: its start), as the
    /// records view writes times (UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// When it exited (the process record's `InfoTimestamp`), same format.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit: Option<String>,
    /// `ProcExitCode`: exit status 0-255.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<u32>,
    /// `ProcExitSignal`: the signal that ended it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_signal: Option<String>,
    /// Its process record was exported at the end of the trace: still running then.
    pub running_at_end: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<Container>,
    pub files: FileActivity,
    pub network: NetActivity,
    /// It ended by exec'ing the next image of the same process (pid and parent), whose
    /// start is then its end.
    pub replaced_by_exec: bool,
    /// It passed the filters (false: shown as an ancestor of a process that did).
    pub matched: bool,
    #[serde(skip)]
    pub start_ns: Option<i64>,
    #[serde(skip)]
    pub exit_ns: Option<i64>,
    /// `ProcExecTime`.
    #[serde(skip)]
    exec_ns: Option<i64>,
    /// The earliest start its records imply (`InfoTimestamp` - `ProcAge`).
    #[serde(skip)]
    seen_start_ns: Option<i64>,
    /// `ProcAncestors`: (exec id, comm, pid) of the parent, its parent, ...
    #[serde(skip)]
    ancestors: Vec<(String, String, u32)>,
    /// Known only as an ancestor of processes in the trace (`ProcAncestors`), with no record
    /// of its own: a process that forked and never exec'd, opened a file or a socket.
    pub ancestor_only: bool,
    /// Where an ancestor-only process sorts among its siblings: its first child's start.
    #[serde(skip)]
    sort_ns: Option<i64>,
    /// How the image began: `fork` (a new process that had not exec'd yet) or `exec`,
    /// from the trace's `process_fork` and `process_exec` events; absent when neither was
    /// seen (a process running before the recording began).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub began: Option<&'static str>,
    /// The execs this image tried that failed (`process_exec` events with `error`): the
    /// first [`FAILED_EXECS_PER_PROCESS`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed_execs: Vec<FailedExec>,
    /// Failed execs beyond those listed.
    #[serde(skip_serializing_if = "is_zero")]
    pub more_failed_execs: u64,
    /// The replay's process table forgot it to stay within memory (its process record
    /// left with `InfoExport: "table-full"`) and no exit of it was seen: whether it ran
    /// to the end of the trace is not known.
    pub forgotten: bool,
    /// The image its `process_fork` event (or, for an exec image, the image it replaced)
    /// names as its parent: the forking image.
    #[serde(skip)]
    parent_hint: Option<usize>,
    /// Its start and end come from process events (not from its records).
    #[serde(skip)]
    from_events: bool,
    /// The image that replaced it by exec: its end is that one's start.
    #[serde(skip)]
    replaced_by: Option<usize>,
    /// It matched `--path` or `--remote` by one of its file or socket records.
    #[serde(skip)]
    activity_matched: bool,
}

/// `CLONE_PARENT` of clone(2): the new process's parent is the caller's parent.
const CLONE_PARENT: u64 = 0x8000;

/// Failed execs listed per process; further ones are counted.
pub const FAILED_EXECS_PER_PROCESS: usize = 8;

/// An exec that failed: a `process_exec` event with `error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedExec {
    /// When (UTC, the records view's format).
    pub time: String,
    /// `filename`: the program it tried to run.
    pub filename: String,
    /// `error`: the errno name (`ENOENT`, `EACCES`, ...).
    pub error: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Process {
    /// Bytes this process is counted at against the budget.
    fn bytes(&self) -> usize {
        PROCESS_BYTES
            + self.exec_id.len()
            + self.comm.len()
            + self.exe.as_ref().map_or(0, String::len)
            + self.argv.iter().map(|a| a.len() + 24).sum::<usize>()
            + self.user.as_ref().map_or(0, String::len)
            + self.exit_signal.as_ref().map_or(0, String::len)
            + self.container.as_ref().map_or(0, |c| {
                c.id.len() + c.runtime.len() + c.pod.as_ref().map_or(0, String::len)
            })
            + self
                .network
                .remotes
                .iter()
                .map(|r| r.len() + 24)
                .sum::<usize>()
            + self
                .ancestors
                .iter()
                .map(|(e, c, _)| e.len() + c.len() + 56)
                .sum::<usize>()
            + self
                .failed_execs
                .iter()
                .map(|f| f.time.len() + f.filename.len() + f.error.len() + 72)
                .sum::<usize>()
    }
}

/// The keys of a record line that the tree reads; the others are ignored.
#[derive(Deserialize)]
struct RecordLine {
    #[serde(rename = "InfoTimestamp")]
    timestamp: String,
    #[serde(rename = "InfoMonitor")]
    monitor: String,
    #[serde(rename = "InfoExport")]
    export: String,
    #[serde(rename = "InfoHostName", default)]
    host: String,
    #[serde(rename = "InfoUptime")]
    uptime: Option<serde_json::Number>,
    #[serde(rename = "Proc")]
    comm: String,
    #[serde(rename = "ProcUser", default)]
    user: String,
    #[serde(rename = "ProcPPID")]
    ppid: u32,
    #[serde(rename = "ProcPID")]
    pid: u32,
    #[serde(rename = "ProcExecId")]
    exec_id: String,
    #[serde(rename = "ProcAncestors")]
    ancestors: Option<Vec<AncestorLine>>,
    #[serde(rename = "ProcUID")]
    uid: u32,
    #[serde(rename = "ProcAge")]
    age: Option<serde_json::Number>,
    #[serde(rename = "ProcExe")]
    exe: Option<String>,
    #[serde(rename = "ProcArgv")]
    argv: Option<Vec<String>>,
    #[serde(rename = "ProcArgvTruncated", default)]
    argv_truncated: bool,
    #[serde(rename = "ProcExecTime")]
    exec_time: Option<String>,
    #[serde(rename = "ProcExitCode")]
    exit_code: Option<u32>,
    #[serde(rename = "ProcExitSignal")]
    exit_signal: Option<String>,
    #[serde(rename = "ContainerId")]
    container_id: Option<String>,
    #[serde(rename = "ContainerRuntime")]
    container_runtime: Option<String>,
    #[serde(rename = "ContainerPod")]
    container_pod: Option<String>,
    #[serde(rename = "FileEvents")]
    file_events: Option<HashMap<String, u64>>,
    #[serde(rename = "FileSizeChange")]
    file_size_change: Option<i64>,
    #[serde(rename = "SockProtocol")]
    sock_protocol: Option<String>,
    #[serde(rename = "SockFamily")]
    sock_family: Option<String>,
    #[serde(rename = "SockRemoteIP")]
    sock_remote_ip: Option<String>,
    #[serde(rename = "SockRemotePort")]
    sock_remote_port: Option<u16>,
    #[serde(rename = "SockAddress")]
    sock_address: Option<String>,
    #[serde(rename = "FilePath")]
    file_dir: Option<String>,
    #[serde(rename = "File")]
    file_name: Option<String>,
    #[serde(rename = "FileOrigin")]
    file_origin: Option<String>,
    #[serde(rename = "SockTxBytes", default)]
    sock_tx_bytes: u64,
    #[serde(rename = "SockRxBytes", default)]
    sock_rx_bytes: u64,
}

#[derive(Deserialize)]
struct AncestorLine {
    #[serde(rename = "ProcExecId")]
    exec_id: String,
    #[serde(rename = "Proc", default)]
    comm: String,
    #[serde(rename = "ProcPID", default)]
    pid: u32,
}

/// The keys of a process event of the events view (`process_fork`, `process_exec`,
/// `process_exit`: docs/EVENTS.md) that the tree reads.
#[derive(Deserialize)]
struct EventLine {
    /// Microseconds since the epoch.
    timestamp: i64,
    event_type: String,
    /// The syscall that ended a thread (`exit`, `exit_group`); absent when none was seen
    /// (a fatal signal, a thread ended with its group).
    syscall: Option<String>,
    #[serde(default)]
    comm: String,
    pid: u32,
    #[serde(default)]
    tid: u32,
    #[serde(default)]
    ppid: u32,
    #[serde(default)]
    uid: u32,
    exec_id: Option<String>,
    container_id: Option<String>,
    container_runtime: Option<String>,
    pod_uid: Option<String>,
    error: Option<String>,
    filename: Option<String>,
    exe_path: Option<String>,
    argv: Option<Vec<String>>,
    #[serde(default)]
    argv_truncated: bool,
    child_pid: Option<u32>,
    child_comm: Option<String>,
    /// The thread that called a successful exec (its tid before the exec).
    old_pid: Option<u32>,
    /// The clone flags of a fork, when its syscall was seen.
    flags: Option<u64>,
    exit_code: Option<u32>,
    #[serde(default)]
    signal: u64,
    signal_name: Option<String>,
}

impl EventLine {
    fn container(&self) -> Option<Container> {
        Some(Container {
            id: self.container_id.clone()?,
            runtime: self.container_runtime.clone()?,
            pod: self.pod_uid.clone(),
        })
    }
}

/// The start (`CLOCK_BOOTTIME` ns; 0: not known to the replay) and the pid an exec id
/// names (docs/EVENTS.md: base64 of `BOOT_ID:START_NS:TGID`); None for an id that is not
/// one.
fn exec_id_parts(id: &str) -> Option<(u64, u32)> {
    use base64::Engine as _;
    let text = base64::engine::general_purpose::STANDARD.decode(id).ok()?;
    let text = std::str::from_utf8(&text).ok()?;
    let mut fields = text.rsplitn(3, ':');
    let pid = fields.next()?.parse().ok()?;
    let start = fields.next()?.parse().ok()?;
    fields.next()?;
    Some((start, pid))
}

/// Parses one NDJSON line of a view, its strings given back the bytes that are not UTF-8
/// (sibling keys, `replayer::bytes`).
fn parse_line<T: serde::de::DeserializeOwned>(line: &[u8]) -> Option<T> {
    if crate::replayer::bytes::json_has_siblings(line) {
        serde_json::from_slice::<serde_json::Value>(line)
            .and_then(|mut v| {
                crate::replayer::bytes::absorb(&mut v);
                serde_json::from_value::<T>(v)
            })
            .ok()
    } else {
        serde_json::from_slice::<T>(line).ok()
    }
}

/// Nanoseconds of a seconds number of the records (`0.306360780`).
fn number_ns(n: &serde_json::Number) -> Option<i64> {
    nanos_of_seconds(&n.to_string()).and_then(|ns| i64::try_from(ns).ok())
}

/// Folds record lines into processes, within a byte budget.
struct TreeBuilder {
    processes: Vec<Process>,
    by_exec_id: HashMap<String, usize>,
    bytes: usize,
    max_bytes: usize,
    /// Records of processes met once the budget was full.
    untracked_records: u64,
    /// Process events of processes met once the budget was full.
    untracked_events: u64,
    /// The image each pid runs now, as the process events tell (first pass).
    live: HashMap<u32, usize>,
    /// The image of each pid whose leader thread left by exit(2) (not exit_group): its
    /// other threads may run on, and one of them may exec, taking the leader's pid.
    leader_gone: HashMap<u32, usize>,
    /// (pid, start, index) of the images held with a start: for a record's exec id
    /// without a start, the image of its pid that began last by then.
    starts: BTreeSet<(u32, i64, usize)>,
    /// The same for the images whose exec id is not known yet (forked, no event of them
    /// since): for a record's exec id, the one that began then.
    unnamed: BTreeSet<(u32, i64, usize)>,
    /// Realtime minus `CLOCK_BOOTTIME` (ns), learned from an exec event (its time and its
    /// exec id's start): to find the forked image a record's exec id names.
    boot_offset_ns: Option<i64>,
    /// `--path` globs and `--remote` ends, matched against file and socket records.
    activity: Activity,
    /// Lines that were not a record the tree could read.
    unreadable: u64,
    /// The start of the first recording (`InfoTimestamp` - `InfoUptime` of the first
    /// record), for relative `--since`/`--until`.
    origin_ns: Option<i64>,
    /// The latest record time.
    end_ns: Option<i64>,
    host: Option<String>,
}

impl TreeBuilder {
    fn new(max_bytes: usize) -> Self {
        TreeBuilder {
            processes: Vec::new(),
            by_exec_id: HashMap::new(),
            bytes: 0,
            max_bytes,
            untracked_records: 0,
            untracked_events: 0,
            live: HashMap::new(),
            leader_gone: HashMap::new(),
            starts: BTreeSet::new(),
            unnamed: BTreeSet::new(),
            boot_offset_ns: None,
            activity: Activity::default(),
            unreadable: 0,
            origin_ns: None,
            end_ns: None,
            host: None,
        }
    }

    /// Folds one NDJSON line of the records view.
    fn line(&mut self, line: &[u8]) {
        match parse_line::<RecordLine>(line) {
            Some(r) => self.record(r),
            None => self.unreadable += 1,
        }
    }

    /// Folds one NDJSON line of the events view (a process event).
    fn event_line(&mut self, line: &[u8]) {
        match parse_line::<EventLine>(line) {
            Some(e) => self.event(e),
            None => self.unreadable += 1,
        }
    }

    /// Holds `p` if the budget allows; else counts it. Returns its index.
    fn add(&mut self, p: Process) -> Option<usize> {
        if self.bytes.saturating_add(p.bytes()) > self.max_bytes {
            self.untracked_events += 1;
            return None;
        }
        self.bytes += p.bytes();
        let i = self.processes.len();
        if !p.exec_id.is_empty() {
            self.by_exec_id.insert(p.exec_id.clone(), i);
        }
        if let Some(start) = p.start_ns {
            self.starts.insert((p.pid, start, i));
            if p.exec_id.is_empty() {
                self.unnamed.insert((p.pid, start, i));
            }
        }
        self.processes.push(p);
        Some(i)
    }

    /// Gives the unnamed image `i` (a forked process known from its fork only) its id.
    fn name(&mut self, i: usize, exec_id: &str) {
        if let Some(p) = self.processes.get_mut(i) {
            if p.exec_id.is_empty() {
                if let Some(start) = p.start_ns {
                    self.unnamed.remove(&(p.pid, start, i));
                }
                p.exec_id = exec_id.to_owned();
                self.bytes = self.bytes.saturating_add(exec_id.len());
                self.by_exec_id.insert(exec_id.to_owned(), i);
            }
        }
    }

    /// The image a process event happened in (its `exec_id`): one held, else the live
    /// image of its pid when that one's id is not known yet or the event's id has no start
    /// (a process the replay forgot: docs/EVENTS.md), else a new one known from this
    /// event only.
    fn image_of(&mut self, e: &EventLine) -> Option<usize> {
        let id = e.exec_id.as_deref().unwrap_or_default();
        if let Some(&i) = self.by_exec_id.get(id) {
            return Some(i);
        }
        if let Some(&i) = self.live.get(&e.pid) {
            let unnamed = self.processes.get(i).is_some_and(|p| p.exec_id.is_empty());
            if unnamed && !id.is_empty() {
                self.name(i, id);
                return Some(i);
            }
            if id.is_empty() || exec_id_parts(id).is_some_and(|(start, _)| start == 0) {
                return Some(i);
            }
        }
        let i = self.add(Process {
            exec_id: id.to_owned(),
            pid: e.pid,
            ppid: e.ppid,
            comm: e.comm.clone(),
            uid: e.uid,
            container: e.container(),
            from_events: true,
            // Its start is not known: it sorts where it was first seen.
            sort_ns: Some(e.timestamp.saturating_mul(1000)),
            ..Process::default()
        })?;
        self.live.insert(e.pid, i);
        Some(i)
    }

    /// Folds one process event: a fork starts an image of the child, an exec an image
    /// that replaces the one before it, a failed exec is listed in its image, the leader
    /// thread's exit ends its image.
    fn event(&mut self, e: EventLine) {
        let ns = e.timestamp.saturating_mul(1000);
        self.end_ns = Some(self.end_ns.map_or(ns, |x| x.max(ns)));
        match e.event_type.as_str() {
            "process_fork" => {
                let forker = self.image_of(&e);
                let Some(child) = e.child_pid else { return };
                // With CLONE_PARENT the child's parent is the forking process's own
                // parent (clone(2)): its image, or, not known, the pid `ppid` names.
                let (parent, ppid) = if e.flags.is_some_and(|f| f & CLONE_PARENT != 0) {
                    let up = forker.and_then(|i| self.processes.get(i)?.parent_hint);
                    (up, e.ppid)
                } else {
                    (forker, e.pid)
                };
                let added = self.add(Process {
                    pid: child,
                    ppid,
                    comm: e.child_comm.clone().unwrap_or_else(|| e.comm.clone()),
                    uid: e.uid,
                    container: e.container(),
                    start_ns: Some(ns),
                    began: Some("fork"),
                    parent_hint: parent,
                    from_events: true,
                    ..Process::default()
                });
                self.leader_gone.remove(&child);
                match added {
                    Some(i) => self.live.insert(child, i),
                    None => self.live.remove(&child),
                };
            }
            "process_exec" if e.error.is_some() => {
                let Some(i) = self.image_of(&e) else { return };
                let Some(p) = self.processes.get_mut(i) else {
                    return;
                };
                let failed = FailedExec {
                    time: kflowd_time(ns),
                    filename: e.filename.unwrap_or_default(),
                    error: e.error.unwrap_or_default(),
                };
                let grows = failed.time.len() + failed.filename.len() + failed.error.len() + 72;
                if p.failed_execs.len() < FAILED_EXECS_PER_PROCESS
                    && self.bytes.saturating_add(grows) <= self.max_bytes
                {
                    p.failed_execs.push(failed);
                    self.bytes += grows;
                } else {
                    p.more_failed_execs += 1;
                }
            }
            "process_exec" => {
                let id = e.exec_id.clone().unwrap_or_default();
                if let Some((start, _)) = exec_id_parts(&id).filter(|(s, _)| *s > 0) {
                    self.boot_offset_ns
                        .get_or_insert(ns.saturating_sub(i64::try_from(start).unwrap_or(0)));
                }
                // A thread other than the leader that execs after its leader left takes
                // the leader's pid (execve(2)): the image it replaces is the one the
                // leader left, which did not end then.
                let orphaned = self
                    .leader_gone
                    .remove(&e.pid)
                    .filter(|_| e.old_pid.is_some_and(|t| t != e.pid));
                let before = self.live.get(&e.pid).copied().or(orphaned);
                let resumed = orphaned.is_some() && orphaned == before;
                let parent_hint = before.and_then(|b| self.processes.get(b)?.parent_hint);
                let image = Process {
                    exec_id: id.clone(),
                    pid: e.pid,
                    ppid: e.ppid,
                    comm: e.comm.clone(),
                    uid: e.uid,
                    container: e.container(),
                    exe: e.exe_path.clone().or_else(|| e.filename.clone()),
                    argv: e.argv.clone().unwrap_or_default(),
                    argv_truncated: e.argv_truncated,
                    start_ns: Some(ns),
                    exec_ns: Some(ns),
                    began: Some("exec"),
                    parent_hint,
                    from_events: true,
                    ..Process::default()
                };
                let added = match self.by_exec_id.get(&id) {
                    Some(&i) if !id.is_empty() => {
                        if let Some(p) = self.processes.get_mut(i) {
                            let exec_id = std::mem::take(&mut p.exec_id);
                            *p = Process { exec_id, ..image };
                        }
                        Some(i)
                    }
                    _ => self.add(image),
                };
                // (An exec id met again, in a damaged or hostile trace, is the same image:
                // it does not replace itself.)
                if let Some(p) = before
                    .filter(|&b| Some(b) != added)
                    .and_then(|b| self.processes.get_mut(b))
                {
                    if p.exit_ns.is_none() || resumed {
                        if resumed {
                            // The leader's exit status reached no one.
                            p.exit_code = None;
                            p.exit_signal = None;
                        }
                        p.replaced_by_exec = true;
                        p.exit_ns = Some(ns);
                        p.replaced_by = added;
                    }
                }
                match added {
                    Some(i) => self.live.insert(e.pid, i),
                    None => self.live.remove(&e.pid),
                };
            }
            "process_exit" => {
                let Some(i) = self.image_of(&e) else { return };
                let leader = e.tid == e.pid || e.tid == 0;
                let Some(p) = self.processes.get_mut(i) else {
                    return;
                };
                if leader {
                    p.exit_ns = Some(ns);
                    p.exit_code = e.exit_code;
                    p.exit_signal = e.signal_name.filter(|_| e.signal != 0);
                    p.replaced_by_exec = false;
                    if self.live.get(&e.pid) == Some(&i) {
                        self.live.remove(&e.pid);
                        if e.syscall.as_deref() == Some("exit") {
                            self.leader_gone.insert(e.pid, i);
                        }
                    }
                } else if p.exit_ns.is_some_and(|x| x < ns) && !p.replaced_by_exec {
                    // The group's last thread outlived its leader. The status its parent
                    // waits for is the leader's, unless the group ended together after it
                    // (exit_group(2) or a fatal signal: the group's code, as wait(2)
                    // reports it); a thread's own exit(2) leaves it.
                    p.exit_ns = Some(ns);
                    if e.signal != 0 {
                        p.exit_code = e.exit_code;
                        p.exit_signal = e.signal_name;
                    } else if e.syscall.as_deref() != Some("exit") {
                        p.exit_code = e.exit_code;
                        p.exit_signal = None;
                    }
                }
            }
            _ => {}
        }
    }

    fn record(&mut self, r: RecordLine) {
        let ts = kflowd_time_ns(&r.timestamp);
        if let Some(ts) = ts {
            self.end_ns = Some(self.end_ns.map_or(ts, |e| e.max(ts)));
            if self.origin_ns.is_none() {
                self.origin_ns = r
                    .uptime
                    .as_ref()
                    .and_then(number_ns)
                    .map(|u| ts.saturating_sub(u));
            }
        }
        if self.host.is_none() && !r.host.is_empty() {
            self.host = Some(r.host.clone());
        }
        let index = match self.by_exec_id.get(&r.exec_id) {
            Some(&i) => i,
            None => match self.image_named(&r.exec_id, r.pid, ts) {
                Some(i) => i,
                None => {
                    let p = Process {
                        exec_id: r.exec_id.clone(),
                        pid: r.pid,
                        ppid: r.ppid,
                        comm: r.comm.clone(),
                        uid: r.uid,
                        user: named(&r.user, r.uid),
                        ..Process::default()
                    };
                    if self.bytes.saturating_add(p.bytes()) > self.max_bytes {
                        self.untracked_records += 1;
                        return;
                    }
                    self.bytes += p.bytes();
                    self.by_exec_id
                        .insert(r.exec_id.clone(), self.processes.len());
                    self.processes.push(p);
                    self.processes.len() - 1
                }
            },
        };
        let activity_matched = self.activity.matches(&r);
        let Some(p) = self.processes.get_mut(index) else {
            return;
        };
        p.activity_matched |= activity_matched;
        let before = p.bytes();
        fold(p, r, ts);
        let after = p.bytes();
        self.bytes = self.bytes.saturating_add(after).saturating_sub(before);
    }
}

impl TreeBuilder {
    /// The image of pid `pid` that a record's exec id names when no process event named it:
    /// for an id with a start, the forked image (known from its fork, its id not seen
    /// since: it exec'd before any other event of it) that began then (within a
    /// millisecond; realtime from the exec events' offset); for an id without one (a
    /// process the replay forgot), the image of the pid that began last by `ts`.
    fn image_named(&mut self, exec_id: &str, pid: u32, ts: Option<i64>) -> Option<usize> {
        let (start, id_pid) = exec_id_parts(exec_id)?;
        if id_pid != pid {
            return None;
        }
        // Ordered sets, so that a pid with many images (pid reuse, or a hostile trace
        // of a million forks) costs a lookup, not a scan.
        let found = if start == 0 {
            let ts = ts?;
            self.starts
                .range((pid, i64::MIN, 0)..=(pid, ts, usize::MAX))
                .next_back()
                .map(|&(_, _, i)| i)?
        } else {
            let at = i64::try_from(start)
                .ok()?
                .saturating_add(self.boot_offset_ns?);
            let after = self
                .unnamed
                .range((pid, at, 0)..=(pid, i64::MAX, usize::MAX))
                .next();
            let before = self
                .unnamed
                .range((pid, i64::MIN, 0)..(pid, at, 0))
                .next_back();
            [after, before]
                .into_iter()
                .flatten()
                .map(|&(_, s, i)| (s.abs_diff(at), i))
                .filter(|&(off, _)| off <= 1_000_000)
                .min()
                .map(|(_, i)| i)?
        };
        // An id without a start is the same for every process its pid ever was: it is
        // looked up again for each record, never kept as a name.
        if start > 0 {
            self.name(found, exec_id);
        }
        Some(found)
    }
}

/// `--path` and `--remote` of `kellect tree`: a process matches when one of its file or
/// socket records does.
#[derive(Debug, Clone, Default)]
pub struct Activity {
    /// `--path`: globs on a file record's path (`FilePath` + `File`, or `FileOrigin`) or
    /// a socket record's `SockAddress`.
    paths: Option<globset::GlobSet>,
    /// `--remote`: a socket record's remote end (`SockRemoteIP`, `SockRemotePort`).
    remotes: Vec<Remote>,
}

impl Activity {
    /// The filters of `--path` (globs, as `replay --path`) and `--remote`. Errors: a glob
    /// that does not compile.
    pub fn new(paths: &[String], remotes: Vec<Remote>) -> Result<Activity, BadGlob> {
        Ok(Activity {
            paths: glob_set("--path", paths, true)?,
            remotes,
        })
    }

    fn is_set(&self) -> bool {
        self.paths.is_some() || !self.remotes.is_empty()
    }

    /// Whether record `r` passes both filters (false when neither is set).
    fn matches(&self, r: &RecordLine) -> bool {
        if !self.is_set() {
            return false;
        }
        let path_ok = self.paths.as_ref().is_none_or(|g| {
            let whole = match (&r.file_dir, &r.file_name) {
                (Some(d), Some(n)) => Some(format!("{d}{n}")),
                _ => None,
            };
            let found = [
                whole.as_deref(),
                r.file_origin.as_deref(),
                r.sock_address.as_deref(),
            ]
            .into_iter()
            .flatten()
            .any(|p| g.is_match(super::filter::as_shown(p).as_ref()));
            found
        });
        let remote_ok = self.remotes.is_empty()
            || r.sock_remote_ip
                .as_deref()
                .and_then(|ip| ip.parse::<std::net::IpAddr>().ok())
                .map(|ip| (ip, r.sock_remote_port.unwrap_or(0)))
                .filter(|(ip, port)| !ip.is_unspecified() || *port != 0)
                .is_some_and(|(ip, port)| self.remotes.iter().any(|w| w.matches(ip, port)));
        path_ok && remote_ok
    }
}

/// The user's name, unless the trace does not name it.
fn named(user: &str, uid: u32) -> Option<String> {
    (!user.is_empty() && user != uid.to_string()).then(|| user.to_owned())
}

/// Adds what record `r` (stamped `ts`) says to its process `p`.
fn fold(p: &mut Process, r: RecordLine, ts: Option<i64>) {
    if let (Some(ts), Some(age)) = (ts, r.age.as_ref().and_then(number_ns)) {
        let start = ts.saturating_sub(age);
        p.seen_start_ns = Some(p.seen_start_ns.map_or(start, |s| s.min(start)));
    }
    if p.container.is_none() {
        if let (Some(id), Some(runtime)) = (r.container_id, r.container_runtime) {
            p.container = Some(Container {
                id,
                runtime,
                pod: r.container_pod,
            });
        }
    }
    match r.monitor.as_str() {
        "process" => {
            p.comm = r.comm;
            p.ppid = r.ppid;
            p.uid = r.uid;
            p.user = named(&r.user, r.uid);
            p.exe = r.exe.or(p.exe.take());
            if let Some(argv) = r.argv.filter(|a| !a.is_empty()) {
                p.argv = argv;
                p.argv_truncated = r.argv_truncated;
            }
            p.exec_ns = r
                .exec_time
                .as_deref()
                .and_then(kflowd_time_ns)
                .or(p.exec_ns);
            // The record's times are the same instants as the events', to the nanosecond
            // (the events' are to the microsecond).
            if p.began == Some("exec") {
                p.start_ns = p.exec_ns.or(p.start_ns);
            }
            if r.export == "exit" && p.exit_ns.is_some() && !p.replaced_by_exec {
                p.exit_ns = ts.or(p.exit_ns);
            }
            // The process events, when they saw its end, say it; else the record does:
            // it exited, it ran to the end, or the replay forgot it (`table-full`).
            if p.exit_ns.is_none() {
                p.exit_code = r.exit_code;
                p.exit_signal = r.exit_signal;
                match r.export.as_str() {
                    "exit" => p.exit_ns = ts,
                    "table-full" => {
                        p.forgotten = true;
                        p.running_at_end = false;
                    }
                    _ => p.running_at_end = !p.forgotten,
                }
            }
            p.ancestors = r
                .ancestors
                .unwrap_or_default()
                .into_iter()
                .map(|a| (a.exec_id, a.comm, a.pid))
                .collect();
        }
        "filesystem" => {
            let f = &mut p.files;
            let events = r.file_events.unwrap_or_default();
            let has = |k: &str| events.get(k).is_some_and(|&n| n > 0);
            f.records += 1;
            f.opened += u64::from(has("OPEN") || has("OPEN_EXEC"));
            f.read += u64::from(has("ACCESS"));
            f.written += u64::from(has("MODIFY") || has("CLOSE_WRITE"));
            f.created += u64::from(has("CREATE"));
            f.deleted += u64::from(has("DELETE"));
            f.size_change_bytes = f
                .size_change_bytes
                .saturating_add(r.file_size_change.unwrap_or(0));
        }
        "socket" => {
            let n = &mut p.network;
            n.sockets += 1;
            n.sent_bytes = n.sent_bytes.saturating_add(r.sock_tx_bytes);
            n.received_bytes = n.received_bytes.saturating_add(r.sock_rx_bytes);
            let remote = match (&r.sock_remote_ip, r.sock_remote_port, &r.sock_address) {
                (Some(ip), Some(port), _) if port != 0 => {
                    let proto = r.sock_protocol.as_deref().unwrap_or("IP");
                    Some(if ip.contains(':') {
                        format!("{proto} [{ip}]:{port}")
                    } else {
                        format!("{proto} {ip}:{port}")
                    })
                }
                (_, _, Some(path)) if !path.is_empty() => Some(format!(
                    "{} {path}",
                    match r.sock_family.as_deref() {
                        Some("AF_UNIX") | None => "UNIX",
                        Some(other) => other,
                    }
                )),
                _ => None,
            };
            if let Some(remote) = remote {
                if !n.remotes.contains(&remote) {
                    if n.remotes.len() < REMOTES_PER_PROCESS {
                        n.remotes.push(remote);
                    } else {
                        n.more_remotes += 1;
                    }
                }
            }
        }
        _ => {}
    }
    if !p.from_events {
        p.start_ns = p.exec_ns.or(p.seen_start_ns);
    }
}

/// The tree: every process held, and which are shown in what order.
#[derive(Debug, Default)]
pub struct Forest {
    /// Every process held (shown or not), in the order first met.
    pub processes: Vec<Process>,
    /// The processes shown, in tree order (each parent before its children, children by
    /// start time, pid, exec id): (index into `processes`, depth; roots are at 0).
    pub order: Vec<(usize, usize)>,
    /// Processes that matched, or are ancestors of a match, beyond the limit.
    pub left_out: u64,
    /// Their activity, summed.
    pub left_out_files: FileActivity,
    pub left_out_network: NetActivity,
    /// Processes that passed the filters (ancestors kept for context not counted).
    pub matched: u64,
    /// Records of processes met once the memory for the tree was full.
    pub untracked_records: u64,
    /// Process events of processes met once it was full.
    pub untracked_events: u64,
    /// The trace's span as its records show it, ns since the epoch.
    pub first_ns: Option<i64>,
    pub last_ns: Option<i64>,
    /// `InfoHostName` of the first record.
    pub host: Option<String>,
    /// The limit the tree was cut at (`--limit`).
    pub limit: usize,
    /// What the replay met besides records (damage, losses).
    pub report: ReplayReport,
}

/// Receives a view's NDJSON and folds each line into a [`TreeBuilder`].
struct LineFolder<'b> {
    pending: Vec<u8>,
    builder: &'b mut TreeBuilder,
    /// The lines are the events view's (else the records view's).
    events: bool,
}

impl LineFolder<'_> {
    fn fold(&mut self, line: &[u8]) {
        if self.events {
            self.builder.event_line(line);
        } else {
            self.builder.line(line);
        }
    }
}

impl Write for LineFolder<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            let (line, tail) = rest.split_at(end);
            if self.pending.is_empty() {
                self.fold(line);
            } else {
                self.pending.extend_from_slice(line);
                let whole = std::mem::take(&mut self.pending);
                self.fold(&whole);
            }
            rest = tail.get(1..).unwrap_or_default();
        }
        self.pending.extend_from_slice(rest);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The process events a tree is built from (docs/EVENTS.md).
const PROCESS_EVENTS: [&str; 3] = ["process_fork", "process_exec", "process_exit"];

/// Replays `cfg.inputs` with `view` (the events view: its process events only) and folds
/// its lines into `builder`. Errors: as [`crate::replayer::replay`].
fn replay_into(
    cfg: &TreeConfig,
    view: View,
    builder: &mut TreeBuilder,
    progress: &mut Progress,
) -> Result<ReplayReport> {
    let events = view == View::Events;
    let filter = Filter {
        event_types: if events {
            PROCESS_EVENTS.iter().map(|t| (*t).to_owned()).collect()
        } else {
            Vec::new()
        },
        ..Filter::default()
    };
    let replay = ReplayConfig {
        inputs: cfg.inputs.clone(),
        format: OutputFormat::JsonMin,
        view,
        filter,
        records: RecordsConfig::default(),
        budget: cfg.budget,
    };
    let mut folder = LineFolder {
        pending: Vec::new(),
        builder,
        events,
    };
    let mut sink = Sink::new(Some(&mut folder), OutputFormat::JsonMin, None);
    let report = crate::replayer::replay_with_progress(&replay, &mut sink, progress)?;
    sink.finish()?;
    drop(sink);
    if !folder.pending.is_empty() {
        let last = std::mem::take(&mut folder.pending);
        folder.fold(&last);
    }
    Ok(report)
}

/// Builds the tree from two replays of `cfg.inputs`: the events view's process events
/// give the processes (who forked whom, each image's exec, failed execs, exits), then the
/// records view gives each one's facts (user, executable, container, ancestors) and its
/// file and network activity, joined on the exec id. Errors: as
/// [`crate::replayer::replay`] (unreadable inputs, a record layout this build does not
/// know).
pub fn build(cfg: &TreeConfig, progress: &mut Progress) -> Result<Forest> {
    let mut builder =
        TreeBuilder::new(usize::try_from(cfg.budget.bytes() / 8).unwrap_or(usize::MAX));
    builder.activity = cfg.selection.activity.clone();
    replay_into(cfg, View::Events, &mut builder, progress)?;
    for &i in builder.live.values() {
        if let Some(p) = builder.processes.get_mut(i) {
            p.running_at_end = p.exit_ns.is_none();
        }
    }
    // The records replay's report: the same damage and losses as the events replay's,
    // and the records view's own (tables full).
    let report = replay_into(cfg, View::Records, &mut builder, progress)?;
    Ok(arrange(builder, &cfg.selection, cfg.limit, report))
}

/// Links each process to its parent, selects and orders what is shown.
fn arrange(b: TreeBuilder, selection: &Selection, limit: usize, report: ReplayReport) -> Forest {
    let mut by_exec_id = b.by_exec_id;
    let mut processes = b.processes;
    fill_ancestor_gaps(&mut processes, &mut by_exec_id);
    mark_replaced_images(&mut processes);
    name_users(&mut processes);
    let n = processes.len();
    let end_ns = b.end_ns.unwrap_or(0);
    let origin_ns = b.origin_ns.or(b.end_ns).unwrap_or(0);
    let parent = parents(&processes, &by_exec_id);
    // Matches, and their ancestors for context.
    let mut keep = vec![false; n];
    let mut matched = 0u64;
    for i in 0..n {
        let Some(p) = processes.get_mut(i) else {
            continue;
        };
        if hidden(p) {
            continue;
        }
        p.matched = selection.accepts(p, origin_ns, end_ns);
        if !p.matched {
            continue;
        }
        matched += 1;
        let mut at = Some(i);
        while let Some(j) = at {
            match keep.get_mut(j) {
                Some(k) if !*k => *k = true,
                _ => break,
            }
            at = parent.get(j).copied().flatten();
        }
    }
    for i in 0..n {
        let next_start = processes
            .get(i)
            .and_then(|p| p.replaced_by)
            .and_then(|j| processes.get(j)?.start_ns);
        if let Some(p) = processes.get_mut(i) {
            p.exit_ns = next_start.or(p.exit_ns);
            p.start = p.start_ns.map(kflowd_time);
            p.exit = p.exit_ns.map(kflowd_time);
        }
    }
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut roots = Vec::new();
    for i in (0..n).filter(|&i| keep.get(i) == Some(&true)) {
        match parent.get(i).copied().flatten() {
            Some(p) => {
                if let Some(c) = children.get_mut(p) {
                    c.push(i);
                }
            }
            None => roots.push(i),
        }
    }
    let start_key = |i: usize| {
        processes.get(i).map(|p| {
            let at = p.start_ns.or(p.sort_ns).unwrap_or(i64::MAX);
            (at, p.pid, p.exec_id.as_str())
        })
    };
    roots.sort_by(|&a, &b| start_key(a).cmp(&start_key(b)));
    for c in &mut children {
        c.sort_by(|&a, &b| start_key(a).cmp(&start_key(b)));
    }
    // Depth first, with an explicit stack: a chain of forks may be as deep as the trace
    // is long.
    let mut order = Vec::new();
    let mut stack: Vec<(usize, usize)> = roots.iter().rev().map(|&r| (r, 0)).collect();
    let mut left_out = 0u64;
    let mut left_out_files = FileActivity::default();
    let mut left_out_network = NetActivity::default();
    while let Some((i, depth)) = stack.pop() {
        if order.len() < limit {
            order.push((i, depth));
        } else if let Some(p) = processes.get(i) {
            left_out += 1;
            left_out_files.add(&p.files);
            left_out_network.add(&p.network);
        }
        if let Some(c) = children.get(i) {
            stack.extend(c.iter().rev().map(|&c| (c, depth + 1)));
        }
    }
    Forest {
        processes,
        order,
        left_out,
        left_out_files,
        left_out_network,
        matched,
        untracked_records: b.untracked_records,
        untracked_events: b.untracked_events,
        first_ns: b.origin_ns,
        last_ns: b.end_ns,
        host: b.host,
        limit,
        report,
    }
}

/// Gives a process without a user name (no process record: a forked child, an image
/// replaced by exec) the name the trace gives its uid in another process's record: the
/// first met, so the output does not depend on the order of a map.
fn name_users(processes: &mut [Process]) {
    let mut names: HashMap<u32, String> = HashMap::new();
    for p in processes.iter() {
        if let Some(u) = &p.user {
            names.entry(p.uid).or_insert_with(|| u.clone());
        }
    }
    for p in processes.iter_mut().filter(|p| p.user.is_none()) {
        p.user = names.get(&p.uid).cloned();
    }
}

/// A forked image that exec'd and of which nothing else is known (no event or record
/// named it): not shown, its exec image is.
fn hidden(p: &Process) -> bool {
    p.exec_id.is_empty() && p.replaced_by_exec && p.failed_execs.is_empty()
}

/// Marks each image, known from its records only, that a later exec of the same process
/// replaced (same pid and parent, no exit of its own): it ended when the next began.
/// Images the process events tell of have their ends from them.
fn mark_replaced_images(processes: &mut [Process]) {
    let mut by_pid: Vec<(u32, i64, usize)> = processes
        .iter()
        .enumerate()
        .filter(|(_, p)| !p.ancestor_only && !p.from_events)
        .filter_map(|(i, p)| Some((p.pid, p.start_ns?, i)))
        .collect();
    by_pid.sort_unstable();
    for pair in by_pid.windows(2) {
        let [(pid, _, a), (next_pid, next_start, b)] = pair else {
            continue;
        };
        let same_parent = processes.get(*b).map(|p| p.ppid);
        let Some(p) = processes.get_mut(*a) else {
            continue;
        };
        if pid == next_pid
            && Some(p.ppid) == same_parent
            && p.exit_ns.is_none()
            && !p.running_at_end
        {
            p.replaced_by_exec = true;
            p.exit_ns = Some(*next_start);
        }
    }
}

/// Adds the ancestors (`ProcAncestors`) that lie between a process and its nearest
/// ancestor in the trace but have no record of their own (a subshell that forked and never
/// exec'd), so the process hangs under its real parent. Ancestors above every process in
/// the trace are not added: those processes are roots. At most as many are added as there
/// are processes, which bounds the memory they take.
fn fill_ancestor_gaps(processes: &mut Vec<Process>, by_exec_id: &mut HashMap<String, usize>) {
    let held = processes.len();
    let mut added = 0usize;
    for i in 0..held {
        let Some(p) = processes.get(i) else { continue };
        let chain = &p.ancestors;
        let Some(found) = chain
            .iter()
            .position(|(e, _, _)| by_exec_id.contains_key(e))
        else {
            continue;
        };
        if found == 0 || added + found > held {
            continue;
        }
        let sort_ns = p.start_ns;
        let gap: Vec<Process> = chain
            .iter()
            .zip(chain.iter().skip(1))
            .take(found)
            .map(
                |((exec_id, comm, pid), (up_exec_id, up_comm, up_pid))| Process {
                    exec_id: exec_id.clone(),
                    pid: *pid,
                    ppid: *up_pid,
                    comm: comm.clone(),
                    ancestor_only: true,
                    sort_ns,
                    ancestors: vec![(up_exec_id.clone(), up_comm.clone(), *up_pid)],
                    ..Process::default()
                },
            )
            .collect();
        for g in gap {
            if !by_exec_id.contains_key(&g.exec_id) {
                by_exec_id.insert(g.exec_id.clone(), processes.len());
                processes.push(g);
                added += 1;
            }
        }
    }
}

/// The parent of each process: the image its `ProcAncestors` names, else the image of
/// pid `ProcPPID` that began last before it. A cycle (possible only in a damaged or
/// hostile trace) is cut: its first process met becomes a root.
fn parents(processes: &[Process], by_exec_id: &HashMap<String, usize>) -> Vec<Option<usize>> {
    let mut by_pid: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, p) in processes.iter().enumerate() {
        by_pid.entry(p.pid).or_default().push(i);
    }
    let mut parent: Vec<Option<usize>> = processes
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let named = p.parent_hint.filter(|&j| j != i).or_else(|| {
                p.ancestors
                    .first()
                    .and_then(|(e, _, _)| by_exec_id.get(e).copied())
                    .filter(|&j| j != i)
            });
            named.or_else(|| {
                let start = p.start_ns.unwrap_or(i64::MAX);
                by_pid
                    .get(&p.ppid)?
                    .iter()
                    .copied()
                    .filter(|&j| j != i)
                    .filter_map(|j| Some((processes.get(j)?.start_ns.unwrap_or(i64::MIN), j)))
                    .filter(|&(s, _)| s <= start)
                    .max()
                    .map(|(_, j)| j)
            })
        })
        .collect();
    // 0: not visited, 1: on the path being walked, 2: done.
    let mut state = vec![0u8; processes.len()];
    let mut path = Vec::new();
    for i in 0..processes.len() {
        let mut at = i;
        while state.get(at) == Some(&0) {
            if let Some(s) = state.get_mut(at) {
                *s = 1;
            }
            path.push(at);
            match parent.get(at).copied().flatten() {
                Some(p) if state.get(p) == Some(&1) => {
                    if let Some(slot) = parent.get_mut(at) {
                        *slot = None;
                    }
                    break;
                }
                Some(p) => at = p,
                None => break,
            }
        }
        for j in path.drain(..) {
            if let Some(s) = state.get_mut(j) {
                *s = 2;
            }
        }
    }
    parent
}

/// Text of a field of the trace for a terminal: [`escape_control`].
fn shown(s: &str) -> std::borrow::Cow<'_, str> {
    escape_control(s)
}

/// An argument as a shell would read it: control characters escaped (see
/// [`escape_control`]), then single-quoted unless it is made only of characters no shell
/// treats specially (letters, digits and `@%+=:,./-_`, as Python's `shlex.quote`).
pub fn shell_word(arg: &str) -> String {
    let s = shown(arg);
    let plain = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        return s.into_owned();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// `argv` as one line (see [`shell_word`]), saying so when the trace holds only part
/// of it.
pub fn command_line(p: &Process) -> String {
    let mut line = p
        .argv
        .iter()
        .map(|a| shell_word(a))
        .collect::<Vec<_>>()
        .join(" ");
    if p.argv_truncated {
        line.push_str("  (truncated in the trace)");
    }
    line
}

/// How the process ended: `exit 0`, `killed by SIGKILL`, `running at the end of the
/// trace`, or `exit not seen`.
pub fn status(p: &Process) -> String {
    if p.ancestor_only {
        return "(no record of its own: named as an ancestor)".into();
    }
    if p.replaced_by_exec {
        return "replaced by exec".into();
    }
    match (&p.exit_signal, p.exit_code, p.running_at_end) {
        (Some(sig), _, _) => format!("killed by {}", shown(sig)),
        (None, Some(code), _) => format!("exit {code}"),
        (None, None, true) => "running at the end of the trace".into(),
        (None, None, false) if p.forgotten => FORGOTTEN.into(),
        (None, None, false) => "exit not seen".into(),
    }
}

/// An exec id as shown; a forked process no event or record named has none.
pub fn id_text(exec_id: &str) -> std::borrow::Cow<'_, str> {
    if exec_id.is_empty() {
        "(not named: no event or record of it carries its exec id)".into()
    } else {
        shown(exec_id)
    }
}

/// The status of a process the replay forgot, its end not seen.
const FORGOTTEN: &str = "forgotten by the replay to stay within memory: end not known";

/// A failed exec as one line: `/nope: ENOENT at TIME`.
pub fn failed_exec_text(f: &FailedExec) -> String {
    format!("{}: {} at {}", shown(&f.filename), shown(&f.error), f.time)
}

/// `root (uid 0)` or `uid 1000`.
pub fn user_text(p: &Process) -> String {
    match &p.user {
        Some(u) => format!("{} (uid {})", shown(u), p.uid),
        None => format!("uid {}", p.uid),
    }
}

/// `12 B`, `3.4 KiB`, `-1.0 MiB`.
pub fn bytes_text(bytes: i128) -> String {
    let abs = bytes.unsigned_abs();
    let sign = if bytes < 0 { "-" } else { "" };
    if abs < 1024 {
        return format!("{sign}{abs} B");
    }
    let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = abs as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!(
        "{sign}{value:.1} {}",
        units.get(unit).copied().unwrap_or("EiB")
    )
}

/// The file summary line: `3 files: 3 opened, 2 read, 0 written, 0 created, 0 deleted;
/// size +0 B`.
pub fn files_text(f: &FileActivity) -> String {
    format!(
        "{} file records: {} opened, {} read, {} written, {} created, {} deleted; size {}{}",
        f.records,
        f.opened,
        f.read,
        f.written,
        f.created,
        f.deleted,
        if f.size_change_bytes >= 0 { "+" } else { "" },
        bytes_text(i128::from(f.size_change_bytes))
    )
}

/// The network summary line: `2 sockets: 53 B sent, 57 B received; UDP 127.0.0.1:15353`.
pub fn network_text(n: &NetActivity) -> String {
    let mut line = format!(
        "{} sockets: {} sent, {} received",
        n.sockets,
        bytes_text(i128::from(n.sent_bytes)),
        bytes_text(i128::from(n.received_bytes))
    );
    if !n.remotes.is_empty() {
        line.push_str("; ");
        line.push_str(
            &n.remotes
                .iter()
                .map(|r| shown(r).into_owned())
                .collect::<Vec<_>>()
                .join(", "),
        );
        if n.more_remotes > 0 {
            line.push_str(&format!(" and {} more", n.more_remotes));
        }
    }
    line
}

/// The characters a tree is drawn with.
#[derive(Debug, Clone, Copy)]
pub struct Drawing {
    pub branch: &'static str,
    pub last: &'static str,
    pub through: &'static str,
    pub blank: &'static str,
    /// Between a start and an end time.
    pub arrow: &'static str,
}

impl Drawing {
    /// Box-drawing characters.
    pub const BOXES: Drawing = Drawing {
        branch: "├── ",
        last: "└── ",
        through: "│   ",
        blank: "    ",
        arrow: "→",
    };
    /// ASCII only (`--ascii`).
    pub const ASCII: Drawing = Drawing {
        branch: "|-- ",
        last: "`-- ",
        through: "|   ",
        blank: "    ",
        arrow: "->",
    };
}

/// For each shown process (as `forest.order`), whether it is the last of its siblings.
fn last_siblings(order: &[(usize, usize)]) -> Vec<bool> {
    let mut last = vec![true; order.len()];
    // follows[d]: a later process at depth d comes before any shallower one.
    let mut follows: Vec<bool> = Vec::new();
    for (k, &(_, depth)) in order.iter().enumerate().rev() {
        follows.resize(depth + 1, false);
        if let (Some(l), Some(f)) = (last.get_mut(k), follows.get_mut(depth)) {
            *l = !*f;
            *f = true;
        }
    }
    last
}

/// Writes the tree as text: per process a headline (name, pid, how it ended) and lines of
/// facts under it, children indented under their parent; then what was left out.
/// Every trace string is escaped ([`escape_control`]). Errors: writing.
pub fn write_text(forest: &Forest, drawing: Drawing, out: &mut dyn Write) -> io::Result<()> {
    let last = last_siblings(&forest.order);
    // Whether each open ancestor level (depth 1..) was the last of its siblings.
    let mut open: Vec<bool> = Vec::new();
    for (k, &(i, depth)) in forest.order.iter().enumerate() {
        let Some(p) = forest.processes.get(i) else {
            continue;
        };
        let is_last = last.get(k).copied().unwrap_or(true);
        if depth == 0 && k > 0 {
            writeln!(out)?;
        }
        open.truncate(depth.saturating_sub(1));
        let mut prefix = String::new();
        for &was_last in open.iter().take(DRAWN_DEPTH) {
            prefix.push_str(if was_last {
                drawing.blank
            } else {
                drawing.through
            });
        }
        let has_children = forest
            .order
            .get(k + 1)
            .is_some_and(|&(_, d)| d == depth + 1);
        let (head, body) = if depth == 0 {
            (String::new(), String::new())
        } else if is_last {
            (drawing.last.to_owned(), drawing.blank.to_owned())
        } else {
            (drawing.branch.to_owned(), drawing.through.to_owned())
        };
        let below = format!(
            "{prefix}{body}{}  ",
            if has_children {
                drawing.through
            } else {
                drawing.blank
            }
        );
        let deep = if depth > DRAWN_DEPTH {
            format!(" (depth {depth})")
        } else {
            String::new()
        };
        writeln!(
            out,
            "{prefix}{head}{} [{}] {}{}{deep}",
            shown(&p.comm),
            p.pid,
            status(p),
            if p.matched {
                ""
            } else {
                " (ancestor of a match)"
            }
        )?;
        if p.ancestor_only {
            writeln!(out, "{below}ppid: {}  id: {}", p.ppid, shown(&p.exec_id))?;
            if depth > 0 {
                open.push(is_last);
            }
            continue;
        }
        if let Some(exe) = &p.exe {
            writeln!(out, "{below}exe:   {}", shown(exe))?;
        }
        if !p.argv.is_empty() {
            writeln!(out, "{below}argv:  {}", command_line(p))?;
        }
        let container = p.container.as_ref().map_or(String::new(), |c| {
            format!("  container: {} {}", shown(&c.runtime), shown(&c.id))
        });
        writeln!(
            out,
            "{below}user:  {}  ppid: {}{container}",
            user_text(p),
            p.ppid
        )?;
        writeln!(
            out,
            "{below}time:  {} {} {}",
            p.start.as_deref().map_or("start not seen", |s| s),
            drawing.arrow,
            match (&p.exit, p.running_at_end) {
                (Some(t), _) => t.as_str(),
                (None, true) => "running at the end of the trace",
                (None, false) if p.forgotten => FORGOTTEN,
                (None, false) => "exit not seen",
            }
        )?;
        for f in &p.failed_execs {
            writeln!(out, "{below}failed exec: {}", failed_exec_text(f))?;
        }
        if p.more_failed_execs > 0 {
            writeln!(out, "{below}failed exec: {} more", p.more_failed_execs)?;
        }
        writeln!(out, "{below}id:    {}", id_text(&p.exec_id))?;
        if p.files.records > 0 {
            writeln!(out, "{below}files: {}", files_text(&p.files))?;
        }
        if p.network.sockets > 0 {
            writeln!(out, "{below}net:   {}", network_text(&p.network))?;
        }
        if depth > 0 {
            open.push(is_last);
        }
    }
    if forest.order.is_empty() {
        if forest.processes.is_empty() {
            writeln!(out, "the trace has no processes")?;
        } else {
            writeln!(out, "no process matches")?;
        }
    }
    for line in summary(forest) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// Lines that say what the tree leaves out; empty when it shows everything.
pub fn summary(forest: &Forest) -> Vec<String> {
    let mut lines = Vec::new();
    if forest.left_out > 0 {
        lines.push(format!(
            "{} more processes not shown (--limit {}): {}; {}",
            forest.left_out,
            forest.limit,
            files_text(&forest.left_out_files),
            network_text(&forest.left_out_network)
        ));
    }
    if forest.untracked_events > 0 {
        lines.push(format!(
            "{} process events of processes met after the tree's share of the memory budget \
             was full were not counted (--max-memory raises it)",
            forest.untracked_events
        ));
    }
    if forest.untracked_records > 0 {
        lines.push(format!(
            "{} records of processes met after the tree's share of the memory budget was \
             full were not counted (--max-memory raises it)",
            forest.untracked_records
        ));
    }
    lines
}

/// The JSON document of `kellect tree -o json` (docs/TREE.md).
#[derive(Serialize)]
struct JsonHead<'a> {
    host: Option<&'a str>,
    first: Option<String>,
    last: Option<String>,
    shown: usize,
    matched: u64,
    left_out: u64,
    left_out_files: &'a FileActivity,
    left_out_network: &'a NetActivity,
    untracked_records: u64,
    untracked_events: u64,
    limit: usize,
}

/// A JSON object's text without its closing brace, to add keys to.
fn unclosed(object: &str) -> &str {
    object.strip_suffix('}').unwrap_or(object)
}

/// Writes the tree as one JSON object (docs/TREE.md): the summary keys, then
/// `processes`, the roots, each with its `children` nested. Written iteratively, so a
/// deep tree cannot exhaust the stack. Errors: writing.
pub fn write_json(forest: &Forest, out: &mut dyn Write) -> io::Result<()> {
    let head = JsonHead {
        host: forest.host.as_deref(),
        first: forest.first_ns.map(kflowd_time),
        last: forest.last_ns.map(kflowd_time),
        shown: forest.order.len(),
        matched: forest.matched,
        left_out: forest.left_out,
        left_out_files: &forest.left_out_files,
        left_out_network: &forest.left_out_network,
        untracked_records: forest.untracked_records,
        untracked_events: forest.untracked_events,
        limit: forest.limit,
    };
    let head = json_text(&head)?;
    out.write_all(unclosed(&head).as_bytes())?;
    out.write_all(b",\"processes\":[")?;
    let mut open = 0usize;
    let mut previous: Option<usize> = None;
    for &(i, depth) in &forest.order {
        let Some(p) = forest.processes.get(i) else {
            continue;
        };
        while open > depth {
            out.write_all(b"]}")?;
            open -= 1;
        }
        if previous.is_some_and(|d| d >= depth) {
            out.write_all(b",")?;
        }
        let object = json_text(p)?;
        out.write_all(unclosed(&object).as_bytes())?;
        out.write_all(b",\"children\":[")?;
        open = depth + 1;
        previous = Some(depth);
    }
    for _ in 0..open {
        out.write_all(b"]}")?;
    }
    out.write_all(b"]}\n")
}

/// Compact JSON of `v`, trace strings that are not UTF-8 keeping their bytes as sibling keys
/// (`replayer::bytes::to_json`).
fn json_text<T: serde::Serialize>(v: &T) -> io::Result<String> {
    String::from_utf8(crate::replayer::bytes::to_json(v, false)).map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(exec_id: &str, pid: u32, ppid: u32, start: i64) -> Process {
        Process {
            exec_id: exec_id.into(),
            pid,
            ppid,
            comm: format!("p{pid}"),
            start_ns: Some(start),
            ..Process::default()
        }
    }

    fn builder(processes: Vec<Process>) -> TreeBuilder {
        let mut b = TreeBuilder::new(usize::MAX);
        for p in processes {
            b.by_exec_id.insert(p.exec_id.clone(), b.processes.len());
            b.processes.push(p);
        }
        b
    }

    /// The forest of processes (exec id, pid, ppid, start), unfiltered.
    fn forest(spec: &[(&str, u32, u32, i64)], sel: &Selection, limit: usize) -> Forest {
        let processes = spec
            .iter()
            .map(|&(e, pid, ppid, start)| process(e, pid, ppid, start))
            .collect();
        arrange(builder(processes), sel, limit, ReplayReport::default())
    }

    fn pids(f: &Forest) -> Vec<(u32, usize)> {
        f.order
            .iter()
            .map(|&(i, d)| (f.processes[i].pid, d))
            .collect()
    }

    #[test]
    fn children_under_their_parent_by_start_time_then_pid() {
        let spec = [
            ("c", 12, 10, 30),
            ("a", 10, 1, 10),
            ("b", 11, 10, 20),
            ("d", 13, 10, 20),
            ("e", 14, 99, 5),
        ];
        let f = forest(&spec, &Selection::default(), 100);
        assert_eq!(
            pids(&f),
            vec![(14, 0), (10, 0), (11, 1), (13, 1), (12, 1)],
            "roots by start, children by start then pid"
        );
    }

    #[test]
    fn a_parent_cycle_is_cut_and_nothing_is_lost() {
        let mut a = process("a", 1, 2, 0);
        a.ancestors = vec![("b".into(), "p2".into(), 2)];
        let mut b = process("b", 2, 1, 0);
        b.ancestors = vec![("a".into(), "p1".into(), 1)];
        let f = arrange(
            builder(vec![a, b]),
            &Selection::default(),
            10,
            ReplayReport::default(),
        );
        assert_eq!(f.order.len(), 2);
        assert_eq!(f.order[0].1, 0, "one of them is a root");
    }

    #[test]
    fn a_match_keeps_its_ancestors_and_the_limit_counts_the_rest() {
        let spec = [
            ("a", 10, 1, 10),
            ("b", 11, 10, 20),
            ("c", 12, 11, 30),
            ("d", 13, 10, 40),
        ];
        let sel = Selection {
            pids: vec![12],
            ..Selection::default()
        };
        let f = forest(&spec, &sel, 100);
        assert_eq!(pids(&f), vec![(10, 0), (11, 1), (12, 2)]);
        assert_eq!(f.matched, 1);
        assert!(!f.processes[0].matched && f.processes[2].matched);
        let f = forest(&spec[..2], &Selection::default(), 1);
        assert_eq!((f.order.len(), f.left_out), (1, 1));
    }

    #[test]
    fn json_nests_children_and_closes_every_level() {
        let spec = [
            ("a", 10, 1, 10),
            ("b", 11, 10, 20),
            ("c", 12, 11, 30),
            ("d", 13, 10, 40),
            ("e", 14, 1, 50),
        ];
        let f = forest(&spec, &Selection::default(), 100);
        let mut out = Vec::new();
        write_json(&f, &mut out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let roots = v["processes"].as_array().unwrap();
        assert_eq!(roots.len(), 2);
        assert_eq!(roots[0]["pid"], 10);
        assert_eq!(roots[0]["children"][0]["pid"], 11);
        assert_eq!(roots[0]["children"][0]["children"][0]["pid"], 12);
        assert_eq!(roots[0]["children"][1]["pid"], 13);
        assert_eq!(roots[1]["pid"], 14);
        assert_eq!(v["shown"], 5);
    }

    #[test]
    fn a_deep_chain_neither_overflows_nor_indents_without_bound() {
        let chain: Vec<Process> = (0..20_000u32)
            .map(|i| process(&format!("x{i}"), i + 2, i + 1, i64::from(i)))
            .collect();
        let f = arrange(
            builder(chain),
            &Selection::default(),
            20_000,
            ReplayReport::default(),
        );
        let mut out = Vec::new();
        write_json(&f, &mut out).unwrap();
        assert!(out.ends_with(b"]}\n"));
        let mut text = Vec::new();
        write_text(&f, Drawing::ASCII, &mut text).unwrap();
        let longest = String::from_utf8(text)
            .unwrap()
            .lines()
            .map(str::len)
            .max()
            .unwrap();
        assert!(longest < 400, "a line of {longest} bytes");
    }

    #[test]
    fn hostile_strings_are_escaped_in_the_text() {
        let mut p = process("a", 10, 1, 10);
        p.comm = "\x1b[31mred\nx".into();
        p.argv = vec!["a b".into(), "\x1b]0;title\x07".into()];
        let f = arrange(
            builder(vec![p]),
            &Selection::default(),
            10,
            ReplayReport::default(),
        );
        let mut text = Vec::new();
        write_text(&f, Drawing::BOXES, &mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text}");
        assert!(text.starts_with("\\x1b[31mred\\nx [10]"), "{text}");
        assert!(text.contains("argv:  'a b' '\\x1b]0;title\\x07'"), "{text}");
    }

    #[test]
    fn record_lines_fold_into_their_process() {
        let mut b = TreeBuilder::new(usize::MAX);
        let common = r#""InfoTimestamp":"Sat, Nov 21 2026 09:09:24.190131930 UTC","InfoUptime":0.5,"Proc":"dig","ProcUser":"root","ProcPPID":7,"ProcPID":8,"ProcExecId":"E8","ProcUID":0,"ProcAge":0.1"#;
        b.line(format!(r#"{{"InfoMonitor":"socket","InfoExport":"close",{common},"SockProtocol":"UDP","SockRemoteIP":"127.0.0.1","SockRemotePort":53,"SockTxBytes":5,"SockRxBytes":7}}"#).as_bytes());
        b.line(format!(r#"{{"InfoMonitor":"filesystem","InfoExport":"close",{common},"FileEvents":{{"OPEN":1,"ACCESS":2}},"FileSizeChange":-3}}"#).as_bytes());
        b.line(format!(r#"{{"InfoMonitor":"process","InfoExport":"exit",{common},"ProcExe":"/usr/bin/dig","ProcArgv":["dig"],"ProcExitCode":3}}"#).as_bytes());
        b.line(b"not json");
        assert_eq!(b.unreadable, 1);
        let p = &b.processes[0];
        assert_eq!(
            (p.pid, p.exit_code, p.user.as_deref()),
            (8, Some(3), Some("root"))
        );
        assert_eq!(p.network.remotes, vec!["UDP 127.0.0.1:53"]);
        assert_eq!((p.network.sent_bytes, p.network.received_bytes), (5, 7));
        assert_eq!(
            (p.files.opened, p.files.read, p.files.size_change_bytes),
            (1, 1, -3)
        );
        assert_eq!(p.start_ns, Some(1_795_252_164_090_131_930));
        assert_eq!(b.origin_ns, Some(1_795_252_163_690_131_930));
    }

    /// An exec id of image start `start` (boottime ns) and pid `pid`.
    fn id(start: u64, pid: u32) -> String {
        crate::replayer::state::execid::exec_id("b00t", start, pid)
    }

    /// A process event line: `kind` at `us` microseconds, of pid `pid` in image `image`,
    /// with `extra` keys.
    fn event_line(b: &mut TreeBuilder, kind: &str, us: i64, pid: u32, image: &str, extra: &str) {
        b.event_line(format!(r#"{{"timestamp":{us},"event_type":"{kind}","comm":"c{pid}","pid":{pid},"tid":{pid},"ppid":1,"uid":0,"exec_id":"{image}"{extra}}}"#).as_bytes());
    }

    /// Pid, depth, exit code, replaced by exec, and a time of `time`.
    type Row = (u32, usize, Option<u32>, bool, Option<i64>);

    /// The shown processes of `f` as [`Row`]s, in tree order.
    fn rows(f: &Forest, time: fn(&Process) -> Option<i64>) -> Vec<Row> {
        f.order
            .iter()
            .map(|&(i, d)| {
                let p = &f.processes[i];
                (p.pid, d, p.exit_code, p.replaced_by_exec, time(p))
            })
            .collect()
    }

    #[test]
    fn process_events_tell_forks_reused_pids_failed_execs_and_images_apart() {
        let mut b = TreeBuilder::new(usize::MAX);
        let sh = id(1_000, 10);
        // The shell's exec at 1 µs of realtime is 1000 ns of boottime (the boot offset).
        // A fork-only child (pid 20) exits 5; a second child gets pid 20 again, tries an
        // exec that fails, execs twice and exits 6. Then a fork whose child exec'd at
        // once: its fork image is named by a record only.
        let events = [
            ("process_exec", 1, 10, sh.clone(), r#","argv":["sh"]"#),
            ("process_fork", 2, 10, sh.clone(), r#","child_pid":20"#),
            ("process_exit", 3, 20, id(2_000, 20), r#","exit_code":5"#),
            ("process_fork", 4, 10, sh.clone(), r#","child_pid":20"#),
            (
                "process_exec",
                5,
                20,
                id(4_000, 20),
                r#","error":"ENOENT","filename":"/nope""#,
            ),
            ("process_exec", 6, 20, id(6_000, 20), r#","argv":["a"]"#),
            ("process_exec", 7, 20, id(7_000, 20), r#","argv":["b"]"#),
            ("process_exit", 8, 20, id(7_000, 20), r#","exit_code":6"#),
            ("process_fork", 9, 10, sh.clone(), r#","child_pid":30"#),
            ("process_exec", 10, 30, id(10_000, 30), r#","argv":["c"]"#),
        ];
        for (kind, us, pid, image, extra) in events {
            event_line(&mut b, kind, us, pid, &image, extra);
        }
        b.line(format!(r#"{{"InfoTimestamp":"x","InfoMonitor":"filesystem","InfoExport":"close","Proc":"c30","ProcPPID":10,"ProcPID":30,"ProcExecId":"{}","ProcUID":0,"FileEvents":{{"OPEN":1}}}}"#, id(9_000, 30)).as_bytes());
        assert_eq!(b.unreadable, 0);
        let f = arrange(b, &Selection::default(), 100, ReplayReport::default());
        let shown = rows(&f, |p| p.start_ns);
        assert_eq!(
            shown,
            vec![
                (10, 0, None, false, Some(1_000)),
                (20, 1, Some(5), false, Some(2_000)),
                (20, 1, None, true, Some(4_000)),
                (20, 1, None, true, Some(6_000)),
                (20, 1, Some(6), false, Some(7_000)),
                (30, 1, None, true, Some(9_000)),
                (30, 1, None, false, Some(10_000)),
            ]
        );
        assert_eq!(
            f.processes[f.order[1].0].user, None,
            "no process names uid 0"
        );
        let failed = &f.processes[f.order[2].0];
        assert_eq!(failed.failed_execs[0].filename, "/nope");
        assert_eq!(failed.failed_execs[0].error, "ENOENT");
        let forked = &f.processes[f.order[5].0];
        assert_eq!(
            (forked.exec_id.as_str(), forked.files.opened),
            (id(9_000, 30).as_str(), 1)
        );
    }

    #[test]
    fn a_clone_parent_child_hangs_under_the_forkers_parent() {
        let mut b = TreeBuilder::new(usize::MAX);
        let sh = id(1_000, 10);
        event_line(&mut b, "process_exec", 1, 10, &sh, r#","argv":["sh"]"#);
        event_line(&mut b, "process_fork", 2, 10, &sh, r#","child_pid":20"#);
        // Pid 20 (ppid 10) clones pid 30 with CLONE_PARENT|SIGCHLD: 30's parent is 10.
        b.event_line(format!(r#"{{"timestamp":3,"event_type":"process_fork","comm":"c20","pid":20,"tid":20,"ppid":10,"uid":0,"exec_id":"{}","child_pid":30,"flags":32785,"flags_text":"SIGCHLD|CLONE_PARENT"}}"#, id(2_000, 20)).as_bytes());
        let f = arrange(b, &Selection::default(), 100, ReplayReport::default());
        let shown: Vec<(u32, usize, u32)> = f
            .order
            .iter()
            .map(|&(i, d)| (f.processes[i].pid, d, f.processes[i].ppid))
            .collect();
        assert_eq!(shown, vec![(10, 0, 1), (20, 1, 10), (30, 1, 10)]);
    }

    #[test]
    fn a_group_that_outlived_its_leader_ends_with_the_groups_status() {
        let mut b = TreeBuilder::new(usize::MAX);
        // Pids 20 and 30: the leader calls exit(2) with 5 while another thread runs on.
        // 20's thread then calls exit_group(9): its parent waits for 9. 30's thread is
        // killed by SIGKILL: its parent sees that signal. 40's thread calls exit(2): its
        // parent waits for the leader's 5.
        for (pid, last) in [
            (20, r#""syscall":"exit_group","exit_code":9,"signal":0"#),
            (30, r#""exit_code":0,"signal":9,"signal_name":"SIGKILL""#),
            (40, r#""syscall":"exit","exit_code":0,"signal":0"#),
        ] {
            let image = id(u64::from(pid) * 1000, pid);
            let line = |tid: u32, us: i64, tail: &str| {
                format!(
                    r#"{{"timestamp":{us},"event_type":"process_exit","comm":"le","pid":{pid},"tid":{tid},"ppid":1,"uid":0,"exec_id":"{image}",{tail}}}"#
                )
            };
            b.event_line(line(pid, 1, r#""syscall":"exit","exit_code":5,"signal":0"#).as_bytes());
            b.event_line(line(pid + 1, 2, last).as_bytes());
        }
        let f = arrange(b, &Selection::default(), 100, ReplayReport::default());
        /// Pid, exit code, signal, end.
        type End<'a> = (u32, Option<u32>, Option<&'a str>, Option<i64>);
        let ends: Vec<End> = f
            .processes
            .iter()
            .map(|p| (p.pid, p.exit_code, p.exit_signal.as_deref(), p.exit_ns))
            .collect();
        assert_eq!(
            ends,
            vec![
                (20, Some(9), None, Some(2_000)),
                (30, Some(0), Some("SIGKILL"), Some(2_000)),
                (40, Some(5), None, Some(2_000)),
            ]
        );
    }

    #[test]
    fn a_thread_that_execs_after_its_leader_left_replaces_the_image() {
        let sh = id(1_000, 10);
        let (old, new) = (id(2_000, 20), id(4_000, 20));
        let leader_exit = r#","syscall":"exit","exit_code":5,"signal":0"#;
        // 20's leader calls exit(2) with 5; its thread 21 then execs /bin/true, which
        // exits 0: the status 20's parent waits for. Or pid 20 is used again by a new
        // process (the exec is its leader's): no exec of the old image.
        let execed_by = |thread: u32| {
            let mut b = TreeBuilder::new(usize::MAX);
            let exec = format!(r#","argv":["true"],"old_pid":{thread}"#);
            let events = [
                ("process_exec", 1, 10, &sh, r#","argv":["sh"]"#),
                ("process_fork", 2, 10, &sh, r#","child_pid":20"#),
                ("process_exit", 3, 20, &old, leader_exit),
                ("process_exec", 4, 20, &new, exec.as_str()),
                ("process_exit", 5, 20, &new, r#","exit_code":0,"signal":0"#),
            ];
            for (kind, us, pid, image, extra) in events {
                if thread == 20 && us == 4 {
                    event_line(&mut b, "process_fork", us, 10, &sh, r#","child_pid":20"#);
                }
                event_line(&mut b, kind, us, pid, image, extra);
            }
            b
        };
        let f = arrange(
            execed_by(21),
            &Selection::default(),
            100,
            ReplayReport::default(),
        );
        assert_eq!(
            rows(&f, |p| p.exit_ns),
            vec![
                (10, 0, None, false, None),
                (20, 1, None, true, Some(4_000)),
                (20, 1, Some(0), false, Some(5_000)),
            ]
        );
        let sel = Selection {
            exit_codes: vec![5],
            ..Selection::default()
        };
        let f = arrange(execed_by(20), &sel, 100, ReplayReport::default());
        assert_eq!(f.matched, 1, "the first process of pid 20 exited 5");
    }

    #[test]
    fn a_trace_without_processes_says_so() {
        let mut text = Vec::new();
        let empty = arrange(
            builder(Vec::new()),
            &Selection::default(),
            10,
            ReplayReport::default(),
        );
        write_text(&empty, Drawing::ASCII, &mut text).unwrap();
        assert_eq!(text, b"the trace has no processes\n");
        let sel = Selection {
            pids: vec![1],
            ..Selection::default()
        };
        let other = forest(&[("a", 10, 1, 10)], &sel, 10);
        text.clear();
        write_text(&other, Drawing::ASCII, &mut text).unwrap();
        assert_eq!(text, b"no process matches\n");
    }

    #[test]
    fn a_process_the_replay_forgot_is_not_running_at_the_end() {
        let mut b = TreeBuilder::new(usize::MAX);
        let image = id(1_000, 10);
        event_line(&mut b, "process_exec", 1, 10, &image, r#","argv":["sh"]"#);
        b.line(format!(r#"{{"InfoTimestamp":"x","InfoMonitor":"process","InfoExport":"table-full","Proc":"sh","ProcPPID":1,"ProcPID":10,"ProcExecId":"{image}","ProcUID":0}}"#).as_bytes());
        // A record naming a process by an id without a start (the replay forgot its image)
        // is of its pid's image that began last before the record.
        let us = 1_795_252_164_000_000;
        event_line(
            &mut b,
            "process_exec",
            us,
            11,
            &id(2_000, 11),
            r#","argv":["x"]"#,
        );
        b.line(format!(r#"{{"InfoTimestamp":"Sat, Nov 21 2026 09:09:24.190131930 UTC","InfoMonitor":"filesystem","InfoExport":"close","Proc":"x","ProcPPID":1,"ProcPID":11,"ProcExecId":"{}","ProcUID":0,"FileEvents":{{"OPEN":1}}}}"#, id(0, 11)).as_bytes());
        let f = arrange(b, &Selection::default(), 100, ReplayReport::default());
        let p = &f.processes[0];
        assert!(p.forgotten && !p.running_at_end);
        assert_eq!(status(p), FORGOTTEN);
        assert_eq!(
            f.processes.len(),
            2,
            "no process of its own for the id without a start"
        );
        assert_eq!(f.processes[1].files.opened, 1);
    }

    #[test]
    fn processes_past_the_memory_share_are_counted_not_kept() {
        let mut b = TreeBuilder::new(PROCESS_BYTES + 64);
        for pid in 1..=3 {
            b.line(format!(r#"{{"InfoTimestamp":"x","InfoMonitor":"socket","InfoExport":"close","Proc":"p","ProcPPID":0,"ProcPID":{pid},"ProcExecId":"E{pid}","ProcUID":0}}"#).as_bytes());
        }
        assert_eq!((b.processes.len(), b.untracked_records), (1, 2));
    }
}
