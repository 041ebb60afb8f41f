//! Static option tables (docs/kamatera-api.md), a small realistic subset covering IL,
//! IL-PT, EU and US-NY2.

use serde_json::{Value, json};

struct Datacenter {
    id: &'static str,
    name: &'static str,
    category: &'static str,
    sub_category: &'static str,
}

const DATACENTERS: &[Datacenter] = &[
    Datacenter {
        id: "IL",
        name: "Israel",
        category: "Middle East",
        sub_category: "Rosh Haayin",
    },
    Datacenter {
        id: "IL-PT",
        name: "Israel",
        category: "Middle East",
        sub_category: "Petach Tikva",
    },
    Datacenter {
        id: "EU",
        name: "The Netherlands",
        category: "Europe",
        sub_category: "Amsterdam",
    },
    Datacenter {
        id: "US-NY2",
        name: "United States",
        category: "North America",
        sub_category: "New York",
    },
];

/// (description, os, display name, code, os disk GB)
const IMAGES: &[(&str, &str, &str, &str, u32)] = &[
    (
        "ubuntu_server_18.04_64-bit",
        "Ubuntu",
        "Ubuntu Server version 18.04 LTS (bionic) 64-bit",
        "18.04 64bit",
        4,
    ),
    (
        "ubuntu_server_22.04_64-bit",
        "Ubuntu",
        "Ubuntu Server version 22.04 LTS (jammy) 64-bit",
        "22.04 64bit",
        6,
    ),
    (
        "ubuntu_server_24.04_64-bit",
        "Ubuntu",
        "Ubuntu Server version 24.04 LTS (noble) 64-bit",
        "24.04 64bit",
        6,
    ),
    (
        "debian_server_12_64-bit",
        "Debian",
        "Debian version 12 (bookworm) 64-bit",
        "12 64bit",
        4,
    ),
];

const CPU_TYPES: &[(&str, &str, &[u32])] = &[
    (
        "A",
        "Type A - Availability",
        &[1, 2, 4, 6, 8, 12, 16, 20, 24, 28, 32],
    ),
    (
        "B",
        "Type B - General Purpose",
        &[
            1, 2, 4, 6, 8, 12, 16, 20, 24, 28, 32, 36, 40, 48, 56, 64, 72, 88, 104,
        ],
    ),
    (
        "D",
        "Type D - Dedicated",
        &[1, 2, 4, 6, 8, 12, 16, 20, 24, 28, 32, 36, 40],
    ),
    (
        "T",
        "Type T - Burstable",
        &[
            1, 2, 4, 6, 8, 12, 16, 20, 24, 28, 32, 36, 40, 48, 56, 64, 72, 88, 104,
        ],
    ),
];

const RAM_MB: &[u32] = &[
    256, 512, 1024, 2048, 3072, 4096, 6144, 8192, 10240, 12288, 16384, 24576, 32768, 49152, 65536,
    98304, 131072,
];
const RAM_MB_LARGE: &[u32] = &[200_704, 262_144, 327_680, 393_216, 458_752, 524_288];

/// Allowed disk sizes in GB.
pub(crate) const DISK_GB: &[u32] = &[
    5, 10, 15, 20, 30, 40, 50, 60, 80, 100, 150, 200, 250, 300, 350, 400, 450, 500, 600, 700, 800,
    900, 1000, 1500, 2000, 3000, 4000,
];

/// Whether `dc` is a datacenter the fixture knows.
pub(crate) fn is_datacenter(dc: &str) -> bool {
    DATACENTERS.iter().any(|d| d.id == dc)
}

/// 32 hex digits after the datacenter, like the real ids (`EU:6000C2987c9641fd2619a149ba2ca01a`).
fn image_id(dc: &str, index: usize) -> String {
    let dc_index = DATACENTERS.iter().position(|d| d.id == dc).unwrap_or(0);
    format!("{dc}:6000C29{dc_index:02x}{index:02x}a5a72c8e0f1d2b3c4d5e6")
}

/// Resolves the `image` create field to `(full id, description)`; `None` means "throws".
pub(crate) fn resolve_image(dc: &str, image: &str) -> Option<(String, String)> {
    let by_index = |i: usize| IMAGES.get(i).map(|img| (image_id(dc, i), img.0.to_owned()));
    if let Some((prefix, _)) = image.split_once(':') {
        if prefix != dc {
            return None;
        }
        let i = (0..IMAGES.len()).find(|i| image_id(dc, *i) == image);
        // Unknown full ids are accepted as private images; only the DC is checked by the proxy.
        return Some(
            i.and_then(by_index)
                .unwrap_or_else(|| (image.to_owned(), image.to_owned())),
        );
    }
    if !image.is_empty() && image.chars().all(|c| c.is_ascii_alphanumeric()) {
        let full = format!("{dc}:{image}");
        let i = (0..IMAGES.len()).find(|i| image_id(dc, *i) == full);
        return Some(i.and_then(by_index).unwrap_or_else(|| (full.clone(), full)));
    }
    IMAGES
        .iter()
        .position(|img| img.0 == image)
        .and_then(by_index)
}

fn ram_for(cpu_type: &str) -> Vec<u32> {
    let mut ram = RAM_MB.to_vec();
    if cpu_type != "A" {
        ram.extend_from_slice(RAM_MB_LARGE);
    }
    ram
}

/// `GET /service/server`.
pub(crate) fn all_options() -> Value {
    let datacenters: serde_json::Map<String, Value> = DATACENTERS
        .iter()
        .map(|d| (d.id.to_owned(), json!(format!("{}: {}", d.id, d.name))))
        .collect();
    let cpu: Vec<String> = CPU_TYPES
        .iter()
        .flat_map(|(t, _, cores)| cores.iter().take(4).map(move |c| format!("{c}{t}")))
        .collect();
    let ram: serde_json::Map<String, Value> = CPU_TYPES
        .iter()
        .map(|(t, _, _)| ((*t).to_owned(), json!(ram_for(t))))
        .collect();
    let mut disk_images = serde_json::Map::new();
    let mut traffic = serde_json::Map::new();
    let mut networks = serde_json::Map::new();
    for d in DATACENTERS {
        let images: Vec<Value> = IMAGES
            .iter()
            .enumerate()
            .map(|(i, img)| {
                json!({"description": img.0, "id": image_id(d.id, i), "sizeGB": img.4, "usageInfo": "",
                       "guestDescription": img.2, "freeTextOne": "", "freeTextTwo": "", "additionalDisks": []})
            })
            .collect();
        disk_images.insert(d.id.to_owned(), json!(images));
        traffic.insert(
            d.id.to_owned(),
            json!([{"id": "t5000", "info": "5000GB of traffic"}, {"id": "b50", "info": "50Mbit/Sec, Unmetered"}]),
        );
        networks.insert(d.id.to_owned(), json!([{"name": "wan", "ips": "auto"}]));
    }
    json!({
        "datacenters": datacenters, "cpu": cpu, "ram": ram, "disk": DISK_GB, "diskImages": disk_images,
        "traffic": traffic, "networks": networks, "billing": ["monthly", "hourly"],
    })
}

/// `GET /service/server?datacenter=1`.
pub(crate) fn datacenter_list() -> Value {
    DATACENTERS
        .iter()
        .map(|d| json!({"id": d.id, "name": d.name, "category": d.category, "subCategory": d.sub_category}))
        .collect()
}

/// `GET /service/server?images=1&datacenter=DC`.
pub(crate) fn image_list(dc: &str) -> Value {
    if !is_datacenter(dc) {
        return json!([]);
    }
    IMAGES
        .iter()
        .enumerate()
        .map(|(i, img)| {
            json!({"datacenter": dc, "os": img.1, "id": image_id(dc, i), "name": img.2, "code": img.3,
                   "osDiskSizeGB": img.4, "ramMBMin": {"A": 512, "B": 512, "T": 512, "D": 512}})
        })
        .collect()
}

/// CPU types in the order the real capabilities answer lists them, with its descriptions.
const CPU_TYPE_DESCRIPTIONS: &[(&str, &str)] = &[
    (
        "B",
        "Server CPUs are assigned to a dedicated physical CPU Thread with reserved resources guaranteed.",
    ),
    (
        "D",
        "Server CPU are assigned to a dedicated physical CPU Core (2 threads) with reserved resources guaranteed.",
    ),
    (
        "T",
        "Server CPUs are assigned to a dedicated physical CPU thread with reserved resources guaranteed.",
    ),
    (
        "A",
        "Server CPUs are assigned to a non-dedicated physical CPU thread with no resources guaranteed.",
    ),
];

/// `GET /service/server?capabilities=1&datacenter=DC`.
pub(crate) fn capabilities(_dc: &str) -> Value {
    let cpu_types: Vec<Value> = CPU_TYPE_DESCRIPTIONS
        .iter()
        .filter_map(|(id, description)| {
            let (t, name, cores) = CPU_TYPES.iter().find(|(t, _, _)| t == id)?;
            Some(json!({"id": t, "name": name, "description": description, "cpuCores": cores, "ramMB": ram_for(t)}))
        })
        .collect();
    json!({
        "diskSizeGB": DISK_GB,
        "monthlyTrafficPackage": {"t5000": "5000GB/month on 10Gbit/sec port", "b50": "50Mbit/sec unmetered on 10Gbit/sec port"},
        "defaultMonthlyTrafficPackage": "t5000",
        "cpuTypes": cpu_types,
    })
}

/// `GET /service/server?sizes=1&datacenter=DC`.
pub(crate) fn sizes(_dc: &str) -> Value {
    json!([
        {"id": "small", "ramMB": 4096, "cpuCores": 2, "cpuType": "B", "diskSizeGB": 30, "monthlyTrafficPackage": "t5000"},
        {"id": "medium", "ramMB": 8192, "cpuCores": 4, "cpuType": "B", "diskSizeGB": 60, "monthlyTrafficPackage": "t5000"},
        {"id": "large", "ramMB": 16384, "cpuCores": 8, "cpuType": "B", "diskSizeGB": 100, "monthlyTrafficPackage": "t5000"},
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_resolve_by_description_bare_id_and_full_id() {
        let (id, desc) = resolve_image("IL", "ubuntu_server_18.04_64-bit").unwrap_or_default();
        assert!(id.starts_with("IL:6000C29"));
        assert_eq!(desc, "ubuntu_server_18.04_64-bit");
        assert_eq!(resolve_image("IL", &id).map(|r| r.1), Some(desc));
        assert_eq!(
            resolve_image("IL", "abc123").map(|r| r.0),
            Some("IL:abc123".to_owned())
        );
        assert_eq!(resolve_image("EU", &id), None);
        assert_eq!(resolve_image("IL", "no_such_image"), None);
    }
}
