//! Changing a server's state and settings: suspend, resume, password reset (on every
//! server a selector matches), rename and configure (on one server).
//!
//! Every call here starts a queued command and is sent exactly once, never retried: follow
//! the answer with [`Client::wait_for_command`].

use serde_json::{Map, Value};

use super::server::ServerHandle;
use crate::client::Client;
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::model::CommandId;
use crate::request::ServerSelector;
use crate::spec::{BillingCycle, ChosenPassword, Cpu, RamMb, ServerName, invalid, yes_no};

/// One change of a server's configuration, for [`ServerHandle::configure`].
///
/// The API takes exactly one change per call (`Please choose only 1 configuration flag at
/// a time`), which is why this is one value and not a set of options.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigChange {
    /// New CPU (`cpu`, e.g. `4B`).
    Cpu(Cpu),
    /// New memory size (`ram`).
    Ram(RamMb),
    /// Daily backup on or off (`dailybackup`, `yes`/`no`).
    DailyBackup(bool),
    /// Managed services on or off (`managed`, `yes`/`no`).
    Managed(bool),
    /// New billing cycle (`billingcycle`); monthly also sends its traffic package
    /// (`monthlypackage`), which must be one the server's datacenter offers. Sending
    /// monthly to a server billed monthly changes its traffic package.
    Billing(BillingCycle),
}

impl ConfigChange {
    /// The fields of the change, after checking what a hand-built value could get wrong.
    fn to_fields(&self) -> Result<Map<String, Value>, Error> {
        let (key, value) = match self {
            ConfigChange::Cpu(cpu) => ("cpu", cpu.to_string()),
            ConfigChange::Ram(ram) => ("ram", ram.to_string()),
            ConfigChange::DailyBackup(on) => ("dailybackup", yes_no(*on).to_owned()),
            ConfigChange::Managed(on) => ("managed", yes_no(*on).to_owned()),
            ConfigChange::Billing(billing) => return Ok(billing.checked()?.change_fields()),
        };
        let mut fields = Map::new();
        fields.insert(key.to_owned(), Value::String(value));
        Ok(fields)
    }
}

impl Client {
    /// Starts suspending the servers `selector` matches (`POST /service/server/suspend`);
    /// one command per server. The API applies this to every server a name pattern
    /// matches. Sent once, never retried.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::ServerSelector;
    /// let commands = client.suspend(&ServerSelector::name("web-0001")).await?;
    /// println!("suspending, command {}", commands[0]);
    /// # Ok(()) }
    /// ```
    pub async fn suspend(&self, selector: &ServerSelector) -> Result<Vec<CommandId>, Error> {
        tracing::info!(%selector, "suspending Kamatera server");
        let body = Value::Object(selector.to_fields()?);
        self.command_call(Endpoint::Suspend, selector, body).await
    }

    /// Starts resuming the suspended servers `selector` matches
    /// (`POST /service/server/resume`); one command per server. Sent once, never retried.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::ServerSelector;
    /// let commands = client.resume(&ServerSelector::name_pattern("web-.*")).await?;
    /// println!("resuming {} server(s)", commands.len());
    /// # Ok(()) }
    /// ```
    pub async fn resume(&self, selector: &ServerSelector) -> Result<Vec<CommandId>, Error> {
        tracing::info!(%selector, "resuming Kamatera server");
        let body = Value::Object(selector.to_fields()?);
        self.command_call(Endpoint::Resume, selector, body).await
    }

    /// Starts setting the root password of the servers `selector` matches
    /// (`POST /service/server/password`); one command per server. The API cannot generate
    /// a password here, hence a [`ChosenPassword`]. Sent once, never retried; the password
    /// is never logged.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::{ChosenPassword, ServerSelector};
    /// let password = ChosenPassword::new(std::env::var("NEW_ROOT_PASSWORD").unwrap_or_default().into())?;
    /// client.reset_password(&ServerSelector::name("web-0001"), &password).await?;
    /// # Ok(()) }
    /// ```
    pub async fn reset_password(
        &self,
        selector: &ServerSelector,
        password: &ChosenPassword,
    ) -> Result<Vec<CommandId>, Error> {
        let mut fields = selector.to_fields()?;
        fields.insert(
            "password".into(),
            Value::String(password.expose().to_owned()),
        );
        tracing::info!(%selector, "resetting Kamatera server password");
        self.command_call(Endpoint::PasswordReset, selector, Value::Object(fields))
            .await
    }
}

impl ServerHandle<'_> {
    /// Starts renaming the server to `new_name` (`POST /service/server/rename`, one server
    /// only). The API's rename rule is stricter than the create rule: no `.`, so a name
    /// with one is refused here before anything is sent. Names need not be unique. Sent
    /// once, never retried.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::{ServerName, ServerSelector};
    /// let server = client.server(ServerSelector::name("web-0001"));
    /// let command = server.rename(&ServerName::new("web-0001-old")?).await?;
    /// # let _ = command;
    /// # Ok(()) }
    /// ```
    pub async fn rename(&self, new_name: &ServerName) -> Result<CommandId, Error> {
        if new_name.as_str().contains('.') {
            return Err(invalid(
                "new-name",
                new_name.as_str(),
                "character '.' is not allowed in a new name (use A-Z a-z 0-9 _ - ( ))",
            ));
        }
        let call = self
            .change(Endpoint::Rename)?
            .with_field("new-name", new_name.as_str());
        tracing::info!(server = %self.selector(), new_name = %new_name, "renaming Kamatera server");
        self.client.command(call).await
    }

    /// Starts changing one setting of the server (`POST /server/configure`, one server
    /// only): CPU, memory, daily backup, managed services or billing. Sent once, never
    /// retried.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::{ConfigChange, RamMb, ServerSelector};
    /// let server = client.server(ServerSelector::name("web-0001"));
    /// server.configure(&ConfigChange::Cpu("4B".parse()?)).await?;
    /// server.configure(&ConfigChange::Ram(RamMb::new(8192)?)).await?;
    /// server.configure(&ConfigChange::DailyBackup(true)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn configure(&self, change: &ConfigChange) -> Result<CommandId, Error> {
        let call = self
            .change(Endpoint::Configure)?
            .with_fields(change.to_fields()?);
        tracing::info!(server = %self.selector(), ?change, "configuring Kamatera server");
        self.client.command(call).await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields(change: ConfigChange) -> Value {
        Value::Object(change.to_fields().unwrap())
    }

    #[test]
    fn each_change_is_one_wire_field() {
        assert_eq!(
            fields(ConfigChange::Cpu("4B".parse().unwrap())),
            json!({"cpu": "4B"})
        );
        assert_eq!(
            fields(ConfigChange::Ram(RamMb::new(8192).unwrap())),
            json!({"ram": "8192"})
        );
        assert_eq!(
            fields(ConfigChange::DailyBackup(true)),
            json!({"dailybackup": "yes"})
        );
        assert_eq!(
            fields(ConfigChange::Managed(false)),
            json!({"managed": "no"})
        );
        assert_eq!(
            fields(ConfigChange::Billing(BillingCycle::Hourly)),
            json!({"billingcycle": "hourly"})
        );
        assert_eq!(
            fields(ConfigChange::Billing(
                BillingCycle::monthly("t5000").unwrap()
            )),
            json!({"billingcycle": "monthly", "monthlypackage": "t5000"})
        );
    }

    #[test]
    fn a_hand_built_package_is_refused() {
        let change = ConfigChange::Billing(BillingCycle::Monthly {
            traffic_package: String::new(),
        });
        match change.to_fields() {
            Err(Error::InvalidRequest { field, .. }) => assert_eq!(field, "monthlypackage"),
            other => panic!("expected an invalid request, got {other:?}"),
        }
    }
}
