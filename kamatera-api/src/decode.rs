//! Strict JSON decoding that names the failing JSON path.

use serde::de::DeserializeOwned;

use crate::endpoint::Endpoint;
use crate::error::{ApiError, Error, NOT_JSON};

/// Decodes a 200 body as `T`; on failure the error names the JSON path that did not fit,
/// e.g. `$[0].status`.
pub(crate) fn decode<T: DeserializeOwned>(endpoint: Endpoint, body: &[u8]) -> Result<T, Error> {
    // Tracking the path costs a third of the decoding of a large list, and a path is
    // needed only to explain a failure: decode plainly first, and decode again with the
    // path only when that fails.
    if let Ok(value) = serde_json::from_slice(body) {
        return Ok(value);
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let mut path = json_path(err.path());
        let inner = err.into_inner();
        let reason = if inner.is_syntax() || inner.is_eof() {
            // A body that is not JSON (or cut short) is wrong as a whole.
            path = "$".to_owned();
            format!("{NOT_JSON}: {inner}")
        } else {
            inner.to_string()
        };
        Error::InvalidResponse {
            endpoint,
            path,
            reason,
        }
    })?;
    deserializer.end().map_err(|inner| Error::InvalidResponse {
        endpoint,
        path: "$".into(),
        reason: format!("{NOT_JSON}: {inner}"),
    })?;
    Ok(value)
}

/// Decodes an already parsed JSON value as `T`, naming the failing path below `prefix`.
pub(crate) fn decode_value<T: DeserializeOwned>(
    endpoint: Endpoint,
    prefix: &str,
    value: serde_json::Value,
) -> Result<T, Error> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = json_path(err.path());
        Error::InvalidResponse {
            endpoint,
            path: format!("{prefix}{}", path.trim_start_matches('$')),
            reason: err.into_inner().to_string(),
        }
    })
}

/// Formats a path as `$`, `$[0]`, `$[0].status` or `$.commandIds[1]`.
fn json_path(path: &serde_path_to_error::Path) -> String {
    let text = path.to_string();
    if text == "." {
        "$".to_owned()
    } else if text.starts_with('[') {
        format!("${text}")
    } else {
        format!("$.{text}")
    }
}

/// Recognises the upstream error object that the API can return with HTTP 200
/// (`{"errors":[{"code":1,"info":"..."}]}`) instead of the expected answer.
pub(crate) fn upstream_error_object(body: &[u8]) -> Option<ApiError> {
    // Only objects can be error objects; skipping arrays keeps large lists cheap.
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first != b'{' {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let errors = value.get("errors")?.as_array()?;
    let message = errors
        .iter()
        .filter_map(|e| e.get("info").and_then(|i| i.as_str()))
        .collect::<Vec<_>>()
        .join("; ");
    Some(ApiError {
        status: 200,
        message: Some(if message.is_empty() {
            "upstream error".to_owned()
        } else {
            message
        }),
        body: String::from_utf8_lossy(body)
            .chars()
            .take(ApiError::MAX_BODY)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::QueueItem;

    fn path_of<T: DeserializeOwned + std::fmt::Debug>(body: &str) -> String {
        match decode::<T>(Endpoint::Queue, body.as_bytes()) {
            Err(Error::InvalidResponse { path, .. }) => path,
            other => panic!("expected an invalid response, got {other:?}"),
        }
    }

    #[test]
    fn paths_name_the_failing_part() {
        assert_eq!(path_of::<Vec<QueueItem>>(r#"{"invalid":"response"}"#), "$");
        assert_eq!(path_of::<Vec<QueueItem>>("[1,2]"), "$[0]");
        assert_eq!(
            path_of::<Vec<QueueItem>>(r#"[{"status":123}]"#),
            "$[0].status"
        );
        assert_eq!(path_of::<Vec<QueueItem>>("Gateway Timeout"), "$");
        assert_eq!(path_of::<Vec<QueueItem>>("[] trailing"), "$");
    }

    #[test]
    fn not_json_is_retryable_but_wrong_shape_is_not() {
        let garbled = decode::<Vec<QueueItem>>(Endpoint::Queue, b"[{\"id\":").unwrap_err();
        assert!(garbled.is_retryable());
        let shape = decode::<Vec<QueueItem>>(Endpoint::Queue, b"{}").unwrap_err();
        assert!(!shape.is_retryable());
    }

    #[test]
    fn upstream_error_objects_are_detected() {
        let err =
            upstream_error_object(br#"{"errors":[{"code":1,"info":"you are not logged in"}]}"#)
                .unwrap();
        assert_eq!(err.message.as_deref(), Some("you are not logged in"));
        assert!(upstream_error_object(br#"[{"errors":1}]"#).is_none());
        assert!(upstream_error_object(br#"{"commandIds":["1"]}"#).is_none());
    }
}

/// Arbitrary JSON (and arbitrary bytes) through every decoder: never a panic, always
/// either a value or an `InvalidResponse` naming a path.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;
    use crate::calls::decoders_for_tests as decoders;
    use crate::calls::{
        CloneableDisk, Disk, HistoryEntry, MonthlyReport, NetworkInterface, PrivateNetwork,
        RecentCommand, Subnet,
    };
    use crate::catalog::{Capabilities, Datacenter, Image, ServerOptions, SizePreset};
    use crate::model::{CommandId, QueueItem, ServerInfo, ServerSummary, SshInfo, TagRow};

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            "[a-zA-Z0-9 _:.-]{0,12}".prop_map(Value::String),
            prop::sample::select(vec![
                "on",
                "off",
                "complete",
                "error",
                "cancelled",
                "progress",
                "1",
                "0",
                ""
            ])
            .prop_map(|s| Value::String(s.to_owned())),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            let keys = prop::sample::select(vec![
                "id",
                "name",
                "datacenter",
                "power",
                "status",
                "log",
                "tagName",
                "tag name",
                "cpu",
                "ram",
                "diskSizes",
                "networks",
                "ips",
                "commandIds",
                "password",
                "datacenters",
                "cpuTypes",
                "diskSizeGB",
                "ramMB",
                "cpuCores",
                "managed",
                "backup",
                "errors",
                // The later calls' fields: snapshots, commands, statistics, subnets,
                // records, the disk library, networks, interfaces and disks.
                "date",
                "depth",
                "active",
                "child",
                "info",
                "serviceName",
                "dtCreate",
                "dtComplete",
                "exitCode",
                "progress",
                "metric",
                "value",
                "series",
                "data",
                "subnetId",
                "subnetIp",
                "subnetBit",
                "subnetMask",
                "startRange",
                "endRange",
                "inUse",
                "gateway",
                "description",
                "action",
                "user",
                "year",
                "month",
                "disk",
                "uuid",
                "sizeGB",
                "size",
                "vlanId",
                "ids",
                "names",
                "network",
                "connected",
                "mac",
                "index",
            ]);
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map(keys.prop_map(str::to_owned), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn check<T: serde::de::DeserializeOwned>(body: &[u8]) {
        named(decode::<T>(Endpoint::ListServers, body).map(drop));
    }

    fn all_decoders(body: &[u8]) {
        check::<Vec<ServerSummary>>(body);
        check::<Vec<ServerInfo>>(body);
        check::<Vec<SshInfo>>(body);
        check::<Vec<QueueItem>>(body);
        check::<Vec<TagRow>>(body);
        check::<Vec<CommandId>>(body);
        check::<ServerOptions>(body);
        check::<Vec<Datacenter>>(body);
        check::<Vec<Image>>(body);
        check::<Capabilities>(body);
        check::<Vec<SizePreset>>(body);
        check::<Vec<RecentCommand>>(body);
        check::<Vec<Subnet>>(body);
        check::<Vec<HistoryEntry>>(body);
        check::<Vec<MonthlyReport>>(body);
        check::<Vec<CloneableDisk>>(body);
        check::<Vec<PrivateNetwork>>(body);
        check::<Vec<NetworkInterface>>(body);
        check::<Vec<Disk>>(body);
        check::<Vec<decoders::DescriptionRow>>(body);
        named(decoders::decode_compact(Endpoint::ListServers, body).map(drop));
        named(decoders::decode_tree(Endpoint::Snapshots, body).map(drop));
        named(decoders::decode_points(Endpoint::Statistics, body).map(drop));
        let _ = upstream_error_object(body);
        let _ = decoders::created(body);
        let _ = decoders::command_ids(body);
    }

    /// A decoder that is not a plain `decode::<T>`: its refusal still names a JSON path.
    fn named(result: Result<(), Error>) {
        match result {
            Ok(()) => {}
            Err(Error::InvalidResponse { path, .. }) => assert!(path.starts_with('$'), "{path}"),
            Err(other) => panic!("unexpected error kind: {other:?}"),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_json_never_panics(value in json()) {
            all_decoders(value.to_string().as_bytes());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            all_decoders(&bytes);
        }
    }
}
