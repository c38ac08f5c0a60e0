//! Bar charts drawn on the server as SVG (the line charts are `charts`): bars over time (one or more series side by side) and
//! horizontal bars by name. No script and no inline style (the pages' CSP forbids both): the
//! SVG carries geometry and classes, `app.css` colours it. Every bar has a `<title>` (a tooltip,
//! read by screen readers), and each chart's numbers come as a table beside it too.

use std::fmt::Write;

/// One point of the x axis: its label and a value per series.
#[derive(Clone, Debug)]
pub struct Column {
    /// Under the bar (`1 Dec`, `Nov 2026`).
    pub label: String,
    /// One per series, in the series' order.
    pub values: Vec<i64>,
}

/// A bar chart over time: columns left to right, each with a bar per series.
#[derive(Clone, Debug)]
pub struct BarChart {
    /// The chart's id on the page (and its parts' ids).
    pub id: &'static str,
    pub title: &'static str,
    /// The series' names (the legend), one per value of each column.
    pub series: Vec<&'static str>,
    pub columns: Vec<Column>,
    /// Writes a value as people read it (`Rs 12,500`, `3`).
    pub format: fn(i64) -> String,
}

/// A horizontal bar chart: one bar per name.
#[derive(Clone, Debug)]
pub struct RankChart {
    pub id: &'static str,
    pub title: &'static str,
    pub rows: Vec<(String, i64)>,
    pub format: fn(i64) -> String,
}

/// Plain counts.
pub fn count(value: i64) -> String {
    crate::money::group_thousands(value)
}

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 30.0;

use super::charts::escape as esc;

/// A round top for the axis at or above `max`: 1, 2 or 5 times a power of ten.
fn nice_ceiling(max: i64) -> i64 {
    if max <= 0 {
        return 1;
    }
    let mut step = 1_i64;
    loop {
        for m in [1, 2, 5] {
            if step.saturating_mul(m) >= max {
                return step.saturating_mul(m);
            }
        }
        step = step.saturating_mul(10);
    }
}

impl BarChart {
    /// Whether every value is zero (the page says so instead of drawing flat bars).
    pub fn is_empty(&self) -> bool {
        self.columns
            .iter()
            .all(|c| c.values.iter().all(|v| *v == 0))
    }

    /// The SVG.
    pub fn svg(&self) -> String {
        let top = nice_ceiling(
            self.columns
                .iter()
                .flat_map(|c| c.values.iter().copied())
                .max()
                .unwrap_or(0),
        );
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let n = self.columns.len().max(1) as f64;
        let slot = plot_w / n;
        let series = self.series.len().max(1) as f64;
        let bar_w = (slot * 0.8 / series).max(1.0);
        let mut svg = String::new();
        let _ = write!(
            svg,
            r#"<svg class="bar-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{id}-title" preserveAspectRatio="xMidYMid meet" id="{id}-svg"><title id="{id}-title">{title}</title>"#,
            id = self.id,
            title = esc(self.title),
        );
        // Grid lines at 0, half and the top, with their values.
        for (i, value) in [0, top / 2, top].into_iter().enumerate() {
            let y = TOP + plot_h - plot_h * (i as f64) / 2.0;
            let _ = write!(
                svg,
                r#"<line class="chart-rule" x1="{LEFT}" x2="{x2}" y1="{y:.1}" y2="{y:.1}"/><text class="chart-axis" x="{tx}" y="{ty:.1}" text-anchor="end">{label}</text>"#,
                x2 = WIDTH - RIGHT,
                tx = LEFT - 6.0,
                ty = y + 4.0,
                label = esc(&(self.format)(value)),
            );
        }
        // Label every column when few, else about eight of them.
        let every = (self.columns.len() / 8).max(1);
        for (i, column) in self.columns.iter().enumerate() {
            let x0 = LEFT + slot * i as f64 + slot * 0.1;
            for (s, value) in column.values.iter().enumerate() {
                let h = if top > 0 {
                    plot_h * (*value as f64) / (top as f64)
                } else {
                    0.0
                };
                let name = self.series.get(s).copied().unwrap_or("");
                let _ = write!(
                    svg,
                    r#"<rect class="chart-bar chart-series-{s}" x="{x:.1}" y="{y:.1}" width="{bar_w:.1}" height="{h:.1}"><title>{label}: {name} {value}</title></rect>"#,
                    x = x0 + bar_w * s as f64,
                    y = TOP + plot_h - h,
                    label = esc(&column.label),
                    name = esc(name),
                    value = esc(&(self.format)(*value)),
                );
            }
            if i % every == 0 {
                let _ = write!(
                    svg,
                    r#"<text class="chart-axis" x="{x:.1}" y="{y}" text-anchor="middle">{label}</text>"#,
                    x = LEFT + slot * (i as f64 + 0.5),
                    y = HEIGHT - 8.0,
                    label = esc(&column.label),
                );
            }
        }
        svg.push_str("</svg>");
        svg
    }

    /// The same numbers as a table (screen readers, and anyone who wants the exact figures).
    pub fn table(&self) -> String {
        let mut html = String::new();
        let _ = write!(
            html,
            r#"<table class="table chart-table" id="{}-table"><thead><tr><th scope="col">{}</th>"#,
            self.id,
            if self.series.len() > 1 { "" } else { "When" }
        );
        for name in &self.series {
            let _ = write!(html, r#"<th scope="col" class="num">{}</th>"#, esc(name));
        }
        html.push_str("</tr></thead><tbody>");
        for column in &self.columns {
            let _ = write!(html, r#"<tr><th scope="row">{}</th>"#, esc(&column.label));
            for value in &column.values {
                let _ = write!(
                    html,
                    r#"<td class="num">{}</td>"#,
                    esc(&(self.format)(*value))
                );
            }
            html.push_str("</tr>");
        }
        html.push_str("</tbody></table>");
        html
    }
}

impl RankChart {
    pub fn is_empty(&self) -> bool {
        self.rows.iter().all(|(_, v)| *v == 0)
    }

    /// The SVG: a row per name, the longest bar the largest value.
    pub fn svg(&self) -> String {
        let row_h = 26.0;
        let label_w = 200.0;
        let height = (self.rows.len().max(1) as f64) * row_h + 8.0;
        let max = self.rows.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
        let plot_w = WIDTH - label_w - 90.0;
        let mut svg = String::new();
        let _ = write!(
            svg,
            r#"<svg class="bar-chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="{id}-title" id="{id}-svg"><title id="{id}-title">{title}</title>"#,
            id = self.id,
            title = esc(self.title),
        );
        for (i, (name, value)) in self.rows.iter().enumerate() {
            let y = 4.0 + row_h * i as f64;
            let w = plot_w * (*value as f64) / (max as f64);
            let shown = esc(&(self.format)(*value));
            let _ = write!(
                svg,
                r#"<text class="chart-label" x="{lx}" y="{ty:.1}" text-anchor="end">{label}</text><rect class="chart-bar chart-series-0" x="{label_w}" y="{y:.1}" width="{w:.1}" height="{bh}"><title>{label}: {shown}</title></rect><text class="chart-value" x="{vx:.1}" y="{ty:.1}">{shown}</text>"#,
                lx = label_w - 8.0,
                ty = y + row_h / 2.0 + 1.0,
                label = esc(&truncate(name, 22)),
                bh = row_h - 8.0,
                vx = label_w + w + 6.0,
            );
        }
        svg.push_str("</svg>");
        svg
    }

    pub fn table(&self) -> String {
        let mut html = String::new();
        let _ = write!(
            html,
            r#"<table class="table chart-table" id="{}-table"><tbody>"#,
            self.id
        );
        for (name, value) in &self.rows {
            let _ = write!(
                html,
                r#"<tr><th scope="row">{}</th><td class="num">{}</td></tr>"#,
                esc(name),
                esc(&(self.format)(*value))
            );
        }
        html.push_str("</tbody></table>");
        html
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut out: String = text.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(values: &[i64]) -> BarChart {
        BarChart {
            id: "c",
            title: "Revenue <per day>",
            series: vec!["Revenue"],
            columns: values
                .iter()
                .enumerate()
                .map(|(i, v)| Column {
                    label: format!("{} Dec", i + 1),
                    values: vec![*v],
                })
                .collect(),
            format: count,
        }
    }

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_ceiling(0), 1);
        assert_eq!(nice_ceiling(7), 10);
        assert_eq!(nice_ceiling(12), 20);
        assert_eq!(nice_ceiling(41_000), 50_000);
        assert_eq!(nice_ceiling(100), 100);
    }

    #[test]
    fn the_tallest_bar_is_the_largest_value_and_text_is_escaped() {
        let svg = chart(&[0, 50, 100]).svg();
        assert!(svg.contains("Revenue &lt;per day&gt;"));
        assert!(!svg.contains("<per day>"));
        // 100 is the top: the full plot height (220 - 12 - 30 = 178).
        assert!(
            svg.contains(r#"height="178.0"><title>3 Dec: Revenue 100</title>"#),
            "{svg}"
        );
        assert!(
            svg.contains(r#"height="89.0"><title>2 Dec: Revenue 50</title>"#),
            "{svg}"
        );
        assert!(!svg.contains("style="), "no inline style under the CSP");
        let table = chart(&[0, 50, 100]).table();
        assert!(table.contains(r#"<th scope="row">2 Dec</th><td class="num">50</td>"#));
        assert!(chart(&[0, 0]).is_empty() && !chart(&[0, 1]).is_empty());
    }
}
