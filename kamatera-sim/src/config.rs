//! Simulator configuration: fixed start-up settings plus the runtime-adjustable [`Behaviour`].

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Start-up configuration of a simulator instance.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SimConfig {
    /// How simulated time passes. Fixed for the life of the instance.
    pub clock: ClockMode,
    /// Seed for every random choice (ids, IPs, generated passwords, fault probabilities).
    pub seed: u64,
    /// Unix time (seconds) that simulated time zero corresponds to, for queue timestamps.
    pub epoch_unix: i64,
    /// How many requests the request log keeps (older ones are dropped; counters keep counting).
    pub request_log_capacity: usize,
    /// The account id in private network names (`lan-<account>-<name>`).
    pub account_id: String,
    /// Behaviour that can also be changed at runtime (`PATCH /__sim/behaviour`).
    pub behaviour: Behaviour,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            clock: ClockMode::Virtual,
            seed: 0x6b61_6d61,
            // 2026-01-01 00:00:00 UTC: a fixed epoch keeps virtual-clock timestamps reproducible.
            epoch_unix: 1_767_225_600,
            request_log_capacity: 10_000,
            account_id: "100200".to_owned(),
            behaviour: Behaviour::default(),
        }
    }
}

impl SimConfig {
    /// Sets the clock mode.
    #[must_use]
    pub fn with_clock(mut self, clock: ClockMode) -> Self {
        self.clock = clock;
        self
    }

    /// Sets the random seed.
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Requires these credentials on every API call.
    #[must_use]
    pub fn with_credentials(
        mut self,
        client_id: impl Into<String>,
        secret: impl Into<String>,
    ) -> Self {
        self.behaviour.credentials = Some(Credentials {
            client_id: client_id.into(),
            secret: secret.into(),
        });
        self
    }

    /// Replaces the runtime behaviour.
    #[must_use]
    pub fn with_behaviour(mut self, behaviour: Behaviour) -> Self {
        self.behaviour = behaviour;
        self
    }
}

/// How simulated time passes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ClockMode {
    /// Time stands still until advanced through `SimHandle::advance` or `POST /__sim/clock/advance`.
    Virtual,
    /// Wall time multiplied by `scale` (2.0 runs twice as fast). Can still be advanced by hand.
    Real {
        /// Speed-up factor; non-positive values are treated as 1.
        scale: f64,
    },
}

/// The API credentials the simulator expects in `AuthClientId` / `AuthSecret`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// Expected `AuthClientId` header value.
    pub client_id: String,
    /// Expected `AuthSecret` header value.
    pub secret: String,
}

/// How an authentication failure is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuthErrorMode {
    /// HTTP 401 with `{"message":"{\"errors\":[...you are not logged in...]}"}` everywhere.
    #[default]
    Unauthorized,
    /// Like `Unauthorized`, except `GET` list/options endpoints answer HTTP 200 with the raw
    /// upstream `{"errors":[...]}` object, as the proxy does.
    OkWithErrorsOnGet,
    /// HTTP 403 with the same body everywhere: a revoked key behind a gateway that refuses
    /// it (a simulator choice; the real status for a revoked key is not documented).
    Forbidden,
}

/// When a server being created shows up in list/info/tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CreateVisibility {
    /// Listed from submission, powered off, with its tags; turned on at completion when
    /// `poweronaftercreate=yes`.
    #[default]
    FromSubmission,
    /// Invisible until the create command completes.
    AtCompletion,
}

/// When a server being terminated disappears.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TerminateVisibility {
    /// Listed until the terminate command completes.
    #[default]
    UntilCompletion,
    /// Removed as soon as the terminate request is accepted.
    RemovedAtSubmission,
}

/// What happens when a create request reuses an existing server name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum NameCollision {
    /// Duplicates are created as requested (the default: the real behaviour is unconfirmed).
    #[default]
    AllowDuplicates,
    /// The new server gets `<name>-1`, `<name>-2`, ... as reported for the real service.
    Suffix,
}

/// How commands that are not yet visible in the queue are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum QueueHiddenMode {
    /// The item is left out, so a single-id poll returns HTTP 200 `[]`.
    #[default]
    EmptyArray,
    /// HTTP 404 `{"json_decode_error":null}` when no requested item is visible.
    NotFound,
}

/// Time a command spends in `pending` and then in `progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseDurations {
    /// Time in `pending` (milliseconds in JSON as `pending_ms`).
    #[serde(rename = "pending_ms", with = "duration_ms")]
    pub pending: Duration,
    /// Time in `progress` before the terminal status (`progress_ms` in JSON).
    #[serde(rename = "progress_ms", with = "duration_ms")]
    pub progress: Duration,
}

impl PhaseDurations {
    /// Builds a pair of phase durations.
    #[must_use]
    pub fn new(pending: Duration, progress: Duration) -> Self {
        Self { pending, progress }
    }

    pub(crate) fn total(&self) -> Duration {
        self.pending.saturating_add(self.progress)
    }
}

/// Default phase durations per operation kind: create about 5 s, power/terminate 1–2 s
/// (a simulator choice; the real API documents none, see docs/kamatera-api.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Timings {
    /// `POST /service/server`.
    pub create: PhaseDurations,
    /// `POST /service/server/terminate`.
    pub terminate: PhaseDurations,
    /// `POST /service/server/poweron`.
    pub power_on: PhaseDurations,
    /// `POST /service/server/poweroff`.
    pub power_off: PhaseDurations,
    /// `POST /service/server/reboot`.
    pub reboot: PhaseDurations,
    /// `POST /service/server/suspend`.
    pub suspend: PhaseDurations,
    /// `POST /service/server/resume`.
    pub resume: PhaseDurations,
    /// `POST /service/server/rename`.
    pub rename: PhaseDurations,
    /// `POST /service/server/password`.
    pub password_reset: PhaseDurations,
    /// `POST /server/configure`.
    pub configure: PhaseDurations,
    /// `POST /server/disk` changes (add, remove, resize).
    pub disk: PhaseDurations,
    /// `POST /server/network` changes (add, connect, disconnect).
    pub network: PhaseDurations,
    /// `POST /server/snapshot` changes (create, delete, revert).
    pub snapshot: PhaseDurations,
    /// `POST /server/hdlib` clones.
    pub hdlib: PhaseDurations,
}

impl Default for Timings {
    fn default() -> Self {
        let ms = Duration::from_millis;
        let quick = PhaseDurations::new(ms(500), ms(1000));
        Self {
            create: PhaseDurations::new(ms(1000), ms(4000)),
            terminate: quick,
            power_on: quick,
            power_off: quick,
            reboot: PhaseDurations::new(ms(500), ms(1500)),
            suspend: quick,
            resume: quick,
            rename: quick,
            password_reset: quick,
            // A resize or billing change is heavier than a power flip.
            configure: PhaseDurations::new(ms(500), ms(2500)),
            disk: PhaseDurations::new(ms(500), ms(2000)),
            network: quick,
            snapshot: PhaseDurations::new(ms(500), ms(2000)),
            hdlib: PhaseDurations::new(ms(1000), ms(4000)),
        }
    }
}

/// Behaviour switches that tests may flip while the simulator runs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Behaviour {
    /// Expected credentials; `None` accepts any (or no) credentials.
    pub credentials: Option<Credentials>,
    /// How authentication failures are reported.
    pub auth_error_mode: AuthErrorMode,
    /// When true every API call fails authentication, whatever headers it carries.
    pub auth_failure: bool,
    /// Default per-operation phase durations.
    pub timings: Timings,
    /// Visibility of servers being created.
    pub create_visibility: CreateVisibility,
    /// Visibility of servers being terminated.
    pub terminate_visibility: TerminateVisibility,
    /// Handling of duplicate names on create.
    pub name_collision: NameCollision,
    /// Tag rows use the pre-2024 `{"server id","tag name"}` keys.
    pub legacy_tag_rows: bool,
    /// Each new command is invisible to the first N queue polls that ask for it.
    pub queue_hidden_polls: u32,
    /// How invisible commands are answered.
    pub queue_hidden_mode: QueueHiddenMode,
    /// Prices `POST /service/server/info` answers, by server-name prefix (the longest
    /// matching prefix wins); a server no prefix matches is priced from its shape.
    pub prices: BTreeMap<String, PriceAnswer>,
}

/// The prices server info gives for the servers a [`Behaviour::prices`] prefix matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceAnswer {
    /// These price strings, as sent (`priceMonthlyOn`, `priceHourlyOn`, `priceHourlyOff`).
    Fixed {
        /// `priceMonthlyOn`.
        monthly_on: String,
        /// `priceHourlyOn`.
        hourly_on: String,
        /// `priceHourlyOff` (the real proxy copies the on-price here).
        hourly_off: String,
    },
    /// The API's price lookup fails: every price is `""`.
    LookupFails,
}

pub(crate) mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaviour_patch_round_trips_through_json() {
        let json = serde_json::json!({"legacy_tag_rows": true, "timings": {"create": {"pending_ms": 10, "progress_ms": 20}}});
        let b: Behaviour = serde_json::from_value(json).unwrap_or_default();
        assert!(b.legacy_tag_rows);
        assert_eq!(b.timings.create.total(), Duration::from_millis(30));
        assert_eq!(b.timings.terminate, Timings::default().terminate);
    }
}
