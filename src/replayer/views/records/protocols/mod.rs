//! Application decoders of the records view: the DNS, HTTP and SYSLOG messages a socket
//! carried, as kflowd's `AppTx*`/`AppRx*` elements.
//!
//! Payloads are attacker-controlled. Parsing is left to well-kept crates (`hickory-proto`,
//! `httparse`, `syslog_loose`); this module only frames messages out of a byte stream and
//! renders them. Nothing here panics on input, every loop consumes input or stops, and
//! every buffer is bounded: a message that cannot be decoded becomes an element with a
//! short `_Exception` instead of its keys.
//!
//! Each element's keys keep kflowd's order (serde_json's `preserve_order`), `_Timestamp`
//! first: seconds since the socket's first packet, printed with exactly 9 decimals.

mod dns;
mod http;
mod syslog;

use std::collections::VecDeque;

use serde_json::Number;
pub use serde_json::{Map, Value};

/// Most bytes a stream keeps while waiting for the end of a message. A message that does
/// not complete within it becomes an `_Exception` and the stream starts over.
pub const STREAM_BUFFER_LIMIT: usize = 64 * 1024;

/// Most bytes of an HTTP body kept in `_Body`, as kflowd does.
pub const HTTP_BODY_KEPT: usize = 128;

/// Longest `_Exception` text: a short message, whatever the parser's error says.
const EXCEPTION_MAX_CHARS: usize = 120;

/// An application protocol the records view decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum App {
    Dns,
    Http,
    Syslog,
}

/// Every protocol, in `App*` key order.
pub const APPS: [App; 3] = [App::Dns, App::Http, App::Syslog];

impl App {
    /// Every key a message of this protocol can have, in output order (`--legend` says
    /// what each means).
    pub fn message_keys(self) -> &'static [&'static str] {
        match self {
            App::Dns => &[
                "_Timestamp",
                "_Exception",
                "TransactionId",
                "OpCode",
                "ResponseCode",
                "Flags",
                "AnswerCount",
                "ResourceRecords",
            ],
            App::Http => &[
                "_Timestamp",
                "_Exception",
                "_Method",
                "_Url",
                "_Version",
                "_Status",
                "_Reason",
                "_Headers",
                "_Body",
            ],
            App::Syslog => &[
                "_Timestamp",
                "_Exception",
                "Facility",
                "Severity",
                "Priority",
                "Version",
                "Timestamp",
                "Hostname",
                "Appname",
                "ProcId",
                "MsgId",
                "Data",
                "Message",
            ],
        }
    }

    /// The name kflowd prints in `App`.
    pub fn name(self) -> &'static str {
        match self {
            App::Dns => "DNS",
            App::Http => "HTTP",
            App::Syslog => "SYSLOG",
        }
    }
}

/// Which way the payload went, seen from the recorded process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Tx,
    Rx,
}

/// The socket's transport: datagrams carry one message each, streams are reassembled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
    UnixDgram,
    UnixStream,
}

impl Transport {
    /// Whether message boundaries must be found in a byte stream.
    pub fn is_stream(self) -> bool {
        matches!(self, Transport::Tcp | Transport::UnixStream)
    }
}

/// One direction of one socket: feed payload chunks in order (each with the seconds since
/// the socket's first packet, for `_Timestamp`); it returns the messages that became
/// complete.
///
/// Datagram transports: one chunk is one message. Stream transports reassemble: DNS over
/// TCP uses the 2-byte big-endian length prefix; HTTP waits for the end of the headers and
/// then for Content-Length bytes of body (of which the first [`HTTP_BODY_KEPT`] are kept;
/// a body without Content-Length ends with the chunk); SYSLOG splits on `\n` (and on NUL,
/// which glibc's syslog(3) appends on stream sockets) and understands RFC 6587 octet
/// counting (`LEN SP MSG`). An element's `_Timestamp` is that of the chunk that brought
/// the message's first byte.
#[derive(Debug)]
pub struct StreamDecoder {
    app: App,
    transport: Transport,
    direction: Direction,
    /// Reassembly state; `None` for datagram transports.
    stream: Option<Reassembly>,
}

impl StreamDecoder {
    pub fn new(app: App, transport: Transport, direction: Direction) -> Self {
        let stream = transport.is_stream().then(|| Reassembly::new(app));
        StreamDecoder {
            app,
            transport,
            direction,
            stream,
        }
    }

    pub fn app(&self) -> App {
        self.app
    }

    pub fn transport(&self) -> Transport {
        self.transport
    }

    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// Feeds the next payload chunk; returns the messages it completed, in order.
    pub fn push(&mut self, chunk: &[u8], timestamp_s: f64) -> Vec<Map<String, Value>> {
        match &mut self.stream {
            None => vec![decode_datagram(self.app, chunk, timestamp_s)],
            Some(stream) => stream.push(chunk, timestamp_s),
        }
    }

    /// At the end of the socket: whatever is buffered, decoded or as an `_Exception`.
    /// The decoder is then empty and may be fed again.
    pub fn finish(&mut self) -> Vec<Map<String, Value>> {
        match &mut self.stream {
            None => Vec::new(),
            Some(stream) => stream.finish(),
        }
    }
}

/// Decodes one datagram as one message.
fn decode_datagram(app: App, message: &[u8], ts: f64) -> Map<String, Value> {
    match app {
        App::Dns => dns::decode(message, ts),
        App::Http => http::decode_datagram(message, ts),
        App::Syslog => syslog::decode(message, ts),
    }
}

/// What a framer made of the bytes at the front of the stream buffer.
#[derive(Debug)]
enum Step {
    /// No complete message (or skippable prefix) yet: wait for more bytes.
    Need,
    /// The first `consumed` bytes are done with (at least one), completing `element` if
    /// it is there.
    Advance {
        consumed: usize,
        element: Option<Map<String, Value>>,
    },
}

impl Step {
    fn emit(consumed: usize, element: Map<String, Value>) -> Self {
        Step::Advance {
            consumed,
            element: Some(element),
        }
    }

    fn skip(consumed: usize) -> Self {
        Step::Advance {
            consumed,
            element: None,
        }
    }
}

/// The protocol-specific half of reassembly: finds message boundaries and decodes.
#[derive(Debug)]
enum Framer {
    Dns(dns::TcpFramer),
    Http(http::StreamFramer),
    Syslog(syslog::StreamFramer),
}

impl Framer {
    fn new(app: App) -> Self {
        match app {
            App::Dns => Framer::Dns(dns::TcpFramer::default()),
            App::Http => Framer::Http(http::StreamFramer::default()),
            App::Syslog => Framer::Syslog(syslog::StreamFramer::default()),
        }
    }

    /// Looks at the unconsumed bytes (never empty); `ts` is the time of their first byte.
    fn step(&mut self, buf: &[u8], ts: f64) -> Step {
        match self {
            Framer::Dns(f) => f.step(buf, ts),
            Framer::Http(f) => f.step(buf, ts),
            Framer::Syslog(f) => f.step(buf, ts),
        }
    }

    /// End of stream: the unconsumed bytes (maybe empty) and any message in progress.
    fn finish(&mut self, buf: &[u8], ts: f64) -> Option<Map<String, Value>> {
        match self {
            Framer::Dns(f) => f.finish(buf, ts),
            Framer::Http(f) => f.finish(buf, ts),
            Framer::Syslog(f) => f.finish(buf, ts),
        }
    }
}

/// A bounded reassembly buffer plus the chunk times needed for `_Timestamp`.
#[derive(Debug)]
struct Reassembly {
    app: App,
    buf: Vec<u8>,
    /// Bytes at the front of `buf` already consumed (dropped at the end of each push).
    pos: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    /// (stream offset, time) of each chunk piece still in `buf`; never more entries than
    /// buffered bytes, as empty pieces are not recorded.
    starts: VecDeque<(u64, f64)>,
    framer: Framer,
}

impl Reassembly {
    fn new(app: App) -> Self {
        Reassembly {
            app,
            buf: Vec::new(),
            pos: 0,
            base: 0,
            starts: VecDeque::new(),
            framer: Framer::new(app),
        }
    }

    fn push(&mut self, chunk: &[u8], ts: f64) -> Vec<Map<String, Value>> {
        let mut out = Vec::new();
        let mut rest = chunk;
        // Each turn appends at least one byte or clears a full buffer, so this ends.
        while !rest.is_empty() {
            self.compact();
            let room = STREAM_BUFFER_LIMIT.saturating_sub(self.buf.len());
            if room == 0 {
                let at = self.time_at(self.base);
                out.push(exception(
                    at,
                    format!(
                        "{} message longer than the {} KiB stream buffer",
                        self.app.name(),
                        STREAM_BUFFER_LIMIT / 1024
                    ),
                ));
                self.clear();
                continue;
            }
            let take = room.min(rest.len());
            self.starts
                .push_back((self.base + self.buf.len() as u64, ts));
            self.buf.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            self.drain(&mut out);
        }
        self.compact();
        out
    }

    /// Hands complete messages to `out` while the framer makes progress.
    fn drain(&mut self, out: &mut Vec<Map<String, Value>>) {
        while self.pos < self.buf.len() {
            let ts = self.time_at(self.base + self.pos as u64);
            let avail = &self.buf[self.pos..];
            match self.framer.step(avail, ts) {
                Step::Need => break,
                Step::Advance { consumed, element } => {
                    // At least one byte per turn, whatever a framer says: the loop ends.
                    self.pos += consumed.clamp(1, avail.len());
                    out.extend(element);
                }
            }
        }
    }

    fn finish(&mut self) -> Vec<Map<String, Value>> {
        self.compact();
        let ts = self.time_at(self.base);
        let element = self.framer.finish(&self.buf, ts);
        self.clear();
        element.into_iter().collect()
    }

    /// Drops consumed bytes and the chunk times that no longer cover any byte.
    fn compact(&mut self) {
        if self.pos == 0 {
            return;
        }
        self.buf.drain(..self.pos);
        self.base += self.pos as u64;
        self.pos = 0;
        if self.buf.is_empty() {
            // Keep the latest time: a message in progress (an HTTP body) still uses it.
            let last = self.starts.back().copied();
            self.starts.clear();
            self.starts.extend(last.map(|(_, t)| (self.base, t)));
        } else {
            self.time_at(self.base);
        }
    }

    /// Forgets every buffered byte and any message in progress.
    fn clear(&mut self) {
        self.base += self.buf.len() as u64;
        self.buf.clear();
        self.pos = 0;
        self.starts.clear();
        self.framer = Framer::new(self.app);
    }

    /// The time of the chunk that brought stream offset `at`; drops older entries.
    fn time_at(&mut self, at: u64) -> f64 {
        while self.starts.len() > 1 && self.starts[1].0 <= at {
            self.starts.pop_front();
        }
        self.starts.front().map_or(0.0, |&(_, t)| t)
    }
}

/// A new element holding only its `_Timestamp`.
fn element(ts: f64) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("_Timestamp".into(), timestamp_value(ts));
    m
}

/// The element for a message that could not be decoded.
fn exception(ts: f64, message: impl Into<String>) -> Map<String, Value> {
    let mut message: String = message.into();
    if let Some((cut, _)) = message.char_indices().nth(EXCEPTION_MAX_CHARS) {
        message.truncate(cut);
        message.push('…');
    }
    let mut m = element(ts);
    m.insert("_Exception".into(), Value::String(message));
    m
}

/// Seconds as a JSON number with exactly 9 decimals (`0.000048627`), the same text for
/// the same input: built from its decimal text (serde_json's `arbitrary_precision`), as an
/// `f64` would print in shortest form (`4.8627e-5`). Non-finite times print as zero.
pub fn timestamp_value(secs: f64) -> Value {
    let secs = if secs.is_finite() { secs } else { 0.0 };
    let mut text = format!("{secs:.9}");
    if text.starts_with('-') && text.bytes().all(|b| matches!(b, b'-' | b'0' | b'.')) {
        text.remove(0); // -0.000000000: a negative zero or a rounded-away tiny negative
    }
    text.parse::<Number>()
        .map_or_else(|_| Value::from(0), Value::Number)
}

/// At most `max` bytes as text, losslessly (`replayer::bytes::text`).
fn text_prefix(bytes: &[u8], max: usize) -> String {
    crate::replayer::bytes::text(&bytes[..bytes.len().min(max)])
}

/// Every key an `App*` element can have, with its meaning (for `kellect --legend`).
pub fn legend() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "_Timestamp",
            "seconds since the socket's first packet when the message's first byte was seen",
        ),
        (
            "_Exception",
            "why the message could not be decoded (given instead of its keys)",
        ),
        ("TransactionId", "DNS message ID that pairs a query with its answer"),
        (
            "OpCode",
            "DNS query kind: QUERY, IQUERY, STATUS, NOTIFY, UPDATE, DSO, else its number",
        ),
        (
            "ResponseCode",
            "DNS answer status: NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, ..., else its number",
        ),
        (
            "Flags",
            "DNS header flags that are set, of QR, AA, TC, RD, RA, AD, CD",
        ),
        ("AnswerCount", "number of records in the DNS answer section"),
        (
            "ResourceRecords",
            "DNS questions as [type, name], or answers as [type, name, ttl, class, data]",
        ),
        ("_Method", "HTTP request method"),
        ("_Url", "HTTP request target as sent"),
        ("_Version", "HTTP protocol version, HTTP/1.0 or HTTP/1.1"),
        ("_Status", "HTTP response status code"),
        ("_Reason", "HTTP response reason phrase"),
        (
            "_Headers",
            "HTTP headers in the order sent: a list of {\"name\", \"value\"} (name as sent; a repeated header is one entry per line)",
        ),
        (
            "_Body",
            "first 128 bytes of the HTTP body as text (bytes that are not UTF-8: see below the keys), if any",
        ),
        ("Facility", "SYSLOG facility, e.g. Daemon, Security/Authorization, Local0"),
        ("Severity", "SYSLOG severity with its number, e.g. Notice (5)"),
        ("Priority", "SYSLOG priority: facility * 8 + severity"),
        ("Version", "SYSLOG protocol version: 0 for RFC 3164, 1 for RFC 5424"),
        (
            "Timestamp",
            "SYSLOG timestamp as written in the message (RFC 3164 or RFC 3339 text)",
        ),
        ("Hostname", "SYSLOG host name"),
        ("Appname", "SYSLOG application name (RFC 3164 tag)"),
        ("ProcId", "SYSLOG process ID or name"),
        ("MsgId", "SYSLOG message type (RFC 5424)"),
        ("Data", "SYSLOG structured data (RFC 5424) as text"),
        ("Message", "SYSLOG free-form message"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys of an element, in order.
    pub(in crate::replayer) fn keys(m: &Map<String, Value>) -> Vec<&str> {
        m.keys().map(String::as_str).collect()
    }

    /// The text serde_json prints for a value.
    pub(in crate::replayer) fn json(v: &Value) -> String {
        serde_json::to_string(v).unwrap()
    }

    /// Fixed-seed xorshift64: the same "random" bytes on every run.
    pub(in crate::replayer) struct XorShift(pub u64);

    impl XorShift {
        pub fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        pub fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }

        pub fn bytes(&mut self, len: usize) -> Vec<u8> {
            (0..len).map(|_| self.next() as u8).collect()
        }

        /// `seed` with a few bytes overwritten, inserted, removed or cut off.
        pub fn mutate(&mut self, seed: &[u8]) -> Vec<u8> {
            let mut v = seed.to_vec();
            for _ in 0..1 + self.below(4) {
                match self.below(4) {
                    0 if !v.is_empty() => {
                        let i = self.below(v.len());
                        v[i] = self.next() as u8;
                    }
                    1 => {
                        let i = self.below(v.len() + 1);
                        v.insert(i, self.next() as u8);
                    }
                    2 if !v.is_empty() => {
                        let i = self.below(v.len());
                        v.remove(i);
                    }
                    _ => {
                        let len = self.below(v.len() + 1);
                        v.truncate(len);
                    }
                }
            }
            v
        }
    }

    /// Splits `bytes` into chunks at random places and feeds them, then finishes.
    pub(in crate::replayer) fn feed_split(
        decoder: &mut StreamDecoder,
        bytes: &[u8],
        rng: &mut XorShift,
    ) -> Vec<Map<String, Value>> {
        let mut out = Vec::new();
        let mut rest = bytes;
        let mut t = 0.0;
        while !rest.is_empty() {
            let n = 1 + rng.below(rest.len().min(64));
            out.extend(decoder.push(&rest[..n], t));
            rest = &rest[n..];
            t += 0.001;
        }
        out.extend(decoder.finish());
        out
    }

    /// Every element starts with `_Timestamp` and is either decoded or an exception.
    #[track_caller]
    pub(in crate::replayer) fn assert_well_formed(elements: &[Map<String, Value>]) {
        for e in elements {
            let k = keys(e);
            assert_eq!(k.first(), Some(&"_Timestamp"), "element: {e:?}");
            if e.contains_key("_Exception") {
                assert_eq!(k, ["_Timestamp", "_Exception"], "element: {e:?}");
            } else {
                assert!(k.len() > 1, "element: {e:?}");
            }
            // Always valid JSON that reads back.
            let text = json(&Value::Object(e.clone()));
            let back: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(json(&back), text);
        }
    }

    #[test]
    fn timestamp_has_exactly_nine_decimals() {
        assert_eq!(json(&timestamp_value(0.000048627)), "0.000048627");
        assert_eq!(json(&timestamp_value(0.0)), "0.000000000");
        assert_eq!(json(&timestamp_value(24.873001288)), "24.873001288");
        assert_eq!(json(&timestamp_value(1e-12)), "0.000000000");
        assert_eq!(json(&timestamp_value(-0.0)), "0.000000000");
        assert_eq!(json(&timestamp_value(-1e-12)), "0.000000000");
        assert_eq!(json(&timestamp_value(-2.5)), "-2.500000000");
        assert_eq!(json(&timestamp_value(f64::NAN)), "0.000000000");
        assert_eq!(json(&timestamp_value(f64::INFINITY)), "0.000000000");
        let big = json(&timestamp_value(1e20));
        assert_eq!(big, "100000000000000000000.000000000");
    }

    #[test]
    fn app_names() {
        assert_eq!(App::Dns.name(), "DNS");
        assert_eq!(App::Http.name(), "HTTP");
        assert_eq!(App::Syslog.name(), "SYSLOG");
    }

    #[test]
    fn legend_has_every_key_once() {
        let legend = legend();
        let mut names: Vec<_> = legend.iter().map(|(k, _)| *k).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "duplicate legend key");
        let mut ours: Vec<&str> = APPS
            .iter()
            .flat_map(|a| a.message_keys())
            .copied()
            .collect();
        ours.sort_unstable();
        ours.dedup();
        assert_eq!(
            names, ours,
            "the legend (left) and the protocols' message keys"
        );
        for key in ours {
            assert!(names.contains(&key), "legend lacks {key}");
        }
        assert!(legend.iter().all(|(_, meaning)| !meaning.is_empty()));
    }

    #[test]
    fn exception_text_is_short() {
        let e = exception(1.0, "x".repeat(1000));
        let text = e["_Exception"].as_str().unwrap();
        assert!(text.chars().count() <= EXCEPTION_MAX_CHARS + 1);
        assert_eq!(keys(&e), ["_Timestamp", "_Exception"]);
    }

    #[test]
    fn datagram_finish_is_empty() {
        for app in [App::Dns, App::Http, App::Syslog] {
            for transport in [Transport::Udp, Transport::UnixDgram] {
                let mut d = StreamDecoder::new(app, transport, Direction::Tx);
                assert_eq!(d.app(), app);
                assert_eq!(d.transport(), transport);
                assert_eq!(d.direction(), Direction::Tx);
                assert!(d.finish().is_empty());
            }
        }
    }

    #[test]
    fn stream_buffer_overflow_gives_exception_and_starts_over() {
        // A syslog line without end, then a good one after the reset.
        let mut d = StreamDecoder::new(App::Syslog, Transport::Tcp, Direction::Tx);
        let mut out = Vec::new();
        let junk = vec![b'a'; 1000];
        for i in 0..70 {
            out.extend(d.push(&junk, i as f64));
        }
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(out[0]["_Exception"].as_str().unwrap().contains("64 KiB"));
        assert_eq!(json(&out[0]["_Timestamp"]), "0.000000000");
        // The stream starts over; the rest of the junk is one more (unterminated) message.
        let mut d = StreamDecoder::new(App::Syslog, Transport::Tcp, Direction::Tx);
        let mut out = d.push(&vec![b'x'; STREAM_BUFFER_LIMIT + 10], 2.0);
        out.extend(d.push(b"\n<13>Sep 16 14:30:01 host app: hello\n", 3.0));
        assert_eq!(out.len(), 3, "{out:?}");
        assert!(out[0].contains_key("_Exception"));
        assert!(out[1].contains_key("_Exception"), "10 x's are no syslog");
        assert_eq!(out[2]["Message"], "hello");
        assert_eq!(json(&out[2]["_Timestamp"]), "3.000000000");
    }

    #[test]
    fn timestamps_follow_the_chunk_of_the_first_byte() {
        let mut d = StreamDecoder::new(App::Syslog, Transport::UnixStream, Direction::Tx);
        assert!(d.push(b"<13>Sep 16 14:30:01 a: one", 1.5).is_empty());
        let out = d.push(b"\n<13>Sep 16 14:30:02 b: two\n<13>Sep 16 14", 2.25);
        assert_eq!(out.len(), 2);
        assert_eq!(json(&out[0]["_Timestamp"]), "1.500000000");
        assert_eq!(json(&out[1]["_Timestamp"]), "2.250000000");
        let out = d.push(b":30:03 c: three\n", 3.0);
        assert_eq!(json(&out[0]["_Timestamp"]), "2.250000000");
        assert_eq!(out[0]["Message"], "three");
        assert!(d.finish().is_empty());
    }

    /// Random bytes and mutated real messages, in random chunks, through every decoder:
    /// nothing panics, every call returns, every element is well formed.
    #[test]
    fn random_and_mutated_input_never_panics() {
        let seeds: Vec<Vec<u8>> = vec![
            dns::tests::query_bytes(),
            dns::tests::answer_bytes(),
            [&[0u8, 26][..], &dns::tests::query_bytes()].concat(),
            http::tests::REQUEST.to_vec(),
            http::tests::RESPONSE.to_vec(),
            b"POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello".to_vec(),
            syslog::tests::CRON_OPENED.to_vec(),
            syslog::tests::RFC5424.to_vec(),
            b"27 <13>Sep 16 14:30:01 a: x\n".to_vec(),
        ];
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let transports = [
            Transport::Udp,
            Transport::Tcp,
            Transport::UnixDgram,
            Transport::UnixStream,
        ];
        for round in 0..600 {
            let input = if round % 3 == 0 {
                let len = rng.below(300);
                rng.bytes(len)
            } else {
                let seed = &seeds[rng.below(seeds.len())];
                let mut v = rng.mutate(seed);
                if round % 5 == 0 {
                    v.extend(rng.mutate(seed));
                }
                v
            };
            for app in [App::Dns, App::Http, App::Syslog] {
                for transport in transports {
                    let mut d = StreamDecoder::new(app, transport, Direction::Rx);
                    let out = feed_split(&mut d, &input, &mut rng);
                    assert_well_formed(&out);
                    // Never more elements than bytes (plus the one finish may add).
                    assert!(out.len() <= input.len() + 1);
                }
            }
        }
    }

    #[test]
    fn one_byte_chunks_stay_fast() {
        // The worst case for re-parsing: a long head that arrives a byte at a time.
        let mut head = b"GET / HTTP/1.1\r\n".to_vec();
        head.extend(std::iter::repeat_n(b'a', 60_000));
        let mut d = StreamDecoder::new(App::Http, Transport::Tcp, Direction::Tx);
        let start = std::time::Instant::now();
        for (i, b) in head.iter().enumerate() {
            assert!(d.push(std::slice::from_ref(b), i as f64).is_empty());
        }
        let out = d.finish();
        assert_eq!(out.len(), 1);
        assert!(out[0].contains_key("_Exception"));
        // The same for a syslog line without its newline.
        let mut d = StreamDecoder::new(App::Syslog, Transport::Tcp, Direction::Tx);
        for b in &head[16..] {
            assert!(d.push(std::slice::from_ref(b), 0.0).is_empty());
        }
        assert_eq!(d.finish().len(), 1);
        assert!(start.elapsed().as_secs() < 20, "quadratic re-scanning");
    }
}
