//! Processes and ports: the repository's paths, free loopback ports, child processes stopped by pid, and who
//! listens on a port (`/proc`), so a test only ever talks to the server it started.

use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;

/// The repository's root (this crate is one folder below it).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("the repository root").to_path_buf()
}

/// The function's binary as the running test's build made it: nextest names it; otherwise it sits beside the
/// `deps` folder that holds the test executable.
pub fn guard_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("NEXTEST_BIN_EXE_eks-node-role-guard") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("the test executable");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    profile_dir.join("eks-node-role-guard")
}

pub fn venv_bin(name: &str) -> PathBuf {
    let p = repo().join(".venv/bin").join(name);
    assert!(p.exists(), "{} is missing: run scripts/setup.sh first", p.display());
    p
}

pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0").expect("bind a free port").local_addr().unwrap().port()
}

/// A child process killed (by pid) and reaped when dropped.
pub struct Guarded(pub Child);

impl Drop for Guarded {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a server on a free loopback port and waits until it (not another test's server that took the same port
/// meanwhile) accepts connections; another port is tried if it exits first or someone else holds the port.
pub(crate) fn spawn_listening(what: &str, wait: Duration, command: impl Fn(u16) -> Command) -> (u16, Guarded) {
    for _ in 0..8 {
        let port = free_port();
        let child = command(port).stdout(Stdio::null()).stderr(Stdio::null()).spawn();
        let mut guard = Guarded(child.unwrap_or_else(|e| panic!("start {what}: {e}")));
        let started = Instant::now();
        while started.elapsed() < wait {
            if let Ok(Some(_)) = guard.0.try_wait() {
                break;
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                match listener_owner(port, guard.0.id()) {
                    PortOwner::Ours | PortOwner::Unknown => return (port, guard),
                    PortOwner::Theirs => break,
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    panic!("{what} did not start");
}

#[derive(Debug, PartialEq, Eq)]
pub enum PortOwner {
    Ours,
    Theirs,
    Unknown,
}

/// Who listens on `port`: the process `pid` (or one it started), another process, or unknown (no /proc).
pub fn listener_owner(port: u16, pid: u32) -> PortOwner {
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else { return PortOwner::Unknown };
    let wanted = format!(":{port:04X}");
    // sl local_address rem_address st ... inode: a LISTEN (0A) socket on our port.
    let inode = table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() > 9 && f[1].ends_with(&wanted) && f[3] == "0A").then(|| f[9].to_string())
    });
    let Some(inode) = inode else { return PortOwner::Unknown };
    let socket = format!("socket:[{inode}]");
    let mut family = vec![pid];
    if let Ok(procs) = std::fs::read_dir("/proc") {
        for p in procs.flatten() {
            let Ok(stat) = std::fs::read_to_string(p.path().join("stat")) else { continue };
            // pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
            let ppid = stat.rsplit(')').next().and_then(|r| r.split_whitespace().nth(1)).and_then(|v| v.parse().ok());
            if ppid == Some(pid) {
                family.extend(p.file_name().to_str().and_then(|n| n.parse::<u32>().ok()));
            }
        }
    }
    let holds = |p: u32| {
        std::fs::read_dir(format!("/proc/{p}/fd"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == socket))
    };
    if family.into_iter().any(holds) {
        PortOwner::Ours
    } else {
        PortOwner::Theirs
    }
}

/// A TCP server that accepts connections and never answers: an IAM that hangs.
pub struct HangingServer {
    pub port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl HangingServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((sock, _)) = listener.accept().await {
                held.push(sock);
            }
        });
        HangingServer { port, task }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for HangingServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
