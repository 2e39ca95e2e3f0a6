//! A small Lambda Runtime API that hands out real, epoch-time deadlines (the cargo-lambda emulator sends a fixed
//! 600000), so the built binary's watchdog can be tested against a short deadline.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

/// What the function answered for one invocation.
#[derive(Debug, Clone)]
pub struct Answer {
    /// `response` or `error`.
    pub kind: String,
    pub body: Vec<u8>,
    pub at: Instant,
}

struct Pending {
    id: String,
    payload: Vec<u8>,
    deadline_ms: u64,
}

pub struct RuntimeStub {
    pub port: u16,
    queue: mpsc::UnboundedSender<Pending>,
    waiting: Arc<Mutex<HashMap<String, oneshot::Sender<Answer>>>>,
    /// When the function first asked for work: the end of its cold start.
    pub first_poll: Arc<Mutex<Option<Instant>>>,
    task: tokio::task::JoinHandle<()>,
    counter: Mutex<u64>,
}

impl RuntimeStub {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = mpsc::unbounded_channel::<Pending>();
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let waiting: Arc<Mutex<HashMap<String, oneshot::Sender<Answer>>>> = Arc::default();
        let first_poll: Arc<Mutex<Option<Instant>>> = Arc::default();
        let (w, fp) = (waiting.clone(), first_poll.clone());
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let (rx, w, fp) = (rx.clone(), w.clone(), fp.clone());
                tokio::spawn(async move { serve(sock, rx, w, fp).await });
            }
        });
        RuntimeStub { port, queue: tx, waiting, first_poll, task, counter: Mutex::new(0) }
    }

    /// `host:port`, as real Lambda sets `AWS_LAMBDA_RUNTIME_API` (no scheme).
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Queues an invocation whose deadline is `deadline_in` from now; resolves with the function's answer.
    pub fn invoke(&self, payload: &[u8], deadline_in: Duration) -> oneshot::Receiver<Answer> {
        let id = {
            let mut c = self.counter.lock().unwrap();
            *c += 1;
            format!("req-{c}")
        };
        let deadline_ms = (SystemTime::now() + deadline_in).duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let (tx, rx) = oneshot::channel();
        self.waiting.lock().unwrap().insert(id.clone(), tx);
        self.queue.send(Pending { id, payload: payload.to_vec(), deadline_ms }).unwrap();
        rx
    }
}

impl Drop for RuntimeStub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut sock: TcpStream,
    rx: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>>,
    waiting: Arc<Mutex<HashMap<String, oneshot::Sender<Answer>>>>,
    first_poll: Arc<Mutex<Option<Instant>>>,
) {
    let Some(req) = super::http::read_request(&mut sock).await else { return };
    let (method, path) = req.method_and_path();
    let (method, path) = (method.to_string(), path.to_string());
    let body = req.body;
    if method == "GET" && path.ends_with("/runtime/invocation/next") {
        first_poll.lock().unwrap().get_or_insert_with(Instant::now);
        let next = rx.lock().await.recv().await;
        let Some(p) = next else { return };
        let reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nlambda-runtime-aws-request-id: {}\r\nlambda-runtime-deadline-ms: {}\r\nlambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:eks-node-role-guard\r\nlambda-runtime-trace-id: Root=1-00000000-000000000000000000000000\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            p.id,
            p.deadline_ms,
            p.payload.len()
        );
        let _ = sock.write_all(reply.as_bytes()).await;
        let _ = sock.write_all(&p.payload).await;
        return;
    }
    let parts: Vec<&str> = path.split('/').collect();
    // /2018-06-01/runtime/invocation/{id}/response|error
    if method == "POST" && parts.len() >= 6 && parts[3] == "invocation" {
        if let Some(tx) = waiting.lock().unwrap().remove(parts[4]) {
            let _ = tx.send(Answer { kind: parts[5].to_string(), body, at: Instant::now() });
        }
    }
    let _ = sock.write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
}
