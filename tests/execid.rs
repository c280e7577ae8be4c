//! Stable process identity on the fixtures: every event has an `exec_id`, every record a
//! `ProcExecId`, every process record its `ProcAncestors`; the ids are base64 of
//! `BOOT_ID:START_NS:TGID`, agree between the two views, and are the same for the same
//! process in different traces of one boot.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use serde_json::Value;

use crate::util::{fixture, json_lines, replay_json_min};

/// Fixtures with both views (`STEM.events.json` and `STEM.json`).
const BOTH_VIEWS: [&str; 5] = ["exec", "files", "files2", "uring", "system"];
/// exec.kz, files.kz and files2.kz were recorded on one boot of one host.
const SAME_BOOT: [&str; 3] = ["exec", "files", "files2"];

fn replay(stem: &str, view: &str, threads: &str) -> Vec<Value> {
    let trace = fixture(&format!("{stem}.kz"));
    json_lines(replay_json_min(&trace, &["--view", view, "-j", threads]).as_bytes())
}

/// (boot id, start ns, tgid) of an exec id.
#[track_caller]
fn decode(id: &Value) -> (String, u64, u32) {
    let id = id
        .as_str()
        .unwrap_or_else(|| panic!("exec id {id} is not a string"));
    let text = base64::engine::general_purpose::STANDARD
        .decode(id)
        .unwrap_or_else(|e| panic!("exec id {id} is not base64: {e}"));
    let text = String::from_utf8(text).expect("exec id text is UTF-8");
    let mut parts = text.rsplitn(3, ':');
    let pid = parts.next().and_then(|p| p.parse().ok()).expect("tgid");
    let ns = parts.next().and_then(|p| p.parse().ok()).expect("start ns");
    let boot = parts.next().expect("boot id").to_owned();
    (boot, ns, pid)
}

#[test]
fn every_event_and_record_names_its_process_image() {
    for stem in BOTH_VIEWS {
        let events = replay(stem, "events", "2");
        assert!(!events.is_empty(), "{stem}: no events");
        for e in &events {
            let (boot, _, pid) = decode(&e["exec_id"]);
            assert_eq!(pid, e["pid"].as_u64().unwrap() as u32, "{stem}: {e}");
            assert_eq!(boot.len(), 36, "{stem}: a boot id is a UUID: {e}");
        }
        let records = replay(stem, "records", "2");
        for r in &records {
            let (_, _, pid) = decode(&r["ProcExecId"]);
            assert_eq!(pid, r["ProcPID"].as_u64().unwrap() as u32, "{stem}: {r}");
            let ancestors = r.get("ProcAncestors");
            if r["InfoMonitor"] == "process" {
                let list = ancestors
                    .and_then(Value::as_array)
                    .unwrap_or_else(|| panic!("{stem}: a process record without ancestors: {r}"));
                assert!(!list.is_empty() && list.len() <= 16, "{stem}: {r}");
                let first = decode(&list[0]["ProcExecId"]);
                assert_eq!(
                    u64::from(first.2),
                    r["ProcPPID"].as_u64().unwrap(),
                    "{stem}: the nearest ancestor is the parent: {r}"
                );
                for a in list {
                    assert_eq!(
                        u64::from(decode(&a["ProcExecId"]).2),
                        a["ProcPID"].as_u64().unwrap()
                    );
                    assert!(a["Proc"].is_string());
                }
            } else {
                assert!(ancestors.is_none(), "{stem}: only process records: {r}");
            }
        }
    }
}

#[test]
fn an_exec_begins_a_new_image_and_both_views_agree() {
    let events = replay("exec", "events", "1");
    let mut by_pid: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for e in &events {
        by_pid
            .entry(e["pid"].as_u64().unwrap())
            .or_default()
            .insert(e["exec_id"].as_str().unwrap().to_owned());
        if e["event_type"] == "process_exec" && e["ret"] == 0 {
            let (_, start, _) = decode(&e["exec_id"]);
            assert!(start > 0, "an exec's image starts at the exec: {e}");
        }
    }
    assert!(
        by_pid.values().any(|ids| ids.len() >= 2),
        "a process that forked and exec'd has two images"
    );
    let ids: BTreeSet<String> = by_pid.into_values().flatten().collect();
    for r in replay("exec", "records", "1") {
        let id = r["ProcExecId"].as_str().unwrap();
        assert!(
            ids.contains(id),
            "records view id {id} not in the events view: {r}"
        );
    }
}

#[test]
fn the_same_process_has_the_same_id_in_traces_of_one_boot() {
    // Processes alive before each recording started: (pid, comm) -> ids seen.
    let mut seen: BTreeMap<(u64, String), BTreeMap<&str, BTreeSet<String>>> = BTreeMap::new();
    for stem in SAME_BOOT {
        for r in replay(stem, "records", "2") {
            for a in r["ProcAncestors"].as_array().into_iter().flatten() {
                let key = (a["ProcPID"].as_u64().unwrap(), a["Proc"].to_string());
                seen.entry(key)
                    .or_default()
                    .entry(stem)
                    .or_default()
                    .insert(a["ProcExecId"].as_str().unwrap().to_owned());
            }
        }
    }
    let shared: Vec<_> = seen.iter().filter(|(_, by)| by.len() > 1).collect();
    assert!(
        !shared.is_empty(),
        "the traces of one boot share no process (pid 1 at least)"
    );
    for ((pid, comm), by) in shared {
        let ids: BTreeSet<&String> = by.values().flatten().collect();
        assert_eq!(
            ids.len(),
            1,
            "pid {pid} ({comm}) differs across traces: {by:?}"
        );
    }
}

#[test]
fn ids_do_not_depend_on_the_thread_count() {
    for stem in ["exec", "files"] {
        for view in ["events", "records"] {
            assert_eq!(
                replay(stem, view, "1"),
                replay(stem, view, "2"),
                "{stem} {view}"
            );
        }
    }
}
