//! Host context that names what records only number: users and groups, mounted
//! filesystems, network interfaces. Each collector reads the live system and never fails:
//! what cannot be read is left out. The parsing is kept apart from the reading so it can be
//! tested on text.

use std::collections::BTreeMap;
use std::fs;
use std::net::IpAddr;

use procfs::process::{MountInfo, Process};

use crate::meta::{
    Accounts, CgroupDir, CgroupLine, Cgroups, IdName, Interface, Interfaces, Mount, Mounts,
    ProcCgroups, CGROUPS_MAX,
};

/// The host's users and groups, from /etc/passwd and /etc/group.
pub fn accounts() -> Accounts {
    let read = |path| fs::read(path).unwrap_or_default();
    Accounts {
        users: parse_passwd(&String::from_utf8_lossy(&read("/etc/passwd"))),
        groups: parse_group(&String::from_utf8_lossy(&read("/etc/group"))),
    }
}

/// Users from passwd(5) text (`name:password:uid:gid:…`), in file order.
pub fn parse_passwd(text: &str) -> Vec<IdName> {
    parse_id_names(text)
}

/// Groups from group(5) text (`name:password:gid:members`), in file order.
pub fn parse_group(text: &str) -> Vec<IdName> {
    parse_id_names(text)
}

/// passwd and group share the layout that matters here: the name first, the id third.
/// Comments, NIS compat entries (`+…`, `-…`) and malformed lines are skipped.
fn parse_id_names(text: &str) -> Vec<IdName> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?.trim();
            if name.is_empty() || name.starts_with(['#', '+', '-']) {
                return None;
            }
            let id = fields.nth(1)?.trim().parse().ok()?;
            Some(IdName {
                id,
                name: name.to_owned(),
            })
        })
        .collect()
}

/// The mount table of the recorder's mount namespace, in mountinfo order.
pub fn mounts() -> Mounts {
    let infos = Process::myself().and_then(|p| p.mountinfo());
    Mounts {
        mounts: infos
            .map(|infos| infos.iter().filter_map(mount_from_info).collect())
            .unwrap_or_default(),
    }
}

/// One mountinfo entry as a [`Mount`]; `None` if its `major:minor` is malformed.
fn mount_from_info(info: &MountInfo) -> Option<Mount> {
    Some(Mount {
        dev: parse_majmin(&info.majmin)?,
        mount_point: unescape_octal(&info.mount_point.to_string_lossy()),
        source: info
            .mount_source
            .as_deref()
            .map(unescape_octal)
            .unwrap_or_default(),
        fs_type: info.fs_type.clone(),
    })
}

/// Longest cgroup path kept, in bytes (longer ones are left out).
const CGROUP_PATH_MAX: usize = 4095;
/// Deepest cgroup directory walked below the root.
const CGROUP_DEPTH_MAX: usize = 64;
/// Most /proc/PID/cgroup lines kept per process.
const CGROUP_LINES_MAX: usize = 16;

/// The v2 cgroup tree (its mount from /proc/self/mountinfo: `/sys/fs/cgroup` on a v2 host,
/// `/sys/fs/cgroup/unified` on a hybrid one) and each live process's cgroups. Bounded: at
/// most [`CGROUPS_MAX`] directories (then `dirs_cut`) and processes, paths of at most
/// 4095 bytes, directories at most 64 deep, 16 lines per process.
pub fn cgroups() -> Cgroups {
    let mount = Process::myself()
        .and_then(|p| p.mountinfo())
        .ok()
        .and_then(|infos| {
            infos
                .iter()
                .find(|m| m.fs_type == "cgroup2")
                .map(|m| m.mount_point.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    let (dirs, dirs_cut) = if mount.is_empty() {
        (Vec::new(), false)
    } else {
        walk_cgroups(std::path::Path::new(&mount))
    };
    let mut processes = Vec::new();
    if let Ok(dir) = fs::read_dir("/proc") {
        let mut pids: Vec<u32> = dir
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect();
        pids.sort_unstable();
        for pid in pids.into_iter().take(CGROUPS_MAX) {
            if let Ok(text) = fs::read_to_string(format!("/proc/{pid}/cgroup")) {
                processes.push(ProcCgroups {
                    pid,
                    lines: parse_proc_cgroup(&text),
                });
            }
        }
    }
    Cgroups {
        mount,
        dirs,
        dirs_cut,
        processes,
    }
}

/// The directories of the cgroup2 file system at `root`, depth first with names sorted:
/// (directory inode = cgroup id, path from the root); whether some were left out.
fn walk_cgroups(root: &std::path::Path) -> (Vec<CgroupDir>, bool) {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut cut = false;
    // (directory, path from the root, depth)
    let mut stack = vec![(root.to_path_buf(), "/".to_owned(), 0usize)];
    while let Some((dir, path, depth)) = stack.pop() {
        let Ok(meta) = fs::metadata(&dir) else {
            continue;
        };
        if out.len() >= CGROUPS_MAX {
            cut = true;
            break;
        }
        out.push(CgroupDir {
            id: meta.ino(),
            path: path.clone(),
        });
        if depth >= CGROUP_DEPTH_MAX {
            cut = true;
            continue;
        }
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        let mut children: Vec<(String, std::path::PathBuf)> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .collect();
        children.sort();
        for (name, child) in children.into_iter().rev() {
            let sub = if path == "/" {
                format!("/{name}")
            } else {
                format!("{path}/{name}")
            };
            if sub.len() > CGROUP_PATH_MAX {
                cut = true;
                continue;
            }
            stack.push((child, sub, depth + 1));
        }
    }
    (out, cut)
}

/// /proc/PID/cgroup text (`hierarchy-id:controllers:path` lines) as [`CgroupLine`]s: the
/// v2 line, and each v1 path once (the first v1 line that has it), at most 16 lines; malformed lines and paths longer
/// than 4095 bytes are left out.
pub fn parse_proc_cgroup(text: &str) -> Vec<CgroupLine> {
    let mut out: Vec<CgroupLine> = Vec::new();
    for line in text.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(h), Some(_), Some(path)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        let Ok(hierarchy) = h.parse() else { continue };
        let v1_again = hierarchy != 0 && out.iter().any(|l| l.hierarchy != 0 && l.path == path);
        if path.len() > CGROUP_PATH_MAX || v1_again {
            continue;
        }
        if out.len() >= CGROUP_LINES_MAX {
            break;
        }
        out.push(CgroupLine {
            hierarchy,
            path: path.to_owned(),
        });
    }
    out
}

/// `8:1` → the kernel's dev_t encoding, major << 20 | minor (as records carry it).
fn parse_majmin(majmin: &str) -> Option<u32> {
    let (major, minor) = majmin.split_once(':')?;
    let major: u32 = major.parse().ok()?;
    let minor: u32 = minor.parse().ok()?;
    (major < 1 << 12 && minor < 1 << 20).then_some(major << 20 | minor)
}

/// The kernel writes space, tab, newline and backslash in mountinfo paths as `\ooo`.
fn unescape_octal(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let digits = bytes.get(i + 1..i + 4);
        let octal = digits
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)))
            .map(|d| d.iter().fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0')));
        match octal {
            Some(value) if value <= 0xff => {
                out.push(value as u8);
                i += 4;
            }
            _ => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every network interface: those /sys/class/net lists (with or without addresses) and
/// any more that have addresses, sorted by index.
pub fn interfaces() -> Interfaces {
    let mut sys = Vec::new();
    if let Ok(dir) = fs::read_dir("/sys/class/net") {
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let read = |file| fs::read_to_string(entry.path().join(file)).unwrap_or_default();
            let Some(index) = read("ifindex").trim().parse().ok() else {
                continue;
            };
            sys.push(SysInterface {
                index,
                name,
                mac: normalize_mac(&read("address")),
            });
        }
    }
    let addrs = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .map(|a| InterfaceAddr {
            ip: a.ip(),
            index: a.index,
            name: a.name,
        })
        .collect();
    merge_interfaces(sys, addrs)
}

/// An interface as /sys/class/net describes it.
#[derive(Debug)]
struct SysInterface {
    index: u32,
    name: String,
    mac: String,
}

/// An address as getifaddrs(3) reports it. IPv4 aliases carry their label (`eth0:1`) as
/// the name, with the index of the interface they belong to.
#[derive(Debug)]
struct InterfaceAddr {
    name: String,
    index: Option<u32>,
    ip: IpAddr,
}

fn merge_interfaces(sys: Vec<SysInterface>, addrs: Vec<InterfaceAddr>) -> Interfaces {
    let mut by_name: BTreeMap<String, Interface> = sys
        .into_iter()
        .map(|s| {
            let interface = Interface {
                index: s.index,
                name: s.name.clone(),
                mac: s.mac,
                addrs: Vec::new(),
            };
            (s.name, interface)
        })
        .collect();
    for addr in addrs {
        let known = if by_name.contains_key(&addr.name) {
            Some(addr.name.clone())
        } else {
            addr.index.and_then(|index| {
                by_name
                    .values()
                    .find(|i| i.index == index)
                    .map(|i| i.name.clone())
            })
        };
        let name = known.unwrap_or_else(|| addr.name.clone());
        by_name
            .entry(name.clone())
            .or_insert_with(|| Interface {
                index: addr.index.unwrap_or(0),
                name,
                mac: String::new(),
                addrs: Vec::new(),
            })
            .addrs
            .push(addr.ip.to_string());
    }
    let mut interfaces: Vec<Interface> = by_name.into_values().collect();
    for interface in &mut interfaces {
        interface.addrs.sort();
        interface.addrs.dedup();
    }
    interfaces.sort_by(|a, b| (a.index, &a.name).cmp(&(b.index, &b.name)));
    Interfaces { interfaces }
}

/// A sysfs `address` as `aa:bb:…`, or empty when absent or all zeros (loopback, tunnels).
fn normalize_mac(address: &str) -> String {
    let mac = address.trim().to_ascii_lowercase();
    if mac.chars().all(|c| c == '0' || c == ':') {
        String::new()
    } else {
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_cgroup_lines() {
        let text = "12:pids:/docker/abc\n4:memory:/docker/abc\n1:name=systemd:/\n0::/\nbad\n";
        let lines = parse_proc_cgroup(text);
        let got: Vec<(u32, &str)> = lines.iter().map(|l| (l.hierarchy, &l.path[..])).collect();
        assert_eq!(got, [(12, "/docker/abc"), (1, "/"), (0, "/")]);
    }

    #[test]
    fn the_cgroup_tree_is_walked_with_inode_ids() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("b/c")).unwrap();
        fs::create_dir_all(dir.path().join("a")).unwrap();
        fs::write(dir.path().join("cgroup.procs"), "").unwrap();
        let (dirs, cut) = walk_cgroups(dir.path());
        let paths: Vec<&str> = dirs.iter().map(|d| &d.path[..]).collect();
        assert_eq!(paths, ["/", "/a", "/b", "/b/c"]);
        assert!(!cut);
        let ino = fs::metadata(dir.path().join("b/c")).unwrap().ino();
        assert_eq!(dirs[3].id, ino);
    }

    fn id_name(id: u32, name: &str) -> IdName {
        IdName {
            id,
            name: name.to_owned(),
        }
    }

    #[test]
    fn passwd_lines_and_bad_lines() {
        let text = "root:x:0:0:root:/root:/bin/bash\n\
                    # a comment\n\
                    \n\
                    daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
                    broken:x:notanumber:1::/:/bin/sh\n\
                    short:x\n\
                    +nisuser::::::\n\
                    :x:5:5::/:/bin/sh\n\
                    nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin";
        assert_eq!(
            parse_passwd(text),
            vec![
                id_name(0, "root"),
                id_name(1, "daemon"),
                id_name(65534, "nobody")
            ]
        );
    }

    #[test]
    fn group_lines() {
        let text = "root:x:0:\nadm:x:4:syslog,alice\nusers:x:100:\nbad:x:-1:\n";
        assert_eq!(
            parse_group(text),
            vec![id_name(0, "root"), id_name(4, "adm"), id_name(100, "users")]
        );
        assert!(parse_group("").is_empty());
    }

    fn mount(line: &str) -> Option<Mount> {
        mount_from_info(&MountInfo::from_line(line).expect("a valid mountinfo line"))
    }

    #[test]
    fn mountinfo_lines() {
        let root = "29 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw,errors=remount-ro";
        assert_eq!(
            mount(root),
            Some(Mount {
                dev: 259 << 20 | 2,
                mount_point: "/".into(),
                source: "/dev/nvme0n1p2".into(),
                fs_type: "ext4".into(),
            })
        );
        // No optional fields, `none` as the source, an escaped space in the mount point.
        let tmp = "40 29 0:36 / /mnt/my\\040disk rw,nosuid - tmpfs none rw,size=1024k";
        assert_eq!(
            mount(tmp),
            Some(Mount {
                dev: 36,
                mount_point: "/mnt/my disk".into(),
                source: String::new(),
                fs_type: "tmpfs".into(),
            })
        );
        let several = "50 29 0:45 / /proc rw master:2 propagate_from:3 - proc proc rw";
        assert_eq!(mount(several).unwrap().fs_type, "proc");
    }

    #[test]
    fn majmin_encoding() {
        assert_eq!(parse_majmin("8:1"), Some(8 << 20 | 1));
        assert_eq!(parse_majmin("0:1048575"), Some(0xfffff));
        assert_eq!(parse_majmin("0:1048576"), None);
        assert_eq!(parse_majmin("4096:0"), None);
        assert_eq!(parse_majmin("8"), None);
        assert_eq!(parse_majmin("a:b"), None);
    }

    #[test]
    fn octal_escapes() {
        assert_eq!(unescape_octal(r"/a\040b\011c\012d\134e"), "/a b\tc\nd\\e");
        // Not an escape: left as is.
        assert_eq!(unescape_octal(r"/a\04"), r"/a\04");
        assert_eq!(unescape_octal(r"\9999\"), r"\9999\");
        assert_eq!(unescape_octal(r"\777"), r"\777");
        assert_eq!(unescape_octal("é/ü"), "é/ü");
    }

    #[test]
    fn mac_addresses() {
        assert_eq!(normalize_mac("AA:bb:cc:dd:ee:0f\n"), "aa:bb:cc:dd:ee:0f");
        assert_eq!(normalize_mac("00:00:00:00:00:00\n"), "");
        assert_eq!(normalize_mac(""), "");
    }

    #[test]
    fn interfaces_merged_and_sorted() {
        let sys = vec![
            SysInterface {
                index: 2,
                name: "eth0".into(),
                mac: "52:54:00:12:34:56".into(),
            },
            SysInterface {
                index: 1,
                name: "lo".into(),
                mac: String::new(),
            },
            SysInterface {
                index: 3,
                name: "wg0".into(),
                mac: String::new(),
            },
        ];
        let addr = |name: &str, index, ip: &str| InterfaceAddr {
            name: name.into(),
            index,
            ip: ip.parse().unwrap(),
        };
        let addrs = vec![
            addr("lo", Some(1), "::1"),
            addr("lo", Some(1), "127.0.0.1"),
            addr("eth0", Some(2), "fe80::5054:ff:fe12:3456"),
            addr("eth0", Some(2), "10.0.0.5"),
            // An IPv4 alias label: belongs to eth0 by index.
            addr("eth0:1", Some(2), "10.0.0.6"),
            // Seen only by getifaddrs.
            addr("odd0", Some(9), "192.0.2.1"),
            addr("odd0", Some(9), "192.0.2.1"),
        ];
        let got = merge_interfaces(sys, addrs).interfaces;
        let summary: Vec<(u32, &str, &str, Vec<&str>)> = got
            .iter()
            .map(|i| {
                let addrs = i.addrs.iter().map(String::as_str).collect();
                (i.index, i.name.as_str(), i.mac.as_str(), addrs)
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (1, "lo", "", vec!["127.0.0.1", "::1"]),
                (
                    2,
                    "eth0",
                    "52:54:00:12:34:56",
                    vec!["10.0.0.5", "10.0.0.6", "fe80::5054:ff:fe12:3456"]
                ),
                (3, "wg0", "", vec![]),
                (9, "odd0", "", vec!["192.0.2.1"]),
            ]
        );
    }

    /// The collectors on this host: they must not fail, and what every Linux has is there.
    #[test]
    fn live_host() {
        let accounts = accounts();
        if std::path::Path::new("/etc/passwd").exists() {
            assert!(accounts.users.iter().any(|u| u.id == 0), "{accounts:?}");
        }
        let mounts = mounts();
        assert!(
            mounts.mounts.iter().any(|m| m.mount_point == "/"),
            "{mounts:?}"
        );
        let interfaces = interfaces().interfaces;
        assert!(interfaces.windows(2).all(|w| w[0].index <= w[1].index));
    }
}
