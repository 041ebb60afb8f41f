//! Durations in the two encodings of the protocol: `google.protobuf.Duration` (current
//! fields) and the nanosecond `meta.v1.Duration` that CA 1.34 and older read.

use std::time::Duration;

use crate::pb;

/// A duration as `google.protobuf.Duration` (saturating at the type's range).
pub fn to_proto_duration(duration: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(duration.as_secs()).unwrap_or(i64::MAX),
        // Always below 1e9, so it fits.
        nanos: i32::try_from(duration.subsec_nanos()).unwrap_or(0),
    }
}

/// A duration as CA 1.34's `meta.v1.Duration`: nanoseconds, saturating.
pub fn to_legacy_duration(duration: Duration) -> pb::LegacyDuration {
    pb::LegacyDuration {
        duration: i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX),
    }
}

/// A `google.protobuf.Duration` as a std duration; negative values count as zero.
pub fn from_proto_duration(duration: &prost_types::Duration) -> Duration {
    let seconds = u64::try_from(duration.seconds).unwrap_or(0);
    let nanos = u32::try_from(duration.nanos).unwrap_or(0);
    if duration.seconds < 0 {
        return Duration::ZERO;
    }
    Duration::new(seconds, 0).saturating_add(Duration::from_nanos(u64::from(nanos)))
}

/// A legacy nanosecond duration as a std duration; negative values count as zero.
pub fn from_legacy_duration(duration: &pb::LegacyDuration) -> Duration {
    Duration::from_nanos(u64::try_from(duration.duration).unwrap_or(0))
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn durations_convert_both_ways_and_saturate() {
        let d = Duration::new(90, 5);
        assert_eq!(
            to_proto_duration(d),
            prost_types::Duration {
                seconds: 90,
                nanos: 5
            }
        );
        assert_eq!(to_legacy_duration(d).duration, 90_000_000_005);
        assert_eq!(from_proto_duration(&to_proto_duration(d)), d);
        assert_eq!(from_legacy_duration(&to_legacy_duration(d)), d);
        assert_eq!(to_legacy_duration(Duration::MAX).duration, i64::MAX);
        assert_eq!(
            from_proto_duration(&prost_types::Duration {
                seconds: -1,
                nanos: 0
            }),
            Duration::ZERO
        );
        assert_eq!(
            from_legacy_duration(&pb::LegacyDuration { duration: -5 }),
            Duration::ZERO
        );
    }
}
