//! Repository of provisioning backends and what they allocate: `provisioning_backends`,
//! `backend_templates` (the template a backend clones for a plan), `ip_addresses` (a backend's
//! IP pool) and `vm_ids` (every VM id a backend handed out).
//!
//! Our database, not the hypervisor, allocates VM ids and addresses: a VM id is the next one in
//! the backend's range after any ever handed out (ids are never reused, so a late task on an old
//! VM can never touch a new customer's), taken under the backend's row lock; an address is taken
//! with `FOR UPDATE SKIP LOCKED` and its unique `service_id` makes double allocation impossible.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgExecutor};

use crate::db::text_enum::text_enum;
use crate::db::timed;

/// A row of `provisioning_backends`. The sealed token secret is never serialised.
#[derive(Clone, Debug, FromRow, Serialize, utoipa::ToSchema)]
#[schema(
    description = "A provisioning backend: what builds a location's servers (its API token secret is never shown)."
)]
pub struct Backend {
    pub id: i32,
    /// Unique.
    pub name: String,
    pub driver: BackendDriver,
    /// The location whose servers it builds (a location has at most one active backend).
    pub location_id: i32,
    /// Whether it builds the location's new servers.
    pub is_active: bool,
    /// The Proxmox API's address (`https://pve1.example.pk:8006`).
    pub api_url: Option<String>,
    /// The Proxmox API token's id (`user@realm!name`); its secret is write-only.
    pub token_id: Option<String>,
    #[serde(skip)]
    pub token_secret_encrypted: Option<String>,
    /// A PEM certificate (the node's own or its CA) trusted for the API instead of the public
    /// roots.
    pub tls_ca_pem: Option<String>,
    /// The Proxmox node that runs the VMs.
    pub node: Option<String>,
    /// The Proxmox storage of the VMs' disks.
    pub storage: Option<String>,
    /// The network bridge of the VMs.
    pub bridge: Option<String>,
    /// The first VM id it hands out.
    pub vmid_min: Option<i32>,
    /// The last VM id it hands out.
    pub vmid_max: Option<i32>,
    /// The gateway of its IP pool's network.
    pub ip_gateway: Option<String>,
    /// The prefix length of its IP pool's network.
    pub ip_prefix: Option<i16>,
    /// The VMs' DNS servers, IP addresses separated by spaces.
    pub nameservers: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: DateTime<Utc>,
    /// RFC 3339, UTC.
    pub updated_at: DateTime<Utc>,
}

text_enum! {
    /// How a backend builds servers.
    pub enum BackendDriver {
        /// An operator builds each server by hand and enters its details.
        Manual = "manual",
        /// Servers are cloned from templates through a Proxmox VE API.
        Proxmox = "proxmox",
    }
}

impl Default for BackendDriver {
    /// By hand: the driver that needs nothing set up.
    fn default() -> Self {
        Self::Manual
    }
}

/// What an operator sets on a backend (everything but the token secret, sealed separately).
#[derive(Clone, Debug, Default)]
pub struct BackendFields {
    pub name: String,
    pub driver: BackendDriver,
    pub location_id: i32,
    pub is_active: bool,
    pub api_url: Option<String>,
    pub token_id: Option<String>,
    pub tls_ca_pem: Option<String>,
    pub node: Option<String>,
    pub storage: Option<String>,
    pub bridge: Option<String>,
    pub vmid_min: Option<i32>,
    pub vmid_max: Option<i32>,
    pub ip_gateway: Option<String>,
    pub ip_prefix: Option<i16>,
    pub nameservers: Option<String>,
}

macro_rules! backend_columns {
    () => {
        "id, name, driver, location_id, is_active, api_url, token_id, token_secret_encrypted, \
         tls_ca_pem, node, storage, bridge, vmid_min, vmid_max, host(ip_gateway) as ip_gateway, \
         ip_prefix, nameservers, created_at, updated_at"
    };
}

/// Creates a backend; `token_secret_encrypted` is set afterwards (it is sealed for the id).
/// A Proxmox backend's row check needs the secret, so it is created with a placeholder sealed
/// value that [`set_token_secret`] replaces in the same transaction.
pub async fn insert(
    db: impl PgExecutor<'_>,
    fields: &BackendFields,
    placeholder_secret: Option<&str>,
) -> sqlx::Result<Backend> {
    timed(
        "provisioning_backends.insert",
        sqlx::query_as(concat!(
            "insert into provisioning_backends
                 (name, driver, location_id, is_active, api_url, token_id, tls_ca_pem, node,
                  storage, bridge, vmid_min, vmid_max, ip_gateway, ip_prefix, nameservers,
                  token_secret_encrypted)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::inet, $14, $15, $16)
             returning ",
            backend_columns!()
        ))
        .bind(&fields.name)
        .bind(fields.driver)
        .bind(fields.location_id)
        .bind(fields.is_active)
        .bind(&fields.api_url)
        .bind(&fields.token_id)
        .bind(&fields.tls_ca_pem)
        .bind(&fields.node)
        .bind(&fields.storage)
        .bind(&fields.bridge)
        .bind(fields.vmid_min)
        .bind(fields.vmid_max)
        .bind(&fields.ip_gateway)
        .bind(fields.ip_prefix)
        .bind(&fields.nameservers)
        .bind(placeholder_secret)
        .fetch_one(db),
    )
    .await
}

/// Replaces every field of a backend but its token secret.
pub async fn update(
    db: impl PgExecutor<'_>,
    id: i32,
    fields: &BackendFields,
) -> sqlx::Result<Option<Backend>> {
    timed(
        "provisioning_backends.update",
        sqlx::query_as(concat!(
            "update provisioning_backends
             set name = $2, driver = $3, location_id = $4, is_active = $5, api_url = $6,
                 token_id = $7, tls_ca_pem = $8, node = $9, storage = $10, bridge = $11,
                 vmid_min = $12, vmid_max = $13, ip_gateway = $14::inet, ip_prefix = $15,
                 nameservers = $16
             where id = $1
             returning ",
            backend_columns!()
        ))
        .bind(id)
        .bind(&fields.name)
        .bind(fields.driver)
        .bind(fields.location_id)
        .bind(fields.is_active)
        .bind(&fields.api_url)
        .bind(&fields.token_id)
        .bind(&fields.tls_ca_pem)
        .bind(&fields.node)
        .bind(&fields.storage)
        .bind(&fields.bridge)
        .bind(fields.vmid_min)
        .bind(fields.vmid_max)
        .bind(&fields.ip_gateway)
        .bind(fields.ip_prefix)
        .bind(&fields.nameservers)
        .fetch_optional(db),
    )
    .await
}

/// Stores the backend's sealed API token secret.
pub async fn set_token_secret(
    db: impl PgExecutor<'_>,
    id: i32,
    sealed: &str,
) -> sqlx::Result<bool> {
    let done = timed(
        "provisioning_backends.set_token_secret",
        sqlx::query("update provisioning_backends set token_secret_encrypted = $2 where id = $1")
            .bind(id)
            .bind(sealed)
            .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn find(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<Option<Backend>> {
    timed(
        "provisioning_backends.find",
        sqlx::query_as(concat!(
            "select ",
            backend_columns!(),
            " from provisioning_backends where id = $1"
        ))
        .bind(id)
        .fetch_optional(db),
    )
    .await
}

/// The backend that builds a location's servers, if it has an active one.
pub async fn find_active_for_location(
    db: impl PgExecutor<'_>,
    location_id: i32,
) -> sqlx::Result<Option<Backend>> {
    timed(
        "provisioning_backends.find_active_for_location",
        sqlx::query_as(concat!(
            "select ",
            backend_columns!(),
            " from provisioning_backends where location_id = $1 and is_active"
        ))
        .bind(location_id)
        .fetch_optional(db),
    )
    .await
}

/// Every backend, by name.
pub async fn list(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<Backend>> {
    timed(
        "provisioning_backends.list",
        sqlx::query_as(concat!(
            "select ",
            backend_columns!(),
            " from provisioning_backends order by name"
        ))
        .fetch_all(db),
    )
    .await
}

/// Deletes a backend that never built anything (its VM ids and pool go with it); false when it
/// does not exist or has handed out VM ids or addresses (deactivate it instead).
pub async fn delete_unused(db: impl PgExecutor<'_>, id: i32) -> sqlx::Result<bool> {
    let done = timed(
        "provisioning_backends.delete_unused",
        sqlx::query(
            "delete from provisioning_backends b
             where id = $1
               and not exists (select 1 from vm_ids v where v.backend_id = b.id)
               and not exists (select 1 from ip_addresses a
                               where a.backend_id = b.id and a.service_id is not null)
               and not exists (select 1 from services s where s.backend_id = b.id)",
        )
        .bind(id)
        .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Every sealed token secret, for key rotation.
pub async fn list_sealed_secrets(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<(i32, String)>> {
    timed(
        "provisioning_backends.list_sealed_secrets",
        sqlx::query_as(
            "select id, token_secret_encrypted from provisioning_backends
             where token_secret_encrypted is not null order by id for update",
        )
        .fetch_all(db),
    )
    .await
}

// ------------------------------------------------------------------------------ templates

/// A row of `backend_templates`: what a backend clones for a plan, and the clone's size.
#[derive(Clone, Debug, FromRow, Serialize, utoipa::ToSchema)]
#[schema(as = BackendTemplate)]
pub struct Template {
    pub backend_id: i32,
    pub plan_id: String,
    /// The VM id of the Proxmox template it clones.
    pub template_vmid: i32,
    /// CPU cores of the clone.
    pub cores: i32,
    /// Memory of the clone, in MiB.
    pub memory_mb: i32,
    /// Disk of the clone, in GiB.
    pub disk_gb: i32,
    /// The login user cloud-init creates.
    pub username: String,
    /// Snapshots a customer may keep of a server of this plan (0: none).
    pub snapshot_limit: i32,
}

/// Sets the template of a plan on a backend (creates or replaces it).
pub async fn upsert_template(db: impl PgExecutor<'_>, t: &Template) -> sqlx::Result<Template> {
    timed(
        "backend_templates.upsert",
        sqlx::query_as(
            "insert into backend_templates
                 (backend_id, plan_id, template_vmid, cores, memory_mb, disk_gb, username,
                  snapshot_limit)
             values ($1, $2, $3, $4, $5, $6, $7, $8)
             on conflict (backend_id, plan_id) do update
             set template_vmid = excluded.template_vmid, cores = excluded.cores,
                 memory_mb = excluded.memory_mb, disk_gb = excluded.disk_gb,
                 username = excluded.username, snapshot_limit = excluded.snapshot_limit
             returning backend_id, plan_id, template_vmid, cores, memory_mb, disk_gb, username,
                       snapshot_limit",
        )
        .bind(t.backend_id)
        .bind(&t.plan_id)
        .bind(t.template_vmid)
        .bind(t.cores)
        .bind(t.memory_mb)
        .bind(t.disk_gb)
        .bind(&t.username)
        .bind(t.snapshot_limit)
        .fetch_one(db),
    )
    .await
}

pub async fn delete_template(
    db: impl PgExecutor<'_>,
    backend_id: i32,
    plan_id: &str,
) -> sqlx::Result<bool> {
    let done = timed(
        "backend_templates.delete",
        sqlx::query("delete from backend_templates where backend_id = $1 and plan_id = $2")
            .bind(backend_id)
            .bind(plan_id)
            .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn list_templates(
    db: impl PgExecutor<'_>,
    backend_id: i32,
) -> sqlx::Result<Vec<Template>> {
    timed(
        "backend_templates.list",
        sqlx::query_as(
            "select backend_id, plan_id, template_vmid, cores, memory_mb, disk_gb, username,
                    snapshot_limit
             from backend_templates where backend_id = $1 order by plan_id",
        )
        .bind(backend_id)
        .fetch_all(db),
    )
    .await
}

pub async fn find_template(
    db: impl PgExecutor<'_>,
    backend_id: i32,
    plan_id: &str,
) -> sqlx::Result<Option<Template>> {
    timed(
        "backend_templates.find",
        sqlx::query_as(
            "select backend_id, plan_id, template_vmid, cores, memory_mb, disk_gb, username,
                    snapshot_limit
             from backend_templates where backend_id = $1 and plan_id = $2",
        )
        .bind(backend_id)
        .bind(plan_id)
        .fetch_optional(db),
    )
    .await
}

// ------------------------------------------------------------------------------ OS images

/// A row of `backend_os_templates`: the Proxmox template VM a backend clones for a system.
#[derive(Clone, Debug, FromRow, Serialize, serde::Deserialize, utoipa::ToSchema, PartialEq)]
pub struct OsImage {
    pub backend_id: i32,
    /// The VM id of the Proxmox template on that backend.
    pub template_vmid: i32,
}

/// The backends' template VMs for a system, by backend id.
pub async fn list_os_images(
    db: impl PgExecutor<'_>,
    os_template_id: i32,
) -> sqlx::Result<Vec<OsImage>> {
    timed(
        "backend_os_templates.list",
        sqlx::query_as(
            "select backend_id, template_vmid from backend_os_templates
             where os_template_id = $1 order by backend_id",
        )
        .bind(os_template_id)
        .fetch_all(db),
    )
    .await
}

/// The template VM a backend clones for a system, if it has one.
pub async fn find_os_image(
    db: impl PgExecutor<'_>,
    backend_id: i32,
    os_template_id: i32,
) -> sqlx::Result<Option<i32>> {
    timed(
        "backend_os_templates.find",
        sqlx::query_scalar(
            "select template_vmid from backend_os_templates
             where backend_id = $1 and os_template_id = $2",
        )
        .bind(backend_id)
        .bind(os_template_id)
        .fetch_optional(db),
    )
    .await
}

/// Makes exactly `images` the backends' template VMs for a system.
pub async fn set_os_images(
    db: &mut sqlx::PgConnection,
    os_template_id: i32,
    images: &[OsImage],
) -> sqlx::Result<()> {
    let backends: Vec<i32> = images.iter().map(|i| i.backend_id).collect();
    let vmids: Vec<i32> = images.iter().map(|i| i.template_vmid).collect();
    timed(
        "backend_os_templates.clear",
        sqlx::query(
            "delete from backend_os_templates where os_template_id = $1 and backend_id <> all($2)",
        )
        .bind(os_template_id)
        .bind(&backends)
        .execute(&mut *db),
    )
    .await?;
    timed(
        "backend_os_templates.upsert",
        sqlx::query(
            "insert into backend_os_templates (backend_id, os_template_id, template_vmid)
             select b, $1, v from unnest($2::int[], $3::int[]) as i(b, v)
             on conflict (backend_id, os_template_id) do update
             set template_vmid = excluded.template_vmid",
        )
        .bind(os_template_id)
        .bind(&backends)
        .bind(&vmids)
        .execute(&mut *db),
    )
    .await?;
    Ok(())
}

// ------------------------------------------------------------------------------ IP pool

/// An address of a pool, with who holds it.
#[derive(Clone, Debug, FromRow, Serialize, utoipa::ToSchema)]
pub struct PoolAddress {
    pub id: i32,
    pub backend_id: i32,
    /// An IPv4 or IPv6 address.
    pub address: String,
    /// The service that holds it.
    pub service_id: Option<i32>,
    /// When its last service let it go (RFC 3339, UTC); it is held back for some days after.
    pub released_at: Option<DateTime<Utc>>,
    /// Free now: not held by a service, and past its hold if it was released.
    pub available: bool,
}

/// Adds addresses to a backend's pool; those already in any pool are skipped. Returns how many
/// were added.
pub async fn add_addresses(
    db: impl PgExecutor<'_>,
    backend_id: i32,
    addresses: &[String],
) -> sqlx::Result<u64> {
    let done = timed(
        "ip_addresses.add",
        sqlx::query(
            "insert into ip_addresses (backend_id, address)
             select $1, a::inet from unnest($2::text[]) as a
             on conflict (address) do nothing",
        )
        .bind(backend_id)
        .bind(addresses)
        .execute(db),
    )
    .await?;
    Ok(done.rows_affected())
}

/// Removes an address from a pool if no service holds it.
pub async fn remove_address(
    db: impl PgExecutor<'_>,
    backend_id: i32,
    address: &str,
) -> sqlx::Result<bool> {
    let done = timed(
        "ip_addresses.remove",
        sqlx::query(
            "delete from ip_addresses
             where backend_id = $1 and address = $2::inet and service_id is null",
        )
        .bind(backend_id)
        .bind(address)
        .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A backend's pool, by address.
pub async fn list_addresses(
    db: impl PgExecutor<'_>,
    backend_id: i32,
    hold_days: u32,
) -> sqlx::Result<Vec<PoolAddress>> {
    timed(
        "ip_addresses.list",
        sqlx::query_as(
            "select id, backend_id, host(address) as address, service_id, released_at,
                    service_id is null
                    and (released_at is null
                         or released_at < now() - make_interval(days => $2)) as available
             from ip_addresses where backend_id = $1 order by address",
        )
        .bind(backend_id)
        .bind(hold_days as i32)
        .fetch_all(db),
    )
    .await
}

/// Gives the service a free address of the backend's pool (or the one it already holds);
/// `None` when the pool has none free.
pub async fn allocate_ip(
    db: impl PgExecutor<'_>,
    backend_id: i32,
    service_id: i32,
    hold_days: u32,
) -> sqlx::Result<Option<String>> {
    timed(
        "ip_addresses.allocate",
        sqlx::query_scalar(
            "with held as (
                 select host(address) as address from ip_addresses where service_id = $2
             ), taken as (
                 update ip_addresses set service_id = $2, released_at = null
                 where id = (
                     select id from ip_addresses
                     where backend_id = $1 and service_id is null
                       and (released_at is null
                            or released_at < now() - make_interval(days => $3))
                       and not exists (select 1 from held)
                     order by address
                     limit 1
                     for update skip locked
                 )
                 returning host(address) as address
             )
             select address from held union all select address from taken limit 1",
        )
        .bind(backend_id)
        .bind(service_id)
        .bind(hold_days as i32)
        .fetch_optional(db),
    )
    .await
}

/// Releases the service's address; it is held back for the hold period before reuse.
pub async fn release_ip(db: impl PgExecutor<'_>, service_id: i32) -> sqlx::Result<bool> {
    let done = timed(
        "ip_addresses.release",
        sqlx::query(
            "update ip_addresses set service_id = null, released_at = now()
             where service_id = $1",
        )
        .bind(service_id)
        .execute(db),
    )
    .await?;
    Ok(done.rows_affected() > 0)
}

// ------------------------------------------------------------------------------ VM ids

/// The VM id of the service on the backend, allocating the next never-used id of its range when
/// it has none; `None` when the range is used up. Locks the backend row until the end of the
/// caller's transaction, so concurrent allocations queue instead of colliding.
pub async fn allocate_vmid(
    db: &mut sqlx::PgConnection,
    backend_id: i32,
    service_id: i32,
) -> sqlx::Result<Option<i32>> {
    if let Some(vmid) = timed(
        "vm_ids.find_for_service",
        sqlx::query_scalar::<_, i32>(
            "select vmid from vm_ids where backend_id = $1 and service_id = $2
             order by created_at desc limit 1",
        )
        .bind(backend_id)
        .bind(service_id)
        .fetch_optional(&mut *db),
    )
    .await?
    {
        return Ok(Some(vmid));
    }
    // Lock the backend first, in its own statement: under READ COMMITTED each statement reads
    // a snapshot taken when it starts, so the `max(vmid)` below, run after the lock is ours,
    // sees the id the previous holder inserted. (Taken in one statement with the lock, the
    // snapshot predated the wait, and two workers picked the same id: caught by the test of two
    // nodes on one database.) The caller's transaction holds the lock until it commits.
    let Some((vmid_min, vmid_max)) = timed(
        "vm_ids.lock_backend",
        sqlx::query_as::<_, (Option<i32>, Option<i32>)>(
            "select vmid_min, vmid_max from provisioning_backends where id = $1 for update",
        )
        .bind(backend_id)
        .fetch_optional(&mut *db),
    )
    .await?
    else {
        return Ok(None);
    };
    timed(
        "vm_ids.allocate",
        sqlx::query_scalar(
            "with next as (
                 select coalesce((select max(vmid) + 1 from vm_ids where backend_id = $1), $3)
                     as vmid
             )
             insert into vm_ids (backend_id, vmid, service_id)
             select $1, next.vmid, $2 from next where next.vmid <= $4
             returning vmid",
        )
        .bind(backend_id)
        .bind(service_id)
        .bind(vmid_min)
        .bind(vmid_max)
        .fetch_optional(&mut *db),
    )
    .await
}

/// Marks a service's VM id as burnt (a VM that is not ours has it) so the next allocation
/// takes another.
pub async fn burn_vmid(
    db: impl PgExecutor<'_>,
    backend_id: i32,
    vmid: i32,
    reason: &str,
) -> sqlx::Result<bool> {
    let done = timed(
        "vm_ids.burn",
        sqlx::query(
            "update vm_ids set service_id = null, burnt_reason = $3
             where backend_id = $1 and vmid = $2",
        )
        .bind(backend_id)
        .bind(vmid)
        .bind(reason)
        .execute(db),
    )
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How many more servers a location can take: `None` when it is served by hand (no limit),
/// else the free addresses of its active backend, capped by the VM ids left in its range.
pub async fn location_capacity(
    db: impl PgExecutor<'_>,
    location_id: i32,
    hold_days: u32,
) -> sqlx::Result<Option<i64>> {
    timed(
        "provisioning_backends.location_capacity",
        sqlx::query_scalar(
            "select least(
                 (select count(*) from ip_addresses a
                  where a.backend_id = b.id and a.service_id is null
                    and (a.released_at is null
                         or a.released_at < now() - make_interval(days => $2))),
                 b.vmid_max - coalesce((select max(vmid) from vm_ids v where v.backend_id = b.id),
                                       b.vmid_min - 1)
             )::bigint
             from provisioning_backends b
             where b.location_id = $1 and b.is_active and b.driver = 'proxmox'",
        )
        .bind(location_id)
        .bind(hold_days as i32)
        .fetch_optional(db),
    )
    .await
}

/// Capacities of every location with an automated backend, for the storefront and checkout.
pub async fn capacities(db: impl PgExecutor<'_>, hold_days: u32) -> sqlx::Result<Vec<(i32, i64)>> {
    timed(
        "provisioning_backends.capacities",
        sqlx::query_as(
            "select b.location_id, least(
                 (select count(*) from ip_addresses a
                  where a.backend_id = b.id and a.service_id is null
                    and (a.released_at is null
                         or a.released_at < now() - make_interval(days => $1))),
                 b.vmid_max - coalesce((select max(vmid) from vm_ids v where v.backend_id = b.id),
                                       b.vmid_min - 1)
             )::bigint
             from provisioning_backends b
             where b.is_active and b.driver = 'proxmox'",
        )
        .bind(hold_days as i32)
        .fetch_all(db),
    )
    .await
}
