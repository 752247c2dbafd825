//! The guest's physical memory as the device sees it.
//!
//! The device never holds a pointer into guest RAM: every access names an
//! IPA and a length and goes through [`GuestMemory`], which is where the
//! hypervisor checks it against the guest's Stage-2 RAM. A hostile guest
//! can therefore point descriptors anywhere without the device touching
//! host memory.

use crate::error::GuestMemoryError;

/// Guest-physical memory (implemented by the hypervisor over Stage-2; by a
/// `Vec` in tests).
///
/// Implementations must fail (and copy nothing, or at least nothing outside
/// RAM) if any byte of the range lies outside guest RAM, including when
/// `ipa + len` overflows. The device issues its own ordering barriers
/// (§2.7.13 and §2.7.7.2 memory-barrier rules, as `core::sync::atomic::fence`),
/// so implementations only need plain (e.g. `copy_nonoverlapping` or
/// volatile) accesses to Normal cacheable memory.
pub trait GuestMemory {
    /// Copies `buf.len()` bytes starting at `ipa` into `buf`.
    fn read(&self, ipa: u64, buf: &mut [u8]) -> Result<(), GuestMemoryError>;
    /// Copies `data` to guest memory starting at `ipa`.
    fn write(&mut self, ipa: u64, data: &[u8]) -> Result<(), GuestMemoryError>;
}

/// `base + offset`, or the error an access of `len` bytes there would get.
/// Ring and descriptor addresses are guest-chosen, so the sum can overflow.
pub(crate) fn offset_ipa(base: u64, offset: u64, len: usize) -> Result<u64, GuestMemoryError> {
    base.checked_add(offset)
        .ok_or(GuestMemoryError { ipa: base, len })
}

/// Little-endian field accessors: virtio 1.x structures are little-endian
/// whatever the CPU (§1.4 "le16/le32/le64").
pub(crate) fn read_le16(mem: &impl GuestMemory, ipa: u64) -> Result<u16, GuestMemoryError> {
    let mut b = [0; 2];
    mem.read(ipa, &mut b)?;
    Ok(u16::from_le_bytes(b))
}

pub(crate) fn write_le16(
    mem: &mut impl GuestMemory,
    ipa: u64,
    value: u16,
) -> Result<(), GuestMemoryError> {
    mem.write(ipa, &value.to_le_bytes())
}
