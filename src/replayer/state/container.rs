//! The container a cgroup path belongs to, by the names container runtimes give their
//! cgroups. Pure text: replay applies it to the cgroup paths a trace recorded (the cgroup
//! snapshot, `cgroup_mkdir` and `cgroup_attach_task` records), on cgroup v1, v2 and
//! hybrid hosts alike.
//!
//! The patterns, each a path component (both the cgroupfs and the systemd cgroup drivers):
//!
//! | runtime          | component                                              | id        |
//! |------------------|--------------------------------------------------------|-----------|
//! | `docker`         | `docker-<64 hex>.scope`; `<64 hex>` below `docker`     | the hex   |
//! | `containerd`     | `cri-containerd-<64 hex>.scope`                        | the hex   |
//! | `cri-o`          | `crio-<64 hex>.scope`, `crio-<64 hex>`                 | the hex   |
//! | `podman`         | `libpod-<64 hex>.scope`, `libpod-<64 hex>`             | the hex   |
//! | `cri`            | `<64 hex>` below a `kubepods…` component (cgroupfs)    | the hex   |
//! | `systemd-nspawn` | `machine-<name>.scope` below `machine.slice`           | the name  |
//! | `lxc`            | `<name>` below `lxc`; `lxc.payload.<name>`             | the name  |
//!
//! Kubernetes pods: a `pod<uid>` component (cgroupfs) or `kubepods-…-pod<uid>.slice`
//! (systemd, the uid's `-` written `_`) gives the pod's uid. When several components match
//! (a container inside a container), the last, innermost one names the container. The
//! monitors beside containers (`crio-conmon-…`, `libpod-conmon-…`, `lxc.monitor.…`) are
//! not containers. systemd unit names are unescaped (`\x2d` is `-`).

use std::collections::HashMap;
use std::sync::Arc;

/// A cgroup as replay knows it: its path and the container that path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupInfo {
    /// Its id in the v2 hierarchy (0: a v1 cgroup, or unknown).
    pub id: u64,
    /// Its path from its hierarchy's root.
    pub path: String,
    pub container: Option<Container>,
}

impl CgroupInfo {
    /// The cgroup `id` at `path`, its container parsed from the path.
    pub fn new(id: u64, path: &str) -> Arc<CgroupInfo> {
        Arc::new(CgroupInfo {
            id,
            path: path.to_owned(),
            container: from_cgroup_path(path),
        })
    }
}

/// Most cgroups replay keeps (by id, and by path alone for those that name a container);
/// past it, or past [`NAMES_MAX_BYTES`], new ones are not kept: their processes show no
/// container.
pub const NAMES_MAX: usize = 65536;
/// Most bytes of cgroup paths replay keeps.
pub const NAMES_MAX_BYTES: usize = 16 << 20;
/// Longest cgroup path kept, in bytes: longer ones are cut (at a character boundary).
pub const PATH_MAX: usize = 4096;

/// The cgroups replay knows: the v2 hierarchy's by id (from the Cgroups block and the
/// `cgroup_mkdir` and `cgroup_attach_task` records), and cgroups known by path alone (v1
/// hierarchies, the snapshot's v2 lines outside the tree) when they name a container. Every
/// [`CgroupInfo`] a process holds is one of these: memory is bounded by [`NAMES_MAX`]
/// entries and [`NAMES_MAX_BYTES`] of paths, whatever the trace says.
#[derive(Debug, Default)]
pub struct CgroupNames {
    by_id: HashMap<u64, Arc<CgroupInfo>>,
    by_path: HashMap<String, Arc<CgroupInfo>>,
    bytes: usize,
}

/// `path` cut to at most [`PATH_MAX`] bytes.
fn bounded(path: &str) -> &str {
    let mut end = path.len().min(PATH_MAX);
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    &path[..end]
}

impl CgroupNames {
    fn has_room(&self, len: usize) -> bool {
        self.by_id.len() + self.by_path.len() < NAMES_MAX && self.bytes + len <= NAMES_MAX_BYTES
    }

    /// Names v2 cgroup `id` (a later name replaces an earlier: a cgroup's id is not reused
    /// while it exists); its info, or `None` when there is no room left for it.
    pub fn learn(&mut self, id: u64, path: &str) -> Option<Arc<CgroupInfo>> {
        let path = bounded(path);
        if let Some(known) = self.by_id.get(&id).filter(|k| k.path == path) {
            return Some(known.clone());
        }
        let freed = self.by_id.get(&id).map(|k| k.path.len());
        let room = match freed {
            None => self.has_room(path.len()),
            Some(freed) => self.bytes + path.len().saturating_sub(freed) <= NAMES_MAX_BYTES,
        };
        if !room {
            return None;
        }
        let freed = freed.unwrap_or(0);
        let info = CgroupInfo::new(id, path);
        self.bytes = self.bytes - freed + path.len();
        self.by_id.insert(id, info.clone());
        Some(info)
    }

    /// The v2 cgroup `id`, if named.
    pub fn get(&self, id: u64) -> Option<&Arc<CgroupInfo>> {
        self.by_id.get(&id)
    }

    /// A cgroup known by its path alone, when it names a container (`None` otherwise, or
    /// when there is no room left for it).
    pub fn container_path(&mut self, path: &str) -> Option<Arc<CgroupInfo>> {
        let path = bounded(path);
        if let Some(known) = self.by_path.get(path) {
            return Some(known.clone());
        }
        from_cgroup_path(path)?;
        if !self.has_room(path.len()) {
            return None;
        }
        let info = CgroupInfo::new(0, path);
        self.bytes += path.len();
        self.by_path.insert(path.to_owned(), info.clone());
        Some(info)
    }

    /// Every v2 cgroup named, id ascending: the tree a slice's Cgroups block lists.
    pub fn dirs(&self) -> Vec<crate::meta::CgroupDir> {
        let mut dirs: Vec<_> = self
            .by_id
            .values()
            .map(|c| crate::meta::CgroupDir {
                id: c.id,
                path: c.path.clone(),
            })
            .collect();
        dirs.sort_unstable_by_key(|d| d.id);
        dirs
    }

    /// Every v2 cgroup named, by path (for the snapshot's processes, whose cgroups are
    /// paths).
    pub fn by_path(&self) -> HashMap<&str, &Arc<CgroupInfo>> {
        self.by_id.values().map(|c| (&c.path[..], c)).collect()
    }
}

#[cfg(test)]
mod names_tests {
    use super::*;

    #[test]
    fn names_are_bounded_in_count_and_bytes() {
        let mut n = CgroupNames::default();
        let long = format!("/docker/{}", "a".repeat(64)) + &"/x".repeat(4000);
        let info = n.learn(5, &long).unwrap();
        assert_eq!(info.path.len(), PATH_MAX, "cut");
        assert!(Arc::ptr_eq(&info, &n.learn(5, &long).unwrap()), "kept once");
        // Renamed: the new path replaces the old, bytes follow.
        n.learn(5, "/a").unwrap();
        assert_eq!(n.bytes, 2);
        assert!(
            n.container_path("/system.slice/ssh.service").is_none(),
            "no container"
        );
        let mut i = 0u64;
        while n.learn(100 + i, &format!("/{i:0>4000}")).is_some() {
            i += 1;
        }
        assert!(n.bytes <= NAMES_MAX_BYTES);
        assert!(i > 4000 && i < 4200, "{i}");
        // What room is left takes a few short paths, then no more.
        let mut j = 0u64;
        while n.container_path(&format!("/docker/{j:064x}")).is_some() {
            j += 1;
        }
        assert!(n.bytes <= NAMES_MAX_BYTES && j < 100, "{j}");
        // A known id is still renamed when full.
        assert!(n.learn(5, "/b").is_some());
    }
}

/// The container of a cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    /// `docker`, `containerd`, `cri-o`, `podman`, `cri`, `systemd-nspawn` or `lxc`.
    pub runtime: &'static str,
    /// The container's id (64 lowercase hex digits) or, for systemd-nspawn and LXC, its
    /// name.
    pub id: String,
    /// The Kubernetes pod's uid, when the cgroup is a pod's.
    pub pod: Option<String>,
}

/// Longest container name taken from a path (systemd-nspawn, LXC), in bytes.
const NAME_MAX: usize = 256;

/// The container that the cgroup at `path` (from its hierarchy's root) belongs to, if its
/// components are named as a runtime names them (see the module's table).
pub fn from_cgroup_path(path: &str) -> Option<Container> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let mut found: Option<(&'static str, String)> = None;
    let mut pod = None;
    let mut kube = false;
    for (i, part) in parts.iter().enumerate() {
        let parent = i.checked_sub(1).map(|p| parts[p]);
        if part.starts_with("kubepods") {
            kube = true;
        }
        if let Some(uid) = pod_uid(part) {
            pod = Some(uid);
        }
        if let Some(hit) = component(part, parent, kube) {
            found = Some(hit);
        }
    }
    let (runtime, id) = found?;
    Some(Container { runtime, id, pod })
}

/// The runtime and id a single component names (`parent`: the component above it).
fn component(part: &str, parent: Option<&str>, kube: bool) -> Option<(&'static str, String)> {
    let scoped = |prefix: &str| {
        let rest = part.strip_prefix(prefix)?;
        let hex = rest.strip_suffix(".scope").unwrap_or(rest);
        is_id(hex).then(|| hex.to_owned())
    };
    if let Some(id) = scoped("docker-") {
        return Some(("docker", id));
    }
    if let Some(id) = scoped("cri-containerd-") {
        return Some(("containerd", id));
    }
    if let Some(id) = scoped("crio-") {
        return Some(("cri-o", id));
    }
    if let Some(id) = scoped("libpod-") {
        return Some(("podman", id));
    }
    if is_id(part) {
        if parent == Some("docker") {
            return Some(("docker", part.to_owned()));
        }
        if kube {
            return Some(("cri", part.to_owned()));
        }
    }
    if parent == Some("machine.slice") {
        let name = part.strip_prefix("machine-")?.strip_suffix(".scope")?;
        return name_id(&unescape_unit(name)).map(|n| ("systemd-nspawn", n));
    }
    if parent == Some("lxc") {
        return name_id(part).map(|n| ("lxc", n));
    }
    if let Some(name) = part.strip_prefix("lxc.payload.") {
        return name_id(name).map(|n| ("lxc", n));
    }
    None
}

/// A container id: 64 lowercase hex digits.
fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A name as a container id: non-empty, at most [`NAME_MAX`] bytes.
fn name_id(name: &str) -> Option<String> {
    (!name.is_empty() && name.len() <= NAME_MAX).then(|| name.to_owned())
}

/// The pod uid a component names: `pod<uid>` (cgroupfs) or `kubepods[-<qos>]-pod<uid>.slice`
/// (systemd, with `_` for `-`).
fn pod_uid(part: &str) -> Option<String> {
    let raw = match part.strip_suffix(".slice") {
        Some(unit) if unit.starts_with("kubepods") => unit.rsplit_once("-pod")?.1,
        Some(_) => return None,
        None => part.strip_prefix("pod")?,
    };
    let uid = raw.replace('_', "-");
    let ok = (8..=64).contains(&uid.len())
        && uid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
        && uid.bytes().any(|b| b.is_ascii_hexdigit());
    ok.then_some(uid)
}

/// A systemd unit name's `\xNN` escapes as the bytes they stand for.
fn unescape_unit(name: &str) -> String {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 2..i + 4)
            .filter(|_| bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'x'))
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match hex {
            Some(b) => {
                out.push(b);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `wanted` (a full id, or a prefix of at least 12 characters) names `id`.
pub fn id_matches(wanted: &str, id: &str) -> bool {
    wanted == id || (wanted.len() >= 12 && id.starts_with(wanted))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f4a1b2c3d4e5f60718293a4b5c6d7e8f9011223344556677889900aabbccdde";

    fn found(path: &str) -> Option<(&'static str, String, Option<String>)> {
        from_cgroup_path(path).map(|c| (c.runtime, c.id, c.pod))
    }

    fn is(path: &str, runtime: &'static str, id: &str) {
        assert_eq!(found(path), Some((runtime, id.to_owned(), None)), "{path}");
    }

    #[test]
    fn docker_cgroupfs_and_systemd_drivers() {
        is(&format!("/docker/{ID}"), "docker", ID);
        is(&format!("/system.slice/docker-{ID}.scope"), "docker", ID);
        // A cgroup inside the container's (a cgroup namespace's own children).
        is(
            &format!("/system.slice/docker-{ID}.scope/init"),
            "docker",
            ID,
        );
        // Docker in docker: the innermost container.
        let inner = ID.replace('3', "4");
        is(&format!("/docker/{ID}/docker/{inner}"), "docker", &inner);
        // Not 64 lowercase hex digits.
        assert_eq!(found(&format!("/docker/{}", &ID[..63])), None);
        assert_eq!(found(&format!("/docker/{}", ID.to_uppercase())), None);
        assert_eq!(found("/system.slice/docker.service"), None);
    }

    #[test]
    fn containerd_and_kubernetes() {
        is(
            &format!("/system.slice/cri-containerd-{ID}.scope"),
            "containerd",
            ID,
        );
        let uid = "0b1e3c42-6e1f-4a3b-9c4d-5e6f7a8b9c0d";
        let systemd = format!(
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{}.slice/\
             cri-containerd-{ID}.scope",
            uid.replace('-', "_")
        );
        assert_eq!(
            found(&systemd),
            Some(("containerd", ID.to_owned(), Some(uid.to_owned())))
        );
        let cgroupfs = format!("/kubepods/besteffort/pod{uid}/{ID}");
        assert_eq!(
            found(&cgroupfs),
            Some(("cri", ID.to_owned(), Some(uid.to_owned())))
        );
        // A guaranteed pod sits right below kubepods.
        let guaranteed = format!(
            "/kubepods.slice/kubepods-pod{}.slice/cri-containerd-{ID}.scope",
            uid.replace('-', "_")
        );
        assert_eq!(
            found(&guaranteed),
            Some(("containerd", ID.to_owned(), Some(uid.to_owned())))
        );
        // The pod's own cgroup is no container.
        assert_eq!(found(&format!("/kubepods/besteffort/pod{uid}")), None);
        // A bare id outside kubepods and docker names nothing.
        assert_eq!(found(&format!("/default/{ID}")), None);
    }

    #[test]
    fn cri_o_and_podman() {
        is(&format!("/machine.slice/crio-{ID}.scope"), "cri-o", ID);
        is(&format!("/kubepods/pod1/crio-{ID}"), "cri-o", ID);
        assert_eq!(
            found(&format!("/system.slice/crio-conmon-{ID}.scope")),
            None
        );
        is(&format!("/machine.slice/libpod-{ID}.scope"), "podman", ID);
        is(&format!("/libpod_parent/libpod-{ID}"), "podman", ID);
        is(
            &format!("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope/container"),
            "podman",
            ID,
        );
        assert_eq!(
            found(&format!("/machine.slice/libpod-conmon-{ID}.scope")),
            None
        );
    }

    #[test]
    fn systemd_nspawn_and_lxc() {
        is(
            "/machine.slice/machine-debian.scope",
            "systemd-nspawn",
            "debian",
        );
        is(
            r"/machine.slice/machine-my\x2dbox.scope/payload",
            "systemd-nspawn",
            "my-box",
        );
        assert_eq!(found("/system.slice/machine-debian.scope"), None);
        is("/lxc/web1", "lxc", "web1");
        is("/lxc.payload.web1", "lxc", "web1");
        is("/lxc.payload.web1/system.slice/cron.service", "lxc", "web1");
        assert_eq!(found("/lxc.monitor.web1"), None);
        assert_eq!(found("/lxc"), None);
    }

    #[test]
    fn plain_host_cgroups_are_no_container() {
        for path in [
            "/",
            "",
            "/system.slice/ssh.service",
            "/user.slice/user-1000.slice/session-2.scope",
            "/init.scope",
            "//",
        ] {
            assert_eq!(found(path), None, "{path}");
        }
    }

    #[test]
    fn ids_match_in_full_or_by_a_twelve_character_prefix() {
        assert!(id_matches(ID, ID));
        assert!(id_matches(&ID[..12], ID));
        assert!(!id_matches(&ID[..11], ID));
        assert!(id_matches("web1", "web1"));
        assert!(!id_matches("web", "web1"));
    }
}
