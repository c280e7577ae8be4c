//! `record --pidfile FILE`: the recorder's process id, for `kellect snapshot FILE` and for
//! service managers, written when the signal handlers are in place and removed at the end;
//! and [`request_snapshot`], which `kellect snapshot` sends.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A pid file this process wrote: removed when dropped, if it still holds this process's
/// id (another recorder may have taken the name over since).
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    pid: u32,
}

impl PidFile {
    /// Writes this process's id and a newline to `path` (mode 0644, replacing a regular
    /// file's contents; a symbolic link at `path` is refused, never followed).
    ///
    /// Errors name the path: the directory is missing or not writable, or a symbolic link
    /// or something that is not a regular file is there.
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
        if !file.metadata().map_err(named)?.is_file() {
            return Err(named(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            )));
        }
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

impl Drop for PidFile {
    fn drop(&mut self) {
        let ours = std::fs::read_to_string(&self.path)
            .is_ok_and(|s| s.trim().parse::<u32>() == Ok(self.pid));
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The process id in a pid file: its first line, a decimal number greater than 1.
/// Errors: the file cannot be read, or holds no such number (the error says what it holds).
pub fn read_pid(path: &Path) -> io::Result<u32> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
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
/// that process is kellect (`/proc/PID/comm` is `kellect`, as for the installed binary),
/// since SIGUSR1 ends most other programs.
///
/// Errors: no such process, a process that is not kellect (its name is said), or the
/// signal is refused (another user's recorder: run as root).
pub fn request_snapshot(pid: u32) -> io::Result<()> {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("no process {pid} ({e}): is the recorder running?"),
        )
    })?;
    let comm = comm.trim_end();
    if comm != "kellect" {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("process {pid} is {comm:?}, not kellect: no signal sent (a stale pid file?)"),
        ));
    }
    // SAFETY: kill has no memory-safety preconditions; pid > 1 (parse_pid).
    if unsafe { libc::kill(pid as libc::pid_t, libc::SIGUSR1) } != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!("cannot signal process {pid}: {e} (a recorder run by root needs root)"),
        ));
    }
    Ok(())
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
}
