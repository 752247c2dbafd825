//! Kernel modules for the initramfs, chosen from the kernel's own dependency
//! information: the `depends=` and `softdep=` entries of each module's
//! `.modinfo` ELF section (Debian ships no `modules.dep`), followed
//! transitively from a few named roots. Modules listed in `modules.builtin`
//! are part of the kernel image and skipped.

use anyhow::{bail, ensure, Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The modules the initramfs needs to reach an ext4 root on virtio-mmio
/// block devices. Everything else is derived.
pub const ROOTS: &[&str] = &["virtio_mmio", "virtio_blk", "ext4"];

/// What `.modinfo` says about one module.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModInfo {
    pub name: String,
    pub depends: Vec<String>,
    /// `softdep=pre: a b post: c`: loaded before / after the module by modprobe.
    pub pre: Vec<String>,
    pub post: Vec<String>,
    pub aliases: Vec<String>,
}

/// Module names use `_`; file names and some references use `-`.
pub fn normalize(name: &str) -> String {
    name.replace('-', "_")
}

/// Parses a `.modinfo` section: NUL-separated `key=value` strings.
pub fn parse_modinfo(section: &[u8]) -> ModInfo {
    let mut info = ModInfo::default();
    for entry in section.split(|&b| b == 0) {
        let Ok(entry) = std::str::from_utf8(entry) else {
            continue;
        };
        let Some((key, value)) = entry.split_once('=') else {
            continue;
        };
        match key {
            "name" => info.name = normalize(value),
            "depends" => info
                .depends
                .extend(value.split(',').filter(|d| !d.is_empty()).map(normalize)),
            "softdep" => parse_softdep(value, &mut info.pre, &mut info.post),
            "alias" => info.aliases.push(value.to_string()),
            _ => {}
        }
    }
    info
}

/// `pre: a b post: c` (either part optional). Names are kept as written:
/// they may be aliases such as `crypto-crc32c`.
fn parse_softdep(value: &str, pre: &mut Vec<String>, post: &mut Vec<String>) {
    let mut target: Option<&mut Vec<String>> = None;
    for word in value.split_whitespace() {
        match word {
            "pre:" => target = Some(&mut *pre),
            "post:" => target = Some(&mut *post),
            w => {
                if let Some(t) = target.as_deref_mut() {
                    t.push(w.to_string());
                }
            }
        }
    }
}

/// The `.modinfo` section of a 64-bit little-endian ELF relocatable.
pub fn modinfo_section(elf: &[u8]) -> Result<&[u8]> {
    ensure!(
        elf.len() >= 64 && &elf[..4] == b"\x7fELF",
        "not an ELF file"
    );
    ensure!(elf[4] == 2 && elf[5] == 1, "not a 64-bit little-endian ELF");
    let u16_at = |o: usize| -> Result<u64> {
        Ok(u16::from_le_bytes(elf.get(o..o + 2).context("ELF truncated")?.try_into()?) as u64)
    };
    let u32_at = |o: usize| -> Result<u64> {
        Ok(u32::from_le_bytes(elf.get(o..o + 4).context("ELF truncated")?.try_into()?) as u64)
    };
    let u64_at = |o: usize| -> Result<u64> {
        Ok(u64::from_le_bytes(
            elf.get(o..o + 8).context("ELF truncated")?.try_into()?,
        ))
    };
    let shoff = u64_at(0x28)? as usize;
    let shentsize = u16_at(0x3a)? as usize;
    let shnum = u16_at(0x3c)? as usize;
    let shstrndx = u16_at(0x3e)? as usize;
    ensure!(shentsize >= 64 && shstrndx < shnum, "bad ELF section table");
    let section = |i: usize| -> Result<(u64, usize, usize)> {
        let h = shoff + i * shentsize;
        Ok((
            u32_at(h)?,
            u64_at(h + 24)? as usize,
            u64_at(h + 32)? as usize,
        ))
    };
    let (_, str_off, str_size) = section(shstrndx)?;
    let strtab = elf
        .get(str_off..str_off + str_size)
        .context("ELF section names truncated")?;
    for i in 0..shnum {
        let (name_off, off, size) = section(i)?;
        let name = strtab
            .get(name_off as usize..)
            .and_then(|s| s.split(|&b| b == 0).next())
            .unwrap_or_default();
        if name == b".modinfo" {
            return elf.get(off..off + size).context(".modinfo truncated");
        }
    }
    bail!("no .modinfo section")
}

/// What a resolver needs to know about a kernel's modules.
pub trait ModuleDb {
    /// Built into the kernel image (no file to load).
    fn is_builtin(&self, name: &str) -> bool;
    /// The module's info, or None if there is no such loadable module.
    fn info(&mut self, name: &str) -> Result<Option<ModInfo>>;
    /// Loadable modules declaring `alias`, and whether a built-in one does.
    fn providers(&mut self, alias: &str) -> Result<(Vec<String>, bool)>;
}

/// Loadable modules needed for `roots`, in load order: every module after
/// its `depends` and `softdep pre:` entries, `softdep post:` entries after
/// it. Built-in modules are skipped. A root or `depends` entry that is
/// neither built in nor loadable is an error; a soft dependency nothing
/// provides is only reported (modprobe treats those as optional too).
pub fn resolve(db: &mut dyn ModuleDb, roots: &[&str]) -> Result<Vec<String>> {
    let mut order = Vec::new();
    let mut state = BTreeMap::new();
    for root in roots {
        visit(
            db,
            &normalize(root),
            &mut state,
            &mut order,
            &mut Vec::new(),
        )
        .with_context(|| format!("resolving module {root}"))?;
    }
    Ok(order)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    Visiting,
    Done,
}

fn visit(
    db: &mut dyn ModuleDb,
    name: &str,
    state: &mut BTreeMap<String, Mark>,
    order: &mut Vec<String>,
    chain: &mut Vec<String>,
) -> Result<()> {
    match state.get(name) {
        Some(Mark::Done) => return Ok(()),
        Some(Mark::Visiting) => bail!("dependency cycle: {} -> {name}", chain.join(" -> ")),
        None => {}
    }
    if db.is_builtin(name) {
        state.insert(name.to_string(), Mark::Done);
        return Ok(());
    }
    let info = db.info(name)?.with_context(|| {
        let via = if chain.is_empty() {
            String::new()
        } else {
            format!(" (needed by {})", chain.join(" -> "))
        };
        format!("module {name} is neither built in nor shipped{via}")
    })?;
    state.insert(name.to_string(), Mark::Visiting);
    chain.push(name.to_string());
    for soft in &info.pre {
        for p in soft_providers(db, soft, name)? {
            visit(db, &p, state, order, chain)?;
        }
    }
    for dep in &info.depends {
        visit(db, dep, state, order, chain)?;
    }
    chain.pop();
    state.insert(name.to_string(), Mark::Done);
    order.push(name.to_string());
    for soft in &info.post {
        for p in soft_providers(db, soft, name)? {
            visit(db, &p, state, order, chain)?;
        }
    }
    Ok(())
}

/// A soft dependency names a module or an alias (e.g. `crypto-crc32c`).
fn soft_providers(db: &mut dyn ModuleDb, soft: &str, user: &str) -> Result<Vec<String>> {
    let name = normalize(soft);
    if db.info(&name)?.is_some() {
        return Ok(vec![name]);
    }
    let (loadable, builtin_alias) = db.providers(soft)?;
    if builtin_alias {
        // A built-in provider already satisfies it.
        return Ok(Vec::new());
    }
    if loadable.is_empty() && !db.is_builtin(&name) {
        eprintln!(
            "payload: note: soft dependency {soft} of {user} is provided by no module; skipped"
        );
    }
    Ok(loadable)
}

/// The modules of an unpacked kernel package: `lib/modules/<release>` (or
/// `usr/lib/modules/<release>`).
pub struct KernelModules {
    dir: PathBuf,
    files: BTreeMap<String, PathBuf>,
    /// None: no `modules.builtin` shipped.
    builtin: Option<BTreeSet<String>>,
    builtin_aliases: BTreeSet<String>,
    infos: BTreeMap<String, ModInfo>,
    /// alias -> providers, built on first use (reads every module).
    aliases: Option<BTreeMap<String, Vec<String>>>,
}

impl KernelModules {
    pub fn scan(dir: &Path) -> Result<Self> {
        let mut files = BTreeMap::new();
        let kernel = dir.join("kernel");
        walk(&kernel, &mut |p| {
            let file = p.file_name().and_then(|f| f.to_str()).unwrap_or_default();
            if let Some(stem) = file
                .strip_suffix(".ko.xz")
                .or_else(|| file.strip_suffix(".ko"))
            {
                files.insert(normalize(stem), p.to_path_buf());
            }
        })?;
        ensure!(!files.is_empty(), "no modules under {}", kernel.display());
        // Without modules.builtin (Debian ships it), a module with no file
        // is taken to be built in, and a missing module surfaces only when
        // the guest cannot mount its root.
        let builtin = match std::fs::read_to_string(dir.join("modules.builtin")) {
            Ok(text) => Some(
                text.lines()
                    .filter_map(|l| l.rsplit('/').next()?.strip_suffix(".ko").map(normalize))
                    .collect(),
            ),
            Err(_) => {
                eprintln!(
                    "payload: note: {} has no modules.builtin; modules without a file are \
                     assumed built in",
                    dir.display()
                );
                None
            }
        };
        // `name.alias=value` strings for built-in modules (optional file).
        let builtin_aliases = std::fs::read(dir.join("modules.builtin.modinfo"))
            .unwrap_or_default()
            .split(|&b| b == 0)
            .filter_map(|e| std::str::from_utf8(e).ok())
            .filter_map(|e| e.split_once(".alias=").map(|(_, a)| a.to_string()))
            .collect();
        Ok(Self {
            dir: dir.to_path_buf(),
            files,
            builtin,
            builtin_aliases,
            infos: BTreeMap::new(),
            aliases: None,
        })
    }

    /// The module's ELF, decompressed.
    pub fn load(&self, name: &str) -> Result<Vec<u8>> {
        let path = self
            .files
            .get(name)
            .with_context(|| format!("no module {name} in {}", self.dir.display()))?;
        let raw = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        if path.extension().is_some_and(|e| e == "xz") {
            let mut out = Vec::with_capacity(raw.len() * 4);
            lzma_rs::xz_decompress(&mut &raw[..], &mut out)
                .map_err(|e| anyhow::anyhow!("decompressing {}: {e:?}", path.display()))?;
            Ok(out)
        } else {
            Ok(raw)
        }
    }

    /// alias -> modules declaring it. Reading every module's `.modinfo`
    /// takes seconds (thousands of .xz files), so the index is kept in
    /// `<modules dir>/.xtask-aliases.tsv` and the scan runs on all cores.
    fn alias_index(&self) -> Result<BTreeMap<String, Vec<String>>> {
        let cache = self.dir.join(".xtask-aliases.tsv");
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if let Ok(text) = std::fs::read_to_string(&cache) {
            if let Some(body) = text.strip_prefix(&format!("# {} modules\n", self.files.len())) {
                for line in body.lines() {
                    if let Some((alias, name)) = line.split_once('\t') {
                        map.entry(alias.to_string())
                            .or_default()
                            .push(name.to_string());
                    }
                }
                return Ok(map);
            }
        }
        eprintln!(
            "payload: indexing the aliases of {} kernel modules (once per kernel)…",
            self.files.len()
        );
        let names: Vec<&String> = self.files.keys().collect();
        let threads = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .min(8);
        let chunk = names.len().div_ceil(threads);
        let results: Vec<Result<Vec<(String, String)>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = names
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || -> Result<Vec<(String, String)>> {
                        let mut pairs = Vec::new();
                        for name in part {
                            for a in self.read_info(name)?.aliases {
                                if !a.contains(['\t', '\n']) {
                                    pairs.push((a, name.to_string()));
                                }
                            }
                        }
                        Ok(pairs)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("alias scan thread panicked"))
                .collect()
        });
        let mut text = format!("# {} modules\n", self.files.len());
        for pairs in results {
            for (alias, name) in pairs? {
                text.push_str(&format!("{alias}\t{name}\n"));
                map.entry(alias).or_default().push(name);
            }
        }
        // Best effort: without the file the next build scans again.
        let _ = std::fs::write(&cache, text);
        Ok(map)
    }

    fn read_info(&self, name: &str) -> Result<ModInfo> {
        let elf = self.load(name)?;
        let mut info =
            parse_modinfo(modinfo_section(&elf).with_context(|| format!("module {name}"))?);
        if info.name.is_empty() {
            info.name = name.to_string();
        }
        Ok(info)
    }
}

impl ModuleDb for KernelModules {
    fn is_builtin(&self, name: &str) -> bool {
        match &self.builtin {
            Some(set) => set.contains(name),
            None => !self.files.contains_key(name),
        }
    }

    fn info(&mut self, name: &str) -> Result<Option<ModInfo>> {
        if !self.files.contains_key(name) {
            return Ok(None);
        }
        if !self.infos.contains_key(name) {
            let info = self.read_info(name)?;
            self.infos.insert(name.to_string(), info);
        }
        Ok(self.infos.get(name).cloned())
    }

    fn providers(&mut self, alias: &str) -> Result<(Vec<String>, bool)> {
        if self.aliases.is_none() {
            self.aliases = Some(self.alias_index()?);
        }
        let loadable = self
            .aliases
            .as_ref()
            .and_then(|m| m.get(alias).cloned())
            .unwrap_or_default();
        Ok((loadable, self.builtin_aliases.contains(alias)))
    }
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .collect::<std::io::Result<_>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        if e.file_type()?.is_dir() {
            walk(&p, f)?;
        } else {
            f(&p);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An in-memory kernel: name -> (depends, pre, post, aliases); builtins.
    struct Fake {
        mods: BTreeMap<String, ModInfo>,
        builtin: BTreeSet<String>,
        builtin_aliases: BTreeSet<String>,
    }

    impl Fake {
        fn new(specs: &[(&str, &str)], builtin: &[&str]) -> Self {
            // Each spec is a .modinfo text with ';' for NUL.
            let mods = specs
                .iter()
                .map(|(name, modinfo)| {
                    let bytes = format!("name={name};{modinfo}").replace(';', "\0");
                    (name.to_string(), parse_modinfo(bytes.as_bytes()))
                })
                .collect();
            Self {
                mods,
                builtin: builtin.iter().map(|s| s.to_string()).collect(),
                builtin_aliases: BTreeSet::new(),
            }
        }
    }

    impl ModuleDb for Fake {
        fn is_builtin(&self, name: &str) -> bool {
            self.builtin.contains(name)
        }
        fn info(&mut self, name: &str) -> Result<Option<ModInfo>> {
            Ok(self.mods.get(name).cloned())
        }
        fn providers(&mut self, alias: &str) -> Result<(Vec<String>, bool)> {
            let l = self
                .mods
                .values()
                .filter(|m| m.aliases.iter().any(|a| a == alias))
                .map(|m| m.name.clone())
                .collect();
            Ok((l, self.builtin_aliases.contains(alias)))
        }
    }

    #[test]
    fn parses_modinfo_fields() {
        let raw = b"license=GPL\0softdep=pre: crypto-crc32c post: foo-bar\0description=Fourth \
                    Extended Filesystem\0alias=fs-ext4\0alias=ext3\0depends=jbd2,mbcache,crc16\0\
                    intree=Y\0name=ext4\0vermagic=6.12 SMP mod_unload\0\0\0";
        let i = parse_modinfo(raw);
        assert_eq!(i.name, "ext4");
        assert_eq!(i.depends, ["jbd2", "mbcache", "crc16"]);
        assert_eq!(i.pre, ["crypto-crc32c"]);
        assert_eq!(i.post, ["foo-bar"]);
        assert_eq!(i.aliases, ["fs-ext4", "ext3"]);
        let empty = parse_modinfo(b"depends=\0name=virtio-mmio\0");
        assert_eq!(empty.name, "virtio_mmio");
        assert!(empty.depends.is_empty() && empty.pre.is_empty());
    }

    #[test]
    fn dependency_order_like_the_generic_kernel() {
        let mut db = Fake::new(
            &[
                ("virtio_mmio", "depends="),
                ("virtio_blk", "depends="),
                (
                    "ext4",
                    "softdep=pre: crypto-crc32c;depends=jbd2,mbcache,crc16",
                ),
                ("jbd2", "softdep=pre: crypto-crc32c;depends="),
                ("mbcache", "depends="),
                ("crc16", "depends="),
                (
                    "crc32c_generic",
                    "alias=crc32c;alias=crypto-crc32c;depends=",
                ),
            ],
            &["virtio", "virtio_ring"],
        );
        let order = resolve(&mut db, ROOTS).unwrap();
        assert_eq!(
            order,
            [
                "virtio_mmio",
                "virtio_blk",
                "crc32c_generic",
                "jbd2",
                "mbcache",
                "crc16",
                "ext4"
            ]
        );
    }

    #[test]
    fn builtins_are_skipped_like_the_cloud_kernel() {
        let mut db = Fake::new(
            &[
                ("virtio_mmio", "depends="),
                ("virtio_blk", "depends=virtio_ring"),
            ],
            &["ext4", "virtio_ring"],
        );
        assert_eq!(
            resolve(&mut db, ROOTS).unwrap(),
            ["virtio_mmio", "virtio_blk"]
        );
    }

    #[test]
    fn transitive_dependencies_come_first() {
        let mut db = Fake::new(
            &[
                ("a", "depends=b,c"),
                ("b", "depends=d"),
                ("c", "depends=d"),
                ("d", "depends="),
                ("e", "softdep=post: a"),
            ],
            &[],
        );
        assert_eq!(resolve(&mut db, &["a"]).unwrap(), ["d", "b", "c", "a"]);
        assert_eq!(resolve(&mut db, &["e"]).unwrap(), ["e", "d", "b", "c", "a"]);
        assert_eq!(resolve(&mut db, &["b", "a"]).unwrap(), ["d", "b", "c", "a"]);
    }

    #[test]
    fn errors_name_the_chain() {
        let mut db = Fake::new(&[("a", "depends=b"), ("b", "depends=missing")], &[]);
        let err = format!("{:#}", resolve(&mut db, &["a"]).unwrap_err());
        assert!(
            err.contains("missing is neither built in nor shipped (needed by a -> b)"),
            "{err}"
        );
        let mut db = Fake::new(&[("a", "depends=b"), ("b", "depends=a")], &[]);
        let err = format!("{:#}", resolve(&mut db, &["a"]).unwrap_err());
        assert!(err.contains("dependency cycle: a -> b -> a"), "{err}");
        let mut db = Fake::new(&[("a", "softdep=pre: nothing-provides-this")], &[]);
        assert_eq!(resolve(&mut db, &["a"]).unwrap(), ["a"]);
        let mut db = Fake::new(
            &[
                ("a", "softdep=pre: crypto-x"),
                ("x_generic", "alias=crypto-x"),
            ],
            &[],
        );
        db.builtin_aliases.insert("crypto-x".into());
        assert_eq!(resolve(&mut db, &["a"]).unwrap(), ["a"]);
    }

    /// A minimal ELF64 with a section-name table and a `.modinfo` section.
    fn tiny_elf(modinfo: &[u8]) -> Vec<u8> {
        let shstr = b"\0.shstrtab\0.modinfo\0";
        let mut elf = vec![0u8; 64];
        elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
        let shstr_off = elf.len();
        elf.extend_from_slice(shstr);
        let mi_off = elf.len();
        elf.extend_from_slice(modinfo);
        while !elf.len().is_multiple_of(8) {
            elf.push(0);
        }
        let shoff = elf.len();
        let mut sh = |name: u32, off: usize, size: usize| {
            let mut h = [0u8; 64];
            h[..4].copy_from_slice(&name.to_le_bytes());
            h[24..32].copy_from_slice(&(off as u64).to_le_bytes());
            h[32..40].copy_from_slice(&(size as u64).to_le_bytes());
            elf.extend_from_slice(&h);
        };
        sh(0, 0, 0);
        sh(1, shstr_off, shstr.len());
        sh(11, mi_off, modinfo.len());
        elf[0x28..0x30].copy_from_slice(&(shoff as u64).to_le_bytes());
        elf[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        elf[0x3c..0x3e].copy_from_slice(&3u16.to_le_bytes());
        elf[0x3e..0x40].copy_from_slice(&1u16.to_le_bytes());
        elf
    }

    #[test]
    fn finds_the_modinfo_section() {
        let elf = tiny_elf(b"depends=virtio\0name=virtio_blk\0");
        let info = parse_modinfo(modinfo_section(&elf).unwrap());
        assert_eq!(info.name, "virtio_blk");
        assert_eq!(info.depends, ["virtio"]);
        assert!(modinfo_section(b"not an elf").is_err());
        assert!(modinfo_section(&elf[..100]).is_err());
    }

    /// The real-file path: .ko and .ko.xz files, modules.builtin, the
    /// alias index (and its cache file).
    #[test]
    fn scans_a_module_tree() {
        let dir = crate::apt::test_util::TestDir::new("modtree");
        let root = dir.path().join("6.12.0-test");
        let put = |rel: &str, modinfo: &str, xz: bool| {
            let p = root.join("kernel").join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            let elf = tiny_elf(modinfo.replace(';', "\0").as_bytes());
            if xz {
                let mut out = Vec::new();
                lzma_rs::xz_compress(&mut &elf[..], &mut out).unwrap();
                std::fs::write(p.with_extension("ko.xz"), out).unwrap();
            } else {
                std::fs::write(p.with_extension("ko"), elf).unwrap();
            }
        };
        put(
            "fs/ext4/ext4",
            "softdep=pre: crypto-crc32c;depends=jbd2,crc16;name=ext4;",
            true,
        );
        put("fs/jbd2/jbd2", "depends=;name=jbd2;", false);
        put(
            "crypto/crc32c_generic",
            "alias=crypto-crc32c;depends=;name=crc32c_generic;",
            true,
        );
        put(
            "drivers/virtio/virtio-mmio",
            "depends=;name=virtio_mmio;",
            true,
        );
        std::fs::write(
            root.join("modules.builtin"),
            "kernel/lib/crc16.ko\nkernel/drivers/block/virtio_blk.ko\n",
        )
        .unwrap();

        let mut db = KernelModules::scan(&root).unwrap();
        let order = resolve(&mut db, ROOTS).unwrap();
        assert_eq!(order, ["virtio_mmio", "crc32c_generic", "jbd2", "ext4"]);
        assert!(root.join(".xtask-aliases.tsv").is_file());
        assert_eq!(&db.load("jbd2").unwrap()[..4], b"\x7fELF");
        assert_eq!(&db.load("ext4").unwrap()[..4], b"\x7fELF");
        // Second scan reads the alias index from its cache file.
        let mut again = KernelModules::scan(&root).unwrap();
        assert_eq!(resolve(&mut again, ROOTS).unwrap(), order);

        // No modules.builtin: modules without a file count as built in.
        std::fs::remove_file(root.join("modules.builtin")).unwrap();
        let mut db = KernelModules::scan(&root).unwrap();
        assert_eq!(resolve(&mut db, ROOTS).unwrap(), order);
    }
}
