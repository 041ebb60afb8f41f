//! Suspend, resume, rename and password reset: commands against the selected servers.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::create::missing;
use super::params::{self, Params};
use super::servers::{no_servers, select_one_or, select_or};
use super::{error_500, json_response, method_failed};
use crate::clock::SimMillis;
use crate::commands::NewCommand;
use crate::effects::Effect;
use crate::model::{OpKind, Outcome, Power};
use crate::state::{Selector, State};

/// How the proxy words its catch-all error (an exception in the handler) for a command.
#[derive(Debug, Clone, Copy)]
pub(super) enum Handler {
    /// A command with its own handler method: `Failed to run command method (<method>)`.
    Method(&'static str),
    /// A command run by the generic `post` handler: `Failed to run command (<CLI command>)`.
    Generic(&'static str),
}

impl Handler {
    pub(super) fn failed(self) -> Response {
        match self {
            Self::Method(method) => method_failed(method),
            Self::Generic(command) => error_500(format!("Failed to run command ({command})")),
        }
    }
}

/// One or more servers must match.
pub(super) fn select_some(
    st: &State,
    p: &Params,
    handler: Handler,
) -> Result<(Selector, Vec<u64>), Box<Response>> {
    let (selector, found) = select_or(st, p, || handler.failed())?;
    if found.is_empty() {
        return Err(Box::new(no_servers(&selector)));
    }
    Ok((selector, found))
}

/// Exactly one server must match.
pub(super) fn select_single(
    st: &State,
    p: &Params,
    handler: Handler,
) -> Result<u64, Box<Response>> {
    select_one_or(st, p, || handler.failed())
}

/// The proxy's dry-run answer for multi-server commands: names only for `name` selection.
fn dry_run(st: &State, selector: &Selector, found: &[u64]) -> Response {
    let names: Vec<&str> = match selector {
        Selector::Name(_) => found
            .iter()
            .filter_map(|seq| st.server(*seq))
            .map(|s| s.name.as_str())
            .collect(),
        Selector::Id(_) => Vec::new(),
    };
    json_response(
        StatusCode::OK,
        &json!({"dryrun": true, "server-names": names}),
    )
}

fn ids(ids: Vec<u64>) -> Response {
    let ids: Vec<Value> = ids
        .into_iter()
        .map(|id| Value::String(id.to_string()))
        .collect();
    json_response(StatusCode::OK, &Value::Array(ids))
}

/// `POST /service/server/suspend` and `/resume`: one command per matched server.
pub(super) fn suspend_resume(st: &mut State, p: &Params, now: SimMillis, kind: OpKind) -> Response {
    let (command, verb) = if kind == OpKind::Suspend {
        ("suspend", "Suspending")
    } else {
        ("resume", "Resuming")
    };
    let (selector, found) = match select_some(st, p, Handler::Generic(command)) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    if params::truthy(p, "dryrun") {
        return dry_run(st, &selector, &found);
    }
    let mut scheduled = Vec::with_capacity(found.len());
    for seq in found {
        let Some(server) = st.server(seq) else {
            continue;
        };
        // Decided when the request arrives, like a terminate without force (docs: "(sim)").
        let refusal = match kind {
            OpKind::Suspend if server.power == Power::Off && !server.suspended => {
                Some("Server is powered off")
            }
            OpKind::Resume if !server.suspended => Some("Server is not suspended"),
            _ => None,
        };
        let new = NewCommand {
            kind,
            server_seq: seq,
            success_log: format!("{verb} server {}\nDone", server.name),
            power_on_after: false,
            forced_outcome: refusal.map(|log| Outcome::Error {
                log: log.to_owned(),
            }),
        };
        scheduled.push(st.schedule(now, new));
    }
    ids(scheduled)
}

/// The proxy's `validateChars` rule for server names: 4-40 characters of `a-zA-Z0-9()_-`.
pub(super) fn name_problem(name: &str) -> Option<String> {
    const ALLOWED: &str = "()-_qwertyuiopasdfghjklzxcvbnmQWERTYUIOPASDFGHJKLZXCVBNM0123456789";
    let length = name.chars().count();
    if length < 4 {
        return Some("less then 4 characters".to_owned());
    }
    if length > 40 {
        return Some("more then 40 characters".to_owned());
    }
    name.chars()
        .find(|c| !ALLOWED.contains(*c))
        .map(|c| format!("disallowed character: '{c}', allowed characters: '{ALLOWED}'"))
}

/// A 400 flag error in the proxy's words: `<problem> for field <flag> (<flag>=<value>)`.
fn invalid_flag(flag: &str, value: &str, problem: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({ "message": format!("{problem} for field {flag} ({flag}={value})") }),
    )
}

/// `POST /service/server/rename`: exactly one server; the name changes on completion.
pub(super) fn rename(st: &mut State, p: &Params, now: SimMillis) -> Response {
    // Flags are checked before the selection, as the proxy builds the request first.
    let Some(new_name) = params::non_empty(p, "new-name") else {
        return missing("new-name");
    };
    if let Some(problem) = name_problem(&new_name) {
        return invalid_flag("new-name", &new_name, &problem);
    }
    let seq = match select_single(st, p, Handler::Generic("rename")) {
        Ok(seq) => seq,
        Err(e) => return *e,
    };
    if params::truthy(p, "dryrun") {
        // Single-server commands never fill the dry-run names.
        return json_response(StatusCode::OK, &json!({"dryrun": true, "server-names": []}));
    }
    let old = st.server(seq).map(|s| s.name.clone()).unwrap_or_default();
    let new = NewCommand {
        kind: OpKind::Rename,
        server_seq: seq,
        success_log: format!("Renaming server {old} to {new_name}\nDone"),
        power_on_after: false,
        forced_outcome: None,
    };
    ids(vec![st.schedule_with_effect(
        now,
        new,
        Effect::Rename(new_name),
    )])
}

/// The create rule for passwords: 10-20 characters of `a-zA-Z0-9!@#$^&*()~` with at least
/// one capital letter, one small letter and one digit.
pub(super) fn password_valid(password: &str) -> bool {
    let length = password.chars().count();
    (10..=20).contains(&length)
        && password
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!@#$^&*()~".contains(c))
        && password.chars().any(|c| c.is_ascii_uppercase())
        && password.chars().any(|c| c.is_ascii_lowercase())
        && password.chars().any(|c| c.is_ascii_digit())
}

/// Upstream's refusal of a weak password, as the proxy passes it on *(sim wording)*.
pub(super) const BAD_PASSWORD: &str = "Invalid password: it must be 10-20 characters of a-z, A-Z, \
     0-9 and !@#$^&*()~ with at least one capital letter, one small letter and one digit";

/// `POST /service/server/password`: one command per matched server.
pub(super) fn password(st: &mut State, p: &Params, now: SimMillis) -> Response {
    let Some(password) = params::non_empty(p, "password") else {
        return missing("password");
    };
    // The proxy's schema names this command's handler `terminateServer` (a copy-paste slip).
    let (selector, found) = match select_some(st, p, Handler::Method("terminateServer")) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    if params::truthy(p, "dryrun") {
        return dry_run(st, &selector, &found);
    }
    if !password_valid(&password) {
        return error_500(BAD_PASSWORD);
    }
    let scheduled = found
        .into_iter()
        .map(|seq| {
            let name = st.server(seq).map(|s| s.name.clone()).unwrap_or_default();
            let new = NewCommand {
                kind: OpKind::PasswordReset,
                server_seq: seq,
                success_log: format!("Resetting password of server {name}\nDone"),
                power_on_after: false,
                forced_outcome: None,
            };
            st.schedule(now, new)
        })
        .collect();
    ids(scheduled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_proxy_rule() {
        assert_eq!(name_problem("node-1_(a)"), None);
        assert_eq!(
            name_problem("abc").as_deref(),
            Some("less then 4 characters")
        );
        assert_eq!(
            name_problem(&"a".repeat(41)).as_deref(),
            Some("more then 40 characters")
        );
        assert!(name_problem("a.bcd").is_some_and(|m| m.starts_with("disallowed character: '.'")));
    }

    #[test]
    fn passwords_follow_the_create_rule() {
        assert!(password_valid("Passw0rd123"));
        assert!(password_valid("Abcdefgh1~"));
        assert!(!password_valid("Short1A"));
        assert!(!password_valid("alllowercase1"));
        assert!(!password_valid("NoDigitsHere"));
        assert!(!password_valid("Has space 12A"));
        assert!(!password_valid(&format!("Aa1{}", "x".repeat(18))));
    }
}
