//! Integration tests, one binary: fixture replays and CLI behaviour need no privileges;
//! live recordings of real workloads need root and BPF (they must run in CI).

mod accounting;
mod catalogue;
mod cli;
#[cfg(feature = "record")]
mod enrich;
mod fixtures;
mod hostile_output;
#[cfg(feature = "record")]
mod live;
mod records;
mod util;
mod verify;
mod writer;
