//! Headwater's build helper, run as `cargo xtask <command>`:
//!
//! - `setup`: installs what building and testing need on a fresh machine (the wasm
//!   target, wasm-opt from npm, and for tests Chromium with its driver and a
//!   running PostgreSQL).
//! - `build-web`: builds the browser bundle into `pkg/` and reports its sizes.
//! - `demo`: builds everything, seeds demo history into a fresh demo database (once)
//!   and runs the server with the demo site and the console.
//! - `test`: builds the bundle and runs every test.

mod bundle;
mod minify;
mod setup;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

const USAGE: &str =
    "usage: cargo xtask <setup|build-web|demo|test> [args for the server or cargo test]";

fn main() -> anyhow::Result<()> {
    let mut arguments = std::env::args().skip(1);
    let command = arguments.next().unwrap_or_default();
    let rest: Vec<String> = arguments.collect();
    let root = workspace_root();

    match command.as_str() {
        "setup" => setup::run(&root, setup::Purpose::Test),
        "build-web" => {
            setup::run(&root, setup::Purpose::Build)?;
            bundle::build(&root)
        }
        "demo" => {
            setup::run(&root, setup::Purpose::Build)?;
            bundle::build(&root)?;
            demo(&root, &rest)
        }
        "test" => {
            setup::run(&root, setup::Purpose::Test)?;
            bundle::build(&root)?;
            let mut tests = cargo(&root);
            tests.args([
                "test",
                "--workspace",
                "--exclude",
                "headwater-tracker",
                "--exclude",
                "headwater-form",
            ]);
            tests.args(&rest);
            run(&mut tests)
        }
        _ => bail!("{USAGE}"),
    }
}

/// The demo database, seeded with months of history the first time, and the file
/// keeping the demo accounts' passwords beside it.
const DEMO_DATABASE: &str = "headwater-data/headwater.db";
const DEMO_ACCOUNTS: &str = "headwater-data/demo-accounts.txt";

/// Builds the server, seeds the demo database if it does not exist yet, says how
/// to sign in, and serves.
fn demo(root: &Path, rest: &[String]) -> anyhow::Result<()> {
    let mut build = cargo(root);
    build.args([
        "build",
        "--release",
        "--package",
        "headwater-server",
        "--bin",
        "headwater",
    ]);
    run(&mut build)?;
    let headwater = root.join("target/release/headwater");

    if !root.join(DEMO_DATABASE).exists() {
        eprintln!("xtask: seeding {DEMO_DATABASE} with 90 days of demo history (a minute or two)");
        let mut seed = Command::new(&headwater);
        seed.current_dir(root)
            .args(["seed", "--config", "headwater.example.toml"])
            .args([
                "--visitors",
                "3000",
                "--days",
                "90",
                "--credentials-file",
                DEMO_ACCOUNTS,
            ]);
        run(&mut seed)?;
    }
    println!("\nThe console: http://127.0.0.1:8080/console");
    match std::fs::read_to_string(root.join(DEMO_ACCOUNTS)) {
        Ok(accounts) => {
            println!("Demo accounts (role, e-mail, password), from {DEMO_ACCOUNTS}:\n{accounts}")
        }
        Err(_) => println!("(no {DEMO_ACCOUNTS}: add yourself with `headwater user add`)"),
    }

    let mut server = Command::new(&headwater);
    server
        .current_dir(root)
        .args(["serve", "--config", "headwater.example.toml"])
        .args(rest);
    run(&mut server)
}

/// The repository root: the folder above this crate.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

/// A `cargo` command in the workspace, with the same toolchain that runs us.
fn cargo(root: &Path) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(root);
    command
}

/// Runs a command, failing with its name if it fails.
fn run(command: &mut Command) -> anyhow::Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot start {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed: {status}");
    }
    Ok(())
}
