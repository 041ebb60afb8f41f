//! A stateful simulator of the Kamatera cloud server API (`cloudcli.cloudwm.com`), served over
//! HTTP on loopback, for tests, demos and benchmarks.
//!
//! It implements the wire contract independently of the `kamatera-api` client: same paths,
//! methods, `AuthClientId`/`AuthSecret` headers, JSON shapes, error messages and quirks
//! (regex name selection, `billingCycle` ignored, string vs numeric command ids, ...).
//!
//! # Standalone
//!
//! ```text
//! cargo run -p kamatera-sim -- --listen 127.0.0.1:8088
//! cargo run -p kamatera-sim -- --listen 127.0.0.1:8088 --client-id id --secret s --clock real --scale 10
//! ```
//!
//! The binary runs until SIGINT/SIGTERM. With the default virtual clock, move time with
//! `curl -XPOST localhost:8088/__sim/clock/advance -d '{"seconds":5}'`.
//!
//! # In tests
//!
//! ```no_run
//! # async fn demo() -> Result<(), kamatera_sim::SimError> {
//! use std::time::Duration;
//! use kamatera_sim::{SeedServer, SimConfig, Simulator};
//!
//! let (url, sim) = Simulator::start(SimConfig::default().with_credentials("id", "secret")).await?;
//! sim.seed_server(SeedServer::new("existing").tags(["k8sca-c1"]))?;
//! // ... point the client at `url`, POST /service/server ...
//! sim.advance(Duration::from_secs(5)); // the create command completes
//! assert_eq!(sim.counters().get("POST /service/server"), None);
//! sim.shutdown().await?;
//! # let _ = url; Ok(()) }
//! ```
//!
//! # API endpoints served
//!
//! `GET /`, `GET /service/servers`, `POST /service/server/info`, `POST /service/server`,
//! `POST /service/server/terminate`, `POST /service/server/poweron|poweroff|reboot`,
//! `POST /server/tags`, `GET /service/queue?id=A%20B[&log=true]`, `GET /service/server`
//! (`?datacenter=1`, `?images=1&datacenter=`, `?capabilities=1&datacenter=`, `?sizes=1&datacenter=`),
//! `POST /service/server/ssh`; server administration: `POST /service/server/suspend|resume`,
//! `/service/server/rename`, `/service/server/password`, `/server/configure`,
//! `/server/description`, `/server/history`, `/server/report`, `/server/statistics`,
//! `/service/server/sshkey`, `/service/cloneServer` and `GET /svc/queue` (see
//! `docs/kamatera-api.md`, "Server administration");
//! server resources: `POST /server/disk|network|snapshot|hdlib` (exactly one server);
//! private networks: `GET /service/networks`, `POST /service/network/create|delete`,
//! `GET /service/network/subnets`, `POST /service/network/subnet/create|edit|delete`.
//! Parameters come from the query string merged with a JSON or form-encoded body (the body
//! wins).
//!
//! # Model
//!
//! * Every state-changing call creates commands that go `pending` → `progress` → terminal, at
//!   times derived from [`Timings`] (or [`TimingRule`]s) and the clock. Effects (power flips,
//!   servers appearing or vanishing) happen exactly when the command completes.
//! * Creates: the server is listed powered off from submission with its tags, and turned on at
//!   completion when `poweronaftercreate=yes` ([`CreateVisibility::FromSubmission`], default), or
//!   only appears at completion ([`CreateVisibility::AtCompletion`]). A failed or cancelled create
//!   removes its server. Duplicate names are allowed by default ([`NameCollision::AllowDuplicates`]);
//!   [`NameCollision::Suffix`] yields `<name>-1`, `<name>-2`, ...
//! * Terminate: listed until completion ([`TerminateVisibility`]). `force` other than `true` on a
//!   powered-on server ends in `error` with log `Server is powered on`.
//! * Powering off an off server completes without change; reboot leaves the server on.
//! * Disk, NIC, snapshot and disk-library changes are commands too (`Timings::disk`,
//!   `network`, `snapshot`, `hdlib`); a server runs one of them at a time. Private networks
//!   and subnets change at once (their calls answer `{"message": ...}`). Every NIC has a
//!   unique MAC; LAN addresses come from the network's subnets. See docs/kamatera-api.md.
//!
//! # Control API (`/__sim/...`, JSON, no auth, not logged, never faulted)
//!
//! | Method and path | Body | Effect / answer |
//! |---|---|---|
//! | `GET /__sim/state` | – | `{now_ms, now, servers, commands, counters, resources}` (`resources`: private networks with subnets, private images, snapshot rows) |
//! | `GET /__sim/servers` | – | every server ([`SimServer`]), including not-yet-visible ones |
//! | `POST /__sim/servers` | a [`SeedServer`] or an array | seeds servers; `{"ids": [...]}` |
//! | `POST /__sim/networks` | a [`SeedNetwork`] or an array | seeds private networks; `{"names": [...]}` |
//! | `GET /__sim/commands` | – | every command ([`SimCommand`]) with its status history |
//! | `GET /__sim/requests` | – | the request log ([`RequestRecord`]s) |
//! | `GET /__sim/counters` | – | `{"GET /service/servers": 3, ...}` |
//! | `POST /__sim/reset` | – | forget everything, restore the start-up behaviour (the clock keeps its time) |
//! | `GET /__sim/clock` | – | `{now_ms, now}` |
//! | `POST /__sim/clock/advance` | `{"ms": N}` and/or `{"seconds": N}` | moves simulated time |
//! | `GET /__sim/behaviour` | – | the current [`Behaviour`] |
//! | `PATCH /__sim/behaviour` | partial [`Behaviour`] JSON | deep-merged into the current one |
//! | `PUT /__sim/behaviour` | [`Behaviour`] JSON | replaces it (missing fields take defaults) |
//! | `GET /__sim/rules` | – | `{faults, outcomes, timings}` with rule ids |
//! | `POST /__sim/faults` | a [`FaultRule`] or an array | `{"ids": [...]}` |
//! | `POST /__sim/outcomes` | an [`OutcomeRule`] or an array | `{"ids": [...]}` |
//! | `POST /__sim/timings` | a [`TimingRule`] or an array | `{"ids": [...]}` |
//! | `DELETE /__sim/faults` (`outcomes`, `timings`) | – | removes all rules of that kind |
//! | `DELETE /__sim/rules/{id}` | – | removes one rule of any kind |
//!
//! Examples of rule bodies:
//!
//! ```text
//! {"method":"GET","path":"/service/servers","action":{"type":"respond","status":504,"text":"Gateway Timeout"},"times":4}
//! {"method":"POST","path":"/service/server","body":{"name":"node-1"},"action":{"type":"drop_after_apply"}}
//! {"path":"*","action":{"type":"delay","ms":2000},"probability":0.1}
//! {"kind":"create","name":"big-.*","outcome":{"type":"error","log":"Insufficient resources"},"times":1}
//! {"kind":"create","durations":{"pending_ms":1000,"progress_ms":60000}}
//! {"method":"GET","path":"/service/servers","action":{"type":"omit_rows","name":"k8s-ng1-.*"},"times":1}
//! {"method":"GET","path":"/service/servers","action":{"type":"add_rows","rows":[{"id":"x","name":"odd","datacenter":null,"power":"on"}]}}
//! {"kind":"terminate","outcome":{"type":"complete_keeps_server"},"times":1}
//! {"method":"GET","path":"/service/servers","action":{"type":"respond","status":429,"json":{"message":"Too Many Attempts."},"headers":{"Retry-After":"5"}}}
//! {"method":"GET","path":"/service/servers","action":{"type":"respond","status":200,"text":"<html>...</html>","content_type":"text/html"}}
//! {"method":"GET","path":"/service/servers","action":{"type":"huge_body","bytes":104857600,"declare_length":false}}
//! {"method":"GET","path":"/service/servers","action":{"type":"trickle","interval_ms":1000}}
//! {"kind":"create","durations":{"pending_ms":18446744073709551615,"progress_ms":0}}
//! ```
//!
//! # Faults, outcomes and switches
//!
//! Request pipeline: count and log the request, evaluate fault rules (so faults fire even for
//! bad credentials), check credentials, run the handler.
//!
//! * Fault actions: `respond` (status plus `json`, or raw `text`, with optional extra
//!   `headers` and `content_type`; [`faults::MALFORMED_LIST`],
//!   [`faults::MALFORMED_COMMAND_IDS`], [`faults::MALFORMED_TAGS`] and [`faults::MALFORMED_QUEUE`]
//!   hold the bad payloads, [`FaultRule::info_transient`] the flaky-info answer), `delay` (real
//!   time, so client timeouts can be exercised), `drop_after_apply` (the handler runs, then the
//!   connection is aborted before any response byte: the client sees an empty reply) and
//!   `drop_before_apply`. Row edits run the handler and then change its JSON array answer:
//!   `omit_rows` (rows whose `name` fully matches a regex are left out: a short list),
//!   `add_rows` (rows appended as given: odd rows) and `patch_rows` (fields set on the rows
//!   whose `name` matches). Shorthands: [`FaultRule::empty_list`] (a `200 []` list glitch),
//!   [`FaultRule::list_without`], [`FaultRule::list_with_extra_rows`] and
//!   [`FaultRule::tags_missing`] (a tag answer without the tags). `times` limits a rule to the next N matching calls; `probability` fires
//!   it from the RNG seeded by [`SimConfig::seed`]. Delays add up; the first other firing rule wins.
//!
//! ## Fault modes of a failing API
//!
//! * Rate limits: [`FaultRule::rate_limited`] answers 429 `{"message":"Too Many Attempts."}`
//!   with `Retry-After: N` or without it.
//! * Proxy pages and odd bodies: [`FaultRule::html_page`] (nginx's error page as
//!   `text/html`, on any status, 200 included); `respond` with `text` for plain text,
//!   truncated or non-JSON bodies, and `content_type` to send JSON under the wrong type.
//! * Huge bodies: `huge_body` ([`FaultRule::huge_body`]) streams a 200 JSON list of exactly
//!   `bytes` bytes, with a `Content-Length` (`declare_length`) or chunked; it is never held
//!   in memory.
//! * Bodies that never end: `trickle` ([`FaultRule::trickle`]) sends the 200 headers at
//!   once and then one byte of a JSON array every `interval_ms`, until the client hangs up.
//!   Both streamed modes are never wrapped by `X-CLOUDCLI-STATUSINJSON` and stop at shutdown.
//! * Commands that never complete: [`TimingRule::never_completes`] keeps commands of a kind
//!   `pending` for ever on either clock (an [`Outcome::Stuck`] one stays in `progress`).
//! * Rotated or revoked keys: [`SimHandle::set_credentials`] (or `PATCH /__sim/behaviour`
//!   with `credentials`) changes the accepted key at once; `auth_failure` refuses every key;
//!   [`AuthErrorMode`] picks 401, 403 or the proxy's 200 `{"errors":[...]}` on `GET`.
//! * Outcomes ([`Outcome`]): `complete`, `error` / `cancelled` (with `log`, e.g.
//!   `Insufficient resources`), `missing_status` (items lack the `status` key; the effect still
//!   happens), `stuck` (`progress` for ever), `error_keeps_server` (a create reports `error`
//!   but leaves its server listed, powered off, with its tags) and `complete_keeps_server`
//!   (a terminate reports `complete` and the server stays listed).
//! * [`Behaviour`] switches: `credentials`, `auth_failure` (every call fails auth),
//!   `auth_error_mode` (`unauthorized`, `forbidden` or `ok_with_errors_on_get`), `legacy_tag_rows`,
//!   `queue_hidden_polls` with `queue_hidden_mode` (`empty_array` or `not_found`), the visibility
//!   modes, `name_collision` and `timings`.
//! * `X-CLOUDCLI-STATUSINJSON: true` wraps any answer as HTTP 200 `{"response": ..., "status": ...}`.
//!
//! Queue items carry `id` as a number, `status`, `server` (name), `description`, `added`,
//! `executed` and `completed` (`null` until reached) and `log` (empty while pending, every
//! line but the last while in progress, complete at the end). Unknown ids are left out, so
//! polling one gives `[]`. Command ids are never reused, not even across a reset.

mod clock;
mod commands;
mod config;
mod control;
mod effects;
mod error;
pub mod faults;
mod fixtures;
mod handle;
mod model;
mod networks;
mod reports;
mod resources;
mod routes;
mod server;
mod specs;
mod state;

pub use config::{
    AuthErrorMode, Behaviour, ClockMode, CreateVisibility, Credentials, NameCollision,
    PhaseDurations, PriceAnswer, QueueHiddenMode, SimConfig, TerminateVisibility, Timings,
};
pub use error::SimError;
pub use faults::{FaultAction, FaultRule};
pub use handle::SimHandle;
pub use model::{
    HistoryEntry, Nic, OpKind, Outcome, OutcomeRule, Power, RequestRecord, SeedNetwork, SeedNic,
    SeedServer, SimCommand, SimServer, StatusChange, TimingRule,
};
pub use server::Simulator;
