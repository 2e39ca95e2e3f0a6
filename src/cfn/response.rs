//! The one response a CloudFormation request gets: a PUT of a small JSON body to the pre-signed ResponseURL.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::error::{Error, Result};

/// CloudFormation rejects response bodies over 4096 bytes.
pub const MAX_BODY: usize = 4096;

/// How long the first attempt may take when the deadline is (nearly) past already.
const LATE_ATTEMPT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Success,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub physical_resource_id: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub no_echo: bool,
    pub data: BTreeMap<String, String>,
}

impl Response {
    /// The JSON body, at most `MAX_BODY` bytes: an over-long Reason keeps its head and points to the log stream.
    pub fn to_body(&self, log_stream: &str) -> Vec<u8> {
        let full = serde_json::to_vec(self).expect("plain strings serialise");
        if full.len() <= MAX_BODY {
            return full;
        }
        let suffix = format!(" … (truncated; full message in CloudWatch log stream {log_stream})");
        let reason = self.reason.clone().unwrap_or_default();
        let with_head = |keep: usize| {
            let mut r = self.clone();
            r.reason = Some(format!("{}{suffix}", &reason[..keep]));
            serde_json::to_vec(&r).expect("plain strings serialise")
        };
        // The longest head (on a character boundary) that fits, found by bisection: escaping makes the
        // serialised length of a head hard to predict.
        let (mut lo, mut hi) = (0usize, reason.len());
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            let mut cut = mid;
            while !reason.is_char_boundary(cut) {
                cut -= 1;
            }
            if cut > lo && with_head(cut).len() <= MAX_BODY {
                lo = cut;
            } else {
                hi = mid - 1;
            }
        }
        let body = with_head(lo);
        if body.len() <= MAX_BODY {
            return body;
        }
        // Not the Reason but the rest is too long: drop Data as the last resort.
        let mut r = self.clone();
        r.data.clear();
        r.reason = Some(format!("{}{suffix}", &reason[..lo.min(200)]));
        serde_json::to_vec(&r).expect("plain strings serialise")
    }
}

/// A ResponseURL that passed the checks. Its value is a bearer secret: it is never printed.
#[derive(Clone)]
pub struct ResponseUrl(hyper::Uri);

impl fmt::Debug for ResponseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResponseUrl(<redacted>)")
    }
}

impl ResponseUrl {
    /// Only `https` to a host under amazonaws.com, amazonaws.com.cn or the ISO partitions' domains; with `allow_insecure`, also `http`
    /// to a loopback address (local use).
    pub fn parse(s: &str, allow_insecure: bool) -> Result<Self> {
        let uri: hyper::Uri = s.parse().map_err(|_| Error::Response("ResponseURL is not a valid URL".into()))?;
        let host = uri.host().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        // The commercial, China and GovCloud partitions, and the ISO partitions' own domains.
        let aws_host = ["amazonaws.com", "amazonaws.com.cn", "c2s.ic.gov", "sc2s.sgov.gov"]
            .iter()
            .any(|d| host == *d || host.ends_with(&format!(".{d}")));
        let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        let ok = match uri.scheme_str() {
            Some("https") => aws_host || (allow_insecure && loopback),
            Some("http") => allow_insecure && loopback,
            _ => false,
        };
        if ok {
            Ok(ResponseUrl(uri))
        } else {
            Err(Error::Response(format!(
                "ResponseURL refused: only https URLs on amazonaws.com, amazonaws.com.cn, c2s.ic.gov or sc2s.sgov.gov hosts are accepted (host was '{host}'; set ALLOW_INSECURE_RESPONSE_URL=true to allow http on loopback for local use)"
            )))
        }
    }
}

/// Retry policy for the PUT: connection errors and 5xx are retried with exponential backoff.
#[derive(Debug, Clone)]
pub struct SendPolicy {
    pub attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub attempt_timeout: Duration,
}

impl Default for SendPolicy {
    fn default() -> Self {
        SendPolicy {
            attempts: 8,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(3),
            attempt_timeout: Duration::from_secs(5),
        }
    }
}

type Https = hyper_rustls::HttpsConnector<HttpConnector>;
type HttpsClient = Client<Https, Full<Bytes>>;

/// Sends responses. Built once per process and reused.
///
/// Its HTTPS client reads the system's root certificates (a few milliseconds): that happens on a blocking
/// thread started with the sender, so a cold Create pays it while its first AWS calls are in flight, and an
/// event that sends no response never waits for it.
#[derive(Clone)]
pub struct ResponseSender {
    client: std::sync::Arc<tokio::sync::OnceCell<HttpsClient>>,
    policy: SendPolicy,
}

impl ResponseSender {
    pub fn new(policy: SendPolicy) -> Self {
        let client = std::sync::Arc::new(tokio::sync::OnceCell::new());
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let warm = client.clone();
            rt.spawn(async move {
                warm.get_or_init(build_client).await;
            });
        }
        ResponseSender { client, policy }
    }

    /// The HTTPS client, once: built by the warm-up, or here if there was none (no runtime when the sender was
    /// made); a caller that comes first waits for the build under way instead of starting another.
    async fn client(&self) -> &HttpsClient {
        self.client.get_or_init(build_client).await
    }

    /// PUTs `body`, retrying until it is accepted, a non-retryable status comes back, the attempts run out, or
    /// `deadline` passes. Returns the HTTP status CloudFormation (S3) answered with.
    pub async fn send(&self, url: &ResponseUrl, body: Vec<u8>, deadline: Instant) -> Result<u16> {
        let body = Bytes::from(body);
        let mut backoff = self.policy.initial_backoff;
        let mut last = String::from("no attempt made");
        for attempt in 1..=self.policy.attempts {
            let now = Instant::now();
            // The first attempt is always made, however late: an answer may still land.
            if now >= deadline && attempt > 1 {
                break;
            }
            let req = hyper::Request::put(url.0.clone())
                // The pre-signed URL is signed for an empty content type.
                .header(hyper::header::CONTENT_TYPE, "")
                .header(hyper::header::CONTENT_LENGTH, body.len())
                .body(Full::new(body.clone()))
                .expect("static request parts are valid");
            // Only the first attempt may outlast the deadline (the emulator's is already past when work starts): a
            // retry that did could outlive the invocation, which Lambda would run again, and answer again.
            let left = deadline.saturating_duration_since(now);
            let budget = self.policy.attempt_timeout.min(if attempt == 1 { left.max(LATE_ATTEMPT) } else { left });
            match tokio::time::timeout(budget, self.client().await.request(req)).await {
                Ok(Ok(resp)) => {
                    let status = resp.status();
                    let _ = tokio::time::timeout(budget, resp.into_body().collect()).await;
                    if status.is_success() {
                        info!(status = status.as_u16(), attempt, "response delivered");
                        return Ok(status.as_u16());
                    }
                    last = format!("HTTP {status}");
                    if !status.is_server_error() && status.as_u16() != 429 {
                        break;
                    }
                }
                Ok(Err(e)) => last = format!("connection error: {}", redact(&e.to_string())),
                Err(_) => last = "no answer within the attempt timeout".into(),
            }
            warn!(attempt, error = %last, "response PUT failed");
            let pause = backoff.min(deadline.saturating_duration_since(Instant::now()));
            tokio::time::sleep(pause).await;
            backoff = (backoff * 2).min(self.policy.max_backoff);
        }
        Err(Error::Response(last))
    }
}

/// rustls (ring) with the system's roots, off the async workers: loading the roots is blocking file I/O.
async fn build_client() -> HttpsClient {
    let build = || {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .unwrap_or_else(|_| {
                hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(
                    rustls::ClientConfig::builder()
                        .with_root_certificates(rustls::RootCertStore::empty())
                        .with_no_client_auth(),
                )
            })
            .https_or_http()
            .enable_http1()
            .build();
        Client::builder(TokioExecutor::new()).build(https)
    };
    match tokio::task::spawn_blocking(build).await {
        Ok(client) => client,
        // The blocking pool is shutting down: build here rather than lose the response.
        Err(_) => build(),
    }
}

/// Connection errors can quote the URL; keep only the text before any `http`.
fn redact(msg: &str) -> String {
    match msg.find("http") {
        Some(i) => format!("{}<url redacted>", &msg[..i]),
        None => msg.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(reason: Option<String>) -> Response {
        Response {
            status: Status::Failed,
            reason,
            physical_resource_id: "prod-NodeRole-ABC".into(),
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/prod/guid".into(),
            request_id: "r-1".into(),
            logical_resource_id: "NodeRole".into(),
            no_echo: false,
            data: BTreeMap::new(),
        }
    }

    #[test]
    fn serialises_as_cloudformation_expects() {
        let v: serde_json::Value = serde_json::from_slice(&response(Some("bad".into())).to_body("s")).unwrap();
        assert_eq!(v["Status"], "FAILED");
        assert_eq!(v["Reason"], "bad");
        assert_eq!(v["PhysicalResourceId"], "prod-NodeRole-ABC");
        assert_eq!(v["NoEcho"], false);
        assert!(v["Data"].is_object());
        let ok = Response { status: Status::Success, ..response(None) };
        let v: serde_json::Value = serde_json::from_slice(&ok.to_body("s")).unwrap();
        assert_eq!(v["Status"], "SUCCESS");
        assert!(v.get("Reason").is_none());
    }

    #[test]
    fn an_over_long_reason_keeps_its_head_and_points_to_the_log_stream() {
        for reason in ["x".repeat(10_000), "é\"\\".repeat(3000), "\u{1}".repeat(5000)] {
            let body = response(Some(format!("HEAD {reason}"))).to_body("2026/11/29/[$LATEST]abc");
            assert!(body.len() <= MAX_BODY, "{}", body.len());
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let r = v["Reason"].as_str().unwrap();
            assert!(r.starts_with("HEAD "));
            assert!(r.ends_with("full message in CloudWatch log stream 2026/11/29/[$LATEST]abc)"), "{r}");
        }
    }

    #[test]
    fn response_urls_must_be_aws_https_unless_local_use_is_allowed() {
        let ok = "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/a?X-Amz-Signature=x";
        assert!(ResponseUrl::parse(ok, false).is_ok());
        assert!(ResponseUrl::parse("https://x.s3.cn-north-1.amazonaws.com.cn/a", false).is_ok());
        assert!(ResponseUrl::parse("https://x.s3.us-iso-east-1.c2s.ic.gov/a", false).is_ok());
        for bad in [
            "http://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/a",
            "https://evilamazonaws.com/a",
            "https://amazonaws.com.evil.net/a",
            "http://127.0.0.1:8080/a",
            "ftp://s3.amazonaws.com/a",
            "not a url",
        ] {
            assert!(ResponseUrl::parse(bad, false).is_err(), "{bad}");
        }
        assert!(ResponseUrl::parse("http://127.0.0.1:8080/a", true).is_ok());
        assert!(ResponseUrl::parse("http://[::1]:8080/a", true).is_ok());
        assert!(ResponseUrl::parse("http://localhost:8080/a", true).is_ok());
        assert!(ResponseUrl::parse("http://10.0.0.1:8080/a", true).is_err());
        let e = ResponseUrl::parse("https://example.com/secret-token", false).unwrap_err().to_string();
        assert!(!e.contains("secret-token"), "{e}");
        assert_eq!(format!("{:?}", ResponseUrl::parse(ok, false).unwrap()), "ResponseUrl(<redacted>)");
    }

    #[test]
    fn connection_errors_never_quote_the_url() {
        assert_eq!(redact("error trying to connect: http://x/y?sig"), "error trying to connect: <url redacted>");
    }

    #[tokio::test]
    async fn a_retry_never_runs_past_the_deadline() {
        // The first attempt gets a 500 at once; every later one meets a server that never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut held = Vec::new();
            while let Ok((mut sock, _)) = listener.accept().await {
                if held.is_empty() {
                    let _ = sock.read(&mut [0u8; 4096]).await;
                    let _ = sock.write_all(b"HTTP/1.1 500 X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
                }
                held.push(sock);
            }
        });
        let sender =
            ResponseSender::new(SendPolicy { initial_backoff: Duration::from_millis(10), ..Default::default() });
        let url = ResponseUrl::parse(&format!("http://127.0.0.1:{port}/r"), true).unwrap();
        let started = Instant::now();
        let sent = sender.send(&url, b"{}".to_vec(), started + Duration::from_millis(400)).await;
        assert!(sent.is_err());
        assert!(started.elapsed() < Duration::from_millis(700), "gave up at the deadline: {:?}", started.elapsed());
    }
}
