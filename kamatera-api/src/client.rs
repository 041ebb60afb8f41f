//! The client, its builder, and the one request pipeline every call goes through.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use backon::Retryable;
use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use url::Url;

use crate::answer::{self, Expect};
use crate::decode::{decode, upstream_error_object};
use crate::endpoint::Endpoint;
use crate::error::{ApiError, Error, NOT_JSON};
use crate::model::CommandId;
use crate::observe::{RequestEvent, RequestObserver, RequestOutcome};
use crate::retry::RetryPolicy;

/// The base URL every official Kamatera tool uses.
pub const DEFAULT_BASE_URL: &str = "https://cloudcli.cloudwm.com";

/// Default per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Default cap on the size of one answer: 64 MiB. The largest real answer, the list of
/// every server of a big account, takes about 150 bytes per server in its compact form
/// (around 7 MiB for 50,000 servers); an answer far larger is a runaway proxy or the
/// wrong URL, and reading it would only exhaust the process's memory.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// Default bound on the wait a `Retry-After` header may ask for.
pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The pause after a 429 without `Retry-After`; it doubles with each 429 in a row, up to
/// the retry policy's `max_delay`.
const DEFAULT_RATE_LIMIT_PAUSE: Duration = Duration::from_secs(1);

/// A Kamatera API client.
///
/// Cheap to clone (it shares one connection pool) and safe to use from many tasks at once.
/// Dropping a call's future cancels it, including any retries still waiting.
///
/// ```no_run
/// # async fn demo() -> Result<(), kamatera_api::Error> {
/// let client = kamatera_api::Client::builder()
///     .credentials("my-client-id", "my-secret")
///     .build()?;
/// for server in client.list_servers().await? {
///     println!("{} {} {}", server.name, server.datacenter, server.power);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base_url: Url,
    keys: std::sync::RwLock<(SecretString, SecretString)>,
    timeout: Duration,
    retry: RetryPolicy,
    limiter: Option<DefaultDirectRateLimiter>,
    observer: Option<Arc<dyn RequestObserver>>,
    max_response_bytes: usize,
    max_retry_after: Duration,
    /// Set by a 429: no request of this client (or its clones) is sent before then.
    pause: std::sync::Mutex<RateLimitPause>,
}

/// The shared pause a 429 answer starts.
#[derive(Debug, Default)]
struct RateLimitPause {
    until: Option<Instant>,
    /// 429 answers in a row, for the pause without `Retry-After`.
    in_a_row: u32,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url.as_str())
            .field("credentials", &"<redacted>")
            .field("timeout", &self.inner.timeout)
            .field("retry", &self.inner.retry)
            .field("rate_limited", &self.inner.limiter.is_some())
            .finish()
    }
}

impl Client {
    /// Starts configuring a client.
    ///
    /// ```no_run
    /// # fn demo() -> Result<(), kamatera_api::Error> {
    /// use std::time::Duration;
    /// let client = kamatera_api::Client::builder()
    ///     .credentials("client id", "secret")
    ///     .timeout(Duration::from_secs(20))
    ///     .build()?;
    /// # let _ = client;
    /// # Ok(()) }
    /// ```
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The base URL requests go to.
    ///
    /// ```no_run
    /// # fn demo() -> Result<(), kamatera_api::Error> {
    /// let client = kamatera_api::Client::builder()
    ///     .base_url("http://127.0.0.1:8088")
    ///     .credentials("client id", "secret")
    ///     .build()?;
    /// assert_eq!(client.base_url().as_str(), "http://127.0.0.1:8088/");
    /// # Ok(()) }
    /// ```
    pub fn base_url(&self) -> &Url {
        &self.inner.base_url
    }

    /// Uses these credentials for every request from now on, in this client and all its
    /// clones (rotated API keys).
    pub fn set_credentials(
        &self,
        client_id: SecretString,
        secret: SecretString,
    ) -> Result<(), Error> {
        if client_id.expose_secret().is_empty() || secret.expose_secret().is_empty() {
            return Err(Error::Config {
                setting: "credentials",
                reason: "the API client id and secret must not be empty".into(),
            });
        }
        *self
            .inner
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = (client_id, secret);
        Ok(())
    }

    /// Sends one call and decodes a 200 answer as `T`. Idempotent calls are retried
    /// according to the retry policy; others are sent exactly once.
    pub(crate) async fn call<T: DeserializeOwned>(&self, call: Call) -> Result<T, Error> {
        self.call_with(call, |endpoint, body| decode(endpoint, body))
            .await
    }

    /// Sends a call that starts commands and decodes their ids, as many as `expect` says.
    pub(crate) async fn commands(
        &self,
        call: Call,
        expect: Expect,
    ) -> Result<Vec<CommandId>, Error> {
        self.call_with(call, |endpoint, body| {
            answer::command_ids(endpoint, body, expect)
        })
        .await
    }

    /// Sends a call that starts exactly one command and decodes its id.
    pub(crate) async fn command(&self, call: Call) -> Result<CommandId, Error> {
        self.call_with(call, answer::one_command_id).await
    }

    /// Sends a network call, which answers `{"message": …}` instead of command ids.
    pub(crate) async fn message(&self, call: Call) -> Result<answer::ApiMessage, Error> {
        self.call_with(call, answer::message).await
    }

    /// Like [`Client::call`] with a custom decoder for the 200 body.
    pub(crate) async fn call_with<T>(
        &self,
        call: Call,
        decoder: impl Fn(Endpoint, &[u8]) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let started = Instant::now();
        let attempt = std::sync::atomic::AtomicU32::new(0);
        let once = || async {
            let n = attempt.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            let body = self.send_once(&call, n).await?;
            decoder(call.endpoint, &body)
        };
        if !call.idempotent {
            // A change answered 429 was refused before it was carried out, so it is the
            // one error after which sending it again cannot do it twice. It goes out
            // again only after the refusal arrived and the pause is over: never two
            // copies in flight.
            let policy = &self.inner.retry;
            let mut attempts = 1;
            loop {
                match once().await {
                    Err(err)
                        if err.is_rate_limited()
                            && attempts < policy.max_attempts
                            && started.elapsed() < policy.max_elapsed =>
                    {
                        attempts += 1;
                        tracing::info!(endpoint = %call.endpoint, error = %err, attempt = attempts, "sending a change the API refused for its rate limit again");
                    }
                    result => return result,
                }
            }
        }
        let policy = &self.inner.retry;
        once.retry(policy.backoff())
            .sleep(tokio::time::sleep)
            .when(|err: &Error| err.is_retryable() && started.elapsed() < policy.max_elapsed)
            .notify(|err: &Error, delay: Duration| {
                tracing::warn!(endpoint = %call.endpoint, error = %err, ?delay, "retrying Kamatera API call");
            })
            .await
    }

    /// Waits while a 429 answer's pause lasts (it may be extended meanwhile).
    async fn wait_out_rate_limit(&self) {
        loop {
            let until = self
                .inner
                .pause
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .until;
            match until {
                Some(until) if until > Instant::now() => tokio::time::sleep_until(until).await,
                _ => return,
            }
        }
    }

    /// Records how an answer bears on the shared pause: a 429 starts or lengthens it
    /// (for `retry_after`, or a doubling default), anything else ends the run of 429s.
    /// Returns the wait that was asked for.
    fn note_rate_limit(&self, rate_limited: bool, retry_after: Option<&str>) -> Option<Duration> {
        let mut pause = self
            .inner
            .pause
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !rate_limited {
            pause.in_a_row = 0;
            return None;
        }
        let asked =
            retry_after.and_then(|value| parse_retry_after(value, std::time::SystemTime::now()));
        let bounded = asked.map(|wait| {
            if wait > self.inner.max_retry_after {
                tracing::warn!(asked = ?wait, bound = ?self.inner.max_retry_after, "Retry-After longer than the bound; waiting the bound");
            }
            wait.min(self.inner.max_retry_after)
        });
        let default = DEFAULT_RATE_LIMIT_PAUSE
            .saturating_mul(1 << pause.in_a_row.min(16))
            .min(self.inner.retry.max_delay.max(DEFAULT_RATE_LIMIT_PAUSE));
        pause.in_a_row = pause.in_a_row.saturating_add(1);
        let until = Instant::now() + bounded.unwrap_or(default);
        pause.until = Some(pause.until.map_or(until, |old| old.max(until)));
        bounded
    }

    async fn send_once(&self, call: &Call, attempt: u32) -> Result<Bytes, Error> {
        let inner = &self.inner;
        self.wait_out_rate_limit().await;
        if let Some(limiter) = &inner.limiter {
            limiter.until_ready().await;
        }
        let endpoint = call.endpoint;
        let url = call.url(&inner.base_url);
        let keys = inner
            .keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let mut request = inner
            .http
            .request(
                if endpoint.method() == "GET" {
                    reqwest::Method::GET
                } else {
                    reqwest::Method::POST
                },
                url,
            )
            .header("AuthClientId", keys.0.expose_secret())
            .header("AuthSecret", keys.1.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        let started = Instant::now();
        let limit = inner.max_response_bytes;
        let exchange = async {
            let mut response = request.send().await?;
            let status = response.status().as_u16();
            let header = |name: reqwest::header::HeaderName| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let retry_after = header(reqwest::header::RETRY_AFTER);
            let content_type = header(reqwest::header::CONTENT_TYPE);
            let body = read_capped(&mut response, limit).await?;
            Ok::<_, reqwest::Error>(Answer {
                status,
                retry_after,
                content_type,
                body,
            })
        };
        let result = match tokio::time::timeout(inner.timeout, exchange).await {
            Err(_) => Err(Error::Timeout {
                endpoint,
                after: inner.timeout,
            }),
            Ok(Err(source)) if source.is_timeout() => Err(Error::Timeout {
                endpoint,
                after: inner.timeout,
            }),
            Ok(Err(error)) => Err(Error::Transport { endpoint, error }),
            Ok(Ok(answer)) => {
                let retry_after =
                    self.note_rate_limit(answer.status == 429, answer.retry_after.as_deref());
                self.judge(endpoint, answer, retry_after)
            }
        };
        let elapsed = started.elapsed();
        let outcome = RequestOutcome::of(&result);
        tracing::debug!(
            endpoint = %endpoint,
            attempt,
            outcome = outcome.label(),
            elapsed_ms = elapsed.as_millis() as u64,
            "Kamatera API request"
        );
        if let Some(observer) = &inner.observer {
            observer.observe(&RequestEvent {
                endpoint,
                outcome,
                elapsed,
                attempt,
            });
        }
        result
    }
}

impl Client {
    /// What an answer that arrived whole (or was cut at the cap) means.
    fn judge(
        &self,
        endpoint: Endpoint,
        answer: Answer,
        retry_after: Option<Duration>,
    ) -> Result<Bytes, Error> {
        let Some(body) = answer.body else {
            return Err(Error::ResponseTooLarge {
                endpoint,
                limit: self.inner.max_response_bytes,
            });
        };
        match answer.status {
            429 => {
                let error = api_error(429, &body);
                Err(Error::RateLimited {
                    endpoint,
                    retry_after,
                    message: error.message.unwrap_or(error.body),
                })
            }
            200 => {
                if let Some(error) = upstream_error_object(&body) {
                    return Err(classify_error(endpoint, 200, error));
                }
                if let Some(page) = answer.content_type.as_deref().and_then(page_type) {
                    return Err(Error::InvalidResponse {
                        endpoint,
                        path: "$".into(),
                        reason: format!(
                            "{NOT_JSON}: the answer is a {page} page: {}",
                            snippet(&body)
                        ),
                    });
                }
                // Handed on as received: a copy would double a large list's memory.
                Ok(body)
            }
            status => Err(classify_error(endpoint, status, api_error(status, &body))),
        }
    }
}

/// One answer as read: `body` is `None` when it passed the size cap.
struct Answer {
    status: u16,
    retry_after: Option<String>,
    content_type: Option<String>,
    body: Option<Bytes>,
}

/// Reads the body chunk by chunk and stops at `limit` bytes (`None`): an answer is never
/// held in memory beyond the cap, whatever `Content-Length` says or does not say.
async fn read_capped(
    response: &mut reqwest::Response,
    limit: usize,
) -> Result<Option<Bytes>, reqwest::Error> {
    let declared = response.content_length().unwrap_or(0);
    if usize::try_from(declared).map_or(true, |declared| declared > limit) {
        return Ok(None);
    }
    let mut body = bytes::BytesMut::with_capacity(usize::try_from(declared).unwrap_or(0));
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body.freeze()))
}

/// The media type of a page (a proxy's or a login portal's error page), which no API
/// answer is, whatever the body looks like; `None` for other types (`application/json`,
/// none, or a `text/plain` some proxies put on JSON), which are judged by the body.
fn page_type(content_type: &str) -> Option<String> {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "text/html" | "application/xhtml+xml" | "text/xml" | "application/xml"
    )
    .then_some(essence)
}

/// The start of a body for an error message (at most 100 characters, one line).
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(100) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

/// Reads a `Retry-After` value: a number of seconds, or an HTTP date (the wait until it;
/// zero when it is past). Anything else is ignored.
pub(crate) fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Builds an [`ApiError`] from a non-200 answer, reading `message` when the body is JSON.
fn api_error(status: u16, body: &[u8]) -> ApiError {
    let text = String::from_utf8_lossy(body);
    let message = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|json| {
            json.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        });
    let mut body = text.trim().to_owned();
    if body.len() > ApiError::MAX_BODY {
        let mut cut = ApiError::MAX_BODY;
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        body.truncate(cut);
        body.push('…');
    }
    ApiError {
        status,
        message,
        body,
    }
}

/// Tells credential failures apart from other API errors: a 401/403, or the upstream
/// "you are not logged in" error in any wrapping.
fn classify_error(endpoint: Endpoint, status: u16, error: ApiError) -> Error {
    let not_logged_in = error
        .message
        .as_deref()
        .unwrap_or(&error.body)
        .contains("not logged in");
    if status == 401 || status == 403 || not_logged_in {
        let message = error.message.clone().unwrap_or_else(|| error.body.clone());
        return Error::Authentication { endpoint, message };
    }
    Error::Api {
        endpoint,
        error: Box::new(error),
    }
}

/// One API call: where it goes, what it carries, and whether it may be repeated safely.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) endpoint: Endpoint,
    pub(crate) query: Option<String>,
    pub(crate) body: Option<serde_json::Value>,
    pub(crate) idempotent: bool,
}

impl Call {
    /// A call that only reads and may be retried.
    pub(crate) fn read(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            query: None,
            body: None,
            idempotent: true,
        }
    }

    /// A call that changes something and is never retried automatically.
    pub(crate) fn mutate(endpoint: Endpoint, body: serde_json::Value) -> Self {
        Self {
            endpoint,
            query: None,
            body: Some(body),
            idempotent: false,
        }
    }

    /// A call that changes something, with its fields still to be added; never retried.
    pub(crate) fn change(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            query: None,
            body: None,
            idempotent: false,
        }
    }

    /// Sets a pre-encoded query string.
    pub(crate) fn with_query(mut self, query: String) -> Self {
        self.query = Some(query);
        self
    }

    /// Sets the query string from `key=value` pairs, form-encoding both.
    pub(crate) fn with_query_pairs<'a>(
        self,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.with_query(query)
    }

    /// Adds the fields of `fields` to the JSON body (which becomes an object).
    pub(crate) fn with_fields(
        mut self,
        fields: serde_json::Map<String, serde_json::Value>,
    ) -> Self {
        match &mut self.body {
            Some(serde_json::Value::Object(body)) => body.extend(fields),
            _ => self.body = Some(serde_json::Value::Object(fields)),
        }
        self
    }

    /// Adds one field to the JSON body (which becomes an object).
    pub(crate) fn with_field(self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        let mut fields = serde_json::Map::new();
        fields.insert(key.to_owned(), value.into());
        self.with_fields(fields)
    }

    /// Sets a JSON body.
    pub(crate) fn with_body(mut self, body: serde_json::Value) -> Self {
        self.body = Some(body);
        self
    }

    fn url(&self, base: &Url) -> Url {
        let mut url = base.clone();
        let base_path = base.path().trim_end_matches('/');
        url.set_path(&format!("{base_path}{}", self.endpoint.path()));
        url.set_query(self.query.as_deref());
        url
    }
}

/// Configures a [`Client`].
#[must_use]
pub struct ClientBuilder {
    base_url: String,
    client_id: Option<SecretString>,
    secret: Option<SecretString>,
    timeout: Duration,
    user_agent: String,
    retry: RetryPolicy,
    rate_limit: Option<NonZeroU32>,
    observer: Option<Arc<dyn RequestObserver>>,
    max_response_bytes: usize,
    max_retry_after: Duration,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            client_id: None,
            secret: None,
            timeout: DEFAULT_TIMEOUT,
            user_agent: concat!("kamatera-api/", env!("CARGO_PKG_VERSION")).to_owned(),
            retry: RetryPolicy::default(),
            rate_limit: None,
            observer: None,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            max_retry_after: DEFAULT_MAX_RETRY_AFTER,
        }
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field(
                "credentials_set",
                &(self.client_id.is_some() && self.secret.is_some()),
            )
            .field("timeout", &self.timeout)
            .field("user_agent", &self.user_agent)
            .field("retry", &self.retry)
            .field("rate_limit", &self.rate_limit)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("max_retry_after", &self.max_retry_after)
            .finish()
    }
}

impl ClientBuilder {
    /// API base URL (default [`DEFAULT_BASE_URL`]); point it at a simulator or a mock in
    /// tests. A path prefix is kept.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// API client id and secret (from the Kamatera console, "API keys"). Required.
    pub fn credentials(
        mut self,
        client_id: impl Into<SecretString>,
        secret: impl Into<SecretString>,
    ) -> Self {
        self.client_id = Some(client_id.into());
        self.secret = Some(secret.into());
        self
    }

    /// Time allowed for one request, from sending it to reading the whole answer
    /// (default 30 s). Retries each get the full timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// `User-Agent` header (default `kamatera-api/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Retry policy for idempotent calls (default [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The largest answer read, in bytes (default [`DEFAULT_MAX_RESPONSE_BYTES`]); a
    /// larger one is cut off unread and the call fails with
    /// [`Error::ResponseTooLarge`].
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// The longest wait a 429 answer's `Retry-After` is obeyed for (default
    /// [`DEFAULT_MAX_RETRY_AFTER`]); a longer one is cut to this and logged.
    pub fn max_retry_after(mut self, bound: Duration) -> Self {
        self.max_retry_after = bound;
        self
    }

    /// Sends at most this many requests per second (retries included); off by default.
    ///
    /// This steady limit and the pause a 429 answer starts add up: a request first waits
    /// out the pause, then for a slot of this limit.
    pub fn rate_limit(mut self, requests_per_second: NonZeroU32) -> Self {
        self.rate_limit = Some(requests_per_second);
        self
    }

    /// Receives an event after every request attempt, for metrics.
    pub fn observer(mut self, observer: Arc<dyn RequestObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Checks the settings and builds the client.
    pub fn build(self) -> Result<Client, Error> {
        let base_url = Url::parse(&self.base_url).map_err(|e| Error::Config {
            setting: "base_url",
            reason: format!("{:?} is not a URL: {e}", self.base_url),
        })?;
        if !matches!(base_url.scheme(), "http" | "https") || base_url.cannot_be_a_base() {
            return Err(Error::Config {
                setting: "base_url",
                reason: format!("{:?} must be an http or https URL", self.base_url),
            });
        }
        let (Some(client_id), Some(secret)) = (self.client_id, self.secret) else {
            return Err(Error::Config {
                setting: "credentials",
                reason: "the API client id and secret are required".into(),
            });
        };
        if client_id.expose_secret().is_empty() || secret.expose_secret().is_empty() {
            return Err(Error::Config {
                setting: "credentials",
                reason: "the API client id and secret must not be empty".into(),
            });
        }
        if self.max_response_bytes == 0 {
            return Err(Error::Config {
                setting: "max_response_bytes",
                reason: "must be greater than zero".into(),
            });
        }
        if self.timeout.is_zero() {
            return Err(Error::Config {
                setting: "timeout",
                reason: "must be greater than zero".into(),
            });
        }
        let http = reqwest::Client::builder()
            .user_agent(self.user_agent)
            .connect_timeout(self.timeout)
            .build()
            .map_err(|e| Error::Config {
                setting: "http client",
                reason: e.to_string(),
            })?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base_url,
                keys: std::sync::RwLock::new((client_id, secret)),
                timeout: self.timeout,
                retry: self.retry,
                limiter: self
                    .rate_limit
                    .map(|rps| RateLimiter::direct(Quota::per_second(rps))),
                observer: self.observer,
                max_response_bytes: self.max_response_bytes,
                max_retry_after: self.max_retry_after,
                pause: std::sync::Mutex::new(RateLimitPause::default()),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(90))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        for garbage in ["", "soon", "-1", "1.5", "Thu, 99 Foo 2026"] {
            assert_eq!(parse_retry_after(garbage, now), None, "{garbage:?}");
        }
    }

    #[test]
    fn pages_are_told_by_their_media_type() {
        assert_eq!(
            page_type("text/html; charset=UTF-8").as_deref(),
            Some("text/html")
        );
        assert_eq!(
            page_type("Application/XHTML+XML").as_deref(),
            Some("application/xhtml+xml")
        );
        assert_eq!(page_type("application/json"), None);
        assert_eq!(page_type("text/plain"), None);
    }

    #[test]
    fn snippets_are_one_short_line() {
        assert_eq!(snippet(b"<h1>\n  502  </h1>"), "<h1> 502 </h1>");
        let long = "x".repeat(300);
        assert_eq!(snippet(long.as_bytes()).chars().count(), 101);
    }

    #[test]
    fn debug_never_shows_credentials() {
        let client = Client::builder()
            .credentials("id-123456", "secret-abcdef")
            .build()
            .unwrap();
        let text = format!(
            "{client:?} {:?}",
            Client::builder().credentials("id-123456", "secret-abcdef")
        );
        assert!(
            !text.contains("id-123456") && !text.contains("secret-abcdef"),
            "{text}"
        );
    }

    #[test]
    fn builder_rejects_bad_settings() {
        let err = Client::builder().build().unwrap_err();
        assert!(err.to_string().contains("credentials"), "{err}");
        let err = Client::builder()
            .credentials("a", "b")
            .base_url("not a url")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("base_url"), "{err}");
        let err = Client::builder()
            .credentials("a", "b")
            .base_url("ftp://example.com")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("http"), "{err}");
        assert!(Client::builder().credentials("", "b").build().is_err());
        assert!(
            Client::builder()
                .credentials("a", "b")
                .timeout(Duration::ZERO)
                .build()
                .is_err()
        );
    }

    #[test]
    fn urls_keep_a_base_path_prefix() {
        let base = Url::parse("http://127.0.0.1:9/prefix/").unwrap();
        let call = Call::read(Endpoint::Queue).with_query("id=1%202".into());
        assert_eq!(
            call.url(&base).as_str(),
            "http://127.0.0.1:9/prefix/service/queue?id=1%202"
        );
        let base = Url::parse("http://127.0.0.1:9").unwrap();
        assert_eq!(
            Call::read(Endpoint::ServerTags).url(&base).as_str(),
            "http://127.0.0.1:9/server/tags"
        );
    }

    #[test]
    fn auth_errors_are_recognised_in_every_wrapping() {
        let nested =
            br#"{"message":"{\"errors\":[{\"code\":1,\"info\":\"you are not logged in\"}]}"}"#;
        assert!(
            classify_error(Endpoint::ListServers, 500, api_error(500, nested)).is_authentication()
        );
        assert!(
            classify_error(Endpoint::ListServers, 401, api_error(401, b"nope")).is_authentication()
        );
        let other = classify_error(
            Endpoint::ListServers,
            500,
            api_error(500, b"Gateway Timeout"),
        );
        assert_eq!(other.status(), Some(500));
    }
}
