//! moto: one server per test on a free port, SDK clients for it, and the resources the function needs there.
//!
//! A server comes from the fork server (`moto_forkserver.py`, started by `scripts/test.sh`, named by
//! `MOTO_FORKSERVER`) in ~20 ms, warmed and empty; without it, `moto_server` is started, which takes ~1.5 s.

use std::process::Command;
use std::time::Duration;

use aws_sdk_iam::config::{Credentials, Region};
use eks_node_role_guard::iam::{http_client, CallCounter, IamSettings};
use serde_json::{json, Value};

use crate::*;

/// A moto server with the AWS managed policies loaded, on a free loopback port, stopped by pid when dropped.
pub struct Moto {
    pub port: u16,
    process: MotoProcess,
}

enum MotoProcess {
    /// Started here: our child.
    Child(Guarded),
    /// Forked by the fork server (which reaps it): killed by pid.
    Forked(u32),
}

impl Drop for MotoProcess {
    fn drop(&mut self) {
        if let MotoProcess::Forked(pid) = self {
            // SAFETY: kill(2) with a pid the fork server reported for this test alone, and a valid signal.
            unsafe { libc::kill(*pid as libc::pid_t, libc::SIGKILL) };
        }
    }
}

impl Moto {
    pub fn start() -> Moto {
        if let Some(socket) = std::env::var_os("MOTO_FORKSERVER") {
            match Moto::forked(std::path::Path::new(&socket)) {
                Ok(moto) => return moto,
                Err(e) => eprintln!(
                    "the moto fork server ({}) gave no server ({e}): starting moto_server",
                    socket.to_string_lossy()
                ),
            }
        }
        let (port, child) = spawn_listening("moto_server", Duration::from_secs(20), |port| {
            let mut c = Command::new(venv_bin("moto_server"));
            c.args(["-H", "127.0.0.1", "-p", &port.to_string()]).env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true");
            c
        });
        Moto { port, process: MotoProcess::Child(child) }
    }

    /// A fresh server from the fork server: this process's pid in, the server's pid and port out.
    fn forked(socket: &std::path::Path) -> std::io::Result<Moto> {
        use std::io::{BufRead, Write};
        let mut conn = std::os::unix::net::UnixStream::connect(socket)?;
        conn.set_read_timeout(Some(Duration::from_secs(10)))?;
        writeln!(conn, "{}", std::process::id())?;
        let mut line = String::new();
        std::io::BufReader::new(conn).read_line(&mut line)?;
        let reply: Value = serde_json::from_str(&line).map_err(std::io::Error::other)?;
        let (Some(pid), Some(port)) = (reply["pid"].as_u64(), reply["port"].as_u64()) else {
            return Err(std::io::Error::other(format!("unexpected reply {line:?}")));
        };
        let moto = Moto { port: port as u16, process: MotoProcess::Forked(pid as u32) };
        match listener_owner(moto.port, moto.pid()) {
            PortOwner::Theirs => Err(std::io::Error::other(format!("port {port} is not held by pid {pid}"))),
            PortOwner::Ours | PortOwner::Unknown => Ok(moto),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        match &self.process {
            MotoProcess::Child(c) => c.0.id(),
            MotoProcess::Forked(pid) => *pid,
        }
    }

    pub fn client(&self) -> aws_sdk_iam::Client {
        client_for(&self.endpoint(), &IamSettings::default(), None)
    }
}

pub fn client_for(endpoint: &str, settings: &IamSettings, counter: Option<CallCounter>) -> aws_sdk_iam::Client {
    let mut b = aws_sdk_iam::Config::builder()
        .behavior_version_latest()
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .http_client(http_client())
        .retry_config(settings.retry_config())
        .timeout_config(settings.timeout_config());
    if let Some(c) = counter {
        b = b.interceptor(c);
    }
    aws_sdk_iam::Client::from_conf(b.build())
}

/// Clients of every moto service the tests touch, signed for us-east-1 with dummy credentials.
pub fn shared_config(endpoint: &str) -> aws_config::SdkConfig {
    shared_config_with(endpoint, &IamSettings::default())
}

/// The same with the given retries and timeouts (e.g. short ones in front of a fault proxy).
pub fn shared_config_with(endpoint: &str, settings: &IamSettings) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .retry_config(settings.retry_config())
        .timeout_config(settings.timeout_config())
        .behavior_version(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_iam::config::SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "tests",
        )))
        .http_client(http_client())
        .build()
}

/// The state table as the template defines it: one String partition key `pk`, on demand.
pub async fn create_state_table(endpoint: &str, name: &str) {
    use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
    let ddb = aws_sdk_dynamodb::Client::new(&shared_config(endpoint));
    ddb.create_table()
        .table_name(name)
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().unwrap())
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create the state table");
}

/// A Lambda function in moto for stacks to name as ServiceToken (moto cannot run it: it only has to exist).
pub async fn create_function(endpoint: &str) {
    let shared = shared_config(endpoint);
    let iam = aws_sdk_iam::Client::new(&shared);
    let trust = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]});
    let role = iam
        .create_role()
        .role_name(OWN_ROLE)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .expect("create the function's role")
        .role
        .unwrap()
        .arn;
    let lambda = aws_sdk_lambda::Client::new(&shared);
    lambda
        .create_function()
        .function_name("eks-node-role-guard")
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .role(role)
        .handler("bootstrap")
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_smithy_types::Blob::new(stored_zip("bootstrap", b"#!/bin/sh\n")))
                .build(),
        )
        .send()
        .await
        .expect("create the moto function");
}

/// A zip archive holding one uncompressed file.
pub(crate) fn stored_zip(name: &str, data: &[u8]) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut c = !0u32;
        for &b in data {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 { (c >> 1) ^ 0xEDB8_8320 } else { c >> 1 };
            }
        }
        !c
    }
    let (crc, size, n) = (crc32(data), data.len() as u32, name.len() as u16);
    let mut z = Vec::new();
    let header = |z: &mut Vec<u8>, sig: u32, central: bool| {
        z.extend(sig.to_le_bytes());
        if central {
            z.extend(20u16.to_le_bytes());
        }
        z.extend([20u16, 0, 0, 0, 0].iter().flat_map(|v| v.to_le_bytes()));
        z.extend(crc.to_le_bytes());
        z.extend(size.to_le_bytes());
        z.extend(size.to_le_bytes());
        z.extend(n.to_le_bytes());
        z.extend(0u16.to_le_bytes());
        if central {
            z.extend([0u16, 0, 0].iter().flat_map(|v| v.to_le_bytes()));
            z.extend(0o100755u32.wrapping_shl(16).to_le_bytes());
            z.extend(0u32.to_le_bytes());
        }
        z.extend(name.as_bytes());
    };
    header(&mut z, 0x0403_4b50, false);
    z.extend(data);
    let central_at = z.len() as u32;
    header(&mut z, 0x0201_4b50, true);
    let central_len = z.len() as u32 - central_at;
    z.extend(0x0605_4b50u32.to_le_bytes());
    z.extend([0u16, 0, 1, 1].iter().flat_map(|v| v.to_le_bytes()));
    z.extend(central_len.to_le_bytes());
    z.extend(central_at.to_le_bytes());
    z.extend(0u16.to_le_bytes());
    z
}

/// What the function needs in a fresh moto: the state table, and a Lambda function for stacks to name.
pub async fn prepare(endpoint: &str) {
    tokio::join!(create_state_table(endpoint, TABLE), create_function(endpoint));
}

/// A moto CloudFormation stack holding `Custom::EksNodeRole` resources under the given logical ids. It stays
/// CREATE_IN_PROGRESS (moto cannot invoke the function) until a response is PUT to moto's own ResponseURL.
pub async fn create_stack(endpoint: &str, name: &str, logical_ids: &[&str]) -> String {
    let resources: serde_json::Map<String, Value> = logical_ids
        .iter()
        .map(|l| (l.to_string(), json!({"Type": "Custom::EksNodeRole", "Properties": {"ServiceToken": FUNCTION_ARN}})))
        .collect();
    let cfn = aws_sdk_cloudformation::Client::new(&shared_config(endpoint));
    cfn.create_stack()
        .stack_name(name)
        .template_body(json!({"Resources": resources}).to_string())
        .send()
        .await
        .expect("create the moto stack")
        .stack_id
        .unwrap()
}

/// moto's own ResponseURL for a stack: a PUT there completes the stack.
pub fn moto_response_url(endpoint: &str, stack_id: &str) -> String {
    format!("{endpoint}/cloudformation_us-east-1/cfnresponse?stack={stack_id}")
}
