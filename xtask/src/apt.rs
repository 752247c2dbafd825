//! Private apt state for fetching Debian packages into the build cache.
//!
//! Packages of any architecture (e.g. `arm64` kernels, `all` firmware) are
//! fetched as a normal user with an apt state directory of our own under the
//! cache root. The host's apt is only *read*: the archive URIs and keyring come
//! from its sources (`/etc/apt/sources.list{,.d}`), nothing under `/etc/apt` or
//! `/var/lib/apt` is written, no `dpkg --add-architecture`, no root needed.
//!
//! Layout under `cache_root`:
//! - `manifest.tsv` — what was fetched (see [`manifest`]); a request recorded
//!   there whose `.deb` still has the recorded sha256 is served offline;
//! - `debs/` — the fetched `.deb` files;
//! - `sources/` — fetched source packages (.dsc + tarballs, see
//!   [`fetch_source_cached`]);
//! - `<name>/` — one private apt state per [`PrivateApt`] (`apt.conf`, `etc/`,
//!   `state/`, `cache/`, `tmp/`); to inspect it by hand:
//!   `APT_CONFIG=<cache_root>/<name>/apt.conf apt-cache policy <pkg>`;
//! - `apt.lock` — serialises concurrent [`fetch_cached`] calls.

#![allow(dead_code)]

mod manifest;
mod source_pkg;
mod sources;
mod version;

use std::fmt;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{anyhow, bail, ensure, Context, Result};

pub use manifest::{decide, sha256_file, CacheDecision, Manifest, ManifestEntry};
pub use source_pkg::fetch_source_cached;
pub use sources::{host_archive, is_security_suite, Archive};
pub use version::compare_versions;

/// Which package to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkgSpec<'a> {
    /// Exactly this package name.
    Exact(&'a str),
    /// The package `prefix*suffix` with the newest version (dpkg ordering),
    /// e.g. `("linux-image-6.12.", "-cloud-arm64")`. The `*` part is an ABI
    /// string such as `117+deb12` or `0-37`: it may not contain a `-` followed
    /// by a non-digit, so `-arm64` does not also match `…-cloud-arm64`, and
    /// `-cloud-arm64` does not match `…-cloud-arm64-unsigned`/`-dbg`.
    NewestWithPrefixAndSuffix(&'a str, &'a str),
}

impl PkgSpec<'_> {
    pub fn matches(&self, name: &str) -> bool {
        match *self {
            PkgSpec::Exact(p) => name == p,
            PkgSpec::NewestWithPrefixAndSuffix(prefix, suffix) => {
                let Some(middle) = name
                    .strip_prefix(prefix)
                    .and_then(|rest| rest.strip_suffix(suffix))
                else {
                    return false;
                };
                !middle.is_empty()
                    && !middle.ends_with('-')
                    && !middle
                        .as_bytes()
                        .windows(2)
                        .any(|w| w[0] == b'-' && !w[1].is_ascii_digit())
            }
        }
    }
}

impl fmt::Display for PkgSpec<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PkgSpec::Exact(p) => f.write_str(p),
            PkgSpec::NewestWithPrefixAndSuffix(prefix, suffix) => write!(f, "{prefix}*{suffix}"),
        }
    }
}

/// A package version as apt sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkgInfo {
    pub name: String,
    pub version: String,
    pub arch: String,
}

/// An apt state of our own: sources, indexes, caches and config all live under
/// `cache_root/name`; apt runs with `APT_CONFIG` pointing at its `apt.conf`,
/// which is read before (and redirects away from) the host's configuration.
#[derive(Debug, Clone)]
pub struct PrivateApt {
    root: PathBuf,
    suites: Vec<String>,
    arch: String,
}

impl PrivateApt {
    /// Creates/refreshes the private state `cache_root/name` for `suites` of
    /// `archive` and architecture `arch` (`arm64`, `all`, …). Writes only
    /// under `cache_root/name`.
    pub fn new(
        cache_root: &Path,
        name: &str,
        archive: &Archive,
        suites: &[&str],
        arch: &str,
    ) -> Result<Self> {
        Self::with_lines(cache_root, name, archive, suites, arch, "deb")
    }

    /// As [`PrivateApt::new`], for source packages (`deb-src` lines), so
    /// that [`PrivateApt::download_source`] works.
    pub fn new_source(
        cache_root: &Path,
        name: &str,
        archive: &Archive,
        suites: &[&str],
    ) -> Result<Self> {
        Self::with_lines(cache_root, name, archive, suites, "all", "deb-src")
    }

    fn with_lines(
        cache_root: &Path,
        name: &str,
        archive: &Archive,
        suites: &[&str],
        arch: &str,
        kind: &str,
    ) -> Result<Self> {
        validate_state_name(name)?;
        ensure!(
            !suites.is_empty(),
            "private apt state {name}: no suites given"
        );
        ensure!(
            !arch.is_empty()
                && arch
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-'),
            "private apt state {name}: bad architecture {arch:?}"
        );
        let root = std::path::absolute(cache_root.join(name))
            .with_context(|| format!("resolving {}", cache_root.join(name).display()))?;
        let root_str = root
            .to_str()
            .filter(|s| !s.contains(['"', '\n']))
            .with_context(|| format!("unusable cache path for apt: {}", root.display()))?
            .to_string();
        for dir in [
            "etc/apt.conf.d",
            "etc/sources.list.d",
            "etc/preferences.d",
            "etc/trusted.gpg.d",
            "etc/auth.conf.d",
            "state/lists/partial",
            "cache/archives/partial",
            "log",
            "tmp",
        ] {
            let dir = root.join(dir);
            fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        }

        // Sources: the host's archive URIs, our own suites, main only.
        let mut sources = String::from("# Generated by xtask from the host's apt sources.\n");
        for suite in suites {
            let uri = if is_security_suite(suite) {
                archive.security.as_deref().with_context(|| {
                    format!(
                        "suite {suite} needs the Debian security archive, but the host apt \
                         sources have no *-security entry"
                    )
                })?
            } else {
                archive.debian.as_str()
            };
            let options = match &archive.keyring {
                Some(k) => format!("[signed-by={}] ", k.display()),
                None => String::new(),
            };
            sources.push_str(&format!("{kind} {options}{uri} {suite} main\n"));
        }
        if let Some(k) = &archive.keyring {
            ensure!(
                k.is_file(),
                "keyring {} (Signed-By in the host apt sources) does not exist",
                k.display()
            );
        }
        write_if_changed(&root.join("etc/sources.list"), &sources)?;
        write_if_changed(&root.join("state/status"), "")?;

        let apt_arch = if arch == "all" { native_arch() } else { arch };
        // With a Signed-By keyring no global trust is needed; without one, use
        // the host's trusted keys (read-only).
        let (trusted, trustedparts) = match archive.keyring {
            Some(_) => (
                format!("{root_str}/etc/trusted.gpg"),
                format!("{root_str}/etc/trusted.gpg.d/"),
            ),
            None => (
                "/etc/apt/trusted.gpg".to_string(),
                "/etc/apt/trusted.gpg.d/".to_string(),
            ),
        };
        let conf = format!(
            r#"// Generated by xtask: private apt state, independent of the host's apt setup.
Dir::Etc "{root_str}/etc/";
Dir::Etc::main "/dev/null";
Dir::Etc::parts "{root_str}/etc/apt.conf.d/";
Dir::Etc::sourcelist "{root_str}/etc/sources.list";
Dir::Etc::sourceparts "{root_str}/etc/sources.list.d/";
Dir::Etc::preferences "{root_str}/etc/preferences";
Dir::Etc::preferencesparts "{root_str}/etc/preferences.d/";
Dir::Etc::netrc "{root_str}/etc/auth.conf";
Dir::Etc::netrcparts "{root_str}/etc/auth.conf.d/";
Dir::Etc::trusted "{trusted}";
Dir::Etc::trustedparts "{trustedparts}";
Dir::State "{root_str}/state/";
Dir::State::status "{root_str}/state/status";
Dir::Cache "{root_str}/cache/";
Dir::Log "{root_str}/log/";
APT::Architecture "{apt_arch}";
APT::Architectures {{ "{apt_arch}"; }};
Acquire::Languages "none";
Debug::NoLocking "true";
APT::Sandbox::User "root";
{proxy}"#,
            proxy = host_proxy_config(),
        );
        write_if_changed(&root.join("apt.conf"), &conf)?;

        Ok(Self {
            root,
            suites: suites.iter().map(|s| s.to_string()).collect(),
            arch: arch.to_string(),
        })
    }

    /// The private state directory (`cache_root/name`, absolute).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `apt-get update` against the private state (apt's output goes to stderr).
    pub fn update(&self) -> Result<()> {
        let _lock = lock_file(&self.root.join("lock"))?;
        eprintln!("apt: updating private index for {}…", self.describe());
        let mut cmd = self.command("apt-get");
        cmd.args(["update", "--error-on=any"]);
        self.run_passthrough(cmd, &format!("apt-get update for {}", self.describe()))
    }

    /// The version apt would pick for `pkg`.
    pub fn candidate(&self, pkg: &str) -> Result<String> {
        Ok(self.resolve(PkgSpec::Exact(pkg))?.version)
    }

    /// Names of the (real, not virtual) packages starting with `prefix`, sorted.
    pub fn find_packages(&self, prefix: &str) -> Result<Vec<String>> {
        self.ensure_index()?;
        let mut cmd = self.command("apt-cache");
        cmd.arg("pkgnames");
        if !prefix.is_empty() {
            cmd.arg(prefix);
        }
        let out = self.run_capture(cmd, &format!("apt-cache pkgnames {prefix}"))?;
        let mut names: Vec<String> = out
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && l.starts_with(prefix))
            .map(str::to_string)
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Resolves `spec` to a concrete package name and candidate version. In an
    /// `all` state only `Architecture: all` packages qualify.
    pub fn resolve(&self, spec: PkgSpec) -> Result<PkgInfo> {
        let not_found = || {
            anyhow!(
                "no package matching {spec} in {} (private apt state at {})",
                self.describe(),
                self.root.display()
            )
        };
        let prefix = match spec {
            PkgSpec::Exact(p) => p,
            PkgSpec::NewestWithPrefixAndSuffix(prefix, _) => prefix,
        };
        let names: Vec<String> = self
            .find_packages(prefix)?
            .into_iter()
            .filter(|n| spec.matches(n))
            .collect();
        if names.is_empty() {
            return Err(not_found());
        }
        self.candidates(&names)?
            .into_iter()
            .filter(|p| self.arch != "all" || p.arch == "all")
            .max_by(|a, b| {
                compare_versions(&a.version, &b.version).then_with(|| a.name.cmp(&b.name))
            })
            .ok_or_else(not_found)
    }

    /// `apt-get source --download-only pkg` into `dest_dir` (a state made
    /// with [`PrivateApt::new_source`], updated): the .dsc and its tarballs,
    /// hash-checked by apt against the signed Sources index. Nothing is
    /// unpacked or built, so dpkg-dev is not needed.
    pub fn download_source(&self, pkg: &str, dest_dir: &Path) -> Result<()> {
        ensure!(valid_pkg_arg(pkg), "bad source package name: {pkg:?}");
        let _lock = lock_file(&self.root.join("lock"))?;
        fs::create_dir_all(dest_dir).with_context(|| format!("creating {}", dest_dir.display()))?;
        eprintln!("apt: downloading source package {pkg}…");
        let mut cmd = self.command("apt-get");
        cmd.args(["source", "--download-only", pkg])
            .current_dir(dest_dir);
        self.run_passthrough(
            cmd,
            &format!("apt-get source {pkg} from {}", self.describe()),
        )
    }

    /// `apt-get download pkg` into `dest_dir`; `pkg` may be `name` (candidate)
    /// or `name=version`. Returns the path of the .deb (apt verifies its hash
    /// against the signed index).
    pub fn download(&self, pkg: &str, dest_dir: &Path) -> Result<PathBuf> {
        ensure!(
            valid_pkg_arg(pkg),
            "bad package name for apt-get download: {pkg:?}"
        );
        self.ensure_index()?;
        let _lock = lock_file(&self.root.join("lock"))?;
        fs::create_dir_all(dest_dir).with_context(|| format!("creating {}", dest_dir.display()))?;
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let tmp = dest_dir.join(format!(
            ".download-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let result = (|| {
            eprintln!("apt: downloading {}…", pkg.replacen('=', " ", 1));
            let mut cmd = self.command("apt-get");
            cmd.arg("download").arg(pkg).current_dir(&tmp);
            self.run_passthrough(
                cmd,
                &format!("apt-get download {pkg} from {}", self.describe()),
            )?;
            let debs: Vec<PathBuf> = fs::read_dir(&tmp)
                .with_context(|| format!("listing {}", tmp.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "deb"))
                .collect();
            let [deb] = &debs[..] else {
                bail!(
                    "apt-get download {pkg} left {} .deb files instead of one in {}",
                    debs.len(),
                    tmp.display()
                );
            };
            let dest = dest_dir.join(deb.file_name().context("downloaded file has no name")?);
            fs::rename(deb, &dest)
                .with_context(|| format!("moving {} to {}", deb.display(), dest.display()))?;
            Ok(dest)
        })();
        let _ = fs::remove_dir_all(&tmp);
        result
    }

    /// Candidate versions of `names` (one `apt-cache show` call).
    fn candidates(&self, names: &[String]) -> Result<Vec<PkgInfo>> {
        for n in names {
            ensure!(
                valid_pkg_arg(n) && !n.contains('='),
                "bad package name {n:?}"
            );
        }
        let mut cmd = self.command("apt-cache");
        cmd.args(["show", "--no-all-versions"]).args(names);
        let out = self.run_capture(cmd, &format!("apt-cache show {}", names.join(" ")))?;
        let infos = parse_show(&out);
        for n in names {
            ensure!(
                infos.iter().any(|p| &p.name == n),
                "apt-cache show gave no candidate for {n} in {} (private apt state at {})",
                self.describe(),
                self.root.display()
            );
        }
        Ok(infos)
    }

    /// "bookworm, bookworm-security (arm64)".
    fn describe(&self) -> String {
        format!("{} ({})", self.suites.join(", "), self.arch)
    }

    fn ensure_index(&self) -> Result<()> {
        let lists = self.root.join("state/lists");
        let has_packages = fs::read_dir(&lists)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .any(|e| e.file_name().to_string_lossy().contains("_Packages"))
            })
            .unwrap_or(false);
        ensure!(
            has_packages,
            "private apt index for {} is empty; run update first (private apt state at {})",
            self.describe(),
            self.root.display()
        );
        Ok(())
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("APT_CONFIG", self.root.join("apt.conf"))
            .env("LC_ALL", "C")
            .env("TMPDIR", self.root.join("tmp"))
            .stdin(Stdio::null());
        cmd
    }

    /// Runs with apt's own output passed through to our stderr.
    fn run_passthrough(&self, mut cmd: Command, what: &str) -> Result<()> {
        cmd.stdout(Stdio::from(std::io::stderr()));
        let status = cmd
            .status()
            .with_context(|| format!("could not run {what} (is apt installed?)"))?;
        ensure!(
            status.success(),
            "{what} failed ({status}; private apt state at {})",
            self.root.display()
        );
        Ok(())
    }

    /// Runs and returns stdout; on failure the error carries apt's message.
    fn run_capture(&self, mut cmd: Command, what: &str) -> Result<String> {
        let out = cmd
            .output()
            .with_context(|| format!("could not run {what} (is apt installed?)"))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let msg: Vec<&str> = stderr
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            bail!(
                "{what} failed ({}): {} (private apt state at {})",
                out.status,
                msg.join("; "),
                self.root.display()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// Parses `apt-cache show` output into (Package, Version, Architecture).
fn parse_show(text: &str) -> Vec<PkgInfo> {
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza.lines().find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|r| r.strip_prefix(':'))
                    .map(|v| v.trim().to_string())
            })
        };
        if let (Some(name), Some(version), Some(arch)) =
            (field("Package"), field("Version"), field("Architecture"))
        {
            out.push(PkgInfo {
                name,
                version,
                arch,
            });
        }
    }
    out
}

/// Package names (`[a-z0-9][a-z0-9+.-]*`), optionally `=version`.
fn valid_pkg_arg(s: &str) -> bool {
    let (name, version) = match s.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (s, None),
    };
    let name_ok = name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"+.-".contains(&c));
    let version_ok = version.is_none_or(|v| {
        !v.is_empty()
            && v.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"+.-~:".contains(&c))
    });
    name_ok && version_ok
}

fn validate_state_name(name: &str) -> Result<()> {
    ensure!(
        !name.is_empty()
            && !name.starts_with('.')
            && name != "debs"
            && name
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c)),
        "bad private apt state name {name:?} (want e.g. \"trixie-all\")"
    );
    Ok(())
}

/// Debian architecture of the machine we run on; used as apt's native
/// architecture for `all` states (`all` packages are listed under every arch).
fn native_arch() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        "x86" => "i386",
        "arm" => "armhf",
        "powerpc64" => "ppc64el",
        "riscv64" => "riscv64",
        "s390x" => "s390x",
        "loongarch64" => "loong64",
        _ => "amd64",
    }
}

/// The host's apt proxy settings (read-only `apt-config dump`), carried over so
/// the private state works behind the same proxy. Empty if none/unavailable.
fn host_proxy_config() -> String {
    let out = Command::new("apt-config")
        .args([
            "dump",
            "Acquire::http::Proxy",
            "Acquire::https::Proxy",
            "Acquire::ftp::Proxy",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.starts_with("Acquire::") && l.ends_with(';'))
            .map(|l| format!("{l}\n"))
            .collect(),
        _ => String::new(),
    }
}

fn write_if_changed(path: &Path, content: &str) -> Result<()> {
    if fs::read_to_string(path).is_ok_and(|old| old == content) {
        return Ok(());
    }
    fs::write(path, content).with_context(|| format!("writing {}", path.display()))
}

/// Takes an exclusive advisory lock (released when the file is dropped).
fn lock_file(path: &Path) -> Result<File> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("opening lock file {}", path.display()))?;
    if file.try_lock().is_err() {
        eprintln!("apt: waiting for lock {}…", path.display());
        file.lock()
            .with_context(|| format!("locking {}", path.display()))?;
    }
    Ok(file)
}

/// Extracts a .deb's files into `dest` (`dpkg-deb -x`, no root needed).
pub fn extract_deb(deb: &Path, dest: &Path) -> Result<()> {
    fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
    let out = Command::new("dpkg-deb")
        .arg("-x")
        .arg(deb)
        .arg(dest)
        .stdin(Stdio::null())
        .output()
        .context("could not run dpkg-deb (is dpkg installed?)")?;
    ensure!(
        out.status.success(),
        "dpkg-deb -x {} {} failed ({}): {}",
        deb.display(),
        dest.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
            .trim()
            .replace('\n', "; ")
    );
    Ok(())
}

/// A fetched package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub name: String,
    pub version: String,
    /// `cache_root/debs/<file>.deb`.
    pub deb: PathBuf,
    pub sha256: String,
}

/// Manifest key of a request: `suites/arch/spec`, e.g.
/// `bookworm,bookworm-security/arm64/linux-image-6.12.*-cloud-arm64`.
pub fn manifest_key(suites: &[&str], arch: &str, spec: PkgSpec) -> String {
    format!("{}/{arch}/{spec}", suites.join(","))
}

/// Fetches `spec` from `suites`/`arch` into `cache_root/debs`, using the
/// private apt state `cache_root/name`.
///
/// If `cache_root/manifest.tsv` records this request and the .deb is there
/// with the recorded sha256, that is returned without any network access
/// (nor reading the host's apt sources); a newer version in the archive is
/// *not* picked up until the entry or file is removed. A missing or corrupt
/// .deb is reported in one line and fetched again.
pub fn fetch_cached(
    cache_root: &Path,
    name: &str,
    suites: &[&str],
    arch: &str,
    spec: PkgSpec,
) -> Result<Fetched> {
    validate_state_name(name)?;
    let key = manifest_key(suites, arch, spec);
    fs::create_dir_all(cache_root).with_context(|| format!("creating {}", cache_root.display()))?;
    let _lock = lock_file(&cache_root.join("apt.lock"))?;
    let manifest_path = cache_root.join("manifest.tsv");
    let mut manifest = Manifest::load(&manifest_path)?;

    let entry = manifest.get(&key).cloned();
    let actual = match &entry {
        Some(e) if cache_root.join(&e.deb).is_file() => {
            Some(sha256_file(&cache_root.join(&e.deb))?)
        }
        _ => None,
    };
    match (decide(entry.as_ref(), actual.as_deref()), &entry) {
        (CacheDecision::Hit, Some(e)) => {
            return Ok(Fetched {
                name: e.name.clone(),
                version: e.version.clone(),
                deb: cache_root.join(&e.deb),
                sha256: e.sha256.clone(),
            })
        }
        (CacheDecision::FileMissing, Some(e)) => eprintln!(
            "apt: cached {} for {key} is missing; re-fetching",
            cache_root.join(&e.deb).display()
        ),
        (CacheDecision::Corrupt { actual }, Some(e)) => eprintln!(
            "apt: cached {} is corrupt (sha256 {}…, manifest has {}…); re-fetching",
            cache_root.join(&e.deb).display(),
            &actual[..12.min(actual.len())],
            &e.sha256[..12.min(e.sha256.len())]
        ),
        _ => {}
    }

    let archive = host_archive()?;
    let apt = PrivateApt::new(cache_root, name, &archive, suites, arch)?;
    apt.update()?;
    let info = apt.resolve(spec)?;
    let deb = apt.download(
        &format!("{}={}", info.name, info.version),
        &cache_root.join("debs"),
    )?;
    let sha256 = sha256_file(&deb)?;
    let file_name = deb
        .file_name()
        .and_then(|f| f.to_str())
        .context("downloaded .deb has a non-UTF-8 name")?;
    let rel = format!("debs/{file_name}");
    let old = manifest.upsert(ManifestEntry {
        key,
        name: info.name.clone(),
        version: info.version.clone(),
        deb: rel.clone(),
        sha256: sha256.clone(),
    });
    manifest.save(&manifest_path)?;
    // Drop the superseded .deb unless another entry still uses it.
    if let Some(old) = old {
        let ours = old
            .deb
            .strip_prefix("debs/")
            .is_some_and(|f| !f.is_empty() && !f.contains('/') && f != ".." && f.ends_with(".deb"));
        if ours && old.deb != rel && !manifest.entries.iter().any(|e| e.deb == old.deb) {
            let _ = fs::remove_file(cache_root.join(&old.deb));
        }
    }
    Ok(Fetched {
        name: info.name,
        version: info.version,
        deb: cache_root.join(rel),
        sha256,
    })
}

#[cfg(test)]
pub(crate) mod test_util {
    use std::path::{Path, PathBuf};

    /// A fresh directory under the temp dir, removed on drop.
    pub struct TestDir(PathBuf);

    impl TestDir {
        pub fn new(tag: &str) -> Self {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let dir = std::env::temp_dir().join(format!(
                "xtask-apt-{tag}-{}-{}-{nanos}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TestDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::TestDir;
    use super::*;
    use std::time::Instant;

    #[test]
    fn spec_matching() {
        let cloud = PkgSpec::NewestWithPrefixAndSuffix("linux-image-6.12.", "-cloud-arm64");
        let generic = PkgSpec::NewestWithPrefixAndSuffix("linux-image-6.12.", "-arm64");
        assert!(cloud.matches("linux-image-6.12.117+deb12-cloud-arm64"));
        assert!(!cloud.matches("linux-image-6.12.117+deb12-cloud-arm64-unsigned"));
        assert!(!cloud.matches("linux-image-6.12.117+deb12-cloud-arm64-dbg"));
        assert!(!cloud.matches("linux-image-6.12-cloud-arm64"));
        assert!(generic.matches("linux-image-6.12.117+deb12-arm64"));
        assert!(!generic.matches("linux-image-6.12.117+deb12-cloud-arm64"));
        assert!(!generic.matches("linux-image-6.12.117+deb12-rt-arm64"));
        assert!(!generic.matches("linux-image-6.12.117+deb12-arm64-16k"));
        let old = PkgSpec::NewestWithPrefixAndSuffix("linux-image-6.1.", "-arm64");
        assert!(old.matches("linux-image-6.1.0-37-arm64"));
        assert!(!old.matches("linux-image-6.1.0-37-cloud-arm64"));
        assert!(PkgSpec::Exact("u-boot-qemu").matches("u-boot-qemu"));
        assert!(!PkgSpec::Exact("u-boot-qemu").matches("u-boot-qemu-dbg"));
        assert_eq!(cloud.to_string(), "linux-image-6.12.*-cloud-arm64");
        assert_eq!(
            manifest_key(&["bookworm", "bookworm-security"], "arm64", cloud),
            "bookworm,bookworm-security/arm64/linux-image-6.12.*-cloud-arm64"
        );
    }

    #[test]
    fn show_parsing_and_args() {
        let out = "Package: busybox-static\nVersion: 1:1.35.0-4+deb12u1+b1\n\
                   Architecture: arm64\nDescription: x\n multi\n\n\
                   Package: u-boot-qemu\nSource: u-boot\nVersion: 2025.01-3+deb13u1\n\
                   Architecture: all\n\n";
        assert_eq!(
            parse_show(out),
            [
                PkgInfo {
                    name: "busybox-static".into(),
                    version: "1:1.35.0-4+deb12u1+b1".into(),
                    arch: "arm64".into()
                },
                PkgInfo {
                    name: "u-boot-qemu".into(),
                    version: "2025.01-3+deb13u1".into(),
                    arch: "all".into()
                },
            ]
        );
        assert!(valid_pkg_arg("linux-image-6.12.117+deb12-cloud-arm64"));
        assert!(valid_pkg_arg("busybox-static=1:1.35.0-4+deb12u1+b1"));
        assert!(!valid_pkg_arg("-o"));
        assert!(!valid_pkg_arg("foo bar"));
        assert!(!valid_pkg_arg("foo="));
        assert!(validate_state_name("trixie-all").is_ok());
        assert!(validate_state_name("../x").is_err());
        assert!(validate_state_name("debs").is_err());
    }

    /// Writes the private config without touching the network or the host.
    #[test]
    fn private_state_layout() {
        let dir = TestDir::new("layout");
        let archive = Archive {
            debian: "http://mirror.example.org/debian".into(),
            security: Some("http://mirror.example.org/debian-security".into()),
            keyring: None,
        };
        let apt = PrivateApt::new(
            dir.path(),
            "bookworm-arm64",
            &archive,
            &["bookworm", "bookworm-security"],
            "arm64",
        )
        .unwrap();
        let root = apt.root();
        assert!(root.is_absolute());
        assert_eq!(
            fs::read_to_string(root.join("etc/sources.list")).unwrap(),
            "# Generated by xtask from the host's apt sources.\n\
             deb http://mirror.example.org/debian bookworm main\n\
             deb http://mirror.example.org/debian-security bookworm-security main\n"
        );
        assert_eq!(fs::read(root.join("state/status")).unwrap(), b"");
        let conf = fs::read_to_string(root.join("apt.conf")).unwrap();
        assert!(
            conf.contains("APT::Architectures { \"arm64\"; };"),
            "{conf}"
        );
        assert!(conf.contains(&format!("Dir::State \"{}/state/\";", root.display())));

        let all = PrivateApt::new(dir.path(), "trixie-all", &archive, &["trixie"], "all").unwrap();
        let conf = fs::read_to_string(all.root().join("apt.conf")).unwrap();
        assert!(conf.contains(&format!("APT::Architecture \"{}\";", native_arch())));
        let err = all.find_packages("u-boot").unwrap_err().to_string();
        assert!(err.contains("run update first"), "{err}");

        let no_sec = Archive {
            security: None,
            ..archive
        };
        let err = PrivateApt::new(dir.path(), "x", &no_sec, &["trixie-security"], "arm64")
            .unwrap_err()
            .to_string();
        assert!(err.contains("security archive"), "{err}");
    }

    /// A manifest hit is served without network: the private state (and the
    /// host sources) are never even looked at.
    #[test]
    fn cache_hit_is_offline() {
        let dir = TestDir::new("hit");
        let spec = PkgSpec::Exact("u-boot-qemu");
        fs::create_dir_all(dir.path().join("debs")).unwrap();
        let deb = dir.path().join("debs/u-boot-qemu_1.0_all.deb");
        fs::write(&deb, "not really a deb").unwrap();
        let mut m = Manifest::default();
        m.upsert(ManifestEntry {
            key: manifest_key(&["trixie"], "all", spec),
            name: "u-boot-qemu".into(),
            version: "1.0".into(),
            deb: "debs/u-boot-qemu_1.0_all.deb".into(),
            sha256: sha256_file(&deb).unwrap(),
        });
        m.save(&dir.path().join("manifest.tsv")).unwrap();
        let f = fetch_cached(dir.path(), "trixie-all", &["trixie"], "all", spec).unwrap();
        assert_eq!(f.name, "u-boot-qemu");
        assert_eq!(f.version, "1.0");
        assert_eq!(f.deb, deb);
        assert!(!dir.path().join("trixie-all").exists());
    }

    #[test]
    #[ignore = "network: downloads u-boot-qemu from Debian trixie"]
    fn network_fetch_u_boot_qemu_from_trixie() {
        let dir = TestDir::new("uboot");
        let spec = PkgSpec::Exact("u-boot-qemu");
        let fetch = || fetch_cached(dir.path(), "trixie-all", &["trixie"], "all", spec);

        let t = Instant::now();
        let f = fetch().unwrap();
        eprintln!("cold fetch: {f:?} in {:?}", t.elapsed());
        assert_eq!(f.name, "u-boot-qemu");
        assert!(
            compare_versions(&f.version, "2025.01").is_ge(),
            "{}",
            f.version
        );
        assert!(f.deb.starts_with(dir.path().join("debs")));
        let out = dir.path().join("extract");
        extract_deb(&f.deb, &out).unwrap();
        let bin = out.join("usr/lib/u-boot/qemu_arm64/u-boot.bin");
        assert!(
            fs::metadata(&bin).unwrap().len() > 100_000,
            "{}",
            bin.display()
        );

        // Warm: no network, the private state is not even recreated.
        fs::remove_dir_all(dir.path().join("trixie-all")).unwrap();
        let t = Instant::now();
        assert_eq!(fetch().unwrap(), f);
        eprintln!("warm fetch: {:?}", t.elapsed());
        assert!(!dir.path().join("trixie-all").exists());

        // Corrupt: re-fetched and verified.
        fs::write(&f.deb, "garbage").unwrap();
        let again = fetch().unwrap();
        assert_eq!(again, f);
        assert_eq!(sha256_file(&f.deb).unwrap(), f.sha256);
        assert!(dir.path().join("trixie-all").exists());

        // Missing: re-fetched.
        fs::remove_file(&f.deb).unwrap();
        assert_eq!(fetch().unwrap(), f);
    }

    #[test]
    #[ignore = "network: resolves bookworm arm64 kernels, downloads busybox-static"]
    fn network_bookworm_arm64_kernels_and_busybox() {
        let dir = TestDir::new("bookworm");
        let apt = PrivateApt::new(
            dir.path(),
            "bookworm-arm64",
            &host_archive().unwrap(),
            &["bookworm", "bookworm-security"],
            "arm64",
        )
        .unwrap();
        let t = Instant::now();
        apt.update().unwrap();
        eprintln!("update: {:?}", t.elapsed());
        for suffix in ["-cloud-arm64", "-arm64"] {
            let spec = PkgSpec::NewestWithPrefixAndSuffix("linux-image-6.12.", suffix);
            let p = apt.resolve(spec).unwrap();
            eprintln!("{spec} -> {p:?}");
            assert!(p.name.starts_with("linux-image-6.12.") && p.name.ends_with(suffix));
            assert_eq!(p.name.contains("-cloud-"), suffix == "-cloud-arm64");
            assert_eq!(p.arch, "arm64");
            assert!(p.version.starts_with("6.12."), "{}", p.version);
        }
        let err = apt
            .resolve(PkgSpec::NewestWithPrefixAndSuffix(
                "linux-image-6.12.",
                "-nonexistent",
            ))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "no package matching linux-image-6.12.*-nonexistent in bookworm, \
                 bookworm-security (arm64)"
            ),
            "{err}"
        );

        let version = apt.candidate("busybox-static").unwrap();
        eprintln!("busybox-static {version}");
        let deb = apt
            .download("busybox-static", &dir.path().join("debs"))
            .unwrap();
        assert!(
            deb.to_string_lossy().ends_with("_arm64.deb"),
            "{}",
            deb.display()
        );
        let out = dir.path().join("extract");
        extract_deb(&deb, &out).unwrap();
        assert!(out.join("bin/busybox").is_file());
    }

    #[test]
    #[ignore = "network: downloads one ~28 MB arm64 cloud kernel from bookworm-security"]
    fn network_fetch_cloud_kernel() {
        let dir = TestDir::new("kernel");
        let spec = PkgSpec::NewestWithPrefixAndSuffix("linux-image-6.12.", "-cloud-arm64");
        let t = Instant::now();
        let f = fetch_cached(
            dir.path(),
            "bookworm-arm64",
            &["bookworm", "bookworm-security"],
            "arm64",
            spec,
        )
        .unwrap();
        eprintln!("cold kernel fetch: {f:?} in {:?}", t.elapsed());
        let out = dir.path().join("extract");
        extract_deb(&f.deb, &out).unwrap();
        let vmlinuz: Vec<_> = fs::read_dir(out.join("boot"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("vmlinuz-"))
            .collect();
        assert_eq!(vmlinuz.len(), 1);
    }
}
