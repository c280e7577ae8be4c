//! The defaults of the recording options, set here once: the command line shows them in
//! `--help` and falls back on them when neither it nor the configuration file sets a value,
//! and `recorder::RecordConfig::new` starts from them. (The replay options' defaults are
//! those of [`crate::replayer::views::records::RecordsConfig::default`] and
//! [`crate::replayer::MemoryBudget::DEFAULT_MIB`].)

/// `--ring-size`: the ring buffer between the kernel and the recorder, in MiB (a power of
/// two). Its pages are mapped twice in the recorder (the kernel's wrap-around view), so it
/// counts twice in its resident memory; records take their own length in it (a few hundred
/// bytes each), so 8 MiB holds some 40,000 and loses none on a `dd bs=1` storm.
pub const RING_SIZE_MIB: u32 = 8;
/// `--frame-size`: raw record bytes collected per compressed frame, in KiB.
pub const FRAME_SIZE_KIB: usize = 1024;
/// `--payload-size`: application payload bytes captured per message (0: none).
pub const PAYLOAD_SIZE: u32 = 1400;
/// `--compression-level`: the zstd level of frames (1 fastest … 19 smallest).
pub const COMPRESSION_LEVEL: i32 = 3;
