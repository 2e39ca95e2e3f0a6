//! Structured logs: JSON lines (CloudWatch reads them as JSON), `LOG_FORMAT=text` for a terminal.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_env("RUST_LOG")
        .or_else(|_| {
            EnvFilter::try_new(std::env::var("AWS_LAMBDA_LOG_LEVEL").unwrap_or_else(|_| "info".into()).to_lowercase())
        })
        .unwrap_or_else(|_| EnvFilter::new("info"))
        // The SDK's own chatter stays out unless asked for.
        .add_directive("aws_smithy_runtime=warn".parse().expect("static directive"))
        .add_directive("aws_config=warn".parse().expect("static directive"));
    let text = std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("text"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).without_time();
    if text {
        builder.with_ansi(false).init();
    } else {
        builder.json().flatten_event(true).with_current_span(false).init();
    }
}
