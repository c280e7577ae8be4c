//! sendmmsg/recvmmsg (issue 9, input 6): every message of the vector is captured (the first
//! 8, each up to the payload size). tests/workloads/mmsg.c sends a DNS A question (id
//! 0x1111) and an AAAA question (id 0x2222) in one sendmmsg to a responder it forks on
//! loopback, which answers both with one sendmmsg; both answers come back in one recvmmsg.
//! The records view holds both questions in AppTxDns and both answers in AppRxDns; the
//! events view has each call's message count and per-message lengths. The fixture
//! fixtures/mmsg.kz (see fixtures/regenerate.sh) replays byte for byte without root.

use serde_json::Value;

use crate::util::replay_json_min as replay;
use crate::util::{assert_fixture_replays, fixture, json_lines};

/// The DNS transaction ids and record types of a list of decoded DNS messages.
fn dns_ids(msgs: &Value) -> Vec<(u64, String)> {
    msgs.as_array()
        .map(|v| {
            v.iter()
                .map(|m| {
                    (
                        m["TransactionId"].as_u64().unwrap_or(0),
                        m["ResourceRecords"][0][0].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The workload's four calls and the client's socket record, in any recording of it with
/// the responder on `port`.
#[track_caller]
fn assert_mmsg_workload(trace: &std::path::Path, port: u64) {
    let events = json_lines(replay(trace, &["--view", "events"]).as_bytes());
    let calls: Vec<&Value> = events
        .iter()
        .filter(|e| matches!(e["syscall"].as_str(), Some("sendmmsg" | "recvmmsg")))
        .collect();
    // Questions 30 bytes each; answers 46 (A) and 58 (AAAA).
    let want = [
        ("sendmmsg", [30, 30]),
        ("recvmmsg", [30, 30]),
        ("sendmmsg", [46, 58]),
        ("recvmmsg", [46, 58]),
    ];
    let mut got: Vec<&Value> = calls.clone();
    // A recvmmsg may return before the sendmmsg that woke it (events are stamped at the
    // exit): questions, then answers, each sent before received.
    got.sort_by_key(|e| (e["message_lengths"][0].as_u64(), e["syscall"] != "sendmmsg"));
    assert_eq!(got.len(), want.len(), "{calls:#?}");
    for (e, (name, lens)) in got.iter().zip(want) {
        assert_eq!(e["syscall"], name, "{e}");
        assert_eq!(e["messages"], 2, "{e}");
        assert_eq!(e["message_lengths"], serde_json::json!(lens), "{e}");
        assert_eq!(e["bytes"], lens[0] + lens[1], "{e}");
        assert_eq!(e["messages_left_out"], 0, "{e}");
        assert_eq!(e["payload_left_out"], 0, "{e}");
    }

    let records = json_lines(replay(trace, &[]).as_bytes());
    let client: Vec<&Value> = records
        .iter()
        .filter(|r| r["App"] == "DNS" && r["SockRemotePort"] == port)
        .collect();
    assert_eq!(client.len(), 1, "{records:#?}");
    let c = client[0];
    assert_eq!(
        dns_ids(&c["AppTxDns"]),
        [(0x1111, "A".to_owned()), (0x2222, "AAAA".to_owned())],
        "{c}"
    );
    assert_eq!(
        dns_ids(&c["AppRxDns"]),
        [(0x1111, "A".to_owned()), (0x2222, "AAAA".to_owned())],
        "{c}"
    );
    assert_eq!(c["AppRxDns"][1]["ResourceRecords"][0][4], "fd00::77", "{c}");
    assert_eq!([&c["SockTxPackets"], &c["SockTxBytes"]], [2, 60], "{c}");
    assert_eq!([&c["SockRxPackets"], &c["SockRxBytes"]], [2, 104], "{c}");
}

#[test]
fn mmsg_fixture_replays_byte_for_byte() {
    assert_fixture_replays("mmsg");
}

#[test]
fn mmsg_fixture_has_every_message() {
    assert_mmsg_workload(&fixture("mmsg.kz"), 15354);
}

#[cfg(feature = "record")]
mod live {
    use std::path::PathBuf;

    /// Records `./mmsg PORT MODE…` on a free loopback port whose payloads are captured as
    /// DNS, with the record options `extra`; returns the workload's directory, its port,
    /// the trace and the workload's output.
    fn record(mode: &[&str], extra: &[&str]) -> (tempfile::TempDir, u16, PathBuf, String) {
        let dir = crate::util::compile_workload("mmsg.c", &["-O1"], "mmsg");
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .expect("a free UDP port")
            .port();
        let trace = dir.path().join("mmsg.kz");
        let dns = format!("dns=udp/{port}");
        let mut options = vec!["-p", &dns];
        options.extend_from_slice(extra);
        let port_arg = port.to_string();
        let mut args = vec!["./mmsg", &port_arg];
        args.extend_from_slice(mode);
        let out = crate::util::record_in_with(dir.path(), &trace, &options, &args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        (dir, port, trace, stdout)
    }

    /// The sendmmsg and recvmmsg events of a trace.
    fn mmsg_calls(trace: &std::path::Path) -> Vec<serde_json::Value> {
        crate::util::events(trace)
            .into_iter()
            .filter(|e| matches!(e["syscall"].as_str(), Some("sendmmsg" | "recvmmsg")))
            .collect()
    }

    /// Records the workload against its responder: every message of each vector is in
    /// the trace.
    #[test]
    fn mmsg_every_message_is_recorded() {
        let (_dir, port, trace, stdout) = record(&[], &[]);
        assert!(
            stdout.contains("answer 0x1111") && stdout.contains("answer 0x2222"),
            "{stdout}"
        );
        super::assert_mmsg_workload(&trace, port.into());
    }

    /// Two DNS servers on 127.0.0.1 and 127.0.0.2, one question each in one sendmmsg from
    /// an unconnected socket on 127.0.0.3 (the same port: a forwarder asking its upstreams;
    /// an unconnected socket's payloads are captured when its own port is a `-p` port),
    /// both answers in one recvmmsg: each message's peer is in the
    /// events view (`message_peers`), the socket's remote is the last one it talked to, and
    /// both questions and answers are decoded.
    #[test]
    fn mmsg_each_message_has_its_peer() {
        let (_dir, port, trace, stdout) = record(&["servers"], &[]);
        assert!(
            stdout.contains("answer 0x1111 from 127.0.0.1")
                && stdout.contains("answer 0x2222 from 127.0.0.2"),
            "{stdout}"
        );
        let peers = serde_json::json!([format!("127.0.0.1:{port}"), format!("127.0.0.2:{port}")]);
        let calls = mmsg_calls(&trace);
        assert_eq!(calls.len(), 2, "{calls:#?}");
        for e in &calls {
            assert_eq!(e["messages"], 2, "{e}");
            assert_eq!(e["message_peers"], peers, "{e}");
        }
        // The first message's address is the call's own (as before).
        let recv = calls.iter().find(|e| e["syscall"] == "recvmmsg").unwrap();
        assert_eq!(recv["addr"], "127.0.0.1", "{recv}");
        let records = crate::util::json_lines(super::replay(&trace, &[]).as_bytes());
        let client = records
            .iter()
            .find(|r| {
                r["InfoMonitor"] == "socket"
                    && r["Proc"] == "mmsg"
                    && r["SockTxPackets"] == 2
                    && r["SockRxPackets"] == 2
                    && r["SockLocalIP"] == "127.0.0.3"
            })
            .unwrap_or_else(|| panic!("the client's socket record: {records:#?}"));
        assert_eq!(client["SockRemoteIP"], "127.0.0.2", "{client}");
        assert_eq!(client["SockRemotePort"], port, "{client}");
        let want = [(0x1111, "A".to_owned()), (0x2222, "AAAA".to_owned())];
        assert_eq!(super::dns_ids(&client["AppRxDns"]), want, "{client}");
        let tx: Vec<u64> = super::dns_ids(&client["AppTxDns"])
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(tx, [0x1111, 0x2222], "{client}");
    }

    /// One sendmmsg and one recvmmsg of 10 datagrams of 100 bytes, recorded with a 40-byte
    /// payload size: the first 8 messages are in each record, their payloads cut at 40
    /// bytes, and the events view counts what was left out.
    #[test]
    fn mmsg_bounds_are_stated_and_counted() {
        let (_dir, _, trace, stdout) = record(&["burst"], &["--payload-size", "40"]);
        assert!(stdout.contains("burst of 10"), "{stdout}");
        let calls = mmsg_calls(&trace);
        assert_eq!(calls.len(), 2, "{calls:#?}");
        for e in calls {
            assert_eq!(e["messages"], 10, "{e}");
            assert_eq!(e["bytes"], 800, "the first 8: {e}");
            assert_eq!(
                e["message_lengths"],
                serde_json::json!([100u32; 8].to_vec()),
                "{e}"
            );
            assert_eq!(e["messages_left_out"], 2, "{e}");
            assert_eq!(e["payload_left_out"], 8 * 60, "{e}");
        }
    }
}
