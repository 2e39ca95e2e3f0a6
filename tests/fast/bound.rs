//! The bound computed: the template's policies, rendered as a deployment renders them, evaluated as IAM
//! evaluates them (`test_support::iam_policy`).

use test_support::template::Rendered;

#[test]
fn scratch_render() {
    let r = Rendered::template(&[]);
    for p in r.guard_policies() {
        println!("{}: {}", p.name, serde_json::to_string_pretty(&p.document).unwrap());
    }
    println!("{:?}", r.function_environment());
}
