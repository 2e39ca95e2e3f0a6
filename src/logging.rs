//! Structured logs: JSON lines (CloudWatch reads them as JSON), `LOG_FORMAT=text` for a terminal.

use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::filter::{filter_fn, FilterExt};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// `filter` as `RUST_LOG` writes it (e.g. `info`, `eks_node_role_guard=debug`); `text` for people.
pub fn init(filter: &str, text: bool) {
    tracing_subscriber::registry().with(layer(filter, text, std::io::stdout)).init();
}

/// The one output layer, with the filter asked for and the limits no filter lifts.
fn layer<S, W>(filter: &str, text: bool, writer: W) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = env_filter(filter).and(filter_fn(runtime_at_most_info));
    let fmt = tracing_subscriber::fmt::layer().with_writer(writer).with_target(false).without_time();
    if text {
        fmt.with_ansi(false).with_filter(filter).boxed()
    } else {
        fmt.json().flatten_event(true).with_current_span(false).with_filter(filter).boxed()
    }
}

/// The filter asked for; the SDK's own chatter stays out unless asked for.
fn env_filter(filter: &str) -> EnvFilter {
    ["aws_smithy_runtime=warn", "aws_config=warn"]
        .iter()
        .fold(EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info")), |f, d| {
            f.add_directive(d.parse().expect("static directive"))
        })
}

/// The Lambda runtime's own events never below INFO, whatever the filter says (a target, a span, a field): at
/// TRACE it logs every raw event, a CloudFormation request's pre-signed ResponseURL included. A filter of its
/// own, and-ed with the one asked for, so no directive can lift it.
fn runtime_at_most_info(meta: &Metadata<'_>) -> bool {
    !(meta.target().starts_with("lambda_runtime") && *meta.level() > Level::INFO)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// What the logs say, with `filter`, of the runtime's raw-event record (inside its invoke span, as
    /// lambda_runtime logs it) and of one trace record of the tool's own.
    fn logged(filter: &str) -> String {
        let out = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = out.clone();
        let subscriber = tracing_subscriber::registry().with(layer(filter, false, move || Sink(sink.clone())));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(target: "lambda_runtime", "Lambda runtime invoke", requestId = "r-1");
            let _in = span.enter();
            tracing::trace!(target: "lambda_runtime::layers::api_response", body = "ResponseURL=https://secret", "raw JSON event received from Lambda");
            tracing::info!(target: "lambda_runtime", "runtime info");
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
    fn the_runtime_never_logs_the_raw_event_whatever_the_filter_asks() {
        for asked in [
            "trace",
            "lambda_runtime=trace",
            "lambda_runtime::layers=trace,trace",
            "[Lambda runtime invoke]=trace",
            "[{requestId}]=trace",
            "lambda_runtime=trace,",
        ] {
            let out = logged(asked);
            assert!(!out.contains("secret"), "{asked}: {out}");
        }
    }

    #[test]
    fn the_filter_still_decides_everything_else() {
        assert!(logged("trace").contains("own trace"));
        assert!(logged("lambda_runtime=trace,eks_node_role_guard=trace").contains("own trace"));
        assert!(!logged("info").contains("own trace"));
        assert!(logged("info").contains("runtime info"));
        assert!(!logged("lambda_runtime=warn").contains("runtime info"), "quieter than info stays quieter");
    }
}
