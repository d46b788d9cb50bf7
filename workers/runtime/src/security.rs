//! Security settings that cannot work, refused at start.
//!
//! librdkafka ignores settings that do not apply to the chosen `security.protocol`:
//! SASL credentials without a `SASL_*` protocol connect without authentication (a
//! warning in its log is all), TLS files without `SSL`/`SASL_SSL` connect in plaintext,
//! and a SASL mechanism without what it needs fails only once a broker answers, as a
//! transport error long after start. Each combination that cannot work stops the
//! worker at start with what to fix; none falls back to plaintext.

use rdkafka::config::ClientConfig;

/// TLS settings: meaningful only with `security.protocol` SSL or SASL_SSL.
const TLS_SETTINGS: &[&str] = &[
    "ssl.ca.location",
    "ssl.ca.pem",
    "ssl.certificate.location",
    "ssl.certificate.pem",
    "ssl.key.location",
    "ssl.key.pem",
    "ssl.key.password",
    "ssl.keystore.location",
    "ssl.keystore.password",
    "ssl.endpoint.identification.algorithm",
];

/// What is wrong with the security settings of one client's configuration, if
/// anything: the first problem found, saying what to set.
pub fn problem(config: &ClientConfig) -> Option<String> {
    let get = |key: &str| config.get(key).map(str::trim).filter(|v| !v.is_empty());
    let protocol = get("security.protocol")
        .unwrap_or("plaintext")
        .to_ascii_uppercase();
    let sasl = protocol.starts_with("SASL_");
    let tls = protocol == "SSL" || protocol == "SASL_SSL";
    let mechanism = get("sasl.mechanisms")
        .or_else(|| get("sasl.mechanism"))
        .map(str::to_ascii_uppercase);
    let (user, password) = (get("sasl.username"), get("sasl.password"));

    if !sasl && (user.is_some() || password.is_some() || mechanism.is_some()) {
        return Some(format!(
            "SASL settings are given (credentials or sasl.mechanism) but security.protocol is \
             {protocol}, which would connect without authentication: set \
             security.protocol=SASL_SSL (or SASL_PLAINTEXT) and sasl.mechanism"
        ));
    }
    if let Some(setting) = TLS_SETTINGS.iter().find(|key| get(key).is_some())
        && !tls
    {
        return Some(format!(
            "{setting} is set but security.protocol is {protocol}, which would connect \
             without TLS: set security.protocol=SSL (or SASL_SSL)"
        ));
    }
    let certificate = get("ssl.certificate.location").or(get("ssl.certificate.pem"));
    let key = get("ssl.key.location").or(get("ssl.key.pem"));
    if certificate.is_some() != key.is_some() {
        return Some(
            "a client certificate needs its private key and the other way round: set both \
             ssl.certificate.location and ssl.key.location (or their .pem forms)"
                .into(),
        );
    }
    if !sasl {
        return None;
    }
    let Some(mechanism) = mechanism else {
        return Some(format!(
            "security.protocol is {protocol} but sasl.mechanism is not set (librdkafka would \
             try GSSAPI/Kerberos): set sasl.mechanism to PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or \
             OAUTHBEARER"
        ));
    };
    match mechanism.as_str() {
        "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512" => match (user, password) {
            (Some(_), Some(_)) => None,
            _ => Some(format!(
                "sasl.mechanism {mechanism} needs a user name and a password: give \
                 --sasl-username and --sasl-password (or sasl.username and sasl.password)"
            )),
        },
        "OAUTHBEARER" => {
            if user.is_some() || password.is_some() {
                return Some(
                    "sasl.mechanism OAUTHBEARER does not use sasl.username or sasl.password: \
                     remove them, or choose a mechanism that does (PLAIN, SCRAM-SHA-256, \
                     SCRAM-SHA-512)"
                        .into(),
                );
            }
            let oidc =
                get("sasl.oauthbearer.method").is_some_and(|m| m.eq_ignore_ascii_case("oidc"));
            let unsecured = get("enable.sasl.oauthbearer.unsecure.jwt")
                .is_some_and(|v| v.eq_ignore_ascii_case("true"));
            if oidc {
                let missing: Vec<&str> = [
                    "sasl.oauthbearer.client.id",
                    "sasl.oauthbearer.client.secret",
                    "sasl.oauthbearer.token.endpoint.url",
                ]
                .into_iter()
                .filter(|key| get(key).is_none())
                .collect();
                (!missing.is_empty())
                    .then(|| format!("sasl.oauthbearer.method=oidc needs {}", missing.join(", ")))
            } else if unsecured {
                None
            } else {
                Some(
                    "sasl.mechanism OAUTHBEARER needs a way to get tokens: set \
                     sasl.oauthbearer.method=oidc with sasl.oauthbearer.client.id, \
                     sasl.oauthbearer.client.secret and sasl.oauthbearer.token.endpoint.url \
                     (enable.sasl.oauthbearer.unsecure.jwt=true is for development only)"
                        .into(),
                )
            }
        }
        "GSSAPI" => Some(
            "sasl.mechanism GSSAPI (Kerberos) is not supported by this build: use PLAIN, \
             SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"
                .into(),
        ),
        other => Some(format!(
            "sasl.mechanism {other} is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, \
             OAUTHBEARER"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(settings: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        for (key, value) in settings {
            config.set(*key, *value);
        }
        config
    }

    /// Each combination that cannot work, and a word its message must contain.
    #[test]
    fn settings_that_cannot_work_are_refused_naming_what_to_set() {
        let scram = [
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
        ];
        let refused: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (
                vec![("sasl.username", "u"), ("sasl.password", "p")],
                "security.protocol",
            ),
            (
                vec![
                    ("sasl.username", "u"),
                    ("sasl.password", "p"),
                    ("security.protocol", "SSL"),
                ],
                "SASL_SSL",
            ),
            (vec![("sasl.mechanism", "PLAIN")], "security.protocol"),
            (
                vec![
                    ("security.protocol", "SASL_SSL"),
                    ("sasl.username", "u"),
                    ("sasl.password", "p"),
                ],
                "sasl.mechanism",
            ),
            (scram.to_vec(), "--sasl-username"),
            ([&scram[..], &[("sasl.username", "u")]].concat(), "password"),
            (
                vec![
                    ("security.protocol", "SASL_SSL"),
                    ("sasl.mechanism", "GSSAPI"),
                ],
                "GSSAPI",
            ),
            (
                vec![
                    ("security.protocol", "SASL_SSL"),
                    ("sasl.mechanism", "MAGIC"),
                ],
                "MAGIC",
            ),
            (
                vec![("ssl.ca.location", "/ca.crt")],
                "security.protocol=SSL",
            ),
            (
                vec![
                    ("security.protocol", "SASL_PLAINTEXT"),
                    ("sasl.mechanism", "PLAIN"),
                    ("sasl.username", "u"),
                    ("sasl.password", "p"),
                    ("ssl.ca.location", "/ca.crt"),
                ],
                "without TLS",
            ),
            (
                vec![
                    ("security.protocol", "SSL"),
                    ("ssl.certificate.location", "/c.pem"),
                ],
                "ssl.key.location",
            ),
            (
                vec![("security.protocol", "SSL"), ("ssl.key.location", "/k.pem")],
                "ssl.certificate.location",
            ),
            (
                vec![
                    ("security.protocol", "SASL_SSL"),
                    ("sasl.mechanism", "OAUTHBEARER"),
                ],
                "oidc",
            ),
            (
                vec![
                    ("security.protocol", "SASL_SSL"),
                    ("sasl.mechanism", "OAUTHBEARER"),
                    ("sasl.oauthbearer.method", "oidc"),
                    ("sasl.oauthbearer.client.id", "c"),
                ],
                "client.secret",
            ),
            (
                vec![
                    ("security.protocol", "SASL_SSL"),
                    ("sasl.mechanism", "OAUTHBEARER"),
                    ("sasl.username", "u"),
                ],
                "does not use",
            ),
        ];
        for (settings, word) in refused {
            let problem = problem(&config(&settings));
            assert!(
                problem.as_deref().is_some_and(|p| p.contains(word)),
                "{settings:?}: {problem:?} should mention {word}"
            );
        }
    }

    #[test]
    fn settings_that_work_are_accepted() {
        let accepted: Vec<Vec<(&str, &str)>> = vec![
            vec![],
            vec![("security.protocol", "PLAINTEXT")],
            vec![("security.protocol", "SSL"), ("ssl.ca.location", "/ca.crt")],
            vec![
                ("security.protocol", "ssl"),
                ("ssl.certificate.location", "/c.pem"),
                ("ssl.key.location", "/k.pem"),
            ],
            vec![
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanism", "SCRAM-SHA-256"),
                ("sasl.username", "u"),
                ("sasl.password", "p"),
                ("ssl.ca.location", "/ca.crt"),
            ],
            vec![
                ("security.protocol", "SASL_PLAINTEXT"),
                ("sasl.mechanisms", "PLAIN"),
                ("sasl.username", "u"),
                ("sasl.password", "p"),
            ],
            vec![
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanism", "OAUTHBEARER"),
                ("sasl.oauthbearer.method", "oidc"),
                ("sasl.oauthbearer.client.id", "c"),
                ("sasl.oauthbearer.client.secret", "s"),
                ("sasl.oauthbearer.token.endpoint.url", "https://idp/token"),
            ],
            vec![
                ("security.protocol", "SASL_PLAINTEXT"),
                ("sasl.mechanism", "OAUTHBEARER"),
                ("enable.sasl.oauthbearer.unsecure.jwt", "true"),
            ],
        ];
        for settings in accepted {
            assert_eq!(problem(&config(&settings)), None, "{settings:?}");
        }
    }
}
