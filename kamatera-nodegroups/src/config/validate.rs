//! Parsers and checks for single values. Each returns what is accepted when it fails;
//! the caller adds where the value came from.

use std::time::Duration;

use super::model::{Taint, TaintEffect};

/// Longest cluster or node-group name. It keeps the tags `k8sca-<cluster>` and
/// `k8scang-<group>` within Kamatera's 24-character tag limit.
pub(crate) const MAX_NAME_LEN: usize = 15;

/// A boolean in any section: `true/yes/on/1/t` or `false/no/off/0/f`, any case. (The Go
/// provider accepted only some of these, and different ones per section.)
pub(crate) fn parse_bool(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" | "t" => Ok(true),
        "false" | "no" | "off" | "0" | "f" => Ok(false),
        _ => Err("expected true/false, yes/no, on/off or 1/0".to_owned()),
    }
}

/// A whole number ≥ 0.
pub(crate) fn parse_count(text: &str) -> Result<u32, String> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    if text.starts_with('-') && text[1..].bytes().all(|b| b.is_ascii_digit()) && text.len() > 1 {
        return Err("must be 0 or more".to_owned());
    }
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("expected a whole number, e.g. 3".to_owned());
    }
    digits
        .parse()
        .map_err(|_| format!("is too large (at most {})", u32::MAX))
}

/// A whole number ≥ 1.
pub(crate) fn parse_positive(text: &str) -> Result<u32, String> {
    match parse_count(text)? {
        0 => Err("must be at least 1".to_owned()),
        n => Ok(n),
    }
}

/// A cluster or node-group name: 1–15 characters of `A-Z a-z 0-9 _ . -`.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    let len = name.chars().count();
    if len == 0 || len > MAX_NAME_LEN {
        return Err(format!(
            "must be 1 to {MAX_NAME_LEN} characters long, got {len}"
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "character {bad:?} is not allowed (use A-Z a-z 0-9 _ . -)"
        ));
    }
    Ok(())
}

/// A fraction from 0 to 1, e.g. `0.5`.
pub(crate) fn parse_fraction(text: &str) -> Result<f64, String> {
    const ACCEPTED: &str = "expected a number from 0 to 1, e.g. 0.5";
    if !is_plain_decimal(text) {
        return Err(ACCEPTED.to_owned());
    }
    match text.parse::<f64>() {
        Ok(value) if (0.0..=1.0).contains(&value) => Ok(value),
        _ => Err(ACCEPTED.to_owned()),
    }
}

/// A price: a decimal number ≥ 0, e.g. `0.033`.
pub(crate) fn parse_price(text: &str) -> Result<f64, String> {
    const ACCEPTED: &str = "expected a decimal number of 0 or more, e.g. 0.033";
    if !is_plain_decimal(text) {
        return Err(ACCEPTED.to_owned());
    }
    text.parse::<f64>()
        .ok()
        .filter(|value| value.is_finite())
        .ok_or_else(|| ACCEPTED.to_owned())
}

/// `123`, `1.5`, `.5` or `5.`: digits with at most one dot, no sign or exponent.
fn is_plain_decimal(text: &str) -> bool {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    !(whole.is_empty() && fraction.is_empty())
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// A duration such as `10m`, `1h30m` or `90s`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|error| format!("expected a duration such as 10m, 1h30m or 90s ({error})"))
}

/// A DNS-label-like name part: 1–63 characters, alphanumeric at both ends, `-_.` inside.
fn is_qualified_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            bytes.len() <= 63
                && first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// A DNS subdomain: lower-case, at most 253 characters, dot-separated labels.
fn is_dns_subdomain(text: &str) -> bool {
    text.len() <= 253
        && text.split('.').all(|label| {
            let bytes = label.as_bytes();
            matches!((bytes.first(), bytes.last()),
                (Some(first), Some(last)) if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric())
                && bytes.len() <= 63
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        })
}

/// A Kubernetes label key: `[prefix/]name`.
fn check_label_key(key: &str) -> Result<(), String> {
    let ok = match key.split_once('/') {
        Some((prefix, name)) => is_dns_subdomain(prefix) && is_qualified_name(name),
        None => is_qualified_name(key),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "key {key:?} is not a valid Kubernetes label key ([dns.prefix/]name, name 1-63 \
             characters of A-Z a-z 0-9 - _ . starting and ending alphanumeric)"
        ))
    }
}

/// A Kubernetes label value: empty or a qualified name.
fn check_label_value(value: &str) -> Result<(), String> {
    if value.is_empty() || is_qualified_name(value) {
        Ok(())
    } else {
        Err(format!(
            "value {value:?} is not a valid Kubernetes label value (up to 63 characters of \
             A-Z a-z 0-9 - _ . starting and ending alphanumeric)"
        ))
    }
}

/// A node label, `key=value`.
pub(crate) fn parse_label(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| "expected key=value, e.g. kubernetes.io/os=linux".to_owned())?;
    check_label_key(key)?;
    check_label_value(value)?;
    Ok((key.to_owned(), value.to_owned()))
}

/// A node taint, `key=value:Effect` or `key:Effect`.
pub(crate) fn parse_taint(text: &str) -> Result<Taint, String> {
    const ACCEPTED: &str = "expected key=value:Effect or key:Effect with Effect NoSchedule, PreferNoSchedule or NoExecute";
    let (key_value, effect) = text.rsplit_once(':').ok_or(ACCEPTED)?;
    let effect = match effect {
        "NoSchedule" => TaintEffect::NoSchedule,
        "PreferNoSchedule" => TaintEffect::PreferNoSchedule,
        "NoExecute" => TaintEffect::NoExecute,
        _ => return Err(ACCEPTED.to_owned()),
    };
    let (key, value) = key_value.split_once('=').unwrap_or((key_value, ""));
    check_label_key(key)?;
    check_label_value(value)?;
    Ok(Taint {
        key: key.to_owned(),
        value: value.to_owned(),
        effect,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_accept_every_spelling_in_any_case() {
        for text in ["true", "TRUE", "Yes", "on", "1", "t", "T"] {
            assert_eq!(parse_bool(text), Ok(true), "{text}");
        }
        for text in ["false", "No", "OFF", "0", "f"] {
            assert_eq!(parse_bool(text), Ok(false), "{text}");
        }
        for text in ["", "2", "yess", "enabled"] {
            assert!(parse_bool(text).is_err(), "{text}");
        }
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count("0"), Ok(0));
        assert_eq!(parse_count("+5"), Ok(5));
        assert_eq!(parse_count("-1"), Err("must be 0 or more".to_owned()));
        for bad in ["", "-", "1.0", "4a", " 1", "99999999999"] {
            assert!(parse_count(bad).is_err(), "{bad}");
        }
        assert!(parse_positive("0").is_err());
    }

    #[test]
    fn names() {
        assert!(check_name("ng-1_a.b").is_ok());
        assert!(check_name(&"x".repeat(15)).is_ok());
        for bad in ["", "has space", "slash/", &"x".repeat(16), "ñ"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn numbers_and_durations() {
        assert_eq!(parse_fraction("0.5"), Ok(0.5));
        assert!(parse_fraction("1.5").is_err());
        assert!(parse_fraction("-0.1").is_err());
        assert!(parse_fraction("nan").is_err());
        assert_eq!(parse_price("0.033"), Ok(0.033));
        assert!(parse_price("1e3").is_err());
        assert!(parse_price("inf").is_err());
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_duration("10 minutes please").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn labels_and_taints() {
        assert_eq!(
            parse_label("kubernetes.io/os=linux").unwrap(),
            ("kubernetes.io/os".to_owned(), "linux".to_owned())
        );
        assert_eq!(parse_label("empty=").unwrap().1, "");
        for bad in ["novalue", "=v", "a b=c", "k=v=w", "Upper.Case/x=y", "k=-v"] {
            assert!(parse_label(bad).is_err(), "{bad}");
        }
        let taint = parse_taint("dedicated=gpu:NoSchedule").unwrap();
        assert_eq!(taint.to_string(), "dedicated=gpu:NoSchedule");
        assert_eq!(parse_taint("spot:PreferNoSchedule").unwrap().value, "");
        for bad in ["k=v", "k=v:noschedule", ":NoExecute", "k=v:Never"] {
            assert!(parse_taint(bad).is_err(), "{bad}");
        }
    }
}
