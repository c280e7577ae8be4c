//! What replay shows, read from the one replay state ([`super::state`]): the events view
//! ([`events`], one object per kernel event), the records view ([`records`], kflowd-style
//! aggregated records) and the analyst's filters both views apply ([`filter`]).

pub mod events;
pub mod filter;
pub mod records;
