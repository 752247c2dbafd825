//! U-Boot script images (what `mkimage -A arm64 -O linux -T script -C none`
//! writes), made in-process: a 64-byte legacy header, then the script as a
//! one-part "multi" image (a list of big-endian part sizes ending in 0, then
//! the parts). The time stamp is 0, so the output depends only on the text.

use anyhow::{ensure, Result};

const MAGIC: u32 = 0x2705_1956;
const OS_LINUX: u8 = 5;
const ARCH_ARM64: u8 = 22;
const TYPE_SCRIPT: u8 = 6;
const COMP_NONE: u8 = 0;

fn crc32(bytes: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(bytes);
    c.sum()
}

/// The script image for `text`, named `name` (at most 31 bytes).
pub fn script(name: &str, text: &str) -> Result<Vec<u8>> {
    ensure!(
        name.len() < 32,
        "U-Boot image name longer than 31 bytes: {name:?}"
    );
    let mut data = Vec::with_capacity(text.len() + 8);
    data.extend_from_slice(&(text.len() as u32).to_be_bytes());
    data.extend_from_slice(&0u32.to_be_bytes());
    data.extend_from_slice(text.as_bytes());
    let mut h = Vec::with_capacity(64 + data.len());
    for v in [MAGIC, 0, 0, data.len() as u32, 0, 0, crc32(&data)] {
        h.extend_from_slice(&v.to_be_bytes());
    }
    h.extend_from_slice(&[OS_LINUX, ARCH_ARM64, TYPE_SCRIPT, COMP_NONE]);
    let mut n = [0u8; 32];
    n[..name.len()].copy_from_slice(name.as_bytes());
    h.extend_from_slice(&n);
    let hcrc = crc32(&h);
    h[4..8].copy_from_slice(&hcrc.to_be_bytes());
    h.extend_from_slice(&data);
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout_and_crcs() {
        let img = script("test", "echo hi\n").unwrap();
        assert_eq!(img.len(), 64 + 8 + 8);
        assert_eq!(&img[..4], &MAGIC.to_be_bytes());
        assert_eq!(u32::from_be_bytes(img[12..16].try_into().unwrap()), 16);
        assert_eq!(&img[28..32], &[5, 22, 6, 0]);
        assert_eq!(&img[32..36], b"test");
        assert_eq!(&img[64..72], &[0, 0, 0, 8, 0, 0, 0, 0]);
        assert_eq!(&img[72..], b"echo hi\n");
        assert_eq!(
            u32::from_be_bytes(img[24..28].try_into().unwrap()),
            crc32(&img[64..])
        );
        let mut h = img[..64].to_vec();
        h[4..8].fill(0);
        assert_eq!(u32::from_be_bytes(img[4..8].try_into().unwrap()), crc32(&h));
        assert!(script(&"x".repeat(32), "").is_err());
    }

    /// Byte-identical to mkimage apart from the time stamp (and so the
    /// header CRC), when mkimage is installed.
    #[test]
    fn matches_mkimage() {
        if !crate::deps::have("mkimage") {
            eprintln!("skipped: mkimage (u-boot-tools) not installed");
            return;
        }
        let dir = crate::apt::test_util::TestDir::new("uimage");
        let text = "echo one\nsetenv a 0x40000000\n";
        std::fs::write(dir.path().join("s.cmd"), text).unwrap();
        let out = std::process::Command::new("mkimage")
            .args([
                "-A", "arm64", "-O", "linux", "-T", "script", "-C", "none", "-n", "native", "-d",
            ])
            .arg(dir.path().join("s.cmd"))
            .arg(dir.path().join("s.scr"))
            .output()
            .unwrap();
        assert!(out.status.success());
        let theirs = std::fs::read(dir.path().join("s.scr")).unwrap();
        let ours = script("native", text).unwrap();
        assert_eq!(theirs.len(), ours.len());
        assert_eq!(theirs[..4], ours[..4]);
        assert_eq!(theirs[12..], ours[12..], "beyond the CRC and time stamp");
    }
}
