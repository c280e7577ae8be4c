//! The analyst's filters of `kellect replay` and `kellect live`, the same in both views and
//! every output format: `--comm GLOB`, `--path GLOB`, `--uid N`, `--remote ADDR[:PORT]` or
//! CIDR, `--exit-code N`. Each flag takes a list (comma-separated, or repeated): an item
//! matches when any value of the list does; items pass when every flag given matches.
//! They run on the events and records themselves, before anything is rendered.
//!
//! Globs are `globset`'s (`*` does not cross `/` in `--path`; `**` does; `{a,b}` and
//! `[…]` as in a shell); a name without glob characters matches itself only.

use std::net::IpAddr;

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

use crate::replayer::input::decode::{Body, Event, SockAddr};
use crate::replayer::state::Resolved;
use crate::replayer::views::records::kflowd::{Record, RecordBody};
use crate::syscalls::Ksys;

/// An address, a network or either with a port: what `--remote` compares with the remote
/// end of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remote {
    /// The network (an address is a network of its full length).
    pub net: ipnet::IpNet,
    pub port: Option<u16>,
}

impl Remote {
    /// Parses `192.0.2.7`, `192.0.2.7:443`, `2001:db8::1`, `[2001:db8::1]:443`,
    /// `192.0.2.0/24`, `192.0.2.0/24:443`, `2001:db8::/32` and `[2001:db8::/32]:443`.
    /// `[2001:db8::1]` (brackets, no port) is the address. An IPv4-mapped IPv6 address or
    /// network (`::ffff:192.0.2.7`, `::ffff:192.0.2.0/120`) is its IPv4 one, as peers are
    /// compared. Port 0 is refused: no peer has it.
    pub fn parse(s: &str) -> Option<Remote> {
        let net = |a: &str| {
            a.parse::<ipnet::IpNet>()
                .ok()
                .or_else(|| a.parse::<IpAddr>().ok().map(ipnet::IpNet::from))
                .map(unmapped)
        };
        if let Some(n) = net(s) {
            return Some(Remote { net: n, port: None });
        }
        if let Some(n) = s
            .strip_prefix('[')
            .and_then(|a| a.strip_suffix(']'))
            .filter(|a| a.contains(':'))
            .and_then(net)
        {
            return Some(Remote { net: n, port: None });
        }
        let (addr, port) = s.rsplit_once(':')?;
        let port = port.parse::<u16>().ok().filter(|p| *p != 0)?;
        let addr = addr
            .strip_prefix('[')
            .and_then(|a| a.strip_suffix(']'))
            .unwrap_or(addr);
        // An IPv6 address with a port must be bracketed: `2001:db8::1:443` is an address.
        if addr.contains(':') && !s.starts_with('[') {
            return None;
        }
        Some(Remote {
            net: net(addr)?,
            port: Some(port),
        })
    }

    /// Whether `ip` (port `port`) is in this network and on this port (when one was given).
    pub fn matches(&self, ip: IpAddr, port: u16) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.net.contains(&ip) && self.port.is_none_or(|p| p == port)
    }
}

/// `net` with an IPv4-mapped IPv6 network (within `::ffff:0:0/96`) as its IPv4 network.
fn unmapped(net: ipnet::IpNet) -> ipnet::IpNet {
    match net {
        ipnet::IpNet::V6(v6) if v6.prefix_len() >= 96 => v6
            .network()
            .to_ipv4_mapped()
            .and_then(|v4| ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96).ok())
            .map_or(net, ipnet::IpNet::V4),
        _ => net,
    }
}

/// The compiled filters; the default passes everything.
#[derive(Debug, Clone, Default)]
pub struct Criteria {
    comms: Option<GlobSet>,
    paths: Option<GlobSet>,
    uids: Vec<u32>,
    remotes: Vec<Remote>,
    exit_codes: Vec<u32>,
}

/// The text a `--comm` or `--path` glob is matched against: the name as the output shows
/// it, so what an analyst reads is what a glob finds. A name that is not UTF-8 shows each
/// such byte as `\xNN` and a backslash as `\\` ([`crate::replayer::bytes::escaped`]). In a
/// glob a backslash escapes the next character: the name shown as `c\xff` is matched by
/// the glob `c\\xff`, or `c?xff`.
pub(crate) fn as_shown(name: &str) -> std::borrow::Cow<'_, str> {
    if crate::replayer::bytes::has_raw(name) {
        std::borrow::Cow::Owned(crate::replayer::bytes::escaped(name))
    } else {
        std::borrow::Cow::Borrowed(name)
    }
}

/// A glob of `--comm` or `--path` that does not compile.
#[derive(Debug, thiserror::Error)]
#[error("{flag} `{glob}` is not a glob: {source}")]
pub struct BadGlob {
    pub flag: &'static str,
    pub glob: String,
    source: globset::Error,
}

pub(crate) fn glob_set(
    flag: &'static str,
    globs: &[String],
    separator: bool,
) -> Result<Option<GlobSet>, BadGlob> {
    if globs.is_empty() {
        return Ok(None);
    }
    let mut set = GlobSetBuilder::new();
    for g in globs {
        let bad = |source| BadGlob {
            flag,
            glob: g.clone(),
            source,
        };
        let glob: Glob = GlobBuilder::new(g)
            .literal_separator(separator)
            .backslash_escape(true)
            .build()
            .map_err(bad)?;
        set.add(glob);
    }
    set.build().map(Some).map_err(|source| BadGlob {
        flag,
        glob: globs.join(","),
        source,
    })
}

impl Criteria {
    /// The filters of `--comm` (globs on the process name), `--path` (globs on absolute
    /// paths), `--uid`, `--remote` and `--exit-code`; an empty list does not filter.
    pub fn new(
        comms: &[String],
        paths: &[String],
        uids: Vec<u32>,
        remotes: Vec<Remote>,
        exit_codes: Vec<u32>,
    ) -> Result<Criteria, BadGlob> {
        Ok(Criteria {
            comms: glob_set("--comm", comms, false)?,
            paths: glob_set("--path", paths, true)?,
            uids,
            remotes,
            exit_codes,
        })
    }

    /// Whether no filter is set.
    pub fn is_empty(&self) -> bool {
        self.comms.is_none()
            && self.paths.is_none()
            && self.uids.is_empty()
            && self.remotes.is_empty()
            && self.exit_codes.is_empty()
    }

    fn comm_ok(&self, comm: &str) -> bool {
        self.comms
            .as_ref()
            .is_none_or(|g| g.is_match(as_shown(comm).as_ref()))
    }

    fn path_ok<'a>(&self, mut paths: impl Iterator<Item = &'a str>) -> bool {
        self.paths
            .as_ref()
            .is_none_or(|g| paths.any(|p| g.is_match(as_shown(p).as_ref())))
    }

    fn uid_ok(&self, uid: u32) -> bool {
        self.uids.is_empty() || self.uids.contains(&uid)
    }

    fn remote_ok(&self, remote: Option<(IpAddr, u16)>) -> bool {
        self.remotes.is_empty()
            || remote.is_some_and(|(ip, port)| self.remotes.iter().any(|r| r.matches(ip, port)))
    }

    fn exit_ok(&self, code: Option<u32>) -> bool {
        self.exit_codes.is_empty() || code.is_some_and(|c| self.exit_codes.contains(&c))
    }

    /// Whether an event of the events view passes: its `comm` and `uid`; its paths (the
    /// path arguments as resolved, the file its fd names, an exec's filename and
    /// executable, the UNIX path of its address argument); its remote end (the
    /// address argument (`addr`, `port`) of any syscall but bind, else its
    /// socket's remote end as the kernel had it);
    /// its `exit_code` (process_exit events: the status 0-255; a process a signal ended
    /// has none, so it never passes `--exit-code`).
    pub fn accepts_event(&self, event: &Event, resolved: &Resolved) -> bool {
        let c = &event.common;
        if !(self.comm_ok(&c.comm) && self.uid_ok(c.uid)) {
            return false;
        }
        let exit = match &event.body {
            // A process a signal ended has no exit status (wait(2): WIFEXITED is false).
            Body::Exit { code, .. } if code & 0x7f == 0 => Some((code >> 8) & 0xff),
            _ => None,
        };
        if !self.exit_ok(exit) {
            return false;
        }
        if self.paths.is_some() && !self.path_ok(event_paths(event, resolved).into_iter()) {
            return false;
        }
        self.remote_ok(event_remote(event))
    }

    /// Whether a record of the records view passes: `Proc` and `ProcUID`; its paths
    /// (a file record's `FilePath` + `File` and `FileOrigin`, a process record's
    /// `ProcExe`, a socket record's `SockAddress`); its remote end (`SockRemoteIP`,
    /// `SockRemotePort`); its `ProcExitCode` (process records; one with a `ProcExitSignal`
    /// has no exit status, so it never passes `--exit-code`).
    pub fn accepts_record(&self, r: &Record) -> bool {
        if !(self.comm_ok(&r.proc.comm) && self.uid_ok(r.proc.uid)) {
            return false;
        }
        let exit = match &r.body {
            RecordBody::Proc(p) if p.exit_signal.is_none() => p.exit_code,
            _ => None,
        };
        if !self.exit_ok(exit) {
            return false;
        }
        if self.paths.is_some() {
            let paths: Vec<String> = match &r.body {
                RecordBody::File(f) => std::iter::once(format!("{}{}", f.dir, f.name))
                    .chain(f.origin.clone())
                    .collect(),
                RecordBody::Proc(p) => p.exe.iter().cloned().collect(),
                RecordBody::Sock(s) => s.address.iter().cloned().collect(),
            };
            if !self.path_ok(paths.iter().map(String::as_str)) {
                return false;
            }
        }
        let remote = match &r.body {
            RecordBody::Sock(s) => s
                .remote_ip
                .as_deref()
                .and_then(|ip| ip.parse::<IpAddr>().ok())
                .map(|ip| (ip, s.remote_port.unwrap_or(0)))
                // An unconnected socket (0.0.0.0, port 0) has no remote end, as in events.
                .filter(|(ip, port)| !ip.is_unspecified() || *port != 0),
            _ => None,
        };
        self.remote_ok(remote)
    }
}

/// The paths an event shows (see [`Criteria::accepts_event`]).
fn event_paths<'a>(event: &'a Event, resolved: &'a Resolved) -> Vec<&'a str> {
    let mut out: Vec<&str> = [
        resolved.path0.as_deref(),
        resolved.path1.as_deref(),
        resolved.fd_name.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    match &event.body {
        Body::Exec {
            filename, exe_path, ..
        } => {
            out.push(filename);
            out.extend(exe_path.as_deref());
        }
        Body::Syscall(sc) => {
            if resolved.path0.is_none() {
                out.extend(sc.path0.as_deref());
            }
            if resolved.path1.is_none() {
                out.extend(sc.path1.as_deref());
            }
            if let Some(SockAddr::Unix { path }) = &sc.addr {
                out.push(path);
            }
        }
        _ => {}
    }
    out
}

/// The remote end of an event (see [`Criteria::accepts_event`]).
fn event_remote(event: &Event) -> Option<(IpAddr, u16)> {
    let Body::Syscall(sc) = &event.body else {
        return None;
    };
    // bind's address is the socket's own.
    let local = sc.id == Ksys::Bind as u16;
    match &sc.addr {
        Some(SockAddr::Inet { ip, port }) if !local => return Some((IpAddr::V4(*ip), *port)),
        Some(SockAddr::Inet6 { ip, port, .. }) if !local => return Some((IpAddr::V6(*ip), *port)),
        _ => {}
    }
    let i = sc.sock.as_ref()?;
    let ip = match i.family.get() {
        2 => IpAddr::from([i.raddr[0], i.raddr[1], i.raddr[2], i.raddr[3]]),
        10 => IpAddr::from(i.raddr),
        _ => return None,
    };
    // An unconnected socket has no remote end.
    (!ip.is_unspecified() || i.rport.get() != 0).then_some((ip, i.rport.get()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remotes_parse_in_every_form() {
        let r = |s: &str| Remote::parse(s).unwrap_or_else(|| panic!("{s}"));
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert!(r("192.0.2.7").matches(v4, 1));
        assert!(r("192.0.2.7:443").matches(v4, 443));
        assert!(!r("192.0.2.7:443").matches(v4, 80));
        assert!(r("192.0.2.0/24").matches(v4, 9));
        assert!(r("192.0.2.0/24:9").matches(v4, 9));
        assert!(!r("198.51.100.0/24").matches(v4, 9));
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert!(r("2001:db8::1").matches(v6, 5));
        assert!(r("[2001:db8::1]:5").matches(v6, 5));
        assert!(r("2001:db8::/32").matches(v6, 5));
        assert!(r("[2001:db8::/32]:5").matches(v6, 5));
        // An IPv4-mapped IPv6 peer is its IPv4 address.
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert!(r("192.0.2.0/24").matches(mapped, 1));
        for bad in [
            "",
            "host:80",
            "192.0.2.7:http",
            "192.0.2.0/33",
            "[192.0.2.7",
        ] {
            assert_eq!(Remote::parse(bad), None, "{bad}");
        }
    }

    /// `--remote ::ffff:192.0.2.7` matched no peer: peers are compared as IPv4 when
    /// mapped, the filter stayed IPv6. `[::1]` without a port was refused; `:0` accepted
    /// (and matched sockets whose port is unknown).
    #[test]
    fn mapped_bracketed_and_port_zero_remotes() {
        let r = |s: &str| Remote::parse(s).unwrap_or_else(|| panic!("{s}"));
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        for filter in [
            "::ffff:192.0.2.7",
            "[::ffff:192.0.2.7]:443",
            "::ffff:192.0.2.0/120",
        ] {
            assert!(r(filter).matches(v4, 443), "{filter}");
            assert!(r(filter).matches(mapped, 443), "{filter}");
        }
        assert!(!r("::ffff:192.0.2.0/120").matches("192.0.3.7".parse().unwrap(), 1));
        assert_eq!(r("[::1]"), r("::1"));
        assert!(r("[2001:db8::/32]").matches("2001:db8::9".parse().unwrap(), 1));
        for bad in [
            "192.0.2.7:0",
            "[::1]:0",
            "[192.0.2.7]",
            "[]",
            "[::1]:",
            ":80",
        ] {
            assert_eq!(Remote::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn globs_match_names_and_paths() {
        let c = Criteria::new(
            &["ba*".into()],
            &["/etc/*.conf".into(), "/usr/**".into()],
            vec![],
            vec![],
            vec![],
        )
        .unwrap();
        assert!(c.comm_ok("bash") && !c.comm_ok("sh"));
        assert!(c.path_ok(["/etc/ld.so.conf"].into_iter()));
        assert!(!c.path_ok(["/etc/x/y.conf"].into_iter()), "* stops at /");
        assert!(c.path_ok(["/tmp/a", "/usr/lib/x/y"].into_iter()));
        assert!(!c.path_ok(std::iter::empty()));
        let bad = Criteria::new(&[], &["[".into()], vec![], vec![], vec![]).unwrap_err();
        assert!(bad.to_string().starts_with("--path `[`"), "{bad}");
    }
}
