//! Structured logs: JSON lines (CloudWatch reads them as JSON), `LOG_FORMAT=text` for a terminal.

use tracing_subscriber::EnvFilter;

/// `filter` as `RUST_LOG` writes it (e.g. `info`, `eks_node_role_guard=debug`); `text` for people.
pub fn init(filter: &str, text: bool) {
    let filter = EnvFilter::try_new(filter)
        .unwrap_or_else(|_| EnvFilter::new("info"))
        // The SDK's own chatter stays out unless asked for.
        .add_directive("aws_smithy_runtime=warn".parse().expect("static directive"))
        .add_directive("aws_config=warn".parse().expect("static directive"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).without_time();
    if text {
        builder.with_ansi(false).init();
    } else {
        builder.json().flatten_event(true).with_current_span(false).init();
    }
}
