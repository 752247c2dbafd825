//! Host tools the project needs, and installing them.
//!
//! Only Debian packages from the host's own configured archive are installed,
//! and only when we may (root, or passwordless sudo). Otherwise we print the
//! one command to run. We never edit /etc/apt or dpkg's architecture list:
//! foreign-architecture packages are fetched with a private apt state (apt.rs).

use anyhow::{bail, Result};
use std::process::{Command, Stdio};

/// A command we run, and the Debian package that provides it.
#[derive(Clone, Copy, Debug)]
pub struct Tool {
    pub command: &'static str,
    pub package: &'static str,
}

pub const QEMU: Tool = Tool {
    command: "qemu-system-aarch64",
    package: "qemu-system-arm",
};
pub const MKIMAGE: Tool = Tool {
    command: "mkimage",
    package: "u-boot-tools",
};
pub const DTC: Tool = Tool {
    command: "dtc",
    package: "device-tree-compiler",
};
pub const DPKG_DEB: Tool = Tool {
    command: "dpkg-deb",
    package: "dpkg",
};
pub const APT_GET: Tool = Tool {
    command: "apt-get",
    package: "apt",
};

pub const GDB: Tool = Tool {
    command: "gdb-multiarch",
    package: "gdb-multiarch",
};

/// libfuzzer-sys compiles libFuzzer (C++) in its build script.
pub const CXX: Tool = Tool {
    command: "c++",
    package: "g++",
};

/// What `cargo xtask fuzz` (and the fuzz smoke tests) need.
pub const FUZZ: &[Tool] = &[CXX];

/// Building TF-A from source (the secure variant, tfa.rs): the cross
/// compiler and binutils (also for the stand-in BL32), make, a host C
/// compiler and OpenSSL headers for fiptool, python3 for the SP layout
/// generator, dtc for the manifests, xz for the source tarball.
pub const TFA: &[Tool] = &[
    Tool {
        command: "aarch64-linux-gnu-gcc",
        package: "gcc-aarch64-linux-gnu",
    },
    Tool {
        command: "aarch64-linux-gnu-objcopy",
        package: "binutils-aarch64-linux-gnu",
    },
    Tool {
        command: "make",
        package: "make",
    },
    Tool {
        command: "gcc",
        package: "gcc",
    },
    Tool {
        command: "/usr/include/openssl/evp.h",
        package: "libssl-dev",
    },
    Tool {
        command: "python3",
        package: "python3",
    },
    DTC,
    Tool {
        command: "xz",
        package: "xz-utils",
    },
];

/// What `xbuild`/`xrun`/`xtest` need.
pub const BASE: &[Tool] = &[QEMU, MKIMAGE, DTC, DPKG_DEB, APT_GET];

/// Whether `command` is on PATH; a `command` that is an absolute path is a
/// file a package installs (e.g. a header), checked for existence.
pub fn have(command: &str) -> bool {
    if command.starts_with('/') {
        return std::path::Path::new(command).exists();
    }
    Command::new("sh")
        .args(["-c", &format!("command -v {command}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Packages to install for the tools that are missing (deduplicated).
pub fn missing_packages(tools: &[Tool], have: impl Fn(&str) -> bool) -> Vec<&'static str> {
    let mut pkgs: Vec<&'static str> = Vec::new();
    for t in tools {
        if !have(t.command) && !pkgs.contains(&t.package) {
            pkgs.push(t.package);
        }
    }
    pkgs
}

/// How we may install packages.
#[derive(Debug, PartialEq, Eq)]
pub enum Privilege {
    Root,
    Sudo,
    None,
}

fn privilege() -> Privilege {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok());
    if uid.as_deref().map(str::trim) == Some("0") {
        return Privilege::Root;
    }
    let sudo = Command::new("sudo")
        .args(["-n", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if sudo.is_ok_and(|s| s.success()) {
        Privilege::Sudo
    } else {
        Privilege::None
    }
}

/// The exact command a user would run to install `pkgs`.
pub fn install_command(pkgs: &[&str], privilege: &Privilege) -> Vec<String> {
    let mut cmd: Vec<String> = Vec::new();
    if *privilege != Privilege::Root {
        cmd.push("sudo".into());
    }
    cmd.extend(["apt-get", "install", "-y", "--no-install-recommends"].map(String::from));
    cmd.extend(pkgs.iter().map(|p| p.to_string()));
    cmd
}

/// Makes sure every tool in `tools` is on PATH, installing if allowed.
pub fn ensure(tools: &[Tool]) -> Result<()> {
    let pkgs = missing_packages(tools, have);
    if pkgs.is_empty() {
        return Ok(());
    }
    let privilege = privilege();
    let cmd = install_command(&pkgs, &privilege);
    if privilege == Privilege::None {
        bail!(
            "missing host packages: {}. Install them with:\n    {}",
            pkgs.join(" "),
            cmd.join(" ")
        );
    }
    eprintln!("xtask: installing host packages: {}", pkgs.join(" "));
    if !run_apt(&cmd) {
        // A fresh machine may have no package lists yet.
        let mut update = cmd[..cmd.len() - pkgs.len() - 4].to_vec();
        update.extend(["apt-get", "update"].map(String::from));
        eprintln!("xtask: apt-get install failed; refreshing package lists and retrying");
        if !run_apt(&update) || !run_apt(&cmd) {
            bail!(
                "could not install {}: run `{}` yourself",
                pkgs.join(" "),
                cmd.join(" ")
            );
        }
    }
    let still = missing_packages(tools, have);
    if !still.is_empty() {
        bail!("installed packages but still missing: {}", still.join(" "));
    }
    Ok(())
}

fn run_apt(cmd: &[String]) -> bool {
    Command::new(&cmd[0])
        .args(&cmd[1..])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_missing_packages_once() {
        let tools = [
            QEMU,
            MKIMAGE,
            Tool {
                command: "qemu-img",
                package: "qemu-system-arm",
            },
        ];
        let pkgs = missing_packages(&tools, |c| c == "mkimage");
        assert_eq!(pkgs, vec!["qemu-system-arm"]);
        assert!(missing_packages(&tools, |_| true).is_empty());
    }

    #[test]
    fn install_command_uses_sudo_unless_root() {
        let c = install_command(&["u-boot-tools"], &Privilege::None);
        assert_eq!(
            c.join(" "),
            "sudo apt-get install -y --no-install-recommends u-boot-tools"
        );
        let c = install_command(&["a", "b"], &Privilege::Root);
        assert_eq!(
            c.join(" "),
            "apt-get install -y --no-install-recommends a b"
        );
    }
}
