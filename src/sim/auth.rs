//! DriveWealth's authentication, simulated (SPEC §9): `POST /back-office/auth/tokens` issues a
//! Bearer token that lives `simulator.token_ttl_s`, and with `simulator.require_auth` every
//! other DriveWealth path needs a live one and a `dw-client-app-key`, as DriveWealth does — so a
//! real DriveWealth client library, which authenticates first, can run against the simulator,
//! and omnigate's own token renewal can be rehearsed against expiry.
//!
//! Any non-empty `clientID` and `clientSecret` are taken: the simulator checks the shape of the
//! exchange, not who the partner is.

use chrono::{DateTime, Utc};
use dashmap::DashMap;
use http::HeaderMap;
use serde::Deserialize;

use super::wire::ApiError;
use crate::config::SimulatorConfig;
use crate::json_out::JsonObject;

/// Live tokens kept at most; expired ones are swept out when the map reaches it.
const TOKENS_MAX: usize = 100_000;

/// The tokens issued, and whether they are required.
pub struct Tokens {
    required: bool,
    ttl_s: u64,
    /// Token → when it expires.
    live: DashMap<String, DateTime<Utc>>,
}

impl Tokens {
    pub fn new(config: &SimulatorConfig) -> Tokens {
        Tokens {
            required: config.require_auth,
            ttl_s: config.token_ttl_s,
            live: DashMap::new(),
        }
    }

    /// `POST /back-office/auth/tokens` `{clientID, clientSecret}`: DriveWealth's answer, with
    /// `expires_in` a string as DriveWealth sends it.
    pub fn issue(&self, body: &[u8], now: DateTime<Utc>) -> Result<String, ApiError> {
        #[derive(Deserialize)]
        struct Credentials {
            #[serde(rename = "clientID")]
            client_id: Option<String>,
            #[serde(rename = "clientSecret")]
            client_secret: Option<String>,
        }
        let credentials: Credentials = serde_json::from_slice(body)
            .map_err(|error| ApiError::invalid("body", "OBJECT", error.to_string()))?;
        for (field, value) in [
            ("clientID", &credentials.client_id),
            ("clientSecret", &credentials.client_secret),
        ] {
            if value.as_deref().is_none_or(|value| value.trim().is_empty()) {
                return Err(ApiError::invalid(
                    field,
                    "STRING",
                    format!("{field} is required"),
                ));
            }
        }
        if self.live.len() >= TOKENS_MAX {
            self.live.retain(|_, expires| *expires > now);
            if self.live.len() >= TOKENS_MAX {
                return Err(ApiError::unavailable(
                    "too many live tokens; try again later",
                ));
            }
        }
        let mut bytes = [0u8; 24];
        getrandom::getrandom(&mut bytes)
            .map_err(|error| ApiError::unavailable(format!("cannot make a token: {error}")))?;
        let token: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        let expires = now + chrono::Duration::seconds(self.ttl_s as i64);
        self.live.insert(token.clone(), expires);
        let mut answer = JsonObject::new();
        answer
            .string("token_type", "Bearer")
            .string("expires_in", &self.ttl_s.to_string())
            .string("access_token", &token)
            .string("scope", "all_trading");
        Ok(answer.finish())
    }

    /// With `require_auth`: a live Bearer token and an app key, else DriveWealth's 401.
    pub fn check(&self, headers: &HeaderMap, now: DateTime<Utc>) -> Result<(), ApiError> {
        if !self.required {
            return Ok(());
        }
        let app_key = headers
            .get("dw-client-app-key")
            .is_some_and(|value| !value.as_bytes().is_empty());
        if !app_key {
            return Err(unauthorized("dw-client-app-key is missing"));
        }
        let token = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or_else(|| unauthorized("Authorization: Bearer <access_token> is missing"))?;
        match self.live.get(token).map(|expires| *expires) {
            Some(expires) if expires > now => Ok(()),
            Some(_) => {
                self.live.remove(token);
                Err(unauthorized("the access token has expired"))
            }
            None => Err(unauthorized("the access token is not valid")),
        }
    }
}

fn unauthorized(why: &str) -> ApiError {
    ApiError::plain(401, "E401", format!("Unauthorized: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(required: bool) -> Tokens {
        Tokens::new(&SimulatorConfig {
            require_auth: required,
            token_ttl_s: 60,
            ..SimulatorConfig::default()
        })
    }

    fn headers(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("dw-client-app-key", "app".parse().unwrap());
        headers.insert(
            http::header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        headers
    }

    #[test]
    fn a_token_lives_its_ttl_and_needs_an_app_key() {
        let issued = tokens(true);
        let now: DateTime<Utc> = "2026-12-01T15:00:00Z".parse().unwrap();
        let answer: serde_json::Value = serde_json::from_str(
            &issued
                .issue(br#"{"clientID":"partner","clientSecret":"s3cret"}"#, now)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(answer["token_type"], "Bearer");
        assert_eq!(
            answer["expires_in"], "60",
            "a string, as DriveWealth sends it"
        );
        let token = answer["access_token"].as_str().unwrap();
        assert!(issued.check(&headers(token), now).is_ok());
        let mut no_key = headers(token);
        no_key.remove("dw-client-app-key");
        assert_eq!(issued.check(&no_key, now).unwrap_err().status, 401);
        assert_eq!(
            issued.check(&headers("made-up"), now).unwrap_err().status,
            401
        );
        let later = now + chrono::Duration::seconds(60);
        let expired = issued.check(&headers(token), later).unwrap_err();
        assert!(expired.message.contains("expired"), "{expired:?}");
        assert_eq!(
            issued.check(&HeaderMap::new(), now).unwrap_err().status,
            401
        );
        assert!(tokens(false).check(&HeaderMap::new(), now).is_ok());
    }

    #[test]
    fn both_credentials_are_required() {
        let issued = tokens(true);
        let now: DateTime<Utc> = "2026-12-01T15:00:00Z".parse().unwrap();
        for body in [
            &br#"{"clientID":"partner"}"#[..],
            br#"{"clientID":" ","clientSecret":"x"}"#,
            br#"[1]"#,
        ] {
            assert_eq!(issued.issue(body, now).unwrap_err().status, 400);
        }
    }
}
