//! Domain values as protobuf messages, and the little arithmetic the protocol needs
//! (durations in two encodings, option merging, prices). No decisions about node groups
//! are made here.
//!
//! One file per subject: [`group`] (node groups, instances), [`template`] (the template
//! Node), [`duration`] (the two duration encodings), [`options`] (option merging),
//! [`pricing`] (time spans, quantities, pod requests). Everything is re-exported here.

pub mod duration;
pub mod group;
pub mod options;
pub mod pricing;
pub mod template;

pub use duration::*;
pub use group::*;
pub use options::*;
pub use pricing::*;
pub use template::*;
