//! Reading the host's apt sources (read-only) to learn which Debian archive
//! URIs this machine uses. Nothing here writes anywhere.
//!
//! Both formats apt accepts are understood:
//! - one-line: `deb [arch=amd64 signed-by=/k.gpg] http://host/debian bookworm main`
//!   in `sources.list` and `sources.list.d/*.list`;
//! - deb822 paragraphs (`Types:`, `URIs:`, `Suites:`, `Components:`,
//!   `Signed-By:`, `Enabled:`) in `sources.list.d/*.sources`.
//!
//! Files with any other name (e.g. `foo.list.disabled`, `*.save`) are ignored,
//! exactly like apt ignores them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Where the Debian archive lives for this host, derived from its apt sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    /// URI of the main archive (serves `bookworm`, `trixie`, `*-updates`, …).
    pub debian: String,
    /// URI of the security archive (serves `*-security`), if the host has one.
    pub security: Option<String>,
    /// Keyring file the host uses for the archive (`Signed-By`). `None` when the
    /// host relies on apt's global trusted keys instead (or gives the key inline).
    pub keyring: Option<PathBuf>,
}

/// One source entry (a one-line `deb` line or a deb822 paragraph).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceEntry {
    pub types: Vec<String>,
    pub uris: Vec<String>,
    pub suites: Vec<String>,
    pub components: Vec<String>,
    /// Raw `signed-by` value (a path, fingerprints or an inline key block).
    pub signed_by: Option<String>,
    pub enabled: bool,
}

/// Debian release codenames and suite aliases. (Names of releases, not hosts.)
const DEBIAN_SUITES: &[&str] = &[
    "buzz",
    "rex",
    "bo",
    "hamm",
    "slink",
    "potato",
    "woody",
    "sarge",
    "etch",
    "lenny",
    "squeeze",
    "wheezy",
    "jessie",
    "stretch",
    "buster",
    "bullseye",
    "bookworm",
    "trixie",
    "forky",
    "duke",
    "sid",
    "oldoldstable",
    "oldstable",
    "stable",
    "testing",
    "unstable",
    "experimental",
];

/// Which of the two Debian archives a source entry points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    Debian,
    Security,
}

/// True if `suite` is served by the security archive (`bookworm-security`,
/// or the pre-bullseye `buster/updates` spelling).
pub fn is_security_suite(suite: &str) -> bool {
    suite.ends_with("-security") || suite.ends_with("/updates")
}

/// Classifies a suite name: a Debian codename/alias, optionally with one of
/// the usual suffixes.
pub fn suite_kind(suite: &str) -> Option<ArchiveKind> {
    let split = suite.find(['-', '/']).unwrap_or(suite.len());
    let (base, rest) = suite.split_at(split);
    if !DEBIAN_SUITES.contains(&base) {
        return None;
    }
    match rest {
        "-security" | "/updates" => Some(ArchiveKind::Security),
        "" | "-updates" | "-backports" | "-backports-sloppy" | "-proposed-updates" => {
            Some(ArchiveKind::Debian)
        }
        _ => None,
    }
}

/// Fallback classification by URI for suites we don't recognise (e.g. a new
/// codename): `…/debian` or `…/debian-security` carrying `main`.
fn uri_kind(uri: &str, components: &[String]) -> Option<ArchiveKind> {
    if !components.iter().any(|c| c == "main") {
        return None;
    }
    match uri.trim_end_matches('/').rsplit('/').next()? {
        "debian" => Some(ArchiveKind::Debian),
        "debian-security" => Some(ArchiveKind::Security),
        _ => None,
    }
}

/// Parses one-line format (`sources.list`, `*.list`). Invalid lines are skipped.
pub fn parse_one_line(text: &str) -> Vec<SourceEntry> {
    text.lines().filter_map(parse_one_line_entry).collect()
}

fn parse_one_line_entry(line: &str) -> Option<SourceEntry> {
    let line = line.split('#').next().unwrap_or("").trim();
    let (ty, rest) = line.split_once(char::is_whitespace)?;
    if ty != "deb" && ty != "deb-src" {
        return None;
    }
    let mut rest = rest.trim_start();
    let mut signed_by = None;
    if let Some(after) = rest.strip_prefix('[') {
        let (options, after) = after.split_once(']')?;
        for opt in options.split_whitespace() {
            if let Some((key, value)) = opt.split_once('=') {
                if key.eq_ignore_ascii_case("signed-by") {
                    signed_by = Some(value.to_string());
                }
            }
        }
        rest = after;
    }
    let mut words = rest.split_whitespace();
    let uri = words.next()?;
    let suite = words.next()?;
    Some(SourceEntry {
        types: vec![ty.to_string()],
        uris: vec![uri.to_string()],
        suites: vec![suite.to_string()],
        components: words.map(str::to_string).collect(),
        signed_by,
        enabled: true,
    })
}

/// Parses deb822 format (`*.sources`). Paragraphs missing a required field are
/// skipped.
pub fn parse_deb822(text: &str) -> Vec<SourceEntry> {
    let mut entries = Vec::new();
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut flush = |fields: &mut Vec<(String, String)>| {
        if !fields.is_empty() {
            entries.extend(deb822_entry(fields));
            fields.clear();
        }
    };
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        if line.trim().is_empty() {
            flush(&mut fields);
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push('\n');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    flush(&mut fields);
    entries
}

fn deb822_entry(fields: &[(String, String)]) -> Option<SourceEntry> {
    let get = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let words = |name: &str| -> Vec<String> {
        get(name)
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    let entry = SourceEntry {
        types: words("types"),
        uris: words("uris"),
        suites: words("suites"),
        components: words("components"),
        signed_by: get("signed-by")
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
        enabled: !get("enabled").is_some_and(|v| v.eq_ignore_ascii_case("no")),
    };
    (!entry.types.is_empty() && !entry.uris.is_empty() && !entry.suites.is_empty()).then_some(entry)
}

/// A `signed-by` value usable as a keyring path (not fingerprints, not an
/// inline key block).
fn keyring_path(signed_by: &str) -> Option<PathBuf> {
    let first = signed_by.split([',', '\n']).next()?.trim();
    first.starts_with('/').then(|| PathBuf::from(first))
}

/// Picks the Debian archive and security archive from parsed host sources.
/// Only enabled binary (`deb`) entries count; `cdrom:` entries are ignored.
pub fn archive_from_entries(entries: &[SourceEntry]) -> Option<Archive> {
    let mut debian: Option<(String, Option<PathBuf>)> = None;
    let mut security: Option<(String, Option<PathBuf>)> = None;
    for entry in entries {
        if !entry.enabled || !entry.types.iter().any(|t| t == "deb") {
            continue;
        }
        let keyring = entry.signed_by.as_deref().and_then(keyring_path);
        for uri in &entry.uris {
            if uri.starts_with("cdrom:") {
                continue;
            }
            for suite in &entry.suites {
                let kind = suite_kind(suite).or_else(|| uri_kind(uri, &entry.components));
                let slot = match kind {
                    Some(ArchiveKind::Debian) => &mut debian,
                    Some(ArchiveKind::Security) => &mut security,
                    None => continue,
                };
                if slot.is_none() {
                    *slot = Some((uri.trim_end_matches('/').to_string(), keyring.clone()));
                }
            }
        }
    }
    let (debian, debian_key) = debian?;
    let security_key = security.as_ref().and_then(|(_, k)| k.clone());
    Some(Archive {
        debian,
        security: security.map(|(uri, _)| uri),
        keyring: debian_key.or(security_key),
    })
}

/// Reads `<etc_apt>/sources.list` and `<etc_apt>/sources.list.d/{*.list,*.sources}`.
pub fn read_sources(etc_apt: &Path) -> Result<Vec<SourceEntry>> {
    let read = |path: &Path| {
        std::fs::read_to_string(path)
            .with_context(|| format!("reading apt sources {}", path.display()))
    };
    let mut entries = Vec::new();
    let main = etc_apt.join("sources.list");
    if main.is_file() {
        entries.extend(parse_one_line(&read(&main)?));
    }
    let dir = etc_apt.join("sources.list.d");
    if dir.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("listing {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        for file in files {
            match file.extension().and_then(|e| e.to_str()) {
                Some("list") if file.is_file() => entries.extend(parse_one_line(&read(&file)?)),
                Some("sources") if file.is_file() => entries.extend(parse_deb822(&read(&file)?)),
                _ => {}
            }
        }
    }
    Ok(entries)
}

/// [`host_archive`] for an arbitrary apt configuration directory.
pub fn archive_from_etc(etc_apt: &Path) -> Result<Archive> {
    let entries = read_sources(etc_apt)?;
    archive_from_entries(&entries).with_context(|| {
        format!(
            "no Debian archive found in the host apt sources ({0}/sources.list, \
             {0}/sources.list.d/*.list, *.sources): need an enabled `deb` entry with a \
             Debian suite (e.g. bookworm, trixie) or a …/debian URI with `main`",
            etc_apt.display()
        )
    })
}

/// The Debian archive this host's apt is configured with (read-only; parses
/// `/etc/apt/sources.list` and `/etc/apt/sources.list.d/`).
pub fn host_archive() -> Result<Archive> {
    archive_from_etc(Path::new("/etc/apt"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn one_line_basic_options_and_comments() {
        let text = "\
# a comment line
deb http://mirror.example.org/debian/ bookworm main contrib non-free-firmware
deb-src http://mirror.example.org/debian bookworm main
  deb [ arch=amd64,arm64 signed-by=/usr/share/keyrings/k.gpg ] http://sec.example.org/debian-security bookworm-security main # trailing
deb [arch=amd64] https://vendor.example.com/apt stable main
#deb http://old.example.org/debian buster main
not a source line
deb [broken http://x.example/ y
";
        let entries = parse_one_line(text);
        assert_eq!(entries.len(), 4);
        assert_eq!(entries[0].types, s(&["deb"]));
        assert_eq!(entries[0].uris, s(&["http://mirror.example.org/debian/"]));
        assert_eq!(entries[0].suites, s(&["bookworm"]));
        assert_eq!(
            entries[0].components,
            s(&["main", "contrib", "non-free-firmware"])
        );
        assert_eq!(entries[0].signed_by, None);
        assert_eq!(entries[1].types, s(&["deb-src"]));
        assert_eq!(
            entries[2].signed_by.as_deref(),
            Some("/usr/share/keyrings/k.gpg")
        );
        assert_eq!(entries[2].suites, s(&["bookworm-security"]));
        assert_eq!(entries[2].components, s(&["main"]));
        assert_eq!(entries[3].uris, s(&["https://vendor.example.com/apt"]));

        let archive = archive_from_entries(&entries).unwrap();
        assert_eq!(
            archive,
            Archive {
                debian: "http://mirror.example.org/debian".into(),
                security: Some("http://sec.example.org/debian-security".into()),
                keyring: Some("/usr/share/keyrings/k.gpg".into()),
            }
        );
    }

    #[test]
    fn deb822_paragraphs() {
        let text = "\
Types: deb
# comment inside a paragraph
URIs: http://mirror.example.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb deb-src
URIs: http://mirror.example.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: https://vendor.example.com/node
Suites: nodistro
Components: main
Architectures: amd64

types: deb
uris: http://disabled.example.org/debian
suites: trixie
components: main
enabled: no

Types: deb
URIs: http://inline.example.org/debian
Suites: trixie
Components: main
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mQINBGPL0BUBEADmW5NdOOHwPIJlgPu6JDcKw/NZJPR8lsD3K87ZM18gzyQZJD+w
 -----END PGP PUBLIC KEY BLOCK-----
";
        let entries = parse_deb822(text);
        assert_eq!(entries.len(), 5);
        assert_eq!(entries[0].suites, s(&["bookworm", "bookworm-updates"]));
        assert_eq!(entries[1].types, s(&["deb", "deb-src"]));
        assert!(entries[2].signed_by.is_none());
        assert!(!entries[3].enabled);
        assert_eq!(entries[3].uris, s(&["http://disabled.example.org/debian"]));
        assert!(entries[4]
            .signed_by
            .as_deref()
            .unwrap()
            .starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----\n.\n"));
        assert_eq!(keyring_path(entries[4].signed_by.as_deref().unwrap()), None);

        let archive = archive_from_entries(&entries).unwrap();
        assert_eq!(archive.debian, "http://mirror.example.org/debian");
        assert_eq!(
            archive.security.as_deref(),
            Some("http://mirror.example.org/debian-security")
        );
        assert_eq!(
            archive.keyring.as_deref(),
            Some(Path::new("/usr/share/keyrings/debian-archive-keyring.gpg"))
        );
    }

    #[test]
    fn suite_classification() {
        assert_eq!(suite_kind("bookworm"), Some(ArchiveKind::Debian));
        assert_eq!(suite_kind("trixie-updates"), Some(ArchiveKind::Debian));
        assert_eq!(suite_kind("stable-backports"), Some(ArchiveKind::Debian));
        assert_eq!(suite_kind("bookworm-security"), Some(ArchiveKind::Security));
        assert_eq!(suite_kind("buster/updates"), Some(ArchiveKind::Security));
        assert_eq!(suite_kind("nodistro"), None);
        assert_eq!(suite_kind("jammy"), None);
        assert_eq!(suite_kind("cloud-sdk-bookworm"), None);
        assert_eq!(suite_kind("bookworm-pgdg"), None);
        assert!(is_security_suite("trixie-security"));
        assert!(!is_security_suite("trixie-updates"));
    }

    #[test]
    fn non_debian_only_sources_give_none() {
        let entries = parse_one_line(
            "deb https://vendor.example.com/apt cloud-sdk-bookworm main\n\
             deb http://ports.example.org/ubuntu jammy main\n\
             deb-src http://mirror.example.org/debian bookworm main\n\
             deb cdrom:[Debian 12]/ bookworm main\n",
        );
        assert_eq!(archive_from_entries(&entries), None);
    }

    #[test]
    fn unknown_codename_falls_back_to_uri() {
        let entries = parse_one_line(
            "deb http://m.example.org/debian/ newcodename main\n\
             deb http://m.example.org/debian-security newcodename-security main\n",
        );
        let archive = archive_from_entries(&entries).unwrap();
        assert_eq!(archive.debian, "http://m.example.org/debian");
        assert_eq!(
            archive.security.as_deref(),
            Some("http://m.example.org/debian-security")
        );
        assert_eq!(archive.keyring, None);
    }

    #[test]
    fn reads_directory_and_ignores_disabled_files() {
        let dir = crate::apt::test_util::TestDir::new("sources");
        let etc = dir.path();
        std::fs::create_dir_all(etc.join("sources.list.d")).unwrap();
        // Sorts before debian.sources: must be ignored because of its suffix.
        std::fs::write(
            etc.join("sources.list.d/aaa.list.disabled-by-farm"),
            "deb http://wrong.example.org/debian bookworm main\n",
        )
        .unwrap();
        std::fs::write(
            etc.join("sources.list.d/cloud.list"),
            "deb https://vendor.example.com/apt cloud-sdk-bookworm main\n",
        )
        .unwrap();
        std::fs::write(
            etc.join("sources.list.d/debian.sources"),
            "Types: deb\nURIs: http://right.example.org/debian\nSuites: bookworm bookworm-updates\n\
             Components: main\nSigned-By: /k.gpg\n\n\
             Types: deb\nURIs: http://right.example.org/debian-security\n\
             Suites: bookworm-security\nComponents: main\nSigned-By: /k.gpg\n",
        )
        .unwrap();
        std::fs::write(
            etc.join("sources.list.d/node.sources.disabled-by-farm"),
            "Types: deb\nURIs: http://wrong2.example.org/debian-security\n\
             Suites: bookworm-security\nComponents: main\n",
        )
        .unwrap();
        // Comment-only sources.list, as on fresh deb822 installs.
        std::fs::write(etc.join("sources.list"), "# moved to sources.list.d\n").unwrap();
        let archive = archive_from_etc(etc).unwrap();
        assert_eq!(
            archive,
            Archive {
                debian: "http://right.example.org/debian".into(),
                security: Some("http://right.example.org/debian-security".into()),
                keyring: Some("/k.gpg".into()),
            }
        );

        let empty = crate::apt::test_util::TestDir::new("sources-empty");
        let err = archive_from_etc(empty.path()).unwrap_err().to_string();
        assert!(err.contains("no Debian archive found"), "{err}");
    }
}
