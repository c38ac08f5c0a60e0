//! The browser console of a Proxmox-built service: who may open one, the one-time links that
//! open it, the bounds on how many run and for how long, and the watch that closes one when
//! its server stops.
//!
//! A console opens in two steps. [`grant`] (the owner, or an operator) checks the service and
//! hands out a link good for one websocket connection within [`LINK_TTL`], bound to the session
//! that asked; only its hash is stored. [`redeem`] spends the link when the websocket arrives,
//! checks everything again (the session still signed in, the service still active) and writes
//! the `console` line of the service's log. The relay itself (`provisioning::vnc`) then talks
//! to Proxmox; the browser never sees Proxmox, its ticket or the VNC password.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use super::logs;
use super::services::{self, Service};
use crate::accounts::sessions;
use crate::accounts::staff::Permission;
use crate::error::{AppError, AppResult};
use crate::provisioning::Provisioning;
use crate::provisioning::backends::{self, Backend, BackendDriver};
use crate::provisioning::proxmox::{ProxmoxClient, VncStream};
use crate::provisioning::vnc::Bounds;
use crate::secrets;
use crate::services::{ServiceAction, ServiceStatus};

/// How long a console link may wait for its websocket.
pub const LINK_TTL: Duration = Duration::from_secs(60);
/// Consoles one person may have open at once (on one node).
pub const MAX_PER_PERSON: usize = 2;
/// Consoles open at once on one node.
pub const MAX_TOTAL: usize = 20;
/// How long a console stays open: closed after 15 quiet minutes, and after 2 hours whatever.
pub const BOUNDS: Bounds = Bounds {
    idle: Duration::from_secs(15 * 60),
    max: Duration::from_secs(2 * 60 * 60),
};
/// How often an open console checks that its server still runs.
pub const CHECK_EVERY: Duration = Duration::from_secs(15);

/// A console link: the token for the websocket and until when it works.
#[derive(Clone, Debug, Serialize)]
pub struct Link {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// A console link as the API gives it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ConsoleAddress {
    /// The console's websocket (`wss://<shop>/console/socket?token=…`): connect once, before
    /// `expires_at`, with the subprotocol `binary` (noVNC: `new RFB(target, url)`). It carries
    /// RFB 3.8 with security type None: the relay answers the server's password itself. A used
    /// or expired address is refused with 403.
    pub url: String,
    /// When the address stops working if unused (RFC 3339, UTC; a minute after it was made).
    pub expires_at: DateTime<Utc>,
}

impl Link {
    /// The socket's path for this link, relative to the shop.
    pub fn socket_path(&self) -> String {
        format!("/console/socket?token={}", self.token)
    }

    /// The link as the API gives it: an absolute `ws(s)://` address on `public_url`.
    pub fn address(&self, public_url: &str) -> ConsoleAddress {
        let base = public_url.trim_end_matches('/');
        let base = match base.split_once("://") {
            Some(("https", rest)) => format!("wss://{rest}"),
            Some((_, rest)) => format!("ws://{rest}"),
            None => format!("ws://{base}"),
        };
        ConsoleAddress {
            url: format!("{base}{}", self.socket_path()),
            expires_at: self.expires_at,
        }
    }
}

/// A spent link: the console to connect to and who opened it.
#[derive(Debug)]
pub struct Opened {
    pub service_id: i32,
    pub user_id: i32,
    pub backend: Backend,
    pub node: String,
    pub vmid: u32,
}

/// The consoles open on this node, by person, to hold [`MAX_PER_PERSON`] and [`MAX_TOTAL`],
/// and the time bounds they run by. Per node on purpose: a console is a live connection to this
/// process, and a node that dies takes its consoles with it (a count in the database would
/// outlive them).
#[derive(Debug)]
pub struct Slots {
    open: Mutex<HashMap<i32, usize>>,
    /// How long a console stays open ([`BOUNDS`]).
    pub bounds: Bounds,
    /// How often an open console checks its server ([`CHECK_EVERY`]).
    pub check_every: Duration,
}

impl Default for Slots {
    fn default() -> Self {
        Self::new(BOUNDS, CHECK_EVERY)
    }
}

/// One open console's place in [`Slots`]; given back when dropped.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<Slots>,
    user_id: i32,
}

impl Slots {
    /// Places with these bounds (the defaults: [`Slots::default`]).
    pub fn new(bounds: Bounds, check_every: Duration) -> Self {
        Self {
            open: Mutex::default(),
            bounds,
            check_every,
        }
    }

    /// Takes a place for `user_id`, or says why not (409: the person's own limit; 503: the
    /// node's).
    pub fn take(self: &Arc<Self>, user_id: i32) -> AppResult<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        self.check(&open, user_id)?;
        *open.entry(user_id).or_default() += 1;
        Ok(Slot {
            slots: Arc::clone(self),
            user_id,
        })
    }

    /// Whether `user_id` could take a place now (for a link: a refusal before the page).
    pub fn available(&self, user_id: i32) -> AppResult<()> {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        self.check(&open, user_id)
    }

    fn check(&self, open: &HashMap<i32, usize>, user_id: i32) -> AppResult<()> {
        if open.get(&user_id).copied().unwrap_or(0) >= MAX_PER_PERSON {
            return Err(AppError::conflict(
                "console",
                format!(
                    "you have {MAX_PER_PERSON} consoles open already; close one (leave its page) \
                     and try again"
                ),
            ));
        }
        if open.values().sum::<usize>() >= MAX_TOTAL {
            return Err(AppError::Unavailable(
                "every console place is in use right now; try again in a few minutes".into(),
            ));
        }
        Ok(())
    }

    /// Consoles open now.
    pub fn open_count(&self) -> usize {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.values().sum()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.user_id) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.user_id);
            }
        }
    }
}

/// The Proxmox backend and VM of a service whose console can open, or the 409 saying why not.
async fn console_target(
    db: impl sqlx::PgExecutor<'_>,
    service: &Service,
) -> AppResult<(Backend, String, u32)> {
    if service.status != ServiceStatus::Active {
        return Err(AppError::conflict(
            "status",
            format!(
                "service {} is {}; the console opens for an active server",
                service.id, service.status
            ),
        ));
    }
    let backend = match service.backend_id {
        Some(id) => backends::find(db, id).await?,
        None => None,
    };
    let target = backend
        .filter(|b| b.driver == BackendDriver::Proxmox)
        .and_then(|b| {
            let node = b.node.clone()?;
            let vmid = u32::try_from(service.vmid?).ok()?;
            Some((b, node, vmid))
        });
    target.ok_or_else(|| {
        AppError::conflict(
            "service",
            format!(
                "server #{} is run by hand, so it has no browser console; ask us for help \
                 from its page (a support ticket) and we will get you back in",
                service.id
            ),
        )
    })
}

/// A console link for the service, asked by `viewer` in session `session_id`: as its owner
/// (`owner` = the viewer; someone else's service → NotFound) or as an operator (`owner` None).
/// Only an active server built on Proxmox (409 otherwise, saying why).
pub async fn grant(
    db: &PgPool,
    slots: &Slots,
    service_id: i32,
    owner: Option<i32>,
    viewer: i32,
    session_id: i32,
) -> AppResult<Link> {
    let service = match owner {
        Some(owner) => services::find_for_user(db, service_id, owner).await?,
        None => services::find(db, service_id).await?,
    }
    .ok_or(AppError::NotFound("service"))?;
    console_target(db, &service).await?;
    super::reinstall::ensure_idle(db, service.id).await?;
    slots.available(viewer)?;
    let token = secrets::generate();
    let expires_at: DateTime<Utc> = sqlx::query_scalar(
        "insert into console_tokens (token_hash, service_id, user_id, session_id, as_owner,
                                     expires_at)
         values ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))
         returning expires_at",
    )
    .bind(secrets::hash(&token))
    .bind(service.id)
    .bind(viewer)
    .bind(session_id)
    .bind(owner.is_some())
    .bind(LINK_TTL.as_secs_f64())
    .fetch_one(db)
    .await?;
    Ok(Link { token, expires_at })
}

/// The refusal of a link that is unknown, used, expired or no longer its asker's.
fn spent() -> AppError {
    AppError::Forbidden(
        "this console link was used already or has expired; open the console again".into(),
    )
}

/// Spends a console link for the websocket that presents it: once only, within its time, while
/// the session that asked is signed in (an operator's, while still an operator) and the service
/// is still active on Proxmox. Writes the `console` line of the service's log.
pub async fn redeem(db: &PgPool, token: &str) -> AppResult<Opened> {
    let mut tx = db.begin().await?;
    let row: Option<(i32, i32, i32, bool, bool)> = sqlx::query_as(
        "update console_tokens set used_at = now()
         where token_hash = $1 and used_at is null
         returning service_id, user_id, session_id, as_owner, expires_at > now()",
    )
    .bind(secrets::hash(token))
    .fetch_optional(&mut *tx)
    .await?;
    let Some((service_id, user_id, session_id, as_owner, fresh)) = row else {
        return Err(spent());
    };
    if !fresh {
        // Spent all the same: an expired link never works later.
        tx.commit().await?;
        return Err(spent());
    }
    let signed_in = sessions::find_live_user(&mut *tx, session_id)
        .await?
        .filter(|u| u.user.id == user_id && (as_owner || u.user.can(Permission::Credentials)));
    if signed_in.is_none() {
        tx.commit().await?;
        return Err(spent());
    }
    let service = services::find_for_update(&mut *tx, service_id)
        .await?
        .filter(|s| !as_owner || s.user_id == Some(user_id))
        .ok_or(AppError::NotFound("service"))?;
    let (backend, node, vmid) = match console_target(&mut *tx, &service).await {
        Ok(target) => target,
        Err(err) => {
            tx.commit().await?;
            return Err(err);
        }
    };
    let who = if as_owner {
        "the customer"
    } else {
        "an operator"
    };
    logs::insert(
        &mut *tx,
        service.id,
        ServiceAction::Console,
        "success",
        Some(&format!("browser console opened by {who}")),
        Some(user_id),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        service.id = service_id,
        user.id = user_id,
        "service {service_id}: browser console opened"
    );
    Ok(Opened {
        service_id,
        user_id,
        backend,
        node,
        vmid,
    })
}

/// Connects to the VM's console on Proxmox: a `vncproxy` ticket, then its websocket. Returns
/// the stream, the client (for [`watch`]) and the VNC password for the relay's handshake.
pub async fn connect(
    ctx: &Provisioning,
    opened: &Opened,
) -> anyhow::Result<(VncStream, ProxmoxClient, String)> {
    let client = ctx.client(&opened.backend)?;
    let ticket = client.vnc_proxy(&opened.node, opened.vmid).await?;
    let stream = client
        .vnc_websocket(&opened.node, opened.vmid, &ticket)
        .await?;
    Ok((stream, client, ticket.vnc_password().to_owned()))
}

/// Resolves, with the reason to show, once the console should close because its server is no
/// longer there to reach: the service left `active` (suspended, terminated) or the VM stopped.
/// Checked every `every` ([`CHECK_EVERY`]); a check that cannot reach Proxmox waits for the
/// next.
pub async fn watch(
    db: &PgPool,
    client: &ProxmoxClient,
    opened: &Opened,
    every: Duration,
) -> String {
    loop {
        tokio::time::sleep(every).await;
        match services::find(db, opened.service_id).await {
            Ok(Some(service)) if service.status == ServiceStatus::Active => {}
            Ok(Some(service)) => {
                return format!(
                    "The console closed: server #{} is {} now.",
                    service.id,
                    service.status.label().to_lowercase()
                );
            }
            Ok(None) => return "The console closed: the server is gone.".to_owned(),
            Err(err) => tracing::warn!("console watch: {err}"),
        }
        match client.vm_status(&opened.node, opened.vmid).await {
            Ok(Some(status)) if status.is_running() => {}
            Ok(_) => {
                return "The console closed: the server was stopped. Start it from its page \
                        and open the console again."
                    .to_owned();
            }
            Err(err) => tracing::warn!("console watch: {err}"),
        }
    }
}

/// Deletes console links that can no longer be used, older than `before`.
pub async fn delete_stale(db: &PgPool, before: DateTime<Utc>) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("delete from console_tokens where expires_at < $1")
            .bind(before)
            .execute(db)
            .await?
            .rows_affected(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_address_is_a_websocket_on_the_shop() {
        let link = Link {
            token: "abc".into(),
            expires_at: Utc::now(),
        };
        assert_eq!(
            link.address("https://shop.example.pk/").url,
            "wss://shop.example.pk/console/socket?token=abc"
        );
        assert_eq!(
            link.address("http://127.0.0.1:8080").url,
            "ws://127.0.0.1:8080/console/socket?token=abc"
        );
    }

    #[test]
    fn a_person_holds_two_places_and_gets_them_back() {
        let slots = Arc::new(Slots::default());
        let one = slots.take(7).unwrap();
        let _two = slots.take(7).unwrap();
        assert!(matches!(slots.take(7), Err(AppError::Conflict { .. })));
        let _other = slots.take(8).expect("another person has their own");
        drop(one);
        let _again = slots
            .take(7)
            .expect("a closed console gives its place back");
        assert_eq!(slots.open_count(), 3);
    }

    #[test]
    fn the_node_holds_at_most_its_total() {
        let slots = Arc::new(Slots::default());
        let held: Vec<Slot> = (0..MAX_TOTAL as i32)
            .map(|u| slots.take(u).unwrap())
            .collect();
        assert!(matches!(slots.take(1000), Err(AppError::Unavailable(_))));
        drop(held);
        assert_eq!(slots.open_count(), 0);
    }
}
