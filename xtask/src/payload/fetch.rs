//! Fetching the guest's Debian packages (bookworm arm64) and unpacking them
//! into the cache, once per .deb (keyed by its sha256).

use crate::apt::{self, PkgSpec};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The private apt state (under `build/cache/apt`) for the guest's packages.
const STATE: &str = "bookworm-arm64";
const SUITES: &[&str] = &["bookworm", "bookworm-security"];
const ARCH: &str = "arm64";

/// A fetched and unpacked package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unpacked {
    pub name: String,
    pub version: String,
    pub sha256: String,
    /// The package's files (`dpkg-deb -x`).
    pub dir: PathBuf,
}

/// Fetches `spec` (cached: no network when the .deb is already there) and
/// unpacks it under `cache/payload/pkg/<sha256 prefix>`. `check` validates an
/// unpacked tree; a tree failing it (e.g. a truncated kernel image) is
/// reported in one line and unpacked again.
pub fn fetch_unpacked(
    cache: &Path,
    spec: PkgSpec,
    check: impl Fn(&Path) -> Result<()>,
) -> Result<Unpacked> {
    let fetched = apt::fetch_cached(&cache.join("apt"), STATE, SUITES, ARCH, spec)
        .with_context(|| format!("fetching {spec} (Debian {}, {ARCH})", SUITES.join(", ")))?;
    let dir = cache.join("payload/pkg").join(&fetched.sha256[..16]);
    let unpacked = Unpacked {
        name: fetched.name.clone(),
        version: fetched.version.clone(),
        sha256: fetched.sha256.clone(),
        dir: dir.clone(),
    };
    if dir.is_dir() {
        match check_seal(&dir).and_then(|()| check(&dir)) {
            Ok(()) => return Ok(unpacked),
            Err(e) => eprintln!(
                "payload: unpacked {} {} is damaged ({e:#}); unpacking again",
                fetched.name, fetched.version
            ),
        }
    }
    eprintln!("payload: unpacking {} {}…", fetched.name, fetched.version);
    let tmp = dir.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    apt::extract_deb(&fetched.deb, &tmp)?;
    check(&tmp).with_context(|| format!("{} as fetched", fetched.deb.display()))?;
    seal(&tmp)?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&tmp, &dir)
        .with_context(|| format!("moving {} to {}", tmp.display(), dir.display()))?;
    Ok(unpacked)
}

/// Records every unpacked file's size, so a truncated or deleted file is
/// noticed before the cache is reused.
const SEAL: &str = ".xtask-files";

fn seal(dir: &Path) -> Result<()> {
    let mut text = String::new();
    for (rel, len) in file_sizes(dir)? {
        text.push_str(&format!("{len} {rel}\n"));
    }
    std::fs::write(dir.join(SEAL), text)
        .with_context(|| format!("writing {}", dir.join(SEAL).display()))
}

fn check_seal(dir: &Path) -> Result<()> {
    let text =
        std::fs::read_to_string(dir.join(SEAL)).context("no record of the unpacked files")?;
    let mut count = 0;
    for line in text.lines() {
        let (len, rel) = line.split_once(' ').context("bad file record")?;
        let len: u64 = len.parse()?;
        match std::fs::symlink_metadata(dir.join(rel)) {
            Ok(m) => anyhow::ensure!(
                m.len() == len,
                "{rel} has {} bytes, unpacked {len}",
                m.len()
            ),
            Err(_) => anyhow::bail!("{rel} is missing"),
        }
        count += 1;
    }
    anyhow::ensure!(count > 0, "empty file record");
    Ok(())
}

/// (relative path, size) of every regular file under `dir`, sorted.
fn file_sizes(dir: &Path) -> Result<Vec<(String, u64)>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, u64)>) -> Result<()> {
        for e in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
            let e = e?;
            let ty = e.file_type()?;
            if ty.is_dir() {
                walk(root, &e.path(), out)?;
            } else if ty.is_file() {
                let rel = e.path().strip_prefix(root)?.to_string_lossy().into_owned();
                if rel != SEAL && !rel.contains('\n') {
                    out.push((rel, e.metadata()?.len()));
                }
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_notices_truncation_and_loss() {
        let dir = crate::apt::test_util::TestDir::new("seal");
        let d = dir.path();
        std::fs::create_dir_all(d.join("boot")).unwrap();
        std::fs::write(d.join("boot/Image"), vec![1u8; 1000]).unwrap();
        std::fs::write(d.join("x"), b"abc").unwrap();
        assert!(check_seal(d).is_err());
        seal(d).unwrap();
        check_seal(d).unwrap();
        std::fs::write(d.join("boot/Image"), vec![1u8; 999]).unwrap();
        let err = check_seal(d).unwrap_err().to_string();
        assert_eq!(err, "boot/Image has 999 bytes, unpacked 1000");
        std::fs::write(d.join("boot/Image"), vec![1u8; 1000]).unwrap();
        std::fs::remove_file(d.join("x")).unwrap();
        assert_eq!(check_seal(d).unwrap_err().to_string(), "x is missing");
    }
}
