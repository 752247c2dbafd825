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
        cases.push(TestCase {
            category,
            name: words[1].to_string(),
            command: words[2..].iter().map(|s| s.to_string()).collect(),
            line: lineno,
        });
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
    }
}
