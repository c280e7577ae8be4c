//! Where replayed events and records go: stdout as pretty JSON, NDJSON or an aligned
//! table, and (records) UDP datagrams to collectors. Rendering is pure and runs in
//! parallel; writing is sequential and in order.

use std::io::{self, Write};
use std::net::{SocketAddr, UdpSocket};

use serde_json::{Map, Value};

use super::events::{event_type, EventView};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// Pretty-printed JSON objects, one after another.
    Json,
    /// One JSON object per line (NDJSON).
    JsonMin,
    /// Aligned columns for a terminal.
    Table,
}

/// The most UDP collectors (`-u`).
pub const MAX_COLLECTORS: usize = 8;

/// One rendered item: what stdout gets, and the datagram collectors get.
pub struct Rendered {
    pub text: Vec<u8>,
    pub datagram: Option<Vec<u8>>,
}

/// Renders an event of the events view.
pub fn render_event(view: &EventView<'_>, format: OutputFormat, udp: bool) -> Rendered {
    let min = || serde_json::to_vec(view).expect("serializing into memory cannot fail");
    let mut text = match format {
        OutputFormat::Json => serde_json::to_vec_pretty(view).expect("in memory"),
        OutputFormat::JsonMin => min(),
        OutputFormat::Table => event_row(view).into_bytes(),
    };
    text.push(b'\n');
    Rendered {
        text,
        datagram: udp.then(min),
    }
}

/// Renders a record of the records view.
pub fn render_record(record: &Map<String, Value>, format: OutputFormat, udp: bool) -> Rendered {
    let min = || serde_json::to_vec(record).expect("serializing into memory cannot fail");
    let mut text = match format {
        OutputFormat::Json => serde_json::to_vec_pretty(record).expect("in memory"),
        OutputFormat::JsonMin => min(),
        OutputFormat::Table => record_row(record).into_bytes(),
    };
    text.push(b'\n');
    Rendered {
        text,
        datagram: udp.then(min),
    }
}

pub const EVENT_TABLE_HEADER: &str =
    "TIME(UTC)        EVENT              PID      TID      COMM             RET      DETAIL";
pub const RECORD_TABLE_HEADER: &str =
    "TIME(UTC)        MONITOR     EXPORT        PID      PROC             DETAIL";

fn clock_of_day(timestamp_us: i64) -> String {
    let secs = timestamp_us.div_euclid(1_000_000);
    let us = timestamp_us.rem_euclid(1_000_000);
    let day = secs.rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02}.{us:06}",
        day / 3600,
        day / 60 % 60,
        day % 60
    )
}

fn event_row(view: &EventView<'_>) -> String {
    let v = serde_json::to_value(view).expect("in memory");
    let detail = ["path", "filename", "oldpath", "target", "addr", "socket"]
        .iter()
        .filter_map(|k| v.get(*k).map(|x| format!("{k}={}", plain(x))))
        .chain(v.get("port").map(|p| format!("port={}", plain(p))))
        .chain(v.get("newpath").map(|p| format!("newpath={}", plain(p))))
        .chain(
            v.get("exit_code")
                .map(|c| format!("exit_code={}", plain(c))),
        )
        .chain(v.get("argv").map(|a| format!("argv={a}")))
        .chain(v.get("error").map(plain))
        .collect::<Vec<_>>()
        .join(" ");
    let ret = v.get("ret").map(plain).unwrap_or_default();
    format!(
        "{:<16} {:<18} {:<8} {:<8} {:<16} {:<8} {}",
        clock_of_day(view.timestamp_us),
        event_type(view.event).unwrap_or("unknown"),
        view.event.common.pid,
        view.event.common.tid,
        view.event.common.comm,
        ret,
        detail
    )
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn record_row(r: &Map<String, Value>) -> String {
    let get = |k: &str| r.get(k).map(plain).unwrap_or_default();
    let time = get("InfoTimestamp");
    // "Thu, Apr 04 2024 15:34:35.643031330 UTC": the clock part, to microseconds.
    let clock = time
        .split(' ')
        .nth(4)
        .map(|c| c.chars().take(15).collect::<String>())
        .unwrap_or_default();
    let detail = match get("InfoMonitor").as_str() {
        "filesystem" => {
            let events = r
                .get("FileEvents")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}:{v}"))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default();
            let origin = r
                .get("FileOrigin")
                .map(|o| format!(" (from {})", plain(o)))
                .unwrap_or_default();
            format!(
                "{}{}{origin} {events} size={}",
                get("FilePath"),
                get("File"),
                get("FileSize")
            )
        }
        "socket" => {
            let peer = if r.contains_key("SockAddress") {
                get("SockAddress")
            } else {
                format!(
                    "{}:{} -> {}:{}",
                    get("SockLocalIP"),
                    get("SockLocalPort"),
                    get("SockRemoteIP"),
                    get("SockRemotePort")
                )
            };
            let app = r
                .get("App")
                .map(|a| format!(" {}", plain(a)))
                .unwrap_or_default();
            format!(
                "{} {} {peer} tx={} rx={}{app}",
                get("SockProtocol"),
                get("SockRole"),
                get("SockTxBytes"),
                get("SockRxBytes")
            )
            .trim_start()
            .to_owned()
        }
        _ => {
            let argv = r
                .get("ProcArgv")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(plain).collect::<Vec<_>>().join(" "))
                .unwrap_or_default();
            let exit = r
                .get("ProcExitCode")
                .map(|c| format!("exit={} ", plain(c)))
                .unwrap_or_default();
            format!("{exit}{argv}")
        }
    };
    format!(
        "{:<16} {:<11} {:<13} {:<8} {:<16} {}",
        clock,
        get("InfoMonitor"),
        get("InfoExport"),
        get("ProcPID"),
        get("Proc"),
        detail
    )
}

/// UDP collectors: each record is one datagram to each, from one socket per address
/// family. A collector that is down does not stop anything: failures are counted.
pub struct Collectors {
    targets: Vec<SocketAddr>,
    v4: Option<UdpSocket>,
    v6: Option<UdpSocket>,
    pub failures: u64,
    pub sent: u64,
}

impl Collectors {
    pub fn new(targets: Vec<SocketAddr>) -> io::Result<Self> {
        let v4 = if targets.iter().any(SocketAddr::is_ipv4) {
            Some(UdpSocket::bind("0.0.0.0:0")?)
        } else {
            None
        };
        let v6 = if targets.iter().any(SocketAddr::is_ipv6) {
            Some(UdpSocket::bind("[::]:0")?)
        } else {
            None
        };
        Ok(Collectors {
            targets,
            v4,
            v6,
            failures: 0,
            sent: 0,
        })
    }

    fn send(&mut self, datagram: &[u8]) {
        for t in &self.targets {
            let socket = if t.is_ipv4() { &self.v4 } else { &self.v6 };
            match socket.as_ref().map(|s| s.send_to(datagram, t)) {
                Some(Ok(_)) => self.sent += 1,
                _ => self.failures += 1,
            }
        }
    }
}

/// The destination of a replay: stdout (unless quiet) and collectors.
pub struct Sink<'w> {
    stdout: Option<&'w mut dyn Write>,
    pub format: OutputFormat,
    pub collectors: Option<Collectors>,
    header: Option<&'static str>,
}

impl<'w> Sink<'w> {
    pub fn new(
        stdout: Option<&'w mut dyn Write>,
        format: OutputFormat,
        collectors: Option<Collectors>,
    ) -> Self {
        Sink {
            stdout,
            format,
            collectors,
            header: None,
        }
    }

    /// The table header to print before the first row.
    pub fn set_table_header(&mut self, header: &'static str) {
        if self.format == OutputFormat::Table {
            self.header = Some(header);
        }
    }

    pub fn wants_datagrams(&self) -> bool {
        self.collectors.is_some()
    }

    pub fn write(&mut self, item: &Rendered) -> io::Result<()> {
        if let Some(out) = self.stdout.as_mut() {
            if let Some(h) = self.header.take() {
                writeln!(out, "{h}")?;
            }
            out.write_all(&item.text)?;
        }
        if let (Some(c), Some(d)) = (self.collectors.as_mut(), &item.datagram) {
            c.send(d);
        }
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        match self.stdout.as_mut() {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_of_day_formats() {
        assert_eq!(clock_of_day(1_712_244_875_643_031), "15:34:35.643031");
    }

    #[test]
    fn collectors_send_and_survive_a_down_peer() {
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        let down = UdpSocket::bind("127.0.0.1:0").unwrap();
        let down_addr = down.local_addr().unwrap();
        drop(down);
        let mut c = Collectors::new(vec![peer.local_addr().unwrap(), down_addr]).unwrap();
        c.send(b"{\"a\":1}");
        c.send(b"{\"a\":2}");
        let mut buf = [0u8; 64];
        let (n, _) = peer.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"{\"a\":1}");
        let (n, _) = peer.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"{\"a\":2}");
        assert_eq!(c.sent + c.failures, 4);
    }
}
