//! The built function: the cargo-lambda Runtime API emulator, the binary running against it, and invocations.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::*;

/// The roles for which the function's logs carry EMF records of `metric`, in order.
pub fn emitted(logs: &str, metric: &str) -> Vec<String> {
    logs.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("_aws").is_some() && v.get(metric).is_some())
        .map(|v| v["RoleName"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The cargo-lambda Runtime API emulator on a free loopback port.
pub struct Emulator {
    pub port: u16,
    _child: Guarded,
}

impl Emulator {
    pub fn start() -> Emulator {
        let (port, child) = spawn_listening("cargo lambda watch", Duration::from_secs(30), |port| {
            let mut c = Command::new(venv_bin("cargo-lambda"));
            c.args(["lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1", "-P", &port.to_string()])
                .current_dir(repo());
            c
        });
        Emulator { port, _child: child }
    }

    pub fn runtime_api(&self) -> String {
        format!("http://127.0.0.1:{}/.rt", self.port)
    }
}

/// The built binary running as a Lambda function against a Runtime API, its logs kept in a file.
pub struct Function {
    pub log: PathBuf,
    /// The settings it was given (its environment, less the runtime's and the credentials).
    pub env: std::collections::BTreeMap<String, String>,
    _child: Guarded,
}

impl Function {
    pub fn start(runtime_api: &str, iam_endpoint: &str, extra_env: &[(&str, &str)]) -> Function {
        Self::start_binary(&guard_binary(), runtime_api, iam_endpoint, extra_env)
    }

    pub fn start_binary(
        binary: &std::path::Path,
        runtime_api: &str,
        iam_endpoint: &str,
        extra_env: &[(&str, &str)],
    ) -> Function {
        let log = std::env::temp_dir().join(format!("eks-node-role-guard-{}-{}.log", std::process::id(), uuidish()));
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(binary);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            // As the template sets it: the emulator's deadline (600 s) is not the function's timeout.
            .env("FUNCTION_TIMEOUT_SECONDS", "120")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/eks-node-role-guard")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/29/[$LATEST]local")
            .env("AWS_ENDPOINT_URL", iam_endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("ALLOW_INSECURE_RESPONSE_URL", "true")
            .env("STATE_TABLE_NAME", TABLE)
            .env("ADOPTABLE_ROLE_NAMES", ADOPTABLE)
            .env("GUARD_EXECUTION_ROLE_NAME", OWN_ROLE)
            .env("ALLOWED_PERMISSIONS_BOUNDARY_ARNS", format!("arn:aws:iam::aws:policy/{BOUNDARY}"))
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        let mut env: std::collections::BTreeMap<String, String> = [
            ("STATE_TABLE_NAME", TABLE.to_string()),
            ("ADOPTABLE_ROLE_NAMES", ADOPTABLE.to_string()),
            ("GUARD_EXECUTION_ROLE_NAME", OWN_ROLE.to_string()),
            ("ALLOWED_PERMISSIONS_BOUNDARY_ARNS", format!("arn:aws:iam::aws:policy/{BOUNDARY}")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for (k, v) in extra_env {
            cmd.env(k, v);
            env.insert(k.to_string(), v.to_string());
        }
        Function { log, env, _child: Guarded(cmd.spawn().expect("start the function binary")) }
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self._child.0.id()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self._child.0.try_wait(), Ok(None))
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.log);
    }
}

/// POSTs an invocation the way `cargo lambda invoke` does and returns the function's answer.
pub async fn invoke(port: u16, payload: &[u8]) -> Value {
    use http_body_util::{BodyExt, Full};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<bytes::Bytes>>();
    let req = hyper::Request::post(format!("http://127.0.0.1:{port}/2015-03-31/functions/_/invocations"))
        .header("content-type", "application/json")
        .body(Full::new(bytes::Bytes::copy_from_slice(payload)))
        .unwrap();
    let resp =
        tokio::time::timeout(Duration::from_secs(120), client.request(req)).await.expect("invoke answered").unwrap();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).to_string()))
}
