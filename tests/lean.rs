//! Compact syscall records (record ABI 5, issue 10): a record leaves out its task's name and
//! ids and its fd's inode when an earlier record carried them, and replay fills them in.
//! tests/workloads/lean.c reads a file again unchanged, writes it, reads it through a second
//! fd (dup), renames itself (prctl PR_SET_NAME), reads from a thread of its own name, changes
//! its gid (setresgid) and reads after a 1.2 s pause. The fixture fixtures/lean.kz (see
//! fixtures/regenerate.sh) replays byte for byte without root; a live recording shows the
//! workload's own inode number, names and gid.

use std::path::Path;

use kellect::abi::{CompactInode, Record, Records};
use kellect::format::{self, BlockKind, TraceReader};
use serde_json::Value;

use crate::util::{assert_fixture_replays, fixture, json_lines, replay_json_min, run_ok};

/// Per record of a trace: (compact, facts left out, inode form) of its syscall records.
fn syscall_forms(trace: &Path) -> Vec<(bool, bool, Option<CompactInode>)> {
    let bytes = std::fs::read(trace).unwrap();
    let reader = TraceReader::new(&bytes).unwrap();
    let scan = reader.scan();
    let mut out = Vec::new();
    for block in scan.blocks.iter().filter(|b| b.kind == BlockKind::Frame) {
        let (_, raw) = format::decode_frame(block.payload).unwrap();
        for record in Records::new(&raw) {
            if let Record::Syscall { compact, .. } = record.unwrap() {
                out.push((
                    compact.is_some(),
                    compact.is_some_and(|c| c.facts_left_out),
                    compact.map(|c| c.inode),
                ));
            }
        }
    }
    out
}

/// Per fd of the traced processes, the inode the last syscall record on it carried (its
/// fd argument's, or the fd it returned), with the compact forms resolved as replay does:
/// `SC_F_INODE_SAME` is the fd's last one, `SC_F_INODE_REF` its (dev, ino)'s last whole one
/// with the record's fmode.
#[cfg_attr(not(feature = "record"), allow(dead_code))]
fn last_inode_per_fd(trace: &Path) -> std::collections::HashMap<i64, kellect::abi::InodeAttrs> {
    use kellect::syscalls::{by_id, D_RET_FD};
    let bytes = std::fs::read(trace).unwrap();
    let reader = TraceReader::new(&bytes).unwrap();
    let scan = reader.scan();
    let mut by_fd = std::collections::HashMap::new();
    let mut by_ino = std::collections::HashMap::new();
    for block in scan.blocks.iter().filter(|b| b.kind == BlockKind::Frame) {
        let (_, raw) = format::decode_frame(block.payload).unwrap();
        for record in Records::new(&raw) {
            let Record::Syscall { rec, tail, compact } = record.unwrap() else {
                continue;
            };
            let Some(capture) = by_id(rec.hdr.syscall.get()).map(|s| s.capture) else {
                continue;
            };
            let fd = match (capture.flags & D_RET_FD, capture.fd_arg) {
                (0, 0) => continue,
                (0, arg) => rec.args[usize::from(arg - 1)].get() as i32 as i64,
                _ => rec.ret.get(),
            };
            let inode = match (compact.map(|c| c.inode), tail.inode) {
                (Some(CompactInode::Same), _) => by_fd.get(&fd).copied(),
                (Some(CompactInode::Ref(r)), _) => {
                    let whole: Option<kellect::abi::InodeAttrs> =
                        by_ino.get(&(r.dev.get(), r.ino.get())).copied();
                    whole.map(|mut i| {
                        i.fmode = r.fmode;
                        i
                    })
                }
                (_, Some(i)) => {
                    by_ino.insert((i.dev.get(), i.ino.get()), i);
                    Some(i)
                }
                _ => None,
            };
            if let Some(i) = inode {
                by_fd.insert(fd, i);
            }
        }
    }
    by_fd
}

/// The Capture block of a trace's first segment.
#[cfg_attr(not(feature = "record"), allow(dead_code))]
fn capture(trace: &Path) -> kellect::meta::Capture {
    let bytes = std::fs::read(trace).unwrap();
    let reader = TraceReader::new(&bytes).unwrap();
    let scan = reader.scan();
    let block = scan
        .blocks
        .iter()
        .find(|b| b.kind == BlockKind::Capture)
        .expect("a Capture block");
    let raw = match block.flags & format::BLOCK_FLAG_COMPRESSED {
        0 => block.payload.to_vec(),
        _ => format::decompress_meta(block.payload).unwrap(),
    };
    kellect::meta::decode(&raw).unwrap()
}

/// What the workload did, as replay shows it, against its own account (`ino N gid G`, or
/// the fixture's inode number when `said` is `None`).
#[track_caller]
fn assert_lean_workload(trace: &Path, said: Option<(u64, u64)>) {
    let events = json_lines(replay_json_min(trace, &["--view", "events"]).as_bytes());
    let on_file: Vec<&Value> = events
        .iter()
        .filter(|e| e["path"].as_str().is_some_and(|p| p.ends_with("lean-file")))
        .collect();
    let open = on_file
        .iter()
        .find(|e| e["syscall"] == "openat")
        .expect("the open");
    let ino = open["ino"].as_u64().expect("the open's inode");
    if let Some((want, _)) = said {
        assert_eq!(ino, want, "the inode number the workload printed");
    }
    let reads: Vec<&&Value> = on_file
        .iter()
        .filter(|e| e["syscall"] == "pread64")
        .collect();
    assert_eq!(reads.len(), 10, "{reads:#?}");
    // Every read and write shows its fd's inode (close and dup rows have no inode field).
    for e in on_file
        .iter()
        .filter(|e| matches!(e["syscall"].as_str(), Some("pread64" | "write")))
    {
        assert_eq!(
            e["ino"].as_u64(),
            Some(ino),
            "every read and write has its inode: {e}"
        );
    }
    // The reads in order: 3 by the first name, 1 through the dup'd fd, 1 after prctl, 2 by
    // the thread, 1 after setresgid, 2 after the pause.
    let who: Vec<(&str, u64)> = reads
        .iter()
        .map(|e| (e["comm"].as_str().unwrap(), e["gid"].as_u64().unwrap()))
        .collect();
    let gid = said.map_or(4321, |(_, g)| g);
    let mut want = vec![("lean", 0); 4];
    want.push(("lean-renamed", 0));
    want.extend([("lean-worker", 0); 2]);
    want.extend([("lean-renamed", gid); 3]);
    assert_eq!(who, want);
    let pid = reads[0]["pid"].as_u64();
    let worker: Vec<u64> = reads[5..7]
        .iter()
        .map(|e| e["tid"].as_u64().unwrap())
        .collect();
    assert!(
        worker[0] == worker[1] && Some(worker[0]) != pid,
        "{worker:?}"
    );
    assert_eq!(reads[3]["fd"], 4, "the read through the dup'd fd");
}

#[test]
fn lean_fixture_replays_byte_for_byte() {
    assert_fixture_replays("lean");
}

#[test]
fn lean_fixture_shows_what_its_records_left_out() {
    assert_lean_workload(&fixture("lean.kz"), None);
    let out = run_ok(&[
        "replay",
        fixture("lean.kz").to_str().unwrap(),
        "--view",
        "events",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("without"), "nothing is missing: {stderr}");
}

/// The fixture holds every form: facts carried and left out, an inode whole, left out as
/// the fd's last (SAME) and referred to by its (dev, ino) (REF), and no record of the old
/// layout.
#[test]
fn lean_fixture_has_every_compact_form() {
    let forms = syscall_forms(&fixture("lean.kz"));
    assert!(forms.iter().all(|f| f.0), "every syscall record is compact");
    assert!(forms.iter().any(|f| f.1), "facts left out");
    assert!(forms.iter().any(|f| !f.1), "facts carried");
    assert!(forms.iter().any(|f| f.2 == Some(CompactInode::Same)));
    assert!(forms
        .iter()
        .any(|f| matches!(f.2, Some(CompactInode::Ref(_)))));
    let (left, all) = (forms.iter().filter(|f| f.1).count(), forms.len());
    assert!(
        left * 2 > all,
        "most records leave their facts out: {left} of {all}"
    );
}

/// A slice writes compact records whole (as syscall records with everything filled in):
/// the thread's reads alone, cut from the middle, still have their inode, name and ids.
#[test]
fn a_slice_of_compact_records_holds_what_they_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("worker.kz");
    run_ok(&[
        "slice",
        fixture("lean.kz").to_str().unwrap(),
        "--comm",
        "lean-worker",
        "-o",
        out.to_str().unwrap(),
    ]);
    let want = replay_json_min(
        &fixture("lean.kz"),
        &["--view", "events", "--comm", "lean-worker"],
    );
    let got = replay_json_min(&out, &["--view", "events"]);
    assert_eq!(got, want);
    assert!(want.contains("\"ino\""), "{want}");
    assert!(syscall_forms(&out).iter().all(|f| !f.0), "written whole");
}

#[cfg(feature = "record")]
mod live {
    /// A recording of the workload now shows its inode number, names and gid as the
    /// workload itself reports them, with nothing missing.
    #[test]
    fn lean_workload_shows_its_own_names_ids_and_inode() {
        lean_workload(None);
    }

    /// The same where per-thread state lives in hashes by tid (kernels before 5.11, forced
    /// here with KELLECT_TASK_STORAGE=0).
    #[test]
    fn lean_workload_without_task_storage() {
        lean_workload(Some("0"));
    }

    fn lean_workload(task_storage: Option<&str>) {
        let dir = crate::util::compile_workload("lean.c", &["-O1", "-pthread"], "lean");
        let trace = dir.path().join("lean.kz");
        let file = dir.path().join("lean-file");
        let mut cmd = crate::util::kellect();
        if let Some(v) = task_storage {
            cmd.env("KELLECT_TASK_STORAGE", v);
        }
        let out = cmd
            .current_dir(dir.path())
            .env_remove("LD_LIBRARY_PATH")
            .args(["record", "-o", trace.to_str().unwrap(), "--", "./lean"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The recording says where it kept per-thread state (this kernel has task storage).
        assert_eq!(
            super::capture(&trace).task_storage,
            Some(task_storage.is_none()),
            "the Capture block"
        );
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut words = said.split_whitespace().skip(1).step_by(2);
        let mut next = || words.next().and_then(|w| w.parse::<u64>().ok());
        let (ino, gid) = (next().expect(&said), next().expect(&said));
        assert_eq!(gid, 4321, "{said}");
        super::assert_lean_workload(&trace, Some((ino, gid)));
        let forms = super::syscall_forms(&trace);
        assert!(forms.iter().all(|f| f.0) && forms.iter().any(|f| f.1));
        let replayed = crate::util::run_ok(&["replay", trace.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&replayed.stderr);
        assert!(!stderr.contains("without"), "{stderr}");
    }

    /// The inode a record carries for an fd of each kind is the one fstat(2) shows for it:
    /// number, size, device, mode, owner, link count and the three times to the nanosecond,
    /// read after stat has queried the change time (tests/workloads/fdkinds.c: a file, one
    /// deleted while open, a pipe, a unix socket, a memfd, an eventfd, /proc/self/status,
    /// /dev/null, an O_PATH directory, fd 1500).
    #[test]
    fn each_kind_of_fds_inode_is_the_one_fstat_shows() {
        let dir = crate::util::compile_workload("fdkinds.c", &["-O1"], "fdkinds");
        let trace = dir.path().join("fdkinds.kz");
        let out = crate::util::record_in(
            dir.path(),
            &trace,
            &["./fdkinds", dir.path().to_str().unwrap()],
        );
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        let inodes = super::last_inode_per_fd(&trace);
        assert_eq!(said.lines().count(), 10, "{said}");
        for line in said.lines() {
            let w: Vec<&str> = line.split_whitespace().collect();
            let n = |i: usize| w[i].parse::<i64>().unwrap_or_else(|_| panic!("{line}"));
            let got = inodes
                .get(&n(1))
                .unwrap_or_else(|| panic!("no inode recorded for {line}"));
            let got = [
                got.ino.get() as i64,
                got.size.get() as i64,
                i64::from(got.dev.get() >> 20),
                i64::from(got.dev.get() & 0xf_ffff),
                i64::from(got.mode.get()),
                i64::from(got.uid.get()),
                i64::from(got.gid.get()),
                i64::from(got.nlink.get()),
                got.atime_ns.get(),
                got.mtime_ns.get(),
                got.ctime_ns.get(),
            ];
            let want: Vec<i64> = (2..13).map(n).collect();
            assert_eq!(got.as_slice(), want.as_slice(), "{} (fstat: {line})", w[0]);
        }
    }

    /// A file's change time is the one stat(2) shows, also once stat has queried it: on
    /// kernels with multigrain timestamps (6.13+) the inode keeps a "queried" flag in the top
    /// bit of its change time's nanoseconds, which is not part of the time (recordings made
    /// before this was masked showed such times 2.147483648 s late).
    #[test]
    fn a_files_change_time_is_the_one_stat_shows() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ctime-file");
        std::fs::write(&file, b"x").unwrap();
        // A change, then a stat that queries it (and so sets the flag where the kernel has
        // one).
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let meta = std::fs::metadata(&file).unwrap();
        let trace = dir.path().join("ctime.kz");
        crate::util::record_in(dir.path(), &trace, &["cat", file.to_str().unwrap()]);
        let records = crate::util::json_lines(crate::util::replay_json_min(&trace, &[]).as_bytes());
        let rec = records
            .iter()
            .find(|r| r["File"] == "ctime-file")
            .unwrap_or_else(|| panic!("the file's record: {records:#?}"));
        let secs = meta.ctime().rem_euclid(86_400);
        let want = format!(
            "{:02}:{:02}:{:02}.{:09} UTC",
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            meta.ctime_nsec()
        );
        let got = rec["FileStatusChangeTime"].as_str().unwrap_or_default();
        assert!(got.ends_with(&want), "{got} is not {want}");
        assert_eq!(meta.ctime(), std::fs::metadata(&file).unwrap().ctime());
    }

    /// A thread that execs takes the process's pid but keeps its own task: the records of
    /// the new image show its name, not the one the old leader's records carried under
    /// that pid (tests/workloads/lean_exec.c).
    #[test]
    fn records_after_a_thread_execs_show_the_new_images_name() {
        let dir = crate::util::compile_workload("lean_exec.c", &["-O1", "-pthread"], "lean-exec");
        let trace = dir.path().join("exec.kz");
        let file = dir.path().join("exec-file");
        let out =
            crate::util::record_in(dir.path(), &trace, &["./lean-exec", file.to_str().unwrap()]);
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut words = said.split_whitespace();
        let pid: u64 = words.nth(2).and_then(|w| w.parse().ok()).expect(&said);
        let comm = words.nth(1).expect(&said).to_owned();
        assert_eq!(comm, "lean-exec", "{said}");
        let events = crate::util::json_lines(
            crate::util::replay_json_min(&trace, &["--view", "events"]).as_bytes(),
        );
        let mine: Vec<&serde_json::Value> = events
            .iter()
            .filter(|e| e["pid"].as_u64() == Some(pid))
            .collect();
        let leader = mine.iter().filter(|e| e["comm"] == "adv-main").count();
        assert!(leader > 0, "the leader's own reads: {mine:#?}");
        let exec = mine
            .iter()
            .rposition(|e| e["syscall"] == "execve")
            .expect("the thread's execve");
        let after = &mine[exec + 1..];
        assert!(
            after
                .iter()
                .any(|e| e["path"].as_str().is_some_and(|p| p.ends_with("exec-file"))),
            "the new image's open of the file: {after:#?}"
        );
        for e in after {
            assert_eq!(e["comm"].as_str(), Some(comm.as_str()), "{e}");
        }
    }
}
