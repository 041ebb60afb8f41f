//! Names and tags: which tags mark a server as a member of a node group, the marker tags
//! that make scale-down restart-safe, server names, and provider ids.

use kamatera_api::Tag;
use rand::Rng;

/// Prefix of the tag naming the cluster: `k8sca-<cluster>`.
pub const CLUSTER_TAG_PREFIX: &str = "k8sca-";
/// Prefix of the tag naming the node group: `k8scang-<group>`.
pub const GROUP_TAG_PREFIX: &str = "k8scang-";

/// Marker tag written on a server before it is powered off or terminated for a scale-down,
/// so that a restarted provider finishes the deletion instead of adopting the server.
pub const DELETING_MARKER: &str = "k8scam-deleting";
/// Marker tag of a server kept powered off for reuse (`poweroff-on-scale-down`).
pub const PARKED_MARKER: &str = "k8scam-parked";

/// Prefix of the tag a server is created with to record its creation hour (UTC) as
/// `k8scat-YYYYMMDDHH`, so that a restarted provider still knows how long each member has
/// been billed this month (see [`crate::cost`]).
pub const CREATED_TAG_PREFIX: &str = "k8scat-";

/// Number of random hex characters in a generated server name.
pub const NAME_SUFFIX_LEN: usize = 11;

/// The two tags that make a server a member of `group` in `cluster`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipTags {
    /// `k8sca-<cluster>`.
    pub cluster: Tag,
    /// `k8scang-<group>`.
    pub group: Tag,
}

impl MembershipTags {
    /// Builds the tags; fails when a name makes an invalid tag (the config validation
    /// prevents that for loaded configs).
    pub fn new(cluster: &str, group: &str) -> Result<Self, kamatera_api::Error> {
        Ok(Self {
            cluster: Tag::new(format!("{CLUSTER_TAG_PREFIX}{cluster}"))?,
            group: Tag::new(format!("{GROUP_TAG_PREFIX}{group}"))?,
        })
    }

    /// True when `tags` holds both membership tags (extra tags are allowed).
    pub fn matches<'a>(&self, tags: impl IntoIterator<Item = &'a str>) -> bool {
        let (mut cluster, mut group) = (false, false);
        for tag in tags {
            cluster |= tag == self.cluster.as_str();
            group |= tag == self.group.as_str();
        }
        cluster && group
    }

    /// Both tags, cluster first.
    pub fn to_vec(&self) -> Vec<Tag> {
        vec![self.cluster.clone(), self.group.clone()]
    }
}

/// A fresh server name: `<prefix>-<11 lower-case hex>`, or just the hex without a prefix.
/// The node name equals the server name, so it must also be a valid Kubernetes node name.
pub fn new_server_name(prefix: &str, rng: &mut impl Rng) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let suffix: String = (0..NAME_SUFFIX_LEN)
        .map(|_| char::from(HEX[rng.random_range(0..16)]))
        .collect();
    if prefix.is_empty() {
        suffix
    } else {
        format!("{prefix}-{suffix}")
    }
}

/// True when `name` looks like a server name made with `prefix` (`<prefix>-…`, see
/// [`new_server_name`]); every name fits an empty prefix.
pub fn name_fits_prefix(prefix: &str, name: &str) -> bool {
    prefix.is_empty()
        || name
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('-'))
}

/// The instance id reported to cluster-autoscaler (and expected as the Node's
/// `spec.providerID`): `<provider-id-prefix><server name>`.
pub fn provider_id(prefix: &str, server_name: &str) -> String {
    format!("{prefix}{server_name}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn names_have_the_prefix_and_eleven_hex_characters() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let name = new_server_name("k8s-ng1", &mut rng);
        let suffix = name.strip_prefix("k8s-ng1-").unwrap();
        assert_eq!(suffix.len(), NAME_SUFFIX_LEN);
        assert!(
            suffix
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(new_server_name("", &mut rng).len(), NAME_SUFFIX_LEN);
        assert_ne!(
            new_server_name("x", &mut rng),
            new_server_name("x", &mut rng)
        );
    }

    #[test]
    fn membership_needs_both_tags_and_allows_extra_ones() {
        let tags = MembershipTags::new("c1", "ng1").unwrap();
        assert!(tags.matches(["k8sca-c1", "k8scang-ng1"]));
        assert!(tags.matches(["other", "k8scang-ng1", DELETING_MARKER, "k8sca-c1"]));
        assert!(!tags.matches(["k8sca-c1"]));
        assert!(!tags.matches(["k8sca-c2", "k8scang-ng1"]));
        assert!(!tags.matches(["k8sca-c1", "k8scang-ng10"]));
    }

    #[test]
    fn markers_are_valid_tags_distinct_from_cluster_tags() {
        for marker in [DELETING_MARKER, PARKED_MARKER] {
            assert!(Tag::new(marker).is_ok());
            assert!(!marker.starts_with(CLUSTER_TAG_PREFIX));
            assert!(!marker.starts_with(GROUP_TAG_PREFIX));
        }
    }

    #[test]
    fn a_name_fits_its_prefix_and_a_dash() {
        assert!(name_fits_prefix("k8s-ng1", "k8s-ng1-0123456789a"));
        assert!(!name_fits_prefix("k8s-ng1", "k8s-ng10-0123456789a"));
        assert!(!name_fits_prefix("k8s-ng1", "k8s-ng1"));
        assert!(name_fits_prefix("", "web-1"));
    }

    #[test]
    fn provider_ids_prefix_the_server_name() {
        assert_eq!(provider_id("kamatera://", "ng1-abc"), "kamatera://ng1-abc");
        assert_eq!(provider_id("rke2://", "ng1-abc"), "rke2://ng1-abc");
    }
}
