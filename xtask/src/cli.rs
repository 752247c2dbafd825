//! A small argument parser: `--flag value`, `--flag=value`, `--switch`, and
//! positional words. Kept tiny to keep a cold `cargo xtest` build short.

use anyhow::{bail, Context, Result};
use std::str::FromStr;

#[derive(Debug, Default)]
pub struct Args {
    words: Vec<String>,
    options: Vec<(String, Option<String>)>,
}

impl Args {
    /// Splits `raw`. `switches` lists the options that take no value.
    pub fn parse(raw: &[String], switches: &[&str]) -> Result<Self> {
        let mut args = Args::default();
        let mut it = raw.iter();
        while let Some(a) = it.next() {
            if let Some(opt) = a.strip_prefix("--") {
                if let Some((k, v)) = opt.split_once('=') {
                    args.options.push((k.to_string(), Some(v.to_string())));
                } else if switches.contains(&opt) {
                    args.options.push((opt.to_string(), None));
                } else {
                    let v = it
                        .next()
                        .with_context(|| format!("--{opt} needs a value"))?;
                    args.options.push((opt.to_string(), Some(v.clone())));
                }
            } else {
                args.words.push(a.clone());
            }
        }
        Ok(args)
    }

    pub fn words(&self) -> &[String] {
        &self.words
    }

    pub fn flag(&self, name: &str) -> bool {
        self.options.iter().any(|(k, _)| k == name)
    }

    pub fn value(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_deref())
    }

    pub fn parsed<T: FromStr>(&self, name: &str) -> Result<Option<T>>
    where
        T::Err: std::fmt::Display,
    {
        match self.value(name) {
            None => Ok(None),
            Some(v) => match v.parse() {
                Ok(x) => Ok(Some(x)),
                Err(e) => bail!("--{name} {v}: {e}"),
            },
        }
    }

    /// Fails on any option not in `known`, so typos are not ignored.
    pub fn reject_unknown(&self, known: &[&str]) -> Result<()> {
        for (k, _) in &self.options {
            if !known.contains(&k.as_str()) {
                bail!("unknown option --{k} (known: {})", known.join(", "));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parses_forms() {
        let a = Args::parse(
            &v(&["run", "--smp", "2", "--mem=768", "--native", "x"]),
            &["native"],
        )
        .unwrap();
        assert_eq!(a.words(), &["run", "x"]);
        assert_eq!(a.parsed::<u32>("smp").unwrap(), Some(2));
        assert_eq!(a.value("mem"), Some("768"));
        assert!(a.flag("native"));
        assert!(!a.flag("spmc"));
    }

    #[test]
    fn errors_are_clear() {
        assert!(Args::parse(&v(&["--smp"]), &[]).is_err());
        let a = Args::parse(&v(&["--smp", "x"]), &[]).unwrap();
        assert!(a
            .parsed::<u32>("smp")
            .unwrap_err()
            .to_string()
            .contains("--smp x"));
        assert!(a
            .reject_unknown(&["mem"])
            .unwrap_err()
            .to_string()
            .contains("--smp"));
    }
}
