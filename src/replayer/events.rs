//! The events view: one JSON object per kernel event, Kellect's catalogue names, common
//! fields first in a fixed order, then the event's own fields.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use super::decode::{Body, Event};

/// An event ready to render: the decoded record and its wall-clock time.
pub struct EventView<'a> {
    /// Microseconds since the Unix epoch, from the event's own timestamp.
    pub timestamp_us: i64,
    pub event: &'a Event,
}

/// The catalogue name of an event (`None` for kinds this view does not show).
pub fn event_type(event: &Event) -> Option<&'static str> {
    Some(match &event.body {
        Body::Fork { child_pid, .. } if *child_pid == event.common.pid => "process_clone",
        Body::Fork { .. } => "process_fork",
        Body::Exec { .. } => "process_exec",
        Body::Exit { .. } => "process_exit",
        Body::Unknown { .. } => return None,
    })
}

/// Signal names (x86_64 and aarch64 share these numbers).
pub fn signal_name(sig: u32) -> Option<String> {
    const NAMES: [&str; 32] = [
        "",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    match sig {
        1..=31 => Some(NAMES[sig as usize].to_owned()),
        32..=64 => Some(format!("SIGRTMIN+{}", sig - 32)),
        _ => None,
    }
}

impl Serialize for EventView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let e = self.event;
        let c = &e.common;
        let mut m = serializer.serialize_map(None)?;
        m.serialize_entry("timestamp", &self.timestamp_us)?;
        m.serialize_entry("event_type", &event_type(e).unwrap_or("unknown"))?;
        m.serialize_entry("comm", &c.comm)?;
        m.serialize_entry("pid", &c.pid)?;
        m.serialize_entry("tid", &c.tid)?;
        m.serialize_entry("ppid", &c.ppid)?;
        let process_type = if c.tid == c.pid { "process" } else { "thread" };
        m.serialize_entry("process_type", process_type)?;
        m.serialize_entry("uid", &c.uid)?;
        m.serialize_entry("gid", &c.gid)?;
        match &e.body {
            Body::Fork {
                child_pid,
                child_tid,
                clone_flags,
                child_comm,
            } => {
                m.serialize_entry("ret", child_tid)?;
                if *child_pid == c.pid {
                    m.serialize_entry("flags", clone_flags)?;
                    m.serialize_entry("child_tid", child_tid)?;
                } else {
                    m.serialize_entry("parent_pid", &c.pid)?;
                    m.serialize_entry("parent_comm", &c.comm)?;
                    m.serialize_entry("child_pid", child_pid)?;
                    m.serialize_entry("child_comm", child_comm)?;
                }
            }
            Body::Exec {
                old_pid,
                argc,
                filename,
                filename_truncated,
                argv,
                argv_truncated,
            } => {
                m.serialize_entry("ret", &0)?;
                m.serialize_entry("filename", filename)?;
                if *filename_truncated {
                    m.serialize_entry("filename_truncated", &true)?;
                }
                m.serialize_entry("argv", argv)?;
                m.serialize_entry("argc", argc)?;
                if *argv_truncated {
                    m.serialize_entry("argv_truncated", &true)?;
                }
                m.serialize_entry("old_pid", old_pid)?;
            }
            Body::Exit { code, .. } => {
                let signal = code & 0x7f;
                m.serialize_entry("exit_code", &((code >> 8) & 0xff))?;
                m.serialize_entry("signal", &signal)?;
                if let Some(name) = signal_name(signal) {
                    m.serialize_entry("signal_name", &name)?;
                }
                if code & 0x80 != 0 {
                    m.serialize_entry("core_dumped", &true)?;
                }
            }
            Body::Unknown { kind } => {
                m.serialize_entry("kind", kind)?;
            }
        }
        m.end()
    }
}
