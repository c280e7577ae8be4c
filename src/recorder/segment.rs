//! A segment file written through memory-mapped chunks.
//!
//! The file grows one chunk at a time: the chunk is reserved on disk with
//! `posix_fallocate` first (so a full disk is an `ENOSPC` error here, never a SIGBUS
//! later on a mapped page), then mapped and filled. A crash leaves the unwritten rest of
//! the last chunk as zeros, which readers recognise as a zero tail; a clean finish
//! truncates the file to the bytes written.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use memmap2::{MmapMut, MmapOptions};

pub struct SegmentWriter {
    file: File,
    chunk_size: u64,
    /// The mapped window `[chunk_start, chunk_start + chunk_size)`.
    chunk: Option<MmapMut>,
    chunk_start: u64,
    /// Bytes written so far: the offset of the next byte.
    used: u64,
    /// An append failed: the mapped window may no longer contain `used`.
    poisoned: bool,
}

impl SegmentWriter {
    /// Creates the file with mode 0600 (traces hold sensitive data). An existing file is
    /// an error unless `overwrite`.
    pub fn create(path: &Path, overwrite: bool, chunk_size: u64) -> io::Result<Self> {
        let page = page_size();
        let chunk_size = chunk_size.max(page).div_ceil(page) * page;
        let mut options = OpenOptions::new();
        options.read(true).write(true).mode(0o600);
        if overwrite {
            options.create(true).truncate(true);
        } else {
            options.create_new(true);
        }
        let file = options.open(path)?;
        // An overwritten file keeps its old mode: make it private too.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        Ok(SegmentWriter {
            file,
            chunk_size,
            chunk: None,
            chunk_start: 0,
            used: 0,
            poisoned: false,
        })
    }

    /// The file offset the next appended byte will have.
    pub fn offset(&self) -> u64 {
        self.used
    }

    /// Appends all of `bytes` or, on error (a full disk), none of them: the bytes of a
    /// partial append are dropped by [`finish`](Self::finish)'s truncation.
    pub fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.poisoned {
            return Err(io::Error::other("an earlier write to this segment failed"));
        }
        let start = self.used;
        self.append_inner(bytes).inspect_err(|_| {
            self.used = start;
            self.poisoned = true;
        })
    }

    fn append_inner(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let mapped_end = self
                .chunk
                .as_ref()
                .map_or(0, |c| self.chunk_start + c.len() as u64);
            if self.chunk.is_none() || self.used == mapped_end {
                self.map_next_chunk()?;
            }
            let chunk = self.chunk.as_mut().expect("mapped above");
            let at = (self.used - self.chunk_start) as usize;
            let n = bytes.len().min(chunk.len() - at);
            chunk[at..at + n].copy_from_slice(&bytes[..n]);
            self.used += n as u64;
            bytes = &bytes[n..];
        }
        Ok(())
    }

    fn map_next_chunk(&mut self) -> io::Result<()> {
        // Windows are page multiples laid end to end, so every window starts page-aligned.
        let start = match &self.chunk {
            Some(chunk) => self.chunk_start + chunk.len() as u64,
            None => 0,
        };
        // Reserve the space first. Near a full disk, smaller windows use what is left.
        let page = page_size();
        let mut len = self.chunk_size;
        loop {
            // SAFETY: posix_fallocate only reads its integer arguments; the fd is open.
            let rc = unsafe {
                libc::posix_fallocate(
                    self.file.as_raw_fd(),
                    start as libc::off_t,
                    len as libc::off_t,
                )
            };
            match rc {
                0 => break,
                libc::ENOSPC if len > page => len = (len / 4).max(page),
                _ => return Err(io::Error::from_raw_os_error(rc)),
            }
        }
        // SAFETY: the mapped range lies inside the file (just allocated above) and this
        // process is its only writer: we created it with mode 0600 and never truncate it
        // while mapped (finish() unmaps before set_len).
        let map = unsafe {
            MmapOptions::new()
                .offset(start)
                .len(len as usize)
                .map_mut(&self.file)?
        };
        if let Some(old) = self.chunk.replace(map) {
            old.flush_async()?;
        }
        self.chunk_start = start;
        Ok(())
    }

    /// Writes everything back, unmaps and truncates the file to the bytes written.
    pub fn finish(mut self) -> io::Result<u64> {
        if let Some(chunk) = self.chunk.take() {
            chunk.flush()?;
        }
        self.file.set_len(self.used)?;
        self.file.sync_all()?;
        Ok(self.used)
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size >= 4096 {
        size as u64
    } else {
        4096
    }
}

/// The path of segment `index` of a recording written to `output`: the first segment is
/// `output` itself, later ones insert the index before the extension (`trace.kz`,
/// `trace.1.kz`, `trace.2.kz`, …).
pub fn segment_path(output: &Path, index: u32) -> PathBuf {
    if index == 0 {
        return output.to_owned();
    }
    let stem = output.file_stem().unwrap_or_default().to_string_lossy();
    let name = match output.extension() {
        Some(ext) => format!("{stem}.{index}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{index}"),
    };
    output.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_across_chunks_and_truncates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.kz");
        let mut w = SegmentWriter::create(&path, false, 4096).unwrap();
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        w.append(&data[..5]).unwrap();
        w.append(&data[5..]).unwrap();
        assert_eq!(w.offset(), 10_000);
        // Before finish, the file is preallocated past the data (a zero tail).
        assert!(std::fs::metadata(&path).unwrap().len() >= 10_000);
        w.finish().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), data);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        // No silent overwrite.
        let err = SegmentWriter::create(&path, false, 4096).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    }

    #[test]
    fn segment_names() {
        assert_eq!(segment_path(Path::new("/x/t.kz"), 0), Path::new("/x/t.kz"));
        assert_eq!(
            segment_path(Path::new("/x/t.kz"), 2),
            Path::new("/x/t.2.kz")
        );
        assert_eq!(segment_path(Path::new("t"), 1), Path::new("t.1"));
    }
}
