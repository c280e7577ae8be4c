//! `-o parquet`: the events or records of a replay as one Parquet file with a fixed, typed
//! Arrow schema (documented in docs/PARQUET.md), for engines that read Parquet (DuckDB,
//! Spark, Trino, pandas).
//!
//! Each item is rendered as the JSON object `-o json-min` prints, then appended column by
//! column to builders shaped by the schema; every [`ROW_GROUP_ROWS`] rows they become one
//! zstd-compressed row group and are written out, so memory stays bounded whatever the
//! trace holds. The bytes depend only on the items and their order: identical for any -j.
//!
//! Column types follow what the JSON value is:
//!
//! | JSON | Arrow |
//! | --- | --- |
//! | time as kflowd text (`InfoTimestamp`, `ProcExecTime`, `File*Time`) | `Timestamp(Nanosecond, "UTC")` |
//! | time in µs since the epoch (events view `timestamp`) | `Timestamp(Microsecond, "UTC")` |
//! | seconds with 9 decimals (`InfoUptime`, `*Duration`, `SockRTT`, `_Timestamp`, …) | `Decimal128(20, 9)`: the same exact number |
//! | ids, counts, sizes, ports | `UInt16`/`UInt32`/`UInt64` (`Int64` where negative values occur) |
//! | arrays (`ProcArgv`, `AppTx*`, `_Headers`, …) | `List` |
//! | objects (`FileEvents`, each App message, each header) | `Struct` |
//! | text, and a value of mixed type (DNS `OpCode`: a name or a number) | `Utf8` (a non-string as its JSON text) |
//!
//! The records view has one column per key of `--legend` (a key absent from a record is
//! null). The events view has its common keys as typed columns and every other key of the
//! event in `fields`, a JSON object as text (the keys differ by event type).
//!
//! A value that does not fit its column (a schema that lags behind the JSON) is an error
//! naming the column, never silently dropped: the fixture tests replay every fixture into
//! Parquet.

use std::io::Write;
use std::sync::Arc;

use arrow_array::builder::{
    BooleanBuilder, Decimal128Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
    TimestampNanosecondBuilder, UInt16Builder, UInt32Builder, UInt64Builder,
};
use arrow_array::{ArrayRef, ListArray, RecordBatch, StructArray};
use arrow_buffer::{NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, FieldRef, Fields, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde_json::{Map, Value};

use crate::replayer::views::records::kflowd::FILE_EVENTS;
use crate::replayer::views::records::protocols::App;
use crate::replayer::View;

/// Rows of a row group: the builders hold at most this many rows before they are written.
pub const ROW_GROUP_ROWS: usize = 16_384;
/// Bytes of a row group, as [`value_bytes`] counts its rows: a group is written once its
/// rows reach this, however few (rows of long argv, HTTP bodies or DNS lists would
/// otherwise hold 16384 times their size).
pub const ROW_GROUP_BYTES: usize = 32 << 20;

/// About the bytes `v` takes in the column builders: its text, 8 per other value.
fn value_bytes(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len() + 8,
        Value::Array(a) => 8 + a.iter().map(value_bytes).sum::<usize>(),
        Value::Object(m) => 8 + m.values().map(value_bytes).sum::<usize>(),
        _ => 8,
    }
}
/// zstd level of the pages (3: zstd's default, fast with a good ratio).
const ZSTD_LEVEL: i32 = 3;
/// Precision and scale of seconds: any i64 of nanoseconds fits 20 digits, 9 of them after
/// the point.
const SECS_PRECISION: u8 = 20;
const SECS_SCALE: i8 = 9;

/// The type of a column, as the JSON value it comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Col {
    /// Text; a non-string value as its JSON text.
    Str,
    Bool,
    I64,
    U64,
    U32,
    U16,
    /// Seconds with up to 9 decimals, exact.
    Secs,
    /// kflowd's time text (`Thu, Apr 04 2024 15:34:35.643031330 UTC`, or `N ns` for a time
    /// outside years -9999..9999).
    KflowdTime,
    /// Microseconds since the Unix epoch (an integer).
    MicrosTime,
    List(Box<Col>),
    /// Named fields; a key of the object that is not one of them is an error.
    Struct(Vec<(&'static str, Col)>),
}

impl Col {
    /// The Arrow type of the column.
    pub fn data_type(&self) -> DataType {
        match self {
            Col::Str => DataType::Utf8,
            Col::Bool => DataType::Boolean,
            Col::I64 => DataType::Int64,
            Col::U64 => DataType::UInt64,
            Col::U32 => DataType::UInt32,
            Col::U16 => DataType::UInt16,
            Col::Secs => DataType::Decimal128(SECS_PRECISION, SECS_SCALE),
            Col::KflowdTime => DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            Col::MicrosTime => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            Col::List(item) => DataType::List(Arc::new(Field::new("item", item.data_type(), true))),
            Col::Struct(fields) => DataType::Struct(struct_fields(fields)),
        }
    }
}

fn struct_fields(fields: &[(&'static str, Col)]) -> Fields {
    fields
        .iter()
        .map(|(name, col)| Field::new(*name, col.data_type(), true))
        .collect()
}

/// The column type of a key of an App message.
fn message_col(key: &str) -> Col {
    match key {
        "_Timestamp" => Col::Secs,
        "TransactionId" | "AnswerCount" | "_Status" => Col::U16,
        "Priority" | "Version" => Col::U32,
        "Flags" => Col::List(Box::new(Col::Str)),
        // [type, name] or [type, name, ttl, class, data]: the ttl as its JSON text.
        "ResourceRecords" => Col::List(Box::new(Col::List(Box::new(Col::Str)))),
        "_Headers" => Col::List(Box::new(Col::Struct(vec![
            ("name", Col::Str),
            ("value", Col::Str),
        ]))),
        _ => Col::Str,
    }
}

/// The messages of `app`: a list of structs of its message keys.
fn messages(app: App) -> Col {
    Col::List(Box::new(Col::Struct(
        app.message_keys()
            .iter()
            .map(|k| (*k, message_col(k)))
            .collect(),
    )))
}

/// The column type of a key of the records view (a key not named here is text).
pub fn record_col(key: &str) -> Col {
    match key {
        "InfoTimestamp"
        | "ProcExecTime"
        | "FileAccessTime"
        | "FileStatusChangeTime"
        | "FileModificationTime" => Col::KflowdTime,
        "InfoUptime"
        | "ProcAge"
        | "FileEventsDuration"
        | "FileModificationTimeChange"
        | "SockTxDuration"
        | "SockRxDuration"
        | "SockRTT"
        | "SockAge" => Col::Secs,
        "InfoSequenceNumber" | "FileInode" | "FileSize" | "SockTxPackets" | "SockTxBytes"
        | "SockTxBytesAcked" | "SockTxBytesRetrans" | "SockTxRTO" | "SockRxPackets"
        | "SockRxBytes" => Col::U64,
        "ProcPPID"
        | "ProcPID"
        | "ProcTID"
        | "ProcUID"
        | "ProcGID"
        | "ProcExitCode"
        | "FileEventCount"
        | "FileInodeLinkCount"
        | "FileUID"
        | "FileGID"
        | "SockTxDataPackets"
        | "SockTxPacketsRetrans"
        | "SockRxDataPackets" => Col::U32,
        "SockLocalPort" | "SockRemotePort" => Col::U16,
        "FileSizeChange" => Col::I64,
        "ProcArgv" => Col::List(Box::new(Col::Str)),
        "FileEvents" => Col::Struct(FILE_EVENTS.iter().map(|k| (*k, Col::U32)).collect()),
        "AppTxDns" | "AppRxDns" => messages(App::Dns),
        "AppTxHttp" | "AppRxHttp" => messages(App::Http),
        "AppTxSyslog" | "AppRxSyslog" => messages(App::Syslog),
        _ => Col::Str,
    }
}

/// The typed columns of the events view, in output order; every other key of an event
/// goes to [`EVENT_FIELDS`].
pub fn event_common() -> Vec<(&'static str, Col)> {
    vec![
        ("timestamp", Col::MicrosTime),
        ("event_type", Col::Str),
        ("syscall", Col::Str),
        ("compat", Col::Bool),
        ("comm", Col::Str),
        ("pid", Col::U32),
        ("tid", Col::U32),
        ("ppid", Col::U32),
        ("process_type", Col::Str),
        ("uid", Col::U32),
        ("gid", Col::U32),
        ("ret", Col::I64),
        ("error", Col::Str),
        (PARQUET_BYTES, Col::Str),
    ]
}

/// The column of the exact bytes of the row's values that are not UTF-8 (both views, last):
/// a JSON object as text, the row's keys that hold such bytes with their values' shape
/// (`replayer::bytes::restore`), null when there are none.
pub const PARQUET_BYTES: &str = "Bytes";

/// The events view's column of the type-specific keys: a JSON object as text, in the
/// event's key order (null when the event has none).
pub const EVENT_FIELDS: &str = "fields";

/// The columns of a view.
pub fn columns(view: View) -> Vec<(&'static str, Col)> {
    match view {
        View::Events => {
            let mut cols = event_common();
            cols.push((EVENT_FIELDS, Col::Str));
            cols
        }
        View::Records => {
            let messages: Vec<&str> = crate::replayer::views::records::protocols::legend()
                .into_iter()
                .map(|(k, _)| k)
                .collect();
            crate::replayer::views::records::legend::legend()
                .into_iter()
                .map(|(k, _)| k)
                .filter(|k| !messages.contains(k))
                .map(|k| (k, record_col(k)))
                .chain([(PARQUET_BYTES, Col::Str)])
                .collect()
        }
    }
}

/// The Arrow schema of a view's Parquet file.
pub fn schema(view: View) -> SchemaRef {
    Arc::new(Schema::new(struct_fields(&columns(view))))
}

/// Builds one column from JSON values.
enum Builder {
    Str(StringBuilder),
    Bool(BooleanBuilder),
    I64(Int64Builder),
    U64(UInt64Builder),
    U32(UInt32Builder),
    U16(UInt16Builder),
    Secs(Decimal128Builder),
    Nanos(TimestampNanosecondBuilder),
    Micros(TimestampMicrosecondBuilder),
    List {
        item: FieldRef,
        offsets: Vec<i32>,
        nulls: NullBufferBuilder,
        child: Box<Builder>,
    },
    Struct {
        names: Vec<&'static str>,
        fields: Fields,
        nulls: NullBufferBuilder,
        children: Vec<Builder>,
    },
}

/// Where a value did not fit: the column path and why.
#[derive(Debug, thiserror::Error)]
#[error("Parquet column {column}: {why}")]
pub struct Misfit {
    pub column: String,
    pub why: String,
}

fn misfit(column: &str, why: impl Into<String>) -> Misfit {
    Misfit {
        column: column.to_owned(),
        why: why.into(),
    }
}

impl Builder {
    fn new(col: &Col) -> Builder {
        match col {
            Col::Str => Builder::Str(StringBuilder::new()),
            Col::Bool => Builder::Bool(BooleanBuilder::new()),
            Col::I64 => Builder::I64(Int64Builder::new()),
            Col::U64 => Builder::U64(UInt64Builder::new()),
            Col::U32 => Builder::U32(UInt32Builder::new()),
            Col::U16 => Builder::U16(UInt16Builder::new()),
            Col::Secs => Builder::Secs(Decimal128Builder::new().with_data_type(col.data_type())),
            Col::KflowdTime => {
                Builder::Nanos(TimestampNanosecondBuilder::new().with_data_type(col.data_type()))
            }
            Col::MicrosTime => {
                Builder::Micros(TimestampMicrosecondBuilder::new().with_data_type(col.data_type()))
            }
            Col::List(item) => Builder::List {
                item: Arc::new(Field::new("item", item.data_type(), true)),
                offsets: vec![0],
                nulls: NullBufferBuilder::new(0),
                child: Box::new(Builder::new(item)),
            },
            Col::Struct(fields) => Builder::Struct {
                names: fields.iter().map(|(n, _)| *n).collect(),
                fields: struct_fields(fields),
                nulls: NullBufferBuilder::new(0),
                children: fields.iter().map(|(_, c)| Builder::new(c)).collect(),
            },
        }
    }

    /// Appends `value` (absent or JSON null: a null). `column` names the column in errors.
    fn append(&mut self, column: &str, value: Option<&Value>) -> Result<(), Misfit> {
        let value = value.filter(|v| !v.is_null());
        let Some(v) = value else {
            self.append_null();
            return Ok(());
        };
        let number = |v: &Value| match v {
            Value::Number(n) => Ok(n.clone()),
            other => Err(misfit(column, format!("expected a number, got {other}"))),
        };
        let unsigned = |v: &Value| {
            number(v)?
                .as_u64()
                .ok_or_else(|| misfit(column, format!("{v} is not an unsigned integer")))
        };
        let too_large = |v: &Value| misfit(column, format!("{v} is out of range"));
        match self {
            Builder::Str(b) => match v {
                Value::String(s) => b.append_value(s),
                other => b.append_value(other.to_string()),
            },
            Builder::Bool(b) => match v {
                Value::Bool(x) => b.append_value(*x),
                other => return Err(misfit(column, format!("expected a boolean, got {other}"))),
            },
            Builder::I64(b) => b.append_value(
                number(v)?
                    .as_i64()
                    .ok_or_else(|| misfit(column, format!("{v} is not an integer")))?,
            ),
            Builder::U64(b) => b.append_value(unsigned(v)?),
            Builder::U32(b) => {
                b.append_value(u32::try_from(unsigned(v)?).map_err(|_| too_large(v))?)
            }
            Builder::U16(b) => {
                b.append_value(u16::try_from(unsigned(v)?).map_err(|_| too_large(v))?)
            }
            Builder::Secs(b) => {
                let n = number(v)?;
                let scaled = nanos_of_seconds(&n.to_string())
                    .ok_or_else(|| misfit(column, format!("{n} is not seconds to the ns")))?;
                if scaled.unsigned_abs() >= 10u128.pow(u32::from(SECS_PRECISION)) {
                    return Err(too_large(v));
                }
                b.append_value(scaled);
            }
            Builder::Nanos(b) => {
                let text = v
                    .as_str()
                    .ok_or_else(|| misfit(column, format!("expected a time, got {v}")))?;
                b.append_value(
                    kflowd_time_ns(text)
                        .ok_or_else(|| misfit(column, format!("{text:?} is not a time")))?,
                );
            }
            Builder::Micros(b) => b.append_value(
                number(v)?
                    .as_i64()
                    .ok_or_else(|| misfit(column, format!("{v} is not a time in µs")))?,
            ),
            Builder::List {
                offsets,
                nulls,
                child,
                ..
            } => {
                let Value::Array(items) = v else {
                    return Err(misfit(column, format!("expected an array, got {v}")));
                };
                for item in items {
                    child.append(column, Some(item))?;
                }
                let last = *offsets.last().unwrap_or(&0);
                let len = i32::try_from(items.len())
                    .ok()
                    .and_then(|n| last.checked_add(n))
                    .ok_or_else(|| misfit(column, "more than 2^31 list items in a row group"))?;
                offsets.push(len);
                nulls.append_non_null();
            }
            Builder::Struct {
                names,
                nulls,
                children,
                ..
            } => {
                let Value::Object(map) = v else {
                    return Err(misfit(column, format!("expected an object, got {v}")));
                };
                append_object(column, names, children, map)?;
                nulls.append_non_null();
            }
        }
        Ok(())
    }

    fn append_null(&mut self) {
        match self {
            Builder::Str(b) => b.append_null(),
            Builder::Bool(b) => b.append_null(),
            Builder::I64(b) => b.append_null(),
            Builder::U64(b) => b.append_null(),
            Builder::U32(b) => b.append_null(),
            Builder::U16(b) => b.append_null(),
            Builder::Secs(b) => b.append_null(),
            Builder::Nanos(b) => b.append_null(),
            Builder::Micros(b) => b.append_null(),
            Builder::List { offsets, nulls, .. } => {
                offsets.push(*offsets.last().unwrap_or(&0));
                nulls.append_null();
            }
            Builder::Struct {
                nulls, children, ..
            } => {
                for c in children {
                    c.append_null();
                }
                nulls.append_null();
            }
        }
    }

    /// The column so far; the builder starts empty again.
    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Str(b) => Arc::new(b.finish()),
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::I64(b) => Arc::new(b.finish()),
            Builder::U64(b) => Arc::new(b.finish()),
            Builder::U32(b) => Arc::new(b.finish()),
            Builder::U16(b) => Arc::new(b.finish()),
            Builder::Secs(b) => Arc::new(b.finish()),
            Builder::Nanos(b) => Arc::new(b.finish()),
            Builder::Micros(b) => Arc::new(b.finish()),
            Builder::List {
                item,
                offsets,
                nulls,
                child,
            } => {
                let offsets =
                    OffsetBuffer::new(ScalarBuffer::from(std::mem::replace(offsets, vec![0])));
                Arc::new(ListArray::new(
                    item.clone(),
                    offsets,
                    child.finish(),
                    nulls.finish(),
                ))
            }
            Builder::Struct {
                fields,
                nulls,
                children,
                ..
            } => {
                let arrays = children.iter_mut().map(Builder::finish).collect();
                Arc::new(StructArray::new(fields.clone(), arrays, nulls.finish()))
            }
        }
    }
}

/// Appends the fields of `map` to `children` (named `names`); a key of `map` that names no
/// field is an error.
fn append_object(
    column: &str,
    names: &[&'static str],
    children: &mut [Builder],
    map: &Map<String, Value>,
) -> Result<(), Misfit> {
    if let Some(extra) = map.keys().find(|k| !names.contains(&k.as_str())) {
        return Err(misfit(column, format!("no field for the key {extra:?}")));
    }
    for (name, child) in names.iter().zip(children) {
        let path;
        let at = if column.is_empty() {
            *name
        } else {
            path = format!("{column}.{name}");
            &path
        };
        child.append(at, map.get(*name))?;
    }
    Ok(())
}

/// `12.345` seconds as nanoseconds (12345000000): at most 9 decimals, no exponent.
pub(crate) fn nanos_of_seconds(text: &str) -> Option<i128> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || whole.len() > 30
        || frac.len() > 9
        || !all_digits(whole)
        || !all_digits(frac)
    {
        return None;
    }
    let whole: i128 = whole.parse().ok()?;
    let frac: i128 = if frac.is_empty() {
        0
    } else {
        frac.parse::<i128>().ok()? * 10i128.pow(9 - frac.len() as u32)
    };
    let ns = whole.checked_mul(1_000_000_000)?.checked_add(frac)?;
    Some(if negative { -ns } else { ns })
}

/// The nanoseconds since the epoch of kflowd's time text (`records::kflowd_time`).
pub(crate) fn kflowd_time_ns(text: &str) -> Option<i64> {
    if let Some(ns) = text.strip_suffix(" ns") {
        return ns.parse().ok();
    }
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [month repr:short] [day] [year] [hour]:[minute]:[second].[subsecond digits:9] UTC"
    );
    let t = time::PrimitiveDateTime::parse(text, &fmt)
        .ok()?
        .assume_utc();
    i64::try_from(t.unix_timestamp_nanos()).ok()
}

/// An event of the events view (the object `-o json-min` prints) as its Parquet row: the
/// common keys, then [`EVENT_FIELDS`] holding every other key as a JSON object's text.
/// Rendering calls it, in parallel; a row already split is left as it is.
pub fn split_event(event: Value) -> Value {
    let Value::Object(map) = event else {
        return event;
    };
    let common = event_common();
    let mut typed = Map::new();
    let mut rest = Map::new();
    for (k, v) in map {
        if k == EVENT_FIELDS || common.iter().any(|(name, _)| *name == k) {
            typed.insert(k, v);
        } else {
            rest.insert(k, v);
        }
    }
    if !rest.is_empty() {
        typed.insert(
            EVENT_FIELDS.to_owned(),
            Value::String(Value::Object(rest).to_string()),
        );
    }
    Value::Object(typed)
}

/// A Parquet file being written: rows go into column builders, and every
/// [`ROW_GROUP_ROWS`] rows out as one row group.
pub struct ParquetOut {
    view: View,
    schema: SchemaRef,
    names: Vec<&'static str>,
    builders: Vec<Builder>,
    rows: usize,
    /// The rows' [`value_bytes`] since the last group.
    bytes: usize,
    writer: ArrowWriter<Box<dyn Write + Send>>,
}

impl ParquetOut {
    /// A Parquet file of `view` written to `out` (the header now, the footer at
    /// [`finish`](Self::finish)). Errors: writing the header.
    pub fn new(out: Box<dyn Write + Send>, view: View) -> anyhow::Result<ParquetOut> {
        let cols = columns(view);
        let schema = Arc::new(Schema::new(struct_fields(&cols)));
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(ZSTD_LEVEL)?))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .build();
        let writer = ArrowWriter::try_new(out, schema.clone(), Some(props))?;
        Ok(ParquetOut {
            view,
            schema,
            names: cols.iter().map(|(n, _)| *n).collect(),
            builders: cols.iter().map(|(_, c)| Builder::new(c)).collect(),
            rows: 0,
            bytes: 0,
            writer,
        })
    }

    /// Appends one event or record (the object `-o json-min` prints). Errors: a value that
    /// does not fit its column; writing a full row group.
    pub fn push(&mut self, row: &Value) -> anyhow::Result<()> {
        let Value::Object(map) = row else {
            anyhow::bail!("Parquet: a row must be a JSON object, not {row}");
        };
        let split =
            self.view == View::Events && !map.keys().all(|k| self.names.contains(&k.as_str()));
        if split {
            // An event not split by rendering: its type-specific keys go to `fields`.
            let Value::Object(typed) = split_event(row.clone()) else {
                anyhow::bail!("Parquet: an event must be a JSON object");
            };
            append_object("", &self.names, &mut self.builders, &typed)?;
        } else {
            append_object("", &self.names, &mut self.builders, map)?;
        }
        self.rows += 1;
        self.bytes += value_bytes(row);
        if self.rows >= ROW_GROUP_ROWS || self.bytes >= ROW_GROUP_BYTES {
            self.write_group()?;
        }
        Ok(())
    }

    fn write_group(&mut self) -> anyhow::Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self.builders.iter_mut().map(Builder::finish).collect();
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)?;
        self.writer.write(&batch)?;
        self.writer.flush()?;
        self.rows = 0;
        self.bytes = 0;
        Ok(())
    }

    /// Writes the last row group and the footer, and flushes. Errors: writing.
    pub fn finish(mut self) -> anyhow::Result<()> {
        self.write_group()?;
        let mut out = self.writer.into_inner()?;
        out.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of huge strings were held 16384 at a time (a 64 KiB argv: 1 GiB) before the
    /// group was written, past any memory budget.
    #[test]
    fn huge_rows_make_small_row_groups() {
        let file = tempfile::tempfile().unwrap();
        let mut out = ParquetOut::new(Box::new(file.try_clone().unwrap()), View::Records).unwrap();
        let big = "x".repeat(1 << 20);
        let row = serde_json::json!({ "Proc": big, "ProcArgv": [big, big] });
        for _ in 0..40 {
            out.push(&row).unwrap();
        }
        let groups = out.writer.flushed_row_groups().len();
        assert!(groups >= 3, "{groups} row groups for 120 MiB of rows");
        assert!(out.bytes < ROW_GROUP_BYTES);
        out.finish().unwrap();
        let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
        use parquet::file::reader::FileReader;
        assert_eq!(reader.metadata().file_metadata().num_rows(), 40);
    }

    #[test]
    fn seconds_are_exact_nanoseconds() {
        assert_eq!(nanos_of_seconds("21.262713426"), Some(21_262_713_426));
        assert_eq!(nanos_of_seconds("-1.5"), Some(-1_500_000_000));
        assert_eq!(nanos_of_seconds("0"), Some(0));
        assert_eq!(nanos_of_seconds("0.000048490"), Some(48_490));
        assert_eq!(nanos_of_seconds("1e5"), None);
        assert_eq!(nanos_of_seconds("1.0000000001"), None);
        assert_eq!(nanos_of_seconds("."), None);
        assert_eq!(nanos_of_seconds(""), None);
    }

    #[test]
    fn kflowd_times_parse_back() {
        for ns in [1_712_244_875_643_031_330i64, 0, -1, i64::MAX, i64::MIN] {
            let text = crate::replayer::views::records::kflowd_time(ns);
            assert_eq!(kflowd_time_ns(&text), Some(ns), "{text}");
        }
        assert_eq!(kflowd_time_ns("Thu, Apr 04 2024 15:34:35 UTC"), None);
    }

    /// A record of each kind with every key present fits the schema: no key of the record
    /// types lacks a column, and each value fits its column's type.
    #[test]
    fn every_key_of_every_record_fits() {
        use crate::replayer::views::records::kflowd::RecordBody;
        let mut out = ParquetOut::new(Box::new(Vec::new()), View::Records).unwrap();
        let time = || Some(crate::replayer::views::records::kflowd::KflowdTime(1));
        for mut r in crate::replayer::views::records::kflowd::tests::every_key() {
            r.info.timestamp = time().unwrap();
            if let RecordBody::Proc(p) = &mut r.body {
                p.exec_time = time();
            }
            if let RecordBody::File(f) = &mut r.body {
                f.access_time = time();
                f.status_change_time = time();
                f.modification_time = time();
            }
            if let RecordBody::Sock(s) = &mut r.body {
                let app = s.app.as_mut().expect("every socket record has an App");
                let message: Map<String, Value> = app
                    .app
                    .message_keys()
                    .iter()
                    .map(|k| ((*k).to_owned(), sample(&message_col(k))))
                    .collect();
                app.tx = vec![message.clone()];
                app.rx = vec![message];
            }
            out.push(&serde_json::to_value(&r).unwrap()).unwrap();
        }
        out.finish().unwrap();
    }

    /// A value of the JSON shape `col` is made from.
    fn sample(col: &Col) -> Value {
        match col {
            Col::Str => Value::from("x"),
            Col::Bool => Value::from(true),
            Col::I64 => Value::from(-1),
            Col::U64 | Col::U32 | Col::U16 | Col::MicrosTime => Value::from(1),
            Col::Secs => serde_json::from_str("0.000000001").unwrap(),
            Col::KflowdTime => Value::from("Thu, Apr 04 2024 15:34:35.643031330 UTC"),
            Col::List(item) => Value::Array(vec![sample(item)]),
            Col::Struct(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, c)| ((*k).to_owned(), sample(c)))
                    .collect(),
            ),
        }
    }

    #[test]
    fn an_event_keeps_its_common_keys_and_the_rest_goes_to_fields() {
        let event = serde_json::json!({"timestamp": 5, "event_type": "file_open", "pid": 1,
            "path": "/etc/passwd", "flags_text": "O_RDONLY", "ret": 3});
        let split = split_event(event);
        assert_eq!(
            split,
            serde_json::json!({"timestamp": 5, "event_type": "file_open", "pid": 1, "ret": 3,
                "fields": r#"{"path":"/etc/passwd","flags_text":"O_RDONLY"}"#})
        );
        assert_eq!(
            split_event(split.clone()),
            split,
            "splitting twice changes nothing"
        );
        let mut out = ParquetOut::new(Box::new(Vec::new()), View::Events).unwrap();
        out.push(&split).unwrap();
        out.push(&serde_json::json!({"timestamp": 6, "path": "/x"}))
            .unwrap();
        out.finish().unwrap();
    }

    #[test]
    fn a_misfit_names_its_column() {
        let mut out = ParquetOut::new(Box::new(Vec::new()), View::Records).unwrap();
        let row = serde_json::json!({"ProcPID": "x"});
        let e = out.push(&row).unwrap_err().to_string();
        assert!(e.contains("ProcPID"), "{e}");
        let row = serde_json::json!({"NoSuchKey": 1});
        let e = out.push(&row).unwrap_err().to_string();
        assert!(e.contains("NoSuchKey"), "{e}");
        let row = serde_json::json!({"FileEvents": {"CREATE": 1, "BOGUS": 2}});
        let e = out.push(&row).unwrap_err().to_string();
        assert!(e.contains("FileEvents") && e.contains("BOGUS"), "{e}");
    }
}
