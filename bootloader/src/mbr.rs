//! The MBR partition table (four primary entries at offset 0x1BE).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    pub kind: u8,
    pub first_lba: u64,
    pub blocks: u64,
}

/// The four primary partitions of an MBR sector; None for empty entries or
/// when the sector has no 0x55AA signature.
pub fn partitions(sector: &[u8; 512]) -> [Option<Partition>; 4] {
    let mut out = [None; 4];
    if sector[510] != 0x55 || sector[511] != 0xaa {
        return out;
    }
    for (i, slot) in out.iter_mut().enumerate() {
        let e = &sector[0x1be + i * 16..0x1be + (i + 1) * 16];
        let le = |o: usize| u32::from_le_bytes([e[o], e[o + 1], e[o + 2], e[o + 3]]) as u64;
        let p = Partition {
            kind: e[4],
            first_lba: le(8),
            blocks: le(12),
        };
        if p.kind != 0 && p.blocks != 0 {
            *slot = Some(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_entries() {
        let mut s = [0u8; 512];
        s[510] = 0x55;
        s[511] = 0xaa;
        s[0x1be + 4] = 0x0c;
        s[0x1be + 8..0x1be + 12].copy_from_slice(&2048u32.to_le_bytes());
        s[0x1be + 12..0x1be + 16].copy_from_slice(&4096u32.to_le_bytes());
        let p = partitions(&s);
        assert_eq!(
            p[0],
            Some(Partition {
                kind: 0x0c,
                first_lba: 2048,
                blocks: 4096
            })
        );
        assert_eq!(p[1], None);
        s[511] = 0;
        assert_eq!(partitions(&s), [None; 4]);
    }
}
