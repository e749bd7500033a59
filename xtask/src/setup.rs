//! Installs (or starts) what the build and the tests need, so that a fresh clone runs with the
//! README's commands alone. Every step checks first and does nothing when the tool
//! is already there.

use std::path::Path;
use std::process::Command;

use anyhow::bail;

use crate::run as execute;

/// Building the bundle needs less than running the browser tests.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Build,
    Test,
}

pub fn run(root: &Path, purpose: Purpose) -> anyhow::Result<()> {
    wasm_target()?;
    npm_packages(root)?;
    if purpose == Purpose::Test {
        chromium()?;
        postgres()?;
    }
    Ok(())
}

fn wasm_target() -> anyhow::Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    match installed {
        Ok(output)
            if String::from_utf8_lossy(&output.stdout).contains("wasm32-unknown-unknown") =>
        {
            Ok(())
        }
        Ok(_) => execute(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"])),
        Err(_) => {
            eprintln!(
                "xtask: no rustup here; assuming the wasm32-unknown-unknown target is installed"
            );
            Ok(())
        }
    }
}

/// The npm packages pinned in package.json: wasm-opt from binaryen (Debian's binaryen
/// is too old and emits WebAssembly that breaks in the browser), terser for the
/// JavaScript of the bundle, and axe-core, the accessibility audit the browser
/// tests run on the form.
fn npm_packages(root: &Path) -> anyhow::Result<()> {
    let installed = [
        "node_modules/.bin/wasm-opt",
        "node_modules/.bin/terser",
        "node_modules/axe-core/axe.min.js",
    ];
    if installed.iter().all(|path| root.join(path).exists()) {
        return Ok(());
    }
    if Command::new("npm").arg("--version").output().is_err() {
        eprintln!("xtask: npm not found; the bundle will be built without wasm-opt (larger)");
        return Ok(());
    }
    execute(
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund"])
            .current_dir(root),
    )
}

/// The storage tests run against PostgreSQL as well as SQLite. Unless
/// `HEADWATER_TEST_POSTGRES` names another server, the local one must listen on
/// 5432; where it is installed but stopped, it is started.
fn postgres() -> anyhow::Result<()> {
    if std::env::var_os("HEADWATER_TEST_POSTGRES").is_some() || postgres_listening() {
        return Ok(());
    }
    let versions = std::fs::read_dir("/etc/postgresql").map(|entries| {
        entries
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .collect::<Vec<_>>()
    });
    let Some(version) = versions
        .ok()
        .and_then(|versions| versions.into_iter().max())
    else {
        bail!(
            "the storage tests need PostgreSQL on 127.0.0.1:5432 (trust auth, database `test`), \
             or HEADWATER_TEST_POSTGRES set to a server's URL"
        );
    };
    execute(Command::new("pg_ctlcluster").args([
        "--skip-systemctl-redirect",
        &version,
        "main",
        "start",
    ]))?;
    for _ in 0..50 {
        if postgres_listening() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    bail!("PostgreSQL {version} was started but does not listen on 127.0.0.1:5432")
}

fn postgres_listening() -> bool {
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], 5432));
    std::net::TcpStream::connect_timeout(&address, std::time::Duration::from_secs(1)).is_ok()
}

/// Debian's Chromium and ChromeDriver for the browser tests.
fn chromium() -> anyhow::Result<()> {
    let present = |path: &str| Path::new(path).exists();
    if present("/usr/bin/chromium") && present("/usr/bin/chromedriver") {
        return Ok(());
    }
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.starts_with(b"0"));
    if !is_root {
        bail!(
            "the browser tests need Chromium: \
             run `sudo apt-get install -y chromium chromium-driver`"
        );
    }
    execute(Command::new("apt-get").arg("update").arg("-qq"))?;
    execute(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "chromium", "chromium-driver"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}
