//! gitops as a person at a terminal sees it (issue 21): run in a real pseudo-terminal (tmux, 80
//! columns by 24 lines), the screen captured while it runs. A progress bar while apply waits,
//! colour on a terminal only and never with NO_COLOR, lines that fit 80 columns.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::cluster::{testenv, unique_name};
use common::kubectl::TestNamespace;

/// A tmux server of its own, one 80×24 window running one shell command, removed when dropped.
struct Screen {
    socket: String,
}

impl Screen {
    fn start(command: &str) -> Self {
        let socket = unique_name("gitops-tty");
        // The window stays after the command ended, showing its last screen and exit code.
        let script = format!("{command}; echo \"EXIT=$?\"; sleep 600");
        let status = Command::new("tmux")
            .args(["-L", &socket, "-f", "/dev/null", "new-session", "-d"])
            .args(["-x", "80", "-y", "24", "sh", "-c", &script])
            .status()
            .expect("tmux runs (scripts/testenv provision installs it)");
        assert!(status.success(), "tmux could not start a session");
        Screen { socket }
    }

    /// The screen as shown: `escapes` keeps colour codes; `joined` undoes tmux's wrapping, so
    /// that a line wider than the window is one long line.
    fn capture(&self, escapes: bool, joined: bool) -> String {
        let mut args = vec!["-L", &self.socket, "capture-pane", "-p", "-S", "-2000"];
        if escapes {
            args.push("-e");
        }
        if joined {
            args.push("-J");
        }
        let out = Command::new("tmux").args(&args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls the screen until `seen` holds or `within` passed; the last screen either way.
    fn until(&self, within: Duration, seen: impl Fn(&str) -> bool) -> (bool, String) {
        let deadline = Instant::now() + within;
        loop {
            let screen = self.capture(false, false);
            if seen(&screen) {
                return (true, screen);
            }
            if Instant::now() > deadline {
                return (false, screen);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for the command to end; its exit code and the whole (joined) screen.
    fn finished(&self) -> (i32, String) {
        let (done, screen) = self.until(Duration::from_secs(120), |s| s.contains("EXIT="));
        assert!(done, "the command did not end:\n{screen}");
        let code = screen
            .lines()
            .find_map(|l| l.trim().strip_prefix("EXIT="))
            .and_then(|c| c.parse().ok())
            .unwrap();
        (code, self.capture(true, true))
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

/// The shell command that runs gitops in `dir` against the test cluster, as a person would:
/// no CI variable, a terminal's TERM.
fn gitops_command(dir: &Path, args: &str, extra_env: &str) -> String {
    let env = testenv();
    format!(
        "cd '{}' && env -u CI -u NO_COLOR TERM=xterm-256color KUBECONFIG='{}' {extra_env} '{}' {args} --context {}",
        dir.display(),
        env.kubeconfig.display(),
        env!("CARGO_BIN_EXE_gitops"),
        env.admin_context
    )
}

/// A Deployment nothing makes available (no kubelet): apply waits for it until --timeout.
fn never_ready(dir: &Path, ns: &str) {
    std::fs::write(
        dir.join("web.yaml"),
        format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: {ns}\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers:\n        - name: web\n          image: registry.k8s.io/pause:3.9\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: {ns}\ndata:\n  mode: terminal\n"),
    )
    .unwrap();
}

fn colour_codes(screen: &str) -> usize {
    screen.matches("\x1b[").count()
}

#[test]
fn a_person_at_a_terminal_sees_a_progress_bar_colour_and_lines_that_fit() {
    let ns = TestNamespace::new("tty");
    let dir = tempfile::tempdir().unwrap();
    never_ready(dir.path(), &ns.name);

    // diff: coloured on a terminal.
    let diff = Screen::start(&gitops_command(
        dir.path(),
        &format!("diff . --name tty -n {}", ns.name),
        "",
    ));
    let (code, screen) = diff.finished();
    assert_eq!(code, 2, "{screen}");
    assert!(
        colour_codes(&screen) > 0,
        "no colour on a terminal:\n{screen}"
    );

    // apply: a progress bar while it waits for the Deployment.
    let apply = Screen::start(&gitops_command(
        dir.path(),
        &format!("apply . --name tty -n {} --timeout 6s", ns.name),
        "",
    ));
    let (seen, screen) = apply.until(Duration::from_secs(60), |s| {
        s.lines().any(|l| l.contains("waiting for health ["))
    });
    assert!(seen, "no progress bar during the wait:\n{screen}");
    let (code, screen) = apply.finished();
    assert_eq!(code, 3, "{screen}");
    // The bar is gone once the wait ended; what stays says what did not become healthy.
    let text = strip_escapes(&screen);
    assert!(!text.contains("waiting for health ["), "{text}");
    assert!(text.contains("not healthy within 6s"), "{text}");
    // Every line gitops wrote fits 80 columns: no row of the screen runs to the edge (a row
    // the terminal had to wrap is full; tmux drops the padding of rows that are not).
    for row in apply.capture(false, false).lines() {
        assert!(
            row.chars().count() < 80,
            "a line ran over the 80-column edge:\n{row}\n\n{text}"
        );
    }

    // NO_COLOR: no colour, on the same terminal (for a plan with a change).
    let manifest = std::fs::read_to_string(dir.path().join("web.yaml")).unwrap();
    std::fs::write(
        dir.path().join("web.yaml"),
        manifest.replace("mode: terminal", "mode: changed"),
    )
    .unwrap();
    let coloured = Screen::start(&gitops_command(
        dir.path(),
        &format!("diff . --name tty -n {}", ns.name),
        "",
    ));
    let (code, screen) = coloured.finished();
    assert_eq!(code, 2, "{screen}");
    assert!(
        colour_codes(&screen) > 0,
        "no colour on a terminal:\n{screen}"
    );
    let plain = Screen::start(&gitops_command(
        dir.path(),
        &format!("diff . --name tty -n {}", ns.name),
        "NO_COLOR=1",
    ));
    let (code, screen) = plain.finished();
    assert_eq!(code, 2, "{screen}");
    assert_eq!(colour_codes(&screen), 0, "colour with NO_COLOR:\n{screen}");
    // Into a pipe: no colour and no bar either.
    let piped = Screen::start(&format!(
        "{} 2>&1 | cat",
        gitops_command(dir.path(), &format!("diff . --name tty -n {}", ns.name), "")
    ));
    let (_, screen) = piped.finished();
    assert_eq!(colour_codes(&screen), 0, "colour into a pipe:\n{screen}");
    assert!(screen.contains("v1 ConfigMap"), "{screen}");
}

/// The screen's text without colour codes.
fn strip_escapes(screen: &str) -> String {
    let mut out = String::with_capacity(screen.len());
    let mut chars = screen.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}
