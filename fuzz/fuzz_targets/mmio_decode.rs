//! Guest MMIO the way the hypervisor handles it (bootloader/src/vm/exits.rs
//! and mmio_bus.rs): `arch_hal::mmio` decodes the data abort (ESR_EL2,
//! FAR_EL2, HPFAR_EL2, and the instruction when ISV = 0), the access goes
//! to the emulated GIC distributor/redistributors or PL011 (`emul`), and
//! `MmioAccess::complete` writes the result back. Interleaved: interrupt
//! lines, SGIs, list-register traffic and console input.
//!
//! Invariants: decoded accesses have architectural shapes (sizes 1..8,
//! registers 0..31, sign extension only on loads, one page); the resolved
//! IPA is the one the syndrome names; `complete` updates exactly the
//! transfer and base registers as the Arm ARM says; device reads fit their
//! width; kicks name existing vCPUs only; the vGIC never hands out an
//! interrupt a list register already holds, and `has_pending` agrees with
//! `next_pending`; the PL011 is a FIFO (bytes come out in the order they
//! went in, `UARTFR`/`rx_space`/the interrupt line agree with it) and
//! transmits exactly the bytes written to `UARTDR`.
#![no_main]

use std::collections::VecDeque;

use arch_hal::mmio::{self, Address, DecodeError, MmioAccess, Regs};
use emul::{LrState, VGic, VPl011, Version};
use fuzz_support::mmio_seeds::{
    self, page_ipa, GICD_BASE, GICD_SIZE, GICR_BASE, OPS, OP_LEVEL, OP_LR, OP_RX, OP_SGI, OP_TRAP,
    UART_BASE, UART_SIZE,
};
use fuzz_support::Input;
use libfuzzer_sys::fuzz_target;

/// List registers per vCPU (QEMU's GICv3 has 4).
const LRS: usize = 4;
/// The hypervisor links the virtual timer PPI to the physical one.
const VTIMER: u32 = 27;

const UARTDR: u64 = 0x00;
const UARTFR: u64 = 0x18;
const UARTLCR_H: u64 = 0x2c;
const UARTMIS: u64 = 0x40;
const FR_RXFE: u64 = 1 << 4;
const LCRH_FEN: u64 = 1 << 4;

fuzz_target!(
    init: fuzz_support::seed_corpus("mmio_decode", mmio_seeds::seeds),
    |data: &[u8]| {
        let mut input = Input::new(data);
        let Some(mut m) = Machine::new(&mut input) else {
            return;
        };
        while !input.is_empty() {
            match input.u8() % OPS {
                OP_TRAP => m.trap(&mut input),
                OP_LEVEL => m.level(&mut input),
                OP_SGI => m.sgi(&mut input),
                OP_LR => m.lr(&mut input),
                OP_RX => m.rx(&mut input),
                _ => unreachable!(),
            }
            m.check_uart();
        }
        // Once per input: it ranks every interrupt of every vCPU.
        m.check_gic();
    }
);

struct Machine {
    gic: VGic,
    uart: VPl011,
    vcpus: usize,
    /// What the list registers of each vCPU hold: (INTID, state).
    lrs: Vec<Vec<(u32, LrState)>>,
    /// The bytes the guest should read next from UARTDR, in order.
    rx: VecDeque<u8>,
    regs: [u64; 31],
}

fn width_mask(size: u8) -> u64 {
    if size >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * u32::from(size))) - 1
    }
}

impl Machine {
    fn new(input: &mut Input) -> Option<Self> {
        let v3 = input.bool();
        let vcpus = 1 + usize::from(input.u8() % 8);
        let spis = 32 * u32::from(input.u8() % 32);
        // Distinct affinities: four CPUs per cluster, as on big systems.
        let mpidrs: Vec<u64> = (0..vcpus as u64)
            .map(|i| 0x8000_0000 | ((i / 4) << 8) | (i % 4))
            .collect();
        let version = if v3 { Version::V3 } else { Version::V2 };
        let mut gic = VGic::new(version, vcpus, spis, &mpidrs).ok()?;
        gic.link_hw(VTIMER, VTIMER).expect("PPI 27 links");
        Some(Self {
            gic,
            uart: VPl011::new(),
            vcpus,
            lrs: vec![Vec::new(); vcpus],
            rx: VecDeque::new(),
            regs: std::array::from_fn(|i| 0x0101_0101_0101_0101u64.wrapping_mul(i as u64 + 1)),
        })
    }

    fn all_vcpus(&self) -> u32 {
        (1u32 << self.vcpus) - 1
    }

    /// One data abort, from the syndrome to the completed instruction.
    fn trap(&mut self, input: &mut Input) {
        let esr = u64::from(input.u32());
        let far = input.u64();
        let selector = input.u8();
        let hpfar = match page_ipa(selector, self.vcpus as u64) {
            // HPFAR_EL2.FIPA holds IPA[55:12] in bits [47:4].
            Some(ipa) => (ipa >> 12) << 4,
            None => input.u64(),
        };
        let insn = input.u32();
        let vcpu = usize::from(input.u8()) % self.vcpus;
        let (preload, value) = (usize::from(input.u8() % 31), input.u64());
        // The instruction's base register holds the faulting VA, as in the
        // guest; the fuzzer may override one register.
        self.regs[1] = far;
        self.regs[preload] = value;

        let syn = match mmio::decode_esr(esr, far, hpfar) {
            Ok(s) => s,
            Err(e) => {
                assert_eq!(
                    e,
                    DecodeError::NotDataAbort {
                        ec: (esr >> 26) as u8 & 0x3f
                    }
                );
                assert_ne!((esr >> 26) & 0x3f, 0x24);
                return;
            }
        };
        assert_eq!(syn.ipa & 0xfff, far & 0xfff);
        assert_eq!(syn.access.is_some(), syn.isv && syn.far_valid);
        let mut sp = 0x4000_0000u64;
        let access = match syn.access {
            Some(a) => {
                check_shape(&a);
                assert_eq!(a.ipa, syn.ipa);
                assert!(a.pair.is_none() && a.writeback.is_none());
                a
            }
            None => {
                let Ok(d) = mmio::decode_instruction(insn) else {
                    return;
                };
                check_decoded(&d);
                let regs = Regs {
                    x: &mut self.regs,
                    sp: &mut sp,
                };
                let Ok(a) = d.resolve(&syn, &regs) else {
                    return;
                };
                check_shape(&a);
                assert_eq!(a.write, syn.write);
                // The access covers the faulting byte, within its page.
                assert!(a.ipa <= syn.ipa && syn.ipa - a.ipa < a.total_bytes());
                assert_eq!(a.ipa >> 12, (a.ipa + a.total_bytes() - 1) >> 12);
                a
            }
        };

        let before = self.regs;
        let sp_before = sp;
        let data = access.store_data(&Regs {
            x: &mut self.regs,
            sp: &mut sp,
        });
        let mask = width_mask(access.size);
        assert!(data[0] <= mask && data[1] <= mask);
        if access.pair.is_none() {
            assert_eq!(data[1], 0);
        }
        let second = access.ipa + u64::from(access.size);
        let loaded = if access.write {
            if self
                .bus_write(vcpu, access.ipa, access.size, data[0])
                .is_none()
            {
                return;
            }
            if access.pair.is_some() && self.bus_write(vcpu, second, access.size, data[1]).is_none()
            {
                return;
            }
            [0, 0]
        } else {
            let Some(lo) = self.bus_read(vcpu, access.ipa, access.size) else {
                return;
            };
            let hi = match access.pair {
                Some(_) => match self.bus_read(vcpu, second, access.size) {
                    Some(v) => v,
                    None => return,
                },
                None => 0,
            };
            [lo, hi]
        };
        let mut regs = Regs {
            x: &mut self.regs,
            sp: &mut sp,
        };
        access.complete(&mut regs, loaded);
        check_complete(&access, &before, sp_before, &self.regs, sp, loaded);
    }

    /// `mmio_bus::read`: `None` when no device accepts the access.
    fn bus_read(&mut self, vcpu: usize, ipa: u64, size: u8) -> Option<u64> {
        let v = if let Some(off) = offset_in(GICD_BASE, GICD_SIZE, ipa) {
            match self.gic.version() {
                Version::V2 => self.gic.dist_read_v2(vcpu, off, size),
                Version::V3 => self.gic.dist_read(off, size),
            }
            .ok()?
        } else if let Some(off) = self.redist_offset(ipa) {
            let (target, off) = self.gic.redist_frame(off)?;
            self.gic.redist_read(target, off, size).ok()?
        } else if let Some(off) = offset_in(UART_BASE, UART_SIZE, ipa) {
            let pops = off == UARTDR;
            let v = u64::from(self.uart.mmio_read(off, size).ok()?);
            if pops {
                // A data read takes the oldest byte, 0 when empty.
                assert_eq!(v & 0xff, u64::from(self.rx.pop_front().unwrap_or(0)));
            }
            v
        } else {
            return None;
        };
        assert!(
            v <= width_mask(size),
            "{v:#x} from a {size}-byte read at {ipa:#x}"
        );
        Some(v)
    }

    /// `mmio_bus::write`: `None` when no device accepts the access.
    fn bus_write(&mut self, vcpu: usize, ipa: u64, size: u8, value: u64) -> Option<()> {
        let all = self.all_vcpus();
        if let Some(off) = offset_in(GICD_BASE, GICD_SIZE, ipa) {
            let update = match self.gic.version() {
                Version::V2 => self.gic.dist_write_v2(vcpu, off, size, value),
                Version::V3 => self.gic.dist_write(off, size, value),
            }
            .ok()?;
            assert_eq!(
                update.kick & !all,
                0,
                "kick {:#x} of absent vCPUs",
                update.kick
            );
        } else if let Some(off) = self.redist_offset(ipa) {
            let (target, off) = self.gic.redist_frame(off)?;
            let update = self.gic.redist_write(target, off, size, value).ok()?;
            assert_eq!(
                update.kick & !all,
                0,
                "kick {:#x} of absent vCPUs",
                update.kick
            );
        } else if let Some(off) = offset_in(UART_BASE, UART_SIZE, ipa) {
            let fen = |u: &mut VPl011| u.mmio_read(UARTLCR_H, 4).map(|v| u64::from(v) & LCRH_FEN);
            let fen_before = fen(&mut self.uart).expect("LCR_H reads");
            let mut sent = Vec::new();
            self.uart
                .mmio_write(off, size, value as u32, &mut |b| sent.push(b))
                .ok()?;
            // Exactly one character per write to the data byte.
            if off == UARTDR {
                assert_eq!(sent, [value as u8]);
            } else {
                assert!(sent.is_empty());
            }
            // Turning the FIFOs off discards what was received.
            if fen_before != 0 && fen(&mut self.uart).expect("LCR_H reads") == 0 {
                self.rx.clear();
            }
        } else {
            return None;
        }
        Some(())
    }

    /// The offset into the GICv3 redistributor region (none on GICv2).
    fn redist_offset(&self, ipa: u64) -> Option<u64> {
        if self.gic.version() == Version::V2 {
            return None;
        }
        offset_in(GICR_BASE, self.gic.redist_region_size(), ipa)
    }

    fn level(&mut self, input: &mut Input) {
        let intid = u32::from(input.u16() % 1024);
        let vcpu = usize::from(input.u8());
        let level = input.bool();
        let vcpu = (intid < 32).then_some(vcpu % (self.vcpus + 1));
        if let Ok(Some(kick)) = self.gic.set_level(intid, vcpu, level) {
            assert!(kick < self.vcpus);
        }
    }

    fn sgi(&mut self, input: &mut Input) {
        let sender = usize::from(input.u8()) % (self.vcpus + 1);
        let value = input.u64();
        let kick = self.gic.sgi1r_write(sender, value);
        assert_eq!(kick & !self.all_vcpus(), 0);
        if self.gic.version() == Version::V2 || sender >= self.vcpus {
            assert_eq!(kick, 0);
        }
    }

    /// Fills a list register of a vCPU, or folds one back as the guest
    /// left it (bit 7 of the state byte; bits 1:0 are the state).
    fn lr(&mut self, input: &mut Input) {
        let vcpu = usize::from(input.u8()) % self.vcpus;
        let how = input.u8();
        if how & 0x80 == 0 {
            if self.lrs[vcpu].len() == LRS {
                return;
            }
            let expected = self.gic.has_pending(vcpu);
            let inj = self.gic.next_pending(vcpu);
            assert_eq!(inj.is_some(), expected, "has_pending disagrees");
            let Some(inj) = inj else { return };
            assert_ne!(inj.state, LrState::Invalid);
            assert!(inj.intid < 32 + self.gic.num_spis() && inj.intid < 1020);
            // Never an interrupt some list register already holds: an SPI
            // is held once machine-wide, a private one once per vCPU.
            let held = |lrs: &Vec<(u32, LrState)>| lrs.iter().any(|&(i, _)| i == inj.intid);
            if inj.intid < 32 {
                assert!(!held(&self.lrs[vcpu]), "INTID {} injected twice", inj.intid);
            } else {
                assert!(
                    !self.lrs.iter().any(held),
                    "SPI {} injected twice",
                    inj.intid
                );
            }
            assert_eq!(inj.hw_pintid.is_some(), inj.intid == VTIMER);
            assert!(!(inj.eoi_maintenance && inj.hw_pintid.is_some()));
            if let Some(src) = inj.source_cpu {
                assert!(self.gic.version() == Version::V2 && inj.intid < 16);
                assert!(usize::from(src) < self.vcpus);
            }
            self.lrs[vcpu].push((inj.intid, inj.state));
        } else if !self.lrs[vcpu].is_empty() {
            let slot = usize::from(how & 0x7c) % self.lrs[vcpu].len();
            let (intid, _) = self.lrs[vcpu].remove(slot);
            self.gic
                .lr_retired(vcpu, intid, LrState::from_bits(u64::from(how)));
        }
    }

    fn rx(&mut self, input: &mut Input) {
        let n = input.u8();
        for &b in input.bytes(usize::from(n)) {
            let room = self.uart.rx_space() > 0;
            assert_eq!(self.uart.push_rx(b), room);
            if room {
                self.rx.push_back(b);
            }
        }
    }

    fn check_gic(&self) {
        assert_eq!(self.gic.pending_vcpus() & !self.all_vcpus(), 0);
    }

    fn check_uart(&mut self) {
        assert_eq!(
            self.uart.rx_space(),
            emul::pl011::RX_CAPACITY - self.rx.len()
        );
        let fr = u64::from(self.uart.mmio_read(UARTFR, 4).expect("FR reads"));
        assert_eq!(fr & FR_RXFE != 0, self.rx.is_empty());
        let mis = self.uart.mmio_read(UARTMIS, 4).expect("MIS reads");
        assert_eq!(self.uart.interrupt_line(), mis != 0);
    }
}

fn offset_in(base: u64, size: u64, ipa: u64) -> Option<u64> {
    (ipa >= base && ipa - base < size).then(|| ipa - base)
}

/// What every access the decoder produces looks like.
fn check_shape(a: &MmioAccess) {
    assert!(matches!(a.size, 1 | 2 | 4 | 8), "{a:?}");
    assert!(a.reg <= 31 && a.pair.is_none_or(|r| r <= 31), "{a:?}");
    assert!(!(a.sign_extend && a.write), "{a:?}");
}

fn check_decoded(d: &mmio::Decoded) {
    check_shape(&d.at(0));
    // LDRSB/LDRSH/LDRSW/LDPSW only: nothing to extend in a doubleword.
    // (A syndrome may claim SSE with SAS = 3; extending then is a no-op.)
    assert!(!(d.sign_extend && d.size == 8), "{d:?}");
    // A W register holds at most 4 bytes.
    assert!(d.reg_is_64 || d.size <= 4, "{d:?}");
    if let Some(r2) = d.pair {
        assert!(matches!(d.size, 4 | 8));
        assert!(d.write || r2 != d.reg, "LDP into one register: {d:?}");
    }
    let base = match d.address {
        Address::Immediate { base, .. } => base,
        Address::Register {
            base, index, shift, ..
        } => {
            assert!(index <= 31);
            assert!(shift == 0 || 1u64 << shift == u64::from(d.size), "{d:?}");
            base
        }
    };
    assert!(base <= 31);
    if let Some(wb) = d.writeback {
        assert_eq!(wb.base_reg, base);
        // Writeback onto a transfer register is refused as UNPREDICTABLE.
        if base != 31 {
            assert_ne!(base, d.reg, "{d:?}");
            assert!(d.pair != Some(base), "{d:?}");
        }
    }
}

/// The Arm ARM's result of a completed access (C6.2 LDR*/LDRS*/LDP*/STR*,
/// and the writeback of pre/post-indexed forms), computed independently of
/// `MmioAccess::complete`.
fn check_complete(
    a: &MmioAccess,
    before: &[u64; 31],
    sp_before: u64,
    after: &[u64; 31],
    sp_after: u64,
    loaded: [u64; 2],
) {
    let mut want = *before;
    let mut want_sp = sp_before;
    let bits = 8 * u32::from(a.size);
    let extend = |v: u64| {
        let v = v & width_mask(a.size);
        let v = if a.sign_extend && bits < 64 {
            (((v << (64 - bits)) as i64) >> (64 - bits)) as u64
        } else {
            v
        };
        if a.reg_is_64 {
            v
        } else {
            v & 0xffff_ffff
        }
    };
    if !a.write {
        if let Some(r) = want.get_mut(usize::from(a.reg)) {
            *r = extend(loaded[0]);
        }
        if let Some(r) = a.pair.and_then(|p| want.get_mut(usize::from(p))) {
            *r = extend(loaded[1]);
        }
    }
    if let Some(wb) = a.writeback {
        match want.get_mut(usize::from(wb.base_reg)) {
            Some(r) => *r = r.wrapping_add(wb.offset as u64),
            None => want_sp = want_sp.wrapping_add(wb.offset as u64),
        }
    }
    assert_eq!(after, &want, "registers after {a:?}");
    assert_eq!(sp_after, want_sp, "sp after {a:?}");
}
