//! Line charts drawn on the server as inline SVG: no script, no chart library, nothing fetched;
//! the stylesheet colours the lines by class. Each chart carries its title and a one-line summary
//! as `<title>`/`<desc>` for screen readers (the page shows the summary as text too).

use std::fmt::Write;

/// The drawing's size in SVG units (it scales to the page's width).
const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 150.0;

/// One line of a chart: its points as (unix seconds, value) and the CSS class that colours it.
pub struct Line<'a> {
    pub class: &'a str,
    pub points: Vec<(i64, f64)>,
}

/// A chart over `[start, end]` (unix seconds), values from 0 to `top`.
pub struct Chart<'a> {
    /// Names the chart (`<title>`), e.g. "CPU, last 24 hours".
    pub title: &'a str,
    /// What it shows in numbers (`<desc>`), e.g. "average 12 %, peak 54 %".
    pub summary: &'a str,
    pub start: i64,
    pub end: i64,
    pub top: f64,
    /// The top value as a label (`100 %`, `2 GB`).
    pub top_label: &'a str,
    /// The left end's label (`24 h ago`).
    pub start_label: &'a str,
    pub lines: Vec<Line<'a>>,
    /// Points further apart than this (seconds) are not joined: the server was not sampled.
    pub gap: i64,
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

impl Chart<'_> {
    /// The `<svg>` element.
    pub fn svg(&self) -> String {
        let span = (self.end - self.start).max(1) as f64;
        let top = if self.top > 0.0 { self.top } else { 1.0 };
        let x = |t: i64| ((t - self.start) as f64 / span * WIDTH).clamp(0.0, WIDTH);
        let y = |v: f64| (HEIGHT - (v / top).clamp(0.0, 1.0) * HEIGHT).clamp(0.0, HEIGHT);
        let mut out = String::new();
        let _ = write!(
            out,
            "<svg class=\"chart\" viewBox=\"0 -14 {WIDTH} {}\" role=\"img\" \
             preserveAspectRatio=\"none\" aria-labelledby=\"{id}-t {id}-d\">\
             <title id=\"{id}-t\">{}</title><desc id=\"{id}-d\">{}</desc>",
            HEIGHT + 30.0,
            escape(self.title),
            escape(self.summary),
            id = chart_id(self.title),
        );
        let _ = write!(
            out,
            "<line class=\"chart-grid\" x1=\"0\" y1=\"0\" x2=\"{WIDTH}\" y2=\"0\"/>\
             <line class=\"chart-axis\" x1=\"0\" y1=\"{HEIGHT}\" x2=\"{WIDTH}\" y2=\"{HEIGHT}\"/>\
             <text class=\"chart-label\" x=\"2\" y=\"-3\">{}</text>\
             <text class=\"chart-label\" x=\"2\" y=\"{}\">{}</text>\
             <text class=\"chart-label\" x=\"{WIDTH}\" y=\"{}\" text-anchor=\"end\">now</text>",
            escape(self.top_label),
            HEIGHT + 13.0,
            escape(self.start_label),
            HEIGHT + 13.0,
        );
        for line in &self.lines {
            let mut segment: Vec<String> = Vec::new();
            let mut previous: Option<i64> = None;
            let flush = |segment: &mut Vec<String>, out: &mut String| {
                if segment.len() > 1 {
                    let _ = write!(
                        out,
                        "<polyline class=\"chart-line {}\" points=\"{}\"/>",
                        escape(line.class),
                        segment.join(" ")
                    );
                } else if let Some(point) = segment.first() {
                    let (px, py) = point.split_once(',').unwrap_or(("0", "0"));
                    let _ = write!(
                        out,
                        "<circle class=\"chart-dot {}\" cx=\"{px}\" cy=\"{py}\" r=\"2\"/>",
                        escape(line.class)
                    );
                }
                segment.clear();
            };
            for &(t, v) in &line.points {
                if previous.is_some_and(|p| t - p > self.gap) {
                    flush(&mut segment, &mut out);
                }
                segment.push(format!("{:.1},{:.1}", x(t), y(v)));
                previous = Some(t);
            }
            flush(&mut segment, &mut out);
        }
        out.push_str("</svg>");
        out
    }
}

/// An id for the chart's title and description, from its title.
fn chart_id(title: &str) -> String {
    let slug: String = title
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("chart-{}", slug.trim_matches('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_draws_its_lines_breaks_them_at_gaps_and_escapes_its_words() {
        let chart = Chart {
            title: "CPU <last> 24 hours",
            summary: "average 12 %",
            start: 0,
            end: 600,
            top: 1.0,
            top_label: "100 %",
            start_label: "24 h ago",
            lines: vec![Line {
                class: "chart-cpu",
                points: vec![(0, 0.0), (100, 0.5), (500, 1.0)],
            }],
            gap: 150,
        };
        let svg = chart.svg();
        assert!(svg.starts_with("<svg class=\"chart\""));
        assert!(svg.contains(
            "<title id=\"chart-cpu--last--24-hours-t\">CPU &lt;last&gt; 24 hours</title>"
        ));
        assert!(svg.contains(
            "<polyline class=\"chart-line chart-cpu\" points=\"0.0,150.0 100.0,75.0\"/>"
        ));
        // The lone point after the gap is a dot.
        assert!(
            svg.contains("<circle class=\"chart-dot chart-cpu\" cx=\"500.0\" cy=\"0.0\" r=\"2\"/>")
        );
        assert!(svg.ends_with("</svg>"));
    }
}
