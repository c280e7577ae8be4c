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
//! | `containerd`     | `cri-containerd-<64 hex>.scope`, `nerdctl-<64 hex>.scope` | the hex |
//! | `cri-o`          | `crio-<64 hex>.scope`, `crio-<64 hex>`                 | the hex   |
//! | `podman`         | `libpod-<64 hex>.scope`, `libpod-<64 hex>`             | the hex   |
//! | `cri`            | `<64 hex>` below a `kubepods…` component (cgroupfs)    | the hex   |
//! | `systemd-nspawn` | `machine-<name>.scope`, `systemd-nspawn@<name>.service` below `machine.slice` | the name |
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
/// past it, or past [`NAMES_MAX_BYTES`], the longest known are forgotten to make room (a
/// process already in one keeps it, and so do its children that stay there).
pub const NAMES_MAX: usize = 65536;
/// Most bytes of cgroup paths replay keeps.
pub const NAMES_MAX_BYTES: usize = 16 << 20;
/// Longest cgroup path kept, in bytes: longer ones are cut (at a character boundary).
pub const PATH_MAX: usize = 4096;

/// A key of [`CgroupNames`]: a v2 id, or a path known alone.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum NameKey {
    Id(u64),
    Path(String),
}

/// The cgroups replay knows: the v2 hierarchy's by id (from the Cgroups block and the
/// `cgroup_mkdir` and `cgroup_attach_task` records), and cgroups known by path alone (v1
/// hierarchies, the snapshot's v2 lines outside the tree) when they name a container. Every
/// [`CgroupInfo`] a process holds is one of these: memory is bounded by [`NAMES_MAX`]
/// entries and [`NAMES_MAX_BYTES`] of paths, whatever the trace says. When full, the
/// entries learned longest ago are forgotten, so that a recording that made more cgroups
/// than that over its life (or a flood of `mkdir` in a delegated subtree) still names the
/// containers started last (a rule of the trace alone: the order of its records).
#[derive(Debug, Default)]
pub struct CgroupNames {
    by_id: HashMap<u64, (Arc<CgroupInfo>, u64)>,
    by_path: HashMap<String, (Arc<CgroupInfo>, u64)>,
    /// Every entry with the number it was learned as, oldest first (entries learned again
    /// since are skipped when met).
    order: std::collections::VecDeque<(u64, NameKey)>,
    learned: u64,
    bytes: usize,
    /// Entries forgotten to make room.
    pub forgotten: u64,
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
    /// Forgets the oldest entries until one more of `len` bytes fits.
    fn make_room(&mut self, len: usize) {
        while self.by_id.len() + self.by_path.len() >= NAMES_MAX
            || self.bytes + len > NAMES_MAX_BYTES
        {
            let Some((n, key)) = self.order.pop_front() else {
                return;
            };
            let gone = match &key {
                NameKey::Id(id) => match self.by_id.get(id) {
                    Some((_, m)) if *m == n => self.by_id.remove(id),
                    _ => None,
                },
                NameKey::Path(p) => match self.by_path.get(p) {
                    Some((_, m)) if *m == n => self.by_path.remove(p),
                    _ => None,
                },
            };
            if let Some((info, _)) = gone {
                self.bytes -= info.path.len();
                self.forgotten += 1;
            }
        }
    }

    /// The number the next entry is learned as, queued under `key`.
    fn stamp(&mut self, key: NameKey) -> u64 {
        self.learned += 1;
        // Entries learned again leave stale queue items: drop them once they outnumber
        // the live entries, so the queue stays within twice the table.
        if self.order.len() > 2 * NAMES_MAX {
            let (by_id, by_path) = (&self.by_id, &self.by_path);
            self.order.retain(|(n, k)| match k {
                NameKey::Id(id) => by_id.get(id).is_some_and(|(_, m)| m == n),
                NameKey::Path(p) => by_path.get(p).is_some_and(|(_, m)| m == n),
            });
        }
        self.order.push_back((self.learned, key));
        self.learned
    }

    /// Names v2 cgroup `id` (a later name replaces an earlier: a cgroup's id is not reused
    /// while it exists); its info. The oldest entries make room when the table is full.
    pub fn learn(&mut self, id: u64, path: &str) -> Option<Arc<CgroupInfo>> {
        let path = bounded(path);
        if let Some((known, _)) = self.by_id.get(&id).filter(|(k, _)| k.path == path) {
            return Some(known.clone());
        }
        if let Some((old, _)) = self.by_id.remove(&id) {
            self.bytes -= old.path.len();
        }
        self.make_room(path.len());
        let info = CgroupInfo::new(id, path);
        let n = self.stamp(NameKey::Id(id));
        self.bytes += path.len();
        self.by_id.insert(id, (info.clone(), n));
        Some(info)
    }

    /// The v2 cgroup `id`, if named.
    pub fn get(&self, id: u64) -> Option<&Arc<CgroupInfo>> {
        self.by_id.get(&id).map(|(info, _)| info)
    }

    /// A cgroup known by its path alone, when it names a container (`None` otherwise).
    pub fn container_path(&mut self, path: &str) -> Option<Arc<CgroupInfo>> {
        let path = bounded(path);
        if let Some((known, _)) = self.by_path.get(path) {
            return Some(known.clone());
        }
        from_cgroup_path(path)?;
        self.make_room(path.len());
        let info = CgroupInfo::new(0, path);
        let n = self.stamp(NameKey::Path(path.to_owned()));
        self.bytes += path.len();
        self.by_path.insert(path.to_owned(), (info.clone(), n));
        Some(info)
    }

    /// Every v2 cgroup named, id ascending: the tree a slice's Cgroups block lists.
    pub fn dirs(&self) -> Vec<crate::meta::CgroupDir> {
        let mut dirs: Vec<_> = self
            .by_id
            .values()
            .map(|(c, _)| crate::meta::CgroupDir {
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
        self.by_id.values().map(|(c, _)| (&c.path[..], c)).collect()
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
        for i in 0..5000u64 {
            n.learn(100 + i, &format!("/{i:0>4000}")).unwrap();
            assert!(n.bytes <= NAMES_MAX_BYTES);
        }
        assert!(n.by_id.len() > 4000 && n.by_id.len() < 4200);
        assert!(n.get(5).is_none(), "the oldest went first");
        assert!(n.get(100 + 4999).is_some(), "the newest stays");
        assert!(n.forgotten > 0);
    }

    /// Once 65536 cgroups had been named (a long recording on a busy host, or a flood of
    /// `mkdir` in a delegated subtree), every cgroup made after named no container.
    #[test]
    fn a_full_table_still_names_the_newest_containers() {
        let mut n = CgroupNames::default();
        for i in 0..(NAMES_MAX as u64 + 10) {
            n.learn(1000 + i, &format!("/flood/{i}")).unwrap();
        }
        let id = "ab".repeat(32);
        let late = n
            .learn(7, &format!("/system.slice/docker-{id}.scope"))
            .expect("named");
        assert_eq!(late.container.as_ref().map(|c| &c.id[..]), Some(&id[..]));
        assert!(n.get(7).is_some());
        let v1 = n.container_path(&format!("/docker/{id}")).expect("named");
        assert!(v1.container.is_some());
        assert!(n.by_id.len() + n.by_path.len() <= NAMES_MAX);
        // Learning the same ids again and again keeps the queue bounded.
        for round in 0..3u64 {
            for i in 0..(NAMES_MAX as u64) {
                n.learn(1000 + i, &format!("/r{round}/{i}")).unwrap();
            }
        }
        assert!(n.order.len() <= 2 * NAMES_MAX + 1, "{}", n.order.len());
        assert!(n.by_id.len() + n.by_path.len() <= NAMES_MAX);
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
    // nerdctl (containerd's own CLI) with the systemd cgroup driver.
    if let Some(id) = scoped("cri-containerd-").or_else(|| scoped("nerdctl-")) {
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
        // `systemd-nspawn` run by hand registers a scope; `machinectl start` runs the
        // `systemd-nspawn@NAME.service` template unit.
        let name = part
            .strip_prefix("machine-")
            .and_then(|n| n.strip_suffix(".scope"))
            .or_else(|| {
                part.strip_prefix("systemd-nspawn@")?
                    .strip_suffix(".service")
            })?;
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

/// Whether `wanted` (a full id, or a prefix of at least 12 characters) names `id`. A
/// runtime's hex id is matched whatever the case of `wanted` (`3F4A…` as pasted from an
/// upper-cased listing); a name (systemd-nspawn, LXC) exactly.
pub fn id_matches(wanted: &str, id: &str) -> bool {
    let (w, i) = (wanted.as_bytes(), id.as_bytes());
    if !is_id(id) {
        return wanted == id || (w.len() >= 12 && id.starts_with(wanted));
    }
    (w.len() == i.len() || w.len() >= 12)
        && i.get(..w.len()).is_some_and(|p| p.eq_ignore_ascii_case(w))
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
        // nerdctl with the systemd driver: runc's `system.slice:nerdctl:<id>`.
        is(
            &format!("/system.slice/nerdctl-{ID}.scope"),
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
        // `machinectl start debian`: the template unit, its payload and supervisor.
        is(
            "/machine.slice/systemd-nspawn@debian.service/payload",
            "systemd-nspawn",
            "debian",
        );
        is(
            r"/machine.slice/systemd-nspawn@my\x2dbox.service",
            "systemd-nspawn",
            "my-box",
        );
        assert_eq!(found("/system.slice/systemd-nspawn@debian.service"), None);
        assert_eq!(found("/machine.slice/systemd-nspawn@.service"), None);
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

    /// `--container 3F4A1B2C3D4E` (an id upper-cased) matched nothing.
    #[test]
    fn hex_ids_match_in_either_case_names_exactly() {
        assert!(id_matches(&ID.to_uppercase(), ID));
        assert!(id_matches(&ID[..12].to_uppercase(), ID));
        assert!(!id_matches(&ID[..11].to_uppercase(), ID));
        assert!(!id_matches("", ID));
        assert!(!id_matches("WEB1", "web1"));
        assert!(!id_matches(&format!("{ID}0"), ID));
    }
}
