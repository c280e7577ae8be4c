//! The inode model of replay: every file the trace shows, one entry per file *lifetime*
//! (an inode number the kernel hands out again after a delete is a new file here), the
//! names that lead to it, and its attributes as far as the trace reveals them.
//!
//! Owned by the process table ([`super::state::ProcessTable`]), which applies each
//! syscall's effect here once; the views read it. Two kinds of facts feed it:
//!
//! - snapshots: the kernel's own copy of the inode (`struct kl_inode`), read at the exit of
//!   an open, of an fd-based syscall (read, write, fchmod, ftruncate, mmap, …) and of exec.
//!   A snapshot makes every attribute known.
//! - effects of path-based syscalls, which carry no inode: chmod/fchmodat set the
//!   permission bits, truncate the size, unlink/link/rename the link count. What such a
//!   syscall changes but does not reveal (the status change time it sets, the modification
//!   time a truncate sets) becomes unknown until the next snapshot: never stale.

use std::collections::HashMap;

use crate::abi::InodeAttrs;

/// `S_IFMT`: the file type bits of a mode.
pub const S_IFMT: u32 = 0o170000;
/// `S_IFREG`.
pub const S_IFREG: u32 = 0o100000;
/// `S_IFLNK`.
pub const S_IFLNK: u32 = 0o120000;
/// `S_IFDIR`.
pub const S_IFDIR: u32 = 0o040000;
/// `S_IFCHR`.
pub const S_IFCHR: u32 = 0o020000;
/// `FMODE_CREATED` in `struct file.f_mode`: this open created the file.
const FMODE_CREATED: u32 = 0x100000;

/// `renameat2` flag: fail rather than replace a file at the new name.
pub const RENAME_NOREPLACE: u64 = 1;
/// `renameat2` flag: swap the files of the two names.
pub const RENAME_EXCHANGE: u64 = 2;
/// `renameat2` flag: leave a whiteout (a character device 0:0) at the old name.
pub const RENAME_WHITEOUT: u64 = 4;

/// One file lifetime: numbered 1, 2, … in the order replay first meets them
/// (deterministic: it depends only on the trace).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FileId(pub u64);

/// A file's attributes as far as the trace reveals them; `None`: unknown (never seen, or
/// changed since by a syscall that did not say to what).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attrs {
    /// Device (the kernel's `s_dev`: major << 20 | minor).
    pub dev: Option<u32>,
    /// Inode number.
    pub ino: Option<u64>,
    /// File type: the `S_IFMT` bits of the mode.
    pub kind: Option<u32>,
    /// Permission bits: the `07777` bits of the mode.
    pub perm: Option<u32>,
    /// Owner's user and group ids.
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Hard links.
    pub nlink: Option<u32>,
    /// Bytes.
    pub size: Option<u64>,
    /// Access, modification and status change times (UTC, ns since the epoch).
    pub atime_ns: Option<i64>,
    pub mtime_ns: Option<i64>,
    pub ctime_ns: Option<i64>,
}

impl Attrs {
    /// Everything a kernel snapshot of the inode says.
    pub fn from_inode(i: &InodeAttrs) -> Attrs {
        let mode = i.mode.get();
        Attrs {
            dev: Some(i.dev.get()),
            ino: Some(i.ino.get()),
            kind: Some(mode & S_IFMT),
            perm: Some(mode & 0o7777),
            uid: Some(i.uid.get()),
            gid: Some(i.gid.get()),
            nlink: Some(i.nlink.get()),
            size: Some(i.size.get()),
            atime_ns: Some(i.atime_ns.get()),
            mtime_ns: Some(i.mtime_ns.get()),
            ctime_ns: Some(i.ctime_ns.get()),
        }
    }

    /// The whole mode (type and permission bits) when both are known.
    pub fn mode(&self) -> Option<u32> {
        Some(self.kind? | self.perm?)
    }
}

/// One file of the model.
#[derive(Debug, Clone, Default)]
struct File {
    attrs: Attrs,
    /// How many names of the model lead to it.
    names: u32,
    /// Its last name went (unlink, or a rename over it) with no link count left:
    /// its inode number may be handed out again.
    gone: bool,
}

/// What one event did to one file, for the views.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Touched {
    /// The file.
    pub file: FileId,
    /// Its attributes before the event; `None` when the file is new to the model (created,
    /// or first seen) with this event.
    pub before: Option<Attrs>,
}

/// The model. Memory grows with the number of distinct files and names the trace shows
/// (as the records it feeds do); a file whose inode number is handed out again is dropped
/// once no name leads to it.
#[derive(Debug, Default)]
pub struct Files {
    files: HashMap<FileId, File>,
    /// The live file of each inode: (dev, ino) → file.
    by_inode: HashMap<(u32, u64), FileId>,
    /// What each absolute path names now.
    by_path: HashMap<String, FileId>,
    last: u64,
    /// Files done with (no name, no inode number of their own any more), dropped at the
    /// next event: the views still read them for the event that ended them.
    done: Vec<FileId>,
}

impl Files {
    /// The attributes of a file now; all unknown for an id the model does not hold.
    pub fn attrs(&self, id: FileId) -> Attrs {
        self.files.get(&id).map(|f| f.attrs).unwrap_or_default()
    }

    /// The attributes of a file now, if the model holds it (a file whose inode number
    /// was handed out again, with no name left, is dropped).
    pub fn get(&self, id: FileId) -> Option<Attrs> {
        self.files.get(&id).map(|f| f.attrs)
    }

    /// How many files the model holds.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// The model holds no file.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The file `path` names, for an event about it that reveals nothing of it (an open
    /// whose inode could not be read): made up, all attributes unknown, if new.
    pub fn named(&mut self, path: &str) -> Touched {
        let file = self.at_or_new(path);
        Touched {
            file,
            before: self.before(file),
        }
    }

    /// What `path` names now, if the model knows.
    pub fn at(&self, path: &str) -> Option<FileId> {
        self.by_path.get(path).copied()
    }

    fn new_file(&mut self, attrs: Attrs) -> FileId {
        self.last += 1;
        let id = FileId(self.last);
        self.files.insert(
            id,
            File {
                attrs,
                ..File::default()
            },
        );
        id
    }

    fn before(&self, id: FileId) -> Option<Attrs> {
        self.files.get(&id).map(|f| f.attrs)
    }

    /// Points `path` at `id` (and away from what it named before).
    fn name(&mut self, path: &str, id: FileId) {
        if let Some(old) = self.by_path.insert(path.to_owned(), id) {
            if old == id {
                return;
            }
            self.unname(old);
        }
        if let Some(f) = self.files.get_mut(&id) {
            f.names = f.names.saturating_add(1);
        }
    }

    /// One name of `id` went from the model's path map.
    fn unname(&mut self, id: FileId) {
        let drop = match self.files.get_mut(&id) {
            Some(f) => {
                f.names = f.names.saturating_sub(1);
                // Kept while it is its inode's live file: fds may still be open on it.
                let live = match (f.attrs.dev, f.attrs.ino) {
                    (Some(dev), Some(ino)) => self.by_inode.get(&(dev, ino)) == Some(&id),
                    _ => false,
                };
                f.names == 0 && f.gone && !live
            }
            None => false,
        };
        if drop {
            self.done.push(id);
        }
    }

    /// Drops the files the previous event was done with. Called before each event.
    pub fn sweep(&mut self) {
        for id in self.done.drain(..) {
            self.files.remove(&id);
        }
    }

    /// The file `path` names, made up (all attributes unknown) when the model has not
    /// met it.
    fn at_or_new(&mut self, path: &str) -> FileId {
        match self.at(path) {
            Some(id) => id,
            None => {
                let id = self.new_file(Attrs::default());
                self.name(path, id);
                id
            }
        }
    }

    /// The live file of an inode snapshot; a new file when the model knows none, or when
    /// `fresh` (the inode was just created, or its number was handed out again).
    fn of_inode(&mut self, i: &InodeAttrs, fresh: bool) -> (FileId, Option<Attrs>) {
        let key = (i.dev.get(), i.ino.get());
        let known = self
            .by_inode
            .get(&key)
            .copied()
            .filter(|id| self.files.contains_key(id));
        let reused = known.is_some_and(|id| {
            fresh
                || self.files.get(&id).is_some_and(|f| f.gone)
                // A link count the model holds at 0 is back above it: another file.
                || (self.attrs(id).nlink == Some(0) && i.nlink.get() > 0)
        });
        match known {
            Some(id) if !reused => {
                let before = self.before(id);
                if let Some(f) = self.files.get_mut(&id) {
                    f.attrs = Attrs::from_inode(i);
                }
                (id, before)
            }
            old => {
                let id = self.new_file(Attrs::from_inode(i));
                self.by_inode.insert(key, id);
                if let Some(old) = old {
                    // The old lifetime is over: drop it unless a name still leads to it.
                    if self.files.get(&old).is_some_and(|f| f.names == 0) {
                        self.done.push(old);
                    }
                }
                (id, None)
            }
        }
    }

    /// An open (or exec) of `path` that gave the kernel's snapshot of the inode it
    /// reached. `fmode` carrying `FMODE_CREATED` says the open created it: a new file even
    /// if its inode number was another's.
    pub fn opened(&mut self, path: &str, i: &InodeAttrs) -> Touched {
        let created = i.fmode.get() & FMODE_CREATED != 0;
        let (file, before) = self.of_inode(i, created);
        self.name(path, file);
        Touched { file, before }
    }

    /// A snapshot of an inode reached through an fd (read, write, fchmod, ftruncate, mmap,
    /// …): an open fd holds its inode, so its number cannot have been handed out again.
    pub fn seen(&mut self, i: &InodeAttrs) -> Touched {
        let key = (i.dev.get(), i.ino.get());
        match self.by_inode.get(&key).copied() {
            Some(id) if self.files.contains_key(&id) => {
                let before = self.before(id);
                if let Some(f) = self.files.get_mut(&id) {
                    f.attrs = Attrs::from_inode(i);
                }
                Touched { file: id, before }
            }
            _ => {
                let file = self.new_file(Attrs::from_inode(i));
                self.by_inode.insert(key, file);
                Touched { file, before: None }
            }
        }
    }

    /// `chmod`/`fchmodat` of `path` to `mode`: the permission bits are known, the status
    /// change time the kernel set is not.
    pub fn chmod(&mut self, path: &str, mode: u64) -> Touched {
        let file = self.at_or_new(path);
        let before = self.before(file);
        if let Some(f) = self.files.get_mut(&file) {
            f.attrs.perm = Some(mode as u32 & 0o7777);
            f.attrs.ctime_ns = None;
        }
        Touched { file, before }
    }

    /// `truncate` of `path` to `size` bytes: the size is known; the modification and
    /// status change times the kernel set are not.
    pub fn truncate(&mut self, path: &str, size: u64) -> Touched {
        let file = self.at_or_new(path);
        let before = self.before(file);
        if let Some(f) = self.files.get_mut(&file) {
            f.attrs.size = Some(size);
            f.attrs.mtime_ns = None;
            f.attrs.ctime_ns = None;
        }
        Touched { file, before }
    }

    /// One link of a file goes: its link count drops by one and its status change time
    /// becomes unknown; at no link left, its inode number may be handed out again.
    fn drop_link(&mut self, id: FileId) {
        if let Some(f) = self.files.get_mut(&id) {
            f.attrs.nlink = f.attrs.nlink.map(|n| n.saturating_sub(1));
            f.attrs.ctime_ns = None;
            if f.attrs.nlink == Some(0) {
                f.gone = true;
            }
        }
    }

    /// `unlink` of `path`. The file keeps its attributes (the link count after the
    /// unlink), for the record of its delete and for fds still open on it.
    pub fn unlink(&mut self, path: &str) -> Touched {
        let file = self.at_or_new(path);
        let before = self.before(file);
        self.drop_link(file);
        if let Some(f) = self.files.get(&file) {
            // With the link count unknown, a file whose last known name went is gone.
            if f.attrs.nlink.is_none() && f.names <= 1 {
                if let Some(f) = self.files.get_mut(&file) {
                    f.gone = true;
                }
            }
        }
        self.by_path.remove(path);
        self.unname(file);
        Touched { file, before }
    }

    /// `link` of `old` as `new`: one more link, status change time unknown.
    pub fn link(&mut self, old: &str, new: &str) -> Touched {
        let file = self.at_or_new(old);
        let before = self.before(file);
        if let Some(f) = self.files.get_mut(&file) {
            f.attrs.nlink = f.attrs.nlink.map(|n| n.saturating_add(1));
            f.attrs.ctime_ns = None;
        }
        self.name(new, file);
        Touched { file, before }
    }

    /// `symlink` making `new`, pointing at `target` (`target_len` bytes, when the whole
    /// target was captured): a new file, a symlink with one link, mode 0777 (Linux ignores
    /// the umask for symlinks), its size the target's length.
    pub fn symlink(&mut self, new: &str, target_len: Option<u64>) -> Touched {
        let file = self.new_file(Attrs {
            kind: Some(S_IFLNK),
            perm: Some(0o777),
            nlink: Some(1),
            size: target_len,
            ..Attrs::default()
        });
        self.name(new, file);
        Touched { file, before: None }
    }

    /// `rename`/`renameat`/`renameat2` of `old` to `new` with `flags` (`RENAME_*`), after
    /// it succeeded. Returns the file moved from `old` to `new`, and the other file the
    /// rename touched: with `RENAME_EXCHANGE` the one moved from `new` to `old`, otherwise
    /// the one it replaced at `new` (which lost a link), if any.
    ///
    /// - `RENAME_EXCHANGE`: the two names swap files; both files' status change times
    ///   become unknown.
    /// - `RENAME_NOREPLACE`: it succeeded, so nothing was at `new`: a file the model had
    ///   there is stale and only loses the name.
    /// - `RENAME_WHITEOUT`: `old` now names a new file, a whiteout: a character device
    ///   0:0 with mode 0 and one link (what the kernel makes, whatever the filesystem).
    pub fn rename(&mut self, old: &str, new: &str, flags: u64) -> (Touched, Option<Touched>) {
        let moved = self.at_or_new(old);
        let moved_before = self.before(moved);
        if flags & RENAME_EXCHANGE != 0 {
            let other = self.at_or_new(new);
            let other_before = self.before(other);
            if moved != other {
                self.by_path.insert(old.to_owned(), other);
                self.by_path.insert(new.to_owned(), moved);
                for id in [moved, other] {
                    if let Some(f) = self.files.get_mut(&id) {
                        f.attrs.ctime_ns = None;
                    }
                }
            }
            return (
                Touched {
                    file: moved,
                    before: moved_before,
                },
                Some(Touched {
                    file: other,
                    before: other_before,
                }),
            );
        }
        let target = self.at(new);
        if target == Some(moved) {
            // Two names of one file: rename does nothing.
            return (
                Touched {
                    file: moved,
                    before: moved_before,
                },
                None,
            );
        }
        let replaced = target.map(|t| Touched {
            file: t,
            before: self.before(t),
        });
        if let (Some(t), false) = (target, flags & RENAME_NOREPLACE != 0) {
            self.drop_link(t);
        }
        self.by_path.remove(old);
        if let Some(f) = self.files.get_mut(&moved) {
            f.names = f.names.saturating_sub(1);
            f.attrs.ctime_ns = None;
        }
        self.name(new, moved);
        if flags & RENAME_WHITEOUT != 0 {
            let whiteout = self.new_file(Attrs {
                kind: Some(S_IFCHR),
                perm: Some(0),
                nlink: Some(1),
                size: Some(0),
                ..Attrs::default()
            });
            self.name(old, whiteout);
        }
        (
            Touched {
                file: moved,
                before: moved_before,
            },
            replaced.filter(|_| flags & RENAME_NOREPLACE == 0),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::little_endian::{I64, U32, U64};

    fn inode(ino: u64, size: u64, mode: u32, nlink: u32, fmode: u32) -> InodeAttrs {
        InodeAttrs {
            ino: U64::new(ino),
            size: U64::new(size),
            dev: U32::new(0xfe00000),
            mode: U32::new(mode),
            uid: U32::new(0),
            gid: U32::new(0),
            nlink: U32::new(nlink),
            fmode: U32::new(fmode),
            atime_ns: I64::new(1),
            mtime_ns: I64::new(2),
            ctime_ns: I64::new(3),
        }
    }

    #[test]
    fn chmod_by_path_sets_the_mode_and_forgets_the_ctime() {
        let mut f = Files::default();
        let t = f.opened("/w/f1", &inode(10, 6, 0o100644, 1, FMODE_CREATED));
        let c = f.chmod("/w/f1", 0o4755);
        assert_eq!(c.file, t.file);
        assert_eq!(c.before.unwrap().perm, Some(0o644));
        let a = f.attrs(c.file);
        assert_eq!(a.mode(), Some(0o104755));
        assert_eq!(a.ctime_ns, None, "chmod sets a ctime no syscall reveals");
        assert_eq!(a.mtime_ns, Some(2));
        // A path never seen: the mode is known, the type is not.
        let u = f.chmod("/w/other", 0o600);
        assert_eq!(f.attrs(u.file).perm, Some(0o600));
        assert_eq!(f.attrs(u.file).mode(), None);
    }

    #[test]
    fn truncate_by_path_sets_the_size() {
        let mut f = Files::default();
        f.opened("/w/t", &inode(11, 100, 0o100644, 1, 0));
        let t = f.truncate("/w/t", 7);
        let a = f.attrs(t.file);
        assert_eq!(a.size, Some(7));
        assert_eq!((a.mtime_ns, a.ctime_ns), (None, None));
        assert_eq!(t.before.unwrap().size, Some(100));
    }

    #[test]
    fn a_reused_inode_number_is_a_new_file() {
        let mut f = Files::default();
        let old = f.opened("/w/old", &inode(12, 0, 0o100644, 1, FMODE_CREATED));
        f.seen(&inode(12, 25, 0o100644, 1, FMODE_CREATED));
        let gone = f.unlink("/w/old");
        assert_eq!(gone.file, old.file);
        assert_eq!(f.attrs(gone.file).nlink, Some(0));
        // Created again with the same number: nothing of the old file carries over.
        let new = f.opened("/w/new", &inode(12, 0, 0o100644, 1, FMODE_CREATED));
        assert_ne!(new.file, old.file);
        assert_eq!(new.before, None);
        assert_eq!(f.at("/w/old"), None);
        // Reached again without O_CREAT (another process made it): new all the same.
        f.unlink("/w/new");
        let again = f.opened("/w/x", &inode(12, 3, 0o100644, 1, 0));
        assert_ne!(again.file, new.file);
        // A write through an fd is the same file.
        let w = f.seen(&inode(12, 9, 0o100644, 1, 0));
        assert_eq!(w.file, again.file);
        assert_eq!(w.before.unwrap().size, Some(3));
    }

    #[test]
    fn link_and_unlink_count_links() {
        let mut f = Files::default();
        let t = f.opened("/w/new", &inode(13, 19, 0o100644, 1, FMODE_CREATED));
        let l = f.link("/w/new", "/w/lnk");
        assert_eq!(l.file, t.file);
        assert_eq!(f.attrs(t.file).nlink, Some(2));
        let d = f.unlink("/w/lnk");
        assert_eq!(d.file, t.file);
        f.sweep();
        let a = f.attrs(d.file);
        assert_eq!(
            (a.nlink, a.size, a.mode()),
            (Some(1), Some(19), Some(0o100644))
        );
        assert_eq!(f.at("/w/new"), Some(t.file));
        assert_eq!(f.at("/w/lnk"), None);
    }

    #[test]
    fn rename_exchange_swaps_the_names() {
        let mut f = Files::default();
        let a = f.opened("/w/a", &inode(14, 5, 0o100644, 1, FMODE_CREATED));
        let b = f.opened("/w/b", &inode(15, 9, 0o100644, 1, FMODE_CREATED));
        let (moved, other) = f.rename("/w/a", "/w/b", RENAME_EXCHANGE);
        assert_eq!(moved.file, a.file);
        assert_eq!(other.unwrap().file, b.file);
        assert_eq!(f.at("/w/a"), Some(b.file));
        assert_eq!(f.at("/w/b"), Some(a.file));
        assert_eq!(f.attrs(a.file).size, Some(5));
        assert_eq!(f.attrs(a.file).ctime_ns, None);
        // A plain rename over b replaces the file there, which loses its link.
        let (moved, replaced) = f.rename("/w/a", "/w/b", 0);
        assert_eq!(moved.file, b.file);
        assert_eq!(replaced.unwrap().file, a.file);
        assert_eq!(f.attrs(a.file).nlink, Some(0));
        assert_eq!(f.at("/w/a"), None);
        assert_eq!(f.at("/w/b"), Some(b.file));
    }

    #[test]
    fn rename_noreplace_and_whiteout_move_one_file() {
        let mut f = Files::default();
        let a = f.opened("/w/a", &inode(16, 5, 0o100644, 1, FMODE_CREATED));
        let (m, other) = f.rename("/w/a", "/w/c", RENAME_NOREPLACE);
        assert_eq!((m.file, other), (a.file, None));
        assert_eq!(f.at("/w/c"), Some(a.file));
        assert_eq!(f.attrs(a.file).nlink, Some(1));
        let (m, other) = f.rename("/w/c", "/w/d", RENAME_WHITEOUT);
        assert_eq!((m.file, other), (a.file, None));
        assert_eq!(f.at("/w/d"), Some(a.file));
        let whiteout = f.at("/w/c").expect("the whiteout");
        assert_ne!(whiteout, a.file);
        assert_eq!(f.attrs(whiteout).mode(), Some(S_IFCHR));
        // Its unlink: readable for that event, then dropped.
        let gone = f.unlink("/w/c");
        assert_eq!(gone.file, whiteout);
        assert_eq!(f.get(whiteout).and_then(|a| a.nlink), Some(0));
        f.sweep();
        assert_eq!(f.get(whiteout), None);
    }
}
