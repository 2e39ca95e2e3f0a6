#![recursion_limit = "256"]
//! Builds the clients once and hands each invocation to the dispatcher.

use eks_node_role_guard::{app::App, logging, settings::Settings};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

fn main() -> Result<(), lambda_runtime::Error> {
    // The lifecycle's futures hold several SDK calls at once: a roomy stack for the workers that poll them.
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(8 << 20).build()?;
    runtime.block_on(async {
        let settings = Settings::from_env();
        logging::init(&settings.log_filter, settings.log_text);
        for problem in &settings.problems {
            tracing::error!(problem = %problem, "setting not usable");
        }
        let app = App::new(settings).await;
        let app = &app;
        lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move { app.handle(event).await })).await
    })
}
