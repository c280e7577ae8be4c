//! Hostile traces: small files with valid checksums that try to make replay use unbounded
//! memory or print impossible times. Built with kellect's own format writer and metadata
//! types, so every block is well-formed and only the contents are hostile. Shared by the
//! `hostile-traces` example (which writes them into a directory) and tests/hostile.rs.

use std::path::Path;

use kellect::abi::{ExitRecord, ForkRecord, RecordHeader, COMM_LEN};
use kellect::format::{BlockHeader, BlockKind, Codec, FileHeader, SegmentEncoder};
use kellect::meta::{self, ClockSample, HostInfo, ProcEntry, ProcSnapshot, RecordSettings};
use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromZeros, IntoBytes};

/// Boot time of the recording's clock sample (100 s after boot).
pub const START_BOOT_NS: u64 = 100_000_000_000;
/// Wall-clock time of that sample: 2026-11-21T00:00:00Z.
pub const START_REALTIME_NS: i64 = 1_795_219_200_000_000_000;

/// A hostile trace: its file name, what it holds, and its generator.
pub type Hostile = (&'static str, &'static str, fn() -> Vec<u8>);

/// Every hostile trace small enough to commit.
pub const SMALL: [Hostile; 4] = [
    (
        "snapshot-bomb.kz",
        "a Snapshot block of a few KB that decompresses to 32 MiB of empty process entries",
        snapshot_bomb,
    ),
    (
        "frame-bomb.kz",
        "32 frames of a few KB, each expanding to 64 MiB (one record, then zeros)",
        frame_bomb,
    ),
    (
        "same-timestamp.kz",
        "1 048 576 fork records all stamped with the same nanosecond",
        same_timestamp,
    ),
    (
        "far-timestamps.kz",
        "records stamped 2^64-1 ns and 100 years after the recording's clock sample",
        far_timestamps,
    ),
];

fn clock() -> ClockSample {
    ClockSample {
        boot_ns: START_BOOT_NS,
        realtime_ns: START_REALTIME_NS,
    }
}

fn host_info() -> HostInfo {
    HostInfo {
        kellect_version: "hostile".into(),
        // Their records are of the first layouts (no task context, no cgroup records), which
        // every later version reads: the committed traces stay as they were written.
        abi_version: kellect::abi::MIN_ABI_VERSION,
        hostname: "hostile".into(),
        sysname: "Linux".into(),
        release: "6.18.0".into(),
        version: "#1".into(),
        machine: "x86_64".into(),
        boot_id: "00000000-0000-0000-0000-000000000000".into(),
        ncpus: 2,
        recorder_pid: 1,
        clock: clock(),
        settings: RecordSettings {
            system_wide: true,
            command: Vec::new(),
            ring_size: 64 << 20,
            frame_size: 1 << 20,
            groups: Vec::new(),
            keep_segments: None,
        },
    }
}

/// A segment with a HostInfo block, ready for hostile blocks.
fn segment() -> SegmentEncoder {
    let header = FileHeader {
        recording_id: 0x4057_11e0_0000_0001,
        segment_index: 0,
        created_realtime_ns: START_REALTIME_NS as u64,
    };
    let mut enc = SegmentEncoder::new(&header, 19).expect("zstd level 19");
    enc.push_meta(BlockKind::HostInfo, &meta::encode(&host_info()), false)
        .expect("small block");
    enc.push_meta(BlockKind::ClockSync, &meta::encode(&clock()), false)
        .expect("small block");
    enc
}

fn comm(name: &str) -> [u8; COMM_LEN] {
    let mut c = [0u8; COMM_LEN];
    c[..name.len()].copy_from_slice(name.as_bytes());
    c
}

fn record_header(kind: u16, len: usize, ts: u64, pid: u32) -> RecordHeader {
    let mut h = RecordHeader::new_zeroed();
    h.kind = U16::new(kind);
    h.len = U32::new(len as u32);
    h.ts = U64::new(ts);
    h.pid = U32::new(pid);
    h.tid = U32::new(pid);
    h.ppid = U32::new(1);
    h.comm = comm("hostile");
    h
}

/// A fork record: `pid` forks `child`.
pub fn fork_record(ts: u64, pid: u32, child: u32) -> Vec<u8> {
    let mut r = ForkRecord::new_zeroed();
    r.hdr = record_header(1, size_of::<ForkRecord>(), ts, pid);
    r.child_pid = U32::new(child);
    r.child_tid = U32::new(child);
    r.child_comm = comm("hostile");
    r.as_bytes().to_vec()
}

/// An exit record of the last thread of `pid`.
pub fn exit_record(ts: u64, pid: u32) -> Vec<u8> {
    let mut r = ExitRecord::new_zeroed();
    r.hdr = record_header(3, size_of::<ExitRecord>(), ts, pid);
    r.exit_flags = U32::new(1);
    r.as_bytes().to_vec()
}

/// A Snapshot of 32 MiB of empty process entries (9 bytes each in postcard), compressed.
pub fn snapshot_bomb() -> Vec<u8> {
    let entry = ProcEntry {
        pid: 0,
        ppid: 0,
        uid: 0,
        gid: 0,
        comm: String::new(),
        exe: None,
        argv: Vec::new(),
        cwd: None,
        start_boot_ns: 0,
    };
    let one = meta::encode(&ProcSnapshot {
        taken: clock(),
        processes: vec![entry.clone()],
        argv_cut: Vec::new(),
    });
    // Postcard frames no struct: the entry is what lies between the clock and its 1-byte
    // count, and the empty `argv_cut` list (1 byte) after it.
    let entry_bytes = &one[meta::encode(&clock()).len() + 1..one.len() - 1];
    let count: usize = (32 << 20) / entry_bytes.len();
    let mut raw = meta::encode(&clock());
    push_varint(&mut raw, count as u64);
    for _ in 0..count {
        raw.extend_from_slice(entry_bytes);
    }
    let mut enc = segment();
    enc.push_meta(BlockKind::Snapshot, &raw, true)
        .expect("32 MiB is under the block limit");
    let records = [fork_record(START_BOOT_NS + 1_000, 1, 2)].concat();
    enc.push_frame(
        &records,
        START_BOOT_NS + 1_000,
        START_BOOT_NS + 1_000,
        1,
        Codec::Zstd,
    )
    .expect("frame");
    enc.finish()
}

fn push_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// 32 frames that each decompress to the largest frame allowed (64 MiB): one fork record,
/// then zero bytes (a record of kind 0 and length 0: damage that ends the frame).
pub fn frame_bomb() -> Vec<u8> {
    let mut enc = segment();
    let mut raw = vec![0u8; kellect::format::MAX_FRAME_RAW as usize];
    for i in 0..32u64 {
        let ts = START_BOOT_NS + 1_000 * (i + 1);
        let rec = fork_record(ts, 1, 2 + i as u32);
        raw[..rec.len()].copy_from_slice(&rec);
        enc.push_frame(&raw, ts, ts, 1, Codec::Zstd).expect("frame");
    }
    enc.finish()
}

/// 2^20 fork records, all at one nanosecond, in frames of 1 MiB.
pub fn same_timestamp() -> Vec<u8> {
    let mut enc = segment();
    let ts = START_BOOT_NS + 1_000;
    let rec = fork_record(ts, 1, 2);
    let per_frame = (1 << 20) / rec.len();
    let frame: Vec<u8> = rec.repeat(per_frame);
    let mut left = 1usize << 20;
    while left > 0 {
        let n = left.min(per_frame);
        enc.push_frame(&frame[..n * rec.len()], ts, ts, n as u32, Codec::Zstd)
            .expect("frame");
        left -= n;
    }
    enc.finish()
}

/// A normal record, then one stamped 2^64-1 ns and one 100 years after the clock sample.
pub fn far_timestamps() -> Vec<u8> {
    let mut enc = segment();
    let ok = START_BOOT_NS + 1_000;
    let century = START_BOOT_NS + 100 * 365 * 86_400 * 1_000_000_000;
    let records = [
        fork_record(ok, 1, 2),
        exit_record(century, 2),
        exit_record(u64::MAX, 3),
    ]
    .concat();
    enc.push_frame(&records, ok, u64::MAX, 3, Codec::Zstd)
        .expect("frame");
    enc.finish()
}

/// `n` fork records of pid 1, each making a new process (pids 2, 3, …) that never exits,
/// 1 µs apart, in frames of 1 MiB: the records view's process table only grows.
pub fn many_processes(n: u32) -> Vec<u8> {
    let mut enc = segment();
    let per_frame = (1 << 20) / size_of::<ForkRecord>() as u32;
    let mut next = 0u32;
    while next < n {
        let count = per_frame.min(n - next);
        let first = START_BOOT_NS + 1_000 * u64::from(next + 1);
        let records: Vec<u8> = (next..next + count)
            .flat_map(|i| fork_record(START_BOOT_NS + 1_000 * u64::from(i + 1), 1, i + 2))
            .collect();
        let last = START_BOOT_NS + 1_000 * u64::from(next + count);
        enc.push_frame(&records, first, last, count, Codec::Zstd)
            .expect("frame");
        next += count;
    }
    enc.finish()
}

/// `n` compact syscall records (reads, record ABI 5), each of a thread of its own (tids
/// 1000, 1001, ...) carrying its facts, one per 1/65,536 s plus 1 ns: once replay's table
/// of facts is full (65,536 entries), each record finds its oldest entry just a second old.
/// Too big to commit: generated where needed.
pub fn compact_flood(n: u32) -> Vec<u8> {
    use kellect::abi::{CompactSyscall, Facts, REC_F_RET32, REFRESH_NS, SCC_FACTS};
    let mut enc = segment();
    let step = REFRESH_NS / 65_536 + 1;
    let len = size_of::<CompactSyscall>() + 4 + size_of::<Facts>();
    let record = |i: u32| {
        let tid = 1000 + i;
        let mut c = CompactSyscall::new_zeroed();
        c.kind = U16::new(9);
        c.flags = U16::new(REC_F_RET32);
        c.len = U32::new(len as u32);
        c.ts = U64::new(START_BOOT_NS + step * u64::from(i + 1));
        c.pid = U32::new(tid);
        c.tid = U32::new(tid);
        c.syscall = U16::new(kellect::syscalls::Ksys::Read as u16);
        c.parts = SCC_FACTS;
        let facts = Facts {
            ppid: U32::new(1),
            uid: U32::new(0),
            gid: U32::new(0),
            comm: comm("hostile"),
        };
        let mut out = c.as_bytes().to_vec();
        out.extend_from_slice(&0i32.to_le_bytes());
        out.extend_from_slice(facts.as_bytes());
        out
    };
    let per_frame = (1 << 20) / len as u32;
    let mut next = 0u32;
    while next < n {
        let count = per_frame.min(n - next);
        let records: Vec<u8> = (next..next + count).flat_map(record).collect();
        let first = START_BOOT_NS + step * u64::from(next + 1);
        let last = START_BOOT_NS + step * u64::from(next + count);
        enc.push_frame(&records, first, last, count, Codec::Zstd)
            .expect("frame");
        next += count;
    }
    enc.finish()
}

/// A compact read of fd 3 (record ABI 5) that leaves out its task's facts and its fd's
/// inode (`SC_F_INODE_SAME`), referring to records the trace does not hold.
pub fn compact_unresolved() -> Vec<u8> {
    use kellect::abi::{CompactSyscall, REC_F_RET32, SC_F_INODE_SAME};
    let mut enc = segment();
    let ts = START_BOOT_NS + 1_000;
    let mut c = CompactSyscall::new_zeroed();
    c.kind = U16::new(9);
    c.flags = U16::new(REC_F_RET32);
    c.len = U32::new(size_of::<CompactSyscall>() as u32 + 8);
    c.ts = U64::new(ts);
    c.pid = U32::new(7);
    c.tid = U32::new(7);
    c.syscall = U16::new(kellect::syscalls::Ksys::Read as u16);
    c.sc_flags = SC_F_INODE_SAME as u8;
    c.arg_forms = U16::new(1);
    let mut record = c.as_bytes().to_vec();
    record.extend_from_slice(&1i32.to_le_bytes());
    record.extend_from_slice(&3u32.to_le_bytes());
    enc.push_frame(&record, ts, ts, 1, Codec::Zstd)
        .expect("frame");
    enc.finish()
}

/// `blocks` blocks of one payload byte whose payload checksums are all wrong (25 bytes
/// each: 2 million make a 50 MB file), then one intact frame with a fork record. Too big to
/// commit: generated where needed.
pub fn bad_blocks(blocks: usize) -> Vec<u8> {
    let enc = segment();
    let mut header = BlockHeader::for_payload(BlockKind::Unknown(0x4242), 0, &[0]);
    header.payload_crc ^= 1;
    let mut block = header.encode().to_vec();
    block.push(0);
    let mut bytes = enc.bytes().to_vec();
    bytes.reserve(block.len() * blocks);
    for _ in 0..blocks {
        bytes.extend_from_slice(&block);
    }
    // Then one intact frame: salvage goes on past the noise, and the replay recovers it.
    let mut tail = segment();
    let start = tail.offset() as usize;
    let ts = START_BOOT_NS + 1_000;
    tail.push_frame(&fork_record(ts, 1, 2), ts, ts, 1, Codec::Zstd)
        .expect("frame");
    bytes.extend_from_slice(&tail.bytes()[start..]);
    bytes
}

/// Writes every small hostile trace into `dir`; returns their paths.
pub fn write_small(dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    for (name, _, make) in SMALL {
        let path = dir.join(name);
        std::fs::write(&path, make())?;
        out.push(path);
    }
    Ok(out)
}
