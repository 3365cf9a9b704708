//! The tree is the architecture (STYLE.md habit 1), kept true by reading the sources: the WAL
//! knows nothing of the domain, no two top-level modules import each other (directly or round
//! a loop), and a source file past 600 lines says why it is one piece.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top-level module a file belongs to (`src/engine/record/codec.rs` → `engine`); `None`
/// for the crate roots.
fn module_of(path: &Path) -> Option<String> {
    let relative = path.strip_prefix(src()).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.trim_end_matches(".rs");
    (!matches!(name, "lib" | "main")).then(|| name.to_owned())
}

/// The code of a file without comments and without its `#[cfg(test)]` module.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("read source");
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => &text,
    };
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `crate::name` references in `code`.
fn crate_references(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.insert(name);
        }
    }
    found
}

fn all_sources() -> Vec<PathBuf> {
    let mut found = Vec::new();
    sources(&src(), &mut found);
    found.sort();
    found
}

#[test]
fn the_wal_knows_nothing_of_the_domain() {
    for path in all_sources() {
        if module_of(&path).as_deref() != Some("wal") || path.ends_with("tests.rs") {
            continue;
        }
        let used = crate_references(&code(&path));
        for domain in [
            "ledger",
            "limits",
            "instruments",
            "rules",
            "engine",
            "decide",
            "order",
        ] {
            assert!(
                !used.contains(domain),
                "{} uses crate::{domain}",
                path.display()
            );
        }
    }
}

#[test]
fn no_module_imports_back_up() {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in all_sources() {
        let Some(module) = module_of(&path) else {
            continue;
        };
        if path.ends_with("tests.rs") {
            continue;
        }
        let used = crate_references(&code(&path));
        let targets = edges.entry(module.clone()).or_default();
        targets.extend(used.into_iter().filter(|target| *target != module));
    }
    // Depth-first search for a path from each module back to itself.
    for start in edges.keys() {
        let mut stack = vec![vec![start.clone()]];
        while let Some(path) = stack.pop() {
            let last = path.last().expect("non-empty");
            for next in edges.get(last).into_iter().flatten() {
                assert!(next != start, "module cycle: {} → {next}", path.join(" → "));
                if !path.contains(next) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push(longer);
                }
            }
        }
    }
}

#[test]
fn a_long_file_says_why_it_is_one_piece() {
    for path in all_sources() {
        let text = std::fs::read_to_string(&path).expect("read source");
        let lines = text.lines().count();
        if lines > 600 {
            assert!(
                text.lines()
                    .take_while(|line| line.starts_with("//!") || line.is_empty())
                    .any(|line| line.contains("One piece")),
                "{} has {lines} lines and no `One piece` note in its module doc",
                path.display()
            );
        }
    }
}
