//! `switchboard policy verify [DIR] [--against REV_OR_DIR]`: the proofs of
//! `switchboard-verify`, printed for a security team: one line per
//! property, a refuted one with the request that breaks it and how the
//! policies decide that request (as `policy explain` says it).

use crate::cli::{load_policies, print};
use cedar_policy::Entities;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use switchboard::policy::PolicyBundle;
use switchboard::policy::cases::explain_request;
use switchboard_verify::{Change, Env, Properties, Verdict, Verifier};

pub async fn run(dir: &Path, against: Option<&str>) -> Result<ExitCode, String> {
    let Ok(bundle) = load_policies(dir) else {
        return Ok(ExitCode::FAILURE);
    };
    let properties = match Properties::load(dir) {
        Ok(properties) => properties,
        Err(faults) => {
            for fault in &faults {
                print(&fault.to_string());
            }
            print(&format!("{} fault(s) in the properties", faults.len()));
            return Ok(ExitCode::FAILURE);
        }
    };
    for (_, why) in &properties.assumptions {
        print(&format!("assuming  {why}"));
    }
    let mut verifier = Verifier::start().map_err(|e| e.to_string())?;
    let findings = verifier
        .prove(&bundle.schema, &bundle.policies, &properties)
        .await
        .map_err(|e| e.to_string())?;
    let (mut passed, mut failed) = (0, 0);
    for finding in &findings {
        let took = format!("{:.2} s", finding.took.as_secs_f64());
        match &finding.verdict {
            Verdict::Proved => {
                passed += 1;
                print(&format!(
                    "proved    {} ({took}): {}",
                    finding.name, finding.says
                ));
            }
            Verdict::Refuted(example) => {
                failed += 1;
                print(&format!(
                    "REFUTED   {} ({took}): {}",
                    finding.name, finding.says
                ));
                show(&bundle, example);
            }
            Verdict::Unknown(why) => {
                failed += 1;
                print(&format!("UNKNOWN   {} ({took}): {why}", finding.name));
            }
        }
    }
    if let Some(against) = against {
        let (old, _kept) = earlier(dir, against)?;
        let changes = verifier
            .compare(&bundle.schema, &old.policies, &bundle.policies, &properties)
            .await
            .map_err(|e| e.to_string())?;
        if changes.is_empty() {
            print(&format!(
                "against {against}: every request is decided as before"
            ));
        }
        for Change {
            newly_allowed,
            example,
        } in &changes
        {
            let what = if *newly_allowed {
                "newly ALLOWED"
            } else {
                "newly denied"
            };
            print(&format!("against {against}: {what}:"));
            show(&bundle, example);
        }
    }
    print(&format!("{passed} passed, {failed} failed"));
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A request, its entities, and how the policies decide it. The schema's
/// own entities (actions, enumerated roles and modes) are left out: they
/// are the same in every request.
fn show(bundle: &PolicyBundle, example: &Env) {
    let own = example.entities.iter().filter(|entity| {
        let (uid, attributes, parents) = (*entity).clone().into_inner();
        uid.type_name().basename() != "Action" && !(attributes.is_empty() && parents.is_empty())
    });
    let shown = Env {
        request: example.request.clone(),
        entities: Entities::from_entities(own.cloned(), None).unwrap_or_default(),
    };
    for line in shown.to_string().lines() {
        print(&format!("          {line}"));
    }
    let explained = explain_request(bundle, &example.request, &example.entities);
    let explained = serde_json::to_string(&explained).unwrap_or_default();
    print(&format!("          explain: {explained}"));
}

/// The policies to compare with: a directory, or DIR at a git revision
/// (written to a temporary directory, kept while the answer lives).
fn earlier(dir: &Path, against: &str) -> Result<(PolicyBundle, Option<tempfile::TempDir>), String> {
    let refused = |why: String| format!("--against {against}: {why}");
    if Path::new(against).is_dir() {
        let bundle = load_policies(Path::new(against))
            .map_err(|_| refused("those policies were refused".into()))?;
        return Ok((bundle, None));
    }
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .current_dir(dir)
            .args(args)
            .output()
            .map_err(|e| refused(format!("cannot run git: {e}")))?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(refused(
                String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            ))
        }
    };
    let listed = git(&["ls-tree", "--name-only", against, "--", "."])?;
    let copy = tempfile::tempdir().map_err(|e| refused(e.to_string()))?;
    for name in String::from_utf8_lossy(&listed).lines() {
        let file = PathBuf::from(name);
        if !matches!(
            file.extension().and_then(|e| e.to_str()),
            Some("cedar" | "cedarschema")
        ) {
            continue;
        }
        let text = git(&["show", &format!("{against}:./{name}")])?;
        std::fs::write(copy.path().join(&file), text).map_err(|e| refused(e.to_string()))?;
    }
    let bundle = load_policies(copy.path())
        .map_err(|_| refused("the policies at that revision were refused".into()))?;
    Ok((bundle, Some(copy)))
}
