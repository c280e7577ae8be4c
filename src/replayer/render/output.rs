//! Where replayed events and records go: stdout as pretty JSON, NDJSON or an aligned
//! table, and (records) UDP datagrams to collectors. Rendering is pure and runs in
//! parallel; writing is sequential and in order.
//!
//! The table goes to a terminal, and every name in it comes from the traced host: each
//! field is passed through [`escape_control`], so no control character of the trace
//! reaches the terminal and each record is exactly one line.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::{SocketAddr, UdpSocket};

use serde_json::Value;

use crate::replayer::bytes;
use crate::replayer::render::parquet::{ParquetOut, PARQUET_BYTES};
use crate::replayer::views::events::{event_type, EventView, ProcessText};
use crate::replayer::views::records::kflowd::{Record, RecordBody};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// Pretty-printed JSON objects, one after another.
    Json,
    /// One JSON object per line (NDJSON).
    JsonMin,
    /// Aligned columns for a terminal.
    Table,
    /// A Parquet file (`replayer::render::parquet`): needs a file to write to, never stdout.
    Parquet,
}

/// The most UDP collectors (`-u`).
pub const MAX_COLLECTORS: usize = 8;

/// One rendered item: what stdout gets, the datagram collectors get, and (Parquet) the
/// JSON object that becomes a row.
pub struct Rendered {
    pub text: Vec<u8>,
    pub datagram: Option<Vec<u8>>,
    pub row: Option<serde_json::Value>,
}

impl Rendered {
    /// Text only: JSON objects, each with its newline.
    pub fn text(text: Vec<u8>) -> Rendered {
        Rendered {
            text,
            datagram: None,
            row: None,
        }
    }
}

/// Appends `item`'s JSON (`pretty` or compact) and a newline to `buf`: the text
/// [`render_event`] and [`render_record`] give it for `-o json` and `-o json-min`, written
/// straight into a buffer shared by many items.
pub fn json_text<T: serde::Serialize + ?Sized>(item: &T, pretty: bool, buf: &mut Vec<u8>) {
    text_or_second_pass(item, pretty, buf, |buf| {
        if pretty {
            serde_json::to_writer_pretty(buf, item)
        } else {
            serde_json::to_writer(buf, item)
        }
    });
}

/// Appends what `write` appends to `buf` for `item` (its JSON text) and a newline; when it
/// fails or its text holds bytes that are not text, `item`'s text from the output rule's
/// second pass ([`bytes::to_json`]) instead.
fn text_or_second_pass<T: serde::Serialize + ?Sized>(
    item: &T,
    pretty: bool,
    buf: &mut Vec<u8>,
    write: impl FnOnce(&mut Vec<u8>) -> serde_json::Result<()>,
) {
    let start = buf.len();
    let written = write(&mut *buf);
    if written.is_err() || bytes::json_has_raw(&buf[start..]) {
        buf.truncate(start);
        buf.extend_from_slice(&bytes::to_json(item, pretty));
    }
    buf.push(b'\n');
}

/// [`json_text`] of an event: the same bytes, with the text of its process fields taken
/// from `process` when the event before had the same ones ([`EventView::json_text_into`]).
pub fn event_json_text(
    view: &EventView<'_>,
    pretty: bool,
    process: &mut ProcessText,
    buf: &mut Vec<u8>,
) {
    text_or_second_pass(view, pretty, buf, |buf| {
        view.json_text_into(pretty, process, buf)
    });
}

/// `item` as what `format` writes: its text (with the newline), or its row.
fn render<T: serde::Serialize>(
    item: &T,
    format: OutputFormat,
    udp: bool,
    row_text: impl FnOnce(&T) -> String,
) -> Rendered {
    let min = || bytes::to_json(item, false);
    let mut row = None;
    let mut text = match format {
        OutputFormat::Json => bytes::to_json(item, true),
        OutputFormat::JsonMin => min(),
        OutputFormat::Table => row_text(item).into_bytes(),
        OutputFormat::Parquet => {
            let mut value = serde_json::to_value(item).expect("in memory");
            if let Some(tree) = bytes::restore(&mut value, false) {
                if let Value::Object(map) = &mut value {
                    map.insert(PARQUET_BYTES.to_owned(), Value::String(tree.to_string()));
                }
            }
            row = Some(value);
            Vec::new()
        }
    };
    if format != OutputFormat::Parquet {
        text.push(b'\n');
    }
    Rendered {
        text,
        datagram: udp.then(min),
        row,
    }
}

/// Renders an event of the events view.
pub fn render_event(view: &EventView<'_>, format: OutputFormat, udp: bool) -> Rendered {
    let mut rendered = render(view, format, udp, |v| event_row(v));
    rendered.row = rendered
        .row
        .map(crate::replayer::render::parquet::split_event);
    rendered
}

/// Renders a record of the records view.
pub fn render_record(record: &Record, format: OutputFormat, udp: bool) -> Rendered {
    render(record, format, udp, record_row)
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

/// A field of the trace made safe for a terminal, reversibly:
///
/// | in the field | in the table |
/// | --- | --- |
/// | `\` | `\\` |
/// | newline, tab, carriage return | `\n`, `\t`, `\r` |
/// | any other C0 control (U+0000..U+001F) and DEL (U+007F) | `\xHH`, two lowercase hex digits (ESC is `\x1b`) |
/// | a C1 control (U+0080..U+009F) | `\u{HH}` (NEL is `\u{85}`) |
/// | a bidirectional or zero-width format character, U+2028, U+2029 (see `is_invisible`) | `\u{HHHH}` (RLO is `\u{202e}`) |
/// | anything else | itself |
///
/// | a byte that was not valid UTF-8 in the trace (carried as `replayer::bytes` says) | `\xHH` (0x80..0xff) |
///
/// Every backslash of the result starts an escape, so the field can be recovered exactly.
pub fn escape_control(field: &str) -> Cow<'_, str> {
    escape_with(field, false)
}

/// [`escape_control`], plus `"` as `\"`: for a field shown between double quotes.
fn escape_quoted(field: &str) -> Cow<'_, str> {
    escape_with(field, true)
}

/// Format characters that change how the text around them is shown without being seen:
/// bidirectional overrides, embeddings and isolates (U+202E turns `gpj.exe` into what reads
/// as `exe.jpg`), zero-width characters and the line and paragraph separators.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{61c}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}'
    )
}

fn escape_with(field: &str, quoted: bool) -> Cow<'_, str> {
    let special = |c: char| {
        c == '\\'
            || c.is_control()
            || is_invisible(c)
            || (quoted && c == '"')
            || bytes::has_raw_char(c)
    };
    if !field.contains(special) {
        return Cow::Borrowed(field);
    }
    let mut out = String::with_capacity(field.len() + 8);
    for c in field.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '"' if quoted => out.push_str("\\\""),
            '\0'..='\x1f' | '\x7f' => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if bytes::has_raw_char(c) => {
                out.push_str(&bytes::escaped(c.encode_utf8(&mut [0; 4])))
            }
            c if ('\u{80}'..='\u{9f}').contains(&c) || is_invisible(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A JSON value on one line for the table: like compact JSON, but strings are escaped
/// with [`escape_quoted`] (serde_json leaves DEL and C1 controls raw).
fn compact(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => {
            out.push('"');
            out.push_str(&escape_quoted(s));
            out.push('"');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                compact(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('"');
                out.push_str(&escape_quoted(k));
                out.push_str("\":");
                compact(item, out);
            }
            out.push('}');
        }
        // Numbers, booleans and null have no control characters.
        other => {
            let _ = write!(out, "{other}");
        }
    }
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
        .chain(v.get("argv").map(|a| {
            let mut argv = String::from("argv=");
            compact(a, &mut argv);
            argv
        }))
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
        escape_control(&view.event.common.comm),
        ret,
        detail
    )
}

/// A value as table text: a string bare, anything else as [`compact`]; escaped either way.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => escape_control(s).into_owned(),
        other => {
            let mut out = String::new();
            compact(other, &mut out);
            out
        }
    }
}

/// A record as one table row: time, monitor, export reason, pid, process name, and a
/// detail column read from the record's own keys (every field escaped).
fn record_row(r: &Record) -> String {
    // "Thu, Apr 04 2024 15:34:35.643031330 UTC": the clock part, to microseconds.
    let clock = escape_control(&r.info.timestamp.to_string())
        .split(' ')
        .nth(4)
        .map(|c| c.chars().take(15).collect::<String>())
        .unwrap_or_default();
    let detail = match &r.body {
        RecordBody::File(f) => {
            let events = f
                .events
                .nonzero()
                .map(|(k, n)| format!("{k}:{n}"))
                .collect::<Vec<_>>()
                .join(",");
            let origin = f
                .origin
                .as_ref()
                .map(|o| format!(" (from {})", escape_control(o)))
                .unwrap_or_default();
            format!(
                "{}{}{origin} {events} size={}",
                escape_control(&f.dir),
                escape_control(&f.name),
                or_empty(f.size)
            )
        }
        RecordBody::Sock(s) => {
            let peer = match &s.address {
                Some(a) => escape_control(a).into_owned(),
                None => format!(
                    "{}:{} -> {}:{}",
                    s.local_ip
                        .as_deref()
                        .map(escape_control)
                        .unwrap_or_default(),
                    or_empty(s.local_port),
                    s.remote_ip
                        .as_deref()
                        .map(escape_control)
                        .unwrap_or_default(),
                    or_empty(s.remote_port)
                ),
            };
            let app = s
                .app
                .as_ref()
                .map(|a| format!(" {}", a.app.name()))
                .unwrap_or_default();
            format!(
                "{} {} {peer} tx={} rx={}{app}",
                s.protocol.unwrap_or_default(),
                s.role,
                s.flows.tx().bytes,
                s.flows.rx().bytes
            )
            .trim_start()
            .to_owned()
        }
        RecordBody::Proc(p) => {
            let argv = p
                .argv
                .iter()
                .map(|a| escape_control(a))
                .collect::<Vec<_>>()
                .join(" ");
            let exit = p
                .exit_code
                .map(|c| format!("exit={c} "))
                .unwrap_or_default();
            format!("{exit}{argv}")
        }
    };
    format!(
        "{:<16} {:<11} {:<13} {:<8} {:<16} {}",
        clock,
        r.info.monitor.name(),
        r.info.export,
        r.proc.pid,
        escape_control(&r.proc.comm),
        detail
    )
}

/// A number of a record for the table; empty when the record lacks it.
fn or_empty<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// UDP collectors: each record is one datagram to each, from one connected socket per
/// collector (so the kernel reports a collector that is down: `ECONNREFUSED`, after the
/// ICMP port-unreachable answer to an earlier datagram). Datagrams are paced: at most
/// [`Collectors::rate`] per second in all, in bursts of at most [`PACING_BURST`], so that
/// a collector reading at its own pace is not flooded past its receive buffer. A datagram
/// the kernel refuses with `ENOBUFS` or `EAGAIN` is tried again after 1, 2, 4, 8 and 16
/// ms; one refused for good is counted by reason ([`Refused`]), never fatal.
///
/// What the kernel accepts (`sent`) can still be lost on the way or dropped by a
/// collector whose receive buffer is full: UDP does not tell the sender.
pub struct Collectors {
    targets: Vec<(SocketAddr, io::Result<UdpSocket>)>,
    /// `--syslog-tcp`: syslog over TCP, RFC 6587 octet-counting framing.
    pub syslog: Vec<SyslogTcp>,
    /// Datagrams per second in all (0: unpaced).
    pub rate: u32,
    /// Pacing credit: datagrams that may go now, at most [`PACING_BURST`].
    credit: f64,
    credited_at: std::time::Instant,
    /// Datagrams refused for good (the sum of `refused`).
    pub failures: u64,
    /// Datagrams the kernel accepted.
    pub sent: u64,
    pub refused: Refused,
}

/// Datagrams the kernel refused for good, by reason.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// `ENOBUFS` (or `EAGAIN`) after every retry: the sending queue stayed full.
    pub nobufs: u64,
    /// `ECONNREFUSED`: nothing listens at the collector's port.
    pub connrefused: u64,
    /// Anything else (no route, the socket could not be made, …).
    pub other: u64,
}

/// Datagrams per second that `-u` sends by default (`--udp-rate`).
pub const DEFAULT_UDP_RATE: u32 = 20_000;
/// Datagrams that may go at once before pacing waits.
pub const PACING_BURST: f64 = 64.0;
/// The waits before each retry of a datagram refused with `ENOBUFS`/`EAGAIN`, ms.
const RETRY_MS: [u64; 5] = [1, 2, 4, 8, 16];

impl Collectors {
    /// Sockets for `targets`, paced at [`DEFAULT_UDP_RATE`]. A socket that cannot be made
    /// or connected (no route) makes every datagram to it count as refused (`other`).
    /// Errors: none today; kept fallible for the callers' sake.
    pub fn new(targets: Vec<SocketAddr>) -> io::Result<Self> {
        let targets = targets
            .into_iter()
            .map(|t| {
                let any = if t.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
                let socket = UdpSocket::bind(any).and_then(|s| s.connect(t).map(|()| s));
                (t, socket)
            })
            .collect();
        Ok(Collectors {
            targets,
            syslog: Vec::new(),
            rate: DEFAULT_UDP_RATE,
            credit: PACING_BURST,
            credited_at: std::time::Instant::now(),
            failures: 0,
            sent: 0,
            refused: Refused::default(),
        })
    }

    /// The collectors of `replay` and `live`: `udp` paced at `rate`, and syslog over TCP to
    /// `tcp`; `None` when both are empty. Errors: as [`Collectors::new`].
    pub fn open(udp: Vec<SocketAddr>, rate: u32, tcp: &[SocketAddr]) -> io::Result<Option<Self>> {
        if udp.is_empty() && tcp.is_empty() {
            return Ok(None);
        }
        let mut c = Collectors::new(udp)?.with_rate(rate);
        c.syslog = tcp.iter().map(|a| SyslogTcp::new(*a)).collect();
        Ok(Some(c))
    }

    /// The same, paced at `rate` datagrams per second in all (0: unpaced).
    pub fn with_rate(mut self, rate: u32) -> Self {
        self.rate = rate;
        self
    }

    /// Waits until pacing lets one more datagram go.
    fn pace(&mut self) {
        if self.rate == 0 {
            return;
        }
        let rate = f64::from(self.rate);
        let now = std::time::Instant::now();
        self.credit = (self.credit + now.duration_since(self.credited_at).as_secs_f64() * rate)
            .min(PACING_BURST);
        self.credited_at = now;
        if self.credit < 1.0 {
            let wait = (1.0 - self.credit) / rate;
            std::thread::sleep(std::time::Duration::from_secs_f64(wait));
            self.credit = 1.0;
            self.credited_at = std::time::Instant::now();
        }
        self.credit -= 1.0;
    }

    fn send(&mut self, datagram: &[u8]) {
        for s in &mut self.syslog {
            s.send(datagram);
        }
        for i in 0..self.targets.len() {
            self.pace();
            let outcome = match &self.targets[i].1 {
                Ok(socket) => send_retrying(socket, datagram),
                Err(_) => Err(None),
            };
            match outcome {
                Ok(()) => self.sent += 1,
                Err(errno) => {
                    self.failures += 1;
                    match errno {
                        Some(libc::ENOBUFS | libc::EAGAIN) => self.refused.nobufs += 1,
                        Some(libc::ECONNREFUSED) => self.refused.connrefused += 1,
                        _ => self.refused.other += 1,
                    }
                }
            }
        }
    }

    /// Whether anything could not be sent (to a UDP or a syslog collector).
    pub fn lost_any(&self) -> bool {
        self.failures > 0 || self.syslog.iter().any(|s| s.undelivered > 0)
    }

    /// One line for the exit summary: what was sent and what was refused, by reason; and
    /// one line per syslog collector.
    pub fn summary(&self) -> String {
        let mut lines: Vec<String> = self
            .syslog
            .iter()
            .map(|s| {
                format!(
                    "--syslog-tcp {}: {} messages sent, {} not delivered (collector \
                     unreachable or the connection lost), {} connections",
                    s.addr, s.sent, s.undelivered, s.connections
                )
            })
            .collect();
        if !self.targets.is_empty() {
            lines.insert(0, self.udp_summary());
        }
        lines.join("\nkellect: ")
    }

    fn udp_summary(&self) -> String {
        let Refused {
            nobufs,
            connrefused,
            other,
        } = self.refused;
        format!(
            "-u: {} datagrams sent to {} collectors ({}), {} refused by the kernel \
             (ENOBUFS {nobufs}, ECONNREFUSED {connrefused}, other {other})",
            self.sent,
            self.targets.len(),
            match self.rate {
                0 => "unpaced".to_owned(),
                r => format!("at most {r}/s"),
            },
            self.failures,
        )
    }
}

/// A syslog collector over TCP: each record is one RFC 5424 message (facility local0,
/// severity info, app name `kellect`, the record's JSON as the message) framed by octet
/// counting (RFC 6587: `LEN SP MESSAGE`). A lost connection is made again at the next
/// message, after a backoff that doubles from 100 ms up to 5 s while connecting or writing
/// fails (back to 100 ms once a connection has lasted 5 s); messages that cannot be written
/// meanwhile are counted, never fatal, never queued (memory stays bounded). Connecting
/// waits at most 1 s; writes wait for the collector at most 1 s at once and a tenth of the
/// time in all (a collector that reads slowly or not at all loses the connection, until
/// the backoff has passed, rather than set the sender's pace).
pub struct SyslogTcp {
    pub addr: SocketAddr,
    stream: Option<std::net::TcpStream>,
    retry_at: std::time::Instant,
    backoff: std::time::Duration,
    /// When the current connection was made.
    connected_at: std::time::Instant,
    /// Time the next writes may wait for the collector in all, at most [`SYSLOG_TIMEOUT`];
    /// it grows by a tenth of the time that passes ([`SYSLOG_WAIT_SHARE`]).
    wait_credit: std::time::Duration,
    credited_at: std::time::Instant,
    /// Messages written to the connection (accepted by the kernel).
    pub sent: u64,
    /// Messages not written: no connection, or a write failed.
    pub undelivered: u64,
    /// Connections made.
    pub connections: u64,
    /// `HOSTNAME` of the messages.
    host: String,
}

const SYSLOG_BACKOFF_MIN: std::time::Duration = std::time::Duration::from_millis(100);
const SYSLOG_BACKOFF_MAX: std::time::Duration = std::time::Duration::from_secs(5);
const SYSLOG_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);
/// The share of the time a collector may hold the sender waiting, beyond one timeout.
const SYSLOG_WAIT_SHARE: u32 = 10;

impl SyslogTcp {
    /// A collector at `addr`, not yet connected (the first message connects).
    pub fn new(addr: SocketAddr) -> Self {
        let mut name = [0u8; 256];
        // SAFETY: gethostname writes at most the given length into the buffer.
        let ok = unsafe { libc::gethostname(name.as_mut_ptr().cast(), name.len()) } == 0;
        let end = name.iter().position(|&b| b == 0).unwrap_or(0);
        let host: String = String::from_utf8_lossy(&name[..if ok { end } else { 0 }])
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(255)
            .collect();
        SyslogTcp {
            addr,
            stream: None,
            retry_at: std::time::Instant::now(),
            backoff: SYSLOG_BACKOFF_MIN,
            connected_at: std::time::Instant::now(),
            wait_credit: SYSLOG_TIMEOUT,
            credited_at: std::time::Instant::now(),
            sent: 0,
            undelivered: 0,
            connections: 0,
            host: if host.is_empty() { "-".into() } else { host },
        }
    }

    /// One octet-counted frame holding `json`.
    pub fn frame(&self, json: &[u8]) -> Vec<u8> {
        let now = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| "-".into());
        let mut msg = format!(
            "<134>1 {now} {} kellect {} - - ",
            self.host,
            std::process::id()
        )
        .into_bytes();
        msg.extend_from_slice(json.strip_suffix(b"\n").unwrap_or(json));
        let mut frame = format!("{} ", msg.len()).into_bytes();
        frame.extend_from_slice(&msg);
        frame
    }

    fn send(&mut self, json: &[u8]) {
        if self.stream.is_none() && std::time::Instant::now() >= self.retry_at {
            match std::net::TcpStream::connect_timeout(&self.addr, SYSLOG_TIMEOUT) {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    self.stream = Some(s);
                    self.connections += 1;
                    self.connected_at = std::time::Instant::now();
                }
                Err(_) => self.back_off(),
            }
        }
        let frame = self.frame(json);
        let now = std::time::Instant::now();
        self.wait_credit = (self.wait_credit
            + now.duration_since(self.credited_at) / SYSLOG_WAIT_SHARE)
            .min(SYSLOG_TIMEOUT);
        self.credited_at = now;
        // At least a moment: a collector keeping up takes a message without any wait.
        let limit = self.wait_credit.max(std::time::Duration::from_millis(1));
        let written = self.stream.as_mut().map(|s| write_within(s, &frame, limit));
        self.wait_credit = self.wait_credit.saturating_sub(now.elapsed());
        match written {
            Some(Ok(())) => self.sent += 1,
            Some(Err(_)) => {
                // Made again after the backoff: a collector that stopped reading would
                // otherwise hold every message for the whole timeout.
                self.stream = None;
                if self.connected_at.elapsed() >= SYSLOG_BACKOFF_MAX {
                    self.backoff = SYSLOG_BACKOFF_MIN;
                }
                self.back_off();
                self.undelivered += 1;
            }
            None => self.undelivered += 1,
        }
    }

    /// No connection before the backoff has passed; the next backoff is twice as long.
    fn back_off(&mut self) {
        self.retry_at = std::time::Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(SYSLOG_BACKOFF_MAX);
    }
}

/// Writes all of `bytes` to `stream` within `limit` in all (each write waits only for what
/// is left of it): `TimedOut` when the peer has not taken them by then.
fn write_within(
    stream: &mut std::net::TcpStream,
    mut bytes: &[u8],
    limit: std::time::Duration,
) -> io::Result<()> {
    let deadline = std::time::Instant::now() + limit;
    while !bytes.is_empty() {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        stream.set_write_timeout(Some(left))?;
        match stream.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Sends one datagram, retrying after `ENOBUFS`/`EAGAIN` ([`RETRY_MS`]); `Err(errno)` when
/// refused for good.
fn send_retrying(socket: &UdpSocket, datagram: &[u8]) -> Result<(), Option<i32>> {
    let mut waits = RETRY_MS.iter();
    loop {
        match socket.send(datagram) {
            Ok(_) => return Ok(()),
            Err(e) => {
                let errno = e.raw_os_error();
                let transient = matches!(errno, Some(libc::ENOBUFS | libc::EAGAIN));
                match waits.next() {
                    Some(ms) if transient => {
                        std::thread::sleep(std::time::Duration::from_millis(*ms))
                    }
                    _ => return Err(errno),
                }
            }
        }
    }
}

/// The destination of a replay: stdout or the `--to` file (unless quiet), or a Parquet
/// file; and collectors.
pub struct Sink<'w> {
    stdout: Option<&'w mut dyn Write>,
    pub format: OutputFormat,
    pub collectors: Option<Collectors>,
    header: Option<&'static str>,
    parquet: Option<ParquetOut>,
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
            parquet: None,
        }
    }

    /// The same sink writing its rows to `parquet` (with [`OutputFormat::Parquet`]).
    pub fn with_parquet(mut self, parquet: ParquetOut) -> Self {
        self.parquet = Some(parquet);
        self
    }

    /// Writes what is still buffered: the Parquet file's last row group and footer, and
    /// flushes. Errors: writing.
    pub fn finish(&mut self) -> anyhow::Result<()> {
        if let Some(p) = self.parquet.take() {
            p.finish()?;
        }
        self.flush()?;
        Ok(())
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

    /// Writes one item. Errors: writing; a row that does not fit the Parquet schema.
    pub fn write(&mut self, item: &Rendered) -> anyhow::Result<()> {
        if let (Some(p), Some(row)) = (self.parquet.as_mut(), &item.row) {
            p.push(row)?;
        }
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

    /// The inverse of [`escape_control`] (and of [`escape_quoted`] when `quoted`): proves
    /// the escape loses nothing.
    fn unescape(escaped: &str, quoted: bool) -> String {
        let mut out = String::new();
        let mut chars = escaped.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next().expect("a backslash starts an escape") {
                '\\' => out.push('\\'),
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '"' if quoted => out.push('"'),
                'x' => {
                    let hex: String = chars.by_ref().take(2).collect();
                    let code = u8::from_str_radix(&hex, 16).expect("two hex digits");
                    // 0x80 and up: a byte that was not UTF-8 (replayer::bytes).
                    match code {
                        0..=0x7f => out.push(char::from(code)),
                        _ => out.push_str(&bytes::text(&[code])),
                    }
                }
                'u' => {
                    assert_eq!(chars.next(), Some('{'));
                    let hex: String = chars.by_ref().take_while(|&c| c != '}').collect();
                    let code = u32::from_str_radix(&hex, 16).expect("hex digits");
                    out.push(char::from_u32(code).expect("a char"));
                }
                other => panic!("unknown escape \\{other} in {escaped:?}"),
            }
        }
        out
    }

    fn assert_terminal_safe(text: &str) {
        for c in text.chars() {
            assert!(!c.is_control(), "{c:?} reached the table: {text:?}");
        }
    }

    #[test]
    fn escape_control_shows_each_control_character_escaped() {
        assert_eq!(escape_control("plain /tmp/a b.txt"), "plain /tmp/a b.txt");
        assert!(matches!(escape_control("caf\u{e9}"), Cow::Borrowed(_)));
        assert_eq!(escape_control("\x1b[2J"), "\\x1b[2J");
        assert_eq!(escape_control("\x1b]0;pwned\x07"), "\\x1b]0;pwned\\x07");
        assert_eq!(escape_control("a\nb\tc\rd"), "a\\nb\\tc\\rd");
        assert_eq!(escape_control("\0\x01\x1f\x7f"), "\\x00\\x01\\x1f\\x7f");
        assert_eq!(
            escape_control("\u{80}\u{85}\u{9b}\u{9f}"),
            "\\u{80}\\u{85}\\u{9b}\\u{9f}"
        );
        assert_eq!(escape_control("back\\slash"), "back\\\\slash");
        // Already-escaped text stays distinguishable from the control it names.
        assert_eq!(escape_control("\\x1b"), "\\\\x1b");
        assert_eq!(escape_control("\"q\""), "\"q\"");
        assert_eq!(escape_quoted("\"q\""), "\\\"q\\\"");
        // Not controls: U+00A0 and beyond, U+FFFD (invalid UTF-8 in the trace).
        assert_eq!(escape_control("\u{a0}\u{fffd}"), "\u{a0}\u{fffd}");
        // Invisible reordering: the right-to-left override is shown, not obeyed.
        assert_eq!(escape_control("\u{202e}"), "\\u{202e}");
    }

    #[test]
    fn escape_control_is_reversible_and_terminal_safe() {
        let mut every: String = (0u32..0x300).filter_map(char::from_u32).collect();
        every.push_str("\\x1b \\u{85} \\\\ \"\u{fffd}\u{10ffff}");
        every.push_str(&bytes::text(b"\xff\x80\xc3(\\x9b"));
        for quoted in [false, true] {
            let escaped = escape_with(&every, quoted);
            assert_terminal_safe(&escaped);
            assert_eq!(unescape(&escaped, quoted), every);
        }
        // Every single character, alone and between others.
        for c in (0u32..0x300).filter_map(char::from_u32) {
            let field = format!("a{c}\\{c}");
            let escaped = escape_control(&field);
            assert_terminal_safe(&escaped);
            assert_eq!(unescape(&escaped, false), field);
        }
    }

    #[test]
    fn a_hostile_record_is_one_escaped_row() {
        let hostile = "x\x1b[2J\x1b]0;pwned\x07\nforged\trow\x7f\u{9b}31m\\";
        use crate::replayer::views::records::kflowd::{
            self, AppKeys, FileRecord, ProcRecord, SockRecord,
        };
        use crate::replayer::views::records::protocols::App;
        use crate::replayer::views::records::Monitor;
        let record = |monitor, body| {
            let mut r = kflowd::tests::full(monitor, body);
            // Thu, Apr 04 2024 15:34:35.643031330 UTC
            r.info.timestamp =
                crate::replayer::views::records::kflowd::KflowdTime(1_712_244_875_643_031_330);
            r.proc.comm = hostile.into();
            r
        };
        let file = record(
            Monitor::Filesystem,
            RecordBody::File(FileRecord {
                dir: format!("/tmp/{hostile}/"),
                name: hostile.into(),
                origin: Some(hostile.into()),
                size: Some(3),
                ..FileRecord::default()
            }),
        );
        let socket = record(
            Monitor::Socket,
            RecordBody::Sock(SockRecord {
                address: Some(hostile.into()),
                app: Some(AppKeys {
                    app: App::Dns,
                    server: false,
                    tx: Vec::new(),
                    rx: Vec::new(),
                }),
                ..SockRecord::default()
            }),
        );
        let process = record(
            Monitor::Process,
            RecordBody::Proc(ProcRecord {
                argv: vec![hostile.into(), hostile.into()],
                exit_code: Some(1),
                ..ProcRecord::default()
            }),
        );
        for r in [&file, &socket, &process] {
            let text = String::from_utf8(render_record(r, OutputFormat::Table, false).text)
                .expect("UTF-8");
            let row = text.strip_suffix('\n').expect("a row ends with a newline");
            assert_terminal_safe(row);
            assert!(row.contains("x\\x1b[2J\\x1b]0;pwned\\x07\\nforged\\trow\\x7f\\u{9b}31m\\\\"));
            assert!(row.starts_with("15:34:35.643031 "), "{row}");
        }
    }

    #[test]
    fn compact_matches_json_for_plain_values_and_escapes_the_rest() {
        let plain_value = serde_json::json!(["ls", "-l", {"a": [1, true, null]}]);
        let mut out = String::new();
        compact(&plain_value, &mut out);
        assert_eq!(out, plain_value.to_string());
        let hostile = serde_json::json!(["a\"b", "\x1b\u{85}\x7f"]);
        out.clear();
        compact(&hostile, &mut out);
        assert_eq!(out, "[\"a\\\"b\",\"\\x1b\\u{85}\\x7f\"]");
    }

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
        for i in 0..5 {
            c.send(format!("{{\"a\":{i}}}").as_bytes());
            // The port-unreachable answer comes back between two datagrams.
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let mut buf = [0u8; 64];
        for i in 0..5 {
            let (n, _) = peer.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], format!("{{\"a\":{i}}}").as_bytes());
        }
        assert_eq!(c.sent + c.failures, 10);
        // The down collector's refusals are counted as such (the first datagram, sent
        // before any answer, is accepted; later ones alternate with fresh answers).
        assert!(c.refused.connrefused >= 2, "{:?}", c.refused);
        assert_eq!(c.refused.connrefused, c.failures);
        assert!(c
            .summary()
            .contains(&format!("ECONNREFUSED {}", c.failures)));
    }

    #[test]
    fn a_syslog_collector_that_reads_a_trickle_does_not_pace_the_sender() {
        use std::io::Read as _;
        // A collector that reads 2 KiB every 500 ms, with a small receive buffer (the
        // accepted sockets inherit it): each write took a little of it within its 1 s
        // timeout, so the sender went at the collector's pace for good (54 records in the
        // last 3 s), stalling the replay, or in live the recording behind it.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        set_int_option(&listener, libc::SOL_SOCKET, libc::SO_RCVBUF, 4096);
        // Small segments: the sender's buffer, sized by segments, stays small too (on
        // loopback it would take megabytes before the collector's pace showed).
        set_int_option(&listener, libc::IPPROTO_TCP, libc::TCP_MAXSEG, 536);
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let mut conn = conn.unwrap();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 2048];
                    while conn.read(&mut buf).is_ok_and(|n| n > 0) {
                        std::thread::sleep(std::time::Duration::from_millis(500));
                    }
                });
            }
        });
        let mut c = Collectors::open(Vec::new(), 0, &[addr]).unwrap().unwrap();
        let record = format!("{{\"x\":\"{}\"}}", "y".repeat(1000));
        let started = std::time::Instant::now();
        let (mut calls, mut late_calls) = (0u64, 0u64);
        // Six seconds of records as fast as they go; the kernel's buffers fill in the first
        // three.
        while started.elapsed() < std::time::Duration::from_secs(6) {
            let call = std::time::Instant::now();
            c.send(record.as_bytes());
            assert!(
                call.elapsed() < std::time::Duration::from_millis(2500),
                "one message held the sender {:?}",
                call.elapsed()
            );
            calls += 1;
            if started.elapsed() >= std::time::Duration::from_secs(3) {
                late_calls += 1;
            }
        }
        let s = &c.syslog[0];
        assert_eq!(s.sent + s.undelivered, calls);
        assert!(s.undelivered > 0, "{calls} calls, none undelivered");
        assert!(
            late_calls >= 1000,
            "{late_calls} records in the last 3 s (sent {}, undelivered {}, {} connections)",
            s.sent,
            s.undelivered,
            s.connections
        );
    }

    #[test]
    fn syslog_over_tcp_sends_octet_counted_frames_and_counts_what_it_cannot() {
        use std::io::Read as _;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let down = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let down_addr = down.local_addr().unwrap();
        drop(down);
        let mut c = Collectors::open(Vec::new(), 0, &[listener.local_addr().unwrap(), down_addr])
            .unwrap()
            .unwrap();
        let records = ["{\"a\":1}", "{\"b\":\"x y\"}\n", "{\"c\":[3]}"];
        for r in records {
            c.send(r.as_bytes());
        }
        let (up, down) = (&c.syslog[0], &c.syslog[1]);
        assert_eq!((up.sent, up.undelivered, up.connections), (3, 0, 1));
        // One connection attempt, then the backoff: the other two are not even tried.
        assert_eq!((down.sent, down.undelivered, down.connections), (0, 3, 0));
        assert!(c.lost_any());
        let summary = c.summary();
        assert!(
            summary.contains(&format!(
                "--syslog-tcp {down_addr}: 0 messages sent, 3 not delivered"
            )),
            "{summary}"
        );
        drop(c);
        let (mut conn, _) = listener.accept().unwrap();
        let mut bytes = Vec::new();
        conn.read_to_end(&mut bytes).unwrap();
        // Octet counting: LEN SP MSG, back to back.
        let mut rest = &bytes[..];
        let mut messages = Vec::new();
        while !rest.is_empty() {
            let sp = rest.iter().position(|&b| b == b' ').unwrap();
            let len: usize = std::str::from_utf8(&rest[..sp]).unwrap().parse().unwrap();
            messages.push(String::from_utf8(rest[sp + 1..sp + 1 + len].to_vec()).unwrap());
            rest = &rest[sp + 1 + len..];
        }
        assert_eq!(messages.len(), 3);
        for (m, r) in messages.iter().zip(records) {
            assert!(m.starts_with("<134>1 "), "{m}");
            assert!(
                m.contains(&format!(" kellect {} - - ", std::process::id())),
                "{m}"
            );
            assert!(m.ends_with(r.trim_end()), "{m}");
            let fields: Vec<&str> = m.splitn(8, ' ').collect();
            assert!(time::OffsetDateTime::parse(
                fields[1],
                &time::format_description::well_known::Rfc3339
            )
            .is_ok());
        }
    }

    /// The kernel's per-socket drop count of the UDP socket bound to `port` on loopback
    /// (the last column of /proc/net/udp): datagrams its full receive buffer refused.
    fn udp_drops(port: u16) -> u64 {
        let table = std::fs::read_to_string("/proc/net/udp").unwrap();
        let local = format!("0100007F:{port:04X}");
        let line = table
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(local.as_str()))
            .expect("the socket is in /proc/net/udp");
        line.split_whitespace().last().unwrap().parse().unwrap()
    }

    /// `setsockopt` of an int option on `socket`; panics when refused.
    fn set_int_option(
        socket: &impl std::os::fd::AsRawFd,
        level: libc::c_int,
        name: libc::c_int,
        value: libc::c_int,
    ) {
        // SAFETY: setsockopt reads an int that lives across the call; the fd is open.
        let set = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                level,
                name,
                std::ptr::from_ref(&value).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(set, 0, "{}", io::Error::last_os_error());
    }

    #[test]
    fn a_collector_that_reads_late_loses_nothing_uncounted_and_pacing_bounds_the_rate() {
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        set_int_option(&peer, libc::SOL_SOCKET, libc::SO_RCVBUF, 4096);
        let port = peer.local_addr().unwrap().port();
        let before = udp_drops(port);
        let mut c = Collectors::new(vec![peer.local_addr().unwrap()])
            .unwrap()
            .with_rate(2000);
        let started = std::time::Instant::now();
        let datagram = [b'x'; 300];
        for _ in 0..300 {
            c.send(&datagram);
        }
        // 300 at 2000/s, the first 64 at once: at least (300 - 64) / 2000 s.
        let took = started.elapsed();
        assert!(took >= std::time::Duration::from_millis(110), "{took:?}");
        // Read only now: the buffer held a few, the kernel dropped the rest.
        peer.set_nonblocking(true).unwrap();
        let mut received = 0u64;
        let mut buf = [0u8; 512];
        while peer.recv_from(&mut buf).is_ok() {
            received += 1;
        }
        let dropped = udp_drops(port) - before;
        assert!(
            received > 0 && dropped > 0,
            "{received} received, {dropped} dropped"
        );
        assert_eq!(c.sent + c.failures, 300);
        assert_eq!(
            received + dropped,
            c.sent,
            "every datagram sent is received or counted"
        );
        assert!(
            c.summary().starts_with(&format!(
                "-u: {} datagrams sent to 1 collectors (at most 2000/s)",
                c.sent
            )),
            "{}",
            c.summary()
        );
    }
}
