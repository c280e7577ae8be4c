//! Per-socket packet counters (`kellect record -e packets`) against the truth on loopback:
//! a packet capture of the same traffic (tcpdump) and the kernel's own drop count
//! (/proc/net/udp). They need root, BPF and tcpdump, and fail (never skip) without them.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{json_lines, record_in_with, replay_json_min};

const EVENTS: &str = "file,process,network,permission,system,packets";

/// Fails the test unless this process may load BPF programs (root).
#[track_caller]
fn need_root() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1));
    assert_eq!(
        uid,
        Some("0"),
        "the packet counter tests load BPF programs: run them as root"
    );
}

/// The socket records of a trace (records view, json-min).
fn socket_records(trace: &Path) -> Vec<Value> {
    json_lines(replay_json_min(trace, &["-m", "socket"]).as_bytes())
}

/// Records `command` in `dir` with the packet counters on; fails unless it recorded.
#[track_caller]
fn record(dir: &Path, trace: &Path, command: &[&str]) -> std::process::Output {
    record_in_with(dir, trace, &["-e", EVENTS], command)
}

/// A tcpdump capturing `filter` on loopback into a file, started once it listens.
struct Capture {
    child: Child,
    file: std::path::PathBuf,
    /// Kept open: tcpdump writes its summary there when it stops.
    _stderr: BufReader<std::process::ChildStderr>,
}

impl Capture {
    #[track_caller]
    fn start(dir: &Path, filter: &str) -> Capture {
        let file = dir.join("capture.pcap");
        let mut child = Command::new("tcpdump")
            // --immediate-mode: each packet as it comes (else the last ones can still sit
            // in the kernel's buffer block when SIGINT ends the capture).
            .args(["-i", "lo", "-n", "-U", "--immediate-mode", "-w"])
            .arg(&file)
            .arg(filter)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tcpdump is needed (scripts/setup.sh installs it: apt-get install tcpdump)");
        // tcpdump says "listening on lo" once its socket is bound.
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        assert!(line.contains("listening on"), "tcpdump: {line}");
        Capture {
            child,
            file,
            _stderr: stderr,
        }
    }

    /// Stops the capture (SIGINT: tcpdump flushes its file) and reads it back verbosely:
    /// one text line per packet.
    #[track_caller]
    fn stop(mut self) -> Vec<String> {
        // SAFETY: kill has no memory-safety preconditions; the pid is our unreaped child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "tcpdump did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = Command::new("tcpdump")
            .args(["-n", "-v", "-r"])
            .arg(&self.file)
            .output()
            .unwrap();
        assert!(out.status.success(), "tcpdump -r failed");
        // -v puts the IP header ("(tos 0x0, ttl 64, ...)") on one line, the TCP header on
        // the next: joined, a packet per line.
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut packets: Vec<String> = Vec::new();
        for line in text.lines() {
            if line.starts_with(' ') {
                if let Some(last) = packets.last_mut() {
                    last.push_str(line);
                }
            } else {
                packets.push(line.to_owned());
            }
        }
        packets
    }
}

/// kellect's name of a tcpdump flag set (`S.`, `P.`, `F.`, `R`, `.`): its flags (SYN, FIN,
/// RST, PSH, ACK; URG, ECE and CWR are not part of kellect's combinations) joined by `-`.
fn combination(tcpdump_flags: &str) -> String {
    let names: Vec<&str> = [
        ('S', "SYN"),
        ('F', "FIN"),
        ('R', "RST"),
        ('P', "PSH"),
        ('.', "ACK"),
    ]
    .iter()
    .filter(|(c, _)| tcpdump_flags.contains(*c))
    .map(|(_, n)| *n)
    .collect();
    if names.is_empty() {
        "NONE".into()
    } else {
        names.join("-")
    }
}

/// The value of `key` in tcpdump's text: `ttl 64,` → 64.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = &line[line.find(key)? + key.len()..];
    rest.split([',', ' ', ')', ']']).find(|s| !s.is_empty())
}

#[test]
fn http_flags_and_ttl_equal_a_capture() {
    need_root();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "x".repeat(3000)).unwrap();
    // The server (not recorded) prints its port once it listens.
    let server_py = "import http.server, sys\n\
                     class H(http.server.SimpleHTTPRequestHandler):\n    \
                     def log_message(self, *a): pass\n\
                     s = http.server.HTTPServer(('127.0.0.1', 0), H)\n\
                     print(s.server_address[1], flush=True)\n\
                     s.serve_forever()\n";
    let (mut server, port) = server(server_py, dir.path());
    let capture = Capture::start(dir.path(), &format!("tcp port {port}"));
    let trace = dir.path().join("http.kz");
    let client = format!(
        "import urllib.request\n\
         body = urllib.request.urlopen('http://127.0.0.1:{port}/index.html').read()\n\
         assert len(body) == 3000\n"
    );
    record(dir.path(), &trace, &["python3", "-c", &client]);
    let packets = capture.stop();
    let _ = server.kill();
    let _ = server.wait();

    let recs = socket_records(&trace);
    let r = recs
        .iter()
        .find(|r| r["SockRemotePort"] == port && r["SockProtocol"] == "TCP")
        .unwrap_or_else(|| panic!("no record of the connection: {recs:#?}"));
    assert_eq!(r["SockState"], "TCP_CLOSE", "{r}");
    let client_port = r["SockLocalPort"].as_u64().unwrap();
    // tcpdump's packets of this connection, per direction.
    let (mut tx, mut rx) = (BTreeMap::new(), BTreeMap::new());
    let mut ttls = Vec::new();
    for p in &packets {
        let Some(flags) = field(p, "Flags [") else {
            continue;
        };
        let from_client = p.contains(&format!("127.0.0.1.{client_port} >"));
        let to_client = p.contains(&format!("> 127.0.0.1.{client_port}:"));
        let side = match (from_client, to_client) {
            (true, false) => &mut tx,
            (false, true) => {
                ttls.push(field(p, "ttl ").unwrap().parse::<u64>().unwrap());
                &mut rx
            }
            _ => continue,
        };
        *side.entry(combination(flags)).or_insert(0u64) += 1;
    }
    assert!(!tx.is_empty() && !rx.is_empty(), "capture: {packets:#?}");
    let counts = |v: &Value| -> BTreeMap<String, u64> {
        v.as_object()
            .unwrap_or_else(|| panic!("not an object: {v}"))
            .iter()
            .map(|(k, n)| (k.clone(), n.as_u64().unwrap()))
            .collect()
    };
    assert_eq!(
        counts(&r["SockTxFlags"]),
        tx,
        "sent: {r}\ncapture: {packets:#?}"
    );
    assert_eq!(
        counts(&r["SockRxFlags"]),
        rx,
        "received: {r}\ncapture: {packets:#?}"
    );
    assert_eq!(r["SockRxTTL"], *ttls.last().unwrap(), "{r}");
    assert_eq!(r["SockRxPacketsDrop"], 0, "{r}");
    assert_eq!(r["SockRxPacketsFrag"], 0, "{r}");
    assert_eq!(r["SockRxPacketsReorder"], 0, "{r}");
    assert_eq!(r["SockTxPacketsDups"], 0, "{r}");
}

/// The drops /proc/net/udp shows for the IPv4 UDP socket on local `port`, read by the
/// recorded workload itself (below) while its socket is open.
const UDP_FLOOD: &str = "import socket, time\n\
    r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
    r.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)\n\
    r.bind(('127.0.0.1', 0))\n\
    port = r.getsockname()[1]\n\
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
    for i in range(2000):\n    s.sendto(b'x' * 512, ('127.0.0.1', port))\n\
    time.sleep(0.2)\n\
    drops = None\n\
    for line in open('/proc/net/udp').read().splitlines()[1:]:\n    \
    f = line.split()\n    \
    if f[1].endswith(':%04X' % port):\n        drops = int(f[-1])\n\
    print(port, drops, flush=True)\n\
    time.sleep(2.5)\n\
    r.close()\n";

#[test]
fn udp_drops_equal_the_kernels_count() {
    need_root();
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("udp.kz");
    let out = record(dir.path(), &trace, &["python3", "-c", UDP_FLOOD]);
    let text = String::from_utf8(out.stdout).unwrap();
    let mut words = text.split_whitespace();
    let port: u64 = words.next().unwrap().parse().unwrap();
    let drops: u64 = words
        .next()
        .unwrap()
        .parse()
        .expect("/proc/net/udp has the socket");
    assert!(
        drops > 0,
        "a 1 KiB receive buffer dropped none of 2000 datagrams"
    );

    let recs = socket_records(&trace);
    let r = recs
        .iter()
        .find(|r| r["SockLocalPort"] == port && r["SockProtocol"] == "UDP")
        .unwrap_or_else(|| panic!("no record of the receiving socket: {recs:#?}"));
    assert_eq!(r["SockRxPacketsDrop"], drops, "{r}");
    // Every drop was the receive buffer's, with the kernel's reason.
    assert_eq!(
        r["SockRxPacketsDropReasons"]["SOCKET_RCVBUFF"], drops,
        "{r}"
    );
    assert_eq!(r["SockRxTTL"], 64, "{r}");
    assert!(r.get("SockRxFlags").is_none(), "no TCP flags on UDP: {r}");
}

/// A TCP echo server on loopback (not recorded), answering each message with itself.
fn echo_server() -> (Child, u16) {
    let py = "import socket, threading\n\
              l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(4)\n\
              print(l.getsockname()[1], flush=True)\n\
              def serve(c):\n    \
              while True:\n        \
              m = c.recv(64)\n        \
              if not m: break\n        \
              c.sendall(m)\n    \
              c.close()\n\
              while True:\n    \
              c, _ = l.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()\n";
    server(py, Path::new("/"))
}

/// Starts the python3 server `py` (not recorded) in `dir`; returns it and the port it
/// prints once it listens.
fn server(py: &str, dir: &Path) -> (Child, u16) {
    let mut child = Command::new("python3")
        .args(["-c", py])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().parse().expect("the server prints its port");
    (child, port)
}

#[test]
fn counters_survive_idle_and_active_exports() {
    need_root();
    let (mut server, port) = echo_server();
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("idle.kz");
    // One message, 2.5 s of quiet, another, then close: an idle (or active) export between.
    let client = format!(
        "import socket, time\n\
         s = socket.create_connection(('127.0.0.1', {port}))\n\
         s.sendall(b'ping'); s.recv(4)\n\
         time.sleep(2.5)\n\
         s.sendall(b'pong'); s.recv(4)\n\
         s.close()\n\
         time.sleep(0.5)\n"
    );
    record(dir.path(), &trace, &["python3", "-c", &client]);
    let _ = server.kill();
    let _ = server.wait();
    for (timeouts, first) in [("1,1800", "idle"), ("100,1", "active")] {
        let out = replay_json_min(&trace, &["-m", "socket", "-t", timeouts]);
        let recs: Vec<Value> = json_lines(out.as_bytes())
            .into_iter()
            .filter(|r| r["SockRemotePort"] == port)
            .collect();
        assert_eq!(recs.len(), 2, "-t {timeouts}: {recs:#?}");
        assert_eq!(recs[0]["InfoExport"], first, "{}", recs[0]);
        assert_eq!(recs[1]["InfoExport"], "tcp-close", "{}", recs[1]);
        // Counted from the socket's start: the first export has the handshake and the
        // first message, the last one everything up to the close.
        let tx = |r: &Value, k: &str| r["SockTxFlags"][k].as_u64().unwrap_or(0);
        assert_eq!(tx(&recs[0], "SYN"), 1, "{}", recs[0]);
        assert_eq!(tx(&recs[0], "PSH-ACK"), 1, "{}", recs[0]);
        assert_eq!(tx(&recs[0], "FIN-ACK"), 0, "{}", recs[0]);
        assert_eq!(tx(&recs[1], "SYN"), 1, "{}", recs[1]);
        assert_eq!(tx(&recs[1], "PSH-ACK"), 2, "{}", recs[1]);
        assert_eq!(tx(&recs[1], "FIN-ACK"), 1, "{}", recs[1]);
        for r in &recs {
            assert_eq!(r["SockRxTTL"], 64, "{r}");
        }
    }
}
