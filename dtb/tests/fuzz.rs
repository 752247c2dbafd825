//! Property test: `parse_any` never panics, whatever the bytes.
//!
//! Deterministic pseudo-random mutations (xorshift64*) of the QEMU fixtures
//! and a synthetic tree. Mutations aim mostly at the structure and strings
//! blocks, where `fdt` 0.1.5 itself would panic on bad input.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use common::{fixture, pl011, tree, VIRT_SECURE, VIRT_V2, VIRT_V3};

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Values that hit token, length and cell-count edge cases.
const INTERESTING: [u32; 12] = [
    0,
    1,
    2,
    3,
    4,
    5,
    9,
    0x7f,
    0xff,
    0x8000_0000,
    0xffff_fff0,
    0xffff_ffff,
];

fn be32(b: &[u8], word: usize) -> usize {
    u32::from_be_bytes([
        b[word * 4],
        b[word * 4 + 1],
        b[word * 4 + 2],
        b[word * 4 + 3],
    ]) as usize
}

fn mutate(rng: &mut XorShift, seed: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    // Structure block + strings block: from off_dt_struct to the end.
    let body_start = be32(seed, 2);
    for _ in 0..1 + rng.below(4) {
        if b.len() < 16 {
            break;
        }
        // An offset that leaves at least `room` bytes, 3 times in 4 inside
        // the body (4-aligned, to hit token and length words).
        let in_body = rng.below(4) != 0;
        let at = |rng: &mut XorShift, len: usize, room: usize| {
            let limit = len - room;
            if in_body && body_start < limit {
                (body_start + rng.below(limit - body_start)) & !3
            } else {
                rng.below(limit + 1)
            }
        };
        match rng.below(6) {
            0 => {
                let i = at(rng, b.len(), 1);
                b[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = at(rng, b.len(), 4);
                let v = INTERESTING[rng.below(INTERESTING.len())];
                b[i..i + 4].copy_from_slice(&v.to_be_bytes());
            }
            2 => {
                let i = at(rng, b.len(), 1);
                b[i] = rng.next() as u8;
            }
            3 => {
                // Insert or delete a few bytes: shifts every later offset.
                let n = 1 + rng.below(8);
                let i = at(rng, b.len(), n);
                if rng.below(2) == 0 {
                    b.splice(i..i, std::iter::repeat_n(0u8, n));
                } else {
                    b.drain(i..i + n);
                }
            }
            4 => b.truncate(rng.below(b.len() + 1)),
            _ => {
                // Copy a 4-aligned chunk over another one (duplicates tokens,
                // property headers and names).
                let len = 4 * (1 + rng.below(8));
                if b.len() > 2 * len {
                    let from = at(rng, b.len(), len);
                    let to = at(rng, b.len(), len);
                    let chunk = b[from..from + len].to_vec();
                    b[to..to + len].copy_from_slice(&chunk);
                }
            }
        }
    }
    b
}

/// Iterations per seed tree; `DTB_FUZZ_ITERS` raises it for a longer local
/// campaign (e.g. `DTB_FUZZ_ITERS=200000 cargo test -p dtb --release --test fuzz`).
fn iterations() -> usize {
    std::env::var("DTB_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

fn never_panics(name: &str, seed: &[u8], iterations: usize, rng_seed: u64) -> (usize, usize) {
    assert!(
        dtb::parse_any(seed).is_ok(),
        "{name} should parse unmodified"
    );
    let mut rng = XorShift(rng_seed);
    let (mut ok, mut err) = (0, 0);
    for i in 0..iterations {
        let input = mutate(&mut rng, seed);
        match catch_unwind(AssertUnwindSafe(|| dtb::parse_any(&input))) {
            Ok(Ok(_)) => ok += 1,
            Ok(Err(e)) => {
                assert!(!e.to_string().contains('\n'));
                err += 1;
            }
            Err(_) => {
                let path = std::env::temp_dir().join(format!("dtb-fuzz-{name}-{i}.dtb"));
                let _ = std::fs::write(&path, &input);
                panic!(
                    "parse_any panicked on mutation {i} of {name}; input saved to {}",
                    path.display()
                );
            }
        }
    }
    eprintln!("{name}: {ok} parsed, {err} rejected");
    (ok, err)
}

#[test]
fn mutated_qemu_trees_never_panic() {
    let mut total_err = 0;
    for (i, name) in [VIRT_V3, VIRT_V2, VIRT_SECURE].into_iter().enumerate() {
        let (_, err) = never_panics(
            name,
            &fixture(name),
            iterations(),
            0x9e37_79b9_7f4a_7c15 ^ i as u64,
        );
        total_err += err;
    }
    // The mutations must actually exercise the error paths.
    assert!(total_err > 100, "only {total_err} mutations were rejected");
}

#[test]
fn mutated_synthetic_tree_never_panics() {
    let blob = tree(|w| pl011(w, "pl011@9000000", 0x900_0000, 1, None));
    never_panics("synthetic", &blob, iterations(), 0x0123_4567_89ab_cdef);
}

/// Byte ranges of every property value in a well-formed blob.
fn value_ranges(b: &[u8]) -> Vec<std::ops::Range<usize>> {
    let (start, size) = (be32(b, 2), be32(b, 9));
    let (mut pos, mut out) = (start, Vec::new());
    while pos < start + size {
        match be32(b, pos / 4) {
            1 => {
                let nul = b[pos + 4..].iter().position(|&c| c == 0).unwrap();
                pos = (pos + 4 + nul + 1 + 3) & !3;
            }
            3 => {
                let len = be32(b, pos / 4 + 1);
                out.push(pos + 12..pos + 12 + len);
                pos = (pos + 12 + len + 3) & !3;
            }
            _ => pos += 4,
        }
    }
    out
}

/// Keeps the structure valid and corrupts only property values, so every
/// input reaches the semantic decoders (cells, reg, ranges, interrupts,
/// phandles, strings).
#[test]
fn mutated_property_values_never_panic() {
    let mut rng = XorShift(0xdead_beef_cafe_f00d);
    let (mut ok, mut err) = (0, 0);
    for name in [VIRT_V3, VIRT_V2, VIRT_SECURE] {
        let seed = fixture(name);
        let values: Vec<_> = value_ranges(&seed)
            .into_iter()
            .filter(|r| !r.is_empty())
            .collect();
        assert!(values.len() > 100);
        for i in 0..iterations() {
            let mut b = seed.clone();
            for _ in 0..1 + rng.below(3) {
                let r = &values[rng.below(values.len())];
                let at = r.start + (rng.below(r.len()) & !3);
                if at + 4 <= r.end && rng.below(2) == 0 {
                    let v = INTERESTING[rng.below(INTERESTING.len())];
                    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
                } else {
                    b[r.start + rng.below(r.len())] = rng.next() as u8;
                }
            }
            match catch_unwind(AssertUnwindSafe(|| dtb::parse_any(&b))) {
                Ok(Ok(_)) => ok += 1,
                Ok(Err(_)) => err += 1,
                Err(_) => panic!("parse_any panicked on value mutation {i} of {name}"),
            }
        }
    }
    eprintln!("property values: {ok} parsed, {err} rejected");
    assert!(ok > 0 && err > 0);
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = fixture(VIRT_V2);
    for len in 0..bytes.len() {
        assert!(dtb::parse_any(&bytes[..len]).is_err(), "truncated to {len}");
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = XorShift(42);
    for _ in 0..iterations() {
        let len = rng.below(512);
        let mut b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if b.len() >= 8 && rng.below(2) == 0 {
            // A valid magic and totalsize get past the first checks.
            b[..4].copy_from_slice(&0xd00d_feedu32.to_be_bytes());
            b[4..8].copy_from_slice(&(len as u32).to_be_bytes());
        }
        assert!(catch_unwind(|| dtb::parse_any(&b)).is_ok());
    }
}
