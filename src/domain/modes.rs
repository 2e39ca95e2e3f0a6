//! The modes a stack author chooses: IP family, node class, remediation; booleans as CloudFormation sends them.

use super::truncate_for_message;
use crate::error::{Error, Result};

/// The IP family of the cluster the nodes join; decides which CNI policy the role needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum IpFamily {
    #[default]
    Ipv4,
    Ipv6,
}

impl IpFamily {
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "ipv4" => Ok(IpFamily::Ipv4),
            "ipv6" => Ok(IpFamily::Ipv6),
            _ => Err(Error::invalid(format!(
                "IpFamily '{}' is invalid: use ipv4 or ipv6 (the family the cluster was created with)",
                truncate_for_message(s)
            ))),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            IpFamily::Ipv4 => "ipv4",
            IpFamily::Ipv6 => "ipv6",
        }
    }
}

/// Which node-role procedure a role follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NodeClass {
    /// "Amazon EKS node IAM role": AmazonEKSWorkerNodePolicy, the registry policy, the CNI policy by IP family.
    #[default]
    Standard,
    /// "Amazon EKS Auto Mode node IAM role": AmazonEKSWorkerNodeMinimalPolicy and the registry policy, no CNI
    /// policy (Auto Mode runs networking itself).
    AutoMode,
}

impl NodeClass {
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "standard" => Ok(NodeClass::Standard),
            "auto-mode" | "automode" => Ok(NodeClass::AutoMode),
            _ => Err(Error::invalid(format!(
                "NodeClass '{}' is invalid: use standard or auto-mode (EKS Auto Mode)",
                truncate_for_message(s)
            ))),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            NodeClass::Standard => "standard",
            NodeClass::AutoMode => "auto-mode",
        }
    }
}

/// How drift repair treats a role. Ordered from most to least active; the stricter (greater) wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum RemediationMode {
    #[default]
    Enforce,
    DryRun,
    Off,
}

impl RemediationMode {
    pub fn parse(s: &str, property: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "enforce" => Ok(RemediationMode::Enforce),
            "dry-run" | "dryrun" => Ok(RemediationMode::DryRun),
            "off" => Ok(RemediationMode::Off),
            _ => Err(Error::invalid(format!(
                "{property} '{}' is invalid: use enforce, dry-run or off",
                truncate_for_message(s)
            ))),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            RemediationMode::Enforce => "enforce",
            RemediationMode::DryRun => "dry-run",
            RemediationMode::Off => "off",
        }
    }
}

/// Booleans arrive as strings; any case of true/false is accepted.
pub fn parse_bool(s: &str, property: &str) -> Result<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => {
            Err(Error::invalid(format!("{property} '{}' is not a boolean: use true or false", truncate_for_message(s))))
        }
    }
}

string_serde!(IpFamily, |s: &str| IpFamily::parse(s).ok());
string_serde!(NodeClass, |s: &str| NodeClass::parse(s).ok());
string_serde!(RemediationMode, |s: &str| RemediationMode::parse(s, "remediation").ok());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_family_modes_and_booleans_accept_any_case() {
        assert_eq!(IpFamily::parse("IPv6").unwrap(), IpFamily::Ipv6);
        assert_eq!(IpFamily::parse("ipv4").unwrap(), IpFamily::Ipv4);
        assert!(IpFamily::parse("dual").unwrap_err().to_string().contains("use ipv4 or ipv6"));
        assert_eq!(RemediationMode::parse("DRY-RUN", "Remediation").unwrap(), RemediationMode::DryRun);
        assert!(RemediationMode::parse("fix", "Remediation").is_err());
        assert!(RemediationMode::Off > RemediationMode::DryRun && RemediationMode::DryRun > RemediationMode::Enforce);
        assert!(parse_bool("TRUE", "X").unwrap());
        assert!(!parse_bool("False", "X").unwrap());
        assert_eq!(
            parse_bool("yes", "AdoptExistingRole").unwrap_err().to_string(),
            "AdoptExistingRole 'yes' is not a boolean: use true or false"
        );
    }
}
