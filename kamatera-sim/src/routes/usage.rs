//! `POST /server/report` (monthly usage) and `POST /server/statistics` (metric samples).

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use super::params::{self, Params};
use super::server_admin::{Handler, select_single};
use super::{error_500, json_response};
use crate::clock::SimMillis;
use crate::reports::{self, Category, Size};
use crate::state::State;

fn now_unix(st: &State, now: SimMillis) -> i64 {
    st.initial
        .epoch_unix
        .saturating_add(i64::try_from(now / 1000).unwrap_or(i64::MAX))
}

/// `POST /server/report`: one row per month, oldest first.
pub(super) fn report(st: &mut State, p: &Params, now: SimMillis) -> Response {
    let handler = Handler::Generic("reports");
    let seq = match select_single(st, p, handler) {
        Ok(seq) => seq,
        Err(e) => return *e,
    };
    let Some(server) = st.server(seq) else {
        return handler.failed();
    };
    let rows = reports::monthly_reports(&server.id, Size::of(server), now_unix(st, now));
    json_response(StatusCode::OK, &Value::Array(rows))
}

/// The one category asked for (`true` flags), or all of them.
fn categories(p: &Params) -> Result<Vec<Category>, &'static str> {
    let mut chosen = None;
    for category in Category::ALL {
        if params::is_true(p, category.flag()) {
            if chosen.is_some() {
                return Err("Please choose a single metric to view");
            }
            chosen = Some(category);
        }
    }
    match chosen {
        Some(category) => Ok(vec![category]),
        None if params::is_true(p, "all") => Ok(Category::ALL.to_vec()),
        None => Err("Please choose a metric to show"),
    }
}

/// `YYYYMMDD` as a calendar date (the simulator rejects impossible dates).
fn parse_day(text: &str) -> Option<Date> {
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year = text.get(0..4)?.parse().ok()?;
    let month = Month::try_from(text.get(4..6)?.parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(year, month, text.get(6..8)?.parse().ok()?).ok()
}

/// `months` calendar months before `at`, the day clamped to the target month's length.
fn months_before(at: OffsetDateTime, months: u8) -> Option<OffsetDateTime> {
    let (mut year, mut month) = (at.year(), at.month());
    for _ in 0..months {
        if month == Month::January {
            year -= 1;
        }
        month = month.previous();
    }
    let day = at.day().min(time::util::days_in_month(month, year));
    let date = Date::from_calendar_date(year, month, day).ok()?;
    Some(PrimitiveDateTime::new(date, at.time()).assume_utc())
}

/// The `[start, end]` range in Unix seconds from `period` or `startdate`/`enddate`.
fn range(p: &Params, now_unix: i64) -> Result<(i64, i64), &'static str> {
    let flag = |key: &str| params::non_empty(p, key);
    let (start, end) = (flag("startdate"), flag("enddate"));
    if let Some(period) = flag("period") {
        if start.is_some() || end.is_some() {
            return Err("Please choose either period or start/enddate flags but not both");
        }
        let unsupported = "Please choose from one of the supported periods, see statistics command help message for details";
        let end = OffsetDateTime::from_unix_timestamp(now_unix).map_err(|_| unsupported)?;
        let start = match period.as_str() {
            "1h" => Some(end - time::Duration::hours(1)),
            "8h" => Some(end - time::Duration::hours(8)),
            "1w" => Some(end - time::Duration::weeks(1)),
            "1m" => months_before(end, 1),
            "3m" => months_before(end, 3),
            _ => None,
        }
        .ok_or(unsupported)?;
        return Ok((start.unix_timestamp(), now_unix));
    }
    let (Some(start), Some(end)) = (start, end) else {
        return Err("Please specify period, or startdate and enddate flags");
    };
    let format = "Please specify startdate and enddate using the format YYYYMMDD";
    let start = parse_day(&start).ok_or(format)?;
    let end = parse_day(&end).ok_or(format)?;
    if start > end {
        return Err("startdate must not be after enddate");
    }
    let start = PrimitiveDateTime::new(start, Time::MIDNIGHT).assume_utc();
    let end =
        PrimitiveDateTime::new(end, Time::MIDNIGHT).assume_utc() + time::Duration::seconds(86_399);
    Ok((start.unix_timestamp(), end.unix_timestamp()))
}

/// `POST /server/statistics`: rows `{date, metric, value}` for one category or all.
pub(super) fn statistics(st: &mut State, p: &Params, now: SimMillis) -> Response {
    let handler = Handler::Generic("statistics");
    let seq = match select_single(st, p, handler) {
        Ok(seq) => seq,
        Err(e) => return *e,
    };
    let Some(server) = st.server(seq) else {
        return handler.failed();
    };
    let asked = categories(p).and_then(|c| Ok((c, range(p, now_unix(st, now))?)));
    let (categories, (start, end)) = match asked {
        Ok(r) => r,
        Err(message) => return error_500(message),
    };
    let rows = reports::statistics(&server.id, Size::of(server), &categories, start, end);
    json_response(StatusCode::OK, &Value::Array(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_must_be_real_calendar_dates() {
        assert!(parse_day("20260228").is_some());
        assert!(parse_day("20260230").is_none());
        assert!(parse_day("2026-02-01").is_none());
        assert!(parse_day("2026021").is_none());
    }

    #[test]
    fn month_periods_clamp_the_day() {
        let may31 = PrimitiveDateTime::new(
            Date::from_calendar_date(2026, Month::May, 31).unwrap_or(Date::MIN),
            Time::MIDNIGHT,
        )
        .assume_utc();
        let back = months_before(may31, 3).map(|t| (t.month(), t.day()));
        assert_eq!(back, Some((Month::February, 28)));
        let jan = months_before(may31, 5).map(|t| (t.year(), t.month()));
        assert_eq!(jan, Some((2025, Month::December)));
    }
}
