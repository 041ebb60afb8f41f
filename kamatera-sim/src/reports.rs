//! Deterministic usage figures for `POST /server/report` and `POST /server/statistics`: every
//! number is a function of the server's id and size and of the (virtual) time asked about, so
//! the same question always gets the same answer (docs/kamatera-api.md, "Server administration").

use serde_json::{Value, json};
use time::{Month, OffsetDateTime};

use crate::clock::format_timestamp;
use crate::model::SimServer;

/// FNV-1a over the parts (with a separator), a stable hash independent of the Rust version.
fn fnv(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.iter().chain(&[0xff]) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// A stable number in `[0, 1)` for the parts.
fn unit(parts: &[&[u8]]) -> f64 {
    // The top 32 bits are plenty of resolution and convert to f64 exactly.
    let high = u32::try_from(fnv(parts) >> 32).unwrap_or(0);
    f64::from(high) / 4_294_967_296.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The sizes the figures scale with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Size {
    cores: f64,
    ram_gb: f64,
    disk_gb: f64,
}

impl Size {
    pub(crate) fn of(server: &SimServer) -> Self {
        let cores = server
            .cpu
            .trim_end_matches(|c: char| c.is_ascii_alphabetic())
            .parse::<u32>()
            .unwrap_or(1);
        Self {
            cores: f64::from(cores.max(1)),
            ram_gb: f64::from(server.ram_mb) / 1024.0,
            disk_gb: server.disks_gb.iter().map(|d| f64::from(*d)).sum(),
        }
    }
}

/// How many months `/server/report` covers, ending with the current one *(sim)*.
pub(crate) const REPORT_MONTHS: u8 = 3;

fn month_before(year: i32, month: Month) -> (i32, Month) {
    if month == Month::January {
        (year - 1, Month::December)
    } else {
        (year, month.previous())
    }
}

/// Monthly usage rows, oldest first: the last [`REPORT_MONTHS`] calendar months up to the one
/// holding `now_unix`; the current month counts only the hours elapsed so far.
pub(crate) fn monthly_reports(id: &str, size: Size, now_unix: i64) -> Vec<Value> {
    let Ok(now) = OffsetDateTime::from_unix_timestamp(now_unix) else {
        return Vec::new();
    };
    let mut months = vec![(now.year(), now.month())];
    for _ in 1..REPORT_MONTHS {
        if let Some(&(y, m)) = months.last() {
            months.push(month_before(y, m));
        }
    }
    months.reverse();
    months
        .into_iter()
        .map(|(year, month)| {
            let hours = if (year, month) == (now.year(), now.month()) {
                f64::from(now.day() - 1) * 24.0 + f64::from(now.hour())
            } else {
                f64::from(time::util::days_in_month(month, year)) * 24.0
            };
            let key = format!("{year}-{:02}", u8::from(month));
            let u = |field: &str| unit(&[id.as_bytes(), key.as_bytes(), field.as_bytes()]);
            let traffic = |field: &str, scale: f64| round2(hours * scale * (0.2 + u(field)));
            let wan_rc = traffic("wanRc", size.cores * 0.05);
            let wan_tr = traffic("wanTr", size.cores * 0.08);
            let lan_rc = traffic("lanRc", size.cores * 0.02);
            let lan_tr = traffic("lanTr", size.cores * 0.02);
            let share = |part: f64, other: f64| {
                if part + other > 0.0 {
                    round2(part * 100.0 / (part + other))
                } else {
                    0.0
                }
            };
            json!({
                "year": year.to_string(),
                "month": format!("{:02}", u8::from(month)),
                "cpu": round2(size.cores * hours * (0.05 + 0.6 * u("cpu"))),
                "ram": round2(size.ram_gb * hours),
                "disk": round2(size.disk_gb * hours),
                "diskTraffic": traffic("disk", size.disk_gb * 0.01),
                "wanRcTraffic": wan_rc,
                "wanTrTraffic": wan_tr,
                "wanRcPer": share(wan_rc, wan_tr),
                "wanTrPer": share(wan_tr, wan_rc),
                "lanRcTraffic": lan_rc,
                "lanTrTraffic": lan_tr,
                "lanRcPer": share(lan_rc, lan_tr),
                "lanTrPer": share(lan_tr, lan_rc),
            })
        })
        .collect()
}

/// A statistics category, in the proxy's order for `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Category {
    Network,
    Ram,
    Cpu,
    DisksIops,
    DisksTransfer,
}

impl Category {
    /// Every category, in the order `all` lists them.
    pub(crate) const ALL: [Self; 5] = [
        Self::Network,
        Self::Ram,
        Self::Cpu,
        Self::DisksIops,
        Self::DisksTransfer,
    ];

    /// The request flag that selects this category.
    pub(crate) fn flag(self) -> &'static str {
        match self {
            Self::Network => "network",
            Self::Ram => "ram",
            Self::Cpu => "cpu",
            Self::DisksIops => "disksIops",
            Self::DisksTransfer => "disksTransfer",
        }
    }

    /// The metric names of this category and the size each scales with *(sim names)*.
    fn metrics(self, size: Size) -> [(&'static str, f64, f64); 2] {
        match self {
            // Percentages: an offset plus a spread.
            Self::Cpu => [("cpu.usage", 5.0, 70.0), ("cpu.ready", 0.0, 5.0)],
            Self::Ram => [("ram.usage", 20.0, 60.0), ("ram.swap", 0.0, 3.0)],
            Self::Network => [
                ("network.wan.rx", 0.0, 400.0 * size.cores),
                ("network.wan.tx", 0.0, 600.0 * size.cores),
            ],
            Self::DisksIops => [
                ("disks.iops.read", 0.0, 5.0 * size.disk_gb),
                ("disks.iops.write", 0.0, 3.0 * size.disk_gb),
            ],
            Self::DisksTransfer => [
                ("disks.transfer.read", 0.0, 50.0 * size.disk_gb),
                ("disks.transfer.write", 0.0, 30.0 * size.disk_gb),
            ],
        }
    }
}

/// At most about this many samples per metric; never closer than five minutes apart.
const SAMPLES: i64 = 48;
const MIN_STEP_SECS: i64 = 300;

/// Rows `{date, metric, value}` from `start_unix` to `end_unix` (inclusive), by category,
/// then metric, then time. Sample times are multiples of the step, so ranges that overlap
/// with the same step agree on the shared samples.
pub(crate) fn statistics(
    id: &str,
    size: Size,
    categories: &[Category],
    start_unix: i64,
    end_unix: i64,
) -> Vec<Value> {
    let span = end_unix.saturating_sub(start_unix).max(0);
    let step = (span / SAMPLES / 60 + 1)
        .saturating_mul(60)
        .max(MIN_STEP_SECS);
    let first = start_unix
        .div_euclid(step)
        .saturating_add(1)
        .saturating_mul(step);
    let first = if start_unix.rem_euclid(step) == 0 {
        start_unix
    } else {
        first
    };
    let mut rows = Vec::new();
    for category in categories {
        for (metric, offset, spread) in category.metrics(size) {
            let mut t = first;
            while t <= end_unix {
                let stamp = t.to_le_bytes();
                let value = offset + spread * unit(&[id.as_bytes(), metric.as_bytes(), &stamp]);
                rows.push(json!({
                    "date": format_timestamp(t, 0),
                    "metric": metric,
                    "value": round2(value),
                }));
                t = t.saturating_add(step);
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZE: Size = Size {
        cores: 2.0,
        ram_gb: 2.0,
        disk_gb: 20.0,
    };
    // 2026-03-15 12:00:00 UTC.
    const MID_MARCH: i64 = 1_773_576_000;

    #[test]
    fn units_are_stable_and_in_range() {
        let a = unit(&[b"x", b"y"]);
        assert_eq!(a, unit(&[b"x", b"y"]));
        assert_ne!(a, unit(&[b"xy"]));
        for i in 0u32..1000 {
            let u = unit(&[&i.to_le_bytes()]);
            assert!((0.0..1.0).contains(&u), "{u}");
        }
    }

    #[test]
    fn reports_cover_three_months_and_the_current_one_partly() {
        let rows = monthly_reports("id-1", SIZE, MID_MARCH);
        let months: Vec<_> = rows.iter().map(|r| r["month"].clone()).collect();
        assert_eq!(months, vec![json!("01"), json!("02"), json!("03")]);
        assert_eq!(rows[1]["ram"], json!(2.0 * 28.0 * 24.0));
        assert_eq!(rows[2]["disk"], json!(20.0 * (14.0 * 24.0 + 12.0)));
        assert_eq!(rows, monthly_reports("id-1", SIZE, MID_MARCH));
        assert_ne!(rows, monthly_reports("id-2", SIZE, MID_MARCH));
        let january = monthly_reports("id-1", SIZE, 1_767_225_600 + 3600);
        assert_eq!(january[0]["year"], "2025");
        assert_eq!(january[0]["month"], "11");
    }

    #[test]
    fn statistics_sample_on_a_fixed_grid() {
        let hour = statistics("id-1", SIZE, &[Category::Cpu], MID_MARCH - 3600, MID_MARCH);
        // Two metrics, a 5-minute step, both ends included.
        assert_eq!(hour.len(), 2 * 13);
        assert_eq!(hour[0]["date"], "2026-03-15 11:00:00");
        assert_eq!(hour[0]["metric"], "cpu.usage");
        let later = statistics("id-1", SIZE, &[Category::Cpu], MID_MARCH - 1800, MID_MARCH);
        assert_eq!(later[0], hour[6]);
        let week = statistics(
            "id-1",
            SIZE,
            &Category::ALL,
            MID_MARCH - 7 * 86_400,
            MID_MARCH,
        );
        assert!(week.len() <= 5 * 2 * 49, "{}", week.len());
    }
}
