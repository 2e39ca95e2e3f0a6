//! `eks-node-role-audit`: the node-role procedure's check, for a whole account. Finds the node roles where they
//! are used (node groups, Auto Mode, the procedure's names, the guard's state table), judges each against the
//! procedure with its clusters' facts, and prints a table or JSON. Read-only.
//!
//! Exit codes: 0 every used node role complies, 1 findings, 2 could not check (names the missing permission).

mod accounts;
mod eks;
mod securityhub;

use std::io::Write;
use std::process::ExitCode;

use eks_node_role_audit::collect::{audit, missing_permission, AuditReport, Scope};
use eks_node_role_audit::render;
use eks_node_role_audit::settings::AuditSettings;
use eks_node_role_guard::domain::reach::Allowances;
use eks_node_role_guard::domain::Partition;
use eks_node_role_guard::error::Error;
use eks_node_role_guard::iam::{client_from, shared_config, SdkIam};
use eks_node_role_guard::state::{build_client, DynamoStore};

const USAGE: &str = "\
eks-node-role-audit: check every EKS node role of an account against the Amazon EKS node IAM role procedure

USAGE:
    eks-node-role-audit [--region REGION] [--cluster NAME]... [--state-table TABLE]
                        [--output table|json|asff] [--import] [--adopt-snippet [--guard-stack NAME]] [--quiet]
    eks-node-role-audit --organization --assume-role NAME [--external-id ID] [--accounts ID,...]
                        [--concurrency N] [--region REGION] [--state-table TABLE] [--output table|json] [--import]

OPTIONS:
    --region REGION       the clusters' region (default: AWS_REGION / the profile's region)
    --cluster NAME        only this cluster and the roles its nodes use (repeatable)
    --state-table TABLE   the guard's state table (default: STATE_TABLE_NAME); without it, \"managed\" is unknown
    --output FORMAT       table (default), json, or asff (the findings in the AWS Security Finding Format)
    --import              also send the findings to AWS Security Hub (BatchImportFindings; a finding that no
                          longer holds is sent again resolved); works with any --output
    --adopt-snippet       print, per node role the guard does not manage, the Custom::EksNodeRole that adopts it
    --guard-stack NAME    the guard's stack name, for the snippets' ServiceToken import (default: eks-node-role-guard)
    --organization        audit every active account of the organisation (organizations:ListAccounts), each
                          through the role --assume-role names; one report with a section per account
    --accounts ID,...     these accounts instead of the organisation's (with --assume-role)
    --assume-role NAME    the role to assume in each account (read-only; see docs/operations.md)
    --external-id ID      the external id its trust policy requires, if any
    --concurrency N       accounts audited at once (default 8)
    --quiet               no progress on stderr
    -h, --help            this text

The usual AWS environment applies (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, credentials).
Exit codes: 0 no node role is non-compliant, 1 findings, 2 could not check.";

#[derive(Debug, Default)]
struct Args {
    region: Option<String>,
    clusters: Vec<String>,
    state_table: Option<String>,
    json: bool,
    asff: bool,
    import: bool,
    organization: bool,
    accounts: Vec<String>,
    assume_role: Option<String>,
    external_id: Option<String>,
    concurrency: Option<usize>,
    adopt_snippet: bool,
    guard_stack: Option<String>,
    quiet: bool,
}

fn parse(mut argv: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut a = Args::default();
    while let Some(arg) = argv.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| inline.clone().or_else(|| argv.next()).ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--region" => a.region = Some(value("--region")?),
            "--cluster" => a.clusters.push(value("--cluster")?),
            "--state-table" => a.state_table = Some(value("--state-table")?),
            "--output" => match value("--output")?.as_str() {
                "json" => (a.json, a.asff) = (true, false),
                "table" => (a.json, a.asff) = (false, false),
                "asff" => (a.json, a.asff) = (false, true),
                other => return Err(format!("--output {other}: use table, json or asff")),
            },
            "--import" => a.import = true,
            "--organization" => a.organization = true,
            "--accounts" => {
                a.accounts =
                    value("--accounts")?.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
            }
            "--assume-role" => a.assume_role = Some(value("--assume-role")?),
            "--external-id" => a.external_id = Some(value("--external-id")?),
            "--concurrency" => {
                let v = value("--concurrency")?;
                match v.parse::<usize>() {
                    Ok(n) if (1..=64).contains(&n) => a.concurrency = Some(n),
                    _ => return Err(format!("--concurrency {v}: use a number from 1 to 64")),
                }
            }
            "--adopt-snippet" => a.adopt_snippet = true,
            "--guard-stack" => a.guard_stack = Some(value("--guard-stack")?),
            "--quiet" | "-q" => a.quiet = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let many = a.organization || !a.accounts.is_empty();
    if many && a.assume_role.is_none() {
        return Err(
            "--organization and --accounts need --assume-role NAME (the role to enter each account with)".into()
        );
    }
    if many && (a.asff || a.adopt_snippet || !a.clusters.is_empty()) {
        return Err(
            "--organization and --accounts take --output table or json, without --adopt-snippet or --cluster".into()
        );
    }
    if !many && (a.assume_role.is_some() || a.external_id.is_some() || a.concurrency.is_some()) {
        return Err("--assume-role, --external-id and --concurrency go with --organization or --accounts".into());
    }
    Ok(Some(a))
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("eks-node-role-audit: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("eks-node-role-audit: cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(run(args))
}

async fn run(args: Args) -> ExitCode {
    // The function's settings where they apply: retries, the state table, the adoption declarations.
    let settings = AuditSettings::from_env();
    let mut shared = shared_config(&settings.iam).await;
    if let Some(r) = &args.region {
        shared = shared.into_builder().region(aws_config::Region::new(r.clone())).build();
    }
    let region = shared.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into());
    let partition = Partition::of_region(&region);
    if args.organization || !args.accounts.is_empty() {
        return run_organization(&args, &settings, &shared, &region, partition).await;
    }
    let clusters = eks::SdkClusters::new(aws_sdk_eks::Client::new(&shared));
    let iam = SdkIam::new(client_from(&shared, None));
    let table = args.state_table.clone().or(settings.state_table.clone()).filter(|t| !t.is_empty());
    let store = table.map(|t| DynamoStore::new(build_client(&shared), t));
    let quiet = args.quiet;
    let progress = move |done: usize, total: usize, name: &str| {
        if !quiet && total >= 5 {
            eprintln!("[{done}/{total}] cluster {name}");
        }
    };
    let scope = Scope { clusters: args.clusters.clone() };
    let report = match audit(&clusters, &iam, store.as_ref(), &scope, &progress).await {
        Ok(r) => r,
        Err(e) => return could_not_check(&e, &region),
    };
    let guard_stack = args.guard_stack.as_deref().unwrap_or("eks-node-role-guard");
    let snippets = match args.adopt_snippet {
        true => snippet_list(&report, &settings.adoption, partition, guard_stack),
        false => Vec::new(),
    };
    // The findings as Security Hub takes them, for --output asff and --import.
    let asff_out = if args.asff || args.import {
        match asff_context(&shared, &region, partition).await {
            Ok(ctx) => Some((eks_node_role_audit::asff::findings(&report, &ctx), ctx)),
            Err(e) => return could_not_check(&e, &region),
        }
    } else {
        None
    };
    if let (true, Some((findings, ctx))) = (args.import, &asff_out) {
        if let Some(said) = import(&shared, &report, findings, ctx, args.clusters.is_empty()).await {
            if !quiet || said.starts_with("eks-node-role-audit:") {
                eprintln!("{said}");
            }
        }
    }
    if let (true, Some((findings, _))) = (args.asff, &asff_out) {
        let mut stdout = std::io::stdout().lock();
        let text = serde_json::to_string_pretty(findings).unwrap_or_default();
        if writeln!(stdout, "{text}").is_err() {
            return ExitCode::from(2);
        }
        return ExitCode::from(report.exit_code() as u8);
    }
    let out = match (args.json, args.adopt_snippet) {
        (false, false) => render::table(&report),
        (false, true) => render::table(&report) + &snippets_text(&snippets),
        (true, false) => render::json(&report),
        // One JSON document still: the snippets go in it, as `adoptSnippets`.
        (true, true) => {
            let mut doc = serde_json::to_value(&report).unwrap_or_default();
            doc["adoptSnippets"] = serde_json::json!(snippets
                .iter()
                .map(|(role, yaml)| serde_json::json!({"roleName": role, "snippet": yaml}))
                .collect::<Vec<_>>());
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        }
    };
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{}", out.trim_end()).is_err() {
        return ExitCode::from(2);
    }
    ExitCode::from(report.exit_code() as u8)
}

/// Sends one account's findings to Security Hub with that account's credentials; what it did, or why not (a
/// refusal is not an abort: the report stands).
async fn import(
    config: &aws_config::SdkConfig,
    report: &AuditReport,
    findings: &[eks_node_role_audit::asff::Finding],
    ctx: &eks_node_role_audit::asff::Context,
    whole_account: bool,
) -> Option<String> {
    let client = aws_sdk_securityhub::Client::new(config);
    let audited = report.roles.iter().map(|r| r.role_name.clone()).collect();
    Some(match securityhub::import(&client, findings, &audited, whole_account, ctx).await {
        Ok(done) => format!(
            "Security Hub ({}): {} finding(s) sent, {} of them resolved (no longer found){}",
            ctx.account,
            done.sent,
            done.resolved,
            if done.failed.is_empty() { String::new() } else { format!("; refused: {}", done.failed.join("; ")) }
        ),
        Err(e) => match missing_permission(&e) {
            Some(p) => format!(
                "eks-node-role-audit: the findings of {} were not sent to Security Hub ({p} denied): {e}",
                ctx.account
            ),
            None => format!("eks-node-role-audit: the findings of {} were not sent to Security Hub: {e}", ctx.account),
        },
    })
}

/// Default accounts audited at once under `--organization`.
const ACCOUNT_CONCURRENCY: usize = 8;

/// `--organization` / `--accounts`: each account entered with the named role and audited, `concurrency` at once,
/// one report; an account that cannot be entered or audited is a note, never an abort.
async fn run_organization(
    args: &Args,
    settings: &AuditSettings,
    shared: &aws_config::SdkConfig,
    region: &str,
    partition: Partition,
) -> ExitCode {
    use eks_node_role_audit::org::{AccountReport, OrgReport};
    use futures_util::stream::{self, StreamExt};
    let list = if args.accounts.is_empty() {
        match accounts::list(shared).await {
            Ok(l) => l,
            Err(e) => return could_not_check(&e, region),
        }
    } else {
        args.accounts.iter().map(|id| accounts::Account { id: id.clone(), name: String::new() }).collect()
    };
    let role = args.assume_role.clone().unwrap_or_default();
    let table = args.state_table.clone().or(settings.state_table.clone()).filter(|t| !t.is_empty());
    let total = list.len();
    let (done, findings) = (std::sync::atomic::AtomicUsize::new(0), std::sync::atomic::AtomicUsize::new(0));
    let quiet = args.quiet;
    let reports: Vec<AccountReport> = stream::iter(list)
        .map(|account| {
            let (role, table, done, findings) = (&role, &table, &done, &findings);
            async move {
                let report = audit_account(args, shared, region, partition, &account, role, table.clone()).await;
                let n = findings.fetch_add(report.findings(), std::sync::atomic::Ordering::Relaxed) + report.findings();
                let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                if !quiet {
                    eprintln!("[accounts {d}/{total}] {} done: {n} finding(s) so far", account.id);
                }
                report
            }
        })
        .buffer_unordered(args.concurrency.unwrap_or(ACCOUNT_CONCURRENCY))
        .collect()
        .await;
    let report = OrgReport::new(reports);
    let out = if args.json { report.json() } else { report.table() };
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{}", out.trim_end()).is_err() {
        return ExitCode::from(2);
    }
    ExitCode::from(report.exit_code() as u8)
}

/// One account of `--organization`: entered, audited, its findings imported when asked.
async fn audit_account(
    args: &Args,
    shared: &aws_config::SdkConfig,
    region: &str,
    partition: Partition,
    account: &accounts::Account,
    role: &str,
    table: Option<String>,
) -> eks_node_role_audit::org::AccountReport {
    use eks_node_role_audit::org::AccountReport;
    let reason = |what: &str, e: &Error| match missing_permission(e) {
        Some(p) => format!("{what}: {p} denied ({e})"),
        None => format!("{what}: {e}"),
    };
    let config = match accounts::enter(shared, partition, &account.id, role, args.external_id.as_deref()).await {
        Ok(c) => c,
        Err(e) => {
            return AccountReport::not_audited(
                &account.id,
                &account.name,
                reason(&format!("could not assume {role}"), &e),
            )
        }
    };
    let clusters = eks::SdkClusters::new(aws_sdk_eks::Client::new(&config));
    let iam = SdkIam::new(client_from(&config, None));
    let store = table.map(|t| DynamoStore::new(build_client(&config), t));
    let report = match audit(&clusters, &iam, store.as_ref(), &Scope::default(), &|_, _, _| ()).await {
        Ok(r) => r,
        Err(e) => return AccountReport::not_audited(&account.id, &account.name, reason("could not audit", &e)),
    };
    let mut report = report;
    if args.import {
        let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now())
            .fmt(aws_smithy_types::date_time::Format::DateTime)
            .unwrap_or_default();
        let ctx = eks_node_role_audit::asff::Context {
            account: account.id.clone(),
            region: region.to_string(),
            partition: partition.to_string(),
            now,
        };
        let findings = eks_node_role_audit::asff::findings(&report, &ctx);
        if let Some(said) = import(&config, &report, &findings, &ctx, true).await {
            report.notes.push(said.trim_start_matches("eks-node-role-audit: ").to_string());
        }
    }
    AccountReport::audited(&account.id, &account.name, report)
}

/// The account (STS), region and partition the findings belong to, and the time they are made.
async fn asff_context(
    shared: &aws_config::SdkConfig,
    region: &str,
    partition: Partition,
) -> Result<eks_node_role_audit::asff::Context, Error> {
    let who = aws_sdk_sts::Client::new(shared)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| eks_node_role_guard::aws::error("STS", "GetCallerIdentity", e))?;
    let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now())
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default();
    Ok(eks_node_role_audit::asff::Context {
        account: who.account.unwrap_or_default(),
        region: region.to_string(),
        partition: partition.to_string(),
        now,
    })
}

/// The adopting resource of each node role the guard does not manage, by role name.
fn snippet_list(
    report: &AuditReport,
    rules: &Allowances,
    partition: Partition,
    guard_stack: &str,
) -> Vec<(String, String)> {
    report
        .roles
        .iter()
        .zip(&report.subjects)
        .filter_map(|(r, s)| {
            render::adopt_snippet(r, s, rules, partition, guard_stack).map(|y| (r.role_name.clone(), y))
        })
        .collect()
}

fn snippets_text(snippets: &[(String, String)]) -> String {
    let mut out =
        String::from("\n# Custom::EksNodeRole resources that would adopt the node roles the guard does not manage:\n");
    for (_, snippet) in snippets {
        out.push('\n');
        out.push_str(snippet);
    }
    if snippets.is_empty() {
        out.push_str("# (none)\n");
    }
    out
}

fn could_not_check(e: &Error, region: &str) -> ExitCode {
    match missing_permission(e) {
        Some(p) => eprintln!("eks-node-role-audit: could not check: {e}\nThe audit needs {p} (see docs/operations.md, \"Auditing\", for the read-only policy)."),
        None if e.is_retryable() => eprintln!("eks-node-role-audit: could not check: {e}\nIs the endpoint for {region} reachable (AWS_ENDPOINT_URL, network, credentials)?"),
        None => eprintln!("eks-node-role-audit: could not check: {e}"),
    }
    ExitCode::from(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Result<Option<Args>, String> {
        parse(s.iter().map(|s| s.to_string()))
    }

    #[test]
    fn arguments_read_as_documented() {
        let a =
            args(&["--region", "eu-west-1", "--cluster", "a", "--cluster=b", "--output", "json", "--adopt-snippet"])
                .unwrap()
                .unwrap();
        assert_eq!(
            (a.region.as_deref(), a.clusters.as_slice(), a.json, a.adopt_snippet),
            (Some("eu-west-1"), &["a".to_string(), "b".to_string()][..], true, true)
        );
        assert!(args(&["--help"]).unwrap().is_none());
        assert_eq!(args(&["--output", "yaml"]).unwrap_err(), "--output yaml: use table, json or asff");
        let a = args(&["--output", "asff", "--import"]).unwrap().unwrap();
        assert_eq!((a.asff, a.json, a.import), (true, false, true));
        let a = args(&["--organization", "--assume-role", "audit", "--concurrency", "4", "--external-id", "x"])
            .unwrap()
            .unwrap();
        assert_eq!((a.organization, a.assume_role.as_deref(), a.concurrency), (true, Some("audit"), Some(4)));
        assert!(args(&["--organization"]).unwrap_err().contains("need --assume-role"));
        assert!(args(&["--accounts", "1,2", "--assume-role", "r", "--output", "asff"])
            .unwrap_err()
            .contains("take --output"));
        assert!(args(&["--assume-role", "r"]).unwrap_err().contains("go with --organization"));
        assert!(args(&["--organization", "--assume-role", "r", "--concurrency", "0"]).unwrap_err().contains("1 to 64"));
        assert_eq!(args(&["--region"]).unwrap_err(), "--region needs a value");
        assert!(args(&["--bogus"]).unwrap_err().contains("unknown argument --bogus"));
    }
}
