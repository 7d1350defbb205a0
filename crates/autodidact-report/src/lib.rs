//! The HTML report of an autodidact run: one self-contained page (inline CSS and SVG, no
//! scripts, no external resources), with every piece of model-written text escaped.
//!
//! ```
//! use autodidact_report::{Report, Section, Table, Chart, Series};
//! let mut report = Report::new("run");
//! report.sections.push(Section::Table(Table {
//!     title: "Generations".into(),
//!     header: vec!["generation".into(), "kept".into()],
//!     rows: vec![vec!["0".into(), "12".into()]],
//! }));
//! report.sections.push(Section::Chart(Chart {
//!     title: "Kept per generation".into(),
//!     x_labels: vec!["0".into()],
//!     series: vec![Series { name: "kept".into(), values: vec![Some(12.0)] }],
//!     y_max: None,
//! }));
//! let html = report.render();
//! assert!(html.contains("<svg"));
//! ```
#![deny(missing_docs)]

use std::fmt::Write as _;

/// A report: a title and sections in order.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The page title.
    pub title: String,
    /// A line under the title.
    pub subtitle: String,
    /// What the page shows, in order.
    pub sections: Vec<Section>,
}

/// One part of a report.
#[derive(Debug, Clone)]
pub enum Section {
    /// A table.
    Table(Table),
    /// A line chart over generations.
    Chart(Chart),
    /// Example records.
    Samples(Samples),
    /// A paragraph of text.
    Text(String),
}

/// A table of text cells.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Its heading.
    pub title: String,
    /// Column names.
    pub header: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
}

/// A line chart: one line per series over the x labels (usually generations).
#[derive(Debug, Clone, Default)]
pub struct Chart {
    /// Its heading.
    pub title: String,
    /// The x axis labels.
    pub x_labels: Vec<String>,
    /// The lines.
    pub series: Vec<Series>,
    /// The top of the y axis (default: the largest value).
    pub y_max: Option<f64>,
}

/// One line of a chart; `None` leaves a gap.
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// Its legend.
    pub name: String,
    /// One value per x label.
    pub values: Vec<Option<f64>>,
}

/// Example records.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    /// Its heading.
    pub title: String,
    /// The examples.
    pub items: Vec<Sample>,
}

/// One example record.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// A short label (generation, verdict, score).
    pub label: String,
    /// The prompt.
    pub prompt: String,
    /// The response.
    pub response: String,
    /// Why it was kept or rejected, or the judge's explanation.
    pub note: String,
}

/// Escapes text for HTML content and attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const COLORS: &[&str] = &["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}\
h1{margin-bottom:.2em}.sub{color:#666;margin-top:0}table{border-collapse:collapse;margin:1em 0;font-size:.9em}\
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}th{background:#f3f3f3}td:first-child{text-align:left}\
.sample{border:1px solid #ddd;border-radius:4px;padding:.6em;margin:.6em 0}.sample pre{white-space:pre-wrap;margin:.3em 0;font-size:.85em}\
.label{font-weight:600}.note{color:#555;font-size:.85em}svg text{font-size:11px;fill:#333}";

impl Report {
    /// An empty report with a title.
    pub fn new(title: impl Into<String>) -> Report {
        Report { title: title.into(), ..Report::default() }
    }

    /// The whole page.
    pub fn render(&self) -> String {
        let mut h = String::new();
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n<p class=\"sub\">{}</p>\n",
            escape(&self.title),
            escape(&self.title),
            escape(&self.subtitle)
        );
        for s in &self.sections {
            match s {
                Section::Table(t) => render_table(&mut h, t),
                Section::Chart(c) => render_chart(&mut h, c),
                Section::Samples(s) => render_samples(&mut h, s),
                Section::Text(t) => {
                    let _ = writeln!(h, "<p>{}</p>", escape(t));
                }
            }
        }
        h.push_str("</body></html>\n");
        h
    }
}

fn render_table(h: &mut String, t: &Table) {
    let _ = writeln!(h, "<h2>{}</h2>\n<table><tr>", escape(&t.title));
    for c in &t.header {
        let _ = write!(h, "<th>{}</th>", escape(c));
    }
    h.push_str("</tr>\n");
    for row in &t.rows {
        h.push_str("<tr>");
        for c in row {
            let _ = write!(h, "<td>{}</td>", escape(c));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}

fn render_chart(h: &mut String, c: &Chart) {
    let (w, ht, left, right, top, bottom) = (640.0, 260.0, 50.0, 150.0, 10.0, 30.0);
    let pw = w - left - right;
    let ph = ht - top - bottom;
    let max_v = c
        .y_max
        .unwrap_or_else(|| c.series.iter().flat_map(|s| s.values.iter().flatten()).fold(0.0f64, |a, &b| a.max(b)));
    let max_v = if max_v > 0.0 && max_v.is_finite() { max_v } else { 1.0 };
    let n = c.x_labels.len().max(1);
    let x = |i: usize| left + if n == 1 { pw / 2.0 } else { pw * i as f64 / (n - 1) as f64 };
    let y = |v: f64| top + ph - ph * (v / max_v).clamp(0.0, 1.0);
    let _ = writeln!(h, "<h2>{}</h2>", escape(&c.title));
    let _ = writeln!(h, "<svg width=\"{w}\" height=\"{ht}\" role=\"img\">");
    let _ = writeln!(
        h,
        "<line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{}\" stroke=\"#999\"/><line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#999\"/>",
        top + ph,
        top + ph,
        left + pw,
        top + ph
    );
    for k in 0..=4 {
        let v = max_v * k as f64 / 4.0;
        let _ = writeln!(h, "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>", left - 4.0, y(v) + 4.0, fmt_num(v));
    }
    for (i, l) in c.x_labels.iter().enumerate() {
        let _ = writeln!(h, "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>", x(i), top + ph + 16.0, escape(l));
    }
    for (si, s) in c.series.iter().enumerate() {
        let color = COLORS[si % COLORS.len()];
        let mut path = String::new();
        let mut pen_down = false;
        for (i, v) in s.values.iter().enumerate() {
            match v {
                Some(v) if v.is_finite() => {
                    let _ = write!(path, "{}{:.1},{:.1} ", if pen_down { "L" } else { "M" }, x(i), y(*v));
                    pen_down = true;
                    let _ = writeln!(h, "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"><title>{}: {}</title></circle>", x(i), y(*v), escape(&s.name), fmt_num(*v));
                }
                _ => pen_down = false,
            }
        }
        if !path.is_empty() {
            let _ = writeln!(h, "<path d=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>", path.trim());
        }
        let ly = top + 14.0 * si as f64 + 8.0;
        let _ = writeln!(
            h,
            "<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{color}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            left + pw + 12.0,
            ly - 8.0,
            left + pw + 26.0,
            ly + 1.0,
            escape(&s.name)
        );
    }
    h.push_str("</svg>\n");
}

fn fmt_num(v: f64) -> String {
    if v.abs() >= 100.0 || v == v.trunc() { format!("{v:.0}") } else { format!("{v:.2}") }
}

fn render_samples(h: &mut String, s: &Samples) {
    let _ = writeln!(h, "<h2>{}</h2>", escape(&s.title));
    for it in &s.items {
        let _ = writeln!(
            h,
            "<div class=\"sample\"><div class=\"label\">{}</div><pre>{}</pre><pre>{}</pre><div class=\"note\">{}</div></div>",
            escape(&it.label),
            escape(&it.prompt),
            escape(&it.response),
            escape(&it.note)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_text_is_escaped() {
        let mut r = Report::new("t<script>");
        r.sections.push(Section::Samples(Samples {
            title: "s".into(),
            items: vec![Sample { label: "l".into(), prompt: "<script>alert(1)</script>".into(), response: "a & b \"q\"".into(), note: String::new() }],
        }));
        let html = r.render();
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("a &amp; b &quot;q&quot;"));
    }

    #[test]
    fn chart_draws_a_point_per_value_and_gaps() {
        let c = Chart {
            title: "c".into(),
            x_labels: vec!["0".into(), "1".into(), "2".into()],
            series: vec![Series { name: "a".into(), values: vec![Some(1.0), None, Some(3.0)] }],
            y_max: None,
        };
        let mut h = String::new();
        render_chart(&mut h, &c);
        assert_eq!(h.matches("<circle").count(), 2);
        // The gap splits the line into two moves.
        assert_eq!(h.matches('M').count() - h.matches("M ").count(), 2, "{h}");
        assert!(!h.contains("NaN"));
    }

    #[test]
    fn page_is_self_contained() {
        let html = Report::new("x").render();
        assert!(!html.contains("<script") && !html.contains("http://") && !html.contains("https://"));
    }
}
