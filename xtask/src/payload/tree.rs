//! A file tree described in memory, then written either as a cpio archive
//! (initramfs) or as a directory for `mke2fs -d` (root filesystem), so both
//! get the same busybox layout.

use super::cpio;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    Dir(u32),
    File(u32, Vec<u8>),
    Symlink(String),
    /// Character device (perm, major, minor); cpio only.
    CharDev(u32, u32, u32),
}

/// Paths are relative ("bin/sh"); parents are created implicitly.
#[derive(Clone, Debug, Default)]
pub struct Tree {
    nodes: BTreeMap<String, Node>,
}

impl Tree {
    pub fn dir(&mut self, path: &str) {
        self.add(path, Node::Dir(0o755));
    }
    pub fn file(&mut self, path: &str, perm: u32, data: Vec<u8>) {
        self.add(path, Node::File(perm, data));
    }
    pub fn symlink(&mut self, path: &str, target: &str) {
        self.add(path, Node::Symlink(target.to_string()));
    }
    pub fn char_dev(&mut self, path: &str, perm: u32, major: u32, minor: u32) {
        self.add(path, Node::CharDev(perm, major, minor));
    }

    /// Later additions replace earlier ones (an overlay wins over defaults).
    fn add(&mut self, path: &str, node: Node) {
        let mut parent = String::new();
        for part in path
            .split('/')
            .collect::<Vec<_>>()
            .split_last()
            .map(|(_, p)| p)
            .unwrap_or(&[])
        {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(part);
            self.nodes.entry(parent.clone()).or_insert(Node::Dir(0o755));
        }
        self.nodes.insert(path.to_string(), node);
    }

    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// busybox at /bin/busybox with a link per applet; /sbin, /usr/bin and
    /// /usr/sbin point at /bin (merged layout: every applet found anywhere).
    pub fn add_busybox(&mut self, binary: Vec<u8>, applets: &[String]) {
        self.file("bin/busybox", 0o755, binary);
        for a in applets.iter().filter(|a| *a != "busybox") {
            self.symlink(&format!("bin/{a}"), "busybox");
        }
        self.symlink("sbin", "bin");
        self.symlink("usr/bin", "../bin");
        self.symlink("usr/sbin", "../bin");
    }

    /// Adds every file under `src` (recursively) at `prefix/…`, keeping the
    /// executable bit. Files ending `.in` are passed through `template` and
    /// stored without the suffix.
    pub fn add_host_dir(
        &mut self,
        src: &Path,
        prefix: &str,
        template: &dyn Fn(&str) -> String,
    ) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let mut entries: Vec<_> = std::fs::read_dir(src)
            .with_context(|| format!("listing {}", src.display()))?
            .collect::<std::io::Result<_>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e
                .file_name()
                .into_string()
                .map_err(|n| anyhow::anyhow!("non-UTF-8 name {n:?}"))?;
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            let meta = e.metadata()?;
            if meta.is_dir() {
                self.dir(&path);
                self.add_host_dir(&e.path(), &path, template)?;
            } else if meta.is_file() {
                let perm = if meta.permissions().mode() & 0o111 != 0 {
                    0o755
                } else {
                    0o644
                };
                let data = std::fs::read(e.path())?;
                match path.strip_suffix(".in") {
                    Some(out) => {
                        let text = String::from_utf8(data)
                            .with_context(|| format!("{} is not UTF-8", e.path().display()))?;
                        self.file(out, perm, template(&text).into_bytes());
                    }
                    None => self.file(&path, perm, data),
                }
            } else {
                bail!(
                    "{}: only files and directories are supported",
                    e.path().display()
                );
            }
        }
        Ok(())
    }

    /// As a cpio archive (parents before children: BTreeMap order).
    pub fn to_cpio(&self) -> Result<Vec<u8>> {
        let mut w = cpio::Writer::new(Vec::new());
        for (path, node) in &self.nodes {
            match node {
                Node::Dir(perm) => w.dir(path, *perm)?,
                Node::File(perm, data) => w.file(path, *perm, data)?,
                Node::Symlink(target) => w.symlink(path, target)?,
                Node::CharDev(perm, major, minor) => w.char_dev(path, *perm, *major, *minor)?,
            }
        }
        w.finish()
    }

    /// Materialises the tree under `dest` (which must not exist).
    pub fn write_to(&self, dest: &Path) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir(dest).with_context(|| format!("creating {}", dest.display()))?;
        for (path, node) in &self.nodes {
            let p = dest.join(path);
            match node {
                Node::Dir(perm) => {
                    std::fs::create_dir(&p).with_context(|| format!("creating {}", p.display()))?;
                    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*perm))?;
                }
                Node::File(perm, data) => {
                    std::fs::write(&p, data).with_context(|| format!("writing {}", p.display()))?;
                    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*perm))?;
                }
                Node::Symlink(target) => std::os::unix::fs::symlink(target, &p)?,
                Node::CharDev(..) => bail!("{path}: device nodes need root outside cpio"),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_are_implicit_and_ordered() {
        let mut t = Tree::default();
        t.file("etc/init.d/rcS", 0o755, b"x".to_vec());
        t.add_busybox(b"BB".to_vec(), &["busybox".into(), "sh".into(), "[".into()]);
        let names: Vec<String> = cpio::parse(&t.to_cpio().unwrap())
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(
            names,
            [
                "bin",
                "bin/[",
                "bin/busybox",
                "bin/sh",
                "etc",
                "etc/init.d",
                "etc/init.d/rcS",
                "sbin",
                "usr",
                "usr/bin",
                "usr/sbin"
            ]
        );
        assert_eq!(t.get("bin/sh"), Some(&Node::Symlink("busybox".into())));
        assert_eq!(
            t.get("bin/busybox"),
            Some(&Node::File(0o755, b"BB".to_vec()))
        );
    }

    #[test]
    fn host_dir_with_templates_and_write_back() {
        let dir = crate::apt::test_util::TestDir::new("tree");
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("etc/init.d")).unwrap();
        std::fs::write(src.join("etc/os-release.in"), "NAME=@X@\n").unwrap();
        std::fs::write(src.join("etc/init.d/rcS"), "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            src.join("etc/init.d/rcS"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        let mut t = Tree::default();
        t.add_host_dir(&src, "", &|s| s.replace("@X@", "y"))
            .unwrap();
        assert_eq!(
            t.get("etc/os-release"),
            Some(&Node::File(0o644, b"NAME=y\n".to_vec()))
        );
        assert_eq!(
            t.get("etc/init.d/rcS"),
            Some(&Node::File(0o755, b"#!/bin/sh\n".to_vec()))
        );
        t.symlink("bin/sh", "busybox");
        let out = dir.path().join("out");
        t.write_to(&out).unwrap();
        assert_eq!(
            std::fs::read_to_string(out.join("etc/os-release")).unwrap(),
            "NAME=y\n"
        );
        assert_eq!(
            std::fs::read_link(out.join("bin/sh")).unwrap(),
            Path::new("busybox")
        );
        let mode = std::fs::metadata(out.join("etc/init.d/rcS"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        t.char_dev("dev/console", 0o600, 5, 1);
        assert!(t.write_to(&dir.path().join("out2")).is_err());
    }
}
