//! The crate's layering, checked on every file under `src/` (this test runs in `make test`):
//!
//! - **Downhill only.** Each top-level module has a level ([`LEVELS`]); a file may name a
//!   module of a lower level, never a higher one, and not another module of its own level
//!   unless [`SAME_LEVEL`] allows it (`io` uses `train`); and the page (`ui`) never uses
//!   the training stack below `app` ([`APART`]). Every form counts: `use crate::x`,
//!   inline `crate::x::…` paths, `super::super::…` climbing out of a module, `self::`, bare
//!   paths through a child module, and `aeplay::x` in the binaries (which sit on top and
//!   may use anything).
//! - **No import cycles between files.** Every path is resolved to the file that holds it
//!   (the deepest module of the path that is a file, `a/b.rs` or `a/b/mod.rs`, following a
//!   `pub use` re-export to the file that defines the name), and no two files may reach
//!   each other, directly or round a loop. A module's `pub use` of its own submodules is a
//!   facade, not a use, so it adds no edge.
//!
//! Comments and string literals are skipped (a path in a doc comment is not an import).
//! A failure names the file, the line and the path. The checker itself is tested on small
//! synthetic trees below, so it cannot pass by finding nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Level of each top-level module of the library, bottom first: a module may use the
/// modules below it.
const LEVELS: &[(&str, u32)] = &[
    ("core", 0),
    ("data", 1),
    ("backend", 1),
    ("model", 2),
    ("train", 3),
    ("io", 3),
    ("app", 4),
    ("worker", 5),
    ("ui", 5),
    ("fuzzing", 6),
];

/// Modules of one level that may use each other, in this direction only.
const SAME_LEVEL: &[(&str, &str)] = &[("io", "train")];

/// Downhill pairs that are refused all the same: the page (`ui`, on the browser's main
/// thread) reaches the training stack only through the engine of `app`, which runs in the
/// worker; it may read the description (`core`), the data formats (`data`) and the file
/// format (`io`), never build or train a model itself.
const APART: &[(&str, &str)] = &[("ui", "backend"), ("ui", "model"), ("ui", "train")];

// ---------------------------------------------------------------------------------------
// Lexing: identifiers, `::` and punctuation, with line numbers; comments, strings and
// character literals dropped (a literal leaves a `"` token so that no path runs across it).

#[derive(Clone, Debug, PartialEq)]
struct Tok {
    text: String,
    line: usize,
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

fn lex(src: &str) -> Vec<Tok> {
    let c: Vec<char> = src.chars().collect();
    let (mut i, mut line, mut out) = (0, 1, Vec::new());
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            loop {
                if i >= c.len() {
                    break;
                }
                if c[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    line += (c[i] == '\n') as usize;
                    i += 1;
                }
            }
        } else if ch == '"' {
            let start = line;
            i = skip_string(&c, i + 1, &mut line);
            out.push(Tok { text: "\"".into(), line: start });
        } else if ch == '\'' {
            // A character literal ('x', '\n', '\u{1F600}') or a lifetime / label ('a).
            if at(i + 1) == '\\' {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push(Tok { text: "\"".into(), line });
            } else if at(i + 2) == '\'' {
                i += 3;
                out.push(Tok { text: "\"".into(), line });
            } else {
                i += 1;
                while i < c.len() && is_ident_char(c[i]) {
                    i += 1;
                }
            }
        } else if is_ident_start(ch) || (ch == '$' && is_ident_start(at(i + 1))) {
            let start = i;
            i += 1;
            while i < c.len() && is_ident_char(c[i]) {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            // Raw and byte strings (r"…", r#"…"#, b"…", br"…", c"…"), byte characters (b'x'),
            // raw identifiers (r#match).
            let raw = matches!(word.as_str(), "r" | "br" | "cr");
            if raw && (at(i) == '"' || (at(i) == '#' && (at(i + 1) == '"' || at(i + 1) == '#'))) {
                let mut hashes = 0;
                while at(i) == '#' {
                    hashes += 1;
                    i += 1;
                }
                let start_line = line;
                i += 1; // the opening quote
                loop {
                    if i >= c.len() {
                        break;
                    }
                    if c[i] == '"' && (1..=hashes).all(|h| at(i + h) == '#') {
                        i += 1 + hashes;
                        break;
                    }
                    line += (c[i] == '\n') as usize;
                    i += 1;
                }
                out.push(Tok { text: "\"".into(), line: start_line });
            } else if matches!(word.as_str(), "b" | "c") && at(i) == '"' {
                let start_line = line;
                i = skip_string(&c, i + 1, &mut line);
                out.push(Tok { text: "\"".into(), line: start_line });
            } else if word == "b" && at(i) == '\'' {
                i += 1;
                while i < c.len() && c[i] != '\'' {
                    i += if c[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
                out.push(Tok { text: "\"".into(), line });
            } else if word == "r" && at(i) == '#' && is_ident_start(at(i + 1)) {
                let s = i + 1;
                i += 1;
                while i < c.len() && is_ident_char(c[i]) {
                    i += 1;
                }
                out.push(Tok { text: c[s..i].iter().collect(), line });
            } else {
                out.push(Tok { text: word, line });
            }
        } else if ch.is_ascii_digit() {
            while i < c.len() && (is_ident_char(c[i]) || c[i] == '.') && !(c[i] == '.' && at(i + 1) == '.') {
                i += 1;
            }
            out.push(Tok { text: "0".into(), line });
        } else if ch == ':' && at(i + 1) == ':' {
            out.push(Tok { text: "::".into(), line });
            i += 2;
        } else {
            out.push(Tok { text: ch.to_string(), line });
            i += 1;
        }
    }
    out
}

/// Skips a string body from just after its opening quote; returns the index after the
/// closing quote.
fn skip_string(c: &[char], mut i: usize, line: &mut usize) -> usize {
    while i < c.len() && c[i] != '"' {
        if c[i] == '\\' {
            i += 1;
        }
        if i < c.len() && c[i] == '\n' {
            *line += 1;
        }
        i += 1;
    }
    i + 1
}

// ---------------------------------------------------------------------------------------
// Files, crates and modules.

/// A compilation unit: the library (`lib.rs` and its modules) or one binary.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Crate {
    Lib,
    /// A binary, by its root file (`main.rs`, `bin/x.rs`, `bin/x/main.rs`).
    Bin(String),
}

/// Which crate a file under `src/` belongs to and its module path there.
fn place(path: &str) -> (Crate, Vec<String>) {
    let parts: Vec<&str> = path.split('/').collect();
    let module = |parts: &[&str]| -> Vec<String> {
        let mut m: Vec<String> = parts.iter().map(|s| s.to_string()).collect();
        let last = m.pop().unwrap();
        if last != "mod.rs" && last != "main.rs" && last != "lib.rs" {
            m.push(last.trim_end_matches(".rs").to_string());
        }
        m
    };
    match parts.as_slice() {
        ["main.rs"] => (Crate::Bin("main.rs".into()), vec![]),
        ["bin", file] => (Crate::Bin(format!("bin/{file}")), vec![]),
        ["bin", dir, rest @ ..] => (Crate::Bin(format!("bin/{dir}/main.rs")), module(rest)),
        _ => (Crate::Lib, module(&parts)),
    }
}

/// One file, lexed, with what it declares.
struct File {
    krate: Crate,
    module: Vec<String>,
    toks: Vec<Tok>,
    /// Child modules declared (`mod x;` or `mod x { … }`), by the module path they are
    /// declared in (inline modules included).
    children: BTreeMap<Vec<String>, BTreeSet<String>>,
    /// The inline module path at each token.
    scope: Vec<Vec<String>>,
}

fn load_file(path: &str, src: &str) -> File {
    let (krate, module) = place(path);
    let toks = lex(src);
    let mut scope = Vec::with_capacity(toks.len());
    let mut children: BTreeMap<Vec<String>, BTreeSet<String>> = BTreeMap::new();
    let mut stack: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut pending: Option<String> = None;
    for (i, t) in toks.iter().enumerate() {
        let here: Vec<String> = module.iter().cloned().chain(stack.iter().map(|(n, _)| n.clone())).collect();
        scope.push(here.clone());
        match t.text.as_str() {
            "mod" if toks.get(i + 1).is_some_and(|n| is_ident_start(n.text.chars().next().unwrap_or(' '))) => {
                let name = toks[i + 1].text.clone();
                children.entry(here).or_default().insert(name.clone());
                if toks.get(i + 2).is_some_and(|n| n.text == "{") {
                    pending = Some(name);
                }
            }
            "{" => {
                depth += 1;
                if let Some(name) = pending.take() {
                    stack.push((name, depth));
                }
            }
            "}" => {
                if stack.last().is_some_and(|(_, d)| *d == depth) {
                    stack.pop();
                }
                depth = depth.saturating_sub(1);
            }
            _ => {}
        }
    }
    File { krate, module, toks, children, scope }
}

/// A path written in a file.
#[derive(Clone, Debug)]
struct Ref {
    line: usize,
    /// As written (`crate::model::Autoencoder`, `super::super::app`).
    text: String,
    segs: Vec<String>,
    /// The inline module it is written in.
    scope: Vec<String>,
    /// From a `use` declaration (bare child-module paths count only there).
    in_use: bool,
    /// From a `pub use` (or `pub(…) use`): a re-export.
    public: bool,
}

/// Every path in a file that may name a module of this crate (or of the library, in a
/// binary): `use` trees expanded, and inline paths from `crate`, `$crate`, `super`, `self`
/// or `aeplay`.
fn refs(f: &File) -> Vec<Ref> {
    let t = &f.toks;
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.len() {
        if t[i].text == "use" {
            let public = is_public(t, i);
            let mut paths = Vec::new();
            let mut j = i + 1;
            use_tree(t, &mut j, Vec::new(), &mut paths);
            for (segs, line) in paths {
                out.push(Ref { line, text: segs.join("::"), segs, scope: f.scope[i].clone(), in_use: true, public });
            }
            while j < t.len() && t[j].text != ";" {
                j += 1;
            }
            i = j + 1;
            continue;
        }
        let starts = matches!(t[i].text.as_str(), "crate" | "$crate" | "super" | "self" | "aeplay");
        let after_sep = i > 0 && t[i - 1].text == "::";
        if starts && !after_sep && t.get(i + 1).is_some_and(|n| n.text == "::") {
            let mut segs = vec![t[i].text.clone()];
            let mut j = i + 1;
            while j + 1 < t.len() && t[j].text == "::" && is_ident_start(t[j + 1].text.chars().next().unwrap_or(' ')) {
                segs.push(t[j + 1].text.clone());
                j += 2;
            }
            out.push(Ref { line: t[i].line, text: segs.join("::"), segs, scope: f.scope[i].clone(), in_use: false, public: false });
            i = j;
            continue;
        }
        i += 1;
    }
    out
}

/// Whether the `use` at `i` is preceded by `pub` or `pub(…)`.
fn is_public(t: &[Tok], i: usize) -> bool {
    if i >= 1 && t[i - 1].text == "pub" {
        return true;
    }
    if i >= 1 && t[i - 1].text == ")" {
        let mut j = i - 1;
        while j > 0 && t[j].text != "(" {
            j -= 1;
        }
        return j >= 1 && t[j - 1].text == "pub";
    }
    false
}

/// Expands one use tree from `t[*j]`: `a::b::{c, d::e as f, self, g::*}`.
fn use_tree(t: &[Tok], j: &mut usize, mut prefix: Vec<String>, out: &mut Vec<(Vec<String>, usize)>) {
    if t.get(*j).is_some_and(|x| x.text == "::") {
        // `use ::name` names an external crate.
        *j += 1;
        skip_tree(t, j);
        return;
    }
    let line = t.get(*j).map_or(0, |x| x.line);
    loop {
        let Some(tok) = t.get(*j) else { return };
        match tok.text.as_str() {
            "{" => {
                *j += 1;
                while t.get(*j).is_some_and(|x| x.text != "}") {
                    if t[*j].text == "," {
                        *j += 1;
                        continue;
                    }
                    use_tree(t, j, prefix.clone(), out);
                }
                *j += 1;
                return;
            }
            "*" => {
                *j += 1;
                prefix.push("*".into());
                out.push((prefix, line));
                return;
            }
            "self" if !prefix.is_empty() => {
                *j += 1;
                skip_alias(t, j);
                out.push((prefix, line));
                return;
            }
            s if is_ident_start(s.chars().next().unwrap_or(' ')) || s.starts_with('$') => {
                prefix.push(s.to_string());
                *j += 1;
                if t.get(*j).is_some_and(|x| x.text == "::") {
                    *j += 1;
                    continue;
                }
                skip_alias(t, j);
                out.push((prefix, line));
                return;
            }
            _ => return,
        }
    }
}

fn skip_alias(t: &[Tok], j: &mut usize) {
    if t.get(*j).is_some_and(|x| x.text == "as") {
        *j += 2;
    }
}

fn skip_tree(t: &[Tok], j: &mut usize) {
    let mut depth = 0;
    while let Some(x) = t.get(*j) {
        match x.text.as_str() {
            "{" => depth += 1,
            "}" if depth == 0 => return,
            "}" => depth -= 1,
            "," | ";" if depth == 0 => return,
            _ => {}
        }
        *j += 1;
    }
}

// ---------------------------------------------------------------------------------------
// Resolution: a path to the crate it lives in, its absolute module path, and its file.

struct Tree {
    files: BTreeMap<String, File>,
    /// (crate, module path) → the file of that module.
    by_module: BTreeMap<(Crate, Vec<String>), String>,
}

impl Tree {
    fn new(sources: &BTreeMap<String, String>) -> Tree {
        let files: BTreeMap<String, File> = sources.iter().map(|(p, s)| (p.clone(), load_file(p, s))).collect();
        let by_module = files.iter().map(|(p, f)| ((f.krate.clone(), f.module.clone()), p.clone())).collect();
        Tree { files, by_module }
    }

    /// The crate and absolute path a reference names, or None for an outside crate, a
    /// local item or a path that climbs above its crate's root.
    fn absolute(&self, f: &File, r: &Ref) -> Option<(Crate, Vec<String>)> {
        let s = &r.segs;
        match s[0].as_str() {
            "crate" | "$crate" => Some((f.krate.clone(), s[1..].to_vec())),
            "aeplay" if f.krate != Crate::Lib => Some((Crate::Lib, s[1..].to_vec())),
            "super" | "self" => {
                let mut base = r.scope.clone();
                let mut k = 0;
                while k < s.len() && (s[k] == "super" || (k == 0 && s[k] == "self")) {
                    if s[k] == "super" {
                        base.pop()?;
                    }
                    k += 1;
                }
                base.extend(s[k..].iter().cloned());
                Some((f.krate.clone(), base))
            }
            name if r.in_use && f.children.get(&r.scope).is_some_and(|c| c.contains(name)) => {
                let mut base = r.scope.clone();
                base.extend(s.iter().cloned());
                Some((f.krate.clone(), base))
            }
            _ => None,
        }
    }

    /// The file that holds the item an absolute path names: the deepest module of the
    /// path that is a file, then through that file's `pub use` of the next name, if any.
    fn file_of(&self, krate: &Crate, path: &[String], hops: usize) -> Option<String> {
        let k = (0..=path.len()).rev().find(|&k| self.by_module.contains_key(&(krate.clone(), path[..k].to_vec())))?;
        let file = self.by_module[&(krate.clone(), path[..k].to_vec())].clone();
        let Some(name) = path.get(k).filter(|n| *n != "*") else { return Some(file) };
        if hops > 8 {
            return Some(file);
        }
        let f = &self.files[&file];
        for r in refs(f).iter().filter(|r| r.public && r.in_use && r.scope == f.module) {
            let last = r.segs.last().map(String::as_str);
            let alias_free_match = last == Some(name.as_str());
            let glob = last == Some("*");
            if !(alias_free_match || glob) {
                continue;
            }
            let Some((kc, mut target)) = self.absolute(f, r) else { continue };
            if glob {
                target.pop();
                target.push(name.clone());
            }
            target.extend(path[k + 1..].iter().cloned());
            if let Some(found) = self.file_of(&kc, &target, hops + 1) {
                if found != file && (alias_free_match || defines(&self.files[&found], name)) {
                    return Some(found);
                }
            }
        }
        Some(file)
    }
}

/// Whether a file declares an item called `name` (for glob re-exports).
fn defines(f: &File, name: &str) -> bool {
    const ITEMS: &[&str] = &["fn", "struct", "enum", "trait", "type", "const", "static", "mod", "union"];
    f.toks.windows(2).any(|w| ITEMS.contains(&w[0].text.as_str()) && w[1].text == name)
        || f.toks.windows(3).any(|w| w[0].text == "macro_rules" && w[1].text == "!" && w[2].text == name)
}

// ---------------------------------------------------------------------------------------
// The checks.

/// The level of a library module, the binaries on top.
fn level(top: &str) -> Option<u32> {
    LEVELS.iter().find(|(m, _)| *m == top).map(|&(_, l)| l)
}

/// One edge between files, where it was written.
#[derive(Clone, Debug)]
struct Use {
    line: usize,
    text: String,
}

/// Every violation in `sources` (path under `src/` → text), one line each.
fn check(sources: &BTreeMap<String, String>) -> Vec<String> {
    let tree = Tree::new(sources);
    let mut problems = Vec::new();
    let mut edges: BTreeMap<String, BTreeMap<String, Use>> = BTreeMap::new();
    for (path, f) in &tree.files {
        for r in refs(f) {
            let Some((krate, abs)) = tree.absolute(f, &r) else { continue };
            // Downhill: library modules by level; the binaries may use the whole library.
            if krate == Crate::Lib && f.krate == Crate::Lib {
                if let (Some(from), Some(to)) = (f.module.first(), abs.first()) {
                    let is_module = tree.by_module.contains_key(&(Crate::Lib, vec![to.clone()]));
                    if from != to && is_module {
                        match (level(from), level(to)) {
                            (None, _) => problems.push(format!("{path}: module `{from}` has no level in tests/layering.rs")),
                            (_, None) => problems.push(format!("{path}:{}: `{}`: module `{to}` has no level in tests/layering.rs", r.line, r.text)),
                            (Some(a), Some(b)) if b > a || (b == a && !SAME_LEVEL.contains(&(from.as_str(), to.as_str()))) => {
                                problems.push(format!("{path}:{}: `{}`: {from} (level {a}) may not use {to} (level {b})", r.line, r.text));
                            }
                            _ if APART.contains(&(from.as_str(), to.as_str())) => {
                                problems.push(format!("{path}:{}: `{}`: {from} may not use {to}: go through app", r.line, r.text));
                            }
                            _ => {}
                        }
                    }
                }
            }
            // A module's re-export of its own submodules is a facade, not a use.
            let own = abs.len() > f.module.len() && abs[..f.module.len()] == f.module[..] && krate == f.krate;
            if r.public && own {
                continue;
            }
            if let Some(to) = tree.file_of(&krate, &abs, 0) {
                if &to != path {
                    edges.entry(path.clone()).or_default().entry(to).or_insert(Use { line: r.line, text: r.text.clone() });
                }
            }
        }
    }
    problems.sort();
    problems.dedup();
    problems.extend(cycles(&edges));
    problems
}

/// Every import cycle between files, one line each: the loop with the line and path of
/// each step.
fn cycles(edges: &BTreeMap<String, BTreeMap<String, Use>>) -> Vec<String> {
    let mut out = Vec::new();
    let mut reported: BTreeSet<BTreeSet<String>> = BTreeSet::new();
    for start in edges.keys() {
        // The shortest way back to `start` (breadth first).
        let mut prev: BTreeMap<String, String> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start.clone()]);
        let mut found = false;
        while let Some(n) = queue.pop_front() {
            for next in edges.get(&n).into_iter().flat_map(|e| e.keys()) {
                if next == start {
                    prev.insert(start.clone(), n.clone());
                    found = true;
                    break;
                }
                if !prev.contains_key(next) {
                    prev.insert(next.clone(), n.clone());
                    queue.push_back(next.clone());
                }
            }
            if found {
                break;
            }
        }
        if !found {
            continue;
        }
        let mut loop_files = vec![start.clone()];
        let mut n = prev[start].clone();
        while &n != start {
            loop_files.push(n.clone());
            n = prev[&n].clone();
        }
        loop_files.reverse(); // now start → … in edge order, ending before start
        loop_files.rotate_right(1);
        let set: BTreeSet<String> = loop_files.iter().cloned().collect();
        if !reported.insert(set) {
            continue;
        }
        let steps: Vec<String> = (0..loop_files.len())
            .map(|k| {
                let (a, b) = (&loop_files[k], &loop_files[(k + 1) % loop_files.len()]);
                let u = &edges[a][b];
                format!("{a}:{} `{}`", u.line, u.text)
            })
            .collect();
        out.push(format!("import cycle: {} → back to {start}", steps.join(" → ")));
    }
    out
}

fn read_tree(dir: &Path, root: &Path, out: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            read_tree(&p, root, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
            out.insert(rel, std::fs::read_to_string(&p).unwrap());
        }
    }
}

#[test]
fn imports_run_downhill_and_no_files_import_each_other() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources = BTreeMap::new();
    read_tree(&root, &root, &mut sources);
    assert!(sources.len() > 50 && sources.contains_key("core/config.rs"), "read {} files under src/", sources.len());
    let problems = check(&sources);
    assert!(problems.is_empty(), "{} layering problems under src/:\n{}", problems.len(), problems.join("\n"));
}

// ---------------------------------------------------------------------------------------
// The checker on small trees.

fn tree(files: &[(&str, &str)]) -> BTreeMap<String, String> {
    files.iter().map(|(p, s)| (p.to_string(), s.to_string())).collect()
}

const LIB: (&str, &str) = ("lib.rs", "pub mod core; pub mod data; pub mod io; pub mod train; pub mod app; pub mod ui;");

#[test]
fn a_clean_tree_passes() {
    let t = tree(&[
        LIB,
        ("core/mod.rs", "pub mod config; pub mod layout;"),
        ("core/config.rs", "pub struct ModelConfig; pub const EVAL_CHUNK: usize = 500;"),
        ("core/layout.rs", "use super::config::ModelConfig;\nfn f(c: &ModelConfig) -> usize { crate::core::config::EVAL_CHUNK }"),
        ("data/mod.rs", "pub mod mnist;\npub use mnist::Dataset;\nuse crate::core::{config::{self, ModelConfig}, layout};"),
        ("data/mnist.rs", "pub struct Dataset;\n#[cfg(test)]\nmod tests { use super::*; use super::super::Dataset as D; }"),
        ("train/mod.rs", "use crate::data::Dataset; use crate::core::layout::*;"),
        ("io/mod.rs", "use crate::train; use crate::data::mnist::Dataset;"),
        ("app/mod.rs", "fn f() { let _ = crate::io::x(); let _ = crate::train::y(); }"),
        ("bin/tool/main.rs", "mod cli; use aeplay::ui::App; fn main() { cli::run() }"),
        ("bin/tool/cli.rs", "use aeplay::core::config::ModelConfig; pub fn run() {}"),
    ]);
    assert_eq!(check(&t), Vec::<String>::new());
}

#[test]
fn an_uphill_import_is_found_in_every_form() {
    let t = tree(&[
        LIB,
        ("core/mod.rs", "pub mod config; pub mod pca;"),
        ("core/config.rs", "pub struct C;\nfn rows() -> usize {\n    2 * crate::model::EVAL_CHUNK\n}"),
        ("core/pca.rs", "use crate::data::{Dataset, mnist::Mnist};"),
        ("data/mod.rs", "pub struct Dataset;\npub mod draw;"),
        ("data/draw.rs", "// Draws.\nfn f() { super::super::app::go(); }"),
        ("model/mod.rs", "pub const EVAL_CHUNK: usize = 500;"),
        ("train/mod.rs", "use crate::io::Thing;"),
        ("io/mod.rs", "pub mod saved; use crate::train::Trainer;"),
        ("io/saved.rs", ""),
        ("app/mod.rs", "pub fn go() {}"),
        ("ui/mod.rs", "use crate::worker::x;\nfn f() { crate::data::draw(); crate::train::cloud::config(); }"),
        ("worker/mod.rs", ""),
    ]);
    let p = check(&t);
    let want = [
        "core/config.rs:3: `crate::model::EVAL_CHUNK`: core (level 0) may not use model (level 2)",
        "core/pca.rs:1: `crate::data::Dataset`: core (level 0) may not use data (level 1)",
        "core/pca.rs:1: `crate::data::mnist::Mnist`: core (level 0) may not use data (level 1)",
        "data/draw.rs:2: `super::super::app::go`: data (level 1) may not use app (level 4)",
        "train/mod.rs:1: `crate::io::Thing`: train (level 3) may not use io (level 3)",
        "ui/mod.rs:1: `crate::worker::x`: ui (level 5) may not use worker (level 5)",
        "ui/mod.rs:2: `crate::train::cloud::config`: ui may not use train: go through app",
    ];
    for w in want {
        assert!(p.iter().any(|x| x == w), "missing: {w}\nfound:\n{}", p.join("\n"));
    }
    // io → train is allowed; nothing else was reported but a cycle train ↔ io.
    assert!(!p.iter().any(|x| x.starts_with("io/mod.rs:1")), "{p:?}");
    assert_eq!(p.len(), want.len() + 1, "{}", p.join("\n"));
    assert!(p.last().unwrap().starts_with("import cycle: io/mod.rs:1 `crate::train::Trainer` → train/mod.rs:1 `crate::io::Thing`"), "{p:?}");
}

#[test]
fn comments_and_strings_are_not_imports() {
    let t = tree(&[
        LIB,
        ("core/mod.rs", "//! Uses [`crate::app::x`] in a doc link.\n/* crate::ui::y */\nfn f() -> &'static str { let c = '\"'; let s = \"crate::app::z\"; r#\"crate::app::w\"# }"),
        ("app/mod.rs", ""),
    ]);
    assert_eq!(check(&t), Vec::<String>::new());
}

#[test]
fn a_module_without_a_level_is_refused() {
    let t = tree(&[("lib.rs", "pub mod core; pub mod extras;"), ("core/mod.rs", ""), ("extras/mod.rs", "use crate::core;")]);
    assert_eq!(check(&t), vec!["extras/mod.rs: module `extras` has no level in tests/layering.rs".to_string()]);
}

#[test]
fn a_cycle_between_two_files_is_found() {
    let t = tree(&[
        LIB,
        ("ui/mod.rs", "mod client; mod files;"),
        ("ui/client.rs", "use super::files::pick;\npub fn send() {}"),
        ("ui/files.rs", "pub fn pick() {}\nfn f() { crate::ui::client::send() }"),
    ]);
    assert_eq!(check(&t), vec!["import cycle: ui/client.rs:1 `super::files::pick` → ui/files.rs:2 `crate::ui::client::send` → back to ui/client.rs".to_string()]);
}

#[test]
fn a_loop_round_three_files_and_a_binarys_modules_are_found() {
    let t = tree(&[
        LIB,
        ("app/mod.rs", "mod a; mod b; mod c;"),
        ("app/a.rs", "use crate::app::b::B;"),
        ("app/b.rs", "pub struct B; use super::{c::{C, self}};"),
        ("app/c.rs", "pub struct C; use self::super::a;"),
        ("bin/tool/main.rs", "mod x; mod y;"),
        ("bin/tool/x.rs", "use crate::y::Y; pub struct X;"),
        ("bin/tool/y.rs", "pub struct Y; fn f(_: crate::x::X) {}"),
    ]);
    let p = check(&t);
    assert_eq!(p.len(), 2, "{}", p.join("\n"));
    assert!(p[0].contains("app/a.rs:1 `crate::app::b::B` → app/b.rs:1 `super::c::C` → app/c.rs:1 `self::super::a` → back to app/a.rs"), "{}", p[0]);
    assert!(p[1].contains("bin/tool/x.rs:1 `crate::y::Y` → bin/tool/y.rs:1 `crate::x::X`"), "{}", p[1]);
}

#[test]
fn a_facade_that_re_exports_its_submodules_is_not_a_cycle() {
    let t = tree(&[
        LIB,
        ("data/mod.rs", "mod mnist;\npub mod synthetic;\npub use mnist::{Dataset, Mnist};\npub use synthetic::*;\npub fn helper() {}"),
        ("data/mnist.rs", "pub struct Dataset; pub struct Mnist; use super::helper;"),
        ("data/synthetic.rs", "pub fn cloud() {}\nuse crate::data::Mnist;"),
        ("train/mod.rs", "use crate::data::{cloud, Dataset};"),
    ]);
    assert_eq!(check(&t), Vec::<String>::new());
    // The same names used (not re-exported) by the module that declares them: a cycle.
    let mut t = t;
    t.insert("data/mod.rs".into(), "mod mnist;\nuse mnist::Mnist;\npub fn helper(_: Mnist) {}".into());
    let p = check(&t);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with("import cycle: data/mnist.rs:1 `super::helper` → data/mod.rs:2 `mnist::Mnist`"), "{}", p[0]);
}
