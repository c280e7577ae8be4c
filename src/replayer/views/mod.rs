//! What replay shows, read from the one replay state ([`super::state`]): the events view
//! ([`events`], one object per kernel event), the records view ([`records`], kflowd-style
//! aggregated records), the analyst's filters both views apply ([`filter`]), and the
//! process tree built from the records view ([`tree`]).

pub mod events;
pub mod filter;
pub mod records;
pub mod tree;
