//! `cargo xrun`: build everything, write `build/disk.img`, start QEMU with
//! the console on this terminal.

use crate::cli::Args;
use crate::paths::Paths;
use crate::qemu::{Boot, Console, Launch, Machine};
use crate::{deps, hyp, image, payload, uboot};
use anyhow::{bail, Context, Result};
use std::process::Command;

pub fn main(paths: &Paths, args: &Args) -> Result<()> {
    let mut known = Machine::OPTIONS.to_vec();
    known.extend(payload::OPTIONS);
    known.extend(["direct", "native"]);
    args.reject_unknown(&known)?;
    if let Some(word) = args.words().first() {
        bail!("unknown target {word:?}: `cargo xrun` boots QEMU virt");
    }
    let machine = Machine::from_args(args)?;
    deps::ensure(deps::BASE)?;
    if args.flag("direct") && args.flag("native") {
        bail!("--direct and --native exclude each other");
    }
    let launch = if args.flag("native") {
        // The same payload and QEMU options with no hypervisor: U-Boot's
        // booti starts Linux directly. This is the performance reference.
        let p = payload::prepare(paths, &payload::options_from_args(args, &machine)?)?;
        eprint!("{}", payload::describe(&p));
        let (disk, _) = payload::native_disk(paths, &p, &paths.build(), image::BOOT_PART_MIB)?;
        eprintln!("xtask: wrote {}", disk.display());
        Launch {
            machine,
            boot: Boot::Firmware(uboot::firmware(paths)?),
            disk: Some(disk),
            console: Console::Terminal,
        }
    } else if args.flag("direct") {
        let elf = hyp::build(paths, &hyp::BuildOptions::default())?;
        // Skip U-Boot: QEMU's ELF loader enters the hypervisor at EL2.
        Launch {
            machine,
            boot: Boot::Kernel(elf),
            disk: None,
            console: Console::Terminal,
        }
    } else {
        hyp::build(paths, &hyp::BuildOptions::default())?;
        let p = payload::prepare(paths, &payload::options_from_args(args, &machine)?)?;
        eprint!("{}", payload::describe(&p));
        let bios = uboot::firmware(paths)?;
        let disk = image::hypervisor_disk(paths, &paths.build(), &p)?;
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
