//! The `--config FILE` of `record` and `live`: a TOML file whose keys are the long options
//! of the command (kebab-case: `output`, `rotate-size`, `events`, …) and whose values have
//! the option's type (`keep = 8`, `events = ["file", "network"]`, `rotate-time = "1h"`,
//! `checksums = true`). A value set on the command line wins over the file's; a value set
//! in neither is the option's default. Unknown keys and wrong types are errors that name the
//! key and its line. The command to record (after `--`) is not an option: the file cannot
//! set it.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use clap::parser::ValueSource;
use clap::{ArgMatches, ValueEnum};
use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde::Deserialize;

use kellect::replayer::render::output::escape_control;

use super::args::{parse_duration, CaptureArgs, FormatArg, LiveArgs, RecordArgs, ViewArg};
use super::UsageError;

/// A configuration file larger than this is refused (a real one is a few hundred bytes).
const MAX_FILE_BYTES: u64 = 1 << 20;

/// Whether the user typed the option whose clap id (the field name) is `id`.
fn given(m: &ArgMatches, id: &str) -> bool {
    m.value_source(id) == Some(ValueSource::CommandLine)
}

/// `args.field = file.field` unless the command line set it; the field's name is both the
/// clap id and (kebab-cased) the key, so they cannot drift apart.
macro_rules! merge {
    ($m:expr, $file:expr, $args:expr, $($field:ident),+ $(,)?) => {
        $(
            if let Some(v) = $file.$field.take() {
                if !given($m, stringify!($field)) {
                    $args.$field = v.into();
                }
            }
        )+
    };
}

/// Declares a file's keys: those given here plus the capture keys `record` and `live`
/// share (the fields of [`CaptureArgs`]).
macro_rules! file_keys {
    ($(#[$doc:meta])* $name:ident { $($body:tt)* }) => {
        $(#[$doc])*
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields, rename_all = "kebab-case")]
        pub(crate) struct $name {
            $($body)*
            #[serde(default, deserialize_with = "duration")]
            duration: Option<Duration>,
            all: Option<bool>,
            events: Option<Vec<String>>,
            protocol: Option<Vec<String>>,
            payload_size: Option<u32>,
            versions: Option<bool>,
            checksums: Option<bool>,
            ring_size: Option<u32>,
            frame_size: Option<usize>,
            seal_key: Option<std::path::PathBuf>,
            note: Option<String>,
        }

        impl $name {
            fn merge_capture(&mut self, m: &ArgMatches, c: &mut CaptureArgs) {
                merge!(m, self, c, duration, all, events, protocol, payload_size, versions,
                       checksums, ring_size, frame_size, seal_key, note);
            }
        }
    };
}

file_keys! {
    /// The keys of `kellect record --config FILE`.
    RecordFile {
        output: Option<std::path::PathBuf>,
        force: Option<bool>,
        compression_level: Option<i32>,
        rotate_size: Option<u64>,
        #[serde(default, deserialize_with = "duration")]
        rotate_time: Option<Duration>,
        keep: Option<u32>,
        pidfile: Option<std::path::PathBuf>,
        quiet: Option<bool>,
    }
}

file_keys! {
    /// The keys of `kellect live --config FILE`: `output` is the output format here (as
    /// `-o` is), `write` the trace file.
    LiveFile {
        write: Option<std::path::PathBuf>,
        force: Option<bool>,
        command_output: Option<std::path::PathBuf>,
        #[serde(default, deserialize_with = "value_enum")]
        view: Option<ViewArg>,
        #[serde(default, deserialize_with = "value_enum")]
        output: Option<FormatArg>,
        monitor: Option<Vec<String>>,
        max_events: Option<u32>,
        timeouts: Option<String>,
        token: Option<String>,
        udp: Option<Vec<String>>,
        udp_rate: Option<u32>,
        syslog_tcp: Option<Vec<String>>,
        quiet: Option<bool>,
        event: Option<Vec<String>>,
        pid: Option<Vec<u32>>,
        comm: Option<Vec<String>>,
        container: Option<Vec<String>>,
        path: Option<Vec<String>>,
        uid: Option<Vec<u32>>,
        remote: Option<Vec<String>>,
        exit_code: Option<Vec<u32>>,
        since: Option<String>,
        until: Option<String>,
    }
}

impl RecordFile {
    /// Sets in `a` every value of the file that the command line (`m`, the `record`
    /// subcommand's matches) did not.
    pub(crate) fn merge_into(mut self, m: &ArgMatches, a: &mut RecordArgs) {
        self.merge_capture(m, &mut a.capture);
        merge!(
            m,
            self,
            a,
            output,
            force,
            compression_level,
            rotate_size,
            rotate_time,
            keep,
            pidfile,
            quiet
        );
    }
}

impl LiveFile {
    /// Sets in `a` every value of the file that the command line (`m`, the `live`
    /// subcommand's matches) did not.
    pub(crate) fn merge_into(mut self, m: &ArgMatches, a: &mut LiveArgs) {
        self.merge_capture(m, &mut a.capture);
        merge!(m, self, a, write, force, command_output);
        merge!(
            m, self, a.out, view, output, monitor, max_events, timeouts, token, udp, udp_rate,
            syslog_tcp, quiet, event, pid, comm, container, path, uid, remote, exit_code, since,
            until,
        );
    }
}

/// Reads and parses the configuration file at `path`. Errors (usage errors): the file
/// cannot be read or is larger than 1 MiB; it is not TOML, has a key the command does not
/// take, or a value of the wrong type: the message gives the line and the key it sets.
pub(crate) fn read<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let mut text = String::new();
    let read = std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_string(&mut text));
    if let Err(e) = read {
        usage!(
            "cannot read the configuration file {}: {e}",
            escape_control(&path.display().to_string())
        );
    }
    if text.len() as u64 > MAX_FILE_BYTES {
        usage!(
            "the configuration file {} is larger than {} KiB",
            escape_control(&path.display().to_string()),
            MAX_FILE_BYTES >> 10
        );
    }
    match toml::from_str(&text) {
        Ok(file) => Ok(file),
        Err(e) => usage!(
            "in the configuration file {}{}: {}",
            escape_control(&path.display().to_string()),
            e.span()
                .map(|at| place(&text, at.start))
                .unwrap_or_default(),
            escape_control(e.message().trim_end())
        ),
    }
}

/// `, line N (`key`)`: where byte `at` of `text` is, and the key its line sets (when the
/// line is `key = …`).
fn place(text: &str, at: usize) -> String {
    let at = at.min(text.len());
    let line_no = text.as_bytes()[..at]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1;
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next().unwrap_or("");
    let key = line.split_once('=').map(|(key, _)| key.trim()).filter(|k| {
        !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    match key {
        Some(key) => format!(", line {line_no} (`{key}`)"),
        None => format!(", line {line_no}"),
    }
}

/// A duration key: a string as `--duration` takes it (`90s`, `5m`, `1.5h`).
fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let s = String::deserialize(d)?;
    parse_duration(&s).map(Some).map_err(D::Error::custom)
}

/// A key whose values are a clap `ValueEnum`'s names (`output = "json-min"`).
fn value_enum<'de, D: Deserializer<'de>, T: ValueEnum>(d: D) -> Result<Option<T>, D::Error> {
    let s = String::deserialize(d)?;
    T::from_str(&s, false).map(Some).map_err(|_| {
        let names: Vec<String> = T::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value())
            .map(|p| format!("`{}`", p.get_name()))
            .collect();
        D::Error::custom(format!("`{s}` is not one of {}", names.join(", ")))
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use clap::CommandFactory;

    use super::{LiveFile, RecordFile};
    use crate::cli::args::{Cli, Cmd, FormatArg, LiveArgs, RecordArgs, ViewArg};
    use crate::cli::{parse_from, UsageError};

    /// The long options of `kellect SUBCOMMAND` that a file may set: all but help and
    /// actions that are not settings.
    fn settable_options(subcommand: &str) -> Vec<String> {
        let cmd = Cli::command();
        let sub = cmd.find_subcommand(subcommand).unwrap();
        sub.get_arguments()
            .filter_map(|a| a.get_long())
            .filter(|l| !["help", "config", "legend"].contains(l))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn every_option_of_record_and_live_is_a_key() {
        for (sub, parse) in [
            (
                "record",
                (|t: &str| toml::from_str::<RecordFile>(t).err()) as fn(&str) -> _,
            ),
            ("live", |t: &str| toml::from_str::<LiveFile>(t).err()),
        ] {
            let options = settable_options(sub);
            assert!(options.len() > 10, "{sub}: {options:?}");
            for long in options {
                // An empty table is no option's type: the key is known if the error is
                // about the type.
                let err = parse(&format!("{long} = {{}}\n"))
                    .unwrap_or_else(|| panic!("{sub}: `{long} = {{}}` parsed"));
                let message = err.message();
                assert!(
                    message.contains("invalid type") || message.contains("expected"),
                    "{sub} --{long}: {message}"
                );
                assert!(
                    !message.contains("unknown field"),
                    "{sub} --{long} is not a key: {message}"
                );
            }
        }
    }

    /// Parses `kellect ARGS` with `config` written to a file given as `--config`.
    fn parse_with(config: &str, sub: &str, args: &[&str]) -> anyhow::Result<Cmd> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kellect.toml");
        std::fs::write(&path, config).unwrap();
        let mut argv = vec!["kellect", sub, "--config", path.to_str().unwrap()];
        argv.extend_from_slice(args);
        parse_from(argv).map(|cli| cli.command)
    }

    #[track_caller]
    fn record_args(config: &str, args: &[&str]) -> RecordArgs {
        match parse_with(config, "record", args).unwrap() {
            Cmd::Record(a) => a,
            _ => unreachable!(),
        }
    }

    #[track_caller]
    fn live_args(config: &str, args: &[&str]) -> LiveArgs {
        match parse_with(config, "live", args).unwrap() {
            Cmd::Live(a) => a,
            _ => unreachable!(),
        }
    }

    const RECORD_CONFIG: &str = r#"
        output = "/f/t.kz"
        force = true
        compression-level = 9
        rotate-size = 64
        rotate-time = "1h"
        keep = 8
        quiet = true
        duration = "30s"
        all = true
        events = ["file", "network"]
        protocol = ["http=tcp/8080", "dns=off"]
        payload-size = 100
        versions = true
        checksums = true
        ring-size = 128
        frame-size = 256
    "#;

    #[test]
    fn every_record_key_is_taken_and_the_command_line_wins() {
        let a = record_args(RECORD_CONFIG, &[]);
        assert_eq!(a.output, Some(PathBuf::from("/f/t.kz")));
        assert!(a.force && a.quiet && a.capture.all);
        assert!(a.capture.versions && a.capture.checksums);
        assert_eq!(a.compression_level, 9);
        assert_eq!(a.rotate_size, Some(64));
        assert_eq!(a.rotate_time, Some(Duration::from_secs(3600)));
        assert_eq!(a.keep, Some(8));
        assert_eq!(a.capture.duration, Some(Duration::from_secs(30)));
        assert_eq!(a.capture.events, ["file", "network"]);
        assert_eq!(a.capture.protocol, ["http=tcp/8080", "dns=off"]);
        assert_eq!(a.capture.payload_size, 100);
        assert_eq!(a.capture.ring_size, 128);
        assert_eq!(a.capture.frame_size, 256);

        let a = record_args(
            RECORD_CONFIG,
            &[
                "-o",
                "/c/t.kz",
                "--compression-level",
                "5",
                "--rotate-size",
                "2",
                "--rotate-time",
                "10m",
                "--keep",
                "2",
                "-d",
                "5s",
                "-e",
                "process",
                "-p",
                "http=off",
                "--payload-size",
                "7",
                "--ring-size",
                "8",
                "--frame-size",
                "16",
            ],
        );
        assert_eq!(a.output, Some(PathBuf::from("/c/t.kz")));
        assert_eq!(a.compression_level, 5);
        assert_eq!(a.rotate_size, Some(2));
        assert_eq!(a.rotate_time, Some(Duration::from_secs(600)));
        assert_eq!(a.keep, Some(2));
        assert_eq!(a.capture.duration, Some(Duration::from_secs(5)));
        assert_eq!(a.capture.events, ["process"]);
        assert_eq!(a.capture.protocol, ["http=off"]);
        assert_eq!(a.capture.payload_size, 7);
        assert_eq!(a.capture.ring_size, 8);
        assert_eq!(a.capture.frame_size, 16);
    }

    #[test]
    fn what_neither_sets_keeps_its_default() {
        let a = record_args("output = \"/f/t.kz\"\n", &[]);
        let b = match parse_from(["kellect", "record", "-o", "/f/t.kz"])
            .unwrap()
            .command
        {
            Cmd::Record(b) => b,
            _ => unreachable!(),
        };
        assert_eq!(a.capture.ring_size, kellect::defaults::RING_SIZE_MIB);
        assert_eq!(a.capture.ring_size, b.capture.ring_size);
        assert_eq!(a.capture.frame_size, b.capture.frame_size);
        assert_eq!(a.capture.payload_size, b.capture.payload_size);
        assert_eq!(a.capture.events, b.capture.events);
        assert_eq!(a.compression_level, b.compression_level);
        assert_eq!((a.keep, a.rotate_size, a.force), (None, None, false));
    }

    const LIVE_CONFIG: &str = r#"
        write = "/f/t.kz"
        force = true
        command-output = "/f/out"
        view = "events"
        output = "json-min"
        monitor = ["socket"]
        max-events = 3
        timeouts = "5,60"
        token = "host-1"
        udp = ["127.0.0.1:5140"]
        quiet = true
        event = ["process_exec"]
        pid = [1, 2]
        comm = ["sshd"]
        since = "1.5"
        until = "9"
        ring-size = 16
        events = ["process"]
    "#;

    #[test]
    fn every_live_key_is_taken_and_the_command_line_wins() {
        let a = live_args(LIVE_CONFIG, &[]);
        assert_eq!(a.write, Some(PathBuf::from("/f/t.kz")));
        assert!(a.force && a.out.quiet);
        assert_eq!(a.command_output, Some(PathBuf::from("/f/out")));
        assert_eq!(a.out.view, ViewArg::Events);
        assert_eq!(a.out.output, FormatArg::JsonMin);
        assert_eq!(a.out.monitor, ["socket"]);
        assert_eq!(a.out.max_events, Some(3));
        assert_eq!(a.out.timeouts, "5,60");
        assert_eq!(a.out.token.as_deref(), Some("host-1"));
        assert_eq!(a.out.udp, ["127.0.0.1:5140"]);
        assert_eq!(a.out.event, ["process_exec"]);
        assert_eq!(a.out.pid, [1, 2]);
        assert_eq!(a.out.comm, ["sshd"]);
        assert_eq!(a.out.since.as_deref(), Some("1.5"));
        assert_eq!(a.out.until.as_deref(), Some("9"));
        assert_eq!(a.capture.ring_size, 16);
        assert_eq!(a.capture.events, ["process"]);

        let a = live_args(
            LIVE_CONFIG,
            &[
                "-w",
                "/c/t.kz",
                "--view",
                "records",
                "-o",
                "table",
                "-m",
                "file",
                "--max-events",
                "1",
                "-t",
                "1,2",
                "-T",
                "host-2",
                "-u",
                "[::1]:9",
                "--pid",
                "3",
                "--comm",
                "cron",
                "--ring-size",
                "4",
            ],
        );
        assert_eq!(a.write, Some(PathBuf::from("/c/t.kz")));
        assert_eq!(a.out.view, ViewArg::Records);
        assert_eq!(a.out.output, FormatArg::Table);
        assert_eq!(a.out.monitor, ["file"]);
        assert_eq!(a.out.max_events, Some(1));
        assert_eq!(a.out.timeouts, "1,2");
        assert_eq!(a.out.token.as_deref(), Some("host-2"));
        assert_eq!(a.out.udp, ["[::1]:9"]);
        assert_eq!(a.out.pid, [3]);
        assert_eq!(a.out.comm, ["cron"]);
        assert_eq!(a.capture.ring_size, 4);
    }

    #[track_caller]
    fn usage_error(config: &str, sub: &str) -> String {
        let err = parse_with(config, sub, &[]).err().expect("an error");
        assert!(err.is::<UsageError>(), "{err:#}");
        err.to_string()
    }

    #[test]
    fn bad_files_name_the_key_and_line() {
        let err = usage_error("output = \"t.kz\"\n\nrotate-sise = 64\n", "record");
        assert!(
            err.contains("line 3 (`rotate-sise`): unknown field `rotate-sise`"),
            "{err}"
        );
        // A key of `record` is not one of `live`.
        let err = usage_error("rotate-size = 64\n", "live");
        assert!(
            err.contains("line 1 (`rotate-size`): unknown field"),
            "{err}"
        );
        let err = usage_error("keep = \"eight\"\n", "record");
        assert!(
            err.contains("line 1 (`keep`): invalid type: string \"eight\""),
            "{err}"
        );
        let err = usage_error("# comment\nevents = \"file\"\n", "record");
        assert!(err.contains("line 2 (`events`): invalid type"), "{err}");
        let err = usage_error("duration = \"soon\"\n", "record");
        assert!(
            err.contains("line 1 (`duration`): `soon` is not a duration"),
            "{err}"
        );
        let err = usage_error("output = \"xml\"\n", "live");
        assert!(
            err.contains("(`output`): `xml` is not one of `json`, `json-min`, `table`"),
            "{err}"
        );
        let err = usage_error("output = \"unterminated\n", "record");
        assert!(err.contains("line 1"), "{err}");
        // Escaped: a file cannot write to the terminal through the error.
        let err = usage_error("\"\\u001b[31m\" = 1\n", "record");
        assert!(!err.contains('\u{1b}'), "{err:?}");
    }
}
