//! Build-cache helpers: artifacts are named by a hash of their inputs, so a
//! changed input builds a new file and an unchanged one is reused, after a
//! validity check.

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::path::Path;

/// Reuses `path` if `check` accepts it; a damaged file is reported in one
/// line and removed so that it is rebuilt.
pub fn cached<T>(path: &Path, check: impl Fn(&Path) -> Result<T>) -> Option<T> {
    if !path.exists() {
        return None;
    }
    match check(path) {
        Ok(v) => Some(v),
        Err(e) => {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            eprintln!("payload: cached {name} is damaged ({e:#}); rebuilding");
            let _ = std::fs::remove_file(path);
            None
        }
    }
}

/// Removes older builds (`prefix*`) next to `keep`.
pub fn prune(dir: &Path, prefix: &str, keep: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(prefix) && p != keep {
            let _ = std::fs::remove_file(&p);
        }
    }
}

/// 16 hex digits of a sha256 over length-prefixed parts.
pub fn inputs_key(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every file under `dir` as (relative path, mode, contents) parts, sorted.
pub fn dir_contents(dir: &Path) -> Result<Vec<Vec<u8>>> {
    use std::os::unix::fs::PermissionsExt;
    fn walk(root: &Path, dir: &Path, out: &mut Vec<Vec<u8>>) -> Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .with_context(|| format!("listing {}", dir.display()))?
            .collect::<std::io::Result<_>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let meta = e.metadata()?;
            if meta.is_dir() {
                walk(root, &e.path(), out)?;
            } else {
                let rel = e.path().strip_prefix(root)?.to_string_lossy().into_owned();
                out.push(format!("{rel} {:o}", meta.permissions().mode() & 0o111).into_bytes());
                out.push(std::fs::read(e.path())?);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    Ok(out)
}

pub fn write_if_changed(path: &Path, text: &str) -> Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Serialises builds in one cache (e.g. `xrun` while `xtest` runs); released
/// when dropped.
pub fn lock(dir: &Path) -> Result<std::fs::File> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("lock");
    let file = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    if file.try_lock().is_err() {
        eprintln!("payload: waiting for {} (another build)…", path.display());
        file.lock()
            .with_context(|| format!("locking {}", path.display()))?;
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_change_with_any_input() {
        let a = inputs_key(&[b"ab", b"c"]);
        assert_eq!(a.len(), 16);
        assert_ne!(a, inputs_key(&[b"a", b"bc"]));
        assert_eq!(a, inputs_key(&[b"ab", b"c"]));
    }

    #[test]
    fn damaged_files_are_dropped_and_old_builds_pruned() {
        let dir = crate::apt::test_util::TestDir::new("cache");
        let d = dir.path();
        let f = d.join("initrd-1.img");
        assert_eq!(cached(&f, |_| Ok(1)), None);
        std::fs::write(&f, b"x").unwrap();
        assert_eq!(cached(&f, |_| Ok(1)), Some(1));
        assert_eq!(cached(&f, |_| -> Result<u8> { anyhow::bail!("bad") }), None);
        assert!(!f.exists());
        for n in ["initrd-1.img", "initrd-2.img", "root-1.ext4"] {
            std::fs::write(d.join(n), b"x").unwrap();
        }
        prune(d, "initrd-", &d.join("initrd-2.img"));
        assert!(!d.join("initrd-1.img").exists());
        assert!(d.join("initrd-2.img").exists() && d.join("root-1.ext4").exists());
    }
}
