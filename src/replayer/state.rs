//! Stage 2 of replay: the state a process carries between events — its working directory
//! and its file descriptor table — rebuilt from the snapshot taken at record time and
//! every event after it, so relative paths and bare fds can be named; and the files they
//! reach (the inode model of [`super::files`]), to which each syscall's effect is applied
//! here, once.
//!
//! Sequential and deterministic: the events arrive in timestamp order.

use std::collections::HashMap;

use super::decode::{Body, Event, Filled, SockAddr, Syscall};
use super::files::{Files, Touched, DEFAULT_MAX_ENTRIES, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};
use crate::abi::InodeAttrs;
use crate::meta::{FdTable, ProcSnapshot};

/// `AT_FDCWD`: "relative to the working directory" in the *at syscalls.
pub const AT_FDCWD: i32 = -100;
const O_CLOEXEC: u64 = 0o2000000;
const SOCK_CLOEXEC: u64 = 0o2000000;
const F_DUPFD_CLOEXEC: u64 = 1030;
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
    /// A path, or `socket:…`, `pipe:…` as /proc/PID/fd names them.
    pub name: String,
    pub cloexec: bool,
}

#[derive(Debug, Default, Clone)]
struct ProcState {
    cwd: Option<String>,
    fds: HashMap<i32, FdEntry>,
}

/// Names resolved for one event, at the moment it happened.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The first path, absolute (as far as the cwd or dirfd is known).
    pub path0: Option<String>,
    pub path1: Option<String>,
    /// What the event's fd referred to (before a close removed it).
    pub fd_name: Option<String>,
    /// The file the event is about in the inode model: the one it opened, read, wrote,
    /// changed, unlinked, linked; the one it moved, for a rename. (Boxed, as `file1`: every
    /// event carries a `Resolved`, few of them touch a file.)
    pub file0: Option<Box<Touched>>,
    /// The other file a rename touched: with `RENAME_EXCHANGE` the one moved from the
    /// second path to the first, otherwise the one it replaced, if any.
    pub file1: Option<Box<Touched>>,
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
    pub fn touched(&self, id: super::files::FileId) -> Option<Touched> {
        [self.file0(), self.file1()]
            .into_iter()
            .flatten()
            .find(|t| t.file == id)
    }
}

/// Processes by pid (threads share their process's table: `CLONE_FILES|CLONE_FS`).
#[derive(Debug)]
pub struct ProcessTable {
    procs: HashMap<u32, ProcState>,
    files: Files,
}

impl Default for ProcessTable {
    fn default() -> Self {
        ProcessTable::new(DEFAULT_MAX_ENTRIES)
    }
}

impl ProcessTable {
    /// An empty table whose inode model holds at most `max_file_entries` paths plus files
    /// ([`Files::max_entries`]; `Default` uses [`super::files::DEFAULT_MAX_ENTRIES`]).
    pub fn new(max_file_entries: usize) -> ProcessTable {
        ProcessTable {
            procs: HashMap::new(),
            files: Files::new(max_file_entries),
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
            let state = self.procs.entry(p.pid).or_default();
            if state.cwd.is_none() {
                state.cwd = p.cwd.clone();
            }
        }
    }

    /// Their open file descriptors.
    pub fn add_fds(&mut self, fds: &FdTable) {
        for p in &fds.processes {
            let state = self.procs.entry(p.pid).or_default();
            for (fd, name) in &p.fds {
                state.fds.entry(*fd).or_insert_with(|| FdEntry {
                    name: name.clone(),
                    cloexec: false,
                });
            }
        }
    }

    /// The inode model, as the events applied so far left it.
    pub fn files(&self) -> &Files {
        &self.files
    }

    fn fd_name(&self, pid: u32, fd: i32) -> Option<String> {
        self.procs.get(&pid)?.fds.get(&fd).map(|e| e.name.clone())
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
            self.fd_name(pid, dirfd)
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
        self.files.sweep();
        let pid = event.common.pid;
        match &event.body {
            Body::Fork {
                child_pid,
                clone_flags,
                ..
            } => {
                if *child_pid != pid {
                    // A new process: a copy of its parent's table, or a share (CLONE_FILES),
                    // which this table approximates with a copy too.
                    let _ = clone_flags;
                    let parent = self.procs.get(&pid).cloned().unwrap_or_default();
                    self.procs.insert(*child_pid, parent);
                }
                Resolved::default()
            }
            Body::Exec {
                filename, inode, ..
            } => {
                let path0 = self.resolve(pid, AT_FDCWD, filename);
                if let Some(p) = self.procs.get_mut(&pid) {
                    p.fds.retain(|_, e| !e.cloexec);
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
                    ..Resolved::default()
                }
            }
            Body::Exit { group_dead, .. } => {
                if *group_dead {
                    self.procs.remove(&pid);
                }
                Resolved::default()
            }
            Body::Syscall(sc) => self.apply_syscall(pid, sc),
            Body::SockState(_) | Body::Unknown { .. } => Resolved::default(),
        }
    }

    fn apply_syscall(&mut self, pid: u32, sc: &Syscall) -> Resolved {
        let name = crate::syscalls::name(sc.id).unwrap_or("");
        let a = |i: usize| sc.args[i];
        let fd_arg = |i: usize| sc.args[i] as i32;
        let ok = sc.ret >= 0;
        let ret_fd = sc.ret as i32;
        // Which argument is the dirfd of path0 / path1 (AT_FDCWD when none).
        let (dfd0, dfd1) = match name {
            "openat" | "openat2" | "unlinkat" | "fchmodat" | "fchmodat2" | "newfstatat"
            | "statx" | "mkdirat" | "execveat" => (fd_arg(0), AT_FDCWD),
            "renameat" | "renameat2" | "linkat" => (fd_arg(0), fd_arg(2)),
            "symlinkat" => (AT_FDCWD, fd_arg(1)),
            _ => (AT_FDCWD, AT_FDCWD),
        };
        let mut resolved = Resolved {
            path0: sc.path0.as_deref().and_then(|p| {
                // A symlink's target is stored as written, never resolved.
                if name.starts_with("symlink") {
                    Some(p.to_owned())
                } else {
                    self.resolve(pid, dfd0, p)
                }
            }),
            path1: sc.path1.as_deref().and_then(|p| self.resolve(pid, dfd1, p)),
            fd_name: None,
            file0: None,
            file1: None,
        };
        // The fd an event is about, named before any change below.
        let event_fd = match name {
            "fchmod" | "fstat" | "fchdir" | "read" | "pread64" | "readv" | "preadv" | "preadv2"
            | "write" | "pwrite64" | "writev" | "pwritev" | "pwritev2" | "dup" | "dup2"
            | "dup3" | "fcntl" | "close" | "ftruncate" | "connect" | "sendto" | "sendmsg"
            | "sendmmsg" | "recvfrom" | "recvmsg" | "recvmmsg" | "accept" | "accept4" | "bind"
            | "getpeername" => Some(fd_arg(0)),
            "mmap" => Some(fd_arg(4)),
            _ => None,
        };
        // The fd table names files and connected sockets; where it knows no more than
        // "pipe" or "socket", the inode the kernel gave names them as /proc does.
        let by_table = event_fd.and_then(|fd| self.fd_name(pid, fd));
        let by_inode = sc
            .inode
            .as_ref()
            .and_then(|i| inode_name(i.mode.get(), i.ino.get()));
        resolved.fd_name = match by_table {
            Some(t) if t == "pipe" || t == "socket" => by_inode.or(Some(t)),
            Some(t) => Some(t),
            None => by_inode,
        };
        // A non-blocking connect in progress (EINPROGRESS) has its peer all the same.
        let connecting = name == "connect" && sc.ret == -115;
        if !ok && !connecting {
            return resolved;
        }
        self.apply_file_effect(name, sc, &mut resolved);
        let state = self.procs.entry(pid).or_default();
        let insert = |state: &mut ProcState, fd: i32, name: String, cloexec: bool| {
            state.fds.insert(fd, FdEntry { name, cloexec });
        };
        match name {
            "open" | "openat" | "creat" | "openat2" => {
                let flags = match (name, &sc.filled) {
                    ("open", _) => a(1),
                    ("openat", _) => a(2),
                    ("openat2", Filled::OpenHow { flags, .. }) => *flags,
                    _ => 0,
                };
                if let Some(path) = &resolved.path0 {
                    insert(state, ret_fd, path.clone(), flags & O_CLOEXEC != 0);
                }
            }
            "dup" | "dup2" | "dup3" | "fcntl" => {
                if let Some(entry) = state.fds.get(&fd_arg(0)).cloned() {
                    let cloexec = match name {
                        "dup3" => a(2) & O_CLOEXEC != 0,
                        "fcntl" => a(1) == F_DUPFD_CLOEXEC,
                        _ => false,
                    };
                    insert(state, ret_fd, entry.name, cloexec);
                }
            }
            "close" => {
                state.fds.remove(&fd_arg(0));
            }
            "pipe" | "pipe2" => {
                if let Filled::FdPair(r, w) = sc.filled {
                    let cloexec = name == "pipe2" && a(1) & O_CLOEXEC != 0;
                    insert(state, r, "pipe".into(), cloexec);
                    insert(state, w, "pipe".into(), cloexec);
                }
            }
            "socket" => {
                let cloexec = a(1) & SOCK_CLOEXEC != 0;
                insert(state, ret_fd, "socket".into(), cloexec);
            }
            "socketpair" => {
                if let Filled::FdPair(x, y) = sc.filled {
                    let cloexec = a(1) & SOCK_CLOEXEC != 0;
                    insert(state, x, "socket".into(), cloexec);
                    insert(state, y, "socket".into(), cloexec);
                }
            }
            "accept" | "accept4" => {
                let cloexec = name == "accept4" && a(3) & SOCK_CLOEXEC != 0;
                let peer = sc.addr.as_ref().map(describe_addr);
                let name = peer.map_or("socket".into(), |p| format!("socket:{p}"));
                insert(state, ret_fd, name, cloexec);
            }
            "connect" => {
                if let (Some(entry), Some(addr)) = (state.fds.get_mut(&fd_arg(0)), &sc.addr) {
                    entry.name = format!("socket:{}", describe_addr(addr));
                }
            }
            "chdir" => state.cwd = resolved.path0.clone().filter(|p| p.starts_with('/')),
            "fchdir" => state.cwd = resolved.fd_name.clone().filter(|p| p.starts_with('/')),
            _ => {}
        }
        resolved
    }
}

impl ProcessTable {
    /// The effect of a successful syscall on the inode model; notes the files it touched
    /// in `resolved`.
    fn apply_file_effect(&mut self, name: &str, sc: &Syscall, resolved: &mut Resolved) {
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
        let (file0, file1) = match (name, path0, path1) {
            ("open" | "openat" | "openat2" | "creat", Some(path), _) => match inode {
                Some(i) => {
                    let (flags, resolve) = match (name, &sc.filled) {
                        ("open", _) => (sc.args[1], 0),
                        ("openat", _) => (sc.args[2], 0),
                        ("openat2", Filled::OpenHow { flags, resolve, .. }) => (*flags, *resolve),
                        // creat: O_CREAT|O_WRONLY|O_TRUNC.
                        _ => (0o1101, 0),
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
            ("chmod", Some(path), _) => (Some(files.chmod(path, sc.args[1])), None),
            ("fchmodat" | "fchmodat2", Some(path), _) => {
                (Some(files.chmod(path, sc.args[2])), None)
            }
            ("truncate", Some(path), _) => (Some(files.truncate(path, sc.args[1])), None),
            ("unlink", Some(path), _) => (Some(files.unlink(path)), None),
            ("unlinkat", Some(path), _) if sc.args[2] & AT_REMOVEDIR == 0 => {
                (Some(files.unlink(path)), None)
            }
            ("unlinkat" | "rmdir", Some(path), _) => (files.rmdir(path), None),
            // What a path is, not followed: lstat, or fstatat/statx with AT_SYMLINK_NOFOLLOW
            // (a whole path, not AT_EMPTY_PATH's fd). Other stats change nothing; one with an
            // fd's snapshot is that fd's, as for any fd-based syscall.
            ("lstat" | "newfstatat" | "statx", Some(path), _) => {
                let flags = match name {
                    "newfstatat" => sc.args[3],
                    "statx" => sc.args[2],
                    _ => AT_SYMLINK_NOFOLLOW,
                };
                match &sc.filled {
                    Filled::Stat(i)
                        if flags & AT_SYMLINK_NOFOLLOW != 0
                            && sc.path0.as_deref().is_some_and(|p| !p.is_empty())
                            && !sc.path0_truncated
                            && matches!(i.mode.get() & S_IFMT, S_IFREG | S_IFDIR | S_IFLNK) =>
                    {
                        files.looked_at(path, i);
                        (None, None)
                    }
                    _ => (inode.map(|i| files.seen(i)), None),
                }
            }
            ("link" | "linkat", Some(old), Some(new)) => (Some(files.link(old, new)), None),
            ("symlink" | "symlinkat", Some(target), Some(new)) => {
                let len = (!sc.path0_truncated).then_some(target.len() as u64);
                (Some(files.symlink(new, len)), None)
            }
            ("rename" | "renameat" | "renameat2", Some(old), Some(new)) => {
                let flags = if name == "renameat2" { sc.args[4] } else { 0 };
                let (moved, other) = files.rename(old, new, flags);
                (Some(moved), other)
            }
            _ => (inode.map(|i| files.seen(i)), None),
        };
        resolved.file0 = file0.map(Box::new);
        resolved.file1 = file1.map(Box::new);
    }
}

/// `socket:[INODE]` / `pipe:[INODE]` for socket and pipe inodes, as /proc names them.
fn inode_name(mode: u32, ino: u64) -> Option<String> {
    match mode & 0o170000 {
        0o140000 => Some(format!("socket:[{ino}]")),
        0o010000 => Some(format!("pipe:[{ino}]")),
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
mod tests {
    use super::*;

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
                name: "/etc".into(),
                cloexec: false,
            },
        );
        state.fds.insert(
            4,
            FdEntry {
                name: "socket".into(),
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
}
