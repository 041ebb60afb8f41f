//! Domain errors as gRPC statuses.
//!
//! cluster-autoscaler only distinguishes `Unimplemented` (optional RPCs) from "an error";
//! the other codes are for people reading CA's logs and for metrics, so each is chosen
//! for what a caller could do about it.

use kamatera_nodegroups::engine::Error;
use tonic::{Code, Status};

/// Maps an engine error to the status returned to cluster-autoscaler.
///
/// | error | code |
/// |---|---|
/// | unknown node group, node not in the group | `NotFound` |
/// | zero or wrong-signed delta | `InvalidArgument` |
/// | above max-size, below min-size, decrease larger than the unsent requests | `FailedPrecondition` |
/// | not listed yet, stale list, Kamatera API failure | `Unavailable` |
///
/// The match has no catch-all: a new engine error must be given its code here.
pub fn to_status(error: &Error) -> Status {
    Status::new(code_of(error), error.to_string())
}

/// Longest status message sent, in bytes.
pub const MAX_MESSAGE: usize = 1024;

/// `status` with its message cut to [`MAX_MESSAGE`] bytes (on a character boundary).
pub fn bounded(status: Status) -> Status {
    let message = status.message();
    if message.len() <= MAX_MESSAGE {
        return status;
    }
    let mut cut = MAX_MESSAGE;
    while !message.is_char_boundary(cut) {
        cut -= 1;
    }
    Status::new(status.code(), format!("{}… (cut)", &message[..cut]))
}

/// The gRPC code of an engine error; see [`to_status`].
pub fn code_of(error: &Error) -> Code {
    match error {
        Error::UnknownNodeGroup { .. } | Error::NodeNotInGroup { .. } => Code::NotFound,
        Error::InvalidDelta { .. } => Code::InvalidArgument,
        Error::MaxSizeExceeded { .. }
        | Error::MinSizeViolated { .. }
        | Error::DecreaseTooLarge { .. } => Code::FailedPrecondition,
        // The snapshot will be fresh again once the API answers: CA retries next loop.
        Error::NotReady { .. } | Error::StaleSnapshot { .. } | Error::Kamatera { .. } => {
            Code::Unavailable
        }
    }
}

/// A stable label for a gRPC code, as used in metrics (`OK`, `NOT_FOUND`, ...).
pub fn code_label(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn group() -> String {
        "ng1".to_owned()
    }

    #[test]
    fn long_messages_are_cut_and_short_ones_kept() {
        let long = Status::not_found(format!("node {:?} is unknown", "é".repeat(100_000)));
        let cut = bounded(long);
        assert_eq!(cut.code(), Code::NotFound);
        assert!(cut.message().len() <= MAX_MESSAGE + "… (cut)".len());
        assert!(cut.message().ends_with("(cut)"));
        let short = bounded(Status::invalid_argument("delta must be positive"));
        assert_eq!(short.message(), "delta must be positive");
    }

    #[test]
    fn every_engine_error_has_its_code() {
        let cases = [
            (Error::UnknownNodeGroup { group: group() }, Code::NotFound),
            (
                Error::NodeNotInGroup {
                    group: group(),
                    node: "n".into(),
                    provider_id: "p".into(),
                },
                Code::NotFound,
            ),
            (
                Error::InvalidDelta {
                    group: group(),
                    delta: 0,
                    reason: "an increase must be positive",
                },
                Code::InvalidArgument,
            ),
            (
                Error::MaxSizeExceeded {
                    group: group(),
                    target: 5,
                    delta: 1,
                    max: 5,
                },
                Code::FailedPrecondition,
            ),
            (
                Error::MinSizeViolated {
                    group: group(),
                    running: 1,
                    deleting: 1,
                    min: 1,
                },
                Code::FailedPrecondition,
            ),
            (
                Error::DecreaseTooLarge {
                    group: group(),
                    delta: -2,
                    unsent: 1,
                },
                Code::FailedPrecondition,
            ),
            (Error::NotReady { last_error: None }, Code::Unavailable),
            (
                Error::StaleSnapshot {
                    age: Duration::from_secs(60),
                    last_error: Some("timeout".into()),
                },
                Code::Unavailable,
            ),
            (
                Error::Kamatera {
                    action: "listing servers",
                    error: kamatera_api::Error::Timeout {
                        endpoint: kamatera_api::Endpoint::ListServers,
                        after: Duration::from_secs(30),
                    },
                },
                Code::Unavailable,
            ),
        ];
        for (error, code) in cases {
            let status = to_status(&error);
            assert_eq!(status.code(), code, "{error}");
            assert_eq!(status.message(), error.to_string());
        }
    }

    #[test]
    fn code_labels_are_the_grpc_names() {
        assert_eq!(code_label(Code::Ok), "OK");
        assert_eq!(code_label(Code::FailedPrecondition), "FAILED_PRECONDITION");
        assert_eq!(code_label(Code::Unimplemented), "UNIMPLEMENTED");
    }
}
