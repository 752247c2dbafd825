//! The host end of the shared serial line: one UART carries both the guest
//! console and GDB's remote protocol (the hypervisor's resident stub). The
//! bridge splits it with the same rule as the hypervisor,
//! [`gdb_remote::Demux`]:
//!
//! - serial → RSP traffic to the GDB client on TCP (default
//!   `127.0.0.1:3333`), everything else to the terminal;
//! - terminal (raw mode) → serial, with QEMU's `-nographic` escapes:
//!   Ctrl-A X quits, Ctrl-A Ctrl-A sends a Ctrl-A, Ctrl-A H helps;
//! - GDB client → serial, whole packets at a time (so a keystroke never
//!   lands inside a packet). GDB's `+` before its first packet is dropped
//!   (it would reach the guest console), and when the client goes away
//!   without detaching the bridge sends `D` so the guest resumes.
//!
//! The serial side is QEMU's socket chardev (`-serial
//! unix:PATH,server=on,wait=on`) or a tty device such as `/dev/ttyUSB0`
//! (raw, 8N1, no flow control, `--baud`, default 115200).

use crate::cli::Args;
use anyhow::{bail, Context, Result};
use gdb_remote::encode::encode_packet;
use gdb_remote::{Demux, Event};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

pub const DEFAULT_GDB_ADDR: &str = "127.0.0.1:3333";
pub const DEFAULT_BAUD: u32 = 115_200;

/// Largest packet payload the bridge recognises, either way. The stub's
/// `PacketSize` is far smaller; console text this long after a `$` is
/// released as text.
const PACKET_MAX: usize = 16 * 1024;

/// Console text held after a `$` (maybe a packet) is shown after this long
/// without serial input, so a shell prompt ending in `$` is not held back.
const HOLD: Duration = Duration::from_millis(50);

const CTRL_A: u8 = 0x01;

const HELP: &str = "\r\nserial-bridge escapes:\r\n  \
    Ctrl-A X   quit\r\n  \
    Ctrl-A H   this help\r\n  \
    Ctrl-A Ctrl-A  send Ctrl-A\r\n";

#[derive(Clone, Debug)]
pub struct BridgeOptions {
    /// A Unix socket (QEMU's chardev) or a tty device.
    pub serial: PathBuf,
    /// Where GDB connects.
    pub gdb_addr: SocketAddr,
    /// tty devices only.
    pub baud: u32,
    /// How long to wait for the socket to appear (QEMU starting).
    pub connect_timeout: Duration,
}

impl BridgeOptions {
    pub fn new(serial: impl Into<PathBuf>) -> Self {
        Self {
            serial: serial.into(),
            gdb_addr: DEFAULT_GDB_ADDR.parse().expect("constant address"),
            baud: DEFAULT_BAUD,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// `cargo xtask gdb-bridge --serial PATH [--gdb ADDR|PORT] [--baud N]`.
pub fn main(args: &Args) -> Result<()> {
    args.reject_unknown(&["serial", "gdb", "baud"])?;
    let Some(serial) = args.value("serial") else {
        bail!("--serial PATH is required (a QEMU socket or a tty such as /dev/ttyUSB0)");
    };
    let mut opts = BridgeOptions::new(serial);
    if let Some(g) = args.value("gdb") {
        opts.gdb_addr = parse_gdb_addr(g)?;
    }
    if let Some(b) = args.parsed::<u32>("baud")? {
        opts.baud = b;
    }
    run(opts)
}

/// `3333`, `:3333` or `ADDR:PORT`. A bare port listens on loopback only.
pub fn parse_gdb_addr(s: &str) -> Result<SocketAddr> {
    let port = s.strip_prefix(':').unwrap_or(s);
    if let Ok(p) = port.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], p)));
    }
    s.parse()
        .with_context(|| format!("--gdb {s}: expected PORT or ADDR:PORT"))
}

/// QEMU options that put the first serial line on `socket` for the bridge.
/// `wait=on`: QEMU starts the guest once the bridge is connected, so no
/// early output is lost.
pub fn qemu_serial_args(socket: &Path) -> Vec<String> {
    vec![
        "-display".into(),
        "none".into(),
        "-monitor".into(),
        "none".into(),
        "-serial".into(),
        format!("unix:{},server=on,wait=on", socket.display()),
    ]
}

/// Connects to the serial line and runs until Ctrl-A X or the line closes.
pub fn run(opts: BridgeOptions) -> Result<()> {
    let (serial_r, serial_w) = open_serial(&opts)?;
    let listener = TcpListener::bind(opts.gdb_addr)
        .with_context(|| format!("listening for GDB on {}", opts.gdb_addr))?;
    let addr = listener.local_addr()?;
    eprintln!(
        "serial-bridge: {} on this terminal; GDB: gdb-multiarch -ex 'target remote {addr}'\n\
         serial-bridge: Ctrl-A X quits, Ctrl-A H helps",
        opts.serial.display()
    );
    let stdin = io::stdin();
    let _raw = RawTerminal::enable(stdin.as_raw_fd());
    let out = serve(
        serial_r,
        serial_w,
        Some(io::stdin()),
        io::stdout(),
        listener,
    );
    drop(_raw);
    eprintln!();
    out
}

type Reader = Box<dyn Read + Send>;
type Writer = Box<dyn Write + Send>;

fn open_serial(opts: &BridgeOptions) -> Result<(Reader, Writer)> {
    let path = &opts.serial;
    let deadline = Instant::now() + opts.connect_timeout;
    loop {
        match std::fs::metadata(path) {
            Ok(m) if m.file_type().is_char_device() => {
                let f = open_tty(path, opts.baud)?;
                let r = f.try_clone()?;
                return Ok((Box::new(r), Box::new(f)));
            }
            Ok(m) if m.file_type().is_socket() => match UnixStream::connect(path) {
                Ok(s) => {
                    let r = s.try_clone()?;
                    return Ok((Box::new(r), Box::new(s)));
                }
                Err(e) if Instant::now() >= deadline => {
                    return Err(e).with_context(|| format!("connecting to {}", path.display()))
                }
                Err(_) => {}
            },
            Ok(_) => bail!("{}: neither a socket nor a tty", path.display()),
            Err(e) if Instant::now() >= deadline => {
                return Err(e).with_context(|| format!("waiting for {}", path.display()))
            }
            Err(_) => {}
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn speed(baud: u32) -> Result<libc::speed_t> {
    Ok(match baud {
        9600 => libc::B9600,
        19200 => libc::B19200,
        38400 => libc::B38400,
        57600 => libc::B57600,
        115_200 => libc::B115200,
        230_400 => libc::B230400,
        460_800 => libc::B460800,
        921_600 => libc::B921600,
        1_000_000 => libc::B1000000,
        1_500_000 => libc::B1500000,
        3_000_000 => libc::B3000000,
        _ => bail!("--baud {baud}: not a standard rate"),
    })
}

/// Opens a tty raw: 8N1, no echo, no flow control, `baud`.
fn open_tty(path: &Path, baud: u32) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let fd = f.as_raw_fd();
    let speed = speed(baud)?;
    // SAFETY: `fd` is an open descriptor owned by `f`; `t` is a plain C
    // struct filled by tcgetattr before use.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &mut t) != 0 {
            return Err(io::Error::last_os_error())
                .with_context(|| format!("{}: not a tty", path.display()));
        }
        libc::cfmakeraw(&mut t);
        t.c_cflag |= libc::CLOCAL | libc::CREAD;
        t.c_cflag &= !(libc::CRTSCTS | libc::CSTOPB | libc::PARENB);
        t.c_cc[libc::VMIN] = 1;
        t.c_cc[libc::VTIME] = 0;
        if libc::cfsetispeed(&mut t, speed) != 0
            || libc::cfsetospeed(&mut t, speed) != 0
            || libc::tcsetattr(fd, libc::TCSANOW, &t) != 0
        {
            return Err(io::Error::last_os_error())
                .with_context(|| format!("{}: setting {baud} baud raw", path.display()));
        }
    }
    Ok(f)
}

/// The terminal in raw mode for as long as this lives (if stdin is a tty),
/// so keystrokes such as Ctrl-C reach the guest.
struct RawTerminal {
    fd: i32,
    saved: libc::termios,
}

static SAVED_TERMIOS: std::sync::OnceLock<(i32, libc::termios)> = std::sync::OnceLock::new();

impl RawTerminal {
    fn enable(fd: i32) -> Option<Self> {
        // SAFETY: plain termios calls on a descriptor we do not close.
        unsafe {
            if libc::isatty(fd) != 1 {
                return None;
            }
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(fd, &mut saved) != 0 {
                return None;
            }
            let mut raw = saved;
            libc::cfmakeraw(&mut raw);
            if libc::tcsetattr(fd, libc::TCSANOW, &raw) != 0 {
                return None;
            }
            // panic = "abort" skips Drop: restore from the panic hook too.
            if SAVED_TERMIOS.set((fd, saved)).is_ok() {
                let hook = std::panic::take_hook();
                std::panic::set_hook(Box::new(move |info| {
                    if let Some((fd, t)) = SAVED_TERMIOS.get() {
                        libc::tcsetattr(*fd, libc::TCSANOW, t);
                    }
                    hook(info)
                }));
            }
            Some(Self { fd, saved })
        }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        // SAFETY: restores the settings read in `enable`.
        unsafe {
            libc::tcsetattr(self.fd, libc::TCSANOW, &self.saved);
        }
    }
}

/// What to do after terminal input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Quit,
}

/// The bridge's decisions, without threads or sockets: bytes in from one of
/// three endpoints, bytes out to the others.
pub struct Bridge<S: Write, T: Write> {
    serial: S,
    terminal: T,
    gdb: Option<Writer>,
    /// Splits the serial stream (the hypervisor's output).
    from_serial: Box<Demux<PACKET_MAX>>,
    /// Frames the GDB client's stream into whole packets.
    from_gdb: Box<Demux<PACKET_MAX>>,
    /// A packet from the current client reached the serial line.
    gdb_spoke: bool,
    /// The client's session is open on the stub: it sent packets but no `D`
    /// or `k`.
    stub_attached: bool,
    /// We sent `D` for a vanished client: the stub's `+` is not console text.
    detach_sent: bool,
    /// Ctrl-A seen on the terminal.
    escape: bool,
}

impl<S: Write, T: Write> Bridge<S, T> {
    pub fn new(serial: S, terminal: T) -> Self {
        Self {
            serial,
            terminal,
            gdb: None,
            from_serial: Box::new(Demux::new()),
            from_gdb: Box::new(Demux::new()),
            gdb_spoke: false,
            stub_attached: false,
            detach_sent: false,
            escape: false,
        }
    }

    pub fn gdb_connected(&self) -> bool {
        self.gdb.is_some()
    }

    /// A GDB client connected (replacing none: callers refuse a second).
    pub fn connect_gdb(&mut self, w: Writer) {
        self.gdb = Some(w);
        self.gdb_spoke = false;
        *self.from_gdb = Demux::new();
    }

    /// The client went away. If it left the stub attached, `D` detaches it
    /// so the guest runs again; the stub's answer is dropped.
    pub fn disconnect_gdb(&mut self) -> io::Result<()> {
        self.gdb = None;
        self.gdb_spoke = false;
        if std::mem::take(&mut self.stub_attached) {
            self.detach_sent = true;
            let mut v = Vec::new();
            encode_packet(b"D", &mut |b| v.push(b));
            self.serial.write_all(&v)?;
            self.serial.flush()?;
        }
        Ok(())
    }

    /// Bytes from the serial line.
    pub fn serial_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        let attached = self.gdb.is_some();
        let mut console = Vec::with_capacity(bytes.len());
        let mut for_gdb = Vec::new();
        let mut nak = false;
        for &b in bytes {
            for e in self.from_serial.push(b, attached) {
                match e {
                    // The stub's `+` comes first; if something else does,
                    // stop waiting for it.
                    Event::Console(c) if std::mem::take(&mut self.detach_sent) && c == b'+' => {}
                    Event::Console(c) => console.push(c),
                    Event::Packet(p) => {
                        self.detach_sent = false;
                        encode_packet(p, &mut |c| for_gdb.push(c));
                    }
                    Event::Ack => for_gdb.push(b'+'),
                    Event::Nak => for_gdb.push(b'-'),
                    // The stub never sends 0x03: it is console output.
                    Event::Interrupt => console.push(0x03),
                    // Garbled on the wire: ask the stub to resend.
                    Event::BadChecksum => nak = true,
                    Event::Overflow => {}
                }
            }
        }
        if nak {
            self.serial.write_all(b"-")?;
            self.serial.flush()?;
        }
        self.show(&console)?;
        self.send_gdb(&for_gdb);
        Ok(())
    }

    /// Whether console text is held back as a possible packet.
    pub fn serial_pending(&self) -> bool {
        self.from_serial.pending()
    }

    /// No serial input for a while: show held-back text.
    pub fn serial_idle(&mut self) -> io::Result<()> {
        let held: Vec<u8> = self
            .from_serial
            .flush()
            .filter_map(|e| match e {
                Event::Console(c) => Some(c),
                _ => None,
            })
            .collect();
        self.show(&held)
    }

    /// Keystrokes.
    pub fn terminal_bytes(&mut self, bytes: &[u8]) -> io::Result<Flow> {
        let mut out = Vec::with_capacity(bytes.len());
        let mut flow = Flow::Continue;
        for &b in bytes {
            if std::mem::take(&mut self.escape) {
                match b {
                    b'x' | b'X' => {
                        flow = Flow::Quit;
                        break;
                    }
                    CTRL_A => out.push(CTRL_A),
                    b'h' | b'H' | b'?' => self.show(HELP.as_bytes())?,
                    _ => {} // like QEMU: unknown escapes are dropped
                }
            } else if b == CTRL_A {
                self.escape = true;
            } else {
                out.push(b);
            }
        }
        if !out.is_empty() {
            self.serial.write_all(&out)?;
            self.serial.flush()?;
        }
        Ok(flow)
    }

    /// Bytes from the GDB client: forwarded as whole packets, acks and
    /// Ctrl-C; anything else is dropped.
    pub fn gdb_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut out = Vec::new();
        let mut nak = false;
        for &b in bytes {
            for e in self.from_gdb.push(b, true) {
                match e {
                    Event::Packet(p) => {
                        encode_packet(p, &mut |c| out.push(c));
                        self.gdb_spoke = true;
                        // `D`, `D;pid`, `k` end the stub's session.
                        self.stub_attached = !(p == b"k" || p.starts_with(b"D"));
                    }
                    // GDB acks before its first packet: not for the stub.
                    Event::Ack if self.gdb_spoke => out.push(b'+'),
                    Event::Nak if self.gdb_spoke => out.push(b'-'),
                    Event::Interrupt => out.push(0x03),
                    Event::BadChecksum => nak = true,
                    Event::Ack | Event::Nak | Event::Console(_) | Event::Overflow => {}
                }
            }
        }
        if !out.is_empty() {
            self.serial.write_all(&out)?;
            self.serial.flush()?;
        }
        if nak {
            self.send_gdb(b"-");
        }
        Ok(())
    }

    fn show(&mut self, bytes: &[u8]) -> io::Result<()> {
        if !bytes.is_empty() {
            self.terminal.write_all(bytes)?;
            self.terminal.flush()?;
        }
        Ok(())
    }

    /// A write error means the client is gone; its reader thread reports it.
    fn send_gdb(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if let Some(g) = self.gdb.as_mut() {
            if g.write_all(bytes).and_then(|_| g.flush()).is_err() {
                self.gdb = None;
            }
        }
    }
}

enum Msg {
    Serial(Vec<u8>),
    SerialClosed,
    Terminal(Vec<u8>),
    GdbConnected(u64, TcpStream),
    Gdb(u64, Vec<u8>),
    GdbClosed(u64),
}

fn pump(mut r: impl Read, tx: Sender<Msg>, wrap: impl Fn(Vec<u8>) -> Msg, end: Option<Msg>) {
    let mut buf = [0u8; 4096];
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if tx.send(wrap(buf[..n].to_vec())).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    if let Some(m) = end {
        let _ = tx.send(m);
    }
}

/// The event loop: threads read the serial line, the terminal and GDB
/// clients; this thread owns every writer. Returns on Ctrl-A X or when the
/// serial line closes (QEMU exited).
pub fn serve(
    serial_r: impl Read + Send + 'static,
    serial_w: impl Write,
    terminal_in: Option<impl Read + Send + 'static>,
    terminal_out: impl Write,
    listener: TcpListener,
) -> Result<()> {
    let (tx, rx) = channel();
    {
        let tx = tx.clone();
        std::thread::spawn(move || pump(serial_r, tx, Msg::Serial, Some(Msg::SerialClosed)));
    }
    if let Some(input) = terminal_in {
        let tx = tx.clone();
        // EOF on stdin (e.g. /dev/null) just stops keyboard input.
        std::thread::spawn(move || pump(input, tx, Msg::Terminal, None));
    }
    std::thread::spawn(move || {
        for (id, stream) in (1u64..).zip(listener.incoming()) {
            let Ok(stream) = stream else { continue };
            let _ = stream.set_nodelay(true);
            let Ok(reader) = stream.try_clone() else {
                continue;
            };
            if tx.send(Msg::GdbConnected(id, stream)).is_err() {
                return;
            }
            let tx = tx.clone();
            std::thread::spawn(move || {
                pump(
                    reader,
                    tx,
                    move |b| Msg::Gdb(id, b),
                    Some(Msg::GdbClosed(id)),
                )
            });
        }
    });

    let mut bridge = Bridge::new(serial_w, terminal_out);
    let mut client: Option<u64> = None;
    let mut last_serial = Instant::now();
    loop {
        match rx.recv_timeout(HOLD) {
            Ok(Msg::Serial(b)) => {
                bridge.serial_bytes(&b)?;
                last_serial = Instant::now();
            }
            Ok(Msg::SerialClosed) => {
                bridge.serial_idle()?;
                return Ok(());
            }
            Ok(Msg::Terminal(b)) => {
                if bridge.terminal_bytes(&b)? == Flow::Quit {
                    return Ok(());
                }
            }
            Ok(Msg::GdbConnected(id, stream)) => {
                if client.is_some() && bridge.gdb_connected() {
                    // One debugger at a time.
                    let _ = stream.shutdown(std::net::Shutdown::Both);
                } else {
                    client = Some(id);
                    bridge.connect_gdb(Box::new(stream));
                }
            }
            Ok(Msg::Gdb(id, b)) if client == Some(id) => bridge.gdb_bytes(&b)?,
            Ok(Msg::GdbClosed(id)) if client == Some(id) => {
                client = None;
                bridge.disconnect_gdb()?;
            }
            Ok(Msg::Gdb(..) | Msg::GdbClosed(_)) => {}
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        }
        if bridge.serial_pending() && last_serial.elapsed() >= HOLD {
            bridge.serial_idle()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn pkt(p: &str) -> Vec<u8> {
        let mut v = Vec::new();
        encode_packet(p.as_bytes(), &mut |b| v.push(b));
        v
    }

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn take(&self) -> Vec<u8> {
            std::mem::take(&mut self.0.lock().unwrap())
        }
    }

    #[test]
    fn core_routes_each_way() {
        let (serial, term, gdb) = (Shared::default(), Shared::default(), Shared::default());
        let mut b = Bridge::new(serial.clone(), term.clone());

        // no debugger: everything is console, `+`, `-`, Ctrl-C included
        b.serial_bytes(b"U-Boot 2025\r\n+-\x03 ~ $ ").unwrap();
        assert_eq!(term.take(), b"U-Boot 2025\r\n+-\x03 ~ $ ");
        // `$VAR` is held until the line goes quiet, then shown in order
        b.serial_bytes(b"echo $HOME").unwrap();
        assert_eq!(term.take(), b"echo ");
        assert!(b.serial_pending());
        b.serial_idle().unwrap();
        assert_eq!(term.take(), b"$HOME");

        // a debugger connects: its first `+` is dropped, packets pass whole
        b.connect_gdb(Box::new(gdb.clone()));
        let mut from_gdb = b"+".to_vec();
        from_gdb.extend(pkt("qSupported:multiprocess+"));
        b.gdb_bytes(&from_gdb[..7]).unwrap();
        assert!(
            serial.take().is_empty(),
            "nothing until the packet is whole"
        );
        b.gdb_bytes(&from_gdb[7..]).unwrap();
        assert_eq!(serial.take(), pkt("qSupported:multiprocess+"));
        b.gdb_bytes(b"+\x03").unwrap();
        assert_eq!(serial.take(), b"+\x03");

        // the stub answers amid console output
        let mut from_hyp = b"guest says hi\r\n".to_vec();
        from_hyp.push(b'+');
        from_hyp.extend(pkt("PacketSize=1004;vContSupported+"));
        from_hyp.extend(b"more\r\n");
        from_hyp.extend(pkt("O6869"));
        for chunk in from_hyp.chunks(5) {
            b.serial_bytes(chunk).unwrap();
        }
        assert_eq!(term.take(), b"guest says hi\r\nmore\r\n");
        let mut want = b"+".to_vec();
        want.extend(pkt("PacketSize=1004;vContSupported+"));
        want.extend(pkt("O6869"));
        assert_eq!(gdb.take(), want);

        // a reply garbled on the wire is NAKed towards the stub
        b.serial_bytes(b"$OK#00").unwrap();
        assert_eq!(serial.take(), b"-");
        assert!(gdb.take().is_empty());

        // typing still works, with QEMU's escapes
        assert_eq!(
            b.terminal_bytes(b"ls\r\x01\x01\x01z").unwrap(),
            Flow::Continue
        );
        assert_eq!(serial.take(), b"ls\r\x01");
        b.terminal_bytes(b"\x01h").unwrap();
        assert!(String::from_utf8(term.take()).unwrap().contains("Ctrl-A X"));

        // the client vanishes: the stub is detached, its answer dropped
        b.disconnect_gdb().unwrap();
        assert_eq!(serial.take(), pkt("D"));
        let mut answer = b"+".to_vec();
        answer.extend(pkt("OK"));
        answer.extend(b"+ok");
        b.serial_bytes(&answer).unwrap();
        assert_eq!(term.take(), b"+ok", "only the stub's ack is dropped");

        // a client that detaches itself is not detached again
        b.connect_gdb(Box::new(gdb.clone()));
        b.gdb_bytes(&pkt("qSupported")).unwrap();
        b.gdb_bytes(&pkt("D;1")).unwrap();
        serial.take();
        b.disconnect_gdb().unwrap();
        assert!(serial.take().is_empty());
        assert_eq!(b.terminal_bytes(b"a\x01x").unwrap(), Flow::Quit);
        assert_eq!(serial.take(), b"a");
    }

    fn read_until(s: &mut UnixStream, want: &[u8]) -> Vec<u8> {
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        while !got.ends_with(want) {
            assert!(Instant::now() < deadline, "timed out: got {got:?}");
            match s.read(&mut buf) {
                Ok(0) => panic!("closed; got {got:?}"),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
        }
        got
    }

    fn wait_for(shared: &Shared, want: &[u8]) -> Vec<u8> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = shared.0.lock().unwrap().clone();
            if got.ends_with(want) {
                shared.take();
                return got;
            }
            assert!(Instant::now() < deadline, "timed out: got {got:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The whole loop over a socketpair "serial line", a pipe "keyboard" and
    /// a real TCP client on loopback.
    #[test]
    fn event_loop_over_sockets() {
        let (mut hyp, bridge_end) = UnixStream::pair().unwrap();
        let (mut keys, keys_in) = UnixStream::pair().unwrap();
        let term = Shared::default();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let reader = bridge_end.try_clone().unwrap();
        let term2 = term.clone();
        let server =
            std::thread::spawn(move || serve(reader, bridge_end, Some(keys_in), term2, listener));

        hyp.write_all(b"Booting Linux\r\nlogin: ").unwrap();
        assert_eq!(wait_for(&term, b"login: "), b"Booting Linux\r\nlogin: ");
        keys.write_all(b"root\r").unwrap();
        assert_eq!(read_until(&mut hyp, b"root\r"), b"root\r");

        let mut gdb = TcpStream::connect(addr).unwrap();
        gdb.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut first = b"+".to_vec();
        first.extend(pkt("qSupported:multiprocess+"));
        gdb.write_all(&first).unwrap();
        assert_eq!(
            read_until(&mut hyp, &pkt("qSupported:multiprocess+")),
            pkt("qSupported:multiprocess+")
        );
        let mut reply = b"+".to_vec();
        reply.extend(pkt("PacketSize=1004"));
        let mut hyp_out = b"# ".to_vec();
        hyp_out.extend(&reply);
        hyp.write_all(&hyp_out).unwrap();
        let mut got = vec![0u8; reply.len()];
        gdb.read_exact(&mut got).unwrap();
        assert_eq!(got, reply);
        assert_eq!(wait_for(&term, b"# "), b"# ");

        drop(gdb);
        assert_eq!(read_until(&mut hyp, &pkt("D")), pkt("D"));

        keys.write_all(b"\x01x").unwrap();
        server.join().unwrap().unwrap();
    }

    #[test]
    fn options() {
        assert_eq!(
            parse_gdb_addr("3333").unwrap(),
            "127.0.0.1:3333".parse().unwrap()
        );
        assert_eq!(
            parse_gdb_addr(":1234").unwrap(),
            "127.0.0.1:1234".parse().unwrap()
        );
        assert_eq!(
            parse_gdb_addr("0.0.0.0:3333").unwrap(),
            "0.0.0.0:3333".parse().unwrap()
        );
        assert!(parse_gdb_addr("nope").is_err());
        assert!(speed(115_200).is_ok() && speed(12345).is_err());
        let a = qemu_serial_args(Path::new("/tmp/s.sock")).join(" ");
        assert!(
            a.contains("-serial unix:/tmp/s.sock,server=on,wait=on"),
            "{a}"
        );
        assert!(open_serial(&BridgeOptions {
            connect_timeout: Duration::ZERO,
            ..BridgeOptions::new("/nonexistent/serial")
        })
        .is_err());
    }
}
