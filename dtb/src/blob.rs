//! Opening a flattened device tree: header checks, then a full structural
//! check, then handing the bytes to `fdt`.
//!
//! `fdt` 0.1.5 trusts the blob: `Fdt::new` only checks the magic and
//! `totalsize`, and its node/property walkers `unwrap()`, `assert!` and slice
//! out of bounds on malformed input (out-of-range block offsets, truncated
//! properties, bad string offsets, non-UTF-8 names, `FDT_NOP` tokens, a tree
//! deeper than 64). So everything those walkers rely on is checked here first;
//! an [`fdt::Fdt`] returned by [`open`] never makes the `fdt` APIs used by
//! this crate panic.

use crate::error::{DtbError, HeaderError};
use crate::validate;

/// The magic number in the first header word (DTSpec v0.4 §5.2).
pub const FDT_MAGIC: u32 = 0xd00d_feed;

/// Size of the version-17 header.
pub const HEADER_SIZE: usize = 40;

/// Largest blob [`open_at`] will map. Linux arm64 uses the same bound
/// (`MAX_FDT_SIZE`, arch/arm64/include/asm/boot.h); QEMU's padded dumps are
/// 1 MiB.
pub const MAX_DTB_SIZE: usize = 2 * 1024 * 1024;

/// The header fields we use, decoded.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Header {
    pub total_size: u32,
    pub off_dt_struct: u32,
    pub off_dt_strings: u32,
    pub off_mem_rsvmap: u32,
    pub size_dt_strings: u32,
    pub size_dt_struct: u32,
}

fn be32(bytes: &[u8], offset: usize) -> Option<u32> {
    let b = bytes.get(offset..offset.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Reads `totalsize` from the first 8 bytes after checking the magic, so a
/// caller holding only a pointer knows how many bytes to expose.
pub fn blob_size(header: &[u8]) -> Result<usize, DtbError> {
    let magic = be32(header, 0).ok_or(HeaderError::TooShort(header.len()))?;
    if magic != FDT_MAGIC {
        return Err(HeaderError::BadMagic(magic).into());
    }
    let total = be32(header, 4).ok_or(HeaderError::TooShort(header.len()))?;
    if (total as usize) < HEADER_SIZE {
        return Err(HeaderError::BadTotalSize(total).into());
    }
    Ok(total as usize)
}

/// Decodes and checks the header and the block layout (DTSpec v0.4 §5.2).
pub(crate) fn check_header(bytes: &[u8]) -> Result<Header, DtbError> {
    let field = |i: usize| be32(bytes, i * 4).ok_or(HeaderError::TooShort(bytes.len()));
    if bytes.len() < HEADER_SIZE {
        return Err(HeaderError::TooShort(bytes.len()).into());
    }
    let magic = field(0)?;
    if magic != FDT_MAGIC {
        return Err(HeaderError::BadMagic(magic).into());
    }
    let h = Header {
        total_size: field(1)?,
        off_dt_struct: field(2)?,
        off_dt_strings: field(3)?,
        off_mem_rsvmap: field(4)?,
        size_dt_strings: field(8)?,
        size_dt_struct: field(9)?,
    };
    let (version, last_compatible) = (field(5)?, field(6)?);

    if (h.total_size as usize) < HEADER_SIZE {
        return Err(HeaderError::BadTotalSize(h.total_size).into());
    }
    if h.total_size as usize > bytes.len() {
        return Err(HeaderError::Truncated {
            total_size: h.total_size,
            available: bytes.len(),
        }
        .into());
    }
    // `size_dt_struct` only exists from version 17 on; a v16 blob would make
    // `fdt` read garbage for it. Anything that claims compatibility with a
    // version newer than 17 changed the layout in ways we cannot know.
    if version < 17 || last_compatible > 17 {
        return Err(HeaderError::UnsupportedVersion {
            version,
            last_compatible,
        }
        .into());
    }

    let total = u64::from(h.total_size);
    let in_bounds = |off: u32, size: u64| {
        u64::from(off) >= HEADER_SIZE as u64 && u64::from(off) + size <= total
    };
    if !in_bounds(h.off_dt_struct, u64::from(h.size_dt_struct)) {
        return Err(HeaderError::BlockOutOfBounds("structure block").into());
    }
    if !in_bounds(h.off_dt_strings, u64::from(h.size_dt_strings)) {
        return Err(HeaderError::BlockOutOfBounds("strings block").into());
    }
    // At least the terminating 16-byte entry must fit.
    if !in_bounds(h.off_mem_rsvmap, 16) {
        return Err(HeaderError::BlockOutOfBounds("memory reservation block").into());
    }
    // DTSpec §5.6: the reservation block is 8-byte aligned, the structure
    // block 4-byte aligned (its tokens are 32-bit and 4-byte padded).
    if !h.off_mem_rsvmap.is_multiple_of(8) {
        return Err(HeaderError::Misaligned("memory reservation block").into());
    }
    if !h.off_dt_struct.is_multiple_of(4) || !h.size_dt_struct.is_multiple_of(4) {
        return Err(HeaderError::Misaligned("structure block").into());
    }
    check_reservations(bytes, &h)?;
    Ok(h)
}

/// The reservation block is a list of (address, size) u64 pairs ended by an
/// all-zero pair (DTSpec §5.3); the terminator must be inside `totalsize`.
fn check_reservations(bytes: &[u8], h: &Header) -> Result<(), DtbError> {
    let end = h.total_size as usize;
    let mut off = h.off_mem_rsvmap as usize;
    while off + 16 <= end {
        let entry = bytes
            .get(off..off + 16)
            .ok_or(HeaderError::UnterminatedReservations)?;
        if entry.iter().all(|&b| b == 0) {
            return Ok(());
        }
        off += 16;
    }
    Err(HeaderError::UnterminatedReservations.into())
}

/// Checks `bytes` completely and wraps it in an [`fdt::Fdt`].
///
/// Trailing bytes past the header's `totalsize` are ignored (a caller may pass
/// a generously sized window). Errors: [`DtbError::BadHeader`] for the header
/// and block layout (including `fdt`'s own magic/size errors),
/// [`DtbError::BadStructure`] for the token stream.
pub fn open(addr_bytes: &[u8]) -> Result<fdt::Fdt<'_>, DtbError> {
    let header = check_header(addr_bytes)?;
    let bytes = addr_bytes
        .get(..header.total_size as usize)
        .ok_or(HeaderError::Truncated {
            total_size: header.total_size,
            available: addr_bytes.len(),
        })?;
    validate::check_structure(bytes, &header)?;
    fdt::Fdt::new(bytes).map_err(|e| {
        DtbError::BadHeader(match e {
            fdt::FdtError::BadMagic => HeaderError::BadMagic(be32(bytes, 0).unwrap_or(0)),
            fdt::FdtError::BadPtr | fdt::FdtError::BufferTooSmall => {
                HeaderError::TooShort(bytes.len())
            }
        })
    })
}

/// Opens the blob at physical address `addr` (as returned by
/// [`parse_dtb_address`](crate::parse_dtb_address)), reading the header
/// first to learn its size.
///
/// # Safety
///
/// `addr` must be readable for [`HEADER_SIZE`] bytes and, if the header is
/// valid, for its `totalsize` bytes (at most [`MAX_DTB_SIZE`]); that memory
/// must stay unchanged for `'static` (true for U-Boot's control FDT while the
/// hypervisor runs with the MMU off).
pub unsafe fn open_at(addr: u64) -> Result<fdt::Fdt<'static>, DtbError> {
    let ptr = addr as usize as *const u8;
    // SAFETY: the caller guarantees HEADER_SIZE readable bytes at `addr`.
    let header = unsafe { core::slice::from_raw_parts(ptr, HEADER_SIZE) };
    let size = blob_size(header)?;
    if size > MAX_DTB_SIZE {
        return Err(HeaderError::BadTotalSize(size as u32).into());
    }
    // SAFETY: the caller guarantees `totalsize` readable, unchanging bytes.
    let bytes = unsafe { core::slice::from_raw_parts(ptr, size) };
    open(bytes)
}
