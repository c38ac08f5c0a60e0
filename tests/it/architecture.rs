//! The house rules of `ARCHITECTURE.md`, checked on the source itself: which file may import
//! which (from the `use crate::…`, `super::…` and `crate::…` paths of each file under `src/`),
//! that no import loop spans two folders, where a status column is written, and that the HTTP
//! modules leave transactions and the audit log to the domain verbs.
//!
//! The layers, bottom up (a file may import its own layer and those below, never above):
//!
//! 0. ground: `error`, `config`, `context`, `crypto`, `secrets`, `money`, `telemetry`, `audit`,
//!    `db/`
//! 1. kit: `web/` (the web kit), `mail/`, `backup/`, `jobs/` (the queue)
//! 2. domain cores: every other file of `accounts/`, `catalog/`, `orders/`, `payments/`,
//!    `provisioning/`, `services/` (types, repositories, verbs)
//! 3. `app.rs`, the application state composed of the cores' handles
//! 4. a domain's request and page side that other domains' front doors may use:
//!    `<domain>/extract.rs`, `<domain>/views.rs`
//! 5. front doors: `api.rs`, `admin_api.rs`, `pages.rs`, `admin_pages.rs` (or folders of those
//!    names) of a domain or of `jobs/`; one domain's front door never imports another's
//! 6. top: `router/`, `serve.rs`, `worker.rs`, `keys.rs`, `cli.rs`, `main.rs`, `lib.rs`

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const DOMAINS: &[&str] = &[
    "accounts",
    "catalog",
    "customers",
    "orders",
    "payments",
    "provisioning",
    "services",
    "support",
];
/// The domains' cores, bottom up: a core imports the cores of the domains ranked below its own,
/// never one ranked above (so no circle spans two domains' cores).
const DOMAIN_RANK: &[&str] = &[
    "accounts",
    "catalog",
    "provisioning",
    "orders",
    "services",
    "payments",
    "support",
    "customers",
];
const FRONT_DOORS: &[&str] = &["api", "admin_api", "pages", "admin_pages"];
const GROUND: &[&str] = &[
    "error.rs",
    "config.rs",
    "context.rs",
    "crypto.rs",
    "secrets.rs",
    "money.rs",
    "telemetry.rs",
    "audit.rs",
];

/// The files under `src/`, by their path relative to it (`orders/api.rs`).
fn sources() -> BTreeMap<String, String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(root).unwrap().to_string_lossy();
                out.insert(
                    relative.replace('\\', "/"),
                    std::fs::read_to_string(&path).unwrap(),
                );
            }
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    walk(&root, &root, &mut out);
    out
}

fn top(file: &str) -> &str {
    file.split('/').next().unwrap()
}

fn is_front_door(file: &str) -> bool {
    let parts: Vec<&str> = file.split('/').collect();
    if !(DOMAINS.contains(&parts[0]) || parts[0] == "jobs") || parts.len() < 2 {
        return false;
    }
    let stem = parts[parts.len() - 1].trim_end_matches(".rs");
    FRONT_DOORS.contains(&stem)
        || parts[1..parts.len() - 1]
            .iter()
            .any(|p| FRONT_DOORS.contains(p))
}

fn layer(file: &str) -> u8 {
    let top = top(file);
    if GROUND.contains(&file) || top == "db" {
        0
    } else if matches!(top, "web" | "mail" | "backup") || (top == "jobs" && !is_front_door(file)) {
        1
    } else if is_front_door(file) {
        5
    } else if DOMAINS.contains(&top)
        && (file.ends_with("/extract.rs") || file.ends_with("/views.rs"))
    {
        4
    } else if DOMAINS.contains(&top) {
        2
    } else if file == "app.rs" {
        3
    } else {
        6
    }
}

/// The module path of a file: `orders/api.rs` → [orders, api]; `orders/mod.rs` → [orders].
fn module_of(file: &str) -> Vec<String> {
    let mut parts: Vec<String> = file
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_owned)
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// `prefix::{a, b::{c, d}}` → [prefix::a, prefix::b::c, prefix::b::d].
fn expand(text: &str) -> Vec<String> {
    let Some(open) = text.find('{') else {
        return vec![text.to_owned()];
    };
    let close = {
        let mut depth = 0;
        let mut at = text.len();
        for (i, ch) in text.char_indices().skip(open) {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        at = i;
                        break;
                    }
                }
                _ => {}
            }
        }
        at
    };
    let (prefix, inner) = (&text[..open], &text[open + 1..close]);
    let mut items = Vec::new();
    let (mut depth, mut current) = (0, String::new());
    for ch in inner.chars() {
        match ch {
            ',' if depth == 0 => items.push(std::mem::take(&mut current)),
            '{' => {
                depth += 1;
                current.push(ch);
            }
            '}' => {
                depth -= 1;
                current.push(ch);
            }
            _ => current.push(ch),
        }
    }
    items.push(current);
    items
        .into_iter()
        .map(|item| item.trim().to_owned())
        .filter(|item| !item.is_empty())
        .flat_map(|item| expand(&item))
        .map(|item| format!("{prefix}{item}"))
        .collect()
}

/// The files each file imports (through `use` lines and paths written in the code).
fn imports(files: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let modules: BTreeMap<Vec<String>, &String> =
        files.keys().map(|file| (module_of(file), file)).collect();
    let resolve = |path: &[String]| {
        (1..=path.len())
            .rev()
            .find_map(|n| modules.get(&path[..n]).map(|f| (*f).clone()))
    };
    let mut graph = BTreeMap::new();
    for (file, text) in files {
        let me = module_of(file);
        // Comments name modules too; they are not imports.
        let code: String = text
            .lines()
            .map(|line| match line.find("//") {
                Some(at) => &line[..at],
                None => line,
            })
            .collect::<Vec<_>>()
            .join("\n");
        let mut paths = Vec::new();
        let mut rest = code.as_str();
        while let Some(at) = rest.find("use ") {
            let before = rest[..at].chars().last();
            rest = &rest[at + 4..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let trimmed = rest.trim_start();
            if !(trimmed.starts_with("crate::")
                || trimmed.starts_with("super::")
                || trimmed.starts_with("self::"))
            {
                continue;
            }
            let end = trimmed.find(';').unwrap_or(trimmed.len());
            let statement: String = trimmed[..end].split_whitespace().collect();
            paths.extend(expand(&statement));
        }
        for (at, _) in code
            .match_indices("crate::")
            .chain(code.match_indices("super::"))
        {
            let before = code[..at].chars().last();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let path: String = code[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            paths.push(path);
        }
        let mut targets = BTreeSet::new();
        for path in paths {
            let path = path.split(" as ").next().unwrap_or("").to_owned();
            let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            let full: Vec<String> = if segments.first() == Some(&"crate") {
                segments[1..].iter().map(|s| (*s).to_owned()).collect()
            } else {
                let mut current = me.clone();
                let mut rest = segments.as_slice();
                while let Some((first, tail)) = rest.split_first() {
                    match *first {
                        "super" => {
                            current.pop();
                        }
                        "self" => {}
                        _ => break,
                    }
                    rest = tail;
                }
                current.extend(rest.iter().map(|s| (*s).to_owned()));
                current
            };
            if let Some(target) = resolve(&full)
                && &target != file
            {
                targets.insert(target);
            }
        }
        graph.insert(file.clone(), targets);
    }
    graph
}

#[test]
fn imports_run_down_the_layers_and_front_doors_do_not_import_each_other() {
    let graph = imports(&sources());
    let mut wrong = Vec::new();
    for (from, targets) in &graph {
        for to in targets {
            if layer(to) > layer(from) {
                wrong.push(format!(
                    "{from} (layer {}) imports {to} (layer {})",
                    layer(from),
                    layer(to)
                ));
            } else if layer(from) == 5 && layer(to) == 5 && top(from) != top(to) {
                wrong.push(format!(
                    "{from} imports {to}: another domain's front door (use its core, views or extract)"
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
    // The check sees imports at all: the router imports every domain's pages.
    assert!(graph["router/mod.rs"].contains("orders/pages.rs"));
    assert!(graph["orders/api.rs"].contains("orders/details.rs"));
}

#[test]
fn domain_cores_import_only_the_domains_ranked_below() {
    let graph = imports(&sources());
    let rank = |file: &str| DOMAIN_RANK.iter().position(|d| *d == top(file));
    let mut wrong = Vec::new();
    for (from, targets) in &graph {
        if layer(from) != 2 {
            continue;
        }
        for to in targets {
            if let (Some(mine), Some(theirs)) = (rank(from), rank(to))
                && theirs > mine
            {
                wrong.push(format!(
                    "{from} imports {to}: `{}` ranks above `{}` (DOMAIN_RANK)",
                    top(to),
                    top(from)
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "domain cores importing upward:\n{}",
        wrong.join("\n")
    );
    assert_eq!(DOMAIN_RANK.len(), DOMAINS.len());
    // The check sees cross-domain imports: settling a payment creates the order's services.
    assert!(graph["payments/settle.rs"].contains("services/provision.rs"));
}

#[test]
fn no_import_loop_spans_two_folders() {
    let graph = imports(&sources());
    // Tarjan's strongly connected components.
    struct State<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        components: Vec<Vec<&'g str>>,
    }
    fn visit<'g>(state: &mut State<'g>, node: &'g str) {
        let next = state.index.len();
        state.index.insert(node, next);
        state.low.insert(node, next);
        state.stack.push(node);
        state.on_stack.insert(node);
        for target in &state.graph[node] {
            let target = target.as_str();
            if !state.index.contains_key(target) {
                visit(state, target);
                let low = state.low[node].min(state.low[target]);
                state.low.insert(node, low);
            } else if state.on_stack.contains(target) {
                let low = state.low[node].min(state.index[target]);
                state.low.insert(node, low);
            }
        }
        if state.low[node] == state.index[node] {
            let mut component = Vec::new();
            while let Some(member) = state.stack.pop() {
                state.on_stack.remove(member);
                component.push(member);
                if member == node {
                    break;
                }
            }
            state.components.push(component);
        }
    }
    let mut state = State {
        graph: &graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    for node in graph.keys() {
        if !state.index.contains_key(node.as_str()) {
            visit(&mut state, node);
        }
    }
    let spanning: Vec<Vec<&str>> = state
        .components
        .into_iter()
        .filter(|c| c.iter().map(|f| top(f)).collect::<BTreeSet<_>>().len() > 1)
        .collect();
    assert!(
        spanning.is_empty(),
        "import loops across folders: {spanning:?}"
    );
}

/// Each status column has one writer: the module of its state machine.
#[test]
fn each_status_column_is_written_by_its_machine_alone() {
    let writers: &[(&str, &[&str])] = &[
        ("orders", &["orders/orders.rs"]),
        ("payments", &["payments/payments.rs"]),
        ("services", &["services/services.rs"]),
        ("jobs", &["jobs/mod.rs"]),
    ];
    for (file, text) in sources() {
        let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        for (table, allowed) in writers {
            let writes = flat
                .match_indices(&format!("update {table} "))
                .any(|(at, _)| {
                    let statement = &flat[at..flat.len().min(at + 200)];
                    let set = statement.find(" set ").map(|s| &statement[s..]);
                    set.is_some_and(|set| {
                        set.split(" where ")
                            .next()
                            .unwrap_or("")
                            .contains("status =")
                    })
                });
            assert!(
                !writes || allowed.contains(&file.as_str()),
                "{file} writes {table}.status; only {allowed:?} may (through its transition)"
            );
        }
    }
}

#[test]
fn front_doors_leave_transactions_and_the_audit_log_to_the_verbs() {
    let mut offenders = BTreeSet::new();
    for (file, text) in sources() {
        if !is_front_door(&file) {
            continue;
        }
        let code: String = text
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        if code.contains(".begin()")
            || code.contains("audit::insert")
            || code.contains("NewAuditEntry")
        {
            offenders.insert(file);
        }
    }
    assert!(
        offenders.is_empty(),
        "front doors opening transactions or writing the audit log (move the verb into the \
         domain, ARCHITECTURE.md \"Where a verb lives\"): {offenders:?}"
    );
}

#[test]
fn the_layer_of_a_file_follows_its_place() {
    assert_eq!(layer("money.rs"), 0);
    assert_eq!(layer("db/text_enum.rs"), 0);
    assert_eq!(layer("web/forms.rs"), 1);
    assert_eq!(layer("jobs/mod.rs"), 1);
    assert_eq!(layer("jobs/admin_api.rs"), 5);
    assert_eq!(layer("orders/orders.rs"), 2);
    assert_eq!(layer("app.rs"), 3);
    assert_eq!(layer("accounts/extract.rs"), 4);
    assert_eq!(layer("catalog/admin_pages/plans.rs"), 5);
    assert_eq!(layer("accounts/api/two_factor.rs"), 5);
    assert_eq!(layer("router/mod.rs"), 6);
    assert_eq!(
        expand("crate::orders::{self, api::{A, B}, pages}"),
        [
            "crate::orders::self",
            "crate::orders::api::A",
            "crate::orders::api::B",
            "crate::orders::pages"
        ]
    );
}
