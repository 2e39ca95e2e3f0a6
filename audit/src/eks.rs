//! The EKS side of the audit: clusters, node groups, Fargate profiles, the `vpc-cni` add-on and Pod Identity,
//! read with aws-sdk-eks. Only this binary links it; the Lambda function never does.

use aws_sdk_eks::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::result::SdkError;
use eks_node_role_audit::collect::Clusters;
use eks_node_role_audit::{AccessEntry, ClusterFacts};
use eks_node_role_guard::domain::IpFamily;
use eks_node_role_guard::error::{Error, Result};
use futures_util::stream::{self, StreamExt, TryStreamExt};

const CONCURRENCY: usize = 8;

pub struct SdkClusters {
    client: aws_sdk_eks::Client,
}

/// Whether an EKS call failed because what it named no longer exists.
fn gone<E, R>(e: &aws_sdk_eks::error::SdkError<E, R>, not_found: impl Fn(&E) -> bool) -> bool {
    e.as_service_error().is_some_and(not_found)
}

impl SdkClusters {
    pub fn new(client: aws_sdk_eks::Client) -> Self {
        SdkClusters { client }
    }
}

fn error<E>(operation: &'static str, e: SdkError<E, aws_smithy_runtime_api::http::Response>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    eks_node_role_guard::aws::error("EKS", operation, e)
}

/// What an optional read found.
#[derive(Debug, PartialEq, Eq)]
enum Optional<T> {
    Found(T),
    /// The resource does not exist (`ResourceNotFoundException`).
    Absent,
    /// The endpoint does not offer the API (404 without an EKS error code, unknown operation).
    NotOffered,
}

fn optional<T, E>(
    operation: &'static str,
    r: std::result::Result<T, SdkError<E, aws_smithy_runtime_api::http::Response>>,
    not_found: impl Fn(&E) -> bool,
) -> Result<Optional<T>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match r {
        Ok(v) => Ok(Optional::Found(v)),
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            if e.as_service_error().is_some_and(&not_found) {
                return Ok(Optional::Absent);
            }
            match e.code() {
                Some("UnknownOperationException" | "InvalidAction" | "UnsupportedOperation") => {
                    Ok(Optional::NotOffered)
                }
                None if status == Some(404) => Ok(Optional::NotOffered),
                _ => Err(error(operation, e)),
            }
        }
    }
}

impl SdkClusters {
    /// The node groups with their node role, and whether their AMI type is a Windows one.
    async fn node_groups(&self, cluster: &str) -> Result<Vec<(String, String, bool)>> {
        let mut names = Vec::new();
        let mut pages = self.client.list_nodegroups().cluster_name(cluster).into_paginator().send();
        while let Some(page) = pages.next().await {
            match page {
                Ok(p) => names.extend(p.nodegroups.unwrap_or_default()),
                // The cluster went while the audit ran: DescribeCluster says so.
                Err(e) if gone(&e, |s| s.is_resource_not_found_exception()) => return Ok(Vec::new()),
                Err(e) => return Err(error("ListNodegroups", e)),
            }
        }
        stream::iter(names)
            .map(|ng| async move {
                match self.client.describe_nodegroup().cluster_name(cluster).nodegroup_name(&ng).send().await {
                    Ok(out) => Ok(out.nodegroup.and_then(|n| {
                        let windows = n.ami_type().is_some_and(|t| t.as_str().starts_with("WINDOWS"));
                        n.node_role.map(|role| (ng, role, windows))
                    })),
                    // Deleted between the listing and now: nothing of it to judge.
                    Err(e) if gone(&e, |s| s.is_resource_not_found_exception()) => Ok(None),
                    Err(e) => Err(error("DescribeNodegroup", e)),
                }
            })
            .buffered(CONCURRENCY)
            .try_filter_map(|x| async move { Ok(x) })
            .try_collect()
            .await
    }

    async fn fargate_profiles(&self, cluster: &str) -> Result<Vec<(String, String)>> {
        let mut names = Vec::new();
        let mut pages = self.client.list_fargate_profiles().cluster_name(cluster).into_paginator().send();
        while let Some(page) = pages.next().await {
            match page {
                Ok(p) => names.extend(p.fargate_profile_names.unwrap_or_default()),
                Err(e) if gone(&e, |s| s.is_resource_not_found_exception()) => return Ok(Vec::new()),
                Err(e) => return Err(error("ListFargateProfiles", e)),
            }
        }
        stream::iter(names)
            .map(|fp| async move {
                match self
                    .client
                    .describe_fargate_profile()
                    .cluster_name(cluster)
                    .fargate_profile_name(&fp)
                    .send()
                    .await
                {
                    Ok(out) => Ok(out.fargate_profile.and_then(|p| p.pod_execution_role_arn).map(|role| (fp, role))),
                    Err(e) if gone(&e, |s| s.is_resource_not_found_exception()) => Ok(None),
                    Err(e) => Err(error("DescribeFargateProfile", e)),
                }
            })
            .buffered(CONCURRENCY)
            .try_filter_map(|x| async move { Ok(x) })
            .try_collect()
            .await
    }

    /// The VPC CNI's own role, if it has one: the `vpc-cni` add-on's IRSA role or a Pod Identity association of
    /// `kube-system/aws-node`. Notes what the endpoint could not tell.
    async fn cni_own_role(&self, cluster: &str, notes: &mut Vec<String>) -> Result<Option<String>> {
        let (addon, pod_identity) = tokio::join!(
            self.client.describe_addon().cluster_name(cluster).addon_name("vpc-cni").send(),
            self.client
                .list_pod_identity_associations()
                .cluster_name(cluster)
                .namespace("kube-system")
                .service_account("aws-node")
                .send(),
        );
        let mut own = None;
        match optional("DescribeAddon", addon, |e| e.is_resource_not_found_exception())? {
            Optional::Found(out) => {
                own = out.addon.and_then(|a| a.service_account_role_arn).map(|r| format!("vpc-cni add-on role {r}"));
            }
            Optional::Absent => {}
            Optional::NotOffered => notes.push(
                "the endpoint does not offer DescribeAddon: the vpc-cni add-on's role is unknown (taken as none)"
                    .into(),
            ),
        }
        match optional("ListPodIdentityAssociations", pod_identity, |e| e.is_resource_not_found_exception())? {
            Optional::Found(out) => {
                if let Some(a) = out.associations.unwrap_or_default().first() {
                    own = own.or_else(|| {
                        Some(format!("Pod Identity association {} of kube-system/aws-node", a.association_id().unwrap_or("?")))
                    });
                }
            }
            Optional::Absent => {}
            Optional::NotOffered => notes.push(
                "the endpoint does not offer ListPodIdentityAssociations: a Pod Identity role of aws-node is unknown (taken as none)"
                    .into(),
            ),
        }
        Ok(own)
    }
}

impl SdkClusters {
    /// The cluster's access entries for IAM roles, with their type and creation time; `None` (and a note naming
    /// the permission) when they cannot be read.
    async fn access_entries(&self, cluster: &str, notes: &mut Vec<String>) -> Result<Option<Vec<AccessEntry>>> {
        let mut principals = Vec::new();
        let mut pages = self.client.list_access_entries().cluster_name(cluster).into_paginator().send();
        while let Some(page) = pages.next().await {
            match optional("ListAccessEntries", page, |e| e.is_resource_not_found_exception()) {
                Ok(Optional::Found(p)) => principals.extend(p.access_entries.unwrap_or_default()),
                Ok(Optional::Absent) => return Ok(Some(Vec::new())),
                Ok(Optional::NotOffered) => {
                    notes.push("the endpoint does not offer ListAccessEntries: access entries are not judged".into());
                    return Ok(None);
                }
                Err(e) => return unreadable(e, notes),
            }
        }
        let roles: Vec<String> = principals.into_iter().filter(|p| p.contains(":role/")).collect();
        let described: Vec<Result<Option<AccessEntry>>> = stream::iter(roles)
            .map(|principal| async move {
                let r =
                    self.client.describe_access_entry().cluster_name(cluster).principal_arn(&principal).send().await;
                match optional("DescribeAccessEntry", r, |e| e.is_resource_not_found_exception())? {
                    Optional::Found(out) => Ok(out.access_entry.map(|e| AccessEntry {
                        kind: e.r#type().unwrap_or("STANDARD").to_string(),
                        created_at: e.created_at().map(|t| t.secs()),
                        principal_arn: e.principal_arn.unwrap_or(principal),
                    })),
                    // Deleted since the listing.
                    Optional::Absent | Optional::NotOffered => Ok(None),
                }
            })
            .buffered(CONCURRENCY)
            .collect()
            .await;
        let mut entries = Vec::new();
        for d in described {
            match d {
                Ok(Some(e)) => entries.push(e),
                Ok(None) => {}
                Err(e) => return unreadable(e, notes),
            }
        }
        Ok(Some(entries))
    }
}

/// An access-entry read refused: a note naming the permission, and no entries judged; any other error stands.
fn unreadable<T>(e: Error, notes: &mut Vec<String>) -> Result<Option<T>> {
    match eks_node_role_audit::collect::missing_permission(&e) {
        Some(p) => {
            notes.push(format!("access entries were not read ({p} denied): they are not judged"));
            Ok(None)
        }
        None => Err(e),
    }
}

impl Clusters for SdkClusters {
    async fn names(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut pages = self.client.list_clusters().into_paginator().send();
        while let Some(page) = pages.next().await {
            out.extend(page.map_err(|e| error("ListClusters", e))?.clusters.unwrap_or_default());
        }
        Ok(out)
    }

    async fn facts(&self, name: &str) -> Result<ClusterFacts> {
        let (mut notes, mut entry_notes) = (Vec::new(), Vec::new());
        let (cluster, node_groups, fargate, cni, entries) = tokio::join!(
            self.client.describe_cluster().name(name).send(),
            self.node_groups(name),
            self.fargate_profiles(name),
            self.cni_own_role(name, &mut notes),
            self.access_entries(name, &mut entry_notes),
        );
        notes.extend(entry_notes);
        let cluster = match cluster {
            Ok(out) => out.cluster,
            Err(e) if gone(&e, |s| s.is_resource_not_found_exception()) => {
                let note = "the cluster was deleted while the audit ran: nothing of it is judged".to_string();
                return Ok(ClusterFacts {
                    name: name.to_string(),
                    role_arn: None,
                    ip_family: IpFamily::Ipv4,
                    auto_mode_node_role: None,
                    node_groups: Vec::new(),
                    fargate_profiles: Vec::new(),
                    cni_own_role: None,
                    notes: vec![note],
                    authentication_mode: None,
                    access_entries: None,
                    windows_node_groups: Default::default(),
                });
            }
            Err(e) => return Err(error("DescribeCluster", e)),
        };
        let cluster = cluster.as_ref();
        let ip_family = match cluster.and_then(|c| c.kubernetes_network_config()).and_then(|k| k.ip_family()) {
            Some(f) if f.as_str() == "ipv6" => IpFamily::Ipv6,
            _ => IpFamily::Ipv4,
        };
        let auto_mode_node_role = cluster
            .and_then(|c| c.compute_config())
            .filter(|c| c.enabled() == Some(true))
            .and_then(|c| c.node_role_arn())
            .map(str::to_string);
        let node_groups = node_groups?;
        Ok(ClusterFacts {
            name: name.to_string(),
            role_arn: cluster.and_then(|c| c.role_arn()).map(str::to_string),
            ip_family,
            auto_mode_node_role,
            windows_node_groups: node_groups.iter().filter(|(_, _, w)| *w).map(|(n, _, _)| n.clone()).collect(),
            node_groups: node_groups.into_iter().map(|(n, r, _)| (n, r)).collect(),
            fargate_profiles: fargate?,
            cni_own_role: cni?,
            authentication_mode: cluster
                .and_then(|c| c.access_config())
                .and_then(|a| a.authentication_mode())
                .map(|m| m.as_str().to_string()),
            access_entries: entries?,
            notes,
        })
    }
}

#[cfg(test)]
mod tests {
    //! What moto cannot serve (Auto Mode's computeConfig, the vpc-cni add-on, Pod Identity), with the SDK's mocks.
    use aws_sdk_eks::operation::describe_addon::{DescribeAddonError, DescribeAddonOutput};
    use aws_sdk_eks::operation::describe_cluster::DescribeClusterOutput;
    use aws_sdk_eks::operation::list_access_entries::ListAccessEntriesOutput;
    use aws_sdk_eks::operation::list_fargate_profiles::ListFargateProfilesOutput;
    use aws_sdk_eks::operation::list_nodegroups::ListNodegroupsOutput;
    use aws_sdk_eks::operation::list_pod_identity_associations::{
        ListPodIdentityAssociationsError, ListPodIdentityAssociationsOutput,
    };
    use aws_sdk_eks::types::{Addon, Cluster, ComputeConfigResponse, PodIdentityAssociationSummary};
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    use super::*;

    fn cluster_rule(auto_mode: bool) -> aws_smithy_mocks::Rule {
        mock!(aws_sdk_eks::Client::describe_cluster).then_output(move || {
            let mut c = Cluster::builder().name("auto").role_arn("arn:aws:iam::123456789012:role/cluster");
            if auto_mode {
                c = c.compute_config(
                    ComputeConfigResponse::builder()
                        .enabled(true)
                        .node_role_arn("arn:aws:iam::123456789012:role/AmazonEKSAutoNodeRole")
                        .build(),
                );
            }
            DescribeClusterOutput::builder().cluster(c.build()).build()
        })
    }

    fn empty_lists() -> [aws_smithy_mocks::Rule; 2] {
        [
            mock!(aws_sdk_eks::Client::list_nodegroups).then_output(|| ListNodegroupsOutput::builder().build()),
            mock!(aws_sdk_eks::Client::list_fargate_profiles)
                .then_output(|| ListFargateProfilesOutput::builder().build()),
        ]
    }

    fn no_entries() -> aws_smithy_mocks::Rule {
        mock!(aws_sdk_eks::Client::list_access_entries).then_output(|| ListAccessEntriesOutput::builder().build())
    }

    /// A cluster in API mode with a Windows node group, its access entries for two roles and a user, each
    /// described with its type and creation time.
    #[tokio::test]
    async fn access_entries_are_read_with_their_type_and_age_and_windows_node_groups_known() {
        use aws_sdk_eks::operation::describe_access_entry::DescribeAccessEntryOutput;
        use aws_sdk_eks::operation::describe_nodegroup::DescribeNodegroupOutput;
        use aws_sdk_eks::types::{
            AccessConfigResponse, AccessEntry as SdkEntry, AmiTypes, AuthenticationMode, Nodegroup,
        };
        let cluster = mock!(aws_sdk_eks::Client::describe_cluster).then_output(|| {
            let access = AccessConfigResponse::builder().authentication_mode(AuthenticationMode::Api).build();
            DescribeClusterOutput::builder()
                .cluster(Cluster::builder().name("win").access_config(access).build())
                .build()
        });
        let ng = mock!(aws_sdk_eks::Client::list_nodegroups)
            .then_output(|| ListNodegroupsOutput::builder().nodegroups("windows").build());
        let described_ng = mock!(aws_sdk_eks::Client::describe_nodegroup).then_output(|| {
            let n = Nodegroup::builder()
                .nodegroup_name("windows")
                .node_role("arn:aws:iam::123456789012:role/win-nodes")
                .ami_type(AmiTypes::WindowsCore2022X8664)
                .build();
            DescribeNodegroupOutput::builder().nodegroup(n).build()
        });
        let fp = mock!(aws_sdk_eks::Client::list_fargate_profiles)
            .then_output(|| ListFargateProfilesOutput::builder().build());
        let list = mock!(aws_sdk_eks::Client::list_access_entries).then_output(|| {
            ListAccessEntriesOutput::builder()
                .access_entries("arn:aws:iam::123456789012:role/win-nodes")
                .access_entries("arn:aws:iam::123456789012:role/KarpenterNodeRole-prod")
                .access_entries("arn:aws:iam::123456789012:user/admin")
                .build()
        });
        let describe = mock!(aws_sdk_eks::Client::describe_access_entry)
            .match_requests(|r| r.principal_arn().is_some_and(|p| p.ends_with("/win-nodes")))
            .then_output(|| {
                let e = SdkEntry::builder()
                    .principal_arn("arn:aws:iam::123456789012:role/win-nodes")
                    .r#type("EC2_LINUX")
                    .created_at(aws_smithy_types::DateTime::from_secs(1_700_000_000))
                    .build();
                DescribeAccessEntryOutput::builder().access_entry(e).build()
            });
        let karpenter = mock!(aws_sdk_eks::Client::describe_access_entry).then_output(|| {
            let e = SdkEntry::builder()
                .principal_arn("arn:aws:iam::123456789012:role/KarpenterNodeRole-prod")
                .r#type("EC2_LINUX")
                .created_at(aws_smithy_types::DateTime::from_secs(1_700_000_100))
                .build();
            DescribeAccessEntryOutput::builder().access_entry(e).build()
        });
        let addon = mock!(aws_sdk_eks::Client::describe_addon).then_error(|| {
            DescribeAddonError::ResourceNotFoundException(
                aws_sdk_eks::types::error::ResourceNotFoundException::builder().message("no add-on").build(),
            )
        });
        let pia = mock!(aws_sdk_eks::Client::list_pod_identity_associations)
            .then_output(|| ListPodIdentityAssociationsOutput::builder().build());
        let rules = [&cluster, &ng, &described_ng, &fp, &list, &describe, &karpenter, &addon, &pia];
        let facts = SdkClusters::new(mock_client!(aws_sdk_eks, RuleMode::MatchAny, rules)).facts("win").await.unwrap();
        assert_eq!(facts.authentication_mode.as_deref(), Some("API"));
        assert!(facts.windows_node_groups.contains("windows"), "{facts:?}");
        let entries = facts.access_entries.unwrap();
        assert_eq!(entries.len(), 2, "roles only: {entries:?}");
        assert_eq!((entries[0].kind.as_str(), entries[0].created_at), ("EC2_LINUX", Some(1_700_000_000)));
        assert!(entries[1].principal_arn.ends_with("/KarpenterNodeRole-prod"));
    }

    /// AccessDenied on the access entries is a note naming the permission, not an abort.
    #[tokio::test]
    async fn access_denied_on_the_access_entries_is_a_note_naming_the_permission() {
        let [ng, fp] = empty_lists();
        let list = mock!(aws_sdk_eks::Client::list_access_entries).then_http_response(|| {
            aws_smithy_runtime_api::http::Response::new(
                StatusCode::try_from(403).unwrap(),
                SdkBody::from(r#"{"__type":"AccessDeniedException","message":"not authorized"}"#),
            )
        });
        let addon = mock!(aws_sdk_eks::Client::describe_addon).then_error(|| {
            DescribeAddonError::ResourceNotFoundException(
                aws_sdk_eks::types::error::ResourceNotFoundException::builder().message("no add-on").build(),
            )
        });
        let pia = mock!(aws_sdk_eks::Client::list_pod_identity_associations)
            .then_output(|| ListPodIdentityAssociationsOutput::builder().build());
        let rules = [&cluster_rule(false), &ng, &fp, &list, &addon, &pia];
        let facts = SdkClusters::new(mock_client!(aws_sdk_eks, RuleMode::MatchAny, rules)).facts("auto").await.unwrap();
        assert_eq!(facts.access_entries, None);
        assert!(facts.notes.iter().any(|n| n.contains("eks:ListAccessEntries denied")), "{:?}", facts.notes);
    }

    #[tokio::test]
    async fn an_auto_mode_cluster_names_its_node_role_and_the_cni_add_on_role_is_read() {
        let [ng, fp] = empty_lists();
        let addon = mock!(aws_sdk_eks::Client::describe_addon).then_output(|| {
            DescribeAddonOutput::builder()
                .addon(
                    Addon::builder()
                        .addon_name("vpc-cni")
                        .service_account_role_arn("arn:aws:iam::123456789012:role/cni")
                        .build(),
                )
                .build()
        });
        let pia = mock!(aws_sdk_eks::Client::list_pod_identity_associations)
            .then_output(|| ListPodIdentityAssociationsOutput::builder().build());
        let client =
            mock_client!(aws_sdk_eks, RuleMode::MatchAny, [&cluster_rule(true), &ng, &fp, &addon, &pia, &no_entries()]);
        let facts = SdkClusters::new(client).facts("auto").await.unwrap();
        assert_eq!(facts.auto_mode_node_role.as_deref(), Some("arn:aws:iam::123456789012:role/AmazonEKSAutoNodeRole"));
        assert_eq!(facts.cni_own_role.as_deref(), Some("vpc-cni add-on role arn:aws:iam::123456789012:role/cni"));
        assert!(facts.notes.is_empty(), "{:?}", facts.notes);
    }

    #[tokio::test]
    async fn a_pod_identity_association_of_aws_node_gives_the_cni_its_own_role() {
        let [ng, fp] = empty_lists();
        let addon = mock!(aws_sdk_eks::Client::describe_addon).then_error(|| {
            DescribeAddonError::ResourceNotFoundException(
                aws_sdk_eks::types::error::ResourceNotFoundException::builder().message("no add-on").build(),
            )
        });
        let pia = mock!(aws_sdk_eks::Client::list_pod_identity_associations).then_output(|| {
            ListPodIdentityAssociationsOutput::builder()
                .associations(
                    PodIdentityAssociationSummary::builder()
                        .association_id("a-123")
                        .namespace("kube-system")
                        .service_account("aws-node")
                        .build(),
                )
                .build()
        });
        let client = mock_client!(
            aws_sdk_eks,
            RuleMode::MatchAny,
            [&cluster_rule(false), &ng, &fp, &addon, &pia, &no_entries()]
        );
        let facts = SdkClusters::new(client).facts("auto").await.unwrap();
        assert_eq!(facts.auto_mode_node_role, None);
        assert_eq!(facts.cni_own_role.as_deref(), Some("Pod Identity association a-123 of kube-system/aws-node"));
    }

    #[tokio::test]
    async fn access_denied_on_the_add_on_cannot_be_taken_for_no_add_on() {
        let [ng, fp] = empty_lists();
        let addon = mock!(aws_sdk_eks::Client::describe_addon).then_http_response(|| {
            aws_smithy_runtime_api::http::Response::new(
                StatusCode::try_from(403).unwrap(),
                SdkBody::from(r#"{"__type":"AccessDeniedException","message":"not authorized"}"#),
            )
        });
        let pia = mock!(aws_sdk_eks::Client::list_pod_identity_associations)
            .then_error(|| ListPodIdentityAssociationsError::unhandled("x"));
        let client = mock_client!(
            aws_sdk_eks,
            RuleMode::MatchAny,
            [&cluster_rule(false), &ng, &fp, &addon, &pia, &no_entries()]
        );
        let err = SdkClusters::new(client).facts("auto").await.unwrap_err();
        assert_eq!(
            eks_node_role_audit::collect::missing_permission(&err).as_deref(),
            Some("eks:DescribeAddon"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn what_is_deleted_while_the_audit_runs_is_skipped_not_an_error() {
        use aws_sdk_eks::operation::describe_cluster::DescribeClusterError;
        use aws_sdk_eks::operation::describe_nodegroup::DescribeNodegroupError;
        use aws_sdk_eks::types::error::ResourceNotFoundException;
        let not_found = || ResourceNotFoundException::builder().message("not found").build();
        // A node group listed, then deleted before it is described.
        let ng = mock!(aws_sdk_eks::Client::list_nodegroups)
            .then_output(|| ListNodegroupsOutput::builder().nodegroups("gone").build());
        let fp = mock!(aws_sdk_eks::Client::list_fargate_profiles)
            .then_output(|| ListFargateProfilesOutput::builder().build());
        let described = mock!(aws_sdk_eks::Client::describe_nodegroup)
            .then_error(move || DescribeNodegroupError::ResourceNotFoundException(not_found()));
        let addon = mock!(aws_sdk_eks::Client::describe_addon)
            .then_error(move || DescribeAddonError::ResourceNotFoundException(not_found()));
        let pia = mock!(aws_sdk_eks::Client::list_pod_identity_associations)
            .then_output(|| ListPodIdentityAssociationsOutput::builder().build());
        let entries = no_entries();
        let rules = [&cluster_rule(false), &ng, &fp, &described, &addon, &pia, &entries];
        let facts = SdkClusters::new(mock_client!(aws_sdk_eks, RuleMode::MatchAny, rules)).facts("auto").await.unwrap();
        assert!(facts.node_groups.is_empty());
        // The whole cluster deleted after ListClusters.
        let cluster = mock!(aws_sdk_eks::Client::describe_cluster)
            .then_error(move || DescribeClusterError::ResourceNotFoundException(not_found()));
        let rules = [&cluster, &ng, &fp, &described, &addon, &pia, &entries];
        let facts = SdkClusters::new(mock_client!(aws_sdk_eks, RuleMode::MatchAny, rules)).facts("auto").await.unwrap();
        assert!(facts.notes[0].contains("deleted while the audit ran"), "{:?}", facts.notes);
        assert_eq!(facts.role_arn, None);
    }
}
