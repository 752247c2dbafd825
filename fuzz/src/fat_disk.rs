//! The `fat` target's disk: a small valid FAT32 image built once with the
//! `fatfs` crate (as xtask builds `disk.img`), stored sparsely, with the
//! fuzzer's bytes laid over its metadata blocks.
//!
//! FAT32 needs at least 65525 clusters (FAT spec 3.5), so even with
//! 512-byte clusters the partition is 40 MiB; almost all of it is zero, so
//! only the non-zero blocks are kept. The input replaces the "hot" blocks
//! the loader reads before any file data: the MBR, the boot sector and
//! FSInfo, the first sectors of both FATs, the root directory and the first
//! data cluster. Seeding with those blocks as they are gives the fuzzer a
//! disk that opens, to mutate from.

use std::collections::HashMap;
use std::io::{Cursor, Write};
use std::sync::OnceLock;

use file::blockdev::{BlockRead, BLOCK_SIZE};

/// Partition 1 starts at 1 MiB, as xtask's disk.rs places it.
const P1_LBA: u64 = 2048;
const P1_BYTES: usize = 40 << 20;

/// What the base image holds, as (name, contents). The names are those the
/// hypervisor loads (bootloader/src/loader.rs), long and 8.3 alike.
pub fn files() -> Vec<(&'static str, Vec<u8>)> {
    let mut image = crate::image_seeds::image(0, 0x20_0000, 0xa, 3000);
    image.truncate(3000);
    vec![
        (
            "hypervisor.cfg",
            b"# elf-hypervisor guest configuration\nkernel = Image\ninitrd = initrd.img\n\
              bootargs = console=ttyAMA0 earlycon\nmemory = 512M\nvcpus = 4\n"
                .to_vec(),
        ),
        ("Image", image),
        ("initrd.img", (0..1500u32).map(|i| (i * 7) as u8).collect()),
        ("guest.dtb", vec![0xd0, 0x0d, 0xfe, 0xed]),
    ]
}

/// The base image: its non-zero blocks and the LBAs the input overlays.
pub struct BaseImage {
    blocks: HashMap<u64, [u8; BLOCK_SIZE]>,
    pub num_blocks: u64,
    /// Overlaid by the input, 512 bytes each, in this order.
    pub hot: Vec<u64>,
}

impl BaseImage {
    fn build() -> Self {
        let p1 = P1_LBA as usize * BLOCK_SIZE;
        let mut data = vec![0u8; p1 + P1_BYTES];
        // MBR partition entry 1 at 446: status, CHS, type 0x0c (FAT32
        // LBA), CHS, first LBA, sector count; then the 0x55AA signature.
        let e = &mut data[446..462];
        e[4] = 0x0c;
        e[8..12].copy_from_slice(&(P1_LBA as u32).to_le_bytes());
        e[12..16].copy_from_slice(&((P1_BYTES / BLOCK_SIZE) as u32).to_le_bytes());
        // Partition 2 (the guest's root disk) right after partition 1.
        let e2 = &mut data[462..478];
        e2[4] = 0x83;
        e2[8..12]
            .copy_from_slice(&((P1_LBA as usize + P1_BYTES / BLOCK_SIZE) as u32).to_le_bytes());
        e2[12..16].copy_from_slice(&2048u32.to_le_bytes());
        data[510] = 0x55;
        data[511] = 0xaa;
        let part = &mut data[p1..];
        fatfs::format_volume(
            Cursor::new(&mut *part),
            fatfs::FormatVolumeOptions::new()
                .fat_type(fatfs::FatType::Fat32)
                .bytes_per_cluster(512),
        )
        .expect("formatting the seed FAT32 volume");
        {
            let fs = fatfs::FileSystem::new(Cursor::new(&mut *part), fatfs::FsOptions::new())
                .expect("mounting the seed volume");
            for (name, bytes) in files() {
                let mut f = fs.root_dir().create_file(name).expect("seed file");
                f.write_all(&bytes).expect("seed file contents");
            }
            fs.root_dir().create_dir("boot").expect("seed directory");
        }

        // Hot blocks from the boot sector's BPB (FAT spec 3.1, 3.3).
        let bs = &data[p1..p1 + BLOCK_SIZE];
        let le16 = |o: usize| u64::from(u16::from_le_bytes([bs[o], bs[o + 1]]));
        let le32 = |o: usize| u64::from(u32::from_le_bytes(bs[o..o + 4].try_into().unwrap()));
        let (spc, reserved, fats, fat_size, root) = (
            u64::from(bs[13]),
            le16(14),
            u64::from(bs[16]),
            le32(36),
            le32(44),
        );
        let fat1 = P1_LBA + reserved;
        let data_start = fat1 + fats * fat_size;
        let root_lba = data_start + (root - 2) * spc;
        let hot = vec![
            0,
            P1_LBA,
            P1_LBA + 1,
            fat1,
            fat1 + fat_size,
            root_lba,
            root_lba + spc,
            root_lba + 2 * spc,
        ];

        let blocks = data
            .chunks_exact(BLOCK_SIZE)
            .enumerate()
            .filter(|(_, b)| b.iter().any(|&x| x != 0))
            .map(|(i, b)| (i as u64, b.try_into().unwrap()))
            .collect();
        Self {
            blocks,
            num_blocks: (data.len() / BLOCK_SIZE) as u64 + 2048,
            hot,
        }
    }

    fn block(&self, lba: u64) -> [u8; BLOCK_SIZE] {
        self.blocks.get(&lba).copied().unwrap_or([0; BLOCK_SIZE])
    }

    /// The hot blocks as they are: the seed that opens cleanly.
    pub fn hot_bytes(&self) -> Vec<u8> {
        self.hot.iter().flat_map(|&lba| self.block(lba)).collect()
    }
}

/// Built on first use (formatting 40 MiB takes a moment), then shared.
pub fn base() -> &'static BaseImage {
    static BASE: OnceLock<BaseImage> = OnceLock::new();
    BASE.get_or_init(BaseImage::build)
}

/// The base image with `overlay` over its hot blocks: chunk i of 512 bytes
/// replaces hot block i (a short last chunk replaces a prefix).
pub struct OverlayDisk {
    base: &'static BaseImage,
    patched: HashMap<u64, [u8; BLOCK_SIZE]>,
    /// Backend requests, to bound the work a corrupt volume causes.
    pub reads: u64,
}

impl OverlayDisk {
    pub fn new(overlay: &[u8]) -> Self {
        let base = base();
        let mut patched = HashMap::new();
        for (chunk, &lba) in overlay.chunks(BLOCK_SIZE).zip(&base.hot) {
            let mut b = base.block(lba);
            b[..chunk.len()].copy_from_slice(chunk);
            patched.insert(lba, b);
        }
        Self {
            base,
            patched,
            reads: 0,
        }
    }

    /// Block `lba` as the loader sees it.
    pub fn block(&self, lba: u64) -> [u8; BLOCK_SIZE] {
        self.patched
            .get(&lba)
            .copied()
            .unwrap_or_else(|| self.base.block(lba))
    }
}

impl BlockRead for OverlayDisk {
    type Error = ();

    fn read_blocks(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), ()> {
        // The read-ahead layer promises whole blocks inside the device.
        assert!(!buf.is_empty() && buf.len().is_multiple_of(BLOCK_SIZE));
        let n = (buf.len() / BLOCK_SIZE) as u64;
        assert!(
            lba.checked_add(n)
                .is_some_and(|end| end <= self.base.num_blocks),
            "read of {n} blocks at {lba} past the {}-block disk",
            self.base.num_blocks
        );
        self.reads += 1;
        for (i, out) in buf.chunks_exact_mut(BLOCK_SIZE).enumerate() {
            out.copy_from_slice(&self.block(lba + i as u64));
        }
        Ok(())
    }

    fn num_blocks(&self) -> u64 {
        self.base.num_blocks
    }
}

/// Mode bytes of the `fat` target (`data[0] % 3`).
pub const MODE_DISK: u8 = 0;
pub const MODE_CONFIG: u8 = 1;
pub const MODE_CPIO: u8 = 2;

/// Appends one `newc` entry (Linux buffer-format.rst) to `out`.
pub fn cpio_entry(out: &mut Vec<u8>, name: &str, mode: u32, data: &[u8]) {
    let fields = [
        1,
        mode,
        0,
        0,
        1,
        0,
        data.len() as u32,
        0,
        0,
        0,
        0,
        name.len() as u32 + 1,
        0,
    ];
    out.extend_from_slice(b"070701");
    for f in fields {
        out.extend_from_slice(format!("{f:08x}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    out.resize(out.len().next_multiple_of(4), 0);
    out.extend_from_slice(data);
    out.resize(out.len().next_multiple_of(4), 0);
}

/// The firmware-loaded guest archive of the Raspberry Pi route.
pub fn cpio_archive() -> Vec<u8> {
    let mut a = Vec::new();
    cpio_entry(&mut a, ".", 0o040755, b"");
    for (name, data) in files() {
        cpio_entry(&mut a, name, 0o100644, &data[..data.len().min(600)]);
    }
    cpio_entry(&mut a, "TRAILER!!!", 0, b"");
    a
}

fn with_mode(mode: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![mode];
    v.extend_from_slice(body);
    v
}

/// The disk seed must open and read back every file byte for byte, the
/// archive must hold its files, and the configuration must parse: a seed
/// that fails these would leave the fuzzer in the error paths.
pub fn seeds() -> Vec<Vec<u8>> {
    use file::loader::{FatLoader, FileSource};

    let hot = base().hot_bytes();
    let mut window = vec![0u8; 16 * BLOCK_SIZE];
    let mut fat = FatLoader::open(OverlayDisk::new(&hot), &mut window).expect("seed disk opens");
    let mut archive_data = cpio_archive();
    let mut archive = file::cpio::CpioSource::new(&archive_data);
    for (name, want) in files() {
        let mut got = vec![0u8; want.len()];
        assert_eq!(fat.read_file_into(name, &mut got), Ok(want.len()), "{name}");
        assert!(got == want, "{name} differs");
        assert!(archive.size(name).is_ok(), "{name} not in the archive");
    }
    let cfg = files().remove(0).1;
    let text = std::str::from_utf8(&cfg).expect("ASCII configuration");
    assert!(file::config::parse(text).is_ok());

    let mut out = vec![
        with_mode(MODE_DISK, &hot),
        with_mode(MODE_CONFIG, &cfg),
        with_mode(
            MODE_CONFIG,
            b"kernel=vmlinuz\r\nmemory = 0x4000000 # 64M\nvcpus=1\ndtb = a#b\n",
        ),
        with_mode(MODE_CPIO, &archive_data),
    ];
    // An archive cut inside an entry.
    archive_data.truncate(archive_data.len() / 2);
    out.push(with_mode(MODE_CPIO, &archive_data));
    out
}
