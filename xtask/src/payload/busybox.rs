//! busybox from Debian's `busybox-static` (arm64). The package ships no
//! applet links and we cannot run an arm64 binary on the host to ask it
//! (`busybox --list`), so the applet names are read from the binary's own
//! table: busybox keeps them as one sorted run of NUL-terminated strings
//! beginning `[`, `[[` (applet_tables.h, generated at build time).

use anyhow::{ensure, Context, Result};
use std::path::{Path, PathBuf};

/// Applets our scripts (`/init`, rcS, inittab, profile) use; their absence
/// from a busybox build is reported before anything is booted.
pub const NEEDED: &[&str] = &[
    "sh",
    "mount",
    "umount",
    "insmod",
    "findfs",
    "switch_root",
    "usleep",
    "mkdir",
    "cat",
    "echo",
    "grep",
    "init",
    "cttyhack",
    "setsid",
    "hostname",
    "poweroff",
    "sync",
    "nproc",
    "uname",
    "tty",
];

pub fn binary(dir: &Path) -> PathBuf {
    dir.join("bin/busybox")
}

/// The applet names compiled into a busybox binary, sorted.
pub fn applets(binary: &[u8]) -> Result<Vec<String>> {
    const START: &[u8] = b"\0[\0[[\0";
    let mut hits = binary
        .windows(START.len())
        .enumerate()
        .filter(|(_, w)| *w == START);
    let (at, _) = hits
        .next()
        .context("no applet name table (\"[\\0[[\\0\") in the busybox binary")?;
    ensure!(
        hits.next().is_none(),
        "more than one applet name table in the busybox binary"
    );
    let mut names = Vec::new();
    for raw in binary[at + 1..].split(|&b| b == 0) {
        if raw.is_empty() {
            break;
        }
        let ok = raw
            .iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"[_-.".contains(&c));
        ensure!(
            ok && raw.len() <= 32,
            "unexpected bytes in busybox's applet table: {:?}",
            String::from_utf8_lossy(raw)
        );
        names.push(String::from_utf8_lossy(raw).into_owned());
    }
    ensure!(
        names.len() >= 50,
        "busybox applet table has only {} names",
        names.len()
    );
    ensure!(
        names.windows(2).all(|w| w[0] < w[1]),
        "busybox applet table is not sorted: misread"
    );
    let missing: Vec<&str> = NEEDED
        .iter()
        .copied()
        .filter(|n| !names.iter().any(|a| a == n))
        .collect();
    ensure!(
        missing.is_empty(),
        "this busybox lacks applets our scripts need: {}",
        missing.join(" ")
    );
    Ok(names)
}

/// Validates an unpacked `busybox-static` package.
pub fn check_tree(dir: &Path) -> Result<()> {
    let bin =
        std::fs::read(binary(dir)).with_context(|| format!("reading {}", binary(dir).display()))?;
    ensure!(
        bin.len() > 500_000 && bin.starts_with(b"\x7fELF\x02\x01"),
        "{} is not a 64-bit ELF",
        binary(dir).display()
    );
    // e_machine 183 = EM_AARCH64.
    ensure!(
        u16::from_le_bytes([bin[18], bin[19]]) == 183,
        "{} is not an arm64 binary",
        binary(dir).display()
    );
    applets(&bin)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(names: &[&str]) -> Vec<u8> {
        let mut b = b"\x7fELF junk \0/bin/sh\0".to_vec();
        for n in names {
            b.extend_from_slice(n.as_bytes());
            b.push(0);
        }
        b.extend_from_slice(b"\0more junk\0");
        b
    }

    fn all_names() -> Vec<String> {
        let mut v: Vec<String> = NEEDED.iter().map(|s| s.to_string()).collect();
        v.extend((0..40).map(|i| format!("zz{i:02}")));
        v.extend(["[".to_string(), "[[".to_string(), "switch-x".to_string()]);
        v.sort();
        v
    }

    #[test]
    fn reads_the_applet_table() {
        let names = all_names();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        assert_eq!(applets(&fake(&refs)).unwrap(), names);
    }

    #[test]
    fn rejects_misreads() {
        let names = all_names();
        let mut refs: Vec<&str> = names.iter().map(String::as_str).collect();
        assert!(applets(b"no table here").is_err());
        refs.swap(3, 4);
        assert!(applets(&fake(&refs))
            .unwrap_err()
            .to_string()
            .contains("not sorted"));
        refs.swap(3, 4);
        refs.retain(|n| *n != "findfs");
        assert!(applets(&fake(&refs))
            .unwrap_err()
            .to_string()
            .contains("findfs"));
        let mut twice = fake(&refs);
        twice.extend(fake(&refs));
        assert!(applets(&twice)
            .unwrap_err()
            .to_string()
            .contains("more than one"));
    }
}
