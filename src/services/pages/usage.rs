//! The usage card of a server's page (the customer's and the operator's): CPU, memory and
//! network over 24 hours, 7 or 30 days as server-drawn SVG charts, each with its numbers in words.

use chrono::Utc;

use crate::error::AppResult;
use crate::services::services::Service;
use crate::services::usage::{self, Range, human_bytes};
use crate::web::charts::{Chart, Line};

/// One chart as the page shows it.
pub struct ShownChart {
    pub title: String,
    pub summary: String,
    pub svg: String,
    /// The key of a chart with several lines: (CSS class, words).
    pub legend: Vec<(&'static str, &'static str)>,
}

/// A link to another range of the card.
pub struct RangeLink {
    pub value: &'static str,
    pub label: &'static str,
    pub current: bool,
}

/// The card: the range shown, the ranges to switch to, the charts and the month's traffic.
pub struct UsageCard {
    pub range: &'static str,
    pub ranges: Vec<RangeLink>,
    pub charts: Vec<ShownChart>,
    pub traffic: String,
    /// No sample yet (a new server, or sampling is not running).
    pub empty: bool,
}

fn percent(v: f64) -> String {
    format!("{:.0} %", v * 100.0)
}

fn mbits(v: f64) -> String {
    if v >= 10.0 {
        format!("{v:.0} Mbit/s")
    } else {
        format!("{v:.1} Mbit/s")
    }
}

/// The usage card of an active server built on Proxmox (`None` for any other).
pub async fn usage_card(
    db: &sqlx::PgPool,
    service: &Service,
    range: Range,
) -> AppResult<Option<UsageCard>> {
    if service.status != crate::services::ServiceStatus::Active || service.backend_id.is_none() {
        return Ok(None);
    }
    let data = usage::usage(db, service.id, None, range).await?;
    let end = Utc::now().timestamp();
    let hours: i64 = match range {
        Range::Day => 24,
        Range::Week => 24 * 7,
        Range::Month => 24 * 30,
    };
    let start = end - hours * 3600;
    let (step, start_label, span_words) = match range {
        Range::Day => (usage::SAMPLE_EVERY_SECS as i64, "24 h ago", "last 24 hours"),
        Range::Week => (3600, "7 days ago", "last 7 days"),
        Range::Month => (3600, "30 days ago", "last 30 days"),
    };
    let points = &data.points;
    let at = |i: usize| points[i].at.timestamp();
    let cpu: Vec<(i64, f64)> = (0..points.len())
        .map(|i| (at(i), f64::from(points[i].cpu)))
        .collect();
    let mem: Vec<(i64, f64)> = (0..points.len())
        .map(|i| (at(i), points[i].mem_bytes as f64))
        .collect();
    let rate = |bytes: i64| bytes as f64 * 8.0 / step as f64 / 1e6;
    let net_in: Vec<(i64, f64)> = (0..points.len())
        .map(|i| (at(i), rate(points[i].net_in_bytes)))
        .collect();
    let net_out: Vec<(i64, f64)> = (0..points.len())
        .map(|i| (at(i), rate(points[i].net_out_bytes)))
        .collect();
    let avg = |xs: &[(i64, f64)]| {
        if xs.is_empty() {
            0.0
        } else {
            xs.iter().map(|p| p.1).sum::<f64>() / xs.len() as f64
        }
    };
    let peak = |xs: &[(i64, f64)]| xs.iter().map(|p| p.1).fold(0.0, f64::max);
    let mem_max = points.iter().map(|p| p.mem_max_bytes).max().unwrap_or(0) as f64;
    let net_top = peak(&net_in).max(peak(&net_out)).max(1.0);
    let gap = step * 5 / 2;
    let mut charts = Vec::new();
    let mut add =
        |title: String, summary: String, top: f64, top_label: String, lines: Vec<Line>| {
            let legend = if lines.len() > 1 {
                vec![("chart-in", "in (received)"), ("chart-out", "out (sent)")]
            } else {
                Vec::new()
            };
            let chart = Chart {
                title: &title,
                summary: &summary,
                start,
                end,
                top,
                top_label: &top_label,
                start_label,
                lines,
                gap,
            };
            let svg = chart.svg();
            charts.push(ShownChart {
                title,
                summary,
                svg,
                legend,
            });
        };
    add(
        format!("CPU, {span_words}"),
        format!(
            "average {}, peak {}",
            percent(avg(&cpu)),
            percent(peak(&cpu))
        ),
        1.0,
        "100 %".to_owned(),
        vec![Line {
            class: "chart-cpu",
            points: cpu.clone(),
        }],
    );
    add(
        format!("Memory, {span_words}"),
        format!(
            "average {}, peak {} of {}",
            human_bytes(avg(&mem) as i64),
            human_bytes(peak(&mem) as i64),
            human_bytes(mem_max as i64)
        ),
        mem_max.max(1.0),
        human_bytes(mem_max as i64),
        vec![Line {
            class: "chart-mem",
            points: mem.clone(),
        }],
    );
    add(
        format!("Network, {span_words}"),
        format!(
            "in: average {}, peak {}; out: average {}, peak {}",
            mbits(avg(&net_in)),
            mbits(peak(&net_in)),
            mbits(avg(&net_out)),
            mbits(peak(&net_out))
        ),
        net_top,
        mbits(net_top),
        vec![
            Line {
                class: "chart-in",
                points: net_in,
            },
            Line {
                class: "chart-out",
                points: net_out,
            },
        ],
    );
    let traffic = crate::services::usage::Traffic {
        month: data.month,
        used: data.traffic_used_bytes,
        allowance: data.traffic_allowance_bytes,
    }
    .words();
    Ok(Some(UsageCard {
        range: range.as_str(),
        ranges: Range::ALL
            .iter()
            .map(|r| {
                let label = match r {
                    Range::Day => "24 hours",
                    Range::Week => "7 days",
                    Range::Month => "30 days",
                };
                RangeLink {
                    value: r.as_str(),
                    label,
                    current: *r == range,
                }
            })
            .collect(),
        charts,
        traffic,
        empty: points.is_empty(),
    }))
}
