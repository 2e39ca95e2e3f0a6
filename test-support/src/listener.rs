//! The ResponseURL: a real HTTP/1.1 listener that records every PUT and answers as scripted.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::*;

/// One PUT as the ResponseURL listener received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// The status the listener answered with.
    pub status: u16,
    pub method: String,
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("response body is JSON")
    }
}

/// A real HTTP/1.1 listener on loopback that records every request and answers with scripted statuses
/// (then 200).
#[derive(Clone)]
pub struct ResponseListener {
    pub port: u16,
    pub received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<Vec<u16>>>,
    delay: Arc<Mutex<Duration>>,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl ResponseListener {
    pub async fn start() -> Self {
        Self::with_statuses(&[]).await
    }

    /// Answers with these statuses first, in order, then 200.
    pub async fn with_statuses(statuses: &[u16]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(statuses.to_vec()));
        let delay = Arc::new(Mutex::new(Duration::ZERO));
        let (r, s, d) = (received.clone(), script.clone(), delay.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let (r, s, d) = (r.clone(), s.clone(), d.clone());
                tokio::spawn(async move {
                    let Some(req) = http::read_request(&mut sock).await else { return };
                    let pause = *d.lock().unwrap();
                    tokio::time::sleep(pause).await;
                    let status = {
                        let mut s = s.lock().unwrap();
                        if s.is_empty() {
                            200
                        } else {
                            s.remove(0)
                        }
                    };
                    let (method, path) = req.method_and_path();
                    r.lock().unwrap().push(Received {
                        status,
                        method: method.to_string(),
                        path: path.to_string(),
                        headers: req.headers(),
                        body: req.body.clone(),
                        at: Instant::now(),
                    });
                    let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                    let _ = sock.write_all(reply.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        ResponseListener { port, received, script, delay, task: Arc::new(task) }
    }

    /// Answers every later request only after `d`.
    pub fn slow(&self, d: Duration) {
        *self.delay.lock().unwrap() = d;
    }

    /// Answers the next requests with these statuses first.
    pub fn fail_next(&self, statuses: &[u16]) {
        *self.script.lock().unwrap() = statuses.to_vec();
    }

    /// Requests answered 2xx: what CloudFormation would have accepted.
    pub fn accepted(&self) -> Vec<Received> {
        self.all().into_iter().filter(|r| r.status < 300).collect()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/cfn-response?X-Amz-Signature=secret-signature", self.port)
    }

    pub fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Successful deliveries (the scripted failures excluded).
    pub fn count(&self) -> usize {
        self.all().len()
    }

    pub fn last(&self) -> Value {
        self.all().last().expect("a response was received").json()
    }
}

impl Drop for ResponseListener {
    fn drop(&mut self) {
        if Arc::strong_count(&self.task) == 1 {
            self.task.abort();
        }
    }
}

/// PUTs a response body the way the function does (empty content type), e.g. to moto's ResponseURL.
pub async fn put_response(url: &str, body: &Value) {
    use http_body_util::{BodyExt, Full};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<bytes::Bytes>>();
    let req = hyper::Request::put(url)
        .header("content-type", "")
        .body(Full::new(bytes::Bytes::from(body.to_string())))
        .unwrap();
    let resp = client.request(req).await.expect("PUT the response");
    let status = resp.status();
    let _ = resp.into_body().collect().await;
    assert!(status.is_success(), "PUT {url}: {status}");
}
