//! Kill a process mid-change with SIGKILL, many times: after each restart
//! every committed change has its audit record, every chain verifies, no
//! integration has two modes, and every secret opens.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use switchboard::audit::OutcomeKind;
use switchboard::maintenance::DataFile;
use switchboard::model::{Mode, Role};
use switchboard::store::Store;
use switchboard::vault::KeySource;
use switchboard_e2e::*;

/// The state each completed step leaves: (enabled mode, connections).
fn expected_after(step: usize) -> (Option<Mode>, usize) {
    match step {
        0 => (None, 0),
        1 | 2 => (Some(Mode::Workspace), 0),
        3 => (None, 0),
        4 => (Some(Mode::User), 0),
        _ => (Some(Mode::User), 1),
    }
}

#[tokio::test]
async fn sigkill_at_random_points_loses_no_committed_change() {
    let h = Harness::new();
    h.install_semrush();
    let data = h.dir.path();
    let location = h.data.location();
    let location_arg = h.data.as_arg();
    let keys = || KeySource::EnvOrFile(data.join("switchboard.key"));
    let mut done: std::collections::BTreeMap<String, usize> = Default::default();
    let mut next_workspace = 0u64;
    for round in 0..12u64 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash-child"))
            .args([
                data.to_str().unwrap(),
                &location_arg,
                h.plugins_dir().to_str().unwrap(),
                policies_dir().to_str().unwrap(),
                &next_workspace.to_string(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Let it commit some changes, then kill it wherever it is.
        let started = Instant::now();
        let budget =
            Duration::from_millis(100 + (round * 37 + u64::from(std::process::id())) % 400);
        let mut seen = 0;
        while let Some(Ok(line)) = lines.next() {
            let (workspace, step) = line.split_once(' ').unwrap();
            done.insert(workspace.to_owned(), step.parse().unwrap());
            seen += 1;
            if seen >= 3 && started.elapsed() > budget {
                break;
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        for line in lines.map_while(Result::ok) {
            let (workspace, step) = line.split_once(' ').unwrap();
            done.insert(workspace.to_owned(), step.parse().unwrap());
        }
        next_workspace = done
            .keys()
            .filter_map(|w| w[2..].parse::<u64>().ok())
            .max()
            .unwrap_or(0)
            + 1;

        // After the restart: audit, modes and secrets agree with what committed.
        let engine = h.engine().await;
        for (workspace, &step) in &done {
            let admin = actor("alice", workspace, Role::Admin);
            let trail = engine
                .audit(&admin, &Default::default(), None, 100)
                .unwrap();
            let changes = trail
                .records
                .iter()
                .filter(|r| r.entry.outcome.kind() == OutcomeKind::Allowed)
                .count();
            // The change after the last reported one may have committed too.
            assert!(
                changes == step || changes == step + 1,
                "{workspace}: {changes} changes audited, {step} reported"
            );
            let (mode, connections) = expected_after(changes);
            let row = engine
                .team_integrations(&admin)
                .unwrap()
                .into_iter()
                .find(|r| r.id.as_str() == "semrush")
                .unwrap();
            assert_eq!(row.enabled.map(|e| e.mode), mode, "{workspace}");
            let usage = engine.usage(&admin, 0, 1).unwrap();
            assert_eq!(
                usage[0].connected_members as usize, connections,
                "{workspace}"
            );
        }
        engine.verify_secrets().unwrap();
        drop(engine);
        let store = Store::open(&location).unwrap();
        for workspace in store.read(|r| r.audited_workspaces()).unwrap() {
            let records = store.read(|r| r.audit_all(workspace.as_str())).unwrap();
            switchboard::audit::verify(&workspace, records).unwrap();
        }
    }
    assert!(done.len() >= 12, "the child made progress: {done:?}");
    assert!(
        done.values().filter(|&&step| step >= 2).count() >= 6,
        "shared keys were saved and connections made: {done:?}"
    );

    // Now kill a key rotation, a secret a transaction, several times over:
    // every secret still opens, and a rotation after it finishes cleanly.
    for round in 0..4u64 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash-child"))
            .args(["rotate", data.to_str().unwrap(), &location_arg])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let _first = lines.next();
        std::thread::sleep(Duration::from_millis(
            (round * 13 + u64::from(std::process::id())) % 40,
        ));
        child.kill().unwrap();
        child.wait().unwrap();
        let file = DataFile::open_with_keys(&location, keys()).unwrap();
        let keys = file.keys().unwrap();
        let sealed: usize = keys.iter().map(|(_, n)| n).sum();
        drop(file);
        let engine = h.engine().await;
        assert_eq!(
            engine.verify_secrets().unwrap(),
            sealed,
            "round {round}: {keys:?}"
        );
    }
    let file = DataFile::open_with_keys(&location, keys()).unwrap();
    file.rotate_keys(100).unwrap();
    let keys = file.keys().unwrap();
    for (old, sealing) in &keys[1..] {
        assert_eq!(*sealing, 0, "{old} seals nothing after a full rotation");
        file.retire_key(old).unwrap();
    }
    assert_eq!(file.keys().unwrap().len(), 1);
}
