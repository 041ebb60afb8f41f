//! The API calls, as methods on [`Client`](crate::Client), grouped by area.

mod commands;
mod options;
mod queue;
mod servers;
mod tags;

pub use commands::{CreatedServer, TerminateOptions};
pub use queue::{CommandOutcome, CommandStatuses, WaitOptions};
