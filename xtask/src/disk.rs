//! `disk.img`: an MBR disk with partition 1 FAT32 (hypervisor, boot script,
//! guest files) and partition 2 raw (the guest's root filesystem). Built
//! in-process with `mbrman` and `fatfs`: no root, loop devices or mount.

use anyhow::{bail, Context, Result};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub const SECTOR: u64 = 512;
/// Partitions start on 1 MiB boundaries, as fdisk does.
const ALIGN_SECTORS: u64 = 2048;
/// MBR type 0x0C: FAT32 with LBA, which embedded-sdmmc (and U-Boot) accept.
pub const TYPE_FAT32_LBA: u8 = 0x0c;
/// MBR type 0x83: Linux.
pub const TYPE_LINUX: u8 = 0x83;
/// FAT32 needs at least 65525 clusters; with fatfs's cluster sizes that is
/// comfortably met from 64 MiB up.
const MIN_FAT32_MIB: u64 = 64;

/// Where the two partitions lie, in sectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub p1_start: u64,
    pub p1_sectors: u64,
    pub p2_start: u64,
    pub p2_sectors: u64,
}

impl Layout {
    pub fn new(p1_mib: u64, p2_mib: u64) -> Result<Self> {
        if p1_mib < MIN_FAT32_MIB {
            bail!("partition 1 must be at least {MIN_FAT32_MIB} MiB to hold FAT32");
        }
        let mib = (1 << 20) / SECTOR;
        let p1_start = ALIGN_SECTORS;
        let p1_sectors = p1_mib * mib;
        let p2_start = p1_start + p1_sectors;
        Ok(Self {
            p1_start,
            p1_sectors,
            p2_start,
            p2_sectors: p2_mib * mib,
        })
    }

    pub fn total_bytes(&self) -> u64 {
        (self.p2_start + self.p2_sectors) * SECTOR
    }

    pub fn p1_bytes(&self) -> (u64, u64) {
        (self.p1_start * SECTOR, self.p1_sectors * SECTOR)
    }

    pub fn p2_bytes(&self) -> (u64, u64) {
        (self.p2_start * SECTOR, self.p2_sectors * SECTOR)
    }
}

/// What goes on the disk.
#[derive(Clone, Debug)]
pub struct DiskSpec {
    pub layout: Layout,
    /// Files for the FAT32 root directory: (name on disk, source file).
    pub boot_files: Vec<(String, PathBuf)>,
    /// An image to copy into partition 2 (e.g. ext4); zeros if None.
    pub root_image: Option<PathBuf>,
}

/// Writes `spec` to `out`, replacing any existing file.
pub fn build(out: &Path, spec: &DiskSpec) -> Result<()> {
    let layout = spec.layout;
    let _ = std::fs::remove_file(out);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(out)
        .with_context(|| format!("creating {}", out.display()))?;
    file.set_len(layout.total_bytes())?;
    write_mbr(&mut file, &layout)?;

    let (p1_off, p1_len) = layout.p1_bytes();
    let mut part = Slice::new(&mut file, p1_off, p1_len);
    fatfs::format_volume(
        &mut part,
        fatfs::FormatVolumeOptions::new()
            .fat_type(fatfs::FatType::Fat32)
            .volume_label(*b"HYPBOOT    "),
    )
    .context("formatting partition 1 as FAT32")?;
    part.seek(SeekFrom::Start(0))?;
    {
        let fs = fatfs::FileSystem::new(&mut part, fatfs::FsOptions::new())?;
        let root = fs.root_dir();
        for (name, src) in &spec.boot_files {
            let data = std::fs::read(src).with_context(|| format!("reading {}", src.display()))?;
            let mut f = root
                .create_file(name)
                .with_context(|| format!("creating {name} on FAT"))?;
            f.truncate()?;
            f.write_all(&data)
                .with_context(|| format!("writing {name} to FAT ({} bytes)", data.len()))?;
        }
    }

    if let Some(img) = &spec.root_image {
        let (p2_off, p2_len) = layout.p2_bytes();
        let mut src = File::open(img).with_context(|| format!("opening {}", img.display()))?;
        let len = src.metadata()?.len();
        if len > p2_len {
            bail!(
                "{} ({len} bytes) does not fit partition 2 ({p2_len} bytes)",
                img.display()
            );
        }
        file.seek(SeekFrom::Start(p2_off))?;
        io::copy(&mut src, &mut file)?;
    }
    file.sync_all()?;
    Ok(())
}

fn write_mbr(file: &mut File, layout: &Layout) -> Result<()> {
    let mut mbr = mbrman::MBR::new_from(file, SECTOR as u32, *b"EHYP").context("creating MBR")?;
    let entry = |sys: u8, start: u64, sectors: u64| -> Result<mbrman::MBRPartitionEntry> {
        Ok(mbrman::MBRPartitionEntry {
            boot: mbrman::BOOT_INACTIVE,
            first_chs: mbrman::CHS::empty(),
            sys,
            last_chs: mbrman::CHS::empty(),
            starting_lba: u32::try_from(start).context("disk too large for MBR")?,
            sectors: u32::try_from(sectors).context("partition too large for MBR")?,
        })
    };
    mbr[1] = entry(TYPE_FAT32_LBA, layout.p1_start, layout.p1_sectors)?;
    mbr[2] = entry(TYPE_LINUX, layout.p2_start, layout.p2_sectors)?;
    mbr.write_into(file).context("writing MBR")?;
    Ok(())
}

/// A window [offset, offset + len) of a file, seen as a whole device.
pub struct Slice<'a> {
    file: &'a mut File,
    offset: u64,
    len: u64,
    pos: u64,
}

impl<'a> Slice<'a> {
    pub fn new(file: &'a mut File, offset: u64, len: u64) -> Self {
        Self {
            file,
            offset,
            len,
            pos: 0,
        }
    }
}

impl Read for Slice<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (buf.len() as u64).min(self.len.saturating_sub(self.pos)) as usize;
        self.file.seek(SeekFrom::Start(self.offset + self.pos))?;
        let n = self.file.read(&mut buf[..n])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Write for Slice<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = (buf.len() as u64).min(self.len.saturating_sub(self.pos)) as usize;
        if n == 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "write past end of partition",
            ));
        }
        self.file.seek(SeekFrom::Start(self.offset + self.pos))?;
        let n = self.file.write(&buf[..n])?;
        self.pos += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Seek for Slice<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let new = match to {
            SeekFrom::Start(p) => p as i128,
            SeekFrom::End(d) => self.len as i128 + d as i128,
            SeekFrom::Current(d) => self.pos as i128 + d as i128,
        };
        if new < 0 || new > self.len as i128 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek outside partition",
            ));
        }
        self.pos = new as u64;
        Ok(self.pos)
    }
}

/// Reads a file back from partition 1 (for tests and checks).
#[cfg(test)]
pub fn read_boot_file(disk: &Path, layout: &Layout, name: &str) -> Result<Vec<u8>> {
    let mut file = OpenOptions::new().read(true).write(true).open(disk)?;
    let (off, len) = layout.p1_bytes();
    let mut part = Slice::new(&mut file, off, len);
    let fs = fatfs::FileSystem::new(&mut part, fatfs::FsOptions::new())?;
    let mut data = Vec::new();
    fs.root_dir().open_file(name)?.read_to_end(&mut data)?;
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_aligned() {
        let l = Layout::new(128, 64).unwrap();
        assert_eq!(l.p1_start, 2048);
        assert_eq!(l.p1_bytes(), (1 << 20, 128 << 20));
        assert_eq!(l.p2_bytes(), (129 << 20, 64 << 20));
        assert_eq!(l.total_bytes(), 193 << 20);
        assert!(Layout::new(16, 1).is_err());
    }

    #[test]
    fn builds_a_readable_disk() {
        let dir = std::env::temp_dir().join(format!("xtask-disk-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let payload = dir.join("payload.bin");
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&payload, &data).unwrap();
        let root = dir.join("root.img");
        std::fs::write(&root, b"ROOTFS-MARKER").unwrap();
        let layout = Layout::new(64, 4).unwrap();
        let img = dir.join("disk.img");
        let spec = DiskSpec {
            layout,
            boot_files: vec![("elf-hypervisor.elf".into(), payload.clone())],
            root_image: Some(root),
        };
        build(&img, &spec).unwrap();

        let raw = std::fs::read(&img).unwrap();
        assert_eq!(&raw[510..512], &[0x55, 0xaa]);
        // Partition entry 1 at 0x1be: type byte at +4, start LBA at +8.
        assert_eq!(raw[0x1be + 4], TYPE_FAT32_LBA);
        assert_eq!(
            u32::from_le_bytes(raw[0x1be + 8..0x1be + 12].try_into().unwrap()),
            2048
        );
        assert_eq!(raw[0x1ce + 4], TYPE_LINUX);
        let (p2, _) = layout.p2_bytes();
        assert_eq!(&raw[p2 as usize..p2 as usize + 13], b"ROOTFS-MARKER");
        // FAT32 boot sector signature "FAT32   " at offset 82.
        let (p1, _) = layout.p1_bytes();
        assert_eq!(&raw[p1 as usize + 82..p1 as usize + 90], b"FAT32   ");
        assert_eq!(
            read_boot_file(&img, &layout, "elf-hypervisor.elf").unwrap(),
            data
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rejects_oversized_root() {
        let dir = std::env::temp_dir().join(format!("xtask-disk-big-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let root = dir.join("root.img");
        std::fs::write(&root, vec![0u8; (2 << 20) + 1]).unwrap();
        let spec = DiskSpec {
            layout: Layout::new(64, 2).unwrap(),
            boot_files: vec![],
            root_image: Some(root),
        };
        let err = build(&dir.join("d.img"), &spec).unwrap_err().to_string();
        assert!(err.contains("does not fit partition 2"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
