//! Builds the browser bundle into `pkg/`: the wasm crates in the size-tuned
//! `wasm-release` profile; for the form, the wasm-bindgen step (as a library, at
//! the version in Cargo.lock); for the tracker, its hand-written glue; wasm-opt,
//! the loader, and precompressed copies for the server.
//! Prints each file's size raw, gzip and brotli, and the first transfer a page pays.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::Context;
use wasm_bindgen_cli_support::Bindgen;

use crate::{cargo, minify, run};

/// The browser crates, by the name of the wasm file cargo writes.
const CRATES: [(&str, &str); 2] = [
    ("headwater-tracker", "headwater_tracker"),
    ("headwater-form", "headwater_form"),
];
/// Features every browser we support has; wasm-opt must keep them enabled.
const WASM_FEATURES: [&str; 6] = [
    "--enable-bulk-memory",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-reference-types",
    "--enable-multivalue",
];
/// `pkg/` as an npm package, for sites that bundle their code: `headwater.mjs` is
/// the entry, and the files it imports sit beside it.
const PACKAGE_JSON: &str = r#"{
  "name": "headwater",
  "version": "0.1.0",
  "description": "Headwater's tracker and form as an ES module",
  "license": "AGPL-3.0-only",
  "type": "module",
  "module": "headwater.mjs",
  "exports": { ".": "./headwater.mjs" },
  "sideEffects": false
}
"#;

/// The first transfer's size (brotli) the tracker issue asks for: what the small
/// trackers (Plausible, Umami) cost a page.
const FIRST_TRANSFER_GOAL: usize = 10 * 1024;
/// What the build refuses to grow past: today's size and a little room.
// FIXME: this is a ratchet at 17.5 KB, not the 10 KB goal; lower it with each
// saving (see the README's known limits for where the bytes go).
const FIRST_TRANSFER_CEILING: usize = 17_600;

/// wasm-opt's passes for the tracker: flattening and rebuilding its control flow
/// (`--rereloop`) before two rounds of `-Oz` gives 150 bytes less (brotli) than
/// `-Oz` alone. The form keeps `-Oz`: its module is twenty times larger and off
/// the first transfer.
const TRACKER_PASSES: [&str; 4] = ["--flatten", "--rereloop", "-Oz", "-Oz"];
const FORM_PASSES: [&str; 1] = ["-Oz"];

/// What a page downloads before the form is needed.
const FIRST_TRANSFER: [&str; 3] = ["hw.js", "headwater_tracker.js", "headwater_tracker.wasm"];

pub fn build(root: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    // One cargo run per crate: built together, cargo would unify their features,
    // and the form's std would reach the no_std tracker through core.
    for (package, _) in CRATES {
        let mut build = cargo(root);
        build.args([
            "build",
            "--profile",
            "wasm-release",
            "--target",
            "wasm32-unknown-unknown",
            "--package",
            package,
        ]);
        run(&mut build)?;
    }

    let pkg = root.join("pkg");
    fs::create_dir_all(&pkg)?;
    let built = target_dir(root).join("wasm32-unknown-unknown/wasm-release");
    tracker(root, &built, &pkg)?;
    for (_, stem) in CRATES
        .iter()
        .filter(|(package, _)| *package != "headwater-tracker")
    {
        Bindgen::new()
            .input_path(built.join(format!("{stem}.wasm")))
            .out_name(stem)
            .web(true)?
            .typescript(false)
            .generate(&pkg)
            .with_context(|| format!("wasm-bindgen failed on {stem}"))?;
        let wasm = pkg.join(format!("{stem}_bg.wasm"));
        let glue = pkg.join(format!("{stem}.js"));
        optimize_and_shorten(
            root,
            &wasm,
            &glue,
            &FORM_PASSES,
            minify::GlueNames::Identifiers,
        )?;
        minify::javascript(root, &glue, true)?;
    }
    fs::copy(root.join("crates/tracker/js/hw.js"), pkg.join("hw.js"))?;
    minify::javascript(root, &pkg.join("hw.js"), false)?;
    fs::copy(
        root.join("crates/tracker/js/headwater.mjs"),
        pkg.join("headwater.mjs"),
    )?;
    minify::javascript(root, &pkg.join("headwater.mjs"), true)?;
    fs::write(pkg.join("package.json"), PACKAGE_JSON)?;

    let sizes = compress_all(&pkg)?;
    let first_transfer = report(&sizes);
    println!("bundle built in {:.1} s", started.elapsed().as_secs_f64());
    check_budget(first_transfer)
}

/// The tracker has no wasm-bindgen: its module as cargo built it, optimised, and
/// its glue written by hand.
fn tracker(root: &Path, built: &Path, pkg: &Path) -> anyhow::Result<()> {
    let wasm = pkg.join("headwater_tracker.wasm");
    fs::copy(built.join("headwater_tracker.wasm"), &wasm)?;
    let glue = pkg.join("headwater_tracker.js");
    fs::copy(root.join("crates/tracker/js/tracker.js"), &glue)?;
    optimize_and_shorten(
        root,
        &wasm,
        &glue,
        &TRACKER_PASSES,
        minify::GlueNames::Quoted,
    )?;
    minify::javascript(root, &glue, true)
}

/// Runs wasm-opt's `passes` on `wasm` and, unless names are to be kept, shortens
/// its import and export names in it and in its `glue` alike.
fn optimize_and_shorten(
    root: &Path,
    wasm: &Path,
    glue: &Path,
    passes: &[&str],
    glue_names: minify::GlueNames,
) -> anyhow::Result<()> {
    if optimize(root, wasm, passes)? && !keep_names() {
        let wasm_opt = root.join("node_modules/.bin/wasm-opt");
        minify::import_and_export_names(&wasm_opt, &WASM_FEATURES, wasm, glue, glue_names)?;
    }
    Ok(())
}

/// Fails the build (and so CI) when the first transfer grows past its ceiling.
/// Sizes are deterministic to a few bytes, so this is no flaky timed test.
fn check_budget(first_transfer_brotli: usize) -> anyhow::Result<()> {
    if first_transfer_brotli > FIRST_TRANSFER_CEILING {
        anyhow::bail!(
            "the first transfer is {first_transfer_brotli} bytes brotli, over its ceiling of \
             {FIRST_TRANSFER_CEILING}: every page view of every customer site pays for it"
        );
    }
    if first_transfer_brotli > FIRST_TRANSFER_GOAL {
        println!(
            "first transfer: {first_transfer_brotli} bytes brotli; the goal is \
             {FIRST_TRANSFER_GOAL}"
        );
    }
    Ok(())
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// Optimises for size with wasm-opt's `passes`; false when there is no wasm-opt.
fn optimize(root: &Path, wasm: &Path, passes: &[&str]) -> anyhow::Result<bool> {
    let wasm_opt = root.join("node_modules/.bin/wasm-opt");
    if !wasm_opt.exists() {
        eprintln!(
            "xtask: wasm-opt missing, {} stays unoptimised",
            wasm.display()
        );
        return Ok(false);
    }
    let mut optimize = Command::new(wasm_opt);
    optimize.args(passes);
    if keep_names() {
        optimize.arg("-g");
    } else {
        // The standard library's debug sections come through cargo; wasm-bindgen
        // drops them from the form, and nothing does for the tracker otherwise.
        optimize.args(["--strip-debug", "--strip-producers"]);
    }
    run(optimize.args(WASM_FEATURES).arg(wasm).arg("-o").arg(wasm))?;
    Ok(true)
}

/// `HEADWATER_KEEP_NAMES=1` keeps function names, for a look with `twiggy top`.
fn keep_names() -> bool {
    std::env::var_os("HEADWATER_KEEP_NAMES").is_some()
}

struct Size {
    name: String,
    raw: usize,
    gzip: usize,
    brotli: usize,
}

/// Writes `.br` and `.gz` beside every JavaScript and WebAssembly file.
fn compress_all(pkg: &Path) -> anyhow::Result<Vec<Size>> {
    let mut sizes = Vec::new();
    let mut names: Vec<String> = fs::read_dir(pkg)?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| {
            [".js", ".mjs", ".wasm"]
                .iter()
                .any(|end| name.ends_with(end))
        })
        .collect();
    names.sort();
    for name in names {
        let raw = fs::read(pkg.join(&name))?;
        let brotli = brotli_bytes(&raw)?;
        let gzip = gzip_bytes(&raw)?;
        fs::write(pkg.join(format!("{name}.br")), &brotli)?;
        fs::write(pkg.join(format!("{name}.gz")), &gzip)?;
        sizes.push(Size {
            name,
            raw: raw.len(),
            gzip: gzip.len(),
            brotli: brotli.len(),
        });
    }
    Ok(sizes)
}

fn brotli_bytes(raw: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    let parameters = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &raw[..], &mut out, &parameters)?;
    Ok(out)
}

fn gzip_bytes(raw: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(raw)?;
    Ok(encoder.finish()?)
}

/// Prints every file's sizes and returns the first transfer's brotli size.
fn report(sizes: &[Size]) -> usize {
    println!("{:<32} {:>9} {:>9} {:>9}", "pkg/", "raw", "gzip", "brotli");
    for size in sizes {
        println!(
            "{:<32} {:>9} {:>9} {:>9}",
            size.name, size.raw, size.gzip, size.brotli
        );
    }
    let first: Vec<&Size> = sizes
        .iter()
        .filter(|size| FIRST_TRANSFER.contains(&size.name.as_str()))
        .collect();
    let total = |pick: fn(&Size) -> usize| first.iter().map(|size| pick(size)).sum::<usize>();
    println!(
        "{:<32} {:>9} {:>9} {:>9}",
        "first transfer (loader+tracker)",
        total(|size| size.raw),
        total(|size| size.gzip),
        total(|size| size.brotli)
    );
    total(|size| size.brotli)
}
