//! The `setup-dtb` and `payload` subcommands (setup.sh runs both), and the
//! option parsing `xrun`/`xtest` share for the guest payload.

use super::{describe, guest_dtb, prepare, Flavour, Options};
use crate::cli::Args;
use crate::paths::Paths;
use crate::qemu::{Boot, Machine};
use anyhow::{Context, Result};

/// Payload options on top of `Machine::OPTIONS`: `--kernel cloud|generic`
/// (or its synonym `--flavour`), `--bootargs "..."`.
pub const OPTIONS: &[&str] = &["kernel", "flavour", "bootargs"];

/// Reads `--flavour` and `--bootargs` (defaults: cloud, DEFAULT_BOOTARGS).
pub fn options_from_args(args: &Args, machine: &Machine) -> Result<Options> {
    let flavour = match args.parsed::<Flavour>("kernel")? {
        Some(f) => f,
        None => args.parsed::<Flavour>("flavour")?.unwrap_or_default(),
    };
    let mut opts = Options::new(flavour, machine);
    if let Some(b) = args.value("bootargs") {
        guest_dtb::validate_bootargs(b)?;
        opts.bootargs = b.to_string();
    }
    Ok(opts)
}

fn known(extra: &[&'static str]) -> Vec<&'static str> {
    let mut k = Machine::OPTIONS.to_vec();
    k.extend_from_slice(OPTIONS);
    k.extend_from_slice(extra);
    k
}

/// `cargo xtask setup-dtb [--gic 2|3] [--cpu C] [--smp N] [--mem MiB]
/// [--bootargs "..."] [--flavour F] [--out FILE]`: dumps QEMU's DTB for that
/// machine (booted through U-Boot, as `xrun` does), sets
/// `/chosen/bootargs`, and copies the result to FILE (default
/// `build/guest.dtb`). `--flavour` is accepted (and ignored) so setup.sh can
/// pass the same options to `payload`.
pub fn setup_dtb_main(paths: &Paths, args: &Args) -> Result<()> {
    args.reject_unknown(&known(&["out"]))?;
    let machine = Machine::from_args(args)?;
    let opts = options_from_args(args, &machine)?;
    let boot = Boot::Firmware(crate::uboot::firmware(paths)?);
    let dtb = guest_dtb::guest_dtb(&paths.cache(), &machine, &boot, &opts.bootargs)?;
    let out = args
        .value("out")
        .map(Into::into)
        .unwrap_or_else(|| paths.build().join("guest.dtb"));
    if let Some(dir) = std::path::Path::new(&out)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::copy(&dtb, &out)
        .with_context(|| format!("copying {} to {}", dtb.display(), out.display()))?;
    println!(
        "guest DTB: {} (GICv{}, {} CPUs, {} MiB, bootargs \"{}\"; cached as {})",
        out.display(),
        machine.gic,
        machine.smp,
        machine.mem_mib,
        opts.bootargs,
        dtb.display()
    );
    Ok(())
}

/// `cargo xtask payload [machine options] [--flavour F] [--bootargs "..."]`:
/// fetches and builds the guest payload and prints what it is.
pub fn payload_main(paths: &Paths, args: &Args) -> Result<()> {
    args.reject_unknown(&known(&[]))?;
    if let Some(word) = args.words().first() {
        anyhow::bail!("unexpected argument {word:?}");
    }
    let machine = Machine::from_args(args)?;
    let p = prepare(paths, &options_from_args(args, &machine)?)?;
    print!("{}", describe(&p));
    println!("  manifest {}", p.manifest.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Args {
        Args::parse(
            &words.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            &[],
        )
        .unwrap()
    }

    #[test]
    fn payload_options() {
        let m = Machine::default();
        let o = options_from_args(&args(&[]), &m).unwrap();
        assert_eq!(
            (o.flavour, o.bootargs.as_str()),
            (Flavour::Cloud, super::super::DEFAULT_BOOTARGS)
        );
        assert_eq!((o.guest_vcpus, o.guest_mem_mib), (4, 512));
        let o = options_from_args(
            &args(&[
                "--flavour",
                "generic",
                "--bootargs",
                "console=ttyAMA0 quiet",
            ]),
            &m,
        )
        .unwrap();
        assert_eq!(
            (o.flavour, o.bootargs.as_str()),
            (Flavour::Generic, "console=ttyAMA0 quiet")
        );
        assert!(options_from_args(&args(&["--flavour", "rt"]), &m).is_err());
        assert!(options_from_args(&args(&["--bootargs", "a\tb"]), &m).is_err());
    }

    #[test]
    #[ignore = "runs QEMU (dumpdtb); may fetch U-Boot"]
    fn setup_dtb_writes_the_file() {
        let paths = Paths::discover();
        let dir = crate::apt::test_util::TestDir::new("setup-dtb");
        let out = dir.path().join("g.dtb");
        let a = args(&[
            "--gic",
            "2",
            "--smp",
            "2",
            "--mem",
            "768",
            "--out",
            out.to_str().unwrap(),
        ]);
        setup_dtb_main(&paths, &a).unwrap();
        let blob = std::fs::read(&out).unwrap();
        let bootargs = guest_dtb::get_string(&blob, "/chosen", "bootargs").unwrap();
        assert_eq!(bootargs.as_deref(), Some(super::super::DEFAULT_BOOTARGS));
        let reg = guest_dtb::get_property(&blob, "/memory@40000000", "reg")
            .unwrap()
            .unwrap();
        assert_eq!(reg[8..16], (768u64 << 20).to_be_bytes());
        assert!(setup_dtb_main(&paths, &args(&["--bogus", "1"])).is_err());
    }
}
