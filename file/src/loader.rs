//! Loading whole files by name: the [`FileSource`] interface the
//! hypervisor uses, independent of where files come from, and
//! [`FatLoader`], its implementation over partition 1 of an MBR disk read
//! with `embedded-sdmmc` 0.10 (QEMU, virtio-blk). The Raspberry Pi 5 route,
//! where the firmware already placed the files in memory, implements the
//! same trait.
//!
//! Names: FAT matches names case-insensitively (FAT spec, "Name Matching
//! In Short & Long Names"). A name is found if it equals, ignoring ASCII
//! case, an entry's VFAT long name (checksum-verified by `embedded-sdmmc`)
//! or its 8.3 short name; the entry is then opened by its on-disk short
//! name. `embedded-sdmmc`'s own `open_file_in_dir` takes 8.3 names only
//! (`hypervisor.cfg` fails with `NameTooLong`), and its
//! `open_long_name_file_in_dir` matches long names case-sensitively; going
//! through `iterate_dir_lfn` instead makes `hypervisor.cfg` and
//! `elf-hypervisor.elf` open (read-only) exactly like `Image` or
//! `initrd.img`.

use core::fmt;
use core::ops::ControlFlow;

use embedded_sdmmc::{
    DirEntry, Error, LfnBuffer, Mode, RawDirectory, RawVolume, ShortFileName, TimeSource,
    Timestamp, VolumeIdx, VolumeManager,
};

use crate::blockdev::{BlockRead, DeviceError, ReadAhead, ReadStats, BLOCK_SIZE};
use crate::fat::{self, Geometry};

/// Something that can hand out whole files by name.
pub trait FileSource {
    /// The size of `name` in bytes.
    fn size(&mut self, name: &str) -> Result<u64, LoadError>;

    /// Copies all of `name` to the start of `dest` and returns its length;
    /// [`LoadError::TooLarge`] (and nothing copied) when it does not fit.
    fn read_into(&mut self, name: &str, dest: &mut [u8]) -> Result<usize, LoadError>;
}

/// A file name kept inside an error without a heap; longer names are cut
/// on a character boundary (enough to recognise them in a message).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FileName {
    bytes: [u8; FileName::CAPACITY],
    len: u8,
}

impl FileName {
    /// Bytes kept.
    pub const CAPACITY: usize = 64;

    pub fn new(name: &str) -> Self {
        let mut end = name.len().min(Self::CAPACITY);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        let mut bytes = [0; Self::CAPACITY];
        bytes[..end].copy_from_slice(&name.as_bytes()[..end]);
        // end <= 64, so it fits in a u8.
        Self {
            bytes,
            len: end as u8,
        }
    }

    pub fn as_str(&self) -> &str {
        // Cut on a char boundary from a &str, so valid UTF-8; never panic.
        core::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// Why a file could not be loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// No regular file of that name (long or 8.3, case-insensitive) in the
    /// root directory.
    NotFound(FileName),
    /// The destination is smaller than the file.
    TooLarge {
        name: FileName,
        size: u64,
        capacity: usize,
    },
    /// Partition 1 is missing, not FAT, or its boot sector is unusable
    /// (the reason from the FAT reader).
    NoFat32Partition(&'static str),
    /// The file system is inconsistent (bad cluster chain, a block past the
    /// end of the disk, a file shorter than its directory entry).
    Corrupt(&'static str),
    /// The block device failed reading at `lba`.
    Io { lba: u64 },
    /// No regular file of that name in the firmware-loaded guest archive.
    NotInArchive(FileName),
    /// The firmware-loaded guest archive is not a valid newc cpio.
    CorruptArchive,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound(name) => write!(f, "file \"{name}\" not found on partition 1"),
            Self::TooLarge {
                name,
                size,
                capacity,
            } => write!(
                f,
                "file \"{name}\" is {size} bytes, larger than its {capacity}-byte destination"
            ),
            Self::NoFat32Partition(why) => write!(f, "no FAT32 file system on partition 1: {why}"),
            Self::Corrupt(why) => write!(f, "FAT file system on partition 1 is corrupt: {why}"),
            Self::Io { lba } => write!(f, "disk read failed at block {lba}"),
            Self::NotInArchive(name) => {
                write!(
                    f,
                    "file \"{name}\" not found in the guest archive from the firmware"
                )
            }
            Self::CorruptArchive => write!(
                f,
                "the guest archive from the firmware is not a valid newc cpio"
            ),
        }
    }
}

impl core::error::Error for LoadError {}

/// Longest VFAT name in UTF-8: 255 UTF-16 units, at most 3 bytes each.
const LFN_BUF: usize = 255 * 3;

/// Nothing is written, so timestamps are never used; `embedded-sdmmc`
/// still wants a clock.
pub struct NoClock;

impl TimeSource for NoClock {
    fn get_timestamp(&self) -> Timestamp {
        Timestamp {
            year_since_1970: 0,
            zero_indexed_month: 0,
            zero_indexed_day: 0,
            hours: 0,
            minutes: 0,
            seconds: 0,
        }
    }
}

/// The volume manager: one volume, directory and file open at a time.
type Vm<'buf, D> = VolumeManager<ReadAhead<'buf, D>, NoClock, 1, 1, 1>;

/// Read-only access to the root directory of partition 1 (FAT32).
///
/// `buf` (given to [`open`](Self::open)) holds the read-ahead windows:
/// 128 KiB makes each backend request 64 KiB.
pub struct FatLoader<'buf, D: BlockRead>
where
    D::Error: 'static,
{
    vm: Vm<'buf, D>,
    volume: RawVolume,
    geo: Geometry,
}

impl<'buf, D: BlockRead> FatLoader<'buf, D>
where
    D::Error: 'static,
{
    /// Checks the MBR, partition 1's boot sector and root directory chain
    /// (see [`fat`](crate::fat) for why), then opens the volume.
    pub fn open(dev: D, buf: &'buf mut [u8]) -> Result<Self, LoadError> {
        let ra = ReadAhead::new(dev, buf);
        let geo = {
            let mut read = |lba: u64, out: &mut [u8; BLOCK_SIZE]| {
                ra.read_block(lba, out).map_err(device_error)
            };
            let geo = fat::partition_geometry(&mut read, ra.device_blocks())?;
            fat::check_dir_chain(&geo, &mut read, geo.root_cluster)?;
            geo
        };
        let vm = VolumeManager::new_with_limits(ra, NoClock, 0);
        let volume = vm.open_raw_volume(VolumeIdx(0)).map_err(|e| match e {
            Error::FormatError(why) => LoadError::NoFat32Partition(why),
            e => map_error(e, ""),
        })?;
        Ok(Self { vm, volume, geo })
    }

    /// The size of `name` in the root directory.
    pub fn file_size(&mut self, name: &str) -> Result<u32, LoadError> {
        Ok(self.find(name)?.size)
    }

    /// Copies all of `name` to the start of `dest`; returns its size.
    /// Nothing is read when `dest` is too small.
    pub fn read_file_into(&mut self, name: &str, dest: &mut [u8]) -> Result<usize, LoadError> {
        let entry = self.find(name)?;
        let size = entry.size as usize;
        let Some(dest) = dest.get_mut(..size) else {
            return Err(LoadError::TooLarge {
                name: FileName::new(name),
                size: u64::from(entry.size),
                capacity: dest.len(),
            });
        };
        let geo = self.geo;
        self.vm.device(|ra| {
            let mut read = |lba: u64, out: &mut [u8; BLOCK_SIZE]| {
                ra.read_block(lba, out).map_err(device_error)
            };
            // `DirEntry` keeps its cluster private: re-read the raw entry.
            let first = fat::first_cluster(
                &mut read,
                u64::from(entry.entry_block.0),
                entry.entry_offset,
            )?;
            fat::check_file_chain(&geo, &mut read, first, entry.size)
        })?;
        self.with_root(name, |vm, dir| {
            // `open_file_in_dir` finds the first entry with this short
            // name; it must be the one whose chain was just checked.
            let same = vm
                .find_directory_entry(dir, entry.name)
                .map_err(|e| map_error(e, name))?;
            if (same.entry_block, same.entry_offset) != (entry.entry_block, entry.entry_offset) {
                return Err(LoadError::Corrupt(
                    "two directory entries share an 8.3 name",
                ));
            }
            let file = vm
                .open_file_in_dir(dir, entry.name, Mode::ReadOnly)
                .map_err(|e| map_error(e, name))?;
            let read = vm.read(file, dest).map_err(|e| map_error(e, name));
            let closed = vm.close_file(file).map_err(|e| map_error(e, name));
            let read = read?;
            closed?;
            if read != size {
                return Err(LoadError::Corrupt(
                    "cluster chain ends before the file does",
                ));
            }
            Ok(read)
        })
    }

    /// Calls `f(name, size)` for each regular file in the root directory,
    /// with its long name when it has one (diagnostics: "files present").
    pub fn for_each_file(&mut self, mut f: impl FnMut(&str, u32)) -> Result<(), LoadError> {
        self.with_root("", |vm, dir| {
            let mut storage = [0u8; LFN_BUF];
            let mut lfn = LfnBuffer::new(&mut storage);
            vm.iterate_dir_lfn(dir, &mut lfn, |de, long| {
                if is_regular(de) {
                    let mut sfn = SfnText::default();
                    f(long.unwrap_or_else(|| sfn.of(&de.name)), de.size);
                }
                ControlFlow::Continue(())
            })
            .map_err(|e| map_error(e, ""))
        })
    }

    /// Backend traffic so far (for throughput logging).
    pub fn stats(&self) -> ReadStats {
        self.vm.device(|d| d.stats())
    }

    /// The block device back.
    pub fn into_inner(self) -> D {
        let (ra, _) = self.vm.free();
        ra.into_inner()
    }

    /// Runs `f` with the root directory open, closing it afterwards.
    fn with_root<R>(
        &mut self,
        name: &str,
        f: impl FnOnce(&Vm<'buf, D>, RawDirectory) -> Result<R, LoadError>,
    ) -> Result<R, LoadError> {
        let dir = self
            .vm
            .open_root_dir(self.volume)
            .map_err(|e| map_error(e, name))?;
        let result = f(&self.vm, dir);
        let closed = self.vm.close_dir(dir).map_err(|e| map_error(e, name));
        let result = result?;
        closed?;
        Ok(result)
    }

    /// The root directory entry of the regular file called `name`.
    fn find(&mut self, name: &str) -> Result<DirEntry, LoadError> {
        let short = ShortFileName::create_from_str(name).ok();
        self.with_root(name, |vm, dir| {
            let mut storage = [0u8; LFN_BUF];
            let mut lfn = LfnBuffer::new(&mut storage);
            let mut found = None;
            vm.iterate_dir_lfn(dir, &mut lfn, |de, long| {
                let hit = long.is_some_and(|l| l.eq_ignore_ascii_case(name))
                    || short.is_some_and(|s| s == de.name);
                if hit && is_regular(de) {
                    found = Some(de.clone());
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .map_err(|e| map_error(e, name))?;
            found.ok_or(LoadError::NotFound(FileName::new(name)))
        })
    }
}

impl<D: BlockRead> FileSource for FatLoader<'_, D>
where
    D::Error: 'static,
{
    fn size(&mut self, name: &str) -> Result<u64, LoadError> {
        self.file_size(name).map(u64::from)
    }

    fn read_into(&mut self, name: &str, dest: &mut [u8]) -> Result<usize, LoadError> {
        self.read_file_into(name, dest)
    }
}

fn is_regular(de: &DirEntry) -> bool {
    !de.attributes.is_directory() && !de.attributes.is_volume() && !de.attributes.is_lfn()
}

/// An 8.3 name rendered as text without a heap (`NAME.EXT`; bytes above
/// 0x7f shown as ISO-8859-1, as `ShortFileName`'s Display does).
#[derive(Default)]
struct SfnText {
    buf: [u8; 24],
    len: usize,
}

impl SfnText {
    fn of(&mut self, sfn: &ShortFileName) -> &str {
        use core::fmt::Write;
        self.len = 0;
        // 11 characters of at most 2 UTF-8 bytes each, plus a dot, fit.
        let _ = write!(self, "{sfn}");
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl fmt::Write for SfnText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

fn device_error<E>(e: DeviceError<E>) -> LoadError {
    match e {
        DeviceError::Backend { lba, .. } => LoadError::Io { lba },
        DeviceError::OutOfRange { .. } => {
            LoadError::Corrupt("a block address lies past the end of the disk")
        }
        DeviceError::ReadOnly => LoadError::Corrupt("the FAT reader tried to write"),
    }
}

/// Maps a FAT reader error to a [`LoadError`] about `name`.
fn map_error<E>(e: Error<DeviceError<E>>, name: &str) -> LoadError
where
    E: fmt::Debug + 'static,
{
    match e {
        Error::DeviceError(d) => device_error(d),
        Error::NotFound => LoadError::NotFound(FileName::new(name)),
        Error::FormatError(why) => LoadError::Corrupt(why),
        Error::BadCluster => LoadError::Corrupt("cluster chain contains a bad cluster"),
        Error::UnterminatedFatChain => LoadError::Corrupt("cluster chain runs into free space"),
        Error::EndOfFile => LoadError::Corrupt("cluster chain ends before the file does"),
        _ => LoadError::Corrupt("unexpected FAT reader state"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line() {
        let name = FileName::new("Image");
        let cases = [
            (
                LoadError::NotFound(name),
                "file \"Image\" not found on partition 1",
            ),
            (
                LoadError::TooLarge {
                    name,
                    size: 4096,
                    capacity: 100,
                },
                "file \"Image\" is 4096 bytes, larger than its 100-byte destination",
            ),
            (
                LoadError::NoFat32Partition("Invalid MBR signature"),
                "no FAT32 file system on partition 1: Invalid MBR signature",
            ),
            (
                LoadError::Corrupt("bad cluster"),
                "FAT file system on partition 1 is corrupt: bad cluster",
            ),
            (LoadError::Io { lba: 7 }, "disk read failed at block 7"),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want);
        }
    }

    #[test]
    fn long_names_are_cut_on_char_boundaries() {
        let long = "é".repeat(40);
        let n = FileName::new(&long);
        assert_eq!(n.as_str().len(), 64);
        assert!(long.starts_with(n.as_str()));
        assert_eq!(FileName::new("").as_str(), "");
    }

    // ---- FatLoader over FAT32 images written by the `fatfs` crate ----

    use std::io::{Cursor, Write};

    /// Blocks per read-ahead window in these tests: 32 KiB requests.
    const N: usize = 64;
    /// Partition 1 starts at 1 MiB, as fdisk and xtask's disk.rs place it.
    const P1_LBA: u64 = 2048;
    /// 40 MiB at 512-byte clusters is ~80k clusters: FAT32 needs >= 65525
    /// (FAT spec 3.5).
    const P1_BYTES: usize = 40 << 20;

    fn window_buf() -> Vec<u8> {
        vec![0u8; 2 * N * BLOCK_SIZE]
    }

    /// A disk image in memory; counts backend requests.
    struct MemDisk {
        data: Vec<u8>,
        calls: u64,
    }

    impl BlockRead for MemDisk {
        type Error = &'static str;
        fn read_blocks(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), &'static str> {
            self.calls += 1;
            let start = usize::try_from(lba).map_err(|_| "lba")? * BLOCK_SIZE;
            let src = self.data.get(start..start + buf.len()).ok_or("past end")?;
            buf.copy_from_slice(src);
            Ok(())
        }
        fn num_blocks(&self) -> u64 {
            (self.data.len() / BLOCK_SIZE) as u64
        }
    }

    fn mem(data: Vec<u8>) -> MemDisk {
        MemDisk { data, calls: 0 }
    }

    fn noise(len: usize, mut seed: u64) -> Vec<u8> {
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 24) as u8
            })
            .collect()
    }

    /// An MBR disk whose partition 1 (type 0x0c, FAT32 LBA) holds `files`
    /// and a directory `boot` in its root directory.
    fn disk(files: &[(&str, &[u8])]) -> Vec<u8> {
        let p1 = P1_LBA as usize * BLOCK_SIZE;
        let mut data = vec![0u8; p1 + P1_BYTES];
        // MBR partition entry 1 at 446: status, CHS, type, CHS, LBA, count.
        let e = &mut data[446..462];
        e[4] = 0x0c;
        e[8..12].copy_from_slice(&(P1_LBA as u32).to_le_bytes());
        e[12..16].copy_from_slice(&((P1_BYTES / BLOCK_SIZE) as u32).to_le_bytes());
        data[510] = 0x55;
        data[511] = 0xaa;
        let part = &mut data[p1..];
        fatfs::format_volume(
            Cursor::new(&mut *part),
            fatfs::FormatVolumeOptions::new()
                .fat_type(fatfs::FatType::Fat32)
                .bytes_per_cluster(512),
        )
        .unwrap();
        let fs = fatfs::FileSystem::new(Cursor::new(part), fatfs::FsOptions::new()).unwrap();
        assert_eq!(fs.fat_type(), fatfs::FatType::Fat32);
        for (name, bytes) in files {
            fs.root_dir()
                .create_file(name)
                .unwrap()
                .write_all(bytes)
                .unwrap();
        }
        fs.root_dir().create_dir("boot").unwrap();
        drop(fs);
        data
    }

    /// The names the boot flow uses, long and 8.3 alike.
    const NAMES: [&str; 6] = [
        "Image",
        "initrd.img",
        "guest.dtb",
        "hypervisor.cfg",
        "elf-hypervisor.elf",
        "boot.scr",
    ];

    #[test]
    fn three_mib_file_byte_exact_with_few_backend_calls() {
        let big = noise(3 << 20, 0x1234_5678_9abc_def1);
        let mut buf = window_buf();
        let mut fat = FatLoader::open(
            mem(disk(&[("Image", &big), ("initrd.img", b"tiny")])),
            &mut buf,
        )
        .unwrap();
        assert_eq!(fat.file_size("Image"), Ok(3 << 20));
        let before = fat.stats();
        let mut dest = vec![0u8; (3 << 20) + 100];
        assert_eq!(fat.read_file_into("Image", &mut dest), Ok(3 << 20));
        assert!(dest[..3 << 20] == big[..], "content differs");
        assert!(dest[3 << 20..].iter().all(|b| *b == 0));

        let s = fat.stats();
        let calls = s.backend_calls - before.backend_calls;
        let ideal = (3 << 20) / (N * BLOCK_SIZE) as u64;
        // The data windows, plus a few for FAT sectors and the directory.
        assert!(calls <= ideal + 8, "{calls} backend calls, ideal {ideal}");
        // Without read-ahead each block (and each cluster's FAT lookup)
        // would have been its own request.
        assert!(s.blocks_requested - before.blocks_requested >= 6144);
        assert_eq!(fat.into_inner().calls, s.backend_calls);
    }

    #[test]
    fn long_and_short_names() {
        let contents: Vec<Vec<u8>> = (0..NAMES.len())
            .map(|i| noise(1000 + i * 4099, i as u64 + 1))
            .collect();
        let files: Vec<(&str, &[u8])> = NAMES
            .iter()
            .zip(&contents)
            .map(|(n, c)| (*n, c.as_slice()))
            .collect();
        let mut buf = window_buf();
        let mut fat = FatLoader::open(mem(disk(&files)), &mut buf).unwrap();
        for (name, want) in NAMES.iter().zip(&contents) {
            let mut dest = vec![0u8; want.len()];
            assert_eq!(
                fat.read_file_into(name, &mut dest),
                Ok(want.len()),
                "{name}"
            );
            assert!(&dest == want, "{name}");
            // FAT name matching ignores case.
            let upper = name.to_ascii_uppercase();
            assert_eq!(fat.file_size(&upper), Ok(want.len() as u32), "{upper}");
        }
        // The generated 8.3 alias of a long name opens too.
        assert_eq!(fat.file_size("HYPERV~1.CFG"), Ok(contents[3].len() as u32));
        let mut listed = Vec::new();
        fat.for_each_file(|n, s| listed.push((n.to_string(), s)))
            .unwrap();
        let names: Vec<&str> = listed.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, NAMES, "directories are not listed");
    }

    #[test]
    fn missing_and_too_small() {
        let mut buf = window_buf();
        let d = disk(&[("Image", &[7u8; 5000]), ("boot.scr", b"x")]);
        let mut fat = FatLoader::open(mem(d), &mut buf).unwrap();
        let e = fat.file_size("initrd.img").unwrap_err();
        assert_eq!(e, LoadError::NotFound(FileName::new("initrd.img")));
        assert_eq!(
            e.to_string(),
            "file \"initrd.img\" not found on partition 1"
        );
        // A directory is not a file.
        assert!(matches!(fat.file_size("boot"), Err(LoadError::NotFound(_))));
        for bad in ["", ".", "..", "a/b", "Image ", "x".repeat(300).as_str()] {
            assert!(
                matches!(fat.file_size(bad), Err(LoadError::NotFound(_))),
                "{bad:?}"
            );
        }
        let mut small = vec![0xeeu8; 4999];
        assert_eq!(
            fat.read_file_into("Image", &mut small),
            Err(LoadError::TooLarge {
                name: FileName::new("Image"),
                size: 5000,
                capacity: 4999
            })
        );
        assert!(small.iter().all(|b| *b == 0xee), "nothing copied");
        // Still usable afterwards: directory and file handles were closed.
        let mut ok = vec![0u8; 5000];
        assert_eq!(fat.read_into("Image", &mut ok), Ok(5000));
        assert_eq!(fat.size("boot.scr"), Ok(1));
    }

    #[test]
    fn empty_file() {
        let mut buf = window_buf();
        let mut fat = FatLoader::open(mem(disk(&[("guest.dtb", b"")])), &mut buf).unwrap();
        assert_eq!(fat.read_file_into("guest.dtb", &mut []), Ok(0));
    }

    #[test]
    fn bad_partition_table_and_boot_sector() {
        let good = disk(&[("Image", b"abc")]);
        let open = |data: Vec<u8>| {
            let mut buf = window_buf();
            FatLoader::open(mem(data), &mut buf).err()
        };
        let no = LoadError::NoFat32Partition;

        let mut no_sig = good.clone();
        no_sig[510] = 0;
        assert_eq!(open(no_sig), Some(no("invalid MBR signature")));

        let mut linux = good.clone();
        linux[446 + 4] = 0x83;
        assert!(matches!(open(linux), Some(LoadError::NoFat32Partition(_))));

        let mut empty_table = good.clone();
        empty_table[446..510].fill(0);
        assert!(matches!(
            open(empty_table),
            Some(LoadError::NoFat32Partition(_))
        ));

        let p1 = P1_LBA as usize * BLOCK_SIZE;
        let mut zero_bpb = good.clone();
        zero_bpb[p1..p1 + BLOCK_SIZE].fill(0);
        assert_eq!(open(zero_bpb), Some(no("boot sector signature missing")));

        let mut zero_spc = good.clone();
        zero_spc[p1 + 13] = 0;
        assert!(matches!(
            open(zero_spc),
            Some(LoadError::NoFat32Partition(_))
        ));

        let mut past_end = good.clone();
        past_end[446 + 8..446 + 12].copy_from_slice(&0x00ff_0000u32.to_le_bytes());
        assert!(open(past_end).is_some());

        assert_eq!(open(vec![0u8; 4096]), Some(no("invalid MBR signature")));
        assert_eq!(open(Vec::new()), Some(no("the disk is empty")));
        assert!(open(vec![0u8; 100]).is_some());
    }

    #[test]
    fn backend_failure_is_an_io_error() {
        struct Failing;
        impl BlockRead for Failing {
            type Error = ();
            fn read_blocks(&mut self, _: u64, _: &mut [u8]) -> Result<(), ()> {
                Err(())
            }
            fn num_blocks(&self) -> u64 {
                1 << 20
            }
        }
        let mut buf = window_buf();
        assert_eq!(
            FatLoader::open(Failing, &mut buf).err(),
            Some(LoadError::Io { lba: 0 })
        );
    }

    /// Random corruption of the MBR, boot sector, FATs and root directory
    /// must give Ok or a typed error, never a panic (or a hang).
    #[test]
    fn corrupted_fat_area_never_panics() {
        let payload = noise(300_000, 99);
        let files: [(&str, &[u8]); 2] =
            [("Image", &payload), ("hypervisor.cfg", b"kernel = Image\n")];
        let base = disk(&files);
        let p1 = P1_LBA as usize * BLOCK_SIZE;
        // Reserved sectors (32) + two FATs (~630 sectors each at 80k
        // clusters) + the root directory cluster and the first file data.
        let fat_area = p1..p1 + 1400 * BLOCK_SIZE;
        // The root directory's first cluster: reserved + 2 FATs (FAT spec 3.5).
        let reserved = usize::from(u16::from_le_bytes([base[p1 + 14], base[p1 + 15]]));
        let fat_size = u32::from_le_bytes(base[p1 + 36..p1 + 40].try_into().unwrap()) as usize;
        let root_dir = p1 + (reserved + 2 * fat_size) * BLOCK_SIZE;
        let mut x = 0x0123_4567_89ab_cdefu64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut data = base;
        let mut buf = window_buf();
        let mut outcomes = [0usize; 2];
        for round in 0..400 {
            let mut saved = Vec::new();
            for _ in 0..1 + next() % 8 {
                let r = next();
                let at = match r % 5 {
                    // The partition entry, BPB and directory are small: hit
                    // them often.
                    0 => 446 + (r >> 8) as usize % 66,
                    1 => p1 + (r >> 8) as usize % 96,
                    2 => root_dir + (r >> 8) as usize % BLOCK_SIZE,
                    _ => fat_area.start + (r >> 8) as usize % fat_area.len(),
                };
                saved.push((at, data[at]));
                data[at] = (r >> 40) as u8;
            }
            let mut dest = vec![0u8; 400_000];
            let mut disk_back = None;
            let result =
                FatLoader::open(mem(std::mem::take(&mut data)), &mut buf).and_then(|mut fat| {
                    let r = fat
                        .read_file_into("Image", &mut dest)
                        .and_then(|_| fat.file_size("hypervisor.cfg"));
                    let mut names = 0;
                    let _ = fat.for_each_file(|_, _| names += 1);
                    disk_back = Some(fat.into_inner().data);
                    r
                });
            match disk_back {
                Some(d) => data = d,
                // `open` failed and dropped the disk: rebuild it.
                None => {
                    data = disk(&files);
                    saved.clear();
                }
            }
            outcomes[usize::from(result.is_err())] += 1;
            if let Err(e) = result {
                assert!(!e.to_string().contains('\n'), "round {round}: {e}");
            }
            for (at, v) in saved.into_iter().rev() {
                data[at] = v;
            }
        }
        // Both outcomes occur, so the mutations reach the code under test.
        assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
    }

    /// The boot disk `cargo xrun` writes, when present: every file fatfs
    /// sees there must open by its (long) name with the same bytes.
    #[test]
    fn real_disk_img() {
        use std::io::{Read, Seek, SeekFrom};
        use std::os::unix::fs::FileExt;

        struct FileDisk(std::fs::File, u64);
        impl BlockRead for FileDisk {
            type Error = std::io::ErrorKind;
            fn read_blocks(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), Self::Error> {
                self.0
                    .read_exact_at(buf, lba * BLOCK_SIZE as u64)
                    .map_err(|e| e.kind())
            }
            fn num_blocks(&self) -> u64 {
                self.1
            }
        }

        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../build/disk.img");
        let Ok(f) = std::fs::File::open(path) else {
            eprintln!("skipped: no {path}");
            return;
        };
        let blocks = f.metadata().unwrap().len() / BLOCK_SIZE as u64;
        let mut buf = vec![0u8; 128 << 10];
        let mut fat = FatLoader::open(FileDisk(f, blocks), &mut buf).unwrap();
        let mut listed = Vec::new();
        fat.for_each_file(|n, s| listed.push((n.to_string(), s)))
            .unwrap();
        eprintln!("disk.img partition 1: {listed:?}");
        assert!(!listed.is_empty());

        // Cross-check against fatfs reading the same partition.
        let mut raw = std::fs::File::open(path).unwrap();
        let mut mbr = [0u8; 512];
        raw.read_exact(&mut mbr).unwrap();
        let start = u64::from(u32::from_le_bytes(mbr[454..458].try_into().unwrap())) * 512;
        let len = u64::from(u32::from_le_bytes(mbr[458..462].try_into().unwrap())) * 512;
        raw.seek(SeekFrom::Start(start)).unwrap();
        let mut part = vec![0u8; len as usize];
        raw.read_exact(&mut part).unwrap();
        let fs = fatfs::FileSystem::new(Cursor::new(part), fatfs::FsOptions::new()).unwrap();
        for (name, size) in &listed {
            let mut want = Vec::new();
            fs.root_dir()
                .open_file(name)
                .unwrap()
                .read_to_end(&mut want)
                .unwrap();
            assert_eq!(want.len(), *size as usize, "{name}");
            let mut got = vec![0u8; want.len()];
            let before = fat.stats();
            assert_eq!(fat.read_file_into(name, &mut got), Ok(want.len()), "{name}");
            assert!(got == want, "{name}: content differs");
            let s = fat.stats();
            eprintln!(
                "{name}: {size} bytes, {} backend calls for {} block requests",
                s.backend_calls - before.backend_calls,
                s.blocks_requested - before.blocks_requested
            );
        }
    }
}
