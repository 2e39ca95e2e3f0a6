#![recursion_limit = "256"]
//! Builds the clients once and hands each invocation to the dispatcher.

use eks_node_role_guard::{app::App, logging};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    logging::init();
    let app = App::from_env().await;
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move { app.handle(event).await })).await
}
