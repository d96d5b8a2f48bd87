//! Messages on stderr: warnings, `-v` details, and whether to colour them.
//!
//! Results go to stdout (SPEC.md, Streams); everything here goes to stderr so that
//! `-o json > plan.json` stays parseable.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU8, Ordering};

const QUIET: u8 = 0;
const NORMAL: u8 = 1;
const VERBOSE: u8 = 2;

static LEVEL: AtomicU8 = AtomicU8::new(NORMAL);
static COLOR: AtomicU8 = AtomicU8::new(0);

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

/// Details shown with `-v`.
pub fn verbose(message: &str) {
    if LEVEL.load(Ordering::Relaxed) >= VERBOSE {
        eprintln!("{} {message}", paint("2", "debug:"));
    }
}

/// Progress of a run (what was written, what is awaited); hidden by `-q`.
pub fn info(message: &str) {
    if LEVEL.load(Ordering::Relaxed) >= NORMAL {
        eprintln!("{message}");
    }
}

/// Something the user should know that does not stop the run; hidden by `-q`.
pub fn warn(message: &str) {
    if LEVEL.load(Ordering::Relaxed) >= NORMAL {
        eprintln!("{} {message}", paint("33", "warning:"));
    }
}

/// The error that ends the run; always shown.
pub fn error(message: &str) {
    eprintln!("{} {message}", paint("31;1", "error:"));
}

/// One `  - item` line per item, for messages that list several things.
pub fn bullets<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|item| format!("  - {item}"))
        .collect::<Vec<_>>()
        .join("\n")
}
