//! The policy evaluator of the tests (`test_support::iam_policy`) on the examples of the IAM User Guide, each
//! with the answer the guide gives.

use serde_json::Value;
use test_support::iam_policy::*;

use serde_json::json;

const ME: &str = "arn:aws:iam::123456789012:role/app";

fn decide(policy: Value, r: &Request) -> Decision {
    evaluate(&[Policy::identity("p", policy)], ME, r)
}

#[test]
fn wildcards_in_actions_ignore_case_and_in_arns_span_slashes() {
    let p = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:Get*","Resource":"arn:aws:iam::123456789012:role/eks-*"}]});
    assert!(decide(p.clone(), &Request::new("iam:GetRole", "arn:aws:iam::123456789012:role/eks-nodes")).is_allowed());
    assert!(decide(p.clone(), &Request::new("IAM:getrole", "arn:aws:iam::123456789012:role/eks-nodes")).is_allowed());
    // "role/eks-*" covers a role at the path /eks-x/ (the guide: wildcards in a resource ARN span slashes).
    assert!(decide(p.clone(), &Request::new("iam:GetRole", "arn:aws:iam::123456789012:role/eks-x/Admin")).is_allowed());
    // ARNs compare with their case.
    assert_eq!(
        decide(p.clone(), &Request::new("iam:GetRole", "arn:aws:iam::123456789012:role/EKS-nodes")),
        Decision::ImplicitDeny
    );
    assert_eq!(
        decide(p, &Request::new("iam:PassRole", "arn:aws:iam::123456789012:role/eks-nodes")),
        Decision::ImplicitDeny
    );
}

/// "Policy evaluation logic": an explicit deny overrides any allow; nothing allowed is an implicit deny.
#[test]
fn an_explicit_deny_wins_and_nothing_allowed_is_denied() {
    let allow = json!({"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]});
    let deny = json!({"Statement":{"Sid":"NoDelete","Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}});
    let policies = [Policy::identity("allow", allow), Policy::identity("deny", deny)];
    assert_eq!(
        evaluate(&policies, ME, &Request::new("s3:DeleteBucket", "arn:aws:s3:::b")),
        Decision::ExplicitDeny(vec!["deny/NoDelete".into()])
    );
    assert!(evaluate(&policies, ME, &Request::new("s3:GetObject", "arn:aws:s3:::b/k")).is_allowed());
    assert_eq!(evaluate(&policies, ME, &Request::new("ec2:RunInstances", "*")), Decision::ImplicitDeny);
}

/// "IAM JSON policy elements: NotAction": allow everything but IAM.
#[test]
fn not_action_and_not_resource_match_everything_else() {
    let p = json!({"Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]});
    assert!(decide(p.clone(), &Request::new("s3:GetObject", "*")).is_allowed());
    assert_eq!(decide(p, &Request::new("iam:CreateUser", "*")), Decision::ImplicitDeny);
    let p = json!({"Statement":[{"Effect":"Deny","Action":"s3:*","NotResource":["arn:aws:s3:::HRBucket/Payroll","arn:aws:s3:::HRBucket/Payroll/*"]},
                                {"Effect":"Allow","Action":"s3:*","Resource":"*"}]});
    assert!(decide(p.clone(), &Request::new("s3:GetObject", "arn:aws:s3:::HRBucket/Payroll/x")).is_allowed());
    assert!(matches!(decide(p, &Request::new("s3:GetObject", "arn:aws:s3:::Other/x")), Decision::ExplicitDeny(_)));
}

/// "Condition operators": a key absent from the request makes StringEquals false and StringNotEquals true;
/// `…IfExists` makes an absent key true.
#[test]
fn an_absent_key_fails_a_positive_operator_and_passes_a_negated_one() {
    let op = |cond: Value| json!({"Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*","Condition":cond}]});
    let bare = Request::new("ec2:RunInstances", "*");
    let tagged = bare.clone().with("aws:RequestTag/team", &["a"]);
    assert!(!decide(op(json!({"StringEquals":{"aws:RequestTag/team":"a"}})), &bare).is_allowed());
    assert!(decide(op(json!({"StringEquals":{"aws:RequestTag/team":"a"}})), &tagged).is_allowed());
    assert!(decide(op(json!({"StringNotEquals":{"aws:RequestTag/team":"b"}})), &bare).is_allowed());
    assert!(decide(op(json!({"StringEqualsIfExists":{"aws:RequestTag/team":"b"}})), &bare).is_allowed());
    assert!(!decide(op(json!({"StringEqualsIfExists":{"aws:RequestTag/team":"b"}})), &tagged).is_allowed());
    // Keys compare without case; values of String* with it (IgnoreCase aside).
    assert!(decide(op(json!({"StringEquals":{"AWS:REQUESTTAG/TEAM":"a"}})), &tagged).is_allowed());
    assert!(!decide(op(json!({"StringEquals":{"aws:RequestTag/team":"A"}})), &tagged).is_allowed());
    assert!(decide(op(json!({"StringEqualsIgnoreCase":{"aws:RequestTag/team":"A"}})), &tagged).is_allowed());
    // Several values of one key: OR; several keys and operators: AND.
    assert!(decide(op(json!({"StringEquals":{"aws:RequestTag/team":["b","a"]}})), &tagged).is_allowed());
    assert!(!decide(
        op(json!({"StringEquals":{"aws:RequestTag/team":"a"},"Null":{"aws:RequestTag/env":"false"}})),
        &tagged
    )
    .is_allowed());
    // Null: "true" wants the key absent.
    assert!(decide(op(json!({"Null":{"iam:PermissionsBoundary":"true"}})), &bare).is_allowed());
    assert!(!decide(op(json!({"Null":{"aws:RequestTag/team":"true"}})), &tagged).is_allowed());
}

/// "Single-valued vs. multivalued context keys": ForAllValues is true when every value of the request is
/// allowed (and when the key is absent); ForAnyValue when at least one is.
#[test]
fn set_operators_over_multivalued_keys() {
    let op =
        |cond: Value| json!({"Statement":[{"Effect":"Allow","Action":"iam:TagRole","Resource":"*","Condition":cond}]});
    let all = op(json!({"ForAllValues:StringEquals":{"aws:TagKeys":["environment","cost-center"]}}));
    let tag = |keys: &[&str]| Request::new("iam:TagRole", "*").with("aws:TagKeys", keys);
    assert!(decide(all.clone(), &tag(&["environment"])).is_allowed());
    assert!(decide(all.clone(), &tag(&["environment", "cost-center"])).is_allowed());
    assert!(!decide(all.clone(), &tag(&["environment", "owner"])).is_allowed());
    assert!(decide(all, &Request::new("iam:TagRole", "*")).is_allowed(), "ForAllValues over an absent key");
    let any = op(json!({"ForAnyValue:StringEquals":{"aws:TagKeys":["environment"]}}));
    assert!(decide(any.clone(), &tag(&["owner", "environment"])).is_allowed());
    assert!(!decide(any.clone(), &tag(&["owner"])).is_allowed());
    assert!(!decide(any, &Request::new("iam:TagRole", "*")).is_allowed(), "ForAnyValue over an absent key");
    let none_like = op(json!({"ForAllValues:StringNotLike":{"aws:TagKeys":["aws:*","guard:*"]}}));
    assert!(decide(none_like.clone(), &tag(&["team"])).is_allowed());
    assert!(!decide(none_like, &tag(&["team", "guard:managed"])).is_allowed());
}

/// "ARN condition operators": ArnLike matches each part of the ARN on its own.
#[test]
fn arn_operators() {
    let op = |cond: Value| json!({"Statement":[{"Effect":"Allow","Action":"iam:AttachRolePolicy","Resource":"*","Condition":cond}]});
    let attach = |arn: &str| Request::new("iam:AttachRolePolicy", "*").with("iam:PolicyARN", &[arn]);
    let eq = op(json!({"ArnEquals":{"iam:PolicyARN":["arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"]}}));
    assert!(decide(eq.clone(), &attach("arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy")).is_allowed());
    assert!(!decide(eq.clone(), &attach("arn:aws:iam::aws:policy/AdministratorAccess")).is_allowed());
    assert!(!decide(eq, &Request::new("iam:AttachRolePolicy", "*")).is_allowed(), "absent key");
    let like = op(json!({"ArnLike":{"iam:PolicyARN":"arn:aws:iam::*:policy/team/*"}}));
    assert!(decide(like.clone(), &attach("arn:aws:iam::123456789012:policy/team/a")).is_allowed());
    assert!(!decide(like, &attach("arn:aws:iam::123456789012:policy/other")).is_allowed());
    let not = op(json!({"ArnNotLike":{"iam:PolicyARN":"arn:aws:iam::aws:policy/*"}}));
    assert!(decide(not.clone(), &Request::new("iam:AttachRolePolicy", "*")).is_allowed(), "negated, absent key");
    assert!(!decide(not, &attach("arn:aws:iam::aws:policy/AdministratorAccess")).is_allowed());
}

/// A resource policy's statements name a principal; "*" is everyone.
#[test]
fn a_resource_policy_applies_to_the_principals_it_names() {
    let table = json!({"Statement":[{"Sid":"OnlyTheGuardWrites","Effect":"Deny","Principal":"*","Action":"dynamodb:PutItem",
        "Resource":"arn:aws:dynamodb:us-east-1:123456789012:table/t",
        "Condition":{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::123456789012:role/guard"}}}]});
    let allow = json!({"Statement":[{"Effect":"Allow","Action":"dynamodb:*","Resource":"*"}]});
    let put = |who: &str| {
        Request::new("dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:123456789012:table/t")
            .with("aws:PrincipalArn", &[who])
    };
    let policies = [Policy::identity("admin", allow), Policy::resource("table", table)];
    assert!(evaluate(&policies, "arn:aws:iam::123456789012:role/guard", &put("arn:aws:iam::123456789012:role/guard"))
        .is_allowed());
    assert_eq!(evaluate(&policies, ME, &put(ME)), Decision::ExplicitDeny(vec!["table/OnlyTheGuardWrites".into()]));
}
