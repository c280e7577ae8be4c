//! HTTP/1.x requests and responses, parsed by `httparse`.
//!
//! A request gives `_Method`, `_Url`, `_Version`; a response `_Version`, `_Status`,
//! `_Reason`; then `_Headers`, the header lines in the order sent as a list of
//! `{"name", "value"}` objects (a repeated header is one entry per line, names as sent), and
//! `_Body`: the first [`HTTP_BODY_KEPT`] bytes of the body, if any. Headers are list entries,
//! never keys of the element: "Content-Type" in one message and "content-type" in another
//! must not become two keys that differ only in case (DuckDB's `read_json_auto` refuses
//! such a schema, and a Parquet schema cannot hold them).
//!
//! On a stream, the body is Content-Length bytes (consumed as they come, never buffered
//! beyond what is kept); without Content-Length, a response body (or a request body sent
//! with Transfer-Encoding) is what arrived with the header, as kflowd does. 1xx, 204 and
//! 304 responses have no body.

use httparse::{ParserConfig, Status};

use super::{element, exception, text_prefix, Map, Step, Value, HTTP_BODY_KEPT};

/// Most headers a message may have; more is an `_Exception`. Also bounds the re-parsing
/// of a header that arrives in pieces: httparse stops at this many lines.
const MAX_HEADERS: usize = 96;

/// How long the body after a complete header is.
#[derive(Debug, PartialEq, Eq)]
enum BodyLen {
    None,
    Exact(u64),
    /// Whatever arrived with the header.
    ToChunkEnd,
}

#[derive(Debug)]
enum Head {
    Partial,
    Complete {
        element: Map<String, Value>,
        len: usize,
        body: BodyLen,
    },
}

/// Decodes one datagram: a header, and the rest as body.
pub(super) fn decode_datagram(message: &[u8], ts: f64) -> Map<String, Value> {
    let start = leading_newlines(message);
    let message = &message[start..];
    match parse_head(message, ts) {
        Ok(Head::Complete { element, len, .. }) => with_body(element, &message[len..]),
        Ok(Head::Partial) => exception(ts, "HTTP: incomplete header"),
        Err(why) => exception(ts, why),
    }
}

fn parser_config() -> ParserConfig {
    let mut config = ParserConfig::default();
    config
        .allow_multiple_spaces_in_request_line_delimiters(true)
        .allow_multiple_spaces_in_response_status_delimiters(true)
        .allow_spaces_after_header_name_in_responses(true);
    config
}

/// Parses a request or response header at the start of `buf`.
fn parse_head(buf: &[u8], ts: f64) -> Result<Head, String> {
    let config = parser_config();
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut m = element(ts);
    if buf.starts_with(b"HTTP/") {
        let mut response = httparse::Response::new(&mut headers);
        let len = match config.parse_response(&mut response, buf) {
            Ok(Status::Complete(len)) => len,
            Ok(Status::Partial) => return Ok(Head::Partial),
            Err(e) => return Err(format!("HTTP: {e}")),
        };
        let status = response.code.unwrap_or_default();
        m.insert("_Version".into(), version(response.version));
        m.insert("_Status".into(), status.into());
        m.insert("_Reason".into(), response.reason.unwrap_or_default().into());
        let framing = insert_headers(&mut m, response.headers)?;
        let body = if (100..200).contains(&status) || status == 204 || status == 304 {
            BodyLen::None
        } else if framing.transfer_encoding {
            BodyLen::ToChunkEnd
        } else {
            match framing.content_length {
                Some(0) => BodyLen::None,
                Some(n) => BodyLen::Exact(n),
                None => BodyLen::ToChunkEnd,
            }
        };
        Ok(Head::Complete {
            element: m,
            len,
            body,
        })
    } else {
        let mut request = httparse::Request::new(&mut headers);
        let len = match config.parse_request(&mut request, buf) {
            Ok(Status::Complete(len)) => len,
            Ok(Status::Partial) => return Ok(Head::Partial),
            Err(e) => return Err(format!("HTTP: {e}")),
        };
        m.insert("_Method".into(), request.method.unwrap_or_default().into());
        m.insert("_Url".into(), request.path.unwrap_or_default().into());
        m.insert("_Version".into(), version(request.version));
        let framing = insert_headers(&mut m, request.headers)?;
        // A request without Content-Length or Transfer-Encoding has no body (RFC 9112 §6.3).
        let body = if framing.transfer_encoding {
            BodyLen::ToChunkEnd
        } else {
            match framing.content_length {
                None | Some(0) => BodyLen::None,
                Some(n) => BodyLen::Exact(n),
            }
        };
        Ok(Head::Complete {
            element: m,
            len,
            body,
        })
    }
}

fn version(minor: Option<u8>) -> Value {
    format!("HTTP/1.{}", minor.unwrap_or_default()).into()
}

/// What the headers say about the body.
#[derive(Debug, Default)]
struct Framing {
    content_length: Option<u64>,
    transfer_encoding: bool,
}

/// Adds `_Headers`: one `{"name", "value"}` per header line, in order (none: no key); reads
/// the body framing on the way.
fn insert_headers(
    m: &mut Map<String, Value>,
    headers: &[httparse::Header<'_>],
) -> Result<Framing, String> {
    let mut framing = Framing::default();
    let mut list = Vec::with_capacity(headers.len());
    for h in headers {
        let value = crate::replayer::bytes::text(h.value);
        if h.name.eq_ignore_ascii_case("content-length") {
            // Repeats (or a list) are fine only if they agree (RFC 9110 §8.6).
            for part in value.split(',') {
                let n = part
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| format!("HTTP: invalid Content-Length {:?}", value.trim()))?;
                if framing.content_length.is_some_and(|old| old != n) {
                    return Err("HTTP: conflicting Content-Length".into());
                }
                framing.content_length = Some(n);
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            framing.transfer_encoding = true;
        }
        list.push(Value::Object(Map::from_iter([
            ("name".to_owned(), Value::String(h.name.to_owned())),
            ("value".to_owned(), Value::String(value)),
        ])));
    }
    if !list.is_empty() {
        m.insert("_Headers".into(), Value::Array(list));
    }
    Ok(framing)
}

fn with_body(mut m: Map<String, Value>, body: &[u8]) -> Map<String, Value> {
    if !body.is_empty() {
        m.insert("_Body".into(), text_prefix(body, HTTP_BODY_KEPT).into());
    }
    m
}

/// Blank lines before a message (a common keep-alive habit) are skipped.
fn leading_newlines(buf: &[u8]) -> usize {
    buf.iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count()
}

/// A message whose header is complete, waiting for the rest of its body.
#[derive(Debug)]
struct Pending {
    element: Map<String, Value>,
    remaining: u64,
    kept: Vec<u8>,
}

/// HTTP over a stream: header, then Content-Length bytes of body.
#[derive(Debug, Default)]
pub(super) struct StreamFramer {
    /// Bytes at the front of the buffer known to hold no complete header: httparse runs
    /// again only once a newline arrives after them.
    scanned: usize,
    pending: Option<Pending>,
}

impl StreamFramer {
    pub(super) fn step(&mut self, buf: &[u8], ts: f64) -> Step {
        if let Some(p) = &mut self.pending {
            let take = usize::try_from(p.remaining).map_or(buf.len(), |r| r.min(buf.len()));
            let keep = HTTP_BODY_KEPT.saturating_sub(p.kept.len()).min(take);
            p.kept.extend_from_slice(&buf[..keep]);
            p.remaining -= take as u64;
            if p.remaining > 0 {
                return Step::skip(take);
            }
            let done = self.pending.take().map(|p| with_body(p.element, &p.kept));
            return Step::Advance {
                consumed: take,
                element: done,
            };
        }
        let blank = leading_newlines(buf);
        if blank > 0 {
            self.scanned = 0;
            return Step::skip(blank);
        }
        if !buf[self.scanned.min(buf.len())..].contains(&b'\n') {
            self.scanned = buf.len();
            return Step::Need;
        }
        match parse_head(buf, ts) {
            Ok(Head::Partial) => {
                self.scanned = buf.len();
                Step::Need
            }
            Err(why) => {
                // No way to find the next message in what follows: drop it all.
                self.scanned = 0;
                Step::emit(buf.len(), exception(ts, why))
            }
            Ok(Head::Complete { element, len, body }) => {
                self.scanned = 0;
                match body {
                    BodyLen::None => Step::emit(len, element),
                    BodyLen::ToChunkEnd => Step::emit(buf.len(), with_body(element, &buf[len..])),
                    BodyLen::Exact(remaining) => {
                        self.pending = Some(Pending {
                            element,
                            remaining,
                            kept: Vec::new(),
                        });
                        Step::skip(len)
                    }
                }
            }
        }
    }

    pub(super) fn finish(&mut self, buf: &[u8], ts: f64) -> Option<Map<String, Value>> {
        self.scanned = 0;
        if let Some(p) = self.pending.take() {
            // The connection ended inside the body: what came is still the message.
            return Some(with_body(p.element, &p.kept));
        }
        let buf = &buf[leading_newlines(buf)..];
        if buf.is_empty() {
            return None;
        }
        Some(match parse_head(buf, ts) {
            Ok(Head::Complete { element, len, .. }) => with_body(element, &buf[len..]),
            Ok(Head::Partial) => {
                exception(ts, format!("HTTP: incomplete header, {} bytes", buf.len()))
            }
            Err(why) => exception(ts, why),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::tests::{assert_well_formed, feed_split, json, keys, XorShift};
    use super::super::{App, Direction, StreamDecoder, Transport};
    use super::*;

    /// curl's request from kflowd's sample.
    pub(crate) const REQUEST: &[u8] =
        b"GET / HTTP/1.1\r\nHost: kflow.co\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";

    /// The answer from kflowd's sample.
    pub(crate) const RESPONSE: &[u8] = b"HTTP/1.1 301 Moved Permanently\r\n\
Date: Thu, 04 Apr 2024 15:49:12 GMT\r\n\
Content-Type: text/html; charset=utf-8\r\n\
Content-Length: 59\r\n\
Connection: keep-alive\r\n\
Location: https://kflowd.github.io\r\n\
Server: ip-10-123-123-119.ec2.internal\r\n\
X-Request-Id: 5c331cbe-fbe1-40ea-ba2b-989691e687a0\r\n\
\r\n\
<a href=\"https://kflowd.github.io\">Moved Permanently</a>.\n\n";

    fn tcp() -> StreamDecoder {
        StreamDecoder::new(App::Http, Transport::Tcp, Direction::Tx)
    }

    #[test]
    fn request_keys_in_kflowd_order() {
        let out = tcp().push(REQUEST, 0.000876589);
        assert_eq!(out.len(), 1);
        assert_eq!(
            json(&Value::Object(out[0].clone())),
            r#"{"_Timestamp":0.000876589,"_Method":"GET","_Url":"/","_Version":"HTTP/1.1","_Headers":[{"name":"Host","value":"kflow.co"},{"name":"User-Agent","value":"curl/7.88.1"},{"name":"Accept","value":"*/*"}]}"#
        );
    }

    #[test]
    fn response_keys_in_kflowd_order() {
        let mut d = StreamDecoder::new(App::Http, Transport::Tcp, Direction::Rx);
        let out = d.push(RESPONSE, 0.056237469);
        assert_eq!(out.len(), 1);
        let m = &out[0];
        assert_eq!(
            keys(m),
            [
                "_Timestamp",
                "_Version",
                "_Status",
                "_Reason",
                "_Headers",
                "_Body"
            ]
        );
        assert_eq!(
            header_names(m),
            [
                "Date",
                "Content-Type",
                "Content-Length",
                "Connection",
                "Location",
                "Server",
                "X-Request-Id",
            ]
        );
        assert_eq!(json(&m["_Timestamp"]), "0.056237469");
        assert_eq!(m["_Status"], 301);
        assert_eq!(m["_Reason"], "Moved Permanently");
        assert_eq!(m["_Headers"][2]["value"], "59");
        assert_eq!(
            m["_Body"],
            "<a href=\"https://kflowd.github.io\">Moved Permanently</a>.\n\n"
        );
        assert!(d.finish().is_empty());
    }

    #[test]
    fn request_in_two_writes_is_one_element() {
        let mut d = tcp();
        assert!(d.push(&REQUEST[..20], 1.0).is_empty());
        let out = d.push(&REQUEST[20..], 2.0);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0]["_Headers"][0]["value"], "kflow.co");
        assert_eq!(json(&out[0]["_Timestamp"]), "1.000000000");
        assert!(d.finish().is_empty());
    }

    #[test]
    fn body_split_across_chunks_and_pipelined_requests() {
        let body = "x".repeat(300);
        let post = format!(
            "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let stream = [post.as_bytes(), REQUEST].concat();
        let mut rng = XorShift(7);
        for _ in 0..30 {
            let out = feed_split(&mut tcp(), &stream, &mut rng);
            assert_well_formed(&out);
            assert_eq!(out.len(), 2, "{out:?}");
            assert_eq!(out[0]["_Method"], "POST");
            assert_eq!(out[0]["_Body"], "x".repeat(HTTP_BODY_KEPT));
            assert_eq!(out[1]["_Method"], "GET");
            assert!(!out[1].contains_key("_Body"));
        }
    }

    #[test]
    fn huge_content_length_is_counted_not_buffered() {
        let mut d = tcp();
        let head = b"PUT /big HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n";
        assert!(d.push(head, 0.0).is_empty());
        let chunk = vec![b'z'; 10_000];
        for i in 0..99 {
            assert!(d.push(&chunk, i as f64).is_empty());
        }
        let out = d.push(&[&chunk[..], REQUEST].concat(), 100.0);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0]["_Url"], "/big");
        assert_eq!(json(&out[0]["_Timestamp"]), "0.000000000");
        assert_eq!(out[0]["_Body"].as_str().unwrap().len(), HTTP_BODY_KEPT);
        assert_eq!(out[1]["_Url"], "/");
        assert_eq!(json(&out[1]["_Timestamp"]), "100.000000000");
    }

    #[test]
    fn bodies_without_content_length_end_with_the_chunk() {
        let mut d = StreamDecoder::new(App::Http, Transport::Tcp, Direction::Rx);
        let out = d.push(b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nhello", 0.0);
        assert_eq!(out[0]["_Body"], "hello");
        assert_eq!(out[0]["_Version"], "HTTP/1.0");
        let out = d.push(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            1.0,
        );
        assert_eq!(out[0]["_Body"], "5\r\nhello\r\n0\r\n\r\n");
        // No body at all for 204 and 304, whatever the headers say.
        let out = d.push(
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
            2.0,
        );
        assert_eq!(out.len(), 2);
        assert!(!out[0].contains_key("_Body"));
        assert_eq!(out[1]["_Status"], 204);
        assert!(d.finish().is_empty());
    }

    /// The names in `_Headers`, in order.
    fn header_names(m: &Map<String, Value>) -> Vec<&str> {
        m["_Headers"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|h| h["name"].as_str().expect("a name"))
            .collect()
    }

    #[test]
    fn repeated_and_reserved_headers_are_entries_as_sent() {
        let out = tcp().push(
            b"GET /a?b=c HTTP/1.1\r\nAccept: text/html\r\nX-A: 1\r\naccept: */*\r\n_Body: evil\r\nX-Bin: \xff\xfe\r\n\r\n",
            0.0,
        );
        let m = &out[0];
        assert_eq!(
            keys(m),
            ["_Timestamp", "_Method", "_Url", "_Version", "_Headers"]
        );
        assert_eq!(
            header_names(m),
            ["Accept", "X-A", "accept", "_Body", "X-Bin"]
        );
        assert_eq!(m["_Headers"][0]["value"], "text/html");
        assert_eq!(m["_Headers"][2]["value"], "*/*");
        assert_eq!(m["_Headers"][3]["value"], "evil");
        assert_eq!(m["_Url"], "/a?b=c");
        // A value that is not UTF-8 keeps its exact bytes (`replayer::bytes`).
        let value = m["_Headers"][4]["value"].as_str().unwrap();
        assert_eq!(&*crate::replayer::bytes::raw(value), b"\xff\xfe");
    }

    #[test]
    fn a_message_without_headers_has_no_headers_key() {
        let out = tcp().push(b"GET / HTTP/1.0\r\n\r\n", 0.0);
        assert_eq!(keys(&out[0]), ["_Timestamp", "_Method", "_Url", "_Version"]);
    }

    #[test]
    fn bad_input_gives_exceptions() {
        for (bytes, expected) in [
            (
                &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n"[..],
                "HTTP: invalid",
            ),
            (
                b"GET / HTTP/1.1\r\nContent-Length: ten\r\n\r\n",
                "Content-Length",
            ),
            (
                b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                "conflicting",
            ),
            (b"GET / HTTP/9.9\r\n\r\n", "HTTP: invalid"),
        ] {
            let out = tcp().push(bytes, 0.0);
            assert_eq!(out.len(), 1, "{bytes:?}");
            assert_eq!(keys(&out[0]), ["_Timestamp", "_Exception"]);
            let why = out[0]["_Exception"].as_str().unwrap();
            assert!(why.contains(expected), "{bytes:?}: {why}");
        }
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend(format!("H{i}: v\r\n").bytes());
        }
        many.extend(b"\r\n");
        let out = tcp().push(&many, 0.0);
        assert_eq!(out[0]["_Exception"], "HTTP: too many headers");
        // Incomplete at the end of the connection.
        let mut d = tcp();
        assert!(d.push(b"GET / HTTP/1.1\r\nHost: a", 0.0).is_empty());
        let out = d.finish();
        assert_eq!(out[0]["_Exception"], "HTTP: incomplete header, 23 bytes");
    }

    #[test]
    fn connection_ending_inside_the_body_keeps_what_came() {
        let mut d = tcp();
        assert!(d
            .push(
                b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\npartial",
                0.5
            )
            .is_empty());
        let out = d.finish();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0]["_Body"], "partial");
        assert_eq!(json(&out[0]["_Timestamp"]), "0.500000000");
    }

    #[test]
    fn datagrams_are_whole_messages() {
        let mut d = StreamDecoder::new(App::Http, Transport::Udp, Direction::Rx);
        let out = d.push(RESPONSE, 3.0);
        assert_eq!(out[0]["_Status"], 301);
        assert!(out[0]["_Body"].as_str().unwrap().starts_with("<a href"));
        let out = d.push(&REQUEST[..30], 4.0);
        assert_eq!(out[0]["_Exception"], "HTTP: incomplete header");
        assert!(d.finish().is_empty());
    }
}
