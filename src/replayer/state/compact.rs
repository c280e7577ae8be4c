//! What compact syscall records (`REC_SYSCALL_C`, record ABI 5) leave out, filled in from
//! the records before them, in processing order (the sequential stage), before any other
//! state sees the event.
//!
//! The recorder leaves out of a syscall record what replay already has, keeping the same
//! three tables as here (bpf/kellect.bpf.c, `emit_compact`):
//! - a task's facts (`rec_hdr` ppid, uid, gid, comm) when they equal the ones its previous
//!   syscall record carried: kept by tid;
//! - the inode snapshot of the syscall's fd when it equals the one written last for that
//!   process (tgid) and fd number (`SC_F_INODE_SAME`): kept by (tgid, fd);
//! - the inode's attributes when they equal the ones written last for its (dev, ino), the
//!   fd's `f_mode` aside (`SC_F_INODE_REF`): kept by (dev, ino).
//!
//! A record refers only to one written at most [`REFRESH_NS`] before it and stamped
//! earlier, so a trace that starts anywhere (a later segment alone, a slice) lacks at most
//! that first second's references. Those are counted and said: facts fall back to the
//! process's entry in the segment's process snapshot, an inode stays unknown.

use compact_str::CompactString;

use crate::abi::{CompactInode, InodeAttrs, REFRESH_NS};
use crate::meta::ProcSnapshot;
use crate::replayer::input::decode::{Body, Event};
use crate::replayer::state::Map;

/// A task's facts, as a record carried them, and the record's stamp.
#[derive(Debug, Clone)]
struct Facts {
    ts: u64,
    ppid: u32,
    uid: u32,
    gid: u32,
    comm: CompactString,
}

/// The three tables of what compact records refer to, bounded.
#[derive(Debug)]
pub struct CompactState {
    facts: Map<u32, Facts>,
    by_fd: Map<(u32, i32), (u64, InodeAttrs)>,
    by_inode: Map<(u32, u64), (u64, InodeAttrs)>,
    /// The processes of the segment's snapshot: facts of last resort, by tgid.
    snapshot: Map<u32, Facts>,
    /// Most entries of each table.
    max_entries: usize,
    /// Records whose facts no earlier record had: from the snapshot, or unknown.
    pub facts_from_snapshot: u64,
    pub facts_unknown: u64,
    /// Records whose inode no earlier record had: shown without it.
    pub inodes_unknown: u64,
}

impl CompactState {
    /// Tables of at most `max_entries` entries each (the recorder's tables hold 16,384 fd
    /// and inode entries and one facts entry per live task: at least that many).
    pub fn new(max_entries: usize) -> CompactState {
        CompactState {
            facts: Map::default(),
            by_fd: Map::default(),
            by_inode: Map::default(),
            snapshot: Map::default(),
            max_entries: max_entries.max(1),
            facts_from_snapshot: 0,
            facts_unknown: 0,
            inodes_unknown: 0,
        }
    }

    /// The processes alive when the segment started: the facts of a task whose records
    /// before the trace's start are not in it.
    pub fn add_snapshot(&mut self, snapshot: &ProcSnapshot) {
        self.snapshot = snapshot
            .processes
            .iter()
            .map(|p| {
                let facts = Facts {
                    ts: 0,
                    ppid: p.ppid,
                    uid: p.uid,
                    gid: p.gid,
                    comm: p.comm.as_str().into(),
                };
                (p.pid, facts)
            })
            .collect();
    }

    /// Fills in what `event` (a compact syscall record's) left out, and notes what it
    /// carries for the records after it. Other events pass unchanged. The event's
    /// `compact` is `None` afterwards but when nothing it left out could be filled in from
    /// the records before it (facts from the snapshot or unknown, the inode unknown):
    /// `kellect slice` then writes the record as it is.
    pub fn apply(&mut self, event: &mut Event) {
        let Body::Syscall(sc) = &mut event.body else {
            return;
        };
        let Some(left) = sc.compact.take() else {
            return;
        };
        let c = &mut event.common;
        let ts = c.ts;
        let fresh = |then: u64| then < ts && ts - then < REFRESH_NS;
        let (from_snapshot, unknown) = (self.facts_from_snapshot, self.facts_unknown);
        let inodes_unknown = self.inodes_unknown;
        if left.left.facts_left_out {
            let known = self.facts.get(&c.tid).filter(|f| fresh(f.ts));
            let facts = match known {
                Some(f) => Some(f),
                None => {
                    let from = self.snapshot.get(&c.pid);
                    match from {
                        Some(_) => self.facts_from_snapshot += 1,
                        None => self.facts_unknown += 1,
                    }
                    from
                }
            };
            if let Some(f) = facts {
                c.ppid = f.ppid;
                c.uid = f.uid;
                c.gid = f.gid;
                c.comm.clone_from(&f.comm);
            }
        } else {
            bounded_insert(&mut self.facts, self.max_entries, ts, |f| f.ts, c.tid, {
                Facts {
                    ts,
                    ppid: c.ppid,
                    uid: c.uid,
                    gid: c.gid,
                    comm: c.comm.clone(),
                }
            });
        }
        let key = (c.pid, left.fd);
        match left.left.inode {
            CompactInode::Same => match self.by_fd.get(&key).filter(|(t, _)| fresh(*t)) {
                Some((_, inode)) => sc.inode = Some(*inode),
                None => self.inodes_unknown += 1,
            },
            CompactInode::Ref(r) => {
                let seen = self
                    .by_inode
                    .get(&(r.dev.get(), r.ino.get()))
                    .filter(|(t, _)| fresh(*t));
                match seen {
                    Some((_, inode)) => {
                        let mut inode = *inode;
                        inode.fmode = r.fmode;
                        sc.inode = Some(inode);
                        bounded_insert(&mut self.by_fd, self.max_entries, ts, |e| e.0, key, {
                            (ts, inode)
                        });
                    }
                    None => self.inodes_unknown += 1,
                }
            }
            CompactInode::AsIs => {
                if let Some(inode) = sc.inode.filter(|_| left.fd >= 0) {
                    bounded_insert(&mut self.by_fd, self.max_entries, ts, |e| e.0, key, {
                        (ts, inode)
                    });
                    let mut attrs = inode;
                    attrs.fmode.set(0);
                    let id = (inode.dev.get(), inode.ino.get());
                    bounded_insert(&mut self.by_inode, self.max_entries, ts, |e| e.0, id, {
                        (ts, attrs)
                    });
                }
            }
        }
        // Kept only when nothing was filled in from the tables either: a slice's replay,
        // whose tables lack the records the slice wrote whole, could fill that in from an
        // older record.
        let facts_missed =
            (self.facts_from_snapshot, self.facts_unknown) != (from_snapshot, unknown);
        let inode_missed = self.inodes_unknown != inodes_unknown;
        let facts_filled = left.left.facts_left_out && !facts_missed;
        let inode_filled = left.left.inode != CompactInode::AsIs && !inode_missed;
        if (facts_missed || inode_missed) && !facts_filled && !inode_filled {
            sc.compact = Some(left);
        }
    }

    /// What could not be filled in, said once at the end.
    pub fn warning(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.facts_from_snapshot > 0 {
            parts.push(format!(
                "{} syscall records took their task's name and ids from the process snapshot \
                 (a thread's own name may differ)",
                self.facts_from_snapshot
            ));
        }
        if self.facts_unknown > 0 {
            parts.push(format!(
                "{} syscall records are shown without their task's name and ids (comm empty, \
                 ppid, uid and gid 0)",
                self.facts_unknown
            ));
        }
        if self.inodes_unknown > 0 {
            parts.push(format!(
                "{} syscall records are shown without their fd's inode",
                self.inodes_unknown
            ));
        }
        (!parts.is_empty()).then(|| {
            format!(
                "{}: they referred to a record before them that this trace lacks (it starts \
                 within a second of it, records were lost, or the tables of what records \
                 refer to were full)",
                parts.join("; ")
            )
        })
    }
}

/// Inserts `value` at `key`; a full table first lets go of the entries no record can refer
/// to any more (written [`REFRESH_NS`] or more before `now`), then, still more than three
/// quarters full, of its oldest entries down to three quarters (with all those of the
/// same stamp as the last one going): a full table is swept at most once per quarter of
/// its room. Which entries go depends on their stamps alone, not on the hash order: output
/// is the same on every run.
fn bounded_insert<K: std::hash::Hash + Eq, V>(
    map: &mut Map<K, V>,
    max: usize,
    now: u64,
    stamp: impl Fn(&V) -> u64,
    key: K,
    value: V,
) {
    if map.len() >= max && !map.contains_key(&key) {
        map.retain(|_, v| now.saturating_sub(stamp(v)) < REFRESH_NS);
        let keep = max * 3 / 4;
        if map.len() > keep {
            let mut stamps: Vec<u64> = map.values().map(&stamp).collect();
            let gone = stamps.len() - keep - 1;
            let (_, &mut cut, _) = stamps.select_nth_unstable(gone);
            map.retain(|_, v| stamp(v) > cut);
        }
    }
    map.insert(key, value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::{Compact, InodeRef};
    use crate::replayer::input::decode::CompactLeft;
    use crate::replayer::state::tests::syscall;
    use crate::syscalls::Ksys;
    use zerocopy::FromZeros;

    const MS: u64 = 1_000_000;

    /// A read of fd 3 by tid 7 at `ms` ms, compact with `facts_left_out` and `inode`; with
    /// facts, its comm is `comm` and its gid `gid`; a whole inode is `whole`.
    fn read(ms: u64, facts_left_out: bool, inode: CompactInode, whole: Option<u64>) -> Event {
        let mut e = syscall(ms * MS, 7, Ksys::Read, [3, 0, 4, 0, 0, 0], None);
        e.common.tid = 7;
        if facts_left_out {
            e.common.comm.clear();
            (e.common.ppid, e.common.uid, e.common.gid) = (0, 0, 0);
        }
        let Body::Syscall(sc) = &mut e.body else {
            unreachable!()
        };
        sc.inode = whole.map(|size| {
            let mut i = InodeAttrs::new_zeroed();
            i.ino.set(42);
            i.dev.set(9);
            i.size.set(size);
            i.fmode.set(0x1d);
            i
        });
        sc.compact = Some(CompactLeft {
            left: Compact {
                facts_left_out,
                inode,
            },
            fd: 3,
        });
        e
    }

    fn shown(e: &Event) -> (String, u32, Option<(u64, u32)>) {
        let Body::Syscall(sc) = &e.body else {
            unreachable!()
        };
        (
            e.common.comm.to_string(),
            e.common.gid,
            sc.inode.map(|i| (i.size.get(), i.fmode.get())),
        )
    }

    #[test]
    fn left_out_facts_and_inodes_are_the_last_ones_written() {
        let mut s = CompactState::new(16);
        let mut first = read(0, false, CompactInode::AsIs, Some(4));
        s.apply(&mut first);
        let mut same = read(10, true, CompactInode::Same, None);
        s.apply(&mut same);
        assert_eq!(shown(&same), ("w".into(), 1000, Some((4, 0x1d))));
        // By (dev, ino) on another fd: the attributes, with the record's own fmode.
        let r = InodeRef {
            ino: 42.into(),
            dev: 9.into(),
            fmode: 0x1f.into(),
        };
        let mut by_ref = read(20, true, CompactInode::Ref(r), None);
        if let Some(c) = match &mut by_ref.body {
            Body::Syscall(sc) => sc.compact.as_mut(),
            _ => None,
        } {
            c.fd = 5;
        }
        s.apply(&mut by_ref);
        assert_eq!(shown(&by_ref).2, Some((4, 0x1f)));
        // ... which fd 5 is now known by.
        let mut fd5 = read(30, true, CompactInode::Same, None);
        if let Body::Syscall(sc) = &mut fd5.body {
            sc.compact.as_mut().unwrap().fd = 5;
        }
        s.apply(&mut fd5);
        assert_eq!(shown(&fd5).2, Some((4, 0x1f)));
        assert_eq!((s.facts_unknown, s.inodes_unknown), (0, 0));
        assert!(s.warning().is_none());
    }

    #[test]
    fn references_older_than_a_second_or_unseen_are_counted_not_guessed() {
        let mut s = CompactState::new(16);
        let mut first = read(0, false, CompactInode::AsIs, Some(4));
        s.apply(&mut first);
        // 1 s later nothing may be referred to: the recorder would have written it again.
        let mut late = read(1000, true, CompactInode::Same, None);
        s.apply(&mut late);
        assert_eq!(shown(&late), (String::new(), 0, None));
        assert_eq!((s.facts_unknown, s.inodes_unknown), (1, 1));
        // A record stamped no later than the one it refers to refers to nothing.
        let mut same_ts = read(0, true, CompactInode::Same, None);
        s.apply(&mut same_ts);
        assert_eq!(s.inodes_unknown, 2);
        let said = s.warning().unwrap();
        assert!(
            said.contains("2 syscall records are shown without their task's name"),
            "{said}"
        );
        assert!(
            said.contains("2 syscall records are shown without their fd's inode"),
            "{said}"
        );
    }

    /// A record stays compact (for `kellect slice`) only when nothing it left out was
    /// filled in: one whose inode was, but not its facts, is written whole.
    #[test]
    fn only_records_filled_in_from_nothing_stay_compact() {
        let left = |e: &Event| matches!(&e.body, Body::Syscall(sc) if sc.compact.is_some());
        let mut s = CompactState::new(16);
        let mut nothing = read(5, true, CompactInode::Same, None);
        s.apply(&mut nothing);
        assert!(left(&nothing));
        let mut first = read(10, false, CompactInode::AsIs, Some(4));
        s.apply(&mut first);
        assert!(!left(&first));
        let mut other = read(20, true, CompactInode::Same, None);
        other.common.tid = 8;
        s.apply(&mut other);
        assert_eq!(
            shown(&other).2,
            Some((4, 0x1d)),
            "the inode, from the first"
        );
        assert_eq!(s.facts_unknown, 2);
        assert!(!left(&other), "written whole: its inode was filled in");
    }

    #[test]
    fn facts_fall_back_to_the_snapshot() {
        let mut s = CompactState::new(16);
        let snapshot = ProcSnapshot {
            taken: crate::meta::ClockSample {
                boot_ns: 0,
                realtime_ns: 0,
            },
            processes: vec![crate::meta::ProcEntry {
                pid: 7,
                ppid: 1,
                uid: 5,
                gid: 6,
                comm: "snap".into(),
                exe: None,
                argv: Vec::new(),
                cwd: None,
                start_boot_ns: 0,
            }],
            argv_cut: Vec::new(),
        };
        s.add_snapshot(&snapshot);
        let mut e = read(5, true, CompactInode::AsIs, None);
        s.apply(&mut e);
        assert_eq!(shown(&e), ("snap".into(), 6, None));
        assert_eq!(s.facts_from_snapshot, 1);
        assert!(s.warning().unwrap().contains("from the process snapshot"));
    }

    #[test]
    fn a_full_table_lets_go_of_old_entries_then_of_all() {
        let mut m: Map<u32, u64> = Map::default();
        for k in 0..4 {
            bounded_insert(&mut m, 4, 10, |v| *v, k, 10);
        }
        // Full of fresh entries of one stamp: all go.
        bounded_insert(&mut m, 4, 20, |v| *v, 9, 20);
        assert_eq!(m.len(), 1);
        for k in 0..3 {
            bounded_insert(&mut m, 4, 30, |v| *v, k, 30);
        }
        // Full, one entry a second old: only it goes.
        bounded_insert(&mut m, 4, 20 + REFRESH_NS, |v| *v, 8, 20 + REFRESH_NS);
        assert_eq!(m.len(), 4);
        assert!(!m.contains_key(&9));
    }

    /// Keys arriving one per 1/max second fill the table as the oldest entry turns a second
    /// old: a full table must not free one entry per insert (a sweep of all 65,536 entries
    /// for every record of a crafted trace), but at least a quarter of its room at once,
    /// oldest first.
    #[test]
    fn a_full_table_frees_a_quarter_of_its_room_at_once() {
        let max = 64u64;
        let step = REFRESH_NS / max;
        let mut m: Map<u64, u64> = Map::default();
        let mut sweeps = 0;
        for k in 0..max * 20 {
            let before = m.len();
            bounded_insert(&mut m, max as usize, k * step, |v| *v, k, k * step);
            if m.len() <= before {
                sweeps += 1;
                assert!(m.len() <= (max as usize) * 3 / 4 + 1, "{} left", m.len());
                // The newest entries stay.
                assert!(m.contains_key(&(k - 1)));
            }
        }
        assert!(sweeps <= 20 * 4, "{sweeps} sweeps of the table");
    }
}
