//! `kellect report`: the process tree of a trace as one self-contained HTML page — a
//! timeline of process lifetimes (an SVG of bars from start to exit) above the tree, each
//! process's facts and file and network activity in a `<details>` element that a click on
//! its bar opens. Plain HTML, inline CSS and SVG: no script, no font, nothing fetched, so it
//! opens offline in any browser.
//!
//! Every string from the trace passes [`text`]: control characters made visible
//! ([`escape_control`]), then HTML-escaped by the `html-escape` crate, so a process named
//! `<script>` is shown as that text. The page's size is bounded by the tree's `--limit`
//! (each process takes a bar and a few hundred bytes plus its arguments); what is left out
//! is summed up in the page.

use std::io::{self, Write};
use std::path::Path;

use super::output::escape_control;
use crate::replayer::views::records::kflowd_time;
use crate::replayer::views::tree::{self, Forest, Process};

/// Width of the timeline, pixels: names on the left, bars on the right.
const LABEL_WIDTH: usize = 280;
const CHART_WIDTH: usize = 900;
/// Height of one process's row of the timeline, pixels.
const ROW: usize = 16;
/// Room above the first row for the time axis, pixels.
const AXIS: usize = 28;
/// Levels of the tree indented on the page; deeper ones are drawn at this level.
const INDENTED: usize = 16;

/// A trace string for the page: control characters escaped, then HTML-escaped for text
/// and double-quoted attribute values alike.
pub fn text(s: &str) -> String {
    html(&escape_control(s))
}

/// Text the tree has already escaped for the terminal ([`tree::command_line`],
/// [`tree::network_text`]): HTML-escaped only, so each escape shows once.
fn html(s: &str) -> String {
    html_escape::encode_double_quoted_attribute(s).into_owned()
}

const STYLE: &str = "
body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:1.5em;color:#1b1f24;background:#fff}
h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.15em;margin:1.4em 0 .4em}
.meta{color:#444;margin:.2em 0}.note{background:#fff4d6;border:1px solid #e0c060;padding:.4em .6em;margin:.6em 0}
svg{display:block;border:1px solid #d0d7de;background:#fbfcfd}
svg text{font:11px ui-monospace,monospace;fill:#1b1f24}
svg .axis{stroke:#c8ced6}svg .tick{font:10px ui-monospace,monospace;fill:#57606a}
svg .bar{fill:#8c959f}svg .bar.files{fill:#d4862c}svg .bar.net{fill:#2f7fd0}svg .bar.both{fill:#7a4cc2}
svg a:hover .bar{fill:#111}
details{margin:0;padding:1px 0}summary{cursor:pointer;font-family:ui-monospace,monospace}
details[open]>summary{font-weight:bold}details:has(>table:target)>summary{background:#ffe98a}
table{border-collapse:collapse;margin:.2em 0 .5em 1.2em;font-size:13px}
td{padding:1px 8px;vertical-align:top}td:first-child{color:#57606a;white-space:nowrap}
td code{white-space:pre-wrap;word-break:break-all}
.ctx{color:#6e7781}.legend span{display:inline-block;width:12px;height:10px;margin:0 4px 0 12px}
";

/// The bar's class: what activity the process had.
fn activity_class(p: &Process) -> &'static str {
    match (p.files.records > 0, p.network.sockets > 0) {
        (true, true) => "bar both",
        (true, false) => "bar files",
        (false, true) => "bar net",
        (false, false) => "bar",
    }
}

/// The time span the timeline shows: from the earliest start to the latest end of the
/// processes shown (a process not seen to end lasts to the trace's last record).
fn span(forest: &Forest) -> (i64, i64) {
    let mut first = i64::MAX;
    let mut last = i64::MIN;
    let end = forest.last_ns.unwrap_or(0);
    for &(i, _) in &forest.order {
        if let Some(p) = forest.processes.get(i).filter(|p| !p.ancestor_only) {
            let s = p.start_ns.or(forest.first_ns).unwrap_or(end);
            first = first.min(s);
            last = last.max(p.exit_ns.unwrap_or(end)).max(s);
        }
    }
    if first > last {
        (end, end.saturating_add(1))
    } else {
        (first, last.max(first.saturating_add(1)))
    }
}

/// Seconds as the axis labels them: `+1.250 s`.
fn offset(ns: i64) -> String {
    format!("+{:.3} s", ns as f64 / 1e9)
}

/// Writes the timeline SVG.
fn write_timeline(forest: &Forest, out: &mut dyn Write) -> io::Result<()> {
    let (t0, t1) = span(forest);
    let scale = CHART_WIDTH as f64 / (t1 - t0) as f64;
    let x = |t: i64| LABEL_WIDTH as f64 + ((t - t0) as f64 * scale).clamp(0.0, CHART_WIDTH as f64);
    let width = LABEL_WIDTH + CHART_WIDTH + 10;
    let height = AXIS + ROW * forest.order.len() + 6;
    writeln!(
        out,
        "<svg id=\"timeline\" width=\"{width}\" \
         height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" \
         aria-label=\"process lifetimes\">"
    )?;
    for k in 0..=4 {
        let t = t0 + (t1 - t0) / 4 * k;
        let xk = x(t);
        writeln!(
            out,
            "<line class=\"axis\" x1=\"{xk:.1}\" y1=\"{}\" x2=\"{xk:.1}\" y2=\"{height}\"/>\
             <text class=\"tick\" x=\"{:.1}\" y=\"14\" text-anchor=\"{}\">{}</text>",
            AXIS - 6,
            xk,
            match k {
                0 => "start",
                4 => "end",
                _ => "middle",
            },
            offset(t - t0)
        )?;
    }
    for (row, &(i, depth)) in forest.order.iter().enumerate() {
        let Some(p) = forest.processes.get(i) else {
            continue;
        };
        let y = AXIS + row * ROW;
        let start = p.start_ns.unwrap_or(t0);
        // A process the replay forgot, its end not seen, is drawn as a mark at its start:
        // it may have ended at any time.
        let end = p
            .exit_ns
            .or(p.forgotten.then_some(start))
            .unwrap_or(t1)
            .max(start);
        let (x0, x1) = (x(start), x(end));
        let label: String = escape_control(&p.comm).chars().take(20).collect();
        let title = format!(
            "{} [{}] {}; {} → {}; {}; {}",
            escape_control(&p.comm),
            p.pid,
            tree::status(p),
            p.start.as_deref().unwrap_or("start not seen"),
            p.exit.as_deref().unwrap_or("end not seen"),
            tree::files_text(&p.files),
            tree::network_text(&p.network)
        );
        // A process known only as an ancestor has no lifetime to draw.
        let bar = if p.ancestor_only {
            String::new()
        } else {
            format!(
                "<rect class=\"{}\" x=\"{x0:.1}\" y=\"{}\" width=\"{:.1}\" height=\"{}\"/>",
                activity_class(p),
                y + 2,
                (x1 - x0).max(2.0),
                ROW - 4
            )
        };
        writeln!(
            out,
            "<a href=\"#p{row}\"><title>{}</title><text x=\"{}\" y=\"{}\">{} [{}]</text>{bar}</a>",
            html(&title),
            4 + 8 * depth.min(INDENTED),
            y + ROW - 4,
            html_escape::encode_text(&label),
            p.pid,
        )?;
    }
    writeln!(out, "</svg>")
}

/// Writes one process's `<details>`: a summary line, a table of its facts. The table
/// carries the id the timeline links to: a browser opens a closed `<details>` when the
/// link's target is inside it.
fn write_process(p: &Process, row: usize, depth: usize, out: &mut dyn Write) -> io::Result<()> {
    let mut facts: Vec<(&str, String)> = Vec::new();
    if let Some(exe) = &p.exe {
        facts.push(("exe", text(exe)));
    }
    if !p.argv.is_empty() {
        facts.push(("argv", html(&tree::command_line(p))));
    }
    facts.push(("user", html(&tree::user_text(p))));
    facts.push(("pid / ppid", format!("{} / {}", p.pid, p.ppid)));
    if let Some(c) = &p.container {
        let pod = c
            .pod
            .as_deref()
            .map_or(String::new(), |pod| format!(" (pod {})", text(pod)));
        facts.push((
            "container",
            format!("{} {}{pod}", text(&c.runtime), text(&c.id)),
        ));
    }
    facts.push(("start", text(p.start.as_deref().unwrap_or("not seen"))));
    facts.push((
        "exit",
        text(&match &p.exit {
            Some(t) => format!("{t} ({})", tree::status(p)),
            None => tree::status(p),
        }),
    ));
    for f in &p.failed_execs {
        facts.push(("failed exec", html(&tree::failed_exec_text(f))));
    }
    if p.more_failed_execs > 0 {
        facts.push(("failed exec", format!("{} more", p.more_failed_execs)));
    }
    facts.push(("exec id", html(&tree::id_text(&p.exec_id))));
    facts.push(("files", text(&tree::files_text(&p.files))));
    facts.push(("network", html(&tree::network_text(&p.network))));
    write!(
        out,
        "<details data-pid=\"{}\" style=\"margin-left:{}em\"><summary>{}{} \
         [{}] {}{}</summary><table id=\"p{row}\">",
        p.pid,
        depth.min(INDENTED) * 2,
        if depth > INDENTED {
            format!("(depth {depth}) ")
        } else {
            String::new()
        },
        text(&p.comm),
        p.pid,
        text(&tree::status(p)),
        if p.matched {
            ""
        } else {
            " <span class=\"ctx\">(ancestor of a match)</span>"
        }
    )?;
    for (name, value) in facts {
        write!(out, "<tr><td>{name}</td><td><code>{value}</code></td></tr>")?;
    }
    writeln!(out, "</table></details>")
}

/// Writes the page for `forest`, built from `inputs`. Errors: writing.
pub fn write_html(forest: &Forest, inputs: &[&Path], out: &mut dyn Write) -> io::Result<()> {
    let host = forest.host.as_deref().unwrap_or("unknown host");
    writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>kellect report: {}</title><style>{STYLE}</style></head><body>",
        text(host)
    )?;
    writeln!(out, "<h1>Processes of {}</h1>", text(host))?;
    let files: Vec<String> = inputs
        .iter()
        .map(|p| text(&p.display().to_string()))
        .collect();
    writeln!(
        out,
        "<p class=\"meta\">Trace: {}</p><p class=\"meta\">Records from {} to {}.</p>\
         <p class=\"meta\" id=\"counts\">{} processes shown, {} matched the filters.</p>",
        files.join(", "),
        text(&forest.first_ns.map_or("?".into(), kflowd_time)),
        text(&forest.last_ns.map_or("?".into(), kflowd_time)),
        forest.order.len(),
        forest.matched
    )?;
    for line in tree::summary(forest) {
        writeln!(out, "<p class=\"note\">{}</p>", text(&line))?;
    }
    for w in &forest.report.warnings {
        writeln!(out, "<p class=\"note\">warning: {}</p>", text(w))?;
    }
    let (t0, _) = span(forest);
    writeln!(
        out,
        "<h2>Timeline</h2><p class=\"meta\">Each bar runs from a process's start (its \
         exec) to its exit; seconds after {}. A click opens its details below. \
         <span class=\"legend\"><span style=\"background:#d4862c\"></span>files\
         <span style=\"background:#2f7fd0\"></span>network\
         <span style=\"background:#7a4cc2\"></span>both\
         <span style=\"background:#8c959f\"></span>neither</span></p>",
        text(&kflowd_time(t0))
    )?;
    write_timeline(forest, out)?;
    writeln!(out, "<h2>Process tree</h2><div id=\"tree\">")?;
    for (row, &(i, depth)) in forest.order.iter().enumerate() {
        if let Some(p) = forest.processes.get(i) {
            write_process(p, row, depth, out)?;
        }
    }
    if forest.order.is_empty() {
        writeln!(out, "<p>No process matches.</p>")?;
    }
    writeln!(
        out,
        "</div><p class=\"meta\">Made by kellect {} from the records view.</p></body></html>",
        env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_strings_cannot_open_a_tag() {
        assert_eq!(
            text("<script>alert(1)</script>"),
            "&lt;script&gt;alert(1)&lt;/script&gt;"
        );
        assert_eq!(text("a\"b\x1b"), "a&quot;b\\x1b");
        assert_eq!(text("&amp;"), "&amp;amp;");
    }
}
