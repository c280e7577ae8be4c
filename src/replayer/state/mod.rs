//! Stage 2 of replay: the state a process carries between events — its working directory
//! and its file descriptor table — rebuilt from the snapshot taken at record time and
//! every event after it, so relative paths and bare fds can be named; and the files they
//! reach (the inode model of [`files`]), to which each syscall's effect is applied
//! here, once.
//!
//! Sequential and deterministic: the events arrive in timestamp order.

pub mod compact;
pub mod container;
pub mod context;
pub mod execid;
pub mod files;

use std::collections::{BTreeMap, HashMap};

/// A hash map of replay state keyed by values read from the trace (pids, fds, inodes):
/// ahash, randomly keyed per map, so hostile keys cannot be chosen to collide.
pub type Map<K, V> = HashMap<K, V, ahash::RandomState>;
/// The set of [`Map`].
pub type Set<K> = std::collections::HashSet<K, ahash::RandomState>;
use std::sync::Arc;

use crate::abi::{self, InodeAttrs};
use crate::meta::{CgroupLine, Cgroups, FdTable, ProcCgroups, ProcSnapshot};
use crate::replayer::input::decode::{
    Body, CgroupChange, Event, Filled, SockAddr, Syscall, TimeSet,
};
use crate::syscalls::{Catalogue, Cloexec, Effect, Field, Src, CATALOGUE};
use container::{CgroupInfo, CgroupNames};
use execid::{Image, ProcessImages};
use files::{FileId, Files, Touched, DEFAULT_MAX_ENTRIES, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};

/// `AT_FDCWD`: "relative to the working directory" in the *at syscalls.
pub const AT_FDCWD: i32 = -100;
const O_CLOEXEC: u64 = 0o2000000;
/// The access mode bits of open flags: `O_RDONLY` 0, `O_WRONLY` 1, `O_RDWR` 2.
const O_ACCMODE: u64 = 3;
const F_DUPFD_CLOEXEC: u64 = 1030;
/// memfd_create's close-on-exec flag.
const MFD_CLOEXEC: u64 = 1;
const O_CREAT: u64 = 0o100;
const O_EXCL: u64 = 0o200;
const O_NOFOLLOW: u64 = 0o400000;
/// `FMODE_CREATED` in `struct file.f_mode`: this open created the file.
const FMODE_CREATED: u32 = 0x100000;
const AT_SYMLINK_NOFOLLOW: u64 = 0x100;
/// `openat2` resolve flag: no symlink anywhere in the path.
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const AT_REMOVEDIR: u64 = 0x200;

/// What an fd refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdEntry {
    /// A path, or `socket:…`, `pipe:…` as /proc/PID/fd names them; `None` when the
    /// syscall that made it said no more than its kind (a pipe, a socket not connected).
    /// Shared with the events that name it ([`Resolved::fd_name`]).
    pub name: Option<Arc<str>>,
    /// What the fd is.
    pub kind: FdKind,
    pub cloexec: bool,
}

impl FdEntry {
    /// The bytes its name (as [`FdEntry::label`] shows it) and its kind's UNIX path take.
    fn text_len(&self) -> usize {
        self.label().map_or(0, str::len) + self.kind.unix_path().map_or(0, str::len)
    }

    /// Its name, or what its kind says when it has none (`pipe`, `socket`).
    pub fn label(&self) -> Option<&str> {
        self.name.as_deref().or(match self.kind {
            FdKind::Pipe => Some("pipe"),
            FdKind::Socket { .. } => Some("socket"),
            _ => None,
        })
    }
}

/// What an fd is, as the syscalls that made it and used it say.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum FdKind {
    /// A file opened by path (open, openat, openat2, creat): `file` its lifetime in the
    /// inode model when the model follows it (regular files, directories, symlinks);
    /// `writable` when opened `O_WRONLY` or `O_RDWR`.
    File {
        file: Option<FileId>,
        writable: bool,
    },
    /// A socket: `id` the kernel's socket cookie (`SockInfo::sk_id`) once a syscall on this
    /// fd carried it; `server` when accept made it; `unix` the UNIX path it connected to.
    Socket {
        id: Option<u64>,
        server: bool,
        unix: Option<Box<str>>,
    },
    /// One end of a pipe.
    Pipe,
    /// An anonymous inode (`anon_inode:…`: eventfd, epoll, timerfd, …), known from the fd
    /// snapshot only.
    Anon,
    /// Taken over from before the recording with a name that says no more (a path: a file
    /// the inode model never saw opened).
    #[default]
    Unknown,
}

impl FdKind {
    /// The kind a name of the fd snapshot (/proc/PID/fd's link text) says; also the bare
    /// labels "socket" and "pipe" ([`FdEntry::label`]) that a slice's snapshot carries
    /// (never a /proc link text, whose file names are absolute paths).
    fn from_proc_name(name: &str) -> FdKind {
        if name.starts_with("socket:") || name == "socket" {
            FdKind::Socket {
                id: None,
                server: false,
                unix: None,
            }
        } else if name.starts_with("pipe:") || name == "pipe" {
            FdKind::Pipe
        } else if name.starts_with("anon_inode:") {
            FdKind::Anon
        } else {
            FdKind::Unknown
        }
    }

    /// A socket whose identity and role are not known yet.
    fn socket() -> FdKind {
        FdKind::Socket {
            id: None,
            server: false,
            unix: None,
        }
    }

    /// The UNIX path a socket connected to.
    pub fn unix_path(&self) -> Option<&str> {
        match self {
            FdKind::Socket { unix, .. } => unix.as_deref(),
            _ => None,
        }
    }

    /// The socket cookie of a socket fd, once known.
    pub fn socket_id(&self) -> Option<u64> {
        match self {
            FdKind::Socket { id, .. } => *id,
            _ => None,
        }
    }
}

/// The memory one process of the [`ProcessTable`] costs besides its names, in bytes: its
/// slot in the table (a hash table's slots are up to twice its entries, and both the old
/// and the new slots are held while it grows) and its place in the recency order.
pub const PROC_BYTES: usize = 384;
/// The memory one open fd of a process costs besides its name (and a socket's UNIX path),
/// in bytes (its slot in the process's fd table, counted as for a process, and the name's
/// allocation).
pub const FD_BYTES: usize = 160;
/// The memory a process's working directory costs besides its length, in bytes.
const CWD_BYTES: usize = 32;
/// The memory a process's [`ProcFacts`] cost besides its executable's path and its
/// arguments, in bytes: the boxed struct and its comm (at most 16 bytes).
pub const FACTS_BYTES: usize = 256;
/// The memory one argument of a process's [`ProcFacts::argv`] costs besides its length, in
/// bytes (its `String` and the allocation).
const ARG_BYTES: usize = 32;
/// The default bound on the process table: 16 MiB, the share of the default replay memory
/// budget (see `MemoryBudget::process_bytes`).
pub const DEFAULT_MAX_PROCESS_BYTES: usize = 16 << 20;

/// What the events said of a process, for the records view's `Proc*` keys: held by a
/// table fed with [`ProcessTable::apply_with_facts`] (the records view's), `None` in
/// another's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcFacts {
    /// The process's name: its main thread's comm (another thread's until the main
    /// thread is seen), at most 15 bytes.
    pub comm: String,
    /// The file the kernel ran at the process's latest exec (not /dev/fd/N, not a
    /// script: `struct linux_binprm`'s file when recorded, else the exec's path).
    pub exe: Option<String>,
    /// The latest exec's arguments, as far as recorded.
    pub argv: Vec<String>,
    /// The exec's argc; `argv_truncated`: `argv` is short of it or an argument was cut.
    pub argc: u32,
    pub argv_truncated: bool,
    /// The parent (tgid), user and group ids of the process's latest event.
    pub ppid: u32,
    pub uid: u32,
    pub gid: u32,
    /// Boot-time ns the process started (its fork, or the snapshot's start time); 0 when
    /// not known.
    pub start_ns: u64,
    /// Boot-time ns of the process's latest exec during the trace; `None`: none seen
    /// (a fork child's is `None` until it execs).
    pub exec_ns: Option<u64>,
    /// The executable's inode at that exec (`struct inode` of the bprm file).
    pub exe_inode: Option<InodeAttrs>,
    /// The cgroup that puts it in a container, as of its latest event.
    pub cgroup: Option<Arc<CgroupInfo>>,
    /// Its process image as of its latest event (the image table's, `ProcExecId` and
    /// `ProcAncestors`).
    pub image: Option<Arc<Image>>,
}

impl ProcFacts {
    /// Whether the process called exec during the trace.
    pub fn exec_seen(&self) -> bool {
        self.exec_ns.is_some()
    }

    /// The estimated bytes it holds ([`FACTS_BYTES`], its path, [`ARG_BYTES`] and the
    /// length of each argument).
    fn cost(&self) -> usize {
        let argv: usize = self.argv.iter().map(|a| ARG_BYTES + a.len()).sum();
        FACTS_BYTES + self.exe.as_ref().map_or(0, String::len) + argv
    }
}

/// A process that left a [`ProcessTable`] holding facts: its pid and what was known of it.
pub type LeftProcess = (u32, Box<ProcFacts>);

#[derive(Debug, Default, Clone)]
struct ProcState {
    cwd: Option<String>,
    fds: Map<i32, FdEntry>,
    /// How many of `fds` hold each file of the inode model ([`FdKind::File`] with an id),
    /// so that a close knows whether it was the file's last fd without a scan.
    file_refs: Map<FileId, u32>,
    /// Estimated bytes of `cwd` and `fds` ([`CWD_BYTES`] and [`FD_BYTES`] plus each name's
    /// length; an fd's share of `file_refs` is within [`FD_BYTES`]); the process costs
    /// [`PROC_BYTES`] more.
    bytes: usize,
    /// Recency stamp: its key in [`ProcessTable::lru`].
    used: u64,
    /// Its cgroup in the v2 hierarchy, when known.
    cg_v2: Option<Arc<CgroupInfo>>,
    /// Its cgroup in a v1 hierarchy, kept only when it names a container (a v1 or hybrid
    /// host's runtime may make its cgroups in the v1 hierarchies alone).
    cg_v1: Option<Arc<CgroupInfo>>,
    /// What the events said of it, in a table that keeps facts.
    facts: Option<Box<ProcFacts>>,
}

impl ProcState {
    /// The cgroup that puts the process in a container: its v2 cgroup's, else its v1's.
    fn container(&self) -> Option<&Arc<CgroupInfo>> {
        [&self.cg_v2, &self.cg_v1]
            .into_iter()
            .flatten()
            .find(|c| c.container.is_some())
    }

    /// A fork's or exec's task context: v2 cgroup `id`, `named` when known (unknown: none,
    /// unless it is the one held).
    fn set_cgroup_id(&mut self, named: Option<Arc<CgroupInfo>>, id: u64) {
        self.cg_v2 = named.or_else(|| self.cg_v2.take().filter(|c| c.id == id));
    }

    fn cost(&self) -> usize {
        PROC_BYTES + self.bytes + self.facts.as_ref().map_or(0, |f| f.cost())
    }

    fn set_cwd(&mut self, cwd: Option<String>) {
        let len = |c: &Option<String>| c.as_ref().map_or(0, |c| CWD_BYTES + c.len());
        self.bytes = self.bytes - len(&self.cwd) + len(&cwd);
        self.cwd = cwd;
    }

    /// Counts an fd of `kind` in (`held`) or out of `file_refs`.
    fn count_file(file_refs: &mut Map<FileId, u32>, kind: &FdKind, held: bool) {
        let FdKind::File {
            file: Some(file), ..
        } = kind
        else {
            return;
        };
        if held {
            *file_refs.entry(*file).or_insert(0) += 1;
        } else if let Some(n) = file_refs.get_mut(file) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                file_refs.remove(file);
            }
        }
    }

    fn insert_fd(&mut self, fd: i32, entry: FdEntry) {
        self.bytes += FD_BYTES + entry.text_len();
        Self::count_file(&mut self.file_refs, &entry.kind, true);
        if let Some(old) = self.fds.insert(fd, entry) {
            self.bytes -= FD_BYTES + old.text_len();
            Self::count_file(&mut self.file_refs, &old.kind, false);
        }
    }

    fn remove_fd(&mut self, fd: i32) {
        if let Some(old) = self.fds.remove(&fd) {
            self.bytes -= FD_BYTES + old.text_len();
            Self::count_file(&mut self.file_refs, &old.kind, false);
        }
    }

    /// Runs `f` on the entry of `fd` (when held), keeping the estimate of the bytes and
    /// the count of fds of each file.
    fn edit_fd(&mut self, fd: i32, f: impl FnOnce(&mut FdEntry)) {
        if let Some(entry) = self.fds.get_mut(&fd) {
            let before = entry.text_len();
            Self::count_file(&mut self.file_refs, &entry.kind, false);
            f(entry);
            Self::count_file(&mut self.file_refs, &entry.kind, true);
            self.bytes = self.bytes - before + entry.text_len();
        }
    }

    fn rename_fd(&mut self, fd: i32, name: String) {
        self.edit_fd(fd, |entry| entry.name = Some(name.into()));
    }

    /// exec: the fds marked close-on-exec go; returns what they were, in fd order.
    fn drop_cloexec(&mut self) -> Vec<FdKind> {
        let (bytes, file_refs) = (&mut self.bytes, &mut self.file_refs);
        let mut closed = Vec::new();
        self.fds.retain(|fd, e| {
            if e.cloexec {
                *bytes -= FD_BYTES + e.text_len();
                Self::count_file(file_refs, &e.kind, false);
                closed.push((*fd, e.kind.clone()));
            }
            !e.cloexec
        });
        closed.sort_unstable_by_key(|(fd, _)| *fd);
        closed.into_iter().map(|(_, kind)| kind).collect()
    }
}

/// One process of a [`ProcessTable`]: its pid, working directory and open fds.
pub type ProcessView<'a> = (u32, Option<&'a str>, Vec<(i32, &'a FdEntry)>);

/// Names resolved for one event, at the moment it happened.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The first path, absolute (as far as the cwd or dirfd is known).
    pub path0: Option<String>,
    pub path1: Option<String>,
    /// What the event's fd referred to (before a close removed it).
    pub fd_name: Option<Arc<str>>,
    /// What the event's fd was before the event (before a close removed it, a dup2 or an
    /// open replaced it); `None` when the table does not hold it.
    pub fd_kind: Option<FdKind>,
    /// What the fd an open or dup made was before the event (a dup2 over an open fd, or an
    /// fd the table held though it was closed unseen); `None` when it was free.
    pub replaced: Option<FdKind>,
    /// What the fds an exec closed (close-on-exec) were.
    pub exec_closed: Vec<FdKind>,
    /// What the event's second fd referred to ([`Field::OtherFd`]: the destination of an
    /// in-kernel copy), before the syscall.
    pub other_fd_name: Option<Arc<str>>,
    /// The file the event is about in the inode model: the one it opened, read, wrote,
    /// changed, unlinked, linked; the one it moved, for a rename. (Boxed, as `file1`: every
    /// event carries a `Resolved`, few of them touch a file.)
    pub file0: Option<Box<Touched>>,
    /// The other file a rename touched: with `RENAME_EXCHANGE` the one moved from the
    /// second path to the first, otherwise the one it replaced, if any.
    pub file1: Option<Box<Touched>>,
    /// The cgroup that puts the event's process in a container (after the event: an exec
    /// or a move names the new one), `None` outside containers.
    pub container: Option<Arc<CgroupInfo>>,
    /// The event ended the process's whole group, which the table no longer holds: its
    /// facts, as of the event (a table fed with [`ProcessTable::apply_with_facts`] only).
    pub exited: Option<LeftProcess>,
    /// Processes with facts forgotten to stay within memory with this event (or while
    /// metadata was applied before it), in the order they were forgotten (a table fed
    /// with [`ProcessTable::apply_with_facts`] only).
    pub forgotten: Vec<LeftProcess>,
}

impl Resolved {
    /// The file the event is about (see the field `file0`).
    pub fn file0(&self) -> Option<Touched> {
        self.file0.as_deref().copied()
    }

    /// The other file a rename touched (see the field `file1`).
    pub fn file1(&self) -> Option<Touched> {
        self.file1.as_deref().copied()
    }

    /// What this event did to file `id`, if it touched it.
    pub fn touched(&self, id: files::FileId) -> Option<Touched> {
        [self.file0(), self.file1()]
            .into_iter()
            .flatten()
            .find(|t| t.file == id)
    }
}

/// Processes by pid (threads share their process's table: `CLONE_FILES|CLONE_FS`).
///
/// Memory is bounded: past [`max_bytes`](Self::max_bytes) (each process [`PROC_BYTES`],
/// each of its fds [`FD_BYTES`], plus their names' lengths) the least recently seen
/// processes are forgotten after each event, the process whose latest event came first in
/// replay order first: a rule of the trace alone, whatever the thread count. A forgotten
/// process's later events show what is known (their own pid, comm, ppid, uid; relative
/// paths as given, fds unnamed) and build its state anew.
///
/// Fed with [`apply_with_facts`](Self::apply_with_facts), the table also keeps each
/// process's [`ProcFacts`] (counted in its cost: [`FACTS_BYTES`] plus its path and
/// arguments), which the records view reads. A process that leaves the table is handed
/// over with its facts, so that its records can still be made: one whose whole group
/// exited comes with its exit's [`Resolved::exited`] (its records leave after the table
/// applied the exit), and one forgotten to stay within memory with the next event's
/// [`Resolved::forgotten`] (or [`forgotten_facts`](Self::forgotten_facts) at the end).
#[derive(Debug)]
pub struct ProcessTable {
    procs: Map<u32, ProcState>,
    /// Recency: stamp of the latest event → pid; the first is the least recently seen.
    lru: BTreeMap<u64, u32>,
    clock: u64,
    /// Estimated bytes of every process held (the sum of their costs).
    bytes: usize,
    /// The bound on the estimated bytes of the processes held;
    /// [`DEFAULT_MAX_PROCESS_BYTES`] unless set. Held after each event; within one event
    /// the table may pass it by what the event adds (a fork copies its parent's fds).
    pub max_bytes: usize,
    /// Processes forgotten to stay within `max_bytes`.
    forgotten: u64,
    files: Files,
    /// The syscall table events are looked up in ([`CATALOGUE`] unless set).
    catalogue: Catalogue<'static>,
    /// The v2 hierarchy's cgroups by id.
    cgroups: CgroupNames,
    /// Processes with facts forgotten to stay within `max_bytes`, not handed over yet.
    left: Vec<LeftProcess>,
}

impl Default for ProcessTable {
    fn default() -> Self {
        ProcessTable::new(DEFAULT_MAX_ENTRIES)
    }
}

impl ProcessTable {
    /// An empty table whose inode model holds at most `max_file_entries` paths plus files
    /// ([`Files::max_entries`]; `Default` uses [`files::DEFAULT_MAX_ENTRIES`]).
    pub fn new(max_file_entries: usize) -> ProcessTable {
        ProcessTable {
            procs: Map::default(),
            lru: BTreeMap::new(),
            clock: 0,
            bytes: 0,
            max_bytes: DEFAULT_MAX_PROCESS_BYTES,
            forgotten: 0,
            files: Files::new(max_file_entries),
            catalogue: CATALOGUE,
            cgroups: CgroupNames::default(),
            left: Vec::new(),
        }
    }

    /// The same table looking syscalls up in `catalogue`: a syscall's paths, fds and
    /// effect come from its row there.
    pub fn with_catalogue(mut self, catalogue: Catalogue<'static>) -> ProcessTable {
        self.catalogue = catalogue;
        self
    }

    /// The same table holding at most `max_bytes` of processes (see the field).
    pub fn with_process_limit(mut self, max_bytes: usize) -> ProcessTable {
        self.max_bytes = max_bytes;
        self
    }

    /// How many processes were forgotten so far to stay within `max_bytes`.
    pub fn forgotten(&self) -> u64 {
        self.forgotten
    }

    /// The warning the replay prints once when processes were forgotten to stay within
    /// `max_bytes`; `None` when none were.
    pub fn process_warning(&self) -> Option<String> {
        let n = self.forgotten;
        (n > 0).then(|| {
            format!(
                "{n} processes were forgotten to stay within memory: later events of them \
                 show what is known (relative paths as given, fds unnamed); the process \
                 table holds at most {} MiB (the memory budget; --max-memory raises it)",
                self.max_bytes >> 20
            )
        })
    }

    fn stamp(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// `pid` was seen now: last in the recency order (when it is held).
    fn touch(&mut self, pid: u32) {
        let clock = self.clock;
        if let Some(p) = self.procs.get_mut(&pid) {
            if p.used == clock {
                // Already the most recently seen (most events follow one of the same
                // process): the order stands.
                return;
            }
            let now = clock + 1;
            self.clock = now;
            self.lru.remove(&p.used);
            p.used = now;
            self.lru.insert(now, pid);
        }
    }

    /// Holds `state` as process `pid` (replacing any held), seen now.
    fn insert_proc(&mut self, pid: u32, mut state: ProcState) {
        self.remove_proc(pid);
        state.used = self.stamp();
        self.bytes += state.cost();
        self.lru.insert(state.used, pid);
        self.procs.insert(pid, state);
    }

    fn remove_proc(&mut self, pid: u32) -> Option<ProcState> {
        let p = self.procs.remove(&pid)?;
        self.lru.remove(&p.used);
        self.bytes -= p.cost();
        Some(p)
    }

    /// Runs `f` on process `pid`'s state (made, empty, when not held), seen now, and
    /// keeps the estimate of the bytes held.
    fn with_state<R>(&mut self, pid: u32, f: impl FnOnce(&mut ProcState) -> R) -> R {
        if self.procs.contains_key(&pid) {
            self.touch(pid);
        } else {
            self.insert_proc(pid, ProcState::default());
        }
        let state = self.procs.get_mut(&pid).expect("held");
        let before = state.cost();
        let out = f(state);
        self.bytes = self.bytes - before + state.cost();
        out
    }

    /// Forgets the least recently seen processes while more than `max_bytes` are held.
    fn sweep(&mut self) {
        while self.bytes > self.max_bytes {
            let Some((_, pid)) = self.lru.pop_first() else {
                return;
            };
            if let Some(p) = self.procs.remove(&pid) {
                self.bytes -= p.cost();
                self.forgotten += 1;
                self.left.extend(p.facts.map(|f| (pid, f)));
            }
        }
    }

    /// The warning the replay prints once when the inode model forgot entries to stay
    /// within its bound; `None` when it forgot none.
    pub fn memory_warning(&self) -> Option<String> {
        let n = self.files.evicted();
        (n > 0).then(|| {
            format!(
                "{n} file entries were forgotten to stay within memory; \
                 values of those files may be unknown"
            )
        })
    }

    /// The working directories of the processes alive when the recording started.
    pub fn add_snapshot(&mut self, snapshot: &ProcSnapshot) {
        for p in &snapshot.processes {
            self.with_state(p.pid, |state| {
                if state.cwd.is_none() {
                    state.set_cwd(p.cwd.clone());
                }
            });
            self.sweep();
        }
    }

    /// What the snapshot says of the processes alive when the recording started, as their
    /// facts (a process holding facts already keeps them); `images`: the image table, which
    /// applied the snapshot already.
    pub fn add_snapshot_facts(&mut self, snapshot: &ProcSnapshot, images: &ProcessImages) {
        let cut: std::collections::HashSet<u32> = snapshot.argv_cut.iter().copied().collect();
        for p in &snapshot.processes {
            self.with_state(p.pid, |state| {
                state.facts.get_or_insert_with(|| {
                    Box::new(ProcFacts {
                        comm: p.comm.clone(),
                        exe: p.exe.clone(),
                        argv: p.argv.clone(),
                        argv_truncated: cut.contains(&p.pid),
                        ppid: p.ppid,
                        uid: p.uid,
                        gid: p.gid,
                        start_ns: p.start_boot_ns,
                        image: images.get(p.pid).cloned(),
                        ..ProcFacts::default()
                    })
                });
            });
            self.sweep();
        }
    }

    /// Their open file descriptors.
    pub fn add_fds(&mut self, fds: &FdTable) {
        for p in &fds.processes {
            self.with_state(p.pid, |state| {
                for (fd, name) in &p.fds {
                    if !state.fds.contains_key(fd) {
                        let entry = FdEntry {
                            name: Some(name.as_str().into()),
                            kind: FdKind::from_proc_name(name),
                            cloexec: false,
                        };
                        state.insert_fd(*fd, entry);
                    }
                }
            });
            self.sweep();
        }
    }

    /// The cgroup tree and the processes' cgroups when the recording started.
    pub fn add_cgroups(&mut self, cgroups: &Cgroups) {
        for dir in &cgroups.dirs {
            self.cgroups.learn(dir.id, &dir.path);
        }
        let by_path: HashMap<String, Arc<CgroupInfo>> = self
            .cgroups
            .by_path()
            .into_iter()
            .map(|(path, info)| (path.to_owned(), info.clone()))
            .collect();
        for p in &cgroups.processes {
            let mut v2 = None;
            let mut v1 = None;
            for line in &p.lines {
                if line.hierarchy == 0 {
                    v2 = by_path
                        .get(&line.path)
                        .cloned()
                        .or_else(|| self.cgroups.container_path(&line.path));
                } else if v1.is_none() {
                    v1 = self.cgroups.container_path(&line.path);
                }
            }
            self.with_state(p.pid, |state| {
                state.cg_v2 = v2;
                state.cg_v1 = v1;
            });
            self.sweep();
        }
    }

    /// What a Cgroups block taken now would say: the v2 cgroups named, and each process's
    /// cgroups (v2 as hierarchy 0; a v1 one that names a container as hierarchy 1), pid
    /// ascending (`kellect slice` writes it as the Cgroups block of a slice).
    pub fn cgroups_now(&self) -> Cgroups {
        let mut pids: Vec<u32> = self.procs.keys().copied().collect();
        pids.sort_unstable();
        let processes = pids
            .into_iter()
            .filter_map(|pid| {
                let p = &self.procs[&pid];
                let lines: Vec<CgroupLine> = [(0, &p.cg_v2), (1, &p.cg_v1)]
                    .into_iter()
                    .filter_map(|(hierarchy, c)| {
                        c.as_ref().map(|c| CgroupLine {
                            hierarchy,
                            path: c.path.clone(),
                        })
                    })
                    .collect();
                (!lines.is_empty()).then_some(ProcCgroups { pid, lines })
            })
            .collect();
        Cgroups {
            mount: String::new(),
            dirs: self.cgroups.dirs(),
            dirs_cut: false,
            processes,
        }
    }

    /// The cgroup that puts process `pid` in a container, if any.
    pub fn container(&self, pid: u32) -> Option<Arc<CgroupInfo>> {
        self.procs.get(&pid)?.container().cloned()
    }

    /// Every process the table holds, pid ascending: its working directory and its open
    /// fds, fd ascending. What a snapshot of this moment would say (`kellect slice` writes
    /// it as the Snapshot and FdTable blocks of a slice).
    pub fn processes(&self) -> Vec<ProcessView<'_>> {
        let mut out: Vec<_> = self
            .procs
            .iter()
            .map(|(pid, state)| {
                let mut fds: Vec<_> = state.fds.iter().map(|(fd, e)| (*fd, e)).collect();
                fds.sort_unstable_by_key(|(fd, _)| *fd);
                (*pid, state.cwd.as_deref(), fds)
            })
            .collect();
        out.sort_unstable_by_key(|(pid, _, _)| *pid);
        out
    }

    /// The inode model, as the events applied so far left it.
    pub fn files(&self) -> &Files {
        &self.files
    }

    /// What fd `fd` of `pid` is, as far as known.
    pub fn fd(&self, pid: u32, fd: i32) -> Option<&FdEntry> {
        self.procs.get(&pid)?.fds.get(&fd)
    }

    /// The facts of process `pid` (see [`ProcFacts`]), when the table holds it with facts.
    pub fn facts(&self, pid: u32) -> Option<&ProcFacts> {
        self.procs.get(&pid)?.facts.as_deref()
    }

    /// Every process held with facts, in no particular order.
    pub fn all_facts(&self) -> impl Iterator<Item = (u32, &ProcFacts)> {
        self.procs
            .iter()
            .filter_map(|(pid, p)| Some((*pid, p.facts.as_deref()?)))
    }

    /// Processes with facts forgotten to stay within memory since the latest event (while
    /// metadata was applied), not handed over by an event's [`Resolved::forgotten`].
    pub fn forgotten_facts(&self) -> &[LeftProcess] {
        &self.left
    }

    /// Whether an fd of `pid` holds file `file` open.
    pub fn holds_file(&self, pid: u32, file: FileId) -> bool {
        self.procs
            .get(&pid)
            .is_some_and(|p| p.file_refs.contains_key(&file))
    }

    fn fd_name(&self, pid: u32, fd: i32) -> Option<Arc<str>> {
        let entry = self.fd(pid, fd)?;
        match &entry.name {
            Some(name) => Some(name.clone()),
            None => entry.label().map(Arc::from),
        }
    }

    /// An absolute path for `raw` as `pid` passed it, relative to `dirfd`. An empty path
    /// (`AT_EMPTY_PATH`) names the dirfd itself, whatever it is; `None` when that is unknown.
    pub fn resolve(&self, pid: u32, dirfd: i32, raw: &str) -> Option<String> {
        if raw.starts_with('/') {
            return Some(normalize(raw));
        }
        let base = if dirfd == AT_FDCWD {
            self.procs.get(&pid).and_then(|p| p.cwd.clone())
        } else {
            self.fd_name(pid, dirfd).map(|name| name.to_string())
        };
        match base {
            Some(base) if raw.is_empty() => Some(base),
            Some(base) if base.starts_with('/') => Some(normalize(&format!("{base}/{raw}"))),
            // Unknown base (or not a directory): the path stays as given.
            _ if raw.is_empty() => None,
            _ => Some(raw.to_owned()),
        }
    }

    /// Applies one event: resolves its names first (as they were when it happened), then
    /// updates the state it changes.
    pub fn apply(&mut self, event: &Event) -> Resolved {
        self.apply_imaged(event, None)
    }

    /// [`apply`](Self::apply), keeping the facts of the event's process too (see
    /// [`ProcFacts`]): `image` is the image the event belongs to and `images` the image
    /// table, both after the image table applied the event (a fork child's image is
    /// there). The processes forgotten to stay within memory come in
    /// [`Resolved::forgotten`].
    pub fn apply_with_facts(
        &mut self,
        event: &Event,
        image: &Arc<Image>,
        images: &ProcessImages,
    ) -> Resolved {
        let c = &event.common;
        self.with_state(c.pid, |state| {
            let f = state.facts.get_or_insert_with(Box::default);
            // Threads may name themselves: the process is named by its main thread.
            if (c.tid == c.pid || f.comm.is_empty()) && f.comm != c.comm {
                f.comm.replace_range(.., &c.comm);
            }
            f.ppid = c.ppid;
            f.uid = c.uid;
            f.gid = c.gid;
            if !f.image.as_ref().is_some_and(|i| Arc::ptr_eq(i, image)) {
                f.image = Some(Arc::clone(image));
            }
        });
        let mut resolved = self.apply_imaged(event, Some(images));
        let container = resolved.container.clone();
        let facts = match self.procs.get_mut(&c.pid) {
            Some(p) => p.facts.as_deref_mut(),
            None => resolved.exited.as_mut().map(|(_, f)| &mut **f),
        };
        if let Some(f) = facts {
            let same = match (&f.cgroup, &container) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                (None, None) => true,
                _ => false,
            };
            if !same {
                f.cgroup = container;
            }
        }
        resolved.forgotten = std::mem::take(&mut self.left);
        resolved
    }

    fn apply_imaged(&mut self, event: &Event, images: Option<&ProcessImages>) -> Resolved {
        self.files.sweep();
        let pid = event.common.pid;
        self.touch(pid);
        let before = self.container(pid);
        let mut resolved = self.apply_event(event, images);
        resolved.container = match self.procs.get(&pid) {
            Some(p) => p.container().cloned(),
            // The process ended with the event: it was where it was.
            None => before,
        };
        self.sweep();
        resolved
    }

    fn apply_event(&mut self, event: &Event, images: Option<&ProcessImages>) -> Resolved {
        let pid = event.common.pid;
        let ts = event.common.ts;
        match &event.body {
            Body::Fork {
                child_pid,
                clone_flags,
                task,
                ..
            } => {
                if *child_pid != pid {
                    // A new process: a copy of its parent's table, or a share (CLONE_FILES),
                    // which this table approximates with a copy too.
                    let _ = clone_flags;
                    let mut child = self.procs.get(&pid).cloned().unwrap_or_default();
                    if let Some(t) = task {
                        let id = t.cgroup_id.get();
                        child.set_cgroup_id(self.cgroups.get(id).cloned(), id);
                    }
                    // The child's facts are its parent's, but for what the fork changed.
                    let container = child.container().cloned();
                    if let Some(f) = &mut child.facts {
                        f.ppid = pid;
                        f.start_ns = ts;
                        f.exec_ns = None;
                        f.cgroup = container;
                        f.image = images.and_then(|i| i.get(*child_pid)).cloned();
                    }
                    self.insert_proc(*child_pid, child);
                }
                Resolved::default()
            }
            Body::Exec {
                filename,
                argv,
                argc,
                argv_truncated,
                inode,
                exe_path,
                exe_flags,
                task,
                ..
            } => {
                if let Some(t) = task {
                    let id = t.cgroup_id.get();
                    let named = self.cgroups.get(id).cloned();
                    self.with_state(pid, |p| p.set_cgroup_id(named, id));
                }
                let path0 = self.resolve(pid, AT_FDCWD, filename);
                let mut exec_closed = Vec::new();
                if let Some(p) = self.procs.get_mut(&pid) {
                    let before = p.cost();
                    exec_closed = p.drop_cloexec();
                    if let Some(f) = &mut p.facts {
                        // The file the kernel ran (not /dev/fd/N, not a script) when recorded.
                        f.exe = Some(match exe_path {
                            Some(e) => super::decode::exe_name(e, *exe_flags).0,
                            None => path0.clone().unwrap_or_else(|| filename.clone()),
                        });
                        f.argv.clone_from(argv);
                        f.argc = *argc;
                        f.argv_truncated = *argv_truncated;
                        f.exec_ns = Some(ts);
                        f.exe_inode = *inode;
                    }
                    self.bytes = self.bytes - before + p.cost();
                }
                let file0 = match (inode, &path0) {
                    // exec follows symlinks.
                    (Some(i), Some(path)) => Some(self.files.opened(path, i, false)),
                    (Some(i), None) => Some(self.files.seen(i)),
                    _ => None,
                };
                Resolved {
                    path0,
                    file0: file0.map(Box::new),
                    exec_closed,
                    ..Resolved::default()
                }
            }
            Body::Exit { group_dead, .. } => {
                let mut resolved = Resolved::default();
                if *group_dead {
                    let facts = self.remove_proc(pid).and_then(|p| p.facts);
                    resolved.exited = facts.map(|f| (pid, f));
                }
                resolved
            }
            Body::Syscall(sc) => self.apply_syscall(pid, sc),
            Body::Cgroup(change) => {
                self.apply_cgroup(change);
                Resolved::default()
            }
            Body::SockState(_) | Body::SockCounters(_) | Body::Unknown { .. } => {
                Resolved::default()
            }
        }
    }

    /// A cgroup made (named), or a process moved into one.
    fn apply_cgroup(&mut self, change: &CgroupChange) {
        let v2 = change.hierarchy == 0;
        let info = if v2 {
            self.cgroups.learn(change.id, &change.path)
        } else {
            self.cgroups.container_path(&change.path)
        };
        if change.op != abi::CG_ATTACH || change.pid == 0 {
            return;
        }
        self.with_state(change.pid, |state| {
            if v2 {
                state.cg_v2 = info;
            } else {
                // A move in a v1 hierarchy: into a container's cgroup, or out of one.
                state.cg_v1 = info;
            }
        });
    }

    fn apply_syscall(&mut self, pid: u32, sc: &Syscall) -> Resolved {
        // An id the table lacks still names nothing and changes nothing.
        let row = self.catalogue.row(sc.id);
        let fd_arg = |i: u8| sc.args.get(i as usize).copied().unwrap_or(0) as i32;
        let ok = sc.ret >= 0;
        // How path `slot` is read: relative to a dirfd argument (AT_FDCWD when none), or
        // as written (a symlink's target, never resolved).
        let how = |slot: u8| match row.and_then(|r| r.path_field(slot)) {
            Some(Field::Path { dirfd, literal, .. }) => {
                (dirfd.map_or(AT_FDCWD, |(_, i)| fd_arg(i)), *literal)
            }
            _ => (AT_FDCWD, false),
        };
        let ((dfd0, literal0), (dfd1, literal1)) = (how(0), how(1));
        let resolve = |path: Option<&str>, dfd: i32, literal: bool| {
            path.and_then(|p| {
                if literal {
                    Some(p.to_owned())
                } else {
                    self.resolve(pid, dfd, p)
                }
            })
        };
        // A NULL path beside a dirfd names the dirfd itself (utimensat), as "" does.
        let null_at = |slot: u8| {
            sc.path_null[usize::from(slot)]
                && matches!(
                    row.and_then(|r| r.path_field(slot)),
                    Some(Field::Path { dirfd: Some(_), .. })
                )
        };
        let mut resolved = Resolved {
            path0: resolve(
                sc.path0.as_deref().or(null_at(0).then_some("")),
                dfd0,
                literal0,
            ),
            path1: resolve(
                sc.path1.as_deref().or(null_at(1).then_some("")),
                dfd1,
                literal1,
            ),
            fd_name: None,
            fd_kind: None,
            replaced: None,
            exec_closed: Vec::new(),
            other_fd_name: None,
            file0: None,
            file1: None,
            container: None,
            exited: None,
            forgotten: Vec::new(),
        };
        // The fd an event is about, named before any change below.
        let event_fd = row.and_then(|r| r.event_fd()).map(fd_arg);
        // The fd table names files and connected sockets; where it knows no more than
        // the kind (a pipe, a socket), the inode the kernel gave names them as /proc does.
        let by_table = event_fd.and_then(|fd| self.fd(pid, fd));
        let by_inode = || {
            sc.inode
                .as_ref()
                .and_then(|i| inode_name(i.mode.get(), i.ino.get()))
        };
        resolved.fd_name = match by_table {
            Some(FdEntry { name: Some(n), .. }) => Some(n.clone()),
            Some(e) => by_inode().or_else(|| e.label().map(Arc::from)),
            None => by_inode(),
        };
        resolved.fd_kind = by_table.map(|e| e.kind.clone());
        let other_fd = row.and_then(|r| {
            r.fields.iter().find_map(|f| match f {
                Field::OtherFd { arg, .. } => Some(fd_arg(*arg)),
                _ => None,
            })
        });
        let other_by_inode = match &sc.filled {
            Filled::FdInode(i) => inode_name(i.mode.get(), i.ino.get()),
            _ => None,
        };
        resolved.other_fd_name = match other_fd.and_then(|fd| self.fd_name(pid, fd)) {
            Some(t) if &*t == "pipe" || &*t == "socket" => other_by_inode.or(Some(t)),
            Some(t) => Some(t),
            None => other_by_inode,
        };
        let effect = row.map_or(Effect::None, |r| r.effect);
        // A syscall that carries a socket's identity (failed or not) says which socket
        // its fd is; accept's is the new connection's, not the listening fd's.
        if let (Some(info), Some(fd)) = (&sc.sock, event_fd) {
            if !matches!(effect, Effect::Accept { .. }) {
                self.learn_socket(pid, fd, info.sk_id.get());
            }
        }
        // A non-blocking connect in progress (EINPROGRESS) has its peer all the same.
        let connecting = effect == Effect::Connect && sc.ret == -115;
        if !ok && !connecting {
            return resolved;
        }
        if matches!(effect, Effect::Open { .. } | Effect::Dup { .. }) {
            resolved.replaced = self.fd(pid, sc.ret as i32).map(|e| e.kind.clone());
        }
        self.apply_file_effect(effect, sc, &mut resolved);
        let event_fd = event_fd.unwrap_or(-1);
        self.with_state(pid, |state| {
            apply_fds(state, effect, event_fd, sc, &resolved)
        });
        resolved
    }
}

impl ProcessTable {
    /// Fd `fd` of `pid` is socket `id`: an fd the table held as something else, or not at
    /// all, becomes that socket.
    fn learn_socket(&mut self, pid: u32, fd: i32, id: u64) {
        self.with_state(pid, |state| match state.fds.get(&fd).map(|e| &e.kind) {
            Some(FdKind::Socket {
                id: Some(known), ..
            }) if *known == id => {}
            Some(FdKind::Socket { .. }) => state.edit_fd(fd, |e| {
                if let FdKind::Socket { id: known, .. } = &mut e.kind {
                    *known = Some(id);
                }
            }),
            Some(_) => state.edit_fd(fd, |e| {
                e.kind = FdKind::Socket {
                    id: Some(id),
                    server: false,
                    unix: None,
                }
            }),
            None => state.insert_fd(
                fd,
                FdEntry {
                    name: None,
                    kind: FdKind::Socket {
                        id: Some(id),
                        server: false,
                        unix: None,
                    },
                    cloexec: false,
                },
            ),
        });
    }
}

/// Whether a new fd is close-on-exec.
fn cloexec(c: Cloexec, sc: &Syscall) -> bool {
    match c {
        Cloexec::Never => false,
        Cloexec::Flag(src) => sc.value(src) & O_CLOEXEC != 0,
        Cloexec::FcntlCmd(i) => sc.value(Src::Arg(i)) == F_DUPFD_CLOEXEC,
    }
}

/// The effect of a successful syscall on its process's fds and working directory;
/// `event_fd` is the fd the event is about.
fn apply_fds(
    state: &mut ProcState,
    effect: Effect,
    event_fd: i32,
    sc: &Syscall,
    resolved: &Resolved,
) {
    let ret_fd = sc.ret as i32;
    let insert = |state: &mut ProcState, fd: i32, name: Option<String>, kind, cloexec: bool| {
        state.insert_fd(
            fd,
            FdEntry {
                name: name.map(Arc::from),
                kind,
                cloexec,
            },
        );
    };
    match effect {
        Effect::Open { flags } => {
            if let Some(path) = &resolved.path0 {
                let flags = sc.value(flags);
                let kind = FdKind::File {
                    file: resolved.file0.as_ref().map(|t| t.file),
                    writable: flags & O_ACCMODE != 0,
                };
                insert(
                    state,
                    ret_fd,
                    Some(path.clone()),
                    kind,
                    flags & O_CLOEXEC != 0,
                );
            }
        }
        Effect::Memfd { flags } => {
            // The kernel's name for it (/proc/PID/fd, an exec through it).
            let name = format!("memfd:{}", sc.path0.as_deref().unwrap_or(""));
            // A file on the kernel's internal shmem mount, opened read-write; the inode model
            // does not follow it (no path reaches it).
            let kind = FdKind::File {
                file: None,
                writable: true,
            };
            insert(
                state,
                ret_fd,
                Some(name),
                kind,
                sc.value(flags) & MFD_CLOEXEC != 0,
            );
        }
        Effect::Dup { cloexec: c } => {
            if let Some(entry) = state.fds.get(&event_fd).cloned() {
                let cloexec = cloexec(c, sc);
                state.insert_fd(ret_fd, FdEntry { cloexec, ..entry });
            }
        }
        Effect::Close => state.remove_fd(event_fd),
        Effect::Pipe { cloexec: c } => {
            if let Filled::FdPair(r, w) = sc.filled {
                let cloexec = cloexec(c, sc);
                insert(state, r, None, FdKind::Pipe, cloexec);
                insert(state, w, None, FdKind::Pipe, cloexec);
            }
        }
        Effect::Socket { cloexec: c } => {
            insert(state, ret_fd, None, FdKind::socket(), cloexec(c, sc));
        }
        Effect::Socketpair { cloexec: c } => {
            if let Filled::FdPair(x, y) = sc.filled {
                let cloexec = cloexec(c, sc);
                insert(state, x, None, FdKind::socket(), cloexec);
                insert(state, y, None, FdKind::socket(), cloexec);
            }
        }
        Effect::Accept { cloexec: c } => {
            let name = sc
                .addr
                .as_ref()
                .map(|p| format!("socket:{}", describe_addr(p)));
            let kind = FdKind::Socket {
                id: None,
                server: true,
                unix: None,
            };
            insert(state, ret_fd, name, kind, cloexec(c, sc));
        }
        Effect::Connect => {
            if let Some(addr) = &sc.addr {
                state.rename_fd(event_fd, format!("socket:{}", describe_addr(addr)));
                if let SockAddr::Unix { path } = addr {
                    state.edit_fd(event_fd, |e| {
                        if let FdKind::Socket { unix, .. } = &mut e.kind {
                            *unix = Some(path.as_str().into());
                        }
                    });
                }
            }
        }
        Effect::Chdir => state.set_cwd(resolved.path0.clone().filter(|p| p.starts_with('/'))),
        Effect::Fchdir => state.set_cwd(
            resolved
                .fd_name
                .as_deref()
                .filter(|p| p.starts_with('/'))
                .map(str::to_owned),
        ),
        _ => {}
    }
}

impl ProcessTable {
    /// The effect of a successful syscall on the inode model; notes the files it touched
    /// in `resolved`.
    fn apply_file_effect(&mut self, effect: Effect, sc: &Syscall, resolved: &mut Resolved) {
        let files = &mut self.files;
        let path0 = resolved.path0.as_deref();
        let path1 = resolved.path1.as_deref();
        // The kernel's snapshot of the inode (an open's new fd, or the fd argument), for
        // the files the model follows: regular files, directories and symlinks (sockets and
        // pipes are the socket table's; devices change at every read and write, and no
        // view shows them).
        let followed = |i: &&InodeAttrs| {
            sc.sock.is_none() && matches!(i.mode.get() & S_IFMT, S_IFREG | S_IFDIR | S_IFLNK)
        };
        let inode = sc.inode.as_ref().filter(followed);
        let (file0, file1) = match (effect, path0, path1) {
            (Effect::Open { flags }, Some(path), _) => match inode {
                Some(i) => {
                    let flags = sc.value(flags);
                    let resolve = match &sc.filled {
                        Filled::OpenHow { resolve, .. } => *resolve,
                        _ => 0,
                    };
                    // The last component was not followed: O_NOFOLLOW, openat2's
                    // RESOLVE_NO_SYMLINKS, or O_CREAT|O_EXCL (which fails on a symlink)
                    // that created the file.
                    let created = i.fmode.get() & FMODE_CREATED != 0;
                    let exact = flags & O_NOFOLLOW != 0
                        || resolve & RESOLVE_NO_SYMLINKS != 0
                        || (created && flags & (O_CREAT | O_EXCL) == O_CREAT | O_EXCL);
                    (Some(files.opened(path, i, exact)), None)
                }
                None if sc.inode.is_none() => (Some(files.named(path)), None),
                None => (None, None),
            },
            (Effect::Chmod { mode }, Some(path), _) => {
                (Some(files.chmod(path, sc.value(Src::Arg(mode)))), None)
            }
            (Effect::Truncate { length }, Some(path), _) => {
                (Some(files.truncate(path, sc.value(Src::Arg(length)))), None)
            }
            (Effect::Unlink { flags }, Some(path), _) if sc.value(flags) & AT_REMOVEDIR == 0 => {
                (Some(files.unlink(path)), None)
            }
            (Effect::Unlink { .. } | Effect::Rmdir, Some(path), _) => (files.rmdir(path), None),
            // What a path is, not followed: lstat, or fstatat/statx with AT_SYMLINK_NOFOLLOW
            // (a whole path, not AT_EMPTY_PATH's fd). Other stats change nothing; one with an
            // fd's snapshot is that fd's, as for any fd-based syscall.
            (Effect::LookAt { flags }, Some(path), _) => match &sc.filled {
                Filled::Stat(i)
                    if sc.value(flags) & AT_SYMLINK_NOFOLLOW != 0
                        && sc.path0.as_deref().is_some_and(|p| !p.is_empty())
                        && !sc.path0_truncated
                        && matches!(i.mode.get() & S_IFMT, S_IFREG | S_IFDIR | S_IFLNK) =>
                {
                    files.looked_at(path, i);
                    (None, None)
                }
                _ => (inode.map(|i| files.seen(i)), None),
            },
            (Effect::Link, Some(old), Some(new)) => (Some(files.link(old, new)), None),
            (Effect::Symlink, Some(target), Some(new)) => {
                let len = (!sc.path0_truncated).then_some(target.len() as u64);
                (Some(files.symlink(new, len)), None)
            }
            (Effect::Rename { flags }, Some(old), Some(new)) => {
                let (moved, other) = files.rename(old, new, sc.value(flags));
                (Some(moved), other)
            }
            // A whole path (not AT_EMPTY_PATH's, nor utimensat's NULL one: the fd's).
            (Effect::Chown { uid, gid, flags }, Some(path), _)
                if sc.path0.as_deref().is_some_and(|p| !p.is_empty()) && !sc.path0_truncated =>
            {
                // -1 (as a 32-bit id) leaves it as it was.
                let id = |i: u8| Some(sc.value(Src::Arg(i)) as u32).filter(|v| *v != u32::MAX);
                let follow = sc.value(flags) & AT_SYMLINK_NOFOLLOW == 0;
                (Some(files.chown(path, id(uid), id(gid), follow)), None)
            }
            (Effect::Utime { flags }, Some(path), _)
                if sc.path0.as_deref().is_some_and(|p| !p.is_empty()) && !sc.path0_truncated =>
            {
                let follow = sc.value(flags) & AT_SYMLINK_NOFOLLOW == 0;
                let (atime, mtime) = match sc.filled {
                    Filled::Times { atime, mtime } => (atime, mtime),
                    // A NULL buffer (both the current time), or one not read (a 32-bit
                    // call): the times are unknown.
                    _ => (TimeSet::Now, TimeSet::Now),
                };
                (Some(files.utime(path, atime, mtime, follow)), None)
            }
            // The destination's inode at exit says what it is now; the source is the
            // event's fd, as for any fd-based syscall.
            (Effect::CopyTo, _, _) => {
                let dst = match &sc.filled {
                    Filled::FdInode(i) if followed(&i) => Some(files.seen(i)),
                    _ => None,
                };
                (inode.map(|i| files.seen(i)), dst)
            }
            _ => (inode.map(|i| files.seen(i)), None),
        };
        resolved.file0 = file0.map(Box::new);
        resolved.file1 = file1.map(Box::new);
    }
}

/// `socket:[INODE]` / `pipe:[INODE]` for socket and pipe inodes, as /proc names them.
fn inode_name(mode: u32, ino: u64) -> Option<Arc<str>> {
    match mode & 0o170000 {
        0o140000 => Some(format!("socket:[{ino}]").into()),
        0o010000 => Some(format!("pipe:[{ino}]").into()),
        _ => None,
    }
}

/// `ip:port`, `[ip6]:port` or the UNIX path.
pub fn describe_addr(addr: &SockAddr) -> String {
    match addr {
        SockAddr::Inet { ip, port } => format!("{ip}:{port}"),
        SockAddr::Inet6 { ip, port, .. } => format!("[{ip}]:{port}"),
        SockAddr::Unix { path } => path.clone(),
        SockAddr::Other { family } => format!("family {family}"),
    }
}

/// Lexical normalization: `.` and `..` components and repeated slashes go; `..` above the
/// root stays at the root. (Symlinks are not followed: the analyst does not have the
/// host's filesystem.)
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let mut out = String::with_capacity(path.len());
    for p in &parts {
        out.push('/');
        out.push_str(p);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::syscalls::Ksys;

    /// An event of `pid` with `body`.
    fn of(pid: u32, body: Body) -> Event {
        Event {
            body,
            ..syscall(1, pid, Ksys::Close, [0; 6], None)
        }
    }

    /// An exec of `filename` by `old_pid` with the arguments `argv` (argc their count, none
    /// cut), without a task context, inode or executable path: the tests' exec.
    pub fn exec_body(old_pid: u32, filename: &str, argv: Vec<String>) -> Body {
        Body::Exec {
            old_pid,
            task: None,
            argc: u32::try_from(argv.len()).unwrap_or(u32::MAX),
            filename: filename.into(),
            filename_truncated: false,
            argv,
            argv_truncated: false,
            inode: None,
            exe_path: None,
            exe_flags: 0,
            caller_argv0: None,
        }
    }

    fn task(cgroup_id: u64) -> Option<abi::TaskContext> {
        let mut t = <abi::TaskContext as zerocopy::FromZeros>::new_zeroed();
        t.cgroup_id = cgroup_id.into();
        Some(t)
    }

    fn fork(pid: u32, child: u32, cgroup_id: Option<u64>) -> Event {
        of(
            pid,
            Body::Fork {
                child_pid: child,
                child_tid: child,
                clone_flags: 0,
                child_comm: "c".into(),
                task: cgroup_id.and_then(task),
            },
        )
    }

    fn cgroup(op: u8, id: u64, hierarchy: u16, pid: u32, path: &str) -> Event {
        of(
            99,
            Body::Cgroup(Box::new(CgroupChange {
                op,
                id,
                hierarchy,
                pid,
                path: path.into(),
                truncated: false,
            })),
        )
    }

    /// The container id of `pid`'s events, as the table resolves them.
    fn container_of(t: &mut ProcessTable, pid: u32) -> Option<String> {
        let r = t.apply(&syscall(2, pid, Ksys::Close, [0; 6], None));
        r.container.and_then(|c| c.container.clone()).map(|k| k.id)
    }

    /// A process's container follows the snapshot, moves (v2 and v1), forks (inherited, or
    /// the child's own cgroup id) and execs (an unknown id: none).
    #[test]
    fn processes_carry_their_container_through_moves_forks_and_execs() {
        use crate::meta::{CgroupDir, CgroupLine, ProcCgroups};
        let a = "a".repeat(64);
        let b = "b".repeat(64);
        let mut t = ProcessTable::default();
        let line = |hierarchy, path: &str| CgroupLine {
            hierarchy,
            path: path.into(),
        };
        t.add_cgroups(&Cgroups {
            mount: "/sys/fs/cgroup".into(),
            dirs: vec![
                CgroupDir {
                    id: 1,
                    path: "/".into(),
                },
                CgroupDir {
                    id: 50,
                    path: format!("/system.slice/docker-{a}.scope"),
                },
            ],
            dirs_cut: false,
            processes: vec![
                ProcCgroups {
                    pid: 10,
                    lines: vec![line(0, &format!("/system.slice/docker-{a}.scope"))],
                },
                // A hybrid host whose runtime made v1 cgroups only.
                ProcCgroups {
                    pid: 20,
                    lines: vec![line(4, &format!("/docker/{b}")), line(0, "/")],
                },
                ProcCgroups {
                    pid: 30,
                    lines: vec![line(0, "/")],
                },
            ],
        });
        assert_eq!(container_of(&mut t, 10).as_deref(), Some(&a[..]));
        assert_eq!(container_of(&mut t, 20).as_deref(), Some(&b[..]));
        assert_eq!(container_of(&mut t, 30), None);
        // A fork inherits; one whose child's id is another cgroup takes it.
        t.apply(&fork(10, 11, None));
        assert_eq!(container_of(&mut t, 11).as_deref(), Some(&a[..]));
        t.apply(&fork(10, 12, Some(1)));
        assert_eq!(container_of(&mut t, 12), None, "CLONE_INTO_CGROUP the root");
        // A cgroup made during the recording names the id of a later exec.
        t.apply(&cgroup(
            abi::CG_MKDIR,
            60,
            0,
            0,
            &format!("/kubepods/pod1234abcd/{b}"),
        ));
        let exec = |cgroup_id| {
            let mut body = exec_body(30, "/bin/x", Vec::new());
            if let Body::Exec { task: t, .. } = &mut body {
                *t = task(cgroup_id);
            }
            of(30, body)
        };
        let r = t.apply(&exec(60));
        let k = r.container.unwrap().container.clone().unwrap();
        assert_eq!((k.runtime, &k.id[..]), ("cri", &b[..]));
        assert_eq!(k.pod.as_deref(), Some("1234abcd"));
        // An exec in a cgroup never named: no container claimed.
        t.apply(&exec(61));
        assert_eq!(container_of(&mut t, 30), None);
        // Moves: into a container's v2 cgroup, back to the root; a v1 move out.
        t.apply(&cgroup(
            abi::CG_ATTACH,
            50,
            0,
            30,
            &format!("/system.slice/docker-{a}.scope"),
        ));
        assert_eq!(container_of(&mut t, 30).as_deref(), Some(&a[..]));
        t.apply(&cgroup(abi::CG_ATTACH, 1, 0, 30, "/"));
        assert_eq!(container_of(&mut t, 30), None);
        t.apply(&cgroup(abi::CG_ATTACH, 9, 4, 20, "/"));
        assert_eq!(container_of(&mut t, 20), None);
        // The exit of a process in a container still carries it.
        let exit = of(
            10,
            Body::Exit {
                code: 0,
                group_dead: true,
                group_exit: true,
                by_exec: false,
            },
        );
        assert!(t.apply(&exit).container.is_some());
        assert!(t.container(10).is_none(), "gone");
    }

    #[test]
    fn normalizes() {
        assert_eq!(normalize("/a/./b//c/../d"), "/a/b/d");
        assert_eq!(normalize("/../.."), "/");
        assert_eq!(normalize("/"), "/");
        assert_eq!(normalize("/tmp/x/"), "/tmp/x");
    }

    #[test]
    fn resolves_against_cwd_and_dirfd() {
        let mut t = ProcessTable::default();
        let state = t.procs.entry(7).or_default();
        state.cwd = Some("/home/u".into());
        state.fds.insert(
            3,
            FdEntry {
                name: Some("/etc".into()),
                kind: FdKind::Unknown,
                cloexec: false,
            },
        );
        state.fds.insert(
            4,
            FdEntry {
                name: None,
                kind: FdKind::socket(),
                cloexec: false,
            },
        );
        let r = |pid, fd, p| t.resolve(pid, fd, p);
        assert_eq!(r(7, AT_FDCWD, "a/../b.txt").unwrap(), "/home/u/b.txt");
        assert_eq!(r(7, 3, "passwd").unwrap(), "/etc/passwd");
        assert_eq!(r(7, 9, "x").unwrap(), "x", "unknown dirfd: as given");
        assert_eq!(r(7, 4, "x").unwrap(), "x", "a socket is no directory");
        assert_eq!(r(8, AT_FDCWD, "x").unwrap(), "x", "unknown process");
        assert_eq!(r(8, AT_FDCWD, "/abs//p").unwrap(), "/abs/p");
        assert_eq!(
            r(7, 4, "").unwrap(),
            "socket",
            "AT_EMPTY_PATH: the fd itself"
        );
        assert_eq!(r(7, 3, "").unwrap(), "/etc");
        assert_eq!(r(7, 9, ""), None, "AT_EMPTY_PATH on an unknown fd");
    }

    #[test]
    fn a_bounded_file_model_warns_once_what_it_forgot() {
        use zerocopy::little_endian::{I64, U32, U64};
        let inode = |ino: u64| InodeAttrs {
            ino: U64::new(ino),
            size: U64::new(0),
            dev: U32::new(0xfe00000),
            mode: U32::new(0o100644),
            uid: U32::new(0),
            gid: U32::new(0),
            nlink: U32::new(1),
            fmode: U32::new(0),
            atime_ns: I64::new(1),
            mtime_ns: I64::new(2),
            ctime_ns: I64::new(3),
        };
        let mut t = ProcessTable::new(3);
        assert_eq!(t.memory_warning(), None);
        for ino in 1..=4 {
            t.files.sweep();
            t.files.opened(&format!("/w/{ino}"), &inode(ino), false);
        }
        t.files.sweep();
        assert_eq!(
            t.memory_warning().as_deref(),
            Some(
                "5 file entries were forgotten to stay within memory; \
                 values of those files may be unknown"
            )
        );
        assert_eq!(
            ProcessTable::default().files().max_entries,
            DEFAULT_MAX_ENTRIES
        );
    }

    /// A syscall event of `pid` at `ts` (ret 3: an fd for an open).
    pub(in crate::replayer) fn syscall(
        ts: u64,
        pid: u32,
        k: Ksys,
        args: [u64; 6],
        path0: Option<&str>,
    ) -> Event {
        use crate::replayer::input::decode::Common;
        let id = k as u16;
        Event {
            common: Common {
                ts,
                pid,
                tid: pid,
                ppid: 1,
                uid: 1000,
                gid: 1000,
                cpu: 0,
                syscall: id,
                context: false,
                compat: false,
                comm: "w".into(),
            },
            body: Body::Syscall(Box::new(Syscall {
                id,
                enter_ts: ts,
                ret: 3,
                args,
                path0: path0.map(str::to_owned),
                path0_truncated: false,
                path1: None,
                path1_truncated: false,
                path_null: [false; 2],
                addr: None,
                filled: Filled::None,
                inode: None,
                sock: None,
                data: Vec::new(),
                aux: 0,
                messages: Vec::new(),
                uring: None,
                compact: None,
            })),
        }
    }

    #[test]
    fn fd_entries_say_what_the_fd_is() {
        let at_fdcwd = AT_FDCWD as u64;
        let mut t = ProcessTable::default();
        let kind = |t: &ProcessTable, fd| t.fd(7, fd).map(|e| e.kind.clone());
        // O_WRONLY|O_CREAT|O_CLOEXEC: a file, writable; no inode snapshot, so the model
        // knows it by name only.
        let mut open = syscall(
            1,
            7,
            Ksys::Openat,
            [at_fdcwd, 0, 0o2000101, 0, 0, 0],
            Some("/f"),
        );
        t.apply(&open);
        let file = t.files().at("/f");
        assert!(file.is_some());
        assert!(
            matches!(kind(&t, 3), Some(FdKind::File { file: f, writable: true }) if f == file),
            "{:?}",
            kind(&t, 3)
        );
        assert!(t.fd(7, 3).is_some_and(|e| e.cloexec));
        // O_RDONLY at fd 4.
        if let Body::Syscall(sc) = &mut open.body {
            sc.args[2] = 0;
            sc.ret = 4;
        }
        t.apply(&open);
        assert!(matches!(
            kind(&t, 4),
            Some(FdKind::File {
                writable: false,
                ..
            })
        ));
        // pipe2 fills fds 5 and 6.
        let mut pipe = syscall(2, 7, Ksys::Pipe2, [0; 6], None);
        if let Body::Syscall(sc) = &mut pipe.body {
            sc.ret = 0;
            sc.filled = Filled::FdPair(5, 6);
        }
        t.apply(&pipe);
        assert_eq!(kind(&t, 5), Some(FdKind::Pipe));
        assert_eq!(t.fd(7, 6).and_then(FdEntry::label), Some("pipe"));
        // accept4 on fd 3 gives fd 8: a server socket named after its peer.
        let mut accept = syscall(3, 7, Ksys::Accept4, [3, 0, 0, 0, 0, 0], None);
        if let Body::Syscall(sc) = &mut accept.body {
            sc.ret = 8;
            sc.addr = Some(SockAddr::Inet {
                ip: std::net::Ipv4Addr::new(10, 0, 0, 1),
                port: 80,
            });
        }
        t.apply(&accept);
        let e = t.fd(7, 8).cloned().expect("accepted");
        assert_eq!(e.label(), Some("socket:10.0.0.1:80"));
        assert!(matches!(e.kind, FdKind::Socket { server: true, .. }));
        // socket() at fd 9, connected to a UNIX path; dup2 onto 0 keeps what it is.
        let mut socket = syscall(4, 7, Ksys::Socket, [1, 1, 0, 0, 0, 0], None);
        if let Body::Syscall(sc) = &mut socket.body {
            sc.ret = 9;
        }
        t.apply(&socket);
        assert_eq!(t.fd(7, 9).and_then(FdEntry::label), Some("socket"));
        let mut connect = syscall(5, 7, Ksys::Connect, [9, 0, 0, 0, 0, 0], None);
        if let Body::Syscall(sc) = &mut connect.body {
            sc.ret = 0;
            sc.addr = Some(SockAddr::Unix {
                path: "/dev/log".into(),
            });
        }
        t.apply(&connect);
        let mut dup2 = syscall(6, 7, Ksys::Dup2, [9, 0, 0, 0, 0, 0], None);
        if let Body::Syscall(sc) = &mut dup2.body {
            sc.ret = 0;
        }
        t.apply(&dup2);
        for fd in [9, 0] {
            let e = t.fd(7, fd).expect("socket fd");
            assert_eq!(e.label(), Some("socket:/dev/log"));
            assert_eq!(e.kind.unix_path(), Some("/dev/log"));
            assert!(!e.cloexec);
        }
        // The fd snapshot's names say the kind they can.
        for (name, k) in [
            ("socket:[12]", FdKind::socket()),
            ("pipe:[13]", FdKind::Pipe),
            ("anon_inode:[eventfd]", FdKind::Anon),
            ("/dev/null", FdKind::Unknown),
        ] {
            assert_eq!(FdKind::from_proc_name(name), k, "{name}");
        }
        // The estimate counts each entry's shown name and UNIX path; each file its fds.
        let p = &t.procs[&7];
        let f = file.expect("named");
        assert!(t.holds_file(7, f));
        assert_eq!(p.file_refs.get(&f), Some(&2), "fds 3 and 4");
        let text: usize = p.fds.values().map(FdEntry::text_len).sum();
        assert_eq!(p.bytes, p.fds.len() * FD_BYTES + text);
        t.apply(&syscall(7, 7, Ksys::Close, [3, 0, 0, 0, 0, 0], None));
        assert!(t.holds_file(7, f), "fd 4 still holds it");
        t.apply(&syscall(8, 7, Ksys::Close, [4, 0, 0, 0, 0, 0], None));
        assert!(!t.holds_file(7, f));
        assert!(t.procs[&7].file_refs.is_empty());
    }

    #[test]
    fn a_bounded_process_table_forgets_the_least_recently_seen() {
        let at_fdcwd = AT_FDCWD as u64;
        let chdir = |ts, pid| syscall(ts, pid, Ksys::Chdir, [0; 6], Some("/p"));
        let open = |ts, pid| syscall(ts, pid, Ksys::Openat, [at_fdcwd, 0, 0, 0, 0, 0], Some("f"));
        let read = |ts, pid| syscall(ts, pid, Ksys::Read, [3, 0, 0, 0, 0, 0], None);
        // Each process: PROC_BYTES, its cwd "/p" and its fd 3 "/p/f": room for three.
        let one = PROC_BYTES + CWD_BYTES + 2 + FD_BYTES + 4;
        let mut t = ProcessTable::default().with_process_limit(3 * one);
        assert_eq!(t.process_warning(), None);
        let mut ts = 0;
        for pid in [10, 11, 12] {
            for ev in [chdir(ts, pid), open(ts + 1, pid)] {
                t.apply(&ev);
            }
            ts += 2;
        }
        assert_eq!(t.bytes, 3 * one);
        assert_eq!(t.forgotten(), 0);
        // 10 is seen again: 11 is now the least recently seen, and goes for 13.
        assert_eq!(t.apply(&read(ts, 10)).fd_name.as_deref(), Some("/p/f"));
        t.apply(&chdir(ts + 1, 13));
        t.apply(&open(ts + 2, 13));
        assert_eq!(t.forgotten(), 1);
        let mut held: Vec<u32> = t.procs.keys().copied().collect();
        held.sort_unstable();
        assert_eq!(held, [10, 12, 13]);
        assert!(t.bytes <= t.max_bytes);
        assert_eq!(t.lru.len(), t.procs.len());
        // A forgotten process's later events: what is known, nothing made up.
        let r = t.apply(&read(ts + 3, 11));
        assert_eq!(r.fd_name, None, "its fds are unknown");
        let r = t.apply(&open(ts + 4, 11));
        assert_eq!(
            r.path0.as_deref(),
            Some("f"),
            "its cwd is unknown: as given"
        );
        assert_eq!(t.forgotten(), 2, "11 came back: 12 went");
        // A fork copies the parent; an exit of the group frees it.
        let fork = Event {
            body: Body::Fork {
                child_pid: 14,
                child_tid: 14,
                clone_flags: 0,
                child_comm: "w".into(),
                task: None,
            },
            ..read(ts + 5, 13)
        };
        t.apply(&fork);
        assert_eq!(t.resolve(14, AT_FDCWD, "x").as_deref(), Some("/p/x"));
        assert_eq!(t.forgotten(), 3);
        assert!(t.bytes <= t.max_bytes);
        assert_eq!(
            t.process_warning().as_deref(),
            Some(
                "3 processes were forgotten to stay within memory: later events of them \
                 show what is known (relative paths as given, fds unnamed); the process \
                 table holds at most 0 MiB (the memory budget; --max-memory raises it)"
            )
        );
        // The estimate follows every change: closing and exiting give the bytes back.
        t.apply(&syscall(ts + 6, 14, Ksys::Close, [3, 0, 0, 0, 0, 0], None));
        assert_eq!(t.procs[&14].bytes, CWD_BYTES + 2);
        let exit = Event {
            body: Body::Exit {
                code: 0,
                group_dead: true,
                group_exit: false,
                by_exec: false,
            },
            ..read(ts + 7, 14)
        };
        t.apply(&exit);
        let sum: usize = t.procs.values().map(ProcState::cost).sum();
        assert_eq!(t.bytes, sum);
        assert!(!t.procs.contains_key(&14));
    }

    /// A table fed with facts keeps each process's: a fork child starts from its parent's
    /// (its own start, no exec yet), an exec sets its program and arguments, and a process
    /// that leaves the table is handed over with them: at its exit in that event's
    /// `exited`, when forgotten to stay within memory in the next event's `forgotten`. A
    /// table fed without facts keeps none.
    #[test]
    fn process_facts_follow_fork_and_exec_and_are_handed_over() {
        let mut images = ProcessImages::new(64);
        let mut feed = |t: &mut ProcessTable, ts: u64, e: Event| {
            let e = Event {
                common: Common { ts, ..e.common },
                ..e
            };
            let image = images.apply(&e);
            t.apply_with_facts(&e, &image, &images)
        };
        use crate::replayer::input::decode::Common;
        let room = 3 * (PROC_BYTES + FACTS_BYTES) + ARG_BYTES + 20;
        let mut t = ProcessTable::default().with_process_limit(room);
        feed(&mut t, 5, fork(10, 11, None));
        let child = t.facts(11).expect("the child's facts").clone();
        assert_eq!(
            (child.ppid, child.start_ns, child.exec_seen()),
            (10, 5, false)
        );
        assert_eq!(
            child.comm, "w",
            "the parent's name until the child's own events"
        );
        assert_eq!(child.image.as_ref().map(|i| i.id.start_ns), Some(5));
        feed(&mut t, 6, of(11, exec_body(11, "/bin/t", vec!["t".into()])));
        let exec = t.facts(11).expect("the exec's facts").clone();
        assert_eq!(exec.exe.as_deref(), Some("/bin/t"));
        assert_eq!((exec.argv.len(), exec.argc, exec.exec_ns), (1, 1, Some(6)));
        assert!(!t.facts(10).expect("the parent's facts").exec_seen());

        let exit = Body::Exit {
            code: 0,
            group_dead: true,
            group_exit: true,
            by_exec: false,
        };
        let r = feed(&mut t, 7, of(11, exit));
        assert!(t.facts(11).is_none(), "an exited process leaves the table");
        let (pid, facts) = r.exited.expect("its facts, handed over");
        assert_eq!((pid, facts.exe.as_deref()), (11, Some("/bin/t")));

        // Room for three processes with facts: the fourth forgets the least recently seen.
        feed(&mut t, 8, fork(10, 12, None));
        feed(&mut t, 9, of(12, exec_body(12, "/bin/u", vec!["u".into()])));
        let r = feed(&mut t, 10, fork(10, 13, None));
        assert!(r.forgotten.is_empty(), "{:?}", r.forgotten);
        let r = feed(&mut t, 11, fork(10, 14, None));
        let forgotten: Vec<_> = r
            .forgotten
            .iter()
            .map(|(pid, f)| (*pid, f.exec_ns))
            .collect();
        assert_eq!(forgotten, [(12, Some(9))]);
        assert_eq!(t.forgotten(), 1);

        let mut plain = ProcessTable::default();
        plain.apply(&fork(10, 11, None));
        assert!(plain.facts(11).is_none() && plain.all_facts().next().is_none());
    }
}
