//! Host-side driver: `cargo xbuild`, `cargo xrun`, `cargo xtest` (aliases in
//! .cargo/config.toml). Each subcommand lives in its own module.

mod apt;
mod bench;
mod cli;
mod deps;
mod disk;
mod exit_bench;
mod fuzz;
mod hyp;
mod image;
mod paths;
mod payload;
mod qemu;
mod rpi5;
mod run;
mod serial_bridge;
mod session;
mod soak;
mod test_guest;
mod tfa;
mod uboot;
mod xtest;

use anyhow::{bail, Result};

const USAGE: &str = "\
usage: cargo xtask <command> [options]
  build [--spmc]                      build bin/elf-hypervisor.elf   (cargo xbuild)
  run [--gic 2|3] [--cpu C] [--smp N] [--mem MiB] [--direct | --native | --spmc]
      [--kernel cloud|generic] [--bootargs ARGS]
                                      boot it in QEMU                (cargo xrun)
  run rpi5                            write bin/rpi5/kernel_2712.img + config.txt
  gdb-bridge --serial PATH [--gdb [ADDR:]PORT] [--baud N]
                                      console on this terminal, GDB on TCP 3333
  test [NAME...] [--category std|lint|qemu|fuzz] [--list]
                                      run xtest.txt                  (cargo xtest)
  bench [--runs N] [machine/payload options]
                                      boot time, load, I/O, exit costs: native vs hypervisor
  fuzz [--seconds N] [--jobs J] [TARGET...]
                                      run the libFuzzer targets in fuzz/ (60 s each, J at once)
  soak [--minutes N] [machine/payload options]
                                      Linux disk + CPU loop for N min (default 10), checksummed
  uboot                               fetch U-Boot, build boot.scr   (u-boot/init.sh)
  tfa [--bl32 FILE]                   build TF-A's flash.bin: BL32 = FILE (default: a stand-in
                                      SPMC stub), BL33 = U-Boot; prints its path
  payload [machine/payload options]   fetch and build the guest payload
  setup-dtb [options] [--out FILE]    dump QEMU's DTB, write the guest DTB (setup.sh)
  deps                                check/install host packages";

fn main() {
    if let Err(e) = real_main() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = raw.split_first() else {
        println!("{USAGE}");
        return Ok(());
    };
    let paths = paths::Paths::discover();
    match command.as_str() {
        "build" => {
            let args = cli::Args::parse(rest, &["spmc"])?;
            args.reject_unknown(&["spmc"])?;
            hyp::build(
                &paths,
                &hyp::BuildOptions {
                    spmc: args.flag("spmc"),
                },
            )?;
        }
        "run" if rest.first().map(String::as_str) == Some("rpi5") => {
            cli::Args::parse(&rest[1..], &[])?.reject_unknown(&[])?;
            let dir = rpi5::build(&paths)?;
            println!(
                "Raspberry Pi 5 boot files in {}: copy them to the SD card's boot partition",
                dir.display()
            );
        }
        "run" => run::main(
            &paths,
            &cli::Args::parse(rest, &["direct", "native", "gdb", "spmc"])?,
        )?,
        "bench" => bench::main(&paths, &cli::Args::parse(rest, &[])?)?,
        "soak" => soak::main(&paths, &cli::Args::parse(rest, &[])?)?,
        "fuzz" => fuzz::main(&paths, &cli::Args::parse(rest, &[])?)?,
        "gdb-bridge" => serial_bridge::main(&cli::Args::parse(rest, &[])?)?,
        "setup-dtb" => payload::setup_dtb_main(&paths, &cli::Args::parse(rest, &[])?)?,
        "payload" => payload::payload_main(&paths, &cli::Args::parse(rest, &[])?)?,
        "test" => xtest::main(&paths, &cli::Args::parse(rest, &["list"])?)?,
        "uboot" => {
            deps::ensure(deps::BASE)?;
            let bin = uboot::firmware(&paths)?;
            let scr = paths.build().join("boot.scr");
            std::fs::create_dir_all(paths.build())?;
            uboot::make_boot_scr(&paths, uboot::DtbArg::Control, None, &scr)?;
            println!("U-Boot: {}\nboot script: {}", bin.display(), scr.display());
        }
        "tfa" => tfa::main(&paths, &cli::Args::parse(rest, &[])?)?,
        "deps" => deps::ensure(deps::BASE)?,
        "help" | "-h" | "--help" => println!("{USAGE}"),
        other => bail!("unknown command {other:?}\n{USAGE}"),
    }
    Ok(())
}
