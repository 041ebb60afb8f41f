//! The server catalogue: what can be ordered where (`GET /service/server` and its variants).

use std::collections::BTreeMap;

use serde::Deserialize;

/// Everything that can be ordered, from `GET /service/server`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerOptions {
    /// Datacenter id → display name (`"IL"` → `"IL: Israel"`).
    pub datacenters: BTreeMap<String, String>,
    /// CPU configurations, e.g. `"2A"`.
    #[serde(default)]
    pub cpu: Vec<String>,
    /// Memory sizes in MB.
    #[serde(default)]
    pub ram: RamOptions,
    /// Disk sizes in GB.
    #[serde(default)]
    pub disk: Vec<u32>,
    /// Datacenter id → images.
    #[serde(default)]
    pub disk_images: BTreeMap<String, Vec<DiskImage>>,
    /// Datacenter id → traffic packages.
    #[serde(default)]
    pub traffic: BTreeMap<String, Vec<TrafficPackage>>,
    /// Datacenter id → networks.
    #[serde(default)]
    pub networks: BTreeMap<String, Vec<NetworkOption>>,
    /// Billing cycles, e.g. `["monthly", "hourly"]`.
    #[serde(default)]
    pub billing: Vec<String>,
}

/// Memory sizes: per CPU type in current API versions, a flat list in older ones.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum RamOptions {
    /// CPU type letter → sizes in MB.
    ByCpuType(BTreeMap<String, Vec<u32>>),
    /// One list for every CPU type.
    Flat(Vec<u32>),
}

impl Default for RamOptions {
    fn default() -> Self {
        RamOptions::Flat(Vec::new())
    }
}

impl RamOptions {
    /// Sizes allowed for CPU type `cpu_type` (`"A"`, `"B"`, …).
    pub fn for_cpu_type(&self, cpu_type: &str) -> &[u32] {
        match self {
            RamOptions::ByCpuType(map) => map.get(cpu_type).map_or(&[], Vec::as_slice),
            RamOptions::Flat(list) => list,
        }
    }
}

/// A disk image in [`ServerOptions::disk_images`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiskImage {
    /// Image id (`<DC>:<hex>`).
    pub id: String,
    /// Image description, usable as the `image` of a create request.
    pub description: String,
    /// Size of the image's OS disk in GB.
    #[serde(default)]
    pub size_gb: Option<u32>,
}

/// A traffic package; ids were numbers in old data and are codes now.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TrafficPackage {
    /// Package code, e.g. `t5000`.
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    /// What the package includes, for people, e.g. `5000GB of traffic`.
    #[serde(default)]
    pub info: String,
}

/// A network that can be attached in a datacenter.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NetworkOption {
    /// `wan` or a full LAN name.
    pub name: String,
    /// `"auto"` or the list of free addresses.
    #[serde(default)]
    pub ips: NetworkIps,
}

/// The addresses offered on a network.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NetworkIps {
    /// Assigned automatically (the text `"auto"`).
    #[default]
    Auto,
    /// The addresses that can be chosen (`ip=` of a network spec).
    List(Vec<String>),
    /// Any other text the API sent, kept as it is.
    Other(String),
}

/// A datacenter, from `GET /service/server?datacenter=1`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Datacenter {
    /// Id, e.g. `IL`.
    pub id: String,
    /// The country the datacenter is in, e.g. `Israel`.
    pub name: String,
    /// Region, e.g. `Middle East`.
    #[serde(default)]
    pub category: String,
    /// The city the datacenter is in, e.g. `Rosh Haayin`.
    #[serde(default)]
    pub sub_category: String,
}

/// A public image, from `GET /service/server?images=1&datacenter=DC`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    /// The datacenter the image can be used in (ids are per datacenter).
    pub datacenter: String,
    /// Operating system family, e.g. `Ubuntu`.
    #[serde(default)]
    pub os: String,
    /// Image id (`<DC>:<hex>`), usable as the `image` of a create request.
    pub id: String,
    /// Name for people, e.g. `Ubuntu Server version 18.04 LTS (bionic) 64-bit`.
    pub name: String,
    /// Short code, e.g. `18.04 64bit`.
    #[serde(default)]
    pub code: String,
    /// Size of the image's OS disk in GB: the smallest first disk it fits on.
    #[serde(default, rename = "osDiskSizeGB")]
    pub os_disk_size_gb: Option<u32>,
    /// Minimum memory per CPU type, in MB.
    #[serde(default, rename = "ramMBMin")]
    pub ram_mb_min: BTreeMap<String, u32>,
}

/// What a datacenter offers, from `GET /service/server?capabilities=1&datacenter=DC`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    /// Disk sizes in GB.
    #[serde(rename = "diskSizeGB")]
    pub disk_size_gb: Vec<u32>,
    /// Traffic package code → description.
    #[serde(default)]
    pub monthly_traffic_package: BTreeMap<String, String>,
    /// Default traffic package code.
    #[serde(default)]
    pub default_monthly_traffic_package: Option<String>,
    /// CPU types with their core counts and memory sizes.
    pub cpu_types: Vec<CpuTypeCapability>,
}

/// One CPU type in [`Capabilities`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CpuTypeCapability {
    /// Letter: `A`, `B`, `D` or `T`.
    pub id: String,
    /// Name for people, e.g. `Type B - General Purpose`.
    #[serde(default)]
    pub name: String,
    /// What the type is for, for people.
    #[serde(default)]
    pub description: String,
    /// Allowed core counts.
    pub cpu_cores: Vec<u32>,
    /// Allowed memory sizes in MB.
    #[serde(rename = "ramMB")]
    pub ram_mb: Vec<u32>,
}

/// A canned size, from `GET /service/server?sizes=1&datacenter=DC`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SizePreset {
    /// `small`, `medium` or `large`.
    pub id: String,
    /// Memory in MB.
    #[serde(rename = "ramMB")]
    pub ram_mb: u32,
    /// Core count.
    pub cpu_cores: u32,
    /// CPU type letter.
    pub cpu_type: String,
    /// Disk size in GB.
    #[serde(rename = "diskSizeGB")]
    pub disk_size_gb: u32,
    /// Traffic package used with monthly billing, e.g. `t5000`.
    #[serde(default)]
    pub monthly_traffic_package: Option<String>,
}

impl<'de> Deserialize<'de> for NetworkIps {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            List(Vec<String>),
            Text(String),
        }
        Ok(match Raw::deserialize(deserializer)? {
            Raw::List(list) => NetworkIps::List(list),
            Raw::Text(text) if text == "auto" => NetworkIps::Auto,
            Raw::Text(text) => NetworkIps::Other(text),
        })
    }
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Number(serde_json::Number),
    }
    Ok(match Id::deserialize(deserializer)? {
        Id::Text(t) => t,
        Id::Number(n) => n.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_accept_old_and_new_ram_shapes() {
        let new: ServerOptions = serde_json::from_str(
            r#"{"datacenters":{"IL":"IL: Israel"},"cpu":["1A"],"ram":{"A":[256,512]},
                "disk":[5,10],"diskImages":{"IL":[{"description":"ubuntu","id":"IL:1","sizeGB":5}]},
                "traffic":{"IL":[{"id":"t5000","info":"5000GB"},{"id":7,"info":"old"}]},
                "networks":{"IL":[{"name":"wan","ips":"auto"},{"name":"lan-1-x","ips":["172.16.0.1"]}]},
                "billing":["monthly","hourly"]}"#,
        )
        .unwrap();
        assert_eq!(new.ram.for_cpu_type("A"), &[256, 512]);
        assert_eq!(new.traffic["IL"][1].id, "7");
        assert_eq!(new.networks["IL"][0].ips, NetworkIps::Auto);
        let old: RamOptions = serde_json::from_str("[256,512]").unwrap();
        assert_eq!(old.for_cpu_type("B"), &[256, 512]);
    }
}
