//! Arbitrary serial input and stop reports never panic the stub.
#![no_main]

use gdb_remote::{DebugError, GdbSession, GuestDebug, Regs, ResumePlan, SerialTx, StopCause};
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

#[derive(Clone)]
struct Null;

impl SerialTx for Null {
    fn write_bytes(&mut self, _: &[u8]) {}
}

fuzz_target!(|data: &[u8]| {
    let mut buf = [0u8; 516];
    let mut s = GdbSession::<_, _, 512>::new(Fake { mem: [0; 256] }, Null, &mut buf);
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
                s.console_output(b"guest\n");
            }
            0xf3 => s.flush_console(&mut |_| {}),
            _ => s.on_byte(b, &mut |_| {}),
        }
    }
});
