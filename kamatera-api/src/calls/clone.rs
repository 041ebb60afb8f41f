//! Cloning a server (`POST /service/cloneServer`): a new server from an existing one's
//! disks, in its datacenter, with its settings unless the request overrides them.

use std::fmt;

use serde_json::{Map, Value};

use super::commands::{CreatedServer, decode_created};
use crate::client::{Call, Client};
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::request::ServerSelector;
use crate::spec::{
    BillingCycle, Cpu, DiskSpec, NetworkSpec, Password, RamMb, ServerName, Tag, check_slots,
    join_wire, yes_no,
};

/// A validated request to clone one server, built with [`CloneServerRequest::builder`].
///
/// The datacenter and image come from the source. CPU, memory, disks, networks, daily
/// backup, managed services and billing are the source's unless set here, and only what
/// is set is sent: given disks or networks replace all of the source's. Tags are not
/// copied; the clone is powered on once created unless told otherwise. The API creates
/// one server per clone call (it ignores a quantity), so no quantity is offered.
///
/// ```
/// use kamatera_api::{CloneServerRequest, Password, ServerSelector};
/// # fn main() -> Result<(), kamatera_api::Error> {
/// let request = CloneServerRequest::builder(ServerSelector::name("web-0001"), "web-0002", Password::Generate)
///     .ram_mb("8192".parse()?)
///     .build()?;
/// assert_eq!(request.name().as_str(), "web-0002");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct CloneServerRequest {
    source: Map<String, Value>,
    source_text: String,
    name: ServerName,
    password: Password,
    cpu: Option<Cpu>,
    ram: Option<RamMb>,
    disks: Vec<DiskSpec>,
    networks: Vec<NetworkSpec>,
    daily_backup: Option<bool>,
    managed: Option<bool>,
    billing: Option<BillingCycle>,
    power_on_after_create: Option<bool>,
    tags: Vec<Tag>,
}

impl CloneServerRequest {
    /// Starts a request to clone the one server `source` selects (by id or exact name) into
    /// a new server named `name` with root `password` ([`Password::Generate`] has the API
    /// make one up and return it once).
    pub fn builder(
        source: impl Into<ServerSelector>,
        name: impl Into<String>,
        password: Password,
    ) -> CloneServerRequestBuilder {
        CloneServerRequestBuilder {
            source: source.into(),
            name: name.into(),
            password,
            cpu: None,
            ram: None,
            disks: Vec::new(),
            networks: Vec::new(),
            daily_backup: None,
            managed: None,
            billing: None,
            power_on_after_create: None,
            tags: Vec::new(),
        }
    }

    /// Name of the new server (the API may add a suffix when it is taken).
    pub fn name(&self) -> &ServerName {
        &self.name
    }

    /// True when the API will generate the root password and return it once.
    pub fn generates_password(&self) -> bool {
        matches!(self.password, Password::Generate)
    }

    /// The exact JSON body sent to the API. It contains the password in clear text: never
    /// log it.
    pub fn to_wire_body(&self) -> Value {
        let mut body = self.source.clone();
        let password = self.password.to_wire(false);
        body.insert("name".into(), self.name.as_str().into());
        body.insert("password".into(), password.clone().into());
        body.insert("passwordValidate".into(), password.into());
        if let Some(cpu) = self.cpu {
            body.insert("cpu".into(), cpu.to_string().into());
        }
        if let Some(ram) = self.ram {
            body.insert("ram".into(), ram.to_string().into());
        }
        if !self.disks.is_empty() {
            body.insert("disk".into(), join_wire(&self.disks).into());
        }
        if !self.networks.is_empty() {
            body.insert("network".into(), join_wire(&self.networks).into());
        }
        if let Some(on) = self.daily_backup {
            body.insert("dailybackup".into(), yes_no(on).into());
        }
        if let Some(on) = self.managed {
            body.insert("managed".into(), yes_no(on).into());
        }
        if let Some(billing) = &self.billing {
            body.extend(billing.change_fields());
        }
        if let Some(on) = self.power_on_after_create {
            body.insert("poweronaftercreate".into(), yes_no(on).into());
        }
        if !self.tags.is_empty() {
            body.insert("tag".into(), join_wire(&self.tags).into());
        }
        Value::Object(body)
    }
}

impl fmt::Debug for CloneServerRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloneServerRequest")
            .field("source", &self.source_text)
            .field("name", &self.name)
            .field("password", &self.password)
            .field("cpu", &self.cpu.map(|c| c.to_string()))
            .field("ram", &self.ram)
            .field("disks", &self.disks)
            .field("networks", &self.networks)
            .field("daily_backup", &self.daily_backup)
            .field("managed", &self.managed)
            .field("billing", &self.billing)
            .field("power_on_after_create", &self.power_on_after_create)
            .field("tags", &self.tags)
            .finish()
    }
}

/// Builder for [`CloneServerRequest`]; every setting left unset keeps the source's.
#[must_use]
pub struct CloneServerRequestBuilder {
    source: ServerSelector,
    name: String,
    password: Password,
    cpu: Option<Cpu>,
    ram: Option<RamMb>,
    disks: Vec<DiskSpec>,
    networks: Vec<NetworkSpec>,
    daily_backup: Option<bool>,
    managed: Option<bool>,
    billing: Option<BillingCycle>,
    power_on_after_create: Option<bool>,
    tags: Vec<Tag>,
}

impl CloneServerRequestBuilder {
    /// CPU of the clone.
    pub fn cpu(mut self, cpu: Cpu) -> Self {
        self.cpu = Some(cpu);
        self
    }

    /// Memory of the clone.
    pub fn ram_mb(mut self, ram: RamMb) -> Self {
        self.ram = Some(ram);
        self
    }

    /// Adds a disk; any disk given replaces all of the source's. At most 4.
    pub fn disk(mut self, disk: DiskSpec) -> Self {
        self.disks.push(disk);
        self
    }

    /// Adds several disks.
    pub fn disks(mut self, disks: impl IntoIterator<Item = DiskSpec>) -> Self {
        self.disks.extend(disks);
        self
    }

    /// Adds a network interface; any interface given replaces all of the source's. At
    /// most 4.
    pub fn network(mut self, network: NetworkSpec) -> Self {
        self.networks.push(network);
        self
    }

    /// Adds several network interfaces.
    pub fn networks(mut self, networks: impl IntoIterator<Item = NetworkSpec>) -> Self {
        self.networks.extend(networks);
        self
    }

    /// Daily backup of the clone.
    pub fn daily_backup(mut self, on: bool) -> Self {
        self.daily_backup = Some(on);
        self
    }

    /// Managed services for the clone.
    pub fn managed(mut self, on: bool) -> Self {
        self.managed = Some(on);
        self
    }

    /// Billing cycle of the clone (monthly with its traffic package).
    pub fn billing(mut self, billing: BillingCycle) -> Self {
        self.billing = Some(billing);
        self
    }

    /// Whether to start the clone once created (the API's default: yes).
    pub fn power_on_after_create(mut self, on: bool) -> Self {
        self.power_on_after_create = Some(on);
        self
    }

    /// Adds a tag to put on the clone (the source's tags are not copied).
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
    pub fn build(self) -> Result<CloneServerRequest, Error> {
        let source = source_fields(&self.source)?;
        let name = ServerName::new(self.name)?;
        check_slots("disk", self.disks.iter().map(|d| (d.slot(), d.to_string())))?;
        check_slots(
            "network",
            self.networks.iter().map(|n| (n.slot(), n.to_string())),
        )?;
        if let Some(billing) = &self.billing {
            billing.checked()?;
        }
        let mut tags = self.tags;
        tags.dedup();
        Ok(CloneServerRequest {
            source,
            source_text: self.source.to_string(),
            name,
            password: self.password,
            cpu: self.cpu,
            ram: self.ram,
            disks: self.disks,
            networks: self.networks,
            daily_backup: self.daily_backup,
            managed: self.managed,
            billing: self.billing,
            power_on_after_create: self.power_on_after_create,
            tags,
        })
    }
}

/// `{"source-id": …}` or `{"source-name": <escaped name>}`: the selector's one-server
/// fields under the clone call's keys, its errors naming those keys.
fn source_fields(source: &ServerSelector) -> Result<Map<String, Value>, Error> {
    let rename = |key: &str| match key {
        "id" => "source-id",
        _ => "source-name",
    };
    let fields = source.to_single_fields().map_err(|err| match err {
        Error::InvalidRequest {
            field,
            value,
            reason,
        } => Error::InvalidRequest {
            field: rename(field),
            value,
            reason,
        },
        other => other,
    })?;
    Ok(fields
        .into_iter()
        .map(|(key, value)| (rename(&key).to_owned(), value))
        .collect())
}

impl Client {
    /// Starts cloning a server (`POST /service/cloneServer`). Answers like
    /// [`Client::create_server`]: the command creating the clone, and the root password
    /// when the API generated it. Sent exactly once, never retried; after an
    /// [`Error::outcome_unknown`] look for the clone by name instead of resending.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::{CloneServerRequest, Password, ServerSelector};
    /// let request = CloneServerRequest::builder(ServerSelector::name("web-0001"), "web-0002", Password::Generate)
    ///     .daily_backup(false)
    ///     .build()?;
    /// let created = client.clone_server(&request).await?;
    /// println!("cloning, command {}", created.command_id);
    /// # Ok(()) }
    /// ```
    pub async fn clone_server(&self, request: &CloneServerRequest) -> Result<CreatedServer, Error> {
        tracing::info!(source = %request.source_text, server = %request.name, "cloning Kamatera server");
        self.call_with(
            Call::mutate(Endpoint::CloneServer, request.to_wire_body()),
            decode_created,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;
    use serde_json::json;

    use super::*;
    use crate::model::ServerId;

    fn password() -> Password {
        Password::set(SecretString::from("Abcdefgh12")).unwrap()
    }

    #[test]
    fn only_what_is_set_is_sent() {
        let request = CloneServerRequest::builder(ServerId::new("src-1"), "web-0002", password())
            .build()
            .unwrap();
        assert_eq!(
            request.to_wire_body(),
            json!({"source-id": "src-1", "name": "web-0002", "password": "Abcdefgh12",
                   "passwordValidate": "Abcdefgh12"})
        );
    }

    #[test]
    fn every_setting_uses_the_create_spelling() {
        let request = CloneServerRequest::builder(
            ServerSelector::name("web.0001"),
            "web-0002",
            Password::Generate,
        )
        .cpu("4B".parse().unwrap())
        .ram_mb(RamMb::new(8192).unwrap())
        .disk(DiskSpec::new(50).unwrap())
        .disk("id=1,size=100".parse().unwrap())
        .network(NetworkSpec::wan())
        .network("name=lan-1-x,ip=auto".parse().unwrap())
        .daily_backup(true)
        .managed(false)
        .billing(BillingCycle::monthly("t5000").unwrap())
        .power_on_after_create(false)
        .tag(Tag::new("web").unwrap())
        .tag(Tag::new("web").unwrap())
        .tag(Tag::new("clone").unwrap())
        .build()
        .unwrap();
        assert!(request.generates_password());
        assert_eq!(
            request.to_wire_body(),
            json!({"source-name": r"web\.0001", "name": "web-0002",
                   "password": "__generate__", "passwordValidate": "__generate__",
                   "cpu": "4B", "ram": "8192", "disk": "size=50 id=1,size=100",
                   "network": "name=wan,ip=auto name=lan-1-x,ip=auto",
                   "dailybackup": "yes", "managed": "no", "billingcycle": "monthly",
                   "monthlypackage": "t5000", "poweronaftercreate": "no",
                   "tag": "web clone"})
        );
        let hourly = CloneServerRequest::builder(ServerId::new("s"), "web-0003", password())
            .billing(BillingCycle::Hourly)
            .build()
            .unwrap()
            .to_wire_body();
        assert_eq!(hourly["billingcycle"], "hourly");
        assert!(hourly.get("monthlypackage").is_none());
    }

    #[test]
    fn bad_requests_name_their_field() {
        let refused = |builder: CloneServerRequestBuilder| match builder.build() {
            Err(Error::InvalidRequest { field, .. }) => field,
            other => panic!("expected a refusal, got {other:?}"),
        };
        let base = || CloneServerRequest::builder(ServerId::new("s"), "web-0002", password());
        assert_eq!(
            refused(CloneServerRequest::builder(
                ServerSelector::name_pattern("web-.*"),
                "web-0002",
                password()
            )),
            "source-name"
        );
        assert_eq!(
            refused(CloneServerRequest::builder(
                ServerSelector::name(""),
                "web-0002",
                password()
            )),
            "source-name"
        );
        assert_eq!(
            refused(CloneServerRequest::builder(
                ServerId::new(""),
                "web-0002",
                password()
            )),
            "source-id"
        );
        assert_eq!(
            refused(CloneServerRequest::builder(
                ServerId::new("s"),
                "ab",
                password()
            )),
            "name"
        );
        assert_eq!(
            refused(base().disks((0..5).map(|_| DiskSpec::new(10).unwrap()))),
            "disk"
        );
        let same_slot = ["id=1,name=wan", "id=1,name=lan-1-x"].map(|n| n.parse().unwrap());
        assert_eq!(refused(base().networks(same_slot)), "network");
        assert_eq!(
            refused(base().billing(BillingCycle::Monthly {
                traffic_package: "t 1".into()
            })),
            "monthlypackage"
        );
    }

    #[test]
    fn debug_output_hides_the_password() {
        let request = CloneServerRequest::builder(ServerId::new("s"), "web-0002", password())
            .build()
            .unwrap();
        assert!(!format!("{request:?}").contains("Abcdefgh12"));
    }
}
