//! Host context captured at record time: what replay, on another machine, cannot
//! recompute. Read from /proc with the procfs crate and from libc.

use std::ffi::CStr;

use crate::abi::{ABI_VERSION, ARGV_MAX};
use crate::meta::{
    ClockSample, FdTable, HostInfo, ProcEntry, ProcFds, ProcSnapshot, RecordSettings,
};
use crate::replayer::bytes;

fn clock_ns(clock: libc::clockid_t) -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; both clocks exist on every supported kernel.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// A boot-time/wall-clock pair: boot time read on both sides of the wall-clock read and
/// averaged, so the pair's error is half the time between the reads.
pub fn clock_sample() -> ClockSample {
    let before = clock_ns(libc::CLOCK_BOOTTIME);
    let realtime_ns = clock_ns(libc::CLOCK_REALTIME);
    let after = clock_ns(libc::CLOCK_BOOTTIME);
    ClockSample {
        boot_ns: ((before + after) / 2) as u64,
        realtime_ns,
    }
}

fn field(bytes: &[libc::c_char]) -> String {
    // SAFETY: utsname fields are NUL-terminated within their arrays (uname(2)).
    unsafe { CStr::from_ptr(bytes.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

pub fn host_info(settings: RecordSettings, ncpus: u32) -> HostInfo {
    // SAFETY: an all-zero utsname is a valid value for uname(2) to fill.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `uts` is a valid, writable utsname.
    unsafe { libc::uname(&mut uts) };
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    HostInfo {
        kellect_version: env!("CARGO_PKG_VERSION").to_owned(),
        abi_version: ABI_VERSION,
        hostname: field(&uts.nodename),
        sysname: field(&uts.sysname),
        release: field(&uts.release),
        version: field(&uts.version),
        machine: field(&uts.machine),
        boot_id,
        ncpus,
        recorder_pid: std::process::id(),
        clock: clock_sample(),
        settings,
    }
}

/// `/proc/PID/cmdline` as the kernel holds it: one string per NUL-terminated argument,
/// empty ones included, each with its exact bytes ([`bytes::text`]), and whether it was
/// cut. (procfs reads it as UTF-8, and a process with one argument that is not gets no
/// arguments at all.) At most [`ARGV_MAX`]` - 1` bytes are read, as an exec record's
/// argument area holds: a process cannot make the snapshot large by a long command line.
fn cmdline(pid: i32) -> (Vec<String>, bool) {
    use std::io::Read;
    let mut raw = Vec::new();
    let Ok(file) = std::fs::File::open(format!("/proc/{pid}/cmdline")) else {
        return (Vec::new(), false);
    };
    if file.take(ARGV_MAX as u64).read_to_end(&mut raw).is_err() {
        return (Vec::new(), false);
    }
    let cut = raw.len() >= ARGV_MAX;
    raw.truncate(ARGV_MAX - 1);
    (split_cmdline(&raw), cut)
}

/// The arguments of a `/proc/PID/cmdline` area: NUL-terminated strings (the last one's NUL
/// may be missing when the area was cut).
fn split_cmdline(raw: &[u8]) -> Vec<String> {
    let raw = raw.strip_suffix(b"\0").unwrap_or(raw);
    if raw.is_empty() {
        return Vec::new();
    }
    raw.split(|&b| b == 0).map(bytes::text).collect()
}

/// `/proc/PID/comm` (the task's `comm`, up to 15 bytes) with its exact bytes, or `stat`'s
/// copy when it cannot be read.
fn comm(pid: i32, from_stat: &str) -> String {
    match std::fs::read(format!("/proc/{pid}/comm")) {
        Ok(raw) => bytes::text(raw.strip_suffix(b"\n").unwrap_or(&raw)),
        Err(_) => from_stat.to_owned(),
    }
}

/// The processes alive now. Processes that vanish while being read are skipped; fields a
/// process does not let us read (kernel threads have no exe) are left empty.
pub fn proc_snapshot() -> ProcSnapshot {
    let taken = clock_sample();
    let tps = procfs::ticks_per_second().max(1);
    let mut processes = Vec::new();
    let mut argv_cut = Vec::new();
    if let Ok(all) = procfs::process::all_processes() {
        for process in all.flatten() {
            let Ok(stat) = process.stat() else { continue };
            let (argv, cut) = cmdline(stat.pid);
            if cut {
                argv_cut.push(stat.pid as u32);
            }
            let (uid, gid) = match process.status() {
                Ok(status) => (status.ruid, status.rgid),
                Err(_) => (0, 0),
            };
            let path = |r: procfs::ProcResult<std::path::PathBuf>| r.ok().map(|p| bytes::path(&p));
            processes.push(ProcEntry {
                pid: stat.pid as u32,
                ppid: stat.ppid as u32,
                uid,
                gid,
                comm: comm(stat.pid, &stat.comm),
                exe: path(process.exe()),
                argv,
                cwd: path(process.cwd()),
                start_boot_ns: stat.starttime.saturating_mul(1_000_000_000) / tps,
            });
        }
    }
    processes.sort_by_key(|p| p.pid);
    argv_cut.sort_unstable();
    ProcSnapshot {
        taken,
        processes,
        argv_cut,
    }
}

/// The open file descriptors of every process, as /proc/PID/fd names them.
pub fn fd_table() -> FdTable {
    use procfs::process::FDTarget;
    let mut processes = Vec::new();
    if let Ok(all) = procfs::process::all_processes() {
        for process in all.flatten() {
            let Ok(fds) = process.fd() else { continue };
            let mut list: Vec<(i32, String)> = fds
                .flatten()
                .map(|fd| {
                    let target = match fd.target {
                        // procfs's path has lost the bytes that are not UTF-8: the link
                        // again, read as bytes.
                        FDTarget::Path(p) => {
                            std::fs::read_link(format!("/proc/{}/fd/{}", process.pid, fd.fd))
                                .map_or_else(|_| bytes::path(&p), |l| bytes::path(&l))
                        }
                        FDTarget::Socket(ino) => format!("socket:[{ino}]"),
                        FDTarget::Net(ino) => format!("net:[{ino}]"),
                        FDTarget::Pipe(ino) => format!("pipe:[{ino}]"),
                        FDTarget::AnonInode(what) => format!("anon_inode:{what}"),
                        FDTarget::MemFD(name) => format!("/memfd:{name}"),
                        FDTarget::Other(kind, ino) => format!("{kind}:[{ino}]"),
                        FDTarget::Unknown(kind, data) => format!("{kind}:{data}"),
                    };
                    (fd.fd, target)
                })
                .collect();
            list.sort();
            processes.push(ProcFds {
                pid: process.pid as u32,
                fds: list,
            });
        }
    }
    processes.sort_by_key(|p| p.pid);
    FdTable { processes }
}

/// The kernel's HZ, from its build configuration (`CONFIG_HZ=250`): /boot/config-RELEASE,
/// else /proc/config.gz (kernels built with IKCONFIG_PROC); `None` if neither is there.
pub fn kernel_hz() -> Option<u32> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    let config = std::fs::read_to_string(format!("/boot/config-{}", release.trim()))
        .ok()
        .or_else(|| {
            let gz = std::fs::File::open("/proc/config.gz").ok()?;
            let mut text = String::new();
            // The configuration is a few hundred KiB; stop well past that.
            let limit = 16 << 20;
            std::io::Read::read_to_string(
                &mut std::io::Read::take(flate2::read::GzDecoder::new(gz), limit),
                &mut text,
            )
            .ok()?;
            Some(text)
        })?;
    config
        .lines()
        .find_map(|l| l.strip_prefix("CONFIG_HZ="))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    /// A process whose working directory, open file and arguments are not UTF-8 (and one
    /// argument empty) is in the snapshot and the fd table with their exact bytes; procfs
    /// alone gave it no arguments at all and U+FFFD in its paths.
    #[test]
    fn snapshot_strings_keep_their_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let odd = dir.path().join(std::ffi::OsStr::from_bytes(b"d\xff\xfe"));
        std::fs::create_dir(&odd).unwrap();
        let arg = std::ffi::OsStr::from_bytes(b"x\xc3(");
        let mut child = std::process::Command::new("/bin/sh")
            .current_dir(&odd)
            .args([
                std::ffi::OsStr::new("-c"),
                std::ffi::OsStr::new("exec 7>f; sleep 30; :"),
                arg,
                std::ffi::OsStr::new(""),
            ])
            .spawn()
            .unwrap();
        let pid = child.id();
        let file = odd.join("f");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !file.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let snapshot = proc_snapshot();
        let fds = fd_table();
        let _ = child.kill();
        let _ = child.wait();
        let entry = snapshot
            .processes
            .iter()
            .find(|p| p.pid == pid)
            .expect("the child is in the snapshot");
        assert_eq!(entry.cwd.as_deref(), Some(bytes::path(&odd).as_str()));
        assert_eq!(
            entry.argv,
            [
                "/bin/sh".to_owned(),
                "-c".into(),
                "exec 7>f; sleep 30; :".into(),
                bytes::text(b"x\xc3("),
                String::new()
            ]
        );
        assert_eq!(bytes::raw(&entry.argv[3]).as_ref(), b"x\xc3(");
        let open = fds
            .processes
            .iter()
            .find(|p| p.pid == pid)
            .and_then(|p| p.fds.iter().find(|(fd, _)| *fd == 7))
            .expect("fd 7 of the child");
        assert_eq!(open.1, bytes::path(&file));
        assert_eq!(bytes::raw(&open.1).as_ref(), file.as_os_str().as_bytes());
    }
    /// A process with a command line longer than an exec record's argument area is in the
    /// snapshot with its first `ARGV_MAX - 1` bytes and its pid in `argv_cut`; a short one
    /// is whole and not listed.
    #[test]
    fn a_long_command_line_is_cut_and_said_to_be() {
        let long = "a".repeat(3 * ARGV_MAX);
        let mut child = std::process::Command::new("/bin/sh")
            .args(["-c", "sleep 30; :", "x", &long])
            .spawn()
            .unwrap();
        let pid = child.id();
        let mut short = std::process::Command::new("/bin/sleep")
            .arg("30")
            .spawn()
            .unwrap();
        // Both have exec'd: spawn returns once execve succeeded.
        let snapshot = proc_snapshot();
        let _ = child.kill();
        let _ = short.kill();
        let _ = (child.wait(), short.wait());
        let entry = snapshot.processes.iter().find(|p| p.pid == pid).unwrap();
        assert_eq!(entry.argv[..4], ["/bin/sh", "-c", "sleep 30; :", "x"]);
        let bytes: usize = entry.argv.iter().map(|a| a.len() + 1).sum();
        assert_eq!(
            bytes - 1,
            ARGV_MAX - 1,
            "NUL-separated, cut at ARGV_MAX - 1"
        );
        assert!(snapshot.argv_cut.contains(&pid));
        assert!(!snapshot.argv_cut.contains(&short.id()));
        assert!(snapshot.argv_cut.windows(2).all(|w| w[0] < w[1]));
    }
}
