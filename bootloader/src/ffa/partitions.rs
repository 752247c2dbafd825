//! Secure partitions as FF-A describes them to other endpoints: IDs,
//! UUIDs, execution contexts and properties (DEN0077A §6, §14.8
//! FFA_PARTITION_INFO_GET), and the v1.1 partition information descriptor
//! written to the caller's RX buffer.

use super::abi::FfaError;

/// Table 14.11 (v1.1): 24 bytes per partition.
pub const INFO_SIZE: usize = 24;

/// Partition properties (Table 14.12).
pub mod props {
    /// Receives direct requests.
    pub const DIRECT_REQ_RECV: u32 = 1 << 0;
    /// Sends direct requests.
    pub const DIRECT_REQ_SEND: u32 = 1 << 1;
    /// Execution state AArch64 (bit 8).
    pub const AARCH64: u32 = 1 << 8;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    pub id: u16,
    pub uuid: [u8; 16],
    /// One per physical core for MP partitions, 1 for UP ones.
    pub exec_contexts: u16,
    pub properties: u32,
}

/// The nil UUID asks for every partition (§14.8.1).
pub const NIL_UUID: [u8; 16] = [0; 16];

/// The partitions matching `uuid`, written as v1.1 descriptors into `rx`
/// unless `count_only` (flags bit 0). Returns how many matched. No match
/// for a non-nil UUID is INVALID_PARAMETERS; an RX buffer too small for
/// the answer is NO_MEMORY.
pub fn info_get(
    all: &[Partition],
    uuid: [u8; 16],
    count_only: bool,
    rx: &mut [u8],
) -> Result<usize, FfaError> {
    let matches = || all.iter().filter(|p| uuid == NIL_UUID || p.uuid == uuid);
    let n = matches().count();
    if n == 0 && uuid != NIL_UUID {
        return Err(FfaError::InvalidParameters);
    }
    if count_only {
        return Ok(n);
    }
    if n * INFO_SIZE > rx.len() {
        return Err(FfaError::NoMemory);
    }
    for (p, out) in matches().zip(rx.chunks_exact_mut(INFO_SIZE)) {
        out[0..2].copy_from_slice(&p.id.to_le_bytes());
        out[2..4].copy_from_slice(&p.exec_contexts.to_le_bytes());
        out[4..8].copy_from_slice(&p.properties.to_le_bytes());
        out[8..24].copy_from_slice(&p.uuid);
    }
    Ok(n)
}

/// UUID from the four 32-bit words FFA_PARTITION_INFO_GET passes in
/// w1..w4 (§14.8: the UUID's bytes in little-endian word order).
pub fn uuid_from_words(w: [u32; 4]) -> [u8; 16] {
    let mut u = [0u8; 16];
    for (chunk, word) in u.chunks_exact_mut(4).zip(w) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    u
}

#[cfg(test)]
mod tests {
    use super::*;

    const ECHO: Partition = Partition {
        id: 0x8001,
        uuid: [1; 16],
        exec_contexts: 4,
        properties: props::DIRECT_REQ_RECV | props::AARCH64,
    };
    const SHM: Partition = Partition {
        id: 0x8002,
        uuid: [2; 16],
        exec_contexts: 1,
        properties: props::DIRECT_REQ_RECV | props::AARCH64,
    };

    #[test]
    fn all_one_or_none() {
        let mut rx = [0u8; 64];
        assert_eq!(info_get(&[ECHO, SHM], NIL_UUID, false, &mut rx), Ok(2));
        assert_eq!(&rx[0..2], &0x8001u16.to_le_bytes());
        assert_eq!(&rx[2..4], &4u16.to_le_bytes());
        assert_eq!(&rx[24..26], &0x8002u16.to_le_bytes());
        assert_eq!(rx[8..24], [1; 16]);
        assert_eq!(info_get(&[ECHO, SHM], [2; 16], true, &mut []), Ok(1));
        assert_eq!(
            info_get(&[ECHO, SHM], [9; 16], false, &mut rx),
            Err(FfaError::InvalidParameters)
        );
        assert_eq!(info_get(&[], NIL_UUID, false, &mut rx), Ok(0));
        assert_eq!(
            info_get(&[ECHO, SHM], NIL_UUID, false, &mut rx[..30]),
            Err(FfaError::NoMemory)
        );
    }

    #[test]
    fn uuid_words() {
        let u = uuid_from_words([0x0403_0201, 0x0807_0605, 0, 0xffff_ffff]);
        assert_eq!(&u[..8], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&u[12..], &[0xff; 4]);
    }
}
