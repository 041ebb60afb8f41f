//! Request parameters: query string merged with a JSON or form body, read with PHP-ish rules.

use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use serde_json::{Map, Value};

use crate::state::Selector;

/// Merged request parameters (the body wins over the query string, like Laravel `input()`).
pub(crate) type Params = Map<String, Value>;

pub(crate) fn merge(query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Params {
    let mut params = Params::new();
    if let Some(q) = query {
        for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
            params.insert(k.into_owned(), Value::String(v.into_owned()));
        }
    }
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let first = body.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if content_type.contains("json") || first == Some(b'{') {
        // Invalid JSON reads as "no input" in Laravel, so required-flag errors follow naturally.
        if let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(body) {
            params.extend(obj);
        }
    } else if content_type.contains("x-www-form-urlencoded") {
        for (k, v) in url::form_urlencoded::parse(body) {
            params.insert(k.into_owned(), Value::String(v.into_owned()));
        }
    }
    params
}

/// The parameter as text, if it is a scalar.
pub(crate) fn text(p: &Params, key: &str) -> Option<String> {
    match p.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "true" } else { "false" }.to_owned()),
        _ => None,
    }
}

/// The parameter unless PHP `empty()` would call it empty (`""`, `"0"`, absent).
pub(crate) fn non_empty(p: &Params, key: &str) -> Option<String> {
    text(p, key).filter(|s| !s.is_empty() && s != "0")
}

/// `value == "true"` as the proxy converts `force`.
pub(crate) fn is_true(p: &Params, key: &str) -> bool {
    matches!(p.get(key), Some(Value::Bool(true)))
        || matches!(p.get(key), Some(Value::String(s)) if s == "true")
}

/// PHP truthiness, used for `allow-no-servers` and `dryrun`.
pub(crate) fn truthy(p: &Params, key: &str) -> bool {
    match p.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => !s.is_empty() && s != "0",
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
        Some(Value::Null) | None => false,
    }
}

/// `name` xor `id`; `None` when both or neither are given.
pub(crate) fn selector(p: &Params) -> Option<Selector> {
    match (non_empty(p, "name"), non_empty(p, "id")) {
        (Some(name), None) => Some(Selector::Name(name)),
        (None, Some(id)) => Some(Selector::Id(id)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_overrides_query_and_forms_parse() {
        let mut headers = HeaderMap::new();
        let p = merge(Some("name=q&id=1"), &headers, br#"{"name":"b"}"#);
        assert_eq!(text(&p, "name").as_deref(), Some("b"));
        assert!(selector(&p).is_none());
        headers.insert(
            CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let p = merge(None, &headers, b"name=a%20b&force=true");
        assert_eq!(text(&p, "name").as_deref(), Some("a b"));
        assert!(is_true(&p, "force"));
        assert!(!is_true(
            &merge(None, &HeaderMap::new(), br#"{"force":"1"}"#),
            "force"
        ));
        assert!(truthy(
            &merge(None, &HeaderMap::new(), br#"{"x":"yes"}"#),
            "x"
        ));
    }
}
