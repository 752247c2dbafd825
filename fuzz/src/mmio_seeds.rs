//! The `mmio_decode` target's input format and seeds.
//!
//! Input: a configuration header, then operations until the input ends.
//!
//! Header: GIC version (bit 0: v3), vCPU count (1..=8), SPI count (in
//! units of 32, at most the 992 GICD_TYPER can describe).
//!
//! Operations (first byte modulo [`OPS`]):
//! - [`OP_TRAP`]: a guest data abort: ESR_EL2 (u32), FAR_EL2 (u64), an IPA
//!   page selector (u8, see [`page_selector`]; bit 7 set: a raw HPFAR_EL2
//!   follows as a u64), the instruction at ELR (u32), the vCPU (u8), a
//!   register to preload (u8) and its value (u64);
//! - [`OP_LEVEL`]: an interrupt line: INTID (u16), vCPU (u8), level;
//! - [`OP_SGI`]: an `ICC_SGI1R_EL1` write: sender (u8), value (u64);
//! - [`OP_LR`]: list-register traffic of one vCPU (u8): fill one, or fold
//!   one back with a state (u8);
//! - [`OP_RX`]: console bytes for the PL011 (count u8, then the bytes).

use crate::input::Writer;

pub const OP_TRAP: u8 = 0;
pub const OP_LEVEL: u8 = 1;
pub const OP_SGI: u8 = 2;
pub const OP_LR: u8 = 3;
pub const OP_RX: u8 = 4;
pub const OPS: u8 = 5;

/// The guest IPA map the hypervisor gives its guest
/// (bootloader/src/vm/layout.rs): QEMU `virt`'s GIC and PL011.
pub const GICD_BASE: u64 = 0x0800_0000;
pub const GICD_SIZE: u64 = 0x1_0000;
pub const GICR_BASE: u64 = 0x080a_0000;
pub const UART_BASE: u64 = 0x0900_0000;
pub const UART_SIZE: u64 = 0x1000;

/// ESR_EL2 of a data abort from a lower EL: EC 0x24, IL, ISV with SAS
/// (size log2), SRT (register), SF (64-bit register), WnR, DFSC =
/// translation fault level 3.
pub fn esr_isv(size_log: u32, reg: u32, sf: bool, write: bool) -> u32 {
    (0x24 << 26)
        | (1 << 25)
        | (1 << 24)
        | (size_log << 22)
        | (reg << 16)
        | (u32::from(sf) << 15)
        | (u32::from(write) << 6)
        | 0x07
}

/// The same abort without a syndrome (ISV = 0), as for pairs and
/// writeback forms: the instruction must be decoded.
pub fn esr_no_isv(write: bool) -> u32 {
    (0x24 << 26) | (1 << 25) | (u32::from(write) << 6) | 0x07
}

/// Which emulated device page a trap hits.
#[derive(Clone, Copy)]
pub enum Page {
    /// GICD, 4 KiB page 0..16 of its 64 KiB.
    Gicd(u8),
    /// The redistributor of a vCPU: its RD_base page, or SGI_base.
    GicrRd(u8),
    GicrSgi(u8),
    Uart,
    /// A page with no device behind it.
    Unmapped(u8),
}

/// Bits 6:5 select the device (GICD, GICR, UART, nothing), bits 4:0 the
/// page; for GICR, bits 2:0 are the vCPU and bit 4 selects SGI_base.
pub fn page_selector(p: Page) -> u8 {
    match p {
        Page::Gicd(n) => n & 0xf,
        Page::GicrRd(v) => 0x20 | (v & 7),
        Page::GicrSgi(v) => 0x30 | (v & 7),
        Page::Uart => 0x40,
        Page::Unmapped(n) => 0x60 | (n & 0x1f),
    }
}

/// The IPA of the page `selector` names; `None` for a raw HPFAR.
pub fn page_ipa(selector: u8, vcpus: u64) -> Option<u64> {
    if selector & 0x80 != 0 {
        return None;
    }
    let n = u64::from(selector & 0x1f);
    Some(match selector >> 5 {
        0 => GICD_BASE + (n % 16) * 0x1000,
        1 => GICR_BASE + (n & 7) % vcpus * 0x2_0000 + (n & 0x10) * 0x1000,
        2 => UART_BASE,
        _ => 0x0a00_0000 + n * 0x1000,
    })
}

/// A trap at `offset` in `page`.
#[allow(clippy::too_many_arguments)]
pub fn trap(
    w: &mut Writer,
    esr: u32,
    page: Page,
    offset: u64,
    insn: u32,
    vcpu: u8,
    reg: u8,
    value: u64,
) {
    w.u8(OP_TRAP)
        .u32(esr)
        .u64(offset)
        .u8(page_selector(page))
        .u32(insn);
    w.u8(vcpu).u8(reg).u64(value);
}

/// Seeds: a Linux-like GICv3 bring-up (GICD_CTLR, redistributor wake-up,
/// enabling the UART's SPI and the timer PPI) and console traffic, with
/// both syndrome forms; the same on GICv2.
pub fn seeds() -> Vec<Vec<u8>> {
    // Instructions (Arm ARM C6.2): x1 holds the device address.
    let str_w0_x1 = 0xb900_0020; // STR W0, [X1]
    let ldr_w0_x1 = 0xb940_0020; // LDR W0, [X1]
    let ldrh_w0_x1 = 0x7940_0020; // LDRH W0, [X1]
    let strb_w0_x1 = 0x3900_0020; // STRB W0, [X1]
    let ldp_w2_w3_x1 = 0x2940_0c22; // LDP W2, W3, [X1]
    let stp_w2_w3_x1_post = 0x2881_0c22; // STP W2, W3, [X1], #8

    let mut out = Vec::new();
    for v3 in [true, false] {
        let mut w = Writer::new();
        w.u8(u8::from(v3)).u8(4).u8(3);
        let (gicd, uart) = (Page::Gicd(0), Page::Uart);
        // GICD_CTLR = EnableGrp1 (and ARE on v3).
        trap(
            &mut w,
            esr_isv(2, 0, false, true),
            gicd,
            0,
            str_w0_x1,
            0,
            0,
            0x12,
        );
        // GICD_TYPER, read without a syndrome.
        trap(&mut w, esr_no_isv(false), gicd, 4, ldr_w0_x1, 1, 1, 4);
        if v3 {
            // GICR_WAKER of vCPU 0: clear ProcessorSleep.
            trap(
                &mut w,
                esr_isv(2, 0, false, true),
                Page::GicrRd(0),
                0x14,
                str_w0_x1,
                0,
                0,
                0,
            );
            // GICR_ISENABLER0 (SGI_base + 0x100): enable PPI 27.
            trap(
                &mut w,
                esr_isv(2, 0, false, true),
                Page::GicrSgi(0),
                0x100,
                str_w0_x1,
                0,
                0,
                1 << 27,
            );
        }
        // GICD_ISENABLER1: SPI 33 (the UART), via a pair store.
        trap(
            &mut w,
            esr_no_isv(true),
            gicd,
            0x104,
            stp_w2_w3_x1_post,
            0,
            2,
            2,
        );
        // GICD_IPRIORITYR bytes and a pair load of GICD_ICFGR.
        trap(
            &mut w,
            esr_isv(0, 0, false, true),
            gicd,
            0x421,
            strb_w0_x1,
            0,
            0,
            0xa0,
        );
        trap(
            &mut w,
            esr_no_isv(false),
            gicd,
            0xc08,
            ldp_w2_w3_x1,
            0,
            1,
            0,
        );
        // UART: IMSC = RX|RT, a character out, flags in.
        trap(
            &mut w,
            esr_isv(2, 0, false, true),
            uart,
            0x38,
            str_w0_x1,
            0,
            0,
            0x50,
        );
        trap(
            &mut w,
            esr_isv(0, 0, false, true),
            uart,
            0,
            strb_w0_x1,
            0,
            0,
            u64::from(b'A'),
        );
        w.u8(OP_RX).u8(3).raw(b"ls\n");
        trap(
            &mut w,
            esr_isv(1, 0, false, false),
            uart,
            0x18,
            ldrh_w0_x1,
            0,
            0,
            0,
        );
        trap(&mut w, esr_no_isv(false), uart, 0, ldr_w0_x1, 0, 1, 0);
        // The UART's SPI and the timer PPI rise; SGI 1 to all others.
        w.u8(OP_LEVEL).u16(33).u8(0).u8(1);
        w.u8(OP_LEVEL).u16(27).u8(0).u8(1);
        w.u8(OP_SGI).u8(0).u64((1 << 40) | (1 << 24));
        for _ in 0..3 {
            w.u8(OP_LR).u8(0).u8(0);
        }
        w.u8(OP_LR).u8(0).u8(0x80);
        trap(
            &mut w,
            esr_isv(2, 0, false, false),
            Page::Unmapped(3),
            0,
            ldr_w0_x1,
            0,
            0,
            0,
        );
        out.push(w.finish());
    }
    out
}
