//! The `switchboard` binary run as an operator runs it, in a temporary directory. Only the binary's own
//! crate knows where cargo built it (`env!("CARGO_BIN_EXE_switchboard")`), so it passes the path in.

use crate::TestDir;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

/// The first admin's password the processes are started with.
pub const ADMIN_PASSWORD: &str = "process test admin password";

/// `serve` with every role on a free port.
pub const SERVE: [&str; 7] = [
    "serve",
    "--receiver-listen",
    "127.0.0.1:0",
    "--sender-listen",
    "127.0.0.1:0",
    "--callcenter-listen",
    "127.0.0.1:0",
];

/// The built `switchboard` binary.
#[derive(Debug, Clone, Copy)]
pub struct Binary(pub &'static str);

impl Binary {
    /// `switchboard` with its database and key in `dir`, quiet logs, and a known first admin password.
    pub fn command(self, dir: &Path) -> Command {
        let mut command = Command::new(self.0);
        command
            .current_dir(dir)
            .env_remove("SWITCHBOARD_RECEIVER_LISTEN")
            .env_remove("SWITCHBOARD_SENDER_LISTEN")
            .env_remove("SWITCHBOARD_CALLCENTER_LISTEN")
            .env_remove("SWITCHBOARD_CONSOLE_RECEIVER_URL")
            .env_remove("SWITCHBOARD_CONSOLE_SENDER_URL")
            .env(
                "SWITCHBOARD_DATABASE_URL",
                format!("sqlite://{}", dir.join("sb.db").display()),
            )
            .env("SWITCHBOARD_ENCRYPTION_KEY", dir.join("encryption.key"))
            .env("SWITCHBOARD_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("SWITCHBOARD_LOG", "warn");
        command
    }

    /// As [`Binary::command`], on the test's database: a scratch schema on PostgreSQL when the
    /// environment names a server (several processes started so share one database).
    pub fn command_on(self, dir: &TestDir) -> Command {
        let mut command = self.command(dir.path());
        command.env("SWITCHBOARD_DATABASE_URL", dir.database_url());
        command
    }

    /// Runs a command-line subcommand, which must succeed, and returns what it printed.
    pub fn cli(self, dir: &Path, args: &[&str]) -> String {
        succeeded(self.command(dir), args)
    }

    /// [`Binary::cli`] on the test's database (see [`Binary::command_on`]).
    pub fn cli_on(self, dir: &TestDir, args: &[&str]) -> String {
        succeeded(self.command_on(dir), args)
    }

    /// `switchboard bots add ACCOUNT`: the bot's token.
    pub fn add_bot(self, dir: &Path, account: &str) -> String {
        self.cli(dir, &["bots", "add", account])
    }
}

/// Runs `command ARGS`, which must succeed; what it printed.
fn succeeded(mut command: Command, args: &[&str]) -> String {
    let output = command
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run switchboard {args:?}: {e}"));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("utf8")
        .trim()
        .to_owned()
}

/// Runs `command`, which must fail; what it printed on stderr.
pub fn refused(command: &mut Command) -> String {
    let output = command.output().expect("run switchboard");
    assert!(!output.status.success(), "{command:?} succeeded");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The line of `stderr` that says why switchboard stopped (`switchboard: …`).
pub fn error_line(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|l| l.starts_with("switchboard:"))
        .unwrap_or_else(|| panic!("no error line in {stderr:?}"))
}

/// Sends SIGTERM to `child`, as an operator's `kill` does.
pub fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// A running server process and the URL of each role it serves (`receiver`, `sender`, `callcenter`).
pub struct Running {
    pub child: Child,
    pub urls: HashMap<String, String>,
    /// Kept open: the process may print more after its ready lines.
    pub stdout: BufReader<ChildStdout>,
}

impl Running {
    pub fn url(&self, role: &str) -> &str {
        self.urls
            .get(role)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no {role} in {:?}", self.urls))
    }

    /// The next line the process prints on stdout, trimmed.
    pub fn next_line(&mut self) -> String {
        let mut line = String::new();
        let read = self.stdout.read_line(&mut line).expect("read stdout");
        assert!(read > 0, "switchboard closed its stdout");
        line.trim().to_owned()
    }

    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }
}

/// A test that fails (panics) must not leave its server running: the orphan would keep the test
/// runner's output pipe open and hang the whole run (seen in CI).
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `command ARGS` and waits for the ready line of each of `roles` (the ready lines are the
/// event: no fixed wait). Its logs go to the test's own stderr.
pub fn start(command: Command, args: &[&str], roles: usize) -> Running {
    start_logging(command, args, roles, Stdio::inherit())
}

/// [`start`], with the process's logs (stderr) written to `log`, for a test that reads them.
pub fn start_logging_to(command: Command, args: &[&str], roles: usize, log: &Path) -> Running {
    let file = std::fs::File::create(log).expect("log file");
    start_logging(command, args, roles, Stdio::from(file))
}

fn start_logging(mut command: Command, args: &[&str], roles: usize, stderr: Stdio) -> Running {
    let mut child = command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut reader = BufReader::new(stdout);
    let mut urls = HashMap::new();
    while urls.len() < roles {
        let mut line = String::new();
        let read = reader.read_line(&mut line).expect("ready line");
        assert!(read > 0, "switchboard {args:?} exited before it was ready");
        // "switchboard <role> listening on http://…"
        let words: Vec<&str> = line.split_whitespace().collect();
        if let [_, role, "listening", "on", url] = words.as_slice() {
            urls.insert((*role).to_owned(), (*url).to_owned());
        }
    }
    Running {
        child,
        urls,
        stdout: reader,
    }
}
