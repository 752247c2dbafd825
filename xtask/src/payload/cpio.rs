//! The cpio "newc" format (what the Linux initramfs unpacker reads), written
//! by us so that device nodes and root ownership need no root on the host.
//!
//! Each entry: a 110-byte ASCII header (`070701` and 13 eight-digit hex
//! fields), the NUL-terminated name padded to 4 bytes, the data padded to 4
//! bytes. The archive ends with an entry named `TRAILER!!!`.

use anyhow::{bail, ensure, Context, Result};
use std::io::Write;

pub const MAGIC: &[u8; 6] = b"070701";
pub const TRAILER: &str = "TRAILER!!!";
const HEADER_LEN: usize = 110;

pub const S_IFDIR: u32 = 0o040000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFLNK: u32 = 0o120000;
pub const S_IFCHR: u32 = 0o020000;
const S_IFMT: u32 = 0o170000;

/// Writes entries in order; the caller creates parent directories first
/// (the kernel does not). All entries are owned by root with mtime 0, so the
/// archive depends only on its contents.
pub struct Writer<W: Write> {
    out: W,
    next_ino: u32,
    written: u64,
}

impl<W: Write> Writer<W> {
    pub fn new(out: W) -> Self {
        Self {
            out,
            next_ino: 1,
            written: 0,
        }
    }

    pub fn dir(&mut self, path: &str, perm: u32) -> Result<()> {
        self.entry(path, S_IFDIR | (perm & 0o7777), 2, (0, 0), &[])
    }

    pub fn file(&mut self, path: &str, perm: u32, data: &[u8]) -> Result<()> {
        self.entry(path, S_IFREG | (perm & 0o7777), 1, (0, 0), data)
    }

    pub fn symlink(&mut self, path: &str, target: &str) -> Result<()> {
        self.entry(path, S_IFLNK | 0o777, 1, (0, 0), target.as_bytes())
    }

    pub fn char_dev(&mut self, path: &str, perm: u32, major: u32, minor: u32) -> Result<()> {
        self.entry(path, S_IFCHR | (perm & 0o7777), 1, (major, minor), &[])
    }

    /// Writes the trailer and returns the inner writer.
    pub fn finish(mut self) -> Result<W> {
        self.raw_entry(TRAILER, 0, 0, 1, (0, 0), &[])?;
        Ok(self.out)
    }

    fn entry(
        &mut self,
        path: &str,
        mode: u32,
        nlink: u32,
        rdev: (u32, u32),
        data: &[u8],
    ) -> Result<()> {
        ensure!(
            !path.is_empty() && !path.starts_with('/') && !path.ends_with('/') && path != TRAILER,
            "bad cpio path {path:?} (relative, no trailing slash)"
        );
        ensure!(
            !path
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == ".."),
            "bad cpio path {path:?}"
        );
        let ino = self.next_ino;
        self.next_ino += 1;
        self.raw_entry(path, ino, mode, nlink, rdev, data)
    }

    fn raw_entry(
        &mut self,
        name: &str,
        ino: u32,
        mode: u32,
        nlink: u32,
        rdev: (u32, u32),
        data: &[u8],
    ) -> Result<()> {
        ensure!(!name.contains('\0'), "NUL in cpio name {name:?}");
        let size = u32::try_from(data.len()).context("cpio entry larger than 4 GiB")?;
        let namesize = name.len() as u32 + 1;
        let fields = [
            ino, mode, 0, 0, nlink, 0, size, 0, 0, rdev.0, rdev.1, namesize, 0,
        ];
        let mut header = String::with_capacity(HEADER_LEN);
        header.push_str("070701");
        for f in fields {
            header.push_str(&format!("{f:08X}"));
        }
        self.put(header.as_bytes())?;
        self.put(name.as_bytes())?;
        self.put(&[0])?;
        self.pad()?;
        self.put(data)?;
        self.pad()
    }

    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn pad(&mut self) -> Result<()> {
        let n = (4 - (self.written % 4) as usize) % 4;
        self.put(&[0; 3][..n])
    }
}

/// One entry as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: (u32, u32),
    pub data: Vec<u8>,
}

impl Entry {
    #[cfg(test)]
    pub fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }
    pub fn is_file(&self) -> bool {
        self.mode & S_IFMT == S_IFREG
    }
    #[cfg(test)]
    pub fn is_symlink(&self) -> bool {
        self.mode & S_IFMT == S_IFLNK
    }
    #[cfg(test)]
    pub fn is_char_dev(&self) -> bool {
        self.mode & S_IFMT == S_IFCHR
    }
}

/// Parses a whole newc archive; fails unless it ends with the trailer
/// (followed by nothing but zero padding). The trailer is not returned.
pub fn parse(bytes: &[u8]) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    let mut pos = 0usize;
    loop {
        let Some(header) = bytes.get(pos..pos + HEADER_LEN) else {
            bail!("cpio archive truncated at byte {pos} (no {TRAILER} entry)");
        };
        ensure!(&header[..6] == MAGIC, "bad cpio magic at byte {pos}");
        let field = |i: usize| -> Result<u32> {
            let hex = std::str::from_utf8(&header[6 + 8 * i..14 + 8 * i])?;
            u32::from_str_radix(hex, 16)
                .with_context(|| format!("bad cpio header field at byte {pos}"))
        };
        let (mode, uid, gid, size) = (field(1)?, field(2)?, field(3)?, field(6)? as usize);
        let (rdev, namesize) = ((field(9)?, field(10)?), field(11)? as usize);
        ensure!(namesize >= 1, "empty cpio name at byte {pos}");
        let name_start = pos + HEADER_LEN;
        let name = bytes
            .get(name_start..name_start + namesize - 1)
            .context("cpio name truncated")?;
        let name = std::str::from_utf8(name)
            .context("non-UTF-8 cpio name")?
            .to_string();
        let data_start = (name_start + namesize).next_multiple_of(4);
        let data = bytes
            .get(data_start..data_start + size)
            .with_context(|| format!("cpio data of {name:?} truncated"))?;
        pos = (data_start + size).next_multiple_of(4);
        if name == TRAILER {
            ensure!(
                bytes.get(pos..).unwrap_or_default().iter().all(|&b| b == 0),
                "data after the cpio trailer"
            );
            return Ok(entries);
        }
        entries.push(Entry {
            name,
            mode,
            uid,
            gid,
            rdev,
            data: data.to_vec(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut w = Writer::new(Vec::new());
        w.dir("bin", 0o755).unwrap();
        w.file("bin/busybox", 0o755, b"\x7fELF...").unwrap();
        w.symlink("bin/sh", "busybox").unwrap();
        w.dir("dev", 0o755).unwrap();
        w.char_dev("dev/console", 0o600, 5, 1).unwrap();
        w.file("init", 0o755, b"#!/bin/sh\n").unwrap();
        w.file("empty", 0o644, b"").unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn round_trip() {
        let bytes = sample();
        assert_eq!(bytes.len() % 4, 0);
        assert_eq!(&bytes[..6], MAGIC);
        let e = parse(&bytes).unwrap();
        let names: Vec<&str> = e.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "bin",
                "bin/busybox",
                "bin/sh",
                "dev",
                "dev/console",
                "init",
                "empty"
            ]
        );
        assert!(e[0].is_dir() && e[0].mode & 0o7777 == 0o755);
        assert!(e[1].is_file() && e[1].data == b"\x7fELF...");
        assert!(e[2].is_symlink() && e[2].data == b"busybox");
        assert!(e[4].is_char_dev() && e[4].rdev == (5, 1) && e[4].mode & 0o777 == 0o600);
        assert!(e.iter().all(|e| e.uid == 0 && e.gid == 0));
        assert_eq!(e[5].data, b"#!/bin/sh\n");
        assert!(e[6].data.is_empty());
    }

    #[test]
    fn matches_the_format_byte_for_byte() {
        let mut w = Writer::new(Vec::new());
        w.file("ab", 0o644, b"xyz").unwrap();
        let bytes = w.finish().unwrap();
        let fields = [
            "00000001", "000081A4", "00000000", "00000000", "00000001", "00000000", "00000003",
            "00000000", "00000000", "00000000", "00000000", "00000003", "00000000",
        ];
        assert_eq!(
            &bytes[..110],
            format!("070701{}", fields.concat()).as_bytes()
        );
        // 110 + "ab\0" = 113 -> padded to 116; data "xyz" -> padded to 120.
        assert_eq!(&bytes[110..116], b"ab\0\0\0\0");
        assert_eq!(&bytes[116..120], b"xyz\0");
        assert_eq!(&bytes[120..126], MAGIC);
    }

    #[test]
    fn rejects_damaged_archives() {
        let bytes = sample();
        let err = parse(&bytes[..bytes.len() - 130]).unwrap_err().to_string();
        assert!(
            err.contains("truncated") || err.contains("TRAILER"),
            "{err}"
        );
        let mut bad = bytes.clone();
        bad[0] = b'1';
        assert!(parse(&bad).unwrap_err().to_string().contains("magic"));
        let mut extra = bytes;
        extra.extend_from_slice(b"junk");
        assert!(parse(&extra).is_err());
        let mut w = Writer::new(Vec::new());
        assert!(w.file("/abs", 0o644, b"").is_err());
        assert!(w.file("a/../b", 0o644, b"").is_err());
        assert!(w.dir("d/", 0o755).is_err());
    }
}
