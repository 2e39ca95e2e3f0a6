//! One audit across an organisation's accounts: each account's report under its id and name, and the accounts
//! that could not be entered or audited as notes with the reason, never an abort.

use std::fmt::Write;

use serde::Serialize;

use crate::collect::AuditReport;
use crate::Verdict;

/// One account of the organisation.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountReport {
    pub account_id: String,
    pub account_name: String,
    /// Whether the account was entered and audited (otherwise `notes` says why).
    pub audited: bool,
    #[serde(flatten)]
    pub report: AuditReport,
}

impl AccountReport {
    pub fn audited(account_id: &str, account_name: &str, report: AuditReport) -> Self {
        AccountReport { account_id: account_id.into(), account_name: account_name.into(), audited: true, report }
    }

    /// An account the audit could not enter or finish: the reason as its note.
    pub fn not_audited(account_id: &str, account_name: &str, reason: String) -> Self {
        let report = AuditReport { roles: vec![], subjects: vec![], clusters: vec![], notes: vec![reason] };
        AccountReport { account_id: account_id.into(), account_name: account_name.into(), audited: false, report }
    }

    pub fn findings(&self) -> usize {
        self.report.roles.iter().map(|r| r.findings.len()).sum()
    }
}

/// The organisation's report, accounts in the order of their ids.
#[derive(Debug, Clone, Serialize)]
pub struct OrgReport {
    pub accounts: Vec<AccountReport>,
    pub notes: Vec<String>,
}

impl OrgReport {
    pub fn new(mut accounts: Vec<AccountReport>) -> Self {
        accounts.sort_by(|a, b| a.account_id.cmp(&b.account_id));
        let skipped: Vec<String> = accounts
            .iter()
            .filter(|a| !a.audited)
            .map(|a| {
                format!("account {} ({}) was not audited: {}", a.account_id, a.account_name, a.report.notes.join("; "))
            })
            .collect();
        OrgReport { accounts, notes: skipped }
    }

    /// 1 when any audited account has a non-compliant role; otherwise 2 when an account could not be audited;
    /// otherwise 0.
    pub fn exit_code(&self) -> i32 {
        if self.accounts.iter().any(|a| a.report.roles.iter().any(|r| r.verdict == Verdict::NonCompliant)) {
            1
        } else if self.accounts.iter().any(|a| !a.audited) {
            2
        } else {
            0
        }
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Each account's table under its id and name; the accounts not audited with their reason; a summary.
    pub fn table(&self) -> String {
        let mut out = String::new();
        for a in &self.accounts {
            let _ = writeln!(out, "━━ account {} ({})", a.account_id, a.account_name);
            if a.audited {
                out.push_str(&crate::render::table(&a.report));
            } else {
                let _ = writeln!(out, "not audited: {}", a.report.notes.join("; "));
            }
            out.push('\n');
        }
        let audited = self.accounts.iter().filter(|a| a.audited).count();
        let non_compliant: usize = self
            .accounts
            .iter()
            .map(|a| a.report.roles.iter().filter(|r| r.verdict == Verdict::NonCompliant).count())
            .sum();
        let _ = writeln!(
            out,
            "{} account(s), {audited} audited, {} not; {non_compliant} non-compliant node role(s) in all.",
            self.accounts.len(),
            self.accounts.len() - audited
        );
        out
    }
}
