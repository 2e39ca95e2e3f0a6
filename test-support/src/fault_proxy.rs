//! A fault-injecting HTTP proxy between the SDK and moto: throttling (HTTP 400 with IAM's error body), 500/503,
//! latency, connection resets, responses lost after the upstream acted, and hangs.
//!
//! `behave_like_iam` adds what moto lacks and IAM does (`docs/development.md`, "IAM as it behaves"): a write to a
//! role or instance profile takes a while, and another write to the same entity meanwhile is answered 409
//! `ConcurrentModification`, as IAM answers writes "submitted simultaneously" (tagging: "the previous tagging
//! operation is still ongoing"). Deterministic: the second of two overlapping writes is refused.
//! `eventually_consistent` adds IAM's lag: for a while after a write to a role or instance profile, reads of it
//! answer as they did before the write (a role or profile just made: `NoSuchEntity`, when it was looked for before),
//! and a write naming a role or profile made within the lag answers `NoSuchEntity` ("cannot be found").

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
    /// HTTP 409 `ConcurrentModification`: IAM was changing the entity for another request.
    ConcurrentModification,
    /// HTTP 409 `EntityTemporarilyUnmodifiable`: IAM cannot change the entity just now.
    Unmodifiable,
    /// HTTP 404 `NoSuchEntity`, as IAM answers a read of a role it does not show (yet, or any more).
    NoSuchEntity,
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
    /// `behave_like_iam`: how long an IAM write holds its entity; the entities held now; the writes refused.
    iam_write_time: Option<Duration>,
    busy: std::collections::BTreeMap<String, usize>,
    conflicts: Vec<String>,
    /// Faults for every request of one operation whose body contains a text (`sts:AssumeRole` naming an account),
    /// before anything else.
    by_body: Vec<(String, String, Fault)>,
    /// Faults for the next requests of one operation (`iam:AttachRolePolicy`), before the general script.
    by_operation: std::collections::BTreeMap<String, VecDeque<Fault>>,
    /// `eventually_consistent`: how long reads lag behind writes; when each entity was last written; the last
    /// answer to each read (`operation entity`) given while its entity was settled; the stale answers served.
    read_lag: Option<Duration>,
    written_at: std::collections::BTreeMap<String, std::time::Instant>,
    settled_reads: std::collections::BTreeMap<String, Vec<u8>>,
    stale_answers: usize,
    /// `latency_for`: the latency of one service's calls where the script adds latency to every call.
    service_latency: std::collections::BTreeMap<String, Duration>,
    /// `answer_from`: CloudFormation's answers for the stacks in this model.
    cfn_model: Option<crate::cfn_model::CfnModel>,
    /// When each role or instance profile was made: writes naming it within the lag answer `NoSuchEntity`.
    created_at: std::collections::BTreeMap<String, std::time::Instant>,
    /// Every request that reached the proxy, for the authorization check (`crate::authorize`).
    recorded: Vec<Recorded>,
    /// What IAM's answers showed: role and instance-profile ARNs by `role:name` / `instance-profile:name`, and
    /// each role's permissions boundary.
    pub(crate) seen: Seen,
}

/// One AWS call as the function made it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// As the request's SigV4 scope names it: `iam`, `dynamodb`, …
    pub service: String,
    /// `iam:AttachRolePolicy`
    pub operation: String,
    pub body: Vec<u8>,
}

/// What IAM's answers showed of the entities the calls name (their paths and boundaries are not in the request).
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub arns: std::collections::BTreeMap<String, String>,
    pub boundaries: std::collections::BTreeMap<String, String>,
}

impl Seen {
    /// Notes the ARNs and boundaries an answer shows.
    fn note(&mut self, response: &[u8]) {
        let text = String::from_utf8_lossy(response);
        for kind in ["role", "instance-profile"] {
            let marker = format!(":{kind}/");
            let mut rest = text.as_ref();
            while let Some(i) = rest.find(&marker) {
                let start = rest[..i].rfind("arn:").unwrap_or(i);
                let end = rest[i..].find(['<', '"', ' ']).map_or(rest.len(), |e| i + e);
                let arn = &rest[start..end];
                if let Some(name) = arn.rsplit('/').next() {
                    if arn.starts_with("arn:") && arn[4..].contains(":iam::") {
                        self.arns.insert(format!("{kind}:{name}"), arn.to_string());
                    }
                }
                rest = &rest[end..];
            }
        }
        // GetRole: `<RoleName>n</RoleName>` … `<PermissionsBoundaryArn>b</PermissionsBoundaryArn>`
        if let (Some(name), true) = (between(&text, "<RoleName>", "</RoleName>"), text.contains("<GetRoleResult>")) {
            match between(&text, "<PermissionsBoundaryArn>", "</PermissionsBoundaryArn>") {
                Some(b) => self.boundaries.insert(name.to_string(), b.to_string()),
                None => self.boundaries.remove(name),
            };
        }
    }
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let i = text.find(open)? + open.len();
    let j = text[i..].find(close)? + i;
    Some(&text[i..j])
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
        s.by_operation.clear();
        s.always = None;
        s.service_latency.clear();
    }

    /// From now on, CloudFormation's reads of a stack in `model` are answered from it (faults do not apply).
    pub fn answer_from(&self, model: &crate::cfn_model::CfnModel) {
        self.state.lock().unwrap().cfn_model = Some(model.clone());
    }

    /// Where a fault adds latency to a call of `service` (`dynamodb`, as its SigV4 scope names it), it adds `d`.
    pub fn latency_for(&self, service: &str, d: Duration) {
        self.state.lock().unwrap().service_latency.insert(service.to_string(), d);
    }

    /// From now on, IAM writes behave as IAM's do: each holds its role or instance profile for `write_time`, and
    /// a write to an entity another write holds is answered 409 `ConcurrentModification`.
    pub fn behave_like_iam(&self, write_time: Duration) {
        self.state.lock().unwrap().iam_write_time = Some(write_time);
    }

    /// Another writer changes `entity` (`role:NAME`, `instance-profile:NAME`) for `d`: the function's writes to it
    /// meanwhile are refused with 409 `ConcurrentModification` (with `behave_like_iam` on).
    pub fn busy_for(&self, entity: &str, d: Duration) {
        *self.state.lock().unwrap().busy.entry(entity.to_string()).or_default() += 1;
        let (state, entity) = (self.state.clone(), entity.to_string());
        tokio::spawn(async move {
            tokio::time::sleep(d).await;
            drop(Holds(state, entity));
        });
    }

    /// The next requests of `operation` (e.g. `iam:AttachRolePolicy`) get these faults, in order.
    /// Every request of `operation` whose body contains `needle` gets `fault` (e.g. AssumeRole into one account).
    pub fn fail_when(&self, operation: &str, needle: &str, fault: Fault) {
        self.state.lock().unwrap().by_body.push((operation.to_string(), needle.to_string(), fault));
    }

    pub fn fail_operation(&self, operation: &str, faults: Vec<Fault>) {
        self.state.lock().unwrap().by_operation.insert(operation.to_string(), faults.into());
    }

    /// From now on, IAM reads lag behind writes by `lag`: within it, a read of a role or instance profile written
    /// since answers what it answered before that write (if it was read before; otherwise it passes).
    pub fn eventually_consistent(&self, lag: Duration) {
        self.state.lock().unwrap().read_lag = Some(lag);
    }

    /// How many reads were answered with what they said before a recent write.
    pub fn stale_answers(&self) -> usize {
        self.state.lock().unwrap().stale_answers
    }

    /// The IAM writes refused as concurrent so far (`Operation Entity`).
    pub fn conflicts(&self) -> Vec<String> {
        self.state.lock().unwrap().conflicts.clone()
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

    /// Every call that reached the proxy, in order of arrival.
    pub fn recorded(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().recorded.clone()
    }

    /// What IAM's answers showed of roles and instance profiles.
    pub fn seen(&self) -> Seen {
        self.state.lock().unwrap().seen.clone()
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

/// A parameter of a query-protocol body (`Action=…&RoleName=…`), as sent.
fn form_param(body: &[u8], name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    String::from_utf8_lossy(body).split('&').find_map(|kv| kv.strip_prefix(prefix.as_str()).map(str::to_string))
}

/// The role or instance profile an IAM write changes (`None` for reads and for other services).
fn iam_write_entity(service: &str, operation: &str, body: &[u8]) -> Option<String> {
    let op = operation.strip_prefix("iam:").filter(|_| service == "iam")?;
    if ["Get", "List", "Simulate", "Generate"].iter().any(|p| op.starts_with(p)) {
        return None;
    }
    let profile = op.contains("InstanceProfile");
    let entity = form_param(body, if profile { "InstanceProfileName" } else { "RoleName" })?;
    Some(format!("{}:{entity}", if profile { "instance-profile" } else { "role" }))
}

/// The role or instance profile an IAM read is about, as `Operation entity` (`None` for other requests).
fn iam_read_key(service: &str, operation: &str, body: &[u8]) -> Option<(String, String)> {
    let op = operation.strip_prefix("iam:").filter(|_| service == "iam")?;
    let entity = match op {
        "GetRole" | "ListAttachedRolePolicies" | "ListInstanceProfilesForRole" | "ListRolePolicies" => {
            format!("role:{}", form_param(body, "RoleName")?)
        }
        "GetInstanceProfile" => format!("instance-profile:{}", form_param(body, "InstanceProfileName")?),
        _ => return None,
    };
    Some((format!("{op} {entity}"), entity))
}

/// Every entity whose reads an IAM write changes: the role or profile it writes, and for a profile's membership
/// also the role (its `ListInstanceProfilesForRole`).
fn iam_written_entities(write_entity: &str, body: &[u8]) -> Vec<String> {
    let mut out = vec![write_entity.to_string()];
    if write_entity.starts_with("instance-profile:") {
        out.extend(form_param(body, "RoleName").map(|role| format!("role:{role}")));
    }
    out
}

/// `Service:Operation`, from DynamoDB's `x-amz-target` or the query protocol's `Action=` (IAM, STS,
/// CloudFormation, EventBridge's target header too).
fn operation(service: &str, headers: &std::collections::BTreeMap<String, String>, body: &[u8]) -> String {
    let op = match headers.get("x-amz-target") {
        Some(t) => t.rsplit('.').next().unwrap_or(t).to_string(),
        None => form_param(body, "Action").unwrap_or_else(|| "?".into()),
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
    let model = {
        let mut s = state.lock().unwrap();
        s.recorded.push(Recorded {
            service: service.clone(),
            operation: operation.clone(),
            body: request.body.clone(),
        });
        s.cfn_model.clone()
    };
    if let Some(answer) =
        model.filter(|_| service == "cloudformation").and_then(|m| m.answer(&operation, &request.body))
    {
        // Counted as a round trip like any other, and as slow as the script makes every call (no other fault).
        let latency = {
            let mut s = state.lock().unwrap();
            s.requests += 1;
            *s.by_service.entry(service.clone()).or_default() += 1;
            if s.in_flight == 0 {
                s.waves += 1;
            }
            s.in_flight += 1;
            match s.always {
                Some(Fault::Latency(d)) => Some(s.service_latency.get(&service).copied().unwrap_or(d)),
                _ => None,
            }
        };
        let done = InFlight(state.clone());
        if let Some(d) = latency {
            tokio::time::sleep(d).await;
        }
        let _ = sock.write_all(&answer).await;
        drop(done);
        let end = started.elapsed();
        state.lock().unwrap().timeline.push(Span { operation, start: arrived, end, upstream: Duration::ZERO });
        return;
    }
    let write_entity = iam_write_entity(&service, &operation, &request.body);
    let written = write_entity.as_deref().map(|e| iam_written_entities(e, &request.body)).unwrap_or_default();
    let read_key = iam_read_key(&service, &operation, &request.body);
    let mut request = request.raw;
    // One request per connection keeps the proxy simple; the SDK opens another.
    if let Some(i) = request.windows(4).position(|w| w == b"\r\n\r\n") {
        request.splice(i + 2..i + 2, b"connection: close\r\n".iter().copied());
    }
    let fault = {
        let mut s = state.lock().unwrap();
        s.requests += 1;
        *s.by_service.entry(service.clone()).or_default() += 1;
        if s.in_flight == 0 {
            s.waves += 1;
        }
        s.in_flight += 1;
        let body = String::from_utf8_lossy(&request);
        let by_body = s
            .by_body
            .iter()
            .find(|(op, needle, _)| *op == operation && body.contains(needle.as_str()))
            .map(|(_, _, f)| *f);
        let by_operation = by_body.or_else(|| s.by_operation.get_mut(&operation).and_then(VecDeque::pop_front));
        let f = match by_operation {
            Some(f) => Some(f),
            None => match s.script.pop_front() {
                Some(f) => f,
                None => s.always,
            },
        };
        let f = match (f, s.service_latency.get(&service)) {
            (Some(Fault::Latency(_)), Some(d)) => Some(Fault::Latency(*d)),
            (f, _) => f,
        };
        if f.is_some() {
            s.faulted += 1;
        }
        f
    };
    // IAM's concurrency: a write to an entity another write holds is refused; otherwise it holds the entity.
    let mut fault = fault;
    let mut holds = None;
    if let (None, Some(entity)) = (fault, &write_entity) {
        let mut s = state.lock().unwrap();
        if let Some(write_time) = s.iam_write_time {
            if s.busy.get(entity).is_some_and(|n| *n > 0) {
                s.conflicts.push(format!("{} {entity}", operation.trim_start_matches("iam:")));
                fault = Some(Fault::ConcurrentModification);
            } else {
                *s.busy.entry(entity.clone()).or_default() += 1;
                holds = Some((entity.clone(), write_time));
            }
        }
    }
    let _held = holds.as_ref().map(|(entity, _)| Holds(state.clone(), entity.clone()));
    if let Some((_, write_time)) = holds {
        tokio::time::sleep(write_time).await;
    }
    let done = InFlight(state.clone());
    let mut upstream = Duration::ZERO;
    // IAM's lag: a read of an entity written within the lag answers as before the write.
    let unborn =
        if fault.is_none() && !operation.starts_with("iam:Create") { just_made(&state, &written) } else { None };
    if let Some(entity) = unborn {
        let msg = match entity.split_once(':') {
            Some(("role", name)) => format!("The role with name {name} cannot be found."),
            Some((_, name)) => format!("Instance Profile {name} cannot be found."),
            None => entity.clone(),
        };
        let _ = sock.write_all(&iam_error(404, "NoSuchEntity", &msg)).await;
        state.lock().unwrap().stale_answers += 1;
        return;
    }
    let stale = read_key.as_ref().filter(|_| fault.is_none()).and_then(|(key, entity)| {
        let mut s = state.lock().unwrap();
        let lag = s.read_lag?;
        let recent = s.written_at.get(entity).is_some_and(|t| t.elapsed() < lag);
        let answer = recent.then(|| s.settled_reads.get(key).cloned()).flatten();
        s.stale_answers += usize::from(answer.is_some());
        answer
    });
    match fault {
        None if stale.is_some() => {
            let _ = sock.write_all(&stale.unwrap()).await;
        }
        None => {
            let t = std::time::Instant::now();
            if let Some(resp) = forward(&request, upstream_port).await {
                upstream = t.elapsed();
                remember(&state, &operation, read_key.as_ref(), &written, &resp);
                if service == "iam" {
                    state.lock().unwrap().seen.note(&resp);
                }
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
                if service == "iam" {
                    state.lock().unwrap().seen.note(&resp);
                }
                let _ = sock.write_all(&resp).await;
            }
        }
        Some(Fault::Reset) => reset(sock),
        Some(Fault::LoseResponse) => {
            let _ = forward(&request, upstream_port).await;
            reset(sock);
        }
        Some(Fault::Hang) => held.lock().unwrap().push(sock),
        Some(Fault::ConcurrentModification) => {
            let tagging = operation.contains("Tag");
            let msg = if tagging {
                "The previous tagging operation is still ongoing"
            } else {
                "Multiple requests to change this object were submitted simultaneously"
            };
            let _ = sock.write_all(&iam_error(409, "ConcurrentModification", msg)).await;
        }
        Some(Fault::NoSuchEntity) => {
            let _ = sock.write_all(&iam_error(404, "NoSuchEntity", "The role cannot be found.")).await;
        }
        Some(Fault::Unmodifiable) => {
            let msg = "The entity cannot be modified at this time";
            let _ = sock.write_all(&iam_error(409, "EntityTemporarilyUnmodifiable", msg)).await;
        }
    }
    let end = started.elapsed();
    state.lock().unwrap().timeline.push(Span { operation, start: arrived, end, upstream });
    drop(done);
}

/// With `eventually_consistent` on: the first of `entities` made within the lag, which IAM cannot find yet.
fn just_made(state: &Mutex<State>, entities: &[String]) -> Option<String> {
    let s = state.lock().unwrap();
    let lag = s.read_lag?;
    entities.iter().find(|e| s.created_at.get(*e).is_some_and(|t| t.elapsed() < lag)).cloned()
}

/// With `eventually_consistent` on: a read answered while its entity was settled is what a later read within the
/// lag gets; a successful write starts its entities' lag.
fn remember(
    state: &Mutex<State>,
    operation: &str,
    read_key: Option<&(String, String)>,
    written: &[String],
    resp: &[u8],
) {
    let mut s = state.lock().unwrap();
    let Some(lag) = s.read_lag else { return };
    if let Some((key, entity)) = read_key {
        if s.written_at.get(entity).is_none_or(|t| t.elapsed() >= lag) {
            s.settled_reads.insert(key.clone(), resp.to_vec());
        }
    }
    if resp.starts_with(b"HTTP/1.1 200") || resp.starts_with(b"HTTP/1.0 200") {
        for e in written {
            s.written_at.insert(e.clone(), std::time::Instant::now());
        }
        if matches!(operation, "iam:CreateRole" | "iam:CreateInstanceProfile") {
            if let Some(made) = written.first() {
                s.created_at.insert(made.clone(), std::time::Instant::now());
            }
        }
    }
}

/// Releases an entity an IAM write held when its handling ends, however it ends.
struct Holds(Arc<Mutex<State>>, String);

impl Drop for Holds {
    fn drop(&mut self) {
        let mut s = self.0.lock().unwrap();
        if let Some(n) = s.busy.get_mut(&self.1) {
            *n = n.saturating_sub(1);
        }
    }
}

/// Counts a request out of flight when its handling ends, however it ends.
struct InFlight(Arc<Mutex<State>>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut s = self.0.lock().unwrap();
        s.in_flight = s.in_flight.saturating_sub(1);
    }
}
