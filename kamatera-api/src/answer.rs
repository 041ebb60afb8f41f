//! Decoders for the answer shapes many operations share: command ids (every change that
//! starts a queued command) and the one row of an answer about one server.

use crate::decode::decode;
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::model::CommandId;

/// How many command ids an answer must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// The call acted on one server (selected by id, or an operation the API restricts to
    /// one server).
    ExactlyOne,
    /// The call may have matched several servers (a name pattern); one id per server.
    AtLeastOne,
}

/// Decodes `["<id>", …]` (ids as strings or numbers) and checks their number.
pub(crate) fn command_ids(
    endpoint: Endpoint,
    body: &[u8],
    expect: Expect,
) -> Result<Vec<CommandId>, Error> {
    let ids: Vec<CommandId> = decode(endpoint, body)?;
    check_count(endpoint, "$", ids, expect)
}

/// Decodes an answer that must hold exactly one command id.
pub(crate) fn one_command_id(endpoint: Endpoint, body: &[u8]) -> Result<CommandId, Error> {
    let mut ids = command_ids(endpoint, body, Expect::ExactlyOne)?;
    Ok(ids.remove(0))
}

/// The one row of an answer about one server (`[{…}]`); any other number of rows is an
/// invalid answer.
pub(crate) fn exactly_one<T>(endpoint: Endpoint, mut rows: Vec<T>) -> Result<T, Error> {
    match rows.len() {
        1 => Ok(rows.remove(0)),
        n => Err(Error::InvalidResponse {
            endpoint,
            path: "$".into(),
            reason: format!("expected exactly one server, got {n}"),
        }),
    }
}

/// Checks that `ids`, found at `path` of the answer, are as many as expected.
pub(crate) fn check_count(
    endpoint: Endpoint,
    path: &str,
    ids: Vec<CommandId>,
    expect: Expect,
) -> Result<Vec<CommandId>, Error> {
    let ok = match expect {
        Expect::ExactlyOne => ids.len() == 1,
        Expect::AtLeastOne => !ids.is_empty(),
    };
    if ok {
        return Ok(ids);
    }
    let wanted = match expect {
        Expect::ExactlyOne => "exactly one command id",
        Expect::AtLeastOne => "at least one command id",
    };
    Err(Error::InvalidResponse {
        endpoint,
        path: path.to_owned(),
        reason: format!("expected {wanted}, got {}", ids.len()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_id_answers_are_counted() {
        let one = one_command_id(Endpoint::Rename, br#"["17"]"#).unwrap();
        assert_eq!(one.as_str(), "17");
        for (body, path) in [("[]", "$"), (r#"["1","2"]"#, "$"), ("[null]", "$[0]")] {
            match one_command_id(Endpoint::Rename, body.as_bytes()) {
                Err(Error::InvalidResponse { path: got, .. }) => assert_eq!(got, path, "{body}"),
                other => panic!("{body}: expected an invalid response, got {other:?}"),
            }
        }
        assert_eq!(exactly_one(Endpoint::History, vec![7]).unwrap(), 7);
        match exactly_one::<u8>(Endpoint::History, vec![]) {
            Err(Error::InvalidResponse { path, .. }) => assert_eq!(path, "$"),
            other => panic!("expected an invalid response, got {other:?}"),
        }
        assert!(exactly_one(Endpoint::History, vec![1, 2]).is_err());
        assert_eq!(
            command_ids(Endpoint::Suspend, b"[1,2]", Expect::AtLeastOne)
                .unwrap()
                .len(),
            2
        );
    }
}
