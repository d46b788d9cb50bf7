//! `--command-config FILE`: a `client.properties` file as Kafka's own tools take it
//! (`kafka-topics.sh --command-config`), turned into librdkafka settings.
//!
//! Most client properties have the same name in the Java client and in librdkafka and
//! pass through unchanged (`security.protocol`, `sasl.mechanism`, `ssl.keystore.location`,
//! timeouts, ...). The Java-only ones such a file usually carries are translated:
//!
//! - `sasl.jaas.config` with the PLAIN or SCRAM login module becomes `sasl.username`
//!   and `sasl.password`;
//! - a PEM trust store (`ssl.truststore.type=PEM`) becomes `ssl.ca.location` or
//!   `ssl.ca.pem`; a PEM key store becomes `ssl.certificate.location` and
//!   `ssl.key.location` (or the `.pem` forms); a PKCS#12 key store keeps its names;
//! - an empty `ssl.endpoint.identification.algorithm` (Java's way to turn host-name
//!   checks off) becomes `none`.
//!
//! What librdkafka cannot take (a JKS store, another login module, a property it does
//! not know) stops the program at start with the file, the line and what to do instead.

use std::collections::BTreeMap;
use std::path::Path;

use java_properties::{LineContent, PropertiesIter};

use crate::error::RuntimeError;
use crate::kafka::property_problem;

/// What a `client.properties` file sets, in the runtime's terms.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CommandConfig {
    /// `bootstrap.servers`, used when no flag or variable gives the servers.
    pub bootstrap_servers: Option<String>,
    /// From `sasl.username` or the JAAS login module's `username`.
    pub sasl_username: Option<String>,
    /// From `sasl.password` or the JAAS login module's `password`.
    pub sasl_password: Option<String>,
    /// Every other property, as librdkafka names it, in the file's order.
    pub properties: Vec<(String, String)>,
}

/// One property of the file and the line it came from.
struct Entry {
    line: usize,
    key: String,
    value: String,
}

const JAAS: &str = "sasl.jaas.config";
const PLAIN_MODULE: &str = "org.apache.kafka.common.security.plain.PlainLoginModule";
const SCRAM_MODULE: &str = "org.apache.kafka.common.security.scram.ScramLoginModule";

/// Reads and translates the file at `path`.
pub fn load(path: &Path) -> Result<CommandConfig, RuntimeError> {
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|error| {
        RuntimeError::Config(format!("--command-config {shown}: cannot read it: {error}"))
    })?;
    let mut entries = Vec::new();
    for line in PropertiesIter::new(std::io::BufReader::new(file)) {
        let line = line.map_err(|error| {
            RuntimeError::Config(format!(
                "--command-config {shown}: not a properties file: {error}"
            ))
        })?;
        let number = line.line_number();
        if let LineContent::KVPair(key, value) = line.consume_content() {
            entries.push(Entry {
                line: number,
                key,
                value,
            });
        }
    }
    translate(entries)
        .map_err(|problem| RuntimeError::Config(format!("--command-config {shown}: {problem}")))
}

/// The settings the file's entries make, or what is wrong with them.
fn translate(entries: Vec<Entry>) -> Result<CommandConfig, String> {
    let mut config = CommandConfig::default();
    // Trust and key store properties only mean something together; the last line of
    // each name wins, as in `java.util.Properties`.
    let mut stores: BTreeMap<&'static str, Entry> = BTreeMap::new();
    for entry in entries {
        let value = entry.value.trim().to_owned();
        match entry.key.as_str() {
            "bootstrap.servers" => config.bootstrap_servers = Some(value),
            "sasl.username" => config.sasl_username = Some(value),
            "sasl.password" => config.sasl_password = Some(value),
            JAAS => {
                let (user, password) = jaas_credentials(&value)
                    .map_err(|problem| format!("line {}: {JAAS}: {problem}", entry.line))?;
                config.sasl_username = Some(user);
                config.sasl_password = Some(password);
            }
            "ssl.endpoint.identification.algorithm" if value.is_empty() => config
                .properties
                .push((entry.key.clone(), "none".to_owned())),
            key => {
                if let Some(name) = STORE_PROPERTIES.iter().find(|name| **name == key) {
                    stores.insert(*name, entry);
                    continue;
                }
                if let Some(problem) = property_problem(key, &value) {
                    return Err(format!("line {}: {problem}", entry.line));
                }
                config.properties.push((entry.key, value));
            }
        }
    }
    config.properties.extend(translate_stores(&stores)?);
    Ok(config)
}

/// The Java client's trust and key store properties, translated together.
const STORE_PROPERTIES: &[&str] = &[
    "ssl.truststore.type",
    "ssl.truststore.location",
    "ssl.truststore.password",
    "ssl.truststore.certificates",
    "ssl.keystore.type",
    "ssl.keystore.location",
    "ssl.keystore.password",
    "ssl.keystore.certificate.chain",
    "ssl.keystore.key",
    "ssl.key.password",
];

fn translate_stores(stores: &BTreeMap<&str, Entry>) -> Result<Vec<(String, String)>, String> {
    let value = |name: &str| stores.get(name).map(|entry| entry.value.trim().to_owned());
    let mut out = Vec::new();
    let mut set = |name: &str, value: String| out.push((name.to_owned(), value));

    // The trust store: the CA certificates that sign the brokers' certificates.
    let trust_type = value("ssl.truststore.type").unwrap_or_else(|| "JKS".into());
    let trust_location = value("ssl.truststore.location");
    let trust_pem = value("ssl.truststore.certificates");
    if trust_location.is_some() || trust_pem.is_some() {
        if !trust_type.eq_ignore_ascii_case("PEM") {
            return Err(format!(
                "ssl.truststore.type {trust_type}: librdkafka reads trusted certificates as PEM \
                 only; export them (keytool -exportcert -rfc, or openssl pkcs12 -nokeys) and set \
                 ssl.truststore.type=PEM"
            ));
        }
        if let Some(location) = trust_location {
            set("ssl.ca.location", location);
        }
        if let Some(pem) = trust_pem {
            set("ssl.ca.pem", pem);
        }
    }

    // The key store: this client's own certificate and key (mutual TLS).
    let key_type = value("ssl.keystore.type").unwrap_or_else(|| "JKS".into());
    let key_location = value("ssl.keystore.location");
    let key_chain = value("ssl.keystore.certificate.chain");
    let key_pem = value("ssl.keystore.key");
    if key_location.is_some() || key_chain.is_some() || key_pem.is_some() {
        if key_type.eq_ignore_ascii_case("PEM") {
            if let Some(location) = key_location {
                set("ssl.certificate.location", location.clone());
                set("ssl.key.location", location);
            }
            if let Some(chain) = key_chain {
                set("ssl.certificate.pem", chain);
            }
            if let Some(key) = key_pem {
                set("ssl.key.pem", key);
            }
        } else if let (true, Some(location)) =
            (key_type.eq_ignore_ascii_case("PKCS12"), key_location)
        {
            set("ssl.keystore.location", location);
            if let Some(password) = value("ssl.keystore.password") {
                set("ssl.keystore.password", password);
            }
        } else {
            return Err(format!(
                "ssl.keystore.type {key_type}: librdkafka reads a key store as PKCS12 or PEM \
                 only; convert it (keytool -importkeystore -deststoretype PKCS12) and set \
                 ssl.keystore.type"
            ));
        }
    }
    if let Some(password) = value("ssl.key.password") {
        set("ssl.key.password", password);
    }
    Ok(out)
}

/// The user name and password of a `sasl.jaas.config` value with the PLAIN or SCRAM
/// login module: `<module> required username="..." password="...";`. Problems never
/// quote the value, which holds the password.
fn jaas_credentials(value: &str) -> Result<(String, String), String> {
    let mut tokens = JaasTokens { rest: value };
    let module = tokens.word().ok_or("empty")?;
    if module != PLAIN_MODULE && module != SCRAM_MODULE {
        return Err(format!(
            "login module {module} has no librdkafka equivalent here; only the PLAIN and \
             SCRAM modules translate (for OAUTHBEARER or GSSAPI, set librdkafka's \
             sasl.oauthbearer.* or sasl.kerberos.* properties with --kafka-config)"
        ));
    }
    match tokens.word() {
        Some("required" | "requisite" | "sufficient" | "optional") => {}
        _ => return Err("the login module needs a control flag such as `required`".into()),
    }
    let mut options = BTreeMap::new();
    loop {
        tokens.skip_space();
        if tokens.rest.starts_with(';') {
            tokens.rest = &tokens.rest[1..];
            break;
        }
        let name = tokens
            .option_name()
            .ok_or("expected name=\"value\" options ending with ';'")?;
        if !tokens.rest.starts_with('=') {
            return Err(format!("option {name} has no value"));
        }
        tokens.rest = &tokens.rest[1..];
        let value = tokens
            .value()
            .ok_or_else(|| format!("option {name} has an unterminated value"))?;
        options.insert(name.to_owned(), value);
    }
    tokens.skip_space();
    if !tokens.rest.is_empty() {
        return Err("one login module only: more text follows its ';'".into());
    }
    match (options.remove("username"), options.remove("password")) {
        (Some(user), Some(password)) => Ok((user, password)),
        _ => Err("the login module needs both username and password options".into()),
    }
}

/// A cursor over a JAAS configuration entry.
struct JaasTokens<'a> {
    rest: &'a str,
}

impl<'a> JaasTokens<'a> {
    fn skip_space(&mut self) {
        self.rest = self.rest.trim_start();
    }

    /// The next run of characters up to white space or `;`.
    fn word(&mut self) -> Option<&'a str> {
        self.skip_space();
        let end = self
            .rest
            .find(|c: char| c.is_whitespace() || c == ';')
            .unwrap_or(self.rest.len());
        let (word, rest) = self.rest.split_at(end);
        self.rest = rest;
        (!word.is_empty()).then_some(word)
    }

    /// The next option name, up to `=`.
    fn option_name(&mut self) -> Option<&'a str> {
        self.skip_space();
        let end = self
            .rest
            .find(|c: char| c == '=' || c.is_whitespace() || c == ';')?;
        let (word, rest) = self.rest.split_at(end);
        self.rest = rest.trim_start();
        (!word.is_empty()).then_some(word)
    }

    /// A value: double-quoted with backslash escapes, or a bare word.
    fn value(&mut self) -> Option<String> {
        self.skip_space();
        let Some(quoted) = self.rest.strip_prefix('"') else {
            return self.word().map(str::to_owned);
        };
        let mut out = String::new();
        let mut chars = quoted.char_indices();
        while let Some((at, c)) = chars.next() {
            match c {
                '"' => {
                    self.rest = &quoted[at + 1..];
                    return Some(out);
                }
                '\\' => out.push(chars.next()?.1),
                c => out.push(c),
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(text: &str) -> Vec<Entry> {
        text.lines()
            .enumerate()
            .filter_map(|(at, line)| {
                let (key, value) = line.split_once('=')?;
                Some(Entry {
                    line: at + 1,
                    key: key.trim().to_owned(),
                    value: value.trim().to_owned(),
                })
            })
            .collect()
    }

    #[test]
    fn a_java_scram_file_becomes_librdkafka_settings() {
        let config = translate(entries(
            "bootstrap.servers=broker:9093\n\
             security.protocol=SASL_SSL\n\
             sasl.mechanism=SCRAM-SHA-256\n\
             sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \
             username=\"orders\" password=\"p;a\\\"ss\";\n\
             ssl.truststore.type=PEM\n\
             ssl.truststore.location=/etc/kafka/ca.crt\n\
             ssl.endpoint.identification.algorithm=\n\
             request.timeout.ms=20000",
        ))
        .unwrap();
        assert_eq!(config.bootstrap_servers.as_deref(), Some("broker:9093"));
        assert_eq!(config.sasl_username.as_deref(), Some("orders"));
        assert_eq!(config.sasl_password.as_deref(), Some("p;a\"ss"));
        let properties: Vec<_> = config
            .properties
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            properties,
            [
                "security.protocol=SASL_SSL",
                "sasl.mechanism=SCRAM-SHA-256",
                "ssl.endpoint.identification.algorithm=none",
                "request.timeout.ms=20000",
                "ssl.ca.location=/etc/kafka/ca.crt",
            ]
        );
    }

    #[test]
    fn plain_login_and_librdkafka_names_both_work() {
        let plain = translate(entries(
            "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule \
             required username=u password=p ;",
        ))
        .unwrap();
        assert_eq!(
            (plain.sasl_username, plain.sasl_password),
            (Some("u".into()), Some("p".into()))
        );
        let native = translate(entries(
            "sasl.username=u\nsasl.password=p\nsasl.mechanisms=PLAIN\nssl.ca.location=/ca.pem",
        ))
        .unwrap();
        assert_eq!(native.sasl_username.as_deref(), Some("u"));
        assert_eq!(native.properties.len(), 2);
    }

    #[test]
    fn key_stores_translate_by_type() {
        let pem = translate(entries(
            "ssl.keystore.type=PEM\nssl.keystore.location=/me.pem\nssl.key.password=k",
        ))
        .unwrap();
        assert_eq!(
            pem.properties,
            [
                ("ssl.certificate.location".to_owned(), "/me.pem".to_owned()),
                ("ssl.key.location".into(), "/me.pem".into()),
                ("ssl.key.password".into(), "k".into()),
            ]
        );
        let pkcs12 = translate(entries(
            "ssl.keystore.type=PKCS12\nssl.keystore.location=/me.p12\nssl.keystore.password=s",
        ))
        .unwrap();
        assert_eq!(
            pkcs12.properties,
            [
                ("ssl.keystore.location".to_owned(), "/me.p12".to_owned()),
                ("ssl.keystore.password".into(), "s".into()),
            ]
        );
    }

    #[test]
    fn what_librdkafka_cannot_take_is_refused_with_what_to_do() {
        let refused = |text: &str| translate(entries(text)).unwrap_err();
        let jks = refused("ssl.truststore.location=/ts.jks\nssl.truststore.password=changeit");
        assert!(
            jks.contains("ssl.truststore.type JKS") && jks.contains("PEM"),
            "{jks}"
        );
        let keystore = refused("ssl.keystore.location=/ks.jks");
        assert!(keystore.contains("PKCS12"), "{keystore}");
        let module = refused(
            "sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule \
             required;",
        );
        assert!(
            module.contains("line 1") && module.contains("OAUTHBEARER"),
            "{module}"
        );
        let secret = "hunter2";
        for broken in [
            format!("{SCRAM_MODULE} username=\"u\" password=\"{secret}\";"),
            format!("{SCRAM_MODULE} required username=\"u\" password=\"{secret};"),
            format!("{SCRAM_MODULE} required password=\"{secret}\";"),
            format!("{SCRAM_MODULE} required username=u password={secret}; more"),
        ] {
            let problem = refused(&format!("{JAAS}={broken}"));
            assert!(!problem.contains(secret), "{problem}");
        }
        let unknown = refused("security.protocol=SASL_SSL\nkey.serializer=org.Foo");
        assert!(
            unknown.contains("line 2") && unknown.contains("key.serializer"),
            "{unknown}"
        );
    }

    #[test]
    fn a_real_properties_file_is_read_with_java_rules() {
        let dir = std::env::temp_dir().join(format!("command-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("client.properties");
        std::fs::write(
            &path,
            "# from kafka-topics.sh --command-config\n\
             ! a comment too\n\
             security.protocol : SASL_PLAINTEXT\n\
             sasl.mechanism SCRAM-SHA-512\n\
             sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule \\\n\
             \x20   required username=\"orders\" password=\"secret\";\n",
        )
        .unwrap();
        let config = load(&path).unwrap();
        assert_eq!(config.sasl_username.as_deref(), Some("orders"));
        assert_eq!(
            config.properties,
            [
                ("security.protocol".to_owned(), "SASL_PLAINTEXT".to_owned()),
                ("sasl.mechanism".into(), "SCRAM-SHA-512".into()),
            ]
        );
        let missing = load(&dir.join("absent.properties"))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("absent.properties"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
