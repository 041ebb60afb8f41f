//! What the API records about one server: its description, its action history, its
//! monthly usage reports, and where to reach it to install an SSH key.
//!
//! All of these act on exactly one server (the API refuses a selection matching several),
//! so they are methods of [`ServerHandle`]. Reads are retried on transient failures;
//! setting the description is sent once.

use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::server::ServerHandle;
use crate::answer::exactly_one;
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::model::SshInfo;
use crate::newtype::string_newtype;
use crate::spec::check_label;

/// A server description to set: 1 to 250 characters, not only spaces, without control
/// characters (so no line breaks).
///
/// The API states no limit; these bounds are deliberately conservative so that a
/// description set here reads back unchanged everywhere (console, CLI tables). Empty text
/// cannot be set: the API takes an empty `set` as "only read the description".
///
/// ```
/// use kamatera_api::ServerDescription;
/// assert!(ServerDescription::new("web tier, owner: ops").is_ok());
/// assert!(ServerDescription::new("").is_err());
/// assert!(ServerDescription::new("two\nlines").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerDescription(String);

impl ServerDescription {
    /// Longest description accepted, in characters.
    pub const MAX_LEN: usize = 250;

    /// Validates `text`.
    pub fn new(text: impl Into<String>) -> Result<Self, Error> {
        let text = text.into();
        check_label("set", &text, Self::MAX_LEN, "a description")?;
        Ok(Self(text))
    }
}

string_newtype!(ServerDescription, "description", validated);

/// One entry of a server's action history.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct HistoryEntry {
    /// What was done, as the console words it (e.g. `Power On`).
    pub action: String,
    /// When, as the API writes it (e.g. `2026-03-15 12:00:00`).
    #[serde(default, deserialize_with = "crate::lenient::optional_text")]
    pub date: Option<String>,
    /// Who did it (an API client id or a console user).
    #[serde(default, deserialize_with = "crate::lenient::optional_text")]
    pub user: Option<String>,
}

/// One month of a server's usage, as the monthly report gives it.
///
/// Figures are decoded leniently: a number or numeric text; a figure the API leaves out,
/// sends as `null` or as empty text is `None`. Figures are in the API's own units, which
/// it does not state; the `*_percent` fields are shares in percent.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct MonthlyReport {
    /// Calendar year, e.g. 2026.
    #[serde(deserialize_with = "year")]
    pub year: u16,
    /// Month, 1 to 12.
    #[serde(deserialize_with = "month")]
    pub month: u8,
    /// CPU usage.
    #[serde(default, deserialize_with = "crate::lenient::optional_f64")]
    pub cpu: Option<f64>,
    /// Memory usage.
    #[serde(default, deserialize_with = "crate::lenient::optional_f64")]
    pub ram: Option<f64>,
    /// Disk usage.
    #[serde(default, deserialize_with = "crate::lenient::optional_f64")]
    pub disk: Option<f64>,
    /// Disk traffic (`diskTraffic`).
    #[serde(
        default,
        rename = "diskTraffic",
        deserialize_with = "crate::lenient::optional_f64"
    )]
    pub disk_traffic: Option<f64>,
    /// Public traffic received (`wanRcTraffic`).
    #[serde(
        default,
        rename = "wanRcTraffic",
        deserialize_with = "crate::lenient::optional_f64"
    )]
    pub wan_received: Option<f64>,
    /// Public traffic sent (`wanTrTraffic`).
    #[serde(
        default,
        rename = "wanTrTraffic",
        deserialize_with = "crate::lenient::optional_f64"
    )]
    pub wan_transmitted: Option<f64>,
    /// Share of public traffic received, percent (`wanRcPer`).
    #[serde(
        default,
        rename = "wanRcPer",
        deserialize_with = "crate::lenient::optional_f64"
    )]
    pub wan_received_percent: Option<f64>,
    /// Share of public traffic sent, percent (`wanTrPer`).
    #[serde(
        default,
        rename = "wanTrPer",
        deserialize_with = "crate::lenient::optional_f64"
    )]
    pub wan_transmitted_percent: Option<f64>,
    /// Private traffic received (`lanRcTraffic`).
    #[serde(
        default,
        rename = "lanRcTraffic",
        deserialize_with = "crate::lenient::optional_f64"
    )]
    pub lan_received: Option<f64>,
    /// Private traffic sent (`lanTrTraffic`).
    #[serde(
        default,
        rename = "lanTrTraffic",
        deserialize_with = "crate::lenient::optional_f64"
    )]
    pub lan_transmitted: Option<f64>,
    /// Share of private traffic received, percent (`lanRcPer`).
    #[serde(
        default,
        rename = "lanRcPer",
        deserialize_with = "crate::lenient::optional_f64"
    )]
    pub lan_received_percent: Option<f64>,
    /// Share of private traffic sent, percent (`lanTrPer`).
    #[serde(
        default,
        rename = "lanTrPer",
        deserialize_with = "crate::lenient::optional_f64"
    )]
    pub lan_transmitted_percent: Option<f64>,
}

/// A year sent as a number or text (`2026`, `"2026"`).
fn year<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u16, D::Error> {
    let year = crate::lenient::u64_from_number_or_string(deserializer)?;
    u16::try_from(year).map_err(|_| de::Error::custom(format!("year {year} is out of range")))
}

/// A month sent as a number or text, zero-padded or not (`3`, `"03"`).
fn month<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u8, D::Error> {
    let month = crate::lenient::u64_from_number_or_string(deserializer)?;
    u8::try_from(month)
        .ok()
        .filter(|m| (1..=12).contains(m))
        .ok_or_else(|| de::Error::custom(format!("month {month} is not 1 to 12")))
}

/// The overview row the description call answers with.
#[derive(Deserialize)]
pub(crate) struct DescriptionRow {
    #[serde(default, deserialize_with = "crate::lenient::optional_text")]
    description: Option<String>,
}

impl<'c> ServerHandle<'c> {
    /// The server's description (`POST /server/description`); empty when it has none.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::ServerSelector;
    /// let text = client.server(ServerSelector::name("web-0001")).description().await?;
    /// println!("{text}");
    /// # Ok(()) }
    /// ```
    pub async fn description(&self) -> Result<String, Error> {
        let call = self.read(Endpoint::Description)?;
        let rows: Vec<DescriptionRow> = self.client.call(call).await?;
        Ok(exactly_one(Endpoint::Description, rows)?
            .description
            .unwrap_or_default())
    }

    /// Sets the server's description (`POST /server/description` with `set`) and returns
    /// it as the API now reports it. The API stores it at once (no command to wait for).
    /// Sent once, never retried.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::{ServerDescription, ServerSelector};
    /// let server = client.server(ServerSelector::name("web-0001"));
    /// let stored = server.set_description(&ServerDescription::new("web tier")?).await?;
    /// assert_eq!(stored, "web tier");
    /// # Ok(()) }
    /// ```
    pub async fn set_description(&self, text: &ServerDescription) -> Result<String, Error> {
        let call = self
            .change(Endpoint::Description)?
            .with_field("set", text.as_str());
        tracing::info!(server = %self.selector(), "setting Kamatera server description");
        let rows: Vec<DescriptionRow> = self.client.call(call).await?;
        Ok(exactly_one(Endpoint::Description, rows)?
            .description
            .unwrap_or_default())
    }

    /// The server's action history (`POST /server/history`), in the API's order.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::ServerSelector;
    /// for entry in client.server(ServerSelector::name("web-0001")).history().await? {
    ///     println!("{:?} {} by {:?}", entry.date, entry.action, entry.user);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn history(&self) -> Result<Vec<HistoryEntry>, Error> {
        let call = self.read(Endpoint::History)?;
        self.client.call(call).await
    }

    /// The server's monthly usage reports (`POST /server/report`), in the API's order.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::ServerSelector;
    /// for month in client.server(ServerSelector::name("web-0001")).monthly_reports().await? {
    ///     println!("{}-{:02}: cpu {:?}", month.year, month.month, month.cpu);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn monthly_reports(&self) -> Result<Vec<MonthlyReport>, Error> {
        let call = self.read(Endpoint::Reports)?;
        self.client.call(call).await
    }

    /// Where to log in to install an SSH key (`POST /service/server/sshkey`): the server's
    /// id, name and public address. The API only finds the server; logging in with the
    /// root password and adding the key is the caller's job (that is what the official CLI
    /// does), so no password is sent. A server without a public address is an API error
    /// (`No external IP for server name …`).
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::ServerSelector;
    /// let target = client.server(ServerSelector::name("web-0001")).ssh_key_target().await?;
    /// println!("ssh-copy-id root@{}", target.external_ip);
    /// # Ok(()) }
    /// ```
    pub async fn ssh_key_target(&self) -> Result<SshInfo, Error> {
        let call = self.read(Endpoint::SshKey)?;
        let rows: Vec<SshInfo> = self.client.call(call).await?;
        exactly_one(Endpoint::SshKey, rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode;

    #[test]
    fn descriptions_are_checked() {
        assert!(ServerDescription::new("x".repeat(250)).is_ok());
        for bad in ["", "   ", "tab\there", "line\nbreak"] {
            let err = ServerDescription::new(bad).unwrap_err();
            assert!(err.to_string().starts_with("invalid set"), "{err}");
        }
        assert!(ServerDescription::new("x".repeat(251)).is_err());
    }

    #[test]
    fn reports_decode_numbers_in_every_form() {
        let rows: Vec<MonthlyReport> = decode(
            Endpoint::Reports,
            br#"[{"year":"2026","month":"03","cpu":12.5,"ram":"1488","disk":14880,
                  "diskTraffic":"","wanRcTraffic":null,"wanTrTraffic":"3.25",
                  "wanRcPer":40,"wanTrPer":60,"lanRcTraffic":1,"lanTrTraffic":2,
                  "lanRcPer":"33.33","lanTrPer":"66.67"},
                 {"year":2025,"month":12}]"#,
        )
        .unwrap();
        let march = &rows[0];
        assert_eq!((march.year, march.month), (2026, 3));
        assert_eq!(march.cpu, Some(12.5));
        assert_eq!(march.ram, Some(1488.0));
        assert_eq!(march.disk, Some(14880.0));
        assert_eq!(march.disk_traffic, None);
        assert_eq!(march.wan_received, None);
        assert_eq!(march.wan_transmitted, Some(3.25));
        assert_eq!(march.lan_transmitted_percent, Some(66.67));
        assert_eq!((rows[1].year, rows[1].month, rows[1].cpu), (2025, 12, None));
    }

    #[test]
    fn odd_report_values_are_named_by_path() {
        for (body, path) in [
            (r#"[{"year":"2026","month":"13"}]"#, "$[0].month"),
            (r#"[{"year":"soon","month":"1"}]"#, "$[0].year"),
            (r#"[{"year":2026,"month":1,"cpu":"lots"}]"#, "$[0].cpu"),
            (r#"[{"month":1}]"#, "$[0]"),
        ] {
            match decode::<Vec<MonthlyReport>>(Endpoint::Reports, body.as_bytes()) {
                Err(Error::InvalidResponse { path: got, .. }) => assert_eq!(got, path, "{body}"),
                other => panic!("{body}: expected an invalid response, got {other:?}"),
            }
        }
    }

    #[test]
    fn history_rows_keep_what_is_there() {
        let rows: Vec<HistoryEntry> = decode(
            Endpoint::History,
            br#"[{"action":"Power On","date":"2026-03-15 12:00:00","user":"ops"},{"action":"Rename Server","user":""}]"#,
        )
        .unwrap();
        assert_eq!(rows[0].action, "Power On");
        assert_eq!(rows[0].date.as_deref(), Some("2026-03-15 12:00:00"));
        assert_eq!(
            (rows[1].date.as_deref(), rows[1].user.as_deref()),
            (None, None)
        );
    }
}
