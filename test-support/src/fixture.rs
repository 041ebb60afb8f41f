//! The cloud-config fixture builder.

use std::fmt::Write as _;

/// Builds a cloud-config text.
///
/// [`CloudConfigFixture::new`] starts with the server defaults every test uses (datacenter
/// `IL`, Ubuntu 24.04, `2A` CPU, 4 GiB RAM, a 50 GB disk on the `wan` network); keys set
/// later replace a default of the same name.
///
/// ```
/// use test_support::CloudConfigFixture;
///
/// let text = CloudConfigFixture::new("c1")
///     .credentials("sim-id", "sim-secret")
///     .group("ng1", |g| g.min(0).max(5).key("name-prefix", "k8s-ng1"))
///     .render();
/// assert!(text.starts_with("[global]\n"));
/// assert!(text.contains("cluster-name = c1\n"));
/// assert!(text.contains("[nodegroup \"ng1\"]\nmin-size = 0\nmax-size = 5\n"));
/// ```
#[derive(Debug, Clone)]
pub struct CloudConfigFixture {
    global: Vec<(String, String)>,
    groups: Vec<GroupFixture>,
    raw: String,
}

/// The keys of one `[nodegroup "NAME"]` section, in the order they are set.
#[derive(Debug, Clone)]
pub struct GroupFixture {
    name: String,
    keys: Vec<(String, String)>,
}

/// Sets `key` in `keys`, replacing an earlier value of the same key in place.
fn set(keys: &mut Vec<(String, String)>, key: &str, value: String) {
    match keys.iter_mut().find(|(k, _)| k == key) {
        Some((_, old)) => *old = value,
        None => keys.push((key.to_owned(), value)),
    }
}

impl CloudConfigFixture {
    /// A config of cluster `cluster` with the usual server defaults and no node group.
    pub fn new(cluster: &str) -> Self {
        let global = [
            ("cluster-name", cluster),
            ("default-datacenter", "IL"),
            ("default-image", "ubuntu_server_24.04_64-bit"),
            ("default-cpu", "2A"),
            ("default-ram", "4096"),
            ("default-disk", "size=50"),
            ("default-network", "name=wan,ip=auto"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        Self {
            global,
            groups: Vec::new(),
            raw: String::new(),
        }
    }

    /// Sets the API client id and secret.
    pub fn credentials(self, client_id: &str, secret: &str) -> Self {
        self.global_key("kamatera-api-client-id", client_id)
            .global_key("kamatera-api-secret", secret)
    }

    /// Sets `kamatera-api-url` (usually the simulator's address).
    pub fn api_url(self, url: impl std::fmt::Display) -> Self {
        self.global_key("kamatera-api-url", url)
    }

    /// Sets any `[global]` key.
    pub fn global_key(mut self, key: &str, value: impl std::fmt::Display) -> Self {
        set(&mut self.global, key, value.to_string());
        self
    }

    /// Adds the node group `name`, its keys set by `keys`.
    pub fn group(mut self, name: &str, keys: impl FnOnce(GroupFixture) -> GroupFixture) -> Self {
        self.groups.push(keys(GroupFixture {
            name: name.to_owned(),
            keys: Vec::new(),
        }));
        self
    }

    /// Appends INI text as it is after the groups: for tests whose subject is the text
    /// itself (odd spellings, duplicate keys, sections written by a caller).
    pub fn raw(mut self, text: &str) -> Self {
        self.raw.push_str(text);
        if !text.is_empty() && !text.ends_with('\n') {
            self.raw.push('\n');
        }
        self
    }

    /// The cloud-config text.
    pub fn render(&self) -> String {
        let mut text = String::from("[global]\n");
        for (key, value) in &self.global {
            let _ = writeln!(text, "{key} = {value}");
        }
        for group in &self.groups {
            let _ = writeln!(text, "\n[nodegroup \"{}\"]", group.name);
            for (key, value) in &group.keys {
                let _ = writeln!(text, "{key} = {value}");
            }
        }
        if !self.raw.is_empty() {
            text.push('\n');
            text.push_str(&self.raw);
        }
        text
    }
}

impl GroupFixture {
    /// Sets `min-size`.
    pub fn min(self, size: u32) -> Self {
        self.key("min-size", size)
    }

    /// Sets `max-size`.
    pub fn max(self, size: u32) -> Self {
        self.key("max-size", size)
    }

    /// Sets any key of the group.
    pub fn key(mut self, key: &str, value: impl std::fmt::Display) -> Self {
        set(&mut self.keys, key, value.to_string());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_keys_replace_defaults_and_groups_follow_global() {
        let text = CloudConfigFixture::new("c1")
            .api_url("http://127.0.0.1:1")
            .global_key("default-cpu", "4B")
            .group("ng1", |g| g.min(1).max(3).max(4))
            .raw("[nodegroup \"ng2\"]\nmin-size = 0")
            .render();
        assert_eq!(text.matches("default-cpu").count(), 1, "{text}");
        assert!(text.contains("default-cpu = 4B\n"), "{text}");
        assert!(text.contains("kamatera-api-url = http://127.0.0.1:1\n"));
        assert!(text.contains("[nodegroup \"ng1\"]\nmin-size = 1\nmax-size = 4\n"));
        assert!(
            text.ends_with("[nodegroup \"ng2\"]\nmin-size = 0\n"),
            "{text}"
        );
        assert!(text.find("[global]") < text.find("[nodegroup"));
    }
}
