//! The `aeplay` CLI: JSON output, and a one-line reason with a non-zero exit for bad input.

mod common;

use std::process::Command;

fn aeplay(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_aeplay")).args(args).output().expect("run aeplay");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn train_steps_prints_json_lines_and_a_done_line() {
    let dir = common::mnist_dir();
    let (code, out, err) = aeplay(&["train", "--preset", "dae_vincent", "--steps", "30", "--backend", "cpu", "--data", dir.to_str().unwrap(), "--json", "--seed", "4", "--batch", "32"]);
    assert_eq!(code, 0, "stderr: {err}");
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    assert_eq!(lines.len(), 2, "{out}");
    let epoch = &lines[0];
    for key in ["epoch", "train_loss", "test_loss", "seconds", "samples_per_s"] {
        assert!(epoch[key].is_number(), "missing {key}: {epoch}");
    }
    let done = &lines[1];
    assert_eq!(done["event"], "done");
    assert_eq!(done["batch"], 32);
    assert_eq!(done["steps"], 30);
    assert_eq!(done["test_loss"], epoch["test_loss"]);
    let test = done["test_loss"].as_f64().unwrap();
    assert!(test.is_finite() && test < 543.0, "test loss {test}");
}

fn assert_one_line_failure(args: &[&str], needle: &str) {
    let (code, out, err) = aeplay(args);
    assert_ne!(code, 0, "{args:?} succeeded: {out}");
    assert_eq!(err.trim().lines().count(), 1, "not one line: {err}");
    assert!(err.contains(needle), "{args:?}: expected '{needle}' in: {err}");
}

#[test]
fn bad_input_exits_non_zero_with_one_line() {
    let dir = common::mnist_dir();
    let d = dir.to_str().unwrap();
    assert_one_line_failure(&["train", "--preset", "nope", "--data", d], "unknown preset 'nope'");
    assert_one_line_failure(&["train", "--batch", "0", "--data", d], "batch size 0");
    assert_one_line_failure(&["train", "--steps", "0", "--data", d], "--steps");
    assert_one_line_failure(&["train", "--data", "/nonexistent/dir"], "does not exist");
    assert_one_line_failure(&["train", "--frobnicate"], "--frobnicate");
    assert_one_line_failure(&["train", "--backend", "quantum"], "quantum");
}

#[test]
fn corrupt_data_is_reported_by_file() {
    let tmp = std::env::temp_dir().join(format!("aeplay-cli-corrupt-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let src = common::mnist_dir();
    for f in aeplay::data::FILES {
        let gz = src.join(format!("{f}.gz"));
        let from = if gz.exists() { gz } else { src.join(f) };
        std::fs::copy(&from, tmp.join(from.file_name().unwrap())).unwrap();
    }
    // Truncate the test labels.
    let victim = std::fs::read_dir(&tmp).unwrap().map(|e| e.unwrap().path()).find(|p| p.to_str().unwrap().contains("t10k-labels")).unwrap();
    let bytes = std::fs::read(&victim).unwrap();
    std::fs::write(&victim, &bytes[..bytes.len() / 2]).unwrap();
    assert_one_line_failure(&["train", "--steps", "1", "--data", tmp.to_str().unwrap()], "t10k-labels-idx1-ubyte");
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn every_preset_trains_from_the_cli() {
    let dir = common::mnist_dir();
    for name in aeplay::core::config::PRESET_NAMES {
        let (code, out, err) = aeplay(&["train", "--preset", name, "--steps", "5", "--backend", "cpu", "--data", dir.to_str().unwrap(), "--json"]);
        assert_eq!(code, 0, "{name}: stderr: {err}");
        let done: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).expect("JSON line");
        assert_eq!(done["preset"], *name);
        assert!(done["test_loss"].as_f64().unwrap().is_finite(), "{name}: {done}");
    }
}

/// Each recipe runs from the CLI with a step cap per phase: a `recipe` line, a `phase`
/// line per phase, an `epoch` line per phase (two beside each other for
/// pretrain_classifier), and a `done` line with the recipe's figure.
#[test]
fn every_recipe_runs_from_the_cli_with_a_step_cap() {
    let dir = common::mnist_dir();
    let d = dir.to_str().unwrap();
    for (name, phases, key) in [("stacked_greedy", 2, "test_loss"), ("sda", 4, "test_error"), ("pretrain_classifier", 3, "random_accuracy")] {
        let (code, out, err) = aeplay(&["train", "--preset", name, "--steps", "2", "--labelled", "300", "--data", d, "--json", "--batch", "10"]
            .into_iter()
            .filter(|a| name == "pretrain_classifier" || (*a != "--labelled" && *a != "300"))
            .collect::<Vec<_>>());
        assert_eq!(code, 0, "{name}: stderr: {err}");
        let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
        let count = |ev: &str| lines.iter().filter(|l| l["event"] == ev).count();
        assert_eq!(lines[0]["event"], "recipe", "{name}");
        assert_eq!(count("phase"), phases, "{name}: {out}");
        let epochs = if name == "pretrain_classifier" { 4 } else { phases };
        assert_eq!(count("epoch"), epochs, "{name}: {out}");
        for l in lines.iter().filter(|l| l["event"] == "epoch") {
            assert_eq!(l["steps"], 2, "{name}: {l}");
            assert!(l["train_loss"].as_f64().unwrap().is_finite() && l["seconds"].is_number(), "{name}: {l}");
        }
        let done = lines.last().unwrap();
        assert_eq!(done["event"], "done", "{name}");
        assert_eq!(done["steps"], 2 * phases as u64, "{name}: {done}");
        assert!(done[key].as_f64().unwrap().is_finite(), "{name}: {done}");
    }
    assert_one_line_failure(&["train", "--preset", "nope", "--data", d], "pretrain_classifier");
    assert_one_line_failure(&["train", "--preset", "sda", "--labelled", "5", "--data", d], "labelled");
    assert_one_line_failure(&["train", "--preset", "stacked_greedy", "--max-epochs", "5", "--data", d], "supervised");
    assert_one_line_failure(&["train", "--preset", "dae_vincent", "--labelled", "5", "--data", d], "recipes");
}
