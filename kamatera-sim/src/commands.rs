//! Asynchronous commands: scheduling, lazy completion against the clock, and queue views.

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::clock::{SimMillis, format_timestamp};
use crate::config::{CreateVisibility, PhaseDurations};
use crate::model::{OpKind, Outcome, Power, SimCommand, StatusChange};
use crate::state::State;

#[derive(Debug, Clone)]
pub(crate) struct Command {
    pub(crate) id: u64,
    pub(crate) kind: OpKind,
    pub(crate) server_seq: u64,
    pub(crate) server_id: String,
    pub(crate) server_name: String,
    added: SimMillis,
    executed: SimMillis,
    /// `None` for stuck commands.
    completed: Option<SimMillis>,
    outcome: Outcome,
    success_log: String,
    hidden_polls: u32,
    power_on_after: bool,
}

/// What a caller asks to schedule.
pub(crate) struct NewCommand {
    pub(crate) kind: OpKind,
    pub(crate) server_seq: u64,
    pub(crate) success_log: String,
    pub(crate) power_on_after: bool,
    /// Overrides the rule-chosen outcome (terminate of a running server without force).
    pub(crate) forced_outcome: Option<Outcome>,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Command {
    fn status_at(&self, now: SimMillis) -> Option<&'static str> {
        if self.outcome == Outcome::MissingStatus {
            return None;
        }
        Some(if now < self.executed {
            "pending"
        } else {
            match self.completed {
                Some(done) if now >= done => terminal_status(&self.outcome),
                _ => "progress",
            }
        })
    }

    fn is_done(&self, now: SimMillis) -> bool {
        self.completed.is_some_and(|done| now >= done)
    }

    /// The log grows while a command runs, as the real queue's does (docs/kamatera-api.md):
    /// empty while pending, every line but the last while in progress (so a create shows its
    /// `Name:` line early), the whole log at the end.
    fn log_at(&self, now: SimMillis) -> String {
        if now < self.executed {
            return String::new();
        }
        if !self.is_done(now) {
            return self
                .success_log
                .rsplit_once('\n')
                .map_or_else(String::new, |(so_far, _last)| so_far.to_owned());
        }
        match &self.outcome {
            Outcome::Error { log }
            | Outcome::Cancelled { log }
            | Outcome::ErrorKeepsServer { log } => log.clone(),
            _ => self.success_log.clone(),
        }
    }

    fn history(&self, now: SimMillis, epoch: i64) -> Vec<StatusChange> {
        let label = |s: &str| {
            if self.outcome == Outcome::MissingStatus {
                "(none)".to_owned()
            } else {
                s.to_owned()
            }
        };
        let mut steps = vec![(label("pending"), self.added)];
        if now >= self.executed {
            steps.push((label("progress"), self.executed));
        }
        if let Some(done) = self.completed.filter(|d| now >= *d) {
            steps.push((label(terminal_status(&self.outcome)), done));
        }
        steps
            .into_iter()
            .map(|(status, at_ms)| StatusChange {
                status,
                at_ms,
                at: format_timestamp(epoch, at_ms),
            })
            .collect()
    }
}

impl Command {
    /// Percent done: 0 while pending, the share of the progress phase elapsed, 100 once terminal.
    fn progress_percent(&self, now: SimMillis) -> u64 {
        match self.completed {
            _ if now < self.executed => 0,
            Some(done) if now >= done => 100,
            Some(done) => (now - self.executed)
                .saturating_mul(100)
                .checked_div(done - self.executed)
                .unwrap_or(0)
                .min(99),
            // A stuck command never gets anywhere.
            None => 50,
        }
    }

    /// The `GET /svc/queue` row (see docs/kamatera-api.md, "Server administration").
    fn recent_row(&self, now: SimMillis, epoch: i64) -> Value {
        let at = |t: SimMillis| {
            if now >= t {
                json!(format_timestamp(epoch, t))
            } else {
                Value::Null
            }
        };
        let exit_code = if self.is_done(now) {
            json!(u8::from(terminal_status(&self.outcome) != "complete"))
        } else {
            Value::Null
        };
        json!({
            "id": self.id,
            "commandInfo": self.kind.description(),
            "dtCreate": at(self.added),
            "dtExecute": at(self.executed),
            "dtComplete": self.completed.map_or(Value::Null, at),
            "exitCode": exit_code,
            "progress": self.progress_percent(now),
            "serviceName": self.server_name,
        })
    }
}

fn terminal_status(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Error { .. } | Outcome::ErrorKeepsServer { .. } => "error",
        Outcome::Cancelled { .. } => "cancelled",
        _ => "complete",
    }
}

impl State {
    fn durations_for(&self, kind: OpKind, name: &str) -> PhaseDurations {
        let t = &self.behaviour.timings;
        let default = match kind {
            OpKind::Create => t.create,
            OpKind::Terminate => t.terminate,
            OpKind::PowerOn => t.power_on,
            OpKind::PowerOff => t.power_off,
            OpKind::Reboot => t.reboot,
            OpKind::Suspend => t.suspend,
            OpKind::Resume => t.resume,
            OpKind::Rename => t.rename,
            OpKind::PasswordReset => t.password_reset,
            OpKind::Configure => t.configure,
            OpKind::DiskAdd | OpKind::DiskRemove | OpKind::DiskResize => t.disk,
            OpKind::NicAdd | OpKind::NicConnect | OpKind::NicDisconnect => t.network,
            OpKind::SnapshotCreate | OpKind::SnapshotDelete | OpKind::SnapshotRevert => t.snapshot,
            OpKind::HdlibClone => t.hdlib,
        };
        self.timings
            .iter()
            .rev()
            .find(|r| r.rule.kind.is_none_or(|k| k == kind) && r.name_matches(name))
            .map_or(default, |r| r.rule.durations)
    }

    fn outcome_for(&mut self, kind: OpKind, name: &str) -> Outcome {
        let rule = self.outcomes.iter_mut().find(|r| {
            r.rule.kind.is_none_or(|k| k == kind) && r.rule.times != Some(0) && r.name_matches(name)
        });
        match rule {
            Some(r) => {
                if let Some(n) = r.rule.times.as_mut() {
                    *n -= 1;
                }
                r.rule.outcome.clone()
            }
            None => Outcome::Complete,
        }
    }

    /// Schedules a command against the server at `server_seq`; returns its id.
    pub(crate) fn schedule(&mut self, now: SimMillis, new: NewCommand) -> u64 {
        let (server_id, server_name) = self
            .server(new.server_seq)
            .map(|s| (s.id.clone(), s.name.clone()))
            .unwrap_or_default();
        let outcome = new
            .forced_outcome
            .unwrap_or_else(|| self.outcome_for(new.kind, &server_name));
        let durations = self.durations_for(new.kind, &server_name);
        let executed = now.saturating_add(millis(durations.pending));
        let completed =
            (outcome != Outcome::Stuck).then(|| now.saturating_add(millis(durations.total())));
        let id = self.next_command;
        self.next_command += 1;
        if let Some(done) = completed {
            self.due.insert((done, id));
        }
        let command = Command {
            id,
            kind: new.kind,
            server_seq: new.server_seq,
            server_id,
            server_name,
            added: now,
            executed,
            completed,
            outcome,
            success_log: new.success_log,
            hidden_polls: self.behaviour.queue_hidden_polls,
            power_on_after: new.power_on_after,
        };
        self.commands.insert(id, command);
        self.record_action(new.server_seq, new.kind.description(), now);
        id
    }

    /// Applies the effects of every command that has finished by `now`.
    pub(crate) fn settle(&mut self, now: SimMillis) {
        while let Some(&(done, id)) = self.due.first() {
            if done > now {
                break;
            }
            self.due.remove(&(done, id));
            if let Some(cmd) = self.commands.get(&id).cloned() {
                self.apply(&cmd);
            }
        }
    }

    fn apply(&mut self, cmd: &Command) {
        let effect = self.effects.remove(&cmd.id);
        let success = matches!(cmd.outcome, Outcome::Complete | Outcome::MissingStatus);
        if cmd.kind.is_resource_change() {
            let at = cmd.completed.unwrap_or(cmd.executed);
            self.finish_resource_command(cmd.id, success, at);
            return;
        }
        match cmd.outcome {
            Outcome::CompleteKeepsServer => return,
            Outcome::ErrorKeepsServer { .. } => {
                // Half-created: visible and off, whatever the create asked for.
                if cmd.kind == OpKind::Create
                    && let Some(s) = self.server_mut(cmd.server_seq)
                {
                    s.visible = true;
                    s.power = Power::Off;
                }
                return;
            }
            _ => {}
        }
        match (cmd.kind, success) {
            (OpKind::Create, true) => {
                if let Some(s) = self.server_mut(cmd.server_seq) {
                    s.visible = true;
                    if cmd.power_on_after {
                        s.power = Power::On;
                    }
                }
            }
            (OpKind::Create, false) | (OpKind::Terminate, true) => {
                self.remove_server(cmd.server_seq);
            }
            (OpKind::PowerOn | OpKind::Reboot, true) => {
                if let Some(s) = self.server_mut(cmd.server_seq) {
                    s.power = Power::On;
                    s.suspended = false;
                }
            }
            (OpKind::PowerOff, true) => {
                if let Some(s) = self.server_mut(cmd.server_seq) {
                    s.power = Power::Off;
                    s.suspended = false;
                }
            }
            (OpKind::Suspend | OpKind::Resume | OpKind::Rename | OpKind::Configure, true) => {
                self.apply_admin(cmd.kind, cmd.server_seq, effect)
            }
            _ => {}
        }
    }

    /// Queue items for `ids`. Returns `None` when hidden commands should make this poll a 404.
    /// Unknown ids and hidden commands are left out.
    pub(crate) fn queue_items(
        &mut self,
        ids: &[u64],
        now: SimMillis,
        log_only: bool,
    ) -> (Vec<Value>, bool) {
        let epoch = self.initial.epoch_unix;
        let mut items = Vec::with_capacity(ids.len());
        let mut any_hidden = false;
        for id in ids {
            let Some(cmd) = self.commands.get_mut(id) else {
                continue;
            };
            if cmd.hidden_polls > 0 {
                cmd.hidden_polls -= 1;
                any_hidden = true;
                continue;
            }
            let log = cmd.log_at(now);
            if log_only {
                items.push(json!({ "log": log }));
                continue;
            }
            let mut item = Map::new();
            item.insert("id".into(), json!(cmd.id));
            if let Some(status) = cmd.status_at(now) {
                item.insert("status".into(), json!(status));
            }
            item.insert("server".into(), json!(cmd.server_name));
            item.insert("description".into(), json!(cmd.kind.description()));
            item.insert("added".into(), json!(format_timestamp(epoch, cmd.added)));
            let at = |t: SimMillis| {
                if now >= t {
                    json!(format_timestamp(epoch, t))
                } else {
                    Value::Null
                }
            };
            item.insert("executed".into(), at(cmd.executed));
            item.insert("completed".into(), cmd.completed.map_or(Value::Null, at));
            item.insert("log".into(), json!(log));
            items.push(Value::Object(item));
        }
        (items, any_hidden)
    }

    /// The newest `limit` commands as `GET /svc/queue` rows, newest first.
    pub(crate) fn recent_rows(&self, now: SimMillis, limit: usize) -> Vec<Value> {
        let epoch = self.initial.epoch_unix;
        self.commands
            .values()
            .rev()
            .take(limit)
            .map(|c| c.recent_row(now, epoch))
            .collect()
    }

    pub(crate) fn command_views(&self, now: SimMillis) -> Vec<SimCommand> {
        let epoch = self.initial.epoch_unix;
        self.commands
            .values()
            .map(|c| SimCommand {
                id: c.id,
                kind: c.kind,
                server_id: c.server_id.clone(),
                server_name: c.server_name.clone(),
                outcome: c.outcome.clone(),
                status: c.status_at(now).map(str::to_owned),
                history: c.history(now, epoch),
            })
            .collect()
    }

    /// Whether the create visibility mode hides new servers until completion.
    pub(crate) fn creates_are_hidden(&self) -> bool {
        self.behaviour.create_visibility == CreateVisibility::AtCompletion
    }
}
