//! The cluster-wide keys of `[global]`: cluster name, API URL and credentials, name and
//! provider-id prefixes, prices.

use super::*;

/// The cluster-wide settings.
pub(super) struct ClusterLevel {
    pub(super) price_rates: PriceRates,
    pub(super) cluster_name: String,
    pub(super) api_url: String,
    pub(super) api_max_response_bytes: usize,
    pub(super) credentials: Option<Credentials>,
    pub(super) filter_name_prefix: String,
    pub(super) provider_id_prefix: String,
}

/// Default of `kamatera-api-max-response-mib`: far above the largest real answer (a
/// 50,000-server list is a few MiB), far below what would hurt the pod's memory.
pub const DEFAULT_API_MAX_RESPONSE_MIB: usize = 64;
/// Largest `kamatera-api-max-response-mib` accepted.
pub const MAX_API_MAX_RESPONSE_MIB: usize = 1024;

impl ClusterLevel {
    pub(super) fn cluster_tag(&self) -> Option<Tag> {
        Tag::new(format!("{CLUSTER_TAG_PREFIX}{}", self.cluster_name)).ok()
    }
}

impl<'a> Resolver<'a> {
    /// `kamatera-api-url` with `http://` to a remote host: every request would carry the
    /// API credentials in clear text, so it needs `kamatera-api-allow-insecure-http`.
    pub(super) fn plain_http_allowed(
        &mut self,
        url: &url::Url,
        value: &RawValue,
    ) -> Option<String> {
        let allow = self.global_value(GlobalKey::Only(GlobalOnly::ApiAllowInsecureHttp));
        let allowed = match allow.map(|v| (v, validate::parse_bool(&v.text))) {
            None => false,
            Some((_, Ok(allowed))) => allowed,
            Some((v, Err(reason))) => {
                let message = format!("invalid value {:?}: {reason}", v.text);
                self.push(
                    v.line,
                    GLOBAL,
                    key(GlobalOnly::ApiAllowInsecureHttp),
                    message,
                );
                return None;
            }
        };
        if allowed {
            return Some(value.text.clone());
        }
        let message = format!(
            "refusing http:// to {}: every request would carry the API client id and secret in clear text; use https://, or set kamatera-api-allow-insecure-http = true in [global] if that network is trusted",
            url.host_str().unwrap_or_default()
        );
        self.push(value.line, GLOBAL, key(GlobalOnly::ApiUrl), message);
        None
    }

    pub(super) fn cluster(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Option<ClusterLevel> {
        let global_line = self.raw.global.line;
        let cluster_name = match self.global_value(GlobalKey::Only(GlobalOnly::ClusterName)) {
            Some(value) => match validate::check_name(&value.text) {
                Ok(()) => Some(value.text.clone()),
                Err(reason) => {
                    let message = format!("invalid cluster name {:?}: {reason}", value.text);
                    self.push(value.line, GLOBAL, key(GlobalOnly::ClusterName), message);
                    None
                }
            },
            None => {
                self.push(
                    global_line,
                    GLOBAL,
                    key(GlobalOnly::ClusterName),
                    "is required: 1 to 15 characters of A-Z a-z 0-9 _ . -".to_owned(),
                );
                None
            }
        };

        let credentials = self.credentials(env);

        let api_url = match self.global_value(GlobalKey::Only(GlobalOnly::ApiUrl)) {
            None => Some(DEFAULT_API_URL.to_owned()),
            Some(value) => match url::Url::parse(&value.text) {
                Ok(url) if !url.username().is_empty() || url.password().is_some() => {
                    // The URL is printed by check-config; credentials have their own keys.
                    let message = "invalid value: must not contain a user name or password; \
                                   use kamatera-api-client-id and kamatera-api-secret"
                        .to_owned();
                    self.push(value.line, GLOBAL, key(GlobalOnly::ApiUrl), message);
                    None
                }
                Ok(url) if url.scheme() == "http" && url.has_host() && !is_loopback(&url) => {
                    self.plain_http_allowed(&url, value)
                }
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
                    Some(value.text.clone())
                }
                _ => {
                    let message = format!(
                        "invalid value {:?}: expected an http:// or https:// URL, e.g. {DEFAULT_API_URL}",
                        value.text
                    );
                    self.push(value.line, GLOBAL, key(GlobalOnly::ApiUrl), message);
                    None
                }
            },
        };

        let api_max_response_bytes = match self
            .global_value(GlobalKey::Only(GlobalOnly::ApiMaxResponseMib))
        {
            None => Some(DEFAULT_API_MAX_RESPONSE_MIB << 20),
            Some(value) => match value.text.parse::<usize>() {
                Ok(mib @ 1..=MAX_API_MAX_RESPONSE_MIB) => Some(mib << 20),
                _ => {
                    let message = format!(
                        "invalid value {:?}: expected a whole number of MiB from 1 to {MAX_API_MAX_RESPONSE_MIB} (default {DEFAULT_API_MAX_RESPONSE_MIB})",
                        value.text
                    );
                    self.push(
                        value.line,
                        GLOBAL,
                        key(GlobalOnly::ApiMaxResponseMib),
                        message,
                    );
                    None
                }
            },
        };

        let filter_name_prefix = match self
            .global_value(GlobalKey::Only(GlobalOnly::FilterNamePrefix))
        {
            None => Some(String::new()),
            Some(value) => match value
                .text
                .chars()
                .find(|c| !kamatera_api::spec::is_server_name_char(*c))
            {
                None => Some(value.text.clone()),
                Some(bad) => {
                    let message = format!(
                        "invalid value {:?}: character {bad:?} can never appear in a server name \
                         (use A-Z a-z 0-9 . _ - ( ))",
                        value.text
                    );
                    self.push(
                        value.line,
                        GLOBAL,
                        key(GlobalOnly::FilterNamePrefix),
                        message,
                    );
                    None
                }
            },
        };

        let provider_id_prefix = match self
            .global_value(GlobalKey::Only(GlobalOnly::ProviderIdPrefix))
        {
            // An empty value means the default, as in the Go provider.
            None => Some(DEFAULT_PROVIDER_ID_PREFIX.to_owned()),
            Some(value) if value.text.chars().any(char::is_whitespace) => {
                let message = format!(
                    "invalid value {:?}: must not contain whitespace, e.g. kamatera:// or rke2://",
                    value.text
                );
                self.push(
                    value.line,
                    GLOBAL,
                    key(GlobalOnly::ProviderIdPrefix),
                    message,
                );
                None
            }
            Some(value) => Some(value.text.clone()),
        };

        let price_rates = self.price_rates();

        Some(ClusterLevel {
            price_rates: price_rates?,
            cluster_name: cluster_name?,
            api_url: api_url?,
            api_max_response_bytes: api_max_response_bytes?,
            credentials: credentials.ok()?,
            filter_name_prefix: filter_name_prefix?,
            provider_id_prefix: provider_id_prefix?,
        })
    }

    /// The per-unit price rates, each defaulted when not set.
    pub(super) fn price_rates(&mut self) -> Option<PriceRates> {
        let defaults = PriceRates::default();
        let mut rate =
            |only: GlobalOnly, default: f64| match self.global_value(GlobalKey::Only(only)) {
                None => Some(default),
                Some(value) => match validate::parse_price(&value.text) {
                    Ok(rate) => Some(rate),
                    Err(reason) => {
                        let message = format!("invalid value {:?}: {reason}", value.text);
                        self.push(value.line, GLOBAL, key(only), message);
                        None
                    }
                },
            };
        let cpu = rate(GlobalOnly::PricePerCpuCoreHour, defaults.cpu_core_hour);
        let ram = rate(GlobalOnly::PricePerGbRamHour, defaults.ram_gb_hour);
        let disk = rate(GlobalOnly::PricePerGbDiskHour, defaults.disk_gb_hour);
        Some(PriceRates {
            cpu_core_hour: cpu?,
            ram_gb_hour: ram?,
            disk_gb_hour: disk?,
        })
    }

    /// Credentials from the file, each overridden by its environment variable when that
    /// is set, so that a Kubernetes Secret can override a ConfigMap.
    pub(super) fn credentials(
        &mut self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Credentials>, ()> {
        let pick = |only: GlobalOnly, variable: &str| {
            env(variable).filter(|value| !value.is_empty()).or_else(|| {
                self.global_value(GlobalKey::Only(only))
                    .map(|value| value.text.clone())
            })
        };
        let client_id = pick(GlobalOnly::ClientId, CLIENT_ID_ENV);
        let secret = pick(GlobalOnly::Secret, SECRET_ENV);
        match (client_id, secret) {
            (Some(client_id), Some(secret)) => Ok(Some(Credentials {
                client_id: SecretString::from(client_id),
                secret: SecretString::from(secret),
            })),
            (None, None) => Ok(None),
            (Some(_), None) => {
                let message = format!(
                    "is not set while kamatera-api-client-id is; set it here or in {SECRET_ENV}"
                );
                self.push(
                    self.raw.global.line,
                    GLOBAL,
                    key(GlobalOnly::Secret),
                    message,
                );
                Err(())
            }
            (None, Some(_)) => {
                let message = format!(
                    "is not set while kamatera-api-secret is; set it here or in {CLIENT_ID_ENV}"
                );
                self.push(
                    self.raw.global.line,
                    GLOBAL,
                    key(GlobalOnly::ClientId),
                    message,
                );
                Err(())
            }
        }
    }
}

/// Whether `url` points at this machine (tests and local simulators).
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}
