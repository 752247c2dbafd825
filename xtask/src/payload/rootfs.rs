//! The guest's root filesystem: an ext4 image made without root by
//! `mke2fs -d` (e2fsprogs) from a staged directory, and reading files back
//! out of a disk image with `debugfs` (no mount).

use super::tree::Tree;
use crate::disk::Layout;
use anyhow::{bail, ensure, Context, Result};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::process::{Command, Stdio};

/// The filesystem label the initramfs looks for (`findfs LABEL=…`).
pub const LABEL: &str = "hyproot";
/// Size of the ext4 image (and so of partition 2): room for tests that
/// write a 64 MiB file next to the ~3 MiB userland and the 8 MiB journal.
pub const SIZE_MIB: u64 = 192;

/// busybox userland, busybox init and the files of `scripts/guest/rootfs`.
pub fn tree(
    busybox: Vec<u8>,
    applets: &[String],
    overlay: &Path,
    template: &dyn Fn(&str) -> String,
) -> Result<Tree> {
    let mut t = Tree::default();
    t.add_busybox(busybox, applets);
    for d in ["dev", "proc", "sys", "tmp", "run", "root", "mnt", "var/log"] {
        t.dir(d);
    }
    t.add_host_dir(overlay, "", template)?;
    for needed in [
        "etc/inittab",
        "etc/init.d/rcS",
        "etc/profile",
        "etc/os-release",
    ] {
        ensure!(
            t.get(needed).is_some(),
            "{} lacks {needed}",
            overlay.display()
        );
    }
    Ok(t)
}

/// `mke2fs -t ext4 -L LABEL -d staging out SIZE_MIB` (replaces `out`).
pub fn make_ext4(staging: &Path, out: &Path) -> Result<()> {
    let _ = std::fs::remove_file(out);
    let output = Command::new("mke2fs")
        .args([
            "-q",
            "-F",
            "-t",
            "ext4",
            "-L",
            LABEL,
            "-E",
            "root_owner=0:0",
            "-d",
        ])
        .arg(staging)
        .arg(out)
        .arg(format!("{SIZE_MIB}M"))
        .stdin(Stdio::null())
        .output()
        .context("running mke2fs (package e2fsprogs)")?;
    if !output.status.success() {
        bail!(
            "mke2fs -d {} failed: {}",
            staging.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// A built image: the size we chose, the ext4 magic and our label.
pub fn check(path: &Path) -> Result<()> {
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let len = f.metadata()?.len();
    ensure!(
        len == SIZE_MIB << 20,
        "{} has {len} bytes, expected {SIZE_MIB} MiB",
        path.display()
    );
    // The superblock is at 1024: s_magic at +56, s_volume_name at +120.
    let mut sb = [0u8; 136];
    f.seek(SeekFrom::Start(1024))?;
    f.read_exact(&mut sb)?;
    ensure!(
        sb[56..58] == [0x53, 0xef],
        "{} has no ext4 superblock",
        path.display()
    );
    let label = sb[120..136].split(|&b| b == 0).next().unwrap_or_default();
    ensure!(
        label == LABEL.as_bytes(),
        "{}: label {:?}, expected {LABEL}",
        path.display(),
        String::from_utf8_lossy(label)
    );
    Ok(())
}

/// Reads `path` (absolute, inside the guest) from the ext4 filesystem in
/// partition 2 of `disk`, without mounting: `debugfs` opens the image at the
/// partition's byte offset (`image?offset=N`).
pub fn read_root_file(disk: &Path, layout: &Layout, path: &str) -> Result<Vec<u8>> {
    ensure!(
        path.starts_with('/') && !path.contains(['"', '\n']),
        "bad guest path {path:?}"
    );
    let (offset, _) = layout.p2_bytes();
    let output = Command::new("debugfs")
        .arg("-R")
        .arg(format!("cat \"{path}\""))
        .arg(format!("{}?offset={offset}", disk.display()))
        .stdin(Stdio::null())
        .output()
        .context("running debugfs (package e2fsprogs)")?;
    // debugfs reports a missing file on stderr and still exits 0.
    let stderr = String::from_utf8_lossy(&output.stderr);
    let problem = stderr
        .lines()
        .find(|l| !l.starts_with("debugfs ") && !l.trim().is_empty());
    if !output.status.success() || problem.is_some() {
        bail!(
            "reading {path} from partition 2 of {}: {}",
            disk.display(),
            problem.unwrap_or(stderr.trim())
        );
    }
    Ok(output.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::{self, DiskSpec};

    /// mke2fs and debugfs end to end on a small tree (needs e2fsprogs).
    #[test]
    fn builds_ext4_and_reads_back_from_a_disk() {
        if !crate::deps::have("mke2fs") || !crate::deps::have("debugfs") {
            eprintln!("skipped: e2fsprogs not installed");
            return;
        }
        let dir = crate::apt::test_util::TestDir::new("rootfs");
        let overlay = dir.path().join("overlay");
        std::fs::create_dir_all(overlay.join("etc/init.d")).unwrap();
        for f in ["etc/inittab", "etc/init.d/rcS", "etc/profile"] {
            std::fs::write(overlay.join(f), format!("# {f}\n")).unwrap();
        }
        std::fs::write(overlay.join("etc/os-release.in"), "NAME=\"@N@\"\n").unwrap();
        let applets = vec!["sh".to_string()];
        let t = tree(b"BUSYBOX".to_vec(), &applets, &overlay, &|s| {
            s.replace("@N@", "guest")
        })
        .unwrap();
        let staging = dir.path().join("staging");
        t.write_to(&staging).unwrap();
        let img = dir.path().join("root.ext4");
        make_ext4(&staging, &img).unwrap();
        check(&img).unwrap();

        let layout = Layout::new(64, SIZE_MIB).unwrap();
        let disk_img = dir.path().join("disk.img");
        disk::build(
            &disk_img,
            &DiskSpec {
                layout,
                boot_files: vec![],
                root_image: Some(img.clone()),
            },
        )
        .unwrap();
        assert_eq!(
            read_root_file(&disk_img, &layout, "/etc/os-release").unwrap(),
            b"NAME=\"guest\"\n"
        );
        assert_eq!(
            read_root_file(&disk_img, &layout, "/bin/busybox").unwrap(),
            b"BUSYBOX"
        );
        let err = read_root_file(&disk_img, &layout, "/nope")
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nope"), "{err}");

        std::fs::OpenOptions::new()
            .write(true)
            .open(&img)
            .unwrap()
            .set_len(1 << 20)
            .unwrap();
        assert!(check(&img).is_err());
    }
}
