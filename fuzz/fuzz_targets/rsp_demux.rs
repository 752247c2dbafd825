//! The demultiplexer never panics, and while detached it loses nothing: the
//! console bytes plus the packets' frames are the input, in order.
#![no_main]

use gdb_remote::encode::checksum;
use gdb_remote::{Demux, Event};
use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: fuzz_support::seed_corpus("rsp_demux", fuzz_support::rsp_seeds::demux_seeds),
    |data: &[u8]| {
    let Some((&mode, input)) = data.split_first() else {
        return;
    };
    let mut d = Demux::<64>::new();
    let mut rebuilt = Vec::with_capacity(input.len());
    for (i, &b) in input.iter().enumerate() {
        // mode 0: always detached; otherwise its bits say which bytes are
        // pushed with a debugger attached.
        let attached = mode != 0 && (mode >> (i % 8)) & 1 == 1;
        for e in d.push(b, attached) {
            match e {
                Event::Console(c) => rebuilt.push(c),
                Event::Packet(p) => {
                    // the frame `$p#xx` ends at this byte
                    assert!(p.len() <= 64);
                    let frame = &input[i + 1 - (p.len() + 4)..=i];
                    assert_eq!(frame[0], b'$');
                    assert_eq!(&frame[1..=p.len()], p);
                    let sum = std::str::from_utf8(&frame[p.len() + 2..]).unwrap();
                    assert_eq!(u8::from_str_radix(sum, 16), Ok(checksum(p)));
                    rebuilt.extend_from_slice(frame);
                }
                Event::Overflow => {}
                Event::BadChecksum | Event::Ack | Event::Nak | Event::Interrupt => {
                    assert!(attached, "{e:?} while detached");
                }
            }
        }
    }
    for e in d.flush() {
        match e {
            Event::Console(c) => rebuilt.push(c),
            other => panic!("flush yielded {other:?}"),
        }
    }
    assert!(!d.pending());
    if mode == 0 {
        assert_eq!(rebuilt, input);
    }
}
);
