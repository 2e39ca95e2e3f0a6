//! IAM's policy evaluation, for the tests: whether real IAM would allow a request under the template's
//! identity policies and a resource's policy. moto evaluates no policy at all; this follows AWS's documented logic
//! ("Policy evaluation logic", "IAM JSON policy elements: Condition operators", "Single-valued vs. multivalued
//! context keys" in the IAM User Guide) for one account:
//! - an explicit `Deny` in any policy that applies wins;
//! - otherwise an `Allow` in an identity policy or in the resource's policy allows (same account);
//! - otherwise the request is implicitly denied.
//!
//! What a statement matches: `Action`/`NotAction` (case-insensitive, `*` and `?`), `Resource`/`NotResource`
//! (case-sensitive, `*` and `?`, `*` spanning `/`), `Principal` in a resource policy (`*` or an `AWS` ARN), and
//! `Condition` with the operators the project's policies use: `String*` (with `IgnoreCase`), `Arn*`, `Bool`,
//! `Null`, each with `…IfExists`, and the `ForAnyValue:`/`ForAllValues:` set operators. A key absent from the
//! request makes a positive operator false and a negated one (`StringNotEquals`, `ArnNotLike`, …) true;
//! `ForAllValues` over an absent key is true, `ForAnyValue` false. Not modelled: policy variables, numeric and
//! date operators, permissions boundaries, session policies and SCPs (the SCPs are checked on their own).

use std::collections::BTreeMap;

use serde_json::Value;

/// One request as IAM authorizes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `iam:AttachRolePolicy`
    pub action: String,
    /// The resource's ARN (`*` for actions that take none).
    pub resource: String,
    /// The request context: condition key (any case) → its values (one for a single-valued key).
    pub context: BTreeMap<String, Vec<String>>,
}

impl Request {
    pub fn new(action: impl Into<String>, resource: impl Into<String>) -> Self {
        Request { action: action.into(), resource: resource.into(), context: BTreeMap::new() }
    }

    /// The request with `key` set to `values`.
    pub fn with(mut self, key: &str, values: &[&str]) -> Self {
        self.context.insert(key.to_ascii_lowercase(), values.iter().map(|v| v.to_string()).collect());
        self
    }

    fn values(&self, key: &str) -> Option<&Vec<String>> {
        self.context.get(&key.to_ascii_lowercase())
    }
}

impl std::fmt::Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} on {}", self.action, self.resource)?;
        if !self.context.is_empty() {
            write!(f, " with {:?}", self.context)?;
        }
        Ok(())
    }
}

/// A policy that applies to a request, and where it comes from (for messages).
#[derive(Debug, Clone)]
pub struct Policy {
    pub name: String,
    pub document: Value,
    /// A resource policy: its statements match a principal too.
    pub resource_policy: bool,
}

impl Policy {
    pub fn identity(name: impl Into<String>, document: Value) -> Self {
        Policy { name: name.into(), document, resource_policy: false }
    }
    pub fn resource(name: impl Into<String>, document: Value) -> Self {
        Policy { name: name.into(), document, resource_policy: true }
    }
}

/// IAM's answer, with the statements that decided it (`policy/Sid`, or `policy/#n` without a Sid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow(Vec<String>),
    ExplicitDeny(Vec<String>),
    ImplicitDeny,
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow(_))
    }
}

/// The decision for `request` made by `principal_arn` under `policies`.
pub fn evaluate(policies: &[Policy], principal_arn: &str, request: &Request) -> Decision {
    let (mut allows, mut denies) = (Vec::new(), Vec::new());
    for policy in policies {
        for (n, s) in statements(&policy.document).iter().enumerate() {
            if !applies(s, policy.resource_policy, principal_arn, request) {
                continue;
            }
            let name = format!(
                "{}/{}",
                policy.name,
                s.get("Sid").and_then(Value::as_str).map_or(format!("#{n}"), str::to_string)
            );
            match s.get("Effect").and_then(Value::as_str) {
                Some("Deny") => denies.push(name),
                Some("Allow") => allows.push(name),
                other => panic!("statement {name} has Effect {other:?}"),
            }
        }
    }
    if !denies.is_empty() {
        Decision::ExplicitDeny(denies)
    } else if !allows.is_empty() {
        Decision::Allow(allows)
    } else {
        Decision::ImplicitDeny
    }
}

/// A policy's statements (a single statement object counts as a list of one).
pub fn statements(document: &Value) -> Vec<Value> {
    match &document["Statement"] {
        Value::Array(a) => a.clone(),
        Value::Object(_) => vec![document["Statement"].clone()],
        _ => Vec::new(),
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().flat_map(strings).collect(),
        Value::Bool(b) => vec![b.to_string()],
        Value::Number(n) => vec![n.to_string()],
        _ => Vec::new(),
    }
}

fn applies(s: &Value, resource_policy: bool, principal: &str, r: &Request) -> bool {
    let principal_ok = !resource_policy || principal_matches(s, principal);
    action_matches(s, &r.action)
        && resource_matches(s, resource_policy, &r.resource)
        && principal_ok
        && conditions_hold(s.get("Condition"), r)
}

/// Whether the statement's `Action` (or `NotAction`) covers `action`.
pub fn action_matches(s: &Value, action: &str) -> bool {
    let action = action.to_ascii_lowercase();
    match (s.get("Action"), s.get("NotAction")) {
        (Some(a), None) => strings(a).iter().any(|p| wildcard(&p.to_ascii_lowercase(), &action)),
        (None, Some(a)) => !strings(a).iter().any(|p| wildcard(&p.to_ascii_lowercase(), &action)),
        _ => panic!("a statement needs exactly one of Action and NotAction: {s}"),
    }
}

/// Whether the statement's `Resource` (or `NotResource`) covers `resource`.
pub fn resource_matches(s: &Value, resource_policy: bool, resource: &str) -> bool {
    match (s.get("Resource"), s.get("NotResource")) {
        (Some(v), None) => strings(v).iter().any(|p| arn_like(p, resource)),
        (None, Some(v)) => !strings(v).iter().any(|p| arn_like(p, resource)),
        // A resource policy's statement may leave the resource out: it is the resource the policy is on.
        (None, None) if resource_policy => true,
        _ => panic!("a statement needs exactly one of Resource and NotResource: {s}"),
    }
}

fn principal_matches(s: &Value, principal: &str) -> bool {
    let matches = |p: &Value| match p {
        Value::String(x) => x == "*",
        Value::Object(m) => m.get("AWS").is_some_and(|a| strings(a).iter().any(|x| x == "*" || x == principal)),
        _ => false,
    };
    match (s.get("Principal"), s.get("NotPrincipal")) {
        (Some(p), None) => matches(p),
        (None, Some(p)) => !matches(p),
        _ => panic!("a resource policy's statement needs a Principal: {s}"),
    }
}

/// `*` matches any run of characters (`/` included), `?` any one character.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// ARN matching as `Resource` and `ArnLike` do it: each of the six colon-separated parts matched on its own
/// (wildcards do not span a colon in the first five), the resource part with `*` spanning `/`.
pub fn arn_like(pattern: &str, arn: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let a: Vec<&str> = arn.splitn(6, ':').collect();
    if p.len() != 6 || a.len() != 6 {
        return wildcard(pattern, arn);
    }
    p.iter().zip(&a).all(|(p, a)| wildcard(p, a))
}

/// Every operator of the block holds (AND), each over every key it names (AND).
pub fn conditions_hold(block: Option<&Value>, r: &Request) -> bool {
    let Some(Value::Object(ops)) = block else { return true };
    ops.iter().all(|(op, keys)| {
        let Value::Object(keys) = keys else { panic!("condition {op} needs an object of keys") };
        keys.iter().all(|(key, wanted)| condition(op, &strings(wanted), r.values(key)))
    })
}

fn condition(op: &str, wanted: &[String], actual: Option<&Vec<String>>) -> bool {
    let (set, op) = match op.split_once(':') {
        Some((set, op)) => (Some(set), op),
        None => (None, op),
    };
    let (op, if_exists) = match op.strip_suffix("IfExists") {
        Some(o) => (o, true),
        None => (op, false),
    };
    if op == "Null" {
        let absent = actual.is_none_or(|v| v.is_empty());
        return wanted.iter().all(|w| (w == "true") == absent);
    }
    let negated = op.contains("Not");
    let matcher = |w: &str, v: &str| -> bool {
        match op.replace("Not", "").as_str() {
            "StringEquals" => w == v,
            "StringEqualsIgnoreCase" => w.eq_ignore_ascii_case(v),
            "StringLike" => wildcard(w, v),
            "ArnEquals" | "ArnLike" => arn_like(w, v),
            "Bool" => w.eq_ignore_ascii_case(v),
            other => panic!("condition operator {other} is not modelled"),
        }
    };
    // A positive operator: the value matches one of the wanted values; a negated one: it matches none of them.
    let holds = |v: &str| {
        let any = wanted.iter().any(|w| matcher(w, v));
        if negated {
            !any
        } else {
            any
        }
    };
    let values = match actual {
        Some(v) if !v.is_empty() => v,
        _ => {
            return match set {
                Some("ForAllValues") => true,
                Some("ForAnyValue") => false,
                _ => if_exists || negated,
            }
        }
    };
    match set {
        Some("ForAllValues") => values.iter().all(|v| holds(v)),
        Some("ForAnyValue") => values.iter().any(|v| holds(v)),
        None if negated => values.iter().all(|v| holds(v)),
        None => values.iter().any(|v| holds(v)),
        Some(other) => panic!("set operator {other} is not modelled"),
    }
}
