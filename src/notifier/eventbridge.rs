//! Notifications on an EventBridge bus (PutEvents).

use futures_util::future::join_all;
use tracing::{error, warn};

use super::{Bus, BATCH};
use crate::notify::{Notification, SOURCE};

/// An EventBridge bus: `default`, or the one `NOTIFY_EVENT_BUS` names.
#[derive(Clone, Debug)]
pub struct EventBridgeBus {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl EventBridgeBus {
    pub fn new(client: aws_sdk_eventbridge::Client, bus: &str) -> Self {
        EventBridgeBus { client, bus: bus.to_string() }
    }
}

impl Bus for EventBridgeBus {
    async fn put(&self, notes: &[Notification]) -> usize {
        let (sent, again) = put_all(&self.client, &self.bus, notes, false).await;
        if again.is_empty() {
            return sent;
        }
        // Entries PutEvents could not take this time (throttled, an internal failure) go once more, as AWS
        // advises: the SDK retries whole calls, not single entries.
        sent + put_all(&self.client, &self.bus, &again, true).await.0
    }
}

/// Every note, 10 to a PutEvents call, the calls at once. Returns how many were published and the notes whose
/// entries failed in a way a second try can mend (logged here instead when `last` is set).
async fn put_all(
    client: &aws_sdk_eventbridge::Client,
    bus: &str,
    notes: &[Notification],
    last: bool,
) -> (usize, Vec<Notification>) {
    let calls = notes.chunks(BATCH).map(|chunk| put_events(client, bus, chunk, last));
    join_all(calls).await.into_iter().fold((0, Vec::new()), |(sent, mut again), (n, retry)| {
        again.extend(retry);
        (sent + n, again)
    })
}

/// Entry error codes PutEvents documents as worth sending again.
const RETRYABLE_ENTRY_CODES: [&str; 2] = ["ThrottlingException", "InternalFailure"];

async fn put_events(
    client: &aws_sdk_eventbridge::Client,
    bus: &str,
    chunk: &[Notification],
    last: bool,
) -> (usize, Vec<Notification>) {
    use aws_sdk_eventbridge::types::PutEventsRequestEntry;
    let entries = chunk.iter().map(|n| {
        PutEventsRequestEntry::builder()
            .source(SOURCE)
            .detail_type(n.detail_type)
            .detail(n.detail.to_string())
            .event_bus_name(bus)
            .set_resources(n.detail["roleArn"].as_str().filter(|a| !a.is_empty()).map(|a| vec![a.to_string()]))
            .build()
    });
    match client.put_events().set_entries(Some(entries.collect())).send().await {
        Ok(out) => {
            let mut again = Vec::new();
            for (entry, note) in out.entries().iter().zip(chunk) {
                let Some(code) = entry.error_code() else { continue };
                if !last && RETRYABLE_ENTRY_CODES.contains(&code) {
                    again.push(note.clone());
                } else {
                    warn!(code, message = entry.error_message().unwrap_or(""), summary = %note.detail["summary"], "notification not published");
                }
            }
            let failed = out.failed_entry_count().max(0) as usize;
            (chunk.len().saturating_sub(failed), again)
        }
        Err(e) => {
            let e = aws_sdk_eventbridge::error::DisplayErrorContext(e);
            for note in chunk {
                error!(error = %e, summary = %note.detail["summary"], "notification not published (PutEvents failed): events:PutEvents on the default bus is needed");
            }
            (0, Vec::new())
        }
    }
}
