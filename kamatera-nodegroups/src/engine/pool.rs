//! Keeping each group's parked pool within its cap at every pass, not only when a
//! scale-down finishes: a lowered `poweroff-on-scale-down-max-servers`, power-off mode
//! turned off, or servers adopted parked after a restart all leave surplus parked
//! servers that would otherwise stay for good (docs/engine-robustness.md).

use std::collections::BTreeMap;

use tokio::time::Instant;

use super::model::{DeleteStep, InstanceKey, Phase};
use super::state::State;

/// A group's parked pool: servers counting towards the cap (parked or being parked), and
/// the parked ones by age (when parked, name, key).
#[derive(Default)]
struct Pool<'a> {
    count: usize,
    parked: Vec<(Option<Instant>, &'a str, InstanceKey)>,
}

impl State {
    /// How many parked servers `group` may keep: none outside power-off mode, any number
    /// when the cap is 0, the cap otherwise.
    fn parked_cap(&self, group: &str) -> Option<usize> {
        let config = &self.groups.get(group)?.config;
        if !config.poweroff_on_scale_down {
            Some(0)
        } else if config.poweroff_on_scale_down_max_servers == 0 {
            None
        } else {
            Some(config.poweroff_on_scale_down_max_servers as usize)
        }
    }

    /// Sends the oldest parked servers beyond each group's cap to be terminated (each
    /// after the usual tag re-check). Servers being parked right now count towards the
    /// cap but are not picked: they are not off yet. Returns the instances sent.
    pub(crate) fn trim_parked_pools(&mut self) -> Vec<InstanceKey> {
        let mut pools: BTreeMap<&str, Pool<'_>> = BTreeMap::new();
        for instance in self.instances.values() {
            match instance.phase {
                Phase::Parked if instance.server_id.is_some() => {
                    let pool = pools.entry(&*instance.group).or_default();
                    pool.count += 1;
                    pool.parked
                        .push((instance.parked_at, instance.name.as_str(), instance.key));
                }
                Phase::Deleting(DeleteStep::Parking) => {
                    pools.entry(&*instance.group).or_default().count += 1;
                }
                _ => {}
            }
        }
        let mut trim: Vec<(String, usize, InstanceKey)> = Vec::new();
        for (group, Pool { count, mut parked }) in pools {
            let Some(cap) = self.parked_cap(group) else {
                continue;
            };
            if count <= cap {
                continue;
            }
            parked.sort_unstable();
            for (_, _, key) in parked.into_iter().take(count - cap) {
                trim.push((group.to_owned(), cap, key));
            }
        }
        let mut trimmed = Vec::with_capacity(trim.len());
        for (group, cap, key) in trim {
            let Some(instance) = self.instances.get_mut(&key) else {
                continue;
            };
            trimmed.push(key);
            tracing::info!(
                group,
                server = %instance.name,
                cap,
                "parked pool is over its cap; terminating the oldest parked server"
            );
            instance.phase = Phase::Deleting(DeleteStep::Finish);
            instance.terminate_only = true;
            instance.retry_at = None;
            instance.delete_attempts = 0;
            instance.command_since = None;
            *self.counters.parked_trimmed.entry(group).or_default() += 1;
        }
        trimmed
    }
}

#[cfg(test)]
mod tests {

    use std::time::Duration;

    use kamatera_api::ServerId;

    use super::*;
    use crate::engine::test_fixture::state_with_groups;

    const GROUPS: &str = "[nodegroup \"capped\"]
max-size = 5
name-prefix = k8s-capped
poweroff-on-scale-down = true
poweroff-on-scale-down-max-servers = 1
[nodegroup \"unlimited\"]
max-size = 5
name-prefix = k8s-unlimited
poweroff-on-scale-down = true
[nodegroup \"terminating\"]
max-size = 5
name-prefix = k8s-terminating
";

    fn park(state: &mut State, group: &str, name: &str, at: Instant) -> InstanceKey {
        let key = state.add_instance(group, name.to_owned(), Phase::Parked, at);
        let instance = state.instances.get_mut(&key).unwrap();
        instance.server_id = Some(ServerId::new(name));
        instance.parked_at = Some(at);
        key
    }

    #[test]
    fn surplus_parked_servers_are_terminated_oldest_first() {
        let mut state = state_with_groups(GROUPS);
        let t0 = Instant::now();
        let later = |s| t0 + Duration::from_secs(s);
        let newest = park(&mut state, "capped", "c-new", later(30));
        let oldest = park(&mut state, "capped", "c-old", later(10));
        let middle = park(&mut state, "capped", "c-mid", later(20));
        let kept = park(&mut state, "unlimited", "u-1", t0);
        park(&mut state, "unlimited", "u-2", t0);
        let gone = park(&mut state, "terminating", "t-1", t0);

        state.trim_parked_pools();
        let phase = |key| state.instances[&key].phase.clone();
        assert_eq!(
            phase(newest),
            Phase::Parked,
            "the newest stays within the cap"
        );
        for key in [oldest, middle, gone] {
            assert_eq!(phase(key), Phase::Deleting(DeleteStep::Finish));
            assert!(state.instances[&key].terminate_only);
        }
        assert_eq!(phase(kept), Phase::Parked, "a cap of 0 means no cap");
        assert_eq!(state.counters.parked_trimmed["capped"], 2);
        assert_eq!(state.counters.parked_trimmed["terminating"], 1);
        assert!(!state.counters.parked_trimmed.contains_key("unlimited"));

        // Within the cap now: nothing more is trimmed.
        state.trim_parked_pools();
        assert_eq!(state.counters.parked_trimmed["capped"], 2);
    }
}
