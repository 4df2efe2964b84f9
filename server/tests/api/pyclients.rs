//! Real Python clients, installed from PyPI into `target/pyclients/` on first use and run
//! unchanged but for the URL they post to. A missing `python3` or pip fails the test with how
//! to install it: a client test never passes by not running.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

const INSTALL: &str = "install with: apt-get install -y python3 python3-pip";

/// The directory `requirement` (`name==version`) is installed in, installing it (with its
/// dependencies) if it is not there yet.
pub fn installed(requirement: &str) -> PathBuf {
    // One installation at a time within this test binary; the rename makes a half-finished
    // one (an interrupted run, another process) invisible.
    static INSTALLING: Mutex<()> = Mutex::new(());
    let _one = INSTALLING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/pyclients");
    let dir = root.join(requirement.replace("==", "-"));
    if dir.is_dir() {
        return dir;
    }
    let partial = root.join(format!(
        "{}.partial-{}",
        requirement.replace("==", "-"),
        std::process::id()
    ));
    let output = python()
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .arg("--target")
        .arg(&partial)
        .arg(requirement)
        .output()
        .unwrap_or_else(|error| panic!("python3 cannot be run ({error}): {INSTALL}"));
    assert!(
        output.status.success(),
        "pip could not install {requirement} ({INSTALL}): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::rename(&partial, &dir).expect("the installed client moved into place");
    dir
}

/// Runs `script` with `packages` importable and `args` as `sys.argv[1:]`, off the test's
/// runtime (the server under test runs on it).
pub async fn run(packages: &Path, script: &'static str, args: Vec<String>) -> Output {
    let packages = packages.to_owned();
    tokio::task::spawn_blocking(move || {
        python()
            .env("PYTHONPATH", &packages)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .current_dir(std::env::temp_dir())
            .arg("-c")
            .arg(script)
            .args(args)
            .output()
            .unwrap_or_else(|error| panic!("python3 cannot be run ({error}): {INSTALL}"))
    })
    .await
    .expect("the client ran")
}

fn python() -> Command {
    Command::new("python3")
}
