//! The events view: one JSON object per kernel event, named after Kellect's catalogue of
//! 38 event types. Common fields first in a fixed order, then the event's own fields;
//! raw numbers (flags, modes, prot, families, signals) come with symbolic siblings.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use super::decode::{Body, Event, Filled, SockAddr, Syscall};
use super::state::{Resolved, AT_FDCWD};
use super::symbols::{self, Arch};
use crate::syscalls;

/// Every event type of the catalogue, by group.
pub const EVENT_TYPES: [&str; 38] = [
    "file_create",
    "file_delete",
    "file_rename",
    "file_open",
    "file_chmod",
    "file_stat",
    "file_chdir",
    "file_mkdir",
    "file_rmdir",
    "file_read",
    "file_write",
    "file_dup",
    "file_close",
    "file_truncate",
    "file_link",
    "file_symlink",
    "process_fork",
    "process_exec",
    "process_clone",
    "process_exit",
    "process_pipe",
    "process_kill",
    "process_ptrace",
    "process_mmap",
    "process_mprotect",
    "net_connect",
    "net_sendto",
    "net_recvfrom",
    "net_accept",
    "net_bind",
    "net_getpeername",
    "net_socketpair",
    "perm_setuid",
    "perm_setreuid",
    "perm_setresuid",
    "perm_setgid",
    "perm_setregid",
    "perm_setresgid",
];

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
}

/// The catalogue name of an event (`None` for records that are context only, such as
/// `socket`, or of a kind this build does not know).
pub fn event_type(event: &Event) -> Option<&'static str> {
    if event.common.context {
        return None;
    }
    Some(match &event.body {
        Body::Fork { child_pid, .. } if *child_pid == event.common.pid => "process_clone",
        Body::Fork { .. } => "process_fork",
        Body::Exec { .. } => "process_exec",
        Body::Exit { .. } => "process_exit",
        Body::Syscall(sc) => syscall_event_type(sc)?,
        // Socket state is context for the records view, not a catalogue event.
        Body::SockState(_) | Body::Unknown { .. } => return None,
    })
}

fn syscall_event_type(sc: &Syscall) -> Option<&'static str> {
    let name = syscalls::name(sc.id)?;
    Some(match name {
        "open" | "openat" | "openat2" | "creat" => {
            let created = sc
                .inode
                .as_ref()
                .is_some_and(|i| i.fmode.get() & FMODE_CREATED != 0);
            if created && open_flags(sc) & O_CREAT != 0 {
                "file_create"
            } else {
                "file_open"
            }
        }
        "unlink" => "file_delete",
        "unlinkat" if sc.args[2] & AT_REMOVEDIR != 0 => "file_rmdir",
        "unlinkat" => "file_delete",
        "rename" | "renameat" | "renameat2" => "file_rename",
        "chmod" | "fchmod" | "fchmodat" | "fchmodat2" => "file_chmod",
        "stat" | "lstat" | "fstat" | "newfstatat" | "statx" => "file_stat",
        "chdir" | "fchdir" => "file_chdir",
        "mkdir" | "mkdirat" => "file_mkdir",
        "rmdir" => "file_rmdir",
        "read" | "pread64" | "readv" | "preadv" | "preadv2" => "file_read",
        "write" | "pwrite64" | "writev" | "pwritev" | "pwritev2" => "file_write",
        "dup" | "dup2" | "dup3" | "fcntl" => "file_dup",
        "close" => "file_close",
        "truncate" | "ftruncate" => "file_truncate",
        "link" | "linkat" => "file_link",
        "symlink" | "symlinkat" => "file_symlink",
        "execve" | "execveat" => "process_exec",
        "pipe" | "pipe2" => "process_pipe",
        "kill" | "tkill" | "tgkill" => "process_kill",
        "ptrace" => "process_ptrace",
        "mmap" => "process_mmap",
        "mprotect" => "process_mprotect",
        "connect" => "net_connect",
        "sendto" | "sendmsg" | "sendmmsg" => "net_sendto",
        "recvfrom" | "recvmsg" | "recvmmsg" => "net_recvfrom",
        "accept" | "accept4" => "net_accept",
        "bind" => "net_bind",
        "getpeername" => "net_getpeername",
        "socketpair" => "net_socketpair",
        "setuid" => "perm_setuid",
        "setreuid" => "perm_setreuid",
        "setresuid" => "perm_setresuid",
        "setgid" => "perm_setgid",
        "setregid" => "perm_setregid",
        "setresgid" => "perm_setresgid",
        // socket, and the context-only records (fork, clone, exit) never show alone.
        _ => return None,
    })
}

/// The open flags of any open variant.
fn open_flags(sc: &Syscall) -> u64 {
    match (syscalls::name(sc.id), &sc.filled) {
        (Some("open"), _) => sc.args[1],
        (Some("openat"), _) => sc.args[2],
        (Some("openat2"), Filled::OpenHow { flags, .. }) => *flags,
        (Some("creat"), _) => 0o1101, // O_WRONLY|O_CREAT|O_TRUNC
        _ => 0,
    }
}

/// An id argument of the set*id family: -1 ("unchanged") stays -1.
fn id_arg(v: u64) -> i64 {
    match v as u32 {
        u32::MAX => -1,
        id => id as i64,
    }
}

type Map<S> = <S as Serializer>::SerializeMap;

impl Serialize for EventView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let e = self.event;
        let c = &e.common;
        let mut m = serializer.serialize_map(None)?;
        m.serialize_entry("timestamp", &self.timestamp_us)?;
        m.serialize_entry("event_type", &event_type(e).unwrap_or("unknown"))?;
        if let Some(name) = syscalls::name(c.syscall) {
            m.serialize_entry("syscall", name)?;
        }
        if c.compat {
            m.serialize_entry("compat", &true)?;
        }
        m.serialize_entry("comm", &c.comm)?;
        m.serialize_entry("pid", &c.pid)?;
        m.serialize_entry("tid", &c.tid)?;
        m.serialize_entry("ppid", &c.ppid)?;
        let process_type = if c.tid == c.pid { "process" } else { "thread" };
        m.serialize_entry("process_type", process_type)?;
        m.serialize_entry("uid", &c.uid)?;
        m.serialize_entry("gid", &c.gid)?;
        match &e.body {
            Body::Fork {
                child_pid,
                child_tid,
                clone_flags,
                child_comm,
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
            Body::Syscall(sc) => self.syscall_fields::<S>(&mut m, sc)?,
            Body::SockState(_) => {}
            Body::Unknown { kind } => {
                m.serialize_entry("kind", kind)?;
            }
        }
        m.end()
    }
}

impl EventView<'_> {
    fn syscall_fields<S: Serializer>(&self, m: &mut Map<S>, sc: &Syscall) -> Result<(), S::Error> {
        let name = syscalls::name(sc.id).unwrap_or("");
        let r = self.resolved;
        let arch = self.arch;
        let a = sc.args;
        let int = |i: usize| a[i] as i32;
        m.serialize_entry("ret", &sc.ret)?;
        if (-4095..0).contains(&sc.ret) {
            m.serialize_entry("error", &symbols::errno_name(sc.ret).unwrap_or("E?"))?;
        }
        let ok_fd = (sc.ret >= 0).then_some(sc.ret);
        // Helpers for the recurring fields.
        let path = |m: &mut Map<S>,
                    key: &str,
                    resolved: &Option<String>,
                    raw: &Option<String>,
                    cut: bool|
         -> Result<(), S::Error> {
            if let Some(p) = resolved {
                m.serialize_entry(key, p)?;
            }
            if let (Some(p), Some(raw)) = (resolved, raw) {
                if p != raw {
                    m.serialize_entry(&format!("{key}_arg"), raw)?;
                }
            }
            if cut {
                m.serialize_entry(&format!("{key}_truncated"), &true)?;
            }
            Ok(())
        };
        let path0 =
            |m: &mut Map<S>, key: &str| path(m, key, &r.path0, &sc.path0, sc.path0_truncated);
        let path1 =
            |m: &mut Map<S>, key: &str| path(m, key, &r.path1, &sc.path1, sc.path1_truncated);
        let dfd = |m: &mut Map<S>, key: &str, v: i32| -> Result<(), S::Error> {
            if v == AT_FDCWD {
                m.serialize_entry(key, "AT_FDCWD")
            } else {
                m.serialize_entry(key, &v)
            }
        };
        let fd_path = |m: &mut Map<S>| -> Result<(), S::Error> {
            if let Some(p) = &r.fd_name {
                m.serialize_entry("path", p)?;
            }
            Ok(())
        };
        let ino = |m: &mut Map<S>| -> Result<(), S::Error> {
            if let Some(i) = &sc.inode {
                m.serialize_entry("ino", &i.ino.get())?;
            }
            Ok(())
        };
        let mode = |m: &mut Map<S>, v: u64| -> Result<(), S::Error> {
            m.serialize_entry("mode", &v)?;
            m.serialize_entry("mode_text", &symbols::file_mode(v))
        };
        let addr = |m: &mut Map<S>| -> Result<(), S::Error> {
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
        };
        // The socket behind the fd, as the kernel had it at the syscall's exit.
        let sock = |m: &mut Map<S>| -> Result<(), S::Error> {
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
        };
        match name {
            "open" | "openat" | "openat2" | "creat" => {
                if name == "openat" || name == "openat2" {
                    dfd(m, "dfd", int(0))?;
                }
                path0(m, "path")?;
                let flags = open_flags(sc);
                m.serialize_entry("flags", &flags)?;
                m.serialize_entry("flags_text", &symbols::open_flags(arch, flags))?;
                let mode_arg = match (name, &sc.filled) {
                    ("open", _) => a[2],
                    ("openat", _) => a[3],
                    ("openat2", Filled::OpenHow { mode, .. }) => *mode,
                    ("creat", _) => a[1],
                    _ => 0,
                };
                // The mode argument means something only when a file may be created.
                if flags & (O_CREAT | O_TMPFILE) != 0 {
                    mode(m, mode_arg)?;
                }
                if let Some(fd) = ok_fd {
                    m.serialize_entry("fd", &fd)?;
                }
                ino(m)?;
            }
            "unlink" | "unlinkat" | "rmdir" => {
                if name == "unlinkat" {
                    dfd(m, "dfd", int(0))?;
                }
                path0(m, "path")?;
                if name == "unlinkat" {
                    m.serialize_entry("flags", &a[2])?;
                    m.serialize_entry("flags_text", &symbols::at_flags(a[2]))?;
                }
            }
            "rename" | "renameat" | "renameat2" | "link" | "linkat" => {
                if name.ends_with("at") || name == "renameat2" {
                    dfd(m, "olddfd", int(0))?;
                }
                path0(m, "oldpath")?;
                if name.ends_with("at") || name == "renameat2" {
                    dfd(m, "newdfd", int(2))?;
                }
                path1(m, "newpath")?;
                match name {
                    "renameat2" => {
                        m.serialize_entry("flags", &a[4])?;
                        m.serialize_entry("flags_text", &symbols::rename_flags(a[4]))?;
                    }
                    "linkat" => {
                        m.serialize_entry("flags", &a[4])?;
                        m.serialize_entry("flags_text", &symbols::at_flags(a[4]))?;
                    }
                    _ => {}
                }
            }
            "symlink" | "symlinkat" => {
                path0(m, "target")?;
                if name == "symlinkat" {
                    dfd(m, "newdfd", int(1))?;
                }
                path1(m, "linkpath")?;
            }
            "chmod" | "fchmodat" | "fchmodat2" => {
                if name != "chmod" {
                    dfd(m, "dfd", int(0))?;
                }
                path0(m, "path")?;
                mode(m, if name == "chmod" { a[1] } else { a[2] })?;
            }
            "fchmod" => {
                m.serialize_entry("fd", &int(0))?;
                fd_path(m)?;
                mode(m, a[1])?;
            }
            "stat" | "lstat" | "fstat" | "newfstatat" | "statx" => {
                match name {
                    "fstat" => {
                        m.serialize_entry("fd", &int(0))?;
                        fd_path(m)?;
                    }
                    "newfstatat" | "statx" => {
                        dfd(m, "dfd", int(0))?;
                        path0(m, "path")?;
                        let flags = if name == "statx" { a[2] } else { a[3] };
                        m.serialize_entry("flags", &flags)?;
                        m.serialize_entry("flags_text", &symbols::at_flags(flags))?;
                    }
                    _ => path0(m, "path")?,
                }
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
            "chdir" => path0(m, "path")?,
            "fchdir" => {
                m.serialize_entry("fd", &int(0))?;
                fd_path(m)?;
            }
            "mkdir" | "mkdirat" => {
                if name == "mkdirat" {
                    dfd(m, "dfd", int(0))?;
                }
                path0(m, "path")?;
                mode(m, if name == "mkdir" { a[1] } else { a[2] })?;
            }
            "read" | "pread64" | "readv" | "preadv" | "preadv2" | "write" | "pwrite64"
            | "writev" | "pwritev" | "pwritev2" => {
                m.serialize_entry("fd", &int(0))?;
                fd_path(m)?;
                ino(m)?;
                if name.ends_with('v') || name.ends_with("v2") {
                    m.serialize_entry("iovcnt", &a[2])?;
                } else {
                    m.serialize_entry("count", &a[2])?;
                }
                if name.starts_with('p') {
                    m.serialize_entry("offset", &a[3])?;
                }
                m.serialize_entry("bytes", &sc.ret.max(0))?;
                sock(m)?;
            }
            "dup" | "dup2" | "dup3" | "fcntl" => {
                m.serialize_entry("oldfd", &int(0))?;
                fd_path(m)?;
                match name {
                    "dup2" | "dup3" => m.serialize_entry("newfd", &int(1))?,
                    _ => {
                        if let Some(fd) = ok_fd {
                            m.serialize_entry("newfd", &fd)?;
                        }
                    }
                }
                match name {
                    "dup3" => {
                        m.serialize_entry("flags", &a[2])?;
                        m.serialize_entry("flags_text", &symbols::pipe_flags(arch, a[2]))?;
                    }
                    "fcntl" => {
                        let cmd = if a[1] == 0 {
                            "F_DUPFD"
                        } else {
                            "F_DUPFD_CLOEXEC"
                        };
                        m.serialize_entry("cmd", cmd)?;
                    }
                    _ => {}
                }
            }
            "close" => {
                m.serialize_entry("fd", &int(0))?;
                fd_path(m)?;
            }
            "truncate" => {
                path0(m, "path")?;
                m.serialize_entry("length", &(a[1] as i64))?;
            }
            "ftruncate" => {
                m.serialize_entry("fd", &int(0))?;
                fd_path(m)?;
                m.serialize_entry("length", &(a[1] as i64))?;
            }
            "execve" | "execveat" => {
                if name == "execveat" {
                    dfd(m, "dfd", int(0))?;
                }
                path0(m, "filename")?;
            }
            "pipe" | "pipe2" => {
                if let Filled::FdPair(x, y) = sc.filled {
                    m.serialize_entry("fd0", &x)?;
                    m.serialize_entry("fd1", &y)?;
                }
                let flags = if name == "pipe2" { a[1] } else { 0 };
                m.serialize_entry("flags", &flags)?;
                m.serialize_entry("flags_text", &symbols::pipe_flags(arch, flags))?;
            }
            "kill" | "tkill" | "tgkill" => {
                let sig = match name {
                    "tgkill" => a[2],
                    _ => a[1],
                };
                match name {
                    "kill" => m.serialize_entry("target_pid", &int(0))?,
                    "tkill" => m.serialize_entry("target_tid", &int(0))?,
                    _ => {
                        m.serialize_entry("target_pid", &int(0))?;
                        m.serialize_entry("target_tid", &int(1))?;
                    }
                }
                m.serialize_entry("sig", &(sig as i32))?;
                if let Some(n) = symbols::signal_name(sig) {
                    m.serialize_entry("sig_name", &n)?;
                }
            }
            "ptrace" => {
                m.serialize_entry("request", &a[0])?;
                m.serialize_entry("request_text", &symbols::ptrace_request(a[0]))?;
                m.serialize_entry("target_pid", &int(1))?;
                m.serialize_entry("addr", &a[2])?;
                m.serialize_entry("data", &a[3])?;
            }
            "mmap" | "mprotect" => {
                m.serialize_entry("addr", &a[0])?;
                m.serialize_entry("len", &a[1])?;
                m.serialize_entry("prot", &a[2])?;
                m.serialize_entry("prot_text", &symbols::prot_flags(a[2]))?;
                if name == "mmap" {
                    m.serialize_entry("flags", &a[3])?;
                    m.serialize_entry("flags_text", &symbols::mmap_flags(a[3]))?;
                    m.serialize_entry("fd", &int(4))?;
                    fd_path(m)?;
                    ino(m)?;
                    m.serialize_entry("offset", &a[5])?;
                }
            }
            "connect" | "bind" | "getpeername" => {
                m.serialize_entry("fd", &int(0))?;
                addr(m)?;
                sock(m)?;
            }
            "sendto" | "sendmsg" | "sendmmsg" | "recvfrom" | "recvmsg" | "recvmmsg" => {
                m.serialize_entry("fd", &int(0))?;
                let flags = match name {
                    "sendto" | "recvfrom" | "sendmmsg" | "recvmmsg" => a[3],
                    _ => a[2],
                };
                match name {
                    "sendto" | "recvfrom" => m.serialize_entry("len", &a[2])?,
                    "sendmmsg" | "recvmmsg" => m.serialize_entry("vlen", &a[2])?,
                    _ => {}
                }
                m.serialize_entry("flags", &flags)?;
                m.serialize_entry("flags_text", &symbols::msg_flags(flags))?;
                if sc.addr.is_some() {
                    addr(m)?;
                } else if let Some(p) = &r.fd_name {
                    m.serialize_entry("socket", p)?;
                }
                if name.ends_with("mmsg") {
                    m.serialize_entry("messages", &sc.ret.max(0))?;
                    m.serialize_entry("bytes", &sc.aux)?;
                } else {
                    m.serialize_entry("bytes", &sc.ret.max(0))?;
                }
            }
            "accept" | "accept4" => {
                m.serialize_entry("fd", &int(0))?;
                if let Some(fd) = ok_fd {
                    m.serialize_entry("newfd", &fd)?;
                }
                addr(m)?;
                let flags = if name == "accept4" { a[3] } else { 0 };
                m.serialize_entry("flags", &flags)?;
                m.serialize_entry("flags_text", &symbols::socket_type(flags))?;
            }
            "socketpair" => {
                m.serialize_entry("family", &symbols::address_family(a[0]))?;
                m.serialize_entry("type", &symbols::socket_type(a[1]))?;
                m.serialize_entry("protocol", &symbols::ip_protocol(a[2]))?;
                if let Filled::FdPair(x, y) = sc.filled {
                    m.serialize_entry("fd0", &x)?;
                    m.serialize_entry("fd1", &y)?;
                }
            }
            // `uid`/`gid` are the process's own: the argument is the one asked for.
            "setuid" => m.serialize_entry("new_uid", &id_arg(a[0]))?,
            "setgid" => m.serialize_entry("new_gid", &id_arg(a[0]))?,
            "setreuid" | "setregid" => {
                let (r_, e_) = if name == "setreuid" {
                    ("ruid", "euid")
                } else {
                    ("rgid", "egid")
                };
                m.serialize_entry(r_, &id_arg(a[0]))?;
                m.serialize_entry(e_, &id_arg(a[1]))?;
            }
            "setresuid" | "setresgid" => {
                let keys = if name == "setresuid" {
                    ["ruid", "euid", "suid"]
                } else {
                    ["rgid", "egid", "sgid"]
                };
                for (i, k) in keys.iter().enumerate() {
                    m.serialize_entry(k, &id_arg(a[i]))?;
                }
            }
            _ => {
                m.serialize_entry("args", &a)?;
            }
        }
        Ok(())
    }
}
