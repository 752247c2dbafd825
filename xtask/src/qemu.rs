//! QEMU `virt` command lines. Building the argument list is pure so that the
//! options users pass (`--gic`, `--cpu`, `--smp`, `--mem`) are unit-tested.

use crate::cli::Args;
use anyhow::{bail, Result};
use std::path::PathBuf;

/// `-cpu max` spends most of its time emulating pointer authentication;
/// `pauth-impdef=on` halves Linux boot time (platform-facts.md).
pub const DEFAULT_CPU: &str = "max,pauth-impdef=on";
pub const MAX_SMP: u32 = 8;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Machine {
    pub gic: u8,
    pub cpu: String,
    pub smp: u32,
    pub mem_mib: u32,
}

impl Default for Machine {
    fn default() -> Self {
        Self {
            gic: 3,
            cpu: DEFAULT_CPU.into(),
            smp: 4,
            mem_mib: 1024,
        }
    }
}

impl Machine {
    /// The options `xrun` and the tests share.
    pub const OPTIONS: &'static [&'static str] = &["gic", "cpu", "smp", "mem"];

    pub fn from_args(args: &Args) -> Result<Self> {
        let mut m = Self::default();
        if let Some(g) = args.parsed::<u8>("gic")? {
            if g != 2 && g != 3 {
                bail!("--gic {g}: only 2 and 3 are supported");
            }
            m.gic = g;
        }
        if let Some(c) = args.value("cpu") {
            m.cpu = c.to_string();
        }
        if let Some(n) = args.parsed::<u32>("smp")? {
            // GICv2 has 8 CPU interfaces at most (GIC architecture v2 §1.4),
            // and the hypervisor reserves stacks for 8 CPUs (link.ld).
            if n == 0 || n > MAX_SMP {
                bail!("--smp {n}: between 1 and {MAX_SMP}");
            }
            m.smp = n;
        }
        if let Some(mem) = args.parsed::<u32>("mem")? {
            if mem < 256 {
                bail!("--mem {mem}: at least 256 MiB");
            }
            m.mem_mib = mem;
        }
        Ok(m)
    }

    fn machine_arg(&self, secure: bool) -> String {
        format!(
            "virt,{}virtualization=on,gic-version={}",
            if secure { "secure=on," } else { "" },
            self.gic
        )
    }
}

#[derive(Clone, Debug)]
pub enum Boot {
    /// U-Boot as the firmware (`-bios`); it finds boot.scr on the disk.
    Firmware(PathBuf),
    /// QEMU's ELF loader enters the image directly at EL2 (no U-Boot).
    Kernel(PathBuf),
    /// QEMU's Linux loader: an arm64 Image plus an initrd, entered with
    /// x0 = DTB (the protocol the Raspberry Pi firmware uses).
    LinuxImage { image: PathBuf, initrd: PathBuf },
    /// TF-A's `flash.bin` (BL1 → BL2 → BL31 + SPMD → our SPMC at S-EL2 →
    /// U-Boot): the machine gets EL3 and the secure world (`secure=on`).
    SecureFirmware(PathBuf),
}

impl Boot {
    fn secure(&self) -> bool {
        matches!(self, Boot::SecureFirmware(_))
    }
}

/// How the serial line is connected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Console {
    /// The user's terminal, with QEMU's Ctrl-A multiplexer (Ctrl-A X quits).
    Terminal,
    /// A pipe read by the test harness; no monitor.
    Pipe,
    /// A Unix socket QEMU listens on, for the serial bridge (console plus
    /// GDB); QEMU waits for the bridge before starting the machine.
    Socket(PathBuf),
}

#[derive(Clone, Debug)]
pub struct Launch {
    pub machine: Machine,
    pub boot: Boot,
    pub disk: Option<PathBuf>,
    pub console: Console,
}

impl Launch {
    pub fn args(&self) -> Vec<String> {
        let m = &self.machine;
        let mut a: Vec<String> = vec![
            "-M".into(),
            m.machine_arg(self.boot.secure()),
            "-cpu".into(),
            m.cpu.clone(),
            "-smp".into(),
            m.smp.to_string(),
            "-m".into(),
            format!("{}M", m.mem_mib),
            // Without this QEMU adds a NIC and U-Boot's autoboot tries DHCP.
            "-nic".into(),
            "none".into(),
            // A reset request ends QEMU instead of looping through firmware.
            "-no-reboot".into(),
        ];
        match &self.boot {
            Boot::Firmware(bios) | Boot::SecureFirmware(bios) => {
                a.extend(["-bios".into(), bios.display().to_string()])
            }
            Boot::Kernel(elf) => a.extend(["-kernel".into(), elf.display().to_string()]),
            Boot::LinuxImage { image, initrd } => a.extend([
                "-kernel".into(),
                image.display().to_string(),
                "-initrd".into(),
                initrd.display().to_string(),
            ]),
        }
        if let Some(disk) = &self.disk {
            a.extend([
                "-drive".into(),
                format!("if=none,file={},format=raw,id=hd0", disk.display()),
                "-device".into(),
                "virtio-blk-device,drive=hd0".into(),
            ]);
        }
        match &self.console {
            Console::Terminal => a.push("-nographic".into()),
            Console::Socket(path) => a.extend(crate::serial_bridge::qemu_serial_args(path)),
            Console::Pipe => a.extend(
                ["-display", "none", "-serial", "stdio", "-monitor", "none"].map(String::from),
            ),
        }
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Args {
        let v: Vec<String> = words.iter().map(|s| s.to_string()).collect();
        Args::parse(&v, &[]).unwrap()
    }

    #[test]
    fn defaults_match_the_issue() {
        let l = Launch {
            machine: Machine::default(),
            boot: Boot::Firmware("u-boot.bin".into()),
            disk: Some("disk.img".into()),
            console: Console::Terminal,
        };
        let a = l.args().join(" ");
        assert!(a.contains("-M virt,virtualization=on,gic-version=3"), "{a}");
        assert!(
            a.contains("-cpu max,pauth-impdef=on -smp 4 -m 1024M"),
            "{a}"
        );
        assert!(a.contains("-bios u-boot.bin"));
        assert!(a.contains("file=disk.img,format=raw"));
        assert!(a.contains("virtio-blk-device"));
        assert!(a.ends_with("-nographic"));
    }

    #[test]
    fn options_change_the_machine() {
        let m = Machine::from_args(&args(&[
            "--gic",
            "2",
            "--smp",
            "2",
            "--mem",
            "768",
            "--cpu",
            "cortex-a72",
        ]))
        .unwrap();
        assert_eq!(
            m,
            Machine {
                gic: 2,
                cpu: "cortex-a72".into(),
                smp: 2,
                mem_mib: 768
            }
        );
        let l = Launch {
            machine: m,
            boot: Boot::Kernel("h.elf".into()),
            disk: None,
            console: Console::Pipe,
        };
        let a = l.args().join(" ");
        assert!(
            a.contains("gic-version=2")
                && a.contains("-kernel h.elf")
                && a.contains("-serial stdio")
        );
        assert!(!a.contains("-drive"));
    }

    #[test]
    fn secure_firmware_turns_on_el3() {
        let l = Launch {
            machine: Machine::default(),
            boot: Boot::SecureFirmware("flash.bin".into()),
            disk: None,
            console: Console::Pipe,
        };
        let a = l.args().join(" ");
        assert!(
            a.contains("-M virt,secure=on,virtualization=on,gic-version=3"),
            "{a}"
        );
        assert!(a.contains("-bios flash.bin"));
        let plain = Launch {
            boot: Boot::Firmware("u-boot.bin".into()),
            ..l
        };
        assert!(!plain.args().join(" ").contains("secure=on"));
    }

    #[test]
    fn rejects_bad_options() {
        assert!(Machine::from_args(&args(&["--gic", "4"])).is_err());
        assert!(Machine::from_args(&args(&["--smp", "0"])).is_err());
        assert!(Machine::from_args(&args(&["--mem", "64"])).is_err());
        assert!(Machine::from_args(&args(&["--smp", "many"])).is_err());
    }
}
