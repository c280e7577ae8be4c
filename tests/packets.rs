//! The packet counter fixture (`fixtures/packets.kz`, recorded with `-e network,packets`):
//! replayed without root, byte for byte, and with the counters the workload makes.

use serde_json::Value;

use crate::util::{assert_fixture_replays, fixture, json_lines, replay_json_min};

#[test]
fn packets_fixture_replays_byte_for_byte() {
    assert_fixture_replays("packets");
}

/// The counts as a sorted list of (name, count).
fn counts(v: &Value) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .iter()
        .map(|(k, n)| (k.clone(), n.as_u64().unwrap()))
        .collect();
    out.sort();
    out
}

#[test]
fn packets_fixture_has_the_counters() {
    let recs = json_lines(replay_json_min(&fixture("packets.kz"), &["-m", "socket"]).as_bytes());
    let client = recs
        .iter()
        .find(|r| r["SockRemotePort"] == 18082)
        .expect("the HTTP client's record");
    let server = recs
        .iter()
        .find(|r| r["SockLocalPort"] == 18082 && r["SockRemotePort"] != 0)
        .expect("the HTTP server's record");
    // Both ends were counted: what one sent the other received, but for the handshake,
    // whose SYN, SYN-ACK and last ACK are the listening socket's on the server's side
    // (the accepted connection is counted from its creation).
    let with = |v: &Value, extra: &[(&str, u64)]| -> Vec<(String, u64)> {
        let mut c = counts(v);
        for (k, n) in extra {
            match c.iter_mut().find(|(name, _)| name == k) {
                Some(e) => e.1 += n,
                None => c.push(((*k).into(), *n)),
            }
        }
        c.sort();
        c
    };
    assert_eq!(
        counts(&client["SockTxFlags"]),
        with(&server["SockRxFlags"], &[("SYN", 1), ("ACK", 1)]),
        "{client}\n{server}"
    );
    assert_eq!(
        counts(&client["SockRxFlags"]),
        with(&server["SockTxFlags"], &[("SYN-ACK", 1)]),
        "{client}\n{server}"
    );
    for k in ["SYN", "PSH-ACK", "FIN-ACK"] {
        assert!(
            client["SockTxFlags"][k].as_u64() >= Some(1),
            "{k}: {client}"
        );
    }
    assert_eq!(client["SockRxTTL"], 64, "{client}");
    assert_eq!(server["SockRxTTL"], 64, "{server}");
    assert_eq!(client["SockRxPacketsReorder"], 0, "{client}");
    assert_eq!(client["SockTxPacketsDups"], 0, "{client}");
    let udp = recs
        .iter()
        .find(|r| r["SockLocalPort"] == 18083)
        .expect("the flooded UDP socket's record");
    let drops = udp["SockRxPacketsDrop"].as_u64().unwrap();
    assert!(drops > 0 && drops < 200, "{udp}");
    assert_eq!(
        counts(&udp["SockRxPacketsDropReasons"]),
        [("SOCKET_RCVBUFF".to_owned(), drops)],
        "{udp}"
    );
    assert_eq!(udp["SockRxTTL"], 64, "{udp}");
    // TCP's keys are TCP's only, as kflowd.
    for key in [
        "SockRxFlags",
        "SockTxFlags",
        "SockRxPacketsReorder",
        "SockTxPacketsDups",
    ] {
        assert!(udp.get(key).is_none(), "{key} on UDP: {udp}");
    }
}
