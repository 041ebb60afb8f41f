//! In-memory simulator state: servers with id/name indexes, rules and the request log.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use axum::body::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use regex::Regex;
use serde_json::Value;

use crate::clock::{SimMillis, format_timestamp};
use crate::commands::Command;
use crate::config::{Behaviour, SimConfig};
use crate::effects::Effect;
use crate::error::SimError;
use crate::faults::FaultRule;
use crate::model::{
    HistoryEntry, Nic, OutcomeRule, RequestRecord, SeedServer, SimServer, TimingRule,
};
use crate::resources::Resources;

/// How an API call selects servers.
#[derive(Debug, Clone)]
pub(crate) enum Selector {
    Name(String),
    Id(String),
}

impl Selector {
    /// The `(name='...')` / `(id='...')` suffix of "No servers found" style messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Name(n) => format!("name='{n}'"),
            Self::Id(i) => format!("id='{i}'"),
        }
    }
}

/// A rule plus its compiled name pattern.
#[derive(Debug)]
pub(crate) struct Compiled<T> {
    pub(crate) id: u64,
    pub(crate) rule: T,
    pub(crate) name: Option<Regex>,
}

impl<T> Compiled<T> {
    pub(crate) fn name_matches(&self, name: &str) -> bool {
        self.name.as_ref().is_none_or(|re| re.is_match(name))
    }
}

/// Compiles `^(?:pattern)$`, the proxy's implicit full-match anchor.
pub(crate) fn full_match(pattern: &str) -> Result<Regex, SimError> {
    Regex::new(&format!("^(?:{pattern})$")).map_err(|source| SimError::Regex {
        pattern: pattern.to_owned(),
        source: Box::new(source),
    })
}

#[derive(Debug)]
pub(crate) struct State {
    pub(crate) initial: SimConfig,
    pub(crate) behaviour: Behaviour,
    pub(crate) rng: StdRng,
    servers: BTreeMap<u64, SimServer>,
    by_id: HashMap<String, u64>,
    by_name: HashMap<String, BTreeSet<u64>>,
    next_seq: u64,
    next_ip: u32,
    list_cache: Option<Bytes>,
    pub(crate) commands: BTreeMap<u64, Command>,
    pub(crate) due: BTreeSet<(u64, u64)>,
    pub(crate) next_command: u64,
    pub(crate) faults: Vec<(u64, FaultRule)>,
    pub(crate) outcomes: Vec<Compiled<OutcomeRule>>,
    pub(crate) timings: Vec<Compiled<TimingRule>>,
    next_rule: u64,
    log: VecDeque<RequestRecord>,
    counters: BTreeMap<String, u64>,
    next_request: u64,
    /// What scheduled commands change on completion, beyond their kind (rename, configure).
    pub(crate) effects: HashMap<u64, Effect>,
    /// `AuthClientId` of the request being handled: the `user` of history entries.
    client_id: String,
    /// Disk ids, snapshots, private networks and images, MACs and resource command payloads.
    pub(crate) resources: Resources,
}

impl State {
    pub(crate) fn new(config: SimConfig) -> Self {
        let resources = Resources::new(&config.account_id);
        Self {
            behaviour: config.behaviour.clone(),
            rng: StdRng::seed_from_u64(config.seed),
            initial: config,
            servers: BTreeMap::new(),
            by_id: HashMap::new(),
            by_name: HashMap::new(),
            next_seq: 1,
            next_ip: 10,
            list_cache: None,
            commands: BTreeMap::new(),
            due: BTreeSet::new(),
            next_command: 100_001,
            faults: Vec::new(),
            outcomes: Vec::new(),
            timings: Vec::new(),
            next_rule: 1,
            log: VecDeque::new(),
            counters: BTreeMap::new(),
            next_request: 1,
            effects: HashMap::new(),
            client_id: String::new(),
            resources,
        }
    }

    /// Back to the start-up configuration: no servers, commands, rules, log or counters, and a
    /// re-seeded RNG. The clock keeps running so timestamps never go backwards.
    pub(crate) fn reset(&mut self) {
        // Command ids stay monotonic so a client polling a pre-reset id never sees a new command.
        let next_command = self.next_command;
        *self = Self::new(self.initial.clone());
        self.next_command = next_command;
    }

    pub(crate) fn next_rule_id(&mut self) -> u64 {
        let id = self.next_rule;
        self.next_rule += 1;
        id
    }

    pub(crate) fn new_uuid(&mut self) -> String {
        uuid::Builder::from_random_bytes(self.rng.random())
            .into_uuid()
            .to_string()
    }

    fn next_octets(&mut self) -> [u32; 3] {
        let n = self.next_ip;
        self.next_ip = self.next_ip.wrapping_add(1);
        [(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]
    }

    /// Allocates an address for a NIC spec; `ip` other than `auto` is kept.
    pub(crate) fn allocate_nic(&mut self, datacenter: &str, name: &str, ip: &str) -> Nic {
        let network = if name == "wan" {
            format!("wan-{}", datacenter.to_lowercase())
        } else {
            name.to_owned()
        };
        let ip = if ip != "auto" {
            ip.to_owned()
        } else if name == "wan" {
            let [a, b, c] = self.next_octets();
            format!("185.{}.{b}.{}", 100 + (a % 100), c.max(1))
        } else {
            let [_, b, c] = self.next_octets();
            format!("172.16.{b}.{}", c.max(1))
        };
        Nic {
            network,
            ips: vec![ip],
            mac: self.resources.next_mac(),
            connected: true,
        }
    }

    // ---- servers -------------------------------------------------------------------------

    pub(crate) fn insert_server(&mut self, server: SimServer) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_id.insert(server.id.clone(), seq);
        self.by_name
            .entry(server.name.clone())
            .or_default()
            .insert(seq);
        self.servers.insert(seq, server);
        self.list_cache = None;
        seq
    }

    pub(crate) fn remove_server(&mut self, seq: u64) -> Option<SimServer> {
        let server = self.servers.remove(&seq)?;
        self.by_id.remove(&server.id);
        if let Some(set) = self.by_name.get_mut(&server.name) {
            set.remove(&seq);
            if set.is_empty() {
                self.by_name.remove(&server.name);
            }
        }
        self.list_cache = None;
        Some(server)
    }

    pub(crate) fn server(&self, seq: u64) -> Option<&SimServer> {
        self.servers.get(&seq)
    }

    /// Mutable access; invalidates the cached list body because power or visibility may change.
    pub(crate) fn server_mut(&mut self, seq: u64) -> Option<&mut SimServer> {
        self.list_cache = None;
        self.servers.get_mut(&seq)
    }

    /// Renames a server, keeping the name index in step.
    pub(crate) fn rename_server(&mut self, seq: u64, new_name: &str) {
        let Some(server) = self.servers.get_mut(&seq) else {
            return;
        };
        let old = std::mem::replace(&mut server.name, new_name.to_owned());
        if let Some(set) = self.by_name.get_mut(&old) {
            set.remove(&seq);
            if set.is_empty() {
                self.by_name.remove(&old);
            }
        }
        self.by_name
            .entry(new_name.to_owned())
            .or_default()
            .insert(seq);
        self.list_cache = None;
    }

    /// Remembers who sends the request being handled (the `user` of history entries).
    pub(crate) fn set_client(&mut self, client_id: &str) {
        client_id.clone_into(&mut self.client_id);
    }

    /// Appends an action to a server's history. Not listed data, so the list cache stays.
    pub(crate) fn record_action(&mut self, seq: u64, action: &str, at: SimMillis) {
        let entry = HistoryEntry {
            action: action.to_owned(),
            date: format_timestamp(self.initial.epoch_unix, at),
            at_ms: at,
            user: self.client_id.clone(),
        };
        if let Some(server) = self.servers.get_mut(&seq) {
            server.history.push(entry);
        }
    }

    pub(crate) fn name_taken(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// Visible servers matched by the selector, in creation order.
    pub(crate) fn select(&self, selector: &Selector) -> Result<Vec<u64>, SimError> {
        let visible = |seq: &u64| self.servers.get(seq).is_some_and(|s| s.visible);
        match selector {
            Selector::Id(id) => Ok(self
                .by_id
                .get(id)
                .copied()
                .filter(visible)
                .into_iter()
                .collect()),
            // A pattern without metacharacters is an exact name: use the index, not a scan.
            Selector::Name(name) if is_literal(name) => Ok(self
                .by_name
                .get(name)
                .map(|set| set.iter().copied().filter(visible).collect())
                .unwrap_or_default()),
            Selector::Name(name) => {
                let re = full_match(name)?;
                Ok(self
                    .servers
                    .iter()
                    .filter(|(_, s)| s.visible && re.is_match(&s.name))
                    .map(|(k, _)| *k)
                    .collect())
            }
        }
    }

    pub(crate) fn servers(&self) -> impl Iterator<Item = &SimServer> {
        self.servers.values()
    }

    /// The serialised `GET /service/servers` body, cached until the next server change.
    pub(crate) fn list_body(&mut self) -> Bytes {
        if let Some(body) = &self.list_cache {
            return body.clone();
        }
        #[derive(serde::Serialize)]
        struct Row<'a> {
            id: &'a str,
            name: &'a str,
            datacenter: &'a str,
            power: &'a str,
        }
        let rows: Vec<Row<'_>> = self
            .servers
            .values()
            .filter(|s| s.visible)
            .map(|s| Row {
                id: &s.id,
                name: &s.name,
                datacenter: &s.datacenter,
                power: s.power.as_str(),
            })
            .collect();
        let body = Bytes::from(serde_json::to_vec(&rows).unwrap_or_else(|_| b"[]".to_vec()));
        self.list_cache = Some(body.clone());
        body
    }

    pub(crate) fn seed(&mut self, seed: SeedServer) -> Result<String, SimError> {
        let reject = |reason: &str| SimError::Seed {
            name: seed.name.clone(),
            reason: reason.to_owned(),
        };
        if seed.name.is_empty() {
            return Err(reject("name must not be empty"));
        }
        let id = match &seed.id {
            Some(id) if self.by_id.contains_key(id) => return Err(reject("id already exists")),
            Some(id) => id.clone(),
            None => self.new_uuid(),
        };
        let networks = if seed.networks.is_empty() {
            vec![self.allocate_nic(&seed.datacenter, "wan", "auto")]
        } else {
            let specs: Vec<(String, String)> = seed
                .networks
                .iter()
                .map(|n| (n.name.clone(), n.ip.clone()))
                .collect();
            self.create_nics(&seed.datacenter, &specs)
                .map_err(|e| reject(&e.0))?
        };
        let server = SimServer {
            id: id.clone(),
            name: seed.name,
            datacenter: seed.datacenter,
            power: seed.power,
            cpu: seed.cpu,
            ram_mb: seed.ram_mb,
            disks_gb: seed.disks_gb,
            networks,
            tags: dedup(seed.tags),
            traffic: if seed.billing == "monthly" {
                "t5000".to_owned()
            } else {
                String::new()
            },
            billing: seed.billing,
            managed: false,
            backup: false,
            image: String::new(),
            visible: true,
            creation_request: None,
            suspended: false,
            description: seed.description,
            history: Vec::new(),
        };
        self.insert_server(server);
        Ok(id)
    }

    // ---- request log ---------------------------------------------------------------------

    /// Counts and logs an arriving API request; returns its sequence number.
    pub(crate) fn log_request(
        &mut self,
        method: &str,
        path: &str,
        query: Option<String>,
        params: Value,
        at_ms: u64,
    ) -> u64 {
        *self.counters.entry(format!("{method} {path}")).or_default() += 1;
        let seq = self.next_request;
        self.next_request += 1;
        if self.initial.request_log_capacity > 0 {
            if self.log.len() >= self.initial.request_log_capacity {
                self.log.pop_front();
            }
            let record = RequestRecord {
                seq,
                method: method.to_owned(),
                path: path.to_owned(),
                query,
                params,
                status: 0,
                at_ms,
            };
            self.log.push_back(record);
        }
        seq
    }

    pub(crate) fn set_request_status(&mut self, seq: u64, status: u16) {
        // Records are in sequence order, so the target is found from the back in O(1) usually.
        if let Some(r) = self.log.iter_mut().rev().find(|r| r.seq == seq) {
            r.status = status;
        }
    }

    pub(crate) fn requests(&self) -> Vec<RequestRecord> {
        self.log.iter().cloned().collect()
    }

    pub(crate) fn counters(&self) -> BTreeMap<String, u64> {
        self.counters.clone()
    }
}

/// True when `pattern` can only match itself. `regex::escape` is too strict for this test: it
/// also escapes `-`, which is literal outside character classes and appears in every node name.
pub(crate) fn is_literal(pattern: &str) -> bool {
    !pattern.chars().any(|c| "\\.+*?()|[]{}^$".contains(c))
}

/// Keeps the first occurrence of each tag.
pub(crate) fn dedup(tags: Vec<String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    tags.into_iter()
        .filter(|t| !t.is_empty() && seen.insert(t.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_use_the_index() {
        assert!(is_literal("k8s-ng1-3fa9c0d1e2b"));
        assert!(!is_literal("a|b") && !is_literal("a.b") && !is_literal(r"a\d"));
    }

    #[test]
    fn exact_and_regex_selection_agree() {
        let mut st = State::new(SimConfig::default());
        for name in ["a.b", "axb", "c"] {
            assert!(st.seed(SeedServer::new(name)).is_ok());
        }
        assert_eq!(
            st.select(&Selector::Name("c".into())).map(|v| v.len()).ok(),
            Some(1)
        );
        assert_eq!(
            st.select(&Selector::Name("a.b".into()))
                .map(|v| v.len())
                .ok(),
            Some(2)
        );
        assert_eq!(
            st.select(&Selector::Name("a|c".into()))
                .map(|v| v.len())
                .ok(),
            Some(1)
        );
        assert!(st.select(&Selector::Name("(".into())).is_err());
        let body = st.list_body();
        assert!(body.starts_with(b"[{\"id\":"));
    }
}
