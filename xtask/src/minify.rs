//! Shrinks the browser bundle, for the bytes every page view pays: the names the
//! WebAssembly imports and exports (wasm-bindgen's `__wbg_addEventListener_2371d4ad…`,
//! the tracker's `asks_not_to_be_tracked`; twice each: in the module and in its
//! JavaScript glue) become one or two letters, and the glue and the loader go
//! through terser.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::Context;
use serde_json::Value;

use crate::run;

/// How a glue writes the names of its module's imports.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum GlueNames {
    /// As identifiers (wasm-bindgen's `imports.wbg.__wbg_now_1a = ...`), found as
    /// whole identifiers.
    Identifiers,
    /// In double quotes, as the only double-quoted texts of the glue (the
    /// tracker's `"now": Date.now` and `{ "hw": imports }`), so that no other
    /// text can be taken for one.
    Quoted,
}

/// Renames the module's imports and exports with wasm-opt, and the same names in
/// its glue `js`; exports are called as `wasm.<name>` in both kinds of glue.
pub fn import_and_export_names(
    wasm_opt: &Path,
    features: &[&str],
    wasm: &Path,
    js: &Path,
    names: GlueNames,
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
    let mut quoted = HashMap::new();
    for import in mapping["imports"].as_array().into_iter().flatten() {
        let (Some(old_module), Some(old), Some(new)) =
            (import[0].as_str(), import[1].as_str(), import[2].as_str())
        else {
            continue;
        };
        if names == GlueNames::Quoted {
            quoted.insert(old, new);
            quoted.insert(old_module, module.as_str());
            continue;
        }
        glue = replace_identifier(&glue, "", old, new);
        glue = glue.replace(&format!("\"{old_module}\""), &format!("\"{module}\""));
    }
    if names == GlueNames::Quoted {
        glue = rename_quoted(&glue, &quoted)?;
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

/// `glue` with every double-quoted text renamed as `renamed` says; fails when a
/// name to rename is missing from the glue (the module would not link) or a text
/// in double quotes is not a name to rename (it might be one by chance).
fn rename_quoted(glue: &str, renamed: &HashMap<&str, &str>) -> anyhow::Result<String> {
    let parts: Vec<&str> = glue.split('"').collect();
    anyhow::ensure!(
        parts.len() % 2 == 1,
        "the glue has an odd number of double quotes"
    );
    let mut found = std::collections::HashSet::new();
    let mut result = Vec::with_capacity(parts.len());
    for (index, part) in parts.into_iter().enumerate() {
        if index % 2 == 0 {
            result.push(part);
            continue;
        }
        let Some(new) = renamed.get(part) else {
            anyhow::bail!("the glue has \"{part}\" in double quotes, which is no import's name");
        };
        found.insert(part);
        result.push(new);
    }
    let missing: Vec<&&str> = renamed.keys().filter(|old| !found.contains(*old)).collect();
    anyhow::ensure!(missing.is_empty(), "the glue names no import {missing:?}");
    Ok(result.join("\""))
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

    #[test]
    fn quoted_names_are_renamed_and_nothing_else() {
        let renamed = HashMap::from([("hw", "a"), ("now", "b"), ("title", "c")]);
        let glue = r#"{ "now": Date.now, "title"() { return 'a[title]' } }, { "hw": i }"#;
        assert_eq!(
            rename_quoted(glue, &renamed).unwrap(),
            r#"{ "b": Date.now, "c"() { return 'a[title]' } }, { "a": i }"#
        );
        assert!(
            rename_quoted(r#"{ "now": 1, "hw": 2 }"#, &renamed).is_err(),
            "title missing"
        );
        assert!(rename_quoted(r#""now" "title" "hw" "other""#, &renamed).is_err());
    }
}
