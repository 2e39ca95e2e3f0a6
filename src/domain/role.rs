//! The role itself: its name (given or generated), its path, and the IAM rules for its tags.

use std::fmt;

use super::truncate_for_message;
use crate::error::{Error, Result};

/// An IAM role name: 1–64 of letters, digits and `+=,.@_-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoleName(String);

impl RoleName {
    pub fn parse(s: &str) -> Result<Self> {
        let ok = !s.is_empty() && s.len() <= 64 && s.bytes().all(is_role_name_byte);
        if ok {
            Ok(RoleName(s.to_string()))
        } else {
            Err(Error::invalid(format!(
                "RoleName '{}' is invalid: use letters, digits and +=,.@_-, at most 64 characters",
                truncate_for_message(s)
            )))
        }
    }

    /// `<stack name>-<LogicalResourceId>-<suffix>`, at most 64 characters. The suffix is a hash of `seed`,
    /// so the same seed (StackId + LogicalResourceId for a Create) always yields the same name.
    pub fn generate(stack_name: &str, logical_id: &str, seed: &str) -> Self {
        Self::generate_with_prefix("", stack_name, logical_id, seed)
    }

    /// The same, starting with `prefix` (the installation's `RoleNamePrefix`, at most 32 characters), so that a
    /// generated name is in the installation's scope.
    pub fn generate_with_prefix(prefix: &str, stack_name: &str, logical_id: &str, seed: &str) -> Self {
        let suffix = short_hash(seed, 12);
        let clean = |s: &str| s.bytes().filter(|b| is_role_name_byte(*b)).map(char::from).collect::<String>();
        let mut prefix = clean(prefix);
        prefix.truncate(32);
        let (mut stack, mut logical) = (clean(stack_name), clean(logical_id));
        // 64 = prefix + stack + '-' + logical + '-' + 12; keep the logical id readable, shorten the stack name first.
        let budget = 64 - prefix.len() - 2 - suffix.len();
        logical.truncate(logical.len().min(budget.saturating_sub(stack.len()).max(budget / 2)));
        stack.truncate(budget - logical.len());
        let name = match (stack.is_empty(), logical.is_empty()) {
            (false, false) => format!("{prefix}{stack}-{logical}-{suffix}"),
            (true, false) => format!("{prefix}{logical}-{suffix}"),
            (false, true) => format!("{prefix}{stack}-{suffix}"),
            (true, true) => format!("{prefix}NodeRole-{suffix}"),
        };
        RoleName(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_role_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b)
}

impl fmt::Display for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An IAM path: `/` or `/segment/.../`, printable ASCII, at most 512 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RolePath(String);

impl RolePath {
    pub fn root() -> Self {
        RolePath("/".into())
    }

    pub fn parse(s: &str) -> Result<Self> {
        let ok = s.len() <= 512
            && s.starts_with('/')
            && s.ends_with('/')
            && !s.contains("//")
            && s.bytes().all(|b| (0x21..=0x7e).contains(&b));
        if ok {
            Ok(RolePath(s.to_string()))
        } else {
            Err(Error::invalid(format!(
                "Path '{}' is invalid: it must begin and end with '/', e.g. /eks/nodes/, printable ASCII without spaces, at most 512 characters",
                truncate_for_message(s)
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RolePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// IAM tag keys: 1–128 characters of letters, digits, spaces and `_.:/=+-@`.
pub fn is_valid_tag_key(k: &str) -> bool {
    let n = k.chars().count();
    (1..=128).contains(&n) && k.chars().all(is_tag_char)
}

/// IAM tag values: 0–256 characters of the same set.
pub fn is_valid_tag_value(v: &str) -> bool {
    v.chars().count() <= 256 && v.chars().all(is_tag_char)
}

/// IAM allows letters, numbers, `\p{Z}` separators (no tab or newline) and `_.:/=+-@` in tags.
fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || (c.is_whitespace() && !c.is_control()) || "_.:/=+-@".contains(c)
}

/// First `len` characters of the base-32 (A–Z, 2–7) SHA-256 of `seed`.
fn short_hash(seed: &str, len: usize) -> String {
    use sha2::{Digest, Sha256};
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let digest = Sha256::digest(seed.as_bytes());
    let mut bits: u64 = 0;
    let mut nbits = 0;
    let mut out = String::with_capacity(len);
    for byte in digest {
        bits = (bits << 8) | u64::from(byte);
        nbits += 8;
        while nbits >= 5 && out.len() < len {
            nbits -= 5;
            out.push(char::from(ALPHABET[((bits >> nbits) & 31) as usize]));
        }
    }
    out
}

string_serde!(RoleName, |s: &str| RoleName::parse(s).ok());
string_serde!(RolePath, |s: &str| RolePath::parse(s).ok());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_follow_iam_rules() {
        assert!(RoleName::parse("AmazonEKSNodeRole").is_ok());
        assert!(RoleName::parse("a+=,.@_-1").is_ok());
        assert!(RoleName::parse(&"a".repeat(64)).is_ok());
        let e = RoleName::parse("x y").unwrap_err().to_string();
        assert_eq!(e, "RoleName 'x y' is invalid: use letters, digits and +=,.@_-, at most 64 characters");
        assert!(RoleName::parse("").is_err());
        assert!(RoleName::parse(&"a".repeat(65)).is_err());
        assert!(RoleName::parse("rôle").is_err());
    }

    #[test]
    fn generated_names_are_stable_distinct_and_at_most_64_characters() {
        let a = RoleName::generate("prod-eks", "NodeRole", "seed-1");
        assert_eq!(a, RoleName::generate("prod-eks", "NodeRole", "seed-1"));
        assert_ne!(a, RoleName::generate("prod-eks", "NodeRole", "seed-2"));
        assert!(a.as_str().starts_with("prod-eks-NodeRole-"), "{a}");
        assert_eq!(a.as_str().len(), "prod-eks-NodeRole-".len() + 12);
        let long = RoleName::generate(&"s".repeat(128), &"L".repeat(255), "x");
        assert_eq!(long.as_str().len(), 64, "{long}");
        assert!(long.as_str().contains("-LLLL"), "keeps part of the logical id: {long}");
        assert!(RoleName::parse(long.as_str()).is_ok());
        let short_stack = RoleName::generate("s", &"L".repeat(100), "x");
        assert_eq!(short_stack.as_str().len(), 64);
        assert!(short_stack.as_str().starts_with("s-LLL"));
        assert!(RoleName::parse(RoleName::generate("", "", "x").as_str()).is_ok());
        // With the installation's prefix: in scope, still at most 64.
        let prefixed = RoleName::generate_with_prefix("eks-node-", "prod-eks", "NodeRole", "seed-1");
        assert!(prefixed.as_str().starts_with("eks-node-prod-eks-NodeRole-"), "{prefixed}");
        let long = RoleName::generate_with_prefix(&"p".repeat(32), &"s".repeat(128), &"L".repeat(255), "x");
        assert_eq!(long.as_str().len(), 64, "{long}");
        assert!(long.as_str().starts_with(&"p".repeat(32)) && RoleName::parse(long.as_str()).is_ok());
    }

    #[test]
    fn paths_must_be_slash_delimited_printable_ascii() {
        assert!(RolePath::parse("/").is_ok());
        assert!(RolePath::parse("/eks/nodes/").is_ok());
        for bad in ["", "eks/", "/eks", "/a b/", "//", "/é/"] {
            let e = RolePath::parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("Path '"), "{e}");
        }
        assert!(RolePath::parse(&format!("/{}/", "a".repeat(511))).is_err());
    }

    #[test]
    fn tag_keys_and_values_follow_iam_rules() {
        assert!(is_valid_tag_key("team"));
        assert!(is_valid_tag_key("kubernetes.io/cluster/prod"));
        assert!(!is_valid_tag_key(""));
        assert!(!is_valid_tag_key(&"k".repeat(129)));
        assert!(!is_valid_tag_key("a*b"));
        assert!(is_valid_tag_value(""));
        assert!(is_valid_tag_value("owned"));
        assert!(!is_valid_tag_value(&"v".repeat(257)));
    }
}
