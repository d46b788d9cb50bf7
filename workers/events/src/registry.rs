//! A client of the Confluent Schema Registry API, as served by Confluent, Apicurio
//! (`/apis/ccompat/v7`), Karapace and Redpanda.
//!
//! The calls a serializer and a deserializer make: fetch a schema by id (with the
//! subjects and versions it references), look a schema up under a subject, fetch a
//! subject's latest version, and register a schema. Each request has a timeout;
//! connection failures, server errors and throttling are retried a few times with
//! backoff, then reported as [`CodecError::RegistryUnavailable`] (transient: the runtime
//! retries the message).

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use crate::error::CodecError;

/// How to reach a registry.
#[derive(Clone)]
pub struct RegistrySettings {
    /// Base URL, for example `http://registry:8081` or `http://apicurio:8080/apis/ccompat/v7`.
    pub url: String,
    /// Basic-auth user name and password.
    pub credentials: Option<(String, String)>,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
    /// Attempts per call before the registry counts as unavailable.
    pub attempts: u32,
}

impl std::fmt::Debug for RegistrySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrySettings")
            .field("url", &self.url)
            .field(
                "credentials",
                &self
                    .credentials
                    .as_ref()
                    .map(|(user, _)| (user, "<redacted>")),
            )
            .field("request_timeout", &self.request_timeout)
            .field("attempts", &self.attempts)
            .finish()
    }
}

impl RegistrySettings {
    /// Settings for `url` with default timeout (5 s) and attempts (3).
    pub fn new(url: impl Into<String>) -> RegistrySettings {
        RegistrySettings {
            url: url.into(),
            credentials: None,
            request_timeout: Duration::from_secs(5),
            attempts: 3,
        }
    }
}

/// A Confluent-compatible Schema Registry client.
#[derive(Debug, Clone)]
pub struct RegistryClient {
    settings: RegistrySettings,
    base: String,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct SchemaById {
    schema: String,
    #[serde(rename = "schemaType", default)]
    schema_type: Option<String>,
    #[serde(default)]
    references: Vec<SchemaReference>,
}

#[derive(Deserialize)]
struct Registered {
    id: u32,
}

/// A schema registered under a subject, as `GET /subjects/{subject}/versions/{version}`
/// and the lookup `POST /subjects/{subject}` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct SubjectSchema {
    /// The schema's global id.
    pub id: u32,
    /// The version under the subject.
    #[serde(default)]
    pub version: Option<i64>,
    /// The schema text.
    #[serde(default)]
    pub schema: String,
    /// `AVRO` when absent.
    #[serde(rename = "schemaType", default)]
    pub schema_type: Option<String>,
    /// Named types this schema uses from other subjects.
    #[serde(default)]
    pub references: Vec<SchemaReference>,
}

/// A Confluent schema reference: the schema registered as `version` of `subject`
/// defines the named type `name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
pub struct SchemaReference {
    /// For Avro, the full name of the referenced type.
    pub name: String,
    /// The subject the referenced schema is registered under.
    pub subject: String,
    /// Its version under that subject.
    pub version: i64,
}

/// A schema fetched by id: its text and the references it needs.
#[derive(Debug, Clone)]
pub struct FetchedSchema {
    /// The schema text.
    pub schema: String,
    /// Named types it uses from other subjects.
    pub references: Vec<SchemaReference>,
}

#[derive(Deserialize)]
struct RegistryErrorBody {
    error_code: Option<i64>,
    message: Option<String>,
}

/// Why a registration did not happen.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Refusal {
    /// The registry answered with a client error (401 or 403 for credentials that may
    /// not write, 409 for an incompatible schema, ...).
    #[error(
        "HTTP {status}{}: {message}",
        .code.map(|c| format!(" (error {c})")).unwrap_or_default()
    )]
    Refused {
        /// HTTP status.
        status: u16,
        /// The registry's error code (40301: not authorized to write).
        code: Option<i64>,
        /// The registry's message.
        message: String,
    },
    /// The registry could not be reached, or failed otherwise.
    #[error(transparent)]
    Failed(CodecError),
}

enum Failure {
    /// Worth retrying.
    Unavailable(String),
    /// The registry answered with a client error.
    Refused {
        status: u16,
        code: Option<i64>,
        message: String,
    },
}

impl RegistryClient {
    /// A client for `settings`; fails when the URL is not http(s).
    pub fn new(settings: RegistrySettings) -> Result<RegistryClient, String> {
        let parsed = reqwest::Url::parse(&settings.url)
            .map_err(|e| format!("--schema-registry-url '{}' is not a URL: {e}", settings.url))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!(
                "--schema-registry-url '{}' must start with http:// or https://",
                settings.url
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(settings.request_timeout)
            .connect_timeout(settings.request_timeout)
            .build()
            .map_err(|e| format!("cannot build the registry HTTP client: {e}"))?;
        let base = settings.url.trim_end_matches('/').to_owned();
        Ok(RegistryClient {
            settings,
            base,
            http,
        })
    }

    /// The schema registered under `id`, with the references it needs.
    pub async fn schema_by_id(&self, id: u32) -> Result<FetchedSchema, CodecError> {
        let url = format!("{}/schemas/ids/{id}", self.base);
        let body: SchemaById =
            self.call(|| self.http.get(&url))
                .await
                .map_err(|failure| match failure {
                    Failure::Refused {
                        status: 404,
                        message,
                        ..
                    } => CodecError::UnknownSchemaId {
                        id,
                        detail: message,
                    },
                    other => self.to_error(other, &format!("fetching schema id {id}")),
                })?;
        if let Some(kind) = body.schema_type.as_deref()
            && kind != "AVRO"
        {
            return Err(CodecError::UnknownSchemaId {
                id,
                detail: format!("schema {id} is {kind}, not AVRO"),
            });
        }
        Ok(FetchedSchema {
            schema: body.schema,
            references: body.references,
        })
    }

    /// Version `version` of `subject` (a referenced schema). `None` when the registry
    /// has no such subject or version.
    pub async fn subject_version(
        &self,
        subject: &str,
        version: i64,
    ) -> Result<Option<SubjectSchema>, CodecError> {
        self.version_of(subject, &version.to_string(), &format!("version {version}"))
            .await
    }

    /// The latest version of `subject`; `None` when the subject has none.
    pub async fn latest_version(&self, subject: &str) -> Result<Option<SubjectSchema>, CodecError> {
        self.version_of(subject, "latest", "the latest version")
            .await
    }

    /// `GET /subjects/{subject}/versions/{version}`, `version` a number or `latest`;
    /// `what` names the version in errors.
    async fn version_of(
        &self,
        subject: &str,
        version: &str,
        what: &str,
    ) -> Result<Option<SubjectSchema>, CodecError> {
        let url = format!(
            "{}/subjects/{}/versions/{version}",
            self.base,
            encode_path(subject)
        );
        self.optional(
            self.call(|| self.http.get(&url)).await,
            &format!("fetching {what} of subject {subject}"),
        )
    }

    /// The id `schema` has under `subject` (`POST /subjects/{subject}`, which reads
    /// and never writes); `None` when it is not registered there.
    pub async fn lookup(&self, subject: &str, schema: &str) -> Result<Option<u32>, CodecError> {
        let url = format!("{}/subjects/{}", self.base, encode_path(subject));
        let body = json!({ "schema": schema });
        let found = self.optional::<SubjectSchema>(
            self.call(|| self.http.post(&url).json(&body)).await,
            &format!("looking up the schema under subject {subject}"),
        )?;
        Ok(found.map(|s| s.id))
    }

    /// Registers `schema` under `subject` (or finds it already registered) and returns
    /// its id. Registration is idempotent on every compatible registry.
    pub async fn register(&self, subject: &str, schema: &str) -> Result<u32, Refusal> {
        let url = format!("{}/subjects/{}/versions", self.base, encode_path(subject));
        let body = json!({ "schema": schema });
        let registered: Registered = self
            .call(|| self.http.post(&url).json(&body))
            .await
            .map_err(|failure| match failure {
                Failure::Refused {
                    status,
                    code,
                    message,
                } => Refusal::Refused {
                    status,
                    code,
                    message,
                },
                other => {
                    Refusal::Failed(self.to_error(other, &format!("registering subject {subject}")))
                }
            })?;
        Ok(registered.id)
    }

    /// A 404 (unknown subject, version or schema) as `None`.
    fn optional<T>(&self, answer: Result<T, Failure>, what: &str) -> Result<Option<T>, CodecError> {
        match answer {
            Ok(found) => Ok(Some(found)),
            Err(Failure::Refused { status: 404, .. }) => Ok(None),
            Err(other) => Err(self.to_error(other, what)),
        }
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<T, Failure> {
        let mut delay = Duration::from_millis(100);
        let mut last = Failure::Unavailable("no attempt made".into());
        for attempt in 1..=self.settings.attempts.max(1) {
            if attempt > 1 {
                tokio::time::sleep(delay).await;
                delay *= 4;
            }
            let mut builder = request().header(
                "Accept",
                "application/vnd.schemaregistry.v1+json, application/json",
            );
            if let Some((user, password)) = &self.settings.credentials {
                builder = builder.basic_auth(user, Some(password));
            }
            match builder.send().await {
                Err(error) => last = Failure::Unavailable(without_url(&error)),
                Ok(response) => {
                    let status = response.status();
                    if status.is_success() {
                        return response.json::<T>().await.map_err(|e| Failure::Refused {
                            status: status.as_u16(),
                            code: None,
                            message: format!("unexpected response body: {}", without_url(&e)),
                        });
                    }
                    let text = response.text().await.unwrap_or_default();
                    let parsed: Option<RegistryErrorBody> = serde_json::from_str(&text).ok();
                    let code = parsed.as_ref().and_then(|b| b.error_code);
                    let message = parsed
                        .and_then(|b| b.message)
                        .unwrap_or_else(|| text.chars().take(200).collect());
                    if status.is_server_error() || status.as_u16() == 429 {
                        last = Failure::Unavailable(format!("HTTP {status}: {message}"));
                    } else {
                        return Err(Failure::Refused {
                            status: status.as_u16(),
                            code,
                            message,
                        });
                    }
                }
            }
        }
        Err(last)
    }

    fn to_error(&self, failure: Failure, what: &str) -> CodecError {
        match failure {
            Failure::Unavailable(reason) => CodecError::RegistryUnavailable(format!(
                "{what} at {} failed after {} attempts: {reason}",
                self.base, self.settings.attempts
            )),
            Failure::Refused {
                status,
                code,
                message,
            } => CodecError::RegistryRefused(format!(
                "{what}: HTTP {status}{}: {message}",
                code.map(|c| format!(" (error {c})")).unwrap_or_default()
            )),
        }
    }
}

/// reqwest errors print the URL, which may carry credentials: describe the failure by
/// its kind and its causes instead.
fn without_url(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_decode() {
        "could not decode the response"
    } else {
        "request failed"
    }
    .to_owned();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Percent-encodes a subject for a URL path segment.
fn encode_path(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
