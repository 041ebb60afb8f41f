//! Decoders for the answer shapes many operations share: command ids (every change that
//! starts a queued command), the one row of an answer about one server, and the
//! `{"message": …}` confirmations of the network calls.

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

/// Decodes the answer of a change the API runs as one console action (disks, network
/// interfaces, disk library clones): the proxy hands the console's command id on as is, a
/// bare number or string, where other changes answer a list; both are accepted.
pub(crate) fn action_command_id(endpoint: Endpoint, body: &[u8]) -> Result<CommandId, Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Shape {
        Bare(CommandId),
        Listed(serde::de::IgnoredAny),
    }
    match decode(endpoint, body)? {
        Shape::Bare(id) => Ok(id),
        Shape::Listed(_) => one_command_id(endpoint, body),
    }
}

/// The confirmation a network call answers with, e.g. `Network created successfully`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiMessage {
    /// What the API said.
    pub message: String,
    /// The console's own answer, which the API passes on as JSON text in `res`.
    result: Option<serde_json::Value>,
}

impl ApiMessage {
    /// A whole number the console's answer holds under `key` (such as `networkId`), as
    /// a number or as numeric text; `None` when it is absent or not a whole number.
    pub(crate) fn result_number(&self, key: &str) -> Option<u64> {
        let value = self.result.as_ref()?.get(key)?;
        value
            .as_u64()
            .or_else(|| value.as_str().and_then(|text| text.trim().parse().ok()))
    }
}

/// Decodes `{"message": "…", "res": "<JSON text>"}`; `message` is required, `res` optional.
pub(crate) fn message(endpoint: Endpoint, body: &[u8]) -> Result<ApiMessage, Error> {
    #[derive(serde::Deserialize)]
    struct Wire {
        message: String,
        #[serde(default)]
        res: Option<serde_json::Value>,
    }
    let wire: Wire = decode(endpoint, body)?;
    let result = match wire.res {
        // The proxy encodes the console's answer as text; text that is not JSON is kept
        // out rather than failing a change that has already happened.
        Some(serde_json::Value::String(text)) => serde_json::from_str(&text).ok(),
        other => other,
    };
    Ok(ApiMessage {
        message: wire.message,
        result,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_answers_may_be_bare_or_listed() {
        for body in ["17", r#""17""#, r#"["17"]"#, "[17]"] {
            let id = action_command_id(Endpoint::ServerDisks, body.as_bytes()).unwrap();
            assert_eq!(id.as_str(), "17", "{body}");
        }
        for (body, path) in [("[]", "$"), (r#"{"cmdId":1}"#, "$"), (r#""""#, "$")] {
            match action_command_id(Endpoint::ServerDisks, body.as_bytes()) {
                Err(Error::InvalidResponse { path: got, .. }) => assert_eq!(got, path, "{body}"),
                other => panic!("{body}: expected an invalid response, got {other:?}"),
            }
        }
    }

    #[test]
    fn messages_carry_the_console_result() {
        let answer = message(
            Endpoint::NetworkCreate,
            br#"{"message":"Network created successfully","res":"{\"networkId\":12,\"subnetId\":\"34\"}"}"#,
        )
        .unwrap();
        assert_eq!(answer.message, "Network created successfully");
        assert_eq!(answer.result_number("networkId"), Some(12));
        assert_eq!(answer.result_number("subnetId"), Some(34));
        assert_eq!(answer.result_number("vlanId"), None);
        let plain = message(Endpoint::SubnetDelete, br#"{"message":"done","res":"[]"}"#).unwrap();
        assert_eq!(plain.result_number("subnetId"), None);
        match message(Endpoint::SubnetDelete, br#"{"res":"[]"}"#) {
            Err(Error::InvalidResponse { path, .. }) => assert_eq!(path, "$"),
            other => panic!("expected an invalid response, got {other:?}"),
        }
        match message(Endpoint::SubnetDelete, br#"{"message":7}"#) {
            Err(Error::InvalidResponse { path, .. }) => assert_eq!(path, "$.message"),
            other => panic!("expected an invalid response, got {other:?}"),
        }
    }

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
