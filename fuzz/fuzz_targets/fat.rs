//! The `file` crate (and the hypervisor's MBR reader) on hostile input:
//! - disk: MBR partitions (`hyp_core::mbr`), then `FatLoader` (partition-1
//!   FAT32 checks + `embedded-sdmmc`) over a valid FAT32 image whose
//!   metadata blocks are replaced by the input (see `fat_disk.rs`);
//! - config: `hypervisor.cfg` parsing;
//! - cpio: the firmware-loaded guest archive (`CpioSource`).
//!
//! Invariants: no panic; a file read returns exactly its size and writes
//! nothing past it (nothing at all when it does not fit); a read succeeds
//! only where the size lookup did; accepted configurations are valid and
//! survive a render/parse round trip; errors are one line.
#![no_main]

use file::blockdev::BLOCK_SIZE;
use file::config;
use file::cpio::CpioSource;
use file::loader::{FatLoader, FileSource, LoadError};
use fuzz_support::fat_disk::{self, OverlayDisk, MODE_CONFIG, MODE_CPIO, MODE_DISK};
use libfuzzer_sys::fuzz_target;

/// Names the hypervisor asks for, plus ones that exercise the matching
/// rules (8.3 vs long name, case, path prefixes, too long for 8.3).
const NAMES: [&str; 8] = [
    "hypervisor.cfg",
    "Image",
    "initrd.img",
    "IMAGE",
    "guest.dtb",
    "HYPERV~1.CFG",
    "./Image",
    "missing-file.bin",
];

/// Destination size: larger than the small seed files, smaller than what a
/// corrupt directory entry can claim.
const DEST: usize = 8192;
const FILL: u8 = 0xa5;

fuzz_target!(
    init: fuzz_support::seed_corpus("fat", fat_disk::seeds),
    |data: &[u8]| {
        let Some((&mode, rest)) = data.split_first() else {
            return;
        };
        match mode % 3 {
            MODE_DISK => disk(rest),
            MODE_CONFIG => check_config(&String::from_utf8_lossy(rest)),
            MODE_CPIO => {
                let mut names: Vec<String> = NAMES.iter().map(|s| s.to_string()).collect();
                names.extend(first_cpio_name(rest));
                let mut src = CpioSource::new(rest);
                for name in &names {
                    check_file(&mut src, name);
                }
            }
            _ => unreachable!(),
        }
    }
);

fn disk(overlay: &[u8]) {
    let disk = OverlayDisk::new(overlay);
    check_mbr(&disk.block(0));
    let mut window = vec![0u8; 16 * BLOCK_SIZE];
    let mut fat = match FatLoader::open(disk, &mut window) {
        Ok(f) => f,
        Err(e) => {
            assert!(!e.to_string().contains('\n'), "{e}");
            return;
        }
    };
    let mut names: Vec<String> = NAMES.iter().map(|s| s.to_string()).collect();
    let listed = fat.for_each_file(|name, _| {
        if names.len() < NAMES.len() + 8 {
            names.push(name.to_string());
        }
    });
    if let Err(e) = listed {
        assert!(!e.to_string().contains('\n'), "{e}");
    }
    for name in &names {
        if let Some(text) = check_file(&mut fat, name) {
            // The hypervisor parses what it reads as its configuration.
            if name == "hypervisor.cfg" {
                check_config(&String::from_utf8_lossy(&text));
            }
        }
    }
}

/// `hyp_core::mbr::partitions`: entries exactly as stored, empty ones and
/// unsigned sectors ignored.
fn check_mbr(sector: &[u8; 512]) {
    let parts = hyp_core::mbr::partitions(sector);
    let signed = sector[510] == 0x55 && sector[511] == 0xaa;
    for (i, p) in parts.iter().enumerate() {
        let e = &sector[0x1be + 16 * i..0x1be + 16 * (i + 1)];
        let le = |o: usize| u64::from(u32::from_le_bytes(e[o..o + 4].try_into().unwrap()));
        let stored = signed && e[4] != 0 && le(12) != 0;
        match p {
            Some(p) => {
                assert!(stored);
                assert_eq!((p.kind, p.first_lba, p.blocks), (e[4], le(8), le(12)));
            }
            None => assert!(!stored),
        }
    }
}

/// Size, then read, of `name`; returns the contents when both succeed.
fn check_file(src: &mut impl FileSource, name: &str) -> Option<Vec<u8>> {
    let size = src.size(name);
    let mut dest = vec![FILL; DEST];
    let read = src.read_into(name, &mut dest);
    match (size, read) {
        (Ok(s), Ok(n)) => {
            assert_eq!(s, n as u64, "{name}: size and read disagree");
            assert!(
                dest[n..].iter().all(|&b| b == FILL),
                "{name}: wrote past the file"
            );
            dest.truncate(n);
            return Some(dest);
        }
        (Ok(s), Err(LoadError::TooLarge { size, capacity, .. })) => {
            assert_eq!((size, capacity), (s, DEST));
            assert!(s > DEST as u64);
            assert!(
                dest.iter().all(|&b| b == FILL),
                "{name}: copied although too large"
            );
        }
        (Ok(_), Err(e)) => {
            // The chain behind the directory entry is damaged.
            assert!(
                matches!(e, LoadError::Corrupt(_) | LoadError::Io { .. }),
                "{name}: {e:?}"
            );
        }
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "{name}: lookup is not deterministic");
            // Errors quote the name asked for; names listed from a corrupt
            // directory may hold control characters themselves.
            if !name.contains('\n') {
                assert!(!a.to_string().contains('\n'), "{name:?}: {a}");
            }
        }
        (Err(a), Ok(_)) => panic!("{name}: read succeeded but size failed with {a:?}"),
    }
    None
}

fn check_config(text: &str) {
    match config::parse(text) {
        Ok(cfg) => {
            let name_ok = |n: &str| {
                !n.is_empty()
                    && n.len() <= 255
                    && n.bytes()
                        .all(|c| c.is_ascii_graphic() && c != b'/' && c != b'\\')
            };
            assert!(name_ok(cfg.kernel));
            assert!(cfg.initrd.is_none_or(name_ok) && cfg.dtb.is_none_or(name_ok));
            assert!(cfg.memory.is_none_or(|m| m != 0 && m % 4096 == 0));
            assert!(cfg.vcpus.is_none_or(|v| (1..=255).contains(&v)));
            // Display promises that parse reads it back as the same config.
            let rendered = cfg.to_string();
            assert_eq!(config::parse(&rendered), Ok(cfg), "rendered:\n{rendered}");
        }
        Err(e) => {
            assert!(e.line <= text.split('\n').count());
            assert!(!e.to_string().contains('\n'));
        }
    }
    // The memory size syntax on its own, with the first line as the value.
    let first = text.lines().next().unwrap_or("");
    if let Ok(bytes) = config::parse_size(first) {
        assert!(bytes != 0 && bytes % 4096 == 0);
    }
}

/// The first entry's name, so names the fuzzer invents are looked up too.
fn first_cpio_name(archive: &[u8]) -> Option<String> {
    let hdr = archive.get(..110)?;
    let namesize = usize::from_str_radix(std::str::from_utf8(&hdr[94..102]).ok()?, 16).ok()?;
    let raw = archive.get(110..110usize.checked_add(namesize)?)?;
    Some(String::from_utf8_lossy(raw.strip_suffix(&[0]).unwrap_or(raw)).into_owned())
}
