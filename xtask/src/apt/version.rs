//! Debian version ordering, as implemented by dpkg (`dpkg --compare-versions`).
//!
//! A version is `[epoch:]upstream[-revision]`; the epoch compares numerically,
//! then upstream and revision compare with dpkg's `verrevcmp`: alternating
//! non-digit runs (letters < non-letters, `~` before everything, even the end)
//! and digit runs (numerically).

use std::cmp::Ordering;

/// Compares two Debian version strings like dpkg does.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let (ea, ua, ra) = split(a);
    let (eb, ub, rb) = split(b);
    ea.cmp(&eb)
        .then_with(|| verrevcmp(ua, ub))
        .then_with(|| verrevcmp(ra, rb))
}

fn split(v: &str) -> (u64, &str, &str) {
    let v = v.trim();
    let (epoch, rest) = match v.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit()) => {
            (e.parse().unwrap_or(u64::MAX), rest)
        }
        _ => (0, v),
    };
    match rest.rsplit_once('-') {
        Some((upstream, revision)) => (epoch, upstream, revision),
        None => (epoch, rest, ""),
    }
}

/// dpkg's character weight: `~` sorts before the end of the string, letters
/// before other characters.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        Some(c) => i32::from(c) + 256,
    }
}

fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let (ac, bc) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    const CASES: &[(&str, &str, Ordering)] = &[
        ("1.0", "1.0", Equal),
        ("1.0", "1.0.1", Less),
        ("1.0~rc1", "1.0", Less),
        ("1.0~~", "1.0~", Less),
        ("1.0~", "1.0", Less),
        ("1.0", "1.0a", Less),
        ("1.0a", "1.0+", Less),
        ("1.0-1", "1.0-1+b1", Less),
        ("1.0", "1.0-0", Equal),
        ("1.00", "1.0", Equal),
        ("1.010", "1.9", Greater),
        ("1:0.1", "2.0", Greater),
        ("0:2.0", "2.0", Equal),
        ("2.0-1", "2.0-10", Less),
        ("1:1.35.0-4+deb12u1+b1", "1:1.35.0-4+deb12u1", Greater),
        ("6.12.117-1~deb12u1", "6.12.99-1~deb12u1", Greater),
        ("6.12.117-1~deb12u1", "6.12.117-1", Less),
        ("6.1.0-37", "6.12.0-1", Less),
        ("2025.01-3+deb13u1", "2025.01-3", Greater),
        ("2023.01+dfsg-2+deb12u1", "2025.01-3", Less),
        ("1.2.3-a-b", "1.2.3-a", Greater), // revision is after the last '-'
        ("a", "b", Less),
        ("", "0", Equal),
    ];

    #[test]
    fn known_orderings() {
        for &(a, b, want) in CASES {
            assert_eq!(compare_versions(a, b), want, "{a} vs {b}");
            assert_eq!(compare_versions(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn sorts_like_dpkg() {
        let mut v = vec![
            "1.0", "1.0~rc2", "1:0.5", "1.0+b1", "1.0~rc10", "0.9", "1.0-1",
        ];
        v.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(
            v,
            ["0.9", "1.0~rc2", "1.0~rc10", "1.0", "1.0-1", "1.0+b1", "1:0.5"]
        );
    }

    /// Cross-check against the real dpkg when it is installed.
    #[test]
    fn agrees_with_dpkg_if_available() {
        let dpkg_ok = std::process::Command::new("dpkg")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !dpkg_ok {
            eprintln!("dpkg not available; skipping cross-check");
            return;
        }
        let valid = |v: &str| v.starts_with(|c: char| c.is_ascii_digit());
        for &(a, b, _) in CASES.iter().filter(|(a, b, _)| valid(a) && valid(b)) {
            for (op, want) in [("lt", Less), ("eq", Equal), ("gt", Greater)] {
                let status = std::process::Command::new("dpkg")
                    .args(["--compare-versions", a, op, b])
                    .status()
                    .unwrap();
                assert_eq!(
                    status.success(),
                    compare_versions(a, b) == want,
                    "dpkg disagrees: {a} {op} {b}"
                );
            }
        }
    }
}
