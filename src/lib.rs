//! kellect: an eBPF forensic recorder built as record and replay.
//!
//! Data flows one way: [`recorder`] (Linux, feature `record`) writes raw kernel records
//! into the [`format`] container; [`replayer`] reads them back anywhere. [`abi`] mirrors the
//! record layouts of `bpf/records.h`; [`meta`] holds the host context a trace carries.

pub mod abi;
pub mod defaults;
pub mod format;
#[cfg(feature = "record")]
pub mod live;
pub mod meta;
pub mod pidfile;
#[cfg(feature = "record")]
pub mod recorder;
pub mod replayer;
pub mod syscalls;
