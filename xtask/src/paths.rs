//! Where things live. Everything generated goes under `build/` (cache and
//! work files) and `bin/` (what a user copies or flashes); both are ignored
//! by git.

use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct Paths {
    pub root: PathBuf,
}

impl Paths {
    pub fn discover() -> Self {
        // xtask lives in <root>/xtask; CARGO_MANIFEST_DIR is fixed at build time.
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Self { root }
    }

    pub fn build(&self) -> PathBuf {
        self.root.join("build")
    }
    /// Downloads: kept across runs, so a warm run makes no network access.
    pub fn cache(&self) -> PathBuf {
        self.build().join("cache")
    }
    pub fn bin(&self) -> PathBuf {
        self.root.join("bin")
    }
    pub fn hypervisor_elf(&self) -> PathBuf {
        self.bin().join("elf-hypervisor.elf")
    }
    /// The SPMC variant as a flat BL32 image (`cargo xbuild --spmc`).
    pub fn spmc_bin(&self) -> PathBuf {
        self.bin().join("spmc.bin")
    }
    pub fn uboot_dir(&self) -> PathBuf {
        self.root.join("u-boot")
    }
    pub fn xtest_list(&self) -> PathBuf {
        self.root.join("xtest.txt")
    }
    /// Per-run scratch space, e.g. one directory per test.
    pub fn work(&self, name: &str) -> PathBuf {
        self.build().join("work").join(name)
    }
}
