//! What prices are computed from: the time span of a request, Kubernetes quantities, and
//! a pod's resource requests.

use std::collections::BTreeMap;

use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use kamatera_nodegroups::PodRequests;

/// Why a price cannot be computed from the request's time span.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpanError {
    /// A timestamp is missing.
    #[error("the start and end timestamps are required")]
    Missing,
    /// The span ends before it starts.
    #[error("the end timestamp is before the start timestamp")]
    Negative,
}

/// Seconds between two timestamps (fractional).
pub fn span_seconds(
    start: Option<&prost_types::Timestamp>,
    end: Option<&prost_types::Timestamp>,
) -> Result<f64, SpanError> {
    let (Some(start), Some(end)) = (start, end) else {
        return Err(SpanError::Missing);
    };
    let nanos =
        |t: &prost_types::Timestamp| i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos);
    let diff = nanos(end) - nanos(start);
    if diff < 0 {
        return Err(SpanError::Negative);
    }
    // Precision beyond a nanosecond per hour does not matter for a price comparison.
    #[expect(clippy::cast_precision_loss)]
    Ok(diff as f64 / 1e9)
}

/// A Kubernetes quantity (`500m`, `1.5`, `256Mi`, `524288k`, `1e3`) in its base unit
/// (cores, bytes), or `None` when it cannot be read. Only for prices: f64 precision.
pub fn quantity_value(quantity: &Quantity) -> Option<f64> {
    let text = quantity.string.as_deref()?.trim();
    let number_end = text
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '+' | '-')))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(number_end);
    let base: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0f64.powi(4),
        "Pi" => 1024.0f64.powi(5),
        "Ei" => 1024.0f64.powi(6),
        exponent if exponent.starts_with(['e', 'E']) => {
            10f64.powi(exponent[1..].parse::<i32>().ok()?)
        }
        _ => return None,
    };
    let value = base * factor;
    (value.is_finite() && value >= 0.0).then_some(value)
}

/// CPU (millicores) and memory (bytes) of a resource list; missing or unreadable
/// entries count as zero.
fn cpu_and_memory(resources: &BTreeMap<String, Quantity>) -> (f64, f64) {
    let read = |name: &str| resources.get(name).and_then(quantity_value).unwrap_or(0.0);
    (read("cpu") * 1000.0, read("memory"))
}

fn container_requests(container: &core::Container) -> (f64, f64) {
    container
        .resources
        .as_ref()
        .map_or((0.0, 0.0), |r| cpu_and_memory(&r.requests))
}

/// What the scheduler reserves for a pod: the sum over its containers (and sidecar init
/// containers, which keep running), or the largest regular init container when that is
/// larger, plus the pod overhead. Per resource, as the scheduler counts it.
pub fn pod_requests(pod: &core::Pod) -> PodRequests {
    let Some(spec) = pod.spec.as_ref() else {
        return PodRequests::default();
    };
    let add = |a: (f64, f64), b: (f64, f64)| (a.0 + b.0, a.1 + b.1);
    let max = |a: (f64, f64), b: (f64, f64)| (a.0.max(b.0), a.1.max(b.1));
    let mut running = spec
        .containers
        .iter()
        .map(container_requests)
        .fold((0.0, 0.0), add);
    let mut sidecars = (0.0, 0.0);
    let mut init_peak = (0.0, 0.0);
    for init in &spec.init_containers {
        let requests = container_requests(init);
        if init.restart_policy.as_deref() == Some("Always") {
            sidecars = add(sidecars, requests);
            init_peak = max(init_peak, sidecars);
        } else {
            // Runs alone, next to the sidecars started before it.
            init_peak = max(init_peak, add(sidecars, requests));
        }
    }
    running = max(add(running, sidecars), init_peak);
    let (cpu, memory) = add(running, cpu_and_memory(&spec.overhead));
    // Saturating float-to-int casts; prices need no more than whole millicores and bytes.
    #[expect(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    PodRequests {
        cpu_millis: cpu.ceil() as u64,
        memory_bytes: memory.ceil() as u64,
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn spans_are_fractional_seconds_and_never_negative() {
        let start = prost_types::Timestamp {
            seconds: 1_000,
            nanos: 0,
        };
        let end = prost_types::Timestamp {
            seconds: 1_000 + 5_400,
            nanos: 0,
        };
        let seconds = span_seconds(Some(&start), Some(&end)).unwrap();
        assert_eq!(seconds, 5_400.0);
        assert_eq!(span_seconds(Some(&start), Some(&start)), Ok(0.0));
        assert_eq!(
            span_seconds(Some(&end), Some(&start)),
            Err(SpanError::Negative)
        );
        assert_eq!(span_seconds(None, Some(&start)), Err(SpanError::Missing));
        let half = prost_types::Timestamp {
            seconds: 1_000,
            nanos: 500_000_000,
        };
        assert_eq!(span_seconds(Some(&start), Some(&half)), Ok(0.5));
    }

    fn q(text: &str) -> Quantity {
        Quantity {
            string: Some(text.to_owned()),
        }
    }

    #[test]
    fn quantities_read_every_kubernetes_suffix() {
        let cases = [
            ("500m", 0.5),
            ("2", 2.0),
            ("1.5", 1.5),
            ("256Mi", 268_435_456.0),
            ("524288k", 524_288_000.0),
            ("1Gi", 1_073_741_824.0),
            ("1e3", 1000.0),
            ("100u", 0.0001),
        ];
        for (text, value) in cases {
            let read = quantity_value(&q(text)).unwrap();
            assert!((read - value).abs() < 1e-9, "{text}: {read}");
        }
        assert_eq!(quantity_value(&q("lots")), None);
        assert_eq!(quantity_value(&q("-1")), None);
        assert_eq!(quantity_value(&Quantity { string: None }), None);
    }

    fn container(cpu: &str, memory: &str, restart: Option<&str>) -> core::Container {
        core::Container {
            resources: Some(core::ResourceRequirements {
                requests: BTreeMap::from([("cpu".into(), q(cpu)), ("memory".into(), q(memory))]),
                ..core::ResourceRequirements::default()
            }),
            restart_policy: restart.map(str::to_owned),
            ..core::Container::default()
        }
    }

    #[test]
    fn pod_requests_sum_containers_take_the_init_peak_and_add_overhead() {
        let pod = core::Pod {
            spec: Some(core::PodSpec {
                containers: vec![
                    container("250m", "256Mi", None),
                    container("250m", "256Mi", None),
                ],
                init_containers: vec![container("2", "64Mi", None)],
                overhead: BTreeMap::from([("cpu".into(), q("100m")), ("memory".into(), q("1Mi"))]),
                ..core::PodSpec::default()
            }),
            ..core::Pod::default()
        };
        // CPU: init container (2000m) beats the sum (500m); memory: the sum (512Mi) wins.
        assert_eq!(
            pod_requests(&pod),
            PodRequests {
                cpu_millis: 2100,
                memory_bytes: (513 << 20),
            }
        );
        // A sidecar keeps running next to the containers.
        let with_sidecar = core::Pod {
            spec: Some(core::PodSpec {
                containers: vec![container("500m", "100Mi", None)],
                init_containers: vec![container("100m", "10Mi", Some("Always"))],
                ..core::PodSpec::default()
            }),
            ..core::Pod::default()
        };
        assert_eq!(
            pod_requests(&with_sidecar),
            PodRequests {
                cpu_millis: 600,
                memory_bytes: 110 << 20,
            }
        );
        assert_eq!(pod_requests(&core::Pod::default()), PodRequests::default());
        let no_requests = core::Pod {
            spec: Some(core::PodSpec {
                containers: vec![core::Container::default()],
                ..core::PodSpec::default()
            }),
            ..core::Pod::default()
        };
        assert_eq!(pod_requests(&no_requests), PodRequests::default());
    }
}
