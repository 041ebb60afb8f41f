//! Validated building blocks of a create request: server names, CPU, disks, networks, tags,
//! billing cycles and passwords.
//!
//! Each type checks its input when it is built, so a request that reaches the network is
//! already known to be well formed. Parsing follows the cloudcli `--disk` / `--network`
//! syntax (`key=value` pairs separated by commas).

use std::fmt;
use std::str::FromStr;

use secrecy::{ExposeSecret, SecretString};

use crate::error::Error;
use crate::newtype::string_newtype;

/// The most disks or networks one server can have (slot ids `0..=3`).
pub const MAX_SLOTS: usize = 4;

/// The error for a request value that fails validation, naming its wire field.
pub(crate) fn invalid(field: &'static str, value: &str, reason: impl Into<String>) -> Error {
    Error::InvalidRequest {
        field,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

/// Checks a datacenter id (`IL`, `US-NY2`) given to a call, and hands it back.
pub(crate) fn check_datacenter(datacenter: &str) -> Result<&str, Error> {
    if datacenter.is_empty()
        || !datacenter
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(invalid(
            "datacenter",
            datacenter,
            "must be a datacenter id such as IL or US-NY2",
        ));
    }
    Ok(datacenter)
}

/// Checks that `value` has `min..=max` characters.
pub(crate) fn check_length(
    field: &'static str,
    value: &str,
    min: usize,
    max: usize,
) -> Result<(), Error> {
    let len = value.chars().count();
    if (min..=max).contains(&len) {
        Ok(())
    } else {
        Err(invalid(
            field,
            value,
            format!("must be {min} to {max} characters long, got {len}"),
        ))
    }
}

/// Checks a free-text label (a snapshot name, a description): not empty or only spaces,
/// at most `max` characters, no control characters. `what` names it in the reason.
pub(crate) fn check_label(
    field: &'static str,
    text: &str,
    max: usize,
    what: &str,
) -> Result<(), Error> {
    if text.trim().is_empty() {
        return Err(invalid(
            field,
            text,
            format!("{what} must not be empty or only spaces"),
        ));
    }
    check_length(field, text, 1, max)?;
    if text.chars().any(char::is_control) {
        return Err(invalid(
            field,
            text,
            format!("{what} must not contain control characters such as line breaks"),
        ));
    }
    Ok(())
}

/// The API's spelling of a yes/no setting (`dailybackup`, `managed`, …).
pub(crate) fn yes_no(on: bool) -> &'static str {
    if on { "yes" } else { "no" }
}

/// Specs joined the way the API takes lists in one field: separated by spaces.
pub(crate) fn join_wire<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A server name as sent to `POST /service/server`.
///
/// Kamatera accepts 4 to 40 characters of `A-Z a-z 0-9 . _ - ( )`. Names are matched as
/// regular expressions by the API, which is why the selector types escape them.
///
/// ```
/// use kamatera_api::ServerName;
/// let name = ServerName::new("k8s-ng1-3fa9c0d1e2b").unwrap();
/// assert_eq!(name.as_str(), "k8s-ng1-3fa9c0d1e2b");
/// assert!(ServerName::new("has space").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerName(String);

impl ServerName {
    /// Shortest name Kamatera accepts.
    pub const MIN_LEN: usize = 4;
    /// Longest name Kamatera accepts.
    pub const MAX_LEN: usize = 40;

    /// Validates `name`.
    pub fn new(name: impl Into<String>) -> Result<Self, Error> {
        let name = name.into();
        check_length("name", &name, Self::MIN_LEN, Self::MAX_LEN)?;
        if let Some(bad) = name.chars().find(|c| !is_server_name_char(*c)) {
            return Err(invalid(
                "name",
                &name,
                format!("character {bad:?} is not allowed (use A-Z a-z 0-9 . _ - ( ))"),
            ));
        }
        Ok(Self(name))
    }
}

string_newtype!(ServerName, "name", validated);

/// True for characters allowed in a Kamatera server name.
pub fn is_server_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '(' | ')')
}

/// The CPU type letter of a Kamatera server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CpuType {
    /// `A`: availability, a non-dedicated thread.
    A,
    /// `B`: general purpose, a dedicated thread.
    B,
    /// `D`: a dedicated core (two threads).
    D,
    /// `T`: burstable.
    T,
}

impl CpuType {
    /// The letter used on the wire.
    pub fn letter(self) -> char {
        match self {
            CpuType::A => 'A',
            CpuType::B => 'B',
            CpuType::D => 'D',
            CpuType::T => 'T',
        }
    }
}

/// A CPU configuration: a core count and a type, written `<cores><type>` (`2A`, `4D`, `12T`).
///
/// ```
/// use kamatera_api::{Cpu, CpuType};
/// let cpu: Cpu = "12T".parse().unwrap();
/// assert_eq!((cpu.cores(), cpu.cpu_type()), (12, CpuType::T));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cpu {
    cores: u16,
    cpu_type: CpuType,
}

impl Cpu {
    /// A CPU of `cores` cores (at least 1) of `cpu_type`.
    pub fn new(cores: u16, cpu_type: CpuType) -> Result<Self, Error> {
        if cores == 0 {
            return Err(invalid("cpu", "0", "core count must be at least 1"));
        }
        Ok(Self { cores, cpu_type })
    }

    /// Number of cores.
    pub fn cores(&self) -> u16 {
        self.cores
    }

    /// CPU type.
    pub fn cpu_type(&self) -> CpuType {
        self.cpu_type
    }
}

impl fmt::Display for Cpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.cores, self.cpu_type.letter())
    }
}

impl FromStr for Cpu {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const ACCEPTED: &str = "expected <cores><type> with type A, B, D or T, e.g. 2A";
        let mut chars = s.chars();
        let letter = chars
            .next_back()
            .ok_or_else(|| invalid("cpu", s, ACCEPTED))?;
        let cpu_type = match letter.to_ascii_uppercase() {
            'A' => CpuType::A,
            'B' => CpuType::B,
            'D' => CpuType::D,
            'T' => CpuType::T,
            _ => return Err(invalid("cpu", s, ACCEPTED)),
        };
        let digits = chars.as_str();
        // Decimal, unlike a known base-16 bug elsewhere that misreads 10+ cores.
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("cpu", s, ACCEPTED));
        }
        let cores = digits
            .parse::<u16>()
            .map_err(|_| invalid("cpu", s, "core count is too large"))?;
        Cpu::new(cores, cpu_type).map_err(|_| invalid("cpu", s, "core count must be at least 1"))
    }
}

/// A memory size in MB, one of the sizes Kamatera offers ([`RamMb::KNOWN_SIZES`]).
///
/// Which sizes a server can have also depends on its CPU type (see the server options);
/// this type only refuses sizes Kamatera offers for no CPU type at all.
///
/// ```
/// use kamatera_api::RamMb;
/// assert_eq!(RamMb::new(4096).unwrap().mb(), 4096);
/// assert!(RamMb::new(4000).is_err());
/// assert_eq!("2048".parse::<RamMb>().unwrap().to_string(), "2048");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RamMb(u32);

impl RamMb {
    /// Every size Kamatera's price list offers, in MB (types A and B–T alike; the sizes
    /// from 200704 up exist for types B, D and T only).
    pub const KNOWN_SIZES: [u32; 23] = [
        256, 512, 1024, 2048, 3072, 4096, 6144, 8192, 10240, 12288, 16384, 24576, 32768, 49152,
        65536, 98304, 131072, 200704, 262144, 327680, 393216, 458752, 524288,
    ];

    /// Checks that `mb` is one of [`RamMb::KNOWN_SIZES`].
    pub fn new(mb: u32) -> Result<Self, Error> {
        if Self::KNOWN_SIZES.contains(&mb) {
            Ok(Self(mb))
        } else {
            Err(invalid(
                "ram",
                &mb.to_string(),
                "not a memory size Kamatera offers (256, 512, 1024, 2048, 3072, 4096, 6144, \
                 8192, … 524288 MB; see the server options)",
            ))
        }
    }

    /// The size in MB.
    pub fn mb(self) -> u32 {
        self.0
    }
}

impl fmt::Display for RamMb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for RamMb {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mb = s
            .parse::<u32>()
            .map_err(|_| invalid("ram", s, "expected a whole number of MB, e.g. 4096"))?;
        Self::new(mb)
    }
}

/// Splits one cloudcli spec (`key=value,key=value`) into pairs, rejecting anything that
/// the API would reject or that would break the space-joined wire format.
fn parse_pairs<'a>(field: &'static str, spec: &'a str) -> Result<Vec<(&'a str, &'a str)>, Error> {
    if spec.is_empty() {
        return Err(invalid(field, spec, "is empty"));
    }
    if spec.chars().any(char::is_whitespace) {
        return Err(invalid(field, spec, "must not contain spaces"));
    }
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for pair in spec.split(',') {
        let mut parts = pair.split('=');
        let (key, value) = match (parts.next(), parts.next(), parts.next()) {
            (Some(k), Some(v), None) if !k.is_empty() => (k, v),
            _ => {
                return Err(invalid(
                    field,
                    spec,
                    format!("{pair:?} is not a key=value pair"),
                ));
            }
        };
        // `size=10,size=20` is ambiguous: refuse it rather than guess.
        if pairs.iter().any(|(seen, _)| *seen == key) {
            return Err(invalid(field, spec, format!("key {key:?} is given twice")));
        }
        pairs.push((key, value));
    }
    Ok(pairs)
}

fn parse_slot(field: &'static str, spec: &str, value: &str) -> Result<u8, Error> {
    match value.parse::<u8>() {
        Ok(slot) if usize::from(slot) < MAX_SLOTS => Ok(slot),
        _ => Err(invalid(
            field,
            spec,
            format!("id must be a slot number from 0 to {}", MAX_SLOTS - 1),
        )),
    }
}

/// One disk of a server, in cloudcli `--disk` syntax: `size=100` or `id=1,size=200`.
///
/// ```
/// use kamatera_api::DiskSpec;
/// let disk: DiskSpec = "id=1,size=200".parse().unwrap();
/// assert_eq!((disk.slot(), disk.size_gb()), (Some(1), 200));
/// assert_eq!(disk.to_string(), "id=1,size=200");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DiskSpec {
    slot: Option<u8>,
    size_gb: u32,
}

impl DiskSpec {
    /// A disk of `size_gb` GB in the next free slot.
    pub fn new(size_gb: u32) -> Result<Self, Error> {
        if size_gb == 0 {
            return Err(invalid("disk", "size=0", "size must be at least 1 GB"));
        }
        Ok(Self {
            slot: None,
            size_gb,
        })
    }

    /// Puts the disk in slot `slot` (0 is the OS disk; at most 3).
    pub fn in_slot(mut self, slot: u8) -> Result<Self, Error> {
        if usize::from(slot) >= MAX_SLOTS {
            return Err(invalid(
                "disk",
                &self.to_string(),
                format!("id must be a slot number from 0 to {}", MAX_SLOTS - 1),
            ));
        }
        self.slot = Some(slot);
        Ok(self)
    }

    /// The explicit slot, if any.
    pub fn slot(&self) -> Option<u8> {
        self.slot
    }

    /// Size in GB.
    pub fn size_gb(&self) -> u32 {
        self.size_gb
    }
}

impl fmt::Display for DiskSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(slot) = self.slot {
            write!(f, "id={slot},")?;
        }
        write!(f, "size={}", self.size_gb)
    }
}

impl FromStr for DiskSpec {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut slot = None;
        let mut size = None;
        for (key, value) in parse_pairs("disk", s)? {
            match key {
                "id" => slot = Some(parse_slot("disk", s, value)?),
                "size" => {
                    let gb = value
                        .parse::<u32>()
                        .ok()
                        .filter(|gb| *gb > 0)
                        .ok_or_else(|| {
                            invalid(
                                "disk",
                                s,
                                "size must be a whole number of GB, e.g. size=100",
                            )
                        })?;
                    size = Some(gb);
                }
                other => {
                    return Err(invalid(
                        "disk",
                        s,
                        format!("unknown key {other:?} (accepted: id, size)"),
                    ));
                }
            }
        }
        let size_gb = size.ok_or_else(|| invalid("disk", s, "size is required, e.g. size=100"))?;
        Ok(Self { slot, size_gb })
    }
}

/// One network interface of a server, in cloudcli `--network` syntax:
/// `name=wan,ip=auto` or `id=1,name=lan-12345-private,ip=172.16.0.10`.
///
/// ```
/// use kamatera_api::NetworkSpec;
/// let net: NetworkSpec = "name=wan,ip=auto".parse().unwrap();
/// assert_eq!(net.name(), "wan");
/// assert_eq!(net.to_string(), "name=wan,ip=auto");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NetworkSpec {
    slot: Option<u8>,
    name: String,
    ip: Option<String>,
}

impl NetworkSpec {
    /// The public interface with an automatically assigned address.
    pub fn wan() -> Self {
        Self {
            slot: None,
            name: "wan".to_owned(),
            ip: Some("auto".to_owned()),
        }
    }

    /// An interface on network `name` (`wan`, or a full LAN name such as
    /// `lan-12345-private`) with an automatically assigned address.
    pub fn named(name: impl Into<String>) -> Result<Self, Error> {
        let name = name.into();
        check_network_value(&name, "name")?;
        Ok(Self {
            slot: None,
            name,
            ip: Some("auto".to_owned()),
        })
    }

    /// Sets the address (`auto` or a specific IP in the network's subnet).
    pub fn with_ip(mut self, ip: impl Into<String>) -> Result<Self, Error> {
        let ip = ip.into();
        check_network_value(&ip, "ip")?;
        self.ip = Some(ip);
        Ok(self)
    }

    /// Puts the interface in slot `slot` (at most 3).
    pub fn in_slot(mut self, slot: u8) -> Result<Self, Error> {
        if usize::from(slot) >= MAX_SLOTS {
            return Err(invalid(
                "network",
                &self.to_string(),
                format!("id must be a slot number from 0 to {}", MAX_SLOTS - 1),
            ));
        }
        self.slot = Some(slot);
        Ok(self)
    }

    /// The explicit slot, if any.
    pub fn slot(&self) -> Option<u8> {
        self.slot
    }

    /// Network name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Requested address, if given.
    pub fn ip(&self) -> Option<&str> {
        self.ip.as_deref()
    }
}

fn check_network_value(value: &str, key: &str) -> Result<(), Error> {
    if value.is_empty() || value.contains([',', '=']) || value.chars().any(char::is_whitespace) {
        return Err(invalid(
            "network",
            value,
            format!("{key} must be non-empty without spaces, commas or '='"),
        ));
    }
    Ok(())
}

impl fmt::Display for NetworkSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(slot) = self.slot {
            write!(f, "id={slot},")?;
        }
        write!(f, "name={}", self.name)?;
        if let Some(ip) = &self.ip {
            write!(f, ",ip={ip}")?;
        }
        Ok(())
    }
}

impl FromStr for NetworkSpec {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut slot = None;
        let mut name = None;
        let mut ip = None;
        for (key, value) in parse_pairs("network", s)? {
            match key {
                "id" => slot = Some(parse_slot("network", s, value)?),
                "name" if !value.is_empty() => name = Some(value.to_owned()),
                "ip" if !value.is_empty() => ip = Some(value.to_owned()),
                "name" | "ip" => {
                    return Err(invalid("network", s, format!("{key} must not be empty")));
                }
                other => {
                    return Err(invalid(
                        "network",
                        s,
                        format!("unknown key {other:?} (accepted: id, name, ip)"),
                    ));
                }
            }
        }
        let name = name.ok_or_else(|| {
            invalid(
                "network",
                s,
                "name is required (wan or a full LAN name), e.g. name=wan,ip=auto",
            )
        })?;
        Ok(Self { slot, name, ip })
    }
}

/// Checks that at most [`MAX_SLOTS`] specs are given and explicit slots are unique,
/// mirroring the API's `invalid item ids` / `duplicate item id` errors.
pub(crate) fn check_slots(
    field: &'static str,
    specs: impl ExactSizeIterator<Item = (Option<u8>, String)>,
) -> Result<(), Error> {
    let count = specs.len();
    let mut used = [false; MAX_SLOTS];
    let mut joined = Vec::with_capacity(count);
    for (slot, text) in specs {
        if let Some(slot) = slot {
            let taken = &mut used[usize::from(slot)];
            if *taken {
                return Err(invalid(
                    field,
                    &text,
                    format!("slot id {slot} is used twice"),
                ));
            }
            *taken = true;
        }
        joined.push(text);
    }
    if count > MAX_SLOTS {
        return Err(invalid(
            field,
            &joined.join(" "),
            format!("at most {MAX_SLOTS} are allowed, got {count}"),
        ));
    }
    Ok(())
}

/// A Kamatera server tag: 3 to 24 characters of `A-Z a-z 0-9 - _ .`.
///
/// Tags are sent space-separated in create requests, so unlike the API's own check a tag
/// here may not contain whitespace.
///
/// ```
/// use kamatera_api::Tag;
/// assert!(Tag::new("k8sca-mycluster").is_ok());
/// assert!(Tag::new("ab").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

impl Tag {
    /// Shortest tag Kamatera accepts.
    pub const MIN_LEN: usize = 3;
    /// Longest tag Kamatera accepts.
    pub const MAX_LEN: usize = 24;

    /// Validates `tag`.
    pub fn new(tag: impl Into<String>) -> Result<Self, Error> {
        let tag = tag.into();
        check_length("tag", &tag, Self::MIN_LEN, Self::MAX_LEN)?;
        if let Some(bad) = tag
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(invalid(
                "tag",
                &tag,
                format!("character {bad:?} is not allowed (use A-Z a-z 0-9 - _ .)"),
            ));
        }
        Ok(Self(tag))
    }

    /// A tag as read back from the API, which is taken as it is: tags made elsewhere
    /// (for example in the console) need not follow the rules above.
    pub(crate) fn from_api(tag: String) -> Self {
        Self(tag)
    }
}

string_newtype!(Tag, "tag", validated);

/// How a server is billed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum BillingCycle {
    /// Billed by the hour (the API's default).
    #[default]
    Hourly,
    /// Billed by the month with a traffic package such as `t5000` or `b50`.
    Monthly {
        /// Traffic package code.
        traffic_package: String,
    },
}

impl BillingCycle {
    /// Monthly billing with `traffic_package` (e.g. `t5000`).
    pub fn monthly(traffic_package: impl Into<String>) -> Result<Self, Error> {
        let traffic_package = traffic_package.into();
        check_traffic_package(&traffic_package)?;
        Ok(Self::Monthly { traffic_package })
    }

    /// Checks the cycle again (a `Monthly` value can be built without
    /// [`BillingCycle::monthly`], its field being public) before it is sent.
    pub(crate) fn checked(&self) -> Result<&Self, Error> {
        if let BillingCycle::Monthly { traffic_package } = self {
            check_traffic_package(traffic_package)?;
        }
        Ok(self)
    }

    /// The fields of a call that changes the cycle (configure, clone): `billingcycle`, and
    /// `monthlypackage` only when monthly (configure refuses any package with hourly).
    pub(crate) fn change_fields(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut fields = serde_json::Map::new();
        fields.insert("billingcycle".into(), self.as_wire().into());
        if let BillingCycle::Monthly { traffic_package } = self {
            fields.insert("monthlypackage".into(), traffic_package.as_str().into());
        }
        fields
    }

    /// The `monthlypackage` value on the wire: the package, empty when hourly.
    pub(crate) fn wire_package(&self) -> &str {
        match self {
            BillingCycle::Hourly => "",
            BillingCycle::Monthly { traffic_package } => traffic_package,
        }
    }

    /// The `billingcycle` value on the wire.
    pub fn as_wire(&self) -> &'static str {
        match self {
            BillingCycle::Hourly => "hourly",
            BillingCycle::Monthly { .. } => "monthly",
        }
    }
}

fn check_traffic_package(traffic_package: &str) -> Result<(), Error> {
    if traffic_package.is_empty() || !traffic_package.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(invalid(
            "monthlypackage",
            traffic_package,
            "must be a traffic package code such as t5000 or b50",
        ));
    }
    Ok(())
}

/// The root password of a new server.
#[derive(Clone)]
pub enum Password {
    /// Let Kamatera generate one; it is returned once, in the create response.
    Generate,
    /// Use this password (10–20 characters with an upper-case letter, a lower-case letter
    /// and a digit, from `a-z A-Z 0-9 ! @ # $ ^ & * ( ) ~`).
    Set(SecretString),
}

impl Password {
    /// Validates an explicit password against Kamatera's documented rules.
    pub fn set(password: SecretString) -> Result<Self, Error> {
        Ok(ChosenPassword::new(password)?.into())
    }

    /// The `password` value of a create or clone body: the password itself, the API's
    /// `__generate__` request, or nothing when an SSH key stands in for it (the API then
    /// makes one up and discards it).
    pub(crate) fn to_wire(&self, with_ssh_key: bool) -> String {
        match (self, with_ssh_key) {
            (Password::Set(secret), _) => secret.expose_secret().to_owned(),
            (Password::Generate, true) => String::new(),
            (Password::Generate, false) => "__generate__".to_owned(),
        }
    }
}

/// A root password chosen by the caller and checked against Kamatera's rule: 10 to 20
/// characters from `a-z A-Z 0-9 ! @ # $ ^ & * ( ) ~`, with an upper-case letter, a
/// lower-case letter and a digit. For calls where the API cannot generate one, such as
/// [`Client::reset_password`](crate::Client::reset_password).
///
/// ```
/// use kamatera_api::ChosenPassword;
/// assert!(ChosenPassword::new("Abcdefgh12".to_owned().into()).is_ok());
/// assert!(ChosenPassword::new("too-short".to_owned().into()).is_err());
/// ```
#[derive(Clone)]
pub struct ChosenPassword(SecretString);

impl ChosenPassword {
    /// Validates `password`; the error never contains it.
    pub fn new(password: SecretString) -> Result<Self, Error> {
        let text = password.expose_secret();
        let len = text.chars().count();
        let allowed = |c: char| c.is_ascii_alphanumeric() || "!@#$^&*()~".contains(c);
        // The value itself is never put in the error: it is a secret.
        let problem = if !(10..=20).contains(&len) {
            Some("must be 10 to 20 characters long")
        } else if !text.chars().all(allowed) {
            Some("may only use a-z A-Z 0-9 ! @ # $ ^ & * ( ) ~")
        } else if !(text.chars().any(|c| c.is_ascii_uppercase())
            && text.chars().any(|c| c.is_ascii_lowercase())
            && text.chars().any(|c| c.is_ascii_digit()))
        {
            Some("needs an upper-case letter, a lower-case letter and a digit")
        } else {
            None
        };
        match problem {
            Some(reason) => Err(invalid("password", "<redacted>", reason)),
            None => Ok(Self(password)),
        }
    }

    /// The password in clear text, for the request body only.
    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl From<ChosenPassword> for Password {
    fn from(password: ChosenPassword) -> Self {
        Password::Set(password.0)
    }
}

impl fmt::Debug for ChosenPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChosenPassword(<redacted>)")
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Password::Generate => f.write_str("Generate"),
            Password::Set(_) => f.write_str("Set(<redacted>)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_parses_decimal_cores_and_all_types() {
        for (text, cores, ty) in [
            ("1A", 1, CpuType::A),
            ("2B", 2, CpuType::B),
            ("16D", 16, CpuType::D),
            ("104T", 104, CpuType::T),
        ] {
            let cpu: Cpu = text.parse().unwrap();
            assert_eq!((cpu.cores(), cpu.cpu_type()), (cores, ty), "{text}");
            assert_eq!(cpu.to_string(), text);
        }
        for bad in ["", "A", "2", "2X", "0A", "-1A", "1.5A", "2AA", "99999999A"] {
            assert!(bad.parse::<Cpu>().is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn disk_spec_round_trips_and_rejects_bad_grammar() {
        assert_eq!(
            "size=100".parse::<DiskSpec>().unwrap().to_string(),
            "size=100"
        );
        assert_eq!(
            "size=20,id=3".parse::<DiskSpec>().unwrap().to_string(),
            "id=3,size=20"
        );
        for bad in [
            "",
            "size",
            "size=",
            "size=abc",
            "size=0",
            "id=4,size=10",
            "id=0",
            "size=10,foo=1",
            "size=10 size=20",
            "size=1=2",
            ",size=10",
        ] {
            assert!(
                bad.parse::<DiskSpec>().is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn network_spec_requires_name() {
        let net: NetworkSpec = "id=1,name=lan-1-x,ip=172.16.0.10".parse().unwrap();
        assert_eq!(net.slot(), Some(1));
        assert_eq!(net.ip(), Some("172.16.0.10"));
        assert_eq!(net.to_string(), "id=1,name=lan-1-x,ip=172.16.0.10");
        for bad in [
            "ip=auto",
            "name=",
            "name=wan,mode=x",
            "name=wan ip=auto",
            "id=9,name=wan",
        ] {
            assert!(
                bad.parse::<NetworkSpec>().is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn slots_must_be_unique_and_at_most_four() {
        let disks = |specs: &[&str]| {
            let parsed: Vec<DiskSpec> = specs.iter().map(|s| s.parse().unwrap()).collect();
            check_slots("disk", parsed.iter().map(|d| (d.slot(), d.to_string())))
        };
        assert!(disks(&["id=3,size=20", "size=10", "id=0,size=30", "id=1,size=60"]).is_ok());
        assert!(disks(&["id=0,size=20", "id=0,size=10"]).is_err());
        assert!(disks(&["size=1", "size=2", "size=3", "size=4", "size=5"]).is_err());
    }

    #[test]
    fn tags_follow_kamatera_limits() {
        assert!(Tag::new("k8scang-abcdefghijklmno").is_ok());
        for bad in [
            "ab",
            "a b c",
            "tag/slash",
            "x".repeat(25).as_str(),
            "tab\tx",
        ] {
            assert!(Tag::new(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn server_names_are_checked() {
        assert!(ServerName::new("abcd").is_ok());
        assert!(ServerName::new("a(b)_c.d-e").is_ok());
        for bad in ["abc", "has space", "a/bcd", &"x".repeat(41)] {
            assert!(ServerName::new(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn passwords_are_checked_without_echoing_them() {
        assert!(Password::set("Abcdefgh12".to_owned().into()).is_ok());
        for bad in [
            "short1A",
            "alllowercase123",
            "ALLUPPER123",
            "NoDigitsHere",
            "Bad space1A",
        ] {
            let err = Password::set(bad.to_owned().into()).unwrap_err();
            assert!(!err.to_string().contains(bad), "secret leaked in {err}");
        }
    }

    #[test]
    fn ram_sizes_are_the_known_ones() {
        for mb in RamMb::KNOWN_SIZES {
            assert_eq!(RamMb::new(mb).unwrap().mb(), mb);
        }
        for bad in [0, 1, 100, 1000, 4095, 600_000] {
            let err = RamMb::new(bad).unwrap_err();
            assert!(err.to_string().contains("invalid ram"), "{err}");
        }
        assert!("4k".parse::<RamMb>().is_err());
        assert!("-1".parse::<RamMb>().is_err());
    }

    #[test]
    fn chosen_passwords_follow_the_create_rule_and_stay_hidden() {
        let chosen = ChosenPassword::new("Abcdefgh12".to_owned().into()).unwrap();
        assert_eq!(chosen.expose(), "Abcdefgh12");
        assert!(!format!("{chosen:?}").contains("Abcdefgh12"));
        assert!(matches!(Password::from(chosen), Password::Set(_)));
        assert!(ChosenPassword::new("abcdefgh12".to_owned().into()).is_err());
    }

    #[test]
    fn passwords_on_the_wire() {
        let set = Password::set("Abcdefgh12".to_owned().into()).unwrap();
        assert_eq!(set.to_wire(true), "Abcdefgh12");
        assert_eq!(Password::Generate.to_wire(false), "__generate__");
        assert_eq!(Password::Generate.to_wire(true), "");
    }

    #[test]
    fn a_hand_built_monthly_cycle_is_checked_again() {
        let bad = BillingCycle::Monthly {
            traffic_package: "t 5000".into(),
        };
        assert!(bad.checked().is_err());
        let good = BillingCycle::monthly("b50").unwrap();
        assert_eq!(good.checked().unwrap().wire_package(), "b50");
        assert_eq!(BillingCycle::Hourly.wire_package(), "");
    }

    #[test]
    fn monthly_billing_needs_a_package_code() {
        assert_eq!(BillingCycle::monthly("t5000").unwrap().as_wire(), "monthly");
        assert!(BillingCycle::monthly("").is_err());
        assert!(BillingCycle::monthly("t 5000").is_err());
    }
}
