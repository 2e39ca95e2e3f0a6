//! The bound computed: the template's policies, rendered as a deployment renders them (`test_support::template`),
//! evaluated as IAM evaluates them (`test_support::iam_policy`). The calls the function makes are checked in the
//! suites that drive the binary (`test_support::authorize`); here, what a compromised function, or anyone else,
//! would try is denied — under the default parameters and under the recommended ones — and a widened statement is
//! caught.

use test_support::iam_policy::{evaluate, Decision, Policy, Request};
use test_support::template::{Rendered, ACCOUNT, STACK_NAME};

/// The renderings the forbidden list holds under: the defaults (prefix `eks-node-`, path `/`) and the
/// recommended (a path of the node roles' own, a boundary list, an operator and a deployer named).
fn renderings() -> Vec<(&'static str, Rendered)> {
    vec![
        ("default", Rendered::template(&[])),
        (
            "recommended",
            Rendered::template(&[
                ("RolePathPrefix", "/eks-nodes/"),
                ("AllowedPermissionsBoundaryArns", "arn:aws:iam::123456789012:policy/eks-node-boundary"),
                ("OperatorRoleArn", "arn:aws:iam::123456789012:role/eks-node-operator"),
                ("DeployerPrincipalArns", "arn:aws:iam::123456789012:role/eks-node-pipeline"),
            ]),
        ),
    ]
}

/// What decides a forbidden call: an explicit Deny by this statement, or no statement allowing it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum By {
    Deny(&'static str),
    NoAllow,
}

struct Forbidden {
    /// As the threat model's table says it.
    what: &'static str,
    /// Who tries it: `None` the function's role, `Some(arn)` another principal (with `*` allowed to it).
    who: Option<&'static str>,
    request: fn(path: &str) -> Request,
    by: By,
}

fn role(path: &str, name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role{path}{name}")
}

const TABLE: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/eks-node-role-guard-state";
const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";
const WORKER: &str = "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy";
const POWER_USER: &str = "arn:aws:iam::123456789012:role/PowerUser";

/// The forbidden calls of docs/threat-model.md ("What the function's role can never do"), each with what
/// denies it.
fn forbidden() -> Vec<Forbidden> {
    use By::*;
    vec![
        Forbidden {
            what: "replace the trust policy of a role outside the scope",
            who: None,
            request: |_| Request::new("iam:UpdateAssumeRolePolicy", role("/", "Admin")),
            by: NoAllow,
        },
        Forbidden {
            what: "replace the trust policy of the function's own role",
            who: None,
            request: |_| Request::new("iam:UpdateAssumeRolePolicy", role("/", &format!("{STACK_NAME}-guard"))),
            by: Deny("NeverTheInstallationsOwnPrincipals"),
        },
        Forbidden {
            what: "attach a policy to the function's own role",
            who: None,
            request: |_| {
                Request::new("iam:AttachRolePolicy", role("/", &format!("{STACK_NAME}-guard")))
                    .with("iam:PolicyARN", &[WORKER])
            },
            by: Deny("NeverTheInstallationsOwnPrincipals"),
        },
        Forbidden {
            what: "attach AdministratorAccess to a node role",
            who: None,
            request: |p| Request::new("iam:AttachRolePolicy", role(p, "eks-node-a")).with("iam:PolicyARN", &[ADMIN]),
            by: NoAllow,
        },
        Forbidden {
            what: "attach a node policy to a role outside the scope",
            who: None,
            request: |_| Request::new("iam:AttachRolePolicy", role("/", "Admin")).with("iam:PolicyARN", &[WORKER]),
            by: NoAllow,
        },
        Forbidden {
            what: "write an inline policy on a node role",
            who: None,
            request: |p| Request::new("iam:PutRolePolicy", role(p, "eks-node-a")),
            by: NoAllow,
        },
        Forbidden {
            what: "pass a role that is not a node role",
            who: None,
            request: |_| Request::new("iam:PassRole", role("/", "Admin")),
            by: NoAllow,
        },
        Forbidden {
            what: "put a permissions boundary off the list on a node role",
            who: None,
            request: |p| {
                Request::new("iam:PutRolePermissionsBoundary", role(p, "eks-node-a"))
                    .with("iam:PermissionsBoundary", &["arn:aws:iam::aws:policy/AdministratorAccess"])
            },
            by: NoAllow,
        },
        Forbidden {
            what: "create a role without the label",
            who: None,
            request: |p| Request::new("iam:CreateRole", role(p, "eks-node-a")),
            by: NoAllow,
        },
        Forbidden {
            what: "create a role with a permissions boundary off the list",
            who: None,
            request: |p| {
                Request::new("iam:CreateRole", role(p, "eks-node-a"))
                    .with("aws:RequestTag/eks-node-role-guard:managed", &["true"])
                    .with("aws:TagKeys", &["eks-node-role-guard:managed"])
                    .with("iam:PermissionsBoundary", &["arn:aws:iam::123456789012:policy/other"])
            },
            by: NoAllow,
        },
        Forbidden {
            what: "tag a role with the label and other keys in one call",
            who: None,
            request: |p| {
                Request::new("iam:TagRole", role(p, "eks-node-a"))
                    .with("aws:TagKeys", &["eks-node-role-guard:managed", "team"])
            },
            by: NoAllow,
        },
        Forbidden {
            what: "put the label on a role outside the scope",
            who: None,
            request: |_| {
                Request::new("iam:TagRole", role("/", "Admin")).with("aws:TagKeys", &["eks-node-role-guard:managed"])
            },
            by: NoAllow,
        },
        Forbidden {
            what: "replace the trust policy of a role named like an adoptable name in another case",
            who: None,
            request: |_| Request::new("iam:UpdateAssumeRolePolicy", role("/", "amazoneksnoderole")),
            by: NoAllow,
        },
        Forbidden {
            what: "delete an adopted role",
            who: None,
            request: |_| Request::new("iam:DeleteRole", role("/", "AmazonEKSNodeRole")),
            by: NoAllow,
        },
        Forbidden {
            what: "change a role below a path named like the prefix",
            who: None,
            request: |p| {
                Request::new("iam:AttachRolePolicy", role(p, "eks-node-x/Admin")).with("iam:PolicyARN", &[WORKER])
            },
            by: Deny("NothingBelowAPathNamedLikeThePrefix"),
        },
        Forbidden {
            what: "create or set a policy version (the IPv6 CNI policy's included)",
            who: None,
            request: |_| {
                Request::new(
                    "iam:CreatePolicyVersion",
                    format!("arn:aws:iam::{ACCOUNT}:policy/{STACK_NAME}-AmazonEKS_CNI_IPv6_Policy"),
                )
            },
            by: NoAllow,
        },
        Forbidden {
            what: "create a user or an access key",
            who: None,
            request: |_| Request::new("iam:CreateAccessKey", format!("arn:aws:iam::{ACCOUNT}:user/admin")),
            by: NoAllow,
        },
        Forbidden {
            what: "change the function's own code",
            who: None,
            request: |_| {
                Request::new("lambda:UpdateFunctionCode", format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:x"))
            },
            by: NoAllow,
        },
        Forbidden {
            what: "replace or delete the state table's policy",
            who: None,
            request: |_| Request::new("dynamodb:DeleteResourcePolicy", TABLE),
            by: Deny("OnlyDeployersChangeTheTable"),
        },
        Forbidden {
            what: "delete the state table",
            who: None,
            request: |_| Request::new("dynamodb:DeleteTable", TABLE),
            by: Deny("OnlyDeployersChangeTheTable"),
        },
        Forbidden {
            what: "another principal, even with every permission, writes an item",
            who: Some(POWER_USER),
            request: |_| Request::new("dynamodb:PutItem", TABLE),
            by: Deny("OnlyTheGuardWritesItems"),
        },
        Forbidden {
            what: "another principal, even with every permission, replaces the state table's policy",
            who: Some(POWER_USER),
            request: |_| Request::new("dynamodb:PutResourcePolicy", TABLE),
            by: Deny("OnlyDeployersChangeTheTable"),
        },
        Forbidden {
            what: "remove the label from a role outside the scope",
            who: None,
            request: |_| {
                Request::new("iam:UntagRole", role("/", "Admin"))
                    .with("aws:TagKeys", &["eks-node-role-guard:managed", "eks-node-role-guard:stack-id"])
            },
            by: NoAllow,
        },
        Forbidden {
            what: "put a role outside the scope in an instance profile",
            who: None,
            request: |_| {
                Request::new("iam:AddRoleToInstanceProfile", format!("arn:aws:iam::{ACCOUNT}:instance-profile/Admin"))
            },
            by: NoAllow,
        },
    ]
}

/// The decision on `f` under `r`: the function's role under its policies and the table's; another principal
/// under an identity policy allowing everything and the table's policy.
fn decide(r: &Rendered, f: &Forbidden, path: &str) -> Decision {
    let mut request = (f.request)(path);
    match f.who {
        None => {
            let me = r.guard_role_arn();
            request = request.with("aws:PrincipalArn", &[&me]);
            evaluate(&r.guard_policies(), &me, &request)
        }
        Some(who) => {
            request = request.with("aws:PrincipalArn", &[who]);
            let everything = serde_json::json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
            let policies = [Policy::identity("AdministratorAccess", everything), r.table_policy().unwrap()];
            evaluate(&policies, who, &request)
        }
    }
}

fn verdict(d: &Decision) -> Option<By> {
    match d {
        Decision::Allow(_) => None,
        Decision::ImplicitDeny => Some(By::NoAllow),
        Decision::ExplicitDeny(by) => {
            let sid = by[0].rsplit('/').next().unwrap().to_string();
            Some(By::Deny(Box::leak(sid.into_boxed_str())))
        }
    }
}

#[test]
fn the_forbidden_calls_are_denied_under_the_default_and_the_recommended_parameters() {
    for (name, r) in renderings() {
        let path = if name == "default" { "/" } else { "/eks-nodes/" };
        for f in forbidden() {
            let d = decide(&r, &f, path);
            assert_eq!(verdict(&d), Some(f.by), "{name}: {}: {d:?}", f.what);
        }
    }
}

/// The threat model lists exactly these rows, each with what denies it.
#[test]
fn the_threat_model_lists_the_forbidden_calls_with_what_denies_them() {
    let doc = std::fs::read_to_string(test_support::repo().join("docs/threat-model.md")).unwrap();
    for f in forbidden() {
        let by = match f.by {
            By::Deny(sid) => format!("`{sid}`"),
            By::NoAllow => "no statement allows it".into(),
        };
        let row = doc.lines().find(|l| l.starts_with(&format!("| {} |", f.what)));
        let row = row.unwrap_or_else(|| panic!("no row '{}' in docs/threat-model.md", f.what));
        assert!(row.contains(&by), "the row of '{}' names {by}: {row}", f.what);
    }
}

/// The node role's own writes, which the function must keep: allowed under both renderings (the forbidden
/// list's denials are not the evaluator denying everything).
#[test]
fn what_the_function_needs_is_allowed_under_both_renderings() {
    for (name, r) in renderings() {
        let path = if name == "default" { "/" } else { "/eks-nodes/" };
        let me = r.guard_role_arn();
        let node = role(path, "eks-node-a");
        let label = [
            "eks-node-role-guard:managed",
            "eks-node-role-guard:stack-id",
            "eks-node-role-guard:logical-id",
            "eks-node-role-guard:region",
        ];
        let needed = [
            Request::new("iam:CreateRole", node.clone())
                .with("aws:RequestTag/eks-node-role-guard:managed", &["true"])
                .with("aws:TagKeys", &label),
            Request::new("iam:TagRole", node.clone()).with("aws:TagKeys", &label),
            Request::new("iam:TagRole", node.clone()).with("aws:TagKeys", &["team"]),
            Request::new("iam:AttachRolePolicy", node.clone()).with("iam:PolicyARN", &[WORKER]),
            Request::new("iam:UpdateAssumeRolePolicy", role("/", "AmazonEKSNodeRole")),
            Request::new("iam:PassRole", node.clone()),
            Request::new("iam:DeleteRole", node.clone()),
            Request::new("dynamodb:PutItem", TABLE),
            Request::new(
                "cloudformation:DescribeStackResource",
                "arn:aws:cloudformation:us-east-1:123456789012:stack/prod/guid",
            ),
        ];
        for request in needed {
            let request = request.with("aws:PrincipalArn", &[&me]);
            let d = evaluate(&r.guard_policies(), &me, &request);
            assert!(d.is_allowed(), "{name}: {request}: {d:?}");
        }
    }
}

/// A template whose statement is widened fails the forbidden list, naming the rows it opens.
#[test]
fn a_widened_statement_fails_the_forbidden_list() {
    let text = std::fs::read_to_string(test_support::repo().join("template.yaml")).unwrap();
    let widenings = [
        // An inline-policy action slipped into the role changes.
        (
            "                  - iam:UpdateAssumeRolePolicy\n                Resource: !Split",
            "                  - iam:UpdateAssumeRolePolicy\n                  - iam:PutRolePolicy\n                Resource: !Split",
            vec!["write an inline policy on a node role"],
        ),
        // The attachments' condition dropped (renamed: a key IAM does not read).
        (
            "                Condition:\n                  ArnEquals:\n                    iam:PolicyARN: !Split",
            "                Dropped:\n                  ArnEquals:\n                    iam:PolicyARN: !Split",
            vec!["attach AdministratorAccess to a node role"],
        ),
    ];
    for (from, to, opened) in widenings {
        assert_eq!(text.matches(from).count(), 1, "the widening applies once: {from}");
        let widened = text.replacen(from, to, 1);
        let r = Rendered::from_text(&widened, &[]);
        let now_allowed: Vec<&str> =
            forbidden().iter().filter(|f| decide(&r, f, "/").is_allowed()).map(|f| f.what).collect();
        assert_eq!(now_allowed, opened, "the widening {to:?} opens exactly these");
    }
}
