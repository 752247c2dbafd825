//! `cargo xrun`: build everything, write `build/disk.img`, start QEMU with
//! the console on this terminal.

use crate::cli::Args;
use crate::paths::Paths;
use crate::qemu::{Boot, Console, Launch, Machine};
use crate::uboot::DtbArg;
use crate::{deps, hyp, image, uboot};
use anyhow::{bail, Context, Result};
use std::process::Command;

pub fn main(paths: &Paths, args: &Args) -> Result<()> {
    let mut known = Machine::OPTIONS.to_vec();
    known.push("direct");
    args.reject_unknown(&known)?;
    if let Some(word) = args.words().first() {
        bail!("unknown target {word:?}: `cargo xrun` boots QEMU virt");
    }
    let machine = Machine::from_args(args)?;
    deps::ensure(deps::BASE)?;
    let elf = hyp::build(paths, &hyp::BuildOptions::default())?;
    let launch = if args.flag("direct") {
        // Skip U-Boot: QEMU's ELF loader enters the hypervisor at EL2.
        Launch {
            machine,
            boot: Boot::Kernel(elf),
            disk: None,
            console: Console::Terminal,
        }
    } else {
        let bios = uboot::firmware(paths)?;
        let disk = image::boot_disk(paths, &paths.build(), DtbArg::Control, None)?;
        eprintln!("xtask: wrote {}", disk.display());
        Launch {
            machine,
            boot: Boot::Firmware(bios),
            disk: Some(disk),
            console: Console::Terminal,
        }
    };
    let qemu_args = launch.args();
    eprintln!("xtask: qemu-system-aarch64 {}", qemu_args.join(" "));
    eprintln!("xtask: console follows; Ctrl-A X quits QEMU");
    let status = Command::new("qemu-system-aarch64")
        .args(&qemu_args)
        .status()
        .context("starting qemu-system-aarch64")?;
    if !status.success() {
        bail!("QEMU exited with {status}");
    }
    Ok(())
}
