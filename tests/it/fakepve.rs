//! Harness for fakepve, the fake Proxmox VE API (AGPL, run as a separate process and never
//! shipped): starts `tests/fakepve/runner.py` on a free loopback port and drives its control
//! server (fault injection, state inspection). The venv comes from `scripts/fakepve-env`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use nextgenrdp::provisioning::proxmox::ClientConfig;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The API token the runner knows.
pub const TOKEN_ID: &str = "billing@pve!provisioner";
/// The node, storage and templates the runner sets up.
pub const NODE: &str = "pve1";
pub const STORAGE: &str = "local-lvm";
pub const LINUX_TEMPLATE: u32 = 9000;
pub const WINDOWS_TEMPLATE: u32 = 9001;

/// How long the runner may take to print its ready line.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running fakepve, killed when dropped.
pub struct FakePve {
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    /// The self-signed certificate it serves, to pin.
    pub ca_pem: String,
    pub token_id: String,
    pub token_secret: String,
    control: String,
    http: reqwest::Client,
    /// Kept for kill-on-drop; its stdin pipe stays open while we live (the runner exits on EOF).
    _child: Child,
}

#[derive(Deserialize)]
struct Ready {
    url: String,
    ca_pem: String,
    control: String,
}

impl FakePve {
    /// Starts a fakepve with the default templates (9000 tmpl-debian, 9001 tmpl-windows) and
    /// `time_scale` 0.01 (a PVE second is 10 ms).
    pub async fn start() -> FakePve {
        let token_secret = random_secret();
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let mut child = Command::new(python(&root))
            .arg(root.join("tests/fakepve/runner.py"))
            .env("FAKEPVE_TOKEN_SECRET", &token_secret)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("fakepve runner failed to start");
        let stdout = child.stdout.take().expect("runner stdout is piped");
        let mut line = String::new();
        tokio::time::timeout(START_TIMEOUT, BufReader::new(stdout).read_line(&mut line))
            .await
            .expect("fakepve did not get ready within 30 s")
            .expect("reading the fakepve ready line");
        let ready: Ready = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("fakepve printed {line:?} instead of its ready line: {e}"));
        FakePve {
            url: ready.url,
            ca_pem: ready.ca_pem,
            token_id: TOKEN_ID.to_owned(),
            token_secret,
            control: ready.control,
            http: reqwest::Client::new(),
            _child: child,
        }
    }

    /// A client configuration for this fake, with its certificate pinned.
    pub fn client_config(&self) -> ClientConfig {
        ClientConfig {
            api_url: self.url.clone(),
            token_id: self.token_id.clone(),
            token_secret: self.token_secret.clone().into(),
            ca_pem: Some(self.ca_pem.clone()),
            timeout: Duration::from_secs(10),
        }
    }

    /// Requests whose path ends with `suffix` get HTTP `status` with `message` (`times` of them,
    /// or all).
    pub async fn fail(
        &self,
        method: &str,
        suffix: &str,
        status: u16,
        message: &str,
        times: Option<u32>,
    ) {
        let rule = json!({ "method": method, "suffix": suffix, "status": status, "message": message, "times": times });
        self.post("/fail", rule).await;
    }

    /// Requests whose path ends with `suffix` get PVE's catalogued `error` (e.g.
    /// `config_lock_timeout`, `qemu_exited_code`); an in-task one answers with a UPID whose task
    /// ends in `TASK ERROR`.
    pub async fn fail_named(&self, method: &str, suffix: &str, error: &str, times: Option<u32>) {
        let rule = json!({ "method": method, "suffix": suffix, "error": error, "times": times });
        self.post("/fail", rule).await;
    }

    /// Forgets every injected failure.
    pub async fn reset_failures(&self) {
        self.post("/reset_failures", json!({})).await;
    }

    /// Another task holds the VM's config lock for `secs` PVE seconds (`None`: until released).
    pub async fn hold_lock(&self, vmid: u32, secs: Option<f64>) {
        self.post("/hold_lock", json!({ "vmid": vmid, "secs": secs }))
            .await;
    }

    /// Releases a lock taken by [`FakePve::hold_lock`].
    pub async fn release_lock(&self, vmid: u32) {
        self.post("/release_lock", json!({ "vmid": vmid })).await;
    }

    /// Real seconds per PVE second (0: tasks end before the call returns).
    pub async fn set_time_scale(&self, value: f64) {
        self.post("/time_scale", json!({ "value": value })).await;
    }

    /// Adds `secs` PVE seconds to every API response (scaled by the time scale).
    pub async fn set_latency(&self, secs: f64) {
        self.post("/latency", json!({ "value": secs })).await;
    }

    /// Drops (connection reset) or hangs a share of the API requests.
    pub async fn flaky(&self, drop_rate: f64, hang_rate: f64, seed: u64) {
        self.post(
            "/flaky",
            json!({ "drop_rate": drop_rate, "hang_rate": hang_rate, "seed": seed }),
        )
        .await;
    }

    /// The VM's guest agent answers from now on.
    pub async fn start_agent(&self, vmid: u32) {
        self.post("/agent", json!({ "vmid": vmid, "running": true }))
            .await;
    }

    /// Bytes free on `storage` (`None`: unlimited), to make disk allocations fail.
    pub async fn set_storage_avail(&self, storage: &str, avail: Option<u64>) {
        self.post("/storage", json!({ "storage": storage, "avail": avail }))
            .await;
    }

    /// Leaves what a snapshot task killed half-way leaves: the VM locked (`snapshot`) and the
    /// snapshot `name` in snapstate `prepare`.
    pub async fn interrupt_snapshot(&self, vmid: u32, name: &str) {
        self.post("/interrupt_snapshot", json!({ "vmid": vmid, "name": name }))
            .await;
    }

    /// `status/current` of the VM reports `stats` (cpu, mem, netin, netout, diskread, …).
    pub async fn set_stats(&self, vmid: u32, stats: Value) {
        self.post("/stats", json!({ "vmid": vmid, "stats": stats }))
            .await;
    }

    /// What the operator does on the node after that: `qm unlock` and `qm delsnapshot --force`.
    pub async fn unlock(&self, vmid: u32) {
        self.post("/unlock", json!({ "vmid": vmid })).await;
    }

    /// Every VM: `{vmid, name, node, status, lock, config, pending, template, config_lock_held}`.
    pub async fn vms(&self) -> Vec<Value> {
        self.get("/vms").await
    }

    /// Every API request seen, `(method, path)`, oldest first.
    pub async fn requests(&self) -> Vec<(String, String)> {
        self.get("/requests").await
    }

    async fn post(&self, path: &str, body: Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.control))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("fakepve control {path}: {e}"));
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            panic!("fakepve control {path} {body}: {status} {text}");
        }
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        self.http
            .get(format!("{}{path}", self.control))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .unwrap_or_else(|e| panic!("fakepve control {path}: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("fakepve control {path}: {e}"))
    }
}

/// The venv's Python: `$FAKEPVE_PYTHON`, else `target/fakepve-venv/bin/python`.
fn python(root: &std::path::Path) -> PathBuf {
    let python = std::env::var_os("FAKEPVE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/fakepve-venv/bin/python"));
    assert!(
        python.exists(),
        "fakepve is not installed ({} is missing): run scripts/fakepve-env, or set FAKEPVE_PYTHON",
        python.display()
    );
    python
}

fn random_secret() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system gave no random bytes");
    hex::encode(bytes)
}
