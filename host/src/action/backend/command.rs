//! Running firewall tools: one program with its argv through [`std::process::Command`]
//! (never a shell), behind the configured wrapper, with optional stdin text; errors carry
//! the tool's stderr. Also the check that a configured name is safe to put in a script.

use std::io::Write;
use std::process::{ExitStatus, Stdio};

/// One command line to run, wrapper included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    argv: Vec<String>,
    stdin: Option<String>,
}

/// What a finished command printed.
#[derive(Debug, Clone)]
pub struct Output {
    /// How it exited.
    pub status: ExitStatus,
    /// Its standard output (lossy UTF-8).
    pub stdout: String,
    /// Its standard error (lossy UTF-8).
    pub stderr: String,
}

/// Why a command could not be run, or what it said when it failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The program is not installed.
    #[error("`{program}` not found{}", install_hint(*package))]
    NotFound {
        /// The program as given.
        program: String,
        /// The Debian package that provides it, when known.
        package: Option<&'static str>,
    },
    /// The program exists but could not be started.
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The program ran and failed.
    #[error(
        "`{command}` failed ({status}): {stderr}{}",
        excerpt_suffix(input_excerpt)
    )]
    Failed {
        /// The command line (argv joined by spaces, for display only).
        command: String,
        /// How it exited.
        status: ExitStatus,
        /// Its standard error, trimmed.
        stderr: String,
        /// The part of its stdin the error points at (or its start), for scripts.
        input_excerpt: Option<String>,
    },
    /// A configured name cannot be put in a firewall command.
    #[error(
        "{name:?} cannot name a firewall table, chain or set: use 1 to {MAX_NAME_LEN} ASCII \
         letters, digits, '-' or '_', starting with a letter"
    )]
    BadName {
        /// The name as configured.
        name: String,
    },
}

/// Longest name [`check_name`] accepts: an iptables chain name holds 28 bytes, and an
/// ipset name 31 including the `-v4` suffix.
pub const MAX_NAME_LEN: usize = 28;

/// Refuses a name that could not be used verbatim as an nftables table, iptables chain or
/// ipset set prefix: the backends put it in scripts, so only a plain identifier is allowed.
pub fn check_name(name: &str) -> Result<(), CommandError> {
    let ok = name.len() <= MAX_NAME_LEN
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(CommandError::BadName {
            name: name.to_string(),
        })
    }
}

impl Command {
    /// `program` behind `wrapper` (an argv prefix, empty for none).
    pub fn new(wrapper: &[String], program: &str) -> Self {
        let mut argv = wrapper.to_vec();
        argv.push(program.to_string());
        Command { argv, stdin: None }
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.argv.extend(args.into_iter().map(Into::into));
        self
    }

    /// Text to feed on stdin (otherwise stdin is empty).
    pub fn stdin(mut self, text: String) -> Self {
        self.stdin = Some(text);
        self
    }

    /// The command line for display.
    pub fn display(&self) -> String {
        self.argv.join(" ")
    }

    /// Runs the command to completion; only failing to start it is an error.
    pub fn output(&self) -> Result<Output, CommandError> {
        let (program, args) = self.argv.split_first().expect("argv holds the program");
        tracing::debug!(command = %self.display(), "running");
        let mut child = std::process::Command::new(program)
            .args(args)
            .env("LC_ALL", "C")
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| match source.kind() {
                std::io::ErrorKind::NotFound => CommandError::NotFound {
                    program: program.clone(),
                    package: package_of(program),
                },
                _ => CommandError::Spawn {
                    command: self.display(),
                    source,
                },
            })?;
        // Written from another thread while this one drains stdout and stderr, so a tool
        // that answers before reading all its input cannot deadlock on a full pipe.
        let pipe = child.stdin.take();
        let out = std::thread::scope(|s| {
            if let (Some(mut pipe), Some(text)) = (pipe, &self.stdin) {
                // A write error means the tool exited early; its status says why.
                s.spawn(move || pipe.write_all(text.as_bytes()));
            }
            child.wait_with_output()
        })
        .map_err(|source| CommandError::Spawn {
            command: self.display(),
            source,
        })?;
        Ok(Output {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Runs the command and returns its stdout; a non-zero exit is [`CommandError::Failed`].
    pub fn run(&self) -> Result<String, CommandError> {
        let out = self.output()?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(self.failed(&out))
        }
    }

    /// The error for `out`, a failed run of this command.
    pub fn failed(&self, out: &Output) -> CommandError {
        let stderr = out.stderr.trim().to_string();
        CommandError::Failed {
            command: self.display(),
            status: out.status,
            input_excerpt: self.stdin.as_deref().map(|input| excerpt(input, &stderr)),
            stderr,
        }
    }
}

/// The Debian package providing `program` (a path is looked up by its file name).
fn package_of(program: &str) -> Option<&'static str> {
    match program.rsplit('/').next().unwrap_or(program) {
        "nft" => Some("nftables"),
        "iptables" | "ip6tables" | "iptables-restore" | "ip6tables-restore" => Some("iptables"),
        "ipset" => Some("ipset"),
        "ip" => Some("iproute2"),
        _ => None,
    }
}

fn install_hint(package: Option<&'static str>) -> String {
    package.map_or_else(String::new, |p| {
        format!(": install {p} (Debian package `{p}`)")
    })
}

fn excerpt_suffix(excerpt: &Option<String>) -> String {
    excerpt
        .as_ref()
        .map_or_else(String::new, |e| format!("\n  input {e}"))
}

/// The input line the tool's error points at (`line: 3`, `line 3`, `/dev/stdin:3:`), or
/// the first line; long scripts are never copied whole into an error.
fn excerpt(input: &str, stderr: &str) -> String {
    const MAX_CHARS: usize = 200;
    let number = ["/dev/stdin:", "line: ", "line "].iter().find_map(|key| {
        let (_, rest) = stderr.split_once(key)?;
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<usize>().ok().filter(|&n| n >= 1)
    });
    let (n, line) = number
        .and_then(|n| Some((n, input.lines().nth(n - 1)?)))
        .unwrap_or((1, input.lines().next().unwrap_or_default()));
    let mut line: String = line.chars().take(MAX_CHARS).collect();
    if line.len() < input.lines().nth(n - 1).unwrap_or_default().len() {
        line.push('…');
    }
    format!("line {n} of {}: {line}", input.lines().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(argv: &[&str]) -> Command {
        Command::new(&[], argv[0]).args(argv[1..].iter().copied())
    }

    #[test]
    fn runs_through_the_wrapper_and_feeds_stdin() {
        let wrapper = vec!["env".to_string(), "X=1".to_string()];
        let c = Command::new(&wrapper, "cat").stdin("hello\n".into());
        assert_eq!(c.display(), "env X=1 cat");
        assert_eq!(c.run().unwrap(), "hello\n");
    }

    #[test]
    fn large_stdin_and_stdout_do_not_deadlock() {
        let text = "x".repeat(4 << 20);
        let out = cmd(&["cat"]).stdin(text.clone()).run().unwrap();
        assert_eq!(out.len(), text.len());
    }

    #[test]
    fn failure_carries_stderr_and_the_line_it_points_at() {
        let script = "echo first\necho 'line 2: bad' >&2\nexit 3\n";
        let err = cmd(&["sh", "-s"]).stdin(script.into()).run().unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("`sh -s` failed (exit status: 3): line 2: bad"),
            "{msg}"
        );
        assert!(
            msg.ends_with("input line 2 of 3: echo 'line 2: bad' >&2"),
            "{msg}"
        );
    }

    #[test]
    fn missing_program_names_its_package() {
        let err = cmd(&["/nonexistent/nft", "list", "ruleset"])
            .run()
            .unwrap_err();
        assert!(matches!(err, CommandError::NotFound { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "`/nonexistent/nft` not found: install nftables (Debian package `nftables`)"
        );
        let err = cmd(&["portcullis-no-such-tool"]).run().unwrap_err();
        assert_eq!(err.to_string(), "`portcullis-no-such-tool` not found");
        assert_eq!(package_of("ip6tables-restore"), Some("iptables"));
        assert_eq!(package_of("ipset"), Some("ipset"));
    }

    #[test]
    fn excerpt_falls_back_to_the_first_line_and_truncates() {
        let long = "y".repeat(300);
        let e = excerpt(&format!("{long}\nsecond\n"), "something broke");
        assert_eq!(e, format!("line 1 of 2: {}…", "y".repeat(200)));
        let e = excerpt("a\nb\nc\n", "/dev/stdin:3:1-2: Error: syntax error");
        assert_eq!(e, "line 3 of 3: c");
        let e = excerpt("a\n", "Error occurred at line: 9");
        assert_eq!(e, "line 1 of 1: a");
    }

    #[test]
    fn names_are_plain_identifiers() {
        for ok in ["portcullis", "pc-test_2", &"a".repeat(MAX_NAME_LEN)] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1pc",
            "-pc",
            "pc x",
            "pc;",
            "pc\n",
            "pé",
            &"a".repeat(29),
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
