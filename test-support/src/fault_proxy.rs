//! A fault-injecting HTTP proxy between the SDK and moto: throttling (HTTP 400 with IAM's error body), 500/503,
//! latency, connection resets, responses lost after the upstream acted, and hangs.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 400 `Throttling`, as IAM answers when rate limited.
    Throttle,
    /// HTTP 500 `ServiceFailure` or 503 `ServiceUnavailable`.
    Status(u16),
    /// HTTP 403 `AccessDenied`: a permission the function lacks.
    Deny,
    /// Forwarded after a delay.
    Latency(Duration),
    /// The connection is reset before the request reaches IAM.
    Reset,
    /// IAM acts on the request but the response never arrives (connection reset afterwards).
    LoseResponse,
    /// The connection stays open and silent.
    Hang,
    /// DynamoDB answers a conditional write with ConditionalCheckFailedException (another writer won); other
    /// requests pass.
    ConditionFailed,
}

#[derive(Default)]
struct State {
    script: VecDeque<Option<Fault>>,
    always: Option<Fault>,
    requests: usize,
    faulted: usize,
    /// Requests by the service named in their SigV4 credential scope (iam, dynamodb, cloudformation, sts).
    by_service: std::collections::BTreeMap<String, usize>,
    /// Requests in flight now, and how many times a request started while none was: the sequential round
    /// trips (requests that overlap are one round trip).
    in_flight: usize,
    waves: usize,
    /// Every request's operation, when it arrived and when its answer left (from the proxy's start), and how
    /// long the upstream took: the timeline the benchmark prints.
    timeline: Vec<Span>,
}

#[derive(Debug, Clone)]
pub struct Span {
    pub operation: String,
    pub start: Duration,
    pub end: Duration,
    pub upstream: Duration,
}

pub struct FaultProxy {
    pub port: u16,
    started: std::time::Instant,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    pub async fn start(upstream_port: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        let started = std::time::Instant::now();
        let task = tokio::spawn(async move {
            let held = Arc::new(Mutex::new(Vec::new()));
            while let Ok((sock, _)) = listener.accept().await {
                let (st, held) = (st.clone(), held.clone());
                tokio::spawn(async move { serve(sock, upstream_port, st, held, started).await });
            }
        });
        FaultProxy { port, started, state, task }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The next requests get these faults, in order (`None` passes through); then requests pass.
    pub fn script(&self, faults: Vec<Option<Fault>>) {
        self.state.lock().unwrap().script = faults.into();
    }

    /// Every request gets this fault (`None`: no fault) once the script is used up.
    pub fn always(&self, fault: Option<Fault>) {
        self.state.lock().unwrap().always = fault;
    }

    pub fn clear(&self) {
        let mut s = self.state.lock().unwrap();
        s.script.clear();
        s.always = None;
    }

    pub fn requests(&self) -> usize {
        self.state.lock().unwrap().requests
    }

    /// Sequential round trips so far (see `State::waves`).
    pub fn round_trips(&self) -> usize {
        self.state.lock().unwrap().waves
    }

    pub fn by_service(&self) -> std::collections::BTreeMap<String, usize> {
        self.state.lock().unwrap().by_service.clone()
    }

    pub fn faulted(&self) -> usize {
        self.state.lock().unwrap().faulted
    }

    /// Time since the proxy started, on the timeline's clock.
    pub fn now(&self) -> Duration {
        self.started.elapsed()
    }

    /// The requests that arrived after `since` (see `now`), in order of arrival.
    pub fn timeline_since(&self, since: Duration) -> Vec<Span> {
        let mut spans: Vec<Span> =
            self.state.lock().unwrap().timeline.iter().filter(|s| s.start >= since).cloned().collect();
        spans.sort_by_key(|s| s.start);
        spans
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn iam_error(status: u16, code: &str, message: &str) -> Vec<u8> {
    let body = format!(
        "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>"
    );
    format!(
        "HTTP/1.1 {status} X\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// DynamoDB speaks JSON 1.0: its errors are `{"__type": ..., "message": ...}`.
fn dynamodb_error(status: u16, code: &str, message: &str) -> Vec<u8> {
    let body = format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{code}","message":"{message}"}}"#);
    format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/x-amz-json-1.0\r\nx-amzn-errortype: {code}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The error body the service of `request` would send (IAM and CloudFormation share the query protocol's XML).
fn error_for(dynamodb: bool, status: u16, code: &str, message: &str) -> Vec<u8> {
    if !dynamodb {
        return iam_error(status, code, message);
    }
    let code = match code {
        "Throttling" => "ThrottlingException",
        "AccessDenied" => "AccessDeniedException",
        "ServiceFailure" => "InternalServerError",
        other => other,
    };
    dynamodb_error(status, code, message)
}

async fn forward(request: &[u8], upstream_port: u16) -> Option<Vec<u8>> {
    let mut up = TcpStream::connect(("127.0.0.1", upstream_port)).await.ok()?;
    up.set_nodelay(true).ok()?;
    up.write_all(request).await.ok()?;
    // By its length: waiting for moto to close the connection costs ~11 ms a call (its server's close), which
    // would count as AWS time against both benchmark sides.
    let answer = tokio::time::timeout(Duration::from_secs(30), super::http::read_message(&mut up, true)).await.ok()?;
    answer.map(|m| m.raw)
}

/// SO_LINGER 0 makes the close a reset (RST), and with a zero timeout the drop does not block.
#[allow(deprecated)]
fn reset(sock: TcpStream) {
    let _ = sock.set_linger(Some(Duration::ZERO));
    drop(sock);
}

/// `Service:Operation`, from DynamoDB's `x-amz-target` or the query protocol's `Action=` (IAM, STS,
/// CloudFormation, EventBridge's target header too).
fn operation(service: &str, headers: &std::collections::BTreeMap<String, String>, body: &[u8]) -> String {
    let op = match headers.get("x-amz-target") {
        Some(t) => t.rsplit('.').next().unwrap_or(t).to_string(),
        None => String::from_utf8_lossy(body)
            .split('&')
            .find_map(|kv| kv.strip_prefix("Action="))
            .unwrap_or("?")
            .to_string(),
    };
    format!("{service}:{op}")
}

async fn serve(
    mut sock: TcpStream,
    upstream_port: u16,
    state: Arc<Mutex<State>>,
    held: Arc<Mutex<Vec<TcpStream>>>,
    started: std::time::Instant,
) {
    let Some(request) = super::http::read_request(&mut sock).await else { return };
    let arrived = started.elapsed();
    let headers = request.headers();
    let dynamodb = headers.get("x-amz-target").is_some_and(|t| t.starts_with("DynamoDB_"));
    // `AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request, ...`
    let service = headers
        .get("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(3))
        .unwrap_or("unsigned")
        .to_string();
    // DynamoDB (JSON 1.0) and EKS (REST-JSON) read their error code from `x-amzn-errortype` and a JSON body.
    let dynamodb = dynamodb || service == "eks";
    let operation = operation(&service, &headers, &request.body);
    let mut request = request.raw;
    // One request per connection keeps the proxy simple; the SDK opens another.
    if let Some(i) = request.windows(4).position(|w| w == b"\r\n\r\n") {
        request.splice(i + 2..i + 2, b"connection: close\r\n".iter().copied());
    }
    let fault = {
        let mut s = state.lock().unwrap();
        s.requests += 1;
        *s.by_service.entry(service).or_default() += 1;
        if s.in_flight == 0 {
            s.waves += 1;
        }
        s.in_flight += 1;
        let f = match s.script.pop_front() {
            Some(f) => f,
            None => s.always,
        };
        if f.is_some() {
            s.faulted += 1;
        }
        f
    };
    let done = InFlight(state.clone());
    let mut upstream = Duration::ZERO;
    match fault {
        None => {
            let t = std::time::Instant::now();
            if let Some(resp) = forward(&request, upstream_port).await {
                upstream = t.elapsed();
                let _ = sock.write_all(&resp).await;
            }
        }
        Some(Fault::Throttle) => {
            let _ = sock.write_all(&error_for(dynamodb, 400, "Throttling", "Rate exceeded")).await;
        }
        Some(Fault::Status(code)) => {
            let name = if code == 503 { "ServiceUnavailable" } else { "ServiceFailure" };
            let _ = sock.write_all(&error_for(dynamodb, code, name, "injected failure")).await;
        }
        Some(Fault::Deny) => {
            let msg = "User: arn:aws:sts::123456789012:assumed-role/guard/fn is not authorized to perform this action";
            let _ = sock.write_all(&error_for(dynamodb, 403, "AccessDenied", msg)).await;
        }
        Some(Fault::ConditionFailed) if dynamodb => {
            let msg = "The conditional request failed";
            let _ = sock.write_all(&dynamodb_error(400, "ConditionalCheckFailedException", msg)).await;
        }
        Some(Fault::ConditionFailed) => {
            if let Some(resp) = forward(&request, upstream_port).await {
                let _ = sock.write_all(&resp).await;
            }
        }
        Some(Fault::Latency(d)) => {
            tokio::time::sleep(d).await;
            let t = std::time::Instant::now();
            if let Some(resp) = forward(&request, upstream_port).await {
                upstream = t.elapsed();
                let _ = sock.write_all(&resp).await;
            }
        }
        Some(Fault::Reset) => reset(sock),
        Some(Fault::LoseResponse) => {
            let _ = forward(&request, upstream_port).await;
            reset(sock);
        }
        Some(Fault::Hang) => held.lock().unwrap().push(sock),
    }
    let end = started.elapsed();
    state.lock().unwrap().timeline.push(Span { operation, start: arrived, end, upstream });
    drop(done);
}

/// Counts a request out of flight when its handling ends, however it ends.
struct InFlight(Arc<Mutex<State>>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut s = self.0.lock().unwrap();
        s.in_flight = s.in_flight.saturating_sub(1);
    }
}
