//! Files from an uncompressed `newc` cpio archive in memory: the Raspberry
//! Pi route, where the firmware loads `guest.cpio` next to the hypervisor
//! (`initramfs guest.cpio followkernel`) and names it in `/chosen`.
//! Format: Linux Documentation/driver-api/early-userspace/buffer-format.rst.

use crate::loader::{FileName, FileSource, LoadError};

const MAGIC: &[u8; 6] = b"070701";
const HEADER: usize = 110;
const TRAILER: &str = "TRAILER!!!";

/// A read-only view of a newc archive.
pub struct CpioSource<'a> {
    data: &'a [u8],
}

/// One regular file found in the archive.
struct Found<'a> {
    data: &'a [u8],
}

fn hex(field: &[u8]) -> Option<usize> {
    let s = core::str::from_utf8(field).ok()?;
    usize::from_str_radix(s, 16).ok()
}

fn align4(x: usize) -> usize {
    (x + 3) & !3
}

impl<'a> CpioSource<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// Walks the archive to `name` (a leading "./" or "/" is ignored).
    /// Every offset is checked, so a corrupt archive is an error, never a
    /// panic or an endless loop (each step moves forward).
    fn find(&self, name: &str) -> Result<Found<'a>, LoadError> {
        let want = name.trim_start_matches("./").trim_start_matches('/');
        let corrupt = LoadError::CorruptArchive;
        let mut off = 0usize;
        loop {
            let hdr = self.data.get(off..off + HEADER).ok_or(corrupt)?;
            if &hdr[..6] != MAGIC {
                return Err(corrupt);
            }
            let field = |i: usize| hex(&hdr[6 + i * 8..14 + i * 8]);
            let mode = field(1).ok_or(corrupt)?;
            let filesize = field(6).ok_or(corrupt)?;
            let namesize = field(11).ok_or(corrupt)?;
            let name_start = off + HEADER;
            let name_end = name_start.checked_add(namesize).ok_or(corrupt)?;
            let raw = self.data.get(name_start..name_end).ok_or(corrupt)?;
            let entry =
                core::str::from_utf8(raw.strip_suffix(&[0]).unwrap_or(raw)).map_err(|_| corrupt)?;
            let data_start = align4(name_end);
            let data_end = data_start.checked_add(filesize).ok_or(corrupt)?;
            let data = self.data.get(data_start..data_end).ok_or(corrupt)?;
            if entry == TRAILER {
                return Err(LoadError::NotInArchive(FileName::new(name)));
            }
            let is_file = mode & 0o170000 == 0o100000;
            if is_file && entry.trim_start_matches("./") == want {
                return Ok(Found { data });
            }
            off = align4(data_end);
        }
    }
}

impl FileSource for CpioSource<'_> {
    fn size(&mut self, name: &str) -> Result<u64, LoadError> {
        Ok(self.find(name)?.data.len() as u64)
    }

    fn read_into(&mut self, name: &str, dest: &mut [u8]) -> Result<usize, LoadError> {
        let f = self.find(name)?;
        let n = f.data.len();
        let Some(d) = dest.get_mut(..n) else {
            return Err(LoadError::TooLarge {
                name: FileName::new(name),
                size: n as u64,
                capacity: dest.len(),
            });
        };
        d.copy_from_slice(f.data);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(out: &mut Vec<u8>, name: &str, mode: u32, data: &[u8]) {
        let namesize = name.len() + 1;
        let h =
            format!(
            "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            1, mode, 0, 0, 1, 0, data.len(), 0, 0, 0, 0, namesize, 0
        );
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
        out.extend_from_slice(data);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }

    fn archive() -> Vec<u8> {
        let mut a = Vec::new();
        entry(&mut a, ".", 0o040755, b"");
        entry(&mut a, "hypervisor.cfg", 0o100644, b"kernel = Image\n");
        entry(&mut a, "Image", 0o100644, &[7u8; 1001]);
        entry(&mut a, TRAILER, 0, b"");
        a
    }

    #[test]
    fn reads_files_by_name() {
        let a = archive();
        let mut src = CpioSource::new(&a);
        assert_eq!(src.size("Image").unwrap(), 1001);
        assert_eq!(src.size("/hypervisor.cfg").unwrap(), 15);
        let mut buf = [0u8; 2000];
        assert_eq!(src.read_into("Image", &mut buf).unwrap(), 1001);
        assert!(buf[..1001].iter().all(|&b| b == 7));
        assert!(matches!(
            src.read_into("Image", &mut [0u8; 10]),
            Err(LoadError::TooLarge { .. })
        ));
        assert!(matches!(
            src.size("initrd.img"),
            Err(LoadError::NotInArchive(_))
        ));
        assert!(
            matches!(src.size("."), Err(LoadError::NotInArchive(_))),
            "directories are not files"
        );
    }

    #[test]
    fn corrupt_archives_are_errors_not_panics() {
        let a = archive();
        for cut in 0..a.len() {
            let _ = CpioSource::new(&a[..cut]).size("Image");
        }
        let mut seed = 0x1234_5678u32;
        for _ in 0..2000 {
            let mut b = a.clone();
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let i = seed as usize % b.len();
            b[i] = (seed >> 8) as u8;
            let _ = CpioSource::new(&b).size("Image");
        }
        assert!(CpioSource::new(b"garbage").size("x").is_err());
    }
}
