//! PostgreSQL stops for five seconds while a node is under load: requests
//! fail with 503 problem+json, the node does not fall over, and it serves
//! again by itself once the database is back, with no change half made.
//! Runs when `TEST_POSTGRES_URL` and `TEST_POSTGRES_CTL` say which server
//! to use and how to stop it (tests/postgres/run sets both); says so when
//! skipped. It stops the whole server, so it is ignored by default and run
//! alone: `tests/postgres/run cargo test -p switchboard-e2e --test e2e --
//! --ignored outage::` (as .ci/run does).

use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use switchboard::vault::KeySource;
use switchboard_e2e::cluster::*;

const NODE: &str = env!("CARGO_BIN_EXE_node");

fn postgres(ctl: &str, command: &str) {
    let done = std::process::Command::new("sh")
        .args(["-c", &format!("{ctl} {command}")])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(done.success(), "pg_ctl {command}");
}

/// One enable under load: its workspace, status and body.
type Answer = (String, u16, Option<String>, Value);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "stops the shared PostgreSQL server: run alone with --ignored"]
async fn five_seconds_without_the_database_answer_503_and_the_node_recovers_by_itself() {
    let Ok(ctl) = std::env::var("TEST_POSTGRES_CTL") else {
        eprintln!("skipped: needs TEST_POSTGRES_CTL (tests/postgres/run sets it)");
        return;
    };
    let Some(mut c) = Cluster::start(NODE, 1, None).await else {
        return;
    };
    // Ordered load: one enable after another, each on a new workspace.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (stop, http, base) = (stop.clone(), c.http.clone(), c.nodes[0].base.clone());
        tokio::spawn(async move {
            let mut answers: Vec<Answer> = Vec::new();
            for i in 0.. {
                if stop.load(Ordering::Relaxed) {
                    return answers;
                }
                let workspace = format!("out{i}");
                let sent = http
                    .post(format!(
                        "{base}/v1/workspaces/{workspace}/team-integrations/semrush/enable"
                    ))
                    .bearer_auth(switchboard_e2e::node::TOKEN)
                    .header("X-Switchboard-User", "ada")
                    .header("X-Switchboard-Role", "admin")
                    .header("X-Switchboard-Plan", "business")
                    .json(&json!({"mode": "workspace"}))
                    .timeout(Duration::from_secs(30))
                    .send()
                    .await
                    .expect("the node answers, even without its database");
                let status = sent.status().as_u16();
                let retry = sent
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_owned());
                let body = sent.json().await.unwrap_or_default();
                answers.push((workspace, status, retry, body));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            answers
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    postgres(&ctl, "stop -m fast");
    tokio::time::sleep(Duration::from_secs(5)).await;
    postgres(&ctl, "start");
    // Back by itself: an enable succeeds again within thirty seconds.
    let back = Instant::now();
    loop {
        let enabled = enable(&c, 0, "semrush", "user", ADA).await;
        if enabled == 200 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "the node did not recover"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let answers = load.await.unwrap();
    assert!(
        c.nodes[0].child.try_wait().unwrap().is_none(),
        "the node is still running"
    );

    let unavailable: Vec<&Answer> = answers.iter().filter(|a| a.1 == 503).collect();
    assert!(!unavailable.is_empty(), "the outage was felt: {answers:?}");
    for (workspace, status, retry, body) in &answers {
        assert!([200, 503].contains(status), "{workspace}: {status} {body}");
        if *status == 503 {
            assert_eq!(body["title"], "Storage unavailable", "{body}");
            assert_eq!(
                body["detail"],
                "Switchboard cannot reach its database just now; try again shortly"
            );
            assert_eq!(retry.as_deref(), Some("1"));
        }
    }

    // Nothing half made: each enable is there with its audit record, or
    // neither is (one answered 503 as the connection broke may have
    // committed; an acknowledged one must have).
    for (workspace, status, _, _) in &answers {
        let mode = mode_on(&c, 0, workspace, "semrush").await;
        let trail = read_as_admin(&c, 0, "/v1/workspaces/{ws}/audit", workspace).await;
        let audited = trail["records"].as_array().unwrap().len();
        match mode {
            Value::Null => assert_eq!((audited, *status), (0, 503), "{workspace}: {trail}"),
            mode => {
                assert_eq!(mode, "workspace", "{workspace}");
                assert_eq!(audited, 1, "{workspace}: {trail}");
            }
        }
    }
    let data = switchboard::maintenance::DataFile::open_with_keys(
        c.harness.data.location(),
        KeySource::EnvOrFile(c.harness.dir.path().join("switchboard.key")),
    )
    .unwrap();
    for (workspace, chain) in data.verify_audit().unwrap() {
        assert!(chain.is_ok(), "{workspace}: {chain:?}");
    }
    c.kill(0);
}
