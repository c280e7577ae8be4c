//! Forward-secure sealing of the hash chain (the model: systemd-journald's Forward Secure
//! Sealing), with the lesson of CVE-2023-31439 applied: every epoch is checked with that
//! epoch's key and no other.
//!
//! ```text
//! k_0     = 32 random bytes (kellect keygen)
//! k_(i+1) = SHA-256("kellect-seal-evolve" || k_i)                      one-way: k_i cannot be had from k_(i+1)
//! epoch e covers CLOCK_REALTIME [start + e * interval, start + (e + 1) * interval)
//! tag     = HMAC-SHA-256(k_e, "kellect-seal" || e || epoch start || epoch end || key id || chain head)
//! key id  = the first 8 bytes of SHA-256("kellect-seal-id" || k_0)
//! ```
//!
//! The host keeps a [`SealingKey`] (the current `k_e`, its epoch, the interval and the start
//! time) and, after each epoch, evolves it and forgets the old key, in memory ([`zeroize`])
//! and in its key file (rewritten atomically). The verifier holds a [`VerifyKey`] (`k_0`,
//! interval, start), derives `k_e` forward for each seal and checks the tag against it: an
//! intruder who takes the host in epoch `j` holds `k_j` and can make seals for epochs `j`
//! and later only; any seal that claims an earlier epoch fails, and seals removed or
//! replaced by later ones leave a gap in the epochs, which [`check_seals`] reports.
//!
//! A seal is a block of kind [`BlockKind::Seal`](super::BlockKind::Seal) whose payload is a
//! [`Seal`]; it is chained like any other block and holds the chain head of everything
//! before it in its segment.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
#[cfg(unix)]
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use super::chain::{ChainHead, CHAIN_HEAD_LEN};
use super::le::{LeReader, LeWriter};

/// Length of a [`Seal`] payload.
pub const SEAL_PAYLOAD_LEN: usize = 96;
/// Length of a key file (sealing or verification).
pub const KEY_FILE_LEN: usize = 84;
/// Shortest seal interval: 1 s (a shorter one only multiplies seals and key rewrites).
pub const MIN_SEAL_INTERVAL_NS: u64 = 1_000_000_000;
/// Longest seal interval: 1 day.
pub const MAX_SEAL_INTERVAL_NS: u64 = 86_400_000_000_000;
/// The largest epoch a verifier derives a key for (2^26 steps of SHA-256, a few seconds):
/// with the shortest interval, over two years after key generation.
pub const MAX_EPOCH: u64 = 1 << 26;

const EVOLVE_DOMAIN: &[u8] = b"kellect-seal-evolve";
const TAG_DOMAIN: &[u8] = b"kellect-seal";
const ID_DOMAIN: &[u8] = b"kellect-seal-id";
const SEALING_MAGIC: &[u8; 8] = b"KLSEALK\x01";
const VERIFY_MAGIC: &[u8; 8] = b"KLVERFK\x01";

type HmacSha256 = Hmac<Sha256>;

/// Why a key could not be made, read or stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        #[source]
        error: io::Error,
    },
    #[error("{path}: not a kellect {what} key file ({why})")]
    BadKeyFile {
        path: PathBuf,
        what: &'static str,
        why: &'static str,
    },
    #[error("seal interval {0} ns is out of range: it must be between 1 s and 1 day")]
    BadInterval(u64),
    #[error("no random bytes for the key: {0}")]
    Random(String),
}

/// The 8-byte identity of a key pair, derived from `k_0`: seals carry it so a verifier can
/// tell a trace sealed with another key from a forged seal.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub struct KeyId(pub u64);

impl KeyId {
    fn of(k0: &[u8; 32]) -> KeyId {
        let mut h = Sha256::new();
        h.update(ID_DOMAIN);
        h.update(k0);
        let d = h.finalize();
        let mut id = [0u8; 8];
        id.copy_from_slice(&d[..8]);
        KeyId(u64::from_le_bytes(id))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// The timing shared by both halves of a key pair: epoch `e` covers `CLOCK_REALTIME`
/// nanoseconds `[start_ns + e * interval_ns, start_ns + (e + 1) * interval_ns)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EpochClock {
    /// `CLOCK_REALTIME` ns since the Unix epoch when the key was made.
    pub start_ns: u64,
    /// Length of an epoch, ns.
    pub interval_ns: u64,
}

impl EpochClock {
    /// The epoch holding realtime `now_ns` (epoch 0 before the start).
    pub fn epoch_at(&self, now_ns: u64) -> u64 {
        now_ns.saturating_sub(self.start_ns) / self.interval_ns.max(1)
    }

    /// `[start, end)` of epoch `e`, realtime ns (saturating at `u64::MAX`).
    pub fn window(&self, epoch: u64) -> (u64, u64) {
        let start = self
            .start_ns
            .saturating_add(epoch.saturating_mul(self.interval_ns));
        (start, start.saturating_add(self.interval_ns))
    }
}

/// `k_(i+1)` from `k_i`, in place; the old key is overwritten.
fn evolve(key: &mut [u8; 32]) {
    let mut h = Sha256::new();
    h.update(EVOLVE_DOMAIN);
    h.update(&key[..]);
    let mut next: [u8; 32] = h.finalize().into();
    key.copy_from_slice(&next);
    next.zeroize();
}

/// The HMAC over what a tag authenticates, keyed with `key`.
fn tag_mac(key: &[u8; 32], seal: &Seal) -> HmacSha256 {
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(TAG_DOMAIN);
    mac.update(&seal.epoch.to_le_bytes());
    mac.update(&seal.epoch_start_ns.to_le_bytes());
    mac.update(&seal.epoch_end_ns.to_le_bytes());
    mac.update(&seal.key_id.0.to_le_bytes());
    mac.update(&seal.head.0);
    mac
}

/// The payload of a Seal block: epoch `epoch`'s key vouches for `head`, the chain head of
/// every byte of the segment before this block.
///
/// Byte layout (96 bytes, integers little-endian):
///
/// ```text
///  0  u64       epoch
///  8  u64       epoch start, CLOCK_REALTIME ns
/// 16  u64       epoch end (exclusive), CLOCK_REALTIME ns
/// 24  u64       key id
/// 32  [u8; 32]  chain head of everything before this block
/// 64  [u8; 32]  tag = HMAC-SHA-256(k_epoch, "kellect-seal" || bytes 0..64)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seal {
    pub epoch: u64,
    pub epoch_start_ns: u64,
    pub epoch_end_ns: u64,
    pub key_id: KeyId,
    pub head: ChainHead,
    pub tag: [u8; 32],
}

impl Seal {
    pub fn encode(&self) -> [u8; SEAL_PAYLOAD_LEN] {
        let mut out = [0u8; SEAL_PAYLOAD_LEN];
        let mut w = LeWriter::new(&mut out);
        w.u64(self.epoch);
        w.u64(self.epoch_start_ns);
        w.u64(self.epoch_end_ns);
        w.u64(self.key_id.0);
        w.bytes(&self.head.0);
        w.bytes(&self.tag);
        out
    }

    /// Parses a Seal payload. `None` unless it is exactly [`SEAL_PAYLOAD_LEN`] bytes.
    pub fn decode(payload: &[u8]) -> Option<Seal> {
        let fixed: &[u8; SEAL_PAYLOAD_LEN] = payload.try_into().ok()?;
        let mut r = LeReader::new(fixed);
        let epoch = r.u64();
        let epoch_start_ns = r.u64();
        let epoch_end_ns = r.u64();
        let key_id = KeyId(r.u64());
        let head: [u8; CHAIN_HEAD_LEN] = r.array();
        let tag: [u8; 32] = r.array();
        Some(Seal {
            epoch,
            epoch_start_ns,
            epoch_end_ns,
            key_id,
            head: ChainHead(head),
            tag,
        })
    }
}

/// The host's half: the current epoch's key. Evolving overwrites the old key in memory;
/// [`SealingKeyFile`] keeps the file in step. Dropping it erases the key.
pub struct SealingKey {
    key: Zeroizing<[u8; 32]>,
    epoch: u64,
    clock: EpochClock,
    key_id: KeyId,
}

/// The verifier's half: `k_0`, from which every epoch's key is derived forward. Keep it off
/// the recording host. Dropping it erases the key.
pub struct VerifyKey {
    k0: Zeroizing<[u8; 32]>,
    clock: EpochClock,
    key_id: KeyId,
}

/// Makes a new key pair: a random `k_0` (from the operating system), epoch 0 starting at
/// `start_ns` (realtime ns), epochs of `interval_ns`.
///
/// Errors: an interval outside [`MIN_SEAL_INTERVAL_NS`]..=[`MAX_SEAL_INTERVAL_NS`]; no
/// random bytes from the operating system.
pub fn generate(start_ns: u64, interval_ns: u64) -> Result<(SealingKey, VerifyKey), SealError> {
    check_interval(interval_ns)?;
    let mut k0 = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut k0[..]).map_err(|e| SealError::Random(e.to_string()))?;
    let clock = EpochClock {
        start_ns,
        interval_ns,
    };
    let key_id = KeyId::of(&k0);
    Ok((
        SealingKey {
            key: k0.clone(),
            epoch: 0,
            clock,
            key_id,
        },
        VerifyKey { k0, clock, key_id },
    ))
}

fn check_interval(interval_ns: u64) -> Result<(), SealError> {
    if (MIN_SEAL_INTERVAL_NS..=MAX_SEAL_INTERVAL_NS).contains(&interval_ns) {
        Ok(())
    } else {
        Err(SealError::BadInterval(interval_ns))
    }
}

impl SealingKey {
    /// The epoch of the key held now.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn clock(&self) -> EpochClock {
        self.clock
    }

    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// Evolves the key forward to `epoch` (nothing if it is not later), overwriting each
    /// key it leaves behind.
    pub fn evolve_to(&mut self, epoch: u64) {
        while self.epoch < epoch {
            evolve(&mut self.key);
            self.epoch += 1;
        }
    }

    /// A seal of `head` under the current epoch's key.
    pub fn seal(&self, head: ChainHead) -> Seal {
        let (epoch_start_ns, epoch_end_ns) = self.clock.window(self.epoch);
        let mut seal = Seal {
            epoch: self.epoch,
            epoch_start_ns,
            epoch_end_ns,
            key_id: self.key_id,
            head,
            tag: [0; 32],
        };
        seal.tag = tag_mac(&self.key, &seal).finalize().into_bytes().into();
        seal
    }

    /// The key bytes as a key file holds them (for tests of erasure).
    #[cfg(test)]
    pub(crate) fn key_bytes(&self) -> [u8; 32] {
        *self.key
    }
}

/// How a seal fares against the verification key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SealProblem {
    /// The seal names another key pair.
    OtherKey { key_id: KeyId },
    /// The epoch's window is not the one the key's start and interval give.
    WrongWindow,
    /// The epoch lies beyond what the verification allows (the future, or [`MAX_EPOCH`]).
    FutureEpoch { latest: u64 },
    /// The tag was not made with this epoch's key: the seal was forged, or made with a
    /// later epoch's key (an intruder re-sealing data after changing it).
    BadTag,
}

impl fmt::Display for SealProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SealProblem::OtherKey { key_id } => {
                write!(f, "it was made with another key (key id {key_id})")
            }
            SealProblem::WrongWindow => {
                f.write_str("its epoch times are not those of its epoch under this key")
            }
            SealProblem::FutureEpoch { latest } => write!(
                f,
                "its epoch lies in the future of this verification (latest possible: {latest})"
            ),
            SealProblem::BadTag => f.write_str(
                "its tag was not made with its epoch's key (forged, or re-sealed with a later key)",
            ),
        }
    }
}

impl VerifyKey {
    pub fn clock(&self) -> EpochClock {
        self.clock
    }

    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// A deriver of epoch keys, walking forward from `k_0`.
    pub fn epochs(&self) -> EpochKeys {
        EpochKeys {
            k0: self.k0.clone(),
            key: self.k0.clone(),
            epoch: 0,
            clock: self.clock,
            key_id: self.key_id,
        }
    }
}

/// Derives epoch keys forward from `k_0` and checks seals with them. Seals of one recording
/// come in nondecreasing epochs, so one walk costs one SHA-256 per epoch; a seal of an
/// earlier epoch than the last restarts from `k_0`.
pub struct EpochKeys {
    k0: Zeroizing<[u8; 32]>,
    key: Zeroizing<[u8; 32]>,
    epoch: u64,
    clock: EpochClock,
    key_id: KeyId,
}

impl EpochKeys {
    /// Checks `seal` with its epoch's key `k_epoch` and no other. `now_ns` (realtime)
    /// bounds the epochs a genuine seal can have: no later than the epoch of `now_ns` + 1,
    /// and never beyond [`MAX_EPOCH`], so a hostile epoch number costs bounded work.
    pub fn check(&mut self, seal: &Seal, now_ns: u64) -> Result<(), SealProblem> {
        if seal.key_id != self.key_id {
            return Err(SealProblem::OtherKey {
                key_id: seal.key_id,
            });
        }
        let latest = self.clock.epoch_at(now_ns).saturating_add(1).min(MAX_EPOCH);
        if seal.epoch > latest {
            return Err(SealProblem::FutureEpoch { latest });
        }
        if self.clock.window(seal.epoch) != (seal.epoch_start_ns, seal.epoch_end_ns) {
            return Err(SealProblem::WrongWindow);
        }
        if seal.epoch < self.epoch {
            self.key.copy_from_slice(&self.k0[..]);
            self.epoch = 0;
        }
        while self.epoch < seal.epoch {
            evolve(&mut self.key);
            self.epoch += 1;
        }
        tag_mac(&self.key, seal)
            .verify_slice(&seal.tag)
            .map_err(|_| SealProblem::BadTag)
    }
}

/// Byte layout of both key files (84 bytes, integers little-endian):
///
/// ```text
///  0  [u8; 8]   magic: "KLSEALK\x01" (sealing key) or "KLVERFK\x01" (verification key)
///  8  u64       epoch 0 start, CLOCK_REALTIME ns
/// 16  u64       interval, ns
/// 24  u64       epoch of the key held (always 0 in a verification key)
/// 32  u64       key id
/// 40  [u8; 32]  the key: k_epoch (sealing), k_0 (verification)
/// 72  [u8; 8]   reserved, 0
/// 80  u32       CRC-32C of bytes 0..80
/// ```
struct KeyFileContents {
    magic: [u8; 8],
    clock: EpochClock,
    epoch: u64,
    key_id: KeyId,
    key: Zeroizing<[u8; 32]>,
}

impl KeyFileContents {
    fn encode(&self) -> Zeroizing<[u8; KEY_FILE_LEN]> {
        let mut out = Zeroizing::new([0u8; KEY_FILE_LEN]);
        let mut w = LeWriter::new(&mut out[..]);
        w.bytes(&self.magic);
        w.u64(self.clock.start_ns);
        w.u64(self.clock.interval_ns);
        w.u64(self.epoch);
        w.u64(self.key_id.0);
        w.bytes(&self.key[..]);
        w.u64(0);
        let crc = crc32c::crc32c(&out[..80]);
        out[80..].copy_from_slice(&crc.to_le_bytes());
        out
    }

    fn decode(
        bytes: &[u8],
        magic: &[u8; 8],
        path: &Path,
        what: &'static str,
    ) -> Result<KeyFileContents, SealError> {
        let bad = |why| SealError::BadKeyFile {
            path: path.to_owned(),
            what,
            why,
        };
        let fixed: &[u8; KEY_FILE_LEN] = bytes.try_into().map_err(|_| bad("wrong length"))?;
        if &fixed[..8] != magic {
            return Err(bad("wrong magic bytes"));
        }
        let stored = u32::from_le_bytes([fixed[80], fixed[81], fixed[82], fixed[83]]);
        if crc32c::crc32c(&fixed[..80]) != stored {
            return Err(bad("checksum mismatch: the file is damaged"));
        }
        let mut r = LeReader::new(&fixed[8..80]);
        let start_ns = r.u64();
        let interval_ns = r.u64();
        let epoch = r.u64();
        let key_id = KeyId(r.u64());
        let key = Zeroizing::new(r.array::<32>());
        check_interval(interval_ns).map_err(|_| bad("interval out of range"))?;
        Ok(KeyFileContents {
            magic: *magic,
            clock: EpochClock {
                start_ns,
                interval_ns,
            },
            epoch,
            key_id,
            key,
        })
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SealError + '_ {
    move |error| SealError::Io {
        path: path.to_owned(),
        error,
    }
}

/// Opens `path` for writing as a new file: mode 0600, never through a symbolic link, never
/// over an existing file.
fn create_new(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    options.open(path)
}

/// Reads a key file: never through a symbolic link, only a regular file, at most
/// [`KEY_FILE_LEN`] + 1 bytes.
fn read_key_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, SealError> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    options.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK);
    let file = options.open(path).map_err(io_err(path))?;
    let meta = file.metadata().map_err(io_err(path))?;
    if !meta.is_file() {
        return Err(SealError::Io {
            path: path.to_owned(),
            error: io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"),
        });
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(KEY_FILE_LEN + 1));
    file.take(KEY_FILE_LEN as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err(path))?;
    Ok(bytes)
}

/// Writes both key files of a new key pair: the verification key first, then the sealing
/// key, each as a new file (mode 0600, `O_EXCL`, `O_NOFOLLOW`), synced to disk. Returns the
/// key id.
///
/// Errors: a bad interval; no random bytes; either file exists, is a link, or cannot be
/// written (a verification key already written is removed again when the sealing key
/// cannot be).
pub fn keygen(
    sealing_path: &Path,
    verify_path: &Path,
    start_ns: u64,
    interval_ns: u64,
) -> Result<KeyId, SealError> {
    let (sealing, verify) = generate(start_ns, interval_ns)?;
    let verify_bytes = KeyFileContents {
        magic: *VERIFY_MAGIC,
        clock: verify.clock,
        epoch: 0,
        key_id: verify.key_id,
        key: verify.k0.clone(),
    }
    .encode();
    write_new(verify_path, &verify_bytes[..])?;
    let file = SealingKeyFile {
        path: sealing_path.to_owned(),
    };
    if let Err(e) = write_new(sealing_path, &file.contents(&sealing)[..]) {
        let _ = std::fs::remove_file(verify_path);
        return Err(e);
    }
    Ok(verify.key_id)
}

/// [`keygen`] with epoch 0 starting now (`CLOCK_REALTIME`).
pub fn keygen_now(
    sealing_path: &Path,
    verify_path: &Path,
    interval_ns: u64,
) -> Result<KeyId, SealError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    keygen(sealing_path, verify_path, now, interval_ns)
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<(), SealError> {
    let mut file = create_new(path).map_err(io_err(path))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(io_err(path))
}

impl VerifyKey {
    /// Reads a verification key file written by [`keygen`].
    ///
    /// Errors: the file cannot be read, is a link or not a regular file, or is not a
    /// verification key (magic, length, checksum, interval).
    pub fn load(path: &Path) -> Result<VerifyKey, SealError> {
        let bytes = read_key_file(path)?;
        let c = KeyFileContents::decode(&bytes, VERIFY_MAGIC, path, "verification")?;
        if KeyId::of(&c.key) != c.key_id || c.epoch != 0 {
            return Err(SealError::BadKeyFile {
                path: path.to_owned(),
                what: "verification",
                why: "its key id does not match its key",
            });
        }
        Ok(VerifyKey {
            k0: c.key,
            clock: c.clock,
            key_id: c.key_id,
        })
    }
}

/// The sealing key's file: rewritten, atomically, every time the key evolves, so that it
/// never holds a past epoch's key for longer than the rewrite takes.
pub struct SealingKeyFile {
    path: PathBuf,
}

impl SealingKeyFile {
    /// Reads the sealing key at `path`.
    ///
    /// Errors: the file cannot be read, is a link or not a regular file, or is not a
    /// sealing key (magic, length, checksum, interval).
    pub fn load(path: &Path) -> Result<(SealingKeyFile, SealingKey), SealError> {
        let bytes = read_key_file(path)?;
        let c = KeyFileContents::decode(&bytes, SEALING_MAGIC, path, "sealing")?;
        Ok((
            SealingKeyFile {
                path: path.to_owned(),
            },
            SealingKey {
                key: c.key,
                epoch: c.epoch,
                clock: c.clock,
                key_id: c.key_id,
            },
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn contents(&self, key: &SealingKey) -> Zeroizing<[u8; KEY_FILE_LEN]> {
        KeyFileContents {
            magic: *SEALING_MAGIC,
            clock: key.clock,
            epoch: key.epoch,
            key_id: key.key_id,
            key: key.key.clone(),
        }
        .encode()
    }

    /// Replaces the file with `key`: writes a new file beside it (same directory, mode
    /// 0600, `O_EXCL | O_NOFOLLOW`), syncs it, renames it over the old name (a rename
    /// replaces a symbolic link there, never follows it) and syncs the directory. The old
    /// file's bytes are no longer reachable through the file system; like any rewrite, it
    /// cannot promise that the storage device erased the old blocks.
    ///
    /// Errors: the new file cannot be created, written, synced or renamed; the old file
    /// then stays as it was (and the temporary file is removed).
    pub fn store(&self, key: &SealingKey) -> Result<(), SealError> {
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = dir.join(format!(".{name}.new-{}", std::process::id()));
        let written = write_new(&temp, &self.contents(key)[..])
            .and_then(|()| std::fs::rename(&temp, &self.path).map_err(io_err(&self.path)));
        if written.is_err() {
            let _ = std::fs::remove_file(&temp);
            return written;
        }
        // The rename is durable once the directory is.
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(&dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_700_000_000_000_000_000;
    const I: u64 = 10_000_000_000;

    #[test]
    fn each_epoch_checks_with_its_own_key_only() {
        let (mut sk, vk) = generate(S, I).unwrap();
        let head = ChainHead([7; 32]);
        let now = S + 100 * I;
        let mut seals = Vec::new();
        for e in 0..5 {
            sk.evolve_to(e);
            seals.push(sk.seal(head));
        }
        let mut keys = vk.epochs();
        for s in &seals {
            assert_eq!(keys.check(s, now), Ok(()), "epoch {}", s.epoch);
        }
        // Out of order still checks (restarts from k_0).
        assert_eq!(keys.check(&seals[1], now), Ok(()));
        // Epoch 1's seal re-made with epoch 3's key, epoch number left at 1: fails.
        let mut resealed = seals[1];
        sk.evolve_to(5);
        let mut later = vk.epochs();
        let mut k3 = seals[3];
        k3.epoch = 1;
        (k3.epoch_start_ns, k3.epoch_end_ns) = vk.clock().window(1);
        assert_eq!(later.check(&k3, now), Err(SealProblem::BadTag));
        resealed.head = ChainHead([8; 32]);
        assert_eq!(later.check(&resealed, now), Err(SealProblem::BadTag));
        // A seal whose window does not match its epoch.
        let mut w = seals[2];
        w.epoch_end_ns += 1;
        assert_eq!(later.check(&w, now), Err(SealProblem::WrongWindow));
        // A hostile epoch number costs nothing.
        let mut far = seals[2];
        far.epoch = u64::MAX;
        assert!(matches!(
            later.check(&far, now),
            Err(SealProblem::FutureEpoch { .. })
        ));
        // Another key pair.
        let (_, other) = generate(S, I).unwrap();
        assert!(matches!(
            other.epochs().check(&seals[0], now),
            Err(SealProblem::OtherKey { .. })
        ));
        // Round trip of the payload.
        assert_eq!(Seal::decode(&seals[4].encode()), Some(seals[4]));
        assert_eq!(Seal::decode(&[0; 95]), None);
    }

    #[test]
    fn key_files_round_trip_and_forget_the_past() {
        let dir = tempfile::tempdir().unwrap();
        let sp = dir.path().join("seal.key");
        let vp = dir.path().join("verify.key");
        let id = keygen(&sp, &vp, S, I).unwrap();
        // O_EXCL: never over an existing file.
        assert!(keygen(&sp, &dir.path().join("v2"), S, I).is_err());
        let (file, mut sk) = SealingKeyFile::load(&sp).unwrap();
        let vk = VerifyKey::load(&vp).unwrap();
        assert_eq!((sk.key_id(), vk.key_id(), sk.epoch()), (id, id, 0));
        let k0 = sk.key_bytes();
        assert!(VerifyKey::load(&sp).is_err());
        assert!(SealingKeyFile::load(&vp).is_err());
        sk.evolve_to(3);
        file.store(&sk).unwrap();
        let bytes = std::fs::read(&sp).unwrap();
        assert!(!bytes.windows(32).any(|w| w == k0));
        let (_, again) = SealingKeyFile::load(&sp).unwrap();
        assert_eq!((again.epoch(), again.key_bytes()), (3, sk.key_bytes()));
        // Damage and links are refused.
        let mut bad = bytes.clone();
        bad[50] ^= 1;
        std::fs::write(&sp, &bad).unwrap();
        assert!(SealingKeyFile::load(&sp).is_err());
        #[cfg(unix)]
        {
            let link = dir.path().join("link.key");
            std::os::unix::fs::symlink(&vp, &link).unwrap();
            assert!(VerifyKey::load(&link).is_err());
        }
        assert!(matches!(
            keygen(&dir.path().join("a"), &dir.path().join("b"), S, 1),
            Err(SealError::BadInterval(1))
        ));
    }

    /// The writer's cost of one seal: a tag and a key evolution (in memory), and one
    /// rewrite of the key file (write, fsync, rename, fsync of the directory) in the
    /// temporary directory. A measurement, not a check: `bash bench/seal-overhead.sh`.
    #[test]
    #[ignore = "a measurement: bash bench/seal-overhead.sh"]
    fn seal_cost() {
        let (mut sk, _) = generate(S, I).unwrap();
        let head = ChainHead([3; 32]);
        let n = 100_000u64;
        let started = std::time::Instant::now();
        for e in 1..=n {
            std::hint::black_box(sk.seal(head));
            sk.evolve_to(e);
        }
        let per_seal = started.elapsed().as_secs_f64() / n as f64;
        let dir = tempfile::tempdir().unwrap();
        let (sp, vp) = (dir.path().join("s.key"), dir.path().join("v.key"));
        keygen(&sp, &vp, S, I).unwrap();
        let (file, key) = SealingKeyFile::load(&sp).unwrap();
        let stores = 50u32;
        let started = std::time::Instant::now();
        for _ in 0..stores {
            file.store(&key).unwrap();
        }
        let per_store = started.elapsed().as_secs_f64() / f64::from(stores);
        println!(
            "seal cost: {:.2} us per tag and key evolution, {:.2} ms per key file rewrite \
             (fsync'd, {})",
            per_seal * 1e6,
            per_store * 1e3,
            dir.path().display()
        );
    }
}
