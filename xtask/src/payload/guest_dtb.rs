//! The guest's device tree: QEMU's own DTB for the machine shape (`-M
//! virt,…,dumpdtb=FILE`), with `/chosen/bootargs` set. The blob is edited in
//! Rust (a flattened device tree is a simple token stream), so no `dtc`
//! round trip can reorder or reformat anything else.
//!
//! QEMU's DTB depends on the GIC version, CPU count, memory size and CPU
//! model, so dumps are cached per QEMU command line (and QEMU version).

use crate::qemu::{Boot, Console, Launch, Machine};
use anyhow::{bail, ensure, Context, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The guest kernel's command line. No `root=`: the initramfs finds the root
/// filesystem by its label. `earlycon` uses the DTB's stdout-path (PL011).
pub const DEFAULT_BOOTARGS: &str = "console=ttyAMA0 earlycon rdinit=/init";

const MAGIC: u32 = 0xd00d_feed;
const BEGIN_NODE: u32 = 1;
const END_NODE: u32 = 2;
const PROP: u32 = 3;
const NOP: u32 = 4;
const END: u32 = 9;

/// QEMU's DTB for `machine` booted with `boot`, cached under
/// `cache/guest-dtb/`. The boot matters: with firmware (`-bios`) QEMU 7.2
/// leaves out the PL061 GPIO and its gpio-keys node, and a kernel given the
/// firmware-less tree takes an external abort probing the missing PL061.
pub fn qemu_dtb(cache: &Path, machine: &Machine, boot: &Boot) -> Result<PathBuf> {
    // The same QEMU options as every boot (qemu.rs), minus the disk (the
    // virtio-mmio transports are in the tree either way).
    let mut args = Launch {
        machine: machine.clone(),
        boot: boot.clone(),
        disk: None,
        console: Console::Pipe,
    }
    .args();
    let m = args
        .iter()
        .position(|a| a == "-M")
        .context("no -M in QEMU args")?
        + 1;
    let version = qemu_version()?;
    let mut h = Sha256::new();
    h.update(version.as_bytes());
    for a in &args {
        h.update(a.as_bytes());
        h.update([0]);
    }
    let key = format!(
        "gic{}-{}cpu-{}M-{}",
        machine.gic,
        machine.smp,
        machine.mem_mib,
        &hex(&h.finalize())[..12]
    );
    let dir = cache.join("guest-dtb").join(key);
    let out = dir.join("qemu.dtb");
    if out.is_file() {
        match std::fs::read(&out)
            .map_err(anyhow::Error::from)
            .and_then(|b| check(&b))
        {
            Ok(()) => return Ok(out),
            Err(e) => eprintln!(
                "payload: cached {} is damaged ({e:#}); dumping again",
                out.display()
            ),
        }
    }
    std::fs::create_dir_all(&dir)?;
    let tmp = dir.join("qemu.dtb.tmp");
    args[m] = format!("{},dumpdtb={}", args[m], tmp.display());
    eprintln!(
        "payload: dumping QEMU's device tree ({})",
        args[..args.len().min(8)].join(" ")
    );
    let output = Command::new("qemu-system-aarch64")
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .context("running qemu-system-aarch64 (package qemu-system-arm)")?;
    ensure!(
        output.status.success(),
        "qemu-system-aarch64 dumpdtb failed: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    check(&std::fs::read(&tmp)?).context("QEMU's dumped DTB")?;
    std::fs::rename(&tmp, &out)?;
    Ok(out)
}

/// QEMU's DTB for `machine` and `boot` with `/chosen/bootargs = bootargs`,
/// cached next to the dump (`guest-<hash>.dtb`).
pub fn guest_dtb(cache: &Path, machine: &Machine, boot: &Boot, bootargs: &str) -> Result<PathBuf> {
    validate_bootargs(bootargs)?;
    let base = qemu_dtb(cache, machine, boot)?;
    let out = base.with_file_name(format!(
        "guest-{}.dtb",
        &hex(&Sha256::digest(bootargs.as_bytes()))[..12]
    ));
    let blob = std::fs::read(&base)?;
    let mut value = bootargs.as_bytes().to_vec();
    value.push(0);
    let edited = set_property(&blob, "/chosen", "bootargs", &value)?;
    if std::fs::read(&out).ok().as_deref() != Some(&edited[..]) {
        std::fs::write(&out, &edited).with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(out)
}

/// Kernel command lines are one line of printable ASCII.
pub fn validate_bootargs(bootargs: &str) -> Result<()> {
    ensure!(
        bootargs.bytes().all(|b| (0x20..0x7f).contains(&b)),
        "bootargs must be printable ASCII on one line: {bootargs:?}"
    );
    ensure!(
        bootargs.len() < 2048,
        "bootargs longer than the kernel's 2048-byte command line"
    );
    Ok(())
}

fn qemu_version() -> Result<String> {
    let out = Command::new("qemu-system-aarch64")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .context("running qemu-system-aarch64 --version (package qemu-system-arm)")?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn be32(b: &[u8], at: usize) -> Result<u32> {
    Ok(u32::from_be_bytes(
        b.get(at..at + 4).context("DTB truncated")?.try_into()?,
    ))
}

/// Header sanity: magic, version, a total size equal to the blob's.
pub fn check(blob: &[u8]) -> Result<()> {
    ensure!(
        be32(blob, 0)? == MAGIC,
        "not a flattened device tree (bad magic)"
    );
    ensure!(
        be32(blob, 4)? as usize == blob.len(),
        "DTB size {} != file size {}",
        be32(blob, 4)?,
        blob.len()
    );
    ensure!(
        be32(blob, 24)? <= 17,
        "DTB last compatible version {} is newer than 17",
        be32(blob, 24)?
    );
    Ok(())
}

struct Parts<'a> {
    rsvmap: &'a [u8],
    structure: &'a [u8],
    strings: &'a [u8],
    boot_cpuid: u32,
}

fn split(blob: &[u8]) -> Result<Parts<'_>> {
    check(blob)?;
    let (off_struct, off_strings, off_rsv) = (
        be32(blob, 8)? as usize,
        be32(blob, 12)? as usize,
        be32(blob, 16)? as usize,
    );
    let (size_strings, size_struct) = (be32(blob, 32)? as usize, be32(blob, 36)? as usize);
    // The reservation map runs to its (0, 0) terminator.
    let mut end = off_rsv;
    loop {
        let e = blob
            .get(end..end + 16)
            .context("DTB reservation map truncated")?;
        end += 16;
        if e.iter().all(|&b| b == 0) {
            break;
        }
    }
    Ok(Parts {
        rsvmap: &blob[off_rsv..end],
        structure: blob
            .get(off_struct..off_struct + size_struct)
            .context("DTB structure block truncated")?,
        strings: blob
            .get(off_strings..off_strings + size_strings)
            .context("DTB strings block truncated")?,
        boot_cpuid: be32(blob, 20)?,
    })
}

fn assemble(rsvmap: &[u8], structure: &[u8], strings: &[u8], boot_cpuid: u32) -> Vec<u8> {
    let off_rsv = 40usize; // header size; 8-byte aligned as required
    let off_struct = off_rsv + rsvmap.len();
    let off_strings = off_struct + structure.len();
    let total = off_strings + strings.len();
    let mut out = Vec::with_capacity(total);
    for v in [
        MAGIC,
        total as u32,
        off_struct as u32,
        off_strings as u32,
        off_rsv as u32,
        17,
        16,
        boot_cpuid,
        strings.len() as u32,
        structure.len() as u32,
    ] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(rsvmap);
    out.extend_from_slice(structure);
    out.extend_from_slice(strings);
    out
}

fn c_str(b: &[u8], at: usize) -> Result<&str> {
    let rest = b.get(at..).context("DTB string offset out of range")?;
    let len = rest
        .iter()
        .position(|&c| c == 0)
        .context("unterminated DTB string")?;
    Ok(std::str::from_utf8(&rest[..len])?)
}

/// One structure-block token with its byte range.
enum Token<'a> {
    Begin(&'a str),
    End,
    Prop {
        name: &'a str,
        #[cfg_attr(not(test), allow(dead_code))]
        value: &'a [u8],
    },
    Nop,
    Finish,
}

fn tokens<'a>(p: &Parts<'a>) -> Result<Vec<(Token<'a>, std::ops::Range<usize>)>> {
    let s = p.structure;
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        let start = pos;
        let tag = be32(s, pos)?;
        pos += 4;
        let tok = match tag {
            BEGIN_NODE => {
                let name = c_str(s, pos)?;
                pos = (pos + name.len() + 1).next_multiple_of(4);
                Token::Begin(name)
            }
            END_NODE => Token::End,
            PROP => {
                let (len, nameoff) = (be32(s, pos)? as usize, be32(s, pos + 4)? as usize);
                let value = s
                    .get(pos + 8..pos + 8 + len)
                    .context("DTB property truncated")?;
                pos = (pos + 8 + len).next_multiple_of(4);
                Token::Prop {
                    name: c_str(p.strings, nameoff)?,
                    value,
                }
            }
            NOP => Token::Nop,
            END => Token::Finish,
            t => bail!("bad DTB token {t:#x} at structure offset {start}"),
        };
        let done = matches!(tok, Token::Finish);
        out.push((tok, start..pos));
        if done {
            return Ok(out);
        }
    }
}

fn prop_bytes(nameoff: u32, value: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&PROP.to_be_bytes());
    b.extend_from_slice(&(value.len() as u32).to_be_bytes());
    b.extend_from_slice(&nameoff.to_be_bytes());
    b.extend_from_slice(value);
    b.resize(b.len().next_multiple_of(4), 0);
    b
}

fn node_bytes(name: &str) -> Vec<u8> {
    let mut b = BEGIN_NODE.to_be_bytes().to_vec();
    b.extend_from_slice(name.as_bytes());
    b.push(0);
    b.resize(b.len().next_multiple_of(4), 0);
    b
}

/// Returns a copy of `blob` where the node at `path` (e.g. `/chosen`, a
/// direct child of the root; created if missing) has property `name` set
/// to `value`, replacing any earlier value. Everything else is kept.
pub fn set_property(blob: &[u8], path: &str, name: &str, value: &[u8]) -> Result<Vec<u8>> {
    let node = path
        .strip_prefix('/')
        .filter(|n| !n.is_empty() && !n.contains('/'));
    let node =
        node.with_context(|| format!("only direct children of / are supported, not {path:?}"))?;
    let p = split(blob)?;
    // Reuse the property name in the strings block if present.
    let mut strings = p.strings.to_vec();
    let nameoff = match find_string(&strings, name) {
        Some(o) => o,
        None => {
            let o = strings.len();
            strings.extend_from_slice(name.as_bytes());
            strings.push(0);
            o
        }
    } as u32;
    let mut out = Vec::with_capacity(p.structure.len() + value.len() + 32);
    let mut stack: Vec<&str> = Vec::new();
    let mut done = false;
    for (tok, range) in tokens(&p)? {
        let raw = &p.structure[range];
        match tok {
            Token::Begin(n) => {
                stack.push(n);
                out.extend_from_slice(raw);
            }
            Token::Prop { name: pn, .. } if stack.len() == 2 && stack[1] == node && pn == name => {}
            Token::End => {
                if stack.len() == 2 && stack[1] == node && !done {
                    out.extend(prop_bytes(nameoff, value));
                    done = true;
                } else if stack.len() == 1 && !done {
                    out.extend(node_bytes(node));
                    out.extend(prop_bytes(nameoff, value));
                    out.extend_from_slice(&END_NODE.to_be_bytes());
                    done = true;
                }
                stack.pop();
                out.extend_from_slice(raw);
            }
            _ => out.extend_from_slice(raw),
        }
    }
    ensure!(
        done && stack.is_empty(),
        "malformed DTB structure (unbalanced nodes)"
    );
    Ok(assemble(p.rsvmap, &out, &strings, p.boot_cpuid))
}

fn find_string(strings: &[u8], name: &str) -> Option<usize> {
    let mut at = 0;
    for s in strings.split(|&b| b == 0) {
        if s == name.as_bytes() {
            return Some(at);
        }
        at += s.len() + 1;
    }
    None
}

/// The value of property `name` of the node at `path` (`/` or `/a/b`;
/// unit addresses must be written out).
#[cfg(test)]
pub fn get_property(blob: &[u8], path: &str, name: &str) -> Result<Option<Vec<u8>>> {
    let want: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let p = split(blob)?;
    let mut stack: Vec<&str> = Vec::new();
    for (tok, _) in tokens(&p)? {
        match tok {
            Token::Begin(n) => stack.push(n),
            Token::End => {
                stack.pop();
            }
            Token::Prop { name: pn, value }
                if pn == name && stack.len() == want.len() + 1 && stack[1..] == want[..] =>
            {
                return Ok(Some(value.to_vec()));
            }
            _ => {}
        }
    }
    Ok(None)
}

/// A string property's text (without the NUL).
#[cfg(test)]
pub fn get_string(blob: &[u8], path: &str, name: &str) -> Result<Option<String>> {
    Ok(get_property(blob, path, name)?
        .map(|v| String::from_utf8_lossy(v.strip_suffix(&[0]).unwrap_or(&v)).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree like QEMU's: / { model; chosen { stdout-path }; memory@… { reg } }.
    fn sample(with_chosen: bool) -> Vec<u8> {
        let strings = b"model\0stdout-path\0reg\0".to_vec();
        let mut s = node_bytes("");
        s.extend(prop_bytes(0, b"linux,dummy-virt\0"));
        if with_chosen {
            s.extend(node_bytes("chosen"));
            s.extend(prop_bytes(6, b"/pl011@9000000\0"));
            s.extend_from_slice(&END_NODE.to_be_bytes());
        }
        s.extend(node_bytes("memory@40000000"));
        s.extend(prop_bytes(
            18,
            &[0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0],
        ));
        s.extend_from_slice(&END_NODE.to_be_bytes());
        s.extend_from_slice(&END_NODE.to_be_bytes());
        s.extend_from_slice(&END.to_be_bytes());
        let rsv = [0u8; 16];
        assemble(&rsv, &s, &strings, 0)
    }

    #[test]
    fn sets_replaces_and_creates_bootargs() {
        let blob = sample(true);
        check(&blob).unwrap();
        assert_eq!(get_string(&blob, "/chosen", "bootargs").unwrap(), None);
        let one = set_property(&blob, "/chosen", "bootargs", b"console=ttyAMA0\0").unwrap();
        check(&one).unwrap();
        assert_eq!(
            get_string(&one, "/chosen", "bootargs").unwrap().as_deref(),
            Some("console=ttyAMA0")
        );
        // Untouched: other properties and nodes.
        assert_eq!(
            get_string(&one, "/chosen", "stdout-path")
                .unwrap()
                .as_deref(),
            Some("/pl011@9000000")
        );
        assert_eq!(
            get_string(&one, "/", "model").unwrap().as_deref(),
            Some("linux,dummy-virt")
        );
        assert_eq!(
            get_property(&one, "/memory@40000000", "reg")
                .unwrap()
                .unwrap()[4],
            0x40
        );
        // Replacing keeps one copy and reuses the string.
        let two = set_property(&one, "/chosen", "bootargs", b"quiet\0").unwrap();
        assert_eq!(
            get_string(&two, "/chosen", "bootargs").unwrap().as_deref(),
            Some("quiet")
        );
        // "console=ttyAMA0\0" takes 16 bytes, "quiet\0" 8 (4-byte padding).
        assert_eq!(two.len(), one.len() - 8);
        assert_eq!(split(&two).unwrap().strings, split(&one).unwrap().strings);
        // Setting the same value again is byte-identical (stable cache).
        assert_eq!(
            set_property(&two, "/chosen", "bootargs", b"quiet\0").unwrap(),
            two
        );

        let none = sample(false);
        let made = set_property(&none, "/chosen", "bootargs", b"x\0").unwrap();
        assert_eq!(
            get_string(&made, "/chosen", "bootargs").unwrap().as_deref(),
            Some("x")
        );
        assert_eq!(
            get_string(&made, "/memory@40000000", "bootargs").unwrap(),
            None
        );
    }

    #[test]
    fn rejects_bad_input() {
        let mut blob = sample(true);
        assert!(set_property(&blob, "/a/b", "x", b"").is_err());
        assert!(validate_bootargs("console=ttyAMA0 earlycon").is_ok());
        assert!(validate_bootargs("a\nb").is_err());
        blob[0] = 0;
        assert!(check(&blob).unwrap_err().to_string().contains("magic"));
        let good = sample(true);
        assert!(check(&good[..good.len() - 4]).is_err());
    }

    #[test]
    #[ignore = "runs qemu-system-aarch64 to dump its DTB"]
    fn qemu_dump_and_edit() {
        let dir = crate::apt::test_util::TestDir::new("dtb");
        for gic in [2, 3] {
            let m = Machine {
                gic,
                ..Machine::default()
            };
            let boot =
                Boot::Firmware(crate::uboot::firmware(&crate::paths::Paths::discover()).unwrap());
            let p = guest_dtb(dir.path(), &m, &boot, DEFAULT_BOOTARGS).unwrap();
            // With firmware QEMU has no PL061 (see qemu_dtb).
            assert_eq!(
                get_string(&std::fs::read(&p).unwrap(), "/pl061@9030000", "compatible").unwrap(),
                None
            );
            let blob = std::fs::read(&p).unwrap();
            assert_eq!(
                get_string(&blob, "/chosen", "bootargs").unwrap().as_deref(),
                Some(DEFAULT_BOOTARGS)
            );
            // dtc agrees (if installed).
            if crate::deps::have("fdtget") {
                let out = Command::new("fdtget")
                    .arg(&p)
                    .args(["/chosen", "bootargs"])
                    .output()
                    .unwrap();
                assert_eq!(
                    String::from_utf8_lossy(&out.stdout).trim(),
                    DEFAULT_BOOTARGS
                );
            }
            assert_eq!(
                guest_dtb(dir.path(), &m, &boot, DEFAULT_BOOTARGS).unwrap(),
                p
            );
        }
    }
}
