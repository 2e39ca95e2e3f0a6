//! The little HTTP/1.1 the test servers need: read one request (head and body, by Content-Length).

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

pub struct RawRequest {
    /// Request line and headers, as sent.
    pub head: String,
    pub body: Vec<u8>,
    /// Everything as received (head and body).
    pub raw: Vec<u8>,
}

impl RawRequest {
    pub fn method_and_path(&self) -> (&str, &str) {
        let mut first = self.head.lines().next().unwrap_or("").split(' ');
        (first.next().unwrap_or(""), first.next().unwrap_or(""))
    }

    /// Headers with lower-case names.
    pub fn headers(&self) -> std::collections::BTreeMap<String, String> {
        self.head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect()
    }
}

pub async fn read_request(sock: &mut TcpStream) -> Option<RawRequest> {
    let mut raw = Vec::new();
    let mut tmp = [0u8; 8192];
    let head_end = loop {
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&tmp[..n]);
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
    let len: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while raw.len() < head_end + len {
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&tmp[..n]);
    }
    Some(RawRequest { head, body: raw[head_end..].to_vec(), raw })
}
