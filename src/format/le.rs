//! Little-endian field access for the fixed-layout structs of this module.
//!
//! Both helpers are panic-free by construction: reading past the end yields zeros and
//! writing past the end is dropped. Callers check lengths first (and return typed errors);
//! the unit tests pin every layout byte for byte, so a wrong offset cannot go unnoticed.

/// Reads consecutive little-endian fields from the front of a byte slice.
pub(crate) struct LeReader<'a> {
    rest: &'a [u8],
}

impl<'a> LeReader<'a> {
    pub(crate) const fn new(bytes: &'a [u8]) -> Self {
        LeReader { rest: bytes }
    }

    pub(crate) fn array<const N: usize>(&mut self) -> [u8; N] {
        match self.rest.split_first_chunk::<N>() {
            Some((head, rest)) => {
                self.rest = rest;
                *head
            }
            None => {
                self.rest = &[];
                [0; N]
            }
        }
    }

    pub(crate) fn u8(&mut self) -> u8 {
        self.array::<1>()[0]
    }

    pub(crate) fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.array())
    }

    pub(crate) fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    pub(crate) fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }
}

/// Writes consecutive little-endian fields into a fixed buffer.
pub(crate) struct LeWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> LeWriter<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        LeWriter { buf, pos: 0 }
    }

    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        let end = self.pos.saturating_add(bytes.len());
        if let Some(dst) = self.buf.get_mut(self.pos..end) {
            dst.copy_from_slice(bytes);
        }
        self.pos = end;
    }

    pub(crate) fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }

    pub(crate) fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }

    pub(crate) fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }

    pub(crate) fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
}
