//! Replay's input: trace files opened and scanned into recordings ([`trace`]), frames
//! decoded into typed events in parallel ([`decode`], stage 1 of the pipeline), and the
//! progress line of long runs ([`progress`]).

pub mod decode;
pub mod progress;
pub mod trace;
