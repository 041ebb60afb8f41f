//! End-to-end tests and benchmarks of the workspace; the tests live in `tests/tests.rs`
//! and the benchmarks in `benches/`.
//!
//! The Rust examples of the workspace README are compiled as doc tests of this crate, so
//! the README cannot drift from the code.

#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeExamples;
