//! `server rename`, `server configure`, `server history`, `server statistics`: calls on
//! exactly one server.

use clap::{Args, ValueEnum};
use kamatera_api::{
    Client, ConfigChange, Cpu, RamMb, ServerName, StatisticsMetric, StatisticsPeriod,
    StatisticsRange,
};
use serde::Serialize;

use super::create::{Billing, billing_cycle};
use crate::error::CliError;
use crate::output::{Printer, columns, or_dash};
use crate::select::OneServer;
use crate::wait::{WaitArgs, report};

/// `server rename`.
#[derive(Debug, Args)]
pub struct RenameArgs {
    #[command(flatten)]
    server: OneServer,
    /// The new name (4–40 characters, no `.`).
    #[arg(long)]
    new_name: String,
    #[command(flatten)]
    wait: WaitArgs,
}

impl RenameArgs {
    /// Sends the rename.
    pub async fn run(self, client: &Client, printer: Printer) -> Result<(), CliError> {
        let name = ServerName::new(self.new_name.as_str())?;
        let id = client.server(self.server.selector()).rename(&name).await?;
        report(client, printer, &[id], &self.wait).await
    }
}

/// On or off, for `--daily-backup` and `--managed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    /// Turn it on.
    On,
    /// Turn it off.
    Off,
}

/// `server configure`: exactly one change per call, as the API takes them.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("change").required(true).multiple(false)))]
pub struct ConfigureArgs {
    #[command(flatten)]
    server: OneServer,
    /// New CPU as `<cores><type>`, e.g. 4B.
    #[arg(long, group = "change")]
    cpu: Option<String>,
    /// New memory size in MB (a size Kamatera offers, e.g. 4096).
    #[arg(long, group = "change", value_name = "MB")]
    ram: Option<String>,
    /// Daily backup on or off.
    #[arg(long, group = "change", value_enum)]
    daily_backup: Option<Switch>,
    /// Managed services on or off.
    #[arg(long, group = "change", value_enum)]
    managed: Option<Switch>,
    /// New billing cycle (monthly needs --traffic).
    #[arg(long, group = "change", value_enum)]
    billing: Option<Billing>,
    /// Traffic package of monthly billing, e.g. t5000.
    #[arg(long, requires = "billing", value_name = "PACKAGE")]
    traffic: Option<String>,
    #[command(flatten)]
    wait: WaitArgs,
}

impl ConfigureArgs {
    /// The one change asked for (clap's group guarantees exactly one).
    fn change(&self) -> Result<ConfigChange, CliError> {
        let on = |switch: Switch| switch == Switch::On;
        Ok(
            match (
                &self.cpu,
                &self.ram,
                self.daily_backup,
                self.managed,
                self.billing,
            ) {
                (Some(cpu), ..) => ConfigChange::Cpu(cpu.parse::<Cpu>()?),
                (None, Some(ram), ..) => ConfigChange::Ram(ram.parse::<RamMb>()?),
                (None, None, Some(switch), ..) => ConfigChange::DailyBackup(on(switch)),
                (None, None, None, Some(switch), _) => ConfigChange::Managed(on(switch)),
                (None, None, None, None, billing) => ConfigChange::Billing(billing_cycle(
                    billing.unwrap_or(Billing::Hourly),
                    self.traffic.as_deref(),
                )?),
            },
        )
    }

    /// Sends the configure call.
    pub async fn run(self, client: &Client, printer: Printer) -> Result<(), CliError> {
        let change = self.change()?;
        let id = client
            .server(self.server.selector())
            .configure(&change)
            .await?;
        report(client, printer, &[id], &self.wait).await
    }
}

/// `server history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    server: OneServer,
}

/// One history row, as printed.
#[derive(Debug, Serialize)]
struct HistoryView {
    /// What was done.
    action: String,
    /// When.
    date: Option<String>,
    /// Who did it.
    user: Option<String>,
}

impl HistoryArgs {
    /// Lists what was done to the server.
    pub async fn run(self, client: &Client, printer: Printer) -> Result<(), CliError> {
        let entries = client.server(self.server.selector()).history().await?;
        let views: Vec<HistoryView> = entries
            .iter()
            .map(|e| HistoryView {
                action: e.action.clone(),
                date: e.date.clone(),
                user: e.user.clone(),
            })
            .collect();
        printer.print(&views, |views| {
            columns(
                &["DATE", "ACTION", "USER"],
                views.iter().map(|e| {
                    [
                        or_dash(e.date.as_deref()),
                        e.action.clone(),
                        or_dash(e.user.as_deref()),
                    ]
                }),
            )
        })
    }
}

/// The metric categories of `server statistics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Metric {
    /// Every category.
    All,
    /// Processor usage.
    Cpu,
    /// Memory usage.
    Ram,
    /// Network traffic.
    Network,
    /// Disk operations per second.
    DisksIops,
    /// Disk throughput.
    DisksTransfer,
}

impl From<Metric> for StatisticsMetric {
    fn from(metric: Metric) -> Self {
        match metric {
            Metric::All => StatisticsMetric::All,
            Metric::Cpu => StatisticsMetric::Cpu,
            Metric::Ram => StatisticsMetric::Ram,
            Metric::Network => StatisticsMetric::Network,
            Metric::DisksIops => StatisticsMetric::DisksIops,
            Metric::DisksTransfer => StatisticsMetric::DisksTransfer,
        }
    }
}

/// `server statistics`: a period ending now, or whole days.
#[derive(Debug, Args)]
pub struct StatisticsArgs {
    #[command(flatten)]
    server: OneServer,
    /// Which metrics.
    #[arg(long, value_enum, default_value_t = Metric::All)]
    metric: Metric,
    /// A span ending now: 1h, 8h, 1w, 1m or 3m (default 1h, unless --from/--to).
    #[arg(long, conflicts_with_all = ["from", "to"])]
    period: Option<String>,
    /// First day, YYYYMMDD.
    #[arg(long, requires = "to")]
    from: Option<String>,
    /// Last day, YYYYMMDD.
    #[arg(long, requires = "from")]
    to: Option<String>,
}

/// One sample, as printed.
#[derive(Debug, Serialize)]
struct PointView {
    /// When.
    date: String,
    /// The metric's name.
    metric: String,
    /// The value, `null` when the API has none.
    value: Option<f64>,
}

impl StatisticsArgs {
    fn range(&self) -> Result<StatisticsRange, CliError> {
        Ok(match (&self.period, &self.from, &self.to) {
            (_, Some(from), Some(to)) => StatisticsRange::days(from, to)?,
            (Some(period), ..) => StatisticsRange::last(period.parse::<StatisticsPeriod>()?),
            _ => StatisticsRange::last(StatisticsPeriod::LastHour),
        })
    }

    /// Fetches the samples.
    pub async fn run(self, client: &Client, printer: Printer) -> Result<(), CliError> {
        let range = self.range()?;
        let points = client
            .server(self.server.selector())
            .statistics(self.metric.into(), &range)
            .await?;
        let views: Vec<PointView> = points
            .iter()
            .map(|p| PointView {
                date: p.date.clone(),
                metric: p.metric.clone(),
                value: p.value,
            })
            .collect();
        printer.print(&views, |views| {
            columns(
                &["DATE", "METRIC", "VALUE"],
                views.iter().map(|p| {
                    [
                        p.date.clone(),
                        p.metric.clone(),
                        or_dash(p.value.map(|v| v.to_string()).as_deref()),
                    ]
                }),
            )
        })
    }
}
