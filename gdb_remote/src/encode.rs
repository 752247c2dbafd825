//! RSP framing: `$payload#xx`, and console output as `O<hex>` packets.
//!
//! Everything writes through a `FnMut(u8)` so that the caller decides where
//! bytes go (a UART FIFO, a buffer, a socket) and nothing allocates.

/// The RSP checksum: the sum of the payload bytes modulo 256.
pub fn checksum(payload: &[u8]) -> u8 {
    payload.iter().fold(0u8, |a, &b| a.wrapping_add(b))
}

/// A nibble as a lower-case hex digit.
pub fn hex_digit(nibble: u8) -> u8 {
    b"0123456789abcdef"[usize::from(nibble & 0xf)]
}

/// Writes `$payload#xx`. The payload is sent as is: it must already be
/// escaped if it carries binary data (`#`, `$`, `}` and `*` are escaped as
/// `}` followed by the byte XOR 0x20).
pub fn encode_packet(payload: &[u8], out: &mut impl FnMut(u8)) {
    out(b'$');
    for &b in payload {
        out(b);
    }
    let sum = checksum(payload);
    out(b'#');
    out(hex_digit(sum >> 4));
    out(hex_digit(sum));
}

/// Console bytes per `O` packet in [`encode_console_output`]: a 513-byte
/// payload, well inside any stub's `PacketSize`, and short enough that the
/// debugger sees output promptly.
pub const CONSOLE_CHUNK: usize = 256;

/// Writes `bytes` as GDB console output: one `O<hex>` packet per
/// [`CONSOLE_CHUNK`] bytes. Nothing is written for an empty slice.
///
/// Only send these while GDB waits for a stop reply (the target runs); at
/// other times GDB would take them as the answer to its last command.
pub fn encode_console_output(bytes: &[u8], out: &mut impl FnMut(u8)) {
    encode_console_output_chunked(bytes, CONSOLE_CHUNK, out)
}

/// [`encode_console_output`] with `chunk` console bytes per packet (at
/// least 1).
pub fn encode_console_output_chunked(bytes: &[u8], chunk: usize, out: &mut impl FnMut(u8)) {
    for part in bytes.chunks(chunk.max(1)) {
        let mut sum = b'O';
        out(b'$');
        out(b'O');
        for &b in part {
            let (hi, lo) = (hex_digit(b >> 4), hex_digit(b));
            sum = sum.wrapping_add(hi).wrapping_add(lo);
            out(hi);
            out(lo);
        }
        out(b'#');
        out(hex_digit(sum >> 4));
        out(hex_digit(sum));
    }
}

/// Not an even number of hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadHex;

/// Decodes the hex of an `O` packet payload (without the `O`), calling `out`
/// per byte. Fails on an odd length or a non-hex digit, having written the
/// bytes before it.
pub fn decode_hex(hex: &[u8], out: &mut impl FnMut(u8)) -> Result<(), BadHex> {
    if !hex.len().is_multiple_of(2) {
        return Err(BadHex);
    }
    for pair in hex.chunks_exact(2) {
        let hi = crate::demux::hex_value(pair[0]).ok_or(BadHex)?;
        let lo = crate::demux::hex_value(pair[1]).ok_or(BadHex)?;
        out((hi << 4) | lo);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demux::{Demux, Event};

    fn collect(f: impl FnOnce(&mut dyn FnMut(u8))) -> Vec<u8> {
        let mut v = Vec::new();
        f(&mut |b| v.push(b));
        v
    }

    #[test]
    fn known_packets() {
        assert_eq!(collect(|o| encode_packet(b"OK", &mut |b| o(b))), b"$OK#9a");
        assert_eq!(collect(|o| encode_packet(b"", &mut |b| o(b))), b"$#00");
        assert_eq!(
            collect(|o| encode_packet(b"qSupported", &mut |b| o(b))),
            b"$qSupported#37"
        );
        assert_eq!(
            collect(|o| encode_console_output(b"hi\n", &mut |b| o(b))),
            b"$O68690a#bd"
        );
        assert!(collect(|o| encode_console_output(b"", &mut |b| o(b))).is_empty());
    }

    #[test]
    fn packet_round_trips_through_demux() {
        let payloads: [&[u8]; 4] = [b"", b"g", b"m40080000,40", b"qRcmd,7663707573"];
        for p in payloads {
            let frame = collect(|o| encode_packet(p, &mut |b| o(b)));
            let mut d = Demux::<64>::new();
            let mut got = None;
            for &b in &frame {
                for e in d.push(b, false) {
                    match e {
                        Event::Packet(x) => got = Some(x.to_vec()),
                        other => panic!("{other:?}"),
                    }
                }
            }
            assert_eq!(got.as_deref(), Some(p));
        }
    }

    #[test]
    fn console_output_round_trips_and_is_chunked() {
        let text: Vec<u8> = (0..=255u8).cycle().take(700).collect();
        let frames = collect(|o| encode_console_output_chunked(&text, 300, &mut |b| o(b)));
        let mut d = Demux::<1024>::new();
        let mut decoded = Vec::new();
        let mut packets = 0;
        for &b in &frames {
            for e in d.push(b, true) {
                match e {
                    Event::Packet(p) => {
                        packets += 1;
                        assert_eq!(p[0], b'O');
                        assert!(p.len() <= 1 + 2 * 300);
                        decode_hex(&p[1..], &mut |b| decoded.push(b)).unwrap();
                    }
                    other => panic!("{other:?}"),
                }
            }
        }
        assert_eq!(packets, 3);
        assert_eq!(decoded, text);
    }

    #[test]
    fn decode_hex_rejects_garbage() {
        assert!(decode_hex(b"abc", &mut |_| {}).is_err());
        assert!(decode_hex(b"zz", &mut |_| {}).is_err());
        let mut v = Vec::new();
        decode_hex(b"4F6b", &mut |b| v.push(b)).unwrap();
        assert_eq!(v, b"Ok");
    }
}
