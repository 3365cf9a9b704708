//! omnigate's own DriveWealth credentials (SPEC §6, §8, `[upstream.auth]`): a bearer token from
//! `POST /back-office/auth/tokens` (`{clientID, clientSecret}` → `{access_token, expires_in}`,
//! `expires_in` a string of seconds), kept until shortly before it expires and renewed then, or
//! at once after a 401. The secret and the tokens are sensitive header values and never reach a
//! log, a dump, the audit trail or an error message.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE, HOST};
use http::{Method, Request};
use serde::Deserialize;

use super::Upstream;

/// A token is renewed this long before DriveWealth says it expires (or at half its life, for a
/// token shorter-lived than twice this).
const RENEW_BEFORE: Duration = Duration::from_secs(60);
/// The longest a token is kept, whatever DriveWealth says.
const LIFETIME_MAX_S: u64 = 86_400;
/// Largest token answer read.
const ANSWER_BYTES_MAX: usize = 64 * 1024;

pub struct Tokens {
    client_id: String,
    client_secret: String,
    app_key: HeaderValue,
    current: parking_lot::Mutex<Option<Token>>,
    /// One renewal at a time: callers that find the token stale wait for it.
    renewing: tokio::sync::Mutex<()>,
}

#[derive(Clone)]
struct Token {
    authorization: HeaderValue,
    renew_at: Instant,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    /// A string of seconds at DriveWealth; a number is read too.
    expires_in: serde_json::Value,
}

impl Tokens {
    pub fn new(client_id: String, client_secret: String, app_key: &str) -> Result<Tokens, String> {
        let mut app_key = HeaderValue::from_str(app_key)
            .map_err(|_| "upstream.auth.app_key: not a valid header value".to_owned())?;
        app_key.set_sensitive(true);
        Ok(Tokens {
            client_id,
            client_secret,
            app_key,
            current: parking_lot::Mutex::new(None),
            renewing: tokio::sync::Mutex::new(()),
        })
    }

    pub fn app_key(&self) -> HeaderValue {
        self.app_key.clone()
    }

    /// The `authorization` value to send now: the current token, or a new one.
    pub async fn authorization(&self, upstream: &Upstream) -> Result<HeaderValue, String> {
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        let _renewing = self.renewing.lock().await;
        // Renewed by another caller while this one waited.
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        let token = self.request_token(upstream).await;
        metrics::counter!(
            "omnigate_upstream_auth_renewals_total",
            "result" => if token.is_ok() { "ok" } else { "failed" }
        )
        .increment(1);
        let token = token.inspect_err(|error| {
            tracing::warn!(path = "/back-office/auth/tokens", %error, "DriveWealth token not renewed");
        })?;
        *self.current.lock() = Some(token.clone());
        Ok(token.authorization)
    }

    /// Forgets the token (DriveWealth answered 401 with it): the next call renews.
    pub fn invalidate(&self, sent: &HeaderValue) {
        let mut current = self.current.lock();
        if current
            .as_ref()
            .is_some_and(|token| token.authorization == sent)
        {
            *current = None;
        }
    }

    fn fresh(&self) -> Option<HeaderValue> {
        let current = self.current.lock();
        let token = current.as_ref()?;
        (Instant::now() < token.renew_at).then(|| token.authorization.clone())
    }

    async fn request_token(&self, upstream: &Upstream) -> Result<Token, String> {
        let body = serde_json::json!({
            "clientID": self.client_id,
            "clientSecret": self.client_secret,
        })
        .to_string();
        let path = http::uri::PathAndQuery::from_static("/back-office/auth/tokens");
        let uri = upstream
            .base()
            .uri_for(Some(&path))
            .map_err(|error| error.to_string())?;
        let request = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(HOST, upstream.base().authority().as_str())
            .header(CONTENT_TYPE, "application/json")
            .header("dw-client-app-key", self.app_key.clone())
            .body(super::full(Bytes::from(body)))
            .map_err(|error| error.to_string())?;
        let started = Instant::now();
        let response = upstream
            .send(request)
            .await
            .map_err(|error| error.to_string())?;
        if !response.status().is_success() {
            return Err(format!("status {}", response.status()));
        }
        let bytes = upstream.read_body(response, ANSWER_BYTES_MAX).await?;
        // Not quoted back: the answer holds the token.
        let answer: TokenAnswer = serde_json::from_slice(&bytes)
            .map_err(|_| "the token answer is not {access_token, expires_in}".to_owned())?;
        let seconds = match &answer.expires_in {
            serde_json::Value::String(text) => text.trim().parse::<u64>().ok(),
            serde_json::Value::Number(number) => number.as_u64(),
            _ => None,
        }
        .filter(|seconds| *seconds > 0)
        .ok_or_else(|| "expires_in is not a positive number of seconds".to_owned())?;
        // Capped at a day: a token is renewed at least that often whatever the answer says (and
        // an absurd `expires_in` cannot overflow the clock).
        let lifetime = Duration::from_secs(seconds.min(LIFETIME_MAX_S));
        let renew_after = if lifetime > RENEW_BEFORE * 2 {
            lifetime - RENEW_BEFORE
        } else {
            lifetime / 2
        };
        let mut authorization =
            HeaderValue::from_str(&format!("Bearer {}", answer.access_token))
                .map_err(|_| "the access token is not a valid header value".to_owned())?;
        authorization.set_sensitive(true);
        Ok(Token {
            authorization,
            renew_at: started
                .checked_add(renew_after)
                .unwrap_or_else(Instant::now),
        })
    }
}
