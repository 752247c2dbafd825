//! The guest's initramfs: busybox, the modules needed to reach the root
//! disk (in load order) and `scripts/guest/init`, as a gzip'd cpio newc.

use super::{cpio, tree::Tree};
use anyhow::{ensure, Context, Result};
use flate2::{read::GzDecoder, write::GzEncoder, Compression};
use std::io::{Read, Write};
use std::path::Path;

pub const LOAD_ORDER: &str = "lib/modules/load-order";
pub const CONF: &str = "etc/initramfs.conf";

pub struct Inputs<'a> {
    pub busybox: Vec<u8>,
    pub applets: &'a [String],
    pub init_script: Vec<u8>,
    /// (name, decompressed .ko) in load order.
    pub modules: Vec<(String, Vec<u8>)>,
    pub root_label: &'a str,
    pub root_wait_seconds: u32,
}

pub fn tree(inputs: Inputs) -> Tree {
    let mut t = Tree::default();
    t.add_busybox(inputs.busybox, inputs.applets);
    for d in ["dev", "proc", "sys", "newroot", "etc"] {
        t.dir(d);
    }
    // The kernel opens /dev/console for /init's stdio before anything is
    // mounted; without this node /init would run with no output at all.
    t.char_dev("dev/console", 0o600, 5, 1);
    t.file("init", 0o755, inputs.init_script);
    t.file(
        CONF,
        0o644,
        format!(
            "# Written by xtask (payload/initramfs.rs) for /init.\nROOT_LABEL={}\nROOT_WAIT_SECONDS={}\n",
            inputs.root_label, inputs.root_wait_seconds
        )
        .into_bytes(),
    );
    let mut order = String::new();
    t.dir("lib/modules");
    for (name, ko) in inputs.modules {
        order.push_str(&name);
        order.push('\n');
        t.file(&format!("lib/modules/{name}.ko"), 0o644, ko);
    }
    t.file(LOAD_ORDER, 0o644, order.into_bytes());
    t
}

/// Writes `tree` as a gzip'd cpio to `out`.
pub fn write(tree: &Tree, out: &Path) -> Result<()> {
    let archive = tree.to_cpio()?;
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(&archive)?;
    std::fs::write(out, gz.finish()?).with_context(|| format!("writing {}", out.display()))
}

/// Reads an initramfs back: gzip, a complete cpio (trailer), and /init.
pub fn check(path: &Path) -> Result<Vec<cpio::Entry>> {
    let gz = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut raw = Vec::new();
    GzDecoder::new(&gz[..])
        .read_to_end(&mut raw)
        .with_context(|| format!("{} is not valid gzip", path.display()))?;
    let entries = cpio::parse(&raw)
        .with_context(|| format!("{} is not a complete cpio archive", path.display()))?;
    ensure!(
        entries
            .iter()
            .any(|e| e.name == "init" && e.is_file() && e.mode & 0o111 != 0),
        "{} has no executable /init",
        path.display()
    );
    ensure!(
        entries.iter().any(|e| e.name == LOAD_ORDER),
        "{} has no {LOAD_ORDER}",
        path.display()
    );
    Ok(entries)
}

/// Module names in load order, from a checked archive.
pub fn load_order(entries: &[cpio::Entry]) -> Vec<String> {
    entries
        .iter()
        .find(|e| e.name == LOAD_ORDER)
        .map(|e| {
            String::from_utf8_lossy(&e.data)
                .lines()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_checks() {
        let dir = crate::apt::test_util::TestDir::new("initrd");
        let applets = vec!["sh".to_string(), "insmod".to_string()];
        let t = tree(Inputs {
            busybox: b"BB".to_vec(),
            applets: &applets,
            init_script: b"#!/bin/sh\n".to_vec(),
            modules: vec![
                ("virtio_mmio".into(), b"KO1".to_vec()),
                ("virtio_blk".into(), b"KO2".to_vec()),
            ],
            root_label: "hyproot",
            root_wait_seconds: 5,
        });
        let out = dir.path().join("initrd.img");
        write(&t, &out).unwrap();
        let e = check(&out).unwrap();
        assert_eq!(load_order(&e), ["virtio_mmio", "virtio_blk"]);
        let get = |n: &str| e.iter().find(|e| e.name == n).unwrap();
        assert!(get("dev/console").is_char_dev());
        assert_eq!(get("lib/modules/virtio_blk.ko").data, b"KO2");
        assert_eq!(get("bin/sh").data, b"busybox");
        assert!(String::from_utf8_lossy(&get(CONF).data).contains("ROOT_LABEL=hyproot\n"));

        // Damage is detected: truncation (gzip or cpio) and plain garbage.
        let gz = std::fs::read(&out).unwrap();
        std::fs::write(&out, &gz[..gz.len() / 2]).unwrap();
        assert!(check(&out).is_err());
        std::fs::write(&out, b"garbage").unwrap();
        assert!(check(&out).unwrap_err().to_string().contains("gzip"));
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        let cpio = t.to_cpio().unwrap();
        enc.write_all(&cpio[..cpio.len() - 200]).unwrap();
        std::fs::write(&out, enc.finish().unwrap()).unwrap();
        assert!(check(&out).unwrap_err().to_string().contains("cpio"));
    }
}
