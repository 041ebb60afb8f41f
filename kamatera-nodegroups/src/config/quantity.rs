//! Kubernetes resource quantities (`100m`, `0.5`, `256Mi`, `1G`), as far as the template
//! keys need them.

/// Splits `text` into a non-negative decimal number and its suffix, as
/// `(whole part, fraction digits, suffix)`.
fn split_number(text: &str) -> Option<(&str, &str, &str)> {
    let number_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(number_end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return None;
    }
    Some((whole, fraction, suffix))
}

/// `whole.fraction × multiplier ÷ divisor`, rounded up, if it fits.
fn scale(whole: &str, fraction: &str, multiplier: u128, divisor: u128) -> Option<u64> {
    // Fractions longer than this cannot matter at byte or millicore precision.
    if fraction.len() > 18 || whole.len() > 30 {
        return None;
    }
    let digits = format!("{whole}{fraction}");
    let mantissa: u128 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    let denominator = 10u128.pow(u32::try_from(fraction.len()).ok()?) * divisor;
    let numerator = mantissa.checked_mul(multiplier)?;
    u64::try_from(numerator.div_ceil(denominator)).ok()
}

const CPU_ACCEPTED: &str =
    "expected a CPU quantity: millicores such as 100m, or cores such as 0.5 or 1";
const MEMORY_ACCEPTED: &str =
    "expected a memory quantity: bytes, or a number with Ki, Mi, Gi, Ti, k, M, G or T, e.g. 256Mi";

/// Parses a CPU quantity into millicores: `100m` → 100, `0.5` → 500, `2` → 2000.
pub(crate) fn parse_cpu_millis(text: &str) -> Result<u64, String> {
    let (whole, fraction, suffix) = split_number(text).ok_or(CPU_ACCEPTED)?;
    match suffix {
        "m" if fraction.is_empty() => scale(whole, "", 1, 1),
        "" => scale(whole, fraction, 1000, 1),
        _ => None,
    }
    .ok_or_else(|| CPU_ACCEPTED.to_owned())
}

/// Parses a memory quantity into bytes: `256Mi` → 268435456, `1G` → 10⁹.
pub(crate) fn parse_memory_bytes(text: &str) -> Result<u64, String> {
    let (whole, fraction, suffix) = split_number(text).ok_or(MEMORY_ACCEPTED)?;
    let multiplier: u128 = match suffix {
        "" => 1,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        _ => return Err(MEMORY_ACCEPTED.to_owned()),
    };
    scale(whole, fraction, multiplier, 1).ok_or_else(|| MEMORY_ACCEPTED.to_owned())
}

/// Formats millicores the way Kubernetes writes them: `100m`, or whole cores as `2`.
pub(crate) fn format_cpu_millis(millis: u64) -> String {
    if millis.is_multiple_of(1000) {
        (millis / 1000).to_string()
    } else {
        format!("{millis}m")
    }
}

/// Formats bytes with the largest binary suffix that divides them exactly.
pub(crate) fn format_memory_bytes(bytes: u64) -> String {
    for (suffix, unit) in [
        ("Ti", 1u64 << 40),
        ("Gi", 1 << 30),
        ("Mi", 1 << 20),
        ("Ki", 1 << 10),
    ] {
        if bytes != 0 && bytes.is_multiple_of(unit) {
            return format!("{}{suffix}", bytes / unit);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_quantities() {
        for (text, millis) in [
            ("100m", 100),
            ("0.5", 500),
            ("2", 2000),
            ("1.25", 1250),
            ("0", 0),
        ] {
            assert_eq!(parse_cpu_millis(text), Ok(millis), "{text}");
        }
        for bad in [
            "", "m", "1.5m", "-1", "1 m", "1Mi", "abc", ".", "1..2", "1e3",
        ] {
            assert!(parse_cpu_millis(bad).is_err(), "{bad:?}");
        }
        assert_eq!(format_cpu_millis(100), "100m");
        assert_eq!(format_cpu_millis(2000), "2");
    }

    #[test]
    fn memory_quantities() {
        for (text, bytes) in [
            ("256Mi", 256 << 20),
            ("1Gi", 1 << 30),
            ("1.5Gi", 3 << 29),
            ("500M", 500_000_000),
            ("1024", 1024),
            ("1k", 1000),
        ] {
            assert_eq!(parse_memory_bytes(text), Ok(bytes), "{text}");
        }
        for bad in [
            "",
            "Mi",
            "1m",
            "1 Mi",
            "-1Gi",
            "1mi",
            "99999999999999999999999999Ti",
        ] {
            assert!(parse_memory_bytes(bad).is_err(), "{bad:?}");
        }
        assert_eq!(format_memory_bytes(256 << 20), "256Mi");
        assert_eq!(format_memory_bytes(1000), "1000");
        assert_eq!(format_memory_bytes(0), "0");
    }
}
