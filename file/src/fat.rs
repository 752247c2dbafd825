//! FAT32 structure checks made before `embedded-sdmmc` touches the disk.
//!
//! `embedded-sdmmc` 0.10 trusts the on-disk structures: a zero
//! sectors-per-cluster divides by zero, a FAT size larger than the volume
//! underflows a subtraction, and a cluster number outside the volume
//! overflows `cluster_to_block` — all panics (debug) or wild reads
//! (release). So the loader first validates the MBR entry and boot sector
//! here, and every cluster chain the reader is about to follow (the root
//! directory's, each file's), using only checked arithmetic. After that,
//! every cluster `embedded-sdmmc` computes with lies inside the volume.
//!
//! References: Microsoft "FAT: General Overview of On-Disk Format"
//! (fatgen103, hereafter "FAT spec"), sections 3 (boot sector and BPB),
//! 3.5 ("FAT Type Determination"), 4 (FAT entries) and 6 (directories).

use crate::blockdev::BLOCK_SIZE;
use crate::loader::LoadError;

/// Reads one 512-byte block by absolute LBA.
pub(crate) type ReadBlock<'a> = dyn FnMut(u64, &mut [u8; BLOCK_SIZE]) -> Result<(), LoadError> + 'a;

/// MBR partition types for FAT32 (CHS+LBA and LBA).
const FAT32_TYPES: [u8; 2] = [0x0b, 0x0c];
/// FAT spec 3.5: a volume with fewer clusters is FAT12/16.
const MIN_FAT32_CLUSTERS: u64 = 65_525;
/// FAT32 entries are 28 bits (FAT spec 4); the top 4 bits are reserved.
const ENTRY_MASK: u32 = 0x0fff_ffff;
const BAD_CLUSTER: u32 = 0x0fff_fff7;
/// FAT spec 6: "a directory may not have more than 65,536 32-byte entries".
const MAX_DIR_BYTES: u64 = 65_536 * 32;

/// Where the pieces of partition 1's FAT32 volume are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    /// Absolute LBA of the first FAT.
    pub fat_start: u64,
    pub sectors_per_cluster: u32,
    /// Data clusters; valid cluster numbers are 2..=cluster_count + 1.
    pub cluster_count: u32,
    pub root_cluster: u32,
}

impl Geometry {
    pub fn bytes_per_cluster(&self) -> u64 {
        u64::from(self.sectors_per_cluster) * BLOCK_SIZE as u64
    }

    fn is_data_cluster(&self, c: u32) -> bool {
        c >= 2 && u64::from(c) <= u64::from(self.cluster_count) + 1
    }
}

fn le16(b: &[u8; BLOCK_SIZE], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8; BLOCK_SIZE], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Validates the MBR's first partition entry and its FAT32 boot sector.
pub(crate) fn partition_geometry(
    read: &mut ReadBlock<'_>,
    disk_blocks: u64,
) -> Result<Geometry, LoadError> {
    let no = LoadError::NoFat32Partition;
    let mut b = [0u8; BLOCK_SIZE];
    if disk_blocks == 0 {
        return Err(no("the disk is empty"));
    }
    read(0, &mut b)?;
    if le16(&b, 510) != 0xaa55 {
        return Err(no("invalid MBR signature"));
    }
    // Partition entry 1: status, CHS, type, CHS, first LBA, sector count.
    let e = 446;
    if b[e] & 0x7f != 0 {
        return Err(no("invalid partition 1 status byte"));
    }
    if !FAT32_TYPES.contains(&b[e + 4]) {
        return Err(no("partition 1 type is not FAT32 (0x0b or 0x0c)"));
    }
    let start = u64::from(le32(&b, e + 8));
    let sectors = u64::from(le32(&b, e + 12));
    if start == 0 || sectors == 0 {
        return Err(no("partition 1 is empty"));
    }
    // MBR addresses are 32-bit; embedded-sdmmc adds them in u32.
    if start + sectors > disk_blocks || start + sectors > u64::from(u32::MAX) {
        return Err(no("partition 1 extends past the end of the disk"));
    }

    read(start, &mut b)?;
    let bad = |why| Err(no(why));
    if le16(&b, 510) != 0xaa55 {
        return bad("boot sector signature missing");
    }
    if usize::from(le16(&b, 11)) != BLOCK_SIZE {
        return bad("sector size is not 512 bytes");
    }
    let spc = b[13];
    if !spc.is_power_of_two() {
        return bad("sectors per cluster is not a power of two");
    }
    let reserved = u64::from(le16(&b, 14));
    let num_fats = u64::from(b[16]);
    let fat_size = u64::from(le32(&b, 36));
    if reserved == 0 || !(1..=2).contains(&num_fats) {
        return bad("bad reserved sector or FAT count");
    }
    if le16(&b, 17) != 0 || le16(&b, 22) != 0 || fat_size == 0 {
        return bad("not a FAT32 boot sector (FAT12/16 fields set)");
    }
    if le16(&b, 42) != 0 {
        return bad("unsupported FAT32 version");
    }
    // Same rule as embedded-sdmmc: the 16-bit count wins when non-zero.
    let total = match le16(&b, 19) {
        0 => u64::from(le32(&b, 32)),
        n => u64::from(n),
    };
    if total > sectors {
        return bad("file system is larger than partition 1");
    }
    let non_data = reserved + num_fats * fat_size;
    let Some(data) = total.checked_sub(non_data).filter(|d| *d > 0) else {
        return bad("FATs leave no room for data");
    };
    let clusters = data / u64::from(spc);
    if clusters < MIN_FAT32_CLUSTERS {
        return bad("too few clusters for FAT32 (a FAT12/16 volume)");
    }
    // Each 512-byte FAT sector holds 128 entries, 2 of them reserved.
    if fat_size * 128 < clusters + 2 {
        return bad("FAT too small for the cluster count");
    }
    let fs_info = u64::from(le16(&b, 48));
    if fs_info == 0 || fs_info >= reserved {
        return bad("FSInfo sector outside the reserved area");
    }
    let geo = Geometry {
        fat_start: start + reserved,
        sectors_per_cluster: u32::from(spc),
        // clusters <= total < 2^32.
        cluster_count: clusters as u32,
        root_cluster: le32(&b, 44),
    };
    if !geo.is_data_cluster(geo.root_cluster) {
        return bad("root directory cluster outside the volume");
    }
    Ok(geo)
}

/// Follows FAT entries, keeping the last FAT sector read.
struct FatWalker<'g, 'r, 'a> {
    geo: &'g Geometry,
    read: &'r mut ReadBlock<'a>,
    lba: Option<u64>,
    sector: [u8; BLOCK_SIZE],
}

impl<'g, 'r, 'a> FatWalker<'g, 'r, 'a> {
    fn new(geo: &'g Geometry, read: &'r mut ReadBlock<'a>) -> Self {
        Self {
            geo,
            read,
            lba: None,
            sector: [0; BLOCK_SIZE],
        }
    }

    /// The FAT entry of data cluster `c` (FAT spec 4.1: 4 bytes at c * 4).
    fn next(&mut self, c: u32) -> Result<u32, LoadError> {
        let offset = u64::from(c) * 4;
        let lba = self.geo.fat_start + offset / BLOCK_SIZE as u64;
        if self.lba != Some(lba) {
            self.lba = None;
            (self.read)(lba, &mut self.sector)?;
            self.lba = Some(lba);
        }
        Ok(le32(&self.sector, (offset % BLOCK_SIZE as u64) as usize) & ENTRY_MASK)
    }
}

/// The first cluster of the 32-byte directory entry at `offset` in block
/// `lba` (FAT spec 6: DIR_FstClusHI at 20, DIR_FstClusLO at 26).
pub(crate) fn first_cluster(
    read: &mut ReadBlock<'_>,
    lba: u64,
    offset: u32,
) -> Result<u32, LoadError> {
    let mut b = [0u8; BLOCK_SIZE];
    read(lba, &mut b)?;
    let at = offset as usize;
    if !at.is_multiple_of(32) || at >= BLOCK_SIZE {
        return Err(LoadError::Corrupt("directory entry offset is misaligned"));
    }
    Ok((u32::from(le16(&b, at + 20)) << 16) | u32::from(le16(&b, at + 26)))
}

/// Checks that a file of `size` bytes starting at `first` has a chain of
/// in-range clusters long enough to hold it. (A chain that loops back on
/// itself still reads without panicking, just the wrong data; detecting it
/// would need a cluster bitmap.)
pub(crate) fn check_file_chain(
    geo: &Geometry,
    read: &mut ReadBlock<'_>,
    first: u32,
    size: u32,
) -> Result<(), LoadError> {
    if size == 0 {
        return Ok(());
    }
    if !geo.is_data_cluster(first) {
        return Err(LoadError::Corrupt(
            "file's first cluster lies outside the volume",
        ));
    }
    let clusters = u64::from(size).div_ceil(geo.bytes_per_cluster());
    let mut walker = FatWalker::new(geo, read);
    let mut c = first;
    for _ in 1..clusters {
        c = walker.next(c)?;
        if !geo.is_data_cluster(c) {
            return Err(LoadError::Corrupt(match c {
                0 => "cluster chain runs into free space",
                BAD_CLUSTER => "cluster chain contains a bad cluster",
                1 | 0x0fff_fff8.. => "cluster chain ends before the file does",
                _ => "cluster chain points outside the volume",
            }));
        }
    }
    Ok(())
}

/// Checks the root directory's chain: in range, and no longer than the
/// largest legal directory (which also bounds a chain that loops, which
/// would otherwise make `embedded-sdmmc` iterate forever). Free and bad
/// entries end the chain, as they end `embedded-sdmmc`'s iteration.
pub(crate) fn check_dir_chain(
    geo: &Geometry,
    read: &mut ReadBlock<'_>,
    first: u32,
) -> Result<(), LoadError> {
    let max = MAX_DIR_BYTES.div_ceil(geo.bytes_per_cluster());
    let mut walker = FatWalker::new(geo, read);
    let mut c = first;
    for _ in 0..max {
        c = walker.next(c)?;
        if geo.is_data_cluster(c) {
            continue;
        }
        return match c {
            0 | 1 | BAD_CLUSTER | 0x0fff_fff8.. => Ok(()),
            _ => Err(LoadError::Corrupt(
                "root directory cluster chain points outside the volume",
            )),
        };
    }
    Err(LoadError::Corrupt(
        "root directory is longer than 65536 entries (its cluster chain loops)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const P1: u64 = 2048;

    /// A minimal MBR + FAT32 boot sector: 8 sectors/cluster, 32 reserved,
    /// 2 FATs of 1024 sectors, 600000 sectors in all (~74.7k clusters).
    fn disk() -> Vec<[u8; BLOCK_SIZE]> {
        let mut blocks = vec![[0u8; BLOCK_SIZE]; 2048 + 32 + 2048];
        let mbr = &mut blocks[0];
        mbr[446 + 4] = 0x0c;
        mbr[446 + 8..446 + 12].copy_from_slice(&(P1 as u32).to_le_bytes());
        mbr[446 + 12..446 + 16].copy_from_slice(&600_000u32.to_le_bytes());
        mbr[510..].copy_from_slice(&[0x55, 0xaa]);
        let bs = &mut blocks[P1 as usize];
        bs[11..13].copy_from_slice(&512u16.to_le_bytes());
        bs[13] = 8;
        bs[14..16].copy_from_slice(&32u16.to_le_bytes());
        bs[16] = 2;
        bs[32..36].copy_from_slice(&600_000u32.to_le_bytes());
        bs[36..40].copy_from_slice(&1024u32.to_le_bytes());
        bs[44..48].copy_from_slice(&2u32.to_le_bytes());
        bs[48..50].copy_from_slice(&1u16.to_le_bytes());
        bs[510..].copy_from_slice(&[0x55, 0xaa]);
        blocks
    }

    fn set_fat(blocks: &mut [[u8; BLOCK_SIZE]], c: u32, v: u32) {
        let off = c as usize * 4;
        let b = &mut blocks[(P1 + 32) as usize + off / BLOCK_SIZE];
        b[off % BLOCK_SIZE..off % BLOCK_SIZE + 4].copy_from_slice(&v.to_le_bytes());
    }

    fn run<T>(
        blocks: &[[u8; BLOCK_SIZE]],
        f: impl FnOnce(&mut ReadBlock<'_>) -> Result<T, LoadError>,
    ) -> Result<T, LoadError> {
        let mut read = |lba: u64, out: &mut [u8; BLOCK_SIZE]| {
            *out = *blocks.get(lba as usize).ok_or(LoadError::Io { lba })?;
            Ok(())
        };
        f(&mut read)
    }

    fn geometry(blocks: &[[u8; BLOCK_SIZE]]) -> Result<Geometry, LoadError> {
        run(blocks, |r| partition_geometry(r, 1 << 20))
    }

    #[test]
    fn good_geometry() {
        let g = geometry(&disk()).unwrap();
        assert_eq!(
            g,
            Geometry {
                fat_start: P1 + 32,
                sectors_per_cluster: 8,
                cluster_count: (600_000 - 32 - 2048) / 8,
                root_cluster: 2,
            }
        );
    }

    #[test]
    fn each_bad_field_is_rejected() {
        type Edit = fn(&mut [[u8; BLOCK_SIZE]]);
        let bs = P1 as usize;
        let edits: [(Edit, &str); 12] = [
            (|d| d[0][510] = 0, "invalid MBR signature"),
            (|d| d[0][446] = 0x01, "invalid partition 1 status byte"),
            (
                |d| d[0][450] = 0x06,
                "partition 1 type is not FAT32 (0x0b or 0x0c)",
            ),
            (|d| d[0][454..458].fill(0), "partition 1 is empty"),
            (
                |d| d[0][458..462].fill(0xff),
                "partition 1 extends past the end of the disk",
            ),
            (
                |d| d[2048][13] = 0,
                "sectors per cluster is not a power of two",
            ),
            (
                |d| d[2048][13] = 3,
                "sectors per cluster is not a power of two",
            ),
            (|d| d[2048][12] = 8, "sector size is not 512 bytes"),
            (|d| d[2048][16] = 0, "bad reserved sector or FAT count"),
            (
                |d| d[2048][36..40].fill(0x7f),
                "FATs leave no room for data",
            ),
            (
                |d| d[2048][44..48].fill(0),
                "root directory cluster outside the volume",
            ),
            (
                |d| d[2048][48] = 40,
                "FSInfo sector outside the reserved area",
            ),
        ];
        for (edit, why) in edits {
            let mut d = disk();
            edit(&mut d);
            assert_eq!(geometry(&d), Err(LoadError::NoFat32Partition(why)), "{why}");
        }
        let mut fat16 = disk();
        fat16[bs][13] = 16; // 37k clusters
        assert!(geometry(&fat16).is_err());
        let mut small_fat = disk();
        small_fat[bs][36..40].copy_from_slice(&100u32.to_le_bytes());
        assert_eq!(
            geometry(&small_fat),
            Err(LoadError::NoFat32Partition(
                "FAT too small for the cluster count"
            ))
        );
    }

    #[test]
    fn file_chains() {
        let mut d = disk();
        // File A: 3 -> 4 -> 7 -> EOC; 4 KiB clusters.
        set_fat(&mut d, 3, 4);
        set_fat(&mut d, 4, 7);
        set_fat(&mut d, 7, 0x0fff_ffff);
        let g = geometry(&d).unwrap();
        let chk =
            |d: &[[u8; BLOCK_SIZE]], first, size| run(d, |r| check_file_chain(&g, r, first, size));
        assert_eq!(chk(&d, 3, 3 * 4096), Ok(()));
        assert_eq!(chk(&d, 3, 1), Ok(()));
        assert_eq!(chk(&d, 0, 0), Ok(()));
        assert!(chk(&d, 3, 3 * 4096 + 1).is_err());
        assert!(chk(&d, 0, 1).is_err());
        assert!(chk(&d, 1, 1).is_err());
        assert!(chk(&d, g.cluster_count + 2, 1).is_err());
        set_fat(&mut d, 4, g.cluster_count + 2);
        assert_eq!(
            chk(&d, 3, 3 * 4096),
            Err(LoadError::Corrupt(
                "cluster chain points outside the volume"
            ))
        );
        set_fat(&mut d, 4, 0);
        assert_eq!(
            chk(&d, 3, 3 * 4096),
            Err(LoadError::Corrupt("cluster chain runs into free space"))
        );
    }

    #[test]
    fn dir_chains() {
        let mut d = disk();
        let g = geometry(&d).unwrap();
        set_fat(&mut d, 2, 0x0fff_fff8);
        assert_eq!(run(&d, |r| check_dir_chain(&g, r, 2)), Ok(()));
        set_fat(&mut d, 2, 5);
        set_fat(&mut d, 5, 2); // a loop
        assert!(run(&d, |r| check_dir_chain(&g, r, 2)).is_err());
        set_fat(&mut d, 5, 0x0fff_fff0);
        assert!(run(&d, |r| check_dir_chain(&g, r, 2)).is_err());
    }
}
