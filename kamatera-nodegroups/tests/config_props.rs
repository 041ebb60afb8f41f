//! Property tests: no input makes the reader panic, and every problem has a location.

use proptest::prelude::*;

use crate::config_support::*;

fn check_locations(text: &str) {
    if let Err(error) = parse(text) {
        let problems = error.config_problems();
        assert!(
            !problems.is_empty(),
            "config error without problems: {error}"
        );
        // CRLF, LF and a lone CR each end a line (as in rust-ini).
        let line_count = text.replace("\r\n", "\n").split(['\n', '\r']).count();
        for problem in problems {
            assert!(
                problem.line.is_some() || !problem.section.is_empty() || problem.key.is_some(),
                "problem without a location: {problem:?}\n{text:?}"
            );
            if let Some(line) = problem.line {
                assert!(
                    (1..=line_count + 1).contains(&line),
                    "line {line} out of range: {problem:?}\n{text:?}"
                );
            }
        }
    }
}

/// Characters that matter to the INI grammar, mixed with ordinary ones.
fn ini_chars() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just('['),
            Just(']'),
            Just('"'),
            Just('\''),
            Just('='),
            Just(':'),
            Just(';'),
            Just('#'),
            Just('\\'),
            Just('\n'),
            Just('\r'),
            Just(' '),
            Just('\t'),
            Just('a'),
            Just('1'),
            Just('-'),
            any::<char>(),
        ],
        0..200,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

/// A valid file with a few extra keys, to mutate.
fn valid_file() -> String {
    file_with(
        "default-template-label = a=b\ndefault-kube-reserved-cpu = 100m",
        "max-size = 3\ndisk = size=10\ntemplate-taint = k=v:NoSchedule\n[nodegroup \"ng2\"]\nmin-size = 0",
    )
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize),
    Insert(usize, char),
    DuplicateLine(usize),
    SwapLines(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let special = prop_oneof![
        Just('['),
        Just(']'),
        Just('"'),
        Just('='),
        Just(';'),
        Just('\\'),
        Just('\n'),
        Just(' '),
        any::<char>(),
    ];
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), special).prop_map(|(at, c)| Mutation::Insert(at, c)),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
    ]
}

fn apply(text: &str, mutation: &Mutation) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let mut lines: Vec<&str> = text.split('\n').collect();
    match *mutation {
        Mutation::Delete(at) => {
            if !chars.is_empty() {
                chars.remove(at % chars.len());
            }
            chars.into_iter().collect()
        }
        Mutation::Insert(at, c) => {
            chars.insert(at % (chars.len() + 1), c);
            chars.into_iter().collect()
        }
        Mutation::DuplicateLine(at) => {
            let line = lines[at % lines.len()];
            lines.insert(at % lines.len(), line);
            lines.join("\n")
        }
        Mutation::SwapLines(a, b) => {
            let len = lines.len();
            lines.swap(a % len, b % len);
            lines.join("\n")
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        // One test binary under tests/: proptest cannot place a regressions file
        // beside it, and failures print their minimal input anyway.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_text_never_panics(text in ini_chars()) {
        check_locations(&text);
    }

    #[test]
    fn arbitrary_unicode_never_panics(text in any::<String>()) {
        check_locations(&text);
    }

    #[test]
    fn mutated_valid_files_never_panic(mutations in proptest::collection::vec(mutation(), 1..6)) {
        let mut text = valid_file();
        for mutation in &mutations {
            text = apply(&text, mutation);
        }
        check_locations(&text);
    }
}

#[test]
fn the_mutation_base_is_valid() {
    parse_ok(&valid_file());
}
