//! Faults a real IAM produces and moto cannot: throttling, 5xx, access denied, propagation delays.

use std::time::Duration;

use aws_sdk_iam::config::retry::RetryConfig;
use aws_sdk_iam::operation::get_role::GetRoleOutput;
use aws_sdk_iam::operation::list_attached_role_policies::ListAttachedRolePoliciesOutput;
use aws_sdk_iam::operation::list_instance_profiles_for_role::ListInstanceProfilesForRoleOutput;
use aws_sdk_iam::types::Role;
use aws_sdk_iam::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_runtime_api::http::{Response as HttpResponse, StatusCode};
use aws_smithy_types::body::SdkBody;
use eks_node_role_guard::domain::{Action, PolicyArn, RoleName};
use eks_node_role_guard::iam::{NodeRoleIam, SdkIam};
use eks_node_role_guard::Error;

fn iam_error(status: u16, code: &str, message: &str) -> HttpResponse {
    let body = format!(
        "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>r</RequestId></ErrorResponse>"
    );
    HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body))
}

fn client(rules: &[&Rule]) -> Client {
    mock_client!(aws_sdk_iam, RuleMode::MatchAny, rules.iter().copied(), |c| c
        .retry_config(RetryConfig::standard().with_max_attempts(4).with_initial_backoff(Duration::from_millis(1))))
}

fn role() -> Role {
    Role::builder()
        .path("/")
        .role_name("nodes")
        .role_id("AROAEXAMPLE")
        .arn("arn:aws:iam::123456789012:role/nodes")
        .create_date(aws_smithy_types::DateTime::from_secs(0))
        .build()
        .unwrap()
}

fn listing_rules() -> (Rule, Rule) {
    (
        mock!(Client::list_attached_role_policies).then_output(|| ListAttachedRolePoliciesOutput::builder().build()),
        mock!(Client::list_instance_profiles_for_role).then_output(|| {
            ListInstanceProfilesForRoleOutput::builder().set_instance_profiles(Some(vec![])).build().unwrap()
        }),
    )
}

fn name() -> RoleName {
    RoleName::parse("nodes").unwrap()
}

#[tokio::test]
async fn throttling_is_retried_until_iam_answers() {
    let get = mock!(Client::get_role)
        .sequence()
        .http_response(|| iam_error(400, "Throttling", "Rate exceeded"))
        .times(2)
        .output(|| GetRoleOutput::builder().role(role()).build())
        .build();
    let (a, b) = listing_rules();
    let iam = SdkIam::new(client(&[&get, &a, &b]));
    let live = iam.read_role(&name()).await.unwrap().unwrap();
    assert_eq!(live.role_id, "AROAEXAMPLE");
    assert_eq!(get.num_calls(), 3);
}

#[tokio::test]
async fn throttling_that_persists_surfaces_as_a_readable_retryable_error() {
    let get = mock!(Client::get_role).then_http_response(|| iam_error(400, "Throttling", "Rate exceeded"));
    let iam = SdkIam::new(client(&[&get]));
    let e = iam.get_role(&name()).await.unwrap_err();
    assert_eq!(e.to_string(), "IAM GetRole failed (Throttling): Rate exceeded");
    assert!(e.is_retryable());
    assert_eq!(get.num_calls(), 4, "the SDK's standard retry mode made all its attempts");
}

#[tokio::test]
async fn server_errors_are_retried() {
    let attach = mock!(Client::attach_role_policy)
        .sequence()
        .http_response(|| iam_error(500, "ServiceFailure", "internal"))
        .http_response(|| iam_error(503, "ServiceUnavailable", "unavailable"))
        .output(|| aws_sdk_iam::operation::attach_role_policy::AttachRolePolicyOutput::builder().build())
        .build();
    let iam = SdkIam::new(client(&[&attach]));
    let arn = PolicyArn::parse("arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy", "x").unwrap();
    iam.apply(&name(), &Action::AttachPolicy(arn)).await.unwrap();
    assert_eq!(attach.num_calls(), 3);
}

#[tokio::test]
async fn access_denied_is_reported_at_once_and_not_retried() {
    let attach = mock!(Client::attach_role_policy).then_http_response(|| {
        iam_error(
            403,
            "AccessDenied",
            "User: arn:aws:sts::123456789012:assumed-role/guard/fn is not authorized to perform: iam:AttachRolePolicy",
        )
    });
    let iam = SdkIam::new(client(&[&attach]));
    let arn = PolicyArn::parse("arn:aws:iam::aws:policy/AdministratorAccess", "x").unwrap();
    let e = iam.apply(&name(), &Action::AttachPolicy(arn)).await.unwrap_err();
    assert!(matches!(e, Error::Iam { retryable: false, .. }));
    assert!(e.to_string().starts_with("IAM AttachRolePolicy failed (AccessDenied): User: "), "{e}");
    assert_eq!(attach.num_calls(), 1);
}

#[tokio::test]
async fn a_role_iam_has_not_propagated_yet_is_waited_for() {
    let attach = mock!(Client::attach_role_policy)
        .sequence()
        .http_response(|| iam_error(404, "NoSuchEntity", "The role with name nodes cannot be found."))
        .output(|| aws_sdk_iam::operation::attach_role_policy::AttachRolePolicyOutput::builder().build())
        .build();
    let iam = SdkIam::new(client(&[&attach]));
    let arn = PolicyArn::parse("arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy", "x").unwrap();
    iam.apply(&name(), &Action::AttachPolicy(arn)).await.unwrap();
    assert_eq!(attach.num_calls(), 2);
}

#[tokio::test]
async fn a_policy_that_does_not_exist_is_not_waited_for() {
    let attach = mock!(Client::attach_role_policy).then_http_response(|| {
        iam_error(404, "NoSuchEntity", "Policy arn:aws:iam::aws:policy/Nope does not exist or is not attachable.")
    });
    let iam = SdkIam::new(client(&[&attach]));
    let arn = PolicyArn::parse("arn:aws:iam::aws:policy/Nope", "x").unwrap();
    let e = iam.apply(&name(), &Action::AttachPolicy(arn)).await.unwrap_err();
    assert_eq!(e.iam_code(), Some("NoSuchEntity"));
    assert_eq!(attach.num_calls(), 1);
}

#[tokio::test]
async fn an_instance_profile_holding_another_role_is_a_conflict() {
    use aws_sdk_iam::operation::get_instance_profile::GetInstanceProfileOutput;
    use aws_sdk_iam::types::InstanceProfile;
    let create = mock!(Client::create_instance_profile)
        .then_http_response(|| iam_error(409, "EntityAlreadyExists", "Instance Profile nodes already exists."));
    let add = mock!(Client::add_role_to_instance_profile).then_http_response(|| {
        iam_error(409, "LimitExceeded", "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1")
    });
    let get = mock!(Client::get_instance_profile).then_output(|| {
        let mut other = role();
        other.role_name = "someone-else".into();
        GetInstanceProfileOutput::builder()
            .instance_profile(
                InstanceProfile::builder()
                    .path("/")
                    .instance_profile_name("nodes")
                    .instance_profile_id("AIPA")
                    .arn("arn:aws:iam::123456789012:instance-profile/nodes")
                    .create_date(aws_smithy_types::DateTime::from_secs(0))
                    .roles(other)
                    .build()
                    .unwrap(),
            )
            .build()
    });
    let iam = SdkIam::new(client(&[&create, &add, &get]));
    let e = iam
        .apply(
            &name(),
            &Action::EnsureInstanceProfile {
                name: "nodes".into(),
                path: eks_node_role_guard::domain::RolePath::root(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "instance profile 'nodes' already holds role(s) someone-else: set CreateInstanceProfile to false or choose another RoleName"
    );
}
