//! Checks on a booted guest over its serial console, shared by the native
//! and hypervisor QEMU tests. `Session` matches complete lines only, so a
//! command is sent as `echo "@@XS $((N+0))"; CMD; echo "@@XT $? $((N+1))"`:
//! the marker lines it prints (`@@XS N`, `@@XT <status> N+1`) differ from the
//! shell's echo of the command text, and the second carries the exit status.

use crate::session::Session;
use anyhow::{bail, ensure, Context, Result};
use std::cell::RefCell;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Printed by the guest's /etc/profile when the console shell starts.
pub const SHELL_READY: &str = "hyp-guest: shell ready";
/// The prompt is `hyp-guest:$PWD# ` (no newline: not matchable as a line).
#[cfg(test)]
pub const PROMPT_PREFIX: &str = "hyp-guest:";
/// Printed by the initramfs when it gives up on the root filesystem.
pub const RESCUE: &str = "dropping to a shell";
/// Where the smoke test writes its marker file in the guest.
pub const MARKER_PATH: &str = "/root/xtest-marker.txt";

const STEP: Duration = Duration::from_secs(30);

/// Waits for the console shell; fails at once if the initramfs gave up.
pub fn expect_shell(s: &mut Session, timeout: Duration) -> Result<()> {
    let line = s.expect_line("the guest's shell", timeout, |l| {
        l.trim() == SHELL_READY || l.contains(RESCUE)
    })?;
    if line.contains(RESCUE) {
        bail!("guest initramfs failed: {}", line.trim());
    }
    Ok(())
}

/// The output of one shell command.
#[derive(Debug, PartialEq, Eq)]
pub struct Output {
    pub status: i32,
    pub lines: Vec<String>,
}

/// Runs `cmd` (one line) in the guest shell and collects its output lines.
/// The output is what comes between two marker lines, so the shell's echo
/// of the command (which busybox's line editor may wrap at 80 columns) is
/// never mistaken for output.
pub fn run(s: &mut Session, cmd: &str, timeout: Duration) -> Result<Output> {
    static NEXT: AtomicU32 = AtomicU32::new(1000);
    ensure!(!cmd.contains('\n'), "one line only: {cmd:?}");
    let n = NEXT.fetch_add(2, Ordering::Relaxed);
    let start = format!("@@XS {n}");
    let end_tail = format!(" {}", n + 1);
    let seen = RefCell::new(Vec::new());
    // Type only once the prompt is out, as a person would.
    s.wait_quiet(Duration::from_millis(300), Duration::from_secs(5));
    s.send(&format!(
        "echo \"@@XS $(({n}+0))\"; {cmd}; echo \"@@XT $? $(({n}+1))\"\n"
    ))?;
    let marker = s.expect_line(&format!("the end of `{cmd}`"), timeout, |l| {
        let l = l.trim_end();
        let done = l.starts_with("@@XT ") && l.ends_with(&end_tail);
        if !done {
            seen.borrow_mut().push(l.to_string());
        }
        done
    })?;
    let status = marker
        .trim()
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad marker line {marker:?}"))?;
    let mut lines = seen.into_inner();
    let first = lines
        .iter()
        .rposition(|l| l.trim() == start)
        .with_context(|| format!("no {start:?} line before the output of `{cmd}`"))?;
    lines.drain(..=first);
    Ok(Output { status, lines })
}

/// Runs `cmd` and requires exit status 0.
pub fn run_ok(s: &mut Session, cmd: &str) -> Result<Vec<String>> {
    let out = run(s, cmd, STEP)?;
    ensure!(
        out.status == 0,
        "`{cmd}` exited with {}: {}",
        out.status,
        out.lines.join(" | ")
    );
    Ok(out.lines)
}

/// `nproc` equals `cpus`.
pub fn check_cpus(s: &mut Session, cpus: u32) -> Result<()> {
    let lines = run_ok(s, "nproc")?;
    ensure!(
        lines.iter().any(|l| l.trim() == cpus.to_string()),
        "nproc printed {lines:?}, expected {cpus}"
    );
    Ok(())
}

/// `/` is ext4, read-write, on `device` (e.g. `/dev/vda2`).
pub fn check_root_mount(s: &mut Session, device: &str) -> Result<String> {
    let lines = run_ok(s, "grep ' / ' /proc/mounts")?;
    let root = lines
        .iter()
        .find(|l| l.split(' ').nth(1) == Some("/") && !l.starts_with("rootfs"))
        .with_context(|| format!("no root filesystem in /proc/mounts: {lines:?}"))?;
    let f: Vec<&str> = root.split(' ').collect();
    ensure!(
        f.len() >= 4 && f[0] == device && f[2] == "ext4" && f[3].split(',').any(|o| o == "rw"),
        "root is `{root}`, expected {device} ext4 rw"
    );
    Ok(root.clone())
}

/// `/etc/os-release` names the project.
pub fn check_os_release(s: &mut Session) -> Result<()> {
    let lines = run_ok(s, "cat /etc/os-release")?;
    ensure!(
        lines.iter().any(|l| l == "NAME=\"elf-hypervisor guest\""),
        "unexpected /etc/os-release: {lines:?}"
    );
    Ok(())
}

/// Writes `content` (one line, no quotes) to `path` and syncs it to disk.
pub fn write_and_sync(s: &mut Session, path: &str, content: &str) -> Result<()> {
    ensure!(
        !content.contains(['\'', '\n', '\\']),
        "content must be one line without quotes"
    );
    run_ok(s, &format!("echo '{content}' > {path} && sync"))?;
    let back = run_ok(s, &format!("cat {path}"))?;
    ensure!(
        back.iter().any(|l| l == content),
        "{path} reads back as {back:?}"
    );
    Ok(())
}

/// `poweroff -f`: PSCI SYSTEM_OFF, so QEMU must exit with status 0.
pub fn power_off(s: &mut Session) -> Result<()> {
    s.send("poweroff -f\n")?;
    let status = s.expect_exit(STEP)?;
    ensure!(status.success(), "QEMU exited with {status} after poweroff");
    Ok(())
}

/// The standard guest smoke test: shell, CPU count, ext4 root on `root_dev`,
/// os-release, a marker file written and synced, power-off. Returns the
/// marker's content, which the caller then finds on the disk image with
/// [`super::read_root_file`] at [`MARKER_PATH`].
pub fn smoke(s: &mut Session, boot_timeout: Duration, cpus: u32, root_dev: &str) -> Result<String> {
    expect_shell(s, boot_timeout)?;
    // Kernel messages stay in dmesg instead of interleaving with the
    // command output the checks parse.
    run_ok(s, "dmesg -n 1")?;
    check_cpus(s, cpus)?;
    check_root_mount(s, root_dev)?;
    check_os_release(s)?;
    let content = format!("xtest-marker {}-{}", std::process::id(), cpus);
    write_and_sync(s, MARKER_PATH, &content)?;
    power_off(s)?;
    Ok(content)
}
