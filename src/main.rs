#![recursion_limit = "256"]
//! Builds the clients once and hands each invocation to the dispatcher.

use eks_node_role_guard::{app::App, logging};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

fn main() -> Result<(), lambda_runtime::Error> {
    // The lifecycle's futures hold several SDK calls at once: a roomy stack for the workers that poll them.
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(8 << 20).build()?;
    runtime.block_on(async {
        logging::init();
        let app = App::from_env().await;
        let app = &app;
        lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move { app.handle(event).await })).await
    })
}
