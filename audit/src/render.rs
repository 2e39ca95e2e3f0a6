//! How the audit is said: a table for a terminal, JSON for pipelines, and the `Custom::EksNodeRole` resource that
//! would bring a role under the guard.

use std::fmt::Write;

use serde_json::json;

use super::collect::AuditReport;
use super::{RoleReport, Subject, Verdict};
use eks_node_role_guard::domain::reach::Allowances;
use eks_node_role_guard::domain::{IpFamily, NodeClass, Partition};

/// `{"roles":[{"roleName","roleArn","verdict","managed","usedBy","findings":[{"kind","message"}],"notes"}],
/// "clusters":[…],"notes":[…]}`.
pub fn json(report: &AuditReport) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| json!({"error": e.to_string()}).to_string())
}

/// One row per role: name, managed, verdict, who uses it, findings (one per line); then notes and a summary.
pub fn table(report: &AuditReport) -> String {
    let headers = ["ROLE", "MANAGED", "VERDICT", "USED BY", "FINDINGS"];
    let rows: Vec<[String; 5]> = report
        .roles
        .iter()
        .map(|r| {
            let findings: Vec<String> = r.findings.iter().map(|f| format!("{}: {}", f.kind, f.message)).collect();
            [
                r.role_name.clone(),
                r.managed.to_string(),
                r.verdict.as_str().to_string(),
                if r.used_by.is_empty() { "-".into() } else { r.used_by.join(", ") },
                if findings.is_empty() { "-".into() } else { findings.join("\n") },
            ]
        })
        .collect();
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].lines().map(|l| l.chars().count()).max().unwrap_or(0))
            .chain([headers[i].len()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..4).map(width).collect();
    let mut out = String::new();
    let line = |out: &mut String, cells: [&str; 5]| {
        let mut s = String::new();
        for (i, c) in cells.iter().take(4).enumerate() {
            let _ = write!(s, "{:<w$}  ", c, w = widths[i]);
        }
        s.push_str(cells[4]);
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(&mut out, headers);
    for r in &rows {
        let mut findings = r[4].lines();
        line(&mut out, [&r[0], &r[1], &r[2], &r[3], findings.next().unwrap_or("")]);
        for more in findings {
            line(&mut out, ["", "", "", "", more]);
        }
    }
    let notes: Vec<String> = report
        .roles
        .iter()
        .flat_map(|r| r.notes.iter().map(move |n| format!("{}: {}: {}", r.role_name, n.kind, n.message)))
        .chain(report.clusters.iter().flat_map(|c| c.notes.iter().map(move |n| format!("cluster {}: {n}", c.name))))
        .chain(report.notes.iter().cloned())
        .collect();
    if !notes.is_empty() {
        out.push_str("\nNotes:\n");
        for n in notes {
            let _ = writeln!(out, "  - {n}");
        }
    }
    let count = |v: Verdict| report.roles.iter().filter(|r| r.verdict == v).count();
    let _ = writeln!(
        out,
        "\n{} node role(s) in {} cluster(s): {} compliant, {} non-compliant, {} unused.",
        report.roles.len(),
        report.clusters.len(),
        count(Verdict::Compliant),
        count(Verdict::NonCompliant),
        count(Verdict::Unused)
    );
    out
}

/// A CloudFormation logical id from a role name: `eks-prod_nodes` → `EksProdNodesNodeRole`.
fn logical_id(role: &str) -> String {
    let mut out = String::new();
    for part in role.split(|c: char| !c.is_ascii_alphanumeric()).filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        out.extend(chars.next().map(|c| c.to_ascii_uppercase()));
        out.push_str(chars.as_str());
    }
    if !out.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out.insert(0, 'R');
    }
    out.push_str("NodeRole");
    out
}

/// The `Custom::EksNodeRole` resource that would adopt the role, with why the guard would refuse it today (if
/// it would); its ServiceToken imports the export of the guard stack named `guard_stack`. `None` for a role the guard manages already or that does not exist.
pub fn adopt_snippet(
    report: &RoleReport,
    subject: &Subject,
    rules: &Allowances,
    partition: Partition,
    guard_stack: &str,
) -> Option<String> {
    let live = subject.live.as_ref()?;
    if report.managed == "yes" {
        return None;
    }
    let mut out = String::new();
    let used = if report.used_by.is_empty() { "no node group".to_string() } else { report.used_by.join(", ") };
    let _ = writeln!(out, "# {} — used by {used}", report.role_name);
    if report.ip_families.len() > 1 {
        let _ = writeln!(out, "# clusters of both IP families use it: give each family its own node role");
    }
    if let Some(why) = rules.refusal(live, &subject.inline_policies, partition, None, report.node_class) {
        let _ = writeln!(out, "# the guard would refuse it today: {why}");
    }
    let family = report.ip_families.iter().next().copied().unwrap_or(IpFamily::Ipv4);
    let _ = writeln!(out, "{}:", logical_id(&report.role_name));
    let _ = writeln!(out, "  Type: Custom::EksNodeRole");
    let _ = writeln!(out, "  Properties:");
    let _ = writeln!(out, "    ServiceToken: !ImportValue {guard_stack}-ServiceToken");
    let _ = writeln!(out, "    ServiceTimeout: 300");
    let _ = writeln!(out, "    RoleName: {}", report.role_name);
    if live.path.as_str() != "/" {
        let _ = writeln!(out, "    Path: {}", live.path);
    }
    let _ = writeln!(out, "    AdoptExistingRole: true");
    match report.node_class {
        NodeClass::AutoMode => {
            let _ = writeln!(out, "    NodeClass: auto-mode");
            let _ = writeln!(out, "    AttachCniPolicy: false");
        }
        NodeClass::Standard => {
            let _ = writeln!(out, "    IpFamily: {}", family.as_str());
            if report.cni_separate {
                let _ = writeln!(
                    out,
                    "    # false: every cluster seen gives the VPC CNI its own role; check clusters in other regions first"
                );
            }
            let _ = writeln!(out, "    AttachCniPolicy: {}", !report.cni_separate);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logical_ids_are_valid_cloudformation_names() {
        assert_eq!(logical_id("eks-prod_nodes"), "EksProdNodesNodeRole");
        assert_eq!(logical_id("eksNodeRole"), "EksNodeRoleNodeRole");
        assert_eq!(logical_id("1st.role"), "R1stRoleNodeRole");
    }
}
