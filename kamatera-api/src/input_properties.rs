//! Every parser of caller input (the cloudcli disk and network specs, CPU and RAM sizes,
//! disk sizes and indexes, subnets, statistics periods), fed any text: never a panic; a
//! refusal is always [`Error::InvalidRequest`] naming the field the text was for; and what
//! is accepted prints back to text that parses to the same value.

use std::fmt::{Debug, Display};
use std::str::FromStr;

use proptest::prelude::*;

use crate::calls::{DiskIndex, DiskSize, Ipv4Subnet, StatisticsPeriod};
use crate::error::Error;
use crate::spec::{Cpu, DiskSpec, NetworkSpec, RamMb};

/// Text near the grammars: the keys, separators and values the parsers look for, joined in
/// any order, so that the property reaches past the first check (random text rarely does).
fn near_grammar() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "id",
        "size",
        "name",
        "ip",
        "=",
        ",",
        "wan",
        "auto",
        "lan-1-a",
        "0",
        "1",
        "3",
        "4",
        "9",
        "100",
        "4294967296",
        "A",
        "b",
        "T",
        "x",
        "gb",
        "GB",
        " ",
        "/",
        ".",
        "172.16.0.0",
        "23",
        "33",
        "h",
        "m",
        "w",
        "-",
        "\u{e9}",
        "\u{1F600}",
    ]);
    prop::collection::vec(token, 0..8).prop_map(|tokens| tokens.concat())
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![near_grammar(), "\\PC{0,24}", ".{0,24}"]
}

/// Parses `text` as `T` and checks the three promises of the module docs.
fn check<T>(field: &str, text: &str)
where
    T: FromStr<Err = Error> + Display + PartialEq + Debug,
{
    match text.parse::<T>() {
        Ok(value) => {
            let printed = value.to_string();
            match printed.parse::<T>() {
                Ok(again) => assert_eq!(again, value, "{text:?} printed as {printed:?}"),
                Err(err) => panic!("{text:?} printed as {printed:?}, which is refused: {err}"),
            }
        }
        Err(Error::InvalidRequest {
            field: named,
            reason,
            ..
        }) => {
            assert_eq!(named, field, "{text:?}");
            assert!(!reason.is_empty(), "{text:?}: empty reason");
        }
        Err(other) => panic!("{text:?}: not an InvalidRequest: {other:?}"),
    }
}

/// The wire field a refused subnet text is for: the prefix length (`subnetBit`) when the
/// address before the `/` is fine and the bits after it are not a valid length, else the
/// address (`subnetIp`).
fn subnet_field(text: &str) -> &'static str {
    match text.split_once('/') {
        Some((address, bits)) if address.parse::<std::net::Ipv4Addr>().is_ok() => {
            match bits.parse::<u8>() {
                Ok(len)
                    if (Ipv4Subnet::MIN_PREFIX_LEN..=Ipv4Subnet::MAX_PREFIX_LEN).contains(&len) =>
                {
                    "subnetIp"
                }
                _ => "subnetBit",
            }
        }
        _ => "subnetIp",
    }
}

fn check_all(text: &str) {
    check::<DiskSpec>("disk", text);
    check::<NetworkSpec>("network", text);
    check::<Cpu>("cpu", text);
    check::<RamMb>("ram", text);
    check::<DiskSize>("size", text);
    check::<DiskIndex>("index", text);
    check::<Ipv4Subnet>(subnet_field(text), text);
    check::<StatisticsPeriod>("period", text);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn any_text_is_parsed_or_refused_with_its_field(text in any_text()) {
        check_all(&text);
    }
}

/// The property holds trivially for a parser that refuses everything: each parser's
/// documented example must be accepted, so that the round trip above is exercised.
#[test]
fn each_parser_accepts_its_documented_example() {
    fn accepted<T: FromStr<Err = Error> + Display + PartialEq + Debug>(field: &str, text: &str) {
        assert!(text.parse::<T>().is_ok(), "{field}: {text:?} refused");
        check::<T>(field, text);
    }
    accepted::<DiskSpec>("disk", "id=1,size=200");
    accepted::<NetworkSpec>("network", "id=0,name=wan,ip=auto");
    accepted::<Cpu>("cpu", "12T");
    accepted::<RamMb>("ram", "2048");
    accepted::<DiskSize>("size", "50gb");
    accepted::<DiskIndex>("index", "1");
    accepted::<Ipv4Subnet>("subnetIp", "172.16.0.0/23");
    accepted::<StatisticsPeriod>("period", "1w");
}

/// A refused subnet names the part that is wrong (found by the property above: a bad
/// prefix after a good address is the `subnetBit` field's fault).
#[test]
fn a_refused_subnet_names_the_address_or_the_prefix() {
    for (text, field) in [
        ("172.16.0.0/3100GB A", "subnetBit"),
        ("172.16.0.0/33", "subnetBit"),
        ("172.16.0.0/0", "subnetBit"),
        ("172.16.0.0/", "subnetBit"),
        ("172.16.0/23", "subnetIp"),
        ("172.16.0.0", "subnetIp"),
    ] {
        assert_eq!(subnet_field(text), field, "{text:?}");
        check::<Ipv4Subnet>(field, text);
        assert!(text.parse::<Ipv4Subnet>().is_err(), "{text:?}");
    }
}
