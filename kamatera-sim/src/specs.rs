//! The space-separated `disk` / `network` spec grammar of `POST /service/server`
//! (docs/kamatera-api.md).

use std::collections::BTreeMap;

/// At most four slots (ids 0..=3) per flag.
const SLOTS: usize = 4;

/// A spec problem, split the way the proxy reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SpecError {
    /// Grammar error: HTTP 400 with this message.
    BadRequest(String),
    /// Semantic error inside the handler: HTTP 500 `Failed to run command method (...)`.
    Exception,
}

/// One disk slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DiskSpec {
    pub(crate) size_gb: u32,
}

/// One NIC slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NetworkSpec {
    pub(crate) name: String,
    pub(crate) ip: String,
}

/// Parses `value` into slot-ordered key/value items, applying the slot rules.
fn parse_items(flag: &str, value: &str) -> Result<Vec<BTreeMap<String, String>>, SpecError> {
    let mut slots: [Option<BTreeMap<String, String>>; SLOTS] = Default::default();
    let mut unplaced = Vec::new();
    for item in value.split(' ').filter(|s| !s.is_empty()) {
        let mut fields = BTreeMap::new();
        for pair in item.split(',') {
            let parts: Vec<&str> = pair.split('=').collect();
            let [key, val] = parts.as_slice() else {
                return Err(SpecError::BadRequest(format!(
                    "invalid flag value ({flag}={item})"
                )));
            };
            fields.insert((*key).to_owned(), (*val).to_owned());
        }
        match fields.get("id") {
            Some(id) => {
                let slot = id
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n < SLOTS)
                    .ok_or_else(|| {
                        SpecError::BadRequest(format!("invalid item id: {id} ({flag}={item})"))
                    })?;
                if slots[slot].is_some() {
                    return Err(SpecError::BadRequest(format!(
                        "duplicate item id: {id} ({flag}={item})"
                    )));
                }
                slots[slot] = Some(fields);
            }
            None => unplaced.push(fields),
        }
    }
    let mut unplaced = unplaced.into_iter();
    for slot in slots.iter_mut().filter(|s| s.is_none()) {
        match unplaced.next() {
            Some(fields) => *slot = Some(fields),
            None => break,
        }
    }
    if unplaced.next().is_some() {
        return Err(SpecError::BadRequest(format!(
            "invalid item ids ({flag}={value})"
        )));
    }
    Ok(slots.into_iter().flatten().collect())
}

/// Parses the `disk` flag. A missing or non-numeric `size` is an exception, as in the proxy.
pub(crate) fn parse_disks(value: &str) -> Result<Vec<DiskSpec>, SpecError> {
    parse_items("disk", value)?
        .into_iter()
        .map(|fields| {
            let size_gb = fields
                .get("size")
                .and_then(|s| s.parse::<u32>().ok())
                .filter(|s| *s > 0)
                .ok_or(SpecError::Exception)?;
            Ok(DiskSpec { size_gb })
        })
        .collect()
}

/// Parses the `network` flag. A missing `name` is an exception; `ip` defaults to `auto`.
pub(crate) fn parse_networks(value: &str) -> Result<Vec<NetworkSpec>, SpecError> {
    parse_items("network", value)?
        .into_iter()
        .map(|mut fields| {
            let name = fields
                .remove("name")
                .filter(|n| !n.is_empty())
                .ok_or(SpecError::Exception)?;
            let ip = fields
                .remove("ip")
                .filter(|ip| !ip.is_empty())
                .unwrap_or_else(|| "auto".to_owned());
            Ok(NetworkSpec { name, ip })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(v: &str) -> Vec<u32> {
        parse_disks(v)
            .map(|d| d.iter().map(|d| d.size_gb).collect())
            .unwrap_or_default()
    }

    #[test]
    fn slots_fill_in_id_order() {
        assert_eq!(
            sizes("id=3,size=20 size=10 id=0,size=30 id=1,size=60"),
            vec![30, 60, 10, 20]
        );
        assert_eq!(sizes("size=100 size=200"), vec![100, 200]);
    }

    #[test]
    fn grammar_errors_use_the_proxy_messages() {
        let bad = |v: &str| match parse_disks(v) {
            Err(SpecError::BadRequest(m)) => m,
            other => format!("{other:?}"),
        };
        assert_eq!(bad("size=10,foo"), "invalid flag value (disk=size=10,foo)");
        assert_eq!(
            bad("id=5,size=10"),
            "invalid item id: 5 (disk=id=5,size=10)"
        );
        assert_eq!(
            bad("id=0,size=10 id=0,size=30"),
            "duplicate item id: 0 (disk=id=0,size=30)"
        );
        assert_eq!(
            bad("size=1 size=2 size=3 size=4 size=5"),
            "invalid item ids (disk=size=1 size=2 size=3 size=4 size=5)"
        );
    }

    #[test]
    fn missing_required_keys_are_exceptions() {
        assert_eq!(parse_disks("id=0"), Err(SpecError::Exception));
        assert_eq!(parse_networks("ip=auto"), Err(SpecError::Exception));
        let nets = parse_networks("name=wan name=lan-1-x,ip=172.16.0.9").unwrap_or_default();
        assert_eq!(
            nets[1],
            NetworkSpec {
                name: "lan-1-x".into(),
                ip: "172.16.0.9".into()
            }
        );
        assert_eq!(nets[0].ip, "auto");
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_never_exceeds_four_slots(s in "[a-z0-9=, ]{0,40}") {
            if let Ok(d) = parse_disks(&s) { proptest::prop_assert!(d.len() <= SLOTS); }
            let _ = parse_networks(&s);
        }
    }
}
