//! Shrinks what wasm-bindgen writes, for the bytes every page view pays: the
//! names the WebAssembly imports and exports (`__wbg_addEventListener_2371d4ad…`,
//! twice each: in the module and in its JavaScript glue) become one or two
//! letters, and the glue and the loader go through terser.

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::Context;
use serde_json::Value;

use crate::run;

/// Renames the module's imports and exports with wasm-opt, and the same names in
/// its glue `js`.
pub fn import_and_export_names(
    wasm_opt: &Path,
    features: &[&str],
    wasm: &Path,
    js: &Path,
) -> anyhow::Result<()> {
    let output = Command::new(wasm_opt)
        .arg("--minify-imports-and-exports-and-modules")
        .args(features)
        .arg(wasm)
        .arg("-o")
        .arg(wasm)
        .output()
        .context("cannot run wasm-opt")?;
    anyhow::ensure!(
        output.status.success(),
        "wasm-opt --minify-imports-and-exports-and-modules failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mapping: Value = serde_json::from_slice(&output.stdout)
        .context("wasm-opt printed no mapping of the names it changed")?;

    let mut glue = fs::read_to_string(js)?;
    let module = first_import_module(&fs::read(wasm)?)
        .context("the minified module imports nothing from its glue")?;
    for import in mapping["imports"].as_array().into_iter().flatten() {
        let (Some(old_module), Some(old), Some(new)) =
            (import[0].as_str(), import[1].as_str(), import[2].as_str())
        else {
            continue;
        };
        glue = replace_identifier(&glue, "", old, new);
        glue = glue.replace(&format!("\"{old_module}\""), &format!("\"{module}\""));
    }
    for export in mapping["exports"].as_array().into_iter().flatten() {
        let (Some(old), Some(new)) = (export[0].as_str(), export[1].as_str()) else {
            continue;
        };
        glue = replace_identifier(&glue, "wasm.", old, new);
    }
    fs::write(js, glue)?;
    Ok(())
}

/// The module name of a WebAssembly module's first import: what wasm-opt renamed
/// the glue's module to (it prints the new import and export names, not that).
fn first_import_module(wasm: &[u8]) -> Option<String> {
    const IMPORT_SECTION: u8 = 2;
    let mut at = 8; // magic number and version
    while at < wasm.len() {
        let id = wasm[at];
        at += 1;
        let size = leb128(wasm, &mut at)?;
        if id == IMPORT_SECTION {
            let _count = leb128(wasm, &mut at)?;
            let length = leb128(wasm, &mut at)?;
            let name = wasm.get(at..at + length)?;
            return String::from_utf8(name.to_vec()).ok();
        }
        at += size;
    }
    None
}

/// An unsigned LEB128 number at `at`, moving `at` past it.
fn leb128(bytes: &[u8], at: &mut usize) -> Option<usize> {
    let mut value = 0usize;
    for shift in (0..35).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// Minifies a JavaScript file in place with terser: `module` for ES modules.
pub fn javascript(root: &Path, js: &Path, module: bool) -> anyhow::Result<()> {
    let terser = root.join("node_modules/.bin/terser");
    if !terser.exists() {
        eprintln!("xtask: terser missing, {} stays as written", js.display());
        return Ok(());
    }
    let mut command = Command::new(terser);
    command.arg(js);
    if module {
        command.arg("--module");
    }
    run(command
        .args(["--compress", "passes=2", "--mangle", "--output"])
        .arg(js))
}

/// Replaces each whole-identifier occurrence of `prefix` + `old` with `prefix` +
/// `new`: `memory` in `wasm.memory.buffer`, never in `wasm.memoryFoo`.
fn replace_identifier(text: &str, prefix: &str, old: &str, new: &str) -> String {
    let is_identifier = |character: char| character.is_alphanumeric() || "_$".contains(character);
    let pattern = format!("{prefix}{old}");
    let mut result = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(found) = rest.find(&pattern) {
        let before = rest[..found].chars().next_back();
        let after = rest[found + pattern.len()..].chars().next();
        let whole = before.is_none_or(|character| !is_identifier(character) && character != '.')
            && after.is_none_or(|character| !is_identifier(character));
        result.push_str(&rest[..found]);
        if whole {
            result.push_str(prefix);
            result.push_str(new);
        } else {
            result.push_str(&pattern);
        }
        rest = &rest[found + pattern.len()..];
    }
    result.push_str(rest);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_identifiers_are_renamed() {
        let cases = [
            (
                "",
                "__wbg_now_1a",
                "a",
                "{ __wbg_now_1a: f, __wbg_now_1ab: g }",
                "{ a: f, __wbg_now_1ab: g }",
            ),
            (
                "wasm.",
                "memory",
                "P",
                "wasm.memory.buffer; wasm.memoryX; xwasm.memory",
                "wasm.P.buffer; wasm.memoryX; xwasm.memory",
            ),
            (
                "wasm.",
                "start",
                "Q",
                "const ret = wasm.start(a);",
                "const ret = wasm.Q(a);",
            ),
        ];
        for (prefix, old, new, text, expected) in cases {
            assert_eq!(replace_identifier(text, prefix, old, new), expected);
        }
    }
}
