//! The analyst filters (`--comm`, `--path`, `--uid`, `--remote`, `--exit-code`, and
//! `--since`/`--until` in the records view) on the fixtures: each keeps exactly the events
//! or records of the unfiltered output that match it (judged here from the JSON keys), in
//! both views; one that matches nothing prints nothing and succeeds.

use std::net::IpAddr;

use serde_json::Value;

use crate::util::{fixture, json_lines, replay_json_min, run_ok};

/// Fixtures replayed in both views.
const TRACES: [&str; 4] = ["records", "exec", "files", "system"];

fn replay(stem: &str, view: &str, filter: &[&str]) -> Vec<Value> {
    let trace = fixture(&format!("{stem}.kz"));
    let mut args = vec!["--view", view];
    args.extend_from_slice(filter);
    json_lines(replay_json_min(&trace, &args).as_bytes())
}

/// A record without its number (numbers count the records printed).
fn unnumbered(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("InfoSequenceNumber");
    }
    v
}

/// Replays `stem` in `view` with `filter` and compares with the unfiltered output kept by
/// `keep`; returns how many were kept.
#[track_caller]
fn check(stem: &str, view: &str, filter: &[&str], keep: impl Fn(&Value) -> bool) -> usize {
    let all = replay(stem, view, &[]);
    let want: Vec<Value> = all
        .into_iter()
        .filter(|v| keep(v))
        .map(unnumbered)
        .collect();
    let got: Vec<Value> = replay(stem, view, filter)
        .into_iter()
        .map(unnumbered)
        .collect();
    assert_eq!(
        want.len(),
        got.len(),
        "{stem} --view {view} {filter:?}: {} expected, {} printed",
        want.len(),
        got.len()
    );
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(w, g, "{stem} --view {view} {filter:?}");
    }
    want.len()
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// The absolute paths an event shows: string values starting with `/` (the `_arg` keys
/// hold paths as passed, which are not resolved).
fn event_paths(e: &Value) -> Vec<&str> {
    e.as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| !k.ends_with("_arg"))
        .filter_map(|(_, v)| v.as_str())
        .filter(|s| s.starts_with('/'))
        .collect()
}

/// The paths a record shows.
fn record_paths(r: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let (Some(dir), Some(name)) = (str_of(r, "FilePath"), str_of(r, "File")) {
        out.push(format!("{dir}{name}"));
    }
    for key in ["FileOrigin", "ProcExe", "SockAddress"] {
        out.extend(str_of(r, key).map(str::to_owned));
    }
    out
}

/// An address as `--remote` compares it: IPv4-mapped IPv6 as IPv4.
fn ip(text: &str) -> Option<IpAddr> {
    let ip: IpAddr = text.parse().ok()?;
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    })
}

/// The remote end of an event: its address argument (but bind's),
/// else its socket's (`remote_addr`, or the peer its fd is named by: `socket:IP:PORT`).
fn event_remote(e: &Value) -> Option<(IpAddr, u64)> {
    let local = str_of(e, "syscall") == Some("bind");
    if let (false, Some(addr)) = (local, str_of(e, "addr")) {
        return Some((ip(addr)?, e["port"].as_u64()?));
    }
    if let Some(addr) = str_of(e, "remote_addr") {
        return Some((ip(addr)?, e["remote_port"].as_u64()?));
    }
    let peer: std::net::SocketAddr = str_of(e, "socket")?.strip_prefix("socket:")?.parse().ok()?;
    Some((ip(&peer.ip().to_string())?, u64::from(peer.port())))
}

fn record_remote(r: &Value) -> Option<(IpAddr, u64)> {
    Some((
        ip(str_of(r, "SockRemoteIP")?)?,
        r["SockRemotePort"].as_u64().unwrap_or(0),
    ))
}

#[test]
fn comm_globs_keep_their_processes() {
    let mut kept = 0;
    for stem in TRACES {
        kept += check(stem, "events", &["--comm", "c*,ex?c"], |e| {
            let comm = str_of(e, "comm").unwrap();
            comm.starts_with('c')
                || (comm.len() == 4 && comm.starts_with("ex") && comm.ends_with('c'))
        });
        kept += check(stem, "records", &["--comm", "c*,ex?c"], |r| {
            let comm = str_of(r, "Proc").unwrap();
            comm.starts_with('c')
                || (comm.len() == 4 && comm.starts_with("ex") && comm.ends_with('c'))
        });
    }
    assert!(kept > 0, "no fixture has a process named c* or ex?c");
}

/// Whether a path matches `/etc/**` or `/usr/bin/*`.
fn etc_or_usr_bin(p: &str) -> bool {
    p.starts_with("/etc/")
        || p.strip_prefix("/usr/bin/")
            .is_some_and(|rest| !rest.contains('/'))
}

#[test]
fn path_globs_keep_what_touches_the_paths() {
    let filter = ["--path", "/etc/**", "--path", "/usr/bin/*"];
    let mut kept = 0;
    for stem in TRACES {
        kept += check(stem, "events", &filter, |e| {
            event_paths(e).into_iter().any(etc_or_usr_bin)
        });
        kept += check(stem, "records", &filter, |r| {
            record_paths(r).iter().any(|p| etc_or_usr_bin(p))
        });
    }
    assert!(kept > 0);
}

#[test]
fn uid_keeps_that_user() {
    for stem in TRACES {
        let root = check(stem, "events", &["--uid", "0"], |e| e["uid"] == 0);
        assert!(root > 0, "{stem}: recorded as root");
        check(stem, "records", &["--uid", "0"], |r| r["ProcUID"] == 0);
        assert_eq!(check(stem, "events", &["--uid", "4242"], |_| false), 0);
        assert_eq!(check(stem, "records", &["--uid", "4242"], |_| false), 0);
    }
}

#[test]
fn remote_keeps_sockets_to_that_address_port_or_network() {
    let loopback: IpAddr = "127.0.0.1".parse().unwrap();
    let in_net = |ip: IpAddr| matches!(ip, IpAddr::V4(v4) if v4.octets()[0] == 127);
    let mut kept = 0;
    for stem in TRACES {
        kept += check(stem, "events", &["--remote", "127.0.0.1:18080"], |e| {
            event_remote(e) == Some((loopback, 18080))
        });
        kept += check(stem, "records", &["--remote", "127.0.0.1:18080"], |r| {
            record_remote(r) == Some((loopback, 18080))
        });
        check(stem, "events", &["--remote", "127.0.0.0/8"], |e| {
            event_remote(e).is_some_and(|(ip, _)| in_net(ip))
        });
        check(stem, "records", &["--remote", "127.0.0.0/8"], |r| {
            record_remote(r).is_some_and(|(ip, _)| in_net(ip))
        });
        assert_eq!(
            check(
                stem,
                "records",
                &["--remote", "[2001:db8::1]:53,192.0.2.99"],
                |_| false
            ),
            0
        );
    }
    assert!(kept > 0, "records.kz talks to 127.0.0.1:18080");
}

#[test]
fn exit_code_keeps_those_exits() {
    for stem in TRACES {
        let exits = check(stem, "events", &["--exit-code", "0"], |e| {
            e["event_type"] == "process_exit" && e["exit_code"] == 0
        });
        assert!(exits > 0, "{stem}: processes exited with 0");
        check(stem, "records", &["--exit-code", "0"], |r| {
            r["ProcExitCode"] == 0
        });
        assert_eq!(
            check(stem, "records", &["--exit-code", "255"], |_| false),
            0
        );
    }
}

/// A process a signal ended has no exit status: `--exit-code 0` leaves it out in both
/// views (catalogue.kz: one child dies of SIGTERM, which wait(2) reports as status 0).
#[test]
fn exit_code_leaves_out_processes_a_signal_ended() {
    let killed = replay("catalogue", "events", &[])
        .into_iter()
        .filter(|e| e["event_type"] == "process_exit" && e["signal"] != 0)
        .count();
    assert!(killed > 0, "catalogue.kz has a process ended by a signal");
    let exits = check("catalogue", "events", &["--exit-code", "0"], |e| {
        e["event_type"] == "process_exit" && e["exit_code"] == 0 && e["signal"] == 0
    });
    assert!(exits > 0);
    check("catalogue", "records", &["--exit-code", "0"], |r| {
        r["ProcExitCode"] == 0 && r.get("ProcExitSignal").is_none_or(Value::is_null)
    });
}

/// Seconds after the recording started at which a record's span begins and ends (from
/// `InfoUptime` and its duration).
fn record_span(r: &Value) -> (f64, f64) {
    let end = r["InfoUptime"].as_f64().unwrap();
    let length = ["FileEventsDuration", "SockAge", "ProcAge"]
        .iter()
        .find_map(|k| r[*k].as_f64())
        .unwrap_or(0.0);
    (end - length, end)
}

#[test]
fn records_overlapping_the_time_range_are_kept() {
    for stem in TRACES {
        let all = replay(stem, "records", &[]);
        let last = all.iter().map(|r| record_span(r).1).fold(0.0, f64::max);
        // A range over about the middle third, its bounds not within a millisecond of any
        // record's edge (the test's spans are rounded to the ns, the replay's are exact).
        let clear = |t: f64| {
            all.iter().all(|r| {
                let (a, b) = record_span(r);
                (a - t).abs() > 0.001 && (b - t).abs() > 0.001
            })
        };
        let pick = |from: u32| {
            (from..60)
                .map(|k| last * f64::from(k) / 60.0)
                .find(|t| clear(*t))
                .unwrap_or_else(|| panic!("{stem}: no bound clear of every record's edges"))
        };
        let (since, until) = (pick(20), pick(40));
        let (s, u) = (format!("{since:.6}"), format!("{until:.6}"));
        let since: f64 = s.parse().unwrap();
        let until: f64 = u.parse().unwrap();
        check(stem, "records", &["--since", &s, "--until", &u], |r| {
            let (a, b) = record_span(r);
            b >= since && a <= until
        });
    }
}

#[test]
fn a_filter_that_matches_nothing_prints_nothing() {
    for view in ["events", "records"] {
        for format in ["json", "json-min", "table"] {
            let trace = fixture("records.kz");
            let filter = ["--view", view, "-o", format, "--comm", "no-such-process-*"];
            let out = run_ok(&[&["replay", trace.to_str().unwrap()][..], &filter].concat());
            assert!(out.stdout.is_empty(), "{view} {format}");
        }
    }
}

#[test]
fn every_format_shows_the_same_selection() {
    let trace = fixture("records.kz");
    let trace = trace.to_str().unwrap();
    let filter = ["--comm", "curl", "--path", "/etc/**"];
    let json = replay("records", "records", &filter);
    let mut args = vec!["replay", trace, "-o", "table"];
    args.extend_from_slice(&filter);
    let table = String::from_utf8(run_ok(&args).stdout).unwrap();
    assert!(!json.is_empty());
    // A header, then one line per record.
    assert_eq!(table.lines().count(), json.len() + 1, "{table}");
    for view in ["events", "records"] {
        let mut args = vec!["replay", trace, "--view", view, "-j", "1"];
        args.extend_from_slice(&filter);
        let one = run_ok(&args).stdout;
        args[5] = "2";
        assert_eq!(one, run_ok(&args).stdout, "{view}: -j 1 and -j 2 differ");
    }
}

#[test]
fn bad_filters_are_usage_errors() {
    let trace = fixture("records.kz");
    let trace = trace.to_str().unwrap();
    for (flag, value) in [
        ("--remote", "example.org:80"),
        ("--remote", "10.0.0.0/40"),
        ("--path", "/etc/[abc"),
        ("--exit-code", "256"),
    ] {
        let out = crate::util::run_err(&["replay", trace, flag, value], 2);
        assert!(out.contains(flag), "{flag} {value}: {out}");
    }
    // --event selects event types: the records view still refuses it.
    crate::util::run_err(&["replay", trace, "--event", "file_open"], 2);
}
