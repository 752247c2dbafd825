//! Host tests: the access sequence Linux's AMBA bus and amba-pl011 driver
//! perform, plus register-level edge cases.

use super::regs::*;
use super::*;

/// Collects transmitted bytes.
#[derive(Default)]
struct Sink(Vec<u8>);

impl Sink {
    fn tx(&mut self) -> impl FnMut(u8) + '_ {
        |b| self.0.push(b)
    }
}

fn r(u: &mut VPl011, off: u64) -> u32 {
    u.mmio_read(off, 4).unwrap()
}

fn w(u: &mut VPl011, off: u64, v: u32) {
    u.mmio_write(off, 4, v, &mut |_| {}).unwrap();
}

#[test]
fn amba_probe_reads_ids() {
    let mut u = VPl011::new();
    // drivers/amba/bus.c: readl of the four PeriphID then CellID words at
    // size - 0x20 and size - 0x10, keeping the low byte of each.
    let mut pid = 0u32;
    let mut cid = 0u32;
    for i in 0..4u64 {
        pid |= (r(&mut u, 0xfe0 + 4 * i) & 0xff) << (8 * i);
        cid |= (r(&mut u, 0xff0 + 4 * i) & 0xff) << (8 * i);
    }
    assert_eq!(pid, 0x0004_1011);
    assert_eq!(cid, 0xb105_f00d);
    // amba_rev() = bits [23:20] → 0 → 16-byte FIFOs in the driver.
    assert_eq!((pid >> 20) & 0xf, 0);
}

#[test]
fn reset_state() {
    let mut u = VPl011::new();
    assert_eq!(r(&mut u, UARTCR), CR_RESET);
    assert_eq!(r(&mut u, UARTIFLS), IFLS_RESET);
    assert_eq!(r(&mut u, UARTFR), FR_TXFE | FR_RXFE);
    assert_eq!(r(&mut u, UARTIMSC), 0);
    assert!(!u.interrupt_line());
}

/// pl011_startup() → pl011_hwinit(), pl011_enable_interrupts(), then
/// pl011_set_termios(), console writes, a received line and the IRQ path,
/// with the 16-bit accesses Linux uses for UPIO_MEM.
#[test]
fn linux_startup_write_read_interrupt() {
    let mut u = VPl011::new();
    let mut out = Sink::default();
    let w16 = |u: &mut VPl011, off: u64, v: u32, out: &mut Sink| {
        u.mmio_write(off, 2, v, &mut out.tx()).unwrap()
    };
    let r16 = |u: &mut VPl011, off: u64| u.mmio_read(off, 2).unwrap();

    // pl011_hwinit: clear errors/RX, save IMSC, enable RTIM|RXIM.
    w16(&mut u, UARTICR, 0x7c0 | INT_RT | INT_RX, &mut out);
    let im = r16(&mut u, UARTIMSC);
    assert_eq!(im, 0);
    w16(&mut u, UARTIMSC, INT_RT | INT_RX, &mut out);
    // pl011_startup: IFLS, CR = UARTEN | RXE | TXE.
    w16(&mut u, UARTIFLS, 0x12, &mut out);
    w16(&mut u, UARTCR, 0x301, &mut out);
    assert_eq!(r16(&mut u, UARTCR), 0x301);
    // pl011_enable_interrupts: clear RX, drain while !RXFE.
    w16(&mut u, UARTICR, INT_RT | INT_RX, &mut out);
    assert_ne!(r16(&mut u, UARTFR) & FR_RXFE, 0);
    w16(&mut u, UARTIMSC, INT_RT | INT_RX, &mut out);
    // set_termios: baud divisors then LCR_H with FIFOs, 8N1.
    w16(&mut u, UARTIBRD, 13, &mut out);
    w16(&mut u, UARTFBRD, 1, &mut out);
    w16(&mut u, UARTLCR_H, 0x70, &mut out);
    assert_eq!(r16(&mut u, UARTLCR_H), 0x70);
    assert_eq!(r16(&mut u, UARTIBRD), 13);
    assert!(!u.interrupt_line(), "TX latched but masked, RX empty");

    // pl011_start_tx_pio → pl011_tx_chars(from_irq = false): write while
    // !TXFF. Everything goes out in one pass, TXIM never needed.
    for &b in b"login: " {
        assert_eq!(r16(&mut u, UARTFR) & FR_TXFF, 0);
        w16(&mut u, UARTDR, u32::from(b), &mut out);
    }
    assert_eq!(out.0, b"login: ");
    // pl011_tx_empty: neither BUSY nor TXFF.
    assert_eq!(r16(&mut u, UARTFR) & (FR_BUSY | FR_TXFF), 0);

    // Host input: a single character is below the RX trigger (8 of 16)
    // but the emulated receive timeout fires at once.
    assert!(u.push_rx(b'r'));
    assert!(u.interrupt_line());
    let mis = r16(&mut u, UARTMIS);
    assert_eq!(mis, INT_RT);
    assert_eq!(r16(&mut u, UARTRIS) & INT_TX, INT_TX);
    for &b in b"oot\n" {
        u.push_rx(b);
    }
    // pl011_int: status = RIS & im; clear the non-RX/TX bits; read FIFO.
    let status = r16(&mut u, UARTRIS) & (INT_RT | INT_RX);
    assert_eq!(status, INT_RT, "5 characters: still below 8");
    w16(
        &mut u,
        UARTICR,
        status & !(INT_TX | INT_RT | INT_RX),
        &mut out,
    );
    let mut line = Vec::new();
    while r16(&mut u, UARTFR) & FR_RXFE == 0 {
        let dr = r16(&mut u, UARTDR);
        assert_eq!(dr & 0xf00, 0, "no error flags");
        line.push(dr as u8);
    }
    assert_eq!(line, b"root\n");
    assert_eq!(r16(&mut u, UARTRIS) & (INT_RT | INT_RX), 0);
    assert!(!u.interrupt_line());
}

#[test]
fn tx_interrupt_path_does_not_stall() {
    let mut u = VPl011::new();
    let mut out = Sink::default();
    // If the driver enables TXIM, the interrupt is already asserted.
    w(&mut u, UARTIMSC, INT_TX);
    assert!(u.interrupt_line());
    // pl011_tx_chars(from_irq = true) writes fifosize/2 bytes per IRQ...
    for b in 0..8u8 {
        u.mmio_write(UARTDR, 4, u32::from(b'a' + b), &mut out.tx())
            .unwrap();
    }
    // ...and is called again while TXIS stays set.
    assert!(u.interrupt_line());
    // pl011_stop_tx masks TXIM when the buffer is empty.
    w(&mut u, UARTIMSC, 0);
    assert!(!u.interrupt_line());
    assert_eq!(out.0, b"abcdefgh");
    // An explicit ICR.TXIC clears it until the next write.
    w(&mut u, UARTICR, INT_TX);
    assert_eq!(r(&mut u, UARTRIS) & INT_TX, 0);
    u.mmio_write(UARTDR, 1, u32::from(b'!'), &mut out.tx())
        .unwrap();
    assert_eq!(r(&mut u, UARTRIS) & INT_TX, INT_TX);
}

#[test]
fn rx_trigger_levels_and_full() {
    let mut u = VPl011::new();
    w(&mut u, UARTLCR_H, LCRH_FEN);
    w(&mut u, UARTIMSC, INT_RX);
    for i in 0..7 {
        u.push_rx(i);
    }
    assert!(!u.interrupt_line(), "7 < 8 (half of 16)");
    u.push_rx(7);
    assert!(u.interrupt_line());
    // 1/8 trigger: 2 characters.
    w(&mut u, UARTIFLS, 0);
    assert_eq!(r(&mut u, UARTRIS) & INT_RX, INT_RX);
    while u.push_rx(0) {}
    assert_eq!(u.rx_space(), 0);
    assert_ne!(r(&mut u, UARTFR) & FR_RXFF, 0);
    // Disabling the FIFOs flushes them.
    w(&mut u, UARTLCR_H, 0);
    assert_ne!(r(&mut u, UARTFR) & FR_RXFE, 0);
    // Character mode: one byte is "full".
    u.push_rx(b'x');
    assert_ne!(r(&mut u, UARTFR) & FR_RXFF, 0);
    assert_eq!(r(&mut u, UARTRIS) & INT_RX, INT_RX);
}

#[test]
fn narrow_and_bad_accesses() {
    let mut u = VPl011::new();
    let mut out = Sink::default();
    // Byte write to the upper byte of CR merges.
    u.mmio_write(UARTCR + 1, 1, 0x0c, &mut out.tx()).unwrap();
    assert_eq!(r(&mut u, UARTCR), 0x0c00);
    assert_eq!(u.mmio_read(UARTCR + 1, 1).unwrap(), 0x0c);
    // A write to DR's upper bytes transmits nothing.
    u.mmio_write(UARTDR + 2, 2, 0x41, &mut out.tx()).unwrap();
    assert!(out.0.is_empty());
    // Reading DR's flag byte does not pop.
    u.push_rx(b'z');
    assert_eq!(u.mmio_read(UARTDR + 1, 1).unwrap(), 0);
    assert_eq!(u.mmio_read(UARTDR, 1).unwrap(), u32::from(b'z'));
    // Read-only and reserved locations.
    w(&mut u, UARTFR, 0);
    assert_eq!(r(&mut u, UARTFR), FR_TXFE | FR_RXFE);
    assert_eq!(r(&mut u, 0x80), 0);
    w(&mut u, 0xfe0, 0);
    assert_eq!(r(&mut u, 0xfe0), 0x11);
    // Refused shapes.
    assert_eq!(
        u.mmio_read(0, 8),
        Err(AccessError::BadWidth { offset: 0, size: 8 })
    );
    assert_eq!(
        u.mmio_read(2, 4),
        Err(AccessError::Misaligned { offset: 2, size: 4 })
    );
    assert_eq!(
        u.mmio_read(0x1000, 4),
        Err(AccessError::OutOfRange { offset: 0x1000 })
    );
    assert!(u.mmio_write(0, 3, 0, &mut out.tx()).is_err());
}
