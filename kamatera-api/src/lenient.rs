//! Deserialisers for fields the API sends in more than one form (a number or a numeric
//! string, `"0"`/`"1"` flags, prices and figures that may be empty).

use serde::Deserialize;
use serde::de::{self, Deserializer};

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrString {
    Number(serde_json::Number),
    Text(String),
}

/// A whole number sent as a number or as numeric text (`2048` or `"2048"`).
pub(crate) fn u64_from_number_or_string<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<u64, D::Error> {
    match NumberOrString::deserialize(deserializer)? {
        NumberOrString::Number(n) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                    .map(|f| f as u64)
            })
            .ok_or_else(|| de::Error::custom(format!("expected a whole number, got {n}"))),
        NumberOrString::Text(text) => text
            .trim()
            .parse()
            .map_err(|_| de::Error::custom(format!("expected a number, got {text:?}"))),
    }
}

/// A measurement sent as a number or as numeric text (`12.5`, `"12.5"`); missing, `null`
/// and empty text are `None` (the API leaves figures out when it has none).
pub(crate) fn optional_f64<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<f64>, D::Error> {
    match Option::<NumberOrString>::deserialize(deserializer)? {
        None => Ok(None),
        Some(NumberOrString::Number(n)) => n
            .as_f64()
            .map(Some)
            .ok_or_else(|| de::Error::custom(format!("expected a number, got {n}"))),
        Some(NumberOrString::Text(text)) if text.trim().is_empty() => Ok(None),
        Some(NumberOrString::Text(text)) => text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Some)
            .ok_or_else(|| de::Error::custom(format!("expected a number, got {text:?}"))),
    }
}

/// A yes/no value sent as a boolean, `0`/`1`, or text (`"0"`, `"1"`, `"yes"`, `"true"`, …).
pub(crate) fn flag<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Number(u8),
        Text(String),
    }
    match Flag::deserialize(deserializer)? {
        Flag::Bool(b) => Ok(b),
        Flag::Number(n) => Ok(n != 0),
        Flag::Text(t) => match t.as_str() {
            "1" | "yes" | "true" => Ok(true),
            "0" | "no" | "false" | "" => Ok(false),
            _ => Err(de::Error::custom(format!(
                "expected \"0\" or \"1\", got {t:?}"
            ))),
        },
    }
}

/// Text that the API sends as a string or as a number (ids such as a snapshot's or a
/// VLAN's); a number keeps its decimal form.
pub(crate) fn text_from_number_or_string<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<String, D::Error> {
    Ok(match NumberOrString::deserialize(deserializer)? {
        NumberOrString::Number(n) => n.to_string(),
        NumberOrString::Text(text) => text,
    })
}

/// Like [`text_from_number_or_string`] for a field that may be missing, `null` or empty.
pub(crate) fn optional_text<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Ok(match Option::<NumberOrString>::deserialize(deserializer)? {
        None => None,
        Some(NumberOrString::Number(n)) => Some(n.to_string()),
        Some(NumberOrString::Text(t)) if t.trim().is_empty() => None,
        Some(NumberOrString::Text(t)) => Some(t),
    })
}

/// Like [`u64_from_number_or_string`] for a field that may be missing or `null`.
pub(crate) fn optional_u64<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    struct Wrapped(#[serde(deserialize_with = "u64_from_number_or_string")] u64);
    Ok(Option::<Wrapped>::deserialize(deserializer)?.map(|Wrapped(n)| n))
}

/// Any number type (`i64`, `f64`, …) sent as a number or as numeric text; missing,
/// `null` or empty text is `None`.
pub(crate) fn optional_number<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr,
{
    match optional_text(d)? {
        None => Ok(None),
        Some(text) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| de::Error::custom(format!("expected a number, got {text:?}"))),
    }
}
