//! Merging `[global]` defaults into each node group and turning the raw text into the
//! resolved model, collecting every problem on the way.
//!
//! [`Resolver`] is one type with its methods split by subject: [`lookup`] finds values and
//! reports problems, [`cluster`] resolves the cluster-wide `[global]` keys, [`group`] one
//! node group's fields.

mod cluster;
mod group;
mod lookup;

use std::collections::{BTreeMap, HashSet};

use base64::Engine as _;
use kamatera_api::{BillingCycle, Cpu, DiskSpec, NetworkSpec, Password, ServerName, Tag};
use secrecy::SecretString;

use super::error::ConfigProblem;
use super::ini_file::{self, GLOBAL, RawConfig, RawGroup, RawValue};
use super::keys::{GlobalKey, GlobalOnly, Setting};
use super::model::{
    AutoscalingOptions, CloudConfig, Credentials, DEFAULT_API_URL, DEFAULT_MAX_PODS,
    DEFAULT_MAX_SIZE, DEFAULT_MIN_SIZE, DEFAULT_PROVIDER_ID_PREFIX, NodeGroupConfig,
    NodeTemplateConfig, ServerTemplate, Taint,
};
use super::validate;
use super::{CLIENT_ID_ENV, SECRET_ENV};
use crate::naming::CLUSTER_TAG_PREFIX;
use crate::pricing::PriceRates;

/// The name of a `[global]`-only key, for a problem report.
fn key(only: GlobalOnly) -> Option<&'static str> {
    Some(GlobalKey::Only(only).name())
}

/// A value together with where it was written.
#[derive(Clone, Copy)]
struct Located<'a> {
    text: &'a str,
    line: Option<usize>,
    /// `true` when it came from `[global]`.
    from_global: bool,
    /// The key as written in its section.
    key: &'static str,
    secret: bool,
}

/// Collects problems while resolving.
struct Resolver<'a> {
    raw: &'a RawConfig,
    problems: Vec<ConfigProblem>,
    /// Set while checking the `[global]` defaults on their own (see [`check_defaults`]):
    /// only values that are wrong by themselves are reported then.
    defaults_only: bool,
}

fn api_reason(error: kamatera_api::Error) -> String {
    match error {
        kamatera_api::Error::InvalidRequest { reason, .. } => reason,
        other => other.to_string(),
    }
}

/// The value of a single-valued key: gcfg lets the last line win, and the Go provider
/// treats an empty value as "not set" (so `key =` unsets an earlier line).
fn last_set(values: Option<&Vec<RawValue>>) -> Option<&RawValue> {
    values?.last().filter(|v| !v.text.is_empty())
}

/// Problems of `[global]` default values that are invalid by themselves. A default that
/// every group overrides is never read for a group, yet a bad value is still a mistake in
/// the file (the in-tree provider's reader rejects it too), so every default is parsed
/// once as if a group without keys of its own inherited it. A default that some group
/// does inherit is reported again here in the same words; [`resolve`] keeps one copy.
fn check_defaults(raw: &RawConfig, filter_name_prefix: Option<&str>) -> Vec<ConfigProblem> {
    let inherits_everything = RawGroup {
        name: String::new(),
        line: raw.global.line,
        values: BTreeMap::new(),
    };
    let mut checker = Resolver {
        raw,
        problems: Vec::new(),
        defaults_only: true,
    };
    checker.group(&inherits_everything, None, filter_name_prefix);
    checker.problems
}

/// Turns raw sections into the resolved config, or every problem found.
pub(crate) fn resolve(
    raw: &RawConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<CloudConfig, Vec<ConfigProblem>> {
    let mut resolver = Resolver {
        raw,
        problems: Vec::new(),
        defaults_only: false,
    };
    let cluster = resolver.cluster(env);
    if let Some(cluster) = &cluster
        && cluster.cluster_tag().is_none()
    {
        let message = format!(
            "generated tag {CLUSTER_TAG_PREFIX}{} is not a valid Kamatera tag",
            cluster.cluster_name
        );
        resolver.push(
            raw.global.line,
            GLOBAL,
            key(GlobalOnly::ClusterName),
            message,
        );
    }
    // The filter is needed to check name prefixes even when another cluster-level key is bad.
    let filter_name_prefix = raw
        .global
        .values
        .get(&GlobalKey::Only(GlobalOnly::FilterNamePrefix))
        .and_then(|values| last_set(Some(values)))
        .map(|value| value.text.clone());
    if raw.groups.is_empty() {
        resolver.push(
            None,
            "nodegroup",
            None,
            "no node groups: add at least one [nodegroup \"NAME\"] section".to_owned(),
        );
    }
    let mut node_groups = BTreeMap::new();
    for group in &raw.groups {
        if let Some(resolved) =
            resolver.group(group, cluster.as_ref(), filter_name_prefix.as_deref())
        {
            node_groups.insert(resolved.name.clone(), resolved);
        }
    }
    let mut problems = resolver.problems;
    problems.extend(check_defaults(raw, filter_name_prefix.as_deref()));
    if problems.is_empty()
        && let Some(cluster) = cluster
    {
        return Ok(CloudConfig {
            cluster_name: cluster.cluster_name,
            api_url: cluster.api_url,
            api_max_response_bytes: cluster.api_max_response_bytes,
            credentials: cluster.credentials,
            filter_name_prefix: cluster.filter_name_prefix,
            provider_id_prefix: cluster.provider_id_prefix,
            node_groups,
            price_rates: cluster.price_rates,
        });
    }
    // A bad [global] default is seen once per group that inherits it; report it once.
    let mut seen = HashSet::new();
    problems.retain(|p| seen.insert((p.line, p.section.clone(), p.key.clone(), p.message.clone())));
    if problems.is_empty() {
        problems.push(ConfigProblem {
            line: None,
            section: GLOBAL.to_owned(),
            key: None,
            message: "the configuration could not be resolved".to_owned(),
        });
    }
    Err(problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::empty_env;

    fn value(text: &str) -> RawValue {
        RawValue {
            text: text.to_owned(),
            line: None,
        }
    }

    const BASE: &str = "[global]\ncluster-name = c\ndefault-datacenter = IL\n\
        default-image = i\ndefault-cpu = 1A\ndefault-ram = 1024\ndefault-disk = size=10\n\
        default-network = name=wan\ndefault-script-base64 = IyEvYmluL2Jhc2gK\n";

    fn resolve_text(text: &str) -> Result<CloudConfig, Vec<ConfigProblem>> {
        let mut problems = Vec::new();
        let raw = ini_file::read(text, &mut problems).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        resolve(&raw, &empty_env)
    }

    #[test]
    fn the_last_line_wins_and_an_empty_value_unsets() {
        assert_eq!(
            last_set(Some(&vec![value("a"), value("b")])).unwrap().text,
            "b"
        );
        assert!(last_set(Some(&vec![value("a"), value("")])).is_none());
        assert!(last_set(Some(&vec![])).is_none());
        assert!(last_set(None).is_none());
    }

    #[test]
    fn merged_lists_keep_defaults_and_let_the_group_win() {
        let text = format!(
            "{BASE}default-template-taint = a=1:NoSchedule\ndefault-template-taint = b:NoExecute\n\
             [nodegroup \"g\"]\ntemplate-taint = a=2:PreferNoSchedule\n"
        );
        let config = resolve_text(&text).unwrap();
        let taints: Vec<_> = config.node_groups["g"]
            .template
            .taints
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(taints, ["b:NoExecute", "a=2:PreferNoSchedule"]);
    }

    #[test]
    fn an_inherited_bad_value_is_reported_where_it_was_written() {
        let text = format!("{BASE}default-max-pods = 0\n[nodegroup \"g\"]\n");
        let problems = resolve_text(&text).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].section, "global");
        assert_eq!(problems[0].key.as_deref(), Some("default-max-pods"));
        assert_eq!(problems[0].line, Some(10));
    }

    #[test]
    fn secret_values_are_not_echoed() {
        let text = format!("{BASE}[nodegroup \"g\"]\npassword = TooShort1\n");
        let problems = resolve_text(&text).unwrap_err();
        assert_eq!(problems[0].key.as_deref(), Some("password"));
        assert!(!problems[0].message.contains("TooShort1"), "{problems:?}");
    }

    mod props {
        use std::collections::{BTreeMap, BTreeSet};

        use proptest::prelude::*;

        use super::*;
        use crate::config::keys;

        /// A value as a user might mistype it: no line ends, comment or continuation
        /// characters, so the line structure of the file stays as generated.
        fn value() -> impl Strategy<Value = String> {
            prop_oneof![
                "[a-zA-Z0-9=,:./*%+_ -]{0,12}",
                "[0-9]{1,4}(m|Mi|Gi|A|B|T|D)?",
                "size=[0-9a-z-]{0,4}(,id=[0-9x]{0,2})?",
                "name=[a-z]{0,5}(,ip=[0-9.]{0,15})?",
                "[a-z0-9]{1,6}=[a-z0-9]{0,6}(:(NoSchedule|NoExecute|Bad))?",
                "\"[a-z =]{0,6}\"?",
                "(yes|no|true|false|-1|0|99999999999999999999|1e3|NaN)",
                any::<String>().prop_map(|s| s.replace(['\n', '\r', ';', '#', '\\'], "")),
            ]
        }

        fn lines_of(
            names: Vec<&'static str>,
        ) -> impl Strategy<Value = Vec<(&'static str, String)>> {
            proptest::collection::vec((proptest::sample::select(names), value()), 0..8)
        }

        /// BASE, then random `[global]` keys, then a group with random keys; and, per
        /// `(section, key)`, the lines each was written on.
        fn file(
            global: &[(&'static str, String)],
            group: &[(&'static str, String)],
        ) -> (String, BTreeMap<(String, String), BTreeSet<usize>>) {
            let mut text = BASE.to_owned();
            let mut written = BTreeMap::<(String, String), BTreeSet<usize>>::new();
            let mut line = BASE.lines().count();
            for (key, value) in global {
                line += 1;
                text.push_str(&format!("{key} = {value}\n"));
                written
                    .entry(("global".to_owned(), (*key).to_owned()))
                    .or_default()
                    .insert(line);
            }
            text.push_str("[nodegroup \"g\"]\n");
            line += 1;
            for (key, value) in group {
                line += 1;
                text.push_str(&format!("{key} = {value}\n"));
                written
                    .entry(("nodegroup \"g\"".to_owned(), (*key).to_owned()))
                    .or_default()
                    .insert(line);
            }
            (text, written)
        }

        proptest! {
            #![proptest_config(ProptestConfig {
                cases: 512,
                failure_persistence: None,
                ..ProptestConfig::default()
            })]

            /// Any value of any key resolves or is refused, never panics; every problem
            /// has a location, and a problem about a key written in the file points at
            /// a line the key was written on.
            #[test]
            fn every_problem_of_a_written_key_points_at_its_line(
                global in lines_of(keys::global_key_names().collect()),
                group in lines_of(keys::group_key_names().collect()),
            ) {
                let (text, written) = file(&global, &group);
                let mut problems = Vec::new();
                let Some(raw) = ini_file::read(&text, &mut problems) else {
                    prop_assert!(problems.iter().all(|p| p.line.is_some()), "{problems:?}");
                    return Ok(());
                };
                if let Err(more) = resolve(&raw, &empty_env) {
                    prop_assert!(!more.is_empty());
                    problems.extend(more);
                }
                for problem in &problems {
                    prop_assert!(
                        problem.line.is_some() || problem.key.is_some() || !problem.section.is_empty(),
                        "no location: {problem:?}\n{text}"
                    );
                    let Some(key) = &problem.key else { continue };
                    // A key whose last value is empty is unset (the last line wins): its
                    // problems ("required", "set one without the other") may point at the
                    // section instead.
                    let set = if problem.section == GLOBAL {
                        keys::global_key(key).and_then(|k| last_set(raw.global.values.get(&k)))
                    } else {
                        keys::group_key(key)
                            .and_then(|k| last_set(raw.groups.first().and_then(|g| g.values.get(&k))))
                    };
                    if set.is_none() {
                        continue;
                    }
                    if let Some(lines) = written.get(&(problem.section.clone(), key.clone())) {
                        prop_assert!(
                            problem.line.is_some_and(|l| lines.contains(&l)),
                            "{problem:?} is about a key written on lines {lines:?}\n{text}"
                        );
                    }
                }
            }
        }
    }
}
