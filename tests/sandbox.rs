//! Hostile plugins: each tries a way out of its sandbox or to exhaust the
//! engine, and each must fail only its own call, with a clear error, while
//! the engine goes on serving.

use axum::body::Body;
use axum::extract::Query;
use axum::http::{StatusCode, Uri, header};
use axum::response::IntoResponse;
use axum::routing::get;
use futures::StreamExt;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use switchboard::Engine;
use switchboard::pasted::PastedKey;
use switchboard::plugins::LoadOutcome;
use switchboard_e2e::*;

const HOSTILE_KEY: &str = "hostile-workspace-secret-7f3a9c";
const SEMRUSH_KEY: &str = "semrush-workspace-secret-0b1c2d";

/// A server the hostile plugin may call (`upstream.hostile.test`, and as
/// `other.hostile.test`): it redirects, streams 100 MiB, compresses, and
/// echoes requests back, key included.
fn hostile_upstream() -> axum::Router {
    axum::Router::new()
        .route(
            "/redirect",
            get(|| async {
                (
                    StatusCode::FOUND,
                    [(header::LOCATION, "https://evil.example/steal")],
                )
            }),
        )
        .route(
            "/hop",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/echo?hopped=1")]) }),
        )
        .route(
            "/echo-redirect",
            get(|uri: Uri| async move {
                let query = uri.query().unwrap_or_default().to_owned();
                (
                    StatusCode::FOUND,
                    [(
                        header::LOCATION,
                        format!("https://other.hostile.test/echo?{query}"),
                    )],
                )
            }),
        )
        .route(
            "/path-redirect",
            get(|uri: Uri| async move {
                let key = uri
                    .query()
                    .unwrap_or_default()
                    .split('&')
                    .find_map(|pair| pair.strip_prefix("key="))
                    .unwrap_or_default()
                    .to_owned();
                (
                    StatusCode::FOUND,
                    [(
                        header::LOCATION,
                        format!("https://other.hostile.test/echo/{key}"),
                    )],
                )
            }),
        )
        .route(
            "/gzipped",
            get(|uri: Uri| async move {
                let mut gzip =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                std::io::Write::write_all(&mut gzip, uri.to_string().as_bytes())
                    .and_then(|()| gzip.finish())
                    .map(|body| ([(header::CONTENT_ENCODING, "gzip")], body))
                    .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)
            }),
        )
        .route(
            "/brotli",
            get(|| async { ([(header::CONTENT_ENCODING, "br")], "not decodable here") }),
        )
        .route(
            "/huge",
            get(|| async {
                let chunk = axum::body::Bytes::from(vec![b'x'; 1 << 20]);
                let chunks =
                    futures::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()))
                        .take(100);
                Body::from_stream(chunks).into_response()
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                "slow"
            }),
        )
        .route(
            "/reversed",
            get(|Query(q): Query<HashMap<String, String>>| async move {
                q.get("key")
                    .map(|k| k.chars().rev().collect::<String>())
                    .unwrap_or_default()
            }),
        )
        .route(
            "/json-echo",
            // As Python's `json.dumps` quotes it: `\n`, `\t`, and `\uXXXX`
            // beyond ASCII.
            get(|Query(q): Query<HashMap<String, String>>| async move {
                let key = q.get("key").cloned().unwrap_or_default();
                let quoted = serde_json::to_string(&format!("invalid key: {key}")).unwrap();
                let ascii: String = quoted
                    .chars()
                    .map(|c| match c.is_ascii() {
                        true => c.to_string(),
                        false => c
                            .encode_utf16(&mut [0; 2])
                            .iter()
                            .map(|unit| format!("\\u{unit:04x}"))
                            .collect(),
                    })
                    .collect();
                format!(r#"{{"error":{ascii}}}"#)
            }),
        )
        .route(
            "/key-header",
            // The key as a header's name, and the body's length tells its length.
            get(|Query(q): Query<HashMap<String, String>>| async move {
                let key = q.get("key").cloned().unwrap_or_default();
                ([(format!("x-{key}"), "1".to_owned())], key)
            }),
        )
        .route(
            "/echo",
            get(|uri: Uri, headers: axum::http::HeaderMap| async move {
                let headers: Vec<String> = headers
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or("")))
                    .collect();
                (
                    [("x-echo-uri", uri.to_string())],
                    format!("{uri}\n{}", headers.join("\n")),
                )
            }),
        )
}

/// The hosts the hostile plugin calls, served by the hostile upstream.
const HOSTILE_HOSTS: &[&str] = &["upstream.hostile.test", "other.hostile.test"];

struct World {
    engine: Engine,
    _h: Harness,
    _mocks: Vec<switchboard_mocks::Running>,
}

async fn world() -> World {
    let mut h = Harness::new();
    let (mock, semrush_running) = semrush(&mut h).await;
    mock.add_key(SEMRUSH_KEY, 1_000_000);
    let upstream = switchboard_mocks::serve(hostile_upstream(), HOSTILE_HOSTS)
        .await
        .unwrap();
    h.route("upstream.hostile.test", upstream.addr);
    h.route("other.hostile.test", upstream.addr);
    h.install_semrush();
    h.install(&switchboard_plugin_artifacts::test_plugin("hostile"));
    h.install(&switchboard_plugin_artifacts::test_plugin("file-reader"));
    std::fs::write(h.plugins_dir().join("garbage.wasm"), b"this is not wasm").unwrap();
    // A well-formed component that implements nothing.
    std::fs::write(h.plugins_dir().join("empty.wasm"), b"\0asm\x0d\0\x01\0").unwrap();
    let engine = h.engine().await;
    for (integration, key) in [("hostile", HOSTILE_KEY), ("semrush", SEMRUSH_KEY)] {
        share_key(&engine, &admin(), &id(integration), key).await;
    }
    World {
        engine,
        _h: h,
        _mocks: vec![semrush_running, upstream],
    }
}

impl World {
    async fn hostile(&self, action: &str, input: Value) -> Result<Value, String> {
        self.engine
            .invoke(&member(), &id("hostile"), action, &input)
            .await
            .map_err(|e| e.to_string())
    }

    /// After a hostile call: the same plugin and another one both serve.
    async fn still_serves(&self) {
        assert_eq!(
            self.hostile("ok", json!({})).await.unwrap(),
            json!({"ok": true})
        );
        let out = bob_looks_up_seo(&self.engine).await.unwrap();
        assert_eq!(out["rows"][0]["keyword"], "seo");
    }

    /// The hostile plugin fetches `path` from its upstream, asking the host
    /// to attach the key.
    async fn upstream_fetch(&self, path: &str) -> Result<Value, String> {
        let url = format!("https://upstream.hostile.test{path}");
        self.hostile("fetch", json!({"url": url, "authenticated": true}))
            .await
    }

    /// As `upstream_fetch`, where the fetch must fail and be contained.
    async fn refused_upstream_fetch(&self, path: &str) -> String {
        let url = format!("https://upstream.hostile.test{path}");
        self.contained("fetch", json!({"url": url, "authenticated": true}))
            .await
    }

    async fn contained(&self, action: &str, input: Value) -> String {
        let started = Instant::now();
        let err = self
            .hostile(action, input)
            .await
            .expect_err("a hostile call must fail");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{action} took {:?}",
            started.elapsed()
        );
        self.still_serves().await;
        err
    }
}

#[tokio::test]
async fn broken_and_forbidden_components_are_refused_and_the_others_load() {
    let w = world().await;
    let mut report: Vec<(String, String)> = w
        .engine
        .load_report()
        .iter()
        .map(|o| match o {
            LoadOutcome::Loaded { file, id, .. } => (
                file.file_name().unwrap().to_string_lossy().into(),
                format!("loaded {id}"),
            ),
            LoadOutcome::Refused { file, reason } => (
                file.file_name().unwrap().to_string_lossy().into(),
                reason.clone(),
            ),
        })
        .collect();
    report.sort();
    assert_eq!(report[0].0, "empty.wasm");
    assert!(
        report[0]
            .1
            .starts_with("it does not implement switchboard:connector@0.3.0 (or 0.2.0)"),
        "{}",
        report[0].1
    );
    assert_eq!(report[1].0, "file-reader.wasm");
    assert!(
        report[1].1.starts_with("it imports `wasi:filesystem/"),
        "{}",
        report[1].1
    );
    assert!(
        report[1]
            .1
            .ends_with("connectors may not use files, sockets or raw HTTP")
    );
    assert_eq!(report[2].0, "garbage.wasm");
    assert!(
        report[2].1.starts_with("not a valid WebAssembly component"),
        "{}",
        report[2].1
    );
    assert_eq!(report[3], ("hostile.wasm".into(), "loaded hostile".into()));
    assert_eq!(report[4], ("semrush.wasm".into(), "loaded semrush".into()));
    w.still_serves().await;
}

#[tokio::test]
async fn an_infinite_loop_is_stopped_by_the_cpu_budget() {
    let w = world().await;
    let err = w.contained("spin", json!({})).await;
    assert_eq!(
        err,
        "plugin `hostile` used more than its CPU time of 300 ms and was stopped"
    );
}

#[tokio::test]
async fn endless_memory_growth_is_stopped_at_the_limit() {
    let w = world().await;
    let err = w.contained("grow_memory", json!({})).await;
    assert_eq!(
        err,
        format!(
            "plugin `hostile` went over its memory limit of {} bytes and was stopped",
            32 << 20
        )
    );
}

#[tokio::test]
async fn deep_recursion_overflows_the_guest_stack_only() {
    let w = world().await;
    let err = w.contained("recurse", json!({})).await;
    assert_eq!(err, "plugin `hostile` overflowed its stack and was stopped");
}

#[tokio::test]
async fn undeclared_hosts_plain_http_and_ip_addresses_are_refused() {
    let w = world().await;
    for (url, why) in [
        (
            "https://evil.example/steal",
            "`evil.example` is not a host this plugin declared",
        ),
        (
            "https://api.semrush.com.evil.example/",
            "`api.semrush.com.evil.example` is not a host this plugin declared",
        ),
        (
            "https://api.semrush.com:8443/",
            "`api.semrush.com:8443` is not a host this plugin declared",
        ),
        (
            "http://api.semrush.com/",
            "only https is allowed, not `http`",
        ),
        (
            "https://127.0.0.1/",
            "IP addresses are not allowed; use a declared host name",
        ),
        (
            "https://user:pw@api.semrush.com/",
            "URLs may not carry user names or passwords",
        ),
    ] {
        let err = w
            .contained("fetch", json!({"url": url, "authenticated": true}))
            .await;
        assert_eq!(
            err,
            format!("hostile: connector fault: request refused by the sandbox: {why}"),
            "{url}"
        );
    }
}

#[tokio::test]
async fn a_redirect_to_an_undeclared_host_is_not_followed() {
    let w = world().await;
    let err = w.refused_upstream_fetch("/redirect").await;
    assert_eq!(
        err,
        "hostile: connector fault: request refused by the sandbox: redirect refused: `evil.example` is not a host this plugin declared"
    );
    // A redirect within the declared host is followed.
    let seen = w
        .hostile("fetch", json!({"url": "https://upstream.hostile.test/hop"}))
        .await
        .unwrap();
    assert!(seen["body"].as_str().unwrap().starts_with("/echo?hopped=1"));
}

#[tokio::test]
async fn a_redirect_never_carries_the_credential_to_another_host() {
    let w = world().await;
    // The origin echoes the query, key included, into the next hop's URL:
    // the key is taken out and the other host gets the rest.
    let seen = w.upstream_fetch("/echo-redirect?q=1").await.unwrap();
    let body = seen["body"].as_str().unwrap();
    assert!(body.starts_with("/echo?q=1\n"), "{body}");
    assert!(body.contains("host: other.hostile.test"), "{body}");
    assert!(
        !body.contains("key=") && !body.contains(HOSTILE_KEY),
        "{body}"
    );
    // Echoed anywhere else in the location, the redirect is not followed.
    let err = w.refused_upstream_fetch("/path-redirect").await;
    assert_eq!(
        err,
        "hostile: connector fault: request refused by the sandbox: redirect refused: its location carries the call's credential"
    );
}

#[tokio::test]
async fn a_compressed_echo_is_decoded_and_scrubbed_and_an_unknown_encoding_refused() {
    let w = world().await;
    let seen = w.upstream_fetch("/gzipped?q=1").await.unwrap();
    assert_eq!(seen["body"], "/gzipped?q=1&key=[redacted]");
    let err = w.refused_upstream_fetch("/brotli").await;
    assert_eq!(
        err,
        "hostile: connector fault: request refused by the sandbox: the response is encoded in a way the host does not decode (it decodes gzip and deflate)"
    );
}

#[tokio::test]
async fn a_100_mib_response_is_cut_off_at_the_limit() {
    let w = world().await;
    let err = w
        .contained(
            "fetch",
            json!({"url": "https://upstream.hostile.test/huge"}),
        )
        .await;
    assert_eq!(
        err,
        format!(
            "hostile: the response body is over the limit of {} bytes",
            8 << 20
        )
    );
}

#[tokio::test]
async fn a_plugin_sees_no_secret_no_environment_and_no_arguments() {
    let w = world().await;
    // Environment the engine process has must not reach the plugin.
    let headers = [
        ["Authorization", "Bearer forged"],
        ["Cookie", "session=forged"],
        ["Proxy-Authorization", "forged"],
        ["Accept-Encoding", "x-guest-coding"],
        ["Range", "bytes=0-3"],
        ["X-Kept", "yes"],
    ];
    let input = json!({"url": "https://upstream.hostile.test/echo?q=1", "authenticated": true, "headers": headers});
    let seen = w.hostile("fetch", input).await.unwrap();
    let text = seen.to_string();
    assert!(
        !text.contains(HOSTILE_KEY),
        "the key reached the plugin: {text}"
    );
    assert_eq!(seen["env"], json!([]));
    assert!(
        seen["args"].as_array().unwrap().len() <= 1,
        "{}",
        seen["args"]
    );
    // The upstream did receive the key, and echoed it: the host scrubbed it.
    assert!(
        seen["body"]
            .as_str()
            .unwrap()
            .starts_with("/echo?q=1&key=[redacted]"),
        "{}",
        seen["body"]
    );
    let echoed_uri = seen["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h[0] == "x-echo-uri")
        .unwrap();
    assert_eq!(echoed_uri[1], "/echo?q=1&key=[redacted]");
    // Headers the host owns never leave the sandbox; others do.
    let body = seen["body"].as_str().unwrap();
    assert!(!body.contains("forged"), "{body}");
    assert!(!body.contains("x-guest-coding"), "{body}");
    assert!(!body.contains("range:"), "{body}");
    assert!(body.contains("accept-encoding: gzip,deflate"), "{body}");
    assert!(body.contains("x-kept: yes"), "{body}");
    assert!(body.contains("host: upstream.hostile.test"), "{body}");
}

#[tokio::test]
async fn many_hostile_calls_at_once_leave_the_engine_serving() {
    let w = world().await;
    let calls = [
        "spin",
        "grow_memory",
        "recurse",
        "spin",
        "grow_memory",
        "recurse",
    ];
    let results = futures::future::join_all(calls.iter().map(|a| w.hostile(a, json!({})))).await;
    assert!(results.iter().all(|r| r.is_err()));
    w.still_serves().await;
}

#[tokio::test]
async fn a_key_pasted_with_a_line_break_is_trimmed_and_its_json_echo_scrubbed() {
    let w = world().await;
    let pasted = PastedKey::parse("hostile-pasted-key-42\n").unwrap();
    assert_eq!(pasted.notice(), Some(PastedKey::TRIMMED));
    w.engine
        .set_workspace_credential(&admin(), &id("hostile"), &pasted)
        .await
        .unwrap();
    let seen = w.upstream_fetch("/json-echo").await.unwrap();
    assert_eq!(seen["body"], r#"{"error":"invalid key: [redacted]"}"#);
    // A line break or tab inside a key refuses it, and nothing is saved.
    let err = PastedKey::parse("hostile\tkey").unwrap_err();
    assert_eq!(
        switchboard::Error::from(err).to_string(),
        "the key contains a line break, tab or other control character; paste it as a single line"
    );
    let seen = w.upstream_fetch("/json-echo").await.unwrap();
    assert_eq!(seen["body"], r#"{"error":"invalid key: [redacted]"}"#);
}

#[tokio::test]
async fn a_key_beyond_ascii_is_scrubbed_from_an_echo_in_json_unicode_escapes() {
    let w = world().await;
    let key = PastedKey::parse("clé-secrète-😀-7f3a9c").unwrap();
    w.engine
        .set_workspace_credential(&admin(), &id("hostile"), &key)
        .await
        .unwrap();
    let seen = w.upstream_fetch("/json-echo").await.unwrap();
    assert_eq!(seen["body"], r#"{"error":"invalid key: [redacted]"}"#);
}

#[tokio::test]
async fn a_key_echoed_as_a_header_name_is_scrubbed_and_its_length_not_told() {
    let w = world().await;
    let seen = w.upstream_fetch("/key-header").await.unwrap();
    let text = seen.to_string();
    assert!(!text.contains(HOSTILE_KEY), "{text}");
    let headers = seen["headers"].as_array().unwrap();
    assert!(
        headers.iter().any(|h| h[0] == "x-[redacted]"),
        "{headers:?}"
    );
    assert_eq!(seen["body"], "[redacted]");
    let length = headers.iter().find(|h| h[0] == "content-length").unwrap();
    assert_eq!(length[1], "[redacted]".len().to_string());
    w.still_serves().await;
}

#[tokio::test]
async fn a_key_rebuilt_inside_the_plugin_is_scrubbed_from_its_result_error_and_log() {
    let w = world().await;
    let logs = captured_logs();
    let url = "https://upstream.hostile.test/reversed";
    let out = w
        .hostile("leak", json!({"url": url, "via": "output"}))
        .await
        .unwrap();
    assert_eq!(out, json!({"key": "[redacted]"}));
    let err = w
        .hostile("leak", json!({"url": url, "via": "error"}))
        .await
        .unwrap_err();
    assert_eq!(err, "hostile: the service says the key is [redacted]");
    let out = w
        .hostile("leak", json!({"url": url, "via": "log"}))
        .await
        .unwrap();
    assert_eq!(out, json!({"logged": true}));
    let logs = logs.text();
    assert!(logs.contains("the key is [redacted]"), "{logs}");
    assert!(!logs.contains(HOSTILE_KEY), "{logs}");
    w.still_serves().await;
}

#[tokio::test]
async fn the_key_goes_only_to_the_hosts_named_to_receive_it() {
    let w = world().await;
    // `other.hostile.test` may be called, but is not named to receive the key.
    let err = w
        .contained(
            "fetch",
            json!({"url": "https://other.hostile.test/echo", "authenticated": true}),
        )
        .await;
    assert_eq!(
        err,
        "hostile: connector fault: request refused by the sandbox: `other.hostile.test` does not receive this plugin's credential; send the request unauthenticated, or name the host among the mode's credential hosts"
    );
    // Unauthenticated, the same host answers, and sees no key.
    let seen = w
        .hostile(
            "fetch",
            json!({"url": "https://other.hostile.test/echo?q=1"}),
        )
        .await
        .unwrap();
    assert!(
        seen["body"].as_str().unwrap().starts_with("/echo?q=1\n"),
        "{seen}"
    );
}

/// A call to the hostile upstream's slow page by `who`, and how long it took.
async fn slow_call(
    engine: &Engine,
    who: &switchboard::model::Actor,
) -> (Result<Value, String>, Duration) {
    let started = Instant::now();
    let out = engine
        .invoke(
            who,
            &id("hostile"),
            "fetch",
            &json!({"url": "https://upstream.hostile.test/slow"}),
        )
        .await
        .map_err(|e| e.to_string());
    (out, started.elapsed())
}

#[tokio::test]
async fn one_plugin_cannot_take_the_whole_pool_and_the_others_stay_fast() {
    let w = world().await;
    let carol = actor("carol", "acme", switchboard::model::Role::Member);
    let bob = member();
    let slow = futures::future::join_all((0..6).map(|_| slow_call(&w.engine, &bob)));
    let other = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        let out = bob_looks_up_seo(&w.engine).await;
        (
            out.map(|v| v["rows"][0]["keyword"].clone()),
            started.elapsed(),
        )
    };
    let (slow, (other, other_took)) = tokio::join!(slow, other);
    let refused: Vec<_> = slow.iter().filter(|(r, _)| r.is_err()).collect();
    assert_eq!(refused.len(), 2, "{slow:?}");
    for (err, took) in refused {
        assert_eq!(
            err.as_ref().unwrap_err(),
            "plugin `hostile` is already running its most calls at once (4); try again shortly"
        );
        assert!(
            *took < Duration::from_millis(1000),
            "refused at once, not queued: {took:?}"
        );
    }
    assert_eq!(other.unwrap(), "seo");
    assert!(other_took < Duration::from_millis(1000), "{other_took:?}");
    // Another member of the same plugin is served once a turn frees.
    assert!(slow_call(&w.engine, &carol).await.0.is_ok());
}

#[tokio::test]
async fn one_member_cannot_take_the_whole_workspace() {
    let mut h = Harness::new();
    let upstream = switchboard_mocks::serve(hostile_upstream(), HOSTILE_HOSTS)
        .await
        .unwrap();
    h.route("upstream.hostile.test", upstream.addr);
    h.install(&switchboard_plugin_artifacts::test_plugin("hostile"));
    let mut config = h.config();
    config.call_shares = switchboard::engine::CallShares {
        per_member: 2,
        per_workspace: 3,
    };
    let engine = Engine::open(config).await.unwrap();
    share_key(&engine, &admin(), &id("hostile"), HOSTILE_KEY).await;
    let carol = actor("carol", "acme", switchboard::model::Role::Member);
    let dave = actor("dave", "acme", switchboard::model::Role::Member);
    let bob = member();
    let bob_calls = futures::future::join_all((0..3).map(|_| slow_call(&engine, &bob)));
    let others = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let dave_later = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            slow_call(&engine, &dave).await
        };
        tokio::join!(slow_call(&engine, &carol), dave_later)
    };
    let (bob_calls, (carol_call, dave_call)) = tokio::join!(bob_calls, others);
    let refused: Vec<&String> = bob_calls
        .iter()
        .filter_map(|(r, _)| r.as_ref().err())
        .collect();
    assert_eq!(
        refused,
        ["you already have 2 calls running; try again when one finishes"]
    );
    // Carol gets the workspace's third turn; Dave, while three run, none.
    assert!(carol_call.0.is_ok(), "{carol_call:?}");
    assert_eq!(
        dave_call.0.unwrap_err(),
        "this workspace already has 3 calls running; try again when one finishes"
    );
    assert!(dave_call.1 < Duration::from_millis(1000), "refused at once");
    // Once they end, Dave is served.
    assert!(slow_call(&engine, &dave).await.0.is_ok());
}

#[tokio::test]
async fn a_panic_tells_the_member_it_crashed_and_the_operator_why() {
    let w = world().await;
    let logs = captured_logs();
    let err = w.contained("panic", json!({})).await;
    assert_eq!(
        err,
        "plugin `hostile` crashed: wasm trap: wasm `unreachable` instruction executed"
    );
    let logs = logs.text();
    assert!(
        logs.contains("the plugin gave up: index out of bounds in parse_rows"),
        "{logs}"
    );
    // A plugin that talks a lot on stderr is not stopped for it.
    assert_eq!(
        w.hostile("chatter", json!({})).await.unwrap(),
        json!({"ok": true})
    );
}

#[tokio::test]
async fn output_that_breaks_its_own_schema_is_the_plugins_error_and_never_passed_on() {
    let w = world().await;
    let logs = captured_logs();
    let err = w.contained("mismatch", json!({})).await;
    assert_eq!(
        err,
        "plugin `hostile` returned invalid output: the output of `mismatch` does not match its schema (at `/rows`, and 0 more)"
    );
    assert!(!err.contains("row one"), "{err}");
    let logs = logs.text();
    assert!(logs.contains("output does not match its schema"), "{logs}");
}
