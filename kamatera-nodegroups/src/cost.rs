//! What a node group's servers cost: per hour now, and an estimate of the month so far.
//!
//! Each member is priced by its power state: a powered-on server at its hourly on-price, a
//! powered-off (parked) one at its off-price. The prices are the server's own from the
//! API's server info when it answered them, else the group's configured or rate-derived
//! price (`docs/pricing.md`). Only the groups' members count, never the account's other
//! servers.
//!
//! The month-to-date estimate adds, for every current member, its current hourly price ×
//! the hours since the later of the month's start (UTC) and the server's creation. The
//! creation hour comes from the `k8scat-YYYYMMDDHH` tag the provider creates servers with,
//! so a restarted provider gives the same figure; a member without that tag (created by
//! an older provider or by hand) counts from when this provider first saw it. Servers
//! deleted earlier in the month, and time a member spent in another power state, are not
//! known and not counted.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use time::{Date, Month, OffsetDateTime, Time};

use crate::naming::CREATED_TAG_PREFIX;
use crate::pricing::PriceSource;

/// One member's share of its group's cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BilledMember {
    /// What it costs per hour in its current power state.
    pub hourly: f64,
    /// True when `hourly` is the server's own price from the API.
    pub from_api: bool,
    /// Since when it is billed: its creation (tag) or when this provider first saw it.
    pub since: SystemTime,
}

/// A node group's price and cost, as the snapshot shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupCost {
    /// What one (more) node of the group costs per hour while on: a member's own price
    /// when the API answered one, else the configured or rate-derived price.
    pub node_hourly: f64,
    /// Where `node_hourly` came from.
    pub source: PriceSource,
    /// What the group's members cost per hour now (running at on-price, parked at
    /// off-price).
    pub hourly: f64,
    /// Every member with a server, for the month-to-date estimate.
    pub members: Arc<[BilledMember]>,
}

impl Default for GroupCost {
    fn default() -> Self {
        Self {
            node_hourly: 0.0,
            source: PriceSource::Rates,
            hourly: 0.0,
            members: Arc::default(),
        }
    }
}

impl GroupCost {
    /// The estimate of what the members cost since the start of `now`'s month (UTC).
    pub fn month_to_date(&self, now: SystemTime) -> f64 {
        let month = month_start(now);
        self.members
            .iter()
            .map(|member| {
                let from = member.since.max(month);
                let hours = now.duration_since(from).unwrap_or_default().as_secs_f64() / 3600.0;
                member.hourly * hours
            })
            // Not `sum()`: an empty f64 sum is -0.0, which a metric would show as such.
            .fold(0.0, |total, cost| total + cost)
    }
}

/// Midnight UTC on the first day of `now`'s month.
pub fn month_start(now: SystemTime) -> SystemTime {
    let at = OffsetDateTime::from(now);
    let first = at.date().replace_day(1).unwrap_or(at.date());
    SystemTime::from(first.with_time(Time::MIDNIGHT).assume_utc())
}

/// The creation tag for a server created at `at`: `k8scat-YYYYMMDDHH` (UTC hour).
pub fn created_tag(at: SystemTime) -> String {
    let at = OffsetDateTime::from(at);
    format!(
        "{CREATED_TAG_PREFIX}{:04}{:02}{:02}{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour()
    )
}

/// The creation hour a [`created_tag`] records, or `None` when `tag` is not one.
pub fn parse_created_tag(tag: &str) -> Option<SystemTime> {
    let digits = tag.strip_prefix(CREATED_TAG_PREFIX)?;
    if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let field = |range: std::ops::Range<usize>| digits.get(range)?.parse::<u16>().ok();
    let year = i32::from(field(0..4)?);
    let month = Month::try_from(u8::try_from(field(4..6)?).ok()?).ok()?;
    let day = u8::try_from(field(6..8)?).ok()?;
    let hour = u8::try_from(field(8..10)?).ok()?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms(hour, 0, 0).ok()?;
    Some(SystemTime::from(date.with_time(time).assume_utc()))
}

/// The creation time the tags of a server record, if any.
pub fn created_from_tags<'a>(tags: impl IntoIterator<Item = &'a str>) -> Option<SystemTime> {
    tags.into_iter().find_map(parse_created_tag)
}

/// `SystemTime` at the Unix second `secs` (tests and the status output).
pub fn unix(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-01-15 10:30:00 UTC.
    const MID_JANUARY: u64 = 1_768_473_000;
    // 2026-01-01 00:00:00 UTC.
    const JANUARY: u64 = 1_767_225_600;

    #[test]
    fn creation_tags_round_trip_to_the_hour_and_are_valid_tags() {
        let tag = created_tag(unix(MID_JANUARY));
        assert_eq!(tag, "k8scat-2026011510");
        assert!(kamatera_api::Tag::new(tag.clone()).is_ok());
        assert_eq!(parse_created_tag(&tag), Some(unix(MID_JANUARY - 30 * 60)));
        for bad in [
            "k8scat-2026013210",
            "k8scat-2026011524",
            "k8scat-202601151",
            "k8scat-20260115100",
            "k8scat-2026-01-151",
            "k8sca-2026011510",
        ] {
            assert_eq!(parse_created_tag(bad), None, "{bad}");
        }
        assert_eq!(
            created_from_tags(["k8sca-c1", "k8scat-2026010100"]),
            Some(unix(JANUARY))
        );
    }

    #[test]
    fn month_to_date_counts_from_the_month_start_or_the_creation() {
        assert_eq!(month_start(unix(MID_JANUARY)), unix(JANUARY));
        let cost = GroupCost {
            members: Arc::from([
                // Created last month: billed since January 1st.
                BilledMember {
                    hourly: 1.0,
                    from_api: true,
                    since: unix(JANUARY - 86_400),
                },
                // Created two hours ago.
                BilledMember {
                    hourly: 0.5,
                    from_api: false,
                    since: unix(MID_JANUARY - 7200),
                },
            ]),
            ..GroupCost::default()
        };
        let hours_of_january = (MID_JANUARY - JANUARY) as f64 / 3600.0;
        let expected = hours_of_january + 0.5 * 2.0;
        let got = cost.month_to_date(unix(MID_JANUARY));
        assert!((got - expected).abs() < 1e-9, "{got} vs {expected}");
        // A creation time in the future (clock skew) costs nothing yet.
        let skewed = GroupCost {
            members: Arc::from([BilledMember {
                hourly: 1.0,
                from_api: true,
                since: unix(MID_JANUARY + 60),
            }]),
            ..GroupCost::default()
        };
        assert_eq!(skewed.month_to_date(unix(MID_JANUARY)), 0.0);
        // A group without members costs a positive zero (a metric shows "-0" otherwise).
        let empty = GroupCost::default().month_to_date(unix(MID_JANUARY));
        assert!(empty == 0.0 && empty.is_sign_positive(), "{empty}");
    }
}
