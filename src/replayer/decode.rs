//! Stage 1 of replay: raw records out of a decompressed frame into owned, typed values
//! that the sequential state machines consume. Runs in parallel, one frame per task.

use crate::abi::{self, Record, RecordHeader, Records, EXIT_F_GROUP_DEAD, EXIT_F_GROUP_EXIT};

/// Fields every record has (the decoded `rec_hdr`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Common {
    /// CLOCK_BOOTTIME ns.
    pub ts: u64,
    pub pid: u32,
    pub tid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub gid: u32,
    pub cpu: u16,
    /// kellect syscall id, 0 when none or unknown.
    pub syscall: u16,
    pub comm: String,
}

impl Common {
    fn from_header(h: &RecordHeader) -> Self {
        Common {
            ts: h.ts.get(),
            pid: h.pid.get(),
            tid: h.tid.get(),
            ppid: h.ppid.get(),
            uid: h.uid.get(),
            gid: h.gid.get(),
            cpu: h.cpu.get(),
            syscall: h.syscall.get(),
            comm: abi::c_str(&h.comm),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Fork {
        child_pid: u32,
        child_tid: u32,
        clone_flags: u64,
        child_comm: String,
    },
    Exec {
        old_pid: u32,
        argc: u32,
        filename: String,
        filename_truncated: bool,
        /// The arguments captured (the argv area may hold more than are shown).
        argv: Vec<String>,
        argv_truncated: bool,
    },
    Exit {
        /// The wait status: `(status << 8) | termsig | 0x80 if core dumped`.
        code: u32,
        /// The last thread of the process ended.
        group_dead: bool,
        group_exit: bool,
    },
    /// A record kind this build does not know.
    Unknown { kind: u16 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub common: Common,
    pub body: Body,
}

/// The most arguments an exec event shows.
pub const ARGV_SHOWN: usize = 16;

/// Bytes from the kernel as text; invalid UTF-8 becomes U+FFFD.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Decodes every record of a frame. A malformed record ends the frame (nothing after it
/// can be located); what came before it is kept and the error is returned beside it.
pub fn decode_frame(raw: &[u8]) -> (Vec<Event>, Option<abi::AbiError>) {
    let mut out = Vec::new();
    for record in Records::new(raw) {
        match record {
            Ok(record) => out.push(decode_record(&record)),
            Err(e) => return (out, Some(e)),
        }
    }
    (out, None)
}

fn decode_record(record: &Record<'_>) -> Event {
    let common = Common::from_header(record.header());
    let body = match record {
        Record::Fork(r) => Body::Fork {
            child_pid: r.child_pid.get(),
            child_tid: r.child_tid.get(),
            clone_flags: r.clone_flags.get(),
            child_comm: abi::c_str(&r.child_comm),
        },
        Record::Exec {
            rec,
            filename,
            args,
        } => {
            let flags = rec.hdr.flags.get();
            let argc = rec.argc.get();
            let mut parts: Vec<&[u8]> = args.split(|&b| b == 0).collect();
            // The area ends with a NUL; a cut area ends mid-argument.
            if parts.last().is_some_and(|p| p.is_empty()) {
                parts.pop();
            }
            let shown = parts.len().min(ARGV_SHOWN);
            Body::Exec {
                old_pid: rec.old_pid.get(),
                argc,
                filename: text(filename),
                filename_truncated: flags & abi::REC_F_TRUNC0 != 0,
                argv: parts[..shown].iter().map(|p| text(p)).collect(),
                argv_truncated: flags & abi::REC_F_TRUNC1 != 0 || (shown as u64) < argc as u64,
            }
        }
        Record::Exit(r) => {
            let flags = r.exit_flags.get();
            Body::Exit {
                code: r.exit_code.get(),
                group_dead: flags & EXIT_F_GROUP_DEAD != 0,
                group_exit: flags & EXIT_F_GROUP_EXIT != 0,
            }
        }
        Record::Unknown { hdr } => Body::Unknown {
            kind: hdr.kind.get(),
        },
    };
    Event { common, body }
}
