//! Drift notifications: one EventBridge event on the account's default bus for every drift decision a person
//! should hear about (repaired, would-repair, circuit-open, failed, role-deleted), none for "in sync", "ignored"
//! or detection alone. Published with PutEvents before the handler returns, at most 10 entries per call.
//!
//! The actor is the one the triggering event names (`actorSource: "event"`): whoever may invoke the function can
//! forge an event, so it is a lead, not proof. CloudTrail has the authoritative record under `eventId`.

use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use crate::domain::Partition;
use crate::reconcile::repair::{Outcome, RepairReport};

mod sentence;
pub use sentence::{clock, parse_utc};
use sentence::{human, since_change, summary};

/// The `source` of every notification.
pub const SOURCE: &str = "eks-node-role-guard";

pub use crate::notifier::{Notifier, BATCH};

/// Every detail-type a notification can carry (for the template's rule and the docs), from the outcome table.
pub fn detail_types() -> Vec<&'static str> {
    Outcome::ALL.iter().filter_map(Outcome::detail_type).collect()
}

/// What woke the function: a CloudTrail event (its actor and call) or the scheduled sweep.
#[derive(Debug, Clone, Default)]
pub struct Cause {
    pub event_id: String,
    pub event_name: String,
    /// The caller's ARN as the event names it (`unknown` when it names none).
    pub actor_arn: String,
    pub event_time: Option<String>,
    /// The policy the call named (DetachRolePolicy's `policyArn`, or the IPv6 CNI policy that changed).
    pub policy_arn: Option<String>,
    /// Found by the scheduled sweep: no call, no actor.
    pub scheduled: bool,
}

/// A field taken from the event (which whoever may invoke the function can forge), as a notification may carry it:
/// at most `max` characters, each one an ARN, a name or a timestamp may hold; anything else becomes `?`. A mail
/// then cannot carry a forger's sentence, link or markup.
fn bounded(text: &str, max: usize) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "+=,.@_:/-*".contains(c);
    let kept: String = text.chars().take(max).map(|c| if allowed(c) { c } else { '?' }).collect();
    // No ARN holds "://": what would, is a link a mail reader would offer to follow.
    kept.replace("://", ":??")
}

impl Cause {
    /// The same, every field bounded as a notification may carry it.
    pub fn bounded(&self) -> Cause {
        Cause {
            event_id: bounded(&self.event_id, 64),
            event_name: bounded(&self.event_name, 64),
            actor_arn: bounded(&self.actor_arn, 256),
            event_time: self.event_time.as_deref().map(|t| bounded(t, 32)),
            policy_arn: self.policy_arn.as_deref().map(|p| bounded(p, 256)),
            scheduled: self.scheduled,
        }
    }

    /// A short name for the actor: an assumed role's session name, a user's name, `root`.
    pub fn actor_name(&self) -> String {
        let arn = self.actor_arn.as_str();
        if self.scheduled && (arn.is_empty() || arn == "unknown") {
            return "the scheduled sweep".into();
        }
        let resource = arn.split(':').nth(5).unwrap_or(arn);
        match resource.split('/').collect::<Vec<_>>().as_slice() {
            ["root"] => "root".into(),
            ["assumed-role", _, session, ..] => (*session).to_string(),
            [.., last] if !last.is_empty() => (*last).to_string(),
            _ => arn.to_string(),
        }
    }
}

/// The IAM console page of a role, in the role's partition (none where the partition has no public console).
pub fn console_url(partition: Partition, role: &str) -> Option<String> {
    let host = match partition {
        Partition::Aws => "console.aws.amazon.com",
        Partition::AwsCn => "console.amazonaws.cn",
        Partition::AwsUsGov => "console.amazonaws-us-gov.com",
        _ => return None,
    };
    Some(format!("https://{host}/iam/home#/roles/details/{}", urlencoding::encode(role)))
}

/// One notification, ready for PutEvents.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub detail_type: &'static str,
    pub detail: Value,
}

/// The notification for one decision, or `None` when the decision is not worth one. `after` is the time from
/// the event's arrival to the decision, `partition` the installation's, `now` the decision's time.
pub fn notification(
    report: &RepairReport,
    cause: &Cause,
    after: Duration,
    partition: Partition,
    now: SystemTime,
) -> Option<Notification> {
    // A failure the runtime retries is decided again by the retry: announced then, not now (or the dead-letter
    // queue's alarm says it never succeeded).
    if matches!(report.outcome, Outcome::Failed { retryable: true, .. }) {
        return None;
    }
    let cause = &cause.bounded();
    // A sweep runs every half hour: it announces what it changed. What it only finds again (the same dry-run
    // drift, a deleted role, a repair that keeps failing, an open breaker) would arrive 48 times a day; it is
    // logged and counted (metrics, alarms) on every run and announced by the event that caused it.
    if cause.scheduled && !matches!(report.outcome, Outcome::Repaired | Outcome::Orphaned(_)) {
        return None;
    }
    let detail_type = report.outcome.detail_type()?;
    let role = report.role.as_str();
    let partition = report.role_arn.as_deref().and_then(Partition::of_arn).unwrap_or(partition);
    let policy_name = cause
        .policy_arn
        .as_deref()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
        .or_else(|| report.restored_policies.first().cloned())
        .unwrap_or_default();
    let actor_name = cause.actor_name();
    let changed_at = clock(cause.event_time.as_deref(), now);
    let (since, from_call) = since_change(cause, after, now);
    let later = match from_call {
        true => format!("{} later", human(since)),
        false => format!("{} after the event reached the guard", human(since)),
    };
    let summary = summary(report, cause, &actor_name, &policy_name, &changed_at, &later);
    let owner = report.owner.as_ref();
    Some(Notification {
        detail_type,
        detail: json!({
            "roleName": role,
            "roleArn": report.role_arn.as_deref().unwrap_or(""),
            "stackId": owner.map(|o| o.stack_id.as_str()).unwrap_or(""),
            "logicalResourceId": owner.map(|o| o.logical_id.as_str()).unwrap_or(""),
            "outcome": report.outcome.label(),
            "mode": report.mode.map(|m| m.as_str()).unwrap_or(""),
            "changedBack": report.drift,
            "policyName": policy_name,
            "reason": report.outcome.reason(),
            "actorName": actor_name,
            "actorArn": cause.actor_arn,
            "actorSource": if cause.scheduled { "sweep" } else { "event" },
            "eventName": cause.event_name,
            "eventId": cause.event_id,
            "eventTime": cause.event_time.as_deref().unwrap_or(""),
            "changedAt": changed_at,
            "repairedAfterMs": since.as_millis() as u64,
            "repairedAfterFrom": if from_call { "eventTime" } else { "arrival" },
            "handledInMs": after.as_millis() as u64,
            "consoleUrl": console_url(partition, role).unwrap_or_default(),
            "summary": summary,
        }),
    })
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::domain::RemediationMode;

    fn report(outcome: Outcome) -> RepairReport {
        RepairReport {
            role: "prod-nodes".into(),
            drift: vec!["AttachRolePolicy AmazonEKSWorkerNodePolicy".into()],
            mode: Some(RemediationMode::Enforce),
            outcome,
            owner: None,
            role_arn: Some("arn:aws:iam::123456789012:role/prod-nodes".into()),
            restored_policies: vec!["AmazonEKSWorkerNodePolicy".into()],
        }
    }

    fn detach_by_alice() -> Cause {
        Cause {
            event_id: "ev-1".into(),
            event_name: "DetachRolePolicy".into(),
            actor_arn: "arn:aws:sts::123456789012:assumed-role/Admin/alice".into(),
            event_time: Some("2026-11-29T10:42:13Z".into()),
            policy_arn: Some("arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy".into()),
            scheduled: false,
        }
    }

    fn at(t: &str, plus: Duration) -> SystemTime {
        parse_utc(t).unwrap() + plus
    }

    const DETACHED_AT: &str = "2026-11-29T10:42:13Z";

    #[test]
    fn a_repair_reads_as_a_sentence_with_the_actor_the_policy_and_the_time_since_the_change() {
        let now = at(DETACHED_AT, Duration::from_millis(2300));
        let n = notification(
            &report(Outcome::Repaired),
            &detach_by_alice(),
            Duration::from_millis(70),
            Partition::Aws,
            now,
        )
        .unwrap();
        assert_eq!(n.detail_type, "EKS Node Role Drift Repaired");
        assert_eq!(
            n.detail["summary"],
            "alice detached AmazonEKSWorkerNodePolicy from prod-nodes at 10:42 UTC; it was re-attached 2 s later."
        );
        assert_eq!(n.detail["actorName"], "alice");
        assert_eq!(n.detail["actorSource"], "event");
        assert_eq!(n.detail["changedAt"], "10:42");
        assert_eq!(
            (n.detail["repairedAfterMs"].as_u64(), n.detail["repairedAfterFrom"].as_str()),
            (Some(2300), Some("eventTime"))
        );
        assert_eq!(n.detail["handledInMs"], 70);
        assert_eq!(n.detail["consoleUrl"], "https://console.aws.amazon.com/iam/home#/roles/details/prod-nodes");
    }

    #[test]
    fn an_unbelievable_event_time_is_not_used_for_the_delay() {
        for event_time in [None, Some("2026-11-29T23:59:00Z"), Some("2020-01-01T00:00:00Z"), Some("yesterday")] {
            let cause = Cause { event_time: event_time.map(str::to_string), ..detach_by_alice() };
            let now = at(DETACHED_AT, Duration::from_secs(5));
            let n = notification(&report(Outcome::Repaired), &cause, Duration::from_millis(70), Partition::Aws, now)
                .unwrap();
            assert!(
                n.detail["summary"].as_str().unwrap().ends_with("re-attached 70 ms after the event reached the guard."),
                "{event_time:?}: {}",
                n.detail["summary"]
            );
            assert_eq!(n.detail["repairedAfterFrom"], "arrival");
        }
    }

    #[test]
    fn event_times_are_read_as_utc() {
        assert_eq!(parse_utc("1970-01-01T00:00:00Z"), Some(UNIX_EPOCH));
        assert_eq!(parse_utc("2026-11-29T10:42:13Z"), Some(UNIX_EPOCH + Duration::from_secs(1_795_948_933)));
        assert_eq!(parse_utc("2024-02-29T12:00:00.123Z"), Some(UNIX_EPOCH + Duration::from_secs(1_709_208_000)));
        for bad in
            ["2026-13-01T00:00:00Z", "2026-11-29 10:42:13Z", "2026-11-29T10:42:13+01:00", "é026-11-29T10:42:13Z", ""]
        {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_retried_failure_is_announced_by_the_retry_not_now() {
        let retried = Outcome::Failed { error: "Throttling".into(), retryable: true };
        assert!(notification(&report(retried), &detach_by_alice(), Duration::ZERO, Partition::Aws, SystemTime::now())
            .is_none());
    }

    #[test]
    fn a_sweep_announces_what_it_changed_not_what_it_finds_again() {
        let sweep = Cause { scheduled: true, actor_arn: String::new(), ..detach_by_alice() };
        let now = SystemTime::now();
        assert!(notification(&report(Outcome::Repaired), &sweep, Duration::ZERO, Partition::Aws, now).is_some());
        for o in [
            Outcome::WouldRepair,
            Outcome::CircuitOpen,
            Outcome::RoleDeleted,
            Outcome::Failed { error: "x".into(), retryable: false },
        ] {
            assert!(notification(&report(o.clone()), &sweep, Duration::ZERO, Partition::Aws, now).is_none(), "{o:?}");
            // The event that caused it is announced.
            assert!(notification(&report(o), &detach_by_alice(), Duration::ZERO, Partition::Aws, now).is_some());
        }
    }

    #[test]
    fn a_policy_change_is_not_blamed_for_what_the_check_after_it_finds() {
        let cause = Cause {
            event_name: "CreatePolicyVersion".into(),
            policy_arn: Some("arn:aws:iam::123456789012:policy/AmazonEKS_CNI_IPv6_Policy".into()),
            ..detach_by_alice()
        };
        let n = notification(&report(Outcome::Repaired), &cause, Duration::ZERO, Partition::Aws, SystemTime::now())
            .unwrap();
        let s = n.detail["summary"].as_str().unwrap();
        assert!(s.contains("called CreatePolicyVersion on AmazonEKS_CNI_IPv6_Policy at"), "{s}");
        assert!(s.contains("the check of every managed role that followed found prod-nodes changed"), "{s}");
        assert!(!s.contains("which prod-nodes uses"), "{s}");
    }

    #[test]
    fn re_attached_is_said_only_of_the_policy_that_was_put_back() {
        let mut r = report(Outcome::Repaired);
        let now = SystemTime::now();
        let said = |r: &RepairReport| {
            let n = notification(r, &detach_by_alice(), Duration::ZERO, Partition::Aws, now).unwrap();
            n.detail["summary"].as_str().unwrap().to_string()
        };
        assert!(said(&r).contains("it was re-attached"), "{}", said(&r));
        // The detached policy was back already (put back by hand); the repair restored something else.
        r.restored_policies = vec!["AmazonEKS_CNI_Policy".into()];
        r.drift = vec!["AttachRolePolicy AmazonEKS_CNI_Policy".into()];
        assert!(said(&r).contains("it was put back (AttachRolePolicy AmazonEKS_CNI_Policy)"), "{}", said(&r));
    }

    #[test]
    fn in_sync_and_ignored_decisions_send_nothing() {
        for o in [Outcome::InSync, Outcome::Ignored("not managed".into())] {
            assert!(notification(&report(o), &detach_by_alice(), Duration::ZERO, Partition::Aws, SystemTime::now())
                .is_none());
        }
        for o in [
            Outcome::Repaired,
            Outcome::WouldRepair,
            Outcome::CircuitOpen,
            Outcome::RoleDeleted,
            Outcome::Failed { error: "x".into(), retryable: false },
        ] {
            let n = notification(&report(o), &detach_by_alice(), Duration::ZERO, Partition::Aws, SystemTime::now())
                .unwrap();
            assert!(detail_types().contains(&n.detail_type));
        }
    }

    #[test]
    fn the_console_link_follows_the_roles_partition() {
        let mut r = report(Outcome::Repaired);
        r.role_arn = Some("arn:aws-cn:iam::123456789012:role/prod-nodes".into());
        let n = notification(&r, &detach_by_alice(), Duration::ZERO, Partition::Aws, SystemTime::now()).unwrap();
        assert_eq!(n.detail["consoleUrl"], "https://console.amazonaws.cn/iam/home#/roles/details/prod-nodes");
        r.role_arn = None;
        let n = notification(&r, &detach_by_alice(), Duration::ZERO, Partition::AwsUsGov, SystemTime::now()).unwrap();
        assert_eq!(n.detail["consoleUrl"], "https://console.amazonaws-us-gov.com/iam/home#/roles/details/prod-nodes");
        assert_eq!(console_url(Partition::AwsIso, "x"), None);
    }

    #[test]
    fn actors_are_named_as_people_read_them() {
        let c = |arn: &str| Cause { actor_arn: arn.into(), ..Cause::default() };
        assert_eq!(c("arn:aws:iam::1:user/bob").actor_name(), "bob");
        assert_eq!(c("arn:aws:iam::1:root").actor_name(), "root");
        assert_eq!(
            c("arn:aws:sts::1:assumed-role/AWSReservedSSO_Admin_1/carol@example.com").actor_name(),
            "carol@example.com"
        );
        assert_eq!(c("unknown").actor_name(), "unknown");
        assert_eq!(
            Cause { scheduled: true, actor_arn: "unknown".into(), ..Cause::default() }.actor_name(),
            "the scheduled sweep"
        );
    }

    #[test]
    fn a_forged_event_time_does_not_break_the_clock() {
        let now = UNIX_EPOCH + Duration::from_secs(3600 * 5 + 60 * 7);
        assert_eq!(clock(Some("garbage"), now), "05:07");
        assert_eq!(clock(Some("2026-11-29T1é:42:13Z"), now), "05:07");
        assert_eq!(clock(None, now), "05:07");
        assert_eq!(clock(Some("2026-11-29T23:59:00Z"), now), "23:59");
    }

    #[tokio::test]
    async fn entries_put_events_could_not_take_are_sent_once_more() {
        use aws_sdk_eventbridge::operation::put_events::PutEventsOutput;
        use aws_sdk_eventbridge::types::PutEventsResultEntry;
        use aws_smithy_mocks::{mock, mock_client, RuleMode};
        let ok = || PutEventsResultEntry::builder().event_id("e").build();
        let failed = |code: &str| PutEventsResultEntry::builder().error_code(code).error_message("x").build();
        // First call: the second entry throttled, the third malformed (not worth a retry); second call: taken.
        let first = mock!(aws_sdk_eventbridge::Client::put_events).then_output(move || {
            PutEventsOutput::builder()
                .failed_entry_count(2)
                .entries(ok())
                .entries(failed("ThrottlingException"))
                .entries(failed("MalformedDetail"))
                .build()
        });
        let second = mock!(aws_sdk_eventbridge::Client::put_events)
            .match_requests(|r| r.entries().len() == 1)
            .then_output(move || PutEventsOutput::builder().failed_entry_count(0).entries(ok()).build());
        let client = mock_client!(aws_sdk_eventbridge, RuleMode::Sequential, [&first, &second]);
        let notifier = Notifier::EventBridge(crate::notifier::EventBridgeBus::new(client, "default"));
        let notes: Vec<Notification> = (0..3)
            .map(|_| {
                notification(
                    &report(Outcome::Repaired),
                    &detach_by_alice(),
                    Duration::ZERO,
                    Partition::Aws,
                    SystemTime::now(),
                )
                .unwrap()
            })
            .collect();
        let sent = notifier.publish(&notes, crate::deadline::Deadline::after(Duration::from_secs(5))).await;
        assert_eq!(sent, 2, "the throttled entry went again; the malformed one did not");
        assert_eq!(second.num_calls(), 1);
    }

    #[test]
    fn fields_from_the_event_are_bounded_and_carry_no_sentence_of_the_forgers() {
        let mut forged = detach_by_alice();
        forged.actor_arn =
            format!("arn:aws:sts::1:assumed-role/A/<a href='https://evil.example'>click</a>{}", "x".repeat(500));
        forged.event_name = "DetachRolePolicy\n\nURGENT: run this command".into();
        forged.event_time = Some("2026-11-29T10:42:13Z; drop".into());
        let now = at("2026-11-29T10:42:15Z", Duration::ZERO);
        let n = notification(&report(Outcome::Repaired), &forged, Duration::ZERO, Partition::Aws, now).unwrap();
        let text = ["actorArn", "actorName", "eventName", "eventTime", "summary"]
            .map(|f| n.detail[f].as_str().unwrap().to_string())
            .join(" ");
        for bad in ["<a", "://", "\n", "URGENT: run", "; drop"] {
            assert!(!text.contains(bad), "{bad} in {text}");
        }
        assert!(n.detail["actorArn"].as_str().unwrap().len() <= 256);
        assert_eq!(n.detail["eventName"], "DetachRolePolicy??URGENT:?run?this?command");
    }
}
