//! SYSLOG messages (RFC 3164 and RFC 5424), parsed by `syslog_loose`.
//!
//! Keys: Facility, Severity, Priority, Version (0 for RFC 3164), Timestamp (as written in
//! the message), Hostname, Appname, ProcId, MsgId, Data (RFC 5424 structured data as
//! text), Message; absent fields are left out. On a stream, messages end with `\n` (or
//! NUL, which glibc's syslog(3) appends on stream sockets) or are octet-counted
//! (RFC 6587: `LEN SP MSG`).

use syslog_loose::{Message, ProcId, Protocol, Variant};

use super::{element, exception, Map, Step, Value, STREAM_BUFFER_LIMIT};

/// kflowd's facility names, by facility number.
const FACILITIES: [&str; 24] = [
    "Kernel",
    "User",
    "Mail",
    "Daemon",
    "Security/Authorization",
    "Syslogd",
    "Line Printer",
    "Network News",
    "UUCP",
    "Clock",
    "Security/Authorization",
    "FTP",
    "NTP",
    "Log Audit",
    "Log Alert",
    "Clock Daemon",
    "Local0",
    "Local1",
    "Local2",
    "Local3",
    "Local4",
    "Local5",
    "Local6",
    "Local7",
];

/// kflowd's severity names, by severity number.
const SEVERITIES: [&str; 8] = [
    "Emergency (0)",
    "Alert (1)",
    "Critical (2)",
    "Error (3)",
    "Warning (4)",
    "Notice (5)",
    "Informational (6)",
    "Debug (7)",
];

/// The year given to RFC 3164 dates, which have none. Only validity depends on it (the
/// Timestamp key shows the text as written): a leap year, so that "Feb 29" parses.
const YEAR_OF_3164_DATES: i32 = 2000;

/// Most digits of an RFC 6587 octet count: enough for the 64 KiB buffer.
const MAX_COUNT_DIGITS: usize = 5;

/// Decodes one message into an element (an `_Exception` one if it is not syslog).
pub(super) fn decode(message: &[u8], ts: f64) -> Map<String, Value> {
    let text = crate::replayer::bytes::text(message);
    let text = text.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    if text.is_empty() {
        return exception(ts, "SYSLOG: empty message");
    }
    // A fixed zone and year: the result must not depend on the replaying host's clock or
    // time zone.
    match syslog_loose::parse_message_with_year_exact_tz(
        text,
        |_| YEAR_OF_3164_DATES,
        Some(chrono::Utc),
        Variant::Either,
    ) {
        Ok(parsed) => render(text, &parsed, ts),
        Err(_) => exception(ts, "SYSLOG: not a syslog message"),
    }
}

fn render(text: &str, msg: &Message<&str>, ts: f64) -> Map<String, Value> {
    let mut m = element(ts);
    let facility = msg.facility.map(|f| f as usize);
    let severity = msg.severity.map(|s| s as usize);
    if let Some(name) = facility.and_then(|f| FACILITIES.get(f)) {
        m.insert("Facility".into(), (*name).into());
    }
    if let Some(name) = severity.and_then(|s| SEVERITIES.get(s)) {
        m.insert("Severity".into(), (*name).into());
    }
    if let (Some(f), Some(s)) = (facility, severity) {
        m.insert("Priority".into(), (f * 8 + s).into());
    }
    let version = match msg.protocol {
        Protocol::RFC3164 => 0,
        Protocol::RFC5424(v) => v,
    };
    m.insert("Version".into(), version.into());
    if msg.timestamp.is_some() {
        if let Some(written) = written_timestamp(text, msg) {
            m.insert("Timestamp".into(), written.into());
        }
    }
    let mut put = |key: &str, value: Option<String>| {
        if let Some(v) = value {
            m.insert(key.into(), v.into());
        }
    };
    let (hostname, appname, procid) = local_tag(text, msg);
    put("Hostname", hostname);
    put("Appname", appname);
    put("ProcId", procid);
    put("MsgId", msg.msgid.map(str::to_string));
    let data: String = msg.structured_data.iter().map(|e| e.to_string()).collect();
    put("Data", (!data.is_empty()).then_some(data));
    m.insert("Message".into(), msg.msg.into());
    m
}

/// Host, app and process id. Messages for the local socket (glibc's syslog(3), logger)
/// carry no host name: `<13>Nov 21 08:27:23 tag[pid]: text`. syslog_loose then takes the
/// tag for the host; a "host" followed directly by `:` or `[` in the text is the tag.
fn local_tag(text: &str, msg: &Message<&str>) -> (Option<String>, Option<String>, Option<String>) {
    let procid = msg.procid.as_ref().map(|p: &ProcId<&str>| p.to_string());
    let (Protocol::RFC3164, None, Some(host)) = (&msg.protocol, msg.appname, msg.hostname) else {
        return (
            msg.hostname.map(str::to_string),
            msg.appname.map(str::to_string),
            procid,
        );
    };
    let Some(at) = offset_in(text, host) else {
        return (Some(host.to_owned()), None, procid);
    };
    let after = &text[at + host.len()..];
    if let Some(tag) = host.strip_suffix(':') {
        return (None, Some(tag.to_owned()), procid);
    }
    if after.starts_with(':') {
        return (None, Some(host.to_owned()), procid);
    }
    if let Some(rest) = after.strip_prefix('[') {
        let pid = rest.split(']').next().unwrap_or_default();
        if rest.contains("]:") && !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) {
            return (
                None,
                Some(host.to_owned()),
                procid.or_else(|| Some(pid.to_owned())),
            );
        }
    }
    (Some(host.to_owned()), None, procid)
}

/// The timestamp as written: syslog_loose gives only the parsed time (with a made-up year
/// for RFC 3164), so take the text between the priority (and version) and the next field
/// the parser found.
fn written_timestamp(text: &str, msg: &Message<&str>) -> Option<String> {
    let mut start = 0;
    if text.starts_with('<') {
        start = text.find('>')? + 1;
    }
    let rest = &text[start..];
    let header = match msg.protocol {
        Protocol::RFC5424(_) => rest.trim_start_matches(|c: char| c.is_ascii_digit()),
        Protocol::RFC3164 => rest,
    }
    .trim_start();
    let header_at = text.len() - header.len();
    let next_field = [msg.hostname, msg.appname, msg.msgid, Some(msg.msg)]
        .into_iter()
        .flatten()
        .chain(msg.structured_data.iter().map(|e| e.id))
        .chain(msg.procid.iter().filter_map(|p| match p {
            ProcId::Name(name) => Some(*name),
            ProcId::PID(_) => None,
        }))
        .filter_map(|field| offset_in(text, field))
        .filter(|&at| at >= header_at)
        .min()
        .unwrap_or(text.len());
    let written = match msg.protocol {
        // RFC 5424 fields are single tokens.
        Protocol::RFC5424(_) => header.split(' ').next().unwrap_or_default(),
        Protocol::RFC3164 => text.get(header_at..next_field)?,
    };
    let written = written.trim_end_matches([' ', ':']);
    (!written.is_empty()).then(|| written.to_string())
}

/// Where `part`, a slice the parser took out of `text`, starts in it.
fn offset_in(text: &str, part: &str) -> Option<usize> {
    let base = text.as_ptr() as usize;
    let at = (part.as_ptr() as usize).checked_sub(base)?;
    (at + part.len() <= text.len() && text.is_char_boundary(at)).then_some(at)
}

/// SYSLOG over a stream: `\n`/NUL-terminated or octet-counted messages.
#[derive(Debug, Default)]
pub(super) struct StreamFramer {
    /// Bytes at the front of the buffer known to hold no terminator.
    scanned: usize,
}

/// How an octet-counted message looks at the front of the buffer.
enum OctetCount {
    /// Not octet counting: a terminated message.
    No,
    /// The count is not complete yet.
    Partial,
    /// `LEN SP` takes `prefix` bytes, then `len` bytes of message.
    Frame { prefix: usize, len: usize },
}

fn octet_count(buf: &[u8]) -> OctetCount {
    if !matches!(buf.first(), Some(b'1'..=b'9')) {
        return OctetCount::No;
    }
    let digits = buf.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits > MAX_COUNT_DIGITS {
        return OctetCount::No;
    }
    match buf.get(digits) {
        None => OctetCount::Partial,
        Some(b' ') => {
            // At most 5 ASCII digits: always a valid, small number.
            let len = buf[..digits]
                .iter()
                .fold(0usize, |n, d| n * 10 + usize::from(d - b'0'));
            OctetCount::Frame {
                prefix: digits + 1,
                len,
            }
        }
        Some(_) => OctetCount::No,
    }
}

fn is_separator(b: u8) -> bool {
    matches!(b, b'\n' | b'\r' | b'\0')
}

impl StreamFramer {
    pub(super) fn step(&mut self, buf: &[u8], ts: f64) -> Step {
        let blank = buf.iter().take_while(|&&b| is_separator(b)).count();
        if blank > 0 {
            self.scanned = 0;
            return Step::skip(blank);
        }
        match octet_count(buf) {
            OctetCount::Partial => return Step::Need,
            OctetCount::Frame { prefix, len } if prefix + len > STREAM_BUFFER_LIMIT => {
                // The frame can never fit, and nothing after it can be found again.
                self.scanned = 0;
                return Step::emit(
                    buf.len(),
                    exception(ts, format!("SYSLOG: octet count {len} exceeds the buffer")),
                );
            }
            OctetCount::Frame { prefix, len } => {
                let end = prefix + len;
                if buf.len() < end {
                    return Step::Need;
                }
                self.scanned = 0;
                return Step::emit(end, decode(&buf[prefix..end], ts));
            }
            OctetCount::No => {}
        }
        let from = self.scanned.min(buf.len());
        match buf[from..].iter().position(|&b| b == b'\n' || b == b'\0') {
            Some(i) => {
                self.scanned = 0;
                let end = from + i;
                Step::emit(end + 1, decode(&buf[..end], ts))
            }
            None => {
                self.scanned = buf.len();
                Step::Need
            }
        }
    }

    pub(super) fn finish(&mut self, buf: &[u8], ts: f64) -> Option<Map<String, Value>> {
        self.scanned = 0;
        let buf = &buf[buf.iter().take_while(|&&b| is_separator(b)).count()..];
        if buf.is_empty() {
            return None;
        }
        Some(match octet_count(buf) {
            OctetCount::Frame { prefix, len } => exception(
                ts,
                format!(
                    "SYSLOG: truncated message, {} of {len} bytes",
                    buf.len() - prefix.min(buf.len())
                ),
            ),
            // An unterminated last line is still a message.
            OctetCount::No | OctetCount::Partial => decode(buf, ts),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::tests::{assert_well_formed, feed_split, json, keys, XorShift};
    use super::super::{App, Direction, StreamDecoder, Transport};
    use super::*;

    /// What cron's pam_unix sends to /dev/log through glibc's syslog(3), as in kflowd's
    /// sample.
    pub(crate) const CRON_OPENED: &[u8] = b"<85>Sep 16 14:30:01 CRON[2122368]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)";
    const CRON_CLOSED: &[u8] =
        b"<86>Sep 16 14:30:01 CRON[2122368]: pam_unix(cron:session): session closed for user root";

    /// RFC 5424's own example with structured data.
    pub(crate) const RFC5424: &[u8] = b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] An application event log entry...";

    fn dgram(bytes: &[u8]) -> Map<String, Value> {
        let mut d = StreamDecoder::new(App::Syslog, Transport::UnixDgram, Direction::Tx);
        let mut out = d.push(bytes, 0.25);
        assert_eq!(out.len(), 1);
        out.remove(0)
    }

    #[test]
    fn glibc_message_as_in_kflowd() {
        let m = dgram(CRON_OPENED);
        assert_eq!(
            json(&Value::Object(m)),
            r#"{"_Timestamp":0.250000000,"Facility":"Security/Authorization","Severity":"Notice (5)","Priority":85,"Version":0,"Timestamp":"Sep 16 14:30:01","Appname":"CRON","ProcId":"2122368","Message":"pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"}"#
        );
        let m = dgram(CRON_CLOSED);
        assert_eq!(m["Severity"], "Informational (6)");
        assert_eq!(m["Priority"], 86);
        assert_eq!(
            m["Message"],
            "pam_unix(cron:session): session closed for user root"
        );
    }

    #[test]
    fn rfc5424_with_structured_data() {
        let m = dgram(RFC5424);
        assert_eq!(
            keys(&m),
            [
                "_Timestamp",
                "Facility",
                "Severity",
                "Priority",
                "Version",
                "Timestamp",
                "Hostname",
                "Appname",
                "MsgId",
                "Data",
                "Message"
            ]
        );
        assert_eq!(m["Facility"], "Local4");
        assert_eq!(m["Severity"], "Notice (5)");
        assert_eq!(m["Priority"], 165);
        assert_eq!(m["Version"], 1);
        assert_eq!(m["Timestamp"], "2003-10-11T22:14:15.003Z");
        assert_eq!(m["Hostname"], "mymachine.example.com");
        assert_eq!(m["Appname"], "evntslog");
        assert_eq!(m["MsgId"], "ID47");
        assert_eq!(
            m["Data"],
            r#"[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]"#
        );
        assert_eq!(m["Message"], "An application event log entry...");
    }

    #[test]
    fn rfc3164_with_host_and_variants() {
        let m = dgram(
            b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8\n",
        );
        assert_eq!(m["Facility"], "Security/Authorization");
        assert_eq!(m["Severity"], "Critical (2)");
        assert_eq!(m["Timestamp"], "Oct 11 22:14:15");
        assert_eq!(m["Hostname"], "mymachine");
        assert_eq!(m["Appname"], "su");
        assert!(!m.contains_key("ProcId"));
        assert_eq!(m["Message"], "'su root' failed for lonvick on /dev/pts/8");
        // A single-digit day (space padded), and Feb 29 in any year.
        let m = dgram(b"<13>Feb 29 01:02:03 host app[7]: leap");
        assert_eq!(m["Timestamp"], "Feb 29 01:02:03");
        assert_eq!(m["Facility"], "User");
        assert_eq!(m["ProcId"], "7");
        let m = dgram(b"<191>Jun  8 11:54:08 master kernel: x");
        assert_eq!(m["Timestamp"], "Jun  8 11:54:08");
        assert_eq!(m["Facility"], "Local7");
        assert_eq!(m["Severity"], "Debug (7)");
        // An RFC 3339 time in a BSD-style message is kept as written.
        let m = dgram(b"<30>2024-09-16T14:30:01.123456+02:00 host systemd[1]: Started x.");
        assert_eq!(m["Timestamp"], "2024-09-16T14:30:01.123456+02:00");
        assert_eq!(m["Facility"], "Daemon");
        assert_eq!(m["Appname"], "systemd");
    }

    #[test]
    fn bad_input_gives_exceptions() {
        for bytes in [
            &b""[..],
            b"\0\0\n",
            b"hello world",
            b"\xff\xfe\xfd",
            b"<13>",
        ] {
            let m = dgram(bytes);
            assert_eq!(keys(&m), ["_Timestamp", "_Exception"], "{bytes:?}: {m:?}");
        }
    }

    #[test]
    fn stream_splits_on_newline_nul_and_octet_counts() {
        let framed = format!("{} ", RFC5424.len());
        let stream = [
            CRON_OPENED,
            b"\n",
            CRON_CLOSED,
            b"\0",
            framed.as_bytes(),
            RFC5424,
            b"\r\n\n",
            CRON_CLOSED,
        ]
        .concat();
        let mut rng = XorShift(99);
        for _ in 0..40 {
            let mut d = StreamDecoder::new(App::Syslog, Transport::UnixStream, Direction::Tx);
            let out = feed_split(&mut d, &stream, &mut rng);
            assert_well_formed(&out);
            assert_eq!(out.len(), 4, "{out:?}");
            assert_eq!(out[0]["Priority"], 85);
            assert_eq!(out[1]["Priority"], 86);
            assert_eq!(out[2]["MsgId"], "ID47");
            // The last line had no terminator: finish decodes it.
            assert_eq!(out[3]["Priority"], 86);
        }
    }

    #[test]
    fn stream_octet_count_errors() {
        let mut d = StreamDecoder::new(App::Syslog, Transport::Tcp, Direction::Tx);
        let out = d.push(b"99999 <13>Sep 16 14:30:01 a: b", 0.0);
        assert_eq!(out.len(), 1);
        assert!(out[0]["_Exception"].as_str().unwrap().contains("99999"));
        assert!(d.push(b"40 <13>Sep 16 14:30:01 a: b", 1.0).is_empty());
        let out = d.finish();
        assert_eq!(
            out[0]["_Exception"],
            "SYSLOG: truncated message, 24 of 40 bytes"
        );
        assert_eq!(json(&out[0]["_Timestamp"]), "1.000000000");
    }

    #[test]
    fn local_messages_have_a_tag_not_a_host() {
        let d = |text: &str| super::decode(text.as_bytes(), 0.0);
        let m = d("<13>Nov 21 08:27:23 kellectunix: via devlog");
        assert_eq!(m.get("Hostname"), None, "{m:?}");
        assert_eq!(m["Appname"], "kellectunix");
        assert_eq!(m["Message"], "via devlog");
        let m = d("<13>Nov 21 08:27:23 logger[42]: x");
        assert_eq!(m.get("Hostname"), None, "{m:?}");
        assert_eq!(m["Appname"], "logger");
        assert_eq!(m["ProcId"], "42");
        let m = d("<13>Nov 21 08:27:23 vm kellecttest: hello");
        assert_eq!(m["Hostname"], "vm");
        assert_eq!(m["Appname"], "kellecttest");
    }
}
