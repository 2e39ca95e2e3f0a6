//! CloudFormation as it reports a custom resource, in front of moto's (which shows the stack's status for every
//! resource and a placeholder physical id, and never cancels anything). A stack put in the model is answered
//! from it — `DescribeStacks`, `DescribeStackResource`, `DescribeStackResources` — and every other request goes
//! on to moto. The fault proxy consults the model before anything else.
//!
//! The phases, each a method, and where AWS says so:
//! - Create: stack `CREATE_IN_PROGRESS` (or `UPDATE_IN_PROGRESS` when an update adds the resource), resource
//!   `CREATE_IN_PROGRESS` without a physical id; answered: `CREATE_COMPLETE` and the id the provider returned
//!   (CloudFormation User Guide, "Stack status codes" and "Resource status codes").
//! - In-place Update: stack and resource `UPDATE_IN_PROGRESS`, the id unchanged.
//! - Replacement: the provider answers an Update with a new id; CloudFormation then shows the new id,
//!   `UPDATE_COMPLETE`, the stack `UPDATE_COMPLETE_CLEANUP_IN_PROGRESS`, and sends a Delete of the old id, which
//!   only the stack's events still name ("Custom resource response objects": "If the value returned is
//!   different, CloudFormation recognizes the update as a replacement and sends a delete request to the old
//!   resource").
//! - Update rollback: stack `UPDATE_ROLLBACK_IN_PROGRESS`, resource `UPDATE_IN_PROGRESS`, then back at its old
//!   id; a replacement's cleanup in `UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS`.
//! - Delete: stack and resource `DELETE_IN_PROGRESS`; afterwards the stack, looked up by its id, is
//!   `DELETE_COMPLETE` and its resources `DELETE_COMPLETE`.
//! - A cancelled Create (a sibling failed, `ServiceTimeout` expired, the user cancelled): resource
//!   `CREATE_FAILED` ("Resource creation cancelled"), stack `ROLLBACK_IN_PROGRESS`, and the rollback's Delete
//!   carries a physical id CloudFormation made up (`<stack>-<logical>-<13 characters>`), as aws/aws-cdk#36951
//!   and binxio/cfn-certificate-provider#31 describe.
//! - A retained resource (`DeletionPolicy: Retain`, `--retain-resources`, a force delete): no Delete is sent;
//!   the stack ends `DELETE_COMPLETE`, the resource `DELETE_SKIPPED` ("DeletionPolicy attribute").

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// How CloudFormation shows a stack and its custom resource while it sends a request: what the function's
/// confirmation reads (`eks_node_role_guard::cfn::confirm`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sending {
    pub stack_status: &'static str,
    pub resource_status: &'static str,
    pub physical_id: Option<String>,
}

/// The phase CloudFormation is in when it sends a `kind` request naming `physical` for a resource that holds
/// `held` (the id the provider last answered): a Create while it creates the resource; an Update while it
/// updates it, at the id it holds; a Delete of the id it holds while it deletes it, and of another id while the
/// stack cleans up after a replacement.
pub fn sending(kind: &str, physical: Option<&str>, held: Option<&str>) -> Sending {
    let at = |s: Option<&str>| s.map(str::to_string);
    match kind {
        "Create" => {
            Sending { stack_status: "CREATE_IN_PROGRESS", resource_status: "CREATE_IN_PROGRESS", physical_id: None }
        }
        "Update" => Sending {
            stack_status: "UPDATE_IN_PROGRESS",
            resource_status: "UPDATE_IN_PROGRESS",
            physical_id: at(physical),
        },
        _ if held.is_some() && physical.is_some() && held != physical => Sending {
            stack_status: "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
            resource_status: "UPDATE_COMPLETE",
            physical_id: at(held),
        },
        _ => Sending {
            stack_status: "DELETE_IN_PROGRESS",
            resource_status: "DELETE_IN_PROGRESS",
            physical_id: at(physical),
        },
    }
}

/// A custom resource as CloudFormation shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelResource {
    pub kind: String,
    pub status: String,
    pub physical_id: Option<String>,
}

#[derive(Debug, Clone)]
struct ModelStack {
    name: String,
    status: String,
    resources: BTreeMap<String, ModelResource>,
}

/// The model; clones share it.
#[derive(Debug, Clone, Default)]
pub struct CfnModel(Arc<Mutex<BTreeMap<String, ModelStack>>>);

impl CfnModel {
    fn with<T>(&self, stack_id: &str, f: impl FnOnce(&mut ModelStack) -> T) -> T {
        let mut stacks = self.0.lock().unwrap();
        let stack = stacks.get_mut(stack_id).unwrap_or_else(|| panic!("{stack_id} is not in the model"));
        f(stack)
    }

    fn resource<T>(&self, stack_id: &str, logical: &str, f: impl FnOnce(&mut ModelResource) -> T) -> T {
        self.with(stack_id, |s| f(s.resources.get_mut(logical).unwrap_or_else(|| panic!("no resource {logical}"))))
    }

    /// The stack busy with (or done with) something other than the resource: only its status changes.
    pub fn set_stack_status(&self, stack_id: &str, status: &str) {
        self.with(stack_id, |s| s.status = status.into());
    }

    /// Whether the stack is in the model.
    pub fn has(&self, stack_id: &str) -> bool {
        self.0.lock().unwrap().contains_key(stack_id)
    }

    /// A stack CloudFormation is creating, with `logical` (a `Custom::EksNodeRole`) being created.
    pub fn creating(&self, stack_id: &str, logical: &str) {
        let name = stack_id.split('/').nth(1).unwrap_or("stack").to_string();
        let resource = ModelResource {
            kind: "Custom::EksNodeRole".into(),
            status: "CREATE_IN_PROGRESS".into(),
            physical_id: None,
        };
        let stack = ModelStack {
            name,
            status: "CREATE_IN_PROGRESS".into(),
            resources: BTreeMap::from([(logical.to_string(), resource)]),
        };
        self.0.lock().unwrap().insert(stack_id.to_string(), stack);
    }

    /// The provider answered the Create with `physical_id`; the stack is complete.
    pub fn created(&self, stack_id: &str, logical: &str, physical_id: &str) {
        self.resource(stack_id, logical, |r| {
            r.status = "CREATE_COMPLETE".into();
            r.physical_id = Some(physical_id.into());
        });
        self.with(stack_id, |s| s.status = "CREATE_COMPLETE".into());
    }

    /// An Update of the stack reaches the resource (in place or, if answered with a new id, a replacement).
    pub fn updating(&self, stack_id: &str, logical: &str) {
        self.with(stack_id, |s| s.status = "UPDATE_IN_PROGRESS".into());
        self.resource(stack_id, logical, |r| r.status = "UPDATE_IN_PROGRESS".into());
    }

    /// The provider answered the Update with `physical_id`: a different one makes it a replacement, and the stack
    /// goes on to clean up (the Delete of the old id); the same one completes the update.
    pub fn updated(&self, stack_id: &str, logical: &str, physical_id: &str) {
        let replaced = self.resource(stack_id, logical, |r| {
            let replaced = r.physical_id.as_deref() != Some(physical_id);
            r.status = "UPDATE_COMPLETE".into();
            r.physical_id = Some(physical_id.into());
            replaced
        });
        let status = if replaced { "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS" } else { "UPDATE_COMPLETE" };
        self.with(stack_id, |s| s.status = status.into());
    }

    /// The stack's update is over (its cleanup done, or given up after three refused Deletes).
    pub fn finish_update(&self, stack_id: &str) {
        self.with(stack_id, |s| s.status = "UPDATE_COMPLETE".into());
    }

    /// The update failed elsewhere: CloudFormation rolls the resource back (an Update with the old properties).
    pub fn rolling_back_update(&self, stack_id: &str, logical: &str) {
        self.with(stack_id, |s| s.status = "UPDATE_ROLLBACK_IN_PROGRESS".into());
        self.resource(stack_id, logical, |r| r.status = "UPDATE_IN_PROGRESS".into());
    }

    /// The rollback's Update was answered with `physical_id` (the old one): the stack cleans up what the failed
    /// update made (`UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS`: the Delete of the replacement).
    pub fn rolled_back(&self, stack_id: &str, logical: &str, physical_id: &str) {
        self.resource(stack_id, logical, |r| {
            r.status = "UPDATE_COMPLETE".into();
            r.physical_id = Some(physical_id.into());
        });
        self.with(stack_id, |s| s.status = "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS".into());
    }

    /// The stack is being deleted.
    pub fn deleting(&self, stack_id: &str) {
        self.with(stack_id, |s| {
            s.status = "DELETE_IN_PROGRESS".into();
            for r in s.resources.values_mut() {
                r.status = "DELETE_IN_PROGRESS".into();
            }
        });
    }

    /// The stack is gone (looked up by its id: `DELETE_COMPLETE`).
    pub fn deleted(&self, stack_id: &str) {
        self.with(stack_id, |s| {
            s.status = "DELETE_COMPLETE".into();
            for r in s.resources.values_mut() {
                r.status = "DELETE_COMPLETE".into();
            }
        });
    }

    /// The stack was deleted and `logical` retained: no Delete was ever sent.
    pub fn retained(&self, stack_id: &str, logical: &str) {
        self.deleted(stack_id);
        self.resource(stack_id, logical, |r| r.status = "DELETE_SKIPPED".into());
    }

    /// A sibling failed while `logical`'s Create ran: CloudFormation cancels it and rolls back, and returns the
    /// physical id it made up, which its rollback Delete carries.
    pub fn cancel_create(&self, stack_id: &str, logical: &str) -> String {
        let name = self.with(stack_id, |s| {
            s.status = "ROLLBACK_IN_PROGRESS".into();
            s.name.clone()
        });
        let made_up = format!("{name}-{logical}-{}", made_up_suffix(stack_id));
        self.resource(stack_id, logical, |r| {
            r.status = "DELETE_IN_PROGRESS".into();
            r.physical_id = Some(made_up.clone());
        });
        made_up
    }

    /// The stack (made if new, with `logical` a `Custom::EksNodeRole`) as CloudFormation shows it while sending a
    /// `kind` request naming `physical` (see `sending`); the id the resource held before is kept in the model.
    pub fn send_phase(&self, stack_id: &str, logical: &str, kind: &str, physical: Option<&str>) {
        let mut stacks = self.0.lock().unwrap();
        let name = stack_id.split('/').nth(1).unwrap_or("stack").to_string();
        let stack = stacks.entry(stack_id.to_string()).or_insert_with(|| ModelStack {
            name,
            status: String::new(),
            resources: BTreeMap::new(),
        });
        let held = stack.resources.get(logical).and_then(|r| r.physical_id.clone());
        let now = sending(kind, physical, held.as_deref());
        stack.status = now.stack_status.into();
        stack.resources.insert(
            logical.to_string(),
            ModelResource {
                kind: "Custom::EksNodeRole".into(),
                status: now.resource_status.into(),
                physical_id: now.physical_id,
            },
        );
    }

    /// The provider's answer to a `kind` request, as CloudFormation records it: a Create's id (answered SUCCESS
    /// or FAILED: the rollback's Delete carries it) and an Update's SUCCESS id become the resource's; the stack is
    /// complete.
    pub fn answered(&self, stack_id: &str, logical: &str, kind: &str, response: &serde_json::Value) {
        let id = response["PhysicalResourceId"].as_str().map(str::to_string);
        let ok = response["Status"] == "SUCCESS";
        self.with(stack_id, |s| {
            let Some(r) = s.resources.get_mut(logical) else { return };
            let (status, keep) = match kind {
                "Create" => (if ok { "CREATE_COMPLETE" } else { "CREATE_FAILED" }, true),
                "Update" => (if ok { "UPDATE_COMPLETE" } else { "UPDATE_FAILED" }, ok),
                _ => (if ok { "DELETE_COMPLETE" } else { "DELETE_FAILED" }, false),
            };
            r.status = status.into();
            if keep && id.is_some() {
                r.physical_id = id;
            }
            s.status = match kind {
                "Create" if ok => "CREATE_COMPLETE",
                "Delete" if ok && s.status == "DELETE_IN_PROGRESS" => "DELETE_COMPLETE",
                _ if ok => "UPDATE_COMPLETE",
                "Create" => "ROLLBACK_IN_PROGRESS",
                "Update" => "UPDATE_ROLLBACK_IN_PROGRESS",
                _ => "DELETE_FAILED",
            }
            .into();
        });
    }

    /// What `DescribeStackResource` shows (`None`: a ValidationError).
    pub fn describe_resource(&self, stack_id: &str, logical: &str) -> Option<Option<ModelResource>> {
        let stacks = self.0.lock().unwrap();
        let stack = stacks.get(stack_id)?;
        Some(stack.resources.get(logical).cloned())
    }

    /// Answers a CloudFormation query-protocol request for a stack in the model; `None` passes it on.
    pub fn answer(&self, operation: &str, body: &[u8]) -> Option<Vec<u8>> {
        let param = |name: &str| form_value(body, name);
        let stack_id = param("StackName")?;
        let stacks = self.0.lock().unwrap();
        let stack = stacks.get(&stack_id)?;
        let body = match operation {
            "cloudformation:DescribeStacks" => format!(
                "<DescribeStacksResponse xmlns=\"{NS}\"><DescribeStacksResult><Stacks><member><StackId>{stack_id}</StackId><StackName>{}</StackName><CreationTime>2026-12-03T00:00:00Z</CreationTime><StackStatus>{}</StackStatus></member></Stacks></DescribeStacksResult>{META}</DescribeStacksResponse>",
                stack.name, stack.status
            ),
            "cloudformation:DescribeStackResource" => {
                let logical = param("LogicalResourceId")?;
                let Some(r) = stack.resources.get(&logical) else {
                    let msg = format!("Resource {logical} does not exist for stack {}", stack.name);
                    return Some(validation_error(&msg));
                };
                format!(
                    "<DescribeStackResourceResponse xmlns=\"{NS}\"><DescribeStackResourceResult><StackResourceDetail>{}</StackResourceDetail></DescribeStackResourceResult>{META}</DescribeStackResourceResponse>",
                    resource_xml(&stack_id, stack, &logical, r)
                )
            }
            "cloudformation:DescribeStackResources" => {
                let members: String = stack
                    .resources
                    .iter()
                    .map(|(l, r)| format!("<member>{}</member>", resource_xml(&stack_id, stack, l, r)))
                    .collect();
                format!(
                    "<DescribeStackResourcesResponse xmlns=\"{NS}\"><DescribeStackResourcesResult><StackResources>{members}</StackResources></DescribeStackResourcesResult>{META}</DescribeStackResourcesResponse>"
                )
            }
            _ => return None,
        };
        Some(http_ok(&body))
    }
}

const NS: &str = "http://cloudformation.amazonaws.com/doc/2010-05-15/";
const META: &str = "<ResponseMetadata><RequestId>cfn-model</RequestId></ResponseMetadata>";

fn resource_xml(stack_id: &str, stack: &ModelStack, logical: &str, r: &ModelResource) -> String {
    let physical = r.physical_id.as_deref().map(|p| format!("<PhysicalResourceId>{p}</PhysicalResourceId>"));
    format!(
        "<StackId>{stack_id}</StackId><StackName>{}</StackName><LogicalResourceId>{logical}</LogicalResourceId>{}<ResourceType>{}</ResourceType><Timestamp>2026-12-03T00:00:00Z</Timestamp><LastUpdatedTimestamp>2026-12-03T00:00:00Z</LastUpdatedTimestamp><ResourceStatus>{}</ResourceStatus>",
        stack.name,
        physical.unwrap_or_default(),
        r.kind,
        r.status
    )
}

fn made_up_suffix(seed: &str) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in seed.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
    }
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..13).map(|i| ALPHABET[((h >> (i * 4)) % 36) as usize] as char).collect()
}

fn http_ok(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn validation_error(message: &str) -> Vec<u8> {
    let body = format!(
        "<ErrorResponse xmlns=\"{NS}\"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>{message}</Message></Error><RequestId>cfn-model</RequestId></ErrorResponse>"
    );
    format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A query-protocol parameter, percent-decoded.
fn form_value(body: &[u8], name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    let raw =
        String::from_utf8_lossy(body).split('&').find_map(|kv| kv.strip_prefix(prefix.as_str()).map(str::to_string))?;
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}
