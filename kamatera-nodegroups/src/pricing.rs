//! Prices for cluster-autoscaler's `price` expander: what a server of a node group costs
//! per hour, and what the resources a pod requests cost per hour at the same rates.
//!
//! The expander divides the price of the nodes an option adds by the price of the pods it
//! places there, so both must come from one model: a group's server is priced from its
//! CPU cores, RAM and disks at per-unit rates ([`PriceRates`]), and a pod from its CPU and
//! memory requests at the same CPU and RAM rates. A group's `hourly-price`, when set,
//! replaces the derived server price. The model and the default figures are described in
//! `docs/pricing.md`.

use crate::config::NodeGroupConfig;

/// Default `price-per-cpu-core-hour` (see `docs/pricing.md` for where it comes from).
pub const DEFAULT_PRICE_PER_CPU_CORE_HOUR: f64 = 0.0027;
/// Default `price-per-gb-ram-hour`.
pub const DEFAULT_PRICE_PER_GB_RAM_HOUR: f64 = 0.0014;
/// Default `price-per-gb-disk-hour`.
pub const DEFAULT_PRICE_PER_GB_DISK_HOUR: f64 = 0.00007;

const MIB: f64 = 1024.0 * 1024.0;
const GIB: f64 = 1024.0 * MIB;

/// Per-unit hourly rates, in the same currency as `hourly-price` (`[global]` keys
/// `price-per-cpu-core-hour`, `price-per-gb-ram-hour`, `price-per-gb-disk-hour`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PriceRates {
    /// Price of one CPU core for one hour.
    pub cpu_core_hour: f64,
    /// Price of one GB (1024 MB) of RAM for one hour.
    pub ram_gb_hour: f64,
    /// Price of one GB of disk for one hour.
    pub disk_gb_hour: f64,
}

impl Default for PriceRates {
    fn default() -> Self {
        Self {
            cpu_core_hour: DEFAULT_PRICE_PER_CPU_CORE_HOUR,
            ram_gb_hour: DEFAULT_PRICE_PER_GB_RAM_HOUR,
            disk_gb_hour: DEFAULT_PRICE_PER_GB_DISK_HOUR,
        }
    }
}

/// What a pod asks the scheduler for, in the units the price model uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PodRequests {
    /// CPU in millicores.
    pub cpu_millis: u64,
    /// Memory in bytes.
    pub memory_bytes: u64,
}

impl PriceRates {
    /// Hourly price of a server with `cpu_cores` cores, `ram_mb` MB of RAM and disks
    /// adding up to `disk_gb` GB.
    pub fn server_hourly(&self, cpu_cores: u32, ram_mb: u32, disk_gb: u64) -> f64 {
        // Whole numbers far below 2^53: exact as f64.
        #[expect(clippy::cast_precision_loss)]
        let disk = disk_gb as f64;
        f64::from(cpu_cores) * self.cpu_core_hour
            + f64::from(ram_mb) / 1024.0 * self.ram_gb_hour
            + disk * self.disk_gb_hour
    }

    /// Hourly price of what a pod requests: its CPU and memory at the node rates. A pod
    /// that requests nothing costs nothing.
    pub fn pod_hourly(&self, requests: PodRequests) -> f64 {
        // Precision beyond a millicore or a byte does not matter for a price comparison.
        #[expect(clippy::cast_precision_loss)]
        let (cpu, memory) = (requests.cpu_millis as f64, requests.memory_bytes as f64);
        cpu / 1000.0 * self.cpu_core_hour + memory / GIB * self.ram_gb_hour
    }

    /// Hourly price of a server of `group`: its `hourly-price` when set, else derived
    /// from its cpu, ram and disks at these rates. Never missing, so no group is left
    /// out of the price expander.
    pub fn group_hourly(&self, group: &NodeGroupConfig) -> f64 {
        group.hourly_price.unwrap_or_else(|| {
            let server = &group.server;
            self.server_hourly(u32::from(server.cpu.cores()), server.ram_mb, 0)
                + self.group_off_hourly(group)
        })
    }
}

/// A server's own hourly prices, as the API's server info answered them (`None` where it
/// did not: see [`ServerPrices::from_info`]).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ServerPrices {
    /// `priceHourlyOn`: what the server costs per hour while powered on.
    pub hourly_on: Option<f64>,
    /// `priceHourlyOff`: what it costs per hour while powered off (parked).
    pub hourly_off: Option<f64>,
}

impl ServerPrices {
    /// The prices of a server-info answer. A price the lookup failed for (`""`), or that
    /// is not a finite number ≥ 0, is unknown. The API proxy fills `priceHourlyOff` with
    /// the hourly on-price (docs/kamatera-api.md), so an off-price equal to the on-price
    /// is taken for that bug and treated as unknown too: a powered-off server is billed
    /// for its disks, not as if it ran.
    pub fn from_info(info: &kamatera_api::ServerInfo) -> Self {
        let hourly_on = parse_price(info.price_hourly_on.as_deref());
        let hourly_off = parse_price(info.price_hourly_off.as_deref())
            .filter(|off| hourly_on.is_none_or(|on| (off - on).abs() > f64::EPSILON * on.max(1.0)));
        Self {
            hourly_on,
            hourly_off,
        }
    }

    /// True when the answer carried no usable price at all.
    pub fn is_unknown(&self) -> bool {
        self.hourly_on.is_none() && self.hourly_off.is_none()
    }
}

fn parse_price(text: Option<&str>) -> Option<f64> {
    text?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|price| price.is_finite() && *price >= 0.0)
}

/// Where a node group's price came from, for `status` and the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PriceSource {
    /// A member's own price from the API's server info.
    Api,
    /// The group's `hourly-price` (or `default-hourly-price`).
    Configured,
    /// Derived from cpu, ram and disks at the `price-per-*` rates.
    Rates,
}

impl PriceSource {
    /// `api`, `configured` or `rates`.
    pub fn as_str(self) -> &'static str {
        match self {
            PriceSource::Api => "api",
            PriceSource::Configured => "configured",
            PriceSource::Rates => "rates",
        }
    }
}

impl PriceRates {
    /// Where [`PriceRates::group_hourly`] takes the group's price from.
    pub fn group_source(group: &NodeGroupConfig) -> PriceSource {
        if group.hourly_price.is_some() {
            PriceSource::Configured
        } else {
            PriceSource::Rates
        }
    }

    /// Hourly price of a powered-off server of `group` when the API tells none: its disks
    /// at the disk rate (a stopped Kamatera server is billed for its storage).
    pub fn group_off_hourly(&self, group: &NodeGroupConfig) -> f64 {
        let disk_gb: u64 = group
            .server
            .disks
            .iter()
            .map(|disk| u64::from(disk.size_gb()))
            .sum();
        self.server_hourly(0, 0, disk_gb)
    }
}

/// Price of something costing `hourly` per hour over `seconds`.
pub fn price_for(hourly: f64, seconds: f64) -> f64 {
    hourly * seconds / 3600.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_price_adds_every_unit() {
        let rates = PriceRates {
            cpu_core_hour: 0.01,
            ram_gb_hour: 0.002,
            disk_gb_hour: 0.0001,
        };
        let price = rates.server_hourly(2, 4096, 50);
        assert!((price - (0.02 + 0.008 + 0.005)).abs() < 1e-12, "{price}");
    }

    #[test]
    fn pod_price_uses_the_node_rates_and_is_zero_without_requests() {
        let rates = PriceRates::default();
        assert_eq!(rates.pod_hourly(PodRequests::default()), 0.0);
        // A pod asking for a whole 2-core, 4 GB server costs that server without disks.
        let whole = rates.pod_hourly(PodRequests {
            cpu_millis: 2000,
            memory_bytes: 4 << 30,
        });
        assert!((whole - rates.server_hourly(2, 4096, 0)).abs() < 1e-12);
        assert!((price_for(0.5, 5400.0) - 0.75).abs() < 1e-12);
    }

    fn info(on: &str, off: &str) -> kamatera_api::ServerInfo {
        serde_json::from_value(serde_json::json!({
            "id": "id-1", "name": "n", "datacenter": "IL", "power": "on", "cpu": "1A",
            "ram": 1024, "priceMonthlyOn": "", "priceHourlyOn": on, "priceHourlyOff": off,
        }))
        .unwrap()
    }

    #[test]
    fn server_prices_drop_failed_lookups_and_the_copied_off_price() {
        let real = ServerPrices::from_info(&info("0.041", "0.006"));
        assert_eq!(
            (real.hourly_on, real.hourly_off),
            (Some(0.041), Some(0.006))
        );
        // The proxy's bug: the off-price is the on-price, so it says nothing.
        let copied = ServerPrices::from_info(&info("0.033", "0.033"));
        assert_eq!((copied.hourly_on, copied.hourly_off), (Some(0.033), None));
        let failed = ServerPrices::from_info(&info("", ""));
        assert!(failed.is_unknown());
        for bad in ["abc", "-1", "NaN", "inf"] {
            assert_eq!(
                ServerPrices::from_info(&info(bad, "")).hourly_on,
                None,
                "{bad}"
            );
        }
    }
}
