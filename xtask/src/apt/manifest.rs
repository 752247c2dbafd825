//! The fetch manifest: `<cache_root>/manifest.tsv`, one line per request:
//!
//! ```text
//! key <TAB> package <TAB> version <TAB> deb path (relative to cache_root) <TAB> sha256
//! ```
//!
//! The key identifies the request (suites, architecture and package spec), so
//! a request that was satisfied once is answered from the cache, offline.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

const HEADER: &str = "# key\tpackage\tversion\tdeb\tsha256\n";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    pub key: String,
    pub name: String,
    pub version: String,
    /// Path of the .deb relative to the cache root (e.g. `debs/x_1.0_all.deb`).
    pub deb: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub entries: Vec<ManifestEntry>,
}

impl Manifest {
    /// Parses manifest text. Comments, blank and malformed lines are skipped
    /// (a lost entry only means that package is fetched again).
    pub fn parse(text: &str) -> Self {
        let entries = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                let [key, name, version, deb, sha256] = f[..] else {
                    return None;
                };
                let valid_sha = sha256.len() == 64 && sha256.bytes().all(|c| c.is_ascii_hexdigit());
                (valid_sha && ![key, name, version, deb].iter().any(|s| s.is_empty())).then(|| {
                    ManifestEntry {
                        key: key.into(),
                        name: name.into(),
                        version: version.into(),
                        deb: deb.into(),
                        sha256: sha256.to_ascii_lowercase(),
                    }
                })
            })
            .collect();
        Self { entries }
    }

    pub fn render(&self) -> String {
        let mut out = String::from(HEADER);
        for e in &self.entries {
            out.push_str(&format!(
                "{}\t{}\t{}\t{}\t{}\n",
                e.key, e.name, e.version, e.deb, e.sha256
            ));
        }
        out
    }

    /// Loads the manifest; a missing file is an empty manifest.
    pub fn load(path: &Path) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Self::parse(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes the manifest atomically (temp file + rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension(format!("tsv.tmp{}", std::process::id()));
        std::fs::write(&tmp, self.render())
            .and_then(|()| std::fs::rename(&tmp, path))
            .with_context(|| format!("writing {}", path.display()))
    }

    pub fn get(&self, key: &str) -> Option<&ManifestEntry> {
        self.entries.iter().find(|e| e.key == key)
    }

    /// Inserts or replaces the entry with the same key; returns the replaced one.
    pub fn upsert(&mut self, entry: ManifestEntry) -> Option<ManifestEntry> {
        for field in [&entry.key, &entry.name, &entry.version, &entry.deb] {
            assert!(
                !field.contains(['\t', '\n']),
                "manifest field with tab/newline: {field:?}"
            );
        }
        match self.entries.iter_mut().find(|e| e.key == entry.key) {
            Some(old) => Some(std::mem::replace(old, entry)),
            None => {
                self.entries.push(entry);
                None
            }
        }
    }
}

/// What to do with a request, given its manifest entry and the sha256 of the
/// file on disk (`None` if the file does not exist).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheDecision {
    /// Cached and intact: use it, no network.
    Hit,
    /// Never fetched: fetch.
    NotCached,
    /// Recorded but the file is gone: notice + fetch.
    FileMissing,
    /// Recorded but the file's hash differs: notice + fetch.
    Corrupt { actual: String },
}

pub fn decide(entry: Option<&ManifestEntry>, actual_sha256: Option<&str>) -> CacheDecision {
    match (entry, actual_sha256) {
        (None, _) => CacheDecision::NotCached,
        (Some(_), None) => CacheDecision::FileMissing,
        (Some(e), Some(actual)) if e.sha256.eq_ignore_ascii_case(actual) => CacheDecision::Hit,
        (Some(_), Some(actual)) => CacheDecision::Corrupt {
            actual: actual.to_string(),
        },
    }
}

/// Lower-case hex sha256 of a file.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, sha: &str) -> ManifestEntry {
        ManifestEntry {
            key: key.into(),
            name: "u-boot-qemu".into(),
            version: "2025.01-3+deb13u1".into(),
            deb: "debs/u-boot-qemu_2025.01-3+deb13u1_all.deb".into(),
            sha256: sha.into(),
        }
    }

    const SHA_A: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const SHA_B: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn roundtrip_and_upsert() {
        let mut m = Manifest::default();
        assert_eq!(m.upsert(entry("trixie/all/u-boot-qemu", SHA_A)), None);
        assert_eq!(
            m.upsert(entry("bookworm/arm64/busybox-static", SHA_B)),
            None
        );
        let old = m.upsert(entry("trixie/all/u-boot-qemu", SHA_B)).unwrap();
        assert_eq!(old.sha256, SHA_A);
        assert_eq!(m.entries.len(), 2);
        let text = m.render();
        assert!(text.starts_with('#'));
        assert_eq!(Manifest::parse(&text), m);
        assert_eq!(m.get("trixie/all/u-boot-qemu").unwrap().sha256, SHA_B);
        assert!(m.get("nope").is_none());
    }

    #[test]
    fn parse_skips_malformed_lines() {
        let text = format!(
            "# header\n\nk1\tn\tv\tdebs/a.deb\t{SHA_A}\n\
             too\tfew\tcolumns\n\
             k2\tn\tv\tdebs/b.deb\tnot-a-sha\n\
             k3\tn\t\tdebs/c.deb\t{SHA_A}\n\
             k4\tn\tv\tdebs/d.deb\t{}\n",
            SHA_B.to_ascii_uppercase()
        );
        let m = Manifest::parse(&text);
        let keys: Vec<&str> = m.entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["k1", "k4"]);
        assert_eq!(m.entries[1].sha256, SHA_B);
    }

    #[test]
    fn load_save_and_verify_file() {
        let dir = crate::apt::test_util::TestDir::new("manifest");
        let path = dir.path().join("manifest.tsv");
        assert_eq!(Manifest::load(&path).unwrap(), Manifest::default());

        let deb = dir.path().join("x.deb");
        std::fs::write(&deb, "abc").unwrap();
        let sha = sha256_file(&deb).unwrap();
        assert_eq!(sha, SHA_A); // sha256("abc")
        let mut m = Manifest::default();
        m.upsert(entry("k", &sha));
        m.save(&path).unwrap();
        let loaded = Manifest::load(&path).unwrap();
        assert_eq!(loaded, m);

        let e = loaded.get("k");
        assert_eq!(
            decide(e, Some(&sha256_file(&deb).unwrap())),
            CacheDecision::Hit
        );
        std::fs::write(&deb, "abd").unwrap(); // corrupt it
        let actual = sha256_file(&deb).unwrap();
        assert_eq!(decide(e, Some(&actual)), CacheDecision::Corrupt { actual });
    }

    #[test]
    fn decisions() {
        let e = entry("k", SHA_A);
        assert_eq!(decide(None, None), CacheDecision::NotCached);
        assert_eq!(decide(None, Some(SHA_A)), CacheDecision::NotCached);
        assert_eq!(decide(Some(&e), None), CacheDecision::FileMissing);
        assert_eq!(decide(Some(&e), Some(SHA_A)), CacheDecision::Hit);
        assert_eq!(
            decide(Some(&e), Some(&SHA_A.to_ascii_uppercase())),
            CacheDecision::Hit
        );
        assert_eq!(
            decide(Some(&e), Some(SHA_B)),
            CacheDecision::Corrupt {
                actual: SHA_B.into()
            }
        );
    }
}
