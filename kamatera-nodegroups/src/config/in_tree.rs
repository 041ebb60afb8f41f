//! How the in-tree Go provider would read the same cloud-config text: the places where it
//! takes a value differently, and the keys and spellings it refuses, so that
//! `migrate-plan` can tell whether one file means the same to both providers. The
//! differences are listed in docs/in-tree-provider.md.

use std::fmt;

use super::error::ConfigProblem;
use super::ini_file::{self, RawConfig, RawGroup, RawValue};
use super::keys::{GlobalKey, GlobalOnly, Setting};
use super::validate::parse_bool;

/// What a difference means for a switch between the providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InTreeReadingKind {
    /// Both providers accept the value, but take it to mean something else: a server
    /// created after the switch would differ from those before it.
    ReadsDifferently,
    /// The in-tree provider refuses the file because of it: the file is this provider's
    /// own, and going back needs the file the in-tree provider ran with.
    RejectedByInTree,
}

impl InTreeReadingKind {
    /// A stable label (`reads_differently`, `rejected_by_in_tree`).
    pub fn as_str(self) -> &'static str {
        match self {
            InTreeReadingKind::ReadsDifferently => "reads_differently",
            InTreeReadingKind::RejectedByInTree => "rejected_by_in_tree",
        }
    }
}

/// One place where the in-tree provider reads the file otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InTreeReading {
    /// Whether it changes a value or makes the in-tree provider refuse the file.
    pub kind: InTreeReadingKind,
    /// `global` or `nodegroup "NAME"`.
    pub section: String,
    /// The key as this provider names it.
    pub key: &'static str,
    /// Line of the value in the file, when known.
    pub line: Option<usize>,
    /// What each provider makes of it.
    pub message: String,
}

impl fmt::Display for InTreeReading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        write!(f, "[{}] {}: {}", self.section, self.key, self.message)
    }
}

/// Group keys the in-tree provider knows.
const IN_TREE_GROUP_KEYS: &[Setting] = &[
    Setting::MinSize,
    Setting::MaxSize,
    Setting::PoweroffOnScaleDown,
    Setting::PoweroffOnScaleDownMaxServers,
    Setting::PoweronOnScaleUp,
    Setting::NamePrefix,
    Setting::Password,
    Setting::SshKey,
    Setting::Datacenter,
    Setting::Image,
    Setting::Cpu,
    Setting::Ram,
    Setting::Disk,
    Setting::Network,
    Setting::DailyBackup,
    Setting::Managed,
    Setting::BillingCycle,
    Setting::MonthlyPackage,
    Setting::ScriptBase64,
    Setting::TemplateLabel,
];

/// Group settings whose `[global]` default the in-tree provider does not know.
const NO_IN_TREE_DEFAULT: &[Setting] = &[
    Setting::PoweroffOnScaleDownMaxServers,
    Setting::TemplateLabel,
];

/// `[global]`-only keys the in-tree provider knows.
const IN_TREE_GLOBAL_ONLY: &[GlobalOnly] = &[
    GlobalOnly::ClientId,
    GlobalOnly::Secret,
    GlobalOnly::ApiUrl,
    GlobalOnly::ClusterName,
    GlobalOnly::FilterNamePrefix,
    GlobalOnly::ProviderIdPrefix,
];

fn in_tree_knows_global(key: GlobalKey) -> bool {
    match key {
        GlobalKey::Only(only) => IN_TREE_GLOBAL_ONLY.contains(&only),
        GlobalKey::Default(setting) => {
            IN_TREE_GROUP_KEYS.contains(&setting) && !NO_IN_TREE_DEFAULT.contains(&setting)
        }
    }
}

/// The spellings Go's `strconv.ParseBool` accepts, which the in-tree provider uses for
/// the power keys of a node group.
fn go_parse_bool_accepts(text: &str) -> bool {
    matches!(
        text,
        "1" | "t" | "T" | "TRUE" | "true" | "True" | "0" | "f" | "F" | "FALSE" | "false" | "False"
    )
}

/// Every place where the in-tree provider reads `text` otherwise than this provider,
/// in file order. `text` should be a file this provider accepts; one it cannot read at
/// all gives nothing here (its own validation reports that).
pub fn in_tree_readings(text: &str) -> Vec<InTreeReading> {
    let mut problems: Vec<ConfigProblem> = Vec::new();
    let Some(raw) = ini_file::read(text, &mut problems) else {
        return Vec::new();
    };
    let lines: Vec<String> = text
        .strip_prefix('\u{feff}')
        .unwrap_or(text)
        .replace("\r\n", "\n")
        .replace('\r', "\n")
        .split('\n')
        .map(str::to_owned)
        .collect();
    let mut found = Vec::new();
    global_readings(&raw, &lines, &mut found);
    for group in &raw.groups {
        group_readings(&raw, group, &lines, &mut found);
    }
    found.sort_by_key(|r| r.line.unwrap_or(usize::MAX));
    found
}

fn global_readings(raw: &RawConfig, lines: &[String], found: &mut Vec<InTreeReading>) {
    for (key, values) in &raw.global.values {
        let name = key.name();
        let first_line = values.first().and_then(|v| v.line);
        if !in_tree_knows_global(*key) {
            found.push(InTreeReading {
                kind: InTreeReadingKind::RejectedByInTree,
                section: ini_file::GLOBAL.to_owned(),
                key: name,
                line: first_line,
                message: "a key of this provider only; the in-tree provider refuses the whole file (\"can't store data\")".to_owned(),
            });
            continue;
        }
        for value in values {
            spelling_readings(ini_file::GLOBAL, name, value, lines, found);
        }
    }
}

fn group_readings(
    raw: &RawConfig,
    group: &RawGroup,
    lines: &[String],
    found: &mut Vec<InTreeReading>,
) {
    let section = ini_file::group_label(&group.name);
    for (setting, values) in &group.values {
        let key = setting.group_key();
        let first_line = values.first().and_then(|v| v.line);
        if !IN_TREE_GROUP_KEYS.contains(setting) {
            found.push(InTreeReading {
                kind: InTreeReadingKind::RejectedByInTree,
                section: section.clone(),
                key,
                line: first_line,
                message: "a key of this provider only; the in-tree provider refuses the whole file (\"can't store data\")".to_owned(),
            });
            continue;
        }
        for value in values {
            spelling_readings(&section, key, value, lines, found);
        }
        let last = values.last();
        match setting {
            Setting::PoweroffOnScaleDown | Setting::PoweronOnScaleUp => {
                if let Some(value) = last.filter(|v| !v.text.is_empty())
                    && parse_bool(&value.text).is_ok()
                    && !go_parse_bool_accepts(&value.text)
                {
                    found.push(InTreeReading {
                        kind: InTreeReadingKind::RejectedByInTree,
                        section: section.clone(),
                        key,
                        line: value.line,
                        message: format!(
                            "{:?} is a boolean here; the in-tree provider accepts only 1/t/true/0/f/false (in any of Go's cases) in a node group and refuses the file",
                            value.text
                        ),
                    });
                }
            }
            Setting::DailyBackup | Setting::Managed => {
                let group_off = last
                    .filter(|v| !v.text.is_empty())
                    .is_some_and(|v| parse_bool(&v.text) == Ok(false));
                let global_on = raw
                    .global
                    .values
                    .get(&GlobalKey::Default(*setting))
                    .and_then(|values| values.last())
                    .is_some_and(|v| parse_bool(&v.text) == Ok(true));
                if group_off && global_on {
                    found.push(InTreeReading {
                        kind: InTreeReadingKind::ReadsDifferently,
                        section: section.clone(),
                        key,
                        line: last.and_then(|v| v.line),
                        message: format!(
                            "off here, but {} is on: the in-tree provider lets a group only switch it on, so its servers have it and new ones here would not",
                            setting.global_key()
                        ),
                    });
                }
            }
            _ => {}
        }
    }
}

/// Spellings of a value or key that gcfg, the in-tree provider's reader, takes otherwise.
fn spelling_readings(
    section: &str,
    key: &'static str,
    value: &RawValue,
    lines: &[String],
    found: &mut Vec<InTreeReading>,
) {
    let Some(line) = value
        .line
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| lines.get(i))
    else {
        return;
    };
    let Some(split) = line.find(['=', ':']) else {
        return;
    };
    let mut reading = |kind, message: &str| {
        found.push(InTreeReading {
            kind,
            section: section.to_owned(),
            key,
            line: value.line,
            message: message.to_owned(),
        });
    };
    if line[split..].starts_with(':') {
        reading(
            InTreeReadingKind::RejectedByInTree,
            "written `key: value`; the in-tree provider only reads `key = value` and refuses the file",
        );
    }
    if line[split + 1..].trim_start().starts_with('\'') {
        reading(
            InTreeReadingKind::ReadsDifferently,
            "single-quoted: the quotes are not part of the value here, but the in-tree provider keeps them as characters of the value",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GLOBAL: &str = "[global]\ncluster-name = c1\n";

    fn kinds(text: &str) -> Vec<(InTreeReadingKind, String, &'static str, Option<usize>)> {
        in_tree_readings(text)
            .into_iter()
            .map(|r| (r.kind, r.section, r.key, r.line))
            .collect()
    }

    #[test]
    fn an_in_tree_file_reads_the_same() {
        let text = format!(
            "{GLOBAL}default-dailybackup = yes\npoweroff-on-scale-down = yes\n\n[nodegroup \"ng1\"]\nmax-size = 3\npoweroff-on-scale-down = true\ndailybackup = true\ntemplate-label = a=b\npassword = \"it's\"\n"
        );
        assert_eq!(kinds(&text), []);
    }

    #[test]
    fn keys_of_this_provider_only_are_refused_by_the_in_tree_provider() {
        let text = format!(
            "{GLOBAL}poweroff-on-scale-down-max-servers = 2\ndefault-template-label = a=b\n[nodegroup \"ng1\"]\nmax-pods = 50\npoweroff-on-scale-down-max-servers = 1\n"
        );
        let found = kinds(&text);
        let rejected = |section: &str, key: &'static str, line: usize| {
            (
                InTreeReadingKind::RejectedByInTree,
                section.to_owned(),
                key,
                Some(line),
            )
        };
        assert_eq!(
            found,
            [
                rejected("global", "poweroff-on-scale-down-max-servers", 3),
                rejected("global", "default-template-label", 4),
                rejected("nodegroup \"ng1\"", "max-pods", 6),
            ]
        );
    }

    #[test]
    fn a_group_cannot_switch_off_what_global_switches_on_in_tree() {
        let text = format!(
            "{GLOBAL}default-managed = on\ndefault-dailybackup = no\n[nodegroup \"ng1\"]\nmanaged = off\ndailybackup = false\n"
        );
        let found = in_tree_readings(&text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, InTreeReadingKind::ReadsDifferently);
        assert_eq!(found[0].key, "managed");
        assert_eq!(found[0].line, Some(6));
        assert!(
            found[0].message.contains("default-managed is on"),
            "{}",
            found[0]
        );
    }

    #[test]
    fn group_power_keys_spelled_yes_are_refused_in_tree() {
        let text = format!(
            "{GLOBAL}[nodegroup \"ng1\"]\npoweroff-on-scale-down = yes\npoweron-on-scale-up = True\n"
        );
        let found = in_tree_readings(&text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].key, "poweroff-on-scale-down");
        assert_eq!(found[0].kind, InTreeReadingKind::RejectedByInTree);
        assert!(
            found[0]
                .to_string()
                .starts_with("line 4: [nodegroup \"ng1\"]"),
            "{}",
            found[0]
        );
    }

    #[test]
    fn single_quotes_and_colons_are_spellings_gcfg_reads_otherwise() {
        let text =
            format!("{GLOBAL}default-password = 'secret'\n[nodegroup \"ng1\"]\nname-prefix: k8s\n");
        let found = kinds(&text);
        assert_eq!(
            found,
            [
                (
                    InTreeReadingKind::ReadsDifferently,
                    "global".to_owned(),
                    "default-password",
                    Some(3)
                ),
                (
                    InTreeReadingKind::RejectedByInTree,
                    "nodegroup \"ng1\"".to_owned(),
                    "name-prefix",
                    Some(5)
                ),
            ]
        );
    }
}
