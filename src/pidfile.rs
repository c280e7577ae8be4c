//! `record --pidfile FILE`: the recorder's process id, for `kellect snapshot FILE` and for
//! service managers, written when the signal handlers are in place and removed at the end;
//! and [`request_snapshot`], which `kellect snapshot` sends.

use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Bytes of a pid file read at most: a process id and a newline fit many times over.
const PID_FILE_MAX: u64 = 64;

/// A pid file this process wrote: removed when dropped, if it still holds this process's
/// id (another recorder may have taken the name over since).
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    pid: u32,
}

impl PidFile {
    /// Writes this process's id and a newline to `path` (mode 0644, replacing the contents
    /// of a regular file this user owns that has no other name; a symbolic link at `path`
    /// is refused, never followed).
    ///
    /// Errors name the path: the directory is missing or not writable, or a symbolic link
    /// or something that is not a regular file is there, or a file another user owns (who
    /// could swap it or write another pid in it) or one with other names (hard links: its
    /// contents are not the pid file's to replace).
    pub fn create(path: &Path) -> io::Result<PidFile> {
        let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
        let mut file: File = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
            .open(path)
            .map_err(named)?;
        let meta = file.metadata().map_err(named)?;
        if !meta.is_file() {
            return Err(named(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            )));
        }
        // SAFETY: geteuid has no preconditions.
        ours_alone(&meta, unsafe { libc::geteuid() })
            .map_err(|e| named(io::Error::new(io::ErrorKind::PermissionDenied, e)))?;
        let pid = std::process::id();
        file.set_len(0).map_err(named)?;
        file.write_all(format!("{pid}\n").as_bytes())
            .map_err(named)?;
        Ok(PidFile {
            path: path.to_owned(),
            pid,
        })
    }
}

/// Whether a pid file found at the name (`meta`) may be written by the user `euid`: it
/// is theirs and has no other name. Else why not.
fn ours_alone(meta: &Metadata, euid: u32) -> Result<(), String> {
    if meta.uid() != euid {
        return Err(format!(
            "owned by uid {}, not by this user (uid {euid}): remove it first",
            meta.uid()
        ));
    }
    if meta.nlink() != 1 {
        return Err(format!(
            "a file with {} names (hard links): remove it first",
            meta.nlink()
        ));
    }
    Ok(())
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // Never through a link, never waiting on a FIFO, never more than a pid's bytes:
        // the name may hold anything by now.
        let ours =
            read_small(&self.path, false).is_ok_and(|s| s.trim().parse::<u32>() == Ok(self.pid));
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The first [`PID_FILE_MAX`] bytes of the regular file at `path` (through a symbolic
/// link at `path` only with `follow`), opened without waiting (a FIFO is refused, not
/// waited on). Errors name the path.
fn read_small(path: &Path, follow: bool) -> io::Result<String> {
    let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    let nofollow = if follow { 0 } else { libc::O_NOFOLLOW };
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(nofollow | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(named)?;
    if !file.metadata().map_err(named)?.is_file() {
        return Err(named(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    let mut bytes = Vec::new();
    file.take(PID_FILE_MAX)
        .read_to_end(&mut bytes)
        .map_err(named)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The process id in a pid file: its first line, a decimal number greater than 1.
/// Errors: the file cannot be read or is not a regular file, or holds no such number in
/// its first [`PID_FILE_MAX`] bytes (the error says what it holds).
pub fn read_pid(path: &Path) -> io::Result<u32> {
    let text = read_small(path, true)?;
    parse_pid(text.lines().next().unwrap_or("")).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} holds no process id (its first line is {:?})",
                path.display(),
                text.lines()
                    .next()
                    .unwrap_or("")
                    .chars()
                    .take(40)
                    .collect::<String>()
            ),
        )
    })
}

/// A process id as a pid file or the command line gives it: decimal, greater than 1
/// (0 and 1 would signal a process group or init).
pub fn parse_pid(text: &str) -> Option<u32> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|&p| p > 1 && p <= i32::MAX as u32)
}

/// Asks the recorder with process id `pid` for a snapshot of its ring (SIGUSR1): only if
/// that process is kellect (`/proc/PID/comm` is `kellect`, as for the installed binary)
/// and catches SIGUSR1 (`SigCgt` in `/proc/PID/status`), since SIGUSR1 ends other programs
/// and the kellect commands that are no recorder (`replay`, `verify`). The process is held
/// by a pidfd while it is checked: a pid reused meanwhile gets no signal.
///
/// Errors: no such process, a process that is not kellect (its name is said) or does not
/// take snapshots, or the signal is refused (another user's recorder: run as root).
pub fn request_snapshot(pid: u32) -> io::Result<()> {
    let gone = |e: io::Error| {
        io::Error::new(
            e.kind(),
            format!("no process {pid} ({e}): is the recorder running?"),
        )
    };
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(gone(io::Error::last_os_error()));
    }
    // SAFETY: fd was just opened here and is owned by nothing else.
    let pidfd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).map_err(gone)?;
    let comm = comm.trim_end();
    if comm != "kellect" {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("process {pid} is {comm:?}, not kellect: no signal sent (a stale pid file?)"),
        ));
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(gone)?;
    if !catches(&status, libc::SIGUSR1) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "process {pid} is kellect but does not take snapshots (no record or live: \
                 SIGUSR1 would end it): no signal sent (a stale pid file?)"
            ),
        ));
    }
    // SAFETY: pidfd_send_signal reads no siginfo when given NULL; pidfd is open.
    let sent = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            libc::SIGUSR1,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if sent != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!("cannot signal process {pid}: {e} (a recorder run by root needs root)"),
        ));
    }
    Ok(())
}

/// Whether a process's `/proc/PID/status` text says it catches `signal` (its `SigCgt`
/// mask, hex, bit `signal - 1`).
fn catches(status: &str, signal: i32) -> bool {
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| (1..=64).contains(&signal) && mask >> (signal - 1) & 1 == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_read_back_and_removed_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pid");
        std::fs::write(&path, "stale contents that are longer\n").unwrap();
        let pid = PidFile::create(&path).unwrap();
        assert_eq!(read_pid(&path).unwrap(), std::process::id());
        drop(pid);
        assert!(!path.exists());
    }

    #[test]
    fn a_pid_file_taken_over_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pid");
        let pid = PidFile::create(&path).unwrap();
        std::fs::write(&path, "4242\n").unwrap();
        drop(pid);
        assert_eq!(read_pid(&path).unwrap(), 4242);
    }

    #[test]
    fn links_and_garbage_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "x").unwrap();
        let link = dir.path().join("link.pid");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(PidFile::create(&link).is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "x");
        assert!(PidFile::create(dir.path()).is_err());
        for bad in ["", "0", "1", "-5", "12ab", "99999999999"] {
            assert_eq!(parse_pid(bad), None, "{bad:?}");
        }
        assert_eq!(parse_pid(" 1234 \n"), Some(1234));
        std::fs::write(&target, "hello\n").unwrap();
        let e = read_pid(&target).unwrap_err().to_string();
        assert!(
            e.contains("holds no process id") && e.contains("hello"),
            "{e}"
        );
    }

    #[test]
    fn only_a_kellect_process_is_signalled() {
        // This test binary is kellect-<hash>, not kellect: refused before any signal is
        // sent (SIGUSR1 would end it).
        let e = request_snapshot(std::process::id())
            .unwrap_err()
            .to_string();
        assert!(e.contains("not kellect: no signal sent"), "{e}");
        let e = request_snapshot(i32::MAX as u32).unwrap_err().to_string();
        assert!(e.contains("is the recorder running?"), "{e}");
    }
    /// Runs `f` in a thread: whether it returned within 5 s.
    fn returns_promptly(f: impl FnOnce() + Send + 'static) -> bool {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            f();
            let _ = tx.send(());
        });
        rx.recv_timeout(std::time::Duration::from_secs(5)).is_ok()
    }

    fn mkfifo(path: &Path) {
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo reads a NUL-terminated path that lives across the call.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o666) }, 0);
    }

    #[test]
    fn a_pid_file_swapped_for_a_fifo_hangs_neither_the_recorder_at_exit_nor_snapshot() {
        // Someone who may write in the pid file's directory swaps the file for a FIFO
        // while the recorder runs: reading it at exit would wait for a writer forever.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pid");
        let pid = PidFile::create(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        mkfifo(&path);
        assert!(
            returns_promptly(move || drop(pid)),
            "dropping the pid file hung"
        );
        assert!(path.exists(), "not ours: left alone");
        let fifo = path.clone();
        assert!(
            returns_promptly(move || assert!(read_pid(&fifo).is_err())),
            "kellect snapshot FIFO hung"
        );
        // Nor is an endless file read to its end.
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
        let e = read_pid(&path).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
    }

    #[test]
    fn a_pre_created_pid_file_of_another_user_or_with_other_names_is_refused() {
        // A hard link planted at the pid file's name (fs.protected_hardlinks = 0) would
        // have the recorder truncate the file it names.
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("precious");
        std::fs::write(&target, "keep me\n").unwrap();
        let path = dir.path().join("k.pid");
        std::fs::hard_link(&target, &path).unwrap();
        let e = PidFile::create(&path).unwrap_err().to_string();
        assert!(e.contains("2 names"), "{e}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me\n");
        // A file another user made: they could swap it later, or write another pid in it.
        let mine = dir.path().join("mine.pid");
        std::fs::write(&mine, "").unwrap();
        let meta = std::fs::metadata(&mine).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert!(ours_alone(&meta, meta.uid()).is_ok());
        let e = ours_alone(&meta, meta.uid() + 1).unwrap_err();
        assert!(e.contains(&format!("owned by uid {}", meta.uid())), "{e}");
    }

    /// A process named kellect that is not a recorder (`kellect replay`, or a pid reused by
    /// one): SIGUSR1 would end it.
    #[test]
    fn a_kellect_process_that_does_not_catch_sigusr1_is_not_signalled() {
        let dir = tempfile::tempdir().unwrap();
        let name = dir.path().join("kellect");
        // The kernel names a process after the file it executed: the link's name.
        std::os::unix::fs::symlink("/bin/sleep", &name).unwrap();
        let mut child = std::process::Command::new(&name).arg("30").spawn().unwrap();
        let pid = child.id();
        wait_for_comm(pid, "kellect");
        let e = request_snapshot(pid).unwrap_err().to_string();
        child.kill().unwrap();
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGKILL), "ended by SIGUSR1");
        assert!(e.contains("does not take snapshots"), "{e}");
        // One that catches it is signalled.
        std::fs::remove_file(&name).unwrap();
        std::os::unix::fs::symlink("/bin/bash", &name).unwrap();
        let mut child = std::process::Command::new(&name)
            .args(["-c", "trap 'exit 7' USR1; while :; do sleep 0.05; done"])
            .spawn()
            .unwrap();
        let pid = child.id();
        wait_for_comm(pid, "kellect");
        // The trap is set once bash has read the command: SigCgt says so.
        for _ in 0..200 {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
            if catches(&status, libc::SIGUSR1) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        request_snapshot(pid).unwrap();
        assert_eq!(child.wait().unwrap().code(), Some(7));
    }

    fn wait_for_comm(pid: u32, comm: &str) {
        for _ in 0..200 {
            let now = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if now.trim_end() == comm {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("process {pid} never became {comm}");
    }
}
