//! Emulated PL011 UART for the guest console (DDI 0183G).
//!
//! Transmission is synchronous: each `UARTDR` write goes straight to the
//! glue's callback, so the transmit FIFO is always empty (`TXFE = 1`,
//! `TXFF = 0`, `BUSY = 0`). Received bytes wait in a 64-byte FIFO filled by
//! [`VPl011::push_rx`].
//!
//! Interrupts, checked against Linux's drivers/tty/serial/amba-pl011.c:
//! * RX (`RXRIS`) is a level: FIFO at or above the `UARTIFLS` trigger.
//! * Receive timeout (`RTRIS`) is emulated as "any data waiting", i.e. a
//!   timeout of zero bit periods, so a lone character is never stranded
//!   below the trigger level. Linux enables RTIM and RXIM together.
//! * TX (`TXRIS`) asserts when the transmit FIFO drains to its trigger
//!   level (DDI 0183G chapter 2, "Interrupts": UARTTXINTR). The FIFO drains
//!   instantly, so it is set at reset and on every `UARTDR` write, and
//!   cleared only by `UARTICR.TXIC`. Linux's pl011_start_tx() writes while
//!   `TXFF` is clear (always, here) and so finishes the whole buffer
//!   without ever enabling `TXIM`; if it does enable it, `TXRIS` is already
//!   high and pl011_int() runs pl011_tx_chars(), which masks it again when
//!   the buffer is empty. TX therefore never stalls.
//!
//! The glue should re-evaluate [`VPl011::interrupt_line`] after every
//! access and every [`VPl011::push_rx`] and pass it to the virtual GIC's
//! `set_level` for the UART's SPI (INTID 33 on QEMU virt, level-high).
//!
//! Not modelled: baud rate timing, modem lines (CTS/DSR/DCD/RI read 0,
//! modem interrupts never fire), break/parity/framing/overrun errors, DMA
//! (`UARTDMACR` is stored only), IrDA, and the `UARTEN`/`TXE`/`RXE` enables
//! (like QEMU, data flows regardless, so early console output written
//! before the driver enables the UART is not lost).

mod fifo;
mod regs;
#[cfg(test)]
mod tests;

pub use fifo::RX_CAPACITY;

use crate::{access, AccessError};
use fifo::RxFifo;
use regs::*;

/// One emulated PL011.
#[derive(Clone, Debug)]
pub struct VPl011 {
    rx: RxFifo,
    ilpr: u32,
    ibrd: u32,
    fbrd: u32,
    lcr_h: u32,
    cr: u32,
    ifls: u32,
    imsc: u32,
    dmacr: u32,
    /// Latched transmit interrupt (see the module notes).
    tx_ris: bool,
}

impl VPl011 {
    /// A UART in its reset state (DDI 0183G §3.2 reset values).
    pub const fn new() -> Self {
        Self {
            rx: RxFifo::new(),
            ilpr: 0,
            ibrd: 0,
            fbrd: 0,
            lcr_h: 0,
            cr: CR_RESET,
            ifls: IFLS_RESET,
            imsc: 0,
            dmacr: 0,
            tx_ris: true,
        }
    }

    /// Queues a received byte for the guest; `false` if the FIFO is full
    /// (the caller keeps the byte and retries after the guest reads).
    pub fn push_rx(&mut self, byte: u8) -> bool {
        self.rx.push(byte)
    }

    /// Free space in the receive FIFO.
    pub fn rx_space(&self) -> usize {
        RX_CAPACITY - self.rx.len()
    }

    /// The UARTINTR output: any raw interrupt that is unmasked
    /// (DDI 0183G §3.3.12, UARTMIS = UARTRIS & UARTIMSC).
    pub fn interrupt_line(&self) -> bool {
        self.mis() != 0
    }

    /// A guest read of `size` bytes (1, 2 or 4) at `offset` in the 4 KiB
    /// frame. Linux uses 16-bit accesses unless the device tree says
    /// `reg-io-width = <4>`, and 32-bit ones for the ID registers.
    pub fn mmio_read(&mut self, offset: u64, size: u8) -> Result<u32, AccessError> {
        check(offset, size)?;
        let reg = offset & !3;
        let shift = 8 * (offset & 3) as u32;
        let word = match reg {
            // Reading data pops the FIFO, so only an access that covers
            // the data byte does; bits [11:8] (error flags) are always 0.
            UARTDR if shift == 0 => self.rx.pop().map_or(0, u32::from),
            UARTDR => 0,
            // No receive errors are ever recorded.
            UARTRSR => 0,
            UARTFR => self.fr(),
            UARTILPR => self.ilpr,
            UARTIBRD => self.ibrd,
            UARTFBRD => self.fbrd,
            UARTLCR_H => self.lcr_h,
            UARTCR => self.cr,
            UARTIFLS => self.ifls,
            UARTIMSC => self.imsc,
            UARTRIS => self.ris(),
            UARTMIS => self.mis(),
            UARTDMACR => self.dmacr,
            _ if reg >= ID_BLOCK => {
                let index = ((reg - ID_BLOCK) / 4) as usize;
                ID_BYTES.get(index).map_or(0, |&b| u32::from(b))
            }
            // UARTICR is write-only; reserved and test registers read 0.
            _ => 0,
        };
        Ok((word >> shift) & access::width_mask(size) as u32)
    }

    /// A guest write. Transmitted bytes go to `tx` immediately.
    pub fn mmio_write(
        &mut self,
        offset: u64,
        size: u8,
        value: u32,
        tx: &mut impl FnMut(u8),
    ) -> Result<(), AccessError> {
        check(offset, size)?;
        let reg = offset & !3;
        let shift = 8 * (offset & 3) as u32;
        let mask = (access::width_mask(size) as u32) << shift;
        let bits = (value << shift) & mask;
        // Narrow writes to the upper bytes of a stored register merge.
        let merge = |old: u32, width: u32| ((old & !mask) | bits) & width;
        match reg {
            // Bits [7:0] are the character (DDI 0183G §3.3.1); a write to
            // the upper bytes only carries no character.
            UARTDR if shift == 0 => {
                tx(bits as u8);
                self.tx_ris = true;
            }
            // UARTECR: any write clears the (always clear) error flags.
            UARTRSR => {}
            UARTILPR => self.ilpr = merge(self.ilpr, ILPR_MASK),
            UARTIBRD => self.ibrd = merge(self.ibrd, IBRD_MASK),
            UARTFBRD => self.fbrd = merge(self.fbrd, FBRD_MASK),
            UARTLCR_H => {
                let old_fen = self.lcr_h & LCRH_FEN;
                self.lcr_h = merge(self.lcr_h, LCRH_MASK);
                // Turning the FIFOs off (FEN, DDI 0183G §3.3.7) leaves
                // one-character holding registers; like QEMU's model, the
                // buffered input is discarded.
                if old_fen != 0 && self.lcr_h & LCRH_FEN == 0 {
                    self.rx.clear();
                }
            }
            UARTCR => self.cr = merge(self.cr, CR_MASK),
            UARTIFLS => self.ifls = merge(self.ifls, IFLS_MASK),
            UARTIMSC => self.imsc = merge(self.imsc, INT_ALL),
            // RX and RT follow the FIFO level and re-assert while data
            // waits, so clearing them has no lasting effect, as with the real
            // timeout interrupt; only TX is a latch.
            UARTICR if bits & INT_TX != 0 => self.tx_ris = false,
            UARTDMACR => self.dmacr = merge(self.dmacr, DMACR_MASK),
            // FR, RIS, MIS and the ID registers are read-only; reserved
            // locations ignore writes.
            _ => {}
        }
        Ok(())
    }

    /// UARTFR (DDI 0183G §3.3.3). TXFF and BUSY are never set: transmission
    /// completes inside the trapped write.
    fn fr(&self) -> u32 {
        let mut fr = FR_TXFE;
        if self.rx.is_empty() {
            fr |= FR_RXFE;
        }
        // With the FIFOs disabled the receive side is a one-character
        // holding register, full as soon as anything is waiting.
        let full = if self.fifo_enabled() {
            self.rx.is_full()
        } else {
            !self.rx.is_empty()
        };
        if full {
            fr |= FR_RXFF;
        }
        fr
    }

    fn fifo_enabled(&self) -> bool {
        self.lcr_h & LCRH_FEN != 0
    }

    /// Receive trigger level in characters: UARTIFLS.RXIFLSEL[5:3] selects
    /// 1/8, 1/4, 1/2, 3/4 or 7/8 full (DDI 0183G §3.3.9); reserved
    /// encodings behave as 1/2. Without FIFOs, one character.
    fn rx_trigger(&self) -> usize {
        if !self.fifo_enabled() {
            return 1;
        }
        let eighths = match (self.ifls >> 3) & 7 {
            0 => 1,
            1 => 2,
            3 => 6,
            4 => 7,
            _ => 4,
        };
        GUEST_FIFO_DEPTH * eighths / 8
    }

    /// UARTRIS (DDI 0183G §3.3.11).
    fn ris(&self) -> u32 {
        let mut ris = 0;
        if self.rx.len() >= self.rx_trigger() {
            ris |= INT_RX;
        }
        if !self.rx.is_empty() {
            ris |= INT_RT;
        }
        if self.tx_ris {
            ris |= INT_TX;
        }
        ris
    }

    fn mis(&self) -> u32 {
        self.ris() & self.imsc
    }
}

impl Default for VPl011 {
    fn default() -> Self {
        Self::new()
    }
}

/// 8, 16 or 32-bit naturally aligned accesses inside the 4 KiB frame; the
/// registers are 32 bits wide, so 64-bit accesses are refused.
fn check(offset: u64, size: u8) -> Result<(), AccessError> {
    access::check(offset, size)?;
    access::require(offset, size, &[1, 2, 4])?;
    if offset >= FRAME_SIZE {
        return Err(AccessError::OutOfRange { offset });
    }
    Ok(())
}
