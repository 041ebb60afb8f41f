//! Fault injection rules for API endpoints and their evaluation.

use std::collections::BTreeMap;

use rand::Rng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Malformed list payloads, as the in-tree provider's tests used them (docs/kamatera-api.md).
pub const MALFORMED_LIST: &[&str] = &[
    r#"{"invalid":"response"}"#,
    "[1,2]",
    r#"[{"foo":"bar"}]"#,
    r#"[{"name":123}]"#,
    r#"[{"name":"foo","power":123}]"#,
];
/// Malformed payloads for endpoints returning command ids (docs/kamatera-api.md).
pub const MALFORMED_COMMAND_IDS: &[&str] = &[
    r#"{"invalid":"response"}"#,
    "[1,2]",
    "[]",
    "[null]",
    "[1]",
    r#"[""]"#,
];
/// Malformed tag-list payloads (docs/kamatera-api.md).
pub const MALFORMED_TAGS: &[&str] = &[
    r#"{"invalid":"response"}"#,
    "[1,2]",
    r#"[{"foo":1}]"#,
    r#"[{"foo":"bar"}]"#,
];
/// Malformed queue payloads (docs/kamatera-api.md).
pub const MALFORMED_QUEUE: &[&str] = &[
    r#"{"invalid":"response"}"#,
    "[]",
    "[1,2]",
    r#"[{"status":123}]"#,
];

/// What a fault does when it fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FaultAction {
    /// Answer with `status` and a body instead of running the handler. `json` is sent as JSON;
    /// otherwise `text` is sent verbatim (may be malformed JSON or plain text like `Gateway Timeout`).
    Respond {
        /// HTTP status.
        status: u16,
        /// JSON body.
        #[serde(default)]
        json: Option<Value>,
        /// Raw body, used when `json` is absent.
        #[serde(default)]
        text: Option<String>,
        /// Extra response headers, e.g. `Retry-After`.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        headers: BTreeMap<String, String>,
        /// The `Content-Type` to send. When absent: `application/json` for `json`, and for
        /// `text` `application/json` if it parses as JSON, else `text/plain`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content_type: Option<String>,
    },
    /// Answer 200 with a JSON-typed body of exactly `bytes` bytes that looks like a server
    /// list (`[` then rows), streamed in chunks and never held in memory whole.
    HugeBody {
        /// Length of the body.
        bytes: u64,
        /// Send a correct `Content-Length`; otherwise the body is chunked.
        #[serde(default)]
        declare_length: bool,
    },
    /// Answer 200 with JSON headers at once, then one byte of a JSON array every
    /// `interval_ms` (wall-clock) milliseconds, for ever: until the client hangs up or the
    /// simulator shuts down.
    Trickle {
        /// Milliseconds between two bytes.
        interval_ms: u64,
    },
    /// Add real (wall-clock) latency before handling; other rules still apply.
    Delay {
        /// Milliseconds to wait.
        ms: u64,
    },
    /// Run the handler (so a create is applied), then close the connection without an answer.
    DropAfterApply,
    /// Close the connection without running the handler.
    DropBeforeApply,
    /// Run the handler, then leave out of its JSON array answer the rows whose `name`
    /// fully matches this regex: a short list (`GET /service/servers`) or a short answer
    /// of any other array endpoint.
    OmitRows {
        /// Full-match regex on the row's `name`.
        name: String,
    },
    /// Run the handler, then append these rows to its JSON array answer (e.g. a foreign
    /// server with `"datacenter": null`).
    AddRows {
        /// Rows to append, as they are.
        rows: Vec<Value>,
    },
    /// Run the handler, then overwrite fields of the rows of its JSON array answer whose
    /// `name` fully matches this regex (e.g. make one of the autoscaler's rows odd).
    PatchRows {
        /// Full-match regex on the row's `name`.
        name: String,
        /// Fields to set on each matching row.
        set: Map<String, Value>,
    },
}

impl FaultAction {
    /// True for the actions that edit the handler's answer instead of replacing it.
    pub(crate) fn edits_rows(&self) -> bool {
        matches!(
            self,
            FaultAction::OmitRows { .. }
                | FaultAction::AddRows { .. }
                | FaultAction::PatchRows { .. }
        )
    }

    /// Applies a row edit to an answer; answers that are not arrays are left alone.
    pub(crate) fn edit_rows(&self, body: Value) -> Value {
        let Value::Array(mut rows) = body else {
            return body;
        };
        // An invalid pattern matches its own text only.
        let matcher = |pattern: &str| {
            let re = regex::Regex::new(&format!("^(?:{pattern})$")).ok();
            let pattern = pattern.to_owned();
            move |row: &Value| {
                row.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|name| re.as_ref().map_or(name == pattern, |re| re.is_match(name)))
            }
        };
        match self {
            FaultAction::OmitRows { name } => {
                let matches = matcher(name);
                rows.retain(|row| !matches(row));
            }
            FaultAction::AddRows { rows: extra } => rows.extend(extra.iter().cloned()),
            FaultAction::PatchRows { name, set } => {
                let matches = matcher(name);
                for row in rows.iter_mut().filter(|row| matches(row)) {
                    if let Value::Object(fields) = row {
                        for (key, value) in set {
                            fields.insert(key.clone(), value.clone());
                        }
                    }
                }
            }
            _ => {}
        }
        Value::Array(rows)
    }
}

/// One fault rule. A request matches when method, path and every `body` field agree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FaultRule {
    /// HTTP method (`GET`, `POST`); `None` matches any.
    #[serde(default)]
    pub method: Option<String>,
    /// Exact request path (`/service/server`), or `*` for every API path.
    pub path: String,
    /// Parameters (query or body) that must equal these strings, e.g. `{"name":"node-1"}`.
    #[serde(default)]
    pub body: Map<String, Value>,
    /// What to do.
    pub action: FaultAction,
    /// Fire for the next N matching calls only; `None` means unlimited.
    #[serde(default)]
    pub times: Option<u32>,
    /// Fire with this probability (seeded RNG); `None` means always.
    #[serde(default)]
    pub probability: Option<f64>,
}

impl FaultRule {
    /// A rule for `method path` doing `action` on every matching call.
    #[must_use]
    pub fn new(method: &str, path: &str, action: FaultAction) -> Self {
        Self {
            method: Some(method.to_owned()),
            path: path.to_owned(),
            body: Map::new(),
            action,
            times: None,
            probability: None,
        }
    }

    /// Answer with a JSON body.
    #[must_use]
    pub fn respond_json(method: &str, path: &str, status: u16, json: Value) -> Self {
        Self::new(
            method,
            path,
            FaultAction::Respond {
                status,
                json: Some(json),
                text: None,
                headers: BTreeMap::new(),
                content_type: None,
            },
        )
    }

    /// Answer with a raw body.
    #[must_use]
    pub fn respond_text(method: &str, path: &str, status: u16, text: impl Into<String>) -> Self {
        Self::new(
            method,
            path,
            FaultAction::Respond {
                status,
                json: None,
                text: Some(text.into()),
                headers: BTreeMap::new(),
                content_type: None,
            },
        )
    }

    /// Answer 429 as a rate-limiting proxy does (Laravel's throttle: `{"message":"Too Many
    /// Attempts."}` with the limit headers), with `Retry-After` when `retry_after_secs` is set.
    #[must_use]
    pub fn rate_limited(method: &str, path: &str, retry_after_secs: Option<u64>) -> Self {
        let rule = Self::respond_json(
            method,
            path,
            429,
            serde_json::json!({"message": "Too Many Attempts."}),
        )
        .header("X-RateLimit-Limit", "60")
        .header("X-RateLimit-Remaining", "0");
        match retry_after_secs {
            Some(secs) => rule.header("Retry-After", &secs.to_string()),
            None => rule,
        }
    }

    /// Answer `status` with the HTML error page a reverse proxy (nginx) serves when its
    /// upstream fails, typed `text/html`. Use 200 for a proxy that answers its page as success.
    #[must_use]
    pub fn html_page(method: &str, path: &str, status: u16) -> Self {
        let reason = axum::http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error");
        let title = format!("{status} {reason}");
        let page = format!(
            "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n\
             <center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n\
             </body>\r\n</html>\r\n"
        );
        Self::respond_text(method, path, status, page).content_type("text/html")
    }

    /// Answer 200 with a streamed JSON-typed body of `bytes` bytes ([`FaultAction::HugeBody`]).
    #[must_use]
    pub fn huge_body(method: &str, path: &str, bytes: u64, declare_length: bool) -> Self {
        Self::new(
            method,
            path,
            FaultAction::HugeBody {
                bytes,
                declare_length,
            },
        )
    }

    /// Answer 200 and then one byte every `interval_ms` for ever ([`FaultAction::Trickle`]).
    #[must_use]
    pub fn trickle(method: &str, path: &str, interval_ms: u64) -> Self {
        Self::new(method, path, FaultAction::Trickle { interval_ms })
    }

    /// Adds a response header to a `respond` rule (other actions are left as they are).
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let FaultAction::Respond { headers, .. } = &mut self.action {
            headers.insert(name.to_owned(), value.to_owned());
        }
        self
    }

    /// Sets the `Content-Type` of a `respond` rule (other actions are left as they are).
    #[must_use]
    pub fn content_type(mut self, content_type: &str) -> Self {
        if let FaultAction::Respond {
            content_type: ct, ..
        } = &mut self.action
        {
            *ct = Some(content_type.to_owned());
        }
        self
    }

    /// Checks what the rule would put on the wire: header names and values and the
    /// content type must be valid HTTP. Returns what is wrong.
    pub(crate) fn check(&self) -> Result<(), String> {
        let FaultAction::Respond {
            headers,
            content_type,
            ..
        } = &self.action
        else {
            return Ok(());
        };
        for (name, value) in headers {
            axum::http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("invalid header name {name:?}"))?;
            axum::http::HeaderValue::from_str(value)
                .map_err(|_| format!("invalid value {value:?} of header {name:?}"))?;
        }
        if let Some(ct) = content_type {
            axum::http::HeaderValue::from_str(ct)
                .map_err(|_| format!("invalid content type {ct:?}"))?;
        }
        Ok(())
    }

    /// The transient info failure seen in the wild: 500 `Failed to run command method (serversInfo)`.
    #[must_use]
    pub fn info_transient() -> Self {
        Self::respond_json(
            "POST",
            "/service/server/info",
            500,
            serde_json::json!({"message": "Failed to run command method (serversInfo)"}),
        )
    }

    /// A list glitch: `GET /service/servers` answers `200 []` (as the list proxy does
    /// when its upstream answers with an empty body). Combine with [`FaultRule::times`].
    #[must_use]
    pub fn empty_list() -> Self {
        Self::respond_json("GET", "/service/servers", 200, Value::Array(Vec::new()))
    }

    /// A short list: `GET /service/servers` leaves out the servers whose name fully
    /// matches `name` (a regex).
    #[must_use]
    pub fn list_without(name: &str) -> Self {
        Self::new(
            "GET",
            "/service/servers",
            FaultAction::OmitRows {
                name: name.to_owned(),
            },
        )
    }

    /// Odd rows: `GET /service/servers` answers with `rows` appended.
    #[must_use]
    pub fn list_with_extra_rows(rows: Vec<Value>) -> Self {
        Self::new("GET", "/service/servers", FaultAction::AddRows { rows })
    }

    /// A tag answer without the tags: `POST /server/tags` for the server with this id
    /// answers `200 []`.
    #[must_use]
    pub fn tags_missing(server_id: &str) -> Self {
        Self::respond_json("POST", "/server/tags", 200, Value::Array(Vec::new()))
            .when("id", server_id)
    }

    /// Fire for the next `n` matching calls only.
    #[must_use]
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Fire with probability `p`.
    #[must_use]
    pub fn probability(mut self, p: f64) -> Self {
        self.probability = Some(p);
        self
    }

    /// Only match requests whose parameter `field` equals `value`.
    #[must_use]
    pub fn when(mut self, field: &str, value: &str) -> Self {
        self.body
            .insert(field.to_owned(), Value::String(value.to_owned()));
        self
    }

    fn matches(&self, method: &str, path: &str, params: &Map<String, Value>) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && (self.path == "*" || self.path == path)
            && self
                .body
                .iter()
                .all(|(k, want)| params.get(k).is_some_and(|got| loosely_equal(got, want)))
    }
}

fn loosely_equal(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::String(g), Value::String(w)) => g == w,
        // Numbers and booleans in the request match their JSON text in the rule.
        (g, Value::String(w)) => serde_json::from_str::<Value>(w).is_ok_and(|parsed| parsed == *g),
        (g, w) => g == w,
    }
}

/// What the request pipeline must do, decided before the handler runs.
#[derive(Debug, Default)]
pub(crate) struct Verdict {
    pub(crate) delay_ms: u64,
    pub(crate) action: Option<FaultAction>,
}

/// Evaluates `rules` in order; delays accumulate, the first firing non-delay rule wins.
pub(crate) fn evaluate(
    rules: &mut [(u64, FaultRule)],
    rng: &mut StdRng,
    method: &str,
    path: &str,
    params: &Map<String, Value>,
) -> Verdict {
    let mut verdict = Verdict::default();
    for (_, rule) in rules.iter_mut() {
        let blocks = !matches!(rule.action, FaultAction::Delay { .. });
        if (blocks && verdict.action.is_some())
            || !rule.matches(method, path, params)
            || rule.times == Some(0)
        {
            continue;
        }
        if let Some(p) = rule.probability
            && !rng.random_bool(p.clamp(0.0, 1.0))
        {
            continue;
        }
        if let Some(n) = rule.times.as_mut() {
            *n -= 1;
        }
        match &rule.action {
            FaultAction::Delay { ms } => verdict.delay_ms = verdict.delay_ms.saturating_add(*ms),
            other => verdict.action = Some(other.clone()),
        }
    }
    verdict
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn counted_rules_expire_and_body_filters_apply() {
        let mut rules = vec![(
            1,
            FaultRule::respond_text("GET", "/service/servers", 504, "Gateway Timeout").times(2),
        )];
        let mut rng = StdRng::seed_from_u64(1);
        let empty = Map::new();
        let fired = (0..3).filter(|_| {
            evaluate(&mut rules, &mut rng, "GET", "/service/servers", &empty)
                .action
                .is_some()
        });
        assert_eq!(fired.count(), 2);

        let mut rules = vec![(
            1,
            FaultRule::new("POST", "/service/server", FaultAction::DropAfterApply)
                .when("name", "a"),
        )];
        let mut params = Map::new();
        params.insert("name".into(), Value::String("b".into()));
        assert!(
            evaluate(&mut rules, &mut rng, "POST", "/service/server", &params)
                .action
                .is_none()
        );
        params.insert("name".into(), Value::String("a".into()));
        assert_eq!(
            evaluate(&mut rules, &mut rng, "POST", "/service/server", &params).action,
            Some(FaultAction::DropAfterApply)
        );
    }

    #[test]
    fn row_edits_change_only_array_answers() {
        let rows = serde_json::json!([{"name": "a-1"}, {"name": "b-1"}, {"id": 3}]);
        let omit = FaultAction::OmitRows {
            name: "a-.*".into(),
        };
        assert_eq!(
            omit.edit_rows(rows.clone()),
            serde_json::json!([{"name": "b-1"}, {"id": 3}])
        );
        let add = FaultAction::AddRows {
            rows: vec![serde_json::json!({"name": "odd", "datacenter": null})],
        };
        assert_eq!(
            add.edit_rows(rows.clone()).as_array().map(Vec::len),
            Some(4)
        );
        let mut set = Map::new();
        set.insert("datacenter".into(), Value::Null);
        let patch = FaultAction::PatchRows {
            name: "b-1".into(),
            set,
        };
        assert_eq!(
            patch.edit_rows(rows)[1],
            serde_json::json!({"name": "b-1", "datacenter": null})
        );
        let object = serde_json::json!({"name": "a-1"});
        assert_eq!(omit.edit_rows(object.clone()), object);
        assert!(omit.edits_rows() && !FaultAction::DropAfterApply.edits_rows());
    }

    #[test]
    fn respond_rules_from_before_headers_still_parse() {
        let rule: FaultRule = serde_json::from_value(serde_json::json!({
            "path": "*", "action": {"type": "respond", "status": 504, "text": "Gateway Timeout"}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            rule,
            FaultRule {
                method: None,
                ..FaultRule::respond_text("GET", "*", 504, "Gateway Timeout")
            }
        );
        let back = serde_json::to_value(&rule).unwrap_or_default();
        assert!(back["action"].get("headers").is_none(), "{back}");
    }

    #[test]
    fn shorthands_build_the_hostile_answers() {
        let FaultAction::Respond {
            status,
            json,
            headers,
            content_type,
            ..
        } = FaultRule::rate_limited("GET", "/service/servers", Some(30)).action
        else {
            panic!("not a respond rule");
        };
        assert_eq!(status, 429);
        assert_eq!(
            json,
            Some(serde_json::json!({"message": "Too Many Attempts."}))
        );
        assert_eq!(headers.get("Retry-After").map(String::as_str), Some("30"));
        assert_eq!(content_type, None);
        let FaultAction::Respond {
            text, content_type, ..
        } = FaultRule::html_page("GET", "/service/servers", 504).action
        else {
            panic!("not a respond rule");
        };
        assert_eq!(content_type.as_deref(), Some("text/html"));
        assert!(
            text.unwrap_or_default()
                .contains("<h1>504 Gateway Timeout</h1>")
        );
        // Header setters leave other actions alone.
        let trickle = FaultRule::trickle("GET", "*", 5).header("Retry-After", "1");
        assert_eq!(trickle.action, FaultAction::Trickle { interval_ms: 5 });
        assert!(trickle.check().is_ok());
        assert!(
            FaultRule::rate_limited("GET", "*", None)
                .header("Bad Name", "1")
                .check()
                .is_err_and(|e| e.contains("Bad Name"))
        );
    }

    #[test]
    fn probability_is_reproducible_with_a_seed() {
        let run = || {
            let mut rules = vec![(1, FaultRule::info_transient().probability(0.5))];
            let mut rng = StdRng::seed_from_u64(42);
            (0..64)
                .map(|_| {
                    evaluate(
                        &mut rules,
                        &mut rng,
                        "POST",
                        "/service/server/info",
                        &Map::new(),
                    )
                    .action
                    .is_some()
                })
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        assert!(a.iter().any(|x| *x) && a.iter().any(|x| !*x));
    }
}
