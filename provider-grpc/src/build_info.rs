//! Which build this is: the version and the source commit, fixed at compile time.
//!
//! Release builds set `KAMATERA_BUILD_VERSION` and `KAMATERA_BUILD_COMMIT` in the
//! environment of `cargo build` (`.ci/image` sets them from Cargo.toml and git); a plain
//! `cargo build` falls back to the crate version and `unknown`.

use std::sync::LazyLock;

/// The version of this build (`KAMATERA_BUILD_VERSION`, else the crate version).
pub const VERSION: &str = match option_env!("KAMATERA_BUILD_VERSION") {
    Some(version) if !version.is_empty() => version,
    _ => env!("CARGO_PKG_VERSION"),
};

/// The source commit of this build (`KAMATERA_BUILD_COMMIT`, else `unknown`).
pub const COMMIT: &str = match option_env!("KAMATERA_BUILD_COMMIT") {
    Some(commit) if !commit.is_empty() => commit,
    _ => "unknown",
};

/// What `--version` prints after the program name: `0.1.0 (commit 1a2b3c4)`.
pub static VERSION_LINE: LazyLock<String> =
    LazyLock::new(|| format!("{VERSION} (commit {COMMIT})"));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_line_names_version_and_commit() {
        assert!(!VERSION.is_empty() && !COMMIT.is_empty());
        assert_eq!(*VERSION_LINE, format!("{VERSION} (commit {COMMIT})"));
    }
}
