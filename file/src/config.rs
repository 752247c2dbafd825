//! `hypervisor.cfg`: what the hypervisor should boot, read from partition 1.
//!
//! A small line-based format, parsed without allocating (fields borrow from
//! the text):
//!
//! ```text
//! # elf-hypervisor guest configuration
//! kernel = Image
//! initrd = initrd.img
//! dtb = guest.dtb          # optional: without it the hypervisor derives one
//! bootargs = console=ttyAMA0 earlycon
//! memory = 512M
//! vcpus = 4
//! ```
//!
//! - One `key = value` per line; spaces around both are ignored; blank lines
//!   are allowed. Lines end with `\n` (a `\r` before it is ignored).
//! - `#` starts a comment at the start of a line or after whitespace, so a
//!   `#` inside a value (`bootargs = a#b`) is kept.
//! - Keys: `kernel` (required), `initrd`, `dtb`, `bootargs`, `memory`,
//!   `vcpus` (all optional). Each may appear once; unknown keys are errors,
//!   so a typo is not silently ignored.
//! - File names: 1..=255 bytes, no `/`, `\`, control characters or spaces
//!   (files live in the root directory of the FAT32 partition).
//! - `memory`: decimal or `0x` hex bytes, optionally with a `K`, `M` or `G`
//!   suffix (binary units); a non-zero multiple of 4 KiB.
//! - `vcpus`: decimal, 1..=255.

use core::fmt;

/// A parsed configuration; strings borrow from the parsed text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config<'a> {
    pub kernel: &'a str,
    pub initrd: Option<&'a str>,
    pub dtb: Option<&'a str>,
    pub bootargs: Option<&'a str>,
    /// Guest RAM in bytes.
    pub memory: Option<u64>,
    pub vcpus: Option<u32>,
}

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A line with no `=`.
    MissingEquals,
    /// Nothing before the `=`.
    EmptyKey,
    UnknownKey,
    DuplicateKey,
    /// Nothing after the `=`.
    EmptyValue,
    /// A file name with a path separator, space or control character.
    BadFileName,
    /// A number that does not parse, or overflows.
    BadNumber,
    /// `memory` not a non-zero multiple of 4 KiB.
    BadMemory,
    /// `vcpus` outside 1..=255.
    BadVcpus,
    /// Bytes that are not printable ASCII (or a tab) in the file.
    BadCharacter,
    /// The file has no `kernel` line (reported with line 0).
    MissingKernel,
}

/// A parse error with its 1-based line number (0: the file as a whole).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    pub line: usize,
    pub kind: ErrorKind,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::MissingEquals => "expected `key = value`",
            ErrorKind::EmptyKey => "missing key before `=`",
            ErrorKind::UnknownKey => "unknown key (kernel, initrd, dtb, bootargs, memory, vcpus)",
            ErrorKind::DuplicateKey => "key given twice",
            ErrorKind::EmptyValue => "missing value after `=`",
            ErrorKind::BadFileName => "bad file name (no spaces, slashes or control characters)",
            ErrorKind::BadNumber => "bad number",
            ErrorKind::BadMemory => "memory must be a non-zero multiple of 4K",
            ErrorKind::BadVcpus => "vcpus must be between 1 and 255",
            ErrorKind::BadCharacter => "non-ASCII or control character",
            ErrorKind::MissingKernel => "no `kernel = ...` line",
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "hypervisor.cfg: {}", self.kind)
        } else {
            write!(f, "hypervisor.cfg line {}: {}", self.line, self.kind)
        }
    }
}

/// Strips a comment: `#` at the start or after whitespace.
fn strip_comment(line: &str) -> &str {
    let b = line.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'#' && (i == 0 || b[i - 1] == b' ' || b[i - 1] == b'\t') {
            return &line[..i];
        }
    }
    line
}

fn file_name(v: &str) -> Result<&str, ErrorKind> {
    let ok = v.len() <= 255
        && v.bytes()
            .all(|c| c.is_ascii_graphic() && c != b'/' && c != b'\\');
    if ok {
        Ok(v)
    } else {
        Err(ErrorKind::BadFileName)
    }
}

fn number(v: &str) -> Result<u64, ErrorKind> {
    let (digits, radix) = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(h) => (h, 16),
        None => (v, 10),
    };
    if digits.is_empty() || digits.starts_with('+') {
        return Err(ErrorKind::BadNumber);
    }
    u64::from_str_radix(digits, radix).map_err(|_| ErrorKind::BadNumber)
}

/// `512M`, `0x20000000`, `1G`, `262144K`.
pub fn parse_size(v: &str) -> Result<u64, ErrorKind> {
    let (num, shift) = match v.as_bytes().last() {
        Some(b'K' | b'k') => (&v[..v.len() - 1], 10),
        Some(b'M' | b'm') => (&v[..v.len() - 1], 20),
        Some(b'G' | b'g') => (&v[..v.len() - 1], 30),
        _ => (v, 0),
    };
    let n = number(num)?;
    let bytes = n.checked_mul(1u64 << shift).ok_or(ErrorKind::BadNumber)?;
    if bytes == 0 || bytes % 4096 != 0 {
        return Err(ErrorKind::BadMemory);
    }
    Ok(bytes)
}

/// Parses a whole file.
pub fn parse(text: &str) -> Result<Config<'_>, Error> {
    let mut kernel = None;
    let mut cfg = Config {
        kernel: "",
        initrd: None,
        dtb: None,
        bootargs: None,
        memory: None,
        vcpus: None,
    };
    for (i, raw) in text.split('\n').enumerate() {
        let line = i + 1;
        let err = |kind| Error { line, kind };
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if !raw.bytes().all(|c| c == b'\t' || (0x20..0x7f).contains(&c)) {
            return Err(err(ErrorKind::BadCharacter));
        }
        let content = strip_comment(raw).trim();
        if content.is_empty() {
            continue;
        }
        let (key, value) = content
            .split_once('=')
            .ok_or(err(ErrorKind::MissingEquals))?;
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() {
            return Err(err(ErrorKind::EmptyKey));
        }
        if value.is_empty() {
            return Err(err(ErrorKind::EmptyValue));
        }
        fn set<T>(slot: &mut Option<T>, v: T, line: usize) -> Result<(), Error> {
            if slot.is_some() {
                return Err(Error {
                    line,
                    kind: ErrorKind::DuplicateKey,
                });
            }
            *slot = Some(v);
            Ok(())
        }
        match key {
            "kernel" => set(&mut kernel, file_name(value).map_err(err)?, line)?,
            "initrd" => set(&mut cfg.initrd, file_name(value).map_err(err)?, line)?,
            "dtb" => set(&mut cfg.dtb, file_name(value).map_err(err)?, line)?,
            "bootargs" => set(&mut cfg.bootargs, value, line)?,
            "memory" => set(&mut cfg.memory, parse_size(value).map_err(err)?, line)?,
            "vcpus" => {
                let n = number(value).map_err(err)?;
                if !(1..=255).contains(&n) {
                    return Err(err(ErrorKind::BadVcpus));
                }
                set(&mut cfg.vcpus, n as u32, line)?
            }
            _ => return Err(err(ErrorKind::UnknownKey)),
        }
    }
    cfg.kernel = kernel.ok_or(Error {
        line: 0,
        kind: ErrorKind::MissingKernel,
    })?;
    Ok(cfg)
}

/// `key = value`, except that a value starting with `#` is written right
/// after the `=`: after the usual space it would read back as a comment
/// (`kernel=#x` is a valid file name `#x`; `kernel = #x` has no value).
/// Found by the `fat` fuzz target's render/parse round trip.
fn text_line(f: &mut fmt::Formatter<'_>, key: &str, value: &str) -> fmt::Result {
    let gap = if value.starts_with('#') { "" } else { " " };
    writeln!(f, "{key} ={gap}{value}")
}

/// Renders the file (`parse` reads it back to an equal `Config`). Memory is
/// written with the largest exact binary suffix.
impl fmt::Display for Config<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "# elf-hypervisor guest configuration")?;
        text_line(f, "kernel", self.kernel)?;
        if let Some(v) = self.initrd {
            text_line(f, "initrd", v)?;
        }
        if let Some(v) = self.dtb {
            text_line(f, "dtb", v)?;
        }
        if let Some(v) = self.bootargs {
            text_line(f, "bootargs", v)?;
        }
        if let Some(m) = self.memory {
            let (n, unit) = [(30, "G"), (20, "M"), (10, "K")]
                .iter()
                .find(|(s, _)| m % (1u64 << s) == 0)
                .map(|&(s, u)| (m >> s, u))
                .unwrap_or((m, ""));
            writeln!(f, "memory = {n}{unit}")?;
        }
        if let Some(v) = self.vcpus {
            writeln!(f, "vcpus = {v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# elf-hypervisor guest configuration\n\
        kernel = Image\n\
        initrd = initrd.img\n\
        dtb = guest.dtb          # optional\n\
        \n\
        bootargs = console=ttyAMA0 earlycon root=LABEL=a#b\n\
        memory = 512M\n\
        vcpus = 4\n";

    #[test]
    fn parses_the_documented_example() {
        let c = parse(SAMPLE).unwrap();
        assert_eq!(
            c,
            Config {
                kernel: "Image",
                initrd: Some("initrd.img"),
                dtb: Some("guest.dtb"),
                bootargs: Some("console=ttyAMA0 earlycon root=LABEL=a#b"),
                memory: Some(512 << 20),
                vcpus: Some(4),
            }
        );
    }

    #[test]
    fn minimal_and_variants() {
        let c = parse("kernel=Image").unwrap();
        assert_eq!(c.kernel, "Image");
        assert_eq!(
            (c.initrd, c.dtb, c.bootargs, c.memory, c.vcpus),
            (None, None, None, None, None)
        );
        let c = parse("\r\n  kernel\t=\tvmlinuz  \r\nmemory = 0x20000000\r\n# end").unwrap();
        assert_eq!((c.kernel, c.memory), ("vmlinuz", Some(0x2000_0000)));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("262144k"), Ok(1 << 28));
        assert_eq!(parse_size("8192"), Ok(8192));
    }

    #[test]
    fn errors_carry_line_numbers() {
        let e = |text| parse(text).unwrap_err();
        assert_eq!(
            e("kernel = Image\nfoo\n"),
            Error {
                line: 2,
                kind: ErrorKind::MissingEquals
            }
        );
        assert_eq!(
            e("kernel = Image\n\nkernal = x"),
            Error {
                line: 3,
                kind: ErrorKind::UnknownKey
            }
        );
        assert_eq!(
            e("kernel = a\nkernel = b"),
            Error {
                line: 2,
                kind: ErrorKind::DuplicateKey
            }
        );
        assert_eq!(
            e("kernel =   # nothing"),
            Error {
                line: 1,
                kind: ErrorKind::EmptyValue
            }
        );
        assert_eq!(
            e("= x"),
            Error {
                line: 1,
                kind: ErrorKind::EmptyKey
            }
        );
        assert_eq!(
            e("kernel = boot/Image"),
            Error {
                line: 1,
                kind: ErrorKind::BadFileName
            }
        );
        assert_eq!(
            e("kernel = my Image"),
            Error {
                line: 1,
                kind: ErrorKind::BadFileName
            }
        );
        assert_eq!(
            e("kernel = I\nmemory = lots"),
            Error {
                line: 2,
                kind: ErrorKind::BadNumber
            }
        );
        assert_eq!(
            e("kernel = I\nmemory = 1000"),
            Error {
                line: 2,
                kind: ErrorKind::BadMemory
            }
        );
        assert_eq!(
            e("kernel = I\nmemory = 0M"),
            Error {
                line: 2,
                kind: ErrorKind::BadMemory
            }
        );
        assert_eq!(
            e("kernel = I\nmemory = 99999999999G"),
            Error {
                line: 2,
                kind: ErrorKind::BadNumber
            }
        );
        assert_eq!(
            e("kernel = I\nvcpus = 0"),
            Error {
                line: 2,
                kind: ErrorKind::BadVcpus
            }
        );
        assert_eq!(
            e("kernel = I\nvcpus = 256"),
            Error {
                line: 2,
                kind: ErrorKind::BadVcpus
            }
        );
        assert_eq!(
            e("kernel = I\nvcpus = -1"),
            Error {
                line: 2,
                kind: ErrorKind::BadNumber
            }
        );
        assert_eq!(
            e("kernel = I\nvcpus = +1"),
            Error {
                line: 2,
                kind: ErrorKind::BadNumber
            }
        );
        assert_eq!(
            e("kernel = I\nbootargs = caf\u{e9}"),
            Error {
                line: 2,
                kind: ErrorKind::BadCharacter
            }
        );
        assert_eq!(
            e("# only a comment\n"),
            Error {
                line: 0,
                kind: ErrorKind::MissingKernel
            }
        );
        assert_eq!(
            e(""),
            Error {
                line: 0,
                kind: ErrorKind::MissingKernel
            }
        );
    }

    #[test]
    fn error_messages() {
        let mut buf = [0u8; 96];
        let msg = fmt_into(&mut buf, &parse("kernel = a\nx = 1").unwrap_err());
        assert_eq!(
            msg,
            "hypervisor.cfg line 2: unknown key (kernel, initrd, dtb, bootargs, memory, vcpus)"
        );
    }

    #[test]
    fn render_round_trips() {
        let c = parse(SAMPLE).unwrap();
        let mut buf = [0u8; 512];
        let text = fmt_into(&mut buf, &c);
        assert!(text.contains("memory = 512M\n"), "{text}");
        assert_eq!(parse(text).unwrap(), c);
        let odd = Config {
            memory: Some(3 << 12),
            ..parse("kernel = k").unwrap()
        };
        let mut buf2 = [0u8; 512];
        let text = fmt_into(&mut buf2, &odd);
        assert!(text.contains("memory = 12K\n"), "{text}");
        assert_eq!(parse(text).unwrap(), odd);
    }

    /// Values may start with `#` when it follows the `=` directly; the
    /// rendering must not turn them into comments (a `fat` fuzz finding).
    #[test]
    fn render_keeps_values_starting_with_a_hash() {
        let c = parse("kernel=#vmlinuz\ninitrd=#i\ndtb=#d\nbootargs=#a #b").unwrap();
        assert_eq!(
            (c.kernel, c.initrd, c.dtb, c.bootargs),
            ("#vmlinuz", Some("#i"), Some("#d"), Some("#a"))
        );
        let mut buf = [0u8; 256];
        let text = fmt_into(&mut buf, &c);
        assert!(text.contains("kernel =#vmlinuz\n"), "{text}");
        assert_eq!(parse(text), Ok(c));
    }

    /// `format!` without alloc, for the no_std build of this module.
    fn fmt_into<'b>(buf: &'b mut [u8], v: &dyn fmt::Display) -> &'b str {
        struct W<'x>(&'x mut [u8], usize);
        impl fmt::Write for W<'_> {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                let end = self.1 + s.len();
                self.0
                    .get_mut(self.1..end)
                    .ok_or(fmt::Error)?
                    .copy_from_slice(s.as_bytes());
                self.1 = end;
                Ok(())
            }
        }
        let mut w = W(buf, 0);
        fmt::write(&mut w, format_args!("{v}")).unwrap();
        let n = w.1;
        core::str::from_utf8(&buf[..n]).unwrap()
    }
}
