//! Replay's output: events and records rendered (in parallel) as JSON, NDJSON, a table or
//! Parquet and written in order ([`output`], [`parquet`]), with symbolic names for raw
//! numbers ([`symbols`]).

pub mod output;
pub mod parquet;
pub mod symbols;
