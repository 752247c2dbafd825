//! Seeds for the `image` target: arm64 Image headers and small AArch64
//! ELF executables, in the target's input format (one mode byte, then the
//! file; see `fuzz_targets/image.rs`).

/// `"ARM\x64"`, little-endian.
const IMAGE_MAGIC: u32 = 0x644d_5241;
const EM_AARCH64: u16 = 183;
const ET_EXEC: u16 = 2;
const PT_LOAD: u32 = 1;

/// Mode bytes of the target.
pub const MODE_IMAGE: u8 = 0;
pub const MODE_ELF: u8 = 1;

/// A 64-byte arm64 Image header followed by `body` bytes of code.
pub fn image(text_offset: u64, image_size: u64, flags: u64, body: usize) -> Vec<u8> {
    let mut h = vec![0u8; 64 + body];
    // code0: "MZ" and a branch, as an EFI-stub kernel starts.
    h[0..4].copy_from_slice(&0xfa40_5a4du32.to_le_bytes());
    h[8..16].copy_from_slice(&text_offset.to_le_bytes());
    h[16..24].copy_from_slice(&image_size.to_le_bytes());
    h[24..32].copy_from_slice(&flags.to_le_bytes());
    h[56..60].copy_from_slice(&IMAGE_MAGIC.to_le_bytes());
    h
}

/// One program header: (type, offset, vaddr, paddr, filesz, memsz).
pub type Phdr = (u32, u64, u64, u64, u64, u64);

/// A minimal ELF64 little-endian file: header, program headers, then
/// `payload` bytes of 0xaa at 0x100.
pub fn elf(machine: u16, e_type: u16, entry: u64, phdrs: &[Phdr], payload: usize) -> Vec<u8> {
    let mut f = vec![0u8; 0x100];
    f[0..4].copy_from_slice(b"\x7fELF");
    f[4] = 2; // ELFCLASS64
    f[5] = 1; // ELFDATA2LSB
    f[6] = 1; // EV_CURRENT
    f[16..18].copy_from_slice(&e_type.to_le_bytes());
    f[18..20].copy_from_slice(&machine.to_le_bytes());
    f[20..24].copy_from_slice(&1u32.to_le_bytes());
    f[24..32].copy_from_slice(&entry.to_le_bytes());
    f[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
    f[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
    f[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
    f[56..58].copy_from_slice(&(phdrs.len() as u16).to_le_bytes());
    f[58..60].copy_from_slice(&64u16.to_le_bytes()); // e_shentsize
    for (i, &(ty, off, vaddr, paddr, filesz, memsz)) in phdrs.iter().enumerate() {
        let p = 64 + i * 56;
        if f.len() < p + 56 {
            f.resize(p + 56, 0);
        }
        f[p..p + 4].copy_from_slice(&ty.to_le_bytes());
        f[p + 4..p + 8].copy_from_slice(&5u32.to_le_bytes()); // PF_R | PF_X
        f[p + 8..p + 16].copy_from_slice(&off.to_le_bytes());
        f[p + 16..p + 24].copy_from_slice(&vaddr.to_le_bytes());
        f[p + 24..p + 32].copy_from_slice(&paddr.to_le_bytes());
        f[p + 32..p + 40].copy_from_slice(&filesz.to_le_bytes());
        f[p + 40..p + 48].copy_from_slice(&memsz.to_le_bytes());
        f[p + 48..p + 56].copy_from_slice(&0x1000u64.to_le_bytes());
    }
    let end = f.len().max(0x100) + payload;
    f.resize(end, 0xaa);
    f
}

fn with_mode(mode: u8, ram_base: u64, file: Vec<u8>) -> Vec<u8> {
    let mut v = vec![mode];
    v.extend_from_slice(&ram_base.to_le_bytes());
    v.extend(file);
    v
}

/// The valid files among the seeds must parse, or the fuzzer would start
/// from rejected inputs only; checked here so a broken generator fails the
/// run at start-up.
pub fn seeds() -> Vec<Vec<u8>> {
    let ram = 0x4000_0000u64;
    let modern = image(0, 0x2b3_0000, 0xa, 64);
    let legacy = image(0x1234, 0, 0, 64);
    let big_endian = image(0, 0x10_0000, 1, 0);
    assert!(elf::parse_image(&modern).is_ok() && elf::parse_image(&legacy).is_ok());

    let kernel = elf(
        EM_AARCH64,
        ET_EXEC,
        0xffff_0000_0008_0010,
        &[
            (
                PT_LOAD,
                0x100,
                0xffff_0000_0008_0000,
                0x4008_0000,
                0x40,
                0x2000,
            ),
            (6, 64, 0, 0, 56, 56), // PT_PHDR
            (PT_LOAD, 0x140, 0, 0x5000_0000, 0, 0),
        ],
        0x80,
    );
    let flat = elf(
        EM_AARCH64,
        ET_EXEC,
        0x4100_0000,
        &[(PT_LOAD, 0x100, 0x4100_0000, 0x4100_0000, 0x20, 0x20)],
        0x20,
    );
    assert!(elf::elf_entry_and_segments(&kernel).is_ok());
    assert!(elf::elf_entry_and_segments(&flat).is_ok());

    vec![
        with_mode(MODE_IMAGE, ram, modern),
        with_mode(MODE_IMAGE, ram + 0x1000, legacy),
        with_mode(MODE_IMAGE, u64::MAX - 0x10_0000, big_endian),
        with_mode(MODE_ELF, ram, kernel),
        with_mode(MODE_ELF, 0, flat),
    ]
}
