//! Stacks kept in memory, for fast tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{StackResource, Stacks};
use crate::error::Result;

/// A stack as the in-memory CloudFormation keeps it.
#[derive(Default)]
struct MemoryStack {
    status: String,
    /// LogicalResourceId → the resource.
    resources: HashMap<String, StackResource>,
}

/// Stacks kept in memory for fast tests, by StackId. Clones share the stacks.
#[derive(Default, Clone)]
pub struct MemoryStacks {
    stacks: Arc<Mutex<HashMap<String, MemoryStack>>>,
}

impl MemoryStacks {
    /// A stack in `status` with these `(LogicalResourceId, type)` resources, each waiting for its Create answer
    /// (`CREATE_IN_PROGRESS`) until `set_resource_status` says otherwise.
    pub fn set(&self, stack_id: &str, status: &str, resources: &[(&str, &str)]) {
        let resources = resources
            .iter()
            .map(|(l, t)| {
                let r = StackResource { kind: t.to_string(), status: "CREATE_IN_PROGRESS".into(), physical_id: None };
                (l.to_string(), r)
            })
            .collect();
        let stack = MemoryStack { status: status.into(), resources };
        self.stacks.lock().unwrap_or_else(|e| e.into_inner()).insert(stack_id.into(), stack);
    }

    /// The stack without resource `logical_id` (removed from its template).
    pub fn without(self, logical_id: &str) -> Self {
        for s in self.stacks.lock().unwrap_or_else(|e| e.into_inner()).values_mut() {
            s.resources.remove(logical_id);
        }
        self
    }

    pub fn set_resource_status(&self, stack_id: &str, logical_id: &str, status: &str) {
        let mut stacks = self.stacks.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = stacks.get_mut(stack_id).and_then(|s| s.resources.get_mut(logical_id)) {
            r.status = status.into();
        }
    }

    /// The resource's physical id, as the provider's last answer set it.
    pub fn set_physical_id(&self, stack_id: &str, logical_id: &str, physical_id: &str) {
        let mut stacks = self.stacks.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = stacks.get_mut(stack_id).and_then(|s| s.resources.get_mut(logical_id)) {
            r.physical_id = Some(physical_id.into());
        }
    }

    /// The stack's status.
    pub fn set_status(&self, stack_id: &str, status: &str) {
        if let Some(s) = self.stacks.lock().unwrap_or_else(|e| e.into_inner()).get_mut(stack_id) {
            s.status = status.into();
        }
    }
}

impl Stacks for MemoryStacks {
    async fn resource(&self, stack_id: &str, logical_id: &str) -> Result<Option<StackResource>> {
        let stacks = self.stacks.lock().unwrap_or_else(|e| e.into_inner());
        Ok(stacks.get(stack_id).and_then(|s| s.resources.get(logical_id).cloned()))
    }

    async fn stack_status(&self, stack_id: &str) -> Result<Option<String>> {
        Ok(self.stacks.lock().unwrap_or_else(|e| e.into_inner()).get(stack_id).map(|s| s.status.clone()))
    }
}
