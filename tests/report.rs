//! `kellect tree` and `kellect report` on the committed fixtures: the processes the
//! records view names, with their arguments and exit codes, under the parent their
//! `ProcPPID` names; filters that keep ancestors; a bounded, deterministic output; and
//! hostile strings that neither break the layout nor reach the terminal or the page as
//! markup. The live tests record such strings for real and render the page in headless
//! Chromium.

use std::path::Path;

use serde_json::Value;

use crate::util::{fixture, json_lines, run_ok};

/// Fixtures with process records, for the structural checks.
const FIXTURES: [&str; 8] = [
    "records",
    "exec",
    "files",
    "files2",
    "container",
    "system",
    "uring",
    "mmsg",
];

fn tree(trace: &Path, extra: &[&str]) -> String {
    let mut args = vec!["tree", trace.to_str().unwrap()];
    args.extend_from_slice(extra);
    String::from_utf8(run_ok(&args).stdout).expect("tree prints UTF-8")
}

fn tree_json(trace: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["-o", "json"];
    args.extend_from_slice(extra);
    let text = tree(trace, &args);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("tree -o json is JSON ({e}): {text}"))
}

/// Every process of the JSON tree with its parent's pid (None for roots), depth first.
fn flatten(tree: &Value) -> Vec<(Value, Option<u64>)> {
    let mut out = Vec::new();
    let mut stack: Vec<(&Value, Option<u64>)> = tree["processes"]
        .as_array()
        .expect("processes is an array")
        .iter()
        .rev()
        .map(|p| (p, None))
        .collect();
    while let Some((p, parent)) = stack.pop() {
        let children = p["children"].as_array().expect("children is an array");
        stack.extend(children.iter().rev().map(|c| (c, p["pid"].as_u64())));
        out.push((p.clone(), parent));
    }
    out
}

/// The process records of the records view of `trace`.
fn process_records(trace: &Path) -> Vec<Value> {
    let out = run_ok(&["replay", trace.to_str().unwrap(), "-o", "json-min"]);
    json_lines(&out.stdout)
        .into_iter()
        .filter(|r| r["InfoMonitor"] == "process")
        .collect()
}

#[test]
fn tree_holds_every_process_record_under_its_ppid() {
    for stem in FIXTURES {
        let trace = fixture(&format!("{stem}.kz"));
        let nodes = flatten(&tree_json(&trace, &[]));
        let records = process_records(&trace);
        assert!(
            !records.is_empty(),
            "{stem}: the fixture has process records"
        );
        for r in &records {
            let (node, parent) = nodes
                .iter()
                .find(|(n, _)| n["exec_id"] == r["ProcExecId"])
                .unwrap_or_else(|| panic!("{stem}: no process {} in the tree", r["ProcExecId"]));
            assert_eq!(node["pid"], r["ProcPID"], "{stem}: {node}");
            assert_eq!(node["ppid"], r["ProcPPID"], "{stem}: {node}");
            assert_eq!(node["argv"], r["ProcArgv"], "{stem}: {node}");
            assert_eq!(node["exe"], r["ProcExe"], "{stem}: {node}");
            assert_eq!(node["comm"], r["Proc"], "{stem}: {node}");
            if r["InfoExport"] == "exit" {
                assert_eq!(node["exit_code"], r["ProcExitCode"], "{stem}: {node}");
            }
            if let Some(parent) = parent {
                assert_eq!(Some(*parent), r["ProcPPID"].as_u64(), "{stem}: {node}");
            }
        }
        for (node, parent) in &nodes {
            if let Some(parent) = parent {
                assert_eq!(node["ppid"].as_u64(), Some(*parent), "{stem}: {node}");
            }
        }
    }
}

#[test]
fn tree_text_shows_the_records_fixtures_commands_and_exit_codes() {
    let text = tree(&fixture("records.kz"), &[]);
    for line in [
        "sh [21307] exit 0",
        "├── dig [21308] exit 0",
        "argv:  dig @127.0.0.1 -p 15353 +tries=1 +time=2 kellect.test A",
        "exe:   /usr/bin/curl",
        "└── curl [21319] exit 7",
        "net:   1 sockets: 88 B sent, 205 B received; TCP 127.0.0.1:18080",
        "net:   2 sockets: 53 B sent, 57 B received; UDP 127.0.0.1:15353",
        "argv:  logger -n 127.0.0.1 -P 15514 -d --rfc3164 -t kellecttest 'hello syslog'",
        "files: 18 file records: 17 opened, 2 read, 0 written, 0 created, 1 deleted; size +0 B",
        "time:  Sat, Nov 21 2026 09:09:24.170498590 UTC → Sat, Nov 21 2026 09:09:24.190131930 UTC",
        "user:  root (uid 0)  ppid: 21307",
        // The subshell of `{ …; } | tee` forked and never exec'd: named by sleep's ancestors.
        "├── sh [21314] (no record of its own: named as an ancestor)",
        "│   └── sleep [21316] exit 0",
    ] {
        assert!(text.contains(line), "`{line}` is not in:\n{text}");
    }
    let ascii = tree(&fixture("records.kz"), &["--ascii"]);
    assert!(ascii.is_ascii(), "--ascii draws with ASCII only:\n{ascii}");
    assert!(ascii.contains("|-- dig [21308] exit 0") && ascii.contains("`-- curl [21319] exit 7"));
}

#[test]
fn tree_shows_containers_and_images_replaced_by_exec() {
    let text = tree(&fixture("container.kz"), &[]);
    assert!(
        text.contains(
            "container: docker 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        ),
        "{text}"
    );
    let exec = tree(&fixture("exec.kz"), &[]);
    assert!(exec.contains("├── exec [27567] replaced by exec"), "{exec}");
    assert!(exec.contains("├── echo [27567] exit 0"), "{exec}");
}

#[test]
fn filters_keep_the_ancestors_of_each_match() {
    let trace = fixture("records.kz");
    let nodes = flatten(&tree_json(&trace, &["--exit-code", "7"]));
    let shown: Vec<(u64, bool)> = nodes
        .iter()
        .map(|(n, _)| (n["pid"].as_u64().unwrap(), n["matched"].as_bool().unwrap()))
        .collect();
    assert_eq!(shown, vec![(21307, false), (21319, true)]);
    let nodes = flatten(&tree_json(&trace, &["--comm", "sl*"]));
    let pids: Vec<u64> = nodes
        .iter()
        .map(|(n, _)| n["pid"].as_u64().unwrap())
        .collect();
    assert_eq!(pids, vec![21307, 21314, 21316]);
    let nodes = flatten(&tree_json(&trace, &["--pid", "21308,21313"]));
    let pids: Vec<u64> = nodes
        .iter()
        .map(|(n, _)| n["pid"].as_u64().unwrap())
        .collect();
    assert_eq!(pids, vec![21307, 21308, 21313]);
    // Relative times: seconds after the recording started (0.19 s in, dig has exited).
    let late = flatten(&tree_json(&trace, &["--since", "0.3", "--uid", "0"]));
    assert!(late.iter().all(|(n, _)| n["pid"] != 21308), "{late:?}");
    assert!(late.iter().any(|(n, _)| n["pid"] == 21319));
    let none = tree_json(&trace, &["--until", "2000-01-01T00:00:00Z"]);
    assert_eq!(none["shown"], 0);
    assert!(tree(&trace, &["--pid", "1"]).starts_with("no process matches"));
    let container = flatten(&tree_json(
        &fixture("container.kz"),
        &["--container", "0123456789ab"],
    ));
    assert!(container.iter().all(|(n, _)| n["container"]["id"]
        .as_str()
        .unwrap()
        .starts_with("0123456789ab")));
    assert!(!container.is_empty());
}

#[test]
fn the_limit_counts_what_it_leaves_out() {
    let trace = fixture("records.kz");
    let all = tree_json(&trace, &[]);
    let cut = tree_json(&trace, &["--limit", "3"]);
    let total = all["shown"].as_u64().unwrap();
    assert_eq!(cut["shown"], 3);
    assert_eq!(cut["left_out"].as_u64().unwrap(), total - 3);
    assert!(cut["left_out_files"]["records"].as_u64().unwrap() > 0);
    let text = tree(&trace, &["--limit", "3"]);
    assert!(
        text.contains(&format!(
            "{} more processes not shown (--limit 3)",
            total - 3
        )),
        "{text}"
    );
    crate::util::run_err(&["tree", trace.to_str().unwrap(), "--limit", "0"], 2);
}

#[test]
fn tree_and_report_are_the_same_for_any_thread_count() {
    let trace = fixture("records.kz");
    let dir = tempfile::tempdir().unwrap();
    for format in ["text", "json"] {
        let one = tree(&trace, &["-o", format, "-j", "1"]);
        assert_eq!(one, tree(&trace, &["-o", format, "-j", "2"]), "-o {format}");
    }
    let page = |j: &str| {
        let out = dir.path().join(format!("r{j}.html"));
        run_ok(&[
            "report",
            trace.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "-j",
            j,
        ]);
        std::fs::read(out).unwrap()
    };
    assert_eq!(page("1"), page("2"));
}

#[test]
fn report_is_one_self_contained_page_with_every_process() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.html");
    let trace = fixture("records.kz");
    run_ok(&[
        "report",
        trace.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    // The only URLs are the trace's curl arguments, as text.
    let rest = html.replace("http://127.0.0.1:", "");
    for fetches in [
        "<script", "<link", "src=", "url(", "@import", "http://", "https://",
    ] {
        assert!(
            !rest.contains(fetches),
            "the page must fetch nothing: it holds `{fetches}`"
        );
    }
    for (pid, comm) in [
        (21307, "sh"),
        (21308, "dig"),
        (21311, "curl"),
        (21319, "curl"),
    ] {
        assert!(
            html.contains(&format!("<summary>{comm} [{pid}]")),
            "{comm} [{pid}] has no details"
        );
        assert!(
            html.contains(&format!(">{comm} [{pid}]</text>")),
            "{comm} has no bar label"
        );
    }
    assert!(html.contains("curl [21319] exit 7"));
    assert!(html.contains("<svg") && html.matches("<rect class=\"bar").count() >= 9);
    let cut = dir.path().join("cut.html");
    run_ok(&[
        "report",
        trace.to_str().unwrap(),
        "-o",
        cut.to_str().unwrap(),
        "--limit",
        "2",
    ]);
    let cut = std::fs::read_to_string(&cut).unwrap();
    assert!(
        cut.contains("more processes not shown (--limit 2)"),
        "the page says what it left out"
    );
    assert_eq!(cut.matches("<details").count(), 2);
}

#[cfg(feature = "record")]
mod live {
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::time::Duration;

    use crate::live::live;
    use crate::util::{fixture, record_in, run_ok};

    /// The name of the symbolic link the hostile workload runs `/bin/true` through: its
    /// comm (the link's name) holds markup and an ANSI escape.
    const HOSTILE_COMM: &str = "\x1b[31m<b>evil";
    const HOSTILE_ARG: &str = "<script>alert(1)</script>";
    const TITLE_ARG: &str = "\x1b]0;pwned\x07\nnext";

    /// Records `/bin/true` run through a link named [`HOSTILE_COMM`] with hostile arguments.
    fn hostile_trace(dir: &Path) -> PathBuf {
        let link = dir.join(HOSTILE_COMM);
        std::os::unix::fs::symlink("/bin/true", &link).unwrap();
        let trace = dir.join("hostile.kz");
        let args = [link.as_os_str(), HOSTILE_ARG.as_ref(), TITLE_ARG.as_ref()];
        record_in(dir, &trace, &args);
        trace
    }

    /// `chromium` (Debian's package; scripts/setup.sh installs it for the tests) run headless
    /// with a fresh profile and a time limit; panics if it is missing or fails.
    fn chromium(page: &Path, fragment: &str, args: &[&str]) -> Vec<u8> {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--hide-scrollbars",
                "--window-size=1280,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(args)
            .arg(format!("file://{}{fragment}", page.display()))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("chromium must be installed (scripts/setup.sh: kellect_need_test_tools)");
        let mut stdout = child.stdout.take().unwrap();
        // Read on a thread that reports through a channel: a helper process that kept
        // stdout open must not hang the test either.
        let (sent, output) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let _ = sent.send(std::io::Read::read_to_end(&mut stdout, &mut out).map(|_| out));
        });
        for _ in 0..600 {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "chromium {args:?} failed: {status}");
                return output
                    .recv_timeout(Duration::from_secs(30))
                    .expect("chromium's stdout closes when it exits")
                    .unwrap();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("chromium {args:?} did not finish within a minute");
    }

    /// Pixels of the PNG that differ from its top-left pixel (the page's background),
    /// and all its pixels.
    fn drawn_pixels(png_file: &Path) -> (usize, usize) {
        let decoder = png::Decoder::new(std::fs::File::open(png_file).unwrap());
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        let channels = info.color_type.samples();
        let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
        let background = pixels[0];
        (
            pixels.iter().filter(|p| **p != background).count(),
            pixels.len(),
        )
    }

    #[test]
    fn report_renders_in_chromium_with_its_processes() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let page = dir.path().join("report.html");
        let trace = fixture("records.kz");
        run_ok(&[
            "report",
            trace.to_str().unwrap(),
            "-o",
            page.to_str().unwrap(),
        ]);
        let shot = dir.path().join("shot.png");
        chromium(&page, "", &[&format!("--screenshot={}", shot.display())]);
        let (drawn, all) = drawn_pixels(&shot);
        assert_eq!(all, 1280 * 900, "the screenshot has the window's size");
        // Text, the timeline's frame and its bars: a blank or error page has far fewer.
        assert!(drawn > all / 50, "only {drawn} of {all} pixels are drawn");
        let dom = String::from_utf8(chromium(&page, "", &["--dump-dom"])).unwrap();
        for (pid, comm) in [
            (21307, "sh"),
            (21308, "dig"),
            (21313, "logger"),
            (21319, "curl"),
        ] {
            assert!(
                dom.contains(&format!("<summary>{comm} [{pid}]")),
                "the DOM has no {comm} [{pid}]:\n{dom}"
            );
        }
        assert!(
            dom.contains("<rect class=\"bar"),
            "the DOM has the timeline's bars"
        );
    }

    #[test]
    fn hostile_names_and_arguments_stay_text_in_the_tree_and_the_page() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let trace = hostile_trace(dir.path());
        let text = super::tree(&trace, &[]);
        assert!(
            !text.contains('\x1b') && !text.contains('\x07'),
            "no raw escape reaches the terminal:\n{text}"
        );
        assert!(text.contains("\\x1b[31m<b>evil ["), "{text}");
        assert!(
            text.contains("'<script>alert(1)</script>' '\\x1b]0;pwned\\x07\\nnext'"),
            "{text}"
        );
        let process = text
            .lines()
            .position(|l| l.contains("<b>evil ["))
            .expect("the hostile process is in the tree");
        // The newline of the argument did not start a line of its own.
        assert!(text.lines().all(|l| !l.starts_with("next")), "{text}");
        assert!(
            text.lines().nth(process + 2).unwrap().contains("argv:"),
            "{text}"
        );

        let page = dir.path().join("hostile.html");
        run_ok(&[
            "report",
            trace.to_str().unwrap(),
            "-o",
            page.to_str().unwrap(),
        ]);
        let html = std::fs::read_to_string(&page).unwrap();
        assert!(!html.contains("<script") && !html.contains("<b>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(html.contains("\\x1b[31m&lt;b&gt;evil"), "{html}");
        // The arguments as the tree shows them: each escape once, never `\\x1b`.
        assert!(
            html.contains("&#x27;\\x1b]0;pwned\\x07\\nnext&#x27;")
                || html.contains("'\\x1b]0;pwned\\x07\\nnext'"),
            "{html}"
        );
        assert!(!html.contains("\\\\x1b"), "escaped twice:\n{html}");
        let dom = String::from_utf8(chromium(&page, "", &["--dump-dom"])).unwrap();
        assert!(!dom.contains("<script") && !dom.contains("<b>"), "{dom}");
        assert!(
            dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{dom}"
        );
        assert!(dom.contains("\\x1b[31m&lt;b&gt;evil ["), "{dom}");
    }
}
