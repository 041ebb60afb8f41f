//! A server's metric samples (`POST /server/statistics`): which metric, over which time,
//! and the samples decoded from either answer shape.
//!
//! The cloudcli proxy answers a list holding one list of series,
//! `[[{"series": "cpu.usage", "data": [[<ms>, <value>], …]}, …]]`, which the official CLI
//! flattens into rows `date, metric, value`; the project's simulator answers those rows
//! directly, `[{"date": "2026-03-15 11:00:00", "metric": "cpu.usage", "value": 12.5}]`.
//! Both decode to the same [`StatisticPoint`]s.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::{Map, Value};

use super::server::ServerHandle;
use crate::decode::{decode, decode_value};
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::spec::invalid;

/// Which metrics to fetch. The API takes one category or all of them
/// (`Please choose a single metric to view`), hence one value, not a set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatisticsMetric {
    /// Every category below (`all`).
    All,
    /// Processor usage (`cpu`).
    Cpu,
    /// Memory usage (`ram`).
    Ram,
    /// Network traffic (`network`).
    Network,
    /// Disk operations per second (`disksIops`).
    DisksIops,
    /// Disk throughput (`disksTransfer`).
    DisksTransfer,
}

impl StatisticsMetric {
    /// The request flag that selects the category (sent as `true`).
    pub fn flag(self) -> &'static str {
        match self {
            StatisticsMetric::All => "all",
            StatisticsMetric::Cpu => "cpu",
            StatisticsMetric::Ram => "ram",
            StatisticsMetric::Network => "network",
            StatisticsMetric::DisksIops => "disksIops",
            StatisticsMetric::DisksTransfer => "disksTransfer",
        }
    }
}

/// A time span ending now, as the API's `period` offers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatisticsPeriod {
    /// The last hour (`1h`).
    LastHour,
    /// The last 8 hours (`8h`).
    Last8Hours,
    /// The last week (`1w`).
    LastWeek,
    /// The last month (`1m`).
    LastMonth,
    /// The last 3 months (`3m`).
    Last3Months,
}

impl StatisticsPeriod {
    /// The `period` value on the wire.
    pub fn as_wire(self) -> &'static str {
        match self {
            StatisticsPeriod::LastHour => "1h",
            StatisticsPeriod::Last8Hours => "8h",
            StatisticsPeriod::LastWeek => "1w",
            StatisticsPeriod::LastMonth => "1m",
            StatisticsPeriod::Last3Months => "3m",
        }
    }
}

impl FromStr for StatisticsPeriod {
    type Err = Error;
    /// Parses the wire spelling: `1h`, `8h`, `1w`, `1m` or `3m`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "1h" => StatisticsPeriod::LastHour,
            "8h" => StatisticsPeriod::Last8Hours,
            "1w" => StatisticsPeriod::LastWeek,
            "1m" => StatisticsPeriod::LastMonth,
            "3m" => StatisticsPeriod::Last3Months,
            _ => return Err(invalid("period", s, "expected 1h, 8h, 1w, 1m or 3m")),
        })
    }
}

impl fmt::Display for StatisticsPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_wire())
    }
}

/// The time the samples cover: a [`StatisticsPeriod`] ending now, or whole days from the
/// start of the first (00:00:00) to the end of the last (23:59:59), in the API's time.
///
/// ```
/// use kamatera_api::{StatisticsPeriod, StatisticsRange};
/// let week = StatisticsRange::last(StatisticsPeriod::LastWeek);
/// let march = StatisticsRange::days("20260301", "20260331").unwrap();
/// assert!(StatisticsRange::days("20260230", "20260301").is_err()); // no 30 February
/// assert!(StatisticsRange::days("20260331", "20260301").is_err()); // start after end
/// # let _ = (week, march);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatisticsRange(Span);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Span {
    Period(StatisticsPeriod),
    Days { start: Day, end: Day },
}

impl StatisticsRange {
    /// The `period` ending now.
    pub fn last(period: StatisticsPeriod) -> Self {
        Self(Span::Period(period))
    }

    /// From day `start` to day `end` inclusive, both written `YYYYMMDD` as the API takes
    /// them (`startdate`, `enddate`). Each must be a real calendar date of a year from
    /// 1970 to 9999, and `start` must not be after `end`.
    pub fn days(start: &str, end: &str) -> Result<Self, Error> {
        let first = Day::parse("startdate", start)?;
        let last = Day::parse("enddate", end)?;
        if first > last {
            return Err(invalid(
                "startdate",
                start,
                format!("must not be after enddate {end}"),
            ));
        }
        Ok(Self(Span::Days {
            start: first,
            end: last,
        }))
    }

    fn to_fields(self) -> Map<String, Value> {
        let mut fields = Map::new();
        match self.0 {
            Span::Period(period) => {
                fields.insert("period".into(), period.as_wire().into());
            }
            Span::Days { start, end } => {
                fields.insert("startdate".into(), start.to_string().into());
                fields.insert("enddate".into(), end.to_string().into());
            }
        }
        fields
    }
}

/// A calendar day; the field order makes the derived order the calendar's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Day {
    year: u16,
    month: u8,
    day: u8,
}

impl Day {
    fn parse(field: &'static str, text: &str) -> Result<Self, Error> {
        const FORMAT: &str = "expected a date written YYYYMMDD, e.g. 20260315";
        if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(field, text, FORMAT));
        }
        let number = |range: std::ops::Range<usize>| {
            text.get(range)
                .and_then(|digits| digits.parse::<u16>().ok())
                .ok_or_else(|| invalid(field, text, FORMAT))
        };
        let (year, month, day) = (number(0..4)?, number(4..6)?, number(6..8)?);
        if !(1970..=9999).contains(&year) {
            return Err(invalid(field, text, "the year must be from 1970 to 9999"));
        }
        let month = u8::try_from(month)
            .ok()
            .filter(|m| (1..=12).contains(m))
            .ok_or_else(|| invalid(field, text, "the month must be 01 to 12"))?;
        let last = days_in_month(year, month);
        let day = u8::try_from(day)
            .ok()
            .filter(|d| (1..=last).contains(d))
            .ok_or_else(|| {
                invalid(
                    field,
                    text,
                    format!("that month has days 01 to {last}, not {day:02}"),
                )
            })?;
        Ok(Self { year, month, day })
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}{:02}{:02}", self.year, self.month, self.day)
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// One sample of one metric.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StatisticPoint {
    /// When, written `YYYY-MM-DD HH:MM:SS` (UTC when the API gave a timestamp).
    pub date: String,
    /// The metric's name, e.g. `cpu.usage` or `network.wan.rx`.
    pub metric: String,
    /// The value; `None` when the API has none for that time.
    pub value: Option<f64>,
}

/// A row of the flat answer.
#[derive(Deserialize)]
struct Row {
    #[serde(deserialize_with = "crate::lenient::text_from_number_or_string")]
    date: String,
    metric: String,
    #[serde(default, deserialize_with = "crate::lenient::optional_f64")]
    value: Option<f64>,
}

/// One series of the proxy's answer.
#[derive(Deserialize)]
struct Series {
    series: String,
    #[serde(default)]
    data: Vec<Sample>,
}

/// `[<milliseconds since 1970>, <value>]`.
#[derive(Deserialize)]
struct Sample(
    #[serde(deserialize_with = "millis")] i64,
    #[serde(deserialize_with = "crate::lenient::optional_f64")] Option<f64>,
);

/// A timestamp in milliseconds, whole or not (JavaScript numbers).
fn millis<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    let n = serde_json::Number::deserialize(deserializer)?;
    n.as_i64()
        .or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && f.abs() < 1e17)
                .map(|f| f.round() as i64)
        })
        .ok_or_else(|| de::Error::custom(format!("expected a timestamp in milliseconds, got {n}")))
}

/// `YYYY-MM-DD HH:MM:SS` in UTC for a Unix time in milliseconds.
fn format_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 to a proleptic Gregorian date, by 400-year eras.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl Series {
    fn into_points(self, points: &mut Vec<StatisticPoint>) {
        // The proxy drops the sampling-interval pseudo-series; so does this.
        if self.series == "interval" {
            return;
        }
        for Sample(ms, value) in self.data {
            points.push(StatisticPoint {
                date: format_utc(ms),
                metric: self.series.clone(),
                value,
            });
        }
    }
}

/// Decodes either answer shape (see the module docs), naming the JSON path that fails.
pub(crate) fn decode_points(endpoint: Endpoint, body: &[u8]) -> Result<Vec<StatisticPoint>, Error> {
    let items: Vec<Value> = decode(endpoint, body)?;
    let mut points = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let at = format!("$[{index}]");
        match item {
            Value::Array(series) => {
                for (inner, one) in series.into_iter().enumerate() {
                    let series: Series = decode_value(endpoint, &format!("{at}[{inner}]"), one)?;
                    series.into_points(&mut points);
                }
            }
            Value::Object(ref object) if object.contains_key("series") => {
                decode_value::<Series>(endpoint, &at, item)?.into_points(&mut points);
            }
            row => {
                let row: Row = decode_value(endpoint, &at, row)?;
                points.push(StatisticPoint {
                    date: row.date,
                    metric: row.metric,
                    value: row.value,
                });
            }
        }
    }
    Ok(points)
}

impl ServerHandle<'_> {
    /// Samples of `metric` over `range` (`POST /server/statistics`, one server only), in
    /// the API's order (metric by metric, oldest first within each).
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::{ServerSelector, StatisticsMetric, StatisticsPeriod, StatisticsRange};
    /// let server = client.server(ServerSelector::name("web-0001"));
    /// let day = StatisticsRange::days("20260315", "20260315")?;
    /// for point in server.statistics(StatisticsMetric::Cpu, &day).await? {
    ///     println!("{} {} {:?}", point.date, point.metric, point.value);
    /// }
    /// let hour = StatisticsRange::last(StatisticsPeriod::LastHour);
    /// let all = server.statistics(StatisticsMetric::All, &hour).await?;
    /// # let _ = all;
    /// # Ok(()) }
    /// ```
    pub async fn statistics(
        &self,
        metric: StatisticsMetric,
        range: &StatisticsRange,
    ) -> Result<Vec<StatisticPoint>, Error> {
        let call = self
            .read(Endpoint::Statistics)?
            .with_field(metric.flag(), true)
            .with_fields(range.to_fields());
        self.client.call_with(call, decode_points).await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn days_must_be_real_and_in_order() {
        let range = StatisticsRange::days("20240229", "20240301").unwrap();
        assert_eq!(
            Value::Object(range.to_fields()),
            json!({"startdate": "20240229", "enddate": "20240301"})
        );
        assert!(StatisticsRange::days("20260315", "20260315").is_ok());
        for (start, end, field) in [
            ("20250229", "20250301", "startdate"),
            ("20260101", "20261301", "enddate"),
            ("20260100", "20260101", "startdate"),
            ("2026-03-01", "20260301", "startdate"),
            ("20260301", "2026031", "enddate"),
            ("19691231", "20260101", "startdate"),
            ("20260302", "20260301", "startdate"),
            ("+2026031", "20260301", "startdate"),
        ] {
            match StatisticsRange::days(start, end) {
                Err(Error::InvalidRequest { field: got, .. }) => {
                    assert_eq!(got, field, "{start}..{end}");
                }
                other => panic!("{start}..{end}: expected a refusal, got {other:?}"),
            }
        }
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2000, 2), 29);
    }

    #[test]
    fn periods_and_metrics_use_the_wire_spelling() {
        for text in ["1h", "8h", "1w", "1m", "3m"] {
            assert_eq!(text.parse::<StatisticsPeriod>().unwrap().to_string(), text);
        }
        assert!("2h".parse::<StatisticsPeriod>().is_err());
        let range = StatisticsRange::last(StatisticsPeriod::Last3Months);
        assert_eq!(Value::Object(range.to_fields()), json!({"period": "3m"}));
        assert_eq!(StatisticsMetric::DisksIops.flag(), "disksIops");
    }

    #[test]
    fn timestamps_are_formatted_in_utc() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00");
        assert_eq!(format_utc(1_773_576_000_000), "2026-03-15 12:00:00");
        assert_eq!(format_utc(951_782_399_999), "2000-02-28 23:59:59");
        assert_eq!(format_utc(951_868_800_000), "2000-03-01 00:00:00");
        assert_eq!(format_utc(-1000), "1969-12-31 23:59:59");
    }

    #[test]
    fn both_answer_shapes_decode_to_the_same_points() {
        let nested = decode_points(
            Endpoint::Statistics,
            br#"[[{"series":"cpu.usage","data":[[1773576000000,12.5],[1773576300000.0,"13"]]},
                  {"series":"interval","data":[[1773576000000,300]]},
                  {"series":"cpu.ready","data":[[1773576000000,null]]}]]"#,
        )
        .unwrap();
        let flat = decode_points(
            Endpoint::Statistics,
            br#"[{"date":"2026-03-15 12:00:00","metric":"cpu.usage","value":12.5},
                 {"date":"2026-03-15 12:05:00","metric":"cpu.usage","value":"13"},
                 {"date":"2026-03-15 12:00:00","metric":"cpu.ready","value":null}]"#,
        )
        .unwrap();
        assert_eq!(nested, flat);
        assert_eq!(nested.len(), 3);
        assert_eq!(nested[1].value, Some(13.0));
    }

    #[test]
    fn odd_answers_are_named_by_path() {
        for (body, path) in [
            (r#"{"invalid":"response"}"#, "$"),
            (r#"[{"date":"x","value":1}]"#, "$[0]"),
            (
                r#"[{"date":"x","metric":"m","value":"many"}]"#,
                "$[0].value",
            ),
            (
                r#"[[{"series":"m","data":[["soon",1]]}]]"#,
                "$[0][0].data[0][0]",
            ),
            (r#"[[{"series":"m","data":[[1]]}]]"#, "$[0][0].data[0]"),
            (r#"[{"series":7}]"#, "$[0].series"),
        ] {
            match decode_points(Endpoint::Statistics, body.as_bytes()) {
                Err(Error::InvalidResponse { path: got, .. }) => assert_eq!(got, path, "{body}"),
                other => panic!("{body}: expected an invalid response, got {other:?}"),
            }
        }
    }
}
