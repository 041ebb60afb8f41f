//! The server list kept compact: every row's text in one string, four offsets per row.
//!
//! A caller that lists an account of tens of thousands of servers every few seconds and
//! keeps little of each row pays mostly for allocating and freeing three or four strings
//! per row. [`CompactServerList`] copies the text of each row into one string instead,
//! and hands out rows that borrow from it.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, SeqAccess, Visitor};

use super::servers::{ServerList, SkippedRow};
use crate::model::{PowerState, ServerId, ServerSummary};

/// Every server of the account, as `GET /service/servers` returned them, with the rows
/// that did not decode set aside (see [`Client::list_servers_lenient`]).
///
/// Made by [`Client::list_servers_compact`], or from a [`ServerList`] with `From`.
///
/// [`Client::list_servers_lenient`]: crate::Client::list_servers_lenient
/// [`Client::list_servers_compact`]: crate::Client::list_servers_compact
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactServerList {
    /// The text of every row, one after the other: id, name, datacenter, power.
    text: String,
    rows: Vec<RowEnds>,
    skipped: Vec<SkippedRow>,
}

/// Where each field of one row ends in [`CompactServerList::text`]; it starts where the
/// previous field (or the previous row) ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RowEnds {
    id: usize,
    name: usize,
    datacenter: usize,
    power: usize,
}

/// One row of a [`CompactServerList`], borrowing its text from the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerRow<'a> {
    /// Stable identifier (see [`ServerSummary::id`]).
    pub id: &'a str,
    /// The server's current name.
    pub name: &'a str,
    /// Datacenter id, e.g. `IL`.
    pub datacenter: &'a str,
    /// Whether the server is running.
    pub power: PowerState,
}

impl ServerRow<'_> {
    /// The row as an owned [`ServerSummary`].
    pub fn to_summary(&self) -> ServerSummary {
        ServerSummary {
            id: ServerId::new(self.id),
            name: self.name.to_owned(),
            datacenter: self.datacenter.to_owned(),
            power: self.power.clone(),
        }
    }
}

impl CompactServerList {
    /// The rows that decoded, in the order the API returned them.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = ServerRow<'_>> + '_ {
        let mut start = 0;
        self.rows.iter().map(move |ends| {
            let text = &self.text;
            let row = ServerRow {
                id: &text[start..ends.id],
                name: &text[ends.id..ends.name],
                datacenter: &text[ends.name..ends.datacenter],
                power: power_state(&text[ends.datacenter..ends.power]),
            };
            start = ends.power;
            row
        })
    }

    /// Number of rows that decoded.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when no row decoded.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The rows that did not decode, in the order the API returned them.
    pub fn skipped(&self) -> &[SkippedRow] {
        &self.skipped
    }

    fn push(&mut self, id: &str, name: &str, datacenter: &str, power: &str) {
        let mut end = |field: &str| {
            self.text.push_str(field);
            self.text.len()
        };
        let ends = RowEnds {
            id: end(id),
            name: end(name),
            datacenter: end(datacenter),
            power: end(power),
        };
        self.rows.push(ends);
    }

    /// Decodes a list answer strictly: every row must decode. The error of a row that
    /// does not is serde's, without the JSON path (the lenient decoding finds that).
    pub(crate) fn decode_strict(body: &[u8]) -> Result<Self, serde_json::Error> {
        let mut list = CompactServerList {
            // Ids, names and the rest are about half of an answer's bytes.
            text: String::with_capacity(body.len() / 2),
            ..Self::default()
        };
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        AppendRows(&mut list).deserialize(&mut deserializer)?;
        deserializer.end()?;
        Ok(list)
    }
}

/// `"on"` and `"off"` without allocating; anything else kept as text.
fn power_state(text: &str) -> PowerState {
    match text {
        "on" => PowerState::On,
        "off" => PowerState::Off,
        other => PowerState::Other(other.to_owned()),
    }
}

fn power_text(power: &PowerState) -> &str {
    match power {
        PowerState::On => "on",
        PowerState::Off => "off",
        PowerState::Other(other) => other,
    }
}

impl From<ServerList> for CompactServerList {
    fn from(list: ServerList) -> Self {
        let mut compact = CompactServerList {
            skipped: list.skipped,
            ..Self::default()
        };
        for server in &list.servers {
            compact.push(
                server.id.as_str(),
                &server.name,
                &server.datacenter,
                power_text(&server.power),
            );
        }
        compact
    }
}

impl From<CompactServerList> for ServerList {
    fn from(list: CompactServerList) -> Self {
        ServerList {
            servers: list.rows().map(|row| row.to_summary()).collect(),
            skipped: list.skipped,
        }
    }
}

/// One row as it is decoded: text borrowed from the answer unless it holds escapes. The
/// fields and their types are those of [`ServerSummary`], so the same rows decode.
#[derive(Deserialize)]
struct BorrowedRow<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow)]
    datacenter: Cow<'a, str>,
    #[serde(borrow)]
    power: Cow<'a, str>,
}

/// Decodes a JSON array of rows straight into a list, row by row.
struct AppendRows<'l>(&'l mut CompactServerList);

impl<'de> DeserializeSeed<'de> for AppendRows<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for AppendRows<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a list of servers")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(row) = seq.next_element::<BorrowedRow<'de>>()? {
            self.0.push(&row.id, &row.name, &row.datacenter, &row.power);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"[
        {"id": "a1", "name": "k8s-one", "datacenter": "IL", "power": "on", "extra": 1},
        {"id": "b2", "name": "na\u00efve \"q\"", "datacenter": "EU", "power": "off"},
        {"id": "c3", "name": "k8s-three", "datacenter": "IL", "power": "suspended"}
    ]"#;

    #[test]
    fn rows_decode_like_server_summaries_escapes_included() {
        let compact = CompactServerList::decode_strict(BODY.as_bytes()).unwrap();
        let owned: Vec<ServerSummary> = serde_json::from_str(BODY).unwrap();
        let rows: Vec<ServerSummary> = compact.rows().map(|r| r.to_summary()).collect();
        assert_eq!(rows, owned);
        assert_eq!(compact.len(), 3);
        assert_eq!(compact.rows().nth(1).unwrap().name, "naïve \"q\"");
        assert_eq!(
            compact.rows().nth(2).unwrap().power,
            PowerState::Other("suspended".into())
        );
    }

    #[test]
    fn a_row_that_a_summary_rejects_is_rejected() {
        for body in [
            r#"[{"id": "a", "name": "n", "datacenter": null, "power": "on"}]"#,
            r#"[{"id": "a", "name": "n", "power": "on"}]"#,
            r#"[{"id": 7, "name": "n", "datacenter": "IL", "power": "on"}]"#,
            r#"{"id": "a"}"#,
            r#"[{"id": "a", "name": "n", "datacenter": "IL", "power": "on"}"#,
        ] {
            assert!(
                serde_json::from_str::<Vec<ServerSummary>>(body).is_err(),
                "summary accepts {body}"
            );
            assert!(
                CompactServerList::decode_strict(body.as_bytes()).is_err(),
                "{body}"
            );
        }
    }

    #[test]
    fn a_server_list_converts_both_ways_unchanged() {
        let list = ServerList {
            servers: serde_json::from_str(BODY).unwrap(),
            skipped: vec![SkippedRow {
                index: 3,
                path: "$[3].power".into(),
                reason: "invalid type".into(),
                id: Some(ServerId::new("d4")),
                name: None,
            }],
        };
        let compact = CompactServerList::from(list.clone());
        assert_eq!(compact.skipped(), list.skipped.as_slice());
        assert_eq!(ServerList::from(compact), list);
    }

    #[test]
    fn an_empty_answer_is_an_empty_list() {
        let compact = CompactServerList::decode_strict(b"[]").unwrap();
        assert!(compact.is_empty());
        assert_eq!(compact.rows().count(), 0);
    }
}
