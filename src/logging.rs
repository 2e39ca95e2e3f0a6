//! Structured logs: JSON lines (CloudWatch reads them as JSON), `LOG_FORMAT=text` for a terminal.

use tracing_subscriber::EnvFilter;

/// `filter` as `RUST_LOG` writes it (e.g. `info`, `eks_node_role_guard=debug`); `text` for people.
pub fn init(filter: &str, text: bool) {
    let builder = tracing_subscriber::fmt().with_env_filter(env_filter(filter)).with_target(false).without_time();
    if text {
        builder.with_ansi(false).init();
    } else {
        builder.json().flatten_event(true).with_current_span(false).init();
    }
}

/// The filter asked for, with two limits whatever it says: the SDK's own chatter stays out, and the Lambda
/// runtime never logs below `info` (at `trace` it logs every raw event, a CloudFormation request's pre-signed
/// ResponseURL included).
fn env_filter(filter: &str) -> EnvFilter {
    // A directive for a module of the runtime would be more specific than the limit below, and win.
    let asked: Vec<&str> = filter.split(',').filter(|d| !d.trim_start().starts_with("lambda_runtime")).collect();
    ["aws_smithy_runtime=warn", "aws_config=warn", "lambda_runtime=info", "lambda_runtime_api_client=info"].iter().fold(
        EnvFilter::try_new(asked.join(","))
            .ok()
            .filter(|_| !asked.is_empty())
            .unwrap_or_else(|| EnvFilter::new("info")),
        |f, d| f.add_directive(d.parse().expect("static directive")),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// What the filter lets through, as text, for events of these targets at TRACE.
    fn logged(filter: &str) -> String {
        let out = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(env_filter(filter))
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "lambda_runtime::layers::api_response", body = "ResponseURL=https://secret", "raw JSON event received from Lambda");
            tracing::trace!(target: "eks_node_role_guard::cfn", "own trace");
        });
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        text
    }

    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_runtime_never_logs_the_raw_event_even_when_trace_is_asked_for() {
        for asked in ["trace", "lambda_runtime=trace", "lambda_runtime::layers=trace,trace"] {
            let out = logged(asked);
            assert!(!out.contains("secret"), "{asked}: {out}");
        }
        // The filter still works for the tool's own logs.
        assert!(logged("trace").contains("own trace"));
        assert!(logged("lambda_runtime=trace,eks_node_role_guard=trace").contains("own trace"));
        assert!(!logged("info").contains("own trace"));
    }
}
