//! `xtest.txt`: one test per line, `<category> <name> <command words...>`.
//! Blank lines and `#` comments are ignored.

use anyhow::{bail, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// Host `cargo test -p <package>`.
    Std,
    /// Formatting and clippy.
    Lint,
    /// A QEMU scenario judged by serial markers.
    Qemu,
    /// A short libFuzzer run of one target: `fuzz NAME TARGET SECONDS`.
    Fuzz,
}

impl Category {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "std" => Self::Std,
            "lint" => Self::Lint,
            "qemu" => Self::Qemu,
            "fuzz" => Self::Fuzz,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestCase {
    pub category: Category,
    pub name: String,
    pub command: Vec<String>,
    pub line: usize,
}

/// What a `fuzz NAME TARGET SECONDS` line asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FuzzRun<'a> {
    /// A target of `fuzz/Cargo.toml` (see `crate::fuzz::TARGETS`).
    pub target: &'a str,
    /// libFuzzer's `-max_total_time`, at least 1.
    pub seconds: u64,
}

impl TestCase {
    /// The arguments of a `fuzz` case; [`parse`] has already checked them,
    /// so a typo in xtest.txt fails the whole plan up front rather than
    /// one test minutes into a run.
    pub fn fuzz_run(&self) -> Result<FuzzRun<'_>> {
        let [target, seconds] = self.command.as_slice() else {
            bail!("expected `fuzz NAME TARGET SECONDS`");
        };
        if !crate::fuzz::TARGETS.contains(&target.as_str()) {
            bail!(
                "unknown fuzz target {target:?} (known: {})",
                crate::fuzz::TARGETS.join(", ")
            );
        }
        match seconds.parse::<u64>() {
            Ok(seconds) if seconds > 0 => Ok(FuzzRun { target, seconds }),
            _ => bail!("fuzz seconds {seconds:?} is not a positive whole number"),
        }
    }
}

pub fn parse(text: &str) -> Result<Vec<TestCase>> {
    let mut cases: Vec<TestCase> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let lineno = i + 1;
        let Some(category) = Category::parse(words[0]) else {
            bail!(
                "xtest.txt:{lineno}: unknown category {:?} (std, lint, qemu, fuzz)",
                words[0]
            );
        };
        if words.len() < 3 {
            bail!("xtest.txt:{lineno}: expected `<category> <name> <command...>`");
        }
        if cases.iter().any(|c| c.name == words[1]) {
            bail!("xtest.txt:{lineno}: duplicate test name {:?}", words[1]);
        }
        let case = TestCase {
            category,
            name: words[1].to_string(),
            command: words[2..].iter().map(|s| s.to_string()).collect(),
            line: lineno,
        };
        if category == Category::Fuzz {
            if let Err(e) = case.fuzz_run() {
                bail!("xtest.txt:{lineno}: {e}");
            }
        }
        cases.push(case);
    }
    Ok(cases)
}

/// Tests whose name contains any of `names` (all if empty), in `category`
/// if given.
pub fn select<'a>(
    cases: &'a [TestCase],
    names: &[String],
    category: Option<Category>,
) -> Vec<&'a TestCase> {
    cases
        .iter()
        .filter(|c| category.is_none_or(|cat| c.category == cat))
        .filter(|c| names.is_empty() || names.iter().any(|n| c.name.contains(n.as_str())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "
# comment
std   dtb        dtb
qemu  banner-a   banner --smp 2   # trailing comment
lint  fmt        fmt
";

    #[test]
    fn parses_lines() {
        let cases = parse(SAMPLE).unwrap();
        assert_eq!(cases.len(), 3);
        assert_eq!(cases[1].category, Category::Qemu);
        assert_eq!(cases[1].command, vec!["banner", "--smp", "2"]);
        assert_eq!(cases[1].line, 4);
    }

    #[test]
    fn rejects_bad_lines() {
        assert!(parse("gpu x y")
            .unwrap_err()
            .to_string()
            .contains("unknown category"));
        assert!(parse("std x").is_err());
        assert!(parse("std x a\nstd x b")
            .unwrap_err()
            .to_string()
            .contains("duplicate"));
    }

    #[test]
    fn fuzz_lines() {
        let cases = parse("fuzz fz-dtb dtb 8\nfuzz fz-vq virtqueue 1").unwrap();
        assert_eq!(cases[0].category, Category::Fuzz);
        assert_eq!(
            cases[0].fuzz_run().unwrap(),
            FuzzRun {
                target: "dtb",
                seconds: 8
            }
        );
        assert_eq!(cases[1].fuzz_run().unwrap().target, "virtqueue");
        for (bad, why) in [
            ("fuzz a nope 8", "unknown fuzz target"),
            ("fuzz a dtb 0", "not a positive"),
            ("fuzz a dtb 8s", "not a positive"),
            ("fuzz a dtb", "expected `fuzz NAME TARGET SECONDS`"),
            ("fuzz a dtb 8 9", "expected `fuzz NAME TARGET SECONDS`"),
        ] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(
                e.starts_with("xtest.txt:1: ") && e.contains(why),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn filters() {
        let cases = parse(SAMPLE).unwrap();
        assert_eq!(select(&cases, &[], None).len(), 3);
        assert_eq!(select(&cases, &[], Some(Category::Qemu)).len(), 1);
        assert_eq!(select(&cases, &["ban".into(), "fm".into()], None).len(), 2);
        assert_eq!(
            select(&cases, &["ban".into()], Some(Category::Std)).len(),
            0
        );
    }

    #[test]
    fn shipped_list_parses() {
        let cases = parse(include_str!("../../../xtest.txt")).unwrap();
        assert!(cases.iter().any(|c| c.category == Category::Qemu));
        assert!(cases.iter().any(|c| c.category == Category::Std));
        // Every fuzz target has its smoke run.
        for t in crate::fuzz::TARGETS {
            assert!(
                cases
                    .iter()
                    .filter(|c| c.category == Category::Fuzz)
                    .any(|c| c.fuzz_run().is_ok_and(|r| r.target == t)),
                "no smoke run of fuzz target {t}"
            );
        }
    }
}
