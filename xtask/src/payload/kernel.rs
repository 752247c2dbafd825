//! The unpacked Debian kernel package: the arm64 `Image` (Debian names it
//! `boot/vmlinuz-<release>` but does not compress it on arm64) and the
//! module tree.

use anyhow::{bail, ensure, Context, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// "ARM\x64" at offset 56 of an arm64 Image header
/// (Documentation/arch/arm64/booting.rst).
pub const ARM64_MAGIC: &[u8; 4] = b"ARM\x64";
/// Anything smaller is not a Debian kernel.
const MIN_IMAGE: u64 = 8 << 20;
/// The native boot script loads the initrd 124 MiB above the Image
/// (boot-native.cmd): the kernel's effective size must stay below that.
pub const MAX_EFFECTIVE_SIZE: u64 = 124 << 20;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kernel {
    /// e.g. `6.12.117+deb12-cloud-arm64`.
    pub release: String,
    pub image: PathBuf,
    /// `lib/modules/<release>` in the unpacked package.
    pub modules: PathBuf,
}

/// The fields of the 64-byte arm64 Image header we check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageHeader {
    pub text_offset: u64,
    /// Effective size including BSS: what must be free from the load address.
    pub image_size: u64,
    pub flags: u64,
}

pub fn parse_header(head: &[u8]) -> Result<ImageHeader> {
    ensure!(head.len() >= 64, "shorter than an arm64 Image header");
    ensure!(
        &head[56..60] == ARM64_MAGIC,
        "no arm64 Image magic (\"ARM\\x64\" at offset 56)"
    );
    let u64_at = |o: usize| u64::from_le_bytes(head[o..o + 8].try_into().unwrap());
    Ok(ImageHeader {
        text_offset: u64_at(8),
        image_size: u64_at(16),
        flags: u64_at(24),
    })
}

/// Checks an Image file: magic, a plausible size, a header whose effective
/// size covers the file, and room below the native script's initrd address.
pub fn check_image(path: &Path) -> Result<ImageHeader> {
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let len = f.metadata()?.len();
    let mut head = [0u8; 64];
    f.read_exact(&mut head)
        .with_context(|| format!("{} is truncated", path.display()))?;
    let h = parse_header(&head).with_context(|| path.display().to_string())?;
    ensure!(len >= MIN_IMAGE, "{} is only {len} bytes", path.display());
    ensure!(
        h.image_size >= len,
        "{}: header says {} bytes, file has {len}",
        path.display(),
        h.image_size
    );
    ensure!(
        h.text_offset + h.image_size <= MAX_EFFECTIVE_SIZE,
        "{}: effective size {} MiB does not fit below the initrd (boot-native.cmd)",
        path.display(),
        h.image_size >> 20
    );
    Ok(h)
}

/// Finds the kernel in an unpacked `linux-image-*` package.
pub fn locate(dir: &Path) -> Result<Kernel> {
    let boot = dir.join("boot");
    let releases: Vec<String> = std::fs::read_dir(&boot)
        .with_context(|| format!("listing {}", boot.display()))?
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_prefix("vmlinuz-")
                .map(str::to_string)
        })
        .collect();
    let [release] = &releases[..] else {
        bail!(
            "{} holds {} vmlinuz-* files instead of one",
            boot.display(),
            releases.len()
        );
    };
    let modules = ["lib/modules", "usr/lib/modules"]
        .iter()
        .map(|m| dir.join(m).join(release))
        .find(|p| p.is_dir())
        .with_context(|| format!("no lib/modules/{release} in {}", dir.display()))?;
    Ok(Kernel {
        release: release.clone(),
        image: boot.join(format!("vmlinuz-{release}")),
        modules,
    })
}

/// Validates an unpacked kernel package (used before reusing the cache).
pub fn check_tree(dir: &Path) -> Result<()> {
    let k = locate(dir)?;
    check_image(&k.image)?;
    ensure!(
        k.modules.join("kernel").is_dir(),
        "{} has no kernel/ (modules)",
        k.modules.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn header(image_size: u64) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[16..24].copy_from_slice(&image_size.to_le_bytes());
        h[24..32].copy_from_slice(&0xau64.to_le_bytes());
        h[56..60].copy_from_slice(ARM64_MAGIC);
        h
    }

    #[test]
    fn header_fields() {
        let h = parse_header(&header(40 << 20)).unwrap();
        assert_eq!(
            h,
            ImageHeader {
                text_offset: 0,
                image_size: 40 << 20,
                flags: 0xa
            }
        );
        let mut bad = header(1);
        bad[59] = 0;
        assert!(parse_header(&bad)
            .unwrap_err()
            .to_string()
            .contains("magic"));
        assert!(parse_header(&bad[..60]).is_err());
    }

    #[test]
    fn image_checks() {
        let dir = crate::apt::test_util::TestDir::new("kimage");
        let p = dir.path().join("Image");
        let mut data = header(20 << 20);
        data.resize(10 << 20, 0);
        std::fs::write(&p, &data).unwrap();
        check_image(&p).unwrap();
        std::fs::write(&p, &data[..1 << 20]).unwrap();
        assert!(check_image(&p).unwrap_err().to_string().contains("only"));
        std::fs::write(&p, &data[..32]).unwrap();
        assert!(check_image(&p)
            .unwrap_err()
            .to_string()
            .contains("truncated"));
        let mut huge = header(200 << 20);
        huge.resize(10 << 20, 0);
        std::fs::write(&p, &huge).unwrap();
        assert!(check_image(&p)
            .unwrap_err()
            .to_string()
            .contains("does not fit"));
    }
}
