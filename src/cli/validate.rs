//! Stage two of the command line: the validated configurations the library takes, made
//! from what the user typed ([`super::args`], with the `--config` file already merged in)
//! by `TryFrom`. Every error here is a usage error (exit code 2). Defaults are not set
//! here: they come from the library ([`kellect::defaults`], `RecordsConfig::default`)
//! through the clap definitions.

use std::path::PathBuf;
use std::sync::LazyLock;

use anyhow::Result;

use kellect::replayer::render::output::MAX_COLLECTORS;
use kellect::replayer::views::events::EVENT_TYPES;
use kellect::replayer::views::filter::{Criteria, Remote};
use kellect::replayer::views::records::{Monitor, RecordsConfig};
use kellect::replayer::{Filter, MemoryBudget, OutputFormat, ReplayConfig, TimeBound, View};
use kellect::syscalls::Group;

use super::args::{FormatArg, OutputArgs, SliceArgs, ViewArg};
use super::UsageError;

/// The names `-m` takes for each monitor, the first one canonical (shown as the default).
const MONITORS: [(&str, Monitor); 4] = [
    ("file", Monitor::Filesystem),
    ("filesystem", Monitor::Filesystem),
    ("socket", Monitor::Socket),
    ("process", Monitor::Process),
];

/// `-m`'s default: the monitors of [`RecordsConfig::default`], by their `-m` names
/// (`file,socket,process`).
pub(crate) fn default_monitors() -> &'static str {
    static NAMES: LazyLock<String> = LazyLock::new(|| {
        let names: Vec<&str> = RecordsConfig::default()
            .monitors
            .iter()
            .filter_map(|m| MONITORS.iter().find(|(_, x)| x == m))
            .map(|(name, _)| *name)
            .collect();
        names.join(",")
    });
    NAMES.as_str()
}

/// `-e`'s default: every event group (`file,process,network,permission`), as
/// `RecordConfig::new` has them.
pub(crate) fn default_groups() -> &'static str {
    static NAMES: LazyLock<String> = LazyLock::new(|| {
        let names: Vec<&str> = Group::ALL.iter().map(|g| g.name()).collect();
        names.join(",")
    });
    NAMES.as_str()
}

/// `-t`'s default: the timeouts of [`RecordsConfig::default`] as `IDLE,ACTIVE` seconds.
pub(crate) fn default_timeouts() -> String {
    let d = RecordsConfig::default();
    format!(
        "{},{}",
        d.idle_ns / 1_000_000_000,
        d.active_ns / 1_000_000_000
    )
}

/// The budget of `--max-memory`, or a usage error.
pub(crate) fn memory_budget(mib: u64) -> Result<MemoryBudget> {
    match MemoryBudget::from_mib(mib) {
        Some(b) => Ok(b),
        None => usage!(
            "--max-memory must be between {} and {} MiB, not {mib}",
            MemoryBudget::MIN_MIB,
            1u64 << 40
        ),
    }
}

/// A validated replay configuration and its output: what `replay` and `live` share. Its
/// `cfg.inputs` is empty and its `cfg.budget` the default: the caller sets them.
pub(crate) struct OutputPlan {
    pub(crate) cfg: ReplayConfig,
    pub(crate) collectors: Vec<std::net::SocketAddr>,
    /// `--udp-rate`: datagrams per second to the collectors in all (0: unpaced).
    pub(crate) udp_rate: u32,
    /// `--syslog-tcp`: syslog collectors over TCP.
    pub(crate) syslog_tcp: Vec<std::net::SocketAddr>,
    pub(crate) quiet: bool,
}

/// The collector addresses of `flag` (`-u`, `--syslog-tcp`): at most [`MAX_COLLECTORS`],
/// each IP:PORT (`example` shows an IPv6 one in the error) of one host that can receive:
/// not port 0, not 0.0.0.0 or [::], not 255.255.255.255, and over a `stream` (TCP) not a
/// multicast group; else a usage error that says which.
fn collector_addresses(
    flag: &str,
    given: &[String],
    example: &str,
    stream: bool,
) -> Result<Vec<std::net::SocketAddr>> {
    if given.len() > MAX_COLLECTORS {
        usage!(
            "{flag} takes at most {MAX_COLLECTORS} collectors, not {}",
            given.len()
        );
    }
    let mut addresses = Vec::new();
    for u in given {
        let Ok(addr) = u.parse::<std::net::SocketAddr>() else {
            usage!("{flag} `{u}` is not IP:PORT (IPv6: {example})")
        };
        // Each would be accepted and then fail at every record, as "not delivered".
        let ip = addr.ip();
        let broadcast = matches!(ip, std::net::IpAddr::V4(v4) if v4.is_broadcast());
        let why = match () {
            _ if addr.port() == 0 => "port 0 is no collector's port",
            _ if ip.is_unspecified() => "names no host (this host is 127.0.0.1 or [::1])",
            _ if broadcast => "is the broadcast address",
            _ if stream && ip.is_multicast() => "is a multicast group: TCP needs one host",
            _ => {
                addresses.push(addr);
                continue;
            }
        };
        usage!("{flag} `{u}` {why}")
    }
    Ok(addresses)
}

/// `--event` names: each one a catalogue event type, else a usage error listing them.
fn check_event_types(types: &[String]) -> Result<()> {
    for t in types {
        if !EVENT_TYPES.contains(&t.as_str()) {
            usage!(
                "unknown event type `{t}` in --event (known: {})",
                EVENT_TYPES.join(", ")
            );
        }
    }
    Ok(())
}

/// `--comm`, `--path`, `--uid`, `--remote`, `--exit-code`: the compiled filters, or a
/// usage error naming the glob, address or status that is not one.
/// Refuses a `--comm` name that can match no process: the kernel keeps 15 bytes of a
/// process name (TASK_COMM_LEN 16 with its NUL), so a longer name without glob characters
/// never matches (pgrep warns the same). The error names what to write instead: the first
/// 15 bytes, or, when they end inside a character (whose cut bytes replay shows as
/// `\xNN`), the whole characters before it and `*`.
pub(super) fn check_comms(comms: &[String]) -> Result<()> {
    let literal = |c: &&String| !c.contains(['*', '?', '[', '{', '\\']);
    if let Some(c) = comms.iter().find(|c| literal(c) && c.len() > 15) {
        let mut cut = 15;
        while !c.is_char_boundary(cut) {
            cut -= 1;
        }
        let star = if cut < 15 { "*" } else { "" };
        usage!(
            "--comm `{c}` matches no process: the kernel keeps the first 15 bytes of a \
             name; write `{}{star}`",
            &c[..cut]
        );
    }
    Ok(())
}

/// `--path` and `--remote` of `kellect tree` and `kellect report`, checked as `replay`'s.
pub(super) fn activity(
    paths: &[String],
    remotes: &[String],
) -> Result<kellect::replayer::views::tree::Activity> {
    let parsed = remote_ends(remotes)?;
    check_paths(paths)?;
    match kellect::replayer::views::tree::Activity::new(paths, parsed) {
        Ok(a) => Ok(a),
        Err(e) => usage!("{e}"),
    }
}

/// `--remote` values, parsed; a usage error names one that is not an end or network.
fn remote_ends(remotes: &[String]) -> Result<Vec<Remote>> {
    let mut parsed = Vec::new();
    for r in remotes {
        match Remote::parse(r) {
            Some(remote) => parsed.push(remote),
            None if r.ends_with(":0") => usage!("--remote `{r}`: port 0 is no peer's port"),
            None => usage!(
                "--remote `{r}` is not ADDR, ADDR:PORT or a network (192.0.2.7, \
                 192.0.2.7:443, 10.0.0.0/8, [2001:db8::1]:53)"
            ),
        }
    }
    Ok(parsed)
}

/// Refuses a `--path` glob that can match no path.
fn check_paths(paths: &[String]) -> Result<()> {
    // Paths are absolute (or `@name`, an abstract UNIX socket) and `*`, `?` and `[…]`
    // never match `/`: a glob that starts otherwise than with `/`, `@`, `**` or `{`
    // matches nothing, silently.
    let anchored = |p: &&String| ["/", "@", "**", "{"].iter().any(|a| p.starts_with(a));
    if let Some(p) = paths.iter().find(|p| !anchored(p)) {
        usage!(
            "--path `{p}` matches no path: paths are absolute and `*` stops at `/`; write \
             /dir/{p} or **/{p}"
        );
    }
    Ok(())
}

fn criteria(
    comms: &[String],
    paths: &[String],
    uids: Vec<u32>,
    remotes: &[String],
    exit_codes: Vec<u32>,
) -> Result<Criteria> {
    let parsed = remote_ends(remotes)?;
    check_comms(comms)?;
    check_paths(paths)?;
    if let Some(code) = exit_codes.iter().find(|c| **c > 255) {
        usage!("--exit-code {code}: an exit status is 0-255");
    }
    match Criteria::new(comms, paths, uids, parsed, exit_codes) {
        Ok(c) => Ok(c),
        Err(e) => usage!("{e}"),
    }
}

/// `--since`/`--until`: an RFC 3339 time or seconds after the recording started.
pub(super) fn time_bound(flag: &str, v: &Option<String>) -> Result<Option<TimeBound>> {
    match v {
        None => Ok(None),
        Some(s) => match TimeBound::parse(s) {
            Some(b) => Ok(Some(b)),
            None => usage!(
                "{flag} `{s}` is neither an RFC 3339 time (2026-11-21T07:40:49Z) \
                 nor a number of seconds"
            ),
        },
    }
}

/// `--since` after `--until` (both times, or both seconds): a usage error, not an empty
/// output.
pub(super) fn time_range(since: Option<TimeBound>, until: Option<TimeBound>) -> Result<()> {
    if let (Some(s), Some(u)) = (since, until) {
        if s.after(u) {
            usage!("--since is after --until: the range holds nothing");
        }
    }
    Ok(())
}

/// `--container` values: each trimmed, none empty, none a path (a container's id or
/// name is one cgroup path component: it never holds `/`).
pub(super) fn container_ids(ids: Vec<String>) -> Result<Vec<String>> {
    ids.into_iter()
        .map(|id| {
            let id = id.trim().to_owned();
            if id.is_empty() {
                usage!("--container needs a container id or name");
            }
            if id.contains('/') {
                usage!(
                    "--container `{id}` is a path: give the container's id (64 hex digits, \
                     or its first 12) or name, as `docker ps` or `machinectl` shows it"
                );
            }
            Ok(id)
        })
        .collect()
}

impl TryFrom<SliceArgs> for kellect::replayer::slice::SliceConfig {
    type Error = anyhow::Error;

    /// Validates the filters as `replay` does; the inputs are found by the caller.
    fn try_from(a: SliceArgs) -> Result<Self> {
        check_event_types(&a.event)?;
        let since = time_bound("--since", &a.since)?;
        let until = time_bound("--until", &a.until)?;
        time_range(since, until)?;
        Ok(kellect::replayer::slice::SliceConfig {
            filter: Filter {
                event_types: a.event,
                pids: a.pid,
                since,
                until,
                containers: container_ids(a.container)?,
                criteria: criteria(&a.comm, &[], Vec::new(), &[], Vec::new())?,
            },
            budget: memory_budget(a.max_memory)?,
            inputs: Vec::new(),
            output: a.output,
            overwrite: a.force,
        })
    }
}

impl TryFrom<OutputArgs> for OutputPlan {
    type Error = anyhow::Error;

    fn try_from(a: OutputArgs) -> Result<Self> {
        let view = match a.view {
            ViewArg::Events => View::Events,
            ViewArg::Records => View::Records,
        };
        check_event_types(&a.event)?;
        if view == View::Records && !a.event.is_empty() {
            usage!("--event selects event types: use it with --view events");
        }
        let criteria = criteria(&a.comm, &a.path, a.uid, &a.remote, a.exit_code)?;
        let since = time_bound("--since", &a.since)?;
        let until = time_bound("--until", &a.until)?;
        time_range(since, until)?;
        let Some((idle, active)) = a
            .timeouts
            .split_once(',')
            .and_then(|(i, t)| Some((i.trim().parse::<u64>().ok()?, t.trim().parse::<u64>().ok()?)))
            .filter(|(i, t)| *i > 0 && *t > 0)
        else {
            usage!(
                "-t `{}`: expected IDLE,ACTIVE in whole seconds, e.g. 15,1800",
                a.timeouts
            )
        };
        let mut monitors = Vec::new();
        for m in &a.monitor {
            match MONITORS.iter().find(|(name, _)| name == m) {
                Some((_, monitor)) => monitors.push(*monitor),
                None => usage!("unknown monitor `{m}` in -m (known: file, socket, process)"),
            }
        }
        if a.max_events == Some(0) {
            usage!("--max-events must be at least 1");
        }
        let collectors = collector_addresses("-u", &a.udp, "[::1]:5000", false)?;
        let syslog_tcp = collector_addresses("--syslog-tcp", &a.syslog_tcp, "[::1]:6514", true)?;
        Ok(OutputPlan {
            cfg: ReplayConfig {
                inputs: Vec::<PathBuf>::new(),
                format: match a.output {
                    FormatArg::Json => OutputFormat::Json,
                    FormatArg::JsonMin => OutputFormat::JsonMin,
                    FormatArg::Table => OutputFormat::Table,
                    FormatArg::Parquet => OutputFormat::Parquet,
                },
                view,
                filter: Filter {
                    event_types: a.event,
                    pids: a.pid,
                    since,
                    until,
                    containers: container_ids(a.container)?,
                    criteria,
                },
                records: RecordsConfig {
                    max_events: a.max_events,
                    idle_ns: idle.saturating_mul(1_000_000_000),
                    active_ns: active.saturating_mul(1_000_000_000),
                    token: a.token,
                    monitors,
                },
                budget: MemoryBudget::default(),
            },
            collectors,
            udp_rate: a.udp_rate,
            syslog_tcp,
            quiet: a.quiet,
        })
    }
}

#[cfg(feature = "record")]
pub(crate) use recording::RecordJob;

/// The recorder's configurations (feature `record`).
#[cfg(feature = "record")]
mod recording {
    use std::ffi::OsString;
    use std::path::PathBuf;

    use anyhow::Result;

    use kellect::live::LiveConfig;
    use kellect::recorder::{CommandOutput, RecordConfig};
    use kellect::syscalls::Group;

    use super::super::args::{CaptureArgs, LiveArgs, RecordArgs};
    use super::super::UsageError;
    use super::OutputPlan;

    /// A validated `kellect record`: the recorder's configuration and whether to print the
    /// summary.
    pub(crate) struct RecordJob {
        pub(crate) cfg: RecordConfig,
        pub(crate) quiet: bool,
    }

    impl TryFrom<RecordArgs> for RecordJob {
        type Error = anyhow::Error;

        fn try_from(a: RecordArgs) -> Result<Self> {
            let Some(output) = a.output else {
                usage!(
                    "-o/--output FILE is required: the trace file to write (on the command \
                     line, or as `output` in the --config file)"
                );
            };
            let mut cfg = capture_config(a.capture, Some(output), a.command)?;
            cfg.overwrite = a.force;
            if !(1..=19).contains(&a.compression_level) {
                usage!(
                    "--compression-level must be between 1 and 19, not {}",
                    a.compression_level
                );
            }
            cfg.compression_level = a.compression_level;
            cfg.rotate_size = match a.rotate_size {
                Some(0) => usage!("--rotate-size must be at least 1 MiB"),
                Some(mib) if mib > 1 << 40 => {
                    usage!(
                        "--rotate-size must be at most {} MiB, not {mib}",
                        1u64 << 40
                    )
                }
                Some(mib) => Some(mib << 20),
                None => None,
            };
            cfg.rotate_time = a.rotate_time;
            if a.keep == Some(0) {
                usage!("--keep must be at least 1");
            }
            cfg.keep = a.keep;
            cfg.pidfile = a.pidfile;
            cfg.verbose = !a.quiet;
            Ok(RecordJob {
                cfg,
                quiet: a.quiet,
            })
        }
    }

    impl TryFrom<LiveArgs> for LiveConfig {
        type Error = anyhow::Error;

        /// `--legend` is not looked at: the caller prints the legend instead.
        fn try_from(a: LiveArgs) -> Result<Self> {
            let plan = OutputPlan::try_from(a.out)?;
            if plan.cfg.format == kellect::replayer::OutputFormat::Parquet {
                usage!(
                    "-o parquet writes a file: record with -w TRACE, then \
                     `kellect replay TRACE -o parquet --to FILE`"
                );
            }
            let mut cfg = capture_config(a.capture, a.write, a.command)?;
            cfg.overwrite = a.force;
            if let Some(path) = a.command_output {
                if cfg.command.is_empty() {
                    // clap says so for the command line; this is for the --config file.
                    usage!("--command-output goes with a command (after --)");
                }
                cfg.command_output = CommandOutput::File(path);
            }
            // Remote anchoring: with --seal-key, the -u collectors also get every seal.
            if cfg.seal_key.is_some() {
                cfg.anchors = plan.collectors.clone();
            }
            Ok(LiveConfig {
                record: cfg,
                replay: plan.cfg,
                collectors: plan.collectors,
                udp_rate: plan.udp_rate,
                syslog_tcp: plan.syslog_tcp,
                quiet: plan.quiet,
            })
        }
    }

    /// The recorder configuration shared by `record` and `live`, validated.
    fn capture_config(
        c: CaptureArgs,
        output: Option<PathBuf>,
        command: Vec<OsString>,
    ) -> Result<RecordConfig> {
        if !c.ring_size.is_power_of_two() || c.ring_size == 0 || c.ring_size > 2048 {
            usage!(
                "--ring-size must be a power of two between 1 and 2048 MiB, not {}",
                c.ring_size
            );
        }
        if c.frame_size == 0 || c.frame_size > 32 * 1024 {
            usage!(
                "--frame-size must be between 1 and 32768 KiB, not {}",
                c.frame_size
            );
        }
        if c.payload_size >= 2048 {
            usage!(
                "--payload-size must be between 0 and 2047 bytes, not {}",
                c.payload_size
            );
        }
        if c.all && command.is_empty() {
            usage!(
                "-a/--all goes with a command (without one, kellect records the whole system \
                 anyway)"
            );
        }
        let mut groups = Vec::new();
        let mut packets = false;
        for name in &c.events {
            match Group::from_name(name) {
                Some(g) if !groups.contains(&g) => groups.push(g),
                Some(_) => {}
                None if name == "packets" => packets = true,
                None => usage!(
                    "unknown event group `{name}` in -e (known: file, process, network, \
                     permission, system, packets)"
                ),
            }
        }
        if packets && !groups.contains(&Group::Network) {
            usage!("-e packets counts the packets of sockets: it goes with -e network");
        }
        let protocols = match kellect::meta::parse_protocol_specs(&c.protocol) {
            Ok(p) => p,
            Err(e) => usage!("-p {e}"),
        };
        let mut cfg = RecordConfig::new(output);
        cfg.groups = groups;
        cfg.packets = packets;
        cfg.protocols = protocols;
        cfg.payload_max = c.payload_size;
        cfg.versions = c.versions;
        cfg.checksums = c.checksums;
        cfg.command = command;
        cfg.system_wide = c.all;
        cfg.duration = c.duration;
        cfg.ring_size = c.ring_size << 20;
        cfg.frame_size = c.frame_size << 10;
        cfg.seal_key = c.seal_key;
        cfg.note = c.note;
        Ok(cfg)
    }
}
