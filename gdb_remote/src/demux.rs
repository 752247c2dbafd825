//! The one rule that splits a serial byte stream between GDB and the console.
//!
//! The hypervisor (on bytes from the UART) and the host bridge (on bytes from
//! the hypervisor) run the same [`Demux`], so both ends agree on what is RSP
//! traffic. Call [`Demux::push`] once per received byte, from an interrupt
//! handler if need be: it never allocates and yields at most a few events.
//!
//! # The rule
//!
//! `attached` is passed with every byte: it says whether a debugger session
//! is open (the stub has taken a valid packet and not seen `D`/`k`; on the host,
//! a GDB client is connected).
//!
//! | received | detached | attached |
//! |---|---|---|
//! | `$payload#xx`, checksum valid | [`Event::Packet`] | [`Event::Packet`] |
//! | `$payload#xx`, checksum wrong | console text, in order | [`Event::BadChecksum`], bytes dropped (answer `-`, GDB resends) |
//! | `+` / `-` | console | [`Event::Ack`] / [`Event::Nak`] |
//! | 0x03 (Ctrl-C) | console | [`Event::Interrupt`] |
//! | anything else | console | console |
//!
//! A valid packet is RSP traffic even when detached: that is how a session
//! starts. Everything that is not RSP traffic reaches the console exactly
//! once and in order.
//!
//! # Candidates: bytes after a `$`
//!
//! After a `$` the demultiplexer holds bytes back until it knows whether they
//! are a packet. It gives up, and releases `$` and everything held as
//! console text *before* handling the byte that made it give up, when:
//!
//! - another `$` arrives (GDB restarts a packet with `$`; console text such as
//!   `$$` is released);
//! - detached only: a byte outside `!`..=`~` arrives (space, newline, any
//!   control character, 8-bit data). GDB's packets before a session are
//!   printable ASCII without spaces, and console text like a shell prompt
//!   `"$ "` or `echo $HOME<Enter>` is released at once. While attached any
//!   byte may be packet data (binary `X` writes, `qXfer` replies with
//!   newlines);
//! - a checksum character after `#` is not a hex digit;
//! - the payload would exceed `MAX` bytes: [`Event::Overflow`] comes first,
//!   then the held bytes as console text; the rest of the oversized packet
//!   (up to and including its checksum) follows as console text too.
//!   A GDB that honours the stub's `PacketSize` never sends one;
//! - the caller calls [`Demux::flush`] (after a quiet period, so that typing
//!   `$HOME` is not held until the next space).
//!
//! Nothing is dropped except a bad-checksum packet while attached.

/// One thing the demultiplexer decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A byte for the console.
    Console(u8),
    /// A packet with a valid checksum; the payload between `$` and `#`
    /// (still escaped, as sent).
    Packet(&'a [u8]),
    /// A packet arrived with a wrong checksum while attached: answer `-`.
    BadChecksum,
    /// `+` while attached.
    Ack,
    /// `-` while attached: resend the last packet.
    Nak,
    /// 0x03 while attached: stop the target.
    Interrupt,
    /// A candidate packet outgrew `MAX`; its bytes follow as console text.
    Overflow,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Idle,
    /// After `$`, collecting the payload into `buf[..len]`.
    Body,
    /// After `#`.
    Check1,
    /// After `#` and the first checksum digit (kept for a release).
    Check2(u8),
}

/// A byte-at-a-time RSP/console demultiplexer holding at most `MAX` bytes of
/// payload. Usually a `static` (or a field of one): it is `MAX + 16` bytes.
pub struct Demux<const MAX: usize> {
    buf: [u8; MAX],
    len: usize,
    state: State,
}

impl<const MAX: usize> Default for Demux<MAX> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const MAX: usize> Demux<MAX> {
    pub const fn new() -> Self {
        Self {
            buf: [0; MAX],
            len: 0,
            state: State::Idle,
        }
    }

    /// The largest payload accepted as a packet.
    pub const fn max_payload(&self) -> usize {
        MAX
    }

    /// Whether bytes are held back as a possible packet.
    pub fn pending(&self) -> bool {
        self.state != State::Idle
    }

    /// Classifies one received byte. The returned [`Output`] borrows the
    /// demultiplexer: consume it before the next `push`.
    pub fn push(&mut self, byte: u8, attached: bool) -> Output<'_> {
        match self.state {
            State::Idle => {
                let post = self.idle(byte, attached);
                Output::single(post)
            }
            State::Body => {
                if byte == b'#' {
                    self.state = State::Check1;
                    Output::empty()
                } else if byte == b'$' || (!attached && !is_plain(byte)) {
                    self.give_up(None, byte, attached)
                } else if self.len == MAX {
                    self.give_up(Some(Event::Overflow), byte, attached)
                } else {
                    self.buf[self.len] = byte;
                    self.len += 1;
                    Output::empty()
                }
            }
            State::Check1 => {
                if hex_value(byte).is_some() {
                    self.state = State::Check2(byte);
                    Output::empty()
                } else {
                    self.give_up(None, byte, attached)
                }
            }
            State::Check2(hi) => {
                let (Some(h), Some(l)) = (hex_value(hi), hex_value(byte)) else {
                    return self.give_up(None, byte, attached);
                };
                if crate::encode::checksum(&self.buf[..self.len]) == (h << 4) | l {
                    self.state = State::Idle;
                    Output::single(Some(Event::Packet(&self.buf[..self.len])))
                } else if attached {
                    self.state = State::Idle;
                    self.len = 0;
                    Output::single(Some(Event::BadChecksum))
                } else {
                    // Console text that happens to look like a packet; the
                    // last digit follows the release as console text.
                    self.give_up(None, byte, attached)
                }
            }
        }
    }

    /// Releases held bytes as console text (e.g. after a quiet period).
    pub fn flush(&mut self) -> Output<'_> {
        if self.state == State::Idle {
            return Output::empty();
        }
        let tail = self.tail();
        self.state = State::Idle;
        Output {
            pre: None,
            dollar: true,
            body: self.buf[..self.len].iter(),
            tail,
            post: None,
        }
    }

    /// A byte outside any candidate.
    fn idle(&mut self, byte: u8, attached: bool) -> Option<Event<'static>> {
        match byte {
            b'$' => {
                self.state = State::Body;
                self.len = 0;
                None
            }
            b'+' if attached => Some(Event::Ack),
            b'-' if attached => Some(Event::Nak),
            0x03 if attached => Some(Event::Interrupt),
            b => Some(Event::Console(b)),
        }
    }

    /// The bytes held after the payload: `#` and the first checksum digit.
    fn tail(&self) -> Tail {
        match self.state {
            State::Idle | State::Body => Tail::new(&[]),
            State::Check1 => Tail::new(b"#"),
            State::Check2(hi) => Tail::new(&[b'#', hi]),
        }
    }

    /// Abandons the candidate: `pre`, then the held bytes as console text,
    /// then `byte` handled afresh (it may start a new candidate; the new one
    /// writes into `buf` only on the next push, after the release is read).
    fn give_up(&mut self, pre: Option<Event<'static>>, byte: u8, attached: bool) -> Output<'_> {
        let tail = self.tail();
        let held = self.len;
        self.state = State::Idle;
        let post = self.idle(byte, attached);
        Output {
            pre,
            dollar: true,
            body: self.buf[..held].iter(),
            tail,
            post,
        }
    }
}

/// Bytes that may appear in a packet before a session: printable ASCII
/// without space.
fn is_plain(b: u8) -> bool {
    (0x21..=0x7e).contains(&b)
}

pub(crate) fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[derive(Clone, Debug)]
struct Tail {
    bytes: [u8; 2],
    len: u8,
    pos: u8,
}

impl Tail {
    fn new(b: &[u8]) -> Self {
        let mut bytes = [0; 2];
        bytes[..b.len()].copy_from_slice(b);
        Self {
            bytes,
            len: b.len() as u8,
            pos: 0,
        }
    }

    fn next(&mut self) -> Option<u8> {
        (self.pos < self.len).then(|| {
            self.pos += 1;
            self.bytes[usize::from(self.pos - 1)]
        })
    }
}

/// What one [`Demux::push`] produced: an iterator over [`Event`]s, in order.
/// No allocation: it walks the demultiplexer's own buffer.
#[derive(Clone, Debug)]
pub struct Output<'a> {
    pre: Option<Event<'a>>,
    /// A released `$` (the start of an abandoned candidate).
    dollar: bool,
    body: core::slice::Iter<'a, u8>,
    tail: Tail,
    post: Option<Event<'a>>,
}

impl<'a> Output<'a> {
    fn empty() -> Self {
        Self::single(None)
    }

    fn single(post: Option<Event<'a>>) -> Self {
        Self {
            pre: None,
            dollar: false,
            body: [].iter(),
            tail: Tail::new(&[]),
            post,
        }
    }
}

impl<'a> Iterator for Output<'a> {
    type Item = Event<'a>;

    fn next(&mut self) -> Option<Event<'a>> {
        if let Some(e) = self.pre.take() {
            return Some(e);
        }
        if core::mem::take(&mut self.dollar) {
            return Some(Event::Console(b'$'));
        }
        if let Some(&b) = self.body.next() {
            return Some(Event::Console(b));
        }
        if let Some(b) = self.tail.next() {
            return Some(Event::Console(b));
        }
        self.post.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::encode_packet;

    #[derive(Debug, PartialEq, Eq)]
    enum Ev {
        Text(Vec<u8>),
        Packet(Vec<u8>),
        BadChecksum,
        Ack,
        Nak,
        Interrupt,
        Overflow,
    }

    /// Runs `input` through a fresh demux and merges adjacent console bytes.
    fn run<const MAX: usize>(d: &mut Demux<MAX>, input: &[u8], attached: bool) -> Vec<Ev> {
        let mut out = Vec::new();
        for &b in input {
            for e in d.push(b, attached) {
                push_ev(&mut out, e);
            }
        }
        out
    }

    fn push_ev(out: &mut Vec<Ev>, e: Event<'_>) {
        match e {
            Event::Console(c) => {
                if let Some(Ev::Text(t)) = out.last_mut() {
                    t.push(c);
                } else {
                    out.push(Ev::Text(vec![c]));
                }
            }
            Event::Packet(p) => out.push(Ev::Packet(p.to_vec())),
            Event::BadChecksum => out.push(Ev::BadChecksum),
            Event::Ack => out.push(Ev::Ack),
            Event::Nak => out.push(Ev::Nak),
            Event::Interrupt => out.push(Ev::Interrupt),
            Event::Overflow => out.push(Ev::Overflow),
        }
    }

    fn text(s: &[u8]) -> Ev {
        Ev::Text(s.to_vec())
    }

    fn pkt(payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        encode_packet(payload, &mut |b| v.push(b));
        v
    }

    /// All console bytes, concatenated.
    fn console(evs: &[Ev]) -> Vec<u8> {
        evs.iter()
            .filter_map(|e| match e {
                Ev::Text(t) => Some(t.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    #[test]
    fn plain_text_passes_through() {
        let mut d = Demux::<64>::new();
        let input = b"Linux version 6.1\r\nlogin: +-\x03";
        assert_eq!(run(&mut d, input, false), vec![text(input)]);
        assert!(!d.pending());
    }

    #[test]
    fn interleaved_text_and_packets() {
        let mut d = Demux::<64>::new();
        let mut input = b"boot...\r\n".to_vec();
        input.extend(pkt(b"qSupported:swbreak+"));
        input.extend(b"more text");
        input.extend(pkt(b"g"));
        input.extend(b"!");
        for attached in [false, true] {
            assert_eq!(
                run(&mut d, &input, attached),
                vec![
                    text(b"boot...\r\n"),
                    Ev::Packet(b"qSupported:swbreak+".to_vec()),
                    text(b"more text"),
                    Ev::Packet(b"g".to_vec()),
                    text(b"!"),
                ]
            );
        }
    }

    #[test]
    fn packets_split_across_pushes_and_empty_packet() {
        let mut d = Demux::<64>::new();
        let frame = pkt(b"m40000000,4");
        let mut evs = Vec::new();
        // one byte at a time with state carried across calls
        for chunk in frame.chunks(1) {
            evs.extend(run(&mut d, chunk, true));
        }
        assert_eq!(evs, vec![Ev::Packet(b"m40000000,4".to_vec())]);
        assert_eq!(run(&mut d, b"$#00", true), vec![Ev::Packet(vec![])]);
        // upper-case checksum digits are accepted
        assert_eq!(run(&mut d, b"$k#6B", true), vec![Ev::Packet(b"k".to_vec())]);
    }

    #[test]
    fn acks_and_interrupt_only_when_attached() {
        let mut d = Demux::<64>::new();
        assert_eq!(
            run(&mut d, b"+-\x03x", true),
            vec![Ev::Ack, Ev::Nak, Ev::Interrupt, text(b"x")]
        );
        assert_eq!(run(&mut d, b"+-\x03x", false), vec![text(b"+-\x03x")]);
    }

    #[test]
    fn bad_checksum_nak_when_attached_text_when_detached() {
        let mut d = Demux::<64>::new();
        assert_eq!(run(&mut d, b"$g#00+", true), vec![Ev::BadChecksum, Ev::Ack]);
        assert_eq!(run(&mut d, b"$g#00+", false), vec![text(b"$g#00+")]);
        // a bad checksum does not poison the next packet
        let mut input = b"$m0,1#ff".to_vec();
        input.extend(pkt(b"m0,1"));
        assert_eq!(
            run(&mut d, &input, true),
            vec![Ev::BadChecksum, Ev::Packet(b"m0,1".to_vec())]
        );
    }

    #[test]
    fn dollar_in_console_text() {
        let mut d = Demux::<64>::new();
        // shell prompt: released at the space, not held until input
        assert_eq!(run(&mut d, b"~ $ ", false), vec![text(b"~ $ ")]);
        assert!(!d.pending());
        // a variable: held until the newline, then released in order
        assert_eq!(run(&mut d, b"echo $HOME", false), vec![text(b"echo ")]);
        assert!(d.pending());
        assert_eq!(run(&mut d, b"\r\n", false), vec![text(b"$HOME\r\n")]);
        // `$$` and `$` + `#` + non-hex
        assert_eq!(run(&mut d, b"$$ $a#zq ", false), vec![text(b"$$ $a#zq ")]);
        assert_eq!(run(&mut d, b"$a#1q\n", false), vec![text(b"$a#1q\n")]);
        // a `$` restarts the candidate: garbage, then a real packet
        let mut input = b"$garbage".to_vec();
        input.extend(pkt(b"?"));
        assert_eq!(
            run(&mut d, &input, true),
            vec![text(b"$garbage"), Ev::Packet(b"?".to_vec())]
        );
    }

    #[test]
    fn attached_payload_may_hold_any_byte() {
        let mut d = Demux::<64>::new();
        // X packet with binary data incl. newline, Ctrl-C, '+', '-', space
        let payload = b"X0,5:\n\x03+- ";
        assert_eq!(
            run(&mut d, &pkt(payload), true),
            vec![Ev::Packet(payload.to_vec())]
        );
        // the same bytes while detached are console text
        let frame = pkt(payload);
        assert_eq!(console(&run(&mut d, &frame, false)), frame);
    }

    #[test]
    fn flush_releases_held_bytes() {
        let mut d = Demux::<64>::new();
        assert_eq!(run(&mut d, b"$HOME", false), vec![]);
        let evs: Vec<_> = d.flush().collect();
        assert_eq!(
            evs,
            b"$HOME"
                .iter()
                .map(|&b| Event::Console(b))
                .collect::<Vec<_>>()
        );
        assert_eq!(d.flush().count(), 0);
        run(&mut d, b"$ab#1", true);
        let bytes: Vec<_> = d.flush().collect();
        assert_eq!(bytes.len(), 5);
        assert!(!d.pending());
    }

    #[test]
    fn overflow_is_reported_then_released() {
        let mut d = Demux::<8>::new();
        // 8 payload bytes fit
        assert_eq!(
            run(&mut d, &pkt(b"12345678"), true),
            vec![Ev::Packet(b"12345678".to_vec())]
        );
        // 9 do not: Overflow, then everything as text, in order
        let frame = pkt(b"123456789");
        for attached in [false, true] {
            let evs = run(&mut d, &frame, attached);
            assert_eq!(evs[0], Ev::Overflow);
            assert_eq!(console(&evs), frame);
            assert_eq!(evs.len(), 2);
        }
    }

    /// Reference model for the lossless property (detached): the console
    /// stream plus re-encoded packets equals the input.
    #[test]
    fn detached_stream_is_lossless() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        let alphabet = b"$#+-\x03 \n0123456789abcdefgqXYZ";
        for _ in 0..500 {
            let mut d = Demux::<16>::new();
            let mut input = Vec::new();
            for _ in 0..64 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                if seed.is_multiple_of(11) {
                    input.extend(pkt(&alphabet[..(seed as usize / 11) % 10]));
                } else {
                    input.push(alphabet[(seed >> 8) as usize % alphabet.len()]);
                }
            }
            let mut rebuilt = Vec::new();
            for &b in &input {
                for e in d.push(b, false) {
                    match e {
                        Event::Console(c) => rebuilt.push(c),
                        Event::Packet(p) => encode_packet(p, &mut |b| rebuilt.push(b)),
                        Event::Overflow => {}
                        other => panic!("unexpected {other:?} while detached"),
                    }
                }
            }
            rebuilt.extend(d.flush().map(|e| match e {
                Event::Console(c) => c,
                other => panic!("{other:?}"),
            }));
            assert_eq!(rebuilt, input);
        }
    }
}
