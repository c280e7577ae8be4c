//! Chain-of-custody facts, taken once when a recording starts (`meta::Custody`): which
//! binary recorded, on which host and boot, with which command line and note.

use std::io::Read;

use sha2::{Digest, Sha256};

use crate::meta::{Custody, HostInfo, SealParams};

/// The custody facts of a recording that starts now on the host `host` describes.
/// `exe_sha256` is [`exe_sha256`]'s result (empty if it failed); `note` is the operator's
/// `--note`; `seal` the sealing key's public parameters. Facts that cannot be read (no
/// `/etc/machine-id`) are left empty rather than failing.
pub fn custody(
    host: &HostInfo,
    exe_sha256: String,
    note: Option<String>,
    seal: Option<SealParams>,
) -> Custody {
    Custody {
        exe_sha256,
        kellect_version: env!("CARGO_PKG_VERSION").to_owned(),
        build: format!(
            "git {}, {}",
            env!("KELLECT_GIT_REVISION"),
            env!("KELLECT_FEATURES")
        ),
        hostname: host.hostname.clone(),
        machine_id: std::fs::read_to_string("/etc/machine-id")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default(),
        boot_id: host.boot_id.clone(),
        kernel_release: host.release.clone(),
        // Each argument with its exact bytes (`replayer::bytes::text`).
        command_line: std::env::args_os()
            .map(|a| crate::replayer::bytes::path(std::path::Path::new(&a)))
            .collect(),
        note,
        started_realtime_ns: host.clock.realtime_ns,
        seal,
    }
}

/// SHA-256 of the running binary, 64 lowercase hex digits (read through `/proc/self/exe`,
/// which names the file this process was started from even if it was replaced since).
pub fn exe_sha256() -> std::io::Result<String> {
    let mut file = std::fs::File::open("/proc/self/exe")?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n).unwrap_or_default());
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_binary_hash_is_that_of_the_running_file() {
        let got = super::exe_sha256().unwrap();
        let bytes = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let want: String = <sha2::Sha256 as sha2::Digest>::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(got, want);
    }
}
