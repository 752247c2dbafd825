//! Arm PrimeCell UART (PL011) driver, the console on QEMU `virt` and the
//! Raspberry Pi 5 debug connector. Register map: PL011 TRM (DDI 0183G) §3.2.

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::register_bitfields;
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};

register_bitfields! [u32,
    FR [
        /// Transmit FIFO full.
        TXFF OFFSET(5) NUMBITS(1) [],
        /// Receive FIFO empty.
        RXFE OFFSET(4) NUMBITS(1) [],
        /// UART busy transmitting (includes the shift register).
        BUSY OFFSET(3) NUMBITS(1) []
    ],
    CR [
        RXE OFFSET(9) NUMBITS(1) [],
        TXE OFFSET(8) NUMBITS(1) [],
        UARTEN OFFSET(0) NUMBITS(1) []
    ],
    IMSC [
        /// Receive timeout interrupt mask.
        RTIM OFFSET(6) NUMBITS(1) [],
        /// Receive interrupt mask.
        RXIM OFFSET(4) NUMBITS(1) []
    ]
];

#[repr(C)]
struct Registers {
    dr: ReadWrite<u32>,                   // 0x000
    _rsr: ReadWrite<u32>,                 // 0x004
    _reserved0: [u32; 4],                 // 0x008
    fr: ReadOnly<u32, FR::Register>,      // 0x018
    _reserved1: u32,                      // 0x01c
    _ilpr: ReadWrite<u32>,                // 0x020
    _ibrd: ReadWrite<u32>,                // 0x024
    _fbrd: ReadWrite<u32>,                // 0x028
    _lcr_h: ReadWrite<u32>,               // 0x02c
    cr: ReadWrite<u32, CR::Register>,     // 0x030
    _ifls: ReadWrite<u32>,                // 0x034
    imsc: ReadWrite<u32, IMSC::Register>, // 0x038
    _ris: ReadOnly<u32>,                  // 0x03c
    _mis: ReadOnly<u32>,                  // 0x040
    icr: WriteOnly<u32>,                  // 0x044
}

pub struct Pl011 {
    regs: &'static Registers,
}

// SAFETY: the registers are device memory reachable from every CPU; whoever
// owns the `Pl011` value (behind a lock) is the only one driving them.
unsafe impl Send for Pl011 {}

impl Pl011 {
    /// # Safety
    /// `base` must be the physical (= virtual, identity map) address of a
    /// PL011 mapped as Device memory, and no other code may drive it except
    /// through this value.
    pub unsafe fn new(base: usize) -> Self {
        // SAFETY: per the contract, `base` points at the PL011 register block
        // for the program's lifetime.
        Self {
            regs: unsafe { &*(base as *const Registers) },
        }
    }

    /// Enables transmit and receive, keeping the firmware's baud rate and
    /// line settings (U-Boot or the Pi firmware programmed them; QEMU ignores
    /// them), and masks all UART interrupts.
    pub fn init(&mut self) {
        self.flush();
        self.regs.imsc.set(0);
        self.regs.icr.set(0x7ff);
        self.regs
            .cr
            .write(CR::UARTEN::SET + CR::TXE::SET + CR::RXE::SET);
    }

    pub fn write_byte(&mut self, byte: u8) {
        while self.regs.fr.is_set(FR::TXFF) {
            core::hint::spin_loop();
        }
        self.regs.dr.set(byte as u32);
    }

    pub fn read_byte(&mut self) -> Option<u8> {
        if self.regs.fr.is_set(FR::RXFE) {
            None
        } else {
            Some(self.regs.dr.get() as u8)
        }
    }

    /// Waits until everything written has left the shift register. (The
    /// U-Boot 2023.01 hang came from waiting on the wrong flag here.)
    pub fn flush(&mut self) {
        while self.regs.fr.is_set(FR::BUSY) {
            core::hint::spin_loop();
        }
    }

    /// Enables the receive and receive-timeout interrupts.
    pub fn enable_rx_interrupt(&mut self) {
        self.regs.imsc.write(IMSC::RXIM::SET + IMSC::RTIM::SET);
    }

    /// Masks the receive interrupts (the received bytes stay in the FIFO).
    pub fn disable_rx_interrupt(&mut self) {
        self.regs.imsc.set(0);
    }
}

impl core::fmt::Write for Pl011 {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                self.write_byte(b'\r');
            }
            self.write_byte(b);
        }
        Ok(())
    }
}
