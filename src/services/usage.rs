//! Usage of Proxmox-built servers: the worker's `sample_usage` job reads every active server's
//! `status/current` every 5 minutes and keeps a compact time series — CPU and memory as they
//! were, network and disk as bytes moved since the previous reading — with each month's traffic
//! beside it, for the plan's bandwidth allowance.
//!
//! Counters reset when a VM restarts: a reading below the previous one counts from zero. The
//! first reading of a server only sets its counters (what happened before is unknown). Five-minute
//! samples are rolled up into hours (CPU and memory averaged, bytes summed) and kept two days; the
//! hours are kept 400 days.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgPool};

use super::services;
use crate::error::{AppError, AppResult};
use crate::provisioning::Provisioning;
use crate::provisioning::backends;
use crate::provisioning::proxmox::VmUsage;

pub use crate::jobs::kinds::SAMPLE_USAGE;

/// How often the worker samples.
pub const SAMPLE_EVERY_SECS: u64 = 300;

/// The span a usage graph covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub enum Range {
    #[serde(rename = "24h")]
    Day,
    #[serde(rename = "7d")]
    Week,
    #[serde(rename = "30d")]
    Month,
}

impl Range {
    pub const ALL: [Self; 3] = [Self::Day, Self::Week, Self::Month];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "24h",
            Self::Week => "7d",
            Self::Month => "30d",
        }
    }

    fn hours(self) -> i32 {
        match self {
            Self::Day => 24,
            Self::Week => 24 * 7,
            Self::Month => 24 * 30,
        }
    }
}

impl std::str::FromStr for Range {
    type Err = AppError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == text.trim())
            .ok_or_else(|| AppError::bad_request("range", "must be 24h, 7d or 30d"))
    }
}

/// One point of a usage series.
#[derive(Clone, Debug, FromRow, Serialize, utoipa::ToSchema)]
pub struct UsagePoint {
    /// The sample's time, or the hour's start (RFC 3339, UTC).
    pub at: DateTime<Utc>,
    /// CPU use, a fraction of the server's cores (0 to 1).
    pub cpu: f32,
    pub mem_bytes: i64,
    pub mem_max_bytes: i64,
    /// Bytes received since the previous point.
    pub net_in_bytes: i64,
    /// Bytes sent since the previous point.
    pub net_out_bytes: i64,
    pub disk_read_bytes: i64,
    pub disk_write_bytes: i64,
}

/// A server's usage over a range, and its traffic this month.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Usage {
    #[schema(value_type = String, example = "24h")]
    pub range: Range,
    /// Five-minute samples for `24h`, hours for `7d` and `30d`; oldest first.
    pub points: Vec<UsagePoint>,
    /// The month the traffic is counted for (its first day, Pakistan time).
    pub month: NaiveDate,
    /// Bytes in and out this month.
    pub traffic_used_bytes: i64,
    /// The plan's monthly allowance; `null` when it is unmetered.
    pub traffic_allowance_bytes: Option<i64>,
}

fn pkt() -> FixedOffset {
    FixedOffset::east_opt(5 * 3600).expect("UTC+5 is a valid offset")
}

/// The first day of `at`'s month in Pakistan time.
pub fn month_of(at: DateTime<Utc>) -> NaiveDate {
    let local = at.with_timezone(&pkt()).date_naive();
    NaiveDate::from_ymd_opt(local.year(), local.month(), 1).expect("the first of a month")
}

/// A plan's bandwidth text as bytes a month: `1 TB`, `500GB`, `2 TB/month` (decimal units, as
/// hosts sell them); `None` for `Unmetered`, `Unlimited` or anything that names no amount.
pub fn allowance_bytes(bandwidth: &str) -> Option<i64> {
    let text = bandwidth.trim().to_ascii_lowercase();
    let digits_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let amount: f64 = text[..digits_end].parse().ok()?;
    let unit = text[digits_end..].trim_start();
    let scale: f64 = if unit.starts_with("tb") {
        1e12
    } else if unit.starts_with("gb") {
        1e9
    } else if unit.starts_with("mb") {
        1e6
    } else {
        return None;
    };
    (amount > 0.0).then_some((amount * scale) as i64)
}

/// Bytes moved since the previous reading of a counter: the difference, or — the counter went
/// back, the VM restarted — the new value itself. The first reading moves nothing.
pub fn moved(previous: Option<i64>, now: u64) -> i64 {
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    match previous {
        Some(before) if now >= before => now - before,
        Some(_) => now,
        None => 0,
    }
}

/// Records one reading of a service taken at `at`: the sample, the new counters, and the month's
/// traffic, in one transaction.
pub async fn record(
    db: &PgPool,
    service_id: i32,
    at: DateTime<Utc>,
    usage: &VmUsage,
) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    let previous: Option<(i64, i64, i64, i64)> = sqlx::query_as(
        "select net_in, net_out, disk_read, disk_write from service_usage_counters
         where service_id = $1 for update",
    )
    .bind(service_id)
    .fetch_optional(&mut *tx)
    .await?;
    let (net_in, net_out, disk_read, disk_write) = match previous {
        Some((a, b, c, d)) => (
            moved(Some(a), usage.netin),
            moved(Some(b), usage.netout),
            moved(Some(c), usage.diskread),
            moved(Some(d), usage.diskwrite),
        ),
        None => (0, 0, 0, 0),
    };
    let counter = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    sqlx::query(
        "insert into service_usage_counters
             (service_id, read_at, net_in, net_out, disk_read, disk_write)
         values ($1, $2, $3, $4, $5, $6)
         on conflict (service_id) do update
         set read_at = excluded.read_at, net_in = excluded.net_in, net_out = excluded.net_out,
             disk_read = excluded.disk_read, disk_write = excluded.disk_write",
    )
    .bind(service_id)
    .bind(at)
    .bind(counter(usage.netin))
    .bind(counter(usage.netout))
    .bind(counter(usage.diskread))
    .bind(counter(usage.diskwrite))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "insert into service_usage_samples
             (service_id, sampled_at, cpu, mem_bytes, mem_max_bytes, net_in_bytes, net_out_bytes,
              disk_read_bytes, disk_write_bytes)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         on conflict (service_id, sampled_at) do nothing",
    )
    .bind(service_id)
    .bind(at)
    .bind(usage.cpu.max(0.0) as f32)
    .bind(counter(usage.mem))
    .bind(counter(usage.maxmem))
    .bind(net_in)
    .bind(net_out)
    .bind(disk_read)
    .bind(disk_write)
    .execute(&mut *tx)
    .await?;
    if net_in + net_out > 0 {
        sqlx::query(
            "insert into service_traffic (service_id, month, bytes) values ($1, $2, $3)
             on conflict (service_id, month) do update
             set bytes = service_traffic.bytes + excluded.bytes",
        )
        .bind(service_id)
        .bind(month_of(at))
        .bind(net_in.saturating_add(net_out))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// What a sampling round did.
#[derive(Debug, Default)]
pub struct Round {
    pub sampled: usize,
    pub failed: usize,
}

/// Reads every active Proxmox-built server once, then rolls the samples up into hours and drops
/// what is past keeping. A server whose node does not answer is skipped (logged) until the next
/// round.
pub async fn sample_all(db: &PgPool, ctx: &Provisioning) -> anyhow::Result<Round> {
    let targets: Vec<(i32, i32, i32)> = sqlx::query_as(
        "select s.id, s.backend_id, s.vmid from services s
         join provisioning_backends b on b.id = s.backend_id
         where s.status = 'active' and b.driver = 'proxmox' and s.vmid is not null
         order by s.backend_id, s.id",
    )
    .fetch_all(db)
    .await?;
    let mut round = Round::default();
    let mut current: Option<(
        i32,
        Option<(crate::provisioning::proxmox::ProxmoxClient, String)>,
    )> = None;
    for (service_id, backend_id, vmid) in targets {
        if current.as_ref().is_none_or(|(id, _)| *id != backend_id) {
            let client = match backends::find(db, backend_id).await? {
                Some(backend) => ctx
                    .client(&backend)
                    .ok()
                    .map(|c| (c, backend.node.clone().unwrap_or_default())),
                None => None,
            };
            current = Some((backend_id, client));
        }
        let Some((_, Some((client, node)))) = &current else {
            round.failed += 1;
            continue;
        };
        match client.vm_usage(node, vmid as u32).await {
            Ok(Some(usage)) => {
                record(db, service_id, Utc::now(), &usage).await?;
                round.sampled += 1;
            }
            Ok(None) => round.failed += 1,
            Err(err) => {
                tracing::warn!(service.id = service_id, "sampling usage failed: {err}");
                round.failed += 1;
            }
        }
    }
    roll_up(db).await?;
    Ok(round)
}

/// Rolls the last few complete hours of samples up into `service_usage_hourly` (recomputed each
/// round, so a late sample is counted), and drops samples older than two days and hours older
/// than 400 days.
pub async fn roll_up(db: &PgPool) -> sqlx::Result<()> {
    sqlx::query(
        "insert into service_usage_hourly
             (service_id, hour, cpu, mem_bytes, mem_max_bytes, net_in_bytes, net_out_bytes,
              disk_read_bytes, disk_write_bytes)
         select service_id, date_trunc('hour', sampled_at), avg(cpu), avg(mem_bytes)::bigint,
                max(mem_max_bytes), sum(net_in_bytes), sum(net_out_bytes),
                sum(disk_read_bytes), sum(disk_write_bytes)
         from service_usage_samples
         where sampled_at >= date_trunc('hour', now()) - interval '3 hours'
         group by 1, 2
         on conflict (service_id, hour) do update
         set cpu = excluded.cpu, mem_bytes = excluded.mem_bytes,
             mem_max_bytes = excluded.mem_max_bytes, net_in_bytes = excluded.net_in_bytes,
             net_out_bytes = excluded.net_out_bytes, disk_read_bytes = excluded.disk_read_bytes,
             disk_write_bytes = excluded.disk_write_bytes",
    )
    .execute(db)
    .await?;
    sqlx::query("delete from service_usage_samples where sampled_at < now() - interval '2 days'")
        .execute(db)
        .await?;
    sqlx::query("delete from service_usage_hourly where hour < now() - interval '400 days'")
        .execute(db)
        .await?;
    Ok(())
}

/// A service's usage over `range` and its traffic this month (`owner`: only their own service;
/// someone else's → NotFound).
pub async fn usage(
    db: &PgPool,
    service_id: i32,
    owner: Option<i32>,
    range: Range,
) -> AppResult<Usage> {
    let service = services::find(db, service_id)
        .await?
        .filter(|s| owner.is_none_or(|o| s.user_id == Some(o)))
        .ok_or(AppError::NotFound("service"))?;
    let points: Vec<UsagePoint> = match range {
        Range::Day => {
            sqlx::query_as(
                "select sampled_at as at, cpu, mem_bytes, mem_max_bytes, net_in_bytes,
                        net_out_bytes, disk_read_bytes, disk_write_bytes
                 from service_usage_samples
                 where service_id = $1 and sampled_at > now() - make_interval(hours => $2)
                 order by sampled_at",
            )
            .bind(service.id)
            .bind(range.hours())
            .fetch_all(db)
            .await?
        }
        Range::Week | Range::Month => {
            sqlx::query_as(
                "select hour as at, cpu, mem_bytes, mem_max_bytes, net_in_bytes, net_out_bytes,
                        disk_read_bytes, disk_write_bytes
                 from service_usage_hourly
                 where service_id = $1 and hour > now() - make_interval(hours => $2)
                 order by hour",
            )
            .bind(service.id)
            .bind(range.hours())
            .fetch_all(db)
            .await?
        }
    };
    let traffic = traffic(db, &service).await?;
    Ok(Usage {
        range,
        points,
        month: traffic.month,
        traffic_used_bytes: traffic.used,
        traffic_allowance_bytes: traffic.allowance,
    })
}

/// A service's traffic this month and its plan's allowance.
#[derive(Clone, Copy, Debug)]
pub struct Traffic {
    pub month: NaiveDate,
    pub used: i64,
    /// `None`: unmetered.
    pub allowance: Option<i64>,
}

impl Traffic {
    /// `412 GB of 1 TB`, or `412 GB (unmetered)`.
    pub fn words(&self) -> String {
        match self.allowance {
            Some(allowance) => format!("{} of {}", human_bytes(self.used), human_bytes(allowance)),
            None => format!("{} (unmetered)", human_bytes(self.used)),
        }
    }
}

/// The service's traffic this month (Pakistan time) against its plan's allowance.
pub async fn traffic(db: &PgPool, service: &super::services::Service) -> sqlx::Result<Traffic> {
    let month = month_of(Utc::now());
    let used: Option<i64> = sqlx::query_scalar(
        "select bytes from service_traffic where service_id = $1 and month = $2",
    )
    .bind(service.id)
    .bind(month)
    .fetch_optional(db)
    .await?;
    let bandwidth: Option<String> = sqlx::query_scalar("select bandwidth from plans where id = $1")
        .bind(service.plan_id.as_deref().unwrap_or_default())
        .fetch_optional(db)
        .await?;
    Ok(Traffic {
        month,
        used: used.unwrap_or(0),
        allowance: bandwidth.as_deref().and_then(allowance_bytes),
    })
}

/// Bytes as people read them: `412 GB`, `1 TB`, `3.5 MB` (decimal units).
pub fn human_bytes(bytes: i64) -> String {
    let bytes = bytes.max(0) as f64;
    let (value, unit) = [(1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "KB")]
        .into_iter()
        .find(|(scale, _)| bytes >= *scale)
        .map(|(scale, unit)| (bytes / scale, unit))
        .unwrap_or((bytes, "B"));
    if value >= 100.0 || unit == "B" || (value - value.round()).abs() < 0.05 {
        format!("{value:.0} {unit}")
    } else {
        format!("{value:.1} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bandwidth_texts_become_monthly_bytes() {
        assert_eq!(allowance_bytes("1 TB"), Some(1_000_000_000_000));
        assert_eq!(allowance_bytes("500GB"), Some(500_000_000_000));
        assert_eq!(allowance_bytes("2.5 TB/month"), Some(2_500_000_000_000));
        assert_eq!(allowance_bytes("Unmetered"), None);
        assert_eq!(allowance_bytes("Unlimited"), None);
        assert_eq!(allowance_bytes("0 GB"), None);
    }

    #[test]
    fn a_counter_that_went_back_counts_from_zero() {
        assert_eq!(moved(None, 5_000), 0, "the first reading moves nothing");
        assert_eq!(moved(Some(1_000), 5_000), 4_000);
        assert_eq!(moved(Some(5_000), 300), 300, "the VM restarted");
    }

    #[test]
    fn months_are_counted_in_pakistan_time() {
        let late = "2026-11-30T20:30:00Z".parse().unwrap();
        assert_eq!(month_of(late).to_string(), "2026-12-01");
        let early = "2026-11-30T18:30:00Z".parse().unwrap();
        assert_eq!(month_of(early).to_string(), "2026-11-01");
    }

    #[test]
    fn bytes_read_as_people_say_them() {
        assert_eq!(human_bytes(412_000_000_000), "412 GB");
        assert_eq!(human_bytes(1_000_000_000_000), "1 TB");
        assert_eq!(human_bytes(3_500_000), "3.5 MB");
        assert_eq!(human_bytes(12), "12 B");
    }
}
