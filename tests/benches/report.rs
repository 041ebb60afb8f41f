//! Turns the scenarios' reports into the table of `BENCHMARKS.md` and the JSON beside it.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{Value, json};

use crate::scenarios::{
    api_cost, big_list, cold_start, growth, grpc, idle, node_sync, scale_up, sdk_overhead,
};

/// Tolerance over a floor that still meets the goal.
const FLOOR_FACTOR: f64 = 1.3;
/// Per-server cost at the largest size over the smallest: linear within this.
const LINEAR_FACTOR: f64 = 1.1;
/// The steady pass may cost at most this many bare list calls.
const PASS_OVER_LIST: f64 = 2.0;
/// RSS goal at 10,000 members.
const RSS_GOAL_MIB: f64 = 32.0;
/// RSS goal of the big account (50,000 listed servers).
const BIG_ACCOUNT_RSS_GOAL_MIB: f64 = 64.0;
/// Idle CPU goal, percent of one core.
const IDLE_GOAL_PERCENT: f64 = 1.0;
/// A typed SDK call may take at most this much longer than the same request made bare.
const SDK_CALL_GOAL: f64 = 1.05;
/// `list_servers()` of a big list may take at most this much longer than a bare
/// reqwest + `serde_json` call of the same list.
const BIG_LIST_GOAL: f64 = 1.1;

/// What the numbers were measured on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// `std::thread::available_parallelism`.
    pub cores: usize,
    /// `model name` from `/proc/cpuinfo`.
    pub cpu: String,
    /// `std::env::consts::{OS, ARCH}`.
    pub os: String,
    /// `/proc/loadavg` (1, 5, 15 min) when the suite started: other work on the machine.
    pub load_before: String,
    /// The same when it ended.
    pub load_after: String,
}

/// The load averages from `/proc/loadavg`, or `unknown`.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_owned())
}

impl Machine {
    /// The machine this runs on.
    pub fn detect() -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned());
        Self {
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            cpu,
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            load_before: load_average(),
            load_after: String::new(),
        }
    }
}

/// Met, missed, or a figure without a goal.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Met,
    Missed,
    Info,
}

impl Verdict {
    fn of(ok: bool) -> Self {
        if ok { Verdict::Met } else { Verdict::Missed }
    }
    fn label(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Missed => "**MISSED**",
            Verdict::Info => "info",
        }
    }
}

/// One line of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub scenario: &'static str,
    pub metric: String,
    pub goal: String,
    pub measured: String,
    pub floor: String,
    pub verdict: Verdict,
}

fn row(
    scenario: &'static str,
    metric: impl Into<String>,
    goal: impl Into<String>,
    measured: impl Into<String>,
    floor: impl Into<String>,
    verdict: Verdict,
) -> Row {
    Row {
        scenario,
        metric: metric.into(),
        goal: goal.into(),
        measured: measured.into(),
        floor: floor.into(),
        verdict,
    }
}

/// Everything one run of the suite measured.
#[derive(Debug)]
pub struct Results {
    pub machine: Machine,
    pub grpc_loop: Option<grpc::Report>,
    pub api_cost: Option<api_cost::Report>,
    pub cold_start: Option<cold_start::Report>,
    pub scale_up: Option<scale_up::Report>,
    pub growth: Option<Vec<growth::Sample>>,
    pub big_account: Option<growth::Sample>,
    pub idle: Option<idle::Sample>,
    pub node_sync: Option<node_sync::Report>,
    pub sdk_overhead: Option<sdk_overhead::Report>,
    pub big_list: Option<big_list::Report>,
}

impl Results {
    pub fn new(machine: Machine) -> Self {
        Self {
            machine,
            grpc_loop: None,
            api_cost: None,
            cold_start: None,
            scale_up: None,
            growth: None,
            big_account: None,
            idle: None,
            node_sync: None,
            sdk_overhead: None,
            big_list: None,
        }
    }

    /// The table rows, in scenario order.
    pub fn rows(&self) -> Vec<Row> {
        let mut rows = Vec::new();
        if let Some(r) = &self.grpc_loop {
            grpc_rows(r, &mut rows);
        }
        if let Some(r) = &self.api_cost {
            api_cost_rows(r, &mut rows);
        }
        if let Some(r) = &self.cold_start {
            cold_start_rows(r, &mut rows);
        }
        if let Some(r) = &self.scale_up {
            scale_up_rows(r, &mut rows);
        }
        if let Some(samples) = &self.growth {
            growth_rows(samples, &mut rows);
        }
        if let Some(s) = &self.big_account {
            big_account_rows(s, &mut rows);
        }
        if let Some(s) = &self.idle {
            idle_rows(s, &mut rows);
        }
        if let Some(r) = &self.node_sync {
            node_sync_rows(r, &mut rows);
        }
        if let Some(r) = &self.sdk_overhead {
            sdk_overhead_rows(r, &mut rows);
        }
        if let Some(r) = &self.big_list {
            big_list_rows(r, &mut rows);
        }
        rows
    }

    pub fn to_json(&self) -> Value {
        json!({
            "machine": self.machine,
            "note": "Absolute times are noisy (shared 2-core machine); the ratios to the floors are the result.",
            "rows": self.rows(),
            "scenarios": {
                "grpc_loop": self.grpc_loop,
                "api_cost": self.api_cost,
                "cold_start": self.cold_start,
                "scale_up": self.scale_up,
                "growth": self.growth,
                "big_account": self.big_account,
                "idle": self.idle,
                "node_sync": self.node_sync,
                "sdk_overhead": self.sdk_overhead,
                "big_list": self.big_list,
            },
        })
    }

    pub fn markdown(&self) -> String {
        let rows: Vec<String> = self.rows().iter().map(Row::table_line).collect();
        render(&self.machine_paragraph(), &[], &rows, &self.findings())
    }

    /// What the figures were measured on, as the report's first paragraph says it.
    fn machine_paragraph(&self) -> String {
        format!(
            "Measured on {} core(s), {} ({}), load average {} at the start and {} at the \
             end of the run. Absolute times are noisy (the machine is small and was shared with \
             other builds); the ratios to the floors, measured in the same run, are the result. \
             Every figure is the median of several runs unless it says \"worst\".",
            self.machine.cores,
            self.machine.cpu,
            self.machine.os,
            self.machine.load_before,
            self.machine.load_after
        )
    }

    /// The report of the last full run (`markdown`, `json`) with the rows, findings and
    /// data of the scenarios this partial run measured (`ran`) in place of theirs, and a
    /// line saying when and under what load they were measured. Everything else of the
    /// full run stays as it was.
    pub fn merge(
        &self,
        ran: &BTreeSet<u32>,
        markdown: &str,
        json: &Value,
    ) -> Result<(String, Value), String> {
        let list = ran.iter().map(u32::to_string).collect::<Vec<_>>();
        let later_prefix = format!("Scenarios {} were measured", list.join(", "));
        let machine = markdown
            .lines()
            .find(|l| l.starts_with("Measured on "))
            .ok_or("BENCHMARKS.md has no \"Measured on\" paragraph: run the whole suite once")?;
        let mut later: Vec<String> = markdown
            .lines()
            .filter(|l| l.starts_with("Scenarios ") && l.contains("--merge"))
            .filter(|l| !l.starts_with(&later_prefix))
            .map(str::to_owned)
            .collect();
        later.push(format!(
            "{later_prefix} afterwards, alone (`cargo bench -p tests -- --only {} --merge`), \
             on {} core(s), load average {} at the start and {} at the end of that run.",
            list.join(","),
            self.machine.cores,
            self.machine.load_before,
            self.machine.load_after
        ));
        let kept = |scenario: Option<u32>| scenario.is_some_and(|n| !ran.contains(&n));
        let mut rows: Vec<(u32, String)> = markdown
            .lines()
            .filter_map(|l| Some((table_scenario(l)?, l.to_owned())))
            .filter(|(n, _)| kept(Some(*n)))
            .collect();
        let fresh = self.rows();
        rows.extend(
            fresh
                .iter()
                .filter_map(|r| Some((r.scenario.parse().ok()?, r.table_line()))),
        );
        rows.sort_by_key(|(n, _)| *n);
        let rows: Vec<String> = rows.into_iter().map(|(_, l)| l).collect();
        let mut notes: Vec<String> = markdown
            .lines()
            .filter_map(|l| l.strip_prefix("- "))
            .filter(|note| kept(finding_scenario(note)))
            .map(str::to_owned)
            .collect();
        notes.extend(self.findings());
        let merged_markdown = render(machine, &later, &rows, &notes);

        let mut merged_json = json.clone();
        let old_rows = merged_json["rows"]
            .as_array()
            .ok_or("benchmarks.json has no rows: run the whole suite once")?;
        let row_scenario = |row: &Value| row["scenario"].as_str().and_then(|n| n.parse().ok());
        let mut json_rows: Vec<Value> = old_rows
            .iter()
            .filter(|row| kept(row_scenario(row)))
            .cloned()
            .collect();
        json_rows.extend(fresh.iter().map(|r| json!(r)));
        json_rows.sort_by_key(|row| row_scenario(row).unwrap_or(u32::MAX));
        merged_json["rows"] = Value::Array(json_rows);
        if let Some(Value::Object(measured)) = self.to_json().get("scenarios") {
            for (key, value) in measured.iter().filter(|(_, v)| !v.is_null()) {
                merged_json["scenarios"][key] = value.clone();
            }
        }
        let mut partial: Vec<Value> = merged_json["partial_runs"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        partial.retain(|run| run["scenarios"] != json!(ran));
        partial.push(json!({ "scenarios": ran, "machine": self.machine }));
        merged_json["partial_runs"] = Value::Array(partial);
        Ok((merged_markdown, merged_json))
    }
}

impl Row {
    /// The row as a line of the Markdown table.
    fn table_line(&self) -> String {
        format!(
            "| {} | {} | {} | {} | {} | {} |",
            self.scenario,
            self.metric,
            self.goal,
            self.measured,
            self.floor,
            self.verdict.label()
        )
    }
}

/// The scenario number of a line of the Markdown table; `None` for any other line.
fn table_scenario(line: &str) -> Option<u32> {
    line.strip_prefix("| ")?.split(" |").next()?.parse().ok()
}

/// The scenario a finding is about (`**Scenario 3, …`); `None` for one about several.
fn finding_scenario(note: &str) -> Option<u32> {
    let rest = note.strip_prefix("**Scenario ")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The whole report: the machine paragraph, lines about later partial runs, the table's
/// lines, the findings (one paragraph each) and the fixed sections.
fn render(machine: &str, later: &[String], rows: &[String], notes: &[String]) -> String {
    let mut out = String::new();
    out.push_str(HEADER);
    out.push_str(machine);
    out.push_str("\n\n");
    for line in later {
        out.push_str(line);
        out.push_str("\n\n");
    }
    out.push_str("| # | Metric | Goal | Measured | Floor / reference | Verdict |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for line in rows {
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    if !notes.is_empty() {
        out.push_str("## Goals not met, and why\n\n");
        for note in notes {
            out.push_str(&format!("- {note}\n"));
        }
        out.push('\n');
    }
    out.push_str(CHANGES);
    out.push_str(NOTES);
    out
}

impl Results {
    /// Why each missed goal was missed: the code path and the numbers. Written from the
    /// figures of this run, so a fixed cause disappears from the report by itself.
    fn findings(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if let Some(r) = &self.grpc_loop {
            let find = |list: &[grpc::RpcStats], m: &str| {
                list.iter()
                    .find(|s| s.method == m)
                    .map_or(0.0, |s| s.p50_ms)
            };
            let (provider_nodes, echo_nodes) = (
                find(&r.provider, "NodeGroupNodes"),
                find(&r.echo, "NodeGroupNodes"),
            );
            if r.ratio() > FLOOR_FACTOR && provider_nodes > 20.0 && echo_nodes < 5.0 {
                notes.push(format!(
                    "**Scenario 1, loop ratio: Nagle's algorithm on the provider's gRPC sockets.** \
                     `provider-grpc/src/serve.rs` serves with \
                     `serve_with_incoming_shutdown(TcpIncoming::from(listeners.grpc), ..)`. \
                     `TcpIncoming::from` leaves `TCP_NODELAY` unset, and tonic's own \
                     `tcp_nodelay(true)` default applies only when tonic binds the socket \
                     (`Server::serve(addr)`). Every answer that goes out as more than one TCP \
                     segment (`NodeGroups`, `NodeGroupNodes`: a few KiB) then waits for the \
                     client's delayed ACK: `NodeGroupNodes` p50 {provider_nodes:.1} ms against \
                     {echo_nodes:.2} ms from the echo with tonic's default socket options. \
                     Against an echo without `TCP_NODELAY` the ratio is {:.2}, so the \
                     provider's own work is within the goal. Fix (one line): \
                     `TcpIncoming::from(listeners.grpc).with_nodelay(Some(true))`.",
                    r.ratio_same_sockets()
                ));
            }
            let (provider_groups, echo_groups) =
                (find(&r.provider, "NodeGroups"), find(&r.echo, "NodeGroups"));
            if provider_groups >= 1.0 && echo_groups < 1.0 {
                notes.push(format!(
                    "**Scenario 1, `NodeGroups` (provider and engine).** p50 {provider_groups:.2} ms \
                     against {echo_groups:.2} ms from the echo for the same answer. \
                     `Provider::node_groups` (`provider-grpc/src/service.rs`) calls \
                     `Engine::node_groups()`, which clones every group's whole `GroupView`, \
                     instances included ({} `InstanceView`s with two strings each), only to \
                     send each group's id, min and max. Suggested fix: an engine read that \
                     returns the group summaries without instances (or `Arc`'d group views).",
                    r.params.groups * r.params.per_group
                ));
            }
            let slow: Vec<String> = r
                .provider
                .iter()
                .filter(|s| s.p99_ms >= 1.0 && s.p50_ms < 1.0)
                .map(|s| {
                    let echo = r.echo.iter().find(|e| e.method == s.method);
                    format!(
                        "`{}` {:.2} ms (echo {:.2} ms)",
                        s.method,
                        s.p99_ms,
                        echo.map_or(f64::NAN, |e| e.p99_ms)
                    )
                })
                .collect();
            if !slow.is_empty() {
                notes.push(format!(
                    "**Scenario 1, p99 of the small read RPCs.** Their p50 is well under 1 ms but \
                     their p99 is not: {}. The echo service, which does no work at all, has a \
                     p99 of the same order, so these tails come from scheduling on this \
                     loaded 2-core machine (client, both servers, the simulator and other \
                     builds share the cores), not from the provider. `NodeGroups` and \
                     `Refresh` are called once per loop (5 calls), so their p99 is their \
                     single slowest call; `Refresh` also takes the engine's state lock, which \
                     the served provider's reconcile pass holds while it applies a list of \
                     all its servers. On an idle machine the goal needs re-checking.",
                    slow.join(", ")
                ));
            }
        }
        if let Some(r) = &self.cold_start {
            let nodes_then = r
                .runs
                .iter()
                .map(|run| run.nodes_when_refresh_ok)
                .max()
                .unwrap_or(0);
            if nodes_then < r.params.servers {
                notes.push(format!(
                    "**Scenario 3, readiness before adoption (engine).** In `Reconciler::pass` \
                     (`kamatera-nodegroups/src/engine/reconciler.rs`) the list result is applied \
                     with `shared.update(|state| state.apply_list(..))`, which sets \
                     `last_list_ok` and publishes a snapshot; servers only join their groups in \
                     `State::advance` at the end of the pass, after every tag read. So on a cold \
                     start `refresh()` succeeds after {:.0} ms while every group still reports \
                     {nodes_then} of {} nodes (target size 0), for the {:.0} ms the tag reads \
                     take. A cluster-autoscaler calling in that window sees empty node groups and \
                     unmanaged nodes. Suggested fix: do not report ready (keep `refresh()` \
                     failing, or leave `last_list_ok` unpublished) until the first pass has \
                     adopted the servers.",
                    r.refresh_ok_ms, r.params.servers, r.ready_ms
                ));
            }
        }
        if let Some(samples) = &self.growth
            && let (Some(small), Some(large)) = (samples.first(), samples.last())
        {
            let per = |v: f64, s: &growth::Sample| v / s.servers as f64;
            let loop_growth = per(large.loop_ms, large) / per(small.loop_ms, small);
            let pass_growth = per(large.pass_ms, large) / per(small.pass_ms, small);
            if loop_growth > LINEAR_FACTOR
                || pass_growth > LINEAR_FACTOR
                || large.pass_ms > PASS_OVER_LIST * large.list_ms
            {
                let list_growth = per(large.list_ms, large) / per(small.list_ms, small);
                notes.push(format!(
                    "**Scenario 5, growth and pass over list (engine, machine).** Per server, \
                     the loop costs {loop_growth:.2}× and the steady pass {pass_growth:.2}× as \
                     much at {} as at {} servers, and the steady pass at {} servers takes \
                     {:.1} ms against {:.1} ms for the bare list call. The bare list call \
                     itself, measured in the same children, grew {list_growth:.2}× per \
                     server. At {} servers a pass takes about half a millisecond, most of it \
                     the loopback round trip to the simulator, and that part moves by a tenth \
                     of a millisecond from one child process to the next (which core the \
                     child and the simulator land on; each figure is the median over five \
                     children): the growth ratios move with it, from \
                     about 0.96× to 1.11× over repeated runs of the same build. The \
                     engine's own work in a steady pass (from the list's answer to the end: \
                     apply it, walk the instances, share the snapshot) took about 0.09 ms at \
                     1,000 and 1.2 ms at 10,000 servers when timed inside the pass: 1.4× per \
                     server, but a fifth of the pass.",
                    large.servers,
                    small.servers,
                    large.servers,
                    large.pass_ms,
                    large.list_ms,
                    small.servers,
                ));
            }
        }
        if let Some(s) = self
            .growth
            .as_ref()
            .and_then(|samples| samples.iter().find(|s| s.servers == 10_000))
            && mib(s.peak_rss_kib) > RSS_GOAL_MIB
        {
            notes.push(format!(
                "**Scenario 5, memory at 10,000 members.** Peak RSS {:.1} MiB against {RSS_GOAL_MIB} \
                 MiB. The process at 1,000 servers already has {:.1} MiB (code, thread stacks, \
                 the TLS root store); glibc keeps freed memory in per-thread arenas, so the \
                 transient memory of a pass (the answer's body and its compact rows, about \
                 2 MB at 10,000 servers) can count once per runtime thread. What is left \
                 to try: moving an instance's rarely used fields (retry and search state, \
                 errors) behind one box.",
                mib(s.peak_rss_kib),
                self.growth
                    .as_ref()
                    .and_then(|samples| samples.first())
                    .map_or(f64::NAN, |s| mib(s.peak_rss_kib)),
            ));
        }
        if let Some(s) = &self.big_account
            && s.pass_ms > PASS_OVER_LIST * s.list_ms
        {
            notes.push(format!(
                "**Scenario 6, big account.** The steady pass over {} listed servers took \
                 {:.1} ms against {:.1} ms for the bare list call. The foreign servers cost \
                 a prefix check (or one hash look-up of a server known foreign) each; the \
                 members cost what they cost in scenario 5.",
                s.listed, s.pass_ms, s.list_ms
            ));
        }
        sdk_findings(self, &mut notes);
        notes
    }
}

fn grpc_rows(r: &grpc::Report, rows: &mut Vec<Row>) {
    let p = &r.params;
    rows.push(row(
        "1",
        format!(
            "CA loop over gRPC, {} groups × {} servers ({} calls): provider / bare tonic echo",
            p.groups, p.per_group, r.calls_per_loop
        ),
        format!("ratio ≤ {FLOOR_FACTOR}"),
        format!(
            "{:.0} ms / {:.0} ms = {:.2}",
            r.provider_loop_ms,
            r.echo_loop_ms,
            r.ratio()
        ),
        format!("echo loop {:.0} ms", r.echo_loop_ms),
        Verdict::of(r.ratio() <= FLOOR_FACTOR),
    ));
    rows.push(row(
        "1",
        "Same loop: provider / echo without `TCP_NODELAY` (what Nagle's algorithm costs)",
        "–",
        format!(
            "{:.0} ms / {:.0} ms = {:.2}",
            r.provider_loop_ms,
            r.echo_same_sockets_loop_ms,
            r.ratio_same_sockets()
        ),
        "reference: sockets as `TcpIncoming::from` leaves them",
        Verdict::Info,
    ));
    for stats in &r.provider {
        let echo = r.echo.iter().find(|e| e.method == stats.method);
        rows.push(row(
            "1",
            format!("`{}` p50 / p99 ({} calls)", stats.method, stats.calls),
            "p99 < 1 ms",
            format!("{:.3} / {:.3} ms", stats.p50_ms, stats.p99_ms),
            echo.map_or_else(
                || "–".to_owned(),
                |e| format!("echo {:.3} / {:.3} ms", e.p50_ms, e.p99_ms),
            ),
            Verdict::of(stats.p99_ms < 1.0),
        ));
    }
}

fn api_cost_rows(r: &api_cost::Report, rows: &mut Vec<Row>) {
    let p = &r.params;
    let idle = r.idle_worst();
    let busy = r.in_flight_worst();
    let aged = r.tags_aged_worst();
    let polls = p.in_flight.div_ceil(r.queue_batch.max(1)) as u64;
    let shape = format!("{} servers, {} groups", p.servers, p.groups);
    rows.push(row(
        "2",
        format!(
            "Idle pass ({shape}): list / tags / all requests, worst of {}",
            r.idle.len()
        ),
        "1 / 0 / 1",
        format!("{} / {} / {}", idle.list, idle.tags, idle.total),
        "1 list",
        Verdict::of(idle.list == 1 && idle.tags == 0 && idle.total == 1),
    ));
    rows.push(row(
        "2",
        format!(
            "Pass with {} commands in flight: queue polls / all requests, worst of {}",
            p.in_flight,
            r.in_flight.len()
        ),
        format!("{polls} / {} (1 poll per {} ids)", polls + 1, r.queue_batch),
        format!("{} / {}", busy.queue, busy.total),
        format!(
            "⌈{}/{}⌉ = {polls} polls + 1 list",
            p.in_flight, r.queue_batch
        ),
        Verdict::of(busy.queue == polls && busy.total == polls + 1 && busy.tags == 0),
    ));
    rows.push(row(
        "2",
        "Idle pass once tags are older than `tag_refresh_interval` (10 min): tags per pass",
        "bounded by `tag_refresh_budget`",
        format!("{} (+{} list)", aged.tags, aged.list),
        {
            // Re-reads needed per pass to keep every server's tags younger than the refresh
            // interval; above `budget` servers per interval the budget is spent every pass.
            let defaults = kamatera_nodegroups::EngineOptions::default();
            let passes_per_refresh = defaults.tag_refresh_interval.as_secs_f64()
                / defaults.reconcile_interval.as_secs_f64();
            format!(
                "budget {}: with default 10 s passes and 10 min refresh, every pass spends it \
                 once a cloud has more than {:.0} servers",
                r.tag_refresh_budget,
                passes_per_refresh * r.tag_refresh_budget as f64
            )
        },
        Verdict::Info,
    ));
}

fn cold_start_rows(r: &cold_start::Report, rows: &mut Vec<Row>) {
    let p = &r.params;
    rows.push(row(
        "3",
        format!(
            "Cold start, {} servers, {} ms latency: time to a ready snapshot with every server",
            p.servers, p.latency_ms
        ),
        format!("≤ {FLOOR_FACTOR}× floor"),
        format!("{:.0} ms ({:.2}× floor)", r.ready_ms, r.ratio()),
        format!(
            "{:.0} ms = list {:.0} ms + ⌈{}/{}⌉ × {} ms; sequential {:.0} ms",
            r.floor_ms, r.list_ms, p.servers, r.tag_concurrency, p.latency_ms, r.sequential_ms
        ),
        Verdict::of(r.ratio() <= FLOOR_FACTOR),
    ));
    let nodes_then = r
        .runs
        .iter()
        .map(|run| run.nodes_when_refresh_ok)
        .max()
        .unwrap_or(0);
    rows.push(row(
        "3",
        "Cold start: when `Refresh` first succeeds, and nodes the snapshot had then (worst run)",
        "only with every server adopted",
        format!(
            "{:.0} ms, {nodes_then} of {} nodes",
            r.refresh_ok_ms, p.servers
        ),
        format!("ready at {:.0} ms", r.ready_ms),
        Verdict::of(nodes_then == p.servers),
    ));
}

fn scale_up_rows(r: &scale_up::Report, rows: &mut Vec<Row>) {
    let p = &r.params;
    rows.push(row(
        "4",
        format!("`NodeGroupIncreaseSize({})` latency over gRPC", p.nodes),
        "< 10 ms",
        format!("{:.3} ms", r.increase_size_ms),
        "–",
        Verdict::of(r.increase_size_ms < 10.0),
    ));
    rows.push(row(
        "4",
        format!(
            "Scale-up of {} nodes, {} ms latency: until every create is accepted",
            p.nodes, p.latency_ms
        ),
        format!("≤ {FLOOR_FACTOR}× floor"),
        format!("{:.0} ms ({:.2}× floor)", r.all_accepted_ms, r.ratio()),
        format!(
            "{:.0} ms = ⌈{}/{}⌉ × {} ms; sequential {:.0} ms",
            r.floor_ms, p.nodes, r.mutation_concurrency, p.latency_ms, r.sequential_ms
        ),
        Verdict::of(r.ratio() <= FLOOR_FACTOR),
    ));
}

fn mib(kib: Option<u64>) -> f64 {
    kib.map_or(f64::NAN, |k| k as f64 / 1024.0)
}

fn growth_rows(samples: &[growth::Sample], rows: &mut Vec<Row>) {
    for s in samples {
        let rss = mib(s.peak_rss_kib);
        let is_goal = s.servers == 10_000;
        rows.push(row(
            "5",
            format!(
                "{} servers ({} groups): loop (of it `NodeGroupForNode`) / steady pass (beside \
                 it, the bare list call) / cold pass / peak RSS",
                s.servers, s.groups
            ),
            if is_goal {
                format!("RSS ≤ {RSS_GOAL_MIB} MiB")
            } else {
                "–".to_owned()
            },
            format!(
                "{:.2} ms ({:.2}) / {:.1} ms ({:.1}) / {:.0} ms / {:.1} MiB",
                s.loop_ms, s.loop_for_node_ms, s.pass_ms, s.list_ms, s.cold_pass_ms, rss
            ),
            format!("{} calls per loop", s.loop_calls),
            if is_goal {
                Verdict::of(rss <= RSS_GOAL_MIB)
            } else {
                Verdict::Info
            },
        ));
    }
    // Linear or better: the cost per server at the largest size is within the tolerance
    // of the cost per server at the smallest.
    if let (Some(small), Some(large)) = (samples.first(), samples.last())
        && large.servers > small.servers
    {
        let per = |v: f64, s: &growth::Sample| v / s.servers as f64;
        let loop_growth = per(large.loop_ms, large) / per(small.loop_ms, small);
        let pass_growth = per(large.pass_ms, large) / per(small.pass_ms, small);
        rows.push(row(
            "5",
            format!(
                "Per-server cost at {} vs {} servers: loop / steady pass",
                large.servers, small.servers
            ),
            format!("≤ {LINEAR_FACTOR}× (linear or better)"),
            format!("{loop_growth:.2}× / {pass_growth:.2}×"),
            "1.00× = exactly linear",
            Verdict::of(loop_growth <= LINEAR_FACTOR && pass_growth <= LINEAR_FACTOR),
        ));
        let list_growth = per(large.list_ms, large) / per(small.list_ms, small);
        rows.push(row(
            "5",
            format!(
                "Per-server cost at {} vs {} servers of the bare list call (HTTP + decode), \
                 the same children: how much of the pass's growth the machine gives",
                large.servers, small.servers
            ),
            "–",
            format!("{list_growth:.2}×"),
            "1.00× = exactly linear",
            Verdict::Info,
        ));
        let over = large.pass_ms / large.list_ms;
        rows.push(row(
            "5",
            format!(
                "Steady pass at {} servers / the bare list call (HTTP + decode) of the same run",
                large.servers
            ),
            format!("≤ {PASS_OVER_LIST}×"),
            format!(
                "{:.1} ms / {:.1} ms = {over:.2}×",
                large.pass_ms, large.list_ms
            ),
            format!("bare `list_servers` {:.1} ms", large.list_ms),
            Verdict::of(over <= PASS_OVER_LIST),
        ));
    }
}

fn big_account_rows(s: &growth::Sample, rows: &mut Vec<Row>) {
    let over = s.pass_ms / s.list_ms;
    rows.push(row(
        "6",
        format!(
            "Big account: {} listed servers, {} members ({} groups): steady pass / bare list call",
            s.listed, s.servers, s.groups
        ),
        format!("≤ {PASS_OVER_LIST}×"),
        format!("{:.1} ms / {:.1} ms = {over:.2}×", s.pass_ms, s.list_ms),
        format!("bare `list_servers` {:.1} ms", s.list_ms),
        Verdict::of(over <= PASS_OVER_LIST),
    ));
    let rss = mib(s.peak_rss_kib);
    rows.push(row(
        "6",
        "Big account: peak RSS / cold pass / CA loop",
        format!("RSS ≤ {BIG_ACCOUNT_RSS_GOAL_MIB} MiB"),
        format!(
            "{rss:.1} MiB / {:.0} ms / {:.2} ms",
            s.cold_pass_ms, s.loop_ms
        ),
        "–",
        Verdict::of(rss <= BIG_ACCOUNT_RSS_GOAL_MIB),
    ));
}

fn idle_rows(s: &idle::Sample, rows: &mut Vec<Row>) {
    let share = s.core_share_percent();
    rows.push(row(
        "7",
        format!(
            "Idle provider, {} members ({} groups), reconcile every {:.0} s: CPU per minute \
             (share of one core)",
            s.servers,
            s.groups,
            s.interval_ms / 1e3
        ),
        format!("< {IDLE_GOAL_PERCENT} %"),
        format!("{:.0} ms/min ({share:.3} %)", s.cpu_ms_per_minute()),
        format!(
            "{:.0} ms CPU in {:.1} s, {} passes",
            s.cpu_ms,
            s.window_ms / 1e3,
            s.passes
        ),
        Verdict::of(share < IDLE_GOAL_PERCENT),
    ));
}

fn node_sync_rows(r: &node_sync::Report, rows: &mut Vec<Row>) {
    let p = &r.params;
    let m = &r.measured;
    rows.push(row(
        "8",
        format!(
            "Node sync, {} Nodes of which {} without provider id, {} ms API latency: until \
             every provider id is patched",
            p.nodes, p.missing, p.latency_ms
        ),
        format!("≤ {FLOOR_FACTOR}× floor"),
        format!(
            "{:.0} ms ({:.2}× floor), {} patches",
            m.all_patched_ms,
            r.ratio(),
            m.patches
        ),
        format!(
            "{:.0} ms = list {:.0} ms + ⌈{}/{}⌉ × {} ms; sequential {:.0} ms",
            r.floor_ms, r.list_ms, p.missing, r.concurrency, p.latency_ms, r.sequential_ms
        ),
        Verdict::of(r.ratio() <= FLOOR_FACTOR && m.patches == p.missing as u64),
    ));
    rows.push(row(
        "8",
        "Node sync idle: requests about single Nodes / re-lists over two resyncs",
        "0 / 0",
        format!("{} / {}", m.idle_per_node_requests, m.idle_lists),
        format!(
            "{:.1} s window, resync every {:.1} s",
            m.idle_window_ms / 1e3,
            p.resync_ms as f64 / 1e3
        ),
        Verdict::of(m.idle_per_node_requests == 0 && m.idle_lists == 0),
    ));
    let (before, after) = (mib(m.rss_before_kib), mib(m.rss_after_kib));
    rows.push(row(
        "8",
        "Node sync: peak RSS of the provider before node sync (engine ready) / after (of it \
         node sync)",
        "–",
        format!(
            "{before:.1} MiB / {after:.1} MiB ({:.1} MiB)",
            after - before
        ),
        format!("{} Nodes in the watch cache", p.nodes),
        Verdict::Info,
    ));
}

fn sdk_overhead_rows(r: &sdk_overhead::Report, rows: &mut Vec<Row>) {
    let calls = [
        (
            format!(
                "SDK overhead per call: `Client::list_servers()` of a {}-server account \
                 (default client: timeout, retry policy, no observer) against `kamatera-sim` \
                 on loopback, no latency / the same GET made bare (reqwest + `serde_json` \
                 into a plain struct of `String`s)",
                r.params.servers
            ),
            &r.list_servers,
        ),
        (
            format!(
                "SDK overhead per call: `Client::server_tags(ServerSelector::id(..))` (POST \
                 `/server/tags`, {} tags) / the same POST made bare (`{{\"id\": ..}}` body, \
                 rows into a plain struct)",
                r.tags
            ),
            &r.server_tags,
        ),
    ];
    for (metric, c) in calls {
        rows.push(row(
            "9",
            metric,
            format!("≤ {SDK_CALL_GOAL}"),
            format!(
                "p50 {:.1} µs / {:.1} µs = {:.3}",
                c.sdk_p50_us,
                c.bare_p50_us,
                c.ratio()
            ),
            format!(
                "bare p50 {:.1} µs (one reqwest client, rustls, the SDK's timeouts); {} pairs \
                 in turns, median of per-pair ratios {:.3}",
                c.bare_p50_us, c.pairs, c.pair_ratio_p50
            ),
            Verdict::of(c.ratio() <= SDK_CALL_GOAL),
        ));
    }
}

fn big_list_rows(r: &big_list::Report, rows: &mut Vec<Row>) {
    let n = r.params.servers;
    let size = format!("{n}-row answer ({:.1} MB)", r.body_bytes as f64 / 1e6);
    let measured = |c: &crate::scenarios::paired::Comparison| {
        format!(
            "p50 {:.2} ms / {:.2} ms = {:.3}",
            c.sdk_p50_us / 1e3,
            c.bare_p50_us / 1e3,
            c.ratio()
        )
    };
    let reference = |c: &crate::scenarios::paired::Comparison, what: &str| {
        format!(
            "{what} p50 {:.2} ms; {} pairs in turns, median of per-pair ratios {:.3}",
            c.bare_p50_us / 1e3,
            c.pairs,
            c.pair_ratio_p50
        )
    };
    let c = &r.list_servers;
    rows.push(row(
        "10",
        format!(
            "Big list, what a user gets: `Client::list_servers()` of a {size} served prebuilt \
             by a local HTTP server (HTTP, error-object check, strict decode into \
             `ServerSummary`s) / a bare reqwest GET of the same URL + `serde_json::from_slice` \
             into a plain struct `{{id, name, datacenter, power: String}}`"
        ),
        format!("≤ {BIG_LIST_GOAL}"),
        measured(c),
        reference(c, "bare GET + decode"),
        Verdict::of(c.ratio() <= BIG_LIST_GOAL),
    ));
    let c = &r.list_servers_compact;
    rows.push(row(
        "10",
        "Big list, the provider's path: `Client::list_servers_compact()` (every row's text \
         in one string) of the same answer over HTTP / the same bare GET + decode",
        "–",
        measured(c),
        reference(c, "bare GET + decode"),
        Verdict::Info,
    ));
    let c = &r.decode_only;
    rows.push(row(
        "10",
        "Big list, decode alone (no HTTP): `serde_json::from_slice::<Vec<ServerSummary>>` / \
         `serde_json::from_slice` into the plain struct, the same bytes (`CompactServerList` \
         has no public decoding entry point, so it is measured over HTTP only)",
        "–",
        measured(c),
        reference(c, "plain decode"),
        Verdict::Info,
    ));
}

/// Scenarios 9 and 10: what the SDK does that the bare call does not, when a goal is missed.
fn sdk_findings(results: &Results, notes: &mut Vec<String>) {
    if let Some(r) = &results.sdk_overhead {
        for (call, c) in [
            ("list_servers", &r.list_servers),
            ("server_tags", &r.server_tags),
        ] {
            if c.ratio() > SDK_CALL_GOAL {
                notes.push(format!(
                    "**Scenario 9, `{call}` (kamatera-api).** p50 {:.1} µs against {:.1} µs \
                     for the same request made bare ({:.3}×, {:.1} µs more per call).",
                    c.sdk_p50_us,
                    c.bare_p50_us,
                    c.ratio(),
                    c.sdk_p50_us - c.bare_p50_us
                ));
            }
        }
    }
    if let Some(r) = &results.big_list {
        let c = &r.list_servers;
        if c.ratio() > BIG_LIST_GOAL {
            notes.push(format!(
                "**Scenario 10, big list (kamatera-api).** `list_servers()` p50 {:.2} ms \
                 against {:.2} ms bare ({:.3}×); decoding alone {:.2} ms against {:.2} ms.",
                c.sdk_p50_us / 1e3,
                c.bare_p50_us / 1e3,
                c.ratio(),
                r.decode_only.sdk_p50_us / 1e3,
                r.decode_only.bare_p50_us / 1e3
            ));
        }
    }
}

const HEADER: &str = "# Benchmarks

Run with one command from the workspace root (release build, about three minutes):

```sh
cargo bench -p tests
```

It starts `kamatera-sim` on loopback with injected per-request latency, runs the provider
in-process (scenarios 5 to 8 in a child process, so that its memory and CPU time are
measured alone), and rewrites
this file, `benchmarks.json` beside it and `target/bench/results.json`.
`cargo bench -p tests -- --only 2,4` runs some scenarios and writes only the last;
`--only 9,10 --merge` also puts their rows and data in place of theirs in this file and
`benchmarks.json`, every other row staying as the last full run measured it.
The benchmarks do not run in CI; the smoke test `bench_smoke` in the `e2e` test binary runs
every scenario at a tiny size so they cannot rot.

";

const CHANGES: &str = "## Failover of the leader

From `kill -9` of the leader to the standby serving as the ready leader (gRPC health
`SERVING`), with a 3 s lease, a standby that looks every 200 ms and a health status updated
every second. Three runs of `leader_failover::the_standby_finishes_a_scale_up...` with
`--nocapture`: 3.60 s, 3.57 s and 3.59 s. The goal is at most the lease duration plus 1 s
(4 s here). With the default 15 s lease the floor is 15 s. A SIGTERM hands the lease over
without waiting for it to expire: under the lease duration, as the test checks.
It is not yet a `cargo bench` scenario: the figure is the e2e test's printout.

## What each change bought

Figures at 10,000 servers (scenario 5) unless said otherwise; wall times on this shared
machine vary by ±30 % from run to run, so each step is given as measured right after it.

| Change | Where | Bought |
|---|---|---|
| Before (the suite's previous run) | – | loop 15.25 ms, steady pass 97.3 ms (bare list 20.1 ms), 38.1 MiB |
| A snapshot shares every group's instance list and the name index with the previous snapshot when they did not change; `NodeGroupForNode` by instance id looks up the name index (the id is the prefix plus the name), so the second map is gone; `commands_in_flight` is counted, not collected | `engine/snapshot.rs`, `engine/mod.rs` | loop 1.47 ms (10×), steady pass 20.5 ms (bare list 7.5 ms), 33.9 MiB: a steady pass builds no per-server views or index entries any more |
| `advance` returns at once for a settled Running or Parked instance (listed, both membership tags, no marker to clear), instead of copying its group name, membership tags, server id, name and phase; `attach_servers` does nothing when every instance has its server | `engine/plan.rs` | in the same step as above; the per-instance copies were 5 allocations per server and pass |
| A multiply-rotate hasher (no new dependency) for the maps keyed by server ids and names, and the adoption check's set sized up front | `engine/fast_hash.rs`, `engine/state.rs`, `engine/plan.rs`, `engine/listing.rs` | SipHash was 1.7 % of the child's samples (perf); the change is below the run-to-run noise in wall time |
| The adoption check marks each owned server with the check's number (one look-up per instance) instead of building a set of owned ids and probing it for every server | `engine/plan.rs`, `engine/state.rs` | `State::advance` at 10,000 servers: 228.1 M → 207.6 M instructions over the child's 16 passes (callgrind), −9 % |
| The list answer is decoded strictly in one go; row by row only when that fails (part of the robustness work, docs/engine-robustness.md) | `kamatera-api` `list_servers_lenient` | a steady pass no longer decodes every row into a JSON value first |
| *Second round.* Start, same suite on a quiet machine | – | loop 1.56 ms, steady pass 20.7 ms (bare list 7.4 ms), 33.5 MiB; growth 1.52× / 1.68×, pass over list 2.81× |
| Known servers in an `IndexMap` kept in list order, applied with a cursor (the next row is nearly always the next entry); failures counted once per published state instead of at every `with_state` (four walks over the instances per pass became one) | `engine/listing.rs`, `engine/mod.rs` | below the noise alone; the base for what follows |
| Group names interned (`Arc<str>` shared by every instance of a group); what a server's tags say (group, markers) worked out once per tag read; one walk in key order finds the instances to advance, instead of a B-tree look-up and a tag-string check per instance | `engine/state.rs`, `engine/plan.rs`, `engine/pool.rs` | A/B in one sitting: steady pass 20.0–21.5 → 11.1–14.1 ms, loop 2.4–3.0 → 1.2–1.3 ms |
| Snapshot finds a group by the address of its interned name (no string binary search per instance); the name index is an `IndexMap` in instance order (replaced below) | `engine/snapshot.rs` | snapshot build at 1,000 servers 180 → 75 µs |
| `kamatera-api`: the body is handed on without a copy, and decoded without path tracking unless decoding fails (the path is worked out only to explain a failure) | `kamatera-api` `client.rs`, `decode.rs` | bare list at 10,000 servers 8–10 → 4.8–5.2 ms (for every SDK call, not only the engine) |
| `kamatera-api`: `list_servers_compact` keeps a list's text in one string with four offsets per row (no allocation per row); `PowerState` decodes without allocating; the reconciler uses it | `kamatera-api` `calls/compact_list.rs`, `engine/reconciler.rs` | 30,000 allocations and frees per pass at 10,000 servers gone; RSS 34.9 → 33.2 MiB |
| Snapshot rebuilds only the groups whose instances were added, removed or changed, as recorded by `Instances` (no comparison of every instance with its view) | `engine/instances.rs`, `engine/snapshot.rs` | steady pass 8.3–11 → 6.5 ms; snapshot build at 10,000 servers 1.3–1.9 ms → a few µs |
| A known server keeps what its tags say (groups, markers), not the tag strings | `engine/state.rs` | RSS 30.5–31.9 → 29.7–30.1 MiB |
| Method: the growth child reads its peak RSS before the bench's own bare list calls (owned rows of every server: a call the provider never makes) | `tests/benches/scenarios/growth.rs` | RSS 32.4–33.0 → 30.5–31.9 MiB; not a change of the provider |
| `Engine::nodes` shares the snapshot's instance list (`Arc`) instead of copying every view at every call | `engine/mod.rs` | loop at 10,000 servers 1.25 → 0.5–0.7 ms, nearly all of it `NodeGroupForNode` now; growth of the loop 1.02–1.45× over six runs of the same build |
| The name index keeps every name in one string and a table of positions (half a megabyte at 10,000 names) instead of a map of `String` keys | `engine/name_index.rs` | measured together with the next step: `NodeGroupForNode` in a loop at 10,000 servers 0.48–0.68 → 0.48–0.49 ms, growth of the loop 1.02–1.03× in three runs |
| What every pass asks of all instances (names being created, outstanding commands) is kept until an instance changes; failures are counted only when one did; the claim walk reads the servers with a cursor | `engine/instances.rs`, `engine/plan.rs`, `engine/mod.rs` | steady pass at 10,000 servers 6.3–6.8 → 5.2–5.6 ms; growth of the pass 1.12–1.22× → 0.96–1.11× |
| Method: each size of scenario 5 runs in five child processes, in rounds over the sizes, and each figure is the median over the children | `tests/benches/bench.rs`, `tests/benches/scenarios/growth.rs` | one child alone landed high or low as a whole (its cores, its caches); not a change of the provider |
| The engine's maps keyed by server ids and names hash with `foldhash`'s fast hash (fixed seed, so orders stay reproducible) instead of our own multiply-rotate hasher: a well-kept crate, already in `Cargo.lock` | `engine/fast_hash.rs` | no loss: scenarios 5 and 6 (`--only 5,6`), ours (A) and foldhash (B) run interleaved A B A B A B on the shared machine (load 2–4), medians A / B: steady pass at 10,000 servers over the bare list call 1.01× / 1.01×, big account (50,000 listed) 1.22× / 1.17×; loop at 10,000 servers 0.83 / 0.86 ms, at 5,000 0.46 / 0.38 ms; cold pass at 10,000 734 / 737 ms; RSS 31.0 / 31.2 MiB: every difference within the spread of one side's runs |

Profiles: `perf record -g` on the bench (it follows the child), `perf report --sort pid,sym`;
instruction counts with
`KAMATERA_BENCH_CHILD_WRAPPER='valgrind --tool=callgrind --collect-atstart=no --toggle-collect=*Reconciler::run_pass* --toggle-collect=*replay_in_process*' cargo bench -p tests -- --only 5`
and heap peaks with `KAMATERA_BENCH_CHILD_WRAPPER='valgrind --tool=massif'`.

";

const NOTES: &str = "## How each figure is measured

1. **CA loop over gRPC.** The provider is served in-process by `serve::run` (plaintext,
   default engine options) on loopback over a simulator with the servers; the client is the
   generated tonic client, calling one RPC after another as CA does. The bare service is a
   tonic server implementing the same `CloudProvider` trait that answers every call with
   the provider's own recorded answer, so both send the same bytes. Loops alternate
   between the two; the loop figure is the median, p50/p99 are over every call of all loops.
2. **Steady-state API cost.** The simulator counts every API request; a pass's cost is the
   difference of its counters around `run_pass` plus every call the pass started. In-flight
   commands are creates whose commands stay pending (the simulator's clock is not moved).
   The last row uses a second engine whose `tag_refresh_interval` is zero, to show what a
   pass costs once every server's tags are due for a re-read (all other options default).
3. **Cold start.** A fresh engine's first pass against a cloud of existing member servers;
   every request takes the injected latency. The floor's list time is measured in the same
   run. A watcher calls `refresh()` every millisecond, as a cluster-autoscaler might.
4. **Scale-up.** Over gRPC against the provider served by `serve::run`; the time runs from
   the `NodeGroupIncreaseSize` call until the provider's `kamatera_cloud_commands_in_flight`
   gauge (on `/metrics`, polled every 2 ms) shows a command id for every create.
5. **Growth.** Each size runs in a child process (the bench binary re-executed) against a
   simulator in the parent, five times, in rounds over the sizes; each figure is the median
   over the five children (the highest peak RSS). `VmHWM` from `/proc/self/status` is a
   child's peak RSS, read after the passes and loops. The loop is the in-process CA loop: `refresh`,
   `node_groups`, `target_size` / `nodes` / options per group and `node_group_for_node`
   for every node. No latency is injected. The bare list call is one
   `Client::list_servers` (HTTP and strict JSON decode of every row into owned rows) made
   by the child after the peak RSS is read: it is the floor, a call the provider never
   makes (a pass uses `Client::list_servers_compact`).
6. **Big account.** As 5, with 50,000 listed servers: 10,000 members, 30,000 foreign ones
   outside `filter-name-prefix = k8s-` and 10,000 inside it but tagged for another
   cluster (their tags are read once, in the cold pass).
7. **Idle cost.** The child runs one cold pass, then `Reconciler::run` (the serve
   command's loop) with the default reconcile interval for three intervals, nothing
   changing; CPU time is user plus system time of the child from `/proc/self/stat`.
8. **Node sync at scale.** A fake Kubernetes API in the parent (list, watch, get, merge
   patch; every list, get and patch answered after the injected latency) holds Ready
   Nodes of member servers with their template labels, some without `spec.providerID`.
   The child lists the servers with an engine, then runs `node_sync::run` until the
   `kamatera_node_sync_provider_ids_patched` counter reaches the number of Nodes without
   one, then stays idle for two and a half resync intervals while the fake counts
   requests. The floor's list time is one bare list of every Node by the parent, in the
   same run; the concurrency is the controller's `MAX_CONCURRENT_RECONCILES`.

9. **SDK overhead per call (SDK).** A `kamatera-api` `Client` with its default settings
   (30 s timeout, default retry policy, no observer, no rate limit) calls
   `list_servers()` and `server_tags(ServerSelector::id(..))` on a simulator of ten
   servers on loopback, no latency injected. The reference is the same request made with
   one bare `reqwest` client built like the SDK's (rustls, the SDK's user agent, connect
   timeout and a total timeout of the same length): the same URL, the `AuthClientId`,
   `AuthSecret` and `Accept` headers, the same JSON body, the answer's status checked and
   its bytes decoded by `serde_json::from_slice` into a plain `#[derive(Deserialize)]`
   struct of `String`s. The two sides take turns (A B, B A, …) after a warm-up; p50 is
   the median over all pairs, the ratio is SDK p50 / bare p50. The simulator and HTTP are
   the same on both sides, so what differs is the SDK's own work: building the call and
   its URL, the auth headers from secrets, the upstream error-object check, the decode
   that explains a failure with its JSON path, the retry wrapper, the timeout and tracing.
10. **Decoding a 50,000-server list (SDK).** The simulator's answer to
   `GET /service/servers` for 50,000 servers is taken once, then served as a prebuilt
   body by a local axum server that does nothing else. The goal row is what a user gets:
   `Client::list_servers()` (HTTP, error-object check, strict decode into
   `ServerSummary`s, owned rows) against a bare reqwest GET of the same URL decoded into
   a plain struct `{id, name, datacenter, power: String}`, HTTP on both sides. The info
   rows are `Client::list_servers_compact()` against the same bare call, and the decode
   alone, with no HTTP: `serde_json::from_slice::<Vec<ServerSummary>>` against the
   plain struct, of the same bytes. Turns and medians as in 9.

All engines use the documented `EngineOptions::default()`.
";
