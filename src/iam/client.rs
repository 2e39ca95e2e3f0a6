//! The SDK configuration every client shares (IAM, DynamoDB, CloudFormation, STS, EventBridge): lean rustls
//! (ring) HTTPS, standard retries tuned for IAM throttling, attempt timeouts, and the call counter tests read.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Retry and timeout settings of every AWS client (`IAM_MAX_ATTEMPTS`, `IAM_INITIAL_BACKOFF_MS`,
/// `IAM_ATTEMPT_TIMEOUT_MS`: `settings.rs`).
#[derive(Debug, Clone)]
pub struct IamSettings {
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub attempt_timeout: Duration,
}

impl Default for IamSettings {
    fn default() -> Self {
        IamSettings {
            max_attempts: 6,
            initial_backoff: Duration::from_millis(200),
            attempt_timeout: Duration::from_secs(10),
        }
    }
}

impl IamSettings {
    /// Standard retry mode: throttling (an unmodelled 400 `Throttling`), 5xx and timeouts are retried.
    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(self.max_attempts)
            .with_initial_backoff(self.initial_backoff)
            .with_max_backoff(Duration::from_secs(5))
    }

    pub fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3))
            .operation_attempt_timeout(self.attempt_timeout)
            .build()
    }
}

/// Counts HTTP attempts sent to IAM (retries included): the "IAM calls per operation" figure.
#[derive(Debug, Clone, Default)]
pub struct CallCounter(Arc<AtomicU64>);

impl CallCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }
    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// The HTTPS client: rustls with ring, no OpenSSL, no aws-lc.
pub fn http_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// The configuration every client shares: credentials, region and `AWS_ENDPOINT_URL` from the environment as
/// usual, the lean HTTPS client, standard retries and timeouts. Loaded once per process.
pub async fn shared_config(settings: &IamSettings) -> aws_config::SdkConfig {
    let shared = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .retry_config(settings.retry_config())
        .timeout_config(settings.timeout_config())
        .load()
        .await;
    if shared.region().is_none() {
        // IAM is global; the SDK still wants a region to sign with.
        return shared.into_builder().region(Region::new("us-east-1")).build();
    }
    shared
}

/// The IAM client from the shared configuration, optionally counting its calls.
pub fn client_from(shared: &aws_config::SdkConfig, counter: Option<CallCounter>) -> aws_sdk_iam::Client {
    let mut builder = aws_sdk_iam::config::Builder::from(shared);
    if let Some(c) = counter {
        builder = builder.interceptor(c);
    }
    aws_sdk_iam::Client::from_conf(builder.build())
}

/// The IAM client alone.
pub async fn build_client(settings: &IamSettings, counter: Option<CallCounter>) -> aws_sdk_iam::Client {
    client_from(&shared_config(settings).await, counter)
}
