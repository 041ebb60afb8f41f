//! Reading the INI text into raw, still untyped sections.
//!
//! rust-ini does the lexing (quotes, escapes, inline comments, `\` continuations). Around
//! it this module adds what gcfg, the Go provider's parser, does differently:
//!
//! * a line pass first, which drops comment lines (rust-ini would glue an indented comment
//!   onto the next key), rejects keys without `=` (rust-ini would glue them onto the next
//!   key too), rejects text after a section header, and remembers the line of every key
//!   so that errors can point at it;
//! * section headers are split into kind (case-insensitive) and the quoted node-group
//!   name (case-sensitive), and repeated blocks are merged;
//! * key names are matched case-insensitively against the key tables, and unknown ones
//!   are reported with a "did you mean" hint.

use std::collections::{BTreeMap, HashMap};

use ini::{Ini, ParseOption};

use super::error::ConfigProblem;
use super::keys::{self, GlobalKey, Setting};

/// One value as written, with the line it came from.
pub(crate) struct RawValue {
    pub text: String,
    pub line: Option<usize>,
}

/// All blocks of `[global]`, merged.
#[derive(Default)]
pub(crate) struct RawGlobal {
    /// Line of the first `[global]` header, if there is one.
    pub line: Option<usize>,
    pub values: BTreeMap<GlobalKey, Vec<RawValue>>,
}

/// All blocks of one `[nodegroup "NAME"]`, merged.
pub(crate) struct RawGroup {
    pub name: String,
    /// Line of the first header of this group.
    pub line: Option<usize>,
    pub values: BTreeMap<Setting, Vec<RawValue>>,
}

/// The file split into sections, before defaults are merged and values are parsed.
#[derive(Default)]
pub(crate) struct RawConfig {
    pub global: RawGlobal,
    /// Node groups in the order they first appear.
    pub groups: Vec<RawGroup>,
}

/// The section label used in messages for a node group: `nodegroup "ng1"`.
pub(crate) fn group_label(name: &str) -> String {
    format!("nodegroup {name:?}")
}

/// The section label of `[global]`.
pub(crate) const GLOBAL: &str = "global";

/// Where the keys of one block are, from the line pass.
#[derive(Default)]
struct BlockLines {
    header_line: Option<usize>,
    /// Lower-cased key → the lines it appears on, in order.
    keys: HashMap<String, Vec<usize>>,
    /// The line of every key, in order; used when rust-ini's reading of a key name
    /// (escapes) differs from the line pass's.
    key_lines: Vec<usize>,
    /// Keys written without `=`, with their lines.
    bare_keys: Vec<(String, usize)>,
    /// Text after the header's `]`, if any.
    trailing_junk: Option<String>,
}

/// The text as handed to rust-ini (same number of lines) and the line index.
struct Prepared {
    text: String,
    blocks: Vec<BlockLines>,
    /// Lines the line pass cannot hand to rust-ini, with why.
    syntax_errors: Vec<(usize, String)>,
}

/// The byte offset just past the `]` that closes a header, skipping quoted text.
fn header_end(header: &str) -> Option<usize> {
    let mut in_quotes = false;
    let mut escaped = false;
    for (at, c) in header.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => in_quotes = !in_quotes,
            ']' if !in_quotes => return Some(at + 1),
            _ => {}
        }
    }
    None
}

/// How the first line of a value ends, read the way rust-ini reads it.
enum ValueLineEnd {
    /// The value ends on this line.
    Ends,
    /// A trailing `\` continues it on the next line.
    Continues,
}

/// Reads the value part of a `key = value` line (after the `=`) like rust-ini: quoted
/// parts first, then plain text in which ` ;`/` #` start a comment and a final `\`
/// continues the line.
fn first_value_line(value: &str) -> Result<ValueLineEnd, &'static str> {
    let mut chars = value.trim_start().chars().peekable();
    while let Some(&quote) = chars.peek().filter(|c| matches!(c, '"' | '\'')) {
        chars.next();
        let mut closed = false;
        while let Some(c) = chars.next() {
            if c == '\\' {
                if chars.next().is_none() {
                    break;
                }
            } else if c == quote {
                closed = true;
                break;
            }
        }
        if !closed {
            return Err("a quoted value must end on its own line (write \\n for a line break)");
        }
    }
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' if matches!(chars.peek(), Some(';' | '#')) => return Ok(ValueLineEnd::Ends),
            '\\' if chars.next().is_none() => return Ok(ValueLineEnd::Continues),
            _ => {}
        }
    }
    Ok(ValueLineEnd::Ends)
}

/// Reads a line that continues a value; `true` when it continues further. rust-ini would
/// let a comment here swallow the following line, so comments are refused instead.
fn continued_value_line(line: &str) -> Result<bool, &'static str> {
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ';' | '#' => return Err("a comment cannot follow a `\\` line continuation"),
            '\\' if chars.next().is_none() => return Ok(true),
            _ => {}
        }
    }
    Ok(false)
}

fn prepare(text: &str) -> Prepared {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // rust-ini also ends a line at a lone CR; make the line pass agree with it.
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = Vec::new();
    // Block 0 is rust-ini's implicit section before the first header.
    let mut blocks = vec![BlockLines::default()];
    let mut syntax_errors = Vec::new();
    let mut continues = false;
    for (index, line) in text.split('\n').enumerate() {
        let number = index + 1;
        if continues {
            continues = continued_value_line(line).unwrap_or_else(|message| {
                syntax_errors.push((number, message.to_owned()));
                false
            });
            out.push(line.to_owned());
            continue;
        }
        let trimmed = line.trim_start();
        let current = blocks.len() - 1;
        if trimmed.is_empty() || trimmed.starts_with([';', '#']) {
            out.push(String::new());
        } else if trimmed.starts_with('[') {
            match header_end(trimmed) {
                Some(end) => {
                    let rest = trimmed[end..].trim();
                    let trailing_junk = (!rest.is_empty() && !rest.starts_with([';', '#']))
                        .then(|| rest.to_owned());
                    blocks.push(BlockLines {
                        header_line: Some(number),
                        trailing_junk,
                        ..BlockLines::default()
                    });
                    out.push(trimmed[..end].to_owned());
                }
                // rust-ini would read on into the next lines looking for the `]`, and
                // its blocks would no longer match the lines.
                None => {
                    syntax_errors.push((number, "section header has no closing `]`".to_owned()));
                    out.push(String::new());
                }
            }
        } else if let Some(split) = trimmed.find(['=', ':']) {
            let key = trimmed[..split].trim().to_ascii_lowercase();
            // rust-ini reads escapes (and `\` continuations) in key names too, which
            // would put its keys out of step with these lines.
            if key.contains('\\') {
                syntax_errors.push((number, "a key name cannot contain `\\`".to_owned()));
            }
            if let Some(block) = blocks.get_mut(current) {
                block.keys.entry(key).or_default().push(number);
                block.key_lines.push(number);
            }
            continues = match first_value_line(&trimmed[split + 1..]) {
                Ok(ValueLineEnd::Continues) => true,
                Ok(ValueLineEnd::Ends) => false,
                Err(message) => {
                    syntax_errors.push((number, message.to_owned()));
                    false
                }
            };
            out.push(trimmed.to_owned());
        } else {
            if let Some(block) = blocks.get_mut(current) {
                let key = trimmed.split([';', '#']).next().unwrap_or("").trim();
                block.bare_keys.push((key.to_owned(), number));
            }
            out.push(String::new());
        }
    }
    Prepared {
        text: out.join("\n"),
        blocks,
        syntax_errors,
    }
}

/// What a section header means.
enum SectionKind {
    Global,
    NodeGroup(String),
}

fn parse_header(header: &str) -> Result<SectionKind, String> {
    let header = header.trim();
    let (kind, rest) = match header.find(char::is_whitespace) {
        Some(at) => (&header[..at], header[at..].trim()),
        None => (header, ""),
    };
    if kind.eq_ignore_ascii_case("global") {
        return if rest.is_empty() {
            Ok(SectionKind::Global)
        } else {
            Err("[global] takes no name; write just [global]".to_owned())
        };
    }
    if kind.eq_ignore_ascii_case("nodegroup") {
        return match rest.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
            Some("") => Err("the node-group name must not be empty".to_owned()),
            Some(name) => Ok(SectionKind::NodeGroup(name.to_owned())),
            None if rest.is_empty() => Err(
                "a node-group section needs a name in double quotes: [nodegroup \"NAME\"]"
                    .to_owned(),
            ),
            None => Err(format!(
                "write the node-group name in double quotes: [nodegroup \"{rest}\"]"
            )),
        };
    }
    let hint = keys::did_you_mean(
        &kind.to_ascii_lowercase(),
        ["global", "nodegroup"].into_iter(),
    )
    .map(|s| format!("; did you mean [{s}]?"))
    .unwrap_or_default();
    Err(format!(
        "unknown section [{header}] (accepted: [global] and [nodegroup \"NAME\"]){hint}"
    ))
}

/// Why a key name cannot be a real key, if it cannot.
fn malformed_key(key: &str) -> Option<&'static str> {
    if key.is_empty() {
        Some("a line starts with `=`; write `key = value`")
    } else if key.contains(|c: char| c.is_whitespace() || matches!(c, ';' | '#' | '"' | '\'')) {
        Some("key names cannot contain spaces, quotes, `;` or `#`")
    } else {
        None
    }
}

fn problem(
    line: Option<usize>,
    section: &str,
    key: Option<&str>,
    message: String,
) -> ConfigProblem {
    ConfigProblem {
        line,
        section: section.to_owned(),
        key: key.map(str::to_owned),
        message,
    }
}

fn unknown_global_key(name: &str) -> String {
    if let Some(setting) = keys::group_key(name) {
        return format!(
            "unknown key in [global]; the node-group default is called `{}`",
            setting.global_key()
        );
    }
    let hint = keys::did_you_mean(name, keys::global_key_names())
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default();
    format!("unknown key in [global]{hint}")
}

fn unknown_group_key(name: &str) -> String {
    match keys::global_key(name) {
        Some(GlobalKey::Default(setting)) => format!(
            "unknown key in a node group; `{name}` belongs in [global], here write `{}`",
            setting.group_key()
        ),
        Some(GlobalKey::Only(_)) => format!("`{name}` belongs in [global], not in a node group"),
        None => {
            let hint = keys::did_you_mean(name, keys::group_key_names())
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            format!("unknown key in a node group{hint}")
        }
    }
}

/// Reads `text` into raw sections. Returns `None` when the text is not INI at all (the
/// problems then say where); otherwise the raw sections, with any key-level problems
/// added to `problems`.
pub(crate) fn read(text: &str, problems: &mut Vec<ConfigProblem>) -> Option<RawConfig> {
    let prepared = prepare(text);
    if !prepared.syntax_errors.is_empty() {
        for (line, message) in &prepared.syntax_errors {
            problems.push(problem(
                Some(*line),
                "",
                None,
                format!("syntax error: {message}"),
            ));
        }
        return None;
    }
    let options = ParseOption {
        enabled_quote: true,
        enabled_escape: true,
        ..ParseOption::default()
    };
    let ini = match Ini::load_from_str_opt(&prepared.text, options) {
        Ok(ini) => ini,
        Err(error) => {
            let last_line = prepared.text.split('\n').count();
            problems.push(problem(
                Some(error.line.clamp(1, last_line.max(1))),
                "",
                None,
                format!("syntax error: {}", error.msg),
            ));
            return None;
        }
    };

    let mut raw = RawConfig::default();
    let mut group_index: HashMap<String, usize> = HashMap::new();
    for (block_index, (header, properties)) in ini.iter().enumerate() {
        let lines = prepared.blocks.get(block_index);
        let header_line = lines.and_then(|l| l.header_line);
        let kind = match header {
            None => None,
            Some(header) => match parse_header(header) {
                Ok(kind) => Some(kind),
                Err(message) => {
                    problems.push(problem(header_line, header.trim(), None, message));
                    continue;
                }
            },
        };
        let label = match &kind {
            None => String::new(),
            Some(SectionKind::Global) => GLOBAL.to_owned(),
            Some(SectionKind::NodeGroup(name)) => group_label(name),
        };
        if let Some(lines) = lines {
            if let Some(junk) = &lines.trailing_junk {
                problems.push(problem(
                    header_line,
                    &label,
                    None,
                    format!("unexpected text {junk:?} after the section header"),
                ));
            }
            for (text, line) in &lines.bare_keys {
                let name = text.to_ascii_lowercase();
                let is_known_key =
                    keys::global_key(&name).is_some() || keys::group_key(&name).is_some();
                // Only a known key name is echoed: a stray line may be part of a secret.
                let (key, message) = if is_known_key {
                    let message = format!(
                        "line has no `=`; write `{name} = value` (for a flag, `{name} = true`)"
                    );
                    (Some(name.as_str()), message)
                } else {
                    let message =
                        "line is not a comment, a [section] header or `key = value`".to_owned();
                    (None, message)
                };
                problems.push(problem(Some(*line), &label, key, message));
            }
        }
        let group_slot = match &kind {
            Some(SectionKind::NodeGroup(name)) => {
                let next = raw.groups.len();
                let slot = *group_index.entry(name.clone()).or_insert(next);
                if slot == next {
                    raw.groups.push(RawGroup {
                        name: name.clone(),
                        line: header_line,
                        values: BTreeMap::new(),
                    });
                }
                Some(slot)
            }
            _ => None,
        };
        if matches!(kind, Some(SectionKind::Global)) && raw.global.line.is_none() {
            raw.global.line = header_line;
        }

        let mut seen: HashMap<String, usize> = HashMap::new();
        for (ordinal, (raw_key, value)) in properties.iter().enumerate() {
            let name = raw_key.trim().to_ascii_lowercase();
            let occurrence = seen.entry(name.clone()).or_insert(0);
            let line = lines
                .and_then(|l| l.keys.get(&name))
                .and_then(|found| found.get(*occurrence))
                .or_else(|| lines.and_then(|l| l.key_lines.get(ordinal)))
                .copied();
            *occurrence += 1;
            let value = RawValue {
                text: value.to_owned(),
                line,
            };
            if let Some(reason) = malformed_key(&name) {
                problems.push(problem(line, &label, Some(&name), reason.to_owned()));
                continue;
            }
            match (&kind, group_slot) {
                (None, _) => problems.push(problem(
                    line,
                    "",
                    Some(&name),
                    "key outside any section; put it under [global] or [nodegroup \"NAME\"]"
                        .to_owned(),
                )),
                (Some(SectionKind::Global), _) => match keys::global_key(&name) {
                    Some(key) => raw.global.values.entry(key).or_default().push(value),
                    None => problems.push(problem(
                        line,
                        &label,
                        Some(&name),
                        unknown_global_key(&name),
                    )),
                },
                (Some(SectionKind::NodeGroup(_)), Some(slot)) => match keys::group_key(&name) {
                    Some(setting) => {
                        if let Some(group) = raw.groups.get_mut(slot) {
                            group.values.entry(setting).or_default().push(value);
                        }
                    }
                    None => {
                        problems.push(problem(line, &label, Some(&name), unknown_group_key(&name)))
                    }
                },
                (Some(SectionKind::NodeGroup(_)), None) => {}
            }
        }
    }
    Some(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::keys::GlobalOnly;

    fn read_ok(text: &str) -> RawConfig {
        let mut problems = Vec::new();
        let raw = read(text, &mut problems).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        raw
    }

    #[test]
    fn repeated_blocks_merge_and_names_keep_case() {
        let raw = read_ok(
            "[Global]\nCluster-Name = c\n[nodegroup \"ng1\"]\ndisk = size=10\n\
             [NODEGROUP \"NG1\"]\nimage = x\n[nodegroup \"ng1\"]\ndisk = size=20\n",
        );
        assert_eq!(raw.groups.len(), 2);
        assert_eq!(raw.groups[0].name, "ng1");
        assert_eq!(raw.groups[1].name, "NG1");
        let disks: Vec<_> = raw.groups[0].values[&Setting::Disk]
            .iter()
            .map(|v| (v.text.as_str(), v.line))
            .collect();
        assert_eq!(disks, [("size=10", Some(4)), ("size=20", Some(8))]);
        let cluster = &raw.global.values[&GlobalKey::Only(GlobalOnly::ClusterName)][0];
        assert_eq!((cluster.text.as_str(), cluster.line), ("c", Some(2)));
    }

    #[test]
    fn indented_comments_crlf_and_continuations() {
        let raw = read_ok(
            "[global]\r\n  ; indented comment\r\ncluster-name = c ; inline\r\n\
             default-ssh-key = ssh-rsa AAAA111\\\r\n BBBB222\r\nfilter-name-prefix = x\r\n",
        );
        let values = &raw.global.values;
        assert_eq!(
            values[&GlobalKey::Only(GlobalOnly::ClusterName)][0].text,
            "c"
        );
        assert_eq!(
            values[&GlobalKey::Only(GlobalOnly::ClusterName)][0].line,
            Some(3)
        );
        let prefix = &values[&GlobalKey::Only(GlobalOnly::FilterNamePrefix)][0];
        assert_eq!((prefix.text.as_str(), prefix.line), ("x", Some(6)));
    }

    #[test]
    fn value_lines_are_read_like_rust_ini() {
        assert!(matches!(
            first_value_line(" a \\"),
            Ok(ValueLineEnd::Continues)
        ));
        assert!(matches!(first_value_line(" a ;\\"), Ok(ValueLineEnd::Ends)));
        assert!(matches!(first_value_line(" a\\\\"), Ok(ValueLineEnd::Ends)));
        assert!(matches!(
            first_value_line(" \"a ; \\\" b\" x"),
            Ok(ValueLineEnd::Ends)
        ));
        assert!(matches!(
            first_value_line(" 'q'\"r\" \\"),
            Ok(ValueLineEnd::Continues)
        ));
        assert!(first_value_line(" \"open").is_err());
        assert!(first_value_line(" \"open\\").is_err());
        assert_eq!(continued_value_line(" b \\"), Ok(true));
        assert_eq!(continued_value_line(" b"), Ok(false));
        assert!(continued_value_line(" b ; c").is_err());
    }

    #[test]
    fn lines_stay_in_step_after_continuations_and_comments() {
        let raw = read_ok(
            "[global]\ncluster-name = a ;\\\n[nodegroup \"n\"]\nimage = x \\\n  y\nram = 1\n",
        );
        assert_eq!(raw.groups[0].values[&Setting::Ram][0].line, Some(6));
        assert_eq!(raw.groups[0].values[&Setting::Image][0].text, "x   y");
        let mut problems = Vec::new();
        assert!(read("[global]\nx = \"open\ny = 1\n", &mut problems).is_none());
        assert_eq!(problems[0].line, Some(2));
    }

    #[test]
    fn bare_keys_junk_and_unknown_sections_are_reported_with_lines() {
        let mut problems = Vec::new();
        read(
            "[global] junk\ndailybackup\ncluster-name = c\n[gglobal]\nx = 1\n[nodegroup ng1]\n",
            &mut problems,
        )
        .unwrap();
        let lines: Vec<_> = problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [Some(1), Some(2), Some(4), Some(6)], "{problems:?}");
        assert!(problems[2].message.contains("did you mean [global]"));
    }

    mod props {
        use proptest::prelude::*;

        use super::*;

        /// Lines the text has, counting CRLF, LF and a lone CR as line ends (as rust-ini).
        fn line_count(text: &str) -> usize {
            text.replace("\r\n", "\n").split(['\n', '\r']).count()
        }

        /// Text made of what the INI grammar reacts to, and anything else.
        fn ini_text() -> impl Strategy<Value = String> {
            let grammar = prop_oneof![
                Just("[global]\n".to_owned()),
                Just("[nodegroup \"ng1\"]\n".to_owned()),
                Just("[nodegroup ng1]\n".to_owned()),
                Just("min-size = 1\n".to_owned()),
                Just("cluster-name=c ; comment\n".to_owned()),
                Just("  ; indented\n".to_owned()),
                Just("value \\\n".to_owned()),
                Just("\r\n".to_owned()),
                "[\\[\\]\"'=:;#\\\\ \t\r\na1-]{0,8}",
                any::<String>(),
            ];
            proptest::collection::vec(grammar, 0..24).prop_map(|parts| parts.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig {
                cases: 512,
                failure_persistence: None,
                ..ProptestConfig::default()
            })]

            /// The reader never panics; every problem it reports has a line in the text,
            /// and what it keeps remembers the line of every value and group.
            #[test]
            fn any_text_is_read_or_refused_with_lines(text in ini_text()) {
                let mut problems = Vec::new();
                let raw = read(&text, &mut problems);
                let lines = line_count(&text);
                for problem in &problems {
                    let line = problem.line;
                    prop_assert!(
                        line.is_some_and(|l| (1..=lines + 1).contains(&l)),
                        "{problem:?} in {text:?}"
                    );
                }
                match raw {
                    None => prop_assert!(!problems.is_empty(), "refused without a reason: {text:?}"),
                    Some(raw) => {
                        let values = raw
                            .global
                            .values
                            .values()
                            .chain(raw.groups.iter().flat_map(|g| g.values.values()))
                            .flatten();
                        for value in values {
                            prop_assert!(
                                value.line.is_some_and(|l| (1..=lines + 1).contains(&l)),
                                "value {:?} without its line in {text:?}", value.text
                            );
                        }
                        for group in &raw.groups {
                            prop_assert!(group.line.is_some(), "group {} without a line", group.name);
                        }
                    }
                }
            }
        }
    }
}
