//! A running QEMU whose serial line we read and write: the test harness's
//! "expect". Output is read on a thread, kept whole (for the log) and matched
//! line by line. Every wait has a deadline and fails at once on a panic
//! marker or when QEMU exits.

use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Serial output that means the run has failed, whatever we wait for.
pub const PANIC_MARKERS: &[&str] = &[
    "!!! PANIC",
    "Kernel panic",
    // U-Boot's own exception report.
    "Synchronous Abort",
    "elf-hypervisor: boot failed",
];

// `send` and `stdin` serve the guest-shell scenarios.
#[allow(dead_code)]
pub struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<Vec<u8>>,
    /// Everything received so far.
    transcript: Vec<u8>,
    /// How much of `transcript` earlier matches consumed.
    cursor: usize,
    eof: bool,
    log_path: std::path::PathBuf,
    /// Markers that fail the run; scenarios that provoke a panic on purpose
    /// remove the one they expect.
    failure_markers: Vec<&'static str>,
}

impl Session {
    pub fn spawn(program: &str, args: &[String], log_path: &Path) -> Result<Self> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {program}"))?;
        let (tx, rx) = channel();
        for mut stream in [
            Box::new(child.stdout.take().context("no stdout")?) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().context("no stderr")?),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            });
        }
        let stdin = child.stdin.take();
        Ok(Self {
            child,
            stdin,
            rx,
            transcript: Vec::new(),
            cursor: 0,
            eof: false,
            log_path: log_path.to_path_buf(),
            failure_markers: PANIC_MARKERS.to_vec(),
        })
    }

    /// Waits for a complete line that satisfies `matches`, after the previous
    /// match. Fails on a panic marker, on QEMU exiting, or at the deadline.
    pub fn expect_line(
        &mut self,
        what: &str,
        timeout: Duration,
        matches: impl Fn(&str) -> bool,
    ) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            while let Some(end) = self.transcript[self.cursor..]
                .iter()
                .position(|&b| b == b'\n')
            {
                let line =
                    String::from_utf8_lossy(&self.transcript[self.cursor..self.cursor + end]);
                let line = line.trim_end_matches('\r').to_string();
                self.cursor += end + 1;
                if let Some(marker) = self
                    .failure_markers
                    .iter()
                    .copied()
                    .find(|m| line.contains(m))
                {
                    // Let the rest of the report arrive for the log.
                    self.drain(Duration::from_millis(500));
                    bail!("failure marker {marker:?} while waiting for {what}: {line}");
                }
                if matches(&line) {
                    return Ok(line);
                }
            }
            if self.eof {
                bail!("QEMU exited while waiting for {what}");
            }
            let now = Instant::now();
            if now >= deadline {
                bail!("timed out after {}s waiting for {what}", timeout.as_secs());
            }
            self.receive(deadline - now);
        }
    }

    /// Waits for the exact line `line` (surrounding whitespace ignored).
    pub fn expect_exact(&mut self, line: &str, timeout: Duration) -> Result<()> {
        self.expect_line(&format!("the line {line:?}"), timeout, |l| l.trim() == line)
            .map(|_| ())
    }

    /// Waits for a line containing `text`.
    pub fn expect_contains(&mut self, text: &str, timeout: Duration) -> Result<String> {
        self.expect_line(&format!("a line containing {text:?}"), timeout, |l| {
            l.contains(text)
        })
    }

    /// Waits until the output has been quiet for `quiet` (at most `max`), so
    /// that input is sent after the guest has printed its prompt.
    pub fn wait_quiet(&mut self, quiet: Duration, max: Duration) {
        let deadline = Instant::now() + max;
        let mut last_len = self.transcript.len();
        let mut since = Instant::now();
        while Instant::now() < deadline && !self.eof {
            self.receive(Duration::from_millis(20));
            if self.transcript.len() != last_len {
                last_len = self.transcript.len();
                since = Instant::now();
            } else if since.elapsed() >= quiet {
                return;
            }
        }
    }

    /// Also fails the run on `marker` (a scenario's own failure line).
    pub fn fail_on(&mut self, marker: &'static str) {
        self.failure_markers.push(marker);
    }

    /// Stops treating `marker` as a failure (for tests that expect it).
    pub fn allow_marker(&mut self, marker: &str) {
        self.failure_markers.retain(|m| *m != marker);
    }

    #[allow(dead_code)]
    pub fn send(&mut self, text: &str) -> Result<()> {
        let stdin = self.stdin.as_mut().context("QEMU's stdin is closed")?;
        stdin.write_all(text.as_bytes())?;
        stdin.flush()?;
        Ok(())
    }

    /// Waits for QEMU to exit on its own (e.g. after PSCI SYSTEM_OFF).
    pub fn expect_exit(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                self.drain(Duration::from_millis(200));
                // Output after the last match may still hold a panic.
                self.expect_no_marker()?;
                return Ok(status);
            }
            if Instant::now() >= deadline {
                bail!(
                    "QEMU still running {}s after the expected power-off",
                    timeout.as_secs()
                );
            }
            self.receive(Duration::from_millis(50));
        }
    }

    fn expect_no_marker(&self) -> Result<()> {
        let rest = String::from_utf8_lossy(&self.transcript[self.cursor..]);
        if let Some(m) = self.failure_markers.iter().find(|m| rest.contains(*m)) {
            bail!("failure marker {m:?} in the output");
        }
        Ok(())
    }

    fn receive(&mut self, wait: Duration) {
        match self.rx.recv_timeout(wait.min(Duration::from_millis(200))) {
            Ok(chunk) => self.transcript.extend_from_slice(&chunk),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => self.eof = true,
        }
    }

    fn drain(&mut self, wait: Duration) {
        let until = Instant::now() + wait;
        while Instant::now() < until && !self.eof {
            self.receive(until - Instant::now());
        }
    }

    /// Everything received so far, as text.
    pub fn transcript_text(&self) -> String {
        String::from_utf8_lossy(&self.transcript).into_owned()
    }

    /// The last `n` lines of output, for failure reports.
    pub fn tail(&self, n: usize) -> String {
        let text = String::from_utf8_lossy(&self.transcript);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::write(&self.log_path, &self.transcript);
    }
}
