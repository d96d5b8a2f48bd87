//! Messages on stderr: warnings, `-v` details, and whether to colour them.
//!
//! Results go to stdout (SPEC.md, Streams); everything here goes to stderr so that
//! `-o json > plan.json` stays parseable.

use std::cell::RefCell;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU16, AtomicU8, Ordering};

const QUIET: u8 = 0;
const NORMAL: u8 = 1;
const VERBOSE: u8 = 2;

static LEVEL: AtomicU8 = AtomicU8::new(NORMAL);
static COLOR: AtomicU8 = AtomicU8::new(0);
/// Columns of the terminal stderr writes to; 0 when it is not a terminal (no wrapping).
static WIDTH: AtomicU16 = AtomicU16::new(0);

/// `--color`: auto colours a terminal unless NO_COLOR is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Sets verbosity and colour once, from the global flags.
pub fn init(quiet: bool, verbose: bool, color: ColorChoice) {
    let level = if quiet {
        QUIET
    } else if verbose {
        VERBOSE
    } else {
        NORMAL
    };
    LEVEL.store(level, Ordering::Relaxed);
    COLOR.store(
        u8::from(use_color(color, std::io::stderr().is_terminal())),
        Ordering::Relaxed,
    );
    if std::io::stderr().is_terminal() {
        if let Some((_, columns)) = console::Term::stderr().size_checked() {
            WIDTH.store(columns, Ordering::Relaxed);
        }
    }
}

/// `line` broken at spaces so that no part is wider than `width` columns (a word longer than
/// that stays whole); parts after the first are indented two more than the first.
pub fn wrap(line: &str, width: usize) -> String {
    if width < 20 || line.chars().count() <= width {
        return line.to_owned();
    }
    let indent: String = line.chars().take_while(|c| *c == ' ').collect();
    let hanging = format!("{indent}  ");
    let mut out = String::new();
    let mut current = indent.clone();
    let mut empty = true;
    for word in line.trim_start_matches(' ').split(' ') {
        let length = visible_width(&current) + 1 + visible_width(word);
        if !empty && length > width {
            out.push_str(current.trim_end());
            out.push('\n');
            current = hanging.clone();
            empty = true;
        }
        if !empty {
            current.push(' ');
        }
        current.push_str(word);
        empty = false;
    }
    out.push_str(&current);
    out
}

/// Columns a string takes on a terminal: colour codes take none.
fn visible_width(text: &str) -> usize {
    let mut width = 0;
    let mut in_escape = false;
    for c in text.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, c) if c.is_ascii_alphabetic() => in_escape = false,
            (true, _) => {}
            (false, _) => width += 1,
        }
    }
    width
}

/// Whether output to a stream should be coloured.
pub fn use_color(choice: ColorChoice, is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

fn paint(code: &str, text: &str) -> String {
    if COLOR.load(Ordering::Relaxed) == 1 {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

/// Whether progress should be shown (not `-q`).
pub fn level_is_normal() -> bool {
    LEVEL.load(Ordering::Relaxed) >= NORMAL
}

tokio::task_local! {
    /// The output of one target while targets run in parallel.
    static CAPTURED: RefCell<Captured>;
}

/// What one target printed while its output was held back.
#[derive(Debug, Default)]
pub struct Captured {
    pub stdout: String,
    pub stderr: String,
}

impl Captured {
    /// Writes it out, stdout then stderr, each in one piece.
    pub fn flush(&self) -> std::io::Result<()> {
        use std::io::Write;
        if !self.stdout.is_empty() {
            let mut out = std::io::stdout().lock();
            out.write_all(self.stdout.as_bytes())?;
            out.flush()?;
        }
        if !self.stderr.is_empty() {
            let mut err = std::io::stderr().lock();
            err.write_all(self.stderr.as_bytes())?;
            err.flush()?;
        }
        Ok(())
    }
}

/// Runs `future` with everything it prints (results and messages) held back and returned, so
/// that targets running at the same time never interleave their lines.
pub async fn capture<F: std::future::Future>(future: F) -> (F::Output, Captured) {
    CAPTURED
        .scope(RefCell::new(Captured::default()), async move {
            let output = future.await;
            let captured = CAPTURED.with(|c| std::mem::take(&mut *c.borrow_mut()));
            (output, captured)
        })
        .await
}

/// [`capture`] when `hold`, else `future` as it is (its output written as it comes).
pub async fn capture_when<F: std::future::Future>(hold: bool, future: F) -> (F::Output, Captured) {
    if hold {
        capture(future).await
    } else {
        (future.await, Captured::default())
    }
}

/// Whether output is being held back (progress bars are then not drawn).
pub fn capturing() -> bool {
    CAPTURED.try_with(|_| ()).is_ok()
}

/// A message as it fits the terminal on stderr: each line wrapped at its width (as is when
/// stderr is not a terminal).
pub fn fit(text: &str) -> String {
    let width = usize::from(WIDTH.load(Ordering::Relaxed));
    if width == 0 {
        return text.to_owned();
    }
    text.lines()
        .map(|l| wrap(l, width))
        .collect::<Vec<_>>()
        .join("\n")
}

fn to_stderr(line: String) {
    let line = fit(&line);
    let held = CAPTURED.try_with(|c| {
        let mut c = c.borrow_mut();
        c.stderr.push_str(&line);
        c.stderr.push('\n');
    });
    if held.is_err() {
        eprintln!("{line}");
    }
}

/// Writes a result to stdout (or holds it back, see [`capture`]).
pub fn to_stdout(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let held = CAPTURED.try_with(|c| c.borrow_mut().stdout.push_str(text));
    if held.is_ok() {
        return Ok(());
    }
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}

/// Details shown with `-v`.
pub fn verbose(message: &str) {
    if LEVEL.load(Ordering::Relaxed) >= VERBOSE {
        to_stderr(format!("{} {message}", paint("2", "debug:")));
    }
}

/// Progress of a run (what was written, what is awaited); hidden by `-q`.
pub fn info(message: &str) {
    if LEVEL.load(Ordering::Relaxed) >= NORMAL {
        to_stderr(message.to_owned());
    }
}

/// Something the user should know that does not stop the run; hidden by `-q`.
pub fn warn(message: &str) {
    if LEVEL.load(Ordering::Relaxed) >= NORMAL {
        to_stderr(format!("{} {message}", paint("33", "warning:")));
    }
}

/// The error that ends the run; always shown.
pub fn error(message: &str) {
    to_stderr(format!("{} {message}", paint("31;1", "error:")));
}

/// One `  - item` line per item, for messages that list several things.
pub fn bullets<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|item| format!("  - {item}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_break_at_words_with_a_hanging_indent() {
        let line = "  - apps/v1 Deployment tty-fme5vcg3/web: waiting: the controller has not seen the new spec yet";
        let wrapped = wrap(line, 40);
        assert_eq!(
            wrapped,
            "  - apps/v1 Deployment tty-fme5vcg3/web:\n    waiting: the controller has not seen\n    the new spec yet"
        );
        assert!(wrapped.lines().all(|l| l.chars().count() <= 40));
        assert_eq!(wrap("short", 40), "short");
        let long_word = format!("a {}", "x".repeat(50));
        assert_eq!(wrap(&long_word, 40), format!("a\n  {}", "x".repeat(50)));
        assert_eq!(visible_width("\x1b[33mwarning:\x1b[0m"), 8);
    }
}
