//! Server tags (`POST /server/tags`): list, add, remove. Each call acts on exactly one
//! server; a selection matching none or several fails.

use serde_json::Value;

use crate::client::{Call, Client};
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::model::TagRow;
use crate::request::ServerSelector;
use crate::spec::Tag;

impl Client {
    /// The tags of one server.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::ServerSelector;
    /// let tags = client.server_tags(&ServerSelector::name("web-0001")).await?;
    /// println!("{}", tags.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", "));
    /// # Ok(()) }
    /// ```
    pub async fn server_tags(&self, selector: &ServerSelector) -> Result<Vec<Tag>, Error> {
        let body = Value::Object(selector.to_fields()?);
        self.tags_call(Call::read(Endpoint::ServerTags).with_body(body))
            .await
    }

    /// Adds `tag` to one server (the tag is created if the account does not have it yet)
    /// and returns the server's tags afterwards. Not retried automatically.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::{ServerSelector, Tag};
    /// let tags = client
    ///     .add_server_tag(&ServerSelector::name("web-0001"), &Tag::new("frontend")?)
    ///     .await?;
    /// # let _ = tags;
    /// # Ok(()) }
    /// ```
    pub async fn add_server_tag(
        &self,
        selector: &ServerSelector,
        tag: &Tag,
    ) -> Result<Vec<Tag>, Error> {
        self.change_tag(selector, "add", tag).await
    }

    /// Removes `tag` from one server and returns the server's tags afterwards. Not retried
    /// automatically.
    ///
    /// ```no_run
    /// # async fn demo(client: kamatera_api::Client) -> Result<(), kamatera_api::Error> {
    /// use kamatera_api::{ServerSelector, Tag};
    /// let tags = client
    ///     .remove_server_tag(&ServerSelector::name("web-0001"), &Tag::new("frontend")?)
    ///     .await?;
    /// # let _ = tags;
    /// # Ok(()) }
    /// ```
    pub async fn remove_server_tag(
        &self,
        selector: &ServerSelector,
        tag: &Tag,
    ) -> Result<Vec<Tag>, Error> {
        self.change_tag(selector, "remove", tag).await
    }

    async fn change_tag(
        &self,
        selector: &ServerSelector,
        action: &str,
        tag: &Tag,
    ) -> Result<Vec<Tag>, Error> {
        let mut fields = selector.to_fields()?;
        fields.insert(action.into(), Value::String(tag.as_str().to_owned()));
        self.tags_call(Call::mutate(Endpoint::ServerTags, Value::Object(fields)))
            .await
    }

    async fn tags_call(&self, call: Call) -> Result<Vec<Tag>, Error> {
        let rows: Vec<TagRow> = self.call(call).await?;
        Ok(rows.into_iter().map(Tag::from).collect())
    }
}
