//! `server tags list|add|remove`. Tag changes take effect at once: there is no command to wait for.

use clap::{Args, Subcommand};
use kamatera_api::{Client, Tag};

use crate::error::CliError;
use crate::output::{Printer, columns};
use crate::select::Servers;

/// `server tags …`; each prints the server's tags afterwards.
#[derive(Debug, Subcommand)]
pub enum TagsCommand {
    /// List a server's tags (POST /server/tags).
    List(TagsListArgs),
    /// Add a tag to a server; it is created in the account if new (POST /server/tags, add).
    Add(TagChangeArgs),
    /// Remove a tag from a server (POST /server/tags, remove).
    Remove(TagChangeArgs),
}

/// The server whose tags to list.
#[derive(Debug, Args)]
pub struct TagsListArgs {
    #[command(flatten)]
    servers: Servers,
}

/// The server and the tag to add or remove.
#[derive(Debug, Args)]
pub struct TagChangeArgs {
    #[command(flatten)]
    servers: Servers,
    /// The tag (3–24 characters of A-Z a-z 0-9 - _ .).
    tag: String,
}

impl TagsCommand {
    /// Sends the tags call and prints the tags it answers.
    pub async fn run(self, client: &Client, printer: Printer) -> Result<(), CliError> {
        let tags = match self {
            TagsCommand::List(args) => client.server_tags(&args.servers.selector()).await?,
            TagsCommand::Add(args) => {
                let tag = Tag::new(args.tag)?;
                client
                    .add_server_tag(&args.servers.selector(), &tag)
                    .await?
            }
            TagsCommand::Remove(args) => {
                let tag = Tag::new(args.tag)?;
                client
                    .remove_server_tag(&args.servers.selector(), &tag)
                    .await?
            }
        };
        let names: Vec<String> = tags.iter().map(ToString::to_string).collect();
        printer.print(&names, |names| {
            columns(&["TAG"], names.iter().map(|tag| [tag.clone()]))
        })
    }
}
