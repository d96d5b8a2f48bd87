//! Real Git repositories for tests (made with the git CLI, which test code may use), and a
//! loopback smart-HTTP server over HTTPS that requires a token.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A repository in a temporary directory with its own identity.
pub struct Repo {
    pub dir: tempfile::TempDir,
}

impl Repo {
    pub fn init() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let repo = Repo { dir };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.git(&["config", "user.email", "tests@example.com"]);
        repo.git(&["config", "user.name", "Test Author"]);
        repo.git(&["config", "commit.gpgsign", "false"]);
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs git in the repository; panics with its output when it fails.
    #[track_caller]
    pub fn git(&self, args: &[&str]) -> String {
        self.git_with(args, &[])
    }

    /// Runs git with extra environment variables (`GIT_COMMITTER_DATE`).
    #[track_caller]
    pub fn git_with(&self, args: &[&str], envs: &[(&str, &str)]) -> String {
        let output = Command::new("git")
            .args(args)
            .envs(envs.iter().copied())
            .current_dir(self.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", self.path())
            .output()
            .expect("git runs");
        assert!(
            output.status.success(),
            "git {args:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Writes files (path → content; empty content deletes the file).
    pub fn write(&self, files: &[(&str, &str)]) {
        for (path, content) in files {
            let path = self.path().join(path);
            if content.is_empty() {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
    }

    /// Writes the files, commits everything as `author`, and returns the new commit id.
    #[track_caller]
    pub fn commit(&self, files: &[(&str, &str)], author: &str, subject: &str) -> String {
        self.write(files);
        self.git(&["add", "-A"]);
        self.git(&[
            "commit",
            "-q",
            "--author",
            &format!("{author} <{}@example.com>", author.replace(' ', ".")),
            "-m",
            subject,
        ]);
        self.head()
    }

    /// Like `commit`, authored and committed at `date` (RFC 3339), as a commit merged then.
    #[track_caller]
    pub fn commit_at(&self, files: &[(&str, &str)], subject: &str, date: &str) -> String {
        self.write(files);
        self.git(&["add", "-A"]);
        self.git_with(
            &["commit", "-q", "-m", subject],
            &[("GIT_COMMITTER_DATE", date), ("GIT_AUTHOR_DATE", date)],
        );
        self.head()
    }

    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"])
    }
}

/// `git http-backend` behind a loopback HTTPS server that wants `token` as the password.
pub struct HttpsGitServer {
    pub port: u16,
    /// A PEM bundle with the CA of the server's certificate, for SSL_CERT_FILE.
    pub ca_file: PathBuf,
    /// One line per fetch: "shallow" or "full".
    pub fetch_log: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl HttpsGitServer {
    /// Serves the repositories under `root` (URL path = directory name under root).
    pub fn start(root: &Path, token: &str) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let pki = dir.path();
        let openssl = |args: &[&str]| {
            let output = Command::new("openssl")
                .args(args)
                .current_dir(pki)
                .output()
                .expect("openssl runs (the HTTPS Git test needs the openssl CLI)");
            assert!(
                output.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=gitops test CA",
        ]);
        std::fs::write(
            pki.join("leaf.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=127.0.0.1",
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
        ]);
        let script = super::cli::repo_root().join("tests/support/git_https_server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(root)
            .arg(pki.join("leaf.pem"))
            .arg(pki.join("leaf.key"))
            .arg(token)
            .arg(pki.join("fetches.log"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 starts the HTTPS Git server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("the server prints its port");
        let port = line.trim().parse().expect("a port number");
        HttpsGitServer {
            port,
            ca_file: pki.join("ca.pem"),
            fetch_log: pki.join("fetches.log"),
            child,
            _dir: dir,
        }
    }

    pub fn url(&self, repo: &str) -> String {
        format!("https://127.0.0.1:{}/{repo}", self.port)
    }
}

impl Drop for HttpsGitServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
