//! Signed webhooks: every engine event is POSTed as JSON to each configured
//! URL, signed with HMAC-SHA256 over the body, and retried with backoff
//! until the receiver answers 2xx or the attempts run out.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::Duration;
use switchboard::engine::EventClaims;
use switchboard::model::Event;
use tokio::sync::broadcast;

/// Sends after the first: 0.5 s, 1 s, 2 s, 4 s, 8 s apart.
const ATTEMPTS: u32 = 6;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// Where events go and the shared secret that signs them.
#[derive(Clone)]
pub struct Webhooks {
    pub urls: Vec<String>,
    pub secret: switchboard::vault::Secret,
}

/// `sha256=<hex>` of the body, as sent in `X-Switchboard-Signature`.
pub fn signature(secret: &str, body: &[u8]) -> Result<String, hmac::digest::InvalidLength> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())?;
    mac.update(body);
    Ok(format!(
        "sha256={}",
        hex::encode(mac.finalize().into_bytes())
    ))
}

/// Delivers events from `events` until the engine goes away: those this
/// node claims, so that of several nodes on one database, one delivers.
pub fn spawn(webhooks: Webhooks, mut events: broadcast::Receiver<Event>, claims: EventClaims) {
    switchboard::net::install_crypto();
    tokio::spawn(async move {
        let client = match reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
        {
            Ok(c) => c,
            Err(e) => return tracing::error!("webhooks disabled: {e}"),
        };
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "webhooks fell behind; events were dropped");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            match claims.claim(&event) {
                Ok(true) => {}
                Ok(false) => continue,
                // Not sent rather than perhaps sent twice.
                Err(e) => {
                    tracing::error!(event = %event.id, "a webhook is not sent: {e}");
                    continue;
                }
            }
            let body = serde_json::to_vec(&event).unwrap_or_default();
            let kind = serde_json::to_value(event.kind)
                .ok()
                .and_then(|k| k.as_str().map(str::to_owned))
                .unwrap_or_default();
            let delivery = event.id.clone();
            for url in &webhooks.urls {
                let (client, url, body, kind, delivery) = (
                    client.clone(),
                    url.clone(),
                    body.clone(),
                    kind.clone(),
                    delivery.clone(),
                );
                let signed = match signature(webhooks.secret.expose(), &body) {
                    Ok(signed) => signed,
                    Err(e) => {
                        tracing::error!("cannot sign a webhook: {e}");
                        continue;
                    }
                };
                // Each target retries on its own, so a slow one delays no other.
                tokio::spawn(async move {
                    deliver(&client, &url, body, &kind, &delivery, &signed).await
                });
            }
        }
    });
}

async fn deliver(
    client: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    kind: &str,
    delivery: &str,
    signed: &str,
) {
    // Logged by origin only: webhook URLs often carry a token in the path.
    let target = url::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| "(invalid URL)".to_owned());
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1..=ATTEMPTS {
        let sent = client
            .post(url)
            .header("content-type", "application/json")
            .header("x-switchboard-event", kind)
            .header("x-switchboard-delivery", delivery)
            .header("x-switchboard-signature", signed)
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => tracing::warn!(
                target,
                attempt,
                status = r.status().as_u16(),
                "webhook not accepted"
            ),
            Err(e) => tracing::warn!(
                target,
                attempt,
                "webhook not delivered: {}",
                e.without_url()
            ),
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }
    tracing::error!(
        target,
        delivery,
        "webhook given up after {ATTEMPTS} attempts"
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn signatures_follow_rfc_4231() -> Result<(), hmac::digest::InvalidLength> {
        // RFC 4231 test case 2.
        assert_eq!(
            super::signature("Jefe", b"what do ya want for nothing?")?,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        Ok(())
    }
}
