//! The records view: kflowd-style aggregated records, one JSON object per file touch, per
//! socket and per process lifetime, enriched with host and process context and with
//! DNS/HTTP/SYSLOG payloads decoded. Keys are kflowd's, so its consumers read these.
//!
//! Everything is judged on event time (timeouts included), and each record leaves in a
//! deterministic order: the same trace gives the same records on any machine.

pub mod kflowd;
pub mod legend;
pub mod protocols;

use std::cell::RefCell;
use std::sync::Arc;

use compact_str::CompactString;
use serde_json::{Map, Value};

use crate::abi::{SockInfo, SockStateRecord};
use crate::replayer::input::decode::{Body, Event, SockAddr, Syscall};
use crate::replayer::render::symbols;
use crate::replayer::state::context::Context;
use crate::replayer::state::execid;
use crate::replayer::state::files::{Attrs, FileId, S_IFLNK, S_IFREG};
use crate::replayer::state::{self, FdKind, ProcFacts, ProcessTable, Resolved};
use crate::syscalls::Ksys;
use kflowd::{
    Ancestor, AppKeys, DropReasons, Fact, FileEvents, FilePermissions, FileRecord, HostKeys,
    InfoKeys, KflowdTime, PendingFacts, ProcKeys, ProcRecord, Record, RecordBody, Secs, SockFlows,
    SockRecord, SockRx, SockTx, TcpFlags,
};
use protocols::{App, Direction, StreamDecoder, Transport};

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
    proc: Option<ProcFacts>,
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
    /// The last packet counters the kernel wrote for it (`REC_SOCK_COUNTERS`): counted
    /// since the socket was first seen, as the TCP counters are.
    pkt: Option<Box<crate::abi::PktCounters>>,
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
            pkt: None,
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
    files: state::Map<FileKey, FileAgg>,
    /// Files a process closed an fd opened for writing of while another fd still held
    /// them: the last close of such a file is a CLOSE_WRITE. (Which fd holds which file is
    /// the process table's, [`crate::replayer::state::FdKind::File`].)
    written: state::Set<FileKey>,
    /// Sockets by cookie; which fd is which socket (its role, its UNIX path) is the
    /// process table's ([`crate::replayer::state::FdKind::Socket`]).
    socks: state::Map<u64, SockAgg>,
    next_sweep: u64,
    seq: u64,
    /// Completed records waiting for file facts, in completion order.
    held: std::collections::VecDeque<Held>,
    /// Most entries in each state table (files, sockets, held records) before the oldest
    /// leave early.
    table_limit: usize,
    /// Records exported early (`InfoExport` `table-full`) and entries dropped from the
    /// inode caches, because a table was full.
    pub early_exports: u64,
    /// The process whose whole group exited with the event being applied, as the process
    /// table handed it over ([`Resolved::exited`]): its records are made from it until its
    /// process record leaves.
    exiting: Option<(u32, Box<ProcFacts>)>,
    /// The exec id of the process image the last record was of (consecutive records are
    /// mostly of one image).
    exec_ids: execid::LastExecId,
    /// Keys built from the trace's metadata that records share. In a `RefCell` because
    /// records are made by methods that take `&self`; the records view runs on one
    /// thread.
    shared: RefCell<SharedKeys>,
}

/// The keys records share instead of each building its own copy: the host's `Info*` keys
/// and the `FileDevice` texts, for the context [`Context::generation`] they were built
/// from.
#[derive(Default)]
struct SharedKeys {
    /// The generation the keys were built for; `None` before the first.
    generation: Option<u64>,
    host: Option<Arc<HostKeys>>,
    /// `FileDevice` text by device number; at most [`DEVICES_KEPT`] (a hostile trace can
    /// name any number of devices), emptied when full.
    devices: state::Map<u32, Arc<str>>,
}

/// Most `FileDevice` texts kept at once.
const DEVICES_KEPT: usize = 256;

impl SharedKeys {
    /// Forgets what was built for another context generation than `ctx`'s.
    fn refresh(&mut self, ctx: &Context) {
        if self.generation != Some(ctx.generation()) {
            *self = SharedKeys {
                generation: Some(ctx.generation()),
                ..SharedKeys::default()
            };
        }
    }

    /// The host's `Info*` keys, with `token` as `InfoHostToken` (the view's own, the same
    /// for every record).
    fn host(&mut self, ctx: &Context, token: &Option<String>) -> Arc<HostKeys> {
        self.refresh(ctx);
        self.host
            .get_or_insert_with(|| {
                Arc::new(HostKeys {
                    host_name: ctx.hostname().to_owned(),
                    host_ip: ctx.host_ip().to_owned(),
                    host_token: token.clone(),
                    system: ctx.system().to_owned(),
                    kernel: ctx.kernel().to_owned(),
                })
            })
            .clone()
    }

    /// [`Context::device`] of `dev`, built once per context generation.
    fn device(&mut self, ctx: &Context, dev: u32) -> Arc<str> {
        self.refresh(ctx);
        if let Some(text) = self.devices.get(&dev) {
            return text.clone();
        }
        if self.devices.len() >= DEVICES_KEPT {
            self.devices.clear();
        }
        let text: Arc<str> = ctx.device(dev).into();
        self.devices.insert(dev, text.clone());
        text
    }
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
            files: state::Map::default(),
            written: state::Set::default(),
            socks: state::Map::default(),
            next_sweep: 0,
            seq: 0,
            held: std::collections::VecDeque::new(),
            table_limit: usize::MAX,
            early_exports: 0,
            exiting: None,
            exec_ids: execid::LastExecId::default(),
            shared: RefCell::default(),
        }
    }

    /// Bounds each state table at `entries` (at least 16; see
    /// `MemoryBudget::table_entries`). Past it, the oldest eighth leave at once: files and
    /// sockets (by first event) are exported with `InfoExport` `table-full`, and records
    /// waiting for file facts leave without them. Processes are the process table's (bound
    /// by its bytes): one it forgets is exported with `table-full` when it exec'd.
    /// Deterministic: the order depends only on the trace.
    pub fn with_table_limit(mut self, entries: usize) -> Self {
        self.table_limit = entries.max(16);
        self
    }

    fn bound_tables(
        &mut self,
        ctx: &Context,
        table: &ProcessTable,
        forgotten: &[(u32, Box<ProcFacts>)],
        out: &mut Vec<Record>,
    ) {
        let limit = self.table_limit;
        let keep = limit - limit / 8;
        if self.files.len() > limit {
            let mut keys: Vec<FileKey> = self.files.keys().cloned().collect();
            keys.sort_by_key(|k| (self.files[k].first_ns, *k));
            let drop = keys.len() - keep;
            for key in keys.into_iter().take(drop) {
                self.export_file(ctx, table, &key, "table-full", out);
                self.early_exports += 1;
            }
        }
        if self.socks.len() > limit {
            let mut ids: Vec<u64> = self.socks.keys().copied().collect();
            ids.sort_by_key(|id| (self.socks[id].first_ns, *id));
            let drop = ids.len() - keep;
            for id in ids.into_iter().take(drop) {
                self.export_sock(ctx, table, id, "table-full", true, out);
                self.early_exports += 1;
            }
        }
        self.forgotten_processes(ctx, table, forgotten, out);
    }

    /// Processes the process table forgot to stay within memory: each counts as an early
    /// export, and one that exec'd leaves as a process record (`table-full`).
    fn forgotten_processes(
        &mut self,
        ctx: &Context,
        table: &ProcessTable,
        forgotten: &[(u32, Box<ProcFacts>)],
        out: &mut Vec<Record>,
    ) {
        for (pid, p) in forgotten {
            let last = p.exec_ns.unwrap_or(p.start_ns);
            out.extend(self.process_record(ctx, table, *pid, *pid, p, None, last, "table-full"));
            self.early_exports += 1;
        }
    }

    /// Applies one event (in timestamp order), after the image table and then the process
    /// table applied it ([`ProcessTable::apply_with_facts`]; `r` and `table`: what it
    /// resolved, as things were before the event, and the fds, inode model and process
    /// facts it left, with those of a process that exited with the event); returns the
    /// records ready to print.
    pub fn event(
        &mut self,
        ctx: &Context,
        e: &Event,
        r: &Resolved,
        table: &ProcessTable,
    ) -> Vec<Record> {
        let mut out = Vec::new();
        self.event_into(ctx, e, r, table, &mut out);
        out
    }

    /// [`event`](Self::event), with the records that leave appended to `out`.
    pub fn event_into(
        &mut self,
        ctx: &Context,
        e: &Event,
        r: &Resolved,
        table: &ProcessTable,
        out: &mut Vec<Record>,
    ) {
        let start = out.len();
        self.exiting.clone_from(&r.exited);
        self.apply_event(ctx, e, r, table, out);
        self.exiting = None;
        self.bound_tables(ctx, table, &r.forgotten, out);
        // With nothing held and nothing to wait for, the records leave as they are, in the
        // order `release` would give: not moved through `held` and back.
        let built = &out[start..];
        if self.held.is_empty() && built.iter().all(|r| r.facts.wanted().next().is_none()) {
            return;
        }
        let built = out.split_off(start);
        self.hold(built);
        out.extend(self.release(ctx, false));
    }

    /// A time mark without an event (the recorder's periodic statistics): sockets idle or
    /// active too long leave, and records held for file facts age.
    pub fn tick(&mut self, ctx: &Context, table: &ProcessTable, boot_ns: u64) -> Vec<Record> {
        let mut built = Vec::new();
        self.sweep(ctx, table, boot_ns, &mut built);
        self.hold(built);
        for h in &mut self.held {
            h.ticks += 1;
        }
        self.release(ctx, false)
    }

    /// The end of the trace: everything still open leaves, flagged as such (the processes
    /// of `table` too).
    pub fn finish(&mut self, ctx: &Context, table: &ProcessTable) -> Vec<Record> {
        let mut built = Vec::new();
        self.forgotten_processes(ctx, table, table.forgotten_facts(), &mut built);
        built.extend(self.finish_all(ctx, table));
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
        table: &ProcessTable,
        out: &mut Vec<Record>,
    ) {
        let ts = e.common.ts;
        self.sweep(ctx, table, ts, out);
        let c = &e.common;
        // The process's facts (its exec's, a fork child's) are the process table's.
        match &e.body {
            Body::Exec {
                filename, inode, ..
            } => {
                let filename = r.path0.as_ref().unwrap_or(filename);
                if let (Some(_), Some(t)) = (inode, r.file0()) {
                    let key = (c.pid, t.file, FILE_RECORD);
                    self.file_event(ctx, e, key, filename, r, table, OPEN_EXEC, out);
                }
                // The close-on-exec fds went at the exec.
                for was in &r.exec_closed {
                    self.fd_closed(ctx, e, Some(was), r, table, out);
                    if let Some(id) = was.socket_id() {
                        self.sock_closed(ctx, table, ts, id, out);
                    }
                }
            }
            Body::Exit {
                code, group_dead, ..
            } if *group_dead => {
                self.process_exit(ctx, table, e, *code, out);
            }
            Body::Syscall(sc) => self.syscall(ctx, e, sc, r, table, out),
            Body::SockState(s) => self.sock_state(ctx, table, e, s, out),
            Body::SockCounters(c) => {
                // Only sockets already followed: a counters record alone (written by
                // the periodic pass, in the recorder's own task) starts no record and
                // keeps none from idling out.
                if let Some(agg) = self.socks.get_mut(&c.sock.sk_id.get()) {
                    agg.pkt = Some(Box::new(c.pkt));
                }
            }
            _ => {}
        }
    }

    fn finish_all(&mut self, ctx: &Context, table: &ProcessTable) -> Vec<Record> {
        let mut out = Vec::new();
        let mut files: Vec<FileKey> = self.files.keys().cloned().collect();
        files.sort_by_key(|k| (self.files[k].first_ns, *k));
        for key in files {
            self.export_file(ctx, table, &key, "end-of-trace", &mut out);
        }
        let mut socks: Vec<u64> = self.socks.keys().copied().collect();
        socks.sort_by_key(|id| (self.socks[id].first_ns, *id));
        for id in socks {
            self.export_sock(ctx, table, id, "end-of-trace", true, &mut out);
        }
        let mut procs: Vec<(Option<u64>, u32, &ProcFacts)> = table
            .all_facts()
            .filter(|(_, p)| p.exec_seen())
            .map(|(pid, p)| (p.exec_ns, pid, p))
            .collect();
        procs.sort_by_key(|(exec_ns, pid, _)| (*exec_ns, *pid));
        for (_, pid, p) in procs {
            let last = p.exec_ns.unwrap_or(p.start_ns);
            out.extend(self.process_record(ctx, table, pid, pid, p, None, last, "end-of-trace"));
        }
        out
    }

    fn sweep(&mut self, ctx: &Context, table: &ProcessTable, now: u64, out: &mut Vec<Record>) {
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
            self.export_sock(ctx, table, id, reason, remove, out);
        }
    }

    /// The whole group of the event's process exited: the process table no longer holds
    /// it, but handed its facts over ([`Self::exiting`]).
    fn process_exit(
        &mut self,
        ctx: &Context,
        table: &ProcessTable,
        e: &Event,
        code: u32,
        out: &mut Vec<Record>,
    ) {
        let pid = e.common.pid;
        // Its files leave first: the process that held them is gone.
        let mut keys: Vec<FileKey> = self.files.keys().filter(|k| k.0 == pid).cloned().collect();
        keys.sort_by_key(|k| (self.files[k].first_ns, *k));
        for key in keys {
            self.export_file(ctx, table, &key, "process-exit", out);
        }
        self.written.retain(|k| k.0 != pid);
        if let Some((_, p)) = self.exiting.take().filter(|(exited, _)| *exited == pid) {
            let (tid, ts) = (e.common.tid, e.common.ts);
            out.extend(self.process_record(ctx, table, pid, tid, &p, Some(code), ts, "exit"));
        }
    }

    /// An fd of the event's process went away (close, or a dup2 or open over it); `was`
    /// what it held. A file is closed (CLOSE_WRITE when any of its fds since it was last
    /// closed was opened for writing) when no fd of the process holds it after the event.
    fn fd_closed(
        &mut self,
        ctx: &Context,
        e: &Event,
        was: Option<&FdKind>,
        r: &Resolved,
        table: &ProcessTable,
        out: &mut Vec<Record>,
    ) {
        let Some(&FdKind::File {
            file: Some(file),
            writable,
        }) = was
        else {
            return;
        };
        let pid = e.common.pid;
        let key = (pid, file, FILE_RECORD);
        if table.holds_file(pid, file) {
            if writable {
                self.written.insert(key);
            }
            return;
        }
        let written = self.written.remove(&key) || writable;
        let path = self.known_or(&key, &r.fd_name);
        let kind = if written { CLOSE_WRITE } else { CLOSE_NOWRITE };
        self.file_event(ctx, e, key, path, r, table, kind, out);
    }

    /// The path to hand [`file_event`](Self::file_event) for an event on an open fd that
    /// names no path itself: none (`""`) when the file already has a record being built,
    /// which keeps its own path for any kind but `MOVED_TO`, else `fd_name`, the fd's name
    /// in the process table.
    fn known_or<'a>(&self, key: &FileKey, fd_name: &'a Option<Arc<str>>) -> &'a str {
        if self.files.contains_key(key) {
            ""
        } else {
            fd_name.as_deref().unwrap_or_default()
        }
    }

    /// One event of kind `kind` about the file of `key`, named `path`. Its attributes are
    /// the inode model's after the event (`table`'s); before it, what the event says it
    /// changed (`r`), or the same.
    #[allow(clippy::too_many_arguments)]
    fn file_event(
        &mut self,
        ctx: &Context,
        e: &Event,
        key: FileKey,
        path: &str,
        r: &Resolved,
        table: &ProcessTable,
        kind: usize,
        out: &mut Vec<Record>,
    ) {
        let now = table.files().get(key.1);
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
            self.export_file(ctx, table, &key, reason, out);
        }
    }

    fn syscall(
        &mut self,
        ctx: &Context,
        e: &Event,
        sc: &Syscall,
        r: &Resolved,
        table: &ProcessTable,
        out: &mut Vec<Record>,
    ) {
        let ksys = sc.ksys();
        let pid = e.common.pid;
        let fd0 = sc.args[0] as i32;
        let ok = sc.ret >= 0;
        // Sockets first: anything that carries the socket's identity.
        if let Some(info) = sc.sock {
            self.sock_syscall(e, sc, ksys, &info, r, table);
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
                    (
                        Ksys::Openat2,
                        crate::replayer::input::decode::Filled::OpenHow { flags, .. },
                    ) => *flags,
                    _ => 0o1101,
                };
                let Some(t) = r.file0() else { return };
                let key = (pid, t.file, FILE_RECORD);
                let created = sc
                    .inode
                    .as_ref()
                    .is_some_and(|i| i.fmode.get() & 0x100000 != 0);
                self.fd_closed(ctx, e, r.replaced.as_ref(), r, table, out);
                let kind = if created { CREATE } else { OPEN };
                self.file_event(ctx, e, key, path, r, table, kind, out);
                if flags & 0o1000 != 0 && !created {
                    // O_TRUNC on an existing file changes it.
                    self.file_event(ctx, e, key, path, r, table, MODIFY, out);
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
                let Some(&FdKind::File {
                    file: Some(file), ..
                }) = r.fd_kind.as_ref()
                else {
                    return;
                };
                let key = (pid, file, FILE_RECORD);
                let kind = match ksys {
                    Ksys::Read | Ksys::Pread64 | Ksys::Readv | Ksys::Preadv | Ksys::Preadv2 => {
                        ACCESS
                    }
                    Ksys::Fchmod | Ksys::Fchown => ATTRIB,
                    _ => MODIFY,
                };
                let path = self.known_or(&key, &r.fd_name);
                self.file_event(ctx, e, key, path, r, table, kind, out);
            }
            Ksys::Close => {
                self.fd_closed(ctx, e, r.fd_kind.as_ref(), r, table, out);
                if let Some(id) = r.fd_kind.as_ref().and_then(FdKind::socket_id) {
                    self.sock_closed(ctx, table, e.common.ts, id, out);
                }
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
                self.fd_closed(ctx, e, r.replaced.as_ref(), r, table, out);
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
                self.file_event(ctx, e, key, path, r, table, kind, out);
            }
            Ksys::Unlink | Ksys::Unlinkat => {
                if ksys == Ksys::Unlinkat && sc.args[2] & 0x200 != 0 {
                    return; // a directory
                }
                let (Some(path), Some(t)) = (&r.path0, r.file0()) else {
                    return;
                };
                let key = (pid, t.file, FILE_RECORD);
                self.file_event(ctx, e, key, path, r, table, DELETE, out);
            }
            Ksys::Rename | Ksys::Renameat | Ksys::Renameat2 => {
                let (Some(old), Some(new), Some(t)) = (&r.path0, &r.path1, r.file0()) else {
                    return;
                };
                let mut moves = vec![(t.file, old, new)];
                // RENAME_EXCHANGE: the file at the new name moved to the old one.
                if ksys == Ksys::Renameat2
                    && sc.args[4] & crate::replayer::state::files::RENAME_EXCHANGE != 0
                {
                    if let Some(other) = r.file1().filter(|o| o.file != t.file) {
                        moves.push((other.file, new, old));
                    }
                }
                for (file, from, to) in moves {
                    let key = (pid, file, FILE_RECORD);
                    self.file_event(ctx, e, key, from, r, table, MOVED_FROM, out);
                    if let Some(agg) = self.files.get_mut(&key) {
                        agg.origin = Some(from.clone());
                    }
                    self.file_event(ctx, e, key, to, r, table, MOVED_TO, out);
                }
            }
            Ksys::Link | Ksys::Linkat | Ksys::Symlink | Ksys::Symlinkat => {
                let (Some(new), Some(t)) = (&r.path1, r.file0()) else {
                    return;
                };
                let key = (pid, t.file, LINK_RECORD);
                self.file_event(ctx, e, key, new, r, table, CREATE, out);
                if let Some(agg) = self.files.get_mut(&key) {
                    agg.mode_kind = if matches!(ksys, Ksys::Symlink | Ksys::Symlinkat) {
                        "symlink"
                    } else {
                        "hardlink"
                    };
                    agg.origin = r.path0.clone();
                }
                self.export_file(ctx, table, &key, "link", out);
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
                    // A copy makes and closes no fd: the table's entry is as it was before.
                    let Some(&FdKind::File {
                        file: Some(file), ..
                    }) = table.fd(pid, fd).map(|entry| &entry.kind)
                    else {
                        continue;
                    };
                    let key = (pid, file, FILE_RECORD);
                    let path = self.known_or(&key, name);
                    self.file_event(ctx, e, key, path, r, table, kind, out);
                }
            }
            _ => {}
        }
    }

    /// A syscall carrying socket `info`; `r.fd_kind` says what the process table knew of
    /// its fd before it (accepted: a server; the UNIX path it connected to).
    fn sock_syscall(
        &mut self,
        e: &Event,
        sc: &Syscall,
        ksys: Option<Ksys>,
        info: &SockInfo,
        r: &Resolved,
        table: &ProcessTable,
    ) {
        let pid = e.common.pid;
        let ts = e.common.ts;
        let id = info.sk_id.get();
        if matches!(ksys, Some(Ksys::Accept | Ksys::Accept4)) {
            return;
        }
        let (server, known_unix) = match &r.fd_kind {
            Some(FdKind::Socket { server, unix, .. }) => (*server, unix.as_deref()),
            _ => (false, None),
        };
        let addr_unix = match &sc.addr {
            Some(SockAddr::Unix { path }) => Some(path.as_str()),
            _ => None,
        };
        // A connect names the path it connects to; other syscalls the one connected to.
        let unix_path = match ksys {
            Some(Ksys::Connect) => addr_unix.or(known_unix),
            _ => known_unix.or(addr_unix),
        }
        .map(str::to_owned);
        let proc = self.facts(table, pid).cloned();
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
        // sendmmsg/recvmmsg: the last message's peer (ABI version 3) is the last talked to.
        let last_peer = sc.messages.iter().rev().find_map(|m| m.addr.as_ref());
        if let Some(addr @ (SockAddr::Inet { .. } | SockAddr::Inet6 { .. })) =
            last_peer.or(sc.addr.as_ref())
        {
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
        // sendmmsg/recvmmsg return messages; their bytes (of the first MMSG_MAX) are in aux.
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
        // sendmmsg/recvmmsg: each message of the vector; other syscalls: their payload.
        let chunks: Vec<&[u8]> = if sc.messages.is_empty() {
            vec![&sc.data]
        } else {
            sc.messages.iter().map(|m| m.data.as_slice()).collect()
        };
        if let (Some(app), true) = (app, chunks.iter().any(|c| !c.is_empty())) {
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
            for chunk in chunks.into_iter().filter(|c| !c.is_empty()) {
                for m in decoder.push(chunk, since) {
                    if msgs.len() < APP_MESSAGES_MAX {
                        msgs.push(m);
                    }
                }
            }
        }
    }

    /// An fd of socket `id` was closed at `ts`: TCP sockets leave on their CLOSE state,
    /// others now.
    fn sock_closed(
        &mut self,
        ctx: &Context,
        table: &ProcessTable,
        ts: u64,
        id: u64,
        out: &mut Vec<Record>,
    ) {
        let tcp = self
            .socks
            .get(&id)
            .is_some_and(|s| s.info.protocol == 6 && s.state.is_some());
        if let Some(s) = self.socks.get_mut(&id) {
            s.closed = true;
            s.last_ns = ts;
        }
        if !tcp {
            self.export_sock(ctx, table, id, "close", true, out);
        }
    }

    fn sock_state(
        &mut self,
        ctx: &Context,
        table: &ProcessTable,
        e: &Event,
        s: &SockStateRecord,
        out: &mut Vec<Record>,
    ) {
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
            self.export_sock(ctx, table, id, "tcp-close", true, out);
        }
    }

    fn export_file(
        &mut self,
        ctx: &Context,
        table: &ProcessTable,
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
        let proc = self.proc_keys(ctx, table, &mut facts, f.pid, f.tid, f.last_ns);
        // The entry is gone: its path becomes FilePath (up to the last `/`) and File.
        let mut dir = f.path;
        let name = match dir.rfind('/') {
            Some(i) => dir.split_off(i + 1),
            None => std::mem::take(&mut dir),
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
            dir,
            name,
            origin: f.origin,
            version: Fact::asked(versions),
            mode: f.mode_kind,
            event_count: f.counts.iter().sum(),
            events: FileEvents(f.counts),
            events_duration: Secs(f.last_ns.saturating_sub(f.first_ns) as i64),
            inode: last.ino,
            link_count: last.nlink,
            device: last
                .dev
                .map(|dev| self.shared.borrow_mut().device(ctx, dev)),
            permissions: last.perm.map(|perm| FilePermissions {
                kind: last.kind,
                perm,
            }),
            user: last.uid.map(|uid| ctx.user(uid)),
            group: last.gid.map(|gid| ctx.group(gid)),
            uid: last.uid,
            gid: last.gid,
            size: last.size,
            size_change: size_change.filter(|_| last.size.is_some()),
            access_time: last.atime_ns.map(KflowdTime),
            status_change_time: last.ctime_ns.map(KflowdTime),
            modification_time: last.mtime_ns.map(KflowdTime),
            modification_time_change,
            md5: Fact::asked(checksums),
            sha256: Fact::asked(checksums),
        };
        out.push(Record {
            info,
            proc,
            body: RecordBody::File(file),
            facts,
            span: (f.first_ns, f.last_ns),
        });
    }

    fn export_sock(
        &mut self,
        ctx: &Context,
        table: &ProcessTable,
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
            out.push(self.sock_record(ctx, table, &s, reason));
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

    fn sock_record(
        &self,
        ctx: &Context,
        table: &ProcessTable,
        s: &SockAgg,
        reason: &'static str,
    ) -> Record {
        let info = self.info(ctx, Monitor::Socket, s.last_ns, reason);
        let mut facts = PendingFacts::default();
        let proc = match &s.proc {
            Some(p) => self.proc_keys_of(ctx, table, &mut facts, s.pid, s.tid, p, s.last_ns),
            None => self.proc_keys(ctx, table, &mut facts, s.pid, s.tid, s.last_ns),
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
            ..SockTx::default()
        };
        let rx = SockRx {
            interface: iface,
            data_packets: tcp.map(|t| t.data_segs_in.get()),
            packets: tcp.map_or(s.rx.packets, |t| u64::from(t.segs_in.get())),
            duration: Secs(flow_duration(&s.rx)),
            bytes: s.rx.bytes,
            rtt: tcp.map(|t| Secs(t.srtt_us.get() as i64 * 1000)),
            ..SockRx::default()
        };
        let (tx, rx) = match &s.pkt {
            Some(pkt) => packet_keys(pkt, i, tx, rx, ctx.drop_reason_names()),
            None => (tx, rx),
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
            span: (s.first_ns, s.last_ns),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn process_record(
        &self,
        ctx: &Context,
        table: &ProcessTable,
        pid: u32,
        tid: u32,
        p: &ProcFacts,
        code: Option<u32>,
        last_ns: u64,
        reason: &'static str,
    ) -> Option<Record> {
        if !self.cfg.monitors.contains(&Monitor::Process) || !p.exec_seen() {
            return None;
        }
        let info = self.info(ctx, Monitor::Process, last_ns, reason);
        let mut facts = PendingFacts::default();
        let mut proc = self.proc_keys_of(ctx, table, &mut facts, pid, tid, p, last_ns);
        proc.ancestors = Some(p.image.as_ref().map_or_else(Vec::new, |image| {
            image
                .ancestors
                .iter()
                .map(|a| Ancestor {
                    exec_id: a.exec_id(ctx.boot_id()),
                    comm: a.comm.to_string(),
                    pid: a.pid,
                })
                .collect()
        }));
        let checksums = p.exe_inode.is_some() && ctx.capture.as_ref().is_some_and(|c| c.checksums);
        let record = ProcRecord {
            exe: p.exe.clone(),
            argv: p.argv.clone(),
            argc: p.argc,
            argv_truncated: p.argv_truncated,
            exec_time: p.exec_ns.map(|start| KflowdTime(ctx.realtime_ns(start))),
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
            span: (
                Some(p.start_ns)
                    .filter(|s| *s > 0)
                    .or(p.exec_ns)
                    .unwrap_or(last_ns),
                last_ns,
            ),
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
            timestamp: KflowdTime(ctx.realtime_ns(last_ns)),
            monitor,
            export: reason,
            host: self.shared.borrow_mut().host(ctx, &self.cfg.token),
            version: concat!("kellect-v", env!("CARGO_PKG_VERSION")),
            uptime: Secs(last_ns.saturating_sub(ctx.start_boot_ns()) as i64),
        }
    }

    /// The facts of process `pid`: the process table's, or those of the process that exited
    /// with the event being applied until its process record left.
    fn facts<'a>(&'a self, table: &'a ProcessTable, pid: u32) -> Option<&'a ProcFacts> {
        table.facts(pid).or_else(|| {
            self.exiting
                .as_ref()
                .filter(|(exited, _)| *exited == pid)
                .map(|(_, p)| &**p)
        })
    }

    /// The Proc* keys of process `pid` as the process table knows it now.
    fn proc_keys(
        &self,
        ctx: &Context,
        table: &ProcessTable,
        facts: &mut PendingFacts,
        pid: u32,
        tid: u32,
        at_ns: u64,
    ) -> ProcKeys {
        let unknown = ProcFacts::default();
        let p = self.facts(table, pid).unwrap_or(&unknown);
        self.proc_keys_of(ctx, table, facts, pid, tid, p, at_ns)
    }

    /// The Proc* keys of process `pid` whose facts are `p` (its parent's name as the
    /// process table knows it now).
    #[allow(clippy::too_many_arguments)]
    fn proc_keys_of(
        &self,
        ctx: &Context,
        table: &ProcessTable,
        facts: &mut PendingFacts,
        pid: u32,
        tid: u32,
        p: &ProcFacts,
        at_ns: u64,
    ) -> ProcKeys {
        let parent = self
            .facts(table, p.ppid)
            .map(|pp| CompactString::from(pp.comm.as_str()))
            .unwrap_or_default();
        let versions = ctx.capture.as_ref().is_some_and(|c| c.versions);
        if let Some(i) = &p.exe_inode {
            facts.proc = wants_facts(ctx).then_some((i.dev.get(), i.ino.get()));
        }
        ProcKeys {
            parent,
            comm: CompactString::from(p.comm.as_str()),
            exe_version: Fact::asked(p.exe_inode.is_some() && versions),
            user: ctx.user(p.uid),
            group: ctx.group(p.gid),
            ppid: p.ppid,
            pid,
            tid,
            exec_id: match &p.image {
                Some(image) => self
                    .exec_ids
                    .get(ctx.boot_id(), image.id.start_ns, image.id.pid),
                None => self
                    .exec_ids
                    .get(ctx.boot_id(), p.exec_ns.unwrap_or(p.start_ns), pid),
            },
            ancestors: None,
            uid: p.uid,
            gid: p.gid,
            age: (p.start_ns > 0).then(|| Secs(at_ns.saturating_sub(p.start_ns) as i64)),
            cgroup: p.cgroup.clone(),
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
pub fn permissions(kind: Option<u32>, perm: u32) -> String {
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
/// The calendar fields come from the `time` crate; the text is filled into a fixed template
/// by hand (not by `time`'s format descriptions nor by `write!`, several times slower):
/// every record carries one to four ([`kflowd::KflowdTime`], written as the record
/// renders). Any `i64` of nanoseconds is between the years 1677 and 2262, always four
/// digits.
pub fn kflowd_time(realtime_ns: i64) -> String {
    with_kflowd_time(realtime_ns, str::to_owned)
}

/// [`kflowd_time`], handed to `f` from a buffer on the stack (no allocation): how a
/// [`kflowd::KflowdTime`] is written.
pub fn with_kflowd_time<R>(realtime_ns: i64, f: impl FnOnce(&str) -> R) -> R {
    const WEEKDAYS: [&[u8; 3]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(realtime_ns)) else {
        return f(&format!("{realtime_ns} ns"));
    };
    // The decimal digits of `v` into `to`, zero-padded.
    let put = |to: &mut [u8], mut v: u32| {
        for d in to.iter_mut().rev() {
            *d = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    let mut text = *b"Mon, Jan 01 1970 00:00:00.000000000 UTC";
    text[0..3].copy_from_slice(WEEKDAYS[usize::from(t.weekday().number_days_from_monday())]);
    text[5..8].copy_from_slice(MONTHS[usize::from(u8::from(t.month()) - 1)]);
    put(&mut text[9..11], u32::from(t.day()));
    put(&mut text[12..16], t.year().unsigned_abs());
    put(&mut text[17..19], u32::from(t.hour()));
    put(&mut text[20..22], u32::from(t.minute()));
    put(&mut text[23..25], u32::from(t.second()));
    put(&mut text[26..35], t.nanosecond());
    // ASCII throughout: the template, the names and the digits.
    f(std::str::from_utf8(&text).unwrap_or_default())
}

/// The kflowd keys of a socket's packet counters (`REC_SOCK_COUNTERS`): TCP flag
/// combinations, duplicates and out-of-order packets for TCP; queued packets, drops (with
/// the kernel's reasons, by `names`) for every socket; fragments and the last TTL for TCP
/// and UDP.
fn packet_keys(
    pkt: &crate::abi::PktCounters,
    i: &SockInfo,
    mut tx: SockTx,
    mut rx: SockRx,
    names: &[(u32, String)],
) -> (SockTx, SockRx) {
    let inet = matches!(i.family.get(), 2 | 10);
    let tcp = inet && i.protocol == 6;
    rx.packets_queued = Some(pkt.rx_queued.get());
    rx.packets_drop = Some(pkt.rx_drops.get());
    let reasons = DropReasons::new(pkt, names);
    rx.drop_reasons = (!reasons.0.is_empty()).then_some(reasons);
    if inet {
        rx.packets_frag = Some(pkt.rx_frags.get());
        rx.ttl = (pkt.rx_ttl != 0).then_some(pkt.rx_ttl);
    }
    if tcp {
        tx.packets_dups = Some(pkt.tx_dups.get());
        tx.flags = Some(TcpFlags::new(&pkt.tx_flags));
        rx.packets_reorder = Some(pkt.rx_ooo.get());
        rx.flags = Some(TcpFlags::new(&pkt.rx_flags));
    }
    (tx, rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::replayer::state::execid::ProcessImages;
    use crate::replayer::state::tests::{exec_body, syscall as state_syscall};
    use crate::replayer::state::ProcessTable;
    use zerocopy::little_endian::{U16, U64};
    const AT_FDCWD: u64 = crate::replayer::state::AT_FDCWD as u64;

    /// Events through the process table, then the records view, as the replay runs them.
    struct Run {
        ctx: Context,
        table: ProcessTable,
        images: ProcessImages,
        view: RecordsView,
        out: Vec<Record>,
    }

    impl Run {
        fn new() -> Run {
            Run {
                ctx: Context::default(),
                table: ProcessTable::default(),
                images: ProcessImages::new(1024),
                view: RecordsView::new(RecordsConfig::default()),
                out: Vec::new(),
            }
        }

        fn feed(&mut self, e: Event) {
            let image = self.images.apply(&e);
            let r = self.table.apply_with_facts(&e, &image, &self.images);
            let built = self.view.event(&self.ctx, &e, &r, &self.table);
            self.out.extend(built);
        }

        /// The InfoTimestamp of boot-time `ns`.
        fn ctx_time(&self, ns: u64) -> String {
            kflowd_time(self.ctx.realtime_ns(ns))
        }

        /// The socket records out so far: (pid, role, export reason).
        fn socks(&self) -> Vec<(u32, &'static str, &'static str)> {
            self.out
                .iter()
                .filter_map(|r| match &r.body {
                    RecordBody::Sock(s) => Some((r.proc.pid, s.role, r.info.export)),
                    _ => None,
                })
                .collect()
        }
    }

    fn event(ts: u64, pid: u32, body: Body) -> Event {
        Event {
            body,
            ..state_syscall(ts, pid, Ksys::Read, [0; 6], None)
        }
    }

    /// Syscall `k` of `pid` returning `ret`, carrying the identity of UNIX datagram socket
    /// `sock` when given.
    fn syscall(ts: u64, pid: u32, k: Ksys, args: [u64; 6], ret: i64, sock: Option<u64>) -> Event {
        let mut e = state_syscall(ts, pid, k, args, None);
        if let Body::Syscall(sc) = &mut e.body {
            sc.ret = ret;
            sc.sock = sock.map(|id| SockInfo {
                sk_id: U64::new(id),
                family: U16::new(1),
                sock_type: 2,
                ..SockInfo::default()
            });
        }
        e
    }

    /// An accepted fd dup'd onto stdin (inetd style) is still the server's side: the
    /// process table's fd entry keeps its role through dup2 (the view's own map of
    /// accepted fds lost it: `SockRole` was `CLIENT`).
    #[test]
    fn a_dup_of_an_accepted_socket_serves() {
        let mut run = Run::new();
        run.feed(syscall(1, 10, Ksys::Accept4, [3, 0, 0, 0, 0, 0], 4, None));
        run.feed(syscall(2, 10, Ksys::Dup2, [4, 0, 0, 0, 0, 0], 0, None));
        run.feed(syscall(3, 10, Ksys::Close, [4, 0, 0, 0, 0, 0], 0, None));
        run.feed(syscall(4, 10, Ksys::Write, [0, 0, 5, 0, 0, 0], 5, Some(77)));
        run.feed(syscall(5, 10, Ksys::Close, [0, 0, 0, 0, 0, 0], 0, None));
        assert_eq!(run.socks(), [(10, "SERVER", "close")]);
    }

    /// A fork child holds its parent's sockets: its close of one exports the record, as
    /// the parent's close would (the view did so only for a socket the child had used).
    #[test]
    fn a_fork_child_closes_an_inherited_socket() {
        let mut run = Run::new();
        run.feed(syscall(1, 10, Ksys::Socket, [1, 2, 0, 0, 0, 0], 3, None));
        run.feed(syscall(2, 10, Ksys::Write, [3, 0, 5, 0, 0, 0], 5, Some(88)));
        let fork = Body::Fork {
            child_pid: 11,
            child_tid: 11,
            clone_flags: 0,
            child_comm: "t".into(),
            task: None,
        };
        run.feed(event(3, 10, fork));
        run.feed(syscall(4, 11, Ksys::Close, [3, 0, 0, 0, 0, 0], 0, None));
        // Named after the process that last used it.
        assert_eq!(run.socks(), [(10, "CLIENT", "close")]);
    }

    /// exec closes a close-on-exec socket: its record leaves at the exec (InfoExport
    /// close), not at a later close of its fd number, now a new socket's (the view
    /// exported it then).
    #[test]
    fn exec_closes_close_on_exec_fds() {
        let mut run = Run::new();
        const SOCK_CLOEXEC: u64 = 0o2000000;
        let socket = |ts| {
            syscall(
                ts,
                10,
                Ksys::Socket,
                [1, 2 | SOCK_CLOEXEC, 0, 0, 0, 0],
                3,
                None,
            )
        };
        run.feed(socket(1));
        run.feed(syscall(2, 10, Ksys::Write, [3, 0, 5, 0, 0, 0], 5, Some(99)));
        let exec = exec_body(10, "/bin/t", vec!["t".into()]);
        run.feed(event(3, 10, exec.clone()));
        assert_eq!(run.socks(), [(10, "CLIENT", "close")]);
        assert_eq!(run.out[0].info.timestamp.to_string(), run.ctx_time(3));
        run.feed(socket(4));
        run.feed(syscall(5, 10, Ksys::Close, [3, 0, 0, 0, 0, 0], 0, None));
        assert_eq!(run.socks().len(), 1, "the new socket was never used");
        // A file opened O_CLOEXEC for writing (no inode snapshot: an OPEN) is closed by the
        // exec: CLOSE_WRITE then (the view closed it only when its fd number was reused).
        let mut open = syscall(
            6,
            10,
            Ksys::Openat,
            [AT_FDCWD, 0, 0o2000101, 0, 0, 0],
            4,
            None,
        );
        if let Body::Syscall(sc) = &mut open.body {
            sc.path0 = Some("/tmp/log".into());
        }
        run.feed(open);
        run.feed(event(7, 10, exec));
        let closes: Vec<_> = run
            .out
            .iter()
            .filter_map(|r| match &r.body {
                RecordBody::File(f) => Some((f.name.clone(), r.info.export, f.events.0)),
                _ => None,
            })
            .collect();
        let mut counts = [0; 11];
        counts[OPEN] = 1;
        counts[CLOSE_WRITE] = 1;
        assert_eq!(closes, [("log".to_owned(), "close", counts)]);
    }

    /// A process record says how many arguments there were and that ProcArgv is not all
    /// of them (the events view did; the records view had only the first 16).
    #[test]
    fn process_records_carry_argc_and_the_argv_cut() {
        let mut run = Run::new();
        use crate::replayer::input::decode::ARGV_SHOWN;
        let argv: Vec<String> = (0..ARGV_SHOWN).map(|i| format!("a{i}")).collect();
        let exec = |argc: u32, argv: Vec<String>, cut| {
            let mut body = exec_body(10, "/bin/t", argv);
            if let Body::Exec {
                argc: n,
                argv_truncated,
                ..
            } = &mut body
            {
                (*n, *argv_truncated) = (argc, cut);
            }
            body
        };
        let exit = Body::Exit {
            code: 0,
            group_dead: true,
            group_exit: true,
            by_exec: false,
        };
        run.feed(event(1, 10, exec(20, argv.clone(), true)));
        run.feed(event(2, 10, exit.clone()));
        run.feed(event(3, 11, exec(2, argv[..2].to_vec(), false)));
        run.feed(event(4, 11, exit));
        let procs: Vec<_> = run
            .out
            .iter()
            .filter_map(|r| match &r.body {
                RecordBody::Proc(p) => Some((p.argv.len(), p.argc, p.argv_truncated)),
                _ => None,
            })
            .collect();
        assert_eq!(procs, [(ARGV_SHOWN, 20, true), (2, 2, false)]);
        let json = serde_json::to_value(&run.out[0]).unwrap();
        assert_eq!(json["ProcArgc"], 20);
        assert_eq!(json["ProcArgvTruncated"], true);
    }

    /// The process table hands over the processes that leave it: an exited one's process
    /// record names its program, as does a `table-full` record of one that exec'd and was
    /// forgotten to stay within memory; the end of the trace exports the exec'd processes
    /// still held (one that did not exec leaves no record).
    #[test]
    fn processes_leaving_the_process_table_leave_as_records() {
        use crate::replayer::state::{FACTS_BYTES, PROC_BYTES};
        let mut run = Run::new();
        // Room for two processes with facts (and their short paths and arguments).
        run.table = ProcessTable::default().with_process_limit(2 * (PROC_BYTES + FACTS_BYTES) + 80);
        let exit = Body::Exit {
            code: 3 << 8,
            group_dead: true,
            group_exit: true,
            by_exec: false,
        };
        run.feed(event(1, 10, exec_body(10, "/bin/a", vec!["a".into()])));
        run.feed(event(2, 10, exit));
        run.feed(event(3, 20, exec_body(20, "/bin/b", vec!["b".into()])));
        run.feed(event(4, 30, Body::Unknown { kind: 0 }));
        run.feed(event(5, 40, exec_body(40, "/bin/d", vec!["d".into()])));
        run.out.extend(run.view.finish(&run.ctx, &run.table));
        let procs: Vec<_> = run
            .out
            .iter()
            .filter_map(|r| match &r.body {
                RecordBody::Proc(p) => Some((
                    r.proc.pid,
                    p.exe.clone().unwrap_or_default(),
                    r.info.export,
                    p.exit_code,
                )),
                _ => None,
            })
            .collect();
        assert_eq!(
            procs,
            [
                (10, "/bin/a".to_owned(), "exit", Some(3)),
                (20, "/bin/b".to_owned(), "table-full", None),
                (40, "/bin/d".to_owned(), "end-of-trace", None),
            ]
        );
        // 40's exec passed the bound: 20, seen least recently, was forgotten; 30 is held
        // at the end, and leaves no record.
        assert_eq!((run.view.early_exports, run.table.forgotten()), (1, 1));
    }

    /// The host keys and FileDevice texts records share follow the trace's metadata: a
    /// mounts or interfaces block met later gives the records after it the new texts, and
    /// no more device texts are kept than the bound, however many devices a trace names.
    #[test]
    fn shared_keys_follow_the_metadata_blocks() {
        use crate::format::BlockKind;
        use crate::meta::{encode, Interface, Interfaces, Mount, Mounts};
        let mounts = |source: &str| Mounts {
            mounts: vec![Mount {
                dev: (8 << 20) | 1,
                mount_point: "/".into(),
                source: source.into(),
                fs_type: "ext4".into(),
            }],
        };
        let interfaces = |addr: &str| Interfaces {
            interfaces: vec![Interface {
                index: 2,
                name: "eth0".into(),
                mac: "02:00:00:00:00:01".into(),
                addrs: vec![addr.into()],
            }],
        };
        let mut ctx = Context::default();
        let mut shared = SharedKeys::default();
        let token = Some("t".to_owned());
        ctx.apply(BlockKind::Mounts, &encode(&mounts("/dev/sda1")))
            .unwrap();
        ctx.apply(BlockKind::Interfaces, &encode(&interfaces("10.0.0.1")))
            .unwrap();
        assert_eq!(
            &*shared.device(&ctx, (8 << 20) | 1),
            "801h:/dev/sda1:/:ext4"
        );
        let host = shared.host(&ctx, &token);
        assert_eq!(
            (host.host_ip.as_str(), host.host_token.as_deref()),
            ("10.0.0.1", Some("t"))
        );
        assert!(
            Arc::ptr_eq(&host, &shared.host(&ctx, &token)),
            "shared, not rebuilt"
        );

        ctx.apply(BlockKind::Mounts, &encode(&mounts("/dev/sdb1")))
            .unwrap();
        ctx.apply(BlockKind::Interfaces, &encode(&interfaces("10.0.0.2")))
            .unwrap();
        assert_eq!(
            &*shared.device(&ctx, (8 << 20) | 1),
            "801h:/dev/sdb1:/:ext4"
        );
        assert_eq!(shared.host(&ctx, &token).host_ip, "10.0.0.2");

        for dev in 0..(DEVICES_KEPT as u32 * 3) {
            assert_eq!(*shared.device(&ctx, dev), ctx.device(dev));
            assert!(shared.devices.len() <= DEVICES_KEPT);
        }
    }

    #[test]
    fn kflowd_times_match_the_time_crates_format() {
        let fmt = time::macros::format_description!(
            "[weekday repr:short], [month repr:short] [day] [year] [hour]:[minute]:[second].[subsecond digits:9] UTC"
        );
        let mut ns = i64::MIN;
        // Steps of ~53 days and a few ns across the whole range, and both ends.
        let mut cases = vec![i64::MIN, i64::MAX, 0, -1, 1];
        while let Some(next) = ns.checked_add(4_611_686_018_427_387 + 7) {
            cases.push(next);
            ns = next;
        }
        for ns in cases {
            let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns)).unwrap();
            assert_eq!(kflowd_time(ns), t.format(&fmt).unwrap(), "{ns}");
        }
    }

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
