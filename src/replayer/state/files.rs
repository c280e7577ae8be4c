//! The inode model of replay: every file the trace shows, one entry per file *lifetime*
//! (an inode number the kernel hands out again after a delete is a new file here), the
//! names that lead to it, and its attributes as far as the trace reveals them.
//!
//! Owned by the process table ([`crate::replayer::state::ProcessTable`]), which applies each
//! syscall's effect here once; the views read it. Two kinds of facts feed it:
//!
//! - snapshots: the kernel's own copy of the inode (`struct kl_inode`), read at the exit of
//!   an open, of an fd-based syscall (read, write, fchmod, ftruncate, mmap, …) and of exec.
//!   A snapshot makes every attribute known.
//! - effects of path-based syscalls, which carry no inode: chmod/fchmodat set the
//!   permission bits, truncate the size, unlink/link/rename the link count. What such a
//!   syscall changes but does not reveal (the status change time it sets, the modification
//!   time a truncate sets) becomes unknown until the next snapshot: never stale.
//!
//! A name (path → file) learned through a syscall that follows symlinks (an open without
//! `O_NOFOLLOW` or `O_CREAT|O_EXCL`, exec, chmod, truncate) may be a symlink to the file:
//! its unlink makes the file's link count unknown rather than taking a link from it, and
//! an open through a name the model knows is a symlink leaves that name to the symlink.
//! Names made or seen without following (`O_CREAT|O_EXCL`, `O_NOFOLLOW`, lstat, link,
//! symlink, a rename of an exact name, a whiteout) are the file itself. The names under a
//! directory follow its rename and go with its rmdir.
//!
//! Memory is bounded: past [`Files::max_entries`] paths plus files, the least recently
//! used entry is forgotten (and counted, for the replay's warning).

use std::collections::BTreeMap;

use crate::abi::InodeAttrs;
use crate::replayer::input::decode::TimeSet;

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
    /// Its use stamp in the recency order.
    used: u64,
}

/// What a path names, as far as the model knows.
#[derive(Debug, Clone, Copy)]
struct Name {
    file: FileId,
    /// The path's last component is the file itself: learned from an operation that does
    /// not follow it (O_CREAT|O_EXCL creating the file, O_NOFOLLOW, lstat, link, symlink,
    /// rename from such a name). `false`: learned through a syscall that follows
    /// symlinks, so the path may be a symlink to the file.
    exact: bool,
    /// Its use stamp in the recency order.
    used: u64,
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

/// The memory one entry of the model costs, in bytes: a path (its key and its copy in the
/// recency order, the file it names, the tree's share) or a file (its attributes, its inode
/// key, its place in the recency order, the hash tables' share). Measured: 296 bytes an
/// entry for 200,000 files opened through 46-byte paths (400,000 entries; the growth of
/// the resident set); rounded up for longer paths. The basis of [`DEFAULT_MAX_ENTRIES`].
pub const ENTRY_BYTES: usize = 320;

/// The default bound on the model's entries (paths plus files): 128 MiB at
/// [`ENTRY_BYTES`] each, 419,430 entries.
pub const DEFAULT_MAX_ENTRIES: usize = (128 << 20) / ENTRY_BYTES;

/// The model. Its memory is bounded: at most `max_entries` paths plus files (plus what one
/// event adds); past that the least recently used entry is forgotten before the next
/// event (see [`Files::evicted`]). A file whose inode number is handed out again is
/// dropped once no name leads to it.
#[derive(Debug)]
pub struct Files {
    /// The bound on paths plus files held; [`DEFAULT_MAX_ENTRIES`] unless set (a replay
    /// memory budget divides by [`ENTRY_BYTES`]). At least 1 is kept.
    pub max_entries: usize,
    files: super::Map<FileId, File>,
    /// The live file of each inode: (dev, ino) → file.
    by_inode: super::Map<(u32, u64), FileId>,
    /// What each absolute path names now (ordered: the paths under a directory are one
    /// range, for a rename or rmdir of the directory).
    by_path: BTreeMap<String, Name>,
    last: u64,
    /// Files done with (no name, no inode number of their own any more), dropped at the
    /// next event: the views still read them for the event that ended them.
    done: Vec<FileId>,
    /// Recency: use stamp → entry; the first is the least recently used.
    lru: BTreeMap<u64, Entry>,
    clock: u64,
    evicted: u64,
}

/// An entry of the recency order.
#[derive(Debug, Clone)]
enum Entry {
    File(FileId),
    Path(String),
}

/// The recency entry of `path`: `removed` (the entry taken from its old place) when it is
/// that path's, else a new one.
fn reuse_path(removed: Option<Entry>, path: &str) -> Entry {
    match removed {
        Some(Entry::Path(p)) if p == path => Entry::Path(p),
        _ => Entry::Path(path.to_owned()),
    }
}

impl Default for Files {
    fn default() -> Self {
        Files::new(DEFAULT_MAX_ENTRIES)
    }
}

impl Files {
    /// An empty model that holds at most `max_entries` paths plus files (see the field).
    pub fn new(max_entries: usize) -> Files {
        Files {
            max_entries,
            files: super::Map::default(),
            by_inode: super::Map::default(),
            by_path: BTreeMap::new(),
            last: 0,
            done: Vec::new(),
            lru: BTreeMap::new(),
            clock: 0,
            evicted: 0,
        }
    }

    /// How many entries (paths or files) were forgotten so far to stay within
    /// `max_entries`: the values of those files may be unknown from then on.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// The attributes of a file now; all unknown for an id the model does not hold.
    pub fn attrs(&self, id: FileId) -> Attrs {
        self.files.get(&id).map(|f| f.attrs).unwrap_or_default()
    }

    /// The attributes of a file now, if the model holds it (a file whose inode number
    /// was handed out again, with no name left, is dropped; so is a forgotten one).
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

    /// How many paths the model holds.
    pub fn paths(&self) -> usize {
        self.by_path.len()
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
        self.name_of(path).map(|n| n.file)
    }

    /// The model's name `path`, if it leads to a file the model holds.
    fn name_of(&self, path: &str) -> Option<Name> {
        self.by_path
            .get(path)
            .copied()
            .filter(|n| self.files.contains_key(&n.file))
    }

    fn stamp(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// `id` was used now: last in the recency order.
    fn touch_file(&mut self, id: FileId) {
        let now = self.stamp();
        if let Some(f) = self.files.get_mut(&id) {
            self.lru.remove(&f.used);
            f.used = now;
            self.lru.insert(now, Entry::File(id));
        }
    }

    /// `path` was used now: last in the recency order.
    fn touch_path(&mut self, path: &str) {
        let now = self.stamp();
        if let Some(n) = self.by_path.get_mut(path) {
            let entry = reuse_path(self.lru.remove(&n.used), path);
            n.used = now;
            self.lru.insert(now, entry);
        }
    }

    fn new_file(&mut self, attrs: Attrs) -> FileId {
        self.last += 1;
        let id = FileId(self.last);
        let used = self.stamp();
        self.files.insert(
            id,
            File {
                attrs,
                used,
                ..File::default()
            },
        );
        self.lru.insert(used, Entry::File(id));
        id
    }

    fn before(&self, id: FileId) -> Option<Attrs> {
        self.files.get(&id).map(|f| f.attrs)
    }

    /// Puts the name `path` → `name` in the path map and the recency order, without
    /// counting names (the caller does); returns what `path` named before.
    fn put(&mut self, path: &str, mut name: Name) -> Option<Name> {
        name.used = self.stamp();
        if let Some(slot) = self.by_path.get_mut(path) {
            // A path named again (a file opened again): its entries move, no string is
            // copied.
            let old = std::mem::replace(slot, name);
            let entry = reuse_path(self.lru.remove(&old.used), path);
            self.lru.insert(name.used, entry);
            return Some(old);
        }
        self.lru.insert(name.used, Entry::Path(path.to_owned()));
        self.by_path.insert(path.to_owned(), name);
        None
    }

    /// Takes the name `path` out of the path map (the caller counts names).
    fn take(&mut self, path: &str) -> Option<Name> {
        let n = self.by_path.remove(path)?;
        self.lru.remove(&n.used);
        Some(n)
    }

    /// Points `path` at `id` (and away from what it named before); `exact`: the path's
    /// last component is known to be the file itself (see [`Name::exact`]). A name that
    /// was known exact for the same file stays so.
    fn name(&mut self, path: &str, id: FileId, exact: bool) {
        let was = self.by_path.get(path).copied();
        let exact = exact || was.is_some_and(|o| o.file == id && o.exact);
        self.put(
            path,
            Name {
                file: id,
                exact,
                used: 0,
            },
        );
        match was {
            Some(o) if o.file == id => return,
            Some(o) => self.unname(o.file),
            None => {}
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

    /// Removes a file, its place in the recency order and its inode key.
    fn remove_file(&mut self, id: FileId) {
        let Some(f) = self.files.remove(&id) else {
            return;
        };
        self.lru.remove(&f.used);
        if let (Some(dev), Some(ino)) = (f.attrs.dev, f.attrs.ino) {
            if self.by_inode.get(&(dev, ino)) == Some(&id) {
                self.by_inode.remove(&(dev, ino));
            }
        }
    }

    /// Drops the files the previous event was done with, then forgets the least recently
    /// used entries while more than `max_entries` are held. Called before each event, so
    /// that nothing an event touched goes before the views read it.
    pub fn sweep(&mut self) {
        loop {
            for id in std::mem::take(&mut self.done) {
                self.remove_file(id);
            }
            if self.by_path.len() + self.files.len() <= self.max_entries.max(1) {
                return;
            }
            let Some((_, entry)) = self.lru.pop_first() else {
                return;
            };
            self.evicted += 1;
            match entry {
                // Names that lead to it stay until their turn, as unknown (see `name_of`).
                Entry::File(id) => self.remove_file(id),
                Entry::Path(path) => {
                    if let Some(n) = self.by_path.remove(&path) {
                        self.unname(n.file);
                    }
                }
            }
        }
    }

    /// The file `path` names, made up (all attributes unknown) when the model has not
    /// met it.
    fn at_or_new(&mut self, path: &str) -> FileId {
        match self.at(path) {
            Some(id) => {
                self.touch_path(path);
                self.touch_file(id);
                id
            }
            None => {
                let id = self.new_file(Attrs::default());
                self.name(path, id, false);
                id
            }
        }
    }

    /// The file a syscall that follows symlinks reaches through `path`: what the path
    /// names, or, when the model knows the path is a symlink, a file it does not know
    /// (made up, all attributes unknown, dropped after this event).
    fn followed(&mut self, path: &str) -> FileId {
        match self.name_of(path) {
            Some(n) if n.exact && self.attrs(n.file).kind == Some(S_IFLNK) => {
                let id = self.new_file(Attrs::default());
                if let Some(f) = self.files.get_mut(&id) {
                    f.gone = true;
                }
                self.done.push(id);
                id
            }
            _ => self.at_or_new(path),
        }
    }

    /// The names under directory `dir` (its descendants), taken out of the path map:
    /// (the rest of the path after `dir/`, the name).
    fn take_under(&mut self, dir: &str) -> Vec<(String, Name)> {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        let keys: Vec<String> = self
            .by_path
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        keys.into_iter()
            .filter_map(|k| {
                let n = self.take(&k)?;
                Some((k[prefix.len()..].to_owned(), n))
            })
            .collect()
    }

    /// Forgets the names under directory `dir`.
    fn forget_under(&mut self, dir: &str) {
        for (_, n) in self.take_under(dir) {
            self.unname(n.file);
        }
    }

    /// Puts names taken from under one directory under `dir`.
    fn put_under(&mut self, dir: &str, names: Vec<(String, Name)>) {
        let dir = dir.trim_end_matches('/');
        for (rest, n) in names {
            if let Some(old) = self.put(&format!("{dir}/{rest}"), n) {
                if old.file != n.file {
                    self.unname(old.file);
                }
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
                self.touch_file(id);
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
    /// if its inode number was another's. `exact`: the open did not follow the path's
    /// last component (`O_NOFOLLOW`, or `O_CREAT|O_EXCL` that created the file), so the
    /// path is the file itself; otherwise it may be a symlink to it, and an open through
    /// a path the model knows as a symlink leaves that name to the symlink.
    pub fn opened(&mut self, path: &str, i: &InodeAttrs, exact: bool) -> Touched {
        let created = i.fmode.get() & FMODE_CREATED != 0;
        let (file, before) = self.of_inode(i, created);
        // Only O_PATH|O_NOFOLLOW opens a symlink itself.
        let exact = exact || i.mode.get() & S_IFMT == S_IFLNK;
        let through_symlink = !exact
            && self.name_of(path).is_some_and(|n| {
                n.exact && n.file != file && self.attrs(n.file).kind == Some(S_IFLNK)
            });
        if through_symlink {
            self.touch_path(path);
        } else {
            self.name(path, file, exact);
        }
        Touched { file, before }
    }

    /// A snapshot of what `path` itself is, from a syscall that does not follow its last
    /// component (`lstat`, `newfstatat`/`statx` with `AT_SYMLINK_NOFOLLOW`): the path
    /// names that file, exactly. Its attributes are the snapshot's.
    pub fn looked_at(&mut self, path: &str, i: &InodeAttrs) -> Touched {
        let key = (i.dev.get(), i.ino.get());
        let inode_known = self
            .by_inode
            .get(&key)
            .is_some_and(|id| self.files.contains_key(id));
        if let Some(n) = self.name_of(path).filter(|_| !inode_known) {
            // A file the model knew by its name only (made by symlink, a whiteout, or a
            // path-based change), of the same type: this is its inode.
            let a = self.attrs(n.file);
            if a.ino.is_none() && a.kind.is_none_or(|k| k == i.mode.get() & S_IFMT) {
                let before = self.before(n.file);
                if let Some(f) = self.files.get_mut(&n.file) {
                    f.attrs = Attrs::from_inode(i);
                }
                self.by_inode.insert(key, n.file);
                self.touch_file(n.file);
                self.name(path, n.file, true);
                return Touched {
                    file: n.file,
                    before,
                };
            }
        }
        let (file, before) = self.of_inode(i, false);
        self.name(path, file, true);
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
                self.touch_file(id);
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
        let file = self.followed(path);
        let before = self.before(file);
        if let Some(f) = self.files.get_mut(&file) {
            f.attrs.perm = Some(mode as u32 & 0o7777);
            f.attrs.ctime_ns = None;
        }
        Touched { file, before }
    }

    /// `chown`/`lchown`/`fchownat` of `path` (`follow`: through a symlink at its end) to
    /// owner `uid` and group `gid` (`None`: left as it was, the caller's -1): those are
    /// known, the status change time the kernel set is not.
    pub fn chown(
        &mut self,
        path: &str,
        uid: Option<u32>,
        gid: Option<u32>,
        follow: bool,
    ) -> Touched {
        let file = if follow {
            self.followed(path)
        } else {
            self.at_or_new(path)
        };
        let before = self.before(file);
        if let Some(f) = self.files.get_mut(&file) {
            f.attrs.uid = uid.or(f.attrs.uid);
            f.attrs.gid = gid.or(f.attrs.gid);
            f.attrs.ctime_ns = None;
        }
        Touched { file, before }
    }

    /// A utime-family call on `path` (`follow`: through a symlink at its end) set its
    /// access and modification times to `atime` and `mtime` as the caller asked: a time
    /// given is known, `UTIME_NOW` (the kernel's clock) is not, `UTIME_OMIT` leaves it;
    /// the status change time the kernel set is not known.
    pub fn utime(&mut self, path: &str, atime: TimeSet, mtime: TimeSet, follow: bool) -> Touched {
        let file = if follow {
            self.followed(path)
        } else {
            self.at_or_new(path)
        };
        let before = self.before(file);
        let set = |t: TimeSet, old: Option<i64>| match t {
            TimeSet::Omit => old,
            t => t.ns(),
        };
        if let Some(f) = self.files.get_mut(&file) {
            f.attrs.atime_ns = set(atime, f.attrs.atime_ns);
            f.attrs.mtime_ns = set(mtime, f.attrs.mtime_ns);
            f.attrs.ctime_ns = None;
        }
        Touched { file, before }
    }

    /// `truncate` of `path` to `size` bytes: the size is known; the modification and
    /// status change times the kernel set are not.
    pub fn truncate(&mut self, path: &str, size: u64) -> Touched {
        let file = self.followed(path);
        let before = self.before(file);
        if let Some(f) = self.files.get_mut(&file) {
            f.attrs.size = Some(size);
            f.attrs.mtime_ns = None;
            f.attrs.ctime_ns = None;
        }
        Touched { file, before }
    }

    /// One link of a file goes through a name `exact`ly known to be it: its link count
    /// drops by one and its status change time becomes unknown; at no link left, its
    /// inode number may be handed out again. Through a name that may have been a symlink
    /// to it, the link count and status change time become unknown (the link that went
    /// may have been the symlink's).
    fn drop_link(&mut self, id: FileId, exact: bool) {
        if let Some(f) = self.files.get_mut(&id) {
            f.attrs.nlink = if exact {
                f.attrs.nlink.map(|n| n.saturating_sub(1))
            } else {
                None
            };
            f.attrs.ctime_ns = None;
            // With the link count unknown, a file whose last known name went is gone.
            if f.attrs.nlink == Some(0) || (f.attrs.nlink.is_none() && f.names <= 1) {
                f.gone = true;
            }
        }
    }

    /// `unlink` of `path`. The file keeps its attributes (the link count after the
    /// unlink; unknown when the path may have been a symlink to it), for the record of its
    /// delete and for fds still open on it.
    pub fn unlink(&mut self, path: &str) -> Touched {
        let exact = self.name_of(path).is_none_or(|n| n.exact);
        let file = self.at_or_new(path);
        let before = self.before(file);
        self.drop_link(file, exact);
        if let Some(n) = self.take(path) {
            self.unname(n.file);
        }
        Touched { file, before }
    }

    /// `rmdir` (or `unlinkat` with `AT_REMOVEDIR`) of `path`: the name goes, with every
    /// name under it; a directory the model had there is gone (link count 0).
    pub fn rmdir(&mut self, path: &str) -> Option<Touched> {
        self.forget_under(path);
        let n = self.take(path)?;
        let before = self.before(n.file);
        if let Some(f) = self.files.get_mut(&n.file) {
            // A successful rmdir removed a directory: a file of another type here was stale.
            if f.attrs.kind == Some(S_IFDIR) {
                f.attrs.nlink = Some(0);
                f.attrs.ctime_ns = None;
                f.gone = true;
            }
        }
        self.unname(n.file);
        Some(Touched {
            file: n.file,
            before,
        })
    }

    /// `link` of `old` as `new`: one more link, status change time unknown.
    pub fn link(&mut self, old: &str, new: &str) -> Touched {
        let file = self.at_or_new(old);
        let before = self.before(file);
        if let Some(f) = self.files.get_mut(&file) {
            f.attrs.nlink = f.attrs.nlink.map(|n| n.saturating_add(1));
            f.attrs.ctime_ns = None;
        }
        self.name(new, file, true);
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
        self.name(new, file, true);
        Touched { file, before: None }
    }

    /// `rename`/`renameat`/`renameat2` of `old` to `new` with `flags` (`RENAME_*`), after
    /// it succeeded. Returns the file moved from `old` to `new`, and the other file the
    /// rename touched: with `RENAME_EXCHANGE` the one moved from `new` to `old`, otherwise
    /// the one it replaced at `new` (which lost a link), if any. Rename follows no
    /// symlink: each name keeps what the model knew of it (exact or not). The names under
    /// a renamed directory move with it.
    ///
    /// - `RENAME_EXCHANGE`: the two names swap files (and what is under them); both files'
    ///   status change times become unknown.
    /// - `RENAME_NOREPLACE`: it succeeded, so nothing was at `new`: a file the model had
    ///   there is stale and only loses the name.
    /// - `RENAME_WHITEOUT`: `old` now names a new file, a whiteout: a character device
    ///   0:0 with mode 0 and one link (what the kernel makes, whatever the filesystem).
    pub fn rename(&mut self, old: &str, new: &str, flags: u64) -> (Touched, Option<Touched>) {
        let moved = self.at_or_new(old);
        let moved_name = self.name_of(old);
        let moved_before = self.before(moved);
        if flags & RENAME_EXCHANGE != 0 {
            let other = self.at_or_new(new);
            let other_name = self.name_of(new);
            let other_before = self.before(other);
            if moved != other {
                if let (Some(a), Some(b)) = (moved_name, other_name) {
                    self.put(old, b);
                    self.put(new, a);
                }
                let (under_old, under_new) = (self.take_under(old), self.take_under(new));
                self.put_under(new, under_old);
                self.put_under(old, under_new);
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
        let target = self.name_of(new);
        if target.is_some_and(|t| t.file == moved) {
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
            file: t.file,
            before: self.before(t.file),
        });
        if let (Some(t), false) = (target, flags & RENAME_NOREPLACE != 0) {
            self.drop_link(t.file, t.exact);
        }
        // What was under `new` (an empty directory, if anything) is gone; what was under
        // `old` is under `new` now.
        self.forget_under(new);
        let under = self.take_under(old);
        self.put_under(new, under);
        self.take(old);
        if let Some(f) = self.files.get_mut(&moved) {
            f.names = f.names.saturating_sub(1);
            f.attrs.ctime_ns = None;
        }
        // A name the model did not know exactly stays so: the name of the previous
        // file at `new`, if any, does not count.
        if let Some(t) = self.take(new) {
            self.unname(t.file);
        }
        self.name(new, moved, moved_name.is_some_and(|n| n.exact));
        if flags & RENAME_WHITEOUT != 0 {
            let whiteout = self.new_file(Attrs {
                kind: Some(S_IFCHR),
                perm: Some(0),
                nlink: Some(1),
                size: Some(0),
                ..Attrs::default()
            });
            self.name(old, whiteout, true);
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
        let t = f.opened("/w/f1", &inode(10, 6, 0o100644, 1, FMODE_CREATED), true);
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
    fn chown_sets_the_owner_and_leaves_what_is_minus_one() {
        let mut f = Files::default();
        let t = f.opened("/w/c", &inode(13, 5, 0o100644, 1, 0), true);
        let c = f.chown("/w/c", Some(1000), None, true);
        assert_eq!(c.file, t.file);
        assert_eq!(c.before.unwrap().uid, Some(0));
        let a = f.attrs(c.file);
        assert_eq!((a.uid, a.gid), (Some(1000), Some(0)));
        assert_eq!(a.ctime_ns, None);
        assert_eq!(a.mtime_ns, Some(2), "chown leaves the mtime");
        // Not followed through a symlink the model knows: the link itself changes.
        f.symlink("/w/l", Some(4));
        let l = f.chown("/w/l", Some(7), Some(8), false);
        assert_eq!(f.attrs(l.file).kind, Some(S_IFLNK));
        assert_eq!(f.attrs(c.file).uid, Some(1000));
    }

    #[test]
    fn utime_sets_the_times_given_and_forgets_now() {
        let mut f = Files::default();
        f.opened("/w/u", &inode(14, 5, 0o100644, 1, 0), true);
        let forged = TimeSet::At { sec: 0, nsec: 0 };
        let t = f.utime("/w/u", TimeSet::Omit, forged, true);
        let a = f.attrs(t.file);
        assert_eq!(
            (a.atime_ns, a.mtime_ns, a.ctime_ns),
            (Some(1), Some(0), None)
        );
        let t = f.utime("/w/u", TimeSet::Now, TimeSet::At { sec: 2, nsec: 5 }, true);
        let a = f.attrs(t.file);
        assert_eq!((a.atime_ns, a.mtime_ns), (None, Some(2_000_000_005)));
        // A time past i64 nanoseconds is not a time the model can hold.
        let huge = TimeSet::At {
            sec: i64::MAX,
            nsec: 0,
        };
        let t = f.utime("/w/u", TimeSet::Omit, huge, true);
        assert_eq!(f.attrs(t.file).mtime_ns, None);
    }

    #[test]
    fn truncate_by_path_sets_the_size() {
        let mut f = Files::default();
        f.opened("/w/t", &inode(11, 100, 0o100644, 1, 0), false);
        let t = f.truncate("/w/t", 7);
        let a = f.attrs(t.file);
        assert_eq!(a.size, Some(7));
        assert_eq!((a.mtime_ns, a.ctime_ns), (None, None));
        assert_eq!(t.before.unwrap().size, Some(100));
    }

    #[test]
    fn a_reused_inode_number_is_a_new_file() {
        let mut f = Files::default();
        let old = f.opened("/w/old", &inode(12, 0, 0o100644, 1, FMODE_CREATED), true);
        f.seen(&inode(12, 25, 0o100644, 1, FMODE_CREATED));
        let gone = f.unlink("/w/old");
        assert_eq!(gone.file, old.file);
        assert_eq!(f.attrs(gone.file).nlink, Some(0));
        // Created again with the same number: nothing of the old file carries over.
        let new = f.opened("/w/new", &inode(12, 0, 0o100644, 1, FMODE_CREATED), true);
        assert_ne!(new.file, old.file);
        assert_eq!(new.before, None);
        assert_eq!(f.at("/w/old"), None);
        // Reached again without O_CREAT (another process made it): new all the same.
        f.unlink("/w/new");
        let again = f.opened("/w/x", &inode(12, 3, 0o100644, 1, 0), false);
        assert_ne!(again.file, new.file);
        // A write through an fd is the same file.
        let w = f.seen(&inode(12, 9, 0o100644, 1, 0));
        assert_eq!(w.file, again.file);
        assert_eq!(w.before.unwrap().size, Some(3));
    }

    #[test]
    fn link_and_unlink_count_links() {
        let mut f = Files::default();
        let t = f.opened("/w/new", &inode(13, 19, 0o100644, 1, FMODE_CREATED), true);
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
        let a = f.opened("/w/a", &inode(14, 5, 0o100644, 1, FMODE_CREATED), true);
        let b = f.opened("/w/b", &inode(15, 9, 0o100644, 1, FMODE_CREATED), true);
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
        let a = f.opened("/w/a", &inode(16, 5, 0o100644, 1, FMODE_CREATED), true);
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

    const DIR: u32 = 0o040755;

    #[test]
    fn an_open_through_a_symlink_leaves_the_target_alone() {
        let mut f = Files::default();
        // echo x > t (O_CREAT without O_EXCL: followed); ln -s t s; cat s.
        let t = f.opened("/w/t", &inode(20, 2, 0o100644, 1, FMODE_CREATED), false);
        let s = f.symlink("/w/s", Some(1));
        let cat = f.opened("/w/s", &inode(20, 2, 0o100644, 1, 0), false);
        assert_eq!(cat.file, t.file, "the open reached the target");
        assert_eq!(f.at("/w/s"), Some(s.file), "s still names the symlink");
        // rm s, after its lstat (which gives the symlink its inode number): the symlink
        // goes, the target keeps its link.
        let l = f.looked_at("/w/s", &inode(24, 1, 0o120777, 1, 0));
        assert_eq!(
            l.file, s.file,
            "the lstat of s is the symlink symlink() made"
        );
        assert_eq!(f.attrs(s.file).ino, Some(24));
        let rm = f.unlink("/w/s");
        assert_eq!(rm.file, s.file);
        f.sweep();
        assert_eq!(f.attrs(s.file).nlink, Some(0), "the symlink is gone");
        assert_eq!(f.attrs(t.file).nlink, Some(1));
        assert_eq!(f.at("/w/t"), Some(t.file));
        // cat t: the same file, not a new one.
        let again = f.opened("/w/t", &inode(20, 2, 0o100644, 1, 0), false);
        assert_eq!(again.file, t.file);
        assert!(again.before.is_some());
        // rm t, after its lstat: the path is the file itself, its last link goes.
        f.looked_at("/w/t", &inode(20, 2, 0o100644, 1, 0));
        let rm = f.unlink("/w/t");
        assert_eq!(rm.file, t.file);
        assert_eq!(f.attrs(t.file).nlink, Some(0));
    }

    #[test]
    fn an_unlink_of_a_followed_name_makes_the_link_count_unknown() {
        let mut f = Files::default();
        // A path the model learned only through an open that follows symlinks (it may be
        // a symlink made before the recording).
        let t = f.opened("/w/p", &inode(21, 2, 0o100644, 2, 0), false);
        let other = f.opened("/w/q", &inode(21, 2, 0o100644, 2, 0), false);
        assert_eq!(other.file, t.file);
        let rm = f.unlink("/w/p");
        assert_eq!(rm.file, t.file);
        assert_eq!(f.at("/w/p"), None);
        assert_eq!(
            f.attrs(t.file).nlink,
            None,
            "the link may have been a symlink's"
        );
        assert_eq!(f.attrs(t.file).size, Some(2));
        // Names that do not follow the last component are the file itself.
        let mut f = Files::default();
        let x = f.opened("/w/x", &inode(22, 0, 0o100644, 1, FMODE_CREATED), true);
        f.link("/w/x", "/w/y");
        f.unlink("/w/y");
        assert_eq!(f.attrs(x.file).nlink, Some(1));
        let (m, _) = f.rename("/w/x", "/w/z", 0);
        f.unlink("/w/z");
        assert_eq!(f.attrs(m.file).nlink, Some(0));
        // O_NOFOLLOW too.
        let n = f.opened("/w/n", &inode(23, 0, 0o100644, 1, 0), true);
        f.unlink("/w/n");
        assert_eq!(f.attrs(n.file).nlink, Some(0));
        // A symlink a chmod follows: its target is not the symlink.
        let s = f.symlink("/w/s", Some(3));
        let c = f.chmod("/w/s", 0o600);
        assert_ne!(c.file, s.file);
        assert_eq!(f.attrs(s.file).perm, Some(0o777));
    }

    #[test]
    fn rmdir_forgets_the_directory() {
        let mut f = Files::default();
        let d = f.opened("/w/d", &inode(30, 4096, DIR, 2, 0), false);
        f.opened("/w/d/f", &inode(31, 1, 0o100644, 1, FMODE_CREATED), true);
        f.unlink("/w/d/f");
        let r = f.rmdir("/w/d").expect("the model knew /w/d");
        assert_eq!(r.file, d.file);
        assert_eq!(f.at("/w/d"), None);
        assert_eq!(f.get(d.file).and_then(|a| a.nlink), Some(0));
        f.sweep();
        // Its inode number handed out again: another directory.
        let again = f.opened("/w/d2", &inode(30, 4096, DIR, 2, 0), false);
        assert_ne!(again.file, d.file);
        assert_eq!(f.rmdir("/w/never"), None);
    }

    #[test]
    fn names_under_a_renamed_directory_follow_it() {
        let mut f = Files::default();
        f.opened("/w/d", &inode(40, 4096, DIR, 2, 0), false);
        let x = f.opened("/w/d/f", &inode(41, 2, 0o100644, 1, FMODE_CREATED), true);
        let deep = f.opened("/w/d/s/g", &inode(42, 3, 0o100644, 1, FMODE_CREATED), true);
        // A name that only shares the prefix stays.
        let dx = f.opened("/w/dx", &inode(43, 4, 0o100644, 1, FMODE_CREATED), true);
        f.rename("/w/d", "/w/e", RENAME_NOREPLACE);
        assert_eq!(f.at("/w/d/f"), None);
        assert_eq!(f.at("/w/e/f"), Some(x.file));
        assert_eq!(f.at("/w/e/s/g"), Some(deep.file));
        assert_eq!(f.at("/w/dx"), Some(dx.file));
        let rm = f.unlink("/w/e/f");
        assert_eq!(rm.file, x.file);
        assert_eq!(rm.before.and_then(|a| a.size), Some(2));
        assert_eq!(f.attrs(x.file).nlink, Some(0));
        // RENAME_EXCHANGE swaps what is under the two names.
        f.opened("/w/k", &inode(44, 4096, DIR, 2, 0), false);
        let y = f.opened("/w/k/y", &inode(45, 5, 0o100644, 1, FMODE_CREATED), true);
        f.rename("/w/e", "/w/k", RENAME_EXCHANGE);
        assert_eq!(f.at("/w/e/y"), Some(y.file));
        assert_eq!(f.at("/w/k/s/g"), Some(deep.file));
        assert_eq!(f.at("/w/k/y"), None);
    }

    #[test]
    fn a_bounded_model_forgets_the_least_recently_used() {
        let mut f = Files::new(4);
        let first = f.opened("/w/0", &inode(100, 0, 0o100644, 1, FMODE_CREATED), true);
        for n in 1..10u64 {
            f.sweep();
            f.opened(
                &format!("/w/{n}"),
                &inode(100 + n, 0, 0o100644, 1, FMODE_CREATED),
                true,
            );
            // The first file stays in use.
            f.seen(&inode(100, n, 0o100644, 1, 0));
        }
        f.sweep();
        assert!(
            f.len() + f.paths() <= 4,
            "{} files, {} paths",
            f.len(),
            f.paths()
        );
        assert!(f.evicted() > 0);
        assert_eq!(f.attrs(first.file).size, Some(9), "the one in use stays");
        assert_eq!(f.at("/w/1"), None, "the least recently used went");
        assert!(f.at("/w/9").is_some(), "the newest stays");
        // A forgotten file met again is a new file with unknown history.
        let back = f.seen(&inode(101, 0, 0o100644, 1, 0));
        assert_eq!(back.before, None);
        // The recency order holds exactly what the maps hold.
        f.sweep();
        assert_eq!(f.lru.len(), f.len() + f.paths());
    }

    #[test]
    fn a_path_opened_again_is_the_most_recently_used() {
        let mut f = Files::new(6);
        let opened = |f: &mut Files, n: u64| {
            f.sweep();
            f.opened(&format!("/w/{n}"), &inode(100 + n, 0, 0o100644, 1, 0), true);
        };
        for n in 0..3 {
            opened(&mut f, n);
        }
        // /w/0 again, by the same file: its path moves to the end of the recency order.
        opened(&mut f, 0);
        assert_eq!(f.lru.len(), f.len() + f.paths());
        assert!(
            matches!(f.lru.last_key_value(), Some((_, Entry::Path(p))) if p == "/w/0"),
            "{:?}",
            f.lru
        );
        // Two new files push out the least recently used: /w/1 and /w/2, not /w/0.
        for n in 3..5 {
            opened(&mut f, n);
        }
        f.sweep();
        assert_eq!(f.lru.len(), f.len() + f.paths());
        assert!(f.at("/w/0").is_some(), "opened again, it stays");
        assert_eq!(f.at("/w/1"), None, "the least recently used went");
        assert_eq!(f.at("/w/2"), None, "the least recently used went");
    }
}
