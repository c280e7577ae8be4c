//! DNS messages (RFC 1035), parsed by `hickory-proto`; over TCP framed by the 2-byte
//! big-endian length prefix (RFC 1035 §4.2.2).
//!
//! A query (QR clear) gives TransactionId, OpCode, Flags and its questions as
//! `ResourceRecords: [[type, name], …]`; an answer (QR set) gives TransactionId,
//! ResponseCode, Flags, AnswerCount and its answer section as
//! `[[type, name, ttl, class, data], …]`.

use std::fmt::Write as _;

use hickory_proto::op::{Header, Message, MessageType, OpCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinEncodable, BinEncoder};

use super::{element, exception, Map, Step, Value};

/// The fixed header.
const HEADER_LEN: usize = 12;
/// The least a question takes: the root name, type and class.
const MIN_QUESTION_LEN: usize = 1 + 2 + 2;
/// The least a record takes: the root name, type, class, TTL and RDLENGTH.
const MIN_RECORD_LEN: usize = 1 + 2 + 2 + 4 + 2;

/// Decodes one DNS message into an element (an `_Exception` one if it does not parse).
pub(super) fn decode(message: &[u8], ts: f64) -> Map<String, Value> {
    match render(message, ts) {
        Ok(m) => m,
        Err(why) => exception(ts, format!("DNS: {why}")),
    }
}

fn render(bytes: &[u8], ts: f64) -> Result<Map<String, Value>, String> {
    let header = Header::from_bytes(bytes).map_err(|e| e.to_string())?;
    // The parser reserves room for as many entries as the header claims: refuse counts
    // that could not fit in the message before any of that is allocated.
    let questions = usize::from(header.query_count());
    let records = usize::from(header.answer_count())
        + usize::from(header.name_server_count())
        + usize::from(header.additional_count());
    let least = HEADER_LEN + questions * MIN_QUESTION_LEN + records * MIN_RECORD_LEN;
    if least > bytes.len() {
        return Err(format!(
            "section counts need at least {least} bytes, the message has {}",
            bytes.len()
        ));
    }
    let message = Message::from_vec(bytes).map_err(|e| e.to_string())?;
    let header = message.header();

    let mut m = element(ts);
    m.insert("TransactionId".into(), header.id().into());
    let is_answer = header.message_type() == MessageType::Response;
    if is_answer {
        m.insert(
            "ResponseCode".into(),
            response_code(u16::from(header.response_code())),
        );
    } else {
        m.insert("OpCode".into(), op_code(header.op_code()));
    }
    m.insert("Flags".into(), flags(header));
    let rows: Vec<Value> = if is_answer {
        m.insert("AnswerCount".into(), header.answer_count().into());
        message.answers().iter().map(answer_row).collect()
    } else {
        message
            .queries()
            .iter()
            .map(|q| Value::Array(vec![type_name(q.query_type()), name_text(q.name()).into()]))
            .collect()
    };
    m.insert("ResourceRecords".into(), Value::Array(rows));
    Ok(m)
}

/// The set header flags, in kflowd's order.
fn flags(h: &Header) -> Value {
    [
        ("QR", h.message_type() == MessageType::Response),
        ("AA", h.authoritative()),
        ("TC", h.truncated()),
        ("RD", h.recursion_desired()),
        ("RA", h.recursion_available()),
        ("AD", h.authentic_data()),
        ("CD", h.checking_disabled()),
    ]
    .into_iter()
    .filter(|&(_, set)| set)
    .map(|(name, _)| Value::from(name))
    .collect()
}

/// The opcode's mnemonic, or its number when it has none.
fn op_code(op: OpCode) -> Value {
    match u8::from(op) {
        0 => "QUERY".into(),
        1 => "IQUERY".into(),
        2 => "STATUS".into(),
        4 => "NOTIFY".into(),
        5 => "UPDATE".into(),
        6 => "DSO".into(),
        n => n.into(),
    }
}

/// The RCODE's mnemonic (IANA registry), or its number when it has none.
fn response_code(code: u16) -> Value {
    let name = match code {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        11 => "DSOTYPENI",
        16 => "BADVERS",
        17 => "BADKEY",
        18 => "BADTIME",
        19 => "BADMODE",
        20 => "BADNAME",
        21 => "BADALG",
        22 => "BADTRUNC",
        23 => "BADCOOKIE",
        n => return n.into(),
    };
    name.into()
}

/// The type's mnemonic, or `TYPE<n>` (RFC 3597) for one hickory does not name.
fn type_name(t: RecordType) -> Value {
    match t {
        RecordType::Unknown(n) => format!("TYPE{n}").into(),
        t => t.to_string().into(),
    }
}

/// The class's mnemonic, or `CLASS<n>` (RFC 3597).
fn class_name(c: DNSClass) -> String {
    match c {
        DNSClass::Unknown(n) => format!("CLASS{n}"),
        c => c.to_string(),
    }
}

/// A name in presentation form (odd bytes escaped) without the trailing dot; the root
/// stays ".".
fn name_text(name: &Name) -> String {
    let mut s = name.to_ascii();
    if s.len() > 1 && s.ends_with('.') {
        s.pop();
    }
    s
}

fn answer_row(r: &Record) -> Value {
    Value::Array(vec![
        type_name(r.record_type()),
        name_text(r.name()).into(),
        r.ttl().into(),
        class_name(r.dns_class()).into(),
        rdata_text(r.data()).into(),
    ])
}

/// Addresses and names as text, MX as "preference exchange", TXT strings concatenated
/// (bytes that are not UTF-8 kept: `replayer::bytes`); any other type as the hex of its
/// RDATA (names uncompressed).
fn rdata_text(data: &RData) -> String {
    match data {
        RData::A(a) => a.0.to_string(),
        RData::AAAA(aaaa) => aaaa.0.to_string(),
        RData::CNAME(n) => name_text(&n.0),
        RData::NS(n) => name_text(&n.0),
        RData::PTR(n) => name_text(&n.0),
        RData::MX(mx) => format!("{} {}", mx.preference(), name_text(mx.exchange())),
        RData::TXT(txt) => {
            let joined: Vec<u8> = txt
                .txt_data()
                .iter()
                .flat_map(|s| s.iter().copied())
                .collect();
            crate::replayer::bytes::text(&joined)
        }
        other => {
            let mut bytes = Vec::new();
            let mut encoder = BinEncoder::new(&mut bytes);
            encoder.set_canonical_names(true);
            if other.emit(&mut encoder).is_err() {
                return String::new();
            }
            hex(&bytes)
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// DNS over a stream: a 2-byte length, then that many bytes of message.
#[derive(Debug, Default)]
pub(super) struct TcpFramer {
    /// The length prefix already consumed, and the time of its first byte.
    pending: Option<(usize, f64)>,
}

impl TcpFramer {
    pub(super) fn step(&mut self, buf: &[u8], ts: f64) -> Step {
        match self.pending {
            None => {
                let [hi, lo, ..] = *buf else {
                    return Step::Need;
                };
                let len = usize::from(u16::from_be_bytes([hi, lo]));
                if len == 0 {
                    return Step::emit(2, exception(ts, "DNS: empty message (length 0)"));
                }
                self.pending = Some((len, ts));
                Step::skip(2)
            }
            Some((len, started)) if buf.len() >= len => {
                self.pending = None;
                Step::emit(len, decode(&buf[..len], started))
            }
            Some(_) => Step::Need,
        }
    }

    pub(super) fn finish(&mut self, buf: &[u8], ts: f64) -> Option<Map<String, Value>> {
        match self.pending.take() {
            Some((len, started)) => Some(exception(
                started,
                format!("DNS: truncated message, {} of {len} bytes", buf.len()),
            )),
            None if !buf.is_empty() => Some(exception(ts, "DNS: truncated length prefix")),
            None => None,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::tests::{assert_well_formed, feed_split, json, keys, XorShift};
    use super::super::{App, Direction, StreamDecoder, Transport};
    use super::*;

    /// A name in wire form, uncompressed.
    fn wire_name(name: &str) -> Vec<u8> {
        let mut v = Vec::new();
        for label in name.split('.').filter(|l| !l.is_empty()) {
            v.push(label.len() as u8);
            v.extend_from_slice(label.as_bytes());
        }
        v.push(0);
        v
    }

    fn header(id: u16, flags: u16, counts: [u16; 4]) -> Vec<u8> {
        let mut v = id.to_be_bytes().to_vec();
        v.extend_from_slice(&flags.to_be_bytes());
        for c in counts {
            v.extend_from_slice(&c.to_be_bytes());
        }
        v
    }

    fn question(name: &str, qtype: u16) -> Vec<u8> {
        let mut v = wire_name(name);
        v.extend_from_slice(&qtype.to_be_bytes());
        v.extend_from_slice(&1u16.to_be_bytes()); // IN
        v
    }

    /// A record whose owner is a pointer to offset 12 (the first question's name).
    fn record(rtype: u16, class: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
        let mut v = vec![0xc0, 0x0c];
        v.extend_from_slice(&rtype.to_be_bytes());
        v.extend_from_slice(&class.to_be_bytes());
        v.extend_from_slice(&ttl.to_be_bytes());
        v.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        v.extend_from_slice(rdata);
        v
    }

    /// curl's A query for kflow.co, as in kflowd's sample (id 56864, RD).
    pub(crate) fn query_bytes() -> Vec<u8> {
        [header(56864, 0x0100, [1, 0, 0, 0]), question("kflow.co", 1)].concat()
    }

    /// The answer to it: two A records, TTL 600 (QR RD RA).
    pub(crate) fn answer_bytes() -> Vec<u8> {
        [
            header(56864, 0x8180, [1, 2, 0, 0]),
            question("kflow.co", 1),
            record(1, 1, 600, &[185, 199, 108, 153]),
            record(1, 1, 600, &[185, 199, 109, 153]),
        ]
        .concat()
    }

    fn udp(bytes: &[u8], ts: f64) -> Map<String, Value> {
        let mut d = StreamDecoder::new(App::Dns, Transport::Udp, Direction::Tx);
        let mut out = d.push(bytes, ts);
        assert_eq!(out.len(), 1);
        out.remove(0)
    }

    #[test]
    fn query_keys_and_values() {
        let m = udp(&query_bytes(), 0.000001177);
        assert_eq!(
            keys(&m),
            [
                "_Timestamp",
                "TransactionId",
                "OpCode",
                "Flags",
                "ResourceRecords"
            ]
        );
        assert_eq!(
            json(&Value::Object(m)),
            r#"{"_Timestamp":0.000001177,"TransactionId":56864,"OpCode":"QUERY","Flags":["RD"],"ResourceRecords":[["A","kflow.co"]]}"#
        );
    }

    #[test]
    fn answer_keys_and_values() {
        let m = udp(&answer_bytes(), 0.043688644);
        assert_eq!(
            keys(&m),
            [
                "_Timestamp",
                "TransactionId",
                "ResponseCode",
                "Flags",
                "AnswerCount",
                "ResourceRecords"
            ]
        );
        assert_eq!(
            json(&Value::Object(m)),
            r#"{"_Timestamp":0.043688644,"TransactionId":56864,"ResponseCode":"NOERROR","Flags":["QR","RD","RA"],"AnswerCount":2,"ResourceRecords":[["A","kflow.co",600,"IN","185.199.108.153"],["A","kflow.co",600,"IN","185.199.109.153"]]}"#
        );
    }

    #[test]
    fn answer_data_of_every_rendered_type() {
        let mut mx = 10u16.to_be_bytes().to_vec();
        mx.extend(wire_name("mail.example.org"));
        let txt = b"\x0bv=spf1 -all\x04 end".to_vec();
        let aaaa = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let mut srv = vec![0, 1, 0, 2, 0x01, 0xbb];
        srv.extend(wire_name("x.example"));
        let bytes = [
            header(7, 0x8580, [1, 8, 0, 0]),
            question("www.example.org", 255),
            record(5, 1, 30, &wire_name("example.org.cdn.net")),
            record(28, 1, 60, &aaaa),
            record(15, 1, 300, &mx),
            record(16, 1, 300, &txt),
            record(12, 1, 300, &wire_name("host.example")),
            record(33, 1, 300, &srv),
            record(4242, 3, 1, &[0xde, 0xad]),
            record(2, 1, 86400, &wire_name("ns1.example.org")),
        ]
        .concat();
        let m = udp(&bytes, 1.0);
        assert_eq!(m["Flags"], serde_json::json!(["QR", "AA", "RD", "RA"]));
        assert_eq!(m["AnswerCount"], 8);
        assert_eq!(
            json(&m["ResourceRecords"]),
            concat!(
                r#"[["CNAME","www.example.org",30,"IN","example.org.cdn.net"],"#,
                r#"["AAAA","www.example.org",60,"IN","2001:db8::1"],"#,
                r#"["MX","www.example.org",300,"IN","10 mail.example.org"],"#,
                r#"["TXT","www.example.org",300,"IN","v=spf1 -all end"],"#,
                r#"["PTR","www.example.org",300,"IN","host.example"],"#,
                r#"["SRV","www.example.org",300,"IN","0001000201bb0178076578616d706c6500"],"#,
                r#"["TYPE4242","www.example.org",1,"CH","dead"],"#,
                r#"["NS","www.example.org",86400,"IN","ns1.example.org"]]"#
            )
        );
    }

    #[test]
    fn opcodes_rcodes_and_odd_types() {
        // IQUERY (1) with type HTTPS; opcode 3 has no name.
        let m = udp(
            &[header(1, 0x0800, [1, 0, 0, 0]), question("a.b", 65)].concat(),
            0.0,
        );
        assert_eq!(m["OpCode"], "IQUERY");
        assert_eq!(m["ResourceRecords"], serde_json::json!([["HTTPS", "a.b"]]));
        let m = udp(
            &[header(1, 0x1800, [1, 0, 0, 0]), question("a.b", 64)].concat(),
            0.0,
        );
        assert_eq!(m["OpCode"], 3);
        assert_eq!(m["ResourceRecords"], serde_json::json!([["SVCB", "a.b"]]));
        let m = udp(
            &[header(1, 0x2000, [1, 0, 0, 0]), question("", 65000)].concat(),
            0.0,
        );
        assert_eq!(m["OpCode"], "NOTIFY");
        assert_eq!(
            m["ResourceRecords"],
            serde_json::json!([["TYPE65000", "."]])
        );
        // NXDOMAIN with no answers; rcode 12 has no name.
        let m = udp(
            &[header(9, 0x8183, [1, 0, 0, 0]), question("no.such", 1)].concat(),
            0.0,
        );
        assert_eq!(m["ResponseCode"], "NXDOMAIN");
        assert_eq!(m["AnswerCount"], 0);
        assert_eq!(m["ResourceRecords"], serde_json::json!([]));
        let m = udp(&header(9, 0x800c, [0, 0, 0, 0]), 0.0);
        assert_eq!(m["ResponseCode"], 12);
        // Every flag, in kflowd's order.
        let m = udp(&header(9, 0x87b0, [0, 0, 0, 0]), 0.0);
        assert_eq!(
            m["Flags"],
            serde_json::json!(["QR", "AA", "TC", "RD", "RA", "AD", "CD"])
        );
    }

    #[test]
    fn bad_messages_give_exceptions() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "DNS: "),
            (vec![1, 2, 3], "DNS: "),
            (header(1, 0, [65535, 65535, 65535, 65535]), "section counts"),
            // A question whose name runs past the end.
            (
                [header(1, 0, [1, 0, 0, 0]), vec![5, b'a', 0, 0, 0, 0]].concat(),
                "DNS: ",
            ),
            // A compression pointer to itself.
            (
                [header(1, 0, [1, 0, 0, 0]), vec![0xc0, 12, 0, 1, 0, 1]].concat(),
                "DNS: ",
            ),
            // RDLENGTH beyond the message.
            (
                [
                    header(1, 0x8000, [0, 1, 0, 0]),
                    vec![0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 200, 1, 2, 3, 4],
                ]
                .concat(),
                "DNS: ",
            ),
        ];
        for (bytes, expected) in cases {
            let m = udp(&bytes, 0.5);
            assert_eq!(keys(&m), ["_Timestamp", "_Exception"], "{bytes:?}");
            let why = m["_Exception"].as_str().unwrap();
            assert!(why.contains(expected), "{bytes:?}: {why}");
        }
    }

    fn tcp_framed(message: &[u8]) -> Vec<u8> {
        [&(message.len() as u16).to_be_bytes()[..], message].concat()
    }

    #[test]
    fn tcp_reassembles_split_length_prefix_and_body() {
        let q = tcp_framed(&query_bytes());
        let a = tcp_framed(&answer_bytes());
        let mut d = StreamDecoder::new(App::Dns, Transport::Tcp, Direction::Tx);
        // The prefix split in the middle, the message in three pieces.
        assert!(d.push(&q[..1], 0.25).is_empty());
        assert!(d.push(&q[1..5], 0.5).is_empty());
        assert!(d.push(&q[5..20], 0.75).is_empty());
        let out = d.push(&[&q[20..], &a[..]].concat(), 1.0);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0]["OpCode"], "QUERY");
        assert_eq!(json(&out[0]["_Timestamp"]), "0.250000000");
        assert_eq!(out[1]["ResponseCode"], "NOERROR");
        assert_eq!(json(&out[1]["_Timestamp"]), "1.000000000");
        assert!(d.finish().is_empty());
    }

    #[test]
    fn tcp_truncation_and_empty_frames() {
        let q = tcp_framed(&query_bytes());
        let mut d = StreamDecoder::new(App::Dns, Transport::Tcp, Direction::Tx);
        let out = d.push(&[&[0, 0][..], &q[..10]].concat(), 2.0);
        assert_eq!(out.len(), 1);
        assert!(out[0]["_Exception"].as_str().unwrap().contains("length 0"));
        let out = d.finish();
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0]["_Exception"],
            "DNS: truncated message, 8 of 26 bytes"
        );
        let mut d = StreamDecoder::new(App::Dns, Transport::Tcp, Direction::Tx);
        assert!(d.push(&[0], 3.0).is_empty());
        assert_eq!(d.finish()[0]["_Exception"], "DNS: truncated length prefix");
    }

    #[test]
    fn tcp_random_splits_give_the_same_elements() {
        let stream = [
            tcp_framed(&query_bytes()),
            tcp_framed(&answer_bytes()),
            tcp_framed(&query_bytes()),
        ]
        .concat();
        let mut rng = XorShift(42);
        for _ in 0..50 {
            let mut d = StreamDecoder::new(App::Dns, Transport::Tcp, Direction::Rx);
            let out = feed_split(&mut d, &stream, &mut rng);
            assert_well_formed(&out);
            assert_eq!(out.len(), 3);
            assert!(out.iter().all(|m| !m.contains_key("_Exception")));
            assert_eq!(out[1]["AnswerCount"], 2);
        }
    }
}
