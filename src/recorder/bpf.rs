//! Loading and attaching the BPF programs (the libbpf-cargo skeleton of bpf/kellect.bpf.c).

use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd};

use anyhow::{Context, Result};
use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{MapCore, MapFlags, OpenObject};

use crate::abi::{KindStats, KIND_MAX};
use crate::meta::{AppPort, AppProtocol, KindCounters};
use zerocopy::FromBytes;

#[allow(clippy::all, unsafe_op_in_unsafe_fn)]
mod skel {
    include!(concat!(env!("OUT_DIR"), "/kellect.skel.rs"));
}
#[cfg(test)]
use skel::types;
use skel::{KellectSkel, KellectSkelBuilder};

/// What the kernel side is told before load.
pub struct BpfConfig {
    pub self_tgid: u32,
    /// Record only the process tree of the recorder's children.
    pub target_mode: bool,
    pub ring_size: u32,
    /// Event groups whose syscalls are recorded (`G_*` bits).
    pub group_mask: u8,
    /// Payload capture: bytes per message (0: off) and where.
    pub payload_max: u32,
    pub protocols: Vec<(AppProtocol, AppPort)>,
    /// Scrambles socket addresses into socket ids.
    pub sk_key: u64,
}

pub struct Probes<'obj> {
    skel: KellectSkel<'obj>,
}

impl<'obj> Probes<'obj> {
    pub fn load(storage: &'obj mut MaybeUninit<OpenObject>, cfg: &BpfConfig) -> Result<Self> {
        let mut open = KellectSkelBuilder::default()
            .open(storage)
            .context("opening the BPF object")?;
        let rodata = open
            .maps
            .rodata_data
            .as_deref_mut()
            .context("the BPF object has no read-only data section")?;
        rodata.self_tgid = cfg.self_tgid;
        rodata.target_mode = cfg.target_mode as u8;
        rodata.group_mask = cfg.group_mask;
        rodata.payload_max = cfg.payload_max;
        // Wake the reader when a sixteenth of the ring is waiting (at most 4 MiB).
        rodata.wakeup_bytes = (cfg.ring_size as u64 / 16).clamp(4096, 4 << 20);
        rodata.sk_key = cfg.sk_key;
        rodata.unix_syslog = cfg
            .protocols
            .iter()
            .any(|&(p, port)| p == AppProtocol::Syslog && port == AppPort::Unix)
            as u8;
        open.maps
            .events
            .set_max_entries(cfg.ring_size)
            .context("sizing the ring buffer")?;
        let mut skel = open.load().context(
            "loading the BPF programs into the kernel (the verifier log above says why)",
        )?;
        fill_syscall_table(&skel)?;
        fill_ports(&skel, &cfg.protocols)?;
        skel.attach()
            .context("attaching the BPF programs to their tracepoints")?;
        Ok(Probes { skel })
    }

    pub fn events_map(&self) -> &dyn MapCore {
        &self.skel.maps.events
    }

    /// Stops emission: after this returns, no BPF program reserves, submits or counts a
    /// record any more, so what is in the ring buffer and the counters are final.
    ///
    /// Two steps: the `stopping` flag in the programs' .bss (checked before every
    /// `bpf_ringbuf_reserve`) is set through the skeleton's memory map, then an update of
    /// the `stop_barrier` map-of-maps makes the kernel wait for an RCU grace period, which
    /// every program that was already past the check (they run under `rcu_read_lock` with
    /// preemption off) ends before. Errors: the .bss is not mapped, or the update fails; the
    /// flag is set in any case where it could be.
    pub fn stop(&mut self) -> Result<()> {
        let bss = self
            .skel
            .maps
            .bss_data
            .as_deref_mut()
            .context("the BPF object has no writable data section")?;
        // SAFETY: `stopping` lives in the .bss map that libbpf mapped into this process for
        // the skeleton's lifetime; a volatile store makes it a real write to shared memory.
        unsafe { std::ptr::write_volatile(&mut bss.stopping, 1) };
        let inner = self.skel.maps.stop_barrier_inner.as_fd().as_raw_fd() as u32;
        self.skel
            .maps
            .stop_barrier
            .update(&0u32.to_ne_bytes(), &inner.to_ne_bytes(), MapFlags::ANY)
            .context("waiting for running BPF programs to finish")
    }

    /// The kernel's counters, per CPU and per record kind (non-zero ones only).
    pub fn counters(&self) -> Result<Vec<KindCounters>> {
        let mut out = Vec::new();
        for kind in 0..KIND_MAX as u32 {
            let per_cpu = self
                .skel
                .maps
                .stats
                .lookup_percpu(&kind.to_ne_bytes(), MapFlags::ANY)
                .context("reading the kernel's event counters")?
                .unwrap_or_default();
            for (cpu, value) in per_cpu.iter().enumerate() {
                let Ok((stats, _)) = KindStats::read_from_prefix(value) else {
                    continue;
                };
                let (emitted, dropped) = (stats.emitted.get(), stats.dropped.get());
                if emitted != 0 || dropped != 0 {
                    out.push(KindCounters {
                        cpu: cpu as u32,
                        kind: kind as u16,
                        emitted,
                        dropped,
                    });
                }
            }
        }
        Ok(out)
    }
}

/// Tells the kernel side how to capture each native syscall of this architecture.
fn fill_syscall_table(skel: &KellectSkel) -> Result<()> {
    for s in crate::syscalls::SYSCALLS {
        let native = if cfg!(target_arch = "aarch64") {
            s.aarch64
        } else {
            s.x86_64
        };
        let Some(nr) = native else { continue };
        skel.maps
            .syscalls
            .update(
                &nr.to_ne_bytes(),
                &crate::syscalls::desc_bytes(s),
                MapFlags::ANY,
            )
            .with_context(|| format!("configuring syscall {}", s.name))?;
    }
    // 32-bit syscalls of x86_64 tasks, by i386 number. (arm64's BPF side drops AArch32
    // syscalls: there is no table for them.)
    if cfg!(target_arch = "x86_64") {
        for c in crate::syscalls::I386 {
            let Some(desc) = crate::syscalls::compat_desc_bytes(c) else {
                continue;
            };
            let key = crate::syscalls::COMPAT_BASE + c.nr;
            skel.maps
                .syscalls
                .update(&key.to_ne_bytes(), &desc, MapFlags::ANY)
                .with_context(|| format!("configuring i386 syscall {}", c.nr))?;
        }
        for &(call, id) in crate::syscalls::SOCKETCALL {
            let Some(desc) = crate::syscalls::socketcall_desc_bytes(id) else {
                continue;
            };
            let key = crate::syscalls::COMPAT_BASE + crate::syscalls::SOCKETCALL_BASE + call;
            skel.maps
                .syscalls
                .update(&key.to_ne_bytes(), &desc, MapFlags::ANY)
                .with_context(|| format!("configuring i386 socketcall {call}"))?;
        }
    }
    Ok(())
}

/// Tells the kernel side whose payloads to capture: key `(IPPROTO << 16) | port`.
fn fill_ports(skel: &KellectSkel, protocols: &[(AppProtocol, AppPort)]) -> Result<()> {
    for &(proto, port) in protocols {
        let app: u8 = match proto {
            AppProtocol::Dns => 1,
            AppProtocol::Http => 2,
            AppProtocol::Syslog => 3,
        };
        let key: u32 = match port {
            AppPort::Tcp(n) => (6 << 16) | n as u32,
            AppPort::Udp(n) => (17 << 16) | n as u32,
            AppPort::Unix => continue,
        };
        skel.maps
            .ports
            .update(&key.to_ne_bytes(), &[app], MapFlags::ANY)
            .context("configuring payload capture ports")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::types;
    use crate::abi::{
        ExecRecord, ExitRecord, ForkRecord, InodeAttrs, KindStats, RecordHeader, SockInfo,
        SockStateRecord, SyscallRecord, TcpCounters,
    };
    use std::mem::{offset_of, size_of};

    /// The Rust mirrors in src/abi.rs must match the layouts the BPF compiler produced.
    #[test]
    fn mirrors_match_the_skeleton() {
        macro_rules! same {
            ($ours:ty, $theirs:ty, [$($field:ident),*]) => {
                assert_eq!(size_of::<$ours>(), size_of::<$theirs>(), stringify!($ours));
                $(assert_eq!(
                    offset_of!($ours, $field),
                    offset_of!($theirs, $field),
                    concat!(stringify!($ours), ".", stringify!($field))
                );)*
            };
        }
        same!(
            RecordHeader,
            types::rec_hdr,
            [kind, flags, len, ts, pid, tid, ppid, uid, gid, cpu, syscall, comm]
        );
        same!(
            ForkRecord,
            types::rec_fork,
            [hdr, child_pid, child_tid, clone_flags, child_comm]
        );
        same!(
            ExecRecord,
            types::rec_exec,
            [hdr, old_pid, argc, filename_len, args_len, _pad]
        );
        same!(ExitRecord, types::rec_exit, [hdr, exit_code, exit_flags]);
        same!(KindStats, types::kind_stats, [emitted, dropped]);
        same!(
            SyscallRecord,
            types::rec_syscall,
            [
                hdr, enter_ts, ret, args, path0_len, path1_len, addr_len, out_len, data_len,
                sc_flags, aux
            ]
        );
        same!(
            InodeAttrs,
            types::kl_inode,
            [ino, size, dev, mode, uid, gid, nlink, fmode, atime_ns, mtime_ns, ctime_ns]
        );
        same!(
            SockInfo,
            types::kl_sock,
            [sk_id, family, protocol, state, app, lport, rport, _pad, ifindex, laddr, raddr]
        );
        assert_eq!(
            offset_of!(SockInfo, sock_type),
            offset_of!(types::kl_sock, r#type)
        );
        same!(
            TcpCounters,
            types::kl_tcp,
            [
                bytes_received,
                bytes_acked,
                bytes_sent,
                bytes_retrans,
                segs_in,
                segs_out,
                data_segs_in,
                data_segs_out,
                total_retrans,
                srtt_us,
                rto_jiffies,
                _pad
            ]
        );
        same!(
            SockStateRecord,
            types::rec_sock_state,
            [hdr, sock, event, oldstate, newstate, _pad, tcp]
        );
        assert_eq!(size_of::<types::sc_desc>(), 16);
    }
}
