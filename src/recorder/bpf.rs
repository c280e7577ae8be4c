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
    /// `-e packets`: count each socket's packets in the kernel (`REC_SOCK_COUNTERS`).
    pub packets: bool,
}

/// Whether the programs keep per-thread state in task storage (`BPF_MAP_TYPE_TASK_STORAGE`,
/// kernel 5.11+) rather than in hashes by tid: where the kernel has it, unless the
/// environment says `KELLECT_TASK_STORAGE=0` (how the tests take the path of older
/// kernels).
pub fn uses_task_storage() -> bool {
    std::env::var_os("KELLECT_TASK_STORAGE").is_none_or(|v| v != "0")
        && libbpf_rs::MapType::TaskStorage
            .is_supported()
            .unwrap_or(false)
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
        rodata.pkt_counting = cfg.packets as u8;
        rodata.unix_syslog = cfg
            .protocols
            .iter()
            .any(|&(p, port)| p == AppProtocol::Syslog && port == AppPort::Unix)
            as u8;
        open.maps
            .events
            .set_max_entries(cfg.ring_size)
            .context("sizing the ring buffer")?;
        // Per-thread state (a syscall between entry and exit, the task's last facts of
        // compact syscall records): in task storage where the kernel has it (5.11+), else in
        // hashes by tid; the maps of the other are not created.
        let in_task = uses_task_storage();
        open.maps
            .rodata_data
            .as_deref_mut()
            .context("the BPF object has no read-only data section")?
            .task_storage = in_task as u8;
        for (map, by_task) in [
            (&mut open.maps.facts_task, true),
            (&mut open.maps.pending_task, true),
            (&mut open.maps.facts_by_tid, false),
            (&mut open.maps.pending, false),
        ] {
            map.set_autocreate(by_task == in_task)
                .context("choosing where per-thread state lives")?;
        }
        if !uring_tracepoints_match() {
            // Loading them would fail (or read the wrong arguments) and take every other
            // program down with them: io_uring's requests go unrecorded, and the user is told.
            open.progs.on_uring_submit.set_autoload(false);
            open.progs.on_uring_complete.set_autoload(false);
            eprintln!(
                "kellect: warning: this kernel's io_uring tracepoints are not the ones the \
                 recorder reads (io_uring_submit_req(req), io_uring_complete(ctx, req, cqe)): \
                 io_uring requests are not recorded (io_uring_setup, io_uring_enter and \
                 io_uring_register still are)"
            );
        }
        // The per-packet programs: not attached without -e packets (nothing to count), nor
        // kfree_skb on a kernel whose tracepoint lacks the receiving socket (before 6.12).
        let packets = cfg.packets;
        let drop_sk = packets && tracepoint_params("kfree_skb") == Some(5);
        open.progs.on_pkt_tx.set_autoload(packets);
        open.progs.on_pkt_rx.set_autoload(packets);
        open.progs.on_pkt_rcvqueue_full.set_autoload(packets);
        open.progs.on_pkt_drop.set_autoload(drop_sk);
        open.progs.pkt_flush.set_autoload(packets);
        if packets && !drop_sk {
            eprintln!(
                "kellect: warning: this kernel's skb:kfree_skb tracepoint does not name the \
                 receiving socket: socket drops are counted (sk_drops) without their reasons"
            );
        }
        let mut skel = open.load().context(
            "loading the BPF programs into the kernel (the verifier log above says why)",
        )?;
        fill_syscall_table(&skel)?;
        fill_ports(&skel, &cfg.protocols)?;
        skel.attach()
            .context("attaching the BPF programs to their tracepoints")?;
        Ok(Probes { skel })
    }

    /// With `-e packets`: writes every counted socket's packet counters into the ring
    /// buffer (`REC_SOCK_COUNTERS`, reason periodic), and the last ones of sockets found
    /// closed, whose entries are freed: runs the never-attached `pkt_flush` program once
    /// (`BPF_PROG_TEST_RUN`). Called before each statistics block and at the end. Errors:
    /// the kernel refused the run.
    pub fn flush_sock_counters(&self) -> Result<()> {
        if self.skel.maps.rodata_data.as_ref().map(|r| r.pkt_counting) != Some(1) {
            return Ok(());
        }
        let input = libbpf_rs::ProgramInput::default();
        self.skel
            .progs
            .pkt_flush
            .test_run(input)
            .context("writing the sockets' packet counters")?;
        Ok(())
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

/// Whether the kernel's io_uring tracepoints take the arguments the io_uring programs read:
/// `io_uring_submit_req(struct io_kiocb *req)` and `io_uring_complete(ctx, req, struct
/// io_uring_cqe *cqe)`, as 6.18 has them (older kernels name or shape them otherwise). Read
/// from the kernel's BTF: the `btf_trace_NAME` typedef is a pointer to a function prototype
/// whose first parameter is the tracepoint's context, then the tracepoint's arguments.
/// `false` when the BTF cannot be read or either prototype differs.
pub fn uring_tracepoints_match() -> bool {
    tracepoint_params("io_uring_submit_req") == Some(2)
        && tracepoint_params("io_uring_complete") == Some(4)
}

/// The number of parameters of the running kernel's `btf_trace_NAME` prototype (the
/// tracepoint's arguments plus its context), from its BTF; `None` when the BTF cannot be
/// read or has no such tracepoint.
fn tracepoint_params(name: &str) -> Option<usize> {
    use libbpf_rs::btf::types::FuncProto;
    use libbpf_rs::btf::{Btf, BtfType};
    let btf = Btf::from_vmlinux().ok()?;
    let typedef: BtfType<'_> = btf.type_by_name(&format!("btf_trace_{name}"))?;
    let ptr = typedef.skip_mods_and_typedefs();
    let proto = ptr.next_type()?.skip_mods_and_typedefs();
    FuncProto::try_from(proto).ok().map(|p| p.len())
}

/// The running kernel's `enum skb_drop_reason`: (value, name without `SKB_DROP_REASON_`),
/// for the drop reasons of socket counters (`Capture::drop_reasons`). Empty when the BTF
/// cannot be read or has no such enum.
pub fn drop_reason_names() -> Vec<(u32, String)> {
    use libbpf_rs::btf::types::Enum;
    use libbpf_rs::btf::{Btf, BtfType};
    let Ok(btf) = Btf::from_vmlinux() else {
        return Vec::new();
    };
    let Some(ty) = btf.type_by_name::<BtfType<'_>>("skb_drop_reason") else {
        return Vec::new();
    };
    let Ok(e) = Enum::try_from(ty) else {
        return Vec::new();
    };
    e.iter()
        .filter_map(|m| {
            let name = m.name?.to_str()?;
            let name = name.strip_prefix("SKB_DROP_REASON_").unwrap_or(name);
            Some((m.value as u32, name.to_owned()))
        })
        .collect()
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
            AppProtocol::Dns => crate::syscalls::APP_DNS,
            AppProtocol::Http => crate::syscalls::APP_HTTP,
            AppProtocol::Syslog => crate::syscalls::APP_SYSLOG,
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

    /// The io_uring programs load on this kernel (6.18: the prototypes they were written
    /// for), so the uring tests record requests; an older kernel's prototypes are told
    /// apart by the same check.
    #[test]
    fn this_kernels_uring_tracepoints_match_the_programs() {
        assert!(super::uring_tracepoints_match());
    }
    use crate::abi::{
        CgroupRecord, ExecRecord, ExitRecord, ForkRecord, InodeAttrs, KindStats, MmsgPart,
        RecordHeader, SockInfo, SockStateRecord, SyscallRecord, TaskContext, TcpCounters,
        UringRecord,
    };
    use crate::abi::{DropCount, PktCounters, SockCountersRecord};
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
            [
                hdr,
                old_pid,
                argc,
                filename_len,
                args_len,
                exe_len,
                exe_flags
            ]
        );
        same!(ExitRecord, types::rec_exit, [hdr, exit_code, exit_flags]);
        same!(
            TaskContext,
            types::kl_task,
            [cgroup_id, pid_ns, mnt_ns, net_ns, _pad]
        );
        same!(
            CgroupRecord,
            types::rec_cgroup,
            [hdr, cgroup_id, pid, hierarchy, op, level, path_len, cg_flags, _pad]
        );
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
            UringRecord,
            types::rec_uring,
            [sc, user_data, sqe_fd, opcode, uring_flags, _pad]
        );
        same!(MmsgPart, types::kl_mmsg_part, [msg_len, data_len, addr_len]);
        same!(
            crate::abi::CompactSyscall,
            types::rec_syscall_c,
            [kind, flags, len, ts, pid, tid, cpu, syscall, sc_flags, parts, arg_forms]
        );
        same!(crate::abi::Facts, types::kl_facts, [ppid, uid, gid, comm]);
        same!(crate::abi::InodeRef, types::kl_inode_ref, [ino, dev, fmode]);
        assert_eq!(
            crate::abi::RecordKind::SyscallCompact.raw() as u32,
            types::rec_kind::REC_SYSCALL_C.0
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
        same!(DropCount, types::kl_drop_count, [reason, count]);
        same!(
            PktCounters,
            types::kl_pkt_counters,
            [
                tx_flags,
                rx_flags,
                drops,
                tx_packets,
                rx_packets,
                drops_other,
                rcvqueue_full,
                rx_frags,
                rx_drops,
                rx_ooo,
                tx_dups,
                rx_queued,
                rx_ttl,
                _pad
            ]
        );
        same!(
            SockCountersRecord,
            types::rec_sock_counters,
            [hdr, sock, reason, _pad, pkt]
        );
        assert_eq!(
            crate::abi::RecordKind::SockCounters.raw() as u32,
            types::rec_kind::REC_SOCK_COUNTERS.0
        );
        same!(
            crate::syscalls::ScDesc,
            types::sc_desc,
            [
                ksys,
                group,
                flags,
                path0,
                path1,
                fd_arg,
                addr_kind,
                addr_arg,
                addr_len_arg,
                out_kind,
                out_arg,
                payload_kind,
                payload_arg,
                nargs,
                _pad
            ]
        );
    }

    /// The Rust mirrors of the enums of records.h carry the values the BPF program was
    /// compiled with (the skeleton's types, from its BTF).
    #[test]
    fn enums_match_the_skeleton() {
        use crate::syscalls::{self as sc, Group, Ksys};
        let ksys: &[(u32, Ksys)] = &[
            (types::ksys::KS_OPEN.0, Ksys::Open),
            (types::ksys::KS_OPENAT.0, Ksys::Openat),
            (types::ksys::KS_OPENAT2.0, Ksys::Openat2),
            (types::ksys::KS_CREAT.0, Ksys::Creat),
            (types::ksys::KS_UNLINK.0, Ksys::Unlink),
            (types::ksys::KS_UNLINKAT.0, Ksys::Unlinkat),
            (types::ksys::KS_RENAME.0, Ksys::Rename),
            (types::ksys::KS_RENAMEAT.0, Ksys::Renameat),
            (types::ksys::KS_RENAMEAT2.0, Ksys::Renameat2),
            (types::ksys::KS_CHMOD.0, Ksys::Chmod),
            (types::ksys::KS_FCHMOD.0, Ksys::Fchmod),
            (types::ksys::KS_FCHMODAT.0, Ksys::Fchmodat),
            (types::ksys::KS_FCHMODAT2.0, Ksys::Fchmodat2),
            (types::ksys::KS_STAT.0, Ksys::Stat),
            (types::ksys::KS_LSTAT.0, Ksys::Lstat),
            (types::ksys::KS_FSTAT.0, Ksys::Fstat),
            (types::ksys::KS_NEWFSTATAT.0, Ksys::Newfstatat),
            (types::ksys::KS_STATX.0, Ksys::Statx),
            (types::ksys::KS_CHDIR.0, Ksys::Chdir),
            (types::ksys::KS_FCHDIR.0, Ksys::Fchdir),
            (types::ksys::KS_MKDIR.0, Ksys::Mkdir),
            (types::ksys::KS_MKDIRAT.0, Ksys::Mkdirat),
            (types::ksys::KS_RMDIR.0, Ksys::Rmdir),
            (types::ksys::KS_READ.0, Ksys::Read),
            (types::ksys::KS_PREAD64.0, Ksys::Pread64),
            (types::ksys::KS_READV.0, Ksys::Readv),
            (types::ksys::KS_PREADV.0, Ksys::Preadv),
            (types::ksys::KS_PREADV2.0, Ksys::Preadv2),
            (types::ksys::KS_WRITE.0, Ksys::Write),
            (types::ksys::KS_PWRITE64.0, Ksys::Pwrite64),
            (types::ksys::KS_WRITEV.0, Ksys::Writev),
            (types::ksys::KS_PWRITEV.0, Ksys::Pwritev),
            (types::ksys::KS_PWRITEV2.0, Ksys::Pwritev2),
            (types::ksys::KS_DUP.0, Ksys::Dup),
            (types::ksys::KS_DUP2.0, Ksys::Dup2),
            (types::ksys::KS_DUP3.0, Ksys::Dup3),
            (types::ksys::KS_FCNTL.0, Ksys::Fcntl),
            (types::ksys::KS_CLOSE.0, Ksys::Close),
            (types::ksys::KS_TRUNCATE.0, Ksys::Truncate),
            (types::ksys::KS_FTRUNCATE.0, Ksys::Ftruncate),
            (types::ksys::KS_LINK.0, Ksys::Link),
            (types::ksys::KS_LINKAT.0, Ksys::Linkat),
            (types::ksys::KS_SYMLINK.0, Ksys::Symlink),
            (types::ksys::KS_SYMLINKAT.0, Ksys::Symlinkat),
            (types::ksys::KS_FORK.0, Ksys::Fork),
            (types::ksys::KS_VFORK.0, Ksys::Vfork),
            (types::ksys::KS_CLONE.0, Ksys::Clone),
            (types::ksys::KS_CLONE3.0, Ksys::Clone3),
            (types::ksys::KS_EXECVE.0, Ksys::Execve),
            (types::ksys::KS_EXECVEAT.0, Ksys::Execveat),
            (types::ksys::KS_EXIT.0, Ksys::Exit),
            (types::ksys::KS_EXIT_GROUP.0, Ksys::ExitGroup),
            (types::ksys::KS_PIPE.0, Ksys::Pipe),
            (types::ksys::KS_PIPE2.0, Ksys::Pipe2),
            (types::ksys::KS_KILL.0, Ksys::Kill),
            (types::ksys::KS_TKILL.0, Ksys::Tkill),
            (types::ksys::KS_TGKILL.0, Ksys::Tgkill),
            (types::ksys::KS_PTRACE.0, Ksys::Ptrace),
            (types::ksys::KS_MMAP.0, Ksys::Mmap),
            (types::ksys::KS_MPROTECT.0, Ksys::Mprotect),
            (types::ksys::KS_CONNECT.0, Ksys::Connect),
            (types::ksys::KS_SENDTO.0, Ksys::Sendto),
            (types::ksys::KS_SENDMSG.0, Ksys::Sendmsg),
            (types::ksys::KS_SENDMMSG.0, Ksys::Sendmmsg),
            (types::ksys::KS_RECVFROM.0, Ksys::Recvfrom),
            (types::ksys::KS_RECVMSG.0, Ksys::Recvmsg),
            (types::ksys::KS_RECVMMSG.0, Ksys::Recvmmsg),
            (types::ksys::KS_ACCEPT.0, Ksys::Accept),
            (types::ksys::KS_ACCEPT4.0, Ksys::Accept4),
            (types::ksys::KS_BIND.0, Ksys::Bind),
            (types::ksys::KS_GETPEERNAME.0, Ksys::Getpeername),
            (types::ksys::KS_SOCKETPAIR.0, Ksys::Socketpair),
            (types::ksys::KS_SOCKET.0, Ksys::Socket),
            (types::ksys::KS_SETUID.0, Ksys::Setuid),
            (types::ksys::KS_SETREUID.0, Ksys::Setreuid),
            (types::ksys::KS_SETRESUID.0, Ksys::Setresuid),
            (types::ksys::KS_SETGID.0, Ksys::Setgid),
            (types::ksys::KS_SETREGID.0, Ksys::Setregid),
            (types::ksys::KS_SETRESGID.0, Ksys::Setresgid),
            (types::ksys::KS_CHOWN.0, Ksys::Chown),
            (types::ksys::KS_FCHOWN.0, Ksys::Fchown),
            (types::ksys::KS_LCHOWN.0, Ksys::Lchown),
            (types::ksys::KS_FCHOWNAT.0, Ksys::Fchownat),
            (types::ksys::KS_UTIMENSAT.0, Ksys::Utimensat),
            (types::ksys::KS_UTIMES.0, Ksys::Utimes),
            (types::ksys::KS_FUTIMESAT.0, Ksys::Futimesat),
            (types::ksys::KS_UTIME.0, Ksys::Utime),
            (types::ksys::KS_SETXATTR.0, Ksys::Setxattr),
            (types::ksys::KS_LSETXATTR.0, Ksys::Lsetxattr),
            (types::ksys::KS_FSETXATTR.0, Ksys::Fsetxattr),
            (types::ksys::KS_SETXATTRAT.0, Ksys::Setxattrat),
            (types::ksys::KS_REMOVEXATTR.0, Ksys::Removexattr),
            (types::ksys::KS_LREMOVEXATTR.0, Ksys::Lremovexattr),
            (types::ksys::KS_FREMOVEXATTR.0, Ksys::Fremovexattr),
            (types::ksys::KS_REMOVEXATTRAT.0, Ksys::Removexattrat),
            (types::ksys::KS_COPY_FILE_RANGE.0, Ksys::CopyFileRange),
            (types::ksys::KS_SENDFILE.0, Ksys::Sendfile),
            (types::ksys::KS_SPLICE.0, Ksys::Splice),
            (types::ksys::KS_TEE.0, Ksys::Tee),
            (types::ksys::KS_MEMFD_CREATE.0, Ksys::MemfdCreate),
            (types::ksys::KS_IO_URING_SETUP.0, Ksys::IoUringSetup),
            (types::ksys::KS_IO_URING_ENTER.0, Ksys::IoUringEnter),
            (types::ksys::KS_IO_URING_REGISTER.0, Ksys::IoUringRegister),
            (types::ksys::KS_PRCTL.0, Ksys::Prctl),
            (types::ksys::KS_INIT_MODULE.0, Ksys::InitModule),
            (types::ksys::KS_FINIT_MODULE.0, Ksys::FinitModule),
            (types::ksys::KS_DELETE_MODULE.0, Ksys::DeleteModule),
            (types::ksys::KS_BPF.0, Ksys::Bpf),
            (types::ksys::KS_UNSHARE.0, Ksys::Unshare),
            (types::ksys::KS_SETNS.0, Ksys::Setns),
            (types::ksys::KS_MOUNT.0, Ksys::Mount),
            (types::ksys::KS_UMOUNT2.0, Ksys::Umount2),
            (types::ksys::KS_FSOPEN.0, Ksys::Fsopen),
            (types::ksys::KS_FSCONFIG.0, Ksys::Fsconfig),
            (types::ksys::KS_FSMOUNT.0, Ksys::Fsmount),
            (types::ksys::KS_MOVE_MOUNT.0, Ksys::MoveMount),
            (types::ksys::KS_OPEN_TREE.0, Ksys::OpenTree),
            (types::ksys::KS_CAPSET.0, Ksys::Capset),
            (types::ksys::KS_CHROOT.0, Ksys::Chroot),
            (types::ksys::KS_PIVOT_ROOT.0, Ksys::PivotRoot),
        ];
        assert_eq!(ksys.len(), Ksys::ALL.len());
        for (theirs, ours) in ksys {
            assert_eq!(*theirs, *ours as u32, "{ours:?}");
        }
        let last = Ksys::ALL.last().map_or(0, |k| *k as u32);
        assert_eq!(types::ksys::KS_MAX.0, last + 1);
        let pairs: &[(u32, u32)] = &[
            (types::sc_group::G_FILE.0, Group::File.bit().into()),
            (types::sc_group::G_PROCESS.0, Group::Process.bit().into()),
            (types::sc_group::G_NETWORK.0, Group::Network.bit().into()),
            (
                types::sc_group::G_PERMISSION.0,
                Group::Permission.bit().into(),
            ),
            (types::sc_group::G_SYSTEM.0, Group::System.bit().into()),
            (types::sc_flag::D_RET_FD.0, sc::D_RET_FD.into()),
            (types::sc_flag::D_CONTEXT.0, sc::D_CONTEXT.into()),
            (types::sc_flag::D_FAILURE_ONLY.0, sc::D_FAILURE_ONLY.into()),
            (types::sc_flag::D_FCNTL_DUP.0, sc::D_FCNTL_DUP.into()),
            (types::sc_flag::D_UID16.0, sc::D_UID16.into()),
            (types::sc_flag::D_PGOFF.0, sc::D_PGOFF.into()),
            (types::sc_flag::D_SPLIT64_2.0, sc::D_SPLIT64_2.into()),
            (types::sc_flag::D_SPLIT64_4.0, sc::D_SPLIT64_4.into()),
            (types::sc_addr_kind::A_NONE.0, sc::A_NONE.into()),
            (types::sc_addr_kind::A_IN.0, sc::A_IN.into()),
            (types::sc_addr_kind::A_OUT.0, sc::A_OUT.into()),
            (types::sc_addr_kind::A_MSG.0, sc::A_MSG.into()),
            (types::sc_out_kind::O_NONE.0, sc::O_NONE.into()),
            (types::sc_out_kind::O_STAT.0, sc::O_STAT.into()),
            (types::sc_out_kind::O_STATX.0, sc::O_STATX.into()),
            (types::sc_out_kind::O_FDPAIR.0, sc::O_FDPAIR.into()),
            (types::sc_out_kind::O_OPENHOW.0, sc::O_OPENHOW.into()),
            (types::sc_out_kind::O_TIMESPEC2.0, sc::O_TIMESPEC2.into()),
            (types::sc_out_kind::O_TIMEVAL2.0, sc::O_TIMEVAL2.into()),
            (types::sc_out_kind::O_UTIMBUF.0, sc::O_UTIMBUF.into()),
            (types::sc_out_kind::O_XATTR_ARGS.0, sc::O_XATTR_ARGS.into()),
            (types::sc_out_kind::O_FD_INODE.0, sc::O_FD_INODE.into()),
            (types::sc_out_kind::O_STR.0, sc::O_STR.into()),
            (types::sc_out_kind::O_BPF_ATTR.0, sc::O_BPF_ATTR.into()),
            (types::sc_out_kind::O_CAPSET.0, sc::O_CAPSET.into()),
            (types::sc_payload_kind::P_NONE.0, sc::P_NONE.into()),
            (types::sc_payload_kind::P_BUF.0, sc::P_BUF.into()),
            (types::sc_payload_kind::P_IOV.0, sc::P_IOV.into()),
            (types::sc_payload_kind::P_MSG.0, sc::P_MSG.into()),
            (types::sc_payload_kind::P_MMSG.0, sc::P_MMSG.into()),
            (types::kl_app::APP_NONE.0, sc::APP_NONE.into()),
            (types::kl_app::APP_DNS.0, sc::APP_DNS.into()),
            (types::kl_app::APP_HTTP.0, sc::APP_HTTP.into()),
            (types::kl_app::APP_SYSLOG.0, sc::APP_SYSLOG.into()),
        ];
        for (i, (theirs, ours)) in pairs.iter().enumerate() {
            assert_eq!(theirs, ours, "pair {i}");
        }
    }
}
