//! Seeds for the `rsp_demux` and `rsp_session` targets: console text with
//! GDB remote-serial-protocol packets in it, and a debugger session.

use gdb_remote::encode::encode_packet;

/// `$payload#xx`.
pub fn packet(payload: &str) -> Vec<u8> {
    let mut out = Vec::new();
    encode_packet(payload.as_bytes(), &mut |b| out.push(b));
    out
}

/// What GDB sends on `target remote`, then a few inspections, a
/// breakpoint, continue, Ctrl-C and detach.
fn session() -> Vec<u8> {
    let mut s = b"+".to_vec();
    for p in [
        "qSupported:multiprocess+;swbreak+;hwbreak+;vContSupported+",
        "vMustReplyEmpty",
        "QStartNoAckMode",
        "Hgp0.0",
        "qXfer:features:read:target.xml:0,ffb",
        "qfThreadInfo",
        "qsThreadInfo",
        "?",
        "g",
        "p20",
        "m0,40",
        "M10,4:deadbeef",
        "Z0,40,4",
        "Z1,80,4",
        "Z2,90,8",
        "vCont?",
        "vCont;s:p1.2;c",
    ] {
        s.extend(packet(p));
        s.push(b'+');
    }
    // 0xf0: the hypervisor reports a breakpoint stop (see the target).
    s.push(0xf0);
    s.extend(packet("qRcmd,6d6f6e69746f722076637075"));
    s.extend(packet("c"));
    s.push(0xf2);
    s.push(0x03);
    s.push(0xf1);
    s.extend(packet("z0,40,4"));
    s.extend(packet("D"));
    s
}

/// `rsp_demux`: a mode byte (0 = always detached; else bit i says byte i
/// is pushed while a debugger is attached), then serial input.
pub fn demux_seeds() -> Vec<Vec<u8>> {
    let mut console = vec![0u8];
    console.extend_from_slice(b"login: root\n$ echo $HOME#00\n");
    console.extend(packet("qSupported"));
    console.extend_from_slice(b"ls\n$#00$");
    let mut attached = vec![0xffu8];
    attached.extend(session());
    let mut mixed = vec![0x55u8];
    mixed.extend_from_slice(b"ab+-\x03");
    mixed.extend(packet("g"));
    mixed.extend_from_slice(b"$g#00");
    vec![console, attached, mixed]
}

/// `rsp_session`: serial input with the control bytes of the target.
pub fn session_seeds() -> Vec<Vec<u8>> {
    vec![session(), packet("?"), b"garbage$m0,4#ff\x03".to_vec()]
}
