//! `cargo xrun`: build everything, write `build/disk.img`, start QEMU with
//! the console on this terminal. `--gdb` puts the serial line behind the
//! serial bridge, which also serves GDB on TCP (default port 3333).

use crate::cli::Args;
use crate::paths::Paths;
use crate::qemu::{Boot, Console, Launch, Machine};
use crate::{deps, hyp, image, payload, serial_bridge, uboot};
use anyhow::{bail, Context, Result};
use std::net::SocketAddr;
use std::process::Command;

pub fn main(paths: &Paths, args: &Args) -> Result<()> {
    let mut known = Machine::OPTIONS.to_vec();
    known.extend(payload::OPTIONS);
    known.extend(["direct", "native", "gdb", "gdb-port", "spmc"]);
    args.reject_unknown(&known)?;
    if let Some(word) = args.words().first() {
        bail!("unknown target {word:?}: `cargo xrun` boots QEMU virt");
    }
    let mut machine = Machine::from_args(args)?;
    deps::ensure(deps::BASE)?;
    if args.flag("direct") && args.flag("native") {
        bail!("--direct and --native exclude each other");
    }
    let spmc = args.flag("spmc");
    if spmc && (args.flag("direct") || args.flag("native")) {
        bail!("--spmc boots through TF-A and U-Boot; it excludes --direct and --native");
    }
    if spmc && args.value("cpu").is_none() {
        machine.cpu = crate::tfa::SECURE_CPU.into();
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
        if args.flag("gdb") || args.value("gdb-port").is_some() {
            let gdb_addr = match args.value("gdb-port") {
                Some(p) => serial_bridge::parse_gdb_addr(p)?,
                None => serial_bridge::DEFAULT_GDB_ADDR.parse()?,
            };
            return run_with_gdb(paths, args, machine, gdb_addr);
        }
        let mut launch = hypervisor_launch(paths, args, machine, Console::Terminal)?;
        if spmc {
            // TF-A -> our SPMC at S-EL2 -> the same U-Boot and disk.
            hyp::build(paths, &hyp::BuildOptions { spmc: true })?;
            let Boot::Firmware(uboot) = &launch.boot else {
                bail!("internal: the hypervisor launch has no U-Boot");
            };
            let flash = crate::tfa::flash_bin(paths, &paths.spmc_bin(), uboot)?;
            launch.boot = Boot::SecureFirmware(flash);
        }
        launch
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

/// `cargo xrun --gdb [--gdb-port PORT]`: QEMU's serial line goes to a Unix
/// socket; the serial bridge shows the console on this terminal and serves
/// GDB on TCP (default 127.0.0.1:3333). QEMU stops when the bridge does.
fn run_with_gdb(paths: &Paths, args: &Args, machine: Machine, gdb_addr: SocketAddr) -> Result<()> {
    let socket = paths.build().join("serial.sock");
    let _ = std::fs::remove_file(&socket);
    let launch = hypervisor_launch(paths, args, machine, Console::Socket(socket.clone()))?;
    let qemu_args = launch.args();
    eprintln!("xtask: qemu-system-aarch64 {}", qemu_args.join(" "));
    let mut qemu = Command::new("qemu-system-aarch64")
        .args(&qemu_args)
        .stdin(std::process::Stdio::null())
        .spawn()
        .context("starting qemu-system-aarch64")?;
    let mut opts = serial_bridge::BridgeOptions::new(&socket);
    opts.gdb_addr = gdb_addr;
    let bridged = serial_bridge::run(opts);
    // Ctrl-A X in the bridge, or the guest powered off: QEMU goes too.
    if qemu.try_wait()?.is_none() {
        let _ = qemu.kill();
    }
    let _ = qemu.wait();
    let _ = std::fs::remove_file(&socket);
    bridged
}

/// The hypervisor on U-Boot with the guest payload on `build/disk.img`.
fn hypervisor_launch(
    paths: &Paths,
    args: &Args,
    machine: Machine,
    console: Console,
) -> Result<Launch> {
    hyp::build(paths, &hyp::BuildOptions::default())?;
    let p = payload::prepare(paths, &payload::options_from_args(args, &machine)?)?;
    eprint!("{}", payload::describe(&p));
    let bios = uboot::firmware(paths)?;
    let disk = image::hypervisor_disk(paths, &paths.build(), &p)?;
    eprintln!("xtask: wrote {}", disk.display());
    Ok(Launch {
        machine,
        boot: Boot::Firmware(bios),
        disk: Some(disk),
        console,
    })
}
