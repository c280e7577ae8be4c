//! Stable process identity: the `exec_id` of the events view and `ProcExecId` of the
//! records view name one process image (a process between two execs) for good, where a
//! pid is reused within seconds on a busy host; and the chain of parents each image was
//! started under (`ProcAncestors`).
//!
//! An exec id is the standard base64 (RFC 4648, padded) of `BOOT_ID:START_NS:TGID`, as
//! Tetragon encodes its `exec_id` (with the boot id where Tetragon puts the node name):
//! - `BOOT_ID`: `/proc/sys/kernel/random/boot_id` of the recorded host (the trace's host
//!   block; empty in a trace without one);
//! - `START_NS`: when the image began, `CLOCK_BOOTTIME` nanoseconds in decimal: the
//!   stamp of its exec event when the recording saw the exec; else of the fork that made
//!   the process; else its start time in the process snapshot taken when the recording
//!   began (`/proc/PID/stat` field 22, clock-tick resolution); 0 when none of these was
//!   seen (a process the snapshot missed, or one forgotten to stay within memory);
//! - `TGID`: the process id, in decimal.
//!
//! Boot time never goes back and a pid is not handed out twice in the same nanosecond, so
//! two images of one boot never share an id, and two recordings of the same boot give the
//! same id to a process that both learned of the same way (both from their snapshots, or
//! from the same fork or exec): `base64 -d` reads it back.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;

use crate::meta::ProcSnapshot;
use crate::replayer::input::decode::{Body, Event};

/// The most ancestors a process image carries (`ProcAncestors`), nearest first; past it
/// the farthest are left out.
pub const MAX_ANCESTORS: usize = 16;
/// The memory one image costs, counted for the bound of [`ProcessImages`]: its slot in the
/// table, its comm, and its list of [`MAX_ANCESTORS`] ancestors (each a pid, a start and a
/// comm of at most 16 bytes).
pub const IMAGE_BYTES: usize = 1024;

/// One process image: the pid and start that make its exec id, and the comm it began
/// with (the child's comm of a fork, the comm after an exec, the snapshot's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageId {
    pub pid: u32,
    /// When the image began, boot-time ns (see the module documentation); 0: not known.
    pub start_ns: u64,
    pub comm: Box<str>,
}

impl ImageId {
    /// The exec id on the host whose boot id is `boot_id`.
    pub fn exec_id(&self, boot_id: &str) -> String {
        exec_id(boot_id, self.start_ns, self.pid)
    }
}

/// The exec id of the image of process `pid` that began at `start_ns` (boot-time ns) on
/// the boot `boot_id`: base64 of `BOOT_ID:START_NS:TGID`.
pub fn exec_id(boot_id: &str, start_ns: u64, pid: u32) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{boot_id}:{start_ns}:{pid}"))
}

/// The last exec id [`get`](Self::get) gave, kept to give again while the image asked for
/// stays the same (one shared text instead of a formatting and a base64 encoding).
#[derive(Debug, Default)]
pub struct LastExecId(std::cell::RefCell<Option<LastKey>>);

/// An exec id and what it was computed from: boot id, start (boot-time ns), pid.
#[derive(Debug)]
struct LastKey {
    boot_id: String,
    start_ns: u64,
    pid: u32,
    id: Arc<str>,
}

impl LastExecId {
    /// [`exec_id`]`(boot_id, start_ns, pid)`.
    pub fn get(&self, boot_id: &str, start_ns: u64, pid: u32) -> Arc<str> {
        let mut last = self.0.borrow_mut();
        match last.as_ref() {
            Some(k) if k.start_ns == start_ns && k.pid == pid && k.boot_id == boot_id => {
                k.id.clone()
            }
            _ => {
                let id: Arc<str> = exec_id(boot_id, start_ns, pid).into();
                *last = Some(LastKey {
                    boot_id: boot_id.to_owned(),
                    start_ns,
                    pid,
                    id: id.clone(),
                });
                id
            }
        }
    }
}

/// A process image and the images it was started under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub id: ImageId,
    /// The parent's image when this one's process was made (for an image that an exec
    /// began, the parent of the process before it), then that one's parent's, and so on;
    /// at most [`MAX_ANCESTORS`].
    pub ancestors: Arc<[ImageId]>,
}

impl Image {
    /// An image of `pid` begun at `start_ns` under `parent` (when known).
    fn new(pid: u32, start_ns: u64, comm: &str, parent: Option<&Image>) -> Image {
        Image {
            id: ImageId {
                pid,
                start_ns,
                comm: comm.into(),
            },
            ancestors: parent.map_or_else(|| Arc::from([]), Image::lineage),
        }
    }

    /// The ancestors of a child of this image: this image, then its own ancestors.
    fn lineage(&self) -> Arc<[ImageId]> {
        std::iter::once(&self.id)
            .chain(self.ancestors.iter())
            .take(MAX_ANCESTORS)
            .cloned()
            .collect()
    }
}

/// The current image of each process, rebuilt from the snapshot and the fork, exec and
/// exit events (in timestamp order). Both views read it, so an event's `exec_id` and its
/// record's `ProcExecId` agree.
///
/// Bounded: past `max_images`, the least recently seen eighth is forgotten (a rule of the
/// trace alone: recency is the order of events); a forgotten process's later events carry
/// an image with start 0.
#[derive(Debug)]
pub struct ProcessImages {
    images: super::Map<u32, (Arc<Image>, u64)>,
    clock: u64,
    max_images: usize,
    /// Images forgotten to stay within `max_images`.
    pub forgotten: u64,
}

impl ProcessImages {
    /// An empty table holding at most `max_images` processes (at least 16).
    pub fn new(max_images: usize) -> ProcessImages {
        ProcessImages {
            images: super::Map::default(),
            clock: 0,
            max_images: max_images.max(16),
            forgotten: 0,
        }
    }

    /// The current image of `pid`, if known.
    pub fn get(&self, pid: u32) -> Option<&Arc<Image>> {
        self.images.get(&pid).map(|(image, _)| image)
    }

    /// The processes alive when the recording began: each image starts at its snapshot
    /// start time, under the chain of its snapshot parents (a pid loop ends the chain).
    pub fn add_snapshot(&mut self, snapshot: &ProcSnapshot) {
        let by_pid: HashMap<u32, _> = snapshot.processes.iter().map(|p| (p.pid, p)).collect();
        let mut pids: Vec<u32> = by_pid.keys().copied().collect();
        pids.sort_unstable();
        for pid in pids {
            let p = by_pid[&pid];
            let mut ancestors = Vec::new();
            let mut at = p.ppid;
            while ancestors.len() < MAX_ANCESTORS && at != pid {
                let Some(parent) = by_pid.get(&at) else { break };
                if ancestors.iter().any(|a: &ImageId| a.pid == at) {
                    break;
                }
                ancestors.push(ImageId {
                    pid: at,
                    start_ns: parent.start_boot_ns,
                    comm: parent.comm.as_str().into(),
                });
                at = parent.ppid;
            }
            let image = Image {
                id: ImageId {
                    pid,
                    start_ns: p.start_boot_ns,
                    comm: p.comm.as_str().into(),
                },
                ancestors: ancestors.into(),
            };
            self.insert(pid, image);
        }
    }

    /// Applies one event and returns the image it belongs to: a fork's is the parent's
    /// (the child's is made here), an exec's is the one it began, an exit's the one that
    /// ended (forgotten here when the whole process exited).
    pub fn apply(&mut self, event: &Event) -> Arc<Image> {
        let c = &event.common;
        let now = self.tick();
        let current = match self.images.get_mut(&c.pid) {
            Some((image, seen)) => {
                *seen = now;
                Arc::clone(image)
            }
            None => {
                let parent = self.get(c.ppid).map(Arc::clone);
                let image = Image::new(c.pid, 0, &c.comm, parent.as_deref());
                self.insert(c.pid, image)
            }
        };
        match &event.body {
            Body::Fork {
                child_pid,
                child_comm,
                ..
            } if *child_pid != c.pid => {
                let child = Image::new(*child_pid, c.ts, child_comm, Some(&current));
                self.insert(*child_pid, child);
                current
            }
            Body::Exec { .. } => {
                let image = Image {
                    id: ImageId {
                        pid: c.pid,
                        start_ns: c.ts,
                        comm: c.comm.as_str().into(),
                    },
                    ancestors: Arc::clone(&current.ancestors),
                };
                self.insert(c.pid, image)
            }
            Body::Exit {
                group_dead: true, ..
            } => {
                self.images.remove(&c.pid);
                current
            }
            _ => current,
        }
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// Holds `image` as `pid`'s, then keeps within `max_images`.
    fn insert(&mut self, pid: u32, image: Image) -> Arc<Image> {
        let image = Arc::new(image);
        let now = self.tick();
        self.images.insert(pid, (Arc::clone(&image), now));
        if self.images.len() > self.max_images {
            let mut by_use: Vec<(u64, u32)> = self
                .images
                .iter()
                .filter(|(p, _)| **p != pid)
                .map(|(p, (_, seen))| (*seen, *p))
                .collect();
            by_use.sort_unstable();
            let drop = self.images.len() - (self.max_images - self.max_images / 8);
            for (_, p) in by_use.into_iter().take(drop) {
                self.images.remove(&p);
                self.forgotten += 1;
            }
        }
        image
    }

    /// The warning the replay prints once when images were forgotten; `None` otherwise.
    pub fn warning(&self) -> Option<String> {
        (self.forgotten > 0).then(|| {
            format!(
                "{} process images were forgotten to stay within memory: later events of \
                 those processes carry an exec id with start 0; the image table holds at \
                 most {} processes (the memory budget; --max-memory raises it)",
                self.forgotten, self.max_images
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replayer::input::decode::{Common, Event};
    use crate::replayer::state::tests::exec_body;

    fn event(pid: u32, ppid: u32, ts: u64, body: Body) -> Event {
        Event {
            common: Common {
                ts,
                pid,
                tid: pid,
                ppid,
                uid: 0,
                gid: 0,
                cpu: 0,
                syscall: 0,
                context: false,
                compat: false,
                comm: format!("c{pid}").into(),
            },
            body,
        }
    }

    fn fork(pid: u32, child: u32, ts: u64) -> Event {
        event(
            pid,
            1,
            ts,
            Body::Fork {
                child_pid: child,
                child_tid: child,
                clone_flags: 0,
                child_comm: format!("c{pid}"),
                task: None,
            },
        )
    }

    #[test]
    fn exec_id_is_base64_of_boot_start_and_pid() {
        let id = exec_id("0f1e2d3c-aaaa-bbbb-cccc-000000000001", 12_345, 678);
        let text = base64::engine::general_purpose::STANDARD
            .decode(&id)
            .expect("base64");
        assert_eq!(text, b"0f1e2d3c-aaaa-bbbb-cccc-000000000001:12345:678");
    }

    #[test]
    fn fork_and_exec_make_new_images_with_their_ancestors() {
        let mut t = ProcessImages::new(100);
        let parent = t.apply(&event(10, 1, 5, Body::Unknown { kind: 0 }));
        assert_eq!(parent.id.start_ns, 0);
        let shown = t.apply(&fork(10, 11, 100));
        assert_eq!(shown.id.pid, 10, "a fork belongs to its parent");
        let child = Arc::clone(t.get(11).expect("child"));
        assert_eq!(child.id.start_ns, 100);
        assert_eq!(child.ancestors.len(), 1);
        assert_eq!(child.ancestors[0].pid, 10);
        let exec = event(11, 10, 200, Body::Unknown { kind: 0 });
        let exec = Event {
            body: exec_body(11, "/bin/true", Vec::new()),
            ..exec
        };
        let image = t.apply(&exec);
        assert_eq!(image.id.start_ns, 200);
        assert_ne!(image.id.exec_id("b"), child.id.exec_id("b"));
        assert_eq!(
            image.ancestors, child.ancestors,
            "an exec keeps the parents"
        );
        let grandchild = {
            t.apply(&fork(11, 12, 300));
            Arc::clone(t.get(12).expect("grandchild"))
        };
        let pids: Vec<u32> = grandchild.ancestors.iter().map(|a| a.pid).collect();
        assert_eq!(pids, [11, 10]);
        assert_eq!(grandchild.ancestors[0].start_ns, 200);
    }

    #[test]
    fn ancestors_are_bounded() {
        let mut t = ProcessImages::new(1000);
        for pid in 100..140 {
            t.apply(&fork(pid, pid + 1, u64::from(pid)));
        }
        let last = t.get(140).expect("last child");
        assert_eq!(last.ancestors.len(), MAX_ANCESTORS);
        assert_eq!(last.ancestors[0].pid, 139);
        assert_eq!(last.ancestors[MAX_ANCESTORS - 1].pid, 124);
    }

    #[test]
    fn snapshot_chains_stop_at_loops_and_the_table_is_bounded() {
        let entry = |pid, ppid| crate::meta::ProcEntry {
            pid,
            ppid,
            uid: 0,
            gid: 0,
            comm: format!("p{pid}"),
            exe: None,
            argv: Vec::new(),
            cwd: None,
            start_boot_ns: u64::from(pid) * 1000,
        };
        let snapshot = ProcSnapshot {
            taken: crate::meta::ClockSample {
                boot_ns: 0,
                realtime_ns: 0,
            },
            processes: vec![entry(1, 0), entry(5, 6), entry(6, 5), entry(7, 1)],
            argv_cut: Vec::new(),
        };
        let mut t = ProcessImages::new(16);
        t.add_snapshot(&snapshot);
        let seven = t.get(7).expect("7");
        assert_eq!(seven.id.start_ns, 7000);
        assert_eq!(seven.ancestors.len(), 1);
        assert_eq!(t.get(5).expect("5").ancestors.len(), 1, "a loop ends");
        for pid in 1000..1100 {
            t.apply(&event(pid, 1, u64::from(pid), Body::Unknown { kind: 0 }));
        }
        assert!(t.images.len() <= 16);
        assert!(t.warning().is_some());
    }

    #[test]
    fn the_last_exec_id_is_given_again_only_for_the_same_image() {
        let last = LastExecId::default();
        for (boot, start, pid) in [
            ("b", 5, 7),
            ("b", 5, 7),
            ("b", 5, 8),
            ("c", 5, 8),
            ("c", 6, 8),
        ] {
            assert_eq!(*last.get(boot, start, pid), exec_id(boot, start, pid));
        }
    }
}
