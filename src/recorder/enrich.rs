//! Package versions (`-v`) and checksums (`-c`) of the files the recorder sees executed or
//! opened, learned on a thread of their own so the ring-buffer drain never waits on a disk
//! read or a hash.
//!
//! The drain hands each file over without blocking (a full queue skips the file and counts
//! it); the thread looks at each distinct file once and sends what it learned to the writer
//! in [`FileFactsBlock`]s. It never spawns a process: a child of the recorder would become a
//! recorded target. Nothing it reads can make it fail: what cannot be learned stays `None`.
//!
//! Paths are looked up in the recorder's mount namespace: a file a container executed is
//! found only if the same path names it here, and the device/inode check below keeps a
//! different file at that path from being hashed in its place.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use md5::Md5;
use sha2::{Digest, Sha256};

use crate::meta::{FileFacts, FileFactsBlock};

use super::sink::SinkMsg;

/// Files waiting for the thread; more are skipped rather than slowing the drain.
const QUEUE_LEN: usize = 4096;
/// A block is sent once this many facts are pending…
const BATCH_LEN: usize = 64;
/// …or this long after the first of them was learned.
const BATCH_AGE: Duration = Duration::from_secs(1);
/// Larger files are not hashed: reading them would hold up every file behind them.
const HASH_MAX_BYTES: u64 = 1 << 30;
const HASH_BUF_BYTES: usize = 64 * 1024;
/// The dpkg database.
const DPKG_ADMIN_DIR: &str = "/var/lib/dpkg";

/// A file the recorder saw being executed or opened, to look at later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    pub pid: u32,
    pub path: String,
    /// The kernel's dev_t: major << 20 | minor.
    pub dev: u32,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i64,
    pub mode: u32,
}

/// What tells two versions of a file apart.
type FileKey = (u32, u64, u64, i64);

impl FileRef {
    fn key(&self) -> FileKey {
        (self.dev, self.ino, self.size, self.mtime_ns)
    }
}

/// The enrichment thread and the queue that feeds it.
pub struct Enricher {
    queue: SyncSender<FileRef>,
    thread: JoinHandle<u64>,
    skipped: AtomicU64,
}

impl Enricher {
    /// Starts the enrichment thread. `versions`: look up dpkg package versions;
    /// `checksums`: MD5 and SHA-256 of regular files with an execute bit (mode & 0o111).
    /// Results go to `out` as `SinkMsg::meta(&FileFactsBlock { files })`, batched (a block
    /// when 64 facts are pending or 1 s after the first pending one, and at the end).
    ///
    /// # Panics
    ///
    /// If the OS cannot start a thread (as `std::thread::spawn`).
    pub fn spawn(versions: bool, checksums: bool, out: SyncSender<SinkMsg>) -> Enricher {
        let inspector = Inspector {
            versions,
            checksums,
            dpkg: Dpkg::new(DPKG_ADMIN_DIR),
        };
        Enricher::start(inspector, out)
    }

    fn start(inspector: Inspector, out: SyncSender<SinkMsg>) -> Enricher {
        let (queue, rx) = sync_channel(QUEUE_LEN);
        let worker = Worker {
            inspector,
            seen: HashSet::new(),
            pending: Vec::new(),
            first_pending: None,
            out,
            looked_up: 0,
        };
        let thread = std::thread::Builder::new()
            .name("kellect-enrich".into())
            .spawn(move || worker.run(rx))
            .expect("starting the enrichment thread");
        Enricher {
            queue,
            thread,
            skipped: AtomicU64::new(0),
        }
    }

    /// Never blocks: if the queue is full, the file is skipped (counted; see `finish`).
    pub fn submit(&self, file: FileRef) {
        // Full, or the thread is gone (it does not end before `finish`): skipped either way.
        if self.queue.try_send(file).is_err() {
            self.skipped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Stops the thread after the queue is drained; sends the last batch; returns
    /// (looked up, skipped because the queue was full).
    pub fn finish(self) -> (u64, u64) {
        drop(self.queue);
        let looked_up = self.thread.join().unwrap_or(0);
        (looked_up, self.skipped.into_inner())
    }
}

/// The thread's state: what it has looked at, and the facts not sent yet.
struct Worker {
    inspector: Inspector,
    seen: HashSet<FileKey>,
    pending: Vec<FileFacts>,
    first_pending: Option<Instant>,
    out: SyncSender<SinkMsg>,
    looked_up: u64,
}

impl Worker {
    fn run(mut self, rx: Receiver<FileRef>) -> u64 {
        loop {
            let next = match self.first_pending {
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(first) => {
                    rx.recv_timeout((first + BATCH_AGE).saturating_duration_since(Instant::now()))
                }
            };
            match next {
                Ok(file) => self.look(file),
                Err(RecvTimeoutError::Timeout) => self.flush(),
                Err(RecvTimeoutError::Disconnected) => {
                    self.flush();
                    return self.looked_up;
                }
            }
            let due = self.first_pending.is_some_and(|t| t.elapsed() >= BATCH_AGE);
            if due || self.pending.len() >= BATCH_LEN {
                self.flush();
            }
        }
    }

    /// Looks at a file unless it was already: a file whose relative path cannot be
    /// resolved is skipped, but not marked seen (a later sighting may resolve it).
    fn look(&mut self, file: FileRef) {
        if self.seen.contains(&file.key()) {
            return;
        }
        let Some(path) = absolute_path(file.pid, &file.path) else {
            return;
        };
        self.seen.insert(file.key());
        let facts = self.inspector.facts(&file, path);
        self.looked_up += 1;
        self.pending.push(facts);
        self.first_pending.get_or_insert_with(Instant::now);
    }

    fn flush(&mut self) {
        self.first_pending = None;
        if self.pending.is_empty() {
            return;
        }
        let files = std::mem::take(&mut self.pending);
        // The writer is gone only when the recording is ending: the facts go with it.
        let _ = self.out.send(SinkMsg::meta(&FileFactsBlock { files }));
    }
}

/// `path` as an absolute path: relative paths are resolved against the process's working
/// directory (`None` if it has exited or its cwd cannot be read).
fn absolute_path(pid: u32, path: &str) -> Option<String> {
    if path.starts_with('/') {
        return Some(path.to_owned());
    }
    if path.is_empty() {
        return None;
    }
    let cwd = fs::read_link(format!("/proc/{pid}/cwd")).ok()?;
    Some(join_cwd(&cwd, path))
}

/// `cwd` joined with a relative path, `.` components dropped (`..` is kept: it may cross
/// a symbolic link).
fn join_cwd(cwd: &Path, relative: &str) -> String {
    cwd.join(relative)
        .components()
        .collect::<PathBuf>()
        .to_string_lossy()
        .into_owned()
}

/// What is learned about one file, and how.
struct Inspector {
    versions: bool,
    checksums: bool,
    dpkg: Dpkg,
}

impl Inspector {
    fn facts(&mut self, file: &FileRef, path: String) -> FileFacts {
        let mut facts = FileFacts {
            dev: file.dev,
            ino: file.ino,
            size: file.size,
            mtime_ns: file.mtime_ns,
            package_version: None,
            md5: None,
            sha256: None,
            path,
        };
        if self.versions {
            facts.package_version = self.dpkg.version_of(&facts.path);
        }
        if self.checksums && is_executable_file(file.mode) {
            // Errors (the file is gone, unreadable, …) and a different file now at the
            // path all leave the digests out.
            if let Ok(Some(digests)) = hash_file(Path::new(&facts.path), file.dev, file.ino) {
                // The identity of what was hashed: if the file changed in place since it
                // was recorded, its size or mtime now differ from the record's.
                facts.size = digests.size;
                facts.mtime_ns = digests.mtime_ns;
                facts.md5 = Some(digests.md5);
                facts.sha256 = Some(digests.sha256);
            }
        }
        facts
    }
}

/// A regular file with an execute bit.
fn is_executable_file(mode: u32) -> bool {
    mode & 0o170000 == 0o100000 && mode & 0o111 != 0
}

/// `st_dev` (glibc's encoding) as the kernel's dev_t that records carry:
/// major << 20 | minor.
fn kernel_dev(st_dev: u64) -> u32 {
    (libc::major(st_dev) << 20) | (libc::minor(st_dev) & 0xfffff)
}

fn mtime_ns(meta: &fs::Metadata) -> i64 {
    meta.mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(meta.mtime_nsec())
}

/// Digests of a file, and the identity of what was read.
#[derive(Debug, PartialEq, Eq)]
struct Digests {
    size: u64,
    mtime_ns: i64,
    md5: String,
    sha256: String,
}

/// MD5 and SHA-256 of the regular file at `path`, if it is still the file (`dev`, `ino`)
/// that was recorded and at most 1 GiB; `Ok(None)` otherwise, or if it changed while it
/// was read.
fn hash_file(path: &Path, dev: u32, ino: u64) -> io::Result<Option<Digests>> {
    let same = |meta: &fs::Metadata| {
        kernel_dev(meta.dev()) == dev
            && meta.ino() == ino
            && meta.file_type().is_file()
            && meta.len() <= HASH_MAX_BYTES
    };
    // stat before open: opening a FIFO or a device that now has the name could block or
    // have side effects.
    if !same(&fs::metadata(path)?) {
        return Ok(None);
    }
    let mut file = open_for_reading(path)?;
    // And fstat after: the path could have been replaced in between.
    let before = file.metadata()?;
    if !same(&before) {
        return Ok(None);
    }
    let (mut md5, mut sha256) = (Md5::new(), Sha256::new());
    let mut buf = vec![0u8; HASH_BUF_BYTES];
    let mut total = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        total += n as u64;
        if total > HASH_MAX_BYTES {
            return Ok(None);
        }
        md5.update(&buf[..n]);
        sha256.update(&buf[..n]);
    }
    let after = file.metadata()?;
    if after.len() != before.len() || total != before.len() || mtime_ns(&after) != mtime_ns(&before)
    {
        return Ok(None);
    }
    Ok(Some(Digests {
        size: total,
        mtime_ns: mtime_ns(&after),
        md5: format!("{:x}", md5.finalize()),
        sha256: format!("{:x}", sha256.finalize()),
    }))
}

/// Opens without updating the file's access time (evidence on the host) when allowed:
/// O_NOATIME needs the file's owner or CAP_FOWNER. Non-blocking, in case the name is
/// swapped for a FIFO between the stat and the open.
fn open_for_reading(path: &Path) -> io::Result<File> {
    let open = |flags| {
        fs::OpenOptions::new()
            .read(true)
            .custom_flags(flags)
            .open(path)
    };
    match open(libc::O_NOATIME | libc::O_NONBLOCK | libc::O_NOCTTY) {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => open(libc::O_NONBLOCK | libc::O_NOCTTY),
        other => other,
    }
}

/// Which dpkg package version owns a path, from dpkg's database, read (never by running
/// `dpkg`) once, on the first lookup.
///
/// Only dpkg: rpm's database is not read here (rpm-based hosts get no versions), and
/// spawning `rpm` from the recorder is not an option (its children are recorded). Paths
/// moved by `dpkg-divert` are attributed to the package that lists the path.
struct Dpkg {
    admin_dir: PathBuf,
    db: Option<DpkgDb>,
}

impl Dpkg {
    fn new(admin_dir: impl Into<PathBuf>) -> Dpkg {
        Dpkg {
            admin_dir: admin_dir.into(),
            db: None,
        }
    }

    /// The version of the installed package that lists `path`, trying the other side of
    /// the merged-/usr split (`/bin/ls` ↔ `/usr/bin/ls`) and then the canonical path.
    fn version_of(&mut self, path: &str) -> Option<String> {
        let admin_dir = &self.admin_dir;
        let db = self.db.get_or_insert_with(|| DpkgDb::load(admin_dir));
        if db.owners.is_empty() {
            return None;
        }
        let found = usrmerge_variants(path)
            .iter()
            .find_map(|p| db.version_of(p))
            .or_else(|| {
                let canonical = fs::canonicalize(path).ok()?;
                let canonical = canonical.to_str()?;
                usrmerge_variants(canonical)
                    .iter()
                    .find_map(|p| db.version_of(p))
            });
        found.map(str::to_owned)
    }
}

/// The paths of installed packages, each to its package's version.
#[derive(Debug, Default)]
struct DpkgDb {
    versions: Vec<String>,
    /// Path → index into `versions`.
    owners: HashMap<String, u32>,
}

impl DpkgDb {
    /// An empty database if there is none.
    fn load(admin_dir: &Path) -> DpkgDb {
        let mut db = DpkgDb::default();
        let Ok(status) = fs::read(admin_dir.join("status")) else {
            return db;
        };
        let installed = installed_versions(&parse_dpkg_status(&String::from_utf8_lossy(&status)));
        let Ok(info) = fs::read_dir(admin_dir.join("info")) else {
            return db;
        };
        for entry in info.flatten() {
            let file_name = entry.file_name();
            let Some(stem) = file_name.to_str().and_then(|n| n.strip_suffix(".list")) else {
                continue;
            };
            let Some(version) = list_version(&installed, stem) else {
                continue;
            };
            let Ok(list) = fs::read(entry.path()) else {
                continue;
            };
            db.add(version, parse_dpkg_list(&String::from_utf8_lossy(&list)));
        }
        db
    }

    fn add<'a>(&mut self, version: &str, paths: impl IntoIterator<Item = &'a str>) {
        let Ok(index) = u32::try_from(self.versions.len()) else {
            return;
        };
        self.versions.push(version.to_owned());
        for path in paths {
            // Directories are listed by every package with files in them: the first wins,
            // and only files are looked up.
            self.owners.entry(path.to_owned()).or_insert(index);
        }
    }

    fn version_of(&self, path: &str) -> Option<&str> {
        let index = *self.owners.get(path)?;
        self.versions.get(index as usize).map(String::as_str)
    }
}

/// One stanza of dpkg's `status` file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DpkgPackage {
    name: String,
    architecture: Option<String>,
    version: String,
}

/// The installed packages in a dpkg `status` file (deb822 stanzas). A package is
/// installed when its `Status` ends in `installed`, or in `triggers-pending` or
/// `triggers-awaiting` (installed, with triggers still to run).
fn parse_dpkg_status(text: &str) -> Vec<DpkgPackage> {
    let mut packages = Vec::new();
    let (mut name, mut architecture, mut version, mut installed) = (None, None, None, false);
    // A final empty line closes the last stanza.
    for line in text.lines().chain([""]) {
        if line.trim().is_empty() {
            if let (Some(name), Some(version), true) = (name.take(), version.take(), installed) {
                packages.push(DpkgPackage {
                    name,
                    architecture: architecture.take(),
                    version,
                });
            }
            (name, architecture, version, installed) = (None, None, None, false);
            continue;
        }
        if line.starts_with([' ', '\t']) {
            continue; // a continuation of a multi-line field
        }
        let Some((field, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        let field = field.trim();
        if field.eq_ignore_ascii_case("Package") {
            name = Some(value.to_owned());
        } else if field.eq_ignore_ascii_case("Version") {
            version = Some(value.to_owned());
        } else if field.eq_ignore_ascii_case("Architecture") {
            architecture = Some(value.to_owned());
        } else if field.eq_ignore_ascii_case("Status") {
            installed = matches!(
                value.split_whitespace().last(),
                Some("installed" | "triggers-pending" | "triggers-awaiting")
            );
        }
    }
    packages
}

/// Installed versions by `name` and by `name:architecture`: dpkg names a package's file
/// list `name:arch.list` when several architectures of it may be installed, else
/// `name.list`.
fn installed_versions(packages: &[DpkgPackage]) -> HashMap<String, String> {
    let mut versions = HashMap::new();
    for p in packages {
        if let Some(arch) = &p.architecture {
            versions.insert(format!("{}:{arch}", p.name), p.version.clone());
        }
        versions
            .entry(p.name.clone())
            .or_insert_with(|| p.version.clone());
    }
    versions
}

/// The installed version whose file list is `stem.list`, if the package is installed.
fn list_version<'a>(installed: &'a HashMap<String, String>, stem: &str) -> Option<&'a str> {
    installed
        .get(stem)
        .or_else(|| installed.get(stem.split_once(':')?.0))
        .map(String::as_str)
}

/// The paths in a dpkg `.list` file: one absolute path a line (`/.` is the root).
fn parse_dpkg_list(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .filter(|line| line.starts_with('/') && *line != "/.")
}

/// The top-level directories that merged-/usr systems make links into /usr.
const USRMERGE_DIRS: [&str; 7] = ["bin", "sbin", "lib", "lib32", "lib64", "libx32", "libo32"];

/// `path` and, if it is under a merged directory, its name on the other side of the merge.
fn usrmerge_variants(path: &str) -> Vec<String> {
    let merged = |rest: &str| {
        let (top, below) = rest.split_once('/').unwrap_or((rest, ""));
        USRMERGE_DIRS.contains(&top) && !below.is_empty()
    };
    let mut variants = vec![path.to_owned()];
    if let Some(rest) = path.strip_prefix("/usr/") {
        if merged(rest) {
            variants.push(format!("/{rest}"));
        }
    } else if let Some(rest) = path.strip_prefix('/') {
        if merged(rest) {
            variants.push(format!("/usr/{rest}"));
        }
    }
    variants
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::decode;
    use std::os::unix::fs::PermissionsExt;

    const STATUS: &str = "\
Package: coreutils
Essential: yes
Status: install ok installed
Priority: required
Architecture: amd64
Multi-Arch: foreign
Version: 9.4-3ubuntu6
Description: GNU core utilities
 This package contains the basic file, shell and text manipulation
 utilities which are expected to exist on every operating system.
 .
 Status: not a field, a continuation line

package: libc6
status: install ok installed
architecture: amd64
multi-arch: same
version: 2.39-0ubuntu8

Package: dash
Status: install ok triggers-pending
Architecture: amd64
Version: 0.5.12-6ubuntu5

Package: oldpkg
Status: deinstall ok config-files
Architecture: all
Version: 1.0

Package: noversion
Status: install ok installed

Package: python3-six
Status: install ok installed
Architecture: all
Version: 1.16.0-4";

    fn package(name: &str, arch: &str, version: &str) -> DpkgPackage {
        DpkgPackage {
            name: name.into(),
            architecture: Some(arch.into()),
            version: version.into(),
        }
    }

    #[test]
    fn dpkg_status_installed_only() {
        assert_eq!(
            parse_dpkg_status(STATUS),
            vec![
                package("coreutils", "amd64", "9.4-3ubuntu6"),
                package("libc6", "amd64", "2.39-0ubuntu8"),
                package("dash", "amd64", "0.5.12-6ubuntu5"),
                package("python3-six", "all", "1.16.0-4"),
            ]
        );
        assert!(parse_dpkg_status("").is_empty());
        assert!(parse_dpkg_status("garbage\n\n:\n \nPackage:").is_empty());
    }

    #[test]
    fn dpkg_list_names() {
        let installed = installed_versions(&parse_dpkg_status(STATUS));
        assert_eq!(
            list_version(&installed, "libc6:amd64"),
            Some("2.39-0ubuntu8")
        );
        assert_eq!(list_version(&installed, "libc6"), Some("2.39-0ubuntu8"));
        assert_eq!(list_version(&installed, "coreutils"), Some("9.4-3ubuntu6"));
        // Another architecture of an installed package: its name still finds it.
        assert_eq!(
            list_version(&installed, "libc6:i386"),
            Some("2.39-0ubuntu8")
        );
        assert_eq!(list_version(&installed, "oldpkg"), None);
        assert_eq!(list_version(&installed, "unknown:amd64"), None);
    }

    #[test]
    fn dpkg_list_lines() {
        let list = "/.\n/bin\n/bin/ls\n/usr/bin/[\nnot a path\n\n/usr/share/doc/coreutils\n";
        assert_eq!(
            parse_dpkg_list(list).collect::<Vec<_>>(),
            ["/bin", "/bin/ls", "/usr/bin/[", "/usr/share/doc/coreutils"]
        );
    }

    #[test]
    fn usrmerge_names() {
        assert_eq!(usrmerge_variants("/usr/bin/ls"), ["/usr/bin/ls", "/bin/ls"]);
        assert_eq!(usrmerge_variants("/bin/ls"), ["/bin/ls", "/usr/bin/ls"]);
        assert_eq!(
            usrmerge_variants("/lib64/ld-linux-x86-64.so.2"),
            [
                "/lib64/ld-linux-x86-64.so.2",
                "/usr/lib64/ld-linux-x86-64.so.2"
            ]
        );
        assert_eq!(
            usrmerge_variants("/usr/share/dict/words"),
            ["/usr/share/dict/words"]
        );
        assert_eq!(usrmerge_variants("/binary/x"), ["/binary/x"]);
        assert_eq!(usrmerge_variants("/usr/bin"), ["/usr/bin"]);
        assert_eq!(usrmerge_variants("relative/bin/x"), ["relative/bin/x"]);
    }

    /// A dpkg database in a temporary directory.
    fn dpkg_admin(lists: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("status"), STATUS).unwrap();
        fs::create_dir(dir.path().join("info")).unwrap();
        for (name, list) in lists {
            fs::write(dir.path().join("info").join(name), list).unwrap();
        }
        dir
    }

    #[test]
    fn dpkg_lookups_across_the_usr_merge() {
        let admin = dpkg_admin(&[
            ("coreutils.list", "/.\n/bin\n/bin/ls\n/usr/bin/cat\n"),
            (
                "libc6:amd64.list",
                "/.\n/usr/lib/x86_64-linux-gnu/libc.so.6\n",
            ),
            ("oldpkg.list", "/usr/bin/old\n"),
            ("coreutils.md5sums", "/usr/bin/notalist\n"),
        ]);
        let mut dpkg = Dpkg::new(admin.path());
        let v = |dpkg: &mut Dpkg, p| dpkg.version_of(p);
        assert_eq!(v(&mut dpkg, "/bin/ls").as_deref(), Some("9.4-3ubuntu6"));
        assert_eq!(v(&mut dpkg, "/usr/bin/ls").as_deref(), Some("9.4-3ubuntu6"));
        assert_eq!(v(&mut dpkg, "/bin/cat").as_deref(), Some("9.4-3ubuntu6"));
        assert_eq!(
            v(&mut dpkg, "/lib/x86_64-linux-gnu/libc.so.6").as_deref(),
            Some("2.39-0ubuntu8")
        );
        assert_eq!(v(&mut dpkg, "/usr/bin/old"), None);
        assert_eq!(v(&mut dpkg, "/usr/bin/notalist"), None);
        assert_eq!(v(&mut dpkg, "/opt/x"), None);
    }

    #[test]
    fn dpkg_lookup_by_canonical_path() {
        let dir = tempfile::tempdir().unwrap();
        let dir = fs::canonicalize(dir.path()).unwrap();
        let real = dir.join("python3.12");
        fs::write(&real, "").unwrap();
        let link = dir.join("python3");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let admin = dpkg_admin(&[("python3-six.list", &format!("{}\n", real.display()))]);
        let mut dpkg = Dpkg::new(admin.path());
        assert_eq!(
            dpkg.version_of(link.to_str().unwrap()).as_deref(),
            Some("1.16.0-4")
        );
    }

    #[test]
    fn no_dpkg_database() {
        let dir = tempfile::tempdir().unwrap();
        let mut dpkg = Dpkg::new(dir.path().join("missing"));
        assert_eq!(dpkg.version_of("/bin/ls"), None);
        assert_eq!(dpkg.version_of("/usr/bin/ls"), None);
    }

    #[test]
    fn dev_encodings() {
        assert_eq!(kernel_dev(libc::makedev(8, 1)), 8 << 20 | 1);
        assert_eq!(kernel_dev(libc::makedev(259, 0x12345)), 259 << 20 | 0x12345);
        assert_eq!(kernel_dev(libc::makedev(0, 36)), 36);
    }

    #[test]
    fn executable_modes() {
        assert!(is_executable_file(0o100755));
        assert!(is_executable_file(0o100100));
        assert!(!is_executable_file(0o100644));
        assert!(!is_executable_file(0o040755)); // a directory
        assert!(!is_executable_file(0o020755)); // a character device
        assert!(!is_executable_file(0o120777)); // a symbolic link
    }

    #[test]
    fn relative_paths() {
        assert_eq!(
            join_cwd(Path::new("/home/u"), "./bin/../a.out"),
            "/home/u/bin/../a.out"
        );
        assert_eq!(join_cwd(Path::new("/"), "x"), "/x");
        assert_eq!(absolute_path(1, "/abs/path").as_deref(), Some("/abs/path"));
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            absolute_path(std::process::id(), "./Cargo.toml"),
            Some(cwd.join("Cargo.toml").to_string_lossy().into_owned())
        );
        // pid_max is at most 2^22: no such process.
        assert_eq!(absolute_path(u32::MAX, "a.out"), None);
        assert_eq!(absolute_path(std::process::id(), ""), None);
    }

    /// A temporary executable holding `content`, and a reference to it.
    fn executable(dir: &Path, name: &str, content: &[u8]) -> FileRef {
        let path = dir.join(name);
        fs::write(&path, content).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        let meta = fs::metadata(&path).unwrap();
        FileRef {
            pid: std::process::id(),
            path: path.to_string_lossy().into_owned(),
            dev: kernel_dev(meta.dev()),
            ino: meta.ino(),
            size: meta.len(),
            mtime_ns: mtime_ns(&meta),
            mode: meta.mode(),
        }
    }

    const ABC_MD5: &str = "900150983cd24fb0d6963f7d28e17f72";
    const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn hashes_of_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = executable(dir.path(), "abc", b"abc");
        let digests = hash_file(Path::new(&file.path), file.dev, file.ino)
            .unwrap()
            .unwrap();
        assert_eq!(
            digests,
            Digests {
                size: 3,
                mtime_ns: file.mtime_ns,
                md5: ABC_MD5.into(),
                sha256: ABC_SHA256.into(),
            }
        );
        // Larger than one read buffer.
        let big = executable(dir.path(), "big", &vec![b'a'; 3 * HASH_BUF_BYTES + 17]);
        let digests = hash_file(Path::new(&big.path), big.dev, big.ino)
            .unwrap()
            .unwrap();
        assert_eq!(digests.size, 3 * HASH_BUF_BYTES as u64 + 17);
        assert_eq!(digests.sha256.len(), 64);
    }

    #[test]
    fn a_different_file_at_the_path_is_not_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let file = executable(dir.path(), "abc", b"abc");
        let path = Path::new(&file.path);
        assert_eq!(hash_file(path, file.dev, file.ino + 1).unwrap(), None);
        assert_eq!(hash_file(path, file.dev ^ 1, file.ino).unwrap(), None);
        assert!(hash_file(&dir.path().join("gone"), file.dev, file.ino).is_err());

        // Through the inspector: the facts are kept, without digests.
        let mut inspector = Inspector {
            versions: false,
            checksums: true,
            dpkg: Dpkg::new(dir.path().join("no-dpkg")),
        };
        let replaced = FileRef {
            ino: file.ino + 1,
            ..file.clone()
        };
        let facts = inspector.facts(&replaced, file.path.clone());
        assert_eq!(
            (facts.ino, facts.md5, facts.sha256),
            (file.ino + 1, None, None)
        );
        let facts = inspector.facts(&file, file.path.clone());
        assert_eq!(facts.md5.as_deref(), Some(ABC_MD5));
        // Without an execute bit in the recorded mode: not hashed.
        let plain = FileRef {
            mode: 0o100644,
            ..file.clone()
        };
        assert_eq!(inspector.facts(&plain, file.path.clone()).md5, None);
    }

    #[test]
    fn files_over_the_cap_are_not_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let file = executable(dir.path(), "huge", b"");
        // Sparse: no gigabyte is written.
        File::options()
            .write(true)
            .open(&file.path)
            .unwrap()
            .set_len(HASH_MAX_BYTES + 1)
            .unwrap();
        assert_eq!(
            hash_file(Path::new(&file.path), file.dev, file.ino).unwrap(),
            None
        );
    }

    #[test]
    fn a_fifo_is_not_opened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fifo");
        let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: `c_path` is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o755) }, 0);
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(
            hash_file(&path, kernel_dev(meta.dev()), meta.ino()).unwrap(),
            None
        );
    }

    fn blocks(rx: &Receiver<SinkMsg>) -> Vec<FileFactsBlock> {
        rx.try_iter()
            .map(|msg| match msg {
                SinkMsg::Meta { kind, payload, .. } => {
                    assert_eq!(kind, crate::format::BlockKind::FileFacts);
                    decode::<FileFactsBlock>(&payload).unwrap()
                }
                SinkMsg::Frame(_)
                | SinkMsg::Opening
                | SinkMsg::Rotate
                | SinkMsg::Snapshot
                | SinkMsg::Stop { .. } => {
                    panic!("only metadata from the enricher")
                }
            })
            .collect()
    }

    #[test]
    fn enricher_end_to_end() {
        let dir = tempfile::tempdir().unwrap();
        let file = executable(dir.path(), "abc", b"abc");
        let admin = dpkg_admin(&[("coreutils.list", &format!("/.\n{}\n", file.path))]);
        let (tx, rx) = sync_channel(16);
        let enricher = Enricher::start(
            Inspector {
                versions: true,
                checksums: true,
                dpkg: Dpkg::new(admin.path()),
            },
            tx,
        );
        enricher.submit(file.clone());
        enricher.submit(file.clone()); // the same file again: looked at once
        assert_eq!(enricher.finish(), (1, 0));
        let got = blocks(&rx);
        assert_eq!(
            got,
            vec![FileFactsBlock {
                files: vec![FileFacts {
                    dev: file.dev,
                    ino: file.ino,
                    size: 3,
                    mtime_ns: file.mtime_ns,
                    path: file.path.clone(),
                    package_version: Some("9.4-3ubuntu6".into()),
                    md5: Some(ABC_MD5.into()),
                    sha256: Some(ABC_SHA256.into()),
                }],
            }]
        );
    }

    #[test]
    fn versions_only_and_dedupe_by_identity() {
        let dir = tempfile::tempdir().unwrap();
        let file = executable(dir.path(), "abc", b"abc");
        let (tx, rx) = sync_channel(16);
        let enricher = Enricher::start(
            Inspector {
                versions: true,
                checksums: false,
                dpkg: Dpkg::new(dir.path().join("no-dpkg")),
            },
            tx,
        );
        enricher.submit(file.clone());
        // Same inode, new content (another size and mtime): a distinct file.
        enricher.submit(FileRef {
            size: 4,
            mtime_ns: file.mtime_ns + 1,
            ..file.clone()
        });
        enricher.submit(FileRef {
            pid: 1,
            ..file.clone()
        });
        // A relative path of a process that does not exist: skipped.
        enricher.submit(FileRef {
            pid: u32::MAX,
            path: "abc".into(),
            ino: file.ino + 1,
            ..file.clone()
        });
        assert_eq!(enricher.finish(), (2, 0));
        let files: Vec<FileFacts> = blocks(&rx).into_iter().flat_map(|b| b.files).collect();
        assert_eq!(files.len(), 2);
        assert!(files
            .iter()
            .all(|f| f.md5.is_none() && f.sha256.is_none() && f.package_version.is_none()));
    }

    fn numbered(file: &FileRef, n: i64) -> FileRef {
        FileRef {
            mtime_ns: n,
            ..file.clone()
        }
    }

    #[test]
    fn batches_by_count_and_by_age() {
        let dir = tempfile::tempdir().unwrap();
        let file = executable(dir.path(), "abc", b"abc");
        let (tx, rx) = sync_channel(16);
        let enricher = Enricher::start(
            Inspector {
                versions: false,
                checksums: false,
                dpkg: Dpkg::new(dir.path()),
            },
            tx,
        );
        for n in 0..BATCH_LEN as i64 {
            enricher.submit(numbered(&file, n));
        }
        // A full batch goes at once.
        let SinkMsg::Meta { payload, .. } = rx.recv_timeout(Duration::from_secs(10)).unwrap()
        else {
            panic!("not a metadata block");
        };
        assert_eq!(
            decode::<FileFactsBlock>(&payload).unwrap().files.len(),
            BATCH_LEN
        );
        // One more goes after a second, without waiting for the end.
        let sent = Instant::now();
        enricher.submit(numbered(&file, -1));
        let SinkMsg::Meta { payload, .. } = rx.recv_timeout(Duration::from_secs(10)).unwrap()
        else {
            panic!("not a metadata block");
        };
        assert!(sent.elapsed() >= BATCH_AGE - Duration::from_millis(50));
        assert_eq!(decode::<FileFactsBlock>(&payload).unwrap().files.len(), 1);
        // The rest at the end.
        for n in 100..103 {
            enricher.submit(numbered(&file, n));
        }
        assert_eq!(enricher.finish(), (BATCH_LEN as u64 + 4, 0));
        let last = blocks(&rx);
        assert_eq!(last.len(), 1);
        assert_eq!(last[0].files.len(), 3);
    }

    #[test]
    fn a_full_queue_skips_and_counts() {
        // A queue nobody drains, so its one slot stays taken.
        let (queue, _rx) = sync_channel(1);
        let enricher = Enricher {
            queue,
            thread: std::thread::spawn(|| 7),
            skipped: AtomicU64::new(0),
        };
        let file = FileRef {
            pid: 1,
            path: "/bin/true".into(),
            dev: 1,
            ino: 2,
            size: 3,
            mtime_ns: 4,
            mode: 0o100755,
        };
        enricher.submit(file.clone());
        enricher.submit(file.clone());
        enricher.submit(file);
        assert_eq!(enricher.finish(), (7, 2));
    }
}
