//! The CloudFormation port's contract, checked against the in-memory stacks (unit tests) and moto's
//! CloudFormation (`tests/stacks.rs`), so the fake cannot drift from the stand-in. What it checks is what
//! `crate::cfn::confirm` relies on; where moto departs from AWS (it reports the stack's status for every
//! resource), the contract asks only what both show.

use super::Stacks;

/// `stack_id` is a stack in creation holding `logical_id`, a `Custom::EksNodeRole` it is creating;
/// `absent_stack` is a well-formed StackId of no stack. Panics on the first broken promise.
pub async fn check<C: Stacks>(stacks: &C, stack_id: &str, logical_id: &str, absent_stack: &str) {
    let resource = stacks.resource(stack_id, logical_id).await.expect("DescribeStackResource").expect("the resource");
    assert_eq!(resource.kind, "Custom::EksNodeRole");
    assert_eq!(resource.status, "CREATE_IN_PROGRESS", "a resource the stack is creating");
    let status = stacks.stack_status(stack_id).await.expect("DescribeStacks").expect("the stack");
    assert!(status.ends_with("_IN_PROGRESS"), "an operation in progress: {status}");
    assert_eq!(stacks.resource(stack_id, "NoSuchResource").await.expect("a definite no"), None, "no such resource");
    assert_eq!(stacks.resource(absent_stack, logical_id).await.expect("a definite no"), None, "no such stack");
    assert_eq!(stacks.stack_status(absent_stack).await.expect("a definite no"), None, "no such stack");
}

#[cfg(test)]
mod tests {
    use super::super::MemoryStacks;

    #[tokio::test]
    async fn the_in_memory_stacks_keep_the_contract() {
        let stacks = MemoryStacks::default();
        let stack = "arn:aws:cloudformation:us-east-1:123456789012:stack/prod/guid";
        stacks.set(stack, "CREATE_IN_PROGRESS", &[("NodeRole", "Custom::EksNodeRole")]);
        super::check(&stacks, stack, "NodeRole", "arn:aws:cloudformation:us-east-1:123456789012:stack/gone/guid").await;
    }
}
