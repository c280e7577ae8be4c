//! Integration tests, one binary: fixture replays and CLI behaviour need no privileges;
//! live recordings of real workloads need root and BPF (they must run in CI).

mod accounting;
mod adversary;
mod bytes;
mod catalogue;
mod cli;
mod compat;
mod container;
mod differential;
#[cfg(feature = "record")]
mod enrich;
mod exec;
mod execid;
mod files2;
mod filters;
mod fixtures;
mod hostile;
mod hostile_output;
mod lean;
#[cfg(feature = "record")]
mod live;
mod mmsg;
mod ops;
mod packets;
mod parquet;
mod progress;
mod records;
mod report;
mod slice;
mod system;
mod uring;
mod util;
mod verify;
mod writer;
