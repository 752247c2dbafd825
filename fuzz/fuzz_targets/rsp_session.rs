//! Arbitrary serial input and stop reports never panic the stub, and
//! everything it sends is well-formed RSP: acknowledgements (`+`, `-`) and
//! complete `$payload#xx` packets with correct checksums, so a debugger
//! never sees a torn or corrupt packet whatever it (or line noise) sent.
#![no_main]

use std::cell::RefCell;
use std::rc::Rc;

use gdb_remote::encode::checksum;
use gdb_remote::{
    ConsoleRoute, DebugError, GdbSession, GuestDebug, Regs, ResumePlan, SerialTx, StopCause,
};
use libfuzzer_sys::fuzz_target;

struct Fake {
    mem: [u8; 256],
}

impl GuestDebug for Fake {
    fn vcpu_count(&self) -> usize {
        4
    }
    fn read_regs(&mut self, vcpu: usize, regs: &mut Regs) -> Result<(), DebugError> {
        regs.pc = 0x4000_0000 + vcpu as u64 * 4;
        Ok(())
    }
    fn write_regs(&mut self, _: usize, _: &Regs) -> Result<(), DebugError> {
        Ok(())
    }
    fn read_mem(&mut self, _: usize, va: u64, buf: &mut [u8]) -> Result<usize, DebugError> {
        let off = usize::try_from(va).map_err(|_| DebugError::Fault)?;
        let src = self.mem.get(off..).ok_or(DebugError::Fault)?;
        let n = src.len().min(buf.len());
        buf[..n].copy_from_slice(&src[..n]);
        Ok(n)
    }
    fn write_mem(&mut self, _: usize, va: u64, data: &[u8]) -> Result<(), DebugError> {
        let off = usize::try_from(va).map_err(|_| DebugError::Fault)?;
        let dst = self
            .mem
            .get_mut(off..off.saturating_add(data.len()))
            .ok_or(DebugError::Fault)?;
        dst.copy_from_slice(data);
        Ok(())
    }
    fn set_sw_break(&mut self, _: u64) -> Result<(), DebugError> {
        Ok(())
    }
    fn clear_sw_break(&mut self, _: u64) -> Result<(), DebugError> {
        Ok(())
    }
    fn resume(&mut self, _: &ResumePlan) -> Result<(), DebugError> {
        Ok(())
    }
    fn stop_all(&mut self) {}
}

/// Collects what the stub transmits.
#[derive(Clone, Default)]
struct Wire(Rc<RefCell<Vec<u8>>>);

impl SerialTx for Wire {
    fn write_bytes(&mut self, bytes: &[u8]) {
        self.0.borrow_mut().extend_from_slice(bytes);
    }
}

fuzz_target!(
    init: fuzz_support::seed_corpus("rsp_session", fuzz_support::rsp_seeds::session_seeds),
    |data: &[u8]| {
        let mut buf = [0u8; 516];
        let wire = Wire::default();
        let mut s = GdbSession::<_, _, 512>::new(Fake { mem: [0; 256] }, wire.clone(), &mut buf);
        for &b in data {
            match b {
                // Rare control bytes double as "the hypervisor reports a stop".
                0xf0 => {
                    s.report_stop(1, StopCause::SwBreak);
                }
                0xf1 => {
                    s.report_stop(7, StopCause::Step);
                }
                0xf2 => {
                    // Guest console output shares the wire: raw while no
                    // debugger is attached (then not RSP, so taken off the
                    // wire before the framing check), else `O` packets or
                    // nothing at all.
                    let before = wire.0.borrow().len();
                    let route = s.console_output(b"guest\n");
                    let mut w = wire.0.borrow_mut();
                    match route {
                        ConsoleRoute::Raw => {
                            assert_eq!(&w[before..], b"guest\n");
                            w.truncate(before);
                        }
                        ConsoleRoute::Held => assert_eq!(w.len(), before),
                        ConsoleRoute::Wrapped => assert!(w.len() > before),
                    }
                }
                0xf3 => s.flush_console(&mut |_| {}),
                _ => s.on_byte(b, &mut |_| {}),
            }
        }
        check_framing(&wire.0.borrow());
    }
);

/// The transmitted stream splits into `+`, `-` and `$...#xx` packets whose
/// checksum matches (GDB's "Overview" of the remote protocol).
fn check_framing(out: &[u8]) {
    let mut rest = out;
    while let Some((&first, tail)) = rest.split_first() {
        match first {
            b'+' | b'-' => rest = tail,
            b'$' => {
                let end = tail.iter().position(|&c| c == b'#').unwrap_or_else(|| {
                    panic!("unterminated packet in {:?}", String::from_utf8_lossy(out))
                });
                let (payload, after) = tail.split_at(end);
                assert!(!payload.contains(&b'$'), "packet inside a packet");
                let sum = after.get(1..3).expect("checksum digits");
                let sum = std::str::from_utf8(sum)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                assert_eq!(
                    sum,
                    Some(checksum(payload)),
                    "bad checksum on {:?}",
                    String::from_utf8_lossy(payload)
                );
                rest = &after[3..];
            }
            other => panic!(
                "stray byte {other:#04x} on the wire: {:?}",
                String::from_utf8_lossy(out)
            ),
        }
    }
}
