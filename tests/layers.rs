//! The core's layers (`src/core/mod.rs`, "Layers"): reads the imports of every `src/core/*.rs`
//! file, builds the module graph and fails on an import cycle or on an import against the
//! declared layer order. The order is written here and in `src/core/mod.rs`'s documentation;
//! a test holds the two to each other.
//!
//! Hand-written (a line scan rather than a Rust parser such as `syn`): the imports are
//! `crate::core::` paths in code, which a scan finds without a new dependency; comments are
//! skipped, and a path through a re-export of `mod.rs` counts as the module it comes from.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// The layers, bottom first: a module may import modules of its own layer or of lower ones.
const LAYERS: &[&[&str]] = &[
    &["bytes", "error", "hash"],
    &["name", "json", "import"],
    &["snapshot", "wal"],
    &["table", "store"],
    &["durable"],
    &["facade"],
];

/// A module's layer index, by name.
fn layer_of(layers: &[Vec<String>]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for (i, layer) in layers.iter().enumerate() {
        for module in layer {
            out.insert(module.clone(), i);
        }
    }
    out
}

/// The code of `text` without `//` comments (doc comments included).
fn code(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The names right after every `crate::core::` in `code`: `a` for `crate::core::a::x`, and
/// `a`, `b` for `crate::core::{a::x, b}`.
fn core_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    for (at, _) in code.match_indices("crate::core::") {
        let rest = &code[at + "crate::core::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level items of the group (nested braces belong to their item).
            let mut depth = 0;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && !c.is_whitespace() => {
                        out.push(ident(&group[i..]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.push(ident(rest));
        }
    }
    out
}

/// The names `mod.rs` re-exports, with the module each comes from (`pub use self::m::{A, B}`).
fn reexports(mod_rs: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let code = code(mod_rs);
    for (at, _) in code.match_indices("pub use self::") {
        let rest = &code[at + "pub use self::".len()..];
        let end = rest.find(';').expect("a use ends with ;");
        let (module, names) = rest[..end].split_once("::").expect("pub use self::m::…");
        let names = names.trim().trim_start_matches('{').trim_end_matches('}');
        for name in names.split(',') {
            let name = name.trim();
            if !name.is_empty() {
                out.insert(name.to_owned(), module.trim().to_owned());
            }
        }
    }
    out
}

/// The layers as listed in `mod.rs`'s documentation: lines `//! N. `a`, `b`: …`.
fn documented_layers(mod_rs: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for line in mod_rs.lines() {
        let Some(rest) = line.strip_prefix("//! ") else {
            continue;
        };
        let Some((number, rest)) = rest.split_once(". ") else {
            continue;
        };
        if number.parse::<usize>() != Ok(out.len()) {
            continue;
        }
        let Some((names, _)) = rest.split_once(':') else {
            continue;
        };
        out.push(
            names
                .split(',')
                .map(|n| n.trim().trim_matches('`').to_owned())
                .collect(),
        );
    }
    out
}

/// Everything wrong with the modules `files` (name, source) under `layers`; `reexported` maps
/// the names `mod.rs` re-exports to their modules.
fn problems(
    layers: &[Vec<String>],
    files: &[(String, String)],
    reexported: &BTreeMap<String, String>,
) -> Vec<String> {
    let layer = layer_of(layers);
    let mut problems = Vec::new();
    let mut graph: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (module, text) in files {
        let Some(&own) = layer.get(module) else {
            problems.push(format!("src/core/{module}.rs is in no layer"));
            continue;
        };
        let edges = graph.entry(module).or_default();
        for name in core_paths(&code(text)) {
            let target = if layer.contains_key(&name) {
                name
            } else if let Some(module) = reexported.get(&name) {
                module.clone()
            } else {
                problems.push(format!("{module}: crate::core::{name} is no known module"));
                continue;
            };
            if target == *module {
                continue;
            }
            if layer[&target] > own {
                problems.push(format!(
                    "{module} (layer {own}) imports {target} (layer {}), a higher layer",
                    layer[&target]
                ));
            }
            edges.insert(target);
        }
    }
    for module in layer.keys() {
        if !files.iter().any(|(name, _)| name == module) {
            problems.push(format!("layer module {module} has no src/core/{module}.rs"));
        }
    }
    // Cycles: a depth-first search; a module met again while on the path closes a cycle.
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<&str, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
        problems: &mut Vec<String>,
    ) {
        if done.contains(node) {
            return;
        }
        if let Some(at) = path.iter().position(|&n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node);
            problems.push(format!("import cycle: {}", cycle.join(" -> ")));
            return;
        }
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            visit(next, graph, path, done, problems);
        }
        path.pop();
        done.insert(node);
    }
    let mut done = BTreeSet::new();
    for &node in graph.keys() {
        visit(node, &graph, &mut Vec::new(), &mut done, &mut problems);
    }
    problems
}

fn layers() -> Vec<Vec<String>> {
    LAYERS
        .iter()
        .map(|l| l.iter().map(|m| (*m).to_owned()).collect())
        .collect()
}

/// Every `src/core/*.rs` but `mod.rs`, as (module name, source), and `mod.rs`.
fn core_files() -> (Vec<(String, String)>, String) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/core");
    let mut files = Vec::new();
    let mut mod_rs = None;
    for entry in fs::read_dir(&dir).expect("src/core") {
        let path = entry.expect("src/core entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let text = fs::read_to_string(&path).expect("a readable source file");
        if name == "mod" {
            mod_rs = Some(text);
        } else {
            files.push((name, text));
        }
    }
    files.sort();
    (files, mod_rs.expect("src/core/mod.rs"))
}

#[test]
fn the_core_has_no_cycle_and_no_import_against_its_layers() {
    let (files, mod_rs) = core_files();
    assert!(files.len() >= 10, "src/core/*.rs not found");
    let found = problems(&layers(), &files, &reexports(&mod_rs));
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_documented_order_is_the_tested_one() {
    let (_, mod_rs) = core_files();
    assert_eq!(documented_layers(&mod_rs), layers());
}

/// The checker itself fails where it should (so the test above cannot pass vacuously).
#[test]
fn a_back_import_and_a_cycle_are_caught() {
    let (files, mod_rs) = core_files();
    let reexported = reexports(&mod_rs);
    assert_eq!(reexported.get("Store").map(String::as_str), Some("facade"));
    let with = |module: &str, line: &str| {
        let mut files = files.clone();
        let file = files.iter_mut().find(|(name, _)| name == module).unwrap();
        file.1 = format!("{line}\n{}", file.1);
        problems(&layers(), &files, &reexported)
    };
    // The memory store calling back into the log: against the order, and a cycle.
    let found = with("store", "use crate::core::durable::Durable;");
    assert!(found
        .iter()
        .any(|p| p.contains("store (layer 3) imports durable (layer 4)")));
    assert!(found.iter().any(|p| p.starts_with("import cycle:")));
    // Through a re-export, in a group, across lines.
    let found = with(
        "wal",
        "use crate::core::{\n    error::StoreError,\n    Store,\n};",
    );
    assert!(found
        .iter()
        .any(|p| p.contains("wal (layer 2) imports facade")));
    // A cycle within one layer.
    let found = with("name", "use crate::core::json::write_user;");
    assert!(
        found.iter().any(|p| p.starts_with("import cycle:")),
        "{found:?}"
    );
    // A comment is no import; a new module must be placed in a layer.
    assert!(with("store", "// use crate::core::durable::Durable;").is_empty());
    let mut more = files.clone();
    more.push(("extra".to_owned(), String::new()));
    assert_eq!(
        problems(&layers(), &more, &reexported),
        vec!["src/core/extra.rs is in no layer"]
    );
}
