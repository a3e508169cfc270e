//! A pseudo-terminal to run `followup` in, for what it does only on a
//! terminal (`create`'s wizard): start it with stdin, stdout and stderr on
//! the terminal, wait for a text to appear, type a line.
//!
//! The terminal echoes what is typed and ends lines with `\r\n`; what the
//! program printed is read back with `\r` removed.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread;
use std::time::{Duration, Instant};

use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};

use super::Cmd;

/// How long a test waits for a text before it fails with the screen so far.
const WAIT: Duration = Duration::from_secs(30);

pub struct Terminal {
    master: File,
    child: Child,
    output: Receiver<Vec<u8>>,
    /// Everything the program printed (and the echo of what was typed).
    pub screen: String,
    /// Where the next [`Terminal::expect`] starts looking.
    cursor: usize,
}

impl Cmd<'_> {
    /// Starts the run on a new pseudo-terminal.
    pub fn terminal(self) -> Terminal {
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("open a pty");
        grantpt(&master).expect("grantpt");
        unlockpt(&master).expect("unlockpt");
        let name = ptsname(&master, Vec::new()).expect("ptsname");
        let slave = OpenOptions::new()
            .read(true)
            .write(true)
            .open(name.to_str().expect("a UTF-8 pty name"))
            .expect("open the pty's terminal side");
        let mut command = self.command();
        command
            .stdin(Stdio::from(slave.try_clone().expect("dup")))
            .stdout(Stdio::from(slave.try_clone().expect("dup")))
            .stderr(Stdio::from(slave));
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", super::BIN));
        // The command holds the terminal side: dropping it leaves the child
        // the only holder, so reads end when it exits.
        drop(command);
        let master = File::from(master);
        let mut reader = master.try_clone().expect("dup the pty");
        let (tx, output) = channel();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Linux answers EIO once the last terminal-side holder is gone.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Terminal {
            master,
            child,
            output,
            screen: String::new(),
            cursor: 0,
        }
    }
}

impl Terminal {
    /// Waits until `text` is printed after what earlier calls matched.
    pub fn expect(&mut self, text: &str) -> &mut Terminal {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(at) = self.screen[self.cursor..].find(text) {
                self.cursor += at + text.len();
                return self;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(bytes) => self
                    .screen
                    .push_str(&String::from_utf8_lossy(&bytes).replace('\r', "")),
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!(
                        "{text:?} did not appear; the terminal shows:\n{}",
                        self.screen
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!(
                        "the program ended before {text:?}; the terminal shows:\n{}",
                        self.screen
                    )
                }
            }
        }
    }

    /// Types a line and Enter.
    pub fn line(&mut self, text: &str) -> &mut Terminal {
        self.master
            .write_all(format!("{text}\n").as_bytes())
            .expect("type on the pty");
        self
    }

    /// Waits for the program to end (reading what it still prints).
    pub fn wait(mut self) -> (ExitStatus, String) {
        let status = self.child.wait().expect("wait for followup");
        while let Ok(bytes) = self.output.recv_timeout(Duration::from_secs(5)) {
            self.screen
                .push_str(&String::from_utf8_lossy(&bytes).replace('\r', ""));
        }
        (status, self.screen)
    }
}
