//! Optional bearer-token authentication of the event endpoints.

use std::path::Path;

use anyhow::Context;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use subtle::ConstantTimeEq;

/// The token clients must send as `Authorization: Bearer <token>`. Never printed: its
/// `Debug` is redacted and nothing logs a request's headers.
pub struct BearerToken(Vec<u8>);

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

impl BearerToken {
    /// The token in `path` (a mounted Secret), without surrounding whitespace.
    pub fn read(path: &Path) -> anyhow::Result<BearerToken> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("--auth-token-file {}", path.display()))?;
        BearerToken::new(text.trim())
            .with_context(|| format!("--auth-token-file {}", path.display()))
    }

    /// `token`; an empty one is refused (it would admit `Bearer ` with nothing after it).
    pub fn new(token: &str) -> anyhow::Result<BearerToken> {
        anyhow::ensure!(!token.is_empty(), "the token is empty");
        Ok(BearerToken(token.as_bytes().to_vec()))
    }

    /// Whether `headers` carry this token. The comparison takes the same time wherever
    /// the tokens differ, so response times do not reveal a prefix of the token.
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get(AUTHORIZATION) else {
            return false;
        };
        let value = value.as_bytes();
        let Some((scheme, given)) = value.split_at_checked(7) else {
            return false;
        };
        scheme.eq_ignore_ascii_case(b"bearer ") && bool::from(given.ct_eq(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn only_the_exact_token_after_bearer_is_admitted() {
        let token = BearerToken::new("s3cret").unwrap();
        assert!(token.admits(&with("Bearer s3cret")));
        assert!(token.admits(&with("bearer s3cret")));
        assert!(!token.admits(&with("Bearer s3cre")));
        assert!(!token.admits(&with("Bearer s3cret2")));
        assert!(!token.admits(&with("Basic s3cret")));
        assert!(!token.admits(&with("Bearer")));
        assert!(!token.admits(&HeaderMap::new()));
        assert!(BearerToken::new("").is_err());
        assert!(!format!("{token:?}").contains("s3cret"));
    }
}
