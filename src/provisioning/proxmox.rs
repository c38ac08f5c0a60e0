//! A small hand-written client for the Proxmox VE API: the dozen endpoints provisioning needs
//! (clone, config, resize, power, delete, guest-agent password, tasks), with PVE's errors
//! classified into [`PveErrorKind`]s a caller can act on.
//!
//! Every write on PVE is a task: the HTTP call returns a [`Upid`] and the real outcome shows only
//! in the task's exit status ([`ProxmoxClient::wait_task`]). Authentication is an API token; the
//! secret goes only into the `Authorization` header and never into a message, log or `Debug`.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::time::Instant;

/// How to reach and authenticate to one Proxmox VE node (or cluster).
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// `https://10.0.0.2:8006`, with or without `/api2/json` (`http://` only for test stubs).
    pub api_url: String,
    /// The API token id, `user@realm!tokenid`.
    pub token_id: String,
    /// The API token secret (a UUID).
    pub token_secret: SecretString,
    /// PEM of the node's (self-signed) certificate or its CA, trusted instead of the system
    /// roots; `None` trusts the bundled webpki roots.
    pub ca_pem: Option<String>,
    /// Timeout of each HTTP request, connection included.
    pub timeout: Duration,
}

/// A Proxmox VE API client; cheap to clone (one connection pool shared by the clones).
#[derive(Clone)]
pub struct ProxmoxClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// The API root, ending in `/api2/json`.
    base: Url,
    token_id: String,
    /// `PVEAPIToken=<id>=<secret>`, marked sensitive.
    auth: HeaderValue,
}

impl fmt::Debug for ProxmoxClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxmoxClient")
            .field("base", &self.inner.base.as_str())
            .field("token_id", &self.inner.token_id)
            .finish_non_exhaustive()
    }
}

/// What kind of failure a [`PveError`] is, which decides what the caller does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PveErrorKind {
    /// The VM (id) exists already, or a start found it running already: for an idempotent
    /// step, check whether the existing thing is ours and carry on.
    AlreadyExists,
    /// A config or storage lock is held (`can't lock file … got timeout`, `VM is locked`):
    /// retry later with backoff.
    Locked,
    /// The VM (or another named object) does not exist.
    NotFound,
    /// The token is wrong, or lacks a privilege (401, 403).
    Auth,
    /// The request is wrong (400, 501, bad configuration): retrying will not help.
    Invalid,
    /// Network trouble, a timeout, an offline node (595) or another 5xx: retry later.
    Transient,
}

/// An error from the Proxmox VE API or from reaching it; never carries the token secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("proxmox: {message}{}", status_suffix(*.status))]
pub struct PveError {
    /// The classification.
    pub kind: PveErrorKind,
    /// The HTTP status, when PVE answered.
    pub status: Option<u16>,
    /// What failed and PVE's own words (method and path, message, per-field errors).
    pub message: String,
}

fn status_suffix(status: Option<u16>) -> String {
    status.map(|s| format!(" (HTTP {s})")).unwrap_or_default()
}

impl PveError {
    fn new(kind: PveErrorKind, status: Option<u16>, message: impl Into<String>) -> Self {
        Self {
            kind,
            status,
            message: message.into(),
        }
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new(PveErrorKind::Invalid, None, message)
    }

    /// True when the same call may succeed later: a lock held, or transient trouble.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, PveErrorKind::Locked | PveErrorKind::Transient)
    }

    /// The error for a task that ended with `exitstatus` other than `OK`: classified by its text
    /// like an HTTP error's message, else [`PveErrorKind::Invalid`] (the node refused the work).
    pub fn from_task_failure(exitstatus: &str) -> Self {
        let kind = classify_text(exitstatus).unwrap_or(PveErrorKind::Invalid);
        Self::new(kind, None, format!("task failed: {exitstatus}"))
    }
}

/// A task id as PVE hands it out: `UPID:node:pid:pstart:starttime:type:id:user:`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Upid(String);

impl Upid {
    /// The node that runs the task, where its status must be asked.
    pub fn node(&self) -> &str {
        self.0.split(':').nth(1).unwrap_or_default()
    }

    /// The task type (`qmclone`, `qmstart`, …).
    pub fn task_type(&self) -> &str {
        self.0.split(':').nth(5).unwrap_or_default()
    }

    /// The UPID as PVE wrote it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Upid {
    type Err = PveError;

    /// Accepts what PVE's `decode_upid` accepts: 8 fields ending in `:`, hex pid/pstart/start.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || PveError::invalid(format!("not a Proxmox task id (UPID): {s:?}"));
        let fields: Vec<&str> = s.split(':').collect();
        let [prefix, node, pid, pstart, start, kind, _id, user, end] = fields[..] else {
            return Err(bad());
        };
        let hex = |f: &str, lens: &[usize]| {
            lens.contains(&f.len()) && f.bytes().all(|b| b.is_ascii_hexdigit())
        };
        let name_ok =
            !node.is_empty() && node.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let ok = prefix == "UPID"
            && name_ok
            && hex(pid, &[8])
            && hex(pstart, &[8, 9])
            && hex(start, &[8])
            && !kind.is_empty()
            && !user.is_empty()
            && end.is_empty()
            && !s.chars().any(char::is_whitespace);
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(bad())
        }
    }
}

impl TryFrom<String> for Upid {
    type Error = PveError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Upid> for String {
    fn from(upid: Upid) -> Self {
        upid.0
    }
}

impl fmt::Display for Upid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A VM's state from `status/current` (the fields provisioning reads).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct VmStatus {
    /// `running` or `stopped`.
    pub status: String,
    /// QEMU's own view (`running`, `paused`, …), when the node gives it.
    #[serde(default)]
    pub qmpstatus: Option<String>,
    /// The config lock (`clone`, `backup`, `migrate`, …), if any.
    #[serde(default)]
    pub lock: Option<String>,
    /// The VM's name.
    #[serde(default)]
    pub name: Option<String>,
    /// Seconds since start, when running.
    #[serde(default)]
    pub uptime: Option<u64>,
}

impl VmStatus {
    /// True when the VM runs.
    pub fn is_running(&self) -> bool {
        self.status == "running"
    }
}

/// What to clone from a template.
#[derive(Clone, Debug)]
pub struct CloneRequest<'a> {
    /// The new VM id (allocated by our database, never `/cluster/nextid`).
    pub newid: u32,
    /// The new VM's name (a DNS name).
    pub name: &'a str,
    /// Its description (notes), e.g. the order it belongs to.
    pub description: Option<&'a str>,
    /// Target storage; only for full clones.
    pub storage: Option<&'a str>,
    /// A full copy (`true`) or a linked clone of the template's base disks.
    pub full: bool,
}

/// A power action on a VM (`POST …/status/<action>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerAction {
    /// Start. On a running VM the *task* fails with `VM <id> already running`
    /// ([`PveError::from_task_failure`] makes that [`PveErrorKind::AlreadyExists`]).
    Start,
    /// Hard stop.
    Stop,
    /// ACPI shutdown (the guest may ignore it; the task then fails with `got timeout`).
    Shutdown,
    /// ACPI reboot.
    Reboot,
    /// Hard reset.
    Reset,
}

impl PowerAction {
    fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Shutdown => "shutdown",
            Self::Reboot => "reboot",
            Self::Reset => "reset",
        }
    }
}

/// A task's state from `GET /nodes/{node}/tasks/{upid}/status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskStatus {
    /// Still running.
    pub running: bool,
    /// Once stopped: `OK`, or the error text.
    pub exitstatus: Option<String>,
}

/// How a task ended, as far as [`ProxmoxClient::wait_task`] waited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskOutcome {
    /// Stopped with exit status `OK`.
    Ok,
    /// Stopped with another exit status (the error text, e.g. `VM 101 already running`).
    Failed(String),
    /// Still running when the wait timed out; poll again later with the same UPID.
    StillRunning,
}

impl TaskOutcome {
    /// `Ok(())` for [`TaskOutcome::Ok`]; a classified [`PveError`] otherwise
    /// ([`PveError::from_task_failure`], or `Transient` when still running).
    pub fn into_result(self) -> Result<(), PveError> {
        match self {
            Self::Ok => Ok(()),
            Self::Failed(exitstatus) => Err(PveError::from_task_failure(&exitstatus)),
            Self::StillRunning => Err(PveError::new(
                PveErrorKind::Transient,
                None,
                "task still running",
            )),
        }
    }
}

/// A VM's usage as `status/current` gives it: CPU and memory now, network and disk as counters
/// since the VM started.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct VmUsage {
    /// `running` or `stopped`.
    #[serde(default)]
    pub status: String,
    /// CPU use, a fraction of the VM's cores (0.0 to 1.0).
    #[serde(default)]
    pub cpu: f64,
    #[serde(default)]
    pub mem: u64,
    #[serde(default)]
    pub maxmem: u64,
    #[serde(default)]
    pub netin: u64,
    #[serde(default)]
    pub netout: u64,
    #[serde(default)]
    pub diskread: u64,
    #[serde(default)]
    pub diskwrite: u64,
}

/// A VM snapshot as `GET …/snapshot` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct Snapshot {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Unix time it was taken.
    #[serde(default)]
    pub snaptime: Option<i64>,
    #[serde(default)]
    pub parent: Option<String>,
    /// Set while a snapshot is being made or deleted (`prepare`, `delete`); left behind by an
    /// interrupted task.
    #[serde(default)]
    pub snapstate: Option<String>,
}

/// A console ticket from `vncproxy`; `Debug` hides the ticket and the password.
pub struct VncTicket {
    /// The VNC port on the node the websocket attaches to.
    pub port: String,
    /// `PVEVNC:…`, good for one websocket connection within about 40 seconds.
    pub ticket: SecretString,
    /// The generated VNC password of this session (RFB's VNC authentication); older PVE
    /// without one takes the ticket itself.
    pub password: Option<SecretString>,
}

impl VncTicket {
    /// The secret the VNC server's challenge is answered with.
    pub fn vnc_password(&self) -> &str {
        self.password
            .as_ref()
            .unwrap_or(&self.ticket)
            .expose_secret()
    }
}

impl fmt::Debug for VncTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VncTicket")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// A VM's console: a websocket carrying RFB, from [`ProxmoxClient::vnc_websocket`].
pub type VncStream = tokio_tungstenite::WebSocketStream<reqwest::Upgraded>;

#[derive(Deserialize)]
struct RawVncTicket {
    port: Value,
    ticket: String,
    #[serde(default)]
    password: Option<String>,
}

/// Lines fetched from a task log before keeping its tail (provisioning logs are short).
const LOG_FETCH_LIMIT: u32 = 10_000;

#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

#[derive(Deserialize)]
struct VersionInfo {
    version: String,
}

#[derive(Deserialize)]
struct RawTaskStatus {
    status: String,
    #[serde(default)]
    exitstatus: Option<String>,
}

#[derive(Deserialize)]
struct LogLine {
    t: String,
}

impl ProxmoxClient {
    /// A client for `config`; an unusable URL, token or PEM is a [`PveErrorKind::Invalid`] error.
    pub fn new(config: ClientConfig) -> Result<Self, PveError> {
        let base = api_base(&config.api_url)?;
        let mut auth = HeaderValue::from_str(&format!(
            "PVEAPIToken={}={}",
            config.token_id,
            config.token_secret.expose_secret()
        ))
        .map_err(|_| {
            PveError::invalid("the API token id or secret holds characters a header cannot carry")
        })?;
        auth.set_sensitive(true);
        let mut builder = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(concat!("nextgenrdp/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &config.ca_pem {
            builder = builder.tls_built_in_root_certs(false);
            for cert in pinned_certificates(pem)? {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder.build().map_err(|e| {
            PveError::invalid(format!("cannot build the HTTP client: {}", error_chain(&e)))
        })?;
        let token_id = config.token_id;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base,
                token_id,
                auth,
            }),
        })
    }

    /// The PVE version (`GET /version`); doubles as a connection and token check.
    pub async fn version(&self) -> Result<String, PveError> {
        let info: VersionInfo = self.call(Method::GET, &["version"], &[], None).await?;
        Ok(info.version)
    }

    /// The VM's current config, or `None` when the VM does not exist. PVE masks `cipassword`.
    pub async fn vm_config(
        &self,
        node: &str,
        vmid: u32,
    ) -> Result<Option<Map<String, Value>>, PveError> {
        let vmid = vmid.to_string();
        let path = ["nodes", node, "qemu", &vmid, "config"];
        found(self.call(Method::GET, &path, &[], None).await)
    }

    /// The VM's state, or `None` when the VM does not exist.
    pub async fn vm_status(&self, node: &str, vmid: u32) -> Result<Option<VmStatus>, PveError> {
        let vmid = vmid.to_string();
        let path = ["nodes", node, "qemu", &vmid, "status", "current"];
        found(self.call(Method::GET, &path, &[], None).await)
    }

    /// Clones `template` into `req.newid`. A taken id is [`PveErrorKind::AlreadyExists`]; disk
    /// copy errors show only in the task.
    pub async fn clone_vm(
        &self,
        node: &str,
        template: u32,
        req: &CloneRequest<'_>,
    ) -> Result<Upid, PveError> {
        if req.storage.is_some() && !req.full {
            return Err(PveError::invalid(
                "a target storage is only allowed for full clones",
            ));
        }
        let mut body = json!({ "newid": req.newid, "name": req.name, "full": u8::from(req.full) });
        if let Some(description) = req.description {
            body["description"] = json!(description);
        }
        if let Some(storage) = req.storage {
            body["storage"] = json!(storage);
        }
        let template = template.to_string();
        let path = ["nodes", node, "qemu", &template, "clone"];
        self.call(Method::POST, &path, &[], Some(&body)).await
    }

    /// Sets config options with the asynchronous `POST …/config`: a UPID to wait for, or `None`
    /// when PVE applied them at once. A held config lock fails the *task* (`can't lock file`).
    pub async fn update_config(
        &self,
        node: &str,
        vmid: u32,
        params: &[(&str, String)],
    ) -> Result<Option<Upid>, PveError> {
        let body: Map<String, Value> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
            .collect();
        let vmid = vmid.to_string();
        let path = ["nodes", node, "qemu", &vmid, "config"];
        self.call(Method::POST, &path, &[], Some(&Value::Object(body)))
            .await
    }

    /// Grows `disk` (`scsi0`) to `size` (`40G`, or `+10G`); PVE cannot shrink. Older PVE answers
    /// `null` instead of a UPID.
    pub async fn resize_disk(
        &self,
        node: &str,
        vmid: u32,
        disk: &str,
        size: &str,
    ) -> Result<Option<Upid>, PveError> {
        let body = json!({ "disk": disk, "size": size });
        let vmid = vmid.to_string();
        let path = ["nodes", node, "qemu", &vmid, "resize"];
        self.call(Method::PUT, &path, &[], Some(&body)).await
    }

    /// Starts, stops, shuts down, reboots or resets the VM; the outcome is the task's.
    pub async fn power(
        &self,
        node: &str,
        vmid: u32,
        action: PowerAction,
    ) -> Result<Upid, PveError> {
        let vmid = vmid.to_string();
        let path = ["nodes", node, "qemu", &vmid, "status", action.as_str()];
        self.call(Method::POST, &path, &[], Some(&json!({}))).await
    }

    /// Destroys the VM with its disks and its mentions in jobs and HA. A running VM is refused
    /// (500 `VM … is running - destroy failed`, [`PveErrorKind::Transient`]); a missing one is
    /// [`PveErrorKind::NotFound`], which a terminate step may count as done.
    pub async fn delete_vm(&self, node: &str, vmid: u32) -> Result<Upid, PveError> {
        let vmid = vmid.to_string();
        let path = ["nodes", node, "qemu", &vmid];
        let query = [("purge", "1"), ("destroy-unreferenced-disks", "1")];
        self.call(Method::DELETE, &path, &query, None).await
    }

    /// Sets a guest user's password through the QEMU guest agent. Without a running agent PVE
    /// answers 500 `QEMU guest agent is not running` ([`PveErrorKind::Transient`]: retry later).
    pub async fn set_user_password(
        &self,
        node: &str,
        vmid: u32,
        username: &str,
        password: &str,
    ) -> Result<(), PveError> {
        let body = json!({ "username": username, "password": password });
        let vmid = vmid.to_string();
        let path = ["nodes", node, "qemu", &vmid, "agent", "set-user-password"];
        let _: Value = self.call(Method::POST, &path, &[], Some(&body)).await?;
        Ok(())
    }

    /// A config key's value as the VM will run it: a change waiting in `pending` (one the node
    /// could not apply to the running VM), else the current value; `None` when unset.
    pub async fn vm_effective(
        &self,
        node: &str,
        vmid: u32,
        key: &str,
    ) -> Result<Option<String>, PveError> {
        #[derive(Deserialize)]
        struct Item {
            key: String,
            value: Option<Value>,
            pending: Option<Value>,
            delete: Option<Value>,
        }
        let vmid = vmid.to_string();
        let path = ["nodes", node, "qemu", &vmid, "pending"];
        let items: Vec<Item> = self.call(Method::GET, &path, &[], None).await?;
        let text = |v: Value| match v {
            Value::String(s) => s,
            other => other.to_string(),
        };
        Ok(items.into_iter().find(|i| i.key == key).and_then(|i| {
            if i.delete.is_some() {
                None
            } else {
                i.pending.or(i.value).map(text)
            }
        }))
    }

    /// The VM's usage counters from `status/current`, or `None` when the VM does not exist.
    pub async fn vm_usage(&self, node: &str, vmid: u32) -> Result<Option<VmUsage>, PveError> {
        let vmid = vmid.to_string();
        let path = ["nodes", node, "qemu", &vmid, "status", "current"];
        found(self.call(Method::GET, &path, &[], None).await)
    }

    /// The VM's snapshots, oldest first (PVE's `current` pseudo-entry left out).
    pub async fn list_snapshots(&self, node: &str, vmid: u32) -> Result<Vec<Snapshot>, PveError> {
        let vmid = vmid.to_string();
        let path = ["nodes", node, "qemu", &vmid, "snapshot"];
        let mut list: Vec<Snapshot> = self.call(Method::GET, &path, &[], None).await?;
        list.retain(|s| s.name != "current");
        list.sort_by_key(|s| s.snaptime.unwrap_or(0));
        Ok(list)
    }

    /// Takes a disk snapshot named `name` (no RAM state); the outcome is the task's.
    pub async fn create_snapshot(
        &self,
        node: &str,
        vmid: u32,
        name: &str,
        description: &str,
    ) -> Result<Upid, PveError> {
        let vmid = vmid.to_string();
        let path = ["nodes", node, "qemu", &vmid, "snapshot"];
        let body = json!({ "snapname": name, "description": description, "vmstate": 0 });
        self.call(Method::POST, &path, &[], Some(&body)).await
    }

    /// Rolls the VM back to snapshot `name` (it is left stopped); the outcome is the task's.
    pub async fn rollback_snapshot(
        &self,
        node: &str,
        vmid: u32,
        name: &str,
    ) -> Result<Upid, PveError> {
        let vmid = vmid.to_string();
        let path = ["nodes", node, "qemu", &vmid, "snapshot", name, "rollback"];
        self.call(Method::POST, &path, &[], Some(&json!({}))).await
    }

    /// Deletes snapshot `name`; the outcome is the task's.
    pub async fn delete_snapshot(
        &self,
        node: &str,
        vmid: u32,
        name: &str,
    ) -> Result<Upid, PveError> {
        let vmid = vmid.to_string();
        let path = ["nodes", node, "qemu", &vmid, "snapshot", name];
        self.call(Method::DELETE, &path, &[], None).await
    }

    /// A VNC console ticket for the VM (`POST …/vncproxy` with `websocket=1` and a generated
    /// one-session password): the port and ticket [`ProxmoxClient::vnc_websocket`] needs.
    pub async fn vnc_proxy(&self, node: &str, vmid: u32) -> Result<VncTicket, PveError> {
        let vmid = vmid.to_string();
        let path = ["nodes", node, "qemu", &vmid, "vncproxy"];
        let body = json!({ "websocket": 1, "generate-password": 1 });
        let raw: RawVncTicket = self.call(Method::POST, &path, &[], Some(&body)).await?;
        let port = match raw.port {
            Value::String(port) => port,
            Value::Number(port) => port.to_string(),
            other => return Err(PveError::invalid(format!("vncproxy gave port {other}"))),
        };
        Ok(VncTicket {
            port,
            ticket: SecretString::from(raw.ticket),
            password: raw.password.map(SecretString::from),
        })
    }

    /// Opens the VM's console websocket (`GET …/vncwebsocket`) with a ticket from
    /// [`ProxmoxClient::vnc_proxy`], over this client's connection settings (the pinned
    /// certificate, the token). The stream carries RFB; the ticket is good for one connection.
    pub async fn vnc_websocket(
        &self,
        node: &str,
        vmid: u32,
        ticket: &VncTicket,
    ) -> Result<VncStream, PveError> {
        use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
        let vmid = vmid.to_string();
        let what = format!("GET /nodes/{node}/qemu/{vmid}/vncwebsocket");
        let path = ["nodes", node, "qemu", &vmid, "vncwebsocket"];
        let query = [
            ("port", ticket.port.as_str()),
            ("vncticket", ticket.ticket.expose_secret()),
        ];
        let url = self.endpoint(&path, &query)?;
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).map_err(|e| PveError::invalid(e.to_string()))?;
        let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, nonce);
        let response = self
            .inner
            .http
            .get(url)
            .header(AUTHORIZATION, self.inner.auth.clone())
            .header(reqwest::header::CONNECTION, "Upgrade")
            .header(reqwest::header::UPGRADE, "websocket")
            .header(reqwest::header::SEC_WEBSOCKET_VERSION, "13")
            .header(reqwest::header::SEC_WEBSOCKET_KEY, &key)
            .header(reqwest::header::SEC_WEBSOCKET_PROTOCOL, "binary")
            .send()
            .await
            .map_err(|e| transport_error(&what, &e))?;
        let status = response.status();
        if status != StatusCode::SWITCHING_PROTOCOLS {
            let reason = reason_phrase(&response);
            let bytes = response.bytes().await.unwrap_or_default();
            return Err(response_error(&what, status, reason.as_deref(), &bytes));
        }
        let accepted = response
            .headers()
            .get(reqwest::header::SEC_WEBSOCKET_ACCEPT)
            .and_then(|v| v.to_str().ok());
        if accepted != Some(derive_accept_key(key.as_bytes()).as_str()) {
            return Err(PveError::new(
                PveErrorKind::Invalid,
                Some(101),
                format!("{what}: the websocket handshake's accept key is wrong"),
            ));
        }
        let upgraded = response
            .upgrade()
            .await
            .map_err(|e| transport_error(&what, &e))?;
        Ok(tokio_tungstenite::WebSocketStream::from_raw_socket(
            upgraded,
            tokio_tungstenite::tungstenite::protocol::Role::Client,
            None,
        )
        .await)
    }

    /// The task's state, asked of the node named in the UPID.
    pub async fn task_status(&self, upid: &Upid) -> Result<TaskStatus, PveError> {
        let path = ["nodes", upid.node(), "tasks", upid.as_str(), "status"];
        let raw: RawTaskStatus = self.call(Method::GET, &path, &[], None).await?;
        Ok(TaskStatus {
            running: raw.status == "running",
            exitstatus: raw.exitstatus,
        })
    }

    /// The last `lines` lines of the task's log (e.g. `TASK ERROR: …`), to keep for support.
    pub async fn task_log_tail(&self, upid: &Upid, lines: u32) -> Result<Vec<String>, PveError> {
        let path = ["nodes", upid.node(), "tasks", upid.as_str(), "log"];
        let limit = LOG_FETCH_LIMIT.to_string();
        let query = [("start", "0"), ("limit", limit.as_str())];
        let log: Vec<LogLine> = self.call(Method::GET, &path, &query, None).await?;
        let skip = log.len().saturating_sub(lines as usize);
        Ok(log.into_iter().skip(skip).map(|line| line.t).collect())
    }

    /// Polls the task every `poll_every` until it stops or `timeout` passes. Only exit status
    /// `OK` is success. Transient errors while polling are retried until the timeout; others
    /// end the wait.
    pub async fn wait_task(
        &self,
        upid: &Upid,
        timeout: Duration,
        poll_every: Duration,
    ) -> Result<TaskOutcome, PveError> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.task_status(upid).await {
                Ok(status) if !status.running => return Ok(outcome(status)),
                Ok(_) => {}
                Err(e) if e.kind == PveErrorKind::Transient => {
                    tracing::warn!(upid = %upid, error = %e, "polling a Proxmox task failed; trying again");
                }
                Err(e) => return Err(e),
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(TaskOutcome::StillRunning);
            }
            tokio::time::sleep(poll_every.min(deadline - now)).await;
        }
    }

    /// One API call: builds the URL, sends, and unwraps `{"data": …}` or classifies the error.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<T, PveError> {
        let what = format!("{method} /{}", segments.join("/"));
        let url = self.endpoint(segments, query)?;
        tracing::debug!(request = %what, "proxmox API call");
        let mut request = self
            .inner
            .http
            .request(method, url)
            .header(AUTHORIZATION, self.inner.auth.clone());
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(&what, &e))?;
        let status = response.status();
        let reason = reason_phrase(&response);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport_error(&what, &e))?;
        if !status.is_success() {
            return Err(response_error(&what, status, reason.as_deref(), &bytes));
        }
        serde_json::from_slice::<Envelope<T>>(&bytes)
            .map(|envelope| envelope.data)
            .map_err(|e| {
                PveError::new(
                    PveErrorKind::Invalid,
                    Some(status.as_u16()),
                    format!("{what}: unexpected answer: {e}"),
                )
            })
    }

    fn endpoint(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url, PveError> {
        let mut url = self.inner.base.clone();
        url.path_segments_mut()
            .map_err(|()| PveError::invalid("the API URL cannot take a path"))?
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }
}

/// The API root of `api_url`, ending in `/api2/json`.
fn api_base(api_url: &str) -> Result<Url, PveError> {
    let mut url = Url::parse(api_url.trim())
        .map_err(|e| PveError::invalid(format!("invalid Proxmox API URL {api_url:?}: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") || url.cannot_be_a_base() {
        return Err(PveError::invalid(format!(
            "the Proxmox API URL must be https://host:port, not {api_url:?}"
        )));
    }
    let path = url.path().trim_end_matches('/').to_owned();
    if path.ends_with("/api2/json") {
        url.set_path(&path);
    } else {
        url.set_path(&format!("{path}/api2/json"));
    }
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

fn pinned_certificates(pem: &str) -> Result<Vec<reqwest::Certificate>, PveError> {
    let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|e| {
        PveError::invalid(format!(
            "the pinned Proxmox certificate is not valid PEM: {}",
            error_chain(&e)
        ))
    })?;
    if certs.is_empty() {
        return Err(PveError::invalid(
            "the pinned Proxmox certificate holds no PEM certificate",
        ));
    }
    Ok(certs)
}

/// `None` for a [`PveErrorKind::NotFound`] error, the value otherwise.
fn found<T>(result: Result<T, PveError>) -> Result<Option<T>, PveError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.kind == PveErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn outcome(status: TaskStatus) -> TaskOutcome {
    match status.exitstatus {
        Some(exit) if exit == "OK" => TaskOutcome::Ok,
        Some(exit) => TaskOutcome::Failed(exit),
        None => TaskOutcome::Failed("task stopped without an exit status".to_owned()),
    }
}

/// The response's reason phrase when it is not the standard one for its status: older PVE puts
/// its error text only there. reqwest keeps hyper's `ReasonPhrase` extension private but shows it
/// in the Display of `error_for_status_ref`, `HTTP status server error (500 <phrase>)`.
fn reason_phrase(response: &reqwest::Response) -> Option<String> {
    let status = response.status();
    let shown = response
        .error_for_status_ref()
        .err()?
        .without_url()
        .to_string();
    let start = shown.find(&format!("({} ", status.as_str()))? + status.as_str().len() + 2;
    let phrase = unescape(shown.get(start..)?.strip_suffix(')')?);
    (Some(phrase.as_str()) != status.canonical_reason()).then_some(phrase)
}

/// Undoes reqwest's escaping of `\` and `"` in a reason phrase.
fn unescape(text: &str) -> String {
    text.replace("\\\"", "\"").replace("\\\\", "\\")
}

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    errors: Option<Map<String, Value>>,
}

/// The classified error for a non-2xx answer: PVE's message from the body (newer PVE), else the
/// reason phrase (older PVE), plus the per-field `errors` of a 400.
fn response_error(what: &str, status: StatusCode, reason: Option<&str>, body: &[u8]) -> PveError {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let message = parsed
        .message
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty())
        .or_else(|| reason.map(str::to_owned))
        .or_else(|| status.canonical_reason().map(str::to_owned))
        .unwrap_or_else(|| "error".to_owned());
    let fields: Vec<String> = parsed
        .errors
        .unwrap_or_default()
        .iter()
        .map(|(field, text)| {
            format!(
                "{field}: {}",
                text.as_str()
                    .map_or_else(|| text.to_string(), |t| t.trim().to_owned())
            )
        })
        .collect();
    let text = if fields.is_empty() {
        message
    } else {
        format!("{message} ({})", fields.join("; "))
    };
    let kind = classify(status.as_u16(), &text);
    PveError::new(kind, Some(status.as_u16()), format!("{what}: {text}"))
}

/// The kind of an HTTP error from its status and text (message, reason phrase, field errors).
fn classify(status: u16, text: &str) -> PveErrorKind {
    match status {
        401 | 403 => PveErrorKind::Auth,
        595 => PveErrorKind::Transient,
        _ => classify_text(text).unwrap_or(match status {
            408 | 429 => PveErrorKind::Transient,
            501 => PveErrorKind::Invalid,
            500..=599 => PveErrorKind::Transient,
            _ => PveErrorKind::Invalid,
        }),
    }
}

/// The kind PVE's wording names, if any: shared by HTTP errors and failed tasks.
fn classify_text(text: &str) -> Option<PveErrorKind> {
    let text = text.to_lowercase();
    let has = |needle: &str| text.contains(needle);
    if has("already exists") || has("already running") {
        Some(PveErrorKind::AlreadyExists)
    } else if has("can't lock file") || has("is locked") || has("got timeout") {
        Some(PveErrorKind::Locked)
    } else if has("does not exist") {
        Some(PveErrorKind::NotFound)
    } else {
        None
    }
}

/// A failure to reach PVE or read its answer: transient, unless the request itself was unbuildable.
fn transport_error(what: &str, err: &reqwest::Error) -> PveError {
    let kind = if err.is_builder() {
        PveErrorKind::Invalid
    } else {
        PveErrorKind::Transient
    };
    let why = if err.is_timeout() {
        "timed out".to_owned()
    } else {
        error_chain(err)
    };
    PveError::new(kind, None, format!("{what}: {why}"))
}

/// An error and its causes, `a: b: c` (reqwest hides the useful part in the sources).
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A cloud-init `ipconfigN` value: `ip=203.0.113.10/24,gw=203.0.113.1` (`ip6=`/`gw6=` for IPv6,
/// each key by its own address family).
pub fn ipconfig(address: IpAddr, prefix: u8, gateway: IpAddr) -> String {
    let ip_key = if address.is_ipv6() { "ip6" } else { "ip" };
    let gw_key = if gateway.is_ipv6() { "gw6" } else { "gw" };
    format!("{ip_key}={address}/{prefix},{gw_key}={gateway}")
}

/// `sshkeys` as PVE wants it inside the request: percent-encoded with only
/// `[-a-zA-Z0-9_.!~*'()]` left as is (space is `%20`, never `+`; newlines between keys `%0A`).
pub fn encode_sshkeys(keys: &str) -> String {
    let mut out = String::with_capacity(keys.len() * 3);
    for byte in keys.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    const UPID: &str = "UPID:pve1:000003E8:00001B58:6B05DFF9:qmclone:9000:billing@pve!provisioner:";
    const SECRET: &str = "0b1c2d3e-secret-never-shown";

    fn config(api_url: &str) -> ClientConfig {
        ClientConfig {
            api_url: api_url.to_owned(),
            token_id: "billing@pve!provisioner".to_owned(),
            token_secret: SecretString::from(SECRET),
            ca_pem: None,
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn the_classifier_reads_pve_wording_and_status_codes() {
        use PveErrorKind::*;
        let cases = [
            (401, "authentication failure", Auth),
            (403, "Permission check failed (/vms/101, VM.Allocate)", Auth),
            (
                400,
                "Parameter verification failed. (newid: VM 101 already exists)",
                AlreadyExists,
            ),
            (
                500,
                "unable to create VM 101: config file already exists",
                AlreadyExists,
            ),
            (
                500,
                "can't lock file '/var/lock/qemu-server/lock-203.conf' - got timeout",
                Locked,
            ),
            (500, "VM is locked (clone)", Locked),
            (
                500,
                "Configuration file 'nodes/pve1/qemu-server/555.conf' does not exist",
                NotFound,
            ),
            (
                400,
                "Parameter verification failed. (ipconfig0: invalid format)",
                Invalid,
            ),
            (
                501,
                "Method 'GET /nodes/pve2//12/config' not implemented",
                Invalid,
            ),
            (500, "QEMU guest agent is not running", Transient),
            (500, "VM 101 is running - destroy failed", Transient),
            (502, "Bad Gateway", Transient),
            (595, "No route to host", Transient),
            (429, "Too Many Requests", Transient),
            (404, "Not Found", Invalid),
        ];
        for (status, text, kind) in cases {
            assert_eq!(classify(status, text), kind, "{status} {text}");
        }
    }

    #[test]
    fn task_failures_are_classified_by_their_text() {
        let running = PveError::from_task_failure("VM 101 already running");
        assert_eq!(running.kind, PveErrorKind::AlreadyExists);
        let locked = PveError::from_task_failure(
            "can't lock file '/var/lock/qemu-server/lock-101.conf' - got timeout",
        );
        assert!(locked.is_retryable());
        let full = PveError::from_task_failure(
            "clone failed: unable to write to storage 'local-lvm': No space left on device",
        );
        assert_eq!(full.kind, PveErrorKind::Invalid);
        assert_eq!(
            full.to_string(),
            "proxmox: task failed: clone failed: unable to write to storage 'local-lvm': No space left on device"
        );
        assert_eq!(TaskOutcome::Ok.into_result(), Ok(()));
        assert!(
            TaskOutcome::StillRunning
                .into_result()
                .is_err_and(|e| e.is_retryable())
        );
    }

    #[test]
    fn errors_display_their_status_and_only_the_retryable_kinds_retry() {
        let e = PveError::new(PveErrorKind::Locked, Some(500), "POST /x: locked");
        assert_eq!(e.to_string(), "proxmox: POST /x: locked (HTTP 500)");
        assert!(e.is_retryable());
        let e = PveError::new(PveErrorKind::NotFound, None, "gone");
        assert_eq!(e.to_string(), "proxmox: gone");
        assert!(!e.is_retryable());
    }

    #[test]
    fn upids_parse_in_pve_format_and_name_their_node() {
        let upid: Upid = UPID.parse().expect("a valid UPID");
        assert_eq!(upid.node(), "pve1");
        assert_eq!(upid.task_type(), "qmclone");
        assert_eq!(upid.to_string(), UPID);
        let empty_id: Upid = "UPID:node-2:0001A2B3:1234ABCDE:6B05DFF9:vzdump::root@pam:"
            .parse()
            .expect("valid");
        assert_eq!(empty_id.node(), "node-2");
        let json = serde_json::to_string(&upid).expect("serialises");
        assert_eq!(
            serde_json::from_str::<Upid>(&json).expect("deserialises"),
            upid
        );
    }

    #[test]
    fn malformed_upids_are_refused() {
        for bad in [
            "",
            "UPID:pve1:000003E8:00001B58:6B05DFF9:qmclone:9000:root@pam",
            "UPID:pve1:000003E8:00001B58:6B05DFF9:qmclone:9000:root@pam:extra:",
            "TASK:pve1:000003E8:00001B58:6B05DFF9:qmclone:9000:root@pam:",
            "UPID:pve1:3E8:00001B58:6B05DFF9:qmclone:9000:root@pam:",
            "UPID:pve1:000003G8:00001B58:6B05DFF9:qmclone:9000:root@pam:",
            "UPID::000003E8:00001B58:6B05DFF9:qmclone:9000:root@pam:",
            "UPID:pve 1:000003E8:00001B58:6B05DFF9:qmclone:9000:root@pam:",
            "UPID:pve1:000003E8:00001B58:6B05DFF9::9000:root@pam:",
        ] {
            assert!(
                bad.parse::<Upid>()
                    .is_err_and(|e| e.kind == PveErrorKind::Invalid),
                "{bad:?}"
            );
        }
        assert!(serde_json::from_str::<Upid>("\"not a upid\"").is_err());
    }

    #[test]
    fn ipconfig_writes_cidr_and_gateway_per_family() {
        let v4 = ipconfig(
            "203.0.113.10".parse().expect("ip"),
            24,
            "203.0.113.1".parse().expect("ip"),
        );
        assert_eq!(v4, "ip=203.0.113.10/24,gw=203.0.113.1");
        let v6 = ipconfig(
            "2001:db8::10".parse().expect("ip"),
            64,
            "2001:db8::1".parse().expect("ip"),
        );
        assert_eq!(v6, "ip6=2001:db8::10/64,gw6=2001:db8::1");
    }

    #[test]
    fn sshkeys_are_encoded_as_pve_demands() {
        let keys = "ssh-ed25519 AAAAC3Nz+a/b= user@host\nssh-rsa AAA:B~*'()!_.- x";
        assert_eq!(
            encode_sshkeys(keys),
            "ssh-ed25519%20AAAAC3Nz%2Ba%2Fb%3D%20user%40host%0Assh-rsa%20AAA%3AB~*'()!_.-%20x"
        );
        assert_eq!(encode_sshkeys("é"), "%C3%A9");
    }

    #[test]
    fn the_api_url_gets_its_api2_json_root_once() {
        for given in [
            "https://10.0.0.2:8006",
            "https://10.0.0.2:8006/",
            "https://10.0.0.2:8006/api2/json/",
        ] {
            assert_eq!(
                api_base(given).expect("valid").as_str(),
                "https://10.0.0.2:8006/api2/json",
                "{given}"
            );
        }
        for bad in ["10.0.0.2:8006", "ftp://10.0.0.2", "not a url"] {
            assert!(
                api_base(bad).is_err_and(|e| e.kind == PveErrorKind::Invalid),
                "{bad}"
            );
        }
    }

    #[test]
    fn new_refuses_a_bad_url_or_pem_and_debug_hides_the_secret() {
        assert!(ProxmoxClient::new(config("nope")).is_err_and(|e| e.kind == PveErrorKind::Invalid));
        let mut bad_pem = config("https://10.0.0.2:8006");
        bad_pem.ca_pem = Some("not a certificate".to_owned());
        assert!(ProxmoxClient::new(bad_pem).is_err_and(|e| e.kind == PveErrorKind::Invalid));
        let client = ProxmoxClient::new(config("https://10.0.0.2:8006")).expect("client");
        let shown = format!("{client:?} {:?}", config("https://x"));
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(shown.contains("billing@pve!provisioner"));
    }

    /// Raw requests a [`stub`] received, head and body.
    type Seen = Arc<Mutex<Vec<String>>>;

    /// An HTTP/1.1 server answering the n-th connection with `answers[n]` (the last one repeats),
    /// written byte for byte so a reason phrase can be PVE's own.
    async fn stub(answers: Vec<(&'static str, &'static str)>) -> (String, Seen) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let seen = Seen::default();
        let log = seen.clone();
        tokio::spawn(async move {
            for n in 0.. {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let request = read_request(&mut socket).await;
                log.lock().expect("log").push(request);
                let (status_line, body) = answers[n.min(answers.len() - 1)];
                let response = format!(
                    "HTTP/1.1 {status_line}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            }
        });
        (url, seen)
    }

    async fn read_request(socket: &mut tokio::net::TcpStream) -> String {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap_or(0))
                    })
                    .unwrap_or(0usize);
                if buf.len() >= end + 4 + length {
                    return text;
                }
            }
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return String::from_utf8_lossy(&buf).to_string(),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    async fn client_for(answers: Vec<(&'static str, &'static str)>) -> (ProxmoxClient, Seen) {
        let (url, seen) = stub(answers).await;
        (ProxmoxClient::new(config(&url)).expect("client"), seen)
    }

    #[tokio::test]
    async fn a_success_envelope_is_unwrapped_and_the_token_header_sent() {
        let (client, seen) = client_for(vec![(
            "200 OK",
            r#"{"data":{"version":"9.0.10","release":"9.0"}}"#,
        )])
        .await;
        assert_eq!(client.version().await.expect("version"), "9.0.10");
        let request = seen.lock().expect("seen")[0].to_lowercase();
        assert!(
            request.starts_with("get /api2/json/version http/1.1"),
            "{request}"
        );
        assert!(request.contains(&format!(
            "authorization: pveapitoken=billing@pve!provisioner={SECRET}"
        )));
    }

    #[tokio::test]
    async fn an_error_told_only_in_the_reason_phrase_is_classified() {
        let (client, _) = client_for(vec![(
            "500 unable to create VM 101: config file already exists",
            r#"{"data":null}"#,
        )])
        .await;
        let req = CloneRequest {
            newid: 101,
            name: "vps-101",
            description: None,
            storage: None,
            full: true,
        };
        let err = client
            .clone_vm("pve1", 9000, &req)
            .await
            .expect_err("refused");
        assert_eq!(err.kind, PveErrorKind::AlreadyExists);
        assert_eq!(err.status, Some(500));
        assert_eq!(
            err.to_string(),
            "proxmox: POST /nodes/pve1/qemu/9000/clone: unable to create VM 101: config file already exists (HTTP 500)"
        );
    }

    #[tokio::test]
    async fn a_lock_timeout_in_the_reason_phrase_is_retryable() {
        let phrase = "500 can't lock file '/var/lock/qemu-server/lock-203.conf' - got timeout";
        let (client, _) = client_for(vec![(phrase, r#"{"data":null}"#)]).await;
        let err = client
            .update_config("pve1", 203, &[("cores", "2".to_owned())])
            .await
            .expect_err("locked");
        assert_eq!(err.kind, PveErrorKind::Locked);
        assert!(err.is_retryable());
    }

    #[tokio::test]
    async fn field_errors_of_a_400_are_read_from_the_body() {
        let body = r#"{"data":null,"errors":{"newid":"VM 101 already exists"}}"#;
        let (client, _) = client_for(vec![("400 Parameter verification failed.", body)]).await;
        let req = CloneRequest {
            newid: 101,
            name: "vps-101",
            description: None,
            storage: None,
            full: true,
        };
        let err = client
            .clone_vm("pve1", 9000, &req)
            .await
            .expect_err("refused");
        assert_eq!(err.kind, PveErrorKind::AlreadyExists);
        assert!(
            err.message
                .ends_with("Parameter verification failed. (newid: VM 101 already exists)"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_missing_vm_reads_as_none() {
        let body = r#"{"data":null,"message":"Configuration file 'nodes/pve1/qemu-server/555.conf' does not exist\n"}"#;
        let (client, _) = client_for(vec![("500 Configuration file does not exist", body)]).await;
        assert_eq!(client.vm_config("pve1", 555).await.expect("answer"), None);
        assert_eq!(client.vm_status("pve1", 555).await.expect("answer"), None);
    }

    #[tokio::test]
    async fn a_refused_token_is_auth_and_the_secret_stays_out_of_the_error() {
        let (client, _) =
            client_for(vec![("401 authentication failure", r#"{"data":null}"#)]).await;
        let err = client.version().await.expect_err("refused");
        assert_eq!(err.kind, PveErrorKind::Auth);
        assert!(!format!("{err} {err:?}").contains(SECRET));
    }

    #[tokio::test]
    async fn an_offline_node_and_a_proxy_page_are_transient() {
        let (client, _) = client_for(vec![
            ("595 No route to host", ""),
            ("502 Bad Gateway", "<html>bad gateway</html>"),
        ])
        .await;
        let offline = client.vm_status("pve2", 101).await.expect_err("offline");
        assert_eq!(
            (offline.kind, offline.status),
            (PveErrorKind::Transient, Some(595))
        );
        assert!(offline.message.contains("No route to host"), "{offline}");
        let proxy = client.vm_status("pve2", 101).await.expect_err("proxy");
        assert_eq!(
            (proxy.kind, proxy.status),
            (PveErrorKind::Transient, Some(502))
        );
        assert!(proxy.message.ends_with("Bad Gateway"), "{proxy}");
    }

    #[tokio::test]
    async fn an_unreachable_or_silent_node_is_transient() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let closed = ProxmoxClient::new(config(&format!("http://{addr}"))).expect("client");
        assert!(
            closed
                .version()
                .await
                .is_err_and(|e| e.kind == PveErrorKind::Transient)
        );

        let silent = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let mut cfg = config(&format!("http://{}", silent.local_addr().expect("addr")));
        cfg.timeout = Duration::from_millis(200);
        let err = ProxmoxClient::new(cfg)
            .expect("client")
            .version()
            .await
            .expect_err("timeout");
        assert_eq!(err.kind, PveErrorKind::Transient);
        assert!(err.message.ends_with("timed out"), "{err}");
    }

    #[tokio::test]
    async fn delete_purges_and_task_calls_go_to_the_upids_node() {
        let upid = "UPID:pve2:000003E8:00001B58:6B05DFF9:qmdestroy:101:billing@pve!provisioner:";
        let running = r#"{"data":{"status":"running"}}"#;
        let failed = r#"{"data":{"status":"stopped","exitstatus":"VM is locked (backup)"}}"#;
        let (client, seen) = client_for(vec![
            ("200 OK", r#"{"data":"UPID:pve2:000003E8:00001B58:6B05DFF9:qmdestroy:101:billing@pve!provisioner:"}"#),
            ("200 OK", running),
            ("200 OK", failed),
        ])
        .await;
        let got = client.delete_vm("pve1", 101).await.expect("upid");
        assert_eq!(got.as_str(), upid);
        let outcome = client
            .wait_task(&got, Duration::from_secs(5), Duration::from_millis(10))
            .await
            .expect("outcome");
        assert_eq!(
            outcome,
            TaskOutcome::Failed("VM is locked (backup)".to_owned())
        );
        let seen = seen.lock().expect("seen");
        assert!(
            seen[0].starts_with(
                "DELETE /api2/json/nodes/pve1/qemu/101?purge=1&destroy-unreferenced-disks=1 "
            ),
            "{}",
            seen[0]
        );
        assert!(
            seen[1].starts_with(&format!("GET /api2/json/nodes/pve2/tasks/{upid}/status ")),
            "{}",
            seen[1]
        );
    }

    #[tokio::test]
    async fn wait_task_gives_up_on_a_task_that_keeps_running() {
        let (client, _) = client_for(vec![("200 OK", r#"{"data":{"status":"running"}}"#)]).await;
        let upid: Upid = UPID.parse().expect("upid");
        let outcome = client
            .wait_task(&upid, Duration::from_millis(50), Duration::from_millis(10))
            .await;
        assert_eq!(outcome, Ok(TaskOutcome::StillRunning));
    }

    #[tokio::test]
    async fn an_answer_without_the_envelope_is_invalid() {
        let (client, _) = client_for(vec![("200 OK", "<html>login</html>")]).await;
        assert!(
            client
                .version()
                .await
                .is_err_and(|e| e.kind == PveErrorKind::Invalid)
        );
    }

    #[tokio::test]
    async fn a_linked_clone_with_a_target_storage_is_refused_before_sending() {
        let (client, seen) = client_for(vec![("200 OK", "{}")]).await;
        let req = CloneRequest {
            newid: 101,
            name: "vps",
            description: None,
            storage: Some("local-lvm"),
            full: false,
        };
        assert!(
            client
                .clone_vm("pve1", 9000, &req)
                .await
                .is_err_and(|e| e.kind == PveErrorKind::Invalid)
        );
        assert!(seen.lock().expect("seen").is_empty());
    }
}
