//! PL011 register offsets and bit assignments (DDI 0183G, PrimeCell UART
//! (PL011) r1p5 TRM, §3.2 "Summary of registers" and §3.3 "Register
//! descriptions").

pub(crate) const UARTDR: u64 = 0x000;
pub(crate) const UARTRSR: u64 = 0x004; // and UARTECR on write
pub(crate) const UARTFR: u64 = 0x018;
pub(crate) const UARTILPR: u64 = 0x020;
pub(crate) const UARTIBRD: u64 = 0x024;
pub(crate) const UARTFBRD: u64 = 0x028;
pub(crate) const UARTLCR_H: u64 = 0x02c;
pub(crate) const UARTCR: u64 = 0x030;
pub(crate) const UARTIFLS: u64 = 0x034;
pub(crate) const UARTIMSC: u64 = 0x038;
pub(crate) const UARTRIS: u64 = 0x03c;
pub(crate) const UARTMIS: u64 = 0x040;
pub(crate) const UARTICR: u64 = 0x044;
pub(crate) const UARTDMACR: u64 = 0x048;
/// UARTPeriphID0..3 then UARTPCellID0..3, one byte per word (§3.3.15-§3.3.22
/// region at 0xFE0-0xFFC).
pub(crate) const ID_BLOCK: u64 = 0xfe0;
/// Size of the register frame.
pub(crate) const FRAME_SIZE: u64 = 0x1000;

// UARTFR (§3.3.3). BUSY and TXFF are never set by the model (transmission
// is synchronous); only the tests name them.
#[cfg(test)]
pub(crate) const FR_BUSY: u32 = 1 << 3;
pub(crate) const FR_RXFE: u32 = 1 << 4;
#[cfg(test)]
pub(crate) const FR_TXFF: u32 = 1 << 5;
pub(crate) const FR_RXFF: u32 = 1 << 6;
pub(crate) const FR_TXFE: u32 = 1 << 7;

// UARTLCR_H (§3.3.7).
pub(crate) const LCRH_FEN: u32 = 1 << 4;

// Interrupt bits, shared by UARTIMSC/RIS/MIS/ICR (§3.3.10-§3.3.13).
pub(crate) const INT_RX: u32 = 1 << 4;
pub(crate) const INT_TX: u32 = 1 << 5;
pub(crate) const INT_RT: u32 = 1 << 6;
/// All eleven interrupt bits (modem, RX, TX, RT, errors).
pub(crate) const INT_ALL: u32 = 0x7ff;

// Implemented widths of the stored registers.
pub(crate) const ILPR_MASK: u32 = 0xff;
pub(crate) const IBRD_MASK: u32 = 0xffff;
pub(crate) const FBRD_MASK: u32 = 0x3f;
pub(crate) const LCRH_MASK: u32 = 0xff;
pub(crate) const CR_MASK: u32 = 0xff87;
pub(crate) const IFLS_MASK: u32 = 0x3f;
pub(crate) const DMACR_MASK: u32 = 0x7;

// Reset values (§3.2, Table 3-1).
/// UARTCR: TXE and RXE set, UARTEN clear.
pub(crate) const CR_RESET: u32 = 0x0300;
/// UARTIFLS: both FIFOs trigger at half full.
pub(crate) const IFLS_RESET: u32 = 0x12;

/// UARTPeriphID = 0x00041011 (part 0x011, designer 0x41 'A', revision 0)
/// and UARTPCellID = 0xB105F00D, read a byte per word. Linux's AMBA bus
/// (drivers/amba/bus.c) reads both to bind amba-pl011; with revision 0 the
/// driver assumes 16-entry FIFOs.
pub(crate) const ID_BYTES: [u8; 8] = [0x11, 0x10, 0x04, 0x00, 0x0d, 0xf0, 0x05, 0xb1];

/// FIFO depth the guest driver assumes for this revision (amba-pl011.c:
/// `amba_rev(dev) < 3 ? 16 : 32`); IFLS trigger levels are fractions of it.
pub(crate) const GUEST_FIFO_DEPTH: usize = 16;
