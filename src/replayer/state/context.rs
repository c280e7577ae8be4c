//! What a trace says about the host it was recorded on, gathered from its metadata blocks
//! as replay meets them: host and kernel, clocks, users and groups, mounts, interfaces,
//! and the facts learned about files. Replay never asks the machine it runs on.

use std::collections::HashMap;
use std::sync::Arc;

use crate::format::BlockKind;
use crate::meta::{
    self, Accounts, Capture, ClockSample, DecodeLimits, FileFacts, FileFactsBlock, HostInfo,
    Interface, Interfaces, MetaBlock, MetaError, Mount, Mounts, Stats,
};

#[derive(Debug, Default)]
pub struct Context {
    pub host: Option<HostInfo>,
    pub capture: Option<Capture>,
    pub hz: Option<u32>,
    /// User and group names by id (accounts block), shared by every record that names
    /// them.
    users: HashMap<u32, Arc<str>>,
    groups: HashMap<u32, Arc<str>>,
    /// What [`Context::user`] and [`Context::group`] give for an id the trace does not name.
    unnamed: Arc<str>,
    /// Counts the blocks applied that change what the host, accounts, mount and interface
    /// lookups give: a caller that keeps their results keeps them while it stays the same.
    generation: u64,
    mounts: Vec<Mount>,
    interfaces: Vec<Interface>,
    /// [`Context::host_ip`] of `interfaces`: every record carries it, so it is found once
    /// per interfaces block.
    host_ip: String,
    /// Facts about files by (device, inode); the latest learned wins.
    pub facts: HashMap<(u32, u64), FileFacts>,
    /// Clock samples seen so far, by boot time.
    clocks: Vec<ClockSample>,
    /// The last statistics block: the recording's totals so far.
    pub stats: Option<Stats>,
    /// Bounds on decoding each metadata block (from the replay's memory budget).
    limits: DecodeLimits,
}

/// What a metadata block changed, for the caller to act on.
pub enum Applied {
    Nothing,
    /// A time mark (a clock sample or statistics): boot-time ns.
    Tick(u64),
}

impl Context {
    /// An empty context whose metadata blocks are decoded within `limits`.
    pub fn with_limits(limits: DecodeLimits) -> Self {
        Context {
            limits,
            ..Context::default()
        }
    }

    /// The recording kernel's drop reason names (`Capture::drop_reasons`): empty when the
    /// trace has none.
    pub fn drop_reason_names(&self) -> &[(u32, String)] {
        self.capture
            .as_ref()
            .map_or(&[], |c| c.drop_reasons.as_slice())
    }

    /// Applies one metadata block (payload already decompressed). A block that does not
    /// decode, or passes a decoding limit, is an error for the caller to report; the
    /// context is left as it was.
    pub fn apply(&mut self, kind: BlockKind, payload: &[u8]) -> Result<Applied, MetaError> {
        fn de<T: MetaBlock>(p: &[u8], limits: &DecodeLimits) -> Result<T, MetaError> {
            meta::decode_limited(p, limits)
        }
        let limits = self.limits;
        if matches!(
            kind,
            BlockKind::HostInfo | BlockKind::Accounts | BlockKind::Mounts | BlockKind::Interfaces
        ) {
            self.generation += 1;
        }
        match kind {
            BlockKind::HostInfo => {
                let h: HostInfo = de(payload, &limits)?;
                self.add_clock(h.clock);
                if self.host.is_none() {
                    self.host = Some(h);
                }
            }
            BlockKind::ClockSync => {
                let c: ClockSample = de(payload, &limits)?;
                self.add_clock(c);
                return Ok(Applied::Tick(c.boot_ns));
            }
            BlockKind::Stats => {
                let s: Stats = de(payload, &limits)?;
                self.add_clock(s.at);
                let at = s.at.boot_ns;
                self.stats = Some(s);
                return Ok(Applied::Tick(at));
            }
            BlockKind::Accounts => {
                let a: Accounts = de(payload, &limits)?;
                self.users = a.users.into_iter().map(|u| (u.id, u.name.into())).collect();
                self.groups = a
                    .groups
                    .into_iter()
                    .map(|g| (g.id, g.name.into()))
                    .collect();
            }
            BlockKind::Mounts => self.mounts = de::<Mounts>(payload, &limits)?.mounts,
            BlockKind::Interfaces => {
                self.set_interfaces(de::<Interfaces>(payload, &limits)?.interfaces)
            }
            BlockKind::FileFacts => {
                for f in de::<FileFactsBlock>(payload, &limits)?.files {
                    self.facts.insert((f.dev, f.ino), f);
                }
            }
            BlockKind::Capture => {
                let c: Capture = de(payload, &limits)?;
                self.hz = c.hz;
                self.capture = Some(c);
            }
            _ => {}
        }
        Ok(Applied::Nothing)
    }

    fn add_clock(&mut self, c: ClockSample) {
        let i = self.clocks.partition_point(|x| x.boot_ns < c.boot_ns);
        if self.clocks.get(i).is_none_or(|x| x.boot_ns != c.boot_ns) {
            self.clocks.insert(i, c);
        }
    }

    /// Wall-clock ns of a boot-time stamp, by the latest clock sample at or before it (the
    /// first one for earlier stamps); boot time itself when the trace has no clock at all.
    pub fn realtime_ns(&self, boot_ns: u64) -> i64 {
        let i = self.clocks.partition_point(|c| c.boot_ns <= boot_ns);
        match self.clocks.get(i.saturating_sub(1)) {
            Some(sample) => sample.to_realtime_ns(boot_ns),
            None => i64::try_from(boot_ns).unwrap_or(i64::MAX),
        }
    }

    /// [`realtime_ns`](Self::realtime_ns), or `None` for a stamp whose wall-clock time is
    /// not representable (centuries away from the clock samples).
    pub fn checked_realtime_ns(&self, boot_ns: u64) -> Option<i64> {
        let i = self.clocks.partition_point(|c| c.boot_ns <= boot_ns);
        match self.clocks.get(i.saturating_sub(1)) {
            Some(sample) => sample.checked_realtime_ns(boot_ns),
            None => i64::try_from(boot_ns).ok(),
        }
    }

    /// Boot-time ns of the first and last clock sample seen so far.
    pub fn clock_range(&self) -> Option<(u64, u64)> {
        Some((self.clocks.first()?.boot_ns, self.clocks.last()?.boot_ns))
    }

    /// Boot-time ns the recording started.
    pub fn start_boot_ns(&self) -> u64 {
        self.host.as_ref().map_or(0, |h| h.clock.boot_ns)
    }

    /// The recorded host's boot id (`/proc/sys/kernel/random/boot_id`); empty when the
    /// trace has no host block.
    pub fn boot_id(&self) -> &str {
        self.host.as_ref().map_or("", |h| h.boot_id.as_str())
    }

    pub fn hostname(&self) -> &str {
        self.host.as_ref().map_or("", |h| h.hostname.as_str())
    }

    pub fn system(&self) -> &str {
        self.host.as_ref().map_or("", |h| h.sysname.as_str())
    }

    pub fn kernel(&self) -> &str {
        self.host.as_ref().map_or("", |h| h.release.as_str())
    }

    pub fn machine(&self) -> &str {
        self.host.as_ref().map_or("", |h| h.machine.as_str())
    }

    /// The host's first address that is not loopback or link-local.
    pub fn host_ip(&self) -> &str {
        &self.host_ip
    }

    /// The host's interfaces (an interfaces block), and the address [`Context::host_ip`]
    /// gives from them: the first of another interface than `lo` that is neither loopback
    /// nor link-local, IPv4 first (as kflowd); empty when there is none.
    fn set_interfaces(&mut self, interfaces: Vec<Interface>) {
        let mut addrs: Vec<&String> = interfaces
            .iter()
            .filter(|i| i.name != "lo")
            .flat_map(|i| &i.addrs)
            .collect();
        addrs.sort_by_key(|a| a.contains(':'));
        self.host_ip = addrs
            .into_iter()
            .find(|a| !a.starts_with("127.") && !a.starts_with("fe80:") && *a != "::1")
            .cloned()
            .unwrap_or_default();
        self.interfaces = interfaces;
    }

    /// The name of user `uid` on the recorded host (accounts block); empty when the trace
    /// does not name it. Shared, not copied.
    pub fn user(&self, uid: u32) -> Arc<str> {
        self.users.get(&uid).unwrap_or(&self.unnamed).clone()
    }

    /// The name of group `gid` on the recorded host (accounts block); empty when the trace
    /// does not name it. Shared, not copied.
    pub fn group(&self, gid: u32) -> Arc<str> {
        self.groups.get(&gid).unwrap_or(&self.unnamed).clone()
    }

    /// Changes whenever a host, accounts, mounts or interfaces block is applied: what
    /// [`hostname`](Self::hostname), [`host_ip`](Self::host_ip), [`system`](Self::system),
    /// [`kernel`](Self::kernel), [`user`](Self::user), [`group`](Self::group) and
    /// [`device`](Self::device) give stays the same while it does.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// kflowd's FileDevice: `902h:/dev/md2:/:ext4` (device number in hex as major<<8|minor,
    /// what is mounted, where, the filesystem type).
    pub fn device(&self, dev: u32) -> String {
        let (major, minor) = (dev >> 20, dev & 0xfffff);
        let number = (major << 8) | minor;
        let mount = self.mounts.iter().find(|m| m.dev == dev);
        // Built by hand, not by format!: every file record of the records view carries one.
        let mut text = String::with_capacity(
            12 + mount.map_or(0, |m| {
                3 + m.source.len() + m.mount_point.len() + m.fs_type.len()
            }),
        );
        let digits = (32 - number.leading_zeros()).div_ceil(4).max(1);
        for i in (0..digits).rev() {
            let nibble = (number >> (4 * i)) & 0xf;
            text.push(char::from_digit(nibble, 16).unwrap_or('0'));
        }
        text.push('h');
        if let Some(m) = mount {
            for part in [&m.source, &m.mount_point, &m.fs_type] {
                text.push(':');
                text.push_str(part);
            }
        }
        text
    }

    /// kflowd's interface text: `index:name:mac`.
    pub fn interface(&self, index: u32) -> Option<String> {
        if index == 0 {
            return None;
        }
        Some(match self.interfaces.iter().find(|i| i.index == index) {
            Some(i) => format!("{}:{}:{}", i.index, i.name, i.mac),
            None => index.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_interfaces() {
        let mut c = Context::default();
        c.mounts.push(Mount {
            dev: (9 << 20) | 2,
            mount_point: "/".into(),
            source: "/dev/md2".into(),
            fs_type: "ext4".into(),
        });
        c.set_interfaces(vec![
            Interface {
                index: 1,
                name: "lo".into(),
                mac: String::new(),
                addrs: vec!["127.0.0.1".into(), "::1".into()],
            },
            Interface {
                index: 4,
                name: "enp5s0".into(),
                mac: "0c:c4:7a:88:84:c2".into(),
                addrs: vec!["fe80::1".into(), "2001:db8::3".into(), "10.1.2.3".into()],
            },
        ]);
        assert_eq!(c.device((9 << 20) | 2), "902h:/dev/md2:/:ext4");
        assert_eq!(c.device(5), "5h");
        assert_eq!(c.device(0), "0h");
        // The widest: major 0xfff and minor 0xfffff, as (major << 8) | minor in u32.
        assert_eq!(
            c.device(u32::MAX),
            format!("{:x}h", (0xfffu32 << 8) | 0xfffff)
        );
        assert_eq!(c.interface(4).unwrap(), "4:enp5s0:0c:c4:7a:88:84:c2");
        assert_eq!(c.interface(0), None);
        assert_eq!(c.host_ip(), "10.1.2.3");
    }

    #[test]
    fn clocks_apply_in_order() {
        let mut c = Context::default();
        let s = |b: u64, r: i64| ClockSample {
            boot_ns: b,
            realtime_ns: r,
        };
        c.add_clock(s(100, 1_000));
        c.add_clock(s(50, 960));
        assert_eq!(c.realtime_ns(10), 920, "before all samples: the first");
        assert_eq!(c.realtime_ns(60), 970);
        assert_eq!(c.realtime_ns(150), 1_050);
    }
}
