//! A segment file written through memory-mapped windows, and the safe creation of its path.
//!
//! Creation never writes through what is already at the path: the file is opened with
//! `O_NOFOLLOW | O_CLOEXEC` and created with `O_EXCL`; anything there that is not a
//! regular file (a symbolic link, dangling or not, a device, a FIFO, a directory, a socket)
//! is refused, with or without `overwrite`; `overwrite` replaces a regular file by creating
//! a new one beside it and renaming it over, never by truncating or changing the old one.
//!
//! The directory is opened once per recording ([`OutputDir`]) and every segment is made
//! relative to it, so rotated segments cannot be redirected by swapping a directory on
//! the output path for a symbolic link while the recording runs.
//!
//! While the segment is written the file holds an exclusive `flock`, released when it is
//! closed: a reader that cannot take a shared lock knows the segment is still growing and
//! reads only its committed blocks (`replayer::input::trace::open_segment`).
//!
//! Each append reserves its whole block first: the space is allocated on disk with
//! `posix_fallocate` (so a full disk is an `ENOSPC` error here, never a SIGBUS later on a
//! mapped page) and mapped, then filled. A crash leaves the unwritten rest of the
//! allocation as zeros, which readers recognise as a zero tail; a clean finish truncates
//! the file to the bytes written.

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use memmap2::{MmapMut, MmapOptions};

use crate::format::Storage;

/// The directory a recording's segments are created in, opened once when the recording
/// starts: every segment, the first and each rotated one, is created, checked and renamed
/// relative to it (`openat`, `renameat`, `unlinkat`), so a directory on the output path
/// replaced by a symbolic link during the recording does not move the later segments.
pub struct OutputDir {
    fd: OwnedFd,
}

impl OutputDir {
    /// Opens the directory that holds `output` (`.` for a bare file name), following links
    /// on the way as the user's own path does. Errors name the directory.
    pub fn of(output: &Path) -> io::Result<Self> {
        let dir = match output.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let c = c_name(dir.as_os_str(), dir)?;
        // SAFETY: open reads a NUL-terminated path that lives across the call.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(with_path(io::Error::last_os_error(), dir));
        }
        // SAFETY: fd was just opened here and is owned by nothing else.
        Ok(OutputDir {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }
}

/// A segment file being written: the production [`Storage`] of
/// [`SegmentWriter`](crate::format::SegmentWriter).
pub struct SegmentFile {
    file: File,
    chunk_size: u64,
    /// The mapped window `[map_start, map_start + map.len())`, page-aligned.
    map: Option<MmapMut>,
    map_start: u64,
    /// Bytes of the file allocated with `posix_fallocate` so far.
    allocated: u64,
    /// Bytes committed: the offset of the next append.
    used: u64,
}

impl SegmentFile {
    /// Creates the segment file at `path` (mode 0600: traces hold sensitive data) and
    /// locks it (`flock(LOCK_EX)`) until it is closed. The space is reserved in windows of
    /// `chunk_size` bytes (rounded up to pages).
    ///
    /// Errors, each naming the path: something that is not a regular file is there (what
    /// it is is said), with or without `overwrite`; a regular file is there and not
    /// `overwrite` (`AlreadyExists`); the directory is missing or not writable.
    pub fn create(path: &Path, overwrite: bool, chunk_size: u64) -> io::Result<Self> {
        Self::create_in(&OutputDir::of(path)?, path, overwrite, chunk_size)
    }

    /// [`SegmentFile::create`] in `dir`, opened beforehand: the file is `path`'s file name
    /// in `dir`, whatever `path`'s directory has become since; `path` names it in errors.
    pub fn create_in(
        dir: &OutputDir,
        path: &Path,
        overwrite: bool,
        chunk_size: u64,
    ) -> io::Result<Self> {
        let page = page_size();
        let chunk_size = chunk_size.max(page).div_ceil(page) * page;
        let file = create_private(dir, path, overwrite)?;
        Ok(SegmentFile {
            file,
            chunk_size,
            map: None,
            map_start: 0,
            allocated: 0,
            used: 0,
        })
    }

    /// Makes `[used, end)` allocated and mapped, in one window.
    fn ensure_mapped(&mut self, end: u64) -> io::Result<()> {
        let mapped_end = self
            .map
            .as_ref()
            .map_or(0, |m| self.map_start + m.len() as u64);
        if self.map.is_some() && end <= mapped_end {
            return Ok(());
        }
        let page = page_size();
        let start = self.used / page * page;
        let needed = end.div_ceil(page) * page;
        let mut want = needed.max(start + self.chunk_size);
        // Reserve the space first. Near a full disk, smaller windows use what is left.
        loop {
            match self.allocate_to(want) {
                Ok(()) => break,
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) && want > needed => {
                    want = (start + (want - start) / 4).div_ceil(page) * page;
                    want = want.max(needed);
                }
                Err(e) => return Err(e),
            }
        }
        // SAFETY: the mapped range lies inside the file (allocated above) and this process
        // is its only writer: it was created here (O_EXCL, mode 0600) and is locked; it is
        // never truncated while mapped (close() unmaps before set_len). Readers in other
        // processes map only what is committed and never write.
        let map = unsafe {
            MmapOptions::new()
                .offset(start)
                .len((want - start) as usize)
                .map_mut(&self.file)?
        };
        if let Some(old) = self.map.replace(map) {
            old.flush_async()?;
        }
        self.map_start = start;
        Ok(())
    }

    fn allocate_to(&mut self, end: u64) -> io::Result<()> {
        if end <= self.allocated {
            return Ok(());
        }
        let offset = i64::try_from(self.allocated).map_err(io::Error::other)?;
        let len = i64::try_from(end - self.allocated).map_err(io::Error::other)?;
        // SAFETY: posix_fallocate only reads its integer arguments; the fd is open.
        let rc = unsafe { libc::posix_fallocate(self.file.as_raw_fd(), offset, len) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        self.allocated = end;
        Ok(())
    }
}

impl Storage for SegmentFile {
    fn committed(&self) -> u64 {
        self.used
    }

    fn append_with(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> io::Result<()> {
        let end = self.used + len as u64;
        self.ensure_mapped(end)?;
        let (Some(map), Ok(at)) = (
            self.map.as_mut(),
            usize::try_from(self.used - self.map_start),
        ) else {
            return Err(io::Error::other("segment window not mapped"));
        };
        let space = map
            .get_mut(at..at + len)
            .ok_or_else(|| io::Error::other("segment window too small"))?;
        fill(space);
        self.used = end;
        Ok(())
    }

    /// Writes everything back, unmaps and truncates the file to the bytes committed. The
    /// lock goes when the file is dropped.
    fn close(&mut self) -> io::Result<u64> {
        if let Some(map) = self.map.take() {
            map.flush()?;
        }
        self.file.set_len(self.used)?;
        self.allocated = self.used;
        self.file.sync_all()?;
        Ok(self.used)
    }
}

/// Opens a new file at `path` for writing, refusing what is not a regular file and
/// replacing a regular one only if `overwrite` (see the module notes). The file is locked
/// (`LOCK_EX`) before it is visible under `path` whenever it replaces something.
fn create_private(dir: &OutputDir, path: &Path, overwrite: bool) -> io::Result<File> {
    let name = path
        .file_name()
        .ok_or_else(|| with_path(io::Error::from(io::ErrorKind::InvalidInput), path))?;
    match open_new(dir, name, path) {
        Ok(file) => {
            lock_exclusive(&file, path)?;
            return Ok(file);
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(with_path(e, path)),
    }
    let meta = open_no_follow(dir, name, path)?
        .metadata()
        .map_err(|e| with_path(e, path))?;
    if !meta.file_type().is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is {}: kellect writes traces only to regular files and never through \
                 links{}",
                path.display(),
                describe(path, meta.file_type()),
                if overwrite {
                    " (-f replaces regular files only)"
                } else {
                    ""
                },
            ),
        ));
    }
    if !overwrite {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} already exists (-f replaces it with a new file)",
                path.display()
            ),
        ));
    }
    let (temp, file) = create_beside(dir, name, path)?;
    let temp_path = path.with_file_name(&temp);
    let renamed = lock_exclusive(&file, &temp_path).and_then(|()| {
        let (from, to) = (c_name(&temp, &temp_path)?, c_name(name, path)?);
        let fd = dir.fd.as_raw_fd();
        // SAFETY: renameat reads two NUL-terminated names that live across the call.
        if unsafe { libc::renameat(fd, from.as_ptr(), fd, to.as_ptr()) } != 0 {
            return Err(with_path(io::Error::last_os_error(), path));
        }
        Ok(())
    });
    if let Err(e) = renamed {
        if let Ok(c) = c_name(&temp, &temp_path) {
            // SAFETY: unlinkat reads a NUL-terminated name that lives across the call.
            unsafe { libc::unlinkat(dir.fd.as_raw_fd(), c.as_ptr(), 0) };
        }
        return Err(e);
    }
    Ok(file)
}

fn c_name(name: &OsStr, path: &Path) -> io::Result<CString> {
    CString::new(name.as_bytes())
        .map_err(|e| with_path(io::Error::new(io::ErrorKind::InvalidInput, e), path))
}

/// `openat` of `name` in `dir`; `path` names it in errors.
fn open_at(dir: &OutputDir, name: &OsStr, path: &Path, flags: i32) -> io::Result<File> {
    let c = c_name(name, path)?;
    // SAFETY: openat reads a NUL-terminated name that lives across the call; the mode
    // argument is read only with O_CREAT.
    let fd = unsafe { libc::openat(dir.fd.as_raw_fd(), c.as_ptr(), flags, 0o600 as libc::c_uint) };
    if fd < 0 {
        // Not with_path: the caller tells AlreadyExists from the rest by kind.
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just opened here and is owned by nothing else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// `O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC`, mode 0600, in `dir`: a new file or an error.
fn open_new(dir: &OutputDir, name: &OsStr, path: &Path) -> io::Result<File> {
    open_at(
        dir,
        name,
        path,
        libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC,
    )
}

/// What is at `name` in `dir`, the link itself for a symbolic link (`O_PATH`): for its
/// metadata only.
fn open_no_follow(dir: &OutputDir, name: &OsStr, path: &Path) -> io::Result<File> {
    open_at(
        dir,
        name,
        path,
        libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
    )
    .map_err(|e| with_path(e, path))
}

/// A new file with a unique name in `dir`, to be renamed over `name`: (its name, the file).
fn create_beside(
    dir: &OutputDir,
    name: &OsStr,
    path: &Path,
) -> io::Result<(std::ffi::OsString, File)> {
    let shown = name.to_string_lossy();
    let pid = std::process::id();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    for attempt in 0..100u32 {
        let temp = std::ffi::OsString::from(format!(".{shown}.kellect-{pid}-{nanos:x}-{attempt}"));
        match open_new(dir, &temp, path) {
            Ok(file) => return Ok((temp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(with_path(e, &path.with_file_name(&temp))),
        }
    }
    Err(with_path(
        io::Error::new(
            io::ErrorKind::AlreadyExists,
            "no unused temporary name beside it",
        ),
        path,
    ))
}

fn lock_exclusive(file: &File, path: &Path) -> io::Result<()> {
    // SAFETY: flock only reads its integer arguments; the fd is open.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(with_path(io::Error::last_os_error(), path));
    }
    Ok(())
}

/// What a non-regular file is, for an error message.
fn describe(path: &Path, kind: std::fs::FileType) -> String {
    if kind.is_symlink() {
        let target = std::fs::read_link(path)
            .map(|t| t.display().to_string())
            .unwrap_or_else(|_| "?".into());
        return match std::fs::metadata(path) {
            Ok(_) => format!("a symbolic link (to {target})"),
            Err(_) => format!("a dangling symbolic link (to {target})"),
        };
    }
    let what = if kind.is_dir() {
        "a directory"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_fifo() {
        "a named pipe (FIFO)"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    };
    what.to_owned()
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size >= 4096 {
        size as u64
    } else {
        4096
    }
}

/// The path of segment `index` of a recording written to `output`: the first segment is
/// `output` itself, later ones insert the index before the extension (`trace.kz`,
/// `trace.1.kz`, `trace.2.kz`, …).
pub fn segment_path(output: &Path, index: u32) -> PathBuf {
    if index == 0 {
        return output.to_owned();
    }
    let stem = output.file_stem().unwrap_or_default().to_string_lossy();
    let name = match output.extension() {
        Some(ext) => format!("{stem}.{index}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{index}"),
    };
    output.with_file_name(name)
}

/// A regular file already at a name [`segment_path`] gives some segment after the first
/// of a recording written to `output` (`trace.N.kz`, N ≥ 1: a leftover of an earlier
/// recording), the first one found in its directory, or `None`. Anything else at such a
/// name (a symbolic link, a device…) is left to [`SegmentFile::create`], which refuses it
/// by what it is when the recording reaches it. Errors: the directory cannot be listed.
pub fn existing_rotated_segment(output: &Path) -> io::Result<Option<PathBuf>> {
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // `stem.N.ext` (or `stem.N`), as segment_path names them.
    let prefix = format!(
        "{}.",
        output.file_stem().unwrap_or_default().to_string_lossy()
    );
    let suffix = output
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    for entry in std::fs::read_dir(dir).map_err(|e| with_path(e, dir))? {
        let entry = entry.map_err(|e| with_path(e, dir))?;
        if !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let index = name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(suffix.as_str()))
            .and_then(|n| n.parse::<u32>().ok());
        if index.is_some_and(|i| {
            i >= 1
                && *name
                    == *segment_path(output, i)
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
        }) {
            return Ok(Some(dir.join(&*name)));
        }
    }
    Ok(None)
}

/// What a snapshot kept ([`snapshot_segments`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The snapshot's directory, beside the trace: `<stem>.snapshot-<UTC>` (with `-2`,
    /// `-3`, … when that name is taken).
    pub dir: PathBuf,
    /// The segments kept, as paths inside `dir`, in the order given.
    pub segments: Vec<PathBuf>,
    /// Bytes of the segments kept.
    pub bytes: u64,
    /// How many were copied because a hard link was refused (another file system, one
    /// without links); the rest are hard links.
    pub copied: usize,
}

/// The name of a snapshot directory of a recording written to `output` at `realtime_ns`
/// (ns since the Unix epoch, UTC): `trace.snapshot-20261206T161037Z` for `trace.kz`.
pub fn snapshot_name(output: &Path, realtime_ns: u64) -> String {
    let stem = output.file_stem().unwrap_or_default().to_string_lossy();
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(realtime_ns))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{stem}.snapshot-{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The file a snapshot directory holds when not every segment asked for could be kept:
/// why, one line per segment left out.
pub const SNAPSHOT_INCOMPLETE: &str = "INCOMPLETE";

/// Keeps the closed `segments` of a recording written to `output` (each in `dir`, the
/// recording's [`OutputDir`]) in a new directory beside them (mode 0700, named by
/// [`snapshot_name`] for `realtime_ns`): each segment is hard-linked under its own name,
/// or copied where the file system refuses the link, so deleting the segment from the ring
/// later leaves the snapshot whole. Everything is made relative to `dir` and never
/// through a symbolic link; what is linked or copied is the regular file opened (without
/// waiting: a FIFO is refused), whatever the name holds by then. A segment already gone
/// is left out.
///
/// Errors: the directory cannot be made, or a segment can be neither linked nor copied:
/// the others are kept all the same, a copy cut short is removed, and the directory holds
/// [`SNAPSHOT_INCOMPLETE`] saying which segments are missing and why; the error names the
/// directory and the first failure.
pub fn snapshot_segments(
    dir: &OutputDir,
    output: &Path,
    segments: &[PathBuf],
    realtime_ns: u64,
) -> io::Result<Snapshot> {
    let base = snapshot_name(output, realtime_ns);
    let (name, snap_dir) = (1..100u32)
        .find_map(|n| {
            let name = match n {
                1 => base.clone(),
                n => format!("{base}-{n}"),
            };
            let path = output.with_file_name(&name);
            match make_dir_at(dir, OsStr::new(&name), &path) {
                Ok(fd) => Some(Ok((name, fd))),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => None,
                Err(e) => Some(Err(e)),
            }
        })
        .unwrap_or_else(|| {
            Err(with_path(
                io::Error::from(io::ErrorKind::AlreadyExists),
                &output.with_file_name(&base),
            ))
        })?;
    let mut kept = Snapshot {
        dir: output.with_file_name(&name),
        segments: Vec::new(),
        bytes: 0,
        copied: 0,
    };
    let mut missing = Vec::new();
    for segment in segments {
        let Some(file_name) = segment.file_name() else {
            continue;
        };
        let target = kept.dir.join(file_name);
        match keep_segment(dir, &snap_dir, file_name, segment, &target) {
            Ok(None) => continue,
            Ok(Some((bytes, copied))) => {
                kept.bytes += bytes;
                kept.copied += usize::from(copied);
                kept.segments.push(target);
            }
            Err(e) => missing.push(e),
        }
    }
    let Some(first) = missing.first() else {
        return Ok(kept);
    };
    let mut why: String = missing.iter().map(|e| format!("{e}\n")).collect();
    // Made empty first: a full disk that refuses the text still leaves the mark.
    let marked = open_new(&snap_dir, OsStr::new(SNAPSHOT_INCOMPLETE), &kept.dir)
        .and_then(|mut f| f.write_all(why.as_bytes()));
    if let Err(e) = marked {
        why = format!(" (and {SNAPSHOT_INCOMPLETE} could not be written: {e})");
    } else {
        why = format!(" ({SNAPSHOT_INCOMPLETE} says why)");
    }
    Err(io::Error::new(
        first.kind(),
        format!(
            "{}: incomplete, {} of its segments missing{why}: {first}",
            kept.dir.display(),
            missing.len()
        ),
    ))
}

/// Makes the directory `name` in `dir` (mode 0700) and opens it: `mkdirat`, then `openat`
/// with `O_NOFOLLOW`. `path` names it in errors.
fn make_dir_at(dir: &OutputDir, name: &OsStr, path: &Path) -> io::Result<OutputDir> {
    let c = c_name(name, path)?;
    // SAFETY: mkdirat reads a NUL-terminated name that lives across the call.
    if unsafe { libc::mkdirat(dir.fd.as_raw_fd(), c.as_ptr(), 0o700) } != 0 {
        let e = io::Error::last_os_error();
        return Err(match e.kind() {
            io::ErrorKind::AlreadyExists => e,
            _ => with_path(e, path),
        });
    }
    let file = open_at(
        dir,
        name,
        path,
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
    )
    .map_err(|e| with_path(e, path))?;
    Ok(OutputDir { fd: file.into() })
}

/// Hard-links `name` from `from` into `to`, or copies it where links are refused:
/// `Some((bytes, copied))`, or `None` when the segment is gone. `segment` and `target`
/// name the two in errors.
fn keep_segment(
    from: &OutputDir,
    to: &OutputDir,
    name: &OsStr,
    segment: &Path,
    target: &Path,
) -> io::Result<Option<(u64, bool)>> {
    let c = c_name(name, segment)?;
    // O_NONBLOCK: a FIFO put at the name would otherwise hold the recording until a
    // writer came.
    let source = match open_at(
        from,
        name,
        segment,
        libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC,
    ) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(with_path(e, segment)),
    };
    let meta = source.metadata().map_err(|e| with_path(e, segment))?;
    if !meta.is_file() {
        return Err(with_path(
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "not a regular file but {}",
                    describe(segment, meta.file_type())
                ),
            ),
            segment,
        ));
    }
    // The file opened and checked, not whatever the name holds now: linked through
    // /proc/self/fd (AT_SYMLINK_FOLLOW follows that magic link to the open file).
    let by_fd = c_name(
        OsStr::new(&format!("/proc/self/fd/{}", source.as_raw_fd())),
        segment,
    )?;
    // SAFETY: linkat reads two NUL-terminated names that live across the call; the first
    // is absolute, so its directory fd is not used.
    let linked = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            by_fd.as_ptr(),
            to.fd.as_raw_fd(),
            c.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    if linked == 0 {
        return Ok(Some((meta.len(), false)));
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        // Another file system, one without hard links, too many links, links refused
        // (fs.protected_hardlinks), or no /proc: a copy keeps the evidence all the same.
        Some(
            libc::EXDEV
            | libc::EPERM
            | libc::EMLINK
            | libc::EOPNOTSUPP
            | libc::EACCES
            | libc::ENOENT,
        ) => copy_into(source, to, name, target).map(|bytes| Some((bytes, true))),
        _ => Err(with_path(e, target)),
    }
}

/// Copies `source` into a new file `name` in `to` (mode 0600, `O_EXCL`), synced: its
/// bytes. `name` is taken first, empty, and the copy is written under a hidden name and
/// renamed over it only once whole; a copy cut short (a full disk, a read error) is
/// removed with it, so no partial segment ever bears a segment's name.
fn copy_into(mut source: File, to: &OutputDir, name: &OsStr, target: &Path) -> io::Result<u64> {
    open_new(to, name, target).map_err(|e| with_path(e, target))?;
    let mut partial = std::ffi::OsString::from(".");
    partial.push(name);
    partial.push(".partial");
    let (c, c_partial) = (c_name(name, target)?, c_name(&partial, target)?);
    let copied = open_new(to, &partial, target).and_then(|mut copy| {
        let bytes = io::copy(&mut source, &mut copy)?;
        copy.sync_all()?;
        // SAFETY: renameat reads two NUL-terminated names that live across the call.
        match unsafe {
            libc::renameat(
                to.fd.as_raw_fd(),
                c_partial.as_ptr(),
                to.fd.as_raw_fd(),
                c.as_ptr(),
            )
        } {
            0 => Ok(bytes),
            _ => Err(io::Error::last_os_error()),
        }
    });
    if copied.is_err() {
        for c in [&c_partial, &c] {
            // SAFETY: unlinkat reads a NUL-terminated name that lives across the call.
            unsafe { libc::unlinkat(to.fd.as_raw_fd(), c.as_ptr(), 0) };
        }
    }
    copied.map_err(|e| with_path(e, target))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn append(f: &mut SegmentFile, bytes: &[u8]) {
        f.append_with(bytes.len(), &mut |space| space.copy_from_slice(bytes))
            .unwrap();
    }

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    }

    #[test]
    fn a_snapshot_links_the_segments_into_a_new_directory_each_time() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("t.kz");
        let segments: Vec<PathBuf> = (1..4).map(|i| segment_path(&output, i)).collect();
        for (i, p) in segments.iter().enumerate() {
            std::fs::write(p, vec![b'x'; 10 + i]).unwrap();
        }
        // 2026-12-06 16:10:37 UTC.
        let at = 1_796_573_437_000_000_000;
        assert_eq!(snapshot_name(&output, at), "t.snapshot-20261206T161037Z");
        let out_dir = OutputDir::of(&output).unwrap();
        // A segment already gone is left out.
        let mut asked = segments.clone();
        asked.push(segment_path(&output, 9));
        let kept = snapshot_segments(&out_dir, &output, &asked, at).unwrap();
        assert_eq!(kept.dir, dir.path().join("t.snapshot-20261206T161037Z"));
        assert_eq!(mode(&kept.dir), 0o700);
        assert_eq!((kept.bytes, kept.copied), (33, 0));
        let names: Vec<_> = kept
            .segments
            .iter()
            .map(|p| p.file_name().unwrap())
            .collect();
        assert_eq!(names, ["t.1.kz", "t.2.kz", "t.3.kz"]);
        for (original, copy) in segments.iter().zip(&kept.segments) {
            let (a, b) = (
                std::fs::metadata(original).unwrap(),
                std::fs::metadata(copy).unwrap(),
            );
            assert_eq!((a.dev(), a.ino()), (b.dev(), b.ino()), "a hard link");
        }
        // Deleting a segment from the ring leaves the snapshot's link.
        std::fs::remove_file(&segments[0]).unwrap();
        assert_eq!(std::fs::read(&kept.segments[0]).unwrap(), vec![b'x'; 10]);
        // The same second again: a name of its own.
        let again = snapshot_segments(&out_dir, &output, &segments[1..], at).unwrap();
        assert_eq!(again.dir, dir.path().join("t.snapshot-20261206T161037Z-2"));
        assert_eq!(again.segments.len(), 2);
    }

    #[test]
    fn a_segment_swapped_for_a_fifo_neither_hangs_the_snapshot_nor_stops_the_rest() {
        // Someone who may write in the trace's directory puts a FIFO at a segment's name:
        // opening it to link it waited for a writer, the sink thread (and the recording)
        // with it; and the segments after it were not kept.
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("t.kz");
        let segments: Vec<PathBuf> = (0..3).map(|i| segment_path(&output, i)).collect();
        for p in &segments {
            std::fs::write(p, b"segment").unwrap();
        }
        std::fs::remove_file(&segments[1]).unwrap();
        let c = std::ffi::CString::new(segments[1].to_str().unwrap()).unwrap();
        // SAFETY: mkfifo reads a NUL-terminated path that lives across the call.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o666) }, 0);
        let (tx, rx) = std::sync::mpsc::channel();
        let asked = segments.clone();
        let at_output = output.clone();
        std::thread::spawn(move || {
            let out_dir = OutputDir::of(&at_output).unwrap();
            let _ = tx.send(
                snapshot_segments(&out_dir, &at_output, &asked, 0).map_err(|e| e.to_string()),
            );
        });
        let e = rx
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("the snapshot hung on the FIFO")
            .unwrap_err();
        let snap = dir.path().join("t.snapshot-19700101T000000Z");
        assert!(
            e.contains(&format!(
                "{}: incomplete, 1 of its segments missing",
                snap.display()
            )),
            "{e}"
        );
        assert!(e.contains("a named pipe (FIFO)"), "{e}");
        let mut names: Vec<String> = std::fs::read_dir(&snap)
            .unwrap()
            .map(|d| d.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, [SNAPSHOT_INCOMPLETE, "t.2.kz", "t.kz"]);
        let why = std::fs::read_to_string(snap.join(SNAPSHOT_INCOMPLETE)).unwrap();
        assert!(why.contains("t.1.kz") && why.contains("FIFO"), "{why}");
    }

    #[test]
    fn a_copy_cut_short_leaves_no_file_under_the_segment_name() {
        // A copy that fails half way (a full disk; here a read error) left a partial file
        // named as the segment, which a later replay of the snapshot took as the segment.
        let dir = tempfile::tempdir().unwrap();
        let to = dir.path().join("to");
        std::fs::create_dir(&to).unwrap();
        let to_dir = OutputDir::of(&to.join("x")).unwrap();
        let target = to.join("t.kz");
        // Reading a directory fails (EISDIR) after the copy is created.
        let unreadable = File::open(dir.path()).unwrap();
        assert!(copy_into(unreadable, &to_dir, OsStr::new("t.kz"), &target).is_err());
        assert_eq!(
            std::fs::read_dir(&to).unwrap().count(),
            0,
            "nothing left behind"
        );
    }

    #[test]
    fn a_snapshot_copies_where_it_cannot_link() {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("from"), dir.path().join("to"));
        std::fs::create_dir(&from).unwrap();
        std::fs::create_dir(&to).unwrap();
        std::fs::write(from.join("t.kz"), b"segment bytes").unwrap();
        let source = File::open(from.join("t.kz")).unwrap();
        let to_dir = OutputDir::of(&to.join("x")).unwrap();
        let target = to.join("t.kz");
        let bytes = copy_into(source, &to_dir, OsStr::new("t.kz"), &target).unwrap();
        assert_eq!(bytes, 13);
        assert_eq!(std::fs::read(&target).unwrap(), b"segment bytes");
        assert_eq!(mode(&target), 0o600);
        // Never over an existing file.
        let source = File::open(from.join("t.kz")).unwrap();
        let e = copy_into(source, &to_dir, OsStr::new("t.kz"), &target).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
    }

    #[test]
    fn grows_across_windows_and_truncates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.kz");
        let mut w = SegmentFile::create(&path, false, 4096).unwrap();
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        append(&mut w, &data[..5]);
        // One append larger than a window, crossing two window boundaries.
        append(&mut w, &data[5..9000]);
        append(&mut w, &data[9000..]);
        assert_eq!(w.committed(), 10_000);
        // Before close, the file is preallocated past the data (a zero tail).
        assert!(std::fs::metadata(&path).unwrap().len() >= 10_000);
        assert_eq!(w.close().unwrap(), 10_000);
        assert_eq!(std::fs::read(&path).unwrap(), data);
        assert_eq!(mode(&path) & 0o777, 0o600);
        // No silent overwrite.
        let err = SegmentFile::create(&path, false, 4096).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert!(err.to_string().contains("t.kz already exists"), "{err}");
    }

    #[test]
    fn refuses_what_is_not_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"keep me").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
        let link = dir.path().join("link.kz");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let dangling = dir.path().join("dangling.kz");
        let nowhere = dir.path().join("nowhere");
        std::os::unix::fs::symlink(&nowhere, &dangling).unwrap();
        let fifo = dir.path().join("fifo.kz");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo reads a NUL-terminated path that lives across the call.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let subdir = dir.path().join("dir.kz");
        std::fs::create_dir(&subdir).unwrap();
        let cases = [
            (&link, "a symbolic link (to "),
            (&dangling, "a dangling symbolic link (to "),
            (&fifo, "a named pipe (FIFO)"),
            (&subdir, "a directory"),
            (&PathBuf::from("/dev/null"), "a character device"),
        ];
        let null_mode = mode(Path::new("/dev/null"));
        for (path, what) in cases {
            for overwrite in [false, true] {
                let err = SegmentFile::create(path, overwrite, 4096).err().unwrap();
                let msg = err.to_string();
                assert!(
                    msg.contains(&path.display().to_string()) && msg.contains(what),
                    "{path:?} overwrite={overwrite}: {msg}"
                );
            }
        }
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
        assert_eq!(mode(&victim), 0o644);
        assert!(
            !nowhere.exists(),
            "a dangling link's target is never created"
        );
        assert_eq!(mode(Path::new("/dev/null")), null_mode);
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        // Nothing was left behind (no temporary files).
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 5);
    }

    #[test]
    fn overwrite_replaces_by_rename_never_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.kz");
        std::fs::write(&path, b"old trace").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        // A second name for the old file sees whether it was truncated or chmod-ed.
        let other = dir.path().join("hardlink");
        std::fs::hard_link(&path, &other).unwrap();
        let mut w = SegmentFile::create(&path, true, 4096).unwrap();
        append(&mut w, b"new");
        w.close().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read(&other).unwrap(), b"old trace");
        assert_eq!(mode(&other), 0o644);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn segments_stay_in_the_directory_opened_first() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        let victim = root.path().join("victim");
        std::fs::create_dir(&out).unwrap();
        std::fs::create_dir(&victim).unwrap();
        std::fs::write(victim.join("t.1.kz"), b"precious").unwrap();
        let dir = OutputDir::of(&out.join("t.kz")).unwrap();
        // The output directory becomes a link to another one after the recording started.
        std::fs::rename(&out, root.path().join("moved")).unwrap();
        std::os::unix::fs::symlink(&victim, &out).unwrap();
        for overwrite in [false, true] {
            let mut w = SegmentFile::create_in(&dir, &out.join("t.1.kz"), overwrite, 4096).unwrap();
            append(&mut w, b"new");
            w.close().unwrap();
        }
        assert_eq!(std::fs::read(victim.join("t.1.kz")).unwrap(), b"precious");
        assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 1);
        let moved = root.path().join("moved").join("t.1.kz");
        assert_eq!(std::fs::read(moved).unwrap(), b"new");
    }

    #[test]
    fn the_file_is_locked_while_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.kz");
        let mut w = SegmentFile::create(&path, false, 4096).unwrap();
        let try_shared = || {
            let f = File::open(&path).unwrap();
            // SAFETY: flock only reads its integer arguments; the fd is open.
            unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) == 0 }
        };
        assert!(!try_shared(), "a reader sees the segment is being written");
        w.close().unwrap();
        drop(w);
        assert!(try_shared(), "the lock goes with the closed file");
    }

    #[test]
    fn a_reader_sees_only_committed_blocks_while_the_segment_is_written() {
        use crate::format::{BlockKind, Codec, FileHeader, SegmentWriter};
        use crate::replayer::input::trace::open_segment;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.kz");
        let header = FileHeader {
            recording_id: 3,
            segment_index: 0,
            created_realtime_ns: 0,
        };
        let file = SegmentFile::create(&path, false, 64 << 10).unwrap();
        let mut w = SegmentWriter::new(file, &header, 1).unwrap();
        w.push_meta(BlockKind::HostInfo, b"host", false).unwrap();
        for i in 0..40u8 {
            // Blocks of ~5 KiB: several cross the 64 KiB window boundaries.
            let raw: Vec<u8> = (0..5000u32)
                .map(|j| (j as u8) ^ i.wrapping_mul(31))
                .collect();
            w.push_frame(&raw, u64::from(i), u64::from(i), 1, Codec::Stored)
                .unwrap();
            if i % 10 == 9 {
                let seg = open_segment(&path).unwrap();
                let note = seg.note.as_deref().unwrap_or_default();
                assert!(
                    note.contains(&format!("read up to byte {}", w.offset())),
                    "{note}"
                );
                assert_eq!(seg.file_len(), w.offset());
                assert_eq!(seg.frames().count(), usize::from(i) + 1);
                assert!(seg.damage.is_empty() && !seg.closed, "{:?}", seg.damage);
            }
        }
        w.finish().unwrap();
        let seg = open_segment(&path).unwrap();
        assert!(seg.note.is_none() && seg.closed && seg.damage.is_empty());
        assert_eq!(seg.frames().count(), 40);
    }

    #[test]
    fn rotated_names_already_taken_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("t.kz");
        for name in ["t.kz", "t.x.kz", "t.0.kz", "t.1.kzz", "u.1.kz", "t.01.kz"] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        assert_eq!(existing_rotated_segment(&output).unwrap(), None);
        std::fs::write(dir.path().join("t.17.kz"), b"").unwrap();
        assert_eq!(
            existing_rotated_segment(&output).unwrap(),
            Some(dir.path().join("t.17.kz"))
        );
        let bare = dir.path().join("t");
        assert_eq!(existing_rotated_segment(&bare).unwrap(), None);
        // A link is not a leftover trace: SegmentFile::create names it when it is reached.
        std::os::unix::fs::symlink("t.kz", dir.path().join("t.2")).unwrap();
        assert_eq!(existing_rotated_segment(&bare).unwrap(), None);
        std::fs::write(dir.path().join("t.3"), b"").unwrap();
        assert_eq!(
            existing_rotated_segment(&bare).unwrap(),
            Some(dir.path().join("t.3"))
        );
    }

    #[test]
    fn segment_names() {
        assert_eq!(segment_path(Path::new("/x/t.kz"), 0), Path::new("/x/t.kz"));
        assert_eq!(
            segment_path(Path::new("/x/t.kz"), 2),
            Path::new("/x/t.2.kz")
        );
        assert_eq!(segment_path(Path::new("t"), 1), Path::new("t.1"));
    }
}
