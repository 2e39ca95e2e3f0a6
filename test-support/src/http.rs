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
    read_message(sock, false).await
}

/// One HTTP/1.1 message: the head, then the body by its Content-Length. Without a length (or chunked), a
/// request has no body and a response (`to_close`) runs until the connection closes.
pub async fn read_message(sock: &mut TcpStream, to_close: bool) -> Option<RawRequest> {
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
    let lower = head.to_ascii_lowercase();
    let len: Option<usize> =
        lower.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok());
    if to_close && (len.is_none() || lower.contains("transfer-encoding: chunked")) {
        sock.read_to_end(&mut raw).await.ok()?;
    } else {
        while raw.len() < head_end + len.unwrap_or(0) {
            let n = sock.read(&mut tmp).await.ok()?;
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&tmp[..n]);
        }
    }
    Some(RawRequest { head, body: raw[head_end..].to_vec(), raw })
}
