//! What happens as a server uses its plan's monthly traffic, after each usage round (the
//! worker's `sample_usage` job calls [`enforce`] after [`super::usage::sample_all`]): an e-mail
//! (and a `traffic_notice` line in the service's log) when this month's traffic passes 80 % and
//! 100 % of the allowance, each at most once a month (`service_traffic_notices`); with the
//! operator's `NEXTGENRDP_TRAFFIC_OVERAGE=throttle`, past 100 % the VM's NIC gets Proxmox's
//! `rate` (megabytes per second) until the month ends, when it is lifted
//! (`service_throttles`). `nothing` sends no e-mails and limits nothing. Unmetered plans are
//! never counted against.

use chrono::{Months, NaiveDate, Utc};
use sqlx::PgPool;

use super::usage::{allowance_bytes, human_bytes, month_of};
use super::{ServiceAction, logs};
use crate::accounts::users;
use crate::config::TrafficOverage;
use crate::mail;
use crate::provisioning::Provisioning;
use crate::provisioning::backends;

/// The shares of the allowance that are told, in percent.
pub const THRESHOLDS: [i32; 2] = [80, 100];

/// What a round did.
#[derive(Debug, Default)]
pub struct Enforced {
    pub notices: usize,
    pub throttled: usize,
    pub lifted: usize,
}

/// A metered active server's traffic this month.
#[derive(sqlx::FromRow)]
struct Metered {
    service_id: i32,
    user_id: Option<i32>,
    bandwidth: String,
    used: i64,
}

/// The NIC definition with `rate` set to `rate` (or removed, for `None`).
pub fn with_rate(net: &str, rate: Option<f64>) -> String {
    let mut parts: Vec<String> = net
        .split(',')
        .filter(|part| !part.trim().is_empty() && !part.trim().starts_with("rate="))
        .map(str::to_owned)
        .collect();
    if let Some(rate) = rate {
        parts.push(format!("rate={rate}"));
    }
    parts.join(",")
}

/// Sends the notices due, throttles past 100 % (when the operator chose it) and lifts the
/// limits of past months.
pub async fn enforce(db: &PgPool, ctx: &Provisioning) -> anyhow::Result<Enforced> {
    let policy = ctx.lifecycle.traffic_overage;
    let mut done = Enforced::default();
    let month = month_of(Utc::now());
    if policy != TrafficOverage::Nothing {
        let metered: Vec<Metered> = sqlx::query_as(
            "select s.id as service_id, s.user_id, p.bandwidth, t.bytes as used
             from service_traffic t
             join services s on s.id = t.service_id
             join plans p on p.id = s.plan_id
             where t.month = $1 and s.status = 'active'",
        )
        .bind(month)
        .fetch_all(db)
        .await?;
        for server in metered {
            let Some(allowance) = allowance_bytes(&server.bandwidth).filter(|a| *a > 0) else {
                continue;
            };
            let share = server.used.saturating_mul(100) / allowance;
            for threshold in THRESHOLDS.into_iter().filter(|t| share >= i64::from(*t)) {
                if notify(db, ctx, &server, month, threshold, allowance).await? {
                    done.notices += 1;
                }
            }
            if policy == TrafficOverage::Throttle
                && share >= 100
                && throttle(db, ctx, server.service_id, month).await?
            {
                done.throttled += 1;
            }
        }
    }
    done.lifted = lift_past(db, ctx, month).await?;
    Ok(done)
}

/// Sends one notice unless it was sent this month; true when sent.
async fn notify(
    db: &PgPool,
    ctx: &Provisioning,
    server: &Metered,
    month: NaiveDate,
    threshold: i32,
    allowance: i64,
) -> anyhow::Result<bool> {
    let mut tx = db.begin().await?;
    let fresh = sqlx::query(
        "insert into service_traffic_notices (service_id, month, threshold) values ($1, $2, $3)
         on conflict do nothing",
    )
    .bind(server.service_id)
    .bind(month)
    .bind(threshold)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !fresh {
        return Ok(false);
    }
    let used = format!("{} of {}", human_bytes(server.used), human_bytes(allowance));
    logs::insert(
        &mut *tx,
        server.service_id,
        ServiceAction::TrafficNotice,
        "success",
        Some(&format!(
            "{threshold} % of this month's traffic used ({used})"
        )),
        None,
    )
    .await?;
    if let Some(user_id) = server.user_id
        && let Some(user) = users::find(&mut *tx, user_id).await?
    {
        let next = month
            .checked_add_months(Months::new(1))
            .unwrap_or(month)
            .format("%-d %B")
            .to_string();
        let what_next = match (threshold, ctx.lifecycle.traffic_overage) {
            (100, TrafficOverage::Throttle) => format!(
                "Its network is now limited to {} MB/s until the count starts again on {next}. \
                 To lift the limit sooner, upgrade the plan or open a support ticket.",
                ctx.lifecycle.traffic_throttle_rate
            ),
            (100, _) => format!(
                "It keeps running; the count starts again on {next}. If you need more, upgrade \
                 the plan or open a support ticket."
            ),
            _ => format!(
                "Nothing changes yet; the count starts again on {next}. Its page shows the \
                 traffic day by day."
            ),
        };
        let link = format!("{}/account/services/{}", ctx.public_url, server.service_id);
        let email = mail::notice_email(
            &user.email,
            &user.name,
            &format!(
                "Server #{} has used {threshold} % of its monthly traffic",
                server.service_id
            ),
            &[
                format!(
                    "Your server #{} has used {used} of traffic this month.",
                    server.service_id
                ),
                what_next,
            ],
            Some(("See its usage", &link)),
        );
        mail::enqueue(&mut *tx, &email).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Sets the VM's NIC `rate`, unless it is limited already this month; true when it was set.
async fn throttle(
    db: &PgPool,
    ctx: &Provisioning,
    service_id: i32,
    month: NaiveDate,
) -> anyhow::Result<bool> {
    let already: bool = sqlx::query_scalar(
        "select exists (select 1 from service_throttles where service_id = $1 and month = $2)",
    )
    .bind(service_id)
    .bind(month)
    .fetch_one(db)
    .await?;
    if already {
        return Ok(false);
    }
    let rate = ctx.lifecycle.traffic_throttle_rate;
    if let Err(err) = set_rate(db, ctx, service_id, Some(rate)).await {
        tracing::warn!(service.id = service_id, "throttling failed: {err:#}");
        return Ok(false);
    }
    let mut tx = db.begin().await?;
    sqlx::query(
        "insert into service_throttles (service_id, month, rate_mbytes) values ($1, $2, $3)
         on conflict (service_id) do update
         set month = excluded.month, rate_mbytes = excluded.rate_mbytes, applied_at = now()",
    )
    .bind(service_id)
    .bind(month)
    .bind(rate)
    .execute(&mut *tx)
    .await?;
    logs::insert(
        &mut *tx,
        service_id,
        ServiceAction::TrafficThrottle,
        "success",
        Some(&format!(
            "monthly traffic used up: network limited to {rate} MB/s until the month ends"
        )),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Lifts the limits set in a past month (or on servers no longer active); how many.
async fn lift_past(db: &PgPool, ctx: &Provisioning, month: NaiveDate) -> anyhow::Result<usize> {
    let past: Vec<i32> = sqlx::query_scalar(
        "select t.service_id from service_throttles t join services s on s.id = t.service_id
         where t.month < $1 or s.status <> 'active'",
    )
    .bind(month)
    .fetch_all(db)
    .await?;
    let mut lifted = 0;
    for service_id in past {
        if let Err(err) = set_rate(db, ctx, service_id, None).await {
            tracing::warn!(service.id = service_id, "lifting the limit failed: {err:#}");
            continue;
        }
        let mut tx = db.begin().await?;
        sqlx::query("delete from service_throttles where service_id = $1")
            .bind(service_id)
            .execute(&mut *tx)
            .await?;
        logs::insert(
            &mut *tx,
            service_id,
            ServiceAction::TrafficThrottle,
            "success",
            Some("a new month: the network limit is lifted"),
            None,
        )
        .await?;
        tx.commit().await?;
        lifted += 1;
    }
    Ok(lifted)
}

/// Sets (or removes) `rate` on the VM's first NIC, looking at its definition first.
async fn set_rate(
    db: &PgPool,
    ctx: &Provisioning,
    service_id: i32,
    rate: Option<f64>,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let service = super::services::find(db, service_id)
        .await?
        .context("the service disappeared")?;
    let backend = match service.backend_id {
        Some(id) => backends::find(db, id).await?,
        None => None,
    }
    .context("the service has no Proxmox backend")?;
    let vmid = service
        .vmid
        .and_then(|v| u32::try_from(v).ok())
        .context("the service has no VM id")?;
    let client = ctx.client(&backend)?;
    let node = backend.node.clone().unwrap_or_default();
    if client.vm_config(&node, vmid).await?.is_none() {
        // The VM is gone (terminated): nothing to limit or lift.
        return Ok(());
    }
    // A node with network hotplug (PVE's default) applies the change at once; one without keeps
    // it pending until the VM restarts, so the pending value is what to change.
    let net = client
        .vm_effective(&node, vmid, "net0")
        .await?
        .context("the VM has no net0 to limit")?;
    let net = net.as_str();
    let wanted = with_rate(net, rate);
    if wanted != net
        && let Some(upid) = client
            .update_config(&node, vmid, &[("net0", wanted)])
            .await?
    {
        client
            .wait_task(
                &upid,
                std::time::Duration::from_secs(30),
                std::time::Duration::from_millis(500),
            )
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_set_replaced_and_removed_on_the_nic() {
        let net = "virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1";
        assert_eq!(
            with_rate(net, Some(1.0)),
            "virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1,rate=1"
        );
        assert_eq!(
            with_rate(&with_rate(net, Some(1.0)), Some(2.5)),
            "virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1,rate=2.5"
        );
        assert_eq!(with_rate(&with_rate(net, Some(1.0)), None), net);
        assert_eq!(with_rate(net, None), net);
    }
}
