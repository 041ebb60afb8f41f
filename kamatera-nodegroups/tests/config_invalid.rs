//! A table of invalid files: each must be rejected with a problem naming the right
//! section, key and line, and every problem of every file must name a location.

use crate::config_support::*;

const NG1: &str = "nodegroup \"ng1\"";
const GLOBAL_SECTION: &str = "global";
const NG1_HEADER: &str = "[nodegroup \"ng1\"]";

/// One invalid file: [`file_with`]`(global, group)` with `before` prepended.
struct Case {
    name: &'static str,
    before: &'static str,
    global: &'static str,
    group: &'static str,
    section: &'static str,
    key: Option<&'static str>,
    /// Text on the line the problem must point at.
    line_of: &'static str,
    /// A line of [`GLOBAL`] to drop (multi-valued defaults cannot be unset with `key =`).
    remove: &'static str,
}

const fn case(
    name: &'static str,
    global: &'static str,
    group: &'static str,
    section: &'static str,
    key: Option<&'static str>,
    line_of: &'static str,
) -> Case {
    Case {
        name,
        before: "",
        global,
        group,
        section,
        key,
        line_of,
        remove: "",
    }
}

const CASES: &[Case] = &[
    // structure
    case(
        "unknown global key",
        "colour = red",
        "",
        GLOBAL_SECTION,
        Some("colour"),
        "colour =",
    ),
    case(
        "typo in a global key",
        "default-max-szie = 3",
        "",
        GLOBAL_SECTION,
        Some("default-max-szie"),
        "default-max-szie",
    ),
    case(
        "typo in a group key",
        "",
        "max-szie = 3",
        NG1,
        Some("max-szie"),
        "max-szie",
    ),
    case(
        "group key in [global]",
        "datacenter = US",
        "",
        GLOBAL_SECTION,
        Some("datacenter"),
        "datacenter = US",
    ),
    case(
        "global-only key in a group",
        "",
        "cluster-name = x",
        NG1,
        Some("cluster-name"),
        "cluster-name = x",
    ),
    case(
        "default- key in a group",
        "",
        "default-image = x",
        NG1,
        Some("default-image"),
        "default-image = x",
    ),
    case(
        "bare key without =",
        "",
        "dailybackup",
        NG1,
        Some("dailybackup"),
        "dailybackup",
    ),
    case(
        "key name with a space",
        "",
        "max size = 3",
        NG1,
        Some("max size"),
        "max size",
    ),
    case(
        "unquoted node-group name",
        "",
        "[nodegroup ng2]",
        "nodegroup ng2",
        None,
        "[nodegroup ng2]",
    ),
    case(
        "text after a header",
        "",
        "[nodegroup \"ng2\"] junk",
        "nodegroup \"ng2\"",
        None,
        "junk",
    ),
    case(
        "unknown section",
        "",
        "[nodegroups \"x\"]",
        "nodegroups \"x\"",
        None,
        "[nodegroups",
    ),
    case(
        "node-group name with a space",
        "",
        "[nodegroup \"a b\"]",
        "nodegroup \"a b\"",
        None,
        "[nodegroup \"a b\"]",
    ),
    case(
        "node-group name too long",
        "",
        "[nodegroup \"abcdefghijklmnop\"]",
        "nodegroup \"abcdefghijklmnop\"",
        None,
        "abcdefghijklmnop",
    ),
    // cluster level
    case(
        "cluster name too long",
        "cluster-name = abcdefghijklmnop",
        "",
        GLOBAL_SECTION,
        Some("cluster-name"),
        "abcdefghijklmnop",
    ),
    case(
        "cluster name with a slash",
        "cluster-name = a/b",
        "",
        GLOBAL_SECTION,
        Some("cluster-name"),
        "a/b",
    ),
    case(
        "cluster name missing",
        "cluster-name =",
        "",
        GLOBAL_SECTION,
        Some("cluster-name"),
        "[global]",
    ),
    case(
        "only the secret",
        "kamatera-api-client-id =",
        "",
        GLOBAL_SECTION,
        Some("kamatera-api-client-id"),
        "[global]",
    ),
    case(
        "only the client id",
        "kamatera-api-secret =",
        "",
        GLOBAL_SECTION,
        Some("kamatera-api-secret"),
        "[global]",
    ),
    case(
        "api url not http",
        "kamatera-api-url = ftp://example.com",
        "",
        GLOBAL_SECTION,
        Some("kamatera-api-url"),
        "ftp://",
    ),
    case(
        "api url in clear text to a remote host",
        "kamatera-api-url = http://cloudcli.example.com/",
        "",
        GLOBAL_SECTION,
        Some("kamatera-api-url"),
        "http://cloudcli.example.com",
    ),
    case(
        "allowing clear text with a non-boolean",
        "kamatera-api-url = http://10.0.0.5:8080\nkamatera-api-allow-insecure-http = maybe",
        "",
        GLOBAL_SECTION,
        Some("kamatera-api-allow-insecure-http"),
        "= maybe",
    ),
    case(
        "response cap not a number",
        "kamatera-api-max-response-mib = lots",
        "",
        GLOBAL_SECTION,
        Some("kamatera-api-max-response-mib"),
        "= lots",
    ),
    case(
        "response cap of zero",
        "kamatera-api-max-response-mib = 0",
        "",
        GLOBAL_SECTION,
        Some("kamatera-api-max-response-mib"),
        "= 0",
    ),
    case(
        "api url not a url",
        "kamatera-api-url = not a url",
        "",
        GLOBAL_SECTION,
        Some("kamatera-api-url"),
        "not a url",
    ),
    case(
        "filter prefix with a space",
        "filter-name-prefix = \"a b\"",
        "",
        GLOBAL_SECTION,
        Some("filter-name-prefix"),
        "filter-name-prefix",
    ),
    case(
        "provider id prefix with a space",
        "provider-id-prefix = \"a b://\"",
        "",
        GLOBAL_SECTION,
        Some("provider-id-prefix"),
        "provider-id-prefix",
    ),
    // sizes and power
    case(
        "negative min-size",
        "",
        "min-size = -1",
        NG1,
        Some("min-size"),
        "min-size = -1",
    ),
    case(
        "max-size not a number",
        "",
        "max-size = 2a",
        NG1,
        Some("max-size"),
        "max-size = 2a",
    ),
    case(
        "min-size above max-size",
        "",
        "min-size = 5\nmax-size = 3",
        NG1,
        Some("max-size"),
        "max-size = 3",
    ),
    case(
        "default-min-size not a number",
        "default-min-size = one",
        "",
        GLOBAL_SECTION,
        Some("default-min-size"),
        "default-min-size",
    ),
    case(
        "group power flag not a bool",
        "",
        "poweroff-on-scale-down = maybe",
        NG1,
        Some("poweroff-on-scale-down"),
        "maybe",
    ),
    case(
        "global power flag not a bool",
        "poweron-on-scale-up = 2",
        "",
        GLOBAL_SECTION,
        Some("poweron-on-scale-up"),
        "poweron-on-scale-up",
    ),
    case(
        "negative max parked servers",
        "",
        "poweroff-on-scale-down-max-servers = -1",
        NG1,
        Some("poweroff-on-scale-down-max-servers"),
        "max-servers = -1",
    ),
    case(
        "dailybackup not a bool",
        "",
        "dailybackup = sometimes",
        NG1,
        Some("dailybackup"),
        "sometimes",
    ),
    case(
        "default-managed not a bool",
        "default-managed = perhaps",
        "",
        GLOBAL_SECTION,
        Some("default-managed"),
        "perhaps",
    ),
    // server
    case(
        "cpu type unknown",
        "",
        "cpu = 2X",
        NG1,
        Some("cpu"),
        "cpu = 2X",
    ),
    case(
        "cpu zero cores",
        "",
        "cpu = 0A",
        NG1,
        Some("cpu"),
        "cpu = 0A",
    ),
    case(
        "ram with a unit",
        "",
        "ram = 4GB",
        NG1,
        Some("ram"),
        "ram = 4GB",
    ),
    case("ram zero", "", "ram = 0", NG1, Some("ram"), "ram = 0"),
    case(
        "disk size not a number",
        "",
        "disk = size=abc",
        NG1,
        Some("disk"),
        "size=abc",
    ),
    case(
        "disk unknown key",
        "",
        "disk = size=10,foo=1",
        NG1,
        Some("disk"),
        "foo=1",
    ),
    case(
        "disk empty entry",
        "",
        "disk = \"\"",
        NG1,
        Some("disk"),
        "disk = \"\"",
    ),
    case(
        "five disks",
        "",
        "disk=size=1\ndisk=size=2\ndisk=size=3\ndisk=size=4\ndisk=size=5",
        NG1,
        Some("disk"),
        "size=5",
    ),
    case(
        "disk slot twice",
        "",
        "disk=id=1,size=10\ndisk=id=1,size=20",
        NG1,
        Some("disk"),
        "id=1,size=20",
    ),
    case(
        "bad default disk",
        "default-disk = size=0",
        "",
        GLOBAL_SECTION,
        Some("default-disk"),
        "size=0",
    ),
    case(
        "network without a name",
        "",
        "network = ip=auto",
        NG1,
        Some("network"),
        "network = ip=auto",
    ),
    case(
        "network with a space",
        "",
        "network = name=wan ip=auto",
        NG1,
        Some("network"),
        "name=wan ip=auto",
    ),
    case(
        "five networks",
        "",
        "network=name=a\nnetwork=name=b\nnetwork=name=c\nnetwork=name=d\nnetwork=name=e",
        NG1,
        Some("network"),
        "name=e",
    ),
    case(
        "billing cycle unknown",
        "",
        "billingcycle = weekly",
        NG1,
        Some("billingcycle"),
        "weekly",
    ),
    case(
        "monthly without package",
        "",
        "billingcycle = monthly",
        NG1,
        Some("monthlypackage"),
        NG1_HEADER,
    ),
    case(
        "monthly package with a space",
        "",
        "billingcycle = monthly\nmonthlypackage = \"t 5000\"",
        NG1,
        Some("monthlypackage"),
        "monthlypackage",
    ),
    case(
        "password too short",
        "",
        "password = Short1",
        NG1,
        Some("password"),
        "password =",
    ),
    case(
        "default password without digits",
        "default-password = NoDigitsHere",
        "",
        GLOBAL_SECTION,
        Some("default-password"),
        "default-password",
    ),
    case(
        "script not base64",
        "",
        "script-base64 = !!!",
        NG1,
        Some("script-base64"),
        "!!!",
    ),
    case(
        "script decodes to blanks",
        "",
        "script-base64 = ICAgCg==",
        NG1,
        Some("script-base64"),
        "ICAgCg==",
    ),
    case(
        "script missing",
        "default-script-base64 =",
        "",
        NG1,
        Some("script-base64"),
        NG1_HEADER,
    ),
    case(
        "datacenter missing",
        "default-datacenter =",
        "",
        NG1,
        Some("datacenter"),
        NG1_HEADER,
    ),
    case(
        "image missing",
        "default-image =",
        "",
        NG1,
        Some("image"),
        NG1_HEADER,
    ),
    case(
        "cpu missing",
        "default-cpu =",
        "",
        NG1,
        Some("cpu"),
        NG1_HEADER,
    ),
    Case {
        remove: "default-disk = size=100\n",
        ..case("disk missing", "", "", NG1, Some("disk"), NG1_HEADER)
    },
    Case {
        remove: "default-network = name=wan,ip=auto\n",
        ..case("network missing", "", "", NG1, Some("network"), NG1_HEADER)
    },
    case(
        "name prefix with a space",
        "",
        "name-prefix = \"bad name\"",
        NG1,
        Some("name-prefix"),
        "bad name",
    ),
    case(
        "name prefix too long",
        "",
        "name-prefix = abcdefghijabcdefghijabcdefghij",
        NG1,
        Some("name-prefix"),
        "abcdefghij",
    ),
    case(
        "name prefix outside the filter",
        "filter-name-prefix = k8s-",
        "name-prefix = web",
        NG1,
        Some("name-prefix"),
        "name-prefix = web",
    ),
    // template and price
    case(
        "label without =",
        "",
        "template-label = novalue",
        NG1,
        Some("template-label"),
        "novalue",
    ),
    case(
        "label key twice in a section",
        "",
        "template-label = a=1\ntemplate-label = a=2",
        NG1,
        Some("template-label"),
        "a=2",
    ),
    case(
        "bad default label",
        "default-template-label = \"a b=c\"",
        "",
        GLOBAL_SECTION,
        Some("default-template-label"),
        "default-template-label",
    ),
    case(
        "taint effect unknown",
        "",
        "template-taint = k=v:Never",
        NG1,
        Some("template-taint"),
        "Never",
    ),
    case(
        "bad default taint",
        "default-template-taint = nocolon",
        "",
        GLOBAL_SECTION,
        Some("default-template-taint"),
        "nocolon",
    ),
    case(
        "max-pods zero",
        "",
        "max-pods = 0",
        NG1,
        Some("max-pods"),
        "max-pods = 0",
    ),
    case(
        "default-max-pods not a number",
        "default-max-pods = many",
        "",
        GLOBAL_SECTION,
        Some("default-max-pods"),
        "many",
    ),
    case(
        "cpu reservation in bytes",
        "",
        "kube-reserved-cpu = 1Gi",
        NG1,
        Some("kube-reserved-cpu"),
        "1Gi",
    ),
    case(
        "memory reservation unit unknown",
        "",
        "kube-reserved-memory = 10Q",
        NG1,
        Some("kube-reserved-memory"),
        "10Q",
    ),
    case(
        "negative price",
        "",
        "hourly-price = -1",
        NG1,
        Some("hourly-price"),
        "hourly-price = -1",
    ),
    case(
        "price not a number",
        "default-hourly-price = cheap",
        "",
        GLOBAL_SECTION,
        Some("default-hourly-price"),
        "cheap",
    ),
    // price rates (docs/pricing.md)
    case(
        "cpu rate not a number",
        "price-per-cpu-core-hour = cheap",
        "",
        GLOBAL_SECTION,
        Some("price-per-cpu-core-hour"),
        "cheap",
    ),
    case(
        "negative ram rate",
        "price-per-gb-ram-hour = -0.001",
        "",
        GLOBAL_SECTION,
        Some("price-per-gb-ram-hour"),
        "-0.001",
    ),
    case(
        "disk rate with exponent",
        "price-per-gb-disk-hour = 1e-5",
        "",
        GLOBAL_SECTION,
        Some("price-per-gb-disk-hour"),
        "1e-5",
    ),
    // autoscaling options
    case(
        "utilization above 1",
        "",
        "scale-down-utilization-threshold = 1.5",
        NG1,
        Some("scale-down-utilization-threshold"),
        "1.5",
    ),
    case(
        "gpu utilization not a number",
        "",
        "scale-down-gpu-utilization-threshold = x",
        NG1,
        Some("scale-down-gpu-utilization-threshold"),
        "threshold = x",
    ),
    case(
        "unneeded time not a duration",
        "",
        "scale-down-unneeded-time = soon",
        NG1,
        Some("scale-down-unneeded-time"),
        "soon",
    ),
    case(
        "unready time without unit",
        "",
        "scale-down-unready-time = 10",
        NG1,
        Some("scale-down-unready-time"),
        "unready-time = 10",
    ),
    case(
        "negative provision time",
        "default-max-node-provision-time = -5m",
        "",
        GLOBAL_SECTION,
        Some("default-max-node-provision-time"),
        "-5m",
    ),
    case(
        "zero-or-max not a bool",
        "",
        "zero-or-max-node-scaling = maybe",
        NG1,
        Some("zero-or-max-node-scaling"),
        "zero-or-max",
    ),
    case(
        "ignore-daemonsets not a bool",
        "",
        "ignore-daemonsets-utilization = 2",
        NG1,
        Some("ignore-daemonsets-utilization"),
        "ignore-daemonsets",
    ),
    Case {
        name: "key before any section",
        before: "orphan = 1\n",
        global: "",
        group: "",
        section: "",
        key: Some("orphan"),
        line_of: "orphan",
        remove: "",
    },
];

#[test]
fn invalid_files_name_section_key_and_line() {
    assert!(CASES.len() >= 40, "the table must stay at 40 cases or more");
    for case in CASES {
        let text = format!("{}{}", case.before, file_with(case.global, case.group));
        let text = if case.remove.is_empty() {
            text
        } else {
            text.replacen(case.remove, "", 1)
        };
        let error = match parse(&text) {
            Ok(_) => panic!("{}: accepted\n{text}", case.name),
            Err(error) => error,
        };
        let problems = error.config_problems();
        let line = line_of(&text, case.line_of);
        assert!(
            problems.iter().any(|p| p.section == case.section
                && p.key.as_deref() == case.key
                && p.line == Some(line)),
            "{}: expected [{}] {:?} at line {line}, got {problems:#?}\n{text}",
            case.name,
            case.section,
            case.key,
        );
        for problem in problems {
            assert!(
                problem.line.is_some() || !problem.section.is_empty(),
                "{}: problem without a location: {problem:?}",
                case.name
            );
            assert!(!problem.message.is_empty());
        }
        let shown = error.to_string();
        assert!(
            shown.contains(&format!("cloud-config.ini:{line}: ")),
            "{}: {shown}",
            case.name
        );
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    // One file with many of the table's mistakes reports all of them.
    let global = "colour = red\ncluster-name = a/b\ndefault-managed = perhaps";
    let group = "cpu = 2X\nram = 0\nmax-pods = 0\nscale-down-unneeded-time = soon\n\
                 [nodegroup \"ng2\"]\nhourly-price = cheap";
    let text = file_with(global, group);
    let problems = problems_in(&text);
    let keys: Vec<_> = problems.iter().filter_map(|p| p.key.as_deref()).collect();
    for key in [
        "colour",
        "cluster-name",
        "default-managed",
        "cpu",
        "ram",
        "max-pods",
        "scale-down-unneeded-time",
        "hourly-price",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    // In file order.
    let lines: Vec<_> = problems.iter().filter_map(|p| p.line).collect();
    let mut sorted = lines.clone();
    sorted.sort_unstable();
    assert_eq!(lines, sorted);
}

#[test]
fn a_bad_default_is_reported_once_not_per_group() {
    let text = file_with(
        "default-cpu = 2X",
        "[nodegroup \"ng2\"]\n[nodegroup \"ng3\"]",
    );
    let problems = problems_in(&text);
    let cpu: Vec<_> = problems
        .iter()
        .filter(|p| p.key.as_deref() == Some("default-cpu"))
        .collect();
    assert_eq!(cpu.len(), 1, "{problems:#?}");
    assert_eq!(cpu[0].line, Some(line_of(&text, "default-cpu = 2X")));
}

#[test]
fn syntax_errors_have_a_line() {
    for (text, needle) in [
        ("[global]\ncluster-name = \"unterminated\n", "unterminated"),
        ("[global\ncluster-name = c\n", "[global"),
    ] {
        let problems = problems_in(text);
        let line = problems[0].line.expect("line");
        assert!(line >= line_of(text, needle), "{problems:?}");
        assert!(problems[0].message.contains("syntax error"), "{problems:?}");
    }
}

#[test]
fn a_stray_line_is_not_echoed() {
    // It may be the second half of a wrapped secret.
    let text = file_with("", "Sup3rStrayLine");
    let error = parse(&text).unwrap_err();
    assert!(!error.to_string().contains("Sup3rStrayLine"), "{error}");
}

#[test]
fn clear_text_api_urls_pass_only_to_loopback_or_when_allowed() {
    for url in [
        "http://127.0.0.1:8080",
        "http://localhost:8080/",
        "http://[::1]:8080",
        "https://cloudcli.example.com/",
    ] {
        let config = parse_ok(&file_with(&format!("kamatera-api-url = {url}"), ""));
        assert_eq!(config.api_url, url);
    }
    let allowed = parse_ok(&file_with(
        "kamatera-api-url = http://10.0.0.5:8080\nkamatera-api-allow-insecure-http = true",
        "",
    ));
    assert_eq!(allowed.api_url, "http://10.0.0.5:8080");
    let text = file_with(
        "kamatera-api-url = http://10.0.0.5:8080\nkamatera-api-allow-insecure-http = false",
        "",
    );
    let problems = problems_in(&text);
    assert_problem(
        &problems,
        GLOBAL_SECTION,
        Some("kamatera-api-url"),
        "kamatera-api-allow-insecure-http = true",
    );
    assert_eq!(
        problems[0].line,
        Some(line_of(&text, "kamatera-api-url = http://10.0.0.5:8080"))
    );
}

#[test]
fn a_bad_default_is_reported_even_when_every_group_sets_its_own_value() {
    // Single-valued defaults, and list defaults that a group's own list replaces.
    for (bad_default, own_value) in [
        ("default-max-size = 2a", "max-size = 3"),
        ("default-min-size = -1", "min-size = 0"),
        ("default-cpu = 2X", "cpu = 4B"),
        ("default-managed = perhaps", "managed = true"),
        ("default-max-pods = 0", "max-pods = 50"),
        (
            "default-kube-reserved-memory = lots",
            "kube-reserved-memory = 1Gi",
        ),
        (
            "default-scale-down-unneeded-time = soon",
            "scale-down-unneeded-time = 5m",
        ),
        ("default-hourly-price = cheap", "hourly-price = 0.05"),
        ("default-disk = size=huge", "disk = size=50"),
        ("default-network = colour=blue", "network = name=wan"),
    ] {
        let text = file_with(
            bad_default,
            &format!("{own_value}\n[nodegroup \"ng2\"]\n{own_value}"),
        );
        let problems = problems_in(&text);
        let key = bad_default.split(" = ").next().unwrap();
        let at_default: Vec<_> = problems
            .iter()
            .filter(|p| p.key.as_deref() == Some(key))
            .collect();
        assert_eq!(at_default.len(), 1, "{bad_default}: {problems:#?}");
        assert_eq!(at_default[0].section, GLOBAL_SECTION, "{bad_default}");
        assert_eq!(
            at_default[0].line,
            Some(line_of(&text, bad_default)),
            "{bad_default}"
        );
        assert!(
            at_default[0].message.contains("invalid value"),
            "{bad_default}: {}",
            at_default[0].message
        );
        // Nothing else is wrong with the file.
        assert_eq!(problems.len(), 1, "{bad_default}: {problems:#?}");
        let shown = parse(&text).unwrap_err().to_string();
        assert!(
            shown.contains(&format!(
                "cloud-config.ini:{}: ",
                at_default[0].line.unwrap()
            )),
            "{shown}"
        );
    }
}

#[test]
fn defaults_that_only_disagree_with_each_other_are_left_to_the_groups() {
    // Each default is valid by itself; a group that overrides them never meets the
    // combination, so the file is accepted.
    let text = file_with(
        "default-min-size = 5\ndefault-max-size = 3\ndefault-kube-reserved-cpu = 4000m",
        "min-size = 0\nmax-size = 3\ncpu = 8A\nkube-reserved-cpu = 500m",
    );
    let config = parse_ok(&text);
    assert_eq!(config.node_groups["ng1"].max_size, 3);
    // Inherited, the same combination is still an error of the group.
    let inherited = file_with("default-min-size = 5\ndefault-max-size = 3", "");
    assert!(!problems_in(&inherited).is_empty());
}
