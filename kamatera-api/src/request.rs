//! Request types: which servers a call acts on, and the create-server request.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use crate::error::Error;
use crate::model::ServerId;
use crate::spec::{
    BillingCycle, Cpu, DiskSpec, NetworkSpec, Password, ServerName, Tag, check_slots, join_wire,
    yes_no,
};

/// Which servers a call acts on.
///
/// The API matches `name` as a regular expression anchored at both ends, so a plain name
/// containing `.` would also match other servers. [`ServerSelector::name`] escapes the name
/// so that it matches exactly that name; use [`ServerSelector::name_pattern`] only when a
/// pattern is really wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerSelector {
    /// The server with this id (never ambiguous).
    Id(ServerId),
    /// Servers with exactly this name (Kamatera does not enforce unique names).
    Name(String),
    /// Servers whose name fully matches this regular expression.
    NamePattern(String),
}

impl ServerSelector {
    /// Selects by id.
    pub fn id(id: ServerId) -> Self {
        ServerSelector::Id(id)
    }

    /// Selects by exact name.
    pub fn name(name: impl Into<String>) -> Self {
        ServerSelector::Name(name.into())
    }

    /// Selects by a regular expression that must match the whole name.
    pub fn name_pattern(pattern: impl Into<String>) -> Self {
        ServerSelector::NamePattern(pattern.into())
    }

    /// The JSON fields that select the servers (`{"id": …}` or `{"name": …}`).
    pub(crate) fn to_fields(&self) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
        let (key, value) = match self {
            ServerSelector::Id(id) if id.as_str().is_empty() => {
                return Err(Error::InvalidRequest {
                    field: "id",
                    value: String::new(),
                    reason: "server id must not be empty".into(),
                });
            }
            ServerSelector::Id(id) => ("id", id.as_str().to_owned()),
            ServerSelector::Name(name) if name.is_empty() => {
                return Err(Error::InvalidRequest {
                    field: "name",
                    value: String::new(),
                    reason: "server name must not be empty".into(),
                });
            }
            ServerSelector::Name(name) => ("name", escape_name(name)),
            ServerSelector::NamePattern(pattern) => {
                regex::Regex::new(pattern).map_err(|e| Error::InvalidRequest {
                    field: "name",
                    value: pattern.clone(),
                    reason: format!("not a valid regular expression: {e}"),
                })?;
                if pattern.is_empty() {
                    return Err(Error::InvalidRequest {
                        field: "name",
                        value: String::new(),
                        reason: "name pattern must not be empty".into(),
                    });
                }
                ("name", pattern.clone())
            }
        };
        let mut fields = serde_json::Map::new();
        fields.insert(key.to_owned(), serde_json::Value::String(value));
        Ok(fields)
    }

    /// True when the selection can match at most one server.
    pub(crate) fn is_single(&self) -> bool {
        matches!(self, ServerSelector::Id(_))
    }

    /// The selecting fields of a call the API restricts to exactly one server. A pattern
    /// is refused before anything is sent: it says "any servers like this", which such a
    /// call cannot take (the API would answer "Too many matching servers" or act on
    /// whichever one server happens to match).
    pub(crate) fn to_single_fields(
        &self,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
        if let ServerSelector::NamePattern(pattern) = self {
            return Err(Error::InvalidRequest {
                field: "name",
                value: pattern.clone(),
                reason: "this call acts on exactly one server: select it by id or by exact \
                         name, not by a pattern"
                    .into(),
            });
        }
        self.to_fields()
    }
}

impl From<ServerId> for ServerSelector {
    fn from(id: ServerId) -> Self {
        ServerSelector::Id(id)
    }
}

impl fmt::Display for ServerSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerSelector::Id(id) => write!(f, "id={id}"),
            ServerSelector::Name(name) => write!(f, "name={name}"),
            ServerSelector::NamePattern(pattern) => write!(f, "name=~{pattern}"),
        }
    }
}

/// Escapes the characters that are special in the API's PCRE name match (and the `/`
/// delimiter it wraps the pattern in), leaving ordinary names such as `k8s-ng1-0a1b` as
/// they are.
fn escape_name(name: &str) -> String {
    let mut escaped = String::with_capacity(name.len());
    for c in name.chars() {
        if "\\.+*?()|[]{}^$/".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// A validated request to create one server (`POST /service/server`).
///
/// Built with [`CreateServerRequest::builder`]; every field is checked by
/// [`CreateServerRequestBuilder::build`] before anything is sent. Secrets (password, init
/// script, user data) are kept as [`SecretString`] and left out of `Debug`.
///
/// ```
/// use kamatera_api::{CreateServerRequest, DiskSpec, NetworkSpec, Tag};
/// # fn main() -> Result<(), kamatera_api::Error> {
/// let request = CreateServerRequest::builder("k8s-ng1-3fa9c0d1e2b", "IL", "ubuntu_server_24.04_64-bit")
///     .cpu("2A".parse()?)
///     .ram_mb(4096)
///     .disk(DiskSpec::new(100)?)
///     .network(NetworkSpec::wan())
///     .tag(Tag::new("k8sca-prod")?)
///     .build()?;
/// assert_eq!(request.name().as_str(), "k8s-ng1-3fa9c0d1e2b");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct CreateServerRequest {
    name: ServerName,
    datacenter: String,
    image: String,
    cpu: Cpu,
    ram_mb: u32,
    disks: Vec<DiskSpec>,
    networks: Vec<NetworkSpec>,
    daily_backup: bool,
    managed: bool,
    billing: BillingCycle,
    password: Password,
    ssh_key: Option<String>,
    power_on_after_create: bool,
    script: Option<SecretString>,
    user_data: Option<SecretString>,
    tags: Vec<Tag>,
}

impl CreateServerRequest {
    /// Starts a request for a server named `name` in `datacenter` from `image` (an image
    /// id such as `IL:6000C29…` or an image description such as
    /// `ubuntu_server_24.04_64-bit`).
    ///
    /// Defaults: 1 B-type core, 1024 MB, one 20 GB disk, one public network, hourly
    /// billing, no backup, not managed, powered on after creation, and a generated
    /// password unless an SSH key is given.
    pub fn builder(
        name: impl Into<String>,
        datacenter: impl Into<String>,
        image: impl Into<String>,
    ) -> CreateServerRequestBuilder {
        CreateServerRequestBuilder {
            name: name.into(),
            datacenter: datacenter.into(),
            image: image.into(),
            cpu: None,
            ram_mb: 1024,
            disks: Vec::new(),
            networks: Vec::new(),
            daily_backup: false,
            managed: false,
            billing: BillingCycle::Hourly,
            password: None,
            ssh_key: None,
            power_on_after_create: true,
            script: None,
            user_data: None,
            tags: Vec::new(),
        }
    }

    /// Requested server name.
    pub fn name(&self) -> &ServerName {
        &self.name
    }

    /// Datacenter id.
    pub fn datacenter(&self) -> &str {
        &self.datacenter
    }

    /// Tags the server is created with.
    pub fn tags(&self) -> &[Tag] {
        &self.tags
    }

    /// True when the API will generate the root password and return it once.
    pub fn generates_password(&self) -> bool {
        matches!(self.password, Password::Generate) && self.ssh_key.is_none()
    }

    /// The exact JSON body sent to the API. It contains the secrets in clear text: never
    /// log it.
    pub fn to_wire_body(&self) -> serde_json::Value {
        let password = self.password.to_wire(self.ssh_key.is_some());
        let disks = if self.disks.is_empty() {
            DiskSpec::new(20).map(|d| d.to_string()).unwrap_or_default()
        } else {
            join_wire(&self.disks)
        };
        let networks = if self.networks.is_empty() {
            NetworkSpec::wan().to_string()
        } else {
            join_wire(&self.networks)
        };
        let wire = WireCreate {
            name: self.name.as_str(),
            password_validate: &password,
            password: &password,
            ssh_key: self.ssh_key.as_deref().unwrap_or(""),
            datacenter: &self.datacenter,
            image: &self.image,
            cpu: self.cpu.to_string(),
            ram: self.ram_mb.to_string(),
            disk: disks,
            dailybackup: yes_no(self.daily_backup),
            managed: yes_no(self.managed),
            network: networks,
            quantity: 1,
            billingcycle: self.billing.as_wire(),
            monthlypackage: self.billing.wire_package(),
            poweronaftercreate: yes_no(self.power_on_after_create),
            script_file: self.script.as_ref().map_or("", |s| s.expose_secret()),
            userdata_file: self.user_data.as_ref().map_or("", |s| s.expose_secret()),
            tag: join_wire(&self.tags),
        };
        serde_json::to_value(&wire).unwrap_or(serde_json::Value::Null)
    }
}

impl fmt::Debug for CreateServerRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateServerRequest")
            .field("name", &self.name)
            .field("datacenter", &self.datacenter)
            .field("image", &self.image)
            .field("cpu", &self.cpu.to_string())
            .field("ram_mb", &self.ram_mb)
            .field("disks", &self.disks)
            .field("networks", &self.networks)
            .field("daily_backup", &self.daily_backup)
            .field("managed", &self.managed)
            .field("billing", &self.billing)
            .field("password", &self.password)
            .field("ssh_key_set", &self.ssh_key.is_some())
            .field("power_on_after_create", &self.power_on_after_create)
            .field("script_set", &self.script.is_some())
            .field("user_data_set", &self.user_data.is_some())
            .field("tags", &self.tags)
            .finish()
    }
}

/// The body of `POST /service/server`, with the API's exact (case-sensitive) keys.
#[derive(Serialize)]
struct WireCreate<'a> {
    name: &'a str,
    password: &'a str,
    #[serde(rename = "passwordValidate")]
    password_validate: &'a str,
    #[serde(rename = "ssh-key")]
    ssh_key: &'a str,
    datacenter: &'a str,
    image: &'a str,
    cpu: String,
    ram: String,
    disk: String,
    dailybackup: &'static str,
    managed: &'static str,
    network: String,
    quantity: u8,
    // Lower-case on purpose: the API ignores `billingCycle` and silently bills hourly.
    billingcycle: &'static str,
    monthlypackage: &'a str,
    poweronaftercreate: &'static str,
    #[serde(rename = "script-file")]
    script_file: &'a str,
    #[serde(rename = "userdata-file")]
    userdata_file: &'a str,
    tag: String,
}

/// Builder for [`CreateServerRequest`].
#[must_use]
pub struct CreateServerRequestBuilder {
    name: String,
    datacenter: String,
    image: String,
    cpu: Option<Cpu>,
    ram_mb: u32,
    disks: Vec<DiskSpec>,
    networks: Vec<NetworkSpec>,
    daily_backup: bool,
    managed: bool,
    billing: BillingCycle,
    password: Option<Password>,
    ssh_key: Option<String>,
    power_on_after_create: bool,
    script: Option<SecretString>,
    user_data: Option<SecretString>,
    tags: Vec<Tag>,
}

impl CreateServerRequestBuilder {
    /// CPU (default `1B`).
    pub fn cpu(mut self, cpu: Cpu) -> Self {
        self.cpu = Some(cpu);
        self
    }

    /// Memory in MB (default 1024).
    pub fn ram_mb(mut self, ram_mb: u32) -> Self {
        self.ram_mb = ram_mb;
        self
    }

    /// Adds a disk; the first one is the OS disk. At most 4. Default: one 20 GB disk.
    pub fn disk(mut self, disk: DiskSpec) -> Self {
        self.disks.push(disk);
        self
    }

    /// Adds several disks.
    pub fn disks(mut self, disks: impl IntoIterator<Item = DiskSpec>) -> Self {
        self.disks.extend(disks);
        self
    }

    /// Adds a network interface. At most 4. Default: one public (`wan`) interface.
    pub fn network(mut self, network: NetworkSpec) -> Self {
        self.networks.push(network);
        self
    }

    /// Adds several network interfaces.
    pub fn networks(mut self, networks: impl IntoIterator<Item = NetworkSpec>) -> Self {
        self.networks.extend(networks);
        self
    }

    /// Daily backup (default off).
    pub fn daily_backup(mut self, on: bool) -> Self {
        self.daily_backup = on;
        self
    }

    /// Managed services (default off).
    pub fn managed(mut self, on: bool) -> Self {
        self.managed = on;
        self
    }

    /// Billing cycle (default hourly).
    pub fn billing(mut self, billing: BillingCycle) -> Self {
        self.billing = billing;
        self
    }

    /// Root password. Default: generated by the API, unless an SSH key is set.
    pub fn password(mut self, password: Password) -> Self {
        self.password = Some(password);
        self
    }

    /// SSH public key (the key's contents, e.g. `ssh-ed25519 AAAA… user@host`).
    pub fn ssh_key(mut self, key: impl Into<String>) -> Self {
        self.ssh_key = Some(key.into());
        self
    }

    /// Whether to start the server once created (default yes).
    pub fn power_on_after_create(mut self, on: bool) -> Self {
        self.power_on_after_create = on;
        self
    }

    /// Initialisation script run on first boot (bash on Linux). Often holds join tokens,
    /// hence a secret.
    pub fn script(mut self, script: SecretString) -> Self {
        self.script = Some(script);
        self
    }

    /// User-data text handed to the new server's first boot (`userdata-file`), separate
    /// from the init [`script`](Self::script). Kept secret: it often carries credentials.
    pub fn user_data(mut self, user_data: SecretString) -> Self {
        self.user_data = Some(user_data);
        self
    }

    /// Adds a tag to put on the new server (created in the account if it does not exist
    /// yet); tags are how servers are found and grouped later.
    pub fn tag(mut self, tag: Tag) -> Self {
        self.tags.push(tag);
        self
    }

    /// Adds several tags.
    pub fn tags(mut self, tags: impl IntoIterator<Item = Tag>) -> Self {
        self.tags.extend(tags);
        self
    }

    /// Checks every field and returns the request.
    pub fn build(self) -> Result<CreateServerRequest, Error> {
        let name = ServerName::new(self.name)?;
        check_plain("datacenter", &self.datacenter)?;
        check_plain("image", &self.image)?;
        if self.ram_mb == 0 {
            return Err(Error::InvalidRequest {
                field: "ram",
                value: "0".into(),
                reason: "memory must be at least 1 MB (Kamatera sizes start at 256)".into(),
            });
        }
        check_slots("disk", self.disks.iter().map(|d| (d.slot(), d.to_string())))?;
        check_slots(
            "network",
            self.networks.iter().map(|n| (n.slot(), n.to_string())),
        )?;
        if let Some(key) = &self.ssh_key
            && key.trim().is_empty()
        {
            return Err(Error::InvalidRequest {
                field: "ssh-key",
                value: key.clone(),
                reason: "must not be empty when given".into(),
            });
        }
        let mut tags = self.tags;
        tags.dedup();
        let cpu = match self.cpu {
            Some(cpu) => cpu,
            None => Cpu::new(1, crate::spec::CpuType::B)?,
        };
        Ok(CreateServerRequest {
            name,
            datacenter: self.datacenter,
            image: self.image,
            cpu,
            ram_mb: self.ram_mb,
            disks: self.disks,
            networks: self.networks,
            daily_backup: self.daily_backup,
            managed: self.managed,
            billing: self.billing,
            password: self.password.unwrap_or(Password::Generate),
            ssh_key: self.ssh_key,
            power_on_after_create: self.power_on_after_create,
            script: self.script,
            user_data: self.user_data,
            tags,
        })
    }
}

fn check_plain(field: &'static str, value: &str) -> Result<(), Error> {
    if value.is_empty() || value.chars().any(char::is_whitespace) {
        return Err(Error::InvalidRequest {
            field,
            value: value.to_owned(),
            reason: "must be non-empty without spaces".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> CreateServerRequestBuilder {
        CreateServerRequest::builder("k8s-ng1-3fa9c0d1e2b", "IL", "ubuntu_server_24.04_64-bit")
    }

    #[test]
    fn wire_body_uses_exact_keys_and_values() {
        let request = base()
            .cpu("2A".parse().unwrap())
            .ram_mb(4096)
            .disk("size=100".parse().unwrap())
            .disk("size=200".parse().unwrap())
            .network(NetworkSpec::wan())
            .billing(BillingCycle::monthly("t5000").unwrap())
            .daily_backup(true)
            .script(SecretString::from("#!/bin/bash\necho hi"))
            .tag(Tag::new("k8sca-c1").unwrap())
            .tag(Tag::new("k8scang-ng1").unwrap())
            .build()
            .unwrap();
        let body = request.to_wire_body();
        assert_eq!(
            body,
            serde_json::json!({
                "name": "k8s-ng1-3fa9c0d1e2b", "password": "__generate__",
                "passwordValidate": "__generate__", "ssh-key": "", "datacenter": "IL",
                "image": "ubuntu_server_24.04_64-bit", "cpu": "2A", "ram": "4096",
                "disk": "size=100 size=200", "dailybackup": "yes", "managed": "no",
                "network": "name=wan,ip=auto", "quantity": 1, "billingcycle": "monthly",
                "monthlypackage": "t5000", "poweronaftercreate": "yes",
                "script-file": "#!/bin/bash\necho hi", "userdata-file": "",
                "tag": "k8sca-c1 k8scang-ng1"
            })
        );
    }

    #[test]
    fn defaults_match_the_api_defaults() {
        let body = base()
            .ssh_key("ssh-ed25519 AAAA")
            .build()
            .unwrap()
            .to_wire_body();
        assert_eq!(body["cpu"], "1B");
        assert_eq!(body["ram"], "1024");
        assert_eq!(body["disk"], "size=20");
        assert_eq!(body["network"], "name=wan,ip=auto");
        assert_eq!(body["billingcycle"], "hourly");
        assert_eq!(body["password"], "");
        assert_eq!(body["ssh-key"], "ssh-ed25519 AAAA");
    }

    #[test]
    fn build_rejects_bad_fields_before_sending() {
        assert!(
            CreateServerRequest::builder("ab", "IL", "img")
                .build()
                .is_err()
        );
        assert!(
            CreateServerRequest::builder("abcd", "", "img")
                .build()
                .is_err()
        );
        assert!(
            CreateServerRequest::builder("abcd", "IL", "a b")
                .build()
                .is_err()
        );
        let five = (0..5).map(|_| DiskSpec::new(10).unwrap());
        assert!(base().disks(five).build().is_err());
        let dup = [
            "id=1,size=10".parse().unwrap(),
            "id=1,size=20".parse().unwrap(),
        ];
        assert!(base().disks(dup).build().is_err());
        assert!(base().ram_mb(0).build().is_err());
        assert!(base().ssh_key(" ").build().is_err());
    }

    #[test]
    fn debug_output_hides_secrets() {
        let request = base()
            .password(Password::set(SecretString::from("TopSecret123")).unwrap())
            .script(SecretString::from("join-token-xyz"))
            .build()
            .unwrap();
        let debug = format!("{request:?}");
        assert!(!debug.contains("TopSecret123") && !debug.contains("join-token-xyz"));
    }

    #[test]
    fn selectors_escape_exact_names() {
        let fields = ServerSelector::name("a.b").to_fields().unwrap();
        assert_eq!(fields["name"], r"a\.b");
        let fields = ServerSelector::name("k8s-ng1-(x)/y").to_fields().unwrap();
        assert_eq!(fields["name"], r"k8s-ng1-\(x\)\/y");
        let fields = ServerSelector::name_pattern("a|b").to_fields().unwrap();
        assert_eq!(fields["name"], "a|b");
        assert!(ServerSelector::name_pattern("(").to_fields().is_err());
        assert!(ServerSelector::name("").to_fields().is_err());
        assert!(ServerSelector::id(ServerId::new("")).to_fields().is_err());
    }
}
