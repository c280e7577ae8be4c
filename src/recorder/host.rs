//! Host context captured at record time: what replay, on another machine, cannot
//! recompute. Read from /proc with the procfs crate and from libc.

use std::ffi::CStr;

use crate::abi::ABI_VERSION;
use crate::meta::{
    ClockSample, FdTable, HostInfo, ProcEntry, ProcFds, ProcSnapshot, RecordSettings,
};

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

/// The processes alive now. Processes that vanish while being read are skipped; fields a
/// process does not let us read (kernel threads have no exe) are left empty.
pub fn proc_snapshot() -> ProcSnapshot {
    let taken = clock_sample();
    let tps = procfs::ticks_per_second().max(1);
    let mut processes = Vec::new();
    if let Ok(all) = procfs::process::all_processes() {
        for process in all.flatten() {
            let Ok(stat) = process.stat() else { continue };
            let (uid, gid) = match process.status() {
                Ok(status) => (status.ruid, status.rgid),
                Err(_) => (0, 0),
            };
            let path = |r: procfs::ProcResult<std::path::PathBuf>| {
                r.ok().map(|p| p.to_string_lossy().into_owned())
            };
            processes.push(ProcEntry {
                pid: stat.pid as u32,
                ppid: stat.ppid as u32,
                uid,
                gid,
                comm: stat.comm.clone(),
                exe: path(process.exe()),
                argv: process.cmdline().unwrap_or_default(),
                cwd: path(process.cwd()),
                start_boot_ns: stat.starttime.saturating_mul(1_000_000_000) / tps,
            });
        }
    }
    processes.sort_by_key(|p| p.pid);
    ProcSnapshot { taken, processes }
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
                        FDTarget::Path(p) => p.to_string_lossy().into_owned(),
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
