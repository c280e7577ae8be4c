//! Replay's output: events and records rendered (in parallel) as JSON, NDJSON, a table or
//! Parquet and written in order ([`output`], [`parquet`]), with symbolic names for raw
//! numbers ([`symbols`]); and the process tree as one HTML page ([`report`]).

pub mod output;
pub mod parquet;
pub mod report;
pub mod symbols;
