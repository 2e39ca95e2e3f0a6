//! What the audit reads from the environment: the state table, the installation's declarations (adoptable
//! names, allowed additional policies) and the AWS clients' retry settings. They are the guard's own variables,
//! read by its one reader, so the audit and the function it checks never read them differently.

use eks_node_role_guard::domain::reach::Allowances;
use eks_node_role_guard::iam::IamSettings;
use eks_node_role_guard::settings::Settings;

#[derive(Debug, Clone)]
pub struct AuditSettings {
    /// `STATE_TABLE_NAME`, if set.
    pub state_table: Option<String>,
    /// `ADOPTABLE_ROLE_NAMES`, `ALLOWED_ADDITIONAL_POLICY_ARNS`.
    pub adoption: Allowances,
    /// `IAM_MAX_ATTEMPTS`, `IAM_INITIAL_BACKOFF_MS`, `IAM_ATTEMPT_TIMEOUT_MS`.
    pub iam: IamSettings,
}

impl AuditSettings {
    pub fn from_env() -> Self {
        AuditSettings::from_vars(|k| std::env::var(k).ok())
    }

    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Self {
        let s = Settings::from_vars(get);
        AuditSettings { state_table: Some(s.state_table).filter(|t| !t.is_empty()), adoption: s.adoption, iam: s.iam }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audit_reads_the_guards_variables() {
        let vars = std::collections::HashMap::from([
            ("STATE_TABLE_NAME", "guard-state"),
            ("ADOPTABLE_ROLE_NAMES", "legacy-*"),
            ("IAM_MAX_ATTEMPTS", "2"),
        ]);
        let s = AuditSettings::from_vars(|k| vars.get(k).map(|v| v.to_string()));
        assert_eq!(s.state_table.as_deref(), Some("guard-state"));
        assert!(s.adoption.is_adoptable_name("legacy-nodes") && !s.adoption.is_adoptable_name("eksNodeRole"));
        assert_eq!(s.iam.max_attempts, 2);
        assert_eq!(AuditSettings::from_vars(|_| None).state_table, None);
    }
}
