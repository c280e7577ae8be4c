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
        // The subshell of `{ …; } | tee` forked and never exec'd: its fork and exit are
        // in the process events (it was shown as an ancestor only, no exit, when the
        // tree was built from the records alone).
        "├── sh [21314] exit 0",
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
    // A process a signal ended has no exit status: catalogue.kz's SIGTERM'd child is no
    // match of --exit-code 0.
    let zero = flatten(&tree_json(&fixture("catalogue.kz"), &["--exit-code", "0"]));
    assert!(zero.iter().any(|(n, _)| n["matched"] == true), "{zero:?}");
    assert!(
        zero.iter()
            .all(|(n, _)| n["exit_signal"].is_null() || n["matched"] == false),
        "{zero:?}"
    );
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

/// `--path` and `--remote` select the processes with a file or socket record that
/// matches, as `replay` takes them; a bad one is a usage error.
#[test]
fn path_and_remote_select_by_activity() {
    let trace = fixture("records.kz");
    let pids = |extra: &[&str]| -> Vec<(u64, bool)> {
        flatten(&tree_json(&trace, extra))
            .iter()
            .map(|(n, _)| (n["pid"].as_u64().unwrap(), n["matched"] == true))
            .collect()
    };
    assert_eq!(
        pids(&["--remote", "127.0.0.1:15999"]),
        vec![(21307, false), (21319, true)]
    );
    let dns = pids(&["--remote", "127.0.0.0/8:15353"]);
    assert!(dns.contains(&(21308, true)), "{dns:?}");
    assert!(
        !dns.iter().any(|(p, _)| *p == 21319 || *p == 21311),
        "{dns:?}"
    );
    let files = pids(&["--path", "/etc/**"]);
    assert!(files.iter().any(|(_, m)| *m), "{files:?}");
    assert!(pids(&["--path", "/no/such/**"]).is_empty());
    let t = trace.to_str().unwrap();
    crate::util::run_err(&["tree", t, "--remote", "nowhere"], 2);
    crate::util::run_err(&["tree", t, "--path", "etc"], 2);
}

/// `report -o -` writes the page to stdout and `tree --to FILE` the tree to a file; a
/// FIFO (which would wait for a reader), a name of another format and `tree -o parquet`
/// are refused with a usage error, not written.
/// Filter values `replay` refuses are refused by `tree` and `report` too, with a usage
/// error, rather than matching nothing.
#[test]
fn an_exit_code_above_255_is_refused_as_by_replay() {
    let trace = fixture("records.kz");
    let t = trace.to_str().unwrap();
    for command in ["tree", "replay"] {
        let err = crate::util::run_err(&[command, t, "--exit-code", "256"], 2);
        assert!(err.contains("an exit status is 0-255"), "{command}: {err}");
    }
    let err = crate::util::run_err(&["report", t, "--exit-code", "0,4294967295", "-o", "-"], 2);
    assert!(err.contains("--exit-code 4294967295"), "{err}");
    assert!(tree(&trace, &["--exit-code", "255"]).contains("no process matches"));
}

#[test]
fn outputs_that_are_not_files_or_are_other_formats_are_refused() {
    let trace = fixture("records.kz");
    let t = trace.to_str().unwrap();
    let out = run_ok(&["report", t, "-o", "-"]);
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"), "{page:.200}");
    assert!(!Path::new("-").exists(), "no file named -");
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let err = crate::util::run_err(&["report", t, "-o", fifo.to_str().unwrap()], 2);
    assert!(err.contains("not a regular file"), "{err}");
    let parquet = dir.path().join("x.parquet");
    let err = crate::util::run_err(&["report", t, "-o", parquet.to_str().unwrap()], 2);
    assert!(err.contains("one HTML page"), "{err}");
    assert!(!parquet.exists());
    let err = crate::util::run_err(&["report", t, "--to", parquet.to_str().unwrap()], 2);
    assert!(err.contains("one HTML page"), "{err}");
    let err = crate::util::run_err(&["tree", t, "-o", "parquet"], 2);
    assert!(err.contains("text") && err.contains("json"), "{err}");
    let err = crate::util::run_err(&["tree", t, "--to", parquet.to_str().unwrap()], 2);
    assert!(err.contains("kellect replay -o parquet"), "{err}");
    assert!(!parquet.exists());
    let err = crate::util::run_err(&["tree", t, "--to", fifo.to_str().unwrap()], 2);
    assert!(err.contains("not a regular file"), "{err}");
    // Errors name the option given: report's is -o.
    let d = dir.path().to_str().unwrap();
    let err = crate::util::run_err(&["report", t, "-o", d], 2);
    assert!(err.contains(&format!("-o {d}: a directory")), "{err}");
    // --to FILE holds what stdout shows.
    let file = dir.path().join("tree.json");
    run_ok(&["tree", t, "-o", "json", "--to", file.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        tree(&trace, &["-o", "json"])
    );
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

    /// The shell script of [`process_structure_comes_from_the_process_events`]: a child
    /// that forks and exits 3 without exec'ing, a child whose exec fails (ENOENT), a child
    /// that execs twice (sh, then /bin/true), and pid reuse: a child exits 5, then
    /// `ns_last_pid` makes the next fork take its pid (tried until it does), which execs
    /// sh and exits 6. The reused pid is written to `reuse.pid`.
    const STRUCTURE_SCRIPT: &str = "( exit 3 ); \
        /nonexistent/kellect-no-such-program 2>/dev/null; \
        sh -c 'exec /bin/true second-image'; \
        ( exit 5 ) & p=$!; wait $p; i=0; \
        while [ $i -lt 500 ]; do echo $((p - 1)) > /proc/sys/kernel/ns_last_pid; \
        sh -c 'exit 6' & q=$!; wait $q; [ \"$q\" = \"$p\" ] && break; i=$((i + 1)); done; \
        echo \"$p $q\" > reuse.pid";

    /// Items of issue 14: the tree of a recorded script shows a fork-only child with its
    /// exit code, a failed exec in the entry of the process that tried it, each image of a
    /// pid that exec'd twice starting at its own exec (in that order), and two processes
    /// that had the same pid as two, each with its exit code (not one replaced by the
    /// other's exec).
    #[test]
    fn process_structure_comes_from_the_process_events() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("structure.kz");
        record_in(dir.path(), &trace, &["sh", "-c", STRUCTURE_SCRIPT]);
        let reuse = std::fs::read_to_string(dir.path().join("reuse.pid")).unwrap();
        let pids: Vec<u64> = reuse
            .split_whitespace()
            .map(|p| p.parse().unwrap())
            .collect();
        assert_eq!(pids.len(), 2, "{reuse}");
        assert_eq!(pids[0], pids[1], "the pid was reused: {reuse}");
        let reused = pids[0];
        let tree = super::tree_json(&trace, &[]);
        let nodes = super::flatten(&tree);
        let script = script_shell(&tree, &nodes, STRUCTURE_SCRIPT);
        let children: Vec<&serde_json::Value> =
            script["children"].as_array().unwrap().iter().collect();
        let summary: Vec<String> = children
            .iter()
            .map(|c| {
                format!(
                    "{} {} {} {}",
                    c["pid"], c["comm"], c["exit_code"], c["argv"]
                )
            })
            .collect();

        // 1. The fork-only child: its exit code and end, under the script's shell; its
        // user named as its uid is in the shell's process record.
        let fork3 = children
            .iter()
            .find(|c| c["exit_code"] == 3)
            .unwrap_or_else(|| panic!("no child exited 3: {summary:?}"));
        assert_eq!(fork3["began"], "fork", "{fork3}");
        assert_eq!(fork3["user"], script["user"], "{fork3}");
        assert!(
            fork3["exit"].is_string() && fork3["start"].is_string(),
            "{fork3}"
        );
        assert_eq!(fork3["ppid"], script["pid"]);

        // 3. The failed exec, in the entry of the child that tried it (exit 127).
        let failed = children
            .iter()
            .find(|c| c["failed_execs"].is_array())
            .unwrap_or_else(|| panic!("no failed exec: {summary:?}"));
        assert_eq!(
            failed["failed_execs"][0]["filename"],
            "/nonexistent/kellect-no-such-program"
        );
        assert_eq!(failed["failed_execs"][0]["error"], "ENOENT");
        assert_eq!(failed["exit_code"], 127, "{failed}");

        // 4. Two images of one pid: each starts at its own exec, in that order.
        let position = |argv0: &str| {
            children
                .iter()
                .position(|c| {
                    c["argv"][0] == argv0 && c["argv"].to_string().contains("second-image")
                })
                .unwrap_or_else(|| panic!("no image {argv0}: {summary:?}"))
        };
        let (a, b) = (position("sh"), position("/bin/true"));
        assert!(a < b, "sh's image before true's: {summary:?}");
        let (a, b) = (children[a], children[b]);
        assert_eq!(a["pid"], b["pid"]);
        assert_eq!(a["replaced_by_exec"], true, "{a}");
        assert_eq!(b["exit_code"], 0, "{b}");
        // Recorded within a second: the times share their date.
        assert!(a["start"].as_str() < b["start"].as_str(), "{a}\n{b}");
        assert_eq!(a["exit"], b["start"], "sh's image ended when true's began");

        // 2. Pid reuse: two processes, each with its own end.
        let same: Vec<&&serde_json::Value> =
            children.iter().filter(|c| c["pid"] == reused).collect();
        let codes: Vec<&serde_json::Value> = same.iter().map(|c| &c["exit_code"]).collect();
        assert!(codes.contains(&&serde_json::json!(5)), "{summary:?}");
        assert!(codes.contains(&&serde_json::json!(6)), "{summary:?}");
        assert!(
            same.iter().all(|c| c["replaced_by_exec"] == false),
            "a reused pid is no exec: {summary:?}"
        );
        let text = super::tree(&trace, &[]);
        assert!(
            text.contains("failed exec: /nonexistent/kellect-no-such-program: ENOENT at "),
            "{text}"
        );
        let page = run_ok(&["report", trace.to_str().unwrap(), "-o", "-"]).stdout;
        let page = String::from_utf8(page).unwrap();
        assert!(
            page.contains(
                "<td>failed exec</td><td><code>/nonexistent/kellect-no-such-program: ENOENT at "
            ),
            "the page lists the failed exec"
        );
        let one = super::tree(&trace, &["-o", "json", "-j", "1"]);
        assert_eq!(one, super::tree(&trace, &["-o", "json", "-j", "2"]));
    }

    /// The node of the `sh -c SCRIPT` that ran `script` among `nodes` (of `tree`).
    fn script_shell(
        tree: &serde_json::Value,
        nodes: &[(serde_json::Value, Option<u64>)],
        script: &str,
    ) -> serde_json::Value {
        nodes
            .iter()
            .find(|(n, _)| {
                n["argv"]
                    .as_array()
                    .is_some_and(|a| a.len() == 3 && a[2] == script)
            })
            .unwrap_or_else(|| panic!("the script's shell is in the tree: {tree}"))
            .0
            .clone()
    }

    /// A Python workload: `clone-parent` clones (raw clone(2), x86-64) a child with
    /// CLONE_PARENT|SIGCHLD that exits 4 and writes its pid to `clone.pid`; `leader-exit`
    /// ends its leader thread with exit(2) status 5 while another thread runs on and then
    /// calls exit_group(2) with 9; `thread-exec` the same, but the thread execs
    /// `/bin/true after-leader-exit`.
    const ODD_PROCESSES: &str = r#"
import ctypes, os, sys, threading, time
libc = ctypes.CDLL(None, use_errno=True)
if sys.argv[1] == "clone-parent":
    pid = libc.syscall(56, 0x8000 | 17, 0, 0, 0, 0)
    if pid == 0:
        time.sleep(0.1)
        os._exit(4)
    open("clone.pid", "w").write(str(pid))
    os._exit(0)
def last():
    time.sleep(0.2)
    if sys.argv[1] == "thread-exec":
        os.execv("/bin/true", ["true", "after-leader-exit"])
    os._exit(9)
threading.Thread(target=last).start()
libc.syscall(60, 5)
"#;

    /// A child cloned with CLONE_PARENT hangs under the cloning process's parent (the
    /// script's shell), with that ppid; a process whose leader exited first ends with the
    /// status its parent waited for (the last thread's exit_group: 9, not the leader's 5),
    /// or, when that thread exec'd, is replaced by the new image.
    #[test]
    fn clone_parent_and_groups_outliving_their_leader_are_as_the_kernel_had_them() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("odd.py"), ODD_PROCESSES).unwrap();
        let trace = dir.path().join("odd.kz");
        let script = "python3 odd.py clone-parent; sleep 0.3; python3 odd.py leader-exit; \
                      echo $? > status; python3 odd.py thread-exec";
        record_in(dir.path(), &trace, &["sh", "-c", script]);
        let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
        assert_eq!(read("status").trim(), "9", "the shell waited for 9");
        let cloned: u64 = read("clone.pid").trim().parse().unwrap();
        let tree = super::tree_json(&trace, &[]);
        let nodes = super::flatten(&tree);
        let shell = script_shell(&tree, &nodes, script);
        let (child, parent) = nodes
            .iter()
            .find(|(n, _)| n["pid"] == cloned)
            .unwrap_or_else(|| panic!("the cloned child {cloned} is in the tree: {tree}"));
        assert_eq!(*parent, shell["pid"].as_u64(), "{child}");
        assert_eq!(child["ppid"], shell["pid"], "{child}");
        assert_eq!(child["exit_code"], 4, "{child}");
        let leader = nodes
            .iter()
            .map(|(n, _)| n)
            .find(|n| {
                n["argv"].as_array().is_some_and(|a| {
                    a.last().is_some_and(|l| l == "leader-exit")
                        && a.iter()
                            .any(|x| x.as_str().is_some_and(|x| x.ends_with("odd.py")))
                        && n["replaced_by_exec"] == false
                })
            })
            .unwrap_or_else(|| panic!("the leader-exit process is in the tree: {tree}"));
        assert_eq!(leader["exit_code"], 9, "{leader}");
        assert!(leader.get("exit_signal").is_none(), "{leader}");
        // The thread that exec'd replaced the image its leader left: that image did not
        // end with the leader's 5.
        let images: Vec<&serde_json::Value> = shell["children"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| {
                n["argv"].as_array().is_some_and(|a| {
                    a.last()
                        .is_some_and(|l| l == "after-leader-exit" || l == "thread-exec")
                })
            })
            .collect();
        let true_at = images
            .iter()
            .position(|n| n["argv"][0] == "true")
            .unwrap_or_else(|| panic!("true's image is a child of the shell: {images:?}"));
        let python = images[true_at - 1];
        assert_eq!(python["pid"], images[true_at]["pid"], "{images:?}");
        assert_eq!(python["replaced_by_exec"], true, "{python}");
        assert!(python.get("exit_code").is_none(), "{python}");
        assert_eq!(python["exit"], images[true_at]["start"], "{python}");
        assert_eq!(images[true_at]["exit_code"], 0, "{images:?}");
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
