//! The layering, checked like the template: every `crate::` path a production module names (tests excluded) is
//! read from `src/`, and the arrows that must never exist are refused. docs/development.md draws the layers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module → the top-level modules its production code names.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut graph = BTreeMap::<String, BTreeSet<String>>::new();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![src.clone()];
    while let Some(p) = files.pop() {
        if p.is_dir() {
            files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if p.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let rel = p.strip_prefix(&src).unwrap();
        let module = rel.components().next().unwrap().as_os_str().to_str().unwrap().trim_end_matches(".rs").to_string();
        let text = std::fs::read_to_string(&p).unwrap();
        let named = graph.entry(module.clone()).or_default();
        named.extend(names(production(&text)).into_iter().filter(|n| *n != module));
    }
    graph
}

/// The text before the file's `#[cfg(test)] mod tests`, without comment lines.
fn production(text: &str) -> String {
    let end = text.find("#[cfg(test)]\nmod tests").unwrap_or(text.len());
    text[..end].lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
}

/// The top-level modules named by `crate::x` and `crate::{x, y::z}` paths.
fn names(text: String) -> BTreeSet<String> {
    let ident = |s: &str| s.trim_start().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    let mut out = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let (mut depth, mut item) = (0, String::new());
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(ident(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            out.insert(ident(&item));
        } else {
            out.insert(ident(rest));
        }
    }
    out.retain(|n: &String| !n.is_empty() && n != "testing"); // `testing` exists only with test-util
    out
}

/// The arrows that must never exist: (from, the modules it must not name, why).
const NEVER: &[(&[&str], &[&str], &str)] = &[
    (
        &["domain"],
        &[
            "app",
            "aws",
            "cfn",
            "clock",
            "eventbridge",
            "iam",
            "metrics",
            "notifier",
            "notify",
            "reconcile",
            "settings",
            "stacks",
            "state",
        ],
        "the domain is pure: no I/O, no trigger, no adapter",
    ),
    (
        &["iam", "state", "stacks", "notifier"],
        &["app", "cfn", "eventbridge", "reconcile", "settings"],
        "a port and its adapters know the domain, never their callers",
    ),
    (
        &["reconcile"],
        &["app", "cfn", "eventbridge", "notifier", "notify", "settings"],
        "the reconciler serves both triggers and knows neither",
    ),
    (&["cfn"], &["eventbridge", "notifier", "notify"], "the triggers are independent"),
    (&["eventbridge"], &["cfn"], "the triggers are independent"),
];

#[test]
fn no_module_names_what_its_layer_must_not() {
    let graph = graph();
    assert!(graph.len() >= 15 && graph["reconcile"].contains("domain"), "the reader found the modules: {graph:?}");
    let mut broken = Vec::new();
    for (froms, nevers, why) in NEVER {
        for from in *froms {
            let named = graph.get(*from).unwrap_or_else(|| panic!("no module {from}"));
            for never in *nevers {
                if named.contains(*never) {
                    broken.push(format!("{from} names {never}: {why}"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn the_reader_sees_grouped_and_nested_paths() {
    let text = "use crate::{domain::{a, b}, error::Result};\nfn f() { crate::iam::x(); }\n// crate::cfn in a comment";
    let got = names(production(text));
    assert_eq!(got, BTreeSet::from(["domain".into(), "error".into(), "iam".into()]));
    let with_tests = "use crate::state;\n#[cfg(test)]\nmod tests {\n    use crate::cfn;\n}\n";
    assert_eq!(names(production(with_tests)), BTreeSet::from(["state".to_string()]));
}
