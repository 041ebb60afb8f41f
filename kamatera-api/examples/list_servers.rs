//! Lists the servers of a Kamatera account.
//!
//! ```text
//! KAMATERA_API_CLIENT_ID=... KAMATERA_API_SECRET=... cargo run -p kamatera-api --example list_servers
//! ```
//!
//! Set `KAMATERA_API_URL` to use another endpoint, for example a local `kamatera-sim`.

use std::process::ExitCode;

use kamatera_api::Client;

#[tokio::main]
async fn main() -> ExitCode {
    let (Ok(client_id), Ok(secret)) = (
        std::env::var("KAMATERA_API_CLIENT_ID"),
        std::env::var("KAMATERA_API_SECRET"),
    ) else {
        eprintln!("set KAMATERA_API_CLIENT_ID and KAMATERA_API_SECRET");
        return ExitCode::from(2);
    };
    let mut builder = Client::builder().credentials(client_id, secret);
    if let Ok(url) = std::env::var("KAMATERA_API_URL") {
        builder = builder.base_url(url);
    }
    let client = match builder.build() {
        Ok(client) => client,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    match client.list_servers().await {
        Ok(servers) => {
            println!("{:<38} {:<40} {:<8} power", "id", "name", "dc");
            for server in servers {
                println!(
                    "{:<38} {:<40} {:<8} {}",
                    server.id, server.name, server.datacenter, server.power
                );
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
