//! TF-A for the secure variant (issue #8): BL1 → BL2 → BL31 (SPMD) → BL32
//! (an SPMC at S-EL2) → BL33 (U-Boot) on QEMU `virt,secure=on`.
//!
//! - Source: Debian trixie's `arm-trusted-firmware` source package (2.12:
//!   it takes an SPMC manifest and SP packages on QEMU; bookworm's 2.8 hard-
//!   codes them), fetched through a private `deb-src` apt state and verified
//!   (apt/source_pkg.rs), unpacked with `tar` into
//!   `build/cache/tfa/src-<tarball sha>/`. Only the upstream tarball is
//!   used: Debian's patches touch tools' LDFLAGS, cert_create and the
//!   rk3399/rcar ports, nothing `PLAT=qemu` builds. A warm run does no
//!   network access.
//! - Build: `make` with [`FLAGS`] out of tree in `build/tfa/<key>/`, where
//!   the key hashes everything that goes in (source, flags, manifests, the
//!   SP layout and the files it names, BL32 and BL33 bytes). Builds are
//!   serialised by a lock: fiptool is built inside the shared source tree.
//! - Result: `flash.bin` for QEMU's `-bios`: `bl1.bin` at 0, `fip.bin` at
//!   [`FIP_OFFSET`]. TF-A's own `qemu_fw.bios` has the same layout
//!   (plat/qemu/qemu/platform.mk: `dd bs=64k seek=4`); we assemble it from
//!   the two parts and check that both agree.

mod stub;

use crate::cli::Args;
use crate::paths::Paths;
use crate::{apt, deps, qemu, uboot};
use anyhow::{bail, ensure, Context, Result};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const SOURCE_PACKAGE: &str = "arm-trusted-firmware";
const SUITE: &str = "trixie";
/// The private apt state (under `build/cache/apt/`) with trixie's deb-src.
const APT_STATE: &str = "trixie-src";

/// `make` variables, each checked against the 2.12.1 source
/// (make_helpers/defaults.mk, arch_features.mk, plat/qemu/common/common.mk).
/// With the stand-in BL32, `PLAT=qemu SPD=spmd QEMU_USE_GIC_DRIVER=...`
/// plus the manifests already boot (2.12's QEMU defaults detect S-EL2,
/// SVE, SME and SPE at run time); the rest is what the real SPMC and Linux
/// on top were proven with.
const FLAGS: &[&str] = &[
    "PLAT=qemu",
    // The SPM Dispatcher in BL31, the SPMC at S-EL2 (the default with
    // SPD=spmd; it also forces CTX_INCLUDE_EL2_REGS=1 in the Makefile).
    "SPD=spmd",
    "SPMD_SPM_AT_SEL2=1",
    "CTX_INCLUDE_EL2_REGS=1",
    // FEAT_SEL2 unconditionally (QEMU's default is 2: detect at run time)
    // and v8.5 code generation: `-cpu max` in QEMU 7.2 has both.
    "ENABLE_FEAT_SEL2=1",
    "ARM_ARCH_MINOR=5",
    // EL3 keeps FP registers per world. With FP context switching, SVE for
    // the normal world would need CTX_INCLUDE_SVE_REGS, which the Makefile
    // forbids with an S-EL2 SPMC (it would force SVE off with a warning):
    // say so. SME needs SVE. Run QEMU with `sve=off,sme=off` to match.
    "CTX_INCLUDE_FPREGS=1",
    "ENABLE_SVE_FOR_NS=0",
    "ENABLE_SME_FOR_NS=0",
    // QEMU 7.2 has no SPE. 2.8 called this ENABLE_SPE_FOR_LOWER_ELS and
    // faulted without it; 2.12 ignores that name (its default, 2, would
    // detect SPE's absence): 0 says it outright.
    "ENABLE_SPE_FOR_NS=0",
    // The machine runs with gic-version=3; QEMU's default driver is GICv2.
    "QEMU_USE_GIC_DRIVER=QEMU_GICV3",
    "CROSS_COMPILE=aarch64-linux-gnu-",
];

/// The CPU for secure-variant runs: TF-A keeps SVE and SME from the
/// normal world (ENABLE_SVE_FOR_NS=0, ENABLE_SME_FOR_NS=0), so the CPU
/// must not advertise them or Linux would trap to EL3 using them.
pub const SECURE_CPU: &str = "max,pauth-impdef=on,sve=off,sme=off";

/// Where QEMU's flash image holds the FIP: BL1 finds it there
/// (PLAT_QEMU_FIP_BASE = 0x40000 in plat/qemu/qemu/include/platform_def.h).
pub const FIP_OFFSET: usize = 0x4_0000;

/// Bumped when the recipe changes in a way the inputs do not show.
const RECIPE: &str = "tfa-recipe-2";

/// The project's manifests in scripts/tfa/.
const MANIFEST: &str = "spmc_manifest.dts";
const TB_FW_CONFIG: &str = "tb_fw_config.dts";
const SP_LAYOUT: &str = "sp_layout.json";

/// What goes into one flash image.
#[derive(Clone, Debug)]
pub struct Inputs {
    /// The SPMC, flat, loaded and entered at the manifest's load address.
    pub bl32: PathBuf,
    /// The normal-world firmware, flat (U-Boot's `u-boot.bin`).
    pub bl33: PathBuf,
    /// TOS_FW_CONFIG: the SPMC manifest (the SPMD reads `attribute`; the
    /// SPMC gets its address in x0).
    pub spmc_manifest: PathBuf,
    /// TB_FW_CONFIG: the partitions BL2 loads from the FIP. It must name
    /// the packages in `sp_layout` (uuid, load-address): TF-A does not
    /// derive one from the other on QEMU.
    pub tb_fw_config: PathBuf,
    /// SP_LAYOUT_FILE: the partition packages to put in the FIP. Required
    /// with an S-EL2 SPMC; `{}` packages none.
    pub sp_layout: PathBuf,
}

impl Inputs {
    /// `bl32` and `bl33` with the manifests and (empty) SP layout in
    /// scripts/tfa/.
    pub fn project(paths: &Paths, bl32: &Path, bl33: &Path) -> Self {
        let dir = paths.root.join("scripts").join("tfa");
        Self {
            bl32: bl32.into(),
            bl33: bl33.into(),
            spmc_manifest: dir.join(MANIFEST),
            tb_fw_config: dir.join(TB_FW_CONFIG),
            sp_layout: dir.join(SP_LAYOUT),
        }
    }
}

/// Builds (or reuses) the flash image with `bl32` (an SPMC, flat) and
/// `bl33` (U-Boot) and the project's manifests; returns its path.
pub fn flash_bin(paths: &Paths, bl32: &Path, bl33: &Path) -> Result<PathBuf> {
    build(paths, &Inputs::project(paths, bl32, bl33))
}

/// Builds (or reuses) `build/tfa/<key>/flash.bin` for `inputs`.
pub fn build(paths: &Paths, inputs: &Inputs) -> Result<PathBuf> {
    check_inputs(inputs)?;
    let src = source(paths)?;
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    let bl32 = read(&inputs.bl32)?;
    let bl33 = read(&inputs.bl33)?;
    let mut parts: Vec<(String, Vec<u8>)> = vec![
        ("bl32".into(), bl32.clone()),
        ("bl33".into(), bl33.clone()),
        ("manifest".into(), read(&inputs.spmc_manifest)?),
        ("tb_fw_config".into(), read(&inputs.tb_fw_config)?),
    ];
    let layout = read(&inputs.sp_layout)?;
    parts.extend(layout_files(&inputs.sp_layout, &layout)?);
    parts.push(("sp_layout".into(), layout));
    let key = cache_key(&src.version, &src.tarball_sha256, &parts);

    let root = paths.build().join("tfa");
    let out = root.join(&key);
    let flash = out.join("flash.bin");
    if flash.is_file() {
        return Ok(flash);
    }
    deps::ensure(deps::TFA)?;
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    let _lock = lock(&root.join("build.lock"))?;
    if flash.is_file() {
        return Ok(flash); // built by whoever held the lock
    }

    eprintln!(
        "tfa: building TF-A {} (BL32 {}, BL33 {})…",
        src.version,
        inputs.bl32.display(),
        inputs.bl33.display()
    );
    let started = Instant::now();
    let tmp = root.join(format!("{key}.tmp"));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let image = match make_flash(&src, inputs, &tmp, &bl32, &bl33) {
        Ok(image) => image,
        Err(e) => {
            // Keep the failed tree (and its make.log) for a look.
            let failed = root.join(format!("{key}.failed"));
            let _ = std::fs::remove_dir_all(&failed);
            let kept = if std::fs::rename(&tmp, &failed).is_ok() {
                failed
            } else {
                tmp
            };
            return Err(e.context(format!(
                "building TF-A failed (log: {})",
                kept.join("make.log").display()
            )));
        }
    };
    std::fs::write(tmp.join("flash.bin"), image)?;
    let _ = std::fs::remove_dir_all(&out);
    std::fs::rename(&tmp, &out)
        .with_context(|| format!("moving {} to {}", tmp.display(), out.display()))?;
    eprintln!(
        "tfa: built in {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        flash.display()
    );
    prune(&root, KEEP_BUILDS);
    Ok(flash)
}

/// Runs TF-A's make in `tmp` (log: `tmp/make.log`) and returns the flash
/// image. BL32 and BL33 are built from the bytes the cache key was computed
/// over, not from files that may be rebuilt meanwhile.
fn make_flash(
    src: &Source,
    inputs: &Inputs,
    tmp: &Path,
    bl32: &[u8],
    bl33: &[u8],
) -> Result<Vec<u8>> {
    let (bl32_copy, bl33_copy) = (tmp.join("bl32.bin"), tmp.join("bl33.bin"));
    std::fs::write(&bl32_copy, bl32)?;
    std::fs::write(&bl33_copy, bl33)?;
    let build_base = tmp.join("build");
    let args = make_args(
        &src.version,
        &MakeInputs {
            build_base: &build_base,
            bl32: &bl32_copy,
            bl33: &bl33_copy,
            spmc_manifest: &inputs.spmc_manifest,
            tb_fw_config: &inputs.tb_fw_config,
            sp_layout: &inputs.sp_layout,
        },
    );
    let output = Command::new("make")
        .current_dir(&src.dir)
        .arg(format!(
            "-j{}",
            std::thread::available_parallelism().map_or(2, |n| n.get())
        ))
        .args(&args)
        .env("LC_ALL", "C")
        // TF-A's Makefile takes these from the environment too.
        .env_remove("CFLAGS")
        .env_remove("CPPFLAGS")
        .env_remove("ASFLAGS")
        .env_remove("LDFLAGS")
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .output()
        .context("running make for TF-A (package make)")?;
    std::fs::write(
        tmp.join("make.log"),
        [output.stdout.as_slice(), output.stderr.as_slice()].concat(),
    )?;
    if !output.status.success() {
        let text = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        bail!(
            "make exited with {}:\n{}",
            output.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    assemble_checked(&build_base.join("qemu").join("release"))
}

/// Builds kept in `build/tfa/` (each ~3 MiB; every new BL32 makes one).
const KEEP_BUILDS: usize = 8;

/// Removes all but the `keep` newest builds (`<16 hex>` directories, with
/// their `.failed`/`.log` leftovers). Runs under the build lock.
fn prune(root: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    let mut builds: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter(|e| is_key(&e.file_name().to_string_lossy()))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    builds.sort_by_key(|b| std::cmp::Reverse(b.0));
    for (_, dir) in builds.into_iter().skip(keep) {
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(dir.with_extension("failed"));
        let _ = std::fs::remove_file(dir.with_extension("log"));
    }
}

fn is_key(name: &str) -> bool {
    name.len() == 16 && name.bytes().all(|c| c.is_ascii_hexdigit())
}

/// `cargo xtask tfa [--bl32 FILE]`: builds flash.bin with FILE (default:
/// the stand-in SPMC stub) and U-Boot, prints its path.
pub fn main(paths: &Paths, args: &Args) -> Result<()> {
    args.reject_unknown(&["bl32"])?;
    if let Some(word) = args.words().first() {
        bail!("unexpected argument {word:?}: usage: cargo xtask tfa [--bl32 FILE]");
    }
    deps::ensure(deps::BASE)?;
    deps::ensure(deps::TFA)?;
    let bl32 = match args.value("bl32") {
        Some(file) => std::path::absolute(file).with_context(|| format!("--bl32 {file}"))?,
        None => {
            eprintln!("tfa: no --bl32: using the stand-in SPMC stub");
            stub::bl32(paths)?
        }
    };
    let uboot = uboot::firmware(paths)?;
    let flash = flash_bin(paths, &bl32, &uboot)?;
    let launch = qemu::Launch {
        machine: qemu::Machine {
            cpu: SECURE_CPU.into(),
            ..Default::default()
        },
        boot: qemu::Boot::SecureFirmware(flash.clone()),
        disk: None,
        console: qemu::Console::Terminal,
    };
    // The second UART is the secure one (EL3 panics are printed there).
    eprintln!(
        "tfa: boot it with: qemu-system-aarch64 {} -serial mon:stdio -serial file:secure.log",
        launch.args().join(" ")
    );
    println!("{}", flash.display());
    Ok(())
}

/// Paths go to `make` as words: no whitespace. The two DTS files become
/// `<basename>.dtb` in one directory, so their names must differ.
fn check_inputs(inputs: &Inputs) -> Result<()> {
    let all = [
        ("BL32", &inputs.bl32),
        ("BL33", &inputs.bl33),
        ("SPMC manifest", &inputs.spmc_manifest),
        ("TB_FW_CONFIG", &inputs.tb_fw_config),
        ("SP layout", &inputs.sp_layout),
    ];
    for (what, p) in all {
        ensure!(p.is_file(), "{what} {} does not exist", p.display());
        ensure!(
            p.is_absolute() && !p.to_string_lossy().contains(char::is_whitespace),
            "{what} {}: TF-A's make needs an absolute path without spaces",
            p.display()
        );
    }
    let stem = |p: &Path| p.file_stem().map(|s| s.to_os_string());
    ensure!(
        stem(&inputs.spmc_manifest) != stem(&inputs.tb_fw_config),
        "the SPMC manifest and TB_FW_CONFIG need different file names ({} and {})",
        inputs.spmc_manifest.display(),
        inputs.tb_fw_config.display()
    );
    Ok(())
}

/// Paths a [`make_args`] call needs.
struct MakeInputs<'a> {
    build_base: &'a Path,
    bl32: &'a Path,
    bl33: &'a Path,
    spmc_manifest: &'a Path,
    tb_fw_config: &'a Path,
    sp_layout: &'a Path,
}

/// The `make` command line after `-jN`.
fn make_args(version: &str, m: &MakeInputs) -> Vec<String> {
    let mut a: Vec<String> = FLAGS.iter().map(|f| f.to_string()).collect();
    let p = |name: &str, path: &Path| format!("{name}={}", path.display());
    a.extend([
        p("BUILD_BASE", m.build_base),
        // Otherwise the banner carries `git describe` of whatever repository
        // the cache lies in (ours, "-dirty").
        format!("BUILD_STRING=debian-{version}"),
        p("QEMU_TOS_FW_CONFIG_DTS", m.spmc_manifest),
        p("QEMU_TB_FW_CONFIG_DTS", m.tb_fw_config),
        p("SP_LAYOUT_FILE", m.sp_layout),
        p("BL32", m.bl32),
        p("BL33", m.bl33),
        "all".into(),
        "fip".into(),
    ]);
    a
}

/// `bl1.bin` at 0, `fip.bin` at [`FIP_OFFSET`], zeros between.
pub fn assemble_flash(bl1: &[u8], fip: &[u8]) -> Result<Vec<u8>> {
    ensure!(
        bl1.len() <= FIP_OFFSET,
        "bl1.bin is {} bytes: it would overlap the FIP at {FIP_OFFSET:#x}",
        bl1.len()
    );
    ensure!(!fip.is_empty(), "fip.bin is empty");
    let mut image = bl1.to_vec();
    image.resize(FIP_OFFSET, 0);
    image.extend_from_slice(fip);
    Ok(image)
}

/// Our flash image from BUILD_PLAT, checked against TF-A's `qemu_fw.bios`.
fn assemble_checked(plat: &Path) -> Result<Vec<u8>> {
    let read = |n: &str| {
        let p = plat.join(n);
        std::fs::read(&p).with_context(|| format!("reading {}", p.display()))
    };
    let image = assemble_flash(&read("bl1.bin")?, &read("fip.bin")?)?;
    ensure!(
        read("qemu_fw.bios")? == image,
        "TF-A's qemu_fw.bios is not bl1.bin + fip.bin at {FIP_OFFSET:#x}: \
         the platform's flash layout changed"
    );
    Ok(image)
}

/// The unpacked upstream source.
struct Source {
    dir: PathBuf,
    /// Debian version, e.g. `2.12.1+dfsg-1`.
    version: String,
    tarball_sha256: String,
}

/// Fetches (or finds) the source package and unpacks its upstream tarball
/// once into `build/cache/tfa/src-<sha>/`.
fn source(paths: &Paths) -> Result<Source> {
    let started = Instant::now();
    let fetched = apt::fetch_source_cached(
        &paths.cache().join("apt"),
        APT_STATE,
        &[SUITE],
        SOURCE_PACKAGE,
    )
    .with_context(|| format!("fetching TF-A ({SOURCE_PACKAGE} source from Debian {SUITE})"))?;
    if !fetched.from_cache {
        eprintln!(
            "tfa: fetched {SOURCE_PACKAGE} {} in {:.1} s",
            fetched.version,
            started.elapsed().as_secs_f64()
        );
    }
    let (tarball, sha) = fetched.upstream_tarball()?;
    let cache = paths.cache().join("tfa");
    let root = cache.join(format!("src-{}", &sha[..16]));
    let stamp = root.join(".unpacked");
    let unpacked = |stamp: &Path| -> Option<PathBuf> {
        let name = std::fs::read_to_string(stamp).ok()?;
        let dir = root.join(name.trim());
        dir.join("Makefile").is_file().then_some(dir)
    };
    let done = |dir: PathBuf| Source {
        dir,
        version: fetched.version.clone(),
        tarball_sha256: sha.to_string(),
    };
    if let Some(dir) = unpacked(&stamp) {
        return Ok(done(dir));
    }
    std::fs::create_dir_all(&cache)?;
    let _lock = lock(&cache.join("unpack.lock"))?;
    if let Some(dir) = unpacked(&stamp) {
        return Ok(done(dir));
    }
    eprintln!("tfa: unpacking {}…", tarball.display());
    let tmp = root.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    let out = Command::new("tar")
        .arg("-xf")
        .arg(tarball)
        .arg("-C")
        .arg(&tmp)
        .arg("--no-same-owner")
        .output()
        .context("running tar (xz-utils unpacks .tar.xz)")?;
    ensure!(
        out.status.success(),
        "unpacking {} failed: {}",
        tarball.display(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let dirs: Vec<PathBuf> = std::fs::read_dir(&tmp)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("Makefile").is_file())
        .collect();
    let [dir] = &dirs[..] else {
        bail!(
            "{} did not unpack to one source tree with a Makefile",
            tarball.display()
        );
    };
    let name = dir.file_name().context("source dir name")?.to_owned();
    std::fs::write(tmp.join(".unpacked"), name.as_encoded_bytes())?;
    let _ = std::fs::remove_dir_all(&root);
    std::fs::rename(&tmp, &root)?;
    Ok(done(root.join(name)))
}

/// The files an SP layout names (string values that are files relative to
/// the layout's directory: images, partition manifests), so that the cache
/// key changes with them.
fn layout_files(layout_path: &Path, text: &[u8]) -> Result<Vec<(String, Vec<u8>)>> {
    let dir = layout_path.parent().unwrap_or(Path::new("."));
    let mut files = Vec::new();
    for s in json_strings(&String::from_utf8_lossy(text)) {
        let p = dir.join(&s);
        if p.is_file() {
            let bytes = std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
            files.push((format!("sp:{s}"), bytes));
        }
    }
    Ok(files)
}

/// Every string literal in a JSON text (keys and values), unescaped for
/// the common escapes; enough to find file names without a JSON parser.
fn json_strings(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut s = String::new();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => match chars.next() {
                    Some('n') => s.push('\n'),
                    Some('t') => s.push('\t'),
                    Some(other) => s.push(other),
                    None => break,
                },
                c => s.push(c),
            }
        }
        out.push(s);
    }
    out
}

/// sha256 over the recipe, the source (Debian version and tarball hash),
/// the flags and every labelled input, 16 hex digits.
fn cache_key(version: &str, tarball_sha256: &str, parts: &[(String, Vec<u8>)]) -> String {
    let mut h = Sha256::new();
    let mut field = |b: &[u8]| {
        h.update((b.len() as u64).to_le_bytes());
        h.update(b);
    };
    field(RECIPE.as_bytes());
    field(version.as_bytes());
    field(tarball_sha256.as_bytes());
    for f in FLAGS {
        field(f.as_bytes());
    }
    for (label, bytes) in parts {
        field(label.as_bytes());
        field(bytes);
    }
    h.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Takes an exclusive advisory lock (released when the file is dropped).
fn lock(path: &Path) -> Result<File> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("opening lock file {}", path.display()))?;
    if file.try_lock().is_err() {
        eprintln!("tfa: waiting for {}…", path.display());
        file.lock()
            .with_context(|| format!("locking {}", path.display()))?;
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Session;
    use std::time::Duration;

    fn parts(bl32: &[u8]) -> Vec<(String, Vec<u8>)> {
        vec![
            ("bl32".into(), bl32.to_vec()),
            ("bl33".into(), b"u-boot".to_vec()),
        ]
    }

    #[test]
    fn key_depends_on_every_input() {
        let a = cache_key("2.12.1+dfsg-1", "aa", &parts(b"spmc"));
        assert_eq!(a.len(), 16);
        assert_eq!(a, cache_key("2.12.1+dfsg-1", "aa", &parts(b"spmc")));
        assert_ne!(a, cache_key("2.12.1+dfsg-2", "aa", &parts(b"spmc")));
        assert_ne!(a, cache_key("2.12.1+dfsg-1", "ab", &parts(b"spmc")));
        assert_ne!(a, cache_key("2.12.1+dfsg-1", "aa", &parts(b"spmd")));
        // Moving bytes between inputs is a different build.
        let swapped = vec![
            ("bl32".into(), b"spmcu".to_vec()),
            ("bl33".into(), b"-boot".to_vec()),
        ];
        assert_ne!(a, cache_key("2.12.1+dfsg-1", "aa", &swapped));
    }

    #[test]
    fn make_command_line() {
        let p = |s: &str| PathBuf::from(s);
        let (b, s, u, m, t, l) = (
            p("/b/build"),
            p("/b/bl32.bin"),
            p("/b/bl33.bin"),
            p("/s/spmc_manifest.dts"),
            p("/s/tb_fw_config.dts"),
            p("/s/sp_layout.json"),
        );
        let args = make_args(
            "2.12.1+dfsg-1",
            &MakeInputs {
                build_base: &b,
                bl32: &s,
                bl33: &u,
                spmc_manifest: &m,
                tb_fw_config: &t,
                sp_layout: &l,
            },
        );
        let line = args.join(" ");
        for want in [
            "PLAT=qemu SPD=spmd SPMD_SPM_AT_SEL2=1 CTX_INCLUDE_EL2_REGS=1",
            "ENABLE_FEAT_SEL2=1 ARM_ARCH_MINOR=5 CTX_INCLUDE_FPREGS=1",
            "ENABLE_SVE_FOR_NS=0 ENABLE_SME_FOR_NS=0 ENABLE_SPE_FOR_NS=0",
            "QEMU_USE_GIC_DRIVER=QEMU_GICV3 CROSS_COMPILE=aarch64-linux-gnu-",
            "BUILD_BASE=/b/build BUILD_STRING=debian-2.12.1+dfsg-1",
            "QEMU_TOS_FW_CONFIG_DTS=/s/spmc_manifest.dts",
            "QEMU_TB_FW_CONFIG_DTS=/s/tb_fw_config.dts SP_LAYOUT_FILE=/s/sp_layout.json",
            "BL32=/b/bl32.bin BL33=/b/bl33.bin all fip",
        ] {
            assert!(line.contains(want), "{want:?} not in {line}");
        }
        // 2.8's name for the SPE switch does nothing in 2.12; gcc 12 builds
        // 2.12.1 without Debian's `--param=min-pagesize=0`; TF_LDFLAGS
        // would break 2.12's gcc-driven link.
        for gone in ["ENABLE_SPE_FOR_LOWER_ELS", "min-pagesize", "TF_LDFLAGS"] {
            assert!(!line.contains(gone), "{gone} in {line}");
        }
        // Every flag is one NAME=value word.
        assert!(FLAGS.iter().all(|f| f
            .split_once('=')
            .is_some_and(|(k, v)| !k.is_empty() && !v.is_empty() && !f.contains(' '))));
    }

    #[test]
    fn prunes_old_builds_only() {
        let root = std::env::temp_dir().join(format!("xtask-tfa-prune-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (i, key) in ["0000000000000001", "0000000000000002", "0000000000000003"]
            .iter()
            .enumerate()
        {
            std::fs::create_dir_all(root.join(key)).unwrap();
            let t = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1000 * (i as u64 + 1));
            File::open(root.join(key)).unwrap().set_modified(t).unwrap();
        }
        std::fs::write(root.join("0000000000000001.log"), "old").unwrap();
        std::fs::create_dir_all(root.join("stub")).unwrap();
        prune(&root, 2);
        let mut left: Vec<String> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(left, ["0000000000000002", "0000000000000003", "stub"]);
    }

    #[test]
    fn flash_layout() {
        let image = assemble_flash(b"bl1", b"fip").unwrap();
        assert_eq!(image.len(), FIP_OFFSET + 3);
        assert_eq!(&image[..3], b"bl1");
        assert!(image[3..FIP_OFFSET].iter().all(|&b| b == 0));
        assert_eq!(&image[FIP_OFFSET..], b"fip");
        assert!(assemble_flash(&vec![1; FIP_OFFSET + 1], b"fip").is_err());
        assert!(assemble_flash(b"bl1", b"").is_err());
    }

    #[test]
    fn layout_strings_and_files() {
        let text = r#"{ "stub-sp": { "image": "sp.bin", "pm": "sp \"x\".dts",
                        "owner": "SiP" } }"#;
        assert_eq!(
            json_strings(text),
            [
                "stub-sp",
                "image",
                "sp.bin",
                "pm",
                "sp \"x\".dts",
                "owner",
                "SiP"
            ]
        );
        assert!(json_strings("{}").is_empty());
        let dir = std::env::temp_dir().join(format!("xtask-tfa-layout-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("sp.bin"), "partition").unwrap();
        let files = layout_files(&dir.join("sp_layout.json"), text.as_bytes()).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(files, [("sp:sp.bin".to_string(), b"partition".to_vec())]);
    }

    #[test]
    fn project_inputs_are_valid() {
        let paths = Paths::discover();
        let bl = paths.root.join("Cargo.toml");
        let inputs = Inputs::project(&paths, &bl, &bl);
        check_inputs(&inputs).unwrap();
        let same = Inputs {
            tb_fw_config: paths.root.join("x").join(MANIFEST),
            ..inputs.clone()
        };
        assert!(check_inputs(&same).is_err());
        let relative = Inputs {
            bl32: "Cargo.toml".into(),
            ..inputs
        };
        assert!(check_inputs(&relative).is_err());
    }

    /// The whole chain with the stand-in BL32: TF-A's banners, the stub on
    /// the boot core (x0 = TOS_FW_CONFIG_BASE, where BL2 put the manifest),
    /// U-Boot; then U-Boot starts cores 1..3 with PSCI CPU_ON and the SPMD
    /// enters the stub on each before returning them to the normal world;
    /// `poweroff` ends QEMU through TF-A's PSCI SYSTEM_OFF.
    #[test]
    #[ignore = "builds TF-A (downloads its source on first use) and boots QEMU"]
    fn stub_bl32_chain_boots() {
        const T: Duration = Duration::from_secs(60);
        let smp = 4;
        let paths = Paths::discover();
        deps::ensure(deps::BASE).unwrap();
        deps::ensure(deps::TFA).unwrap();
        let bl32 = stub::bl32(&paths).unwrap();
        let uboot = uboot::firmware(&paths).unwrap();
        let t = Instant::now();
        let flash = flash_bin(&paths, &bl32, &uboot).unwrap();
        eprintln!("flash.bin ready in {:.1} s", t.elapsed().as_secs_f64());
        let helper = stub::cpu_on(&paths, smp).unwrap();
        let dir = paths.work("tfa-stub");
        std::fs::create_dir_all(&dir).unwrap();
        let secure_log = dir.join("secure-uart.log");
        let _ = std::fs::remove_file(&secure_log);
        let launch = qemu::Launch {
            machine: qemu::Machine {
                cpu: SECURE_CPU.into(),
                smp,
                ..Default::default()
            },
            boot: qemu::Boot::SecureFirmware(flash),
            disk: None,
            console: qemu::Console::Pipe,
        };
        let mut args = launch.args();
        args.extend([
            // The second UART is the secure one: EL3 panics go there.
            "-serial".into(),
            format!("file:{}", secure_log.display()),
            "-device".into(),
            format!(
                "loader,file={},addr={:#x}",
                helper.display(),
                stub::CPU_ON_ADDR
            ),
        ]);
        let t = Instant::now();
        let mut s = Session::spawn("qemu-system-aarch64", &args, &dir.join("serial.log")).unwrap();
        let r = (|| -> Result<()> {
            s.expect_contains("NOTICE:  Booting Trusted Firmware", T)?;
            s.expect_contains("NOTICE:  BL1: Booting BL2", T)?;
            s.expect_contains("NOTICE:  BL2: v2.12", T)?;
            s.expect_contains("NOTICE:  BL31: v2.12", T)?;
            s.expect_exact("SPMC stub: core 0", T)?;
            s.expect_exact("SPMC stub: x0 = 0x000000000e002000", T)?;
            s.expect_line("U-Boot's banner", T, |l| l.starts_with("U-Boot 20"))?;
            eprintln!(
                "launch -> U-Boot banner: {:.1} s",
                t.elapsed().as_secs_f64()
            );
            // Stop autoboot. Keys that arrive before U-Boot's console is
            // up are lost, so press one each second until the countdown
            // line ends (a few tries at most).
            let mut stopped = false;
            for _ in 0..20 {
                s.send("\n")?;
                let wait = Duration::from_secs(1);
                match s.expect_line("the autoboot prompt", wait, |l| {
                    l.contains("Hit any key to stop autoboot")
                }) {
                    Ok(_) => {
                        stopped = true;
                        break;
                    }
                    Err(e) if e.to_string().starts_with("timed out") => {}
                    Err(e) => return Err(e),
                }
            }
            ensure!(stopped, "U-Boot never showed its autoboot countdown");
            s.send(&format!("go {:#x}\n", stub::CPU_ON_ADDR))?;
            s.expect_contains("## Starting application at", T)?;
            for core in 1..smp {
                s.expect_exact(&format!("SPMC stub: core {core}"), T)?;
            }
            s.expect_contains("## Application terminated, rc = 0x0", T)?;
            s.send("poweroff\n")?;
            let status = s.expect_exit(T)?;
            ensure!(status.success(), "QEMU exited with {status}");
            Ok(())
        })();
        if let Err(e) = r {
            panic!(
                "{e:#}\n--- last serial lines ---\n{}\n--- secure UART ---\n{}",
                s.tail(30),
                std::fs::read_to_string(&secure_log).unwrap_or_default()
            );
        }
        eprintln!("whole boot: {:.1} s", t.elapsed().as_secs_f64());
    }
}
