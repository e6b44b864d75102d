//! Three engine nodes on one PostgreSQL database, each its own process
//! serving the HTTP API (the `node` binary), behind no load balancer: the
//! tests spread requests over them themselves. Every guarantee must hold
//! whatever node a request lands on. Runs when `TEST_POSTGRES_URL` names a
//! server (CI sets it); says so when skipped.

use futures::StreamExt;
use reqwest::Method as M;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard::vault::KeySource;
use switchboard_e2e::cluster::*;
use switchboard_e2e::node::TOKEN;

const NODE: &str = env!("CARGO_BIN_EXE_node");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_racing_enables_over_three_nodes_never_leave_two_modes_on() {
    let Some(c) = Cluster::start(NODE, 3, None).await else {
        return;
    };
    let c = Arc::new(c);
    let pairs = futures::stream::iter(0..1000)
        .map(|i| {
            let c = c.clone();
            async move {
                let workspace = format!("ws{i}");
                let admin = ("ada", "admin", workspace.as_str());
                let (workspace_mode, user_mode) = futures::join!(
                    enable(&c, i, "semrush", "workspace", admin),
                    enable(&c, i + 1, "semrush", "user", admin),
                );
                (i, workspace_mode, user_mode)
            }
        })
        .buffer_unordered(48)
        .collect::<Vec<_>>()
        .await;
    for (i, workspace_mode, user_mode) in pairs {
        let mut statuses = [workspace_mode, user_mode];
        statuses.sort();
        assert_eq!(
            statuses,
            [200, 403],
            "ws{i}: one enable wins, the policy refuses the other"
        );
        let expected = if workspace_mode == 200 {
            "workspace"
        } else {
            "user"
        };
        assert_eq!(
            mode_on(&c, i + 2, &format!("ws{i}"), "semrush").await,
            expected,
            "ws{i}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_calls_on_an_expired_token_over_three_nodes_make_one_refresh() {
    let Some(c) = Cluster::start(NODE, 3, None).await else {
        return;
    };
    assert_eq!(enable(&c, 0, "sharepoint", "user", ADA).await, 200);
    c.bob_signs_in().await;
    c.ms.expire_access_tokens();
    let list = "/v1/workspaces/{ws}/integrations/sharepoint/actions/list_sites";
    let c = &c;
    let calls = (0..60).map(|n| async move {
        let response = c
            .request(n, M::POST, list, BOB)
            .json(&json!({"query": "marketing"}))
            .send()
            .await
            .unwrap();
        (
            response.status().as_u16(),
            response.json::<Value>().await.unwrap_or_default(),
        )
    });
    let answers = futures::future::join_all(calls).await;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body["sites"][0]["name"], "Marketing", "{body}");
    }
    assert_eq!(
        c.ms.refreshes(),
        1,
        "one refresh for sixty callers on three nodes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disable_on_one_node_streams_to_another_and_its_webhook_goes_out_once() {
    let seen: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let receiver = {
        let seen = seen.clone();
        axum::Router::new().route(
            "/hook",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let seen = seen.clone();
                    async move {
                        let delivery = headers["x-switchboard-delivery"]
                            .to_str()
                            .unwrap()
                            .to_owned();
                        let event = serde_json::from_slice(&body).unwrap_or_default();
                        seen.lock().unwrap().push((delivery, event));
                        axum::http::StatusCode::NO_CONTENT
                    }
                },
            ),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await });
    let Some(c) = Cluster::start(NODE, 3, Some(&hook)).await else {
        return;
    };
    assert_eq!(enable(&c, 0, "semrush", "user", ADA).await, 200);

    let mut stream = c
        .http
        .get(format!("{}/v1/events", c.nodes[0].base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let disable = "/v1/workspaces/{ws}/team-integrations/semrush/disable";
    assert_eq!(status(c.request(1, M::POST, disable, ADA)).await, 204);
    let mut text = String::new();
    while !text.contains("integration_disabled") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), stream.chunk())
            .await
            .expect("node 0 streams node 1's disable within five seconds")
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains("\"workspace\":\"acme\""), "{text}");

    // Every node heard the event; give each the time to send it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let seen = seen.lock().unwrap();
    let disabled: Vec<_> = seen
        .iter()
        .filter(|(_, e)| e["kind"] == "integration_disabled")
        .collect();
    assert_eq!(
        disabled.len(),
        1,
        "one delivery, not one per node: {seen:?}"
    );
    assert_eq!(disabled[0].0, disabled[0].1["id"].as_str().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_write_loses_no_committed_change_and_the_others_serve_on() {
    let Some(mut c) = Cluster::start(NODE, 3, None).await else {
        return;
    };
    // Node 2 takes a stream of enables and disables, each waited for.
    let committed: Arc<Mutex<Vec<(String, &'static str)>>> = Arc::default();
    let writer = {
        let (http, base, committed) = (c.http.clone(), c.nodes[2].base.clone(), committed.clone());
        tokio::spawn(async move {
            for i in 0.. {
                let workspace = format!("kill{}", i / 2);
                let (op, body) = match i % 2 {
                    0 => ("enable", json!({"mode": "workspace"})),
                    _ => ("disable", json!({})),
                };
                let sent = http
                    .post(format!(
                        "{base}/v1/workspaces/{workspace}/team-integrations/semrush/{op}"
                    ))
                    .bearer_auth(TOKEN)
                    .header("X-Switchboard-User", "ada")
                    .header("X-Switchboard-Role", "admin")
                    .header("X-Switchboard-Plan", "business")
                    .json(&body)
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => {
                        committed.lock().unwrap().push((workspace, op))
                    }
                    _ => return,
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    c.kill(2);
    let _ = writer.await;
    let committed = committed.lock().unwrap().clone();
    assert!(committed.len() >= 4, "the loop ran: {committed:?}");

    // Every acknowledged change holds, read on the nodes still up.
    for (n, (workspace, op)) in committed.iter().enumerate() {
        let later = committed
            .iter()
            .rev()
            .find(|(w, _)| w == workspace)
            .unwrap();
        if later.1 != *op {
            continue;
        }
        let mode = mode_on(&c, n % 2, workspace, "semrush").await;
        let expected = if *op == "enable" {
            json!("workspace")
        } else {
            Value::Null
        };
        // The request cut off by the kill may have committed unanswered:
        // the disable after the last answered enable.
        let cut_off = n + 1 == committed.len() && *op == "enable" && mode.is_null();
        assert!(
            mode == expected || cut_off,
            "{workspace} after {op}: {mode}"
        );
    }
    assert_eq!(mode_on(&c, 0, "acme", "semrush").await, Value::Null);
    assert_eq!(enable(&c, 1, "semrush", "user", ADA).await, 200);

    // Every workspace's audit chain verifies, as `switchboard audit verify` checks it.
    let data = switchboard::maintenance::DataFile::open_with_keys(
        c.harness.data.location(),
        KeySource::EnvOrFile(c.harness.dir.path().join("switchboard.key")),
    )
    .unwrap();
    let verified = data.verify_audit().unwrap();
    assert!(verified.len() >= committed.len() / 2, "{verified:?}");
    for (workspace, chain) in verified {
        assert!(chain.is_ok(), "{workspace}: {chain:?}");
    }
}
