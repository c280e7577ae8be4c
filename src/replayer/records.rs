//! The records view: kflowd-style aggregated records, one JSON object per file touch, per
//! socket and per process lifetime, enriched with host and process context and with
//! DNS/HTTP/SYSLOG payloads decoded. Keys are kflowd's, so its consumers read these.
//!
//! Everything is judged on event time (timeouts included), and each record leaves in a
//! deterministic order: the same trace gives the same records on any machine.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::context::Context;
use super::decode::{Body, Event, SockAddr, Syscall};
use super::files::{Attrs, FileId, Files, S_IFLNK, S_IFREG};
use super::kflowd::{
    AppKeys, Fact, FileEvents, FileRecord, InfoKeys, PendingFacts, ProcKeys, ProcRecord, Record,
    RecordBody, Secs, SockFlows, SockRecord, SockRx, SockTx,
};
use super::protocols::{App, Direction, StreamDecoder, Transport};
use super::state::Resolved;
use super::symbols;
use crate::abi::{InodeAttrs, SockInfo, SockStateRecord};
use crate::syscalls::Ksys;

/// Options of the records view.
#[derive(Debug, Clone)]
pub struct RecordsConfig {
    /// Export a file record after this many events (kflowd's `-e`; 1: no aggregation).
    pub max_events: Option<u32>,
    /// A socket idle this long is exported (ns).
    pub idle_ns: u64,
    /// A socket open this long is exported, then counted afresh (ns).
    pub active_ns: u64,
    /// Added to every record as InfoHostToken.
    pub token: Option<String>,
    /// Which monitors to print.
    pub monitors: Vec<Monitor>,
}

impl Default for RecordsConfig {
    fn default() -> Self {
        RecordsConfig {
            max_events: None,
            idle_ns: 15_000_000_000,
            active_ns: 1_800_000_000_000,
            token: None,
            monitors: vec![Monitor::Filesystem, Monitor::Socket, Monitor::Process],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Monitor {
    Filesystem,
    Socket,
    Process,
}

impl Monitor {
    pub fn name(self) -> &'static str {
        match self {
            Monitor::Filesystem => "filesystem",
            Monitor::Socket => "socket",
            Monitor::Process => "process",
        }
    }
}

/// At most this many application messages per direction in one socket record (kflowd's 4).
const APP_MESSAGES_MAX: usize = 4;
/// How often (event time) idle and active sockets are looked for.
const SWEEP_NS: u64 = 1_000_000_000;

// Indexes into `FileEvents` (kflowd's order, see `kflowd::FILE_EVENTS`).
const CREATE: usize = 0;
const OPEN: usize = 1;
const OPEN_EXEC: usize = 2;
const ACCESS: usize = 3;
const ATTRIB: usize = 4;
const MODIFY: usize = 5;
const CLOSE_WRITE: usize = 6;
const CLOSE_NOWRITE: usize = 7;
const MOVED_FROM: usize = 8;
const MOVED_TO: usize = 9;
const DELETE: usize = 10;

/// What a process looked like, for the Proc* keys.
#[derive(Debug, Clone, Default)]
struct ProcInfo {
    comm: String,
    exe: Option<String>,
    argv: Vec<String>,
    ppid: u32,
    uid: u32,
    gid: u32,
    /// Boot-time ns the process started (fork or snapshot).
    start_ns: u64,
    /// The process called exec during the trace.
    exec_seen: bool,
    exec_ns: Option<u64>,
    exe_inode: Option<InodeAttrs>,
}

/// A file record being aggregated.
#[derive(Debug, Clone)]
struct FileAgg {
    pid: u32,
    tid: u32,
    path: String,
    origin: Option<String>,
    mode_kind: &'static str,
    counts: [u32; 11],
    first_ns: u64,
    last_ns: u64,
    /// The file's attributes before the record's first event, as far as known (its state
    /// at that event when it was new then), and at its last event: from the inode model.
    first: Option<Attrs>,
    last: Option<Attrs>,
}

/// A file record: (pid, file of the inode model, role). Role `LINK_RECORD`: the record of
/// a link or symlink being made, apart from the file's own.
type FileKey = (u32, FileId, u8);
const FILE_RECORD: u8 = 0;
const LINK_RECORD: u8 = 1;

/// A socket record being aggregated.
#[derive(Debug)]
struct SockAgg {
    pid: u32,
    tid: u32,
    /// The process as it was at the socket's last syscall (it may be gone at export).
    proc: Option<ProcInfo>,
    info: SockInfo,
    server: bool,
    unix_path: Option<String>,
    /// The last address an unconnected socket sent to or received from (sendto/recvfrom).
    peer: Option<SockAddr>,
    state: Option<u8>,
    reset: Option<&'static str>,
    first_ns: u64,
    last_ns: u64,
    tx: Flow,
    rx: Flow,
    tcp: Option<crate::abi::TcpCounters>,
    app: Option<App>,
    tx_decoder: Option<StreamDecoder>,
    rx_decoder: Option<StreamDecoder>,
    tx_msgs: Vec<Map<String, Value>>,
    rx_msgs: Vec<Map<String, Value>>,
    closed: bool,
}

impl SockAgg {
    fn new(pid: u32, tid: u32, info: SockInfo, ts: u64) -> Self {
        SockAgg {
            pid,
            tid,
            proc: None,
            info,
            server: false,
            unix_path: None,
            peer: None,
            state: None,
            reset: None,
            first_ns: ts,
            last_ns: ts,
            tx: Flow::default(),
            rx: Flow::default(),
            tcp: None,
            app: None,
            tx_decoder: None,
            rx_decoder: None,
            tx_msgs: Vec::new(),
            rx_msgs: Vec::new(),
            closed: false,
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Flow {
    packets: u64,
    bytes: u64,
    first_ns: Option<u64>,
    last_ns: u64,
}

impl Flow {
    fn add(&mut self, bytes: u64, ns: u64) {
        self.packets = self.packets.saturating_add(1);
        self.bytes = self.bytes.saturating_add(bytes);
        self.first_ns.get_or_insert(ns);
        self.last_ns = ns;
    }
}

/// The records view's state.
pub struct RecordsView {
    cfg: RecordsConfig,
    procs: HashMap<u32, ProcInfo>,
    files: HashMap<FileKey, FileAgg>,
    /// Open fds of regular files: (pid, fd) → (file key, opened for writing).
    fd_files: HashMap<(u32, i32), (FileKey, bool)>,
    /// How many fds hold each file open, and whether any was opened for writing: a file is
    /// closed (CLOSE_WRITE / CLOSE_NOWRITE) when its last fd goes.
    open_refs: HashMap<FileKey, (u32, bool)>,
    socks: HashMap<u64, SockAgg>,
    /// Socket fds: (pid, fd) → socket id.
    fd_socks: HashMap<(u32, i32), u64>,
    /// Fds that came from accept (server side) and UNIX paths of connected fds.
    fd_server: HashMap<(u32, i32), bool>,
    fd_unix: HashMap<(u32, i32), String>,
    next_sweep: u64,
    seq: u64,
    /// Completed records waiting for file facts, in completion order.
    held: std::collections::VecDeque<Held>,
    /// Most entries in each state table (files, sockets, processes, inode caches, held
    /// records) before the oldest leave early.
    table_limit: usize,
    /// Records exported early (`InfoExport` `table-full`) and entries dropped from the
    /// inode caches, because a table was full.
    pub early_exports: u64,
}

struct Held {
    record: Record,
    /// Time marks seen since it was completed.
    ticks: u32,
}

/// How many time marks a record waits for facts (`-v`, `-c`) about its files.
const FACTS_WAIT_TICKS: u32 = 8;

impl RecordsView {
    pub fn new(cfg: RecordsConfig) -> Self {
        RecordsView {
            cfg,
            procs: HashMap::new(),
            files: HashMap::new(),
            fd_files: HashMap::new(),
            open_refs: HashMap::new(),
            socks: HashMap::new(),
            fd_socks: HashMap::new(),
            fd_server: HashMap::new(),
            fd_unix: HashMap::new(),
            next_sweep: 0,
            seq: 0,
            held: std::collections::VecDeque::new(),
            table_limit: usize::MAX,
            early_exports: 0,
        }
    }

    /// Bounds each state table at `entries` (at least 16; see
    /// `MemoryBudget::table_entries`). Past it, the oldest eighth leave at once: files and
    /// sockets (by first event) and processes that exec'd (by start) are exported with
    /// `InfoExport` `table-full`, other processes and the inode caches are forgotten, and
    /// records waiting for file facts leave without them. Deterministic: the order depends
    /// only on the trace.
    pub fn with_table_limit(mut self, entries: usize) -> Self {
        self.table_limit = entries.max(16);
        self
    }

    fn bound_tables(&mut self, ctx: &Context, out: &mut Vec<Record>) {
        let limit = self.table_limit;
        let keep = limit - limit / 8;
        if self.files.len() > limit {
            let mut keys: Vec<FileKey> = self.files.keys().cloned().collect();
            keys.sort_by_key(|k| (self.files[k].first_ns, *k));
            let drop = keys.len() - keep;
            for key in keys.into_iter().take(drop) {
                self.export_file(ctx, &key, "table-full", out);
                self.early_exports += 1;
            }
        }
        if self.socks.len() > limit {
            let mut ids: Vec<u64> = self.socks.keys().copied().collect();
            ids.sort_by_key(|id| (self.socks[id].first_ns, *id));
            let drop = ids.len() - keep;
            for id in ids.into_iter().take(drop) {
                self.export_sock(ctx, id, "table-full", true, out);
                self.early_exports += 1;
            }
        }
        if self.procs.len() > limit {
            let mut pids: Vec<u32> = self.procs.keys().copied().collect();
            pids.sort_by_key(|pid| (self.procs[pid].start_ns, *pid));
            let drop = pids.len() - keep;
            for pid in pids.into_iter().take(drop) {
                if let Some(p) = self.procs.remove(&pid) {
                    let last = p.exec_ns.unwrap_or(p.start_ns);
                    out.extend(self.process_record(ctx, pid, pid, &p, None, last, "table-full"));
                    self.early_exports += 1;
                }
            }
        }
    }

    /// Processes alive when the recording started.
    pub fn snapshot(&mut self, snapshot: &crate::meta::ProcSnapshot) {
        for p in &snapshot.processes {
            self.procs.entry(p.pid).or_insert_with(|| ProcInfo {
                comm: p.comm.clone(),
                exe: p.exe.clone(),
                argv: p.argv.clone(),
                ppid: p.ppid,
                uid: p.uid,
                gid: p.gid,
                start_ns: p.start_boot_ns,
                ..ProcInfo::default()
            });
        }
    }

    /// Applies one event (in timestamp order), after the process table applied it (`r`
    /// and `files`: the names it resolved, the inode model it left); returns the records
    /// ready to print.
    pub fn event(&mut self, ctx: &Context, e: &Event, r: &Resolved, files: &Files) -> Vec<Record> {
        let mut built = self.apply_event(ctx, e, r, files);
        self.bound_tables(ctx, &mut built);
        self.hold(built);
        self.release(ctx, false)
    }

    /// A time mark without an event (the recorder's periodic statistics): sockets idle or
    /// active too long leave, and records held for file facts age.
    pub fn tick(&mut self, ctx: &Context, boot_ns: u64) -> Vec<Record> {
        let mut built = Vec::new();
        self.sweep(ctx, boot_ns, &mut built);
        self.hold(built);
        for h in &mut self.held {
            h.ticks += 1;
        }
        self.release(ctx, false)
    }

    /// The end of the trace: everything still open leaves, flagged as such.
    pub fn finish(&mut self, ctx: &Context) -> Vec<Record> {
        let built = self.finish_all(ctx);
        self.hold(built);
        self.release(ctx, true)
    }

    fn hold(&mut self, records: Vec<Record>) {
        self.held
            .extend(records.into_iter().map(|record| Held { record, ticks: 0 }));
    }

    /// Records leave in the order they were completed. With `-v`/`-c` a record naming an
    /// executable waits until the recorder's facts about it are in (they are learned off
    /// the hot path and stored a little later), at most `FACTS_WAIT_TICKS` time marks: the
    /// decision depends only on the order of the trace's blocks, so `live` and `replay`
    /// agree.
    fn release(&mut self, ctx: &Context, force: bool) -> Vec<Record> {
        let mut out = Vec::new();
        while let Some(front) = self.held.front() {
            let ready = force
                || front.ticks >= FACTS_WAIT_TICKS
                || self.held.len() > self.table_limit
                || front
                    .record
                    .facts
                    .wanted()
                    .all(|id| ctx.facts.contains_key(&id));
            if !ready {
                break;
            }
            let mut h = self.held.pop_front().expect("front exists");
            fill_facts(ctx, &mut h.record);
            out.push(h.record);
        }
        out
    }

    fn apply_event(
        &mut self,
        ctx: &Context,
        e: &Event,
        r: &Resolved,
        files: &Files,
    ) -> Vec<Record> {
        let mut out = Vec::new();
        let ts = e.common.ts;
        self.sweep(ctx, ts, &mut out);
        let c = &e.common;
        {
            let p = self.procs.entry(c.pid).or_default();
            // Threads may name themselves: the process is named by its main thread.
            if c.tid == c.pid || p.comm.is_empty() {
                p.comm.clone_from(&c.comm);
            }
            p.ppid = c.ppid;
            p.uid = c.uid;
            p.gid = c.gid;
        }
        match &e.body {
            Body::Fork { child_pid, .. } if *child_pid != c.pid => {
                let mut child = self.procs.get(&c.pid).cloned().unwrap_or_default();
                child.ppid = c.pid;
                child.start_ns = ts;
                child.exec_seen = false;
                child.exec_ns = None;
                self.procs.insert(*child_pid, child);
                // The child shares its parent's open files.
                let inherited: Vec<_> = self
                    .fd_files
                    .iter()
                    .filter(|((pid, _), _)| *pid == c.pid)
                    .map(|(&(_, fd), v)| (fd, *v))
                    .collect();
                for (fd, (key, w)) in inherited {
                    let key = (*child_pid, key.1, key.2);
                    self.fd_opened(*child_pid, fd, key, w);
                }
            }
            Body::Exec {
                filename,
                argv,
                inode,
                ..
            } => {
                let filename = r.path0.as_ref().unwrap_or(filename);
                if let Some(p) = self.procs.get_mut(&c.pid) {
                    p.exe = Some(filename.clone());
                    p.argv.clone_from(argv);
                    p.exec_seen = true;
                    p.exec_ns = Some(ts);
                    p.exe_inode = *inode;
                }
                if let (Some(_), Some(t)) = (inode, r.file0()) {
                    let key = (c.pid, t.file, FILE_RECORD);
                    self.file_event(ctx, e, key, filename, r, files, OPEN_EXEC, &mut out);
                }
            }
            Body::Exit {
                code, group_dead, ..
            } if *group_dead => {
                self.process_exit(ctx, e, *code, &mut out);
            }
            Body::Syscall(sc) => self.syscall(ctx, e, sc, r, files, &mut out),
            Body::SockState(s) => self.sock_state(ctx, e, s, &mut out),
            _ => {}
        }
        out
    }

    fn finish_all(&mut self, ctx: &Context) -> Vec<Record> {
        let mut out = Vec::new();
        let mut files: Vec<FileKey> = self.files.keys().cloned().collect();
        files.sort_by_key(|k| (self.files[k].first_ns, *k));
        for key in files {
            self.export_file(ctx, &key, "end-of-trace", &mut out);
        }
        let mut socks: Vec<u64> = self.socks.keys().copied().collect();
        socks.sort_by_key(|id| (self.socks[id].first_ns, *id));
        for id in socks {
            self.export_sock(ctx, id, "end-of-trace", true, &mut out);
        }
        let mut procs: Vec<u32> = self
            .procs
            .iter()
            .filter(|(_, p)| p.exec_seen)
            .map(|(pid, _)| *pid)
            .collect();
        procs.sort_by_key(|pid| (self.procs[pid].exec_ns, *pid));
        for pid in procs {
            let p = self.procs[&pid].clone();
            let last = p.exec_ns.unwrap_or(p.start_ns);
            out.extend(self.process_record(ctx, pid, pid, &p, None, last, "end-of-trace"));
        }
        out
    }

    fn sweep(&mut self, ctx: &Context, now: u64, out: &mut Vec<Record>) {
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now.saturating_add(SWEEP_NS);
        let mut due: Vec<(u64, u64, &'static str)> = Vec::new();
        for (id, s) in &self.socks {
            // Active: traffic counted for longer than ACTIVE, timed from its first packet
            // (NetFlow's active timeout); nothing counted since the last export, no export.
            let counting = [s.tx.first_ns, s.rx.first_ns].into_iter().flatten().min();
            if now.saturating_sub(s.last_ns) > self.cfg.idle_ns {
                due.push((s.last_ns, *id, "idle"));
            } else if let Some(start) =
                counting.filter(|t| now.saturating_sub(*t) > self.cfg.active_ns)
            {
                due.push((start, *id, "active"));
            }
        }
        due.sort();
        for (_, id, reason) in due {
            let remove = reason == "idle";
            self.export_sock(ctx, id, reason, remove, out);
        }
    }

    fn process_exit(&mut self, ctx: &Context, e: &Event, code: u32, out: &mut Vec<Record>) {
        let pid = e.common.pid;
        // Its files leave first: the process that held them is gone.
        let mut keys: Vec<FileKey> = self.files.keys().filter(|k| k.0 == pid).cloned().collect();
        keys.sort_by_key(|k| (self.files[k].first_ns, *k));
        for key in keys {
            self.export_file(ctx, &key, "process-exit", out);
        }
        self.fd_files.retain(|(p, _), _| *p != pid);
        self.open_refs.retain(|k, _| k.0 != pid);
        self.fd_socks.retain(|(p, _), _| *p != pid);
        self.fd_server.retain(|(p, _), _| *p != pid);
        self.fd_unix.retain(|(p, _), _| *p != pid);
        if let Some(p) = self.procs.remove(&pid) {
            if p.exec_seen || p.start_ns > 0 {
                out.extend(self.process_record(
                    ctx,
                    pid,
                    e.common.tid,
                    &p,
                    Some(code),
                    e.common.ts,
                    "exit",
                ));
            }
        }
    }

    fn fd_opened(&mut self, pid: u32, fd: i32, key: FileKey, writable: bool) {
        let refs = self.open_refs.entry(key).or_insert((0, false));
        refs.0 += 1;
        refs.1 |= writable;
        self.fd_files.insert((pid, fd), (key, writable));
    }

    /// An fd of a file goes away (close, or dup2 over it): the file is closed when it was
    /// its last fd.
    #[allow(clippy::too_many_arguments)]
    fn fd_closed(
        &mut self,
        ctx: &Context,
        e: &Event,
        pid: u32,
        fd: i32,
        r: &Resolved,
        files: &Files,
        out: &mut Vec<Record>,
    ) {
        let Some((key, _)) = self.fd_files.remove(&(pid, fd)) else {
            return;
        };
        let Some(refs) = self.open_refs.get_mut(&key) else {
            return;
        };
        refs.0 = refs.0.saturating_sub(1);
        if refs.0 > 0 {
            return;
        }
        let written = refs.1;
        self.open_refs.remove(&key);
        let path = self
            .files
            .get(&key)
            .map(|f| f.path.clone())
            .or(r.fd_name.clone())
            .unwrap_or_default();
        let kind = if written { CLOSE_WRITE } else { CLOSE_NOWRITE };
        self.file_event(ctx, e, key, &path, r, files, kind, out);
    }

    /// One event of kind `kind` about the file of `key`, named `path`. Its attributes are
    /// the inode model's after the event (`files`); before it, what the event says it
    /// changed (`r`), or the same.
    #[allow(clippy::too_many_arguments)]
    fn file_event(
        &mut self,
        ctx: &Context,
        e: &Event,
        key: FileKey,
        path: &str,
        r: &Resolved,
        files: &Files,
        kind: usize,
        out: &mut Vec<Record>,
    ) {
        let now = files.get(key.1);
        // What the file was before this event, as far as known: a record that starts with
        // a write measures its size change from there. A file new with this event has no
        // before.
        let before = match r.touched(key.1) {
            Some(t) => t.before,
            None => now,
        };
        // Only regular files and symlinks, as kflowd.
        if let Some(ty) = now.and_then(|a| a.kind) {
            if ty != S_IFREG && ty != S_IFLNK {
                return;
            }
        }
        let ts = e.common.ts;
        let agg = self.files.entry(key).or_insert_with(|| FileAgg {
            pid: e.common.pid,
            tid: e.common.tid,
            path: path.to_owned(),
            origin: None,
            mode_kind: "regular",
            counts: [0; 11],
            first_ns: ts,
            last_ns: ts,
            first: before.or(now),
            last: None,
        });
        agg.counts[kind] = agg.counts[kind].saturating_add(1);
        agg.last_ns = ts;
        agg.tid = e.common.tid;
        if agg.path.is_empty() || kind == MOVED_TO {
            path.clone_into(&mut agg.path);
        }
        if let Some(a) = now {
            if agg.first.is_none() {
                agg.first = Some(a);
            }
            agg.last = Some(a);
            if a.kind == Some(S_IFLNK) {
                agg.mode_kind = "symlink";
            }
        }
        let total: u32 = agg.counts.iter().sum();
        let reason = match kind {
            CLOSE_WRITE | CLOSE_NOWRITE => Some("close"),
            DELETE => Some("delete"),
            MOVED_TO => Some("rename"),
            _ if self.cfg.max_events.is_some_and(|n| total >= n) => Some("max-events"),
            _ => None,
        };
        if let Some(reason) = reason {
            self.export_file(ctx, &key, reason, out);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn syscall(
        &mut self,
        ctx: &Context,
        e: &Event,
        sc: &Syscall,
        r: &Resolved,
        files: &Files,
        out: &mut Vec<Record>,
    ) {
        let ksys = sc.ksys();
        let pid = e.common.pid;
        let fd0 = sc.args[0] as i32;
        let ok = sc.ret >= 0;
        // Sockets first: anything that carries the socket's identity.
        if let Some(info) = sc.sock {
            self.sock_syscall(e, sc, ksys, &info);
            return;
        }
        let (true, Some(ksys)) = (ok, ksys) else {
            return;
        };
        match ksys {
            Ksys::Open | Ksys::Openat | Ksys::Openat2 | Ksys::Creat => {
                let Some(path) = &r.path0 else { return };
                let flags = match (ksys, &sc.filled) {
                    (Ksys::Open, _) => sc.args[1],
                    (Ksys::Openat, _) => sc.args[2],
                    (Ksys::Openat2, super::decode::Filled::OpenHow { flags, .. }) => *flags,
                    _ => 0o1101,
                };
                let Some(t) = r.file0() else { return };
                let key = (pid, t.file, FILE_RECORD);
                let created = sc
                    .inode
                    .as_ref()
                    .is_some_and(|i| i.fmode.get() & 0x100000 != 0);
                let writable = flags & 3 != 0;
                self.fd_closed(ctx, e, pid, sc.ret as i32, r, files, out);
                self.fd_opened(pid, sc.ret as i32, key, writable);
                let kind = if created { CREATE } else { OPEN };
                self.file_event(ctx, e, key, path, r, files, kind, out);
                if flags & 0o1000 != 0 && !created {
                    // O_TRUNC on an existing file changes it.
                    self.file_event(ctx, e, key, path, r, files, MODIFY, out);
                }
            }
            Ksys::Read
            | Ksys::Pread64
            | Ksys::Readv
            | Ksys::Preadv
            | Ksys::Preadv2
            | Ksys::Write
            | Ksys::Pwrite64
            | Ksys::Writev
            | Ksys::Pwritev
            | Ksys::Pwritev2
            | Ksys::Ftruncate
            | Ksys::Fchmod
            | Ksys::Fchown => {
                let Some((key, _)) = self.fd_files.get(&(pid, fd0)).cloned() else {
                    return;
                };
                let kind = match ksys {
                    Ksys::Read | Ksys::Pread64 | Ksys::Readv | Ksys::Preadv | Ksys::Preadv2 => {
                        ACCESS
                    }
                    Ksys::Fchmod | Ksys::Fchown => ATTRIB,
                    _ => MODIFY,
                };
                let path = self
                    .files
                    .get(&key)
                    .map(|f| f.path.clone())
                    .or(r.fd_name.clone())
                    .unwrap_or_default();
                self.file_event(ctx, e, key, &path, r, files, kind, out);
            }
            Ksys::Close => {
                self.fd_closed(ctx, e, pid, fd0, r, files, out);
                if let Some(id) = self.fd_socks.remove(&(pid, fd0)) {
                    // TCP sockets leave on their CLOSE state; others when closed.
                    let tcp = self
                        .socks
                        .get(&id)
                        .is_some_and(|s| s.info.protocol == 6 && s.state.is_some());
                    if let Some(s) = self.socks.get_mut(&id) {
                        s.closed = true;
                        s.last_ns = e.common.ts;
                    }
                    if !tcp {
                        self.export_sock(ctx, id, "close", true, out);
                    }
                }
                self.fd_server.remove(&(pid, fd0));
                self.fd_unix.remove(&(pid, fd0));
            }
            Ksys::Dup | Ksys::Dup2 | Ksys::Dup3 | Ksys::Fcntl => {
                let newfd = match ksys {
                    Ksys::Dup2 | Ksys::Dup3 => sc.args[1] as i32,
                    _ => sc.ret as i32,
                };
                if newfd == fd0 {
                    return;
                }
                // dup2 onto an open fd closes what it held.
                self.fd_closed(ctx, e, pid, newfd, r, files, out);
                if let Some((key, w)) = self.fd_files.get(&(pid, fd0)).cloned() {
                    self.fd_opened(pid, newfd, key, w);
                }
                if let Some(v) = self.fd_socks.get(&(pid, fd0)).copied() {
                    self.fd_socks.insert((pid, newfd), v);
                }
            }
            // Path-based changes: the process table applied them to the inode model.
            Ksys::Chmod
            | Ksys::Fchmodat
            | Ksys::Fchmodat2
            | Ksys::Truncate
            | Ksys::Chown
            | Ksys::Lchown
            | Ksys::Fchownat
            | Ksys::Utimensat
            | Ksys::Utimes
            | Ksys::Futimesat
            | Ksys::Utime => {
                let (Some(path), Some(t)) = (&r.path0, r.file0()) else {
                    return;
                };
                let key = (pid, t.file, FILE_RECORD);
                let kind = if ksys == Ksys::Truncate {
                    MODIFY
                } else {
                    ATTRIB
                };
                self.file_event(ctx, e, key, path, r, files, kind, out);
            }
            Ksys::Unlink | Ksys::Unlinkat => {
                if ksys == Ksys::Unlinkat && sc.args[2] & 0x200 != 0 {
                    return; // a directory
                }
                let (Some(path), Some(t)) = (&r.path0, r.file0()) else {
                    return;
                };
                let key = (pid, t.file, FILE_RECORD);
                self.file_event(ctx, e, key, path, r, files, DELETE, out);
            }
            Ksys::Rename | Ksys::Renameat | Ksys::Renameat2 => {
                let (Some(old), Some(new), Some(t)) = (&r.path0, &r.path1, r.file0()) else {
                    return;
                };
                let mut moves = vec![(t.file, old, new)];
                // RENAME_EXCHANGE: the file at the new name moved to the old one.
                if ksys == Ksys::Renameat2 && sc.args[4] & super::files::RENAME_EXCHANGE != 0 {
                    if let Some(other) = r.file1().filter(|o| o.file != t.file) {
                        moves.push((other.file, new, old));
                    }
                }
                for (file, from, to) in moves {
                    let key = (pid, file, FILE_RECORD);
                    self.file_event(ctx, e, key, from, r, files, MOVED_FROM, out);
                    if let Some(agg) = self.files.get_mut(&key) {
                        agg.origin = Some(from.clone());
                    }
                    self.file_event(ctx, e, key, to, r, files, MOVED_TO, out);
                }
            }
            Ksys::Link | Ksys::Linkat | Ksys::Symlink | Ksys::Symlinkat => {
                let (Some(new), Some(t)) = (&r.path1, r.file0()) else {
                    return;
                };
                let key = (pid, t.file, LINK_RECORD);
                self.file_event(ctx, e, key, new, r, files, CREATE, out);
                if let Some(agg) = self.files.get_mut(&key) {
                    agg.mode_kind = if matches!(ksys, Ksys::Symlink | Ksys::Symlinkat) {
                        "symlink"
                    } else {
                        "hardlink"
                    };
                    agg.origin = r.path0.clone();
                }
                self.export_file(ctx, &key, "link", out);
            }
            Ksys::Accept | Ksys::Accept4 => {
                self.fd_server.insert((pid, sc.ret as i32), true);
            }
            // In-kernel copies: the source is read, the destination written (its size is
            // its inode's at exit).
            Ksys::CopyFileRange | Ksys::Sendfile | Ksys::Splice | Ksys::Tee => {
                let out_fd = match ksys {
                    Ksys::Sendfile => sc.args[0],
                    Ksys::Tee => sc.args[1],
                    _ => sc.args[2],
                } as i32;
                let in_fd = if ksys == Ksys::Sendfile {
                    sc.args[1] as i32
                } else {
                    fd0
                };
                let ends = [
                    (in_fd, ACCESS, &r.fd_name),
                    (out_fd, MODIFY, &r.other_fd_name),
                ];
                for (fd, kind, name) in ends {
                    let Some((key, _)) = self.fd_files.get(&(pid, fd)).cloned() else {
                        continue;
                    };
                    let path = self
                        .files
                        .get(&key)
                        .map(|f| f.path.clone())
                        .or(name.clone())
                        .unwrap_or_default();
                    self.file_event(ctx, e, key, &path, r, files, kind, out);
                }
            }
            Ksys::Connect => {
                if let Some(SockAddr::Unix { path }) = &sc.addr {
                    self.fd_unix.insert((pid, fd0), path.clone());
                }
            }
            _ => {}
        }
    }

    fn sock_syscall(&mut self, e: &Event, sc: &Syscall, ksys: Option<Ksys>, info: &SockInfo) {
        let pid = e.common.pid;
        let fd0 = sc.args[0] as i32;
        let ts = e.common.ts;
        let id = info.sk_id.get();
        match ksys {
            Some(Ksys::Accept | Ksys::Accept4) => {
                if sc.ret >= 0 {
                    self.fd_server.insert((pid, sc.ret as i32), true);
                }
                return;
            }
            Some(Ksys::Connect) => {
                if let Some(SockAddr::Unix { path }) = &sc.addr {
                    self.fd_unix.insert((pid, fd0), path.clone());
                }
            }
            _ => {}
        }
        self.fd_socks.insert((pid, fd0), id);
        let server = self.fd_server.get(&(pid, fd0)).copied().unwrap_or(false);
        let unix_path = self
            .fd_unix
            .get(&(pid, fd0))
            .cloned()
            .or_else(|| match &sc.addr {
                Some(SockAddr::Unix { path }) => Some(path.clone()),
                _ => None,
            });
        let proc = self.procs.get(&pid).cloned();
        let agg = self
            .socks
            .entry(id)
            .or_insert_with(|| SockAgg::new(pid, e.common.tid, *info, ts));
        // TCP_LISTEN: a listening socket serves.
        agg.server |= server || info.state == 10;
        agg.pid = pid;
        agg.tid = e.common.tid;
        agg.proc = proc;
        agg.last_ns = ts;
        agg.server |= server;
        // The identity fills in as the socket gets bound and connected.
        if info.lport.get() != 0 || info.rport.get() != 0 || info.family.get() == 1 {
            agg.info = *info;
        }
        if agg.unix_path.is_none() {
            agg.unix_path = unix_path;
        }
        if let Some(addr @ (SockAddr::Inet { .. } | SockAddr::Inet6 { .. })) = &sc.addr {
            if !matches!(ksys, Some(Ksys::Connect | Ksys::Bind)) {
                agg.peer = Some(addr.clone());
            }
        }
        let dir = match ksys {
            Some(Ksys::Write | Ksys::Writev | Ksys::Sendto | Ksys::Sendmsg | Ksys::Sendmmsg) => {
                Some(Direction::Tx)
            }
            Some(Ksys::Read | Ksys::Readv | Ksys::Recvfrom | Ksys::Recvmsg | Ksys::Recvmmsg) => {
                Some(Direction::Rx)
            }
            _ => None,
        };
        let Some(dir) = dir else { return };
        if sc.ret <= 0 {
            return;
        }
        let flow = match dir {
            Direction::Tx => &mut agg.tx,
            Direction::Rx => &mut agg.rx,
        };
        // sendmmsg/recvmmsg return messages; their bytes are in aux.
        let (packets, bytes) = if matches!(ksys, Some(Ksys::Sendmmsg | Ksys::Recvmmsg)) {
            (sc.ret as u64, sc.aux as u64)
        } else {
            (1, sc.ret as u64)
        };
        flow.add(bytes, ts);
        flow.packets = flow.packets.saturating_add(packets.saturating_sub(1));
        // A UDP socket that received first serves.
        if agg.info.protocol == 17 && agg.tx.packets == 0 && dir == Direction::Rx {
            agg.server = true;
        }
        let app = match info.app {
            1 => Some(App::Dns),
            2 => Some(App::Http),
            3 if info.family.get() != 1
                || agg.unix_path.as_deref().is_some_and(is_syslog_socket) =>
            {
                Some(App::Syslog)
            }
            _ => None,
        };
        if let (Some(app), false) = (app, sc.data.is_empty()) {
            agg.app = Some(app);
            let transport = match (info.family.get(), info.sock_type) {
                (1, 1) => Transport::UnixStream,
                (1, _) => Transport::UnixDgram,
                (_, 1) => Transport::Tcp,
                _ => Transport::Udp,
            };
            let since = ts.saturating_sub(agg.first_ns) as f64 / 1e9;
            let (decoder, msgs) = match dir {
                Direction::Tx => (&mut agg.tx_decoder, &mut agg.tx_msgs),
                Direction::Rx => (&mut agg.rx_decoder, &mut agg.rx_msgs),
            };
            let decoder = decoder.get_or_insert_with(|| StreamDecoder::new(app, transport, dir));
            for m in decoder.push(&sc.data, since) {
                if msgs.len() < APP_MESSAGES_MAX {
                    msgs.push(m);
                }
            }
        }
    }

    fn sock_state(&mut self, ctx: &Context, e: &Event, s: &SockStateRecord, out: &mut Vec<Record>) {
        let id = s.sock.sk_id.get();
        let ts = e.common.ts;
        let agg = self
            .socks
            .entry(id)
            .or_insert_with(|| SockAgg::new(e.common.pid, e.common.tid, s.sock, ts));
        agg.last_ns = ts;
        agg.tcp = Some(s.tcp);
        if s.sock.lport.get() != 0 {
            agg.info = s.sock;
        }
        match s.event {
            1 => agg.reset = Some("RX"),
            2 => agg.reset = Some("TX"),
            _ => {
                agg.state = Some(s.newstate);
                // A listening socket, and a connection the process accepted (it starts in
                // SYN_RECV; one the process opened starts in SYN_SENT), serve.
                if [s.oldstate, s.newstate]
                    .iter()
                    .any(|&st| st == 10 || st == 12)
                {
                    agg.server = true;
                }
            }
        }
        if s.event == 0 && s.newstate == 7 {
            self.export_sock(ctx, id, "tcp-close", true, out);
        }
    }

    fn export_file(
        &mut self,
        ctx: &Context,
        key: &FileKey,
        reason: &'static str,
        out: &mut Vec<Record>,
    ) {
        let Some(f) = self.files.remove(key) else {
            return;
        };
        if !self.cfg.monitors.contains(&Monitor::Filesystem) {
            return;
        }
        let info = self.info(ctx, Monitor::Filesystem, f.last_ns, reason);
        let mut facts = PendingFacts::default();
        let proc = self.proc_keys(ctx, &mut facts, f.pid, f.tid, f.last_ns);
        let (dir, name) = match f.path.rfind('/') {
            Some(i) => (&f.path[..=i], &f.path[i + 1..]),
            None => ("", f.path.as_str()),
        };
        // Facts (-v, -c) exist for executables only; filled in when the record leaves.
        let last = f.last.unwrap_or_default();
        let exec_file = (last.kind == Some(S_IFREG) && last.perm.is_some_and(|p| p & 0o111 != 0))
            .then_some((last.dev, last.ino))
            .and_then(|(dev, ino)| Some((dev?, ino?)));
        let capture = ctx.capture.as_ref();
        let versions = exec_file.is_some() && capture.is_some_and(|c| c.versions);
        let checksums = exec_file.is_some() && capture.is_some_and(|c| c.checksums);
        if let Some(id) = exec_file {
            facts.file = wants_facts(ctx).then_some(id);
        }
        // Each attribute as the inode model knows it at the last event; one that no
        // syscall revealed (or that a syscall changed without saying to what) is left out.
        let first = f.first.unwrap_or_default();
        let size_change = match (last.size, first.size) {
            (Some(size), Some(before)) => {
                Some((size as i64).saturating_sub(before as i64)).filter(|c| *c != 0)
            }
            _ => None,
        };
        let modification_time_change = match (last.mtime_ns, first.mtime_ns) {
            (Some(t), Some(before)) => Some(t.saturating_sub(before)).filter(|c| *c != 0).map(Secs),
            _ => None,
        };
        let file = FileRecord {
            dir: dir.to_owned(),
            name: name.to_owned(),
            origin: f.origin.clone(),
            version: Fact::asked(versions),
            mode: f.mode_kind,
            event_count: f.counts.iter().sum(),
            events: FileEvents(f.counts),
            events_duration: Secs(f.last_ns.saturating_sub(f.first_ns) as i64),
            inode: last.ino,
            link_count: last.nlink,
            device: last.dev.map(|dev| ctx.device(dev)),
            permissions: last.perm.map(|perm| permissions(last.kind, perm)),
            user: last.uid.map(|uid| ctx.user(uid)),
            group: last.gid.map(|gid| ctx.group(gid)),
            uid: last.uid,
            gid: last.gid,
            size: last.size,
            size_change: size_change.filter(|_| last.size.is_some()),
            access_time: last.atime_ns.map(kflowd_time),
            status_change_time: last.ctime_ns.map(kflowd_time),
            modification_time: last.mtime_ns.map(kflowd_time),
            modification_time_change,
            md5: Fact::asked(checksums),
            sha256: Fact::asked(checksums),
        };
        out.push(Record {
            info,
            proc,
            body: RecordBody::File(file),
            facts,
        });
    }

    fn export_sock(
        &mut self,
        ctx: &Context,
        id: u64,
        reason: &'static str,
        remove: bool,
        out: &mut Vec<Record>,
    ) {
        let Some(mut s) = self.socks.remove(&id) else {
            return;
        };
        for (dec, msgs) in [
            (&mut s.tx_decoder, &mut s.tx_msgs),
            (&mut s.rx_decoder, &mut s.rx_msgs),
        ] {
            if let Some(d) = dec {
                if remove {
                    for m in d.finish() {
                        if msgs.len() < APP_MESSAGES_MAX {
                            msgs.push(m);
                        }
                    }
                }
            }
        }
        if self.cfg.monitors.contains(&Monitor::Socket) {
            out.push(self.sock_record(ctx, &s, reason));
        }
        if !remove {
            // Still open (active timeout): counted afresh from here.
            s.first_ns = s.last_ns;
            s.tx = Flow::default();
            s.rx = Flow::default();
            s.tx_msgs.clear();
            s.rx_msgs.clear();
            self.socks.insert(id, s);
        }
    }

    fn sock_record(&self, ctx: &Context, s: &SockAgg, reason: &'static str) -> Record {
        let info = self.info(ctx, Monitor::Socket, s.last_ns, reason);
        let mut facts = PendingFacts::default();
        let proc = match &s.proc {
            Some(p) => self.proc_keys_of(ctx, &mut facts, s.pid, s.tid, p, s.last_ns),
            None => self.proc_keys(ctx, &mut facts, s.pid, s.tid, s.last_ns),
        };
        let i = &s.info;
        let family = i.family.get();
        let protocol = match (family, i.protocol) {
            (1, _) => None,
            (_, 6) => Some("TCP"),
            (_, 17) => Some("UDP"),
            _ => None,
        };
        let mut sock = SockRecord {
            protocol,
            role: if s.server { "SERVER" } else { "CLIENT" },
            state: s.state.map(tcp_state),
            reset: s.reset,
            family: symbols::address_family(family as u64),
            age: Secs(s.last_ns.saturating_sub(s.first_ns) as i64),
            ..SockRecord::default()
        };
        match family {
            2 | 10 => {
                // An unconnected (UDP) socket has no remote of its own: the peer it
                // last talked to stands in.
                let (rip, rport) = match (&s.peer, i.rport.get()) {
                    (Some(SockAddr::Inet { ip, port }), 0) => (ip.to_string(), *port),
                    (Some(SockAddr::Inet6 { ip, port, .. }), 0) => (ip.to_string(), *port),
                    _ => (ip_text(family, &i.raddr), i.rport.get()),
                };
                sock.local_ip = Some(ip_text(family, &i.laddr));
                sock.local_port = Some(i.lport.get());
                sock.remote_ip = Some(rip);
                sock.remote_port = Some(rport);
            }
            _ => sock.address.clone_from(&s.unix_path),
        }
        let iface = ctx.interface(i.ifindex.get());
        let tcp = s.tcp.filter(|_| i.protocol == 6);
        let tx = SockTx {
            interface: iface.clone(),
            data_packets: tcp.map(|t| t.data_segs_out.get()),
            packets: tcp.map_or(s.tx.packets, |t| u64::from(t.segs_out.get())),
            packets_retrans: tcp.map(|t| t.total_retrans.get()),
            duration: Secs(flow_duration(&s.tx)),
            bytes: s.tx.bytes,
            bytes_acked: tcp.map(|t| t.bytes_acked.get()),
            bytes_retrans: tcp.map(|t| t.bytes_retrans.get()),
            rto_ms: tcp.and_then(|t| {
                let hz = ctx.hz?;
                Some(t.rto_jiffies.get() as u64 * 1000 / hz.max(1) as u64)
            }),
        };
        let rx = SockRx {
            interface: iface,
            data_packets: tcp.map(|t| t.data_segs_in.get()),
            packets: tcp.map_or(s.rx.packets, |t| u64::from(t.segs_in.get())),
            duration: Secs(flow_duration(&s.rx)),
            bytes: s.rx.bytes,
            rtt: tcp.map(|t| Secs(t.srtt_us.get() as i64 * 1000)),
        };
        // Client records put Tx before Rx, server records Rx before Tx (as kflowd).
        sock.flows = SockFlows::new(s.server, tx, rx);
        sock.app = s.app.map(|app| AppKeys {
            app,
            server: s.server,
            tx: s.tx_msgs.clone(),
            rx: s.rx_msgs.clone(),
        });
        Record {
            info,
            proc,
            body: RecordBody::Sock(sock),
            facts,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn process_record(
        &self,
        ctx: &Context,
        pid: u32,
        tid: u32,
        p: &ProcInfo,
        code: Option<u32>,
        last_ns: u64,
        reason: &'static str,
    ) -> Option<Record> {
        if !self.cfg.monitors.contains(&Monitor::Process) || !p.exec_seen {
            return None;
        }
        let info = self.info(ctx, Monitor::Process, last_ns, reason);
        let mut facts = PendingFacts::default();
        let proc = self.proc_keys_of(ctx, &mut facts, pid, tid, p, last_ns);
        let checksums = p.exe_inode.is_some() && ctx.capture.as_ref().is_some_and(|c| c.checksums);
        let record = ProcRecord {
            exe: p.exe.clone(),
            argv: p.argv.clone(),
            exec_time: p.exec_ns.map(|start| kflowd_time(ctx.realtime_ns(start))),
            exit_code: code.map(|code| (code >> 8) & 0xff),
            exit_signal: code
                .map(|code| (code & 0x7f) as u64)
                .filter(|sig| *sig != 0)
                .map(|sig| symbols::signal_name(sig).unwrap_or_default()),
            md5: Fact::asked(checksums),
            sha256: Fact::asked(checksums),
        };
        Some(Record {
            info,
            proc,
            body: RecordBody::Proc(record),
            facts,
        })
    }

    /// The Info* keys of a record.
    fn info(
        &self,
        ctx: &Context,
        monitor: Monitor,
        last_ns: u64,
        reason: &'static str,
    ) -> InfoKeys {
        InfoKeys {
            sequence: 0, // numbered when emitted
            timestamp: kflowd_time(ctx.realtime_ns(last_ns)),
            monitor,
            export: reason,
            host_name: ctx.hostname(),
            host_ip: ctx.host_ip(),
            host_token: self.cfg.token.clone(),
            system: ctx.system(),
            kernel: ctx.kernel(),
            version: concat!("kellect-v", env!("CARGO_PKG_VERSION")),
            uptime: Secs(last_ns.saturating_sub(ctx.start_boot_ns()) as i64),
        }
    }

    fn proc_keys(
        &self,
        ctx: &Context,
        facts: &mut PendingFacts,
        pid: u32,
        tid: u32,
        at_ns: u64,
    ) -> ProcKeys {
        let p = self.procs.get(&pid).cloned().unwrap_or_default();
        self.proc_keys_of(ctx, facts, pid, tid, &p, at_ns)
    }

    fn proc_keys_of(
        &self,
        ctx: &Context,
        facts: &mut PendingFacts,
        pid: u32,
        tid: u32,
        p: &ProcInfo,
        at_ns: u64,
    ) -> ProcKeys {
        let parent = self
            .procs
            .get(&p.ppid)
            .map(|pp| pp.comm.clone())
            .unwrap_or_default();
        let versions = ctx.capture.as_ref().is_some_and(|c| c.versions);
        if let Some(i) = &p.exe_inode {
            facts.proc = wants_facts(ctx).then_some((i.dev.get(), i.ino.get()));
        }
        ProcKeys {
            parent,
            comm: p.comm.clone(),
            exe_version: Fact::asked(p.exe_inode.is_some() && versions),
            user: ctx.user(p.uid),
            group: ctx.group(p.gid),
            ppid: p.ppid,
            pid,
            tid,
            uid: p.uid,
            gid: p.gid,
            age: (p.start_ns > 0).then(|| Secs(at_ns.saturating_sub(p.start_ns) as i64)),
        }
    }

    /// Numbers records in the order they leave: deterministic, 1, 2, ….
    pub fn number(&mut self, records: &mut [Record]) {
        for r in records {
            self.seq += 1;
            r.info.sequence = self.seq;
        }
    }
}

/// Whether the recording looked for facts at all (`-v`, `-c`): only then is a record held
/// for them.
fn wants_facts(ctx: &Context) -> bool {
    ctx.capture
        .as_ref()
        .is_some_and(|c| c.versions || c.checksums)
}

/// Fills the facts a record waits for; the ones still unknown go.
fn fill_facts(ctx: &Context, r: &mut Record) {
    if let Some(id) = r.facts.proc {
        let facts = ctx.facts.get(&id);
        r.proc
            .exe_version
            .resolve(facts.and_then(|f| f.package_version.as_ref()));
        if let RecordBody::Proc(p) = &mut r.body {
            p.md5.resolve(facts.and_then(|f| f.md5.as_ref()));
            p.sha256.resolve(facts.and_then(|f| f.sha256.as_ref()));
        }
    }
    if let (Some(id), RecordBody::File(file)) = (r.facts.file, &mut r.body) {
        let facts = ctx.facts.get(&id);
        file.version
            .resolve(facts.and_then(|f| f.package_version.as_ref()));
        file.md5.resolve(facts.and_then(|f| f.md5.as_ref()));
        file.sha256.resolve(facts.and_then(|f| f.sha256.as_ref()));
    }
    r.facts = PendingFacts::default();
}

/// FilePermissions: the mode in octal and as `ls` shows it; the type letter is `?` when
/// the file type is unknown (a path-based chmod of a file the trace never showed).
fn permissions(kind: Option<u32>, perm: u32) -> String {
    let text = symbols::file_mode(u64::from(kind.unwrap_or(0) | (perm & 0o7777)));
    match kind {
        Some(_) => text,
        None => text.replacen("/-", "/?", 1),
    }
}

fn flow_duration(f: &Flow) -> i64 {
    f.first_ns
        .map_or(0, |first| f.last_ns.saturating_sub(first) as i64)
}

/// `/dev/log` and the journal's syslog sockets.
fn is_syslog_socket(path: &str) -> bool {
    matches!(
        path,
        "/dev/log"
            | "/run/systemd/journal/dev-log"
            | "/run/systemd/journal/syslog"
            | "/var/run/syslog"
    )
}

fn ip_text(family: u16, bytes: &[u8; 16]) -> String {
    if family == 2 {
        std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string()
    } else {
        std::net::Ipv6Addr::from(*bytes).to_string()
    }
}

/// TCP state names as kflowd prints them.
pub fn tcp_state(state: u8) -> String {
    const NAMES: [&str; 13] = [
        "",
        "TCP_ESTABLISHED",
        "TCP_SYN_SENT",
        "TCP_SYN_RECV",
        "TCP_FIN_WAIT1",
        "TCP_FIN_WAIT2",
        "TCP_TIME_WAIT",
        "TCP_CLOSE",
        "TCP_CLOSE_WAIT",
        "TCP_LAST_ACK",
        "TCP_LISTEN",
        "TCP_CLOSING",
        "TCP_NEW_SYN_RECV",
    ];
    NAMES
        .get(state as usize)
        .filter(|n| !n.is_empty())
        .map_or_else(|| format!("TCP_STATE_{state}"), |n| (*n).to_owned())
}

/// kflowd's time format: `Thu, Apr 04 2024 15:34:35.643031330 UTC`.
pub fn kflowd_time(realtime_ns: i64) -> String {
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [month repr:short] [day] [year] [hour]:[minute]:[second].[subsecond digits:9] UTC"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(realtime_ns as i128)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| format!("{realtime_ns} ns"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kflowd_times() {
        // 2024-04-04T15:34:35.643031330Z
        assert_eq!(
            kflowd_time(1_712_244_875_643_031_330),
            "Thu, Apr 04 2024 15:34:35.643031330 UTC"
        );
    }

    #[test]
    fn permissions_with_and_without_a_known_type() {
        assert_eq!(permissions(Some(S_IFREG), 0o4755), "4755/-rwsr-xr-x");
        assert_eq!(permissions(Some(S_IFLNK), 0o777), "0777/lrwxrwxrwx");
        assert_eq!(permissions(None, 0o4755), "4755/?rwsr-xr-x");
        assert_eq!(permissions(None, 0o104755), "4755/?rwsr-xr-x");
    }

    #[test]
    fn tcp_states() {
        assert_eq!(tcp_state(7), "TCP_CLOSE");
        assert_eq!(tcp_state(1), "TCP_ESTABLISHED");
        assert_eq!(tcp_state(99), "TCP_STATE_99");
    }
}
