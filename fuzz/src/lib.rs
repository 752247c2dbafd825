//! Shared pieces of the fuzz targets in `fuzz_targets/`: a byte reader that
//! turns the fuzzer's input into typed values, the seed corpora (built by
//! code, so no binary blobs live in git), and the fakes the targets drive
//! the crates with (a sparse FAT32 disk, guest memory that logs accesses).
//!
//! Seeds: each target's `init` calls [`seed_corpus`], which writes that
//! target's seeds into the corpus directory libFuzzer was given (the first
//! directory argument), so `cargo fuzz run dtb` and `cargo xtask fuzz dtb`
//! both start from meaningful inputs. Reproducing a crash (`./dtb
//! crash-file`) passes a file, not a directory, and writes nothing.

pub mod dtb_seeds;
pub mod fat_disk;
pub mod image_seeds;
pub mod input;
pub mod mmio_seeds;
pub mod rsp_seeds;
pub mod virtqueue_model;

use std::path::Path;

pub use input::Input;

/// Writes `seeds()` as `seed-<target>-<n>` into the first directory named
/// on the command line, if any. Overwriting the same names each run keeps
/// the corpus free of stale copies when the generators change.
///
/// Panics (so libFuzzer reports it at start-up) when a seed cannot be
/// written: a fuzzer silently running without its seeds would waste the
/// whole run.
pub fn seed_corpus(target: &str, seeds: impl FnOnce() -> Vec<Vec<u8>>) {
    let dir = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .map(std::path::PathBuf::from)
        .next()
        .filter(|p| p.is_dir());
    let Some(dir) = dir else {
        return;
    };
    write_seeds(&dir, target, &seeds());
}

fn write_seeds(dir: &Path, target: &str, seeds: &[Vec<u8>]) {
    for (i, seed) in seeds.iter().enumerate() {
        let path = dir.join(format!("seed-{target}-{i}"));
        if let Err(e) = std::fs::write(&path, seed) {
            panic!("writing seed {}: {e}", path.display());
        }
    }
}
