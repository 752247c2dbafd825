//! Tiny AArch64 programs that prove the TF-A pipeline without our SPMC,
//! assembled with the cross binutils into `build/tfa/stub/` (never a Rust
//! crate, never shipped):
//!
//! - [`bl32`]: a stand-in SPMC. The SPMD enters it at S-EL2 on every core
//!   (MMU off, x0 = the SPMC manifest, x4 = linear core id); it prints
//!   `SPMC stub: core N` on the PL011 at 0x0900_0000 (the secure world sees
//!   the non-secure UART too), on core 0 also x0, then calls FFA_MSG_WAIT
//!   forever (the "init done" signal the SPMD waits for).
//! - `cpu_on` (tests): a normal-world helper for U-Boot's `go`: PSCI CPU_ON for
//!   cores 1..N, one at a time (it waits for AFFINITY_INFO = ON, which TF-A
//!   sets only after the SPMC's MSG_WAIT, so their lines do not interleave),
//!   parking them in a WFE loop; returns the OR of the CPU_ON results.

use crate::paths::Paths;
use anyhow::{ensure, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

const BL32_SRC: &str = r#"// Stand-in BL32 (xtask/src/tfa/stub.rs). No stack: one call level, puts keeps
// its return address in x23.
	.text
	.global	_start
_start:
	mov	x19, x0			// SPMC manifest (TOS_FW_CONFIG)
	mov	x20, x4			// linear core id
	adr	x21, msg_core
	bl	puts
	add	w0, w20, #'0'		// fine for up to 10 cores
	bl	putc
	mov	w0, #'\n'
	bl	putc
	cbnz	x20, wait
	adr	x21, msg_x0
	bl	puts
	mov	x22, #60
1:	lsr	x0, x19, x22
	and	x0, x0, #0xf
	cmp	x0, #10
	add	x1, x0, #'0'
	add	x2, x0, #('a' - 10)
	csel	x0, x1, x2, lo
	bl	putc
	subs	x22, x22, #4
	b.ge	1b
	mov	w0, #'\n'
	bl	putc
wait:	movz	w0, #0x006b		// FFA_MSG_WAIT = 0x8400006b
	movk	w0, #0x8400, lsl #16
	smc	#0
	b	wait

puts:	mov	x23, x30
1:	ldrb	w0, [x21], #1
	cbz	w0, 2f
	bl	putc
	b	1b
2:	ret	x23

putc:	ldr	x1, =0x09000000		// PL011 UART0
1:	ldr	w2, [x1, #0x18]		// UARTFR
	tbnz	w2, #5, 1b		// TXFF: transmit FIFO full
	str	w0, [x1]		// UARTDR
	ret

msg_core: .asciz "SPMC stub: core "
msg_x0:	.asciz	"SPMC stub: x0 = 0x"
	.balign	8
	.ltorg
"#;

#[cfg(test)]
const CPU_ON_SRC: &str = r#"// U-Boot `go` helper (xtask/src/tfa/stub.rs): PSCI CPU_ON for cores
// 1..CPUS-1, each awaited with AFFINITY_INFO; returns OR of the results.
	.text
	.global	_start
_start:	mov	x19, x30
	mov	x20, #1
	mov	x21, #0
1:	cmp	x20, #CPUS
	b.ge	3f
	movz	w0, #0x0003		// PSCI CPU_ON (SMC64) = 0xc4000003
	movk	w0, #0xc400, lsl #16
	mov	x1, x20			// target MPIDR: Aff0 = core on QEMU virt
	adr	x2, park
	mov	x3, #0
	smc	#0
	orr	x21, x21, x0
	cbnz	x0, 2f
4:	movz	w0, #0x0004		// PSCI AFFINITY_INFO (SMC64) = 0xc4000004
	movk	w0, #0xc400, lsl #16
	mov	x1, x20
	mov	x2, #0
	smc	#0
	cbnz	x0, 4b			// 0 = ON
2:	add	x20, x20, #1
	b	1b
3:	mov	x0, x21
	ret	x19
park:	wfe
	b	park
"#;

/// The stand-in BL32 (flat binary, linked at the manifest's load address).
pub fn bl32(paths: &Paths) -> Result<PathBuf> {
    assemble(&stub_dir(paths), "spmc-stub", BL32_SRC, 0x0e10_0000)
}

/// Where `cpu_on`'s image is linked; free RAM while U-Boot runs (it runs
/// at 0x6000_0000 as BL33 and relocates to the top of RAM).
#[cfg(test)]
pub const CPU_ON_ADDR: u64 = 0x4800_0000;

/// The CPU_ON helper for a machine with `cpus` cores (tests only).
#[cfg(test)]
pub fn cpu_on(paths: &Paths, cpus: u32) -> Result<PathBuf> {
    ensure!((1..=8).contains(&cpus), "cpu_on helper: {cpus} CPUs");
    let src = format!("\t.equ\tCPUS, {cpus}\n{CPU_ON_SRC}");
    assemble(
        &stub_dir(paths),
        &format!("cpu-on-{cpus}"),
        &src,
        CPU_ON_ADDR,
    )
}

fn stub_dir(paths: &Paths) -> PathBuf {
    paths.build().join("tfa").join("stub")
}

/// `as` + `ld -Ttext` + `objcopy -O binary` into `dir/name.bin`; skipped
/// when `dir/name.S` already holds `src` and the binary exists.
fn assemble(dir: &Path, name: &str, src: &str, text_addr: u64) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let s = dir.join(format!("{name}.S"));
    let bin = dir.join(format!("{name}.bin"));
    if bin.is_file() && std::fs::read_to_string(&s).is_ok_and(|old| old == src) {
        return Ok(bin);
    }
    let _ = std::fs::remove_file(&bin);
    std::fs::write(&s, src).with_context(|| format!("writing {}", s.display()))?;
    let obj = dir.join(format!("{name}.o"));
    let elf = dir.join(format!("{name}.elf"));
    let steps: [(&str, Vec<String>); 3] = [
        (
            "aarch64-linux-gnu-as",
            vec![path_arg(&s), "-o".into(), path_arg(&obj)],
        ),
        (
            "aarch64-linux-gnu-ld",
            vec![
                format!("-Ttext={text_addr:#x}"),
                "-e".into(),
                "_start".into(),
                "-o".into(),
                path_arg(&elf),
                path_arg(&obj),
            ],
        ),
        (
            "aarch64-linux-gnu-objcopy",
            vec!["-O".into(), "binary".into(), path_arg(&elf), path_arg(&bin)],
        ),
    ];
    for (tool, args) in steps {
        let out = Command::new(tool)
            .args(&args)
            .output()
            .with_context(|| format!("running {tool} (package binutils-aarch64-linux-gnu)"))?;
        ensure!(
            out.status.success(),
            "{tool} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(bin)
}

fn path_arg(p: &Path) -> String {
    p.display().to_string()
}
