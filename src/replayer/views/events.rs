//! The events view: one JSON object per kernel event, named after the catalogue (Kellect's
//! 38 event types and those added since: owner, time, extended attribute, copy and memfd
//! events). Common fields first in a fixed order, then the event's own fields; raw numbers
//! (flags, modes, prot, families, signals) come with symbolic siblings.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use crate::abi;
use crate::replayer::input::decode::{
    caller_argv, exe_name, Body, Event, Filled, SockAddr, Syscall, TimeSet, RET_UNKNOWN,
};
use crate::replayer::render::symbols::{self, Arch};
use crate::replayer::state::container::CgroupInfo;
use crate::replayer::state::{Resolved, AT_FDCWD};
use crate::syscalls::{Catalogue, Effect, Field, FlagFamily, TextFrom, CATALOGUE};
use std::sync::Arc;

pub use crate::syscalls::EventType;

/// The names of every event type of the catalogue, by group ([`EventType::ALL`]'s).
pub const EVENT_TYPES: [&str; EventType::ALL.len()] = {
    let mut names = [""; EventType::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = EventType::ALL[i].name();
        i += 1;
    }
    names
};

/// `FMODE_CREATED` in `struct file`'s f_mode: the open created the file.
const FMODE_CREATED: u32 = 0x100000;
const O_CREAT: u64 = 0o100;
/// `__O_TMPFILE` (the same on x86_64 and aarch64).
const O_TMPFILE: u64 = 0o20000000;
const AT_REMOVEDIR: u64 = 0x200;

/// An event ready to render.
pub struct EventView<'a> {
    /// Microseconds since the Unix epoch, from the event's own timestamp.
    pub timestamp_us: i64,
    pub event: &'a Event,
    pub resolved: &'a Resolved,
    pub arch: Arch,
    /// The syscall table the event's syscall id is looked up in (normally [`CATALOGUE`]).
    pub catalogue: Catalogue<'a>,
    /// The exec id of the process image the event belongs to (`crate::replayer::state::execid`); the
    /// replay always sets it.
    pub exec_id: Option<&'a str>,
}

/// The catalogue name of an event (`None` for records that are context only, such as
/// `socket`, or of a kind this build does not know), with this build's table.
pub fn event_type(event: &Event) -> Option<&'static str> {
    event_kind(event, &CATALOGUE).map(EventType::name)
}

/// The catalogue event type of an event, its syscall looked up in `catalogue` (`None`
/// for context-only records and for syscall ids the table lacks).
pub fn event_kind(event: &Event, catalogue: &Catalogue<'_>) -> Option<EventType> {
    if event.common.context {
        return None;
    }
    Some(match &event.body {
        Body::Fork { child_pid, .. } if *child_pid == event.common.pid => EventType::ProcessClone,
        Body::Fork { .. } => EventType::ProcessFork,
        Body::Exec { .. } => EventType::ProcessExec,
        // The leader's task ends inside another thread's exec, but the process goes on
        // under the same pid: the `process_exec` that follows is its event, no exit.
        Body::Exit { by_exec: true, .. } if event.common.tid == event.common.pid => return None,
        Body::Exit { .. } => EventType::ProcessExit,
        // An io_uring request, whatever it does: no syscall of its own ran.
        Body::Syscall(sc) if sc.uring.is_some() => EventType::IoUringOp,
        Body::Syscall(sc) => syscall_event_type(sc, catalogue)?,
        // Socket state is context for the records view, not a catalogue event.
        Body::SockState(_) | Body::SockCounters(_) | Body::Cgroup(_) | Body::Unknown { .. } => {
            return None
        }
    })
}

/// The row's event type; an open that created its file is a `file_create`, an
/// `unlinkat` with `AT_REMOVEDIR` a `file_rmdir`.
fn syscall_event_type(sc: &Syscall, catalogue: &Catalogue<'_>) -> Option<EventType> {
    let row = catalogue.row(sc.id)?;
    let event = row.event?;
    Some(match row.effect {
        Effect::Open { flags } => {
            let created = sc
                .inode
                .as_ref()
                .is_some_and(|i| i.fmode.get() & FMODE_CREATED != 0);
            if created && sc.value(flags) & O_CREAT != 0 {
                EventType::FileCreate
            } else {
                event
            }
        }
        Effect::Unlink { flags } if sc.value(flags) & AT_REMOVEDIR != 0 => EventType::FileRmdir,
        _ => event,
    })
}

/// The fields of an io_uring request that does no catalogue syscall: the SQE's fd, its
/// name, and the inode of the request's file.
const URING_OTHER: &[Field] = &[Field::Fd("fd", 0), Field::FdName, Field::Ino];

/// An id argument of the set*id family: -1 ("unchanged") stays -1.
fn id_arg(v: u64) -> i64 {
    match v as u32 {
        u32::MAX => -1,
        id => id as i64,
    }
}

/// The symbolic form of a value of a flag family.
fn flags_text(family: FlagFamily, arch: Arch, v: u64) -> String {
    match family {
        FlagFamily::Open => symbols::open_flags(arch, v),
        FlagFamily::At => symbols::at_flags(v),
        FlagFamily::Rename => symbols::rename_flags(v),
        FlagFamily::Pipe => symbols::pipe_flags(arch, v),
        FlagFamily::Mmap => symbols::mmap_flags(v),
        FlagFamily::Prot => symbols::prot_flags(v),
        FlagFamily::Msg => symbols::msg_flags(v),
        FlagFamily::SocketType => symbols::socket_type(v),
        FlagFamily::Ptrace => symbols::ptrace_request(v),
        FlagFamily::AddressFamily => symbols::address_family(v),
        FlagFamily::IpProtocol => symbols::ip_protocol(v),
        FlagFamily::Xattr => xattr_flags(v),
        FlagFamily::Clone => symbols::clone_flags(v),
        FlagFamily::Enum(names) => symbols::enum_name(v, names),
        FlagFamily::Bits(names) => symbols::bit_names(v, names),
    }
}

/// `XATTR_CREATE` (1) and `XATTR_REPLACE` (2) of the setxattr family, `|`-joined; other
/// bits in hex; `0` for none.
fn xattr_flags(v: u64) -> String {
    let mut parts = Vec::new();
    for (bit, name) in [(1, "XATTR_CREATE"), (2, "XATTR_REPLACE")] {
        if v & bit != 0 {
            parts.push(name.to_owned());
        }
    }
    if v & !3 != 0 {
        parts.push(format!("{:#x}", v & !3));
    }
    if parts.is_empty() {
        "0".to_owned()
    } else {
        parts.join("|")
    }
}

/// One time a utime-family call set, as `key` (and `key_ns` for a time given): see
/// [`Field::Times`].
fn time_set<S: Serializer>(m: &mut Map<S>, key: &str, t: TimeSet) -> Result<(), S::Error> {
    match t {
        TimeSet::Now => m.serialize_entry(key, "UTIME_NOW"),
        TimeSet::Omit => m.serialize_entry(key, "UTIME_OMIT"),
        TimeSet::At { sec, nsec } => {
            let text = t.ns().and_then(|ns| {
                time::OffsetDateTime::from_unix_timestamp_nanos(ns as i128)
                    .ok()?
                    .format(&time::format_description::well_known::Rfc3339)
                    .ok()
            });
            match (text, t.ns()) {
                (Some(text), Some(ns)) => {
                    m.serialize_entry(key, &text)?;
                    m.serialize_entry(&format!("{key}_ns"), &ns)
                }
                // Not a time (the kernel refuses it): the raw values.
                _ => {
                    m.serialize_entry(key, "invalid")?;
                    m.serialize_entry(&format!("{key}_sec"), &sec)?;
                    m.serialize_entry(&format!("{key}_nsec"), &nsec)
                }
            }
        }
    }
}

type Map<S> = <S as Serializer>::SerializeMap;

impl Serialize for EventView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(None)?;
        self.head_entries::<S>(&mut m)?;
        self.process_entries::<S>(&mut m)?;
        self.own_entries::<S>(&mut m)?;
        m.end()
    }
}

/// One of the three runs of an event's fields ([`EventView::head_entries`],
/// [`process_entries`](EventView::process_entries), [`own_entries`](EventView::own_entries)),
/// serialized as an object of its own.
struct Entries<'v, 'a>(&'v EventView<'a>, Run);

#[derive(Clone, Copy)]
enum Run {
    Head,
    Process,
    Own,
}

impl Serialize for Entries<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(None)?;
        match self.1 {
            Run::Head => self.0.head_entries::<S>(&mut m)?,
            Run::Process => self.0.process_entries::<S>(&mut m)?,
            Run::Own => self.0.own_entries::<S>(&mut m)?,
        }
        m.end()
    }
}

/// The JSON text of the process fields ([`EventView::process_entries`]) of the event
/// rendered last, with what they were made from: a run of events of one thread (most of a
/// trace) serializes them once. Held per rendering buffer.
#[derive(Default)]
pub struct ProcessText {
    key: Option<ProcessKey>,
    /// The entries, after a comma, without the object's braces (`,"comm":"x",...`, or with
    /// `pretty` the lines between them); empty when there are none.
    text: Vec<u8>,
}

/// What [`EventView::process_entries`] writes depends on, and nothing else (and whether
/// it was written pretty).
struct ProcessKey {
    pretty: bool,
    comm: compact_str::CompactString,
    ids: [u32; 5],
    exec_id: Option<String>,
    /// The container's cgroup, by identity (held, so its address is not another's): an
    /// equal cgroup elsewhere does not match (the entries are then serialized again).
    container: Option<Arc<CgroupInfo>>,
}

impl ProcessKey {
    fn matches(&self, view: &EventView<'_>, pretty: bool) -> bool {
        let c = &view.event.common;
        self.pretty == pretty
            && self.ids == [c.pid, c.tid, c.ppid, c.uid, c.gid]
            && self.comm == c.comm
            && self.exec_id.as_deref() == view.exec_id
            && match (&self.container, &view.resolved.container) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            }
    }
}

impl EventView<'_> {
    /// The fields every event starts with: `timestamp`, `event_type`, `syscall` (events of
    /// a syscall of the catalogue, not io_uring requests), `compat` (32-bit syscalls).
    fn head_entries<S: Serializer>(&self, m: &mut Map<S>) -> Result<(), S::Error> {
        let e = self.event;
        let c = &e.common;
        m.serialize_entry("timestamp", &self.timestamp_us)?;
        let kind = event_kind(e, &self.catalogue);
        m.serialize_entry("event_type", kind.map_or("unknown", EventType::name))?;
        let uring = matches!(&e.body, Body::Syscall(sc) if sc.uring.is_some());
        if let Some(row) = self.catalogue.row(c.syscall).filter(|_| !uring) {
            m.serialize_entry("syscall", row.name)?;
        }
        if c.compat {
            m.serialize_entry("compat", &true)?;
        }
        Ok(())
    }

    /// The fields of the event's process and thread: `comm`, `pid`, `tid`, `ppid`,
    /// `process_type`, `uid`, `gid`, `exec_id`, and its container's (`container_id`,
    /// `container_runtime`, `pod_uid`) when it runs in one. They depend on
    /// [`ProcessKey`]'s fields only.
    fn process_entries<S: Serializer>(&self, m: &mut Map<S>) -> Result<(), S::Error> {
        let c = &self.event.common;
        m.serialize_entry("comm", &c.comm)?;
        m.serialize_entry("pid", &c.pid)?;
        m.serialize_entry("tid", &c.tid)?;
        m.serialize_entry("ppid", &c.ppid)?;
        let process_type = if c.tid == c.pid { "process" } else { "thread" };
        m.serialize_entry("process_type", process_type)?;
        m.serialize_entry("uid", &c.uid)?;
        m.serialize_entry("gid", &c.gid)?;
        if let Some(id) = &self.exec_id {
            m.serialize_entry("exec_id", id)?;
        }
        if let Some(k) = self
            .resolved
            .container
            .as_ref()
            .and_then(|c| c.container.as_ref())
        {
            m.serialize_entry("container_id", &k.id)?;
            m.serialize_entry("container_runtime", k.runtime)?;
            if let Some(pod) = &k.pod {
                m.serialize_entry("pod_uid", pod)?;
            }
        }
        Ok(())
    }

    /// The event's own fields, by its kind.
    fn own_entries<S: Serializer>(&self, m: &mut Map<S>) -> Result<(), S::Error> {
        let e = self.event;
        let c = &e.common;
        match &e.body {
            Body::Fork {
                child_pid,
                child_tid,
                clone_flags,
                child_comm,
                ..
            } => {
                m.serialize_entry("ret", child_tid)?;
                if *child_pid == c.pid {
                    m.serialize_entry("flags", clone_flags)?;
                    m.serialize_entry("flags_text", &symbols::clone_flags(*clone_flags))?;
                    m.serialize_entry("child_tid", child_tid)?;
                } else {
                    m.serialize_entry("parent_pid", &c.pid)?;
                    m.serialize_entry("parent_comm", &c.comm)?;
                    m.serialize_entry("child_pid", child_pid)?;
                    m.serialize_entry("child_comm", child_comm)?;
                    if *clone_flags != 0 {
                        m.serialize_entry("flags", clone_flags)?;
                        m.serialize_entry("flags_text", &symbols::clone_flags(*clone_flags))?;
                    }
                }
            }
            Body::Exec {
                old_pid,
                argc,
                filename,
                filename_truncated,
                argv,
                argv_truncated,
                exe_path,
                exe_flags,
                caller_argv0,
                task,
                ..
            } => {
                m.serialize_entry("ret", &0)?;
                match &self.resolved.path0 {
                    Some(abs) if abs != filename => {
                        m.serialize_entry("filename", abs)?;
                        m.serialize_entry("filename_arg", filename)?;
                    }
                    _ => m.serialize_entry("filename", filename)?,
                }
                if *filename_truncated {
                    m.serialize_entry("filename_truncated", &true)?;
                }
                m.serialize_entry("argv", argv)?;
                m.serialize_entry("argc", argc)?;
                if *argv_truncated {
                    m.serialize_entry("argv_truncated", &true)?;
                }
                m.serialize_entry("old_pid", old_pid)?;
                if let Some(exe) = exe_path {
                    exe_fields::<S>(m, exe, *exe_flags)?;
                }
                if let Some(argv0) = caller_argv0 {
                    match caller_argv(argv, filename, argv0) {
                        Some(list) => m.serialize_entry("caller_argv", &list)?,
                        None => m.serialize_entry("caller_argv0", argv0)?,
                    }
                }
                if let Some(t) = task {
                    m.serialize_entry("cgroup_id", &t.cgroup_id.get())?;
                    m.serialize_entry("pid_ns", &t.pid_ns.get())?;
                    m.serialize_entry("mnt_ns", &t.mnt_ns.get())?;
                    m.serialize_entry("net_ns", &t.net_ns.get())?;
                }
            }
            Body::Exit { code, .. } => {
                let signal = (code & 0x7f) as u64;
                m.serialize_entry("exit_code", &((code >> 8) & 0xff))?;
                m.serialize_entry("signal", &signal)?;
                if let Some(name) = symbols::signal_name(signal) {
                    m.serialize_entry("signal_name", &name)?;
                }
                if code & 0x80 != 0 {
                    m.serialize_entry("core_dumped", &true)?;
                }
            }
            Body::Syscall(sc) => self.syscall_fields::<S>(m, sc)?,
            Body::SockState(_) | Body::SockCounters(_) | Body::Cgroup(_) => {}
            Body::Unknown { kind } => {
                m.serialize_entry("kind", kind)?;
            }
        }
        Ok(())
    }

    fn process_key(&self, pretty: bool) -> ProcessKey {
        let c = &self.event.common;
        ProcessKey {
            pretty,
            comm: c.comm.clone(),
            ids: [c.pid, c.tid, c.ppid, c.uid, c.gid],
            exec_id: self.exec_id.map(str::to_owned),
            container: self.resolved.container.clone(),
        }
    }

    /// Appends the event's JSON text (`pretty` or compact) to `buf`, the bytes
    /// `serde_json` gives for the whole event, with the process fields taken from `cache`
    /// when the event before had the same ones. Each run is serialized as an object of its
    /// own and the three are joined: an object's entries are written the same whatever
    /// entries come before them (at one depth, pretty or not). Err as serde_json's when a
    /// run does not serialize; `buf` then holds a part of the event.
    pub fn json_text_into(
        &self,
        pretty: bool,
        cache: &mut ProcessText,
        buf: &mut Vec<u8>,
    ) -> serde_json::Result<()> {
        // Appends `run` as an object and takes its closing brace off (`\n}` pretty); with
        // `after`, its entries follow others: its opening brace becomes their comma, and an
        // empty one leaves nothing.
        let write = |run: Run, after: bool, out: &mut Vec<u8>| {
            let start = out.len();
            let item = Entries(self, run);
            if pretty {
                serde_json::to_writer_pretty(&mut *out, &item)?;
            } else {
                serde_json::to_writer(&mut *out, &item)?;
            }
            if out.len() == start + 2 {
                // `{}`
                out.truncate(if after { start } else { start + 1 });
            } else {
                out.truncate(out.len() - if pretty { 2 } else { 1 });
                if after {
                    out[start] = b',';
                }
            }
            serde_json::Result::Ok(())
        };
        if !cache.key.as_ref().is_some_and(|k| k.matches(self, pretty)) {
            cache.key = None;
            cache.text.clear();
            write(Run::Process, true, &mut cache.text)?;
            cache.key = Some(self.process_key(pretty));
        }
        // The head always holds `timestamp` and `event_type`.
        write(Run::Head, false, buf)?;
        buf.extend_from_slice(&cache.text);
        write(Run::Own, true, buf)?;
        buf.extend_from_slice(if pretty { b"\n}" } else { b"}" });
        Ok(())
    }
}

impl EventView<'_> {
    /// The syscall's own fields, as its row lists them (every raw argument for an id the
    /// table lacks).
    fn syscall_fields<S: Serializer>(&self, m: &mut Map<S>, sc: &Syscall) -> Result<(), S::Error> {
        if let Some(op) = &sc.uring {
            m.serialize_entry("opcode", &op.opcode)?;
            m.serialize_entry("opcode_name", symbols::io_uring_op(op.opcode))?;
            m.serialize_entry("user_data", &op.user_data)?;
            if let Some(row) = self.catalogue.row(sc.id) {
                // The syscall the request does, and the event that syscall would be.
                m.serialize_entry("as_syscall", row.name)?;
                if let Some(t) = syscall_event_type(sc, &self.catalogue) {
                    m.serialize_entry("as_event", t.name())?;
                }
            }
            if op.fixed {
                m.serialize_entry("fixed_file", &op.sqe_fd)?;
            }
            if op.skip_success {
                m.serialize_entry("skip_success", &true)?;
            }
            if op.submitted {
                // No CQE will tell: the request as submitted, without ret.
                m.serialize_entry("result_unknown", &true)?;
            }
        }
        if sc.ret != RET_UNKNOWN {
            m.serialize_entry("ret", &sc.ret)?;
        }
        if (-4095..0).contains(&sc.ret) {
            m.serialize_entry("error", &symbols::errno_name(sc.ret).unwrap_or("E?"))?;
        }
        let other: &[Field] = match &sc.uring {
            // A registered file's index is no fd (the recorder gives such requests no
            // syscall): its name in the fd table is not looked up; an open into a
            // registered slot keeps its path, as given.
            Some(op) if op.fixed => {
                if let Some(p) = &sc.path0 {
                    m.serialize_entry("path_arg", p)?;
                }
                &[Field::Ino]
            }
            Some(_) => URING_OTHER,
            None => &[Field::Args],
        };
        let fields = self.catalogue.row(sc.id).map_or(other, |r| r.fields);
        for field in fields {
            self.field::<S>(m, sc, field)?;
        }
        Ok(())
    }

    /// One field of a syscall event.
    fn field<S: Serializer>(
        &self,
        m: &mut Map<S>,
        sc: &Syscall,
        field: &Field,
    ) -> Result<(), S::Error> {
        let r = self.resolved;
        let arg = |i: u8| sc.args.get(i as usize).copied().unwrap_or(0);
        let int = |i: u8| arg(i) as i32;
        let mode = |m: &mut Map<S>, v: u64| -> Result<(), S::Error> {
            m.serialize_entry("mode", &v)?;
            m.serialize_entry("mode_text", &symbols::file_mode(v))
        };
        match *field {
            Field::Path {
                key, slot, dirfd, ..
            } => {
                if let Some((dkey, i)) = dirfd {
                    match int(i) {
                        AT_FDCWD => m.serialize_entry(dkey, "AT_FDCWD")?,
                        v => m.serialize_entry(dkey, &v)?,
                    }
                }
                let (resolved, raw, cut) = match slot {
                    0 => (&r.path0, &sc.path0, sc.path0_truncated),
                    _ => (&r.path1, &sc.path1, sc.path1_truncated),
                };
                if let Some(p) = resolved {
                    m.serialize_entry(key, p)?;
                    if let Some(raw) = raw.as_ref().filter(|raw| *raw != p) {
                        m.serialize_entry(&format!("{key}_arg"), raw)?;
                    }
                }
                if sc.path_null[usize::from(slot.min(1))] {
                    // Passed as NULL: no path, whatever it resolves to.
                    m.serialize_entry(&format!("{key}_arg"), &())?;
                }
                if cut {
                    m.serialize_entry(&format!("{key}_truncated"), &true)?;
                }
            }
            Field::Fd(key, i) | Field::NewFd(key, i) | Field::Int(key, i) => {
                m.serialize_entry(key, &int(i))?
            }
            Field::FdName => {
                if let Some(p) = &r.fd_name {
                    m.serialize_entry("path", p)?;
                }
            }
            Field::RetFd(key) => {
                if sc.ret >= 0 {
                    m.serialize_entry(key, &sc.ret)?;
                }
            }
            Field::FdPair => {
                if let Filled::FdPair(x, y) = sc.filled {
                    m.serialize_entry("fd0", &x)?;
                    m.serialize_entry("fd1", &y)?;
                }
            }
            Field::Ino => {
                if let Some(i) = &sc.inode {
                    m.serialize_entry("ino", &i.ino.get())?;
                }
            }
            Field::Flags(key, src, family) => {
                let v = sc.value(src);
                m.serialize_entry(key, &v)?;
                m.serialize_entry(&format!("{key}_text"), &flags_text(family, self.arch, v))?;
            }
            Field::Symbol(key, i, family) => {
                m.serialize_entry(key, &flags_text(family, self.arch, arg(i)))?
            }
            Field::Mode(src) => mode(m, sc.value(src))?,
            Field::CreateMode { mode: src, flags } => {
                // The mode argument means something only when a file may be created.
                if sc.value(flags) & (O_CREAT | O_TMPFILE) != 0 {
                    mode(m, sc.value(src))?;
                }
            }
            Field::StatBuf => {
                if let Filled::Stat(st) = &sc.filled {
                    mode(m, st.mode.get() as u64)?;
                    if let Some(t) = symbols::file_type(st.mode.get() as u64) {
                        m.serialize_entry("file_type", t)?;
                    }
                    // The file's owner (uid/gid above are the process's).
                    m.serialize_entry("file_uid", &st.uid.get())?;
                    m.serialize_entry("file_gid", &st.gid.get())?;
                    m.serialize_entry("ino", &st.ino.get())?;
                    m.serialize_entry("size", &st.size.get())?;
                }
            }
            Field::U64(key, i) => m.serialize_entry(key, &arg(i))?,
            Field::I64(key, i) => m.serialize_entry(key, &(arg(i) as i64))?,
            // `uid`/`gid` are the process's own: the argument is the one asked for.
            Field::Id(key, i) => m.serialize_entry(key, &id_arg(arg(i)))?,
            Field::Signal(i) => {
                m.serialize_entry("sig", &int(i))?;
                if let Some(n) = symbols::signal_name(arg(i)) {
                    m.serialize_entry("sig_name", &n)?;
                }
            }
            Field::Bytes if sc.ret == RET_UNKNOWN => {}
            Field::Bytes => m.serialize_entry("bytes", &sc.ret.max(0))?,
            Field::MmsgCounts => {
                m.serialize_entry("messages", &sc.ret.max(0))?;
                m.serialize_entry("bytes", &sc.aux)?;
                if !sc.messages.is_empty() {
                    let lens: Vec<u32> = sc.messages.iter().map(|x| x.len).collect();
                    m.serialize_entry("message_lengths", &lens)?;
                    // Past the first MMSG_MAX: neither length nor payload was read.
                    let left = (sc.ret.max(0) as u64).saturating_sub(lens.len() as u64);
                    m.serialize_entry("messages_left_out", &left)?;
                    let cut: u64 = sc
                        .messages
                        .iter()
                        .map(|x| u64::from(x.len).saturating_sub(x.data.len() as u64))
                        .sum();
                    m.serialize_entry("payload_left_out", &cut)?;
                    if sc.messages.iter().any(|x| x.addr.is_some()) {
                        let peers: Vec<Option<String>> = sc
                            .messages
                            .iter()
                            .map(|x| x.addr.as_ref().map(peer_text))
                            .collect();
                        m.serialize_entry("message_peers", &peers)?;
                    }
                }
            }
            Field::Sock => sock::<S>(m, sc)?,
            Field::PeerAddr => peer_addr::<S>(m, sc)?,
            Field::PeerOrSocket => {
                if sc.addr.is_some() {
                    peer_addr::<S>(m, sc)?;
                } else if let Some(p) = &r.fd_name {
                    m.serialize_entry("socket", p)?;
                }
            }
            Field::FcntlCmd(i) => {
                let cmd = if arg(i) == 0 {
                    "F_DUPFD"
                } else {
                    "F_DUPFD_CLOEXEC"
                };
                m.serialize_entry("cmd", cmd)?;
            }
            Field::Args => m.serialize_entry("args", &sc.args)?,
            Field::Value(key, src) => m.serialize_entry(key, &sc.value(src))?,
            Field::Times(i) => match sc.filled {
                Filled::Times { atime, mtime } => {
                    time_set::<S>(m, "atime", atime)?;
                    time_set::<S>(m, "mtime", mtime)?;
                }
                // A NULL buffer: both times become the current time.
                _ if arg(i) == 0 => {
                    m.serialize_entry("atime", "now")?;
                    m.serialize_entry("mtime", "now")?;
                }
                _ => {}
            },
            Field::OtherFd { key, arg, name_key } => {
                m.serialize_entry(key, &int(arg))?;
                if let Some(p) = &r.other_fd_name {
                    m.serialize_entry(name_key, p)?;
                }
            }
            Field::OtherIno => {
                if let Filled::FdInode(i) = &sc.filled {
                    m.serialize_entry("ino_out", &i.ino.get())?;
                }
            }
            Field::Text { key, from, when } => {
                let shown = when.is_none_or(|(i, values)| values.contains(&arg(i)));
                let text = match (from, &sc.filled) {
                    (TextFrom::Path(0), _) => sc.path0.as_deref(),
                    (TextFrom::Path(_), _) => sc.path1.as_deref(),
                    (TextFrom::Short, Filled::Short(t)) => Some(t.as_str()),
                    (TextFrom::Short, _) => None,
                };
                if let Some(t) = text.filter(|t| shown && !t.is_empty()) {
                    m.serialize_entry(key, t)?;
                    let cut = match from {
                        TextFrom::Path(0) => sc.path0_truncated,
                        TextFrom::Path(_) => sc.path1_truncated,
                        TextFrom::Short => false,
                    };
                    if cut {
                        m.serialize_entry(&format!("{key}_truncated"), &true)?;
                    }
                }
            }
            Field::BpfAttr => {
                if let Filled::BpfAttr(attr) = &sc.filled {
                    bpf_attr::<S>(m, arg(0), attr)?;
                }
            }
            Field::CapSets => {
                if let Filled::Capset {
                    version,
                    pid,
                    effective,
                    permitted,
                    inheritable,
                } = sc.filled
                {
                    m.serialize_entry("cap_version", &format!("{version:#x}"))?;
                    m.serialize_entry("target_pid", &pid)?;
                    for (key, set) in [
                        ("effective", effective),
                        ("permitted", permitted),
                        ("inheritable", inheritable),
                    ] {
                        m.serialize_entry(key, &set)?;
                        m.serialize_entry(&format!("{key}_text"), &symbols::capabilities(set))?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// `BPF_MAP_CREATE` and `BPF_PROG_LOAD` (linux/bpf.h `enum bpf_cmd`).
const BPF_MAP_CREATE: u64 = 0;
const BPF_PROG_LOAD: u64 = 5;

/// What bpf's attribute union (its first bytes, `attr`) says for command `cmd`: see
/// [`Field::BpfAttr`]. A value the caller's `size` left out is not shown.
fn bpf_attr<S: Serializer>(m: &mut Map<S>, cmd: u64, attr: &[u8]) -> Result<(), S::Error> {
    let u32_at = |off: usize| {
        attr.get(off..off + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
    };
    // A NUL-padded name of 16 bytes (BPF_OBJ_NAME_LEN).
    let name_at = |off: usize| attr.get(off..off + 16).map(abi::c_str);
    match cmd {
        BPF_PROG_LOAD => {
            // prog_type, insn_cnt, insns, license, log_level, log_size, log_buf,
            // kern_version, prog_flags, prog_name[16] (at 48).
            if let Some(t) = u32_at(0) {
                m.serialize_entry("prog_type", &t)?;
                m.serialize_entry("prog_type_text", &symbols::bpf_prog_type(t.into()))?;
            }
            if let Some(n) = u32_at(4) {
                m.serialize_entry("insn_cnt", &n)?;
            }
            if let Some(name) = name_at(48).filter(|n| !n.is_empty()) {
                m.serialize_entry("prog_name", &name)?;
            }
        }
        BPF_MAP_CREATE => {
            // map_type, key_size, value_size, max_entries, map_flags, inner_map_fd,
            // numa_node, map_name[16] (at 28).
            if let Some(t) = u32_at(0) {
                m.serialize_entry("map_type", &t)?;
                m.serialize_entry("map_type_text", &symbols::bpf_map_type(t.into()))?;
            }
            for (key, off) in [("key_size", 4), ("value_size", 8), ("max_entries", 12)] {
                if let Some(v) = u32_at(off) {
                    m.serialize_entry(key, &v)?;
                }
            }
            if let Some(name) = name_at(28).filter(|n| !n.is_empty()) {
                m.serialize_entry("map_name", &name)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The socket address argument: `family`, then `addr` and `port` or the UNIX `path`.
fn peer_addr<S: Serializer>(m: &mut Map<S>, sc: &Syscall) -> Result<(), S::Error> {
    match &sc.addr {
        Some(SockAddr::Inet { ip, port }) => {
            m.serialize_entry("family", "AF_INET")?;
            m.serialize_entry("addr", &ip.to_string())?;
            m.serialize_entry("port", port)?;
        }
        Some(SockAddr::Inet6 { ip, port, .. }) => {
            m.serialize_entry("family", "AF_INET6")?;
            m.serialize_entry("addr", &ip.to_string())?;
            m.serialize_entry("port", port)?;
        }
        Some(SockAddr::Unix { path }) => {
            m.serialize_entry("family", "AF_UNIX")?;
            m.serialize_entry("path", path)?;
        }
        Some(SockAddr::Other { family }) => {
            m.serialize_entry("family", &symbols::address_family(*family as u64))?;
        }
        None => {}
    }
    Ok(())
}

/// A peer address as one string: `IP:PORT` (`[IPv6]:PORT`), a UNIX path, or the family's
/// name.
fn peer_text(addr: &SockAddr) -> String {
    match addr {
        SockAddr::Inet { ip, port } => format!("{ip}:{port}"),
        SockAddr::Inet6 { ip, port, .. } => format!("[{ip}]:{port}"),
        SockAddr::Unix { path } => path.clone(),
        SockAddr::Other { family } => symbols::address_family(u64::from(*family)),
    }
}

/// The socket behind the fd, as the kernel had it at the syscall's exit.
fn sock<S: Serializer>(m: &mut Map<S>, sc: &Syscall) -> Result<(), S::Error> {
    let Some(i) = &sc.sock else { return Ok(()) };
    let family = i.family.get();
    if family == 2 || family == 10 {
        let ip = |b: &[u8; 16]| {
            if family == 2 {
                std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string()
            } else {
                std::net::Ipv6Addr::from(*b).to_string()
            }
        };
        let proto = match i.protocol {
            6 => "TCP",
            17 => "UDP",
            _ => "",
        };
        if !proto.is_empty() {
            m.serialize_entry("sock_protocol", proto)?;
        }
        m.serialize_entry("local_addr", &ip(&i.laddr))?;
        m.serialize_entry("local_port", &i.lport.get())?;
        m.serialize_entry("remote_addr", &ip(&i.raddr))?;
        m.serialize_entry("remote_port", &i.rport.get())?;
    }
    Ok(())
}

/// The fields of the file an exec ran: `exe_path` (a memfd as `memfd:NAME` with
/// `exe_memfd`), `exe_deleted`, `exe_path_truncated`, `exe_interpreter` (the path is the
/// interpreter a `#!` script or binfmt_misc named).
fn exe_fields<S: Serializer>(
    m: &mut S::SerializeMap,
    exe: &str,
    flags: u16,
) -> Result<(), S::Error> {
    let (name, memfd) = exe_name(exe, flags);
    m.serialize_entry("exe_path", &name)?;
    if memfd {
        m.serialize_entry("exe_memfd", &true)?;
    }
    if flags & abi::EXE_F_DELETED != 0 {
        m.serialize_entry("exe_deleted", &true)?;
    }
    if flags & abi::EXE_F_TRUNC != 0 {
        m.serialize_entry("exe_path_truncated", &true)?;
    }
    if flags & abi::EXE_F_INTERP != 0 {
        m.serialize_entry("exe_interpreter", &true)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscalls::SYSCALLS;
    use std::collections::{BTreeMap, BTreeSet};

    /// The keys a field may write (every one of them, whether or not a given event has it).
    fn field_keys(field: &Field) -> Vec<String> {
        let with_text = |k: &str| vec![k.to_owned(), format!("{k}_text")];
        let keys: &[&str] = match *field {
            Field::Path { key, dirfd, .. } => {
                let mut out: Vec<String> = dirfd.iter().map(|(d, _)| d.to_string()).collect();
                out.extend([key.into(), format!("{key}_arg"), format!("{key}_truncated")]);
                return out;
            }
            Field::Fd(k, _)
            | Field::NewFd(k, _)
            | Field::RetFd(k)
            | Field::Symbol(k, _, _)
            | Field::Int(k, _)
            | Field::U64(k, _)
            | Field::I64(k, _)
            | Field::Id(k, _) => &[k],
            Field::Flags(k, _, _) => return with_text(k),
            Field::FdName => &["path"],
            Field::FdPair => &["fd0", "fd1"],
            Field::Ino => &["ino"],
            Field::Mode(_) | Field::CreateMode { .. } => &["mode", "mode_text"],
            Field::StatBuf => &[
                "mode",
                "mode_text",
                "file_type",
                "file_uid",
                "file_gid",
                "ino",
                "size",
            ],
            Field::Signal(_) => &["sig", "sig_name"],
            Field::Bytes => &["bytes"],
            Field::MmsgCounts => &[
                "messages",
                "bytes",
                "message_lengths",
                "messages_left_out",
                "payload_left_out",
                "message_peers",
            ],
            Field::Sock => &SOCK_KEYS,
            Field::PeerAddr => &["family", "addr", "port", "path"],
            Field::PeerOrSocket => &["family", "addr", "port", "path", "socket"],
            Field::FcntlCmd(_) => &["cmd"],
            Field::Args => &["args"],
            Field::Value(k, _) => &[k],
            Field::Times(_) => &[
                "atime",
                "atime_ns",
                "atime_sec",
                "atime_nsec",
                "mtime",
                "mtime_ns",
                "mtime_sec",
                "mtime_nsec",
            ],
            Field::OtherFd { key, name_key, .. } => return vec![key.into(), name_key.into()],
            Field::OtherIno => &["ino_out"],
            Field::Text { key, .. } => return vec![key.into(), format!("{key}_truncated")],
            Field::BpfAttr => &[
                "prog_type",
                "prog_type_text",
                "insn_cnt",
                "prog_name",
                "map_type",
                "map_type_text",
                "key_size",
                "value_size",
                "max_entries",
                "map_name",
            ],
            Field::CapSets => &[
                "cap_version",
                "target_pid",
                "effective",
                "effective_text",
                "permitted",
                "permitted_text",
                "inheritable",
                "inheritable_text",
            ],
        };
        keys.iter().map(|k| k.to_string()).collect()
    }

    #[test]
    fn xattr_flags_and_times_are_named() {
        assert_eq!(xattr_flags(0), "0");
        assert_eq!(xattr_flags(3), "XATTR_CREATE|XATTR_REPLACE");
        assert_eq!(xattr_flags(0x11), "XATTR_CREATE|0x10");
        let render = |t: TimeSet| {
            let mut out = Vec::new();
            let mut ser = serde_json::Serializer::new(&mut out);
            let mut m = ser.serialize_map(None).unwrap();
            time_set::<&mut serde_json::Serializer<&mut Vec<u8>>>(&mut m, "mtime", t).unwrap();
            SerializeMap::end(m).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(render(TimeSet::Now), r#"{"mtime":"UTIME_NOW"}"#);
        assert_eq!(render(TimeSet::Omit), r#"{"mtime":"UTIME_OMIT"}"#);
        assert_eq!(
            render(TimeSet::At { sec: -1, nsec: 0 }),
            r#"{"mtime":"1969-12-31T23:59:59Z","mtime_ns":-1000000000}"#
        );
        assert_eq!(
            render(TimeSet::At {
                sec: 5,
                nsec: 1_000_000_000
            }),
            r#"{"mtime":"invalid","mtime_sec":5,"mtime_nsec":1000000000}"#
        );
        // Out of range for the kernel (it refuses the call) or for i64 nanoseconds: raw.
        assert_eq!(
            render(TimeSet::At {
                sec: i64::MIN,
                nsec: 7
            }),
            format!(
                r#"{{"mtime":"invalid","mtime_sec":{},"mtime_nsec":7}}"#,
                i64::MIN
            )
        );
    }

    /// The keys of [`Field::Sock`], "socket view" in docs/EVENTS.md.
    const SOCK_KEYS: [&str; 5] = [
        "sock_protocol",
        "local_addr",
        "local_port",
        "remote_addr",
        "remote_port",
    ];

    /// One row of an event table of docs/EVENTS.md: the syscalls (or sources) cell and the
    /// own-fields cell, each as its backticked words.
    struct DocRow {
        sources: BTreeSet<String>,
        fields: BTreeSet<String>,
        socket_view: bool,
    }

    fn ticked(cell: &str) -> BTreeSet<String> {
        cell.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    }

    fn doc_rows() -> BTreeMap<String, DocRow> {
        let doc = include_str!("../../../docs/EVENTS.md");
        let mut rows = BTreeMap::new();
        for line in doc.lines() {
            let cells: Vec<&str> = line.split(" | ").collect();
            let [first, sources, fields] = cells[..] else {
                continue;
            };
            let Some(name) = first.strip_prefix("| `").and_then(|f| f.strip_suffix('`')) else {
                continue;
            };
            if !name.contains('_') || fields.contains("---") {
                continue;
            }
            let mut row = DocRow {
                sources: ticked(sources),
                fields: ticked(fields),
                socket_view: fields.contains("socket view"),
            };
            // "as `other_type`": the other type's fields too.
            if let Some(other) = fields
                .strip_prefix("as `")
                .and_then(|f| f.split('`').next())
            {
                let o: &DocRow = rows.get(other).expect("an earlier row");
                row.fields.extend(o.fields.iter().cloned());
                row.fields.remove(other);
                row.socket_view |= o.socket_view;
            }
            assert!(rows.insert(name.to_owned(), row).is_none(), "{name} twice");
        }
        rows
    }

    /// An event's JSON text joined from its three runs, with the process fields' text
    /// reused from the event before when it has the same ones, is the bytes serde_json
    /// gives for the whole event, pretty and compact: on every event of every fixture
    /// recorded by kellect, with the cache kept across events of different processes, exec
    /// ids and containers (equal cgroups at different addresses too), across the events
    /// that have no fields of their own, and across a change of style (pretty or compact).
    #[test]
    fn joined_text_is_the_whole_events_text() {
        use crate::format::{decode_frame, TraceReader};
        use crate::replayer::input::decode::decode_frame as decode_records;

        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let docker = "/system.slice/docker-\
                      0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope";
        let cgroups = [
            None,
            Some(CgroupInfo::new(7, docker)),
            Some(CgroupInfo::new(7, docker)),
            Some(CgroupInfo::new(8, "/user.slice")),
        ];
        let exec_ids = [None, Some("aW1hZ2UgMQ=="), Some("aW1hZ2UgMg==")];
        let (mut events, mut traces, mut in_containers) = (0, 0, 0);
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "kz") {
                continue;
            }
            traces += 1;
            let bytes = std::fs::read(&path).unwrap();
            let reader = TraceReader::new(&bytes).unwrap();
            let scan = reader.scan();
            for first in [false, true] {
                let mut cache = ProcessText::default();
                let mut n = 0usize;
                for block in scan.frames() {
                    let Ok((_, raw)) = decode_frame(block.payload) else {
                        continue;
                    };
                    for event in decode_records(&raw).0 {
                        n += 1;
                        // Runs of a few events share a process, exec id and cgroup, and
                        // the style changes every 11 events with the same cache.
                        let pretty = first ^ ((n / 11) % 2 == 1);
                        let resolved = Resolved {
                            container: cgroups[(n / 3) % cgroups.len()].clone(),
                            ..Resolved::default()
                        };
                        let view = EventView {
                            timestamp_us: event.common.ts as i64 / 1000,
                            event: &event,
                            resolved: &resolved,
                            arch: Arch::X86_64,
                            catalogue: CATALOGUE,
                            exec_id: exec_ids[(n / 5) % exec_ids.len()],
                        };
                        let want = if pretty {
                            serde_json::to_vec_pretty(&view)
                        } else {
                            serde_json::to_vec(&view)
                        };
                        let mut got = Vec::new();
                        let joined = view.json_text_into(pretty, &mut cache, &mut got);
                        match want {
                            Ok(want) => {
                                joined.unwrap();
                                in_containers +=
                                    usize::from(got.windows(14).any(|w| w == b"\"container_id\""));
                                assert_eq!(
                                    String::from_utf8_lossy(&got),
                                    String::from_utf8_lossy(&want),
                                    "{}",
                                    path.display()
                                );
                            }
                            Err(_) => assert!(joined.is_err()),
                        }
                    }
                }
                events += n;
            }
        }
        assert!(
            traces >= 10 && events > 5_000,
            "{traces} traces, {events} events"
        );
        assert!(
            in_containers > events / 4,
            "{in_containers} of {events} in containers"
        );
    }

    /// docs/EVENTS.md lists exactly the event types of the table, each with the syscalls
    /// that become it and the fields they have; the table has no syscall or field the
    /// document does not name.
    #[test]
    fn events_md_matches_the_table() {
        let rows = doc_rows();
        let doc_types: BTreeSet<&str> = rows.keys().map(String::as_str).collect();
        let types: BTreeSet<&str> = EventType::ALL.iter().map(|t| t.name()).collect();
        assert_eq!(doc_types, types, "event types of docs/EVENTS.md");
        // Event types reported from sched_process_* records: their fields are the
        // record's, not a row's.
        let sched = [
            "process_fork",
            "process_clone",
            "process_exec",
            "process_exit",
        ];
        let mut from_rows: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for s in SYSCALLS {
            let Some(t) = s.event else {
                // Context only: named at most as what a sched_process_* record follows.
                for (name, r) in &rows {
                    let listed = r.sources.contains(s.name);
                    assert!(
                        !listed || sched.contains(&name.as_str()),
                        "{name}: {} is listed but is no event",
                        s.name
                    );
                }
                continue;
            };
            // The types a row's events may take: its own, and the refinements.
            let mut its = vec![t];
            match s.effect {
                Effect::Open { .. } => its.push(EventType::FileCreate),
                Effect::Unlink { flags } if flags != crate::syscalls::Src::Const(0) => {
                    its.push(EventType::FileRmdir)
                }
                _ => {}
            }
            for t in its {
                let row = &rows[t.name()];
                assert!(
                    row.sources.contains(s.name),
                    "{}: {} is not listed",
                    t.name(),
                    s.name
                );
                let keys = from_rows.entry(t.name()).or_default();
                for f in s.fields {
                    if *f == Field::Sock {
                        assert!(row.socket_view, "{}: socket view ({})", t.name(), s.name);
                        continue;
                    }
                    for k in field_keys(f) {
                        // `_arg` and `_truncated` siblings are a convention of the page.
                        let convention = k.ends_with("_arg") || k.ends_with("_truncated");
                        assert!(
                            convention || row.fields.contains(&k),
                            "{}: field {k} of {} is not listed",
                            t.name(),
                            s.name
                        );
                        keys.insert(k);
                    }
                }
            }
        }
        for (name, row) in &rows {
            // Every syscall listed is one of the table's.
            for src in &row.sources {
                let known = SYSCALLS.iter().any(|s| s.name == src.as_str());
                let sched_source = src.starts_with("sched_process_")
                    || ["io_uring_submit_req", "io_uring_complete"].contains(&src.as_str());
                assert!(known || sched_source, "{name}: unknown syscall {src}");
            }
            // io_uring_op's fields are its record's and those of the syscall it does.
            if sched.contains(&name.as_str()) || name == "io_uring_op" {
                continue;
            }
            // Every field listed comes from some row (names in capitals are flag values).
            let keys = &from_rows[name.as_str()];
            let has_sock = SYSCALLS.iter().any(|s| {
                s.event.map(EventType::name) == Some(name) && s.fields.contains(&Field::Sock)
            });
            assert_eq!(row.socket_view, has_sock, "{name}: socket view");
            for f in &row.fields {
                let is_name = f
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit());
                assert!(
                    !is_name || keys.contains(f) || f == "ret",
                    "{name}: field {f} of docs/EVENTS.md comes from no row"
                );
            }
        }
    }
}
