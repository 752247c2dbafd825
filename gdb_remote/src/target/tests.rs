//! End-to-end: real RSP packets through `GdbSession` (demux + gdbstub state
//! machine) against a fake 4-vCPU guest.

use super::*;
use crate::encode::{decode_hex, encode_packet};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

const MEM_BASE: u64 = 0x4008_0000;
const MEM_SIZE: usize = 0x1000;

#[derive(Default)]
struct Fake {
    regs: Vec<Regs>,
    mem: Vec<u8>,
    sw: BTreeSet<u64>,
    watches: Vec<(u64, u64, WatchKind)>,
    resumes: Vec<ResumePlan>,
    stops: u32,
    attaches: u32,
    detaches: Vec<bool>,
    running: bool,
}

impl Fake {
    fn new() -> Self {
        let regs = (0..4u64)
            .map(|v| {
                let mut r = Regs::default();
                for (i, x) in r.x.iter_mut().enumerate() {
                    *x = v << 32 | i as u64;
                }
                r.sp = 0x4010_0000 + v * 0x1000;
                r.pc = 0x4000_0000 + v * 0x100;
                r.cpsr = 0x3c5; // EL1h, DAIF masked
                r.v[0] = u128::from(v) << 64 | 0xfeed;
                r.fpsr = 0x10;
                r
            })
            .collect();
        Self {
            regs,
            mem: (0..MEM_SIZE).map(|i| (i * 7) as u8).collect(),
            ..Default::default()
        }
    }

    fn range(&self, va: u64, len: usize) -> Result<core::ops::Range<usize>, DebugError> {
        let off = va.checked_sub(MEM_BASE).ok_or(DebugError::Fault)? as usize;
        if off >= MEM_SIZE {
            return Err(DebugError::Fault);
        }
        Ok(off..(off + len).min(MEM_SIZE))
    }
}

impl GuestDebug for Fake {
    fn vcpu_count(&self) -> usize {
        self.regs.len()
    }
    fn read_regs(&mut self, vcpu: usize, regs: &mut Regs) -> Result<(), DebugError> {
        *regs = self.regs.get(vcpu).ok_or(DebugError::NoVcpu)?.clone();
        Ok(())
    }
    fn write_regs(&mut self, vcpu: usize, regs: &Regs) -> Result<(), DebugError> {
        *self.regs.get_mut(vcpu).ok_or(DebugError::NoVcpu)? = regs.clone();
        Ok(())
    }
    fn read_mem(&mut self, _vcpu: usize, va: u64, buf: &mut [u8]) -> Result<usize, DebugError> {
        let r = self.range(va, buf.len())?;
        let n = r.len();
        buf[..n].copy_from_slice(&self.mem[r]);
        Ok(n)
    }
    fn write_mem(&mut self, _vcpu: usize, va: u64, data: &[u8]) -> Result<(), DebugError> {
        let r = self.range(va, data.len())?;
        if r.len() != data.len() {
            return Err(DebugError::Fault);
        }
        self.mem[r].copy_from_slice(data);
        Ok(())
    }
    fn set_sw_break(&mut self, va: u64) -> Result<(), DebugError> {
        self.range(va, 4)?;
        self.sw.insert(va);
        Ok(())
    }
    fn clear_sw_break(&mut self, va: u64) -> Result<(), DebugError> {
        self.sw.remove(&va);
        Ok(())
    }
    fn set_watch(&mut self, va: u64, len: u64, kind: WatchKind) -> Result<(), DebugError> {
        if self.watches.len() == 2 {
            return Err(DebugError::NoResources);
        }
        self.watches.push((va, len, kind));
        Ok(())
    }
    fn clear_watch(&mut self, va: u64, len: u64, kind: WatchKind) -> Result<(), DebugError> {
        self.watches.retain(|w| *w != (va, len, kind));
        Ok(())
    }
    fn resume(&mut self, plan: &ResumePlan) -> Result<(), DebugError> {
        self.resumes.push(*plan);
        self.running = true;
        Ok(())
    }
    fn stop_all(&mut self) {
        self.stops += 1;
        self.running = false;
    }
    fn attach(&mut self) {
        self.attaches += 1;
        self.stop_all();
    }
    fn detach(&mut self, killed: bool) {
        self.detaches.push(killed);
        self.sw.clear();
        self.running = true;
    }
    fn monitor_s2(&mut self, ipa: u64, out: &mut dyn fmt::Write) -> fmt::Result {
        writeln!(
            out,
            "IPA {ipa:#x} -> PA {:#x} (RW, normal)",
            ipa + 0x1000_0000
        )
    }
}

#[derive(Clone, Default)]
struct Wire(Rc<RefCell<Vec<u8>>>);

impl SerialTx for Wire {
    fn write_bytes(&mut self, bytes: &[u8]) {
        self.0.borrow_mut().extend_from_slice(bytes);
    }
}

const MAX: usize = 4096;

/// What came out of the stub, split into RSP tokens.
#[derive(Debug, PartialEq)]
enum Tok {
    Ack,
    Nak,
    /// Payload with run-length encoding expanded; checksum verified.
    Pkt(String),
}

fn tokens(raw: &[u8]) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(Tok::Ack),
            b'-' => out.push(Tok::Nak),
            b'$' => {
                let end = i + raw[i..].iter().position(|&b| b == b'#').expect("no #");
                let body = &raw[i + 1..end];
                let sum =
                    u8::from_str_radix(std::str::from_utf8(&raw[end + 1..end + 3]).unwrap(), 16)
                        .unwrap();
                assert_eq!(checksum(body), sum, "bad checksum from stub");
                let mut p = Vec::new();
                let mut j = 0;
                while j < body.len() {
                    if body[j] == b'*' {
                        let last = *p.last().unwrap();
                        for _ in 0..(body[j + 1] - 29) {
                            p.push(last);
                        }
                        j += 2;
                    } else {
                        p.push(body[j]);
                        j += 1;
                    }
                }
                out.push(Tok::Pkt(String::from_utf8_lossy(&p).into_owned()));
                i = end + 2;
            }
            other => panic!(
                "stray byte {other:#x} from stub in {:?}",
                String::from_utf8_lossy(raw)
            ),
        }
        i += 1;
    }
    out
}

struct Gdb {
    s: GdbSession<'static, Fake, Wire, MAX>,
    wire: Wire,
    console: Vec<u8>,
}

impl Gdb {
    fn new() -> Self {
        let wire = Wire::default();
        let buf = Box::leak(vec![0u8; MAX + 4].into_boxed_slice());
        Self {
            s: GdbSession::new(Fake::new(), wire.clone(), buf),
            wire,
            console: Vec::new(),
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        let console = &mut self.console;
        for &b in bytes {
            self.s.on_byte(b, &mut |c| console.push(c));
        }
    }

    fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut *self.wire.0.borrow_mut())
    }

    /// Sends a packet as GDB does and returns the stub's answer: `+`, then
    /// the reply packets (acknowledged, as GDB would).
    fn cmd(&mut self, payload: &str) -> Vec<String> {
        let mut frame = Vec::new();
        encode_packet(payload.as_bytes(), &mut |b| frame.push(b));
        self.feed(&frame);
        let toks = tokens(&self.take());
        assert_eq!(
            toks.first(),
            Some(&Tok::Ack),
            "no ack for {payload}: {toks:?}"
        );
        let pkts: Vec<String> = toks[1..]
            .iter()
            .map(|t| match t {
                Tok::Pkt(p) => p.clone(),
                other => panic!("{other:?} after {payload}"),
            })
            .collect();
        for _ in &pkts {
            self.feed(b"+");
        }
        assert!(self.take().is_empty());
        pkts
    }

    /// A command with exactly one reply.
    fn one(&mut self, payload: &str) -> String {
        let r = self.cmd(payload);
        assert_eq!(r.len(), 1, "{payload}: {r:?}");
        r.into_iter().next().unwrap()
    }

    fn guest(&mut self) -> &mut Fake {
        self.s.guest()
    }
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    let mut v = Vec::new();
    decode_hex(s.as_bytes(), &mut |b| v.push(b)).unwrap();
    v
}

fn le64(bytes: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(bytes[off..off + 8].try_into().unwrap())
}

/// Attaches like GDB 13 does.
fn attached() -> Gdb {
    let mut g = Gdb::new();
    g.feed(b"+");
    assert_eq!(
        g.console, b"+",
        "a stray + before attaching is console text"
    );
    g.console.clear();
    let sup = g.one("qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;vContSupported+");
    assert!(g.s.attached());
    assert!(sup.contains(&format!("PacketSize={:x}", MAX + 4)), "{sup}");
    assert!(
        sup.contains("vContSupported+") && sup.contains("multiprocess+"),
        "{sup}"
    );
    assert!(sup.contains("qXfer:features:read+"), "{sup}");
    assert!(!sup.contains("QStartNoAckMode"), "acks stay on: {sup}");
    assert!(!sup.contains("fork-events"), "{sup}");
    assert_eq!(g.guest().attaches, 1);
    assert!(!g.guest().running);
    g
}

#[test]
fn attach_query_threads_registers_memory() {
    let mut g = attached();
    assert_eq!(g.one("?"), "T05thread:p01.01;");
    assert_eq!(g.one("qfThreadInfo"), "mp01.01,p01.02,p01.03,p01.04");
    assert_eq!(g.one("qsThreadInfo"), "l");
    assert_eq!(g.one("Tp1.3"), "OK");
    assert!(g.one("Tp1.9").starts_with('E'));
    let info = g.one("qThreadExtraInfo,p1.3");
    assert_eq!(unhex(&info), b"vCPU 2");

    // registers of vCPU 1 (thread 2)
    assert_eq!(g.one("Hgp1.2"), "OK");
    let regs = unhex(&g.one("g"));
    assert_eq!(regs.len(), 31 * 8 + 8 + 8 + 4 + 32 * 16 + 4 + 4);
    assert_eq!(le64(&regs, 0), 1 << 32);
    assert_eq!(le64(&regs, 5 * 8), 1 << 32 | 5);
    assert_eq!(le64(&regs, 31 * 8), 0x4010_1000, "sp");
    assert_eq!(le64(&regs, 32 * 8), 0x4000_0100, "pc");

    // write them back with x0 changed, on vCPU 3
    assert_eq!(g.one("Hgp1.4"), "OK");
    let mut regs = unhex(&g.one("g"));
    regs[..8].copy_from_slice(&0xdead_beefu64.to_le_bytes());
    let hexregs: String = regs.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(g.one(&format!("G{hexregs}")), "OK");
    assert_eq!(g.guest().regs[3].x[0], 0xdead_beef);
    assert_eq!(g.guest().regs[3].pc, 0x4000_0300);

    // memory
    let m = unhex(&g.one("m40080010,8"));
    assert_eq!(m, (16..24).map(|i| (i * 7) as u8).collect::<Vec<_>>());
    assert_eq!(g.one("M40080000,4:d4200000"), "OK");
    assert_eq!(g.one("m40080000,4"), "d4200000");
    // a read that runs off the end is short; an unmapped one fails
    assert_eq!(unhex(&g.one("m40080ffe,4")).len(), 2);
    assert!(g.one("m10,4").starts_with('E'));
    assert!(g.one("M10,1:00").starts_with('E'));
    // binary write (X) with bytes that need escaping and raw newlines
    let mut x = b"X40080020,4:".to_vec();
    x.extend([b'}', b'#' ^ 0x20, b'\n', 0x03, b'+']);
    let mut frame = Vec::new();
    encode_packet(&x, &mut |b| frame.push(b));
    g.feed(&frame);
    assert_eq!(tokens(&g.take()), vec![Tok::Ack, Tok::Pkt("OK".into())]);
    g.feed(b"+");
    assert_eq!(&g.guest().mem[0x20..0x24], b"#\n\x03+");
    assert!(g.console.is_empty(), "{:?}", g.console);
}

#[test]
fn target_description_is_served() {
    let mut g = attached();
    let mut xml = String::new();
    let mut off = 0;
    loop {
        let r = g.one(&format!("qXfer:features:read:target.xml:{off:x},400"));
        let (kind, data) = r.split_at(1);
        xml.push_str(data);
        off += data.len();
        if kind == "l" {
            break;
        }
        assert_eq!(kind, "m");
    }
    assert!(xml.contains("<architecture>aarch64</architecture>"));
    assert!(xml.contains("org.gnu.gdb.aarch64.core"));
}

#[test]
fn breakpoints_and_watchpoints() {
    let mut g = attached();
    assert_eq!(g.one("Z0,40080010,4"), "OK");
    assert_eq!(g.one("Z0,40080020,4"), "OK");
    assert_eq!(g.guest().sw, BTreeSet::from([0x4008_0010, 0x4008_0020]));
    assert_eq!(g.one("z0,40080010,4"), "OK");
    assert_eq!(g.guest().sw, BTreeSet::from([0x4008_0020]));
    assert!(g.one("Z0,10,4").starts_with('E'), "unmapped");
    // hardware breakpoints are not implemented by the fake
    assert!(g.one("Z1,40080000,4").starts_with('E'));
    assert_eq!(g.one("Z2,40080100,8"), "OK");
    assert_eq!(g.one("Z3,40080200,4"), "OK");
    assert!(g.one("Z4,40080300,4").starts_with('E'), "out of slots");
    assert_eq!(
        g.guest().watches,
        vec![
            (0x4008_0100, 8, WatchKind::Write),
            (0x4008_0200, 4, WatchKind::Read)
        ]
    );
    assert_eq!(g.one("z2,40080100,8"), "OK");
    assert_eq!(g.guest().watches.len(), 1);
}

#[test]
fn step_continue_interrupt_and_stop_replies() {
    let mut g = attached();
    assert!(g.one("vCont?").starts_with("vCont;c;C;s;S"));

    // step vCPU 1, others continue: no reply until the stop
    assert!(g.cmd("vCont;s:p1.2;c").is_empty());
    assert!(g.s.running());
    let plan = *g.guest().resumes.last().unwrap();
    assert_eq!(plan.mode(1), Some(ResumeMode::Step));
    assert_eq!(plan.mode(0), Some(ResumeMode::Continue));
    assert_eq!(plan.mode(3), Some(ResumeMode::Continue));
    assert!(g.s.report_stop(1, StopCause::Step));
    assert_eq!(
        tokens(&g.take()),
        vec![Tok::Pkt("T05thread:p01.02;".into())]
    );
    g.feed(b"+");
    assert!(!g.s.running());
    assert!(!g.s.report_stop(1, StopCause::Step), "GDB is not waiting");

    // scheduler locking: only vCPU 2 steps, the others stay stopped
    assert!(g.cmd("vCont;s:p1.3").is_empty());
    let plan = *g.guest().resumes.last().unwrap();
    assert_eq!(plan.mode(2), Some(ResumeMode::Step));
    assert_eq!(plan.mode(0), None);
    g.s.report_stop(2, StopCause::Step);
    assert_eq!(
        tokens(&g.take()),
        vec![Tok::Pkt("T05thread:p01.03;".into())]
    );
    g.feed(b"+");

    // continue; a breakpoint hit on vCPU 3
    assert!(g.cmd("vCont;c").is_empty());
    assert!(g.guest().running);
    let stops = g.guest().stops;
    g.s.report_stop(3, StopCause::SwBreak);
    assert_eq!(
        tokens(&g.take()),
        vec![Tok::Pkt("T05thread:p01.04;swbreak:;".into())]
    );
    assert_eq!(g.guest().stops, stops + 1, "all vCPUs stopped");
    g.feed(b"+");

    // watchpoint
    assert!(g.cmd("c").is_empty());
    g.s.report_stop(
        0,
        StopCause::Watch {
            kind: WatchKind::Write,
            addr: 0x4008_0100,
        },
    );
    assert_eq!(
        tokens(&g.take()),
        vec![Tok::Pkt("T05thread:p01.01;watch:40080100;".into())]
    );
    g.feed(b"+");

    // continue, then Ctrl-C from GDB
    assert!(g.cmd("vCont;c").is_empty());
    g.feed(b"\x03");
    assert_eq!(
        tokens(&g.take()),
        vec![Tok::Pkt("T02thread:p01.01;".into())]
    );
    g.feed(b"+");
    assert!(!g.guest().running && !g.s.running());
    assert_eq!(g.one("Hgp1.1"), "OK");

    // Ctrl-C while stopped: no reply, and the next continue really runs
    g.feed(b"\x03");
    assert!(g.take().is_empty());
    assert!(g.cmd("vCont;c").is_empty());
    assert!(g.guest().running && g.s.running());
    g.s.report_stop(0, StopCause::SwBreak);
    assert_eq!(
        tokens(&g.take()),
        vec![Tok::Pkt("T05thread:p01.01;swbreak:;".into())]
    );
    assert!(g.console.is_empty());
}

#[test]
fn console_output_routing() {
    let mut g = Gdb::new();
    assert_eq!(g.s.console_output(b"boot\n"), ConsoleRoute::Raw);
    assert_eq!(g.take(), b"boot\n");
    let mut g = attached();
    assert_eq!(g.s.console_output(b"x"), ConsoleRoute::Held, "stopped");
    assert!(g.take().is_empty());
    g.cmd("vCont;c");
    assert_eq!(g.s.console_output(b"login: "), ConsoleRoute::Wrapped);
    assert_eq!(
        tokens(&g.take()),
        vec![Tok::Pkt(format!("O{}", hex("login: ")))]
    );
    g.feed(b"+");
    // a NAK resends the last packet
    g.feed(b"-");
    assert_eq!(
        tokens(&g.take()),
        vec![Tok::Pkt(format!("O{}", hex("login: ")))]
    );
    let long = vec![b'a'; 600];
    g.s.console_output(&long);
    let toks = tokens(&g.take());
    assert_eq!(toks.len(), 3);
    assert_eq!(g.s.stats().naks, 1);
}

#[test]
fn monitor_commands() {
    let mut g = attached();
    let text = |r: Vec<String>| -> String {
        assert_eq!(r.last().map(String::as_str), Some("OK"));
        r[..r.len() - 1]
            .iter()
            .map(|p| String::from_utf8(unhex(&p[1..])).unwrap())
            .collect()
    };
    let out = text(g.cmd(&format!("qRcmd,{}", hex("vcpus"))));
    assert_eq!(out.lines().count(), 4, "{out}");
    assert!(
        out.contains("vCPU 2: pc=0x40000200 sp=0x40102000 EL1"),
        "{out}"
    );
    let out = text(g.cmd(&format!("qRcmd,{}", hex("s2 0x40000000"))));
    assert_eq!(out, "IPA 0x40000000 -> PA 0x50000000 (RW, normal)\n");
    let out = text(g.cmd(&format!("qRcmd,{}", hex("irqs"))));
    assert!(out.contains("not supported"), "{out}");
    let out = text(g.cmd(&format!("qRcmd,{}", hex("s2 zz"))));
    assert!(out.contains("bad address"), "{out}");
    let out = text(g.cmd(&format!("qRcmd,{}", hex("help"))));
    assert!(out.contains("s2 <ipa>"), "{out}");
    let out = text(g.cmd(&format!("qRcmd,{}", hex("frobnicate"))));
    assert!(out.contains("unknown command"), "{out}");
}

#[test]
fn corrupted_packets_nak_and_recovery() {
    let mut g = attached();
    // corrupted on the wire: the stub NAKs, GDB resends, all is well
    g.feed(b"$m40080000,4#00");
    assert_eq!(g.take(), b"-");
    assert_eq!(g.one("m40080000,4"), hex_bytes(&g.guest().mem[..4]));
    // a well-framed but malformed command makes gdbstub give up: the
    // session is rebuilt, still attached, and answers the next command
    g.feed(b"$m zz#");
    let mut frame = Vec::new();
    encode_packet(b"vCont;s", &mut |b| frame.push(b));
    g.feed(&frame);
    let out = String::from_utf8_lossy(&g.take()).to_string();
    assert!(out.contains("$E16#ac"), "{out}");
    assert!(g.s.stats().protocol_errors >= 1);
    assert!(g.s.attached());
    assert!(!g.guest().running);
    assert_eq!(g.one("qfThreadInfo"), "mp01.01,p01.02,p01.03,p01.04");
    assert_eq!(g.s.stats().bad_checksums, 1);
}

fn hex_bytes(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn detach_and_reattach() {
    let mut g = attached();
    g.one("Z0,40080010,4");
    assert_eq!(g.one("D"), "OK");
    assert!(!g.s.attached());
    assert_eq!(g.guest().detaches, vec![false]);
    assert!(g.guest().running);
    // detached again: acks and Ctrl-C are console input
    g.feed(b"ls -l\r+-\x03");
    assert_eq!(g.console, b"ls -l\r+-\x03");
    assert!(g.take().is_empty());
    // a new GDB attaches and kills
    g.one("qSupported:multiprocess+");
    assert!(g.s.attached());
    assert_eq!(g.guest().attaches, 2);
    let mut frame = Vec::new();
    encode_packet(b"vKill;1", &mut |b| frame.push(b));
    g.feed(&frame);
    g.take();
    g.feed(b"$k#6b");
    g.take();
    assert!(!g.s.attached());
    assert_eq!(g.guest().detaches.last(), Some(&true));
}

#[test]
fn console_text_around_packets() {
    let mut g = Gdb::new();
    g.feed(b"echo $HOME; ");
    assert_eq!(g.console, b"echo $HOME; ");
    g.feed(b"$HOME");
    g.s.flush_console(&mut |c| g.console.push(c));
    assert_eq!(g.console, b"echo $HOME; $HOME");
}

/// Random bytes, packets and stop reports: no panic, and the session keeps
/// answering. Bounded: a few thousand steps per seed.
#[test]
fn fuzz_session_never_panics() {
    let cmds: [&str; 14] = [
        "?",
        "g",
        "m40080000,10",
        "vCont;c",
        "vCont;s:p1.2;c",
        "c",
        "s",
        "D",
        "k",
        "Z0,40080010,4",
        "qRcmd,7663707573",
        "Hgp1.9",
        "qfThreadInfo",
        "qSupported",
    ];
    for seed in 1..=8u64 {
        let mut g = Gdb::new();
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..3000 {
            let r = rnd();
            match r % 10 {
                0..=4 => {
                    let b = (r >> 8) as u8;
                    let b = if r & 0x100_0000 != 0 {
                        b"$#+-\x03ab0"[b as usize % 8]
                    } else {
                        b
                    };
                    g.feed(&[b]);
                }
                5..=7 => {
                    let c = cmds[(r >> 8) as usize % cmds.len()];
                    let mut frame = Vec::new();
                    encode_packet(c.as_bytes(), &mut |b| frame.push(b));
                    if r & 0x1_0000 != 0 {
                        let i = (r >> 20) as usize % frame.len();
                        frame[i] ^= (r >> 28) as u8 | 1;
                    }
                    g.feed(&frame);
                }
                8 => {
                    let cause = [StopCause::Step, StopCause::SwBreak, StopCause::PoweredOff]
                        [(r >> 8) as usize % 3];
                    g.s.report_stop((r >> 16) as usize % 6, cause);
                }
                _ => {
                    g.s.console_output(b"tick\n");
                    g.s.flush_console(&mut |_| {});
                }
            }
            g.take();
        }
        eprintln!("seed {seed}: {:?}", g.s.stats());
        // still usable: a fresh qSupported gets an answer
        g.s.flush_console(&mut |_| {});
        g.feed(b"+");
        let mut frame = Vec::new();
        encode_packet(b"qfThreadInfo", &mut |b| frame.push(b));
        g.feed(&frame);
        let out = g.take();
        assert!(
            String::from_utf8_lossy(&out).contains("01,"),
            "seed {seed}: {:?}",
            String::from_utf8_lossy(&out)
        );
    }
}

#[test]
fn single_registers() {
    let mut g = attached();
    // pc is register 32 (0x20): eight little-endian bytes.
    let pc = g.one("p20");
    assert_eq!(pc.len(), 16, "{pc}");
    let mut regs = Regs::default();
    g.guest().read_regs(0, &mut regs).unwrap();
    assert_eq!(le64(&unhex(&pc), 0), regs.pc);
    // A system register the fake does not provide: unavailable, not an error.
    let sctlr = g.one("pc080");
    assert!(!sctlr.starts_with('E'), "{sctlr}");
    // Writes of system registers are refused.
    assert!(g.one("Pc080=0000000000000000").starts_with('E'));
}
