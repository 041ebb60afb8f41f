//! Shared test harness.

use std::time::Duration;

use kamatera_sim::{SeedServer, SimConfig, SimHandle, Simulator};
use serde_json::{Value, json};

pub const CLIENT_ID: &str = "test-id";
pub const SECRET: &str = "test-secret";

pub struct Sim {
    pub url: url::Url,
    pub handle: SimHandle,
    pub http: reqwest::Client,
}

/// A response: status plus the body as JSON (or a JSON string holding the raw text).
pub type Answer = (u16, Value);

impl Sim {
    pub async fn start() -> Self {
        Self::start_with(SimConfig::default()).await
    }

    pub async fn start_with(config: SimConfig) -> Self {
        let config = config.with_credentials(CLIENT_ID, SECRET);
        let (url, handle) = Simulator::start(config).await.expect("simulator starts");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        Self { url, handle, http }
    }

    pub fn at(&self, path: &str) -> url::Url {
        self.url.join(path.trim_start_matches('/')).expect("url")
    }

    async fn finish(resp: reqwest::Response) -> Answer {
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    fn authed(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        req.header("AuthClientId", CLIENT_ID)
            .header("AuthSecret", SECRET)
    }

    pub async fn get(&self, path: &str) -> Answer {
        Self::finish(
            self.authed(self.http.get(self.at(path)))
                .send()
                .await
                .expect("send"),
        )
        .await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        Self::finish(
            self.authed(self.http.post(self.at(path)))
                .json(&body)
                .send()
                .await
                .expect("send"),
        )
        .await
    }

    /// Control API call (no credentials needed).
    pub async fn control(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Answer {
        let mut req = self.http.request(method, self.at(path));
        if let Some(b) = body {
            req = req.json(&b);
        }
        Self::finish(req.send().await.expect("send")).await
    }

    pub fn seed(&self, name: &str) -> String {
        self.handle
            .seed_server(SeedServer::new(name))
            .expect("seed")
    }

    /// Creates a server with a minimal valid request; returns the command id.
    pub async fn create(&self, extra: Value) -> (u16, Value) {
        let mut body = json!({"name": "node-1", "password": "Passw0rd123", "datacenter": "IL",
                              "image": "ubuntu_server_18.04_64-bit"});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        self.post("/service/server", body).await
    }

    pub async fn queue(&self, id: &str) -> Value {
        let (status, body) = self.get(&format!("/service/queue?id={id}")).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    pub async fn queue_status(&self, id: &str) -> Option<String> {
        let body = self.queue(id).await;
        body[0]["status"].as_str().map(str::to_owned)
    }

    pub async fn list(&self) -> Vec<Value> {
        let (status, body) = self.get("/service/servers").await;
        assert_eq!(status, 200);
        body.as_array().cloned().expect("list is an array")
    }

    pub async fn listed(&self, name: &str) -> Option<Value> {
        self.list().await.into_iter().find(|s| s["name"] == name)
    }

    pub fn advance_secs(&self, s: u64) {
        self.handle.advance(Duration::from_secs(s));
    }
}

pub fn message(body: &Value) -> &str {
    body["message"].as_str().unwrap_or_default()
}

/// The single command id of a POST answer.
pub fn one_id(body: &Value) -> String {
    let ids = body.as_array().expect("array of ids");
    assert_eq!(ids.len(), 1, "{body}");
    ids[0].as_str().expect("ids are strings").to_owned()
}
