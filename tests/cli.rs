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
    // The very run the library gives for that set-up (same seed, batch and steps: the CPU
    // backend's results do not depend on its thread count), and clearly trained: well below
    // the untrained model's loss on all 10,000 test digits.
    let data = aeplay::data::Mnist::load_dir(&dir).unwrap();
    let mut cfg = aeplay::core::config::preset("dae_vincent").unwrap();
    cfg.batch = 32;
    let mut t = aeplay::train::Trainer::new(aeplay::backend::cpu::CpuBackend::new(), &cfg, &data, 4).unwrap();
    let untrained = t.test_loss(None);
    for _ in 0..30 {
        t.step();
    }
    let want = t.test_loss(None);
    let test = done["test_loss"].as_f64().unwrap();
    assert_eq!(test, want, "the CLI's test loss after 30 steps differs from the library's");
    assert!(test < 0.8 * untrained, "test loss {test} after 30 steps, untrained {untrained}");
}

fn assert_one_line_failure(args: &[&str], needle: &str) {
    check_one_line_failure(args, aeplay(args), needle);
}

/// Checks a run's (exit code, stdout, stderr): it failed, with one line naming `needle`;
/// returns its stdout.
fn check_one_line_failure(args: &[&str], (code, out, err): (i32, String, String), needle: &str) -> String {
    assert_ne!(code, 0, "{args:?} succeeded: {out}");
    assert_eq!(err.trim().lines().count(), 1, "not one line: {err}");
    assert!(err.contains(needle), "{args:?}: expected '{needle}' in: {err}");
    out
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

#[test]
fn pca_reports_the_fifty_component_test_loss() {
    let dir = common::official_mnist_dir("pca_reports_the_fifty_component_test_loss");
    let (code, out, err) = aeplay(&["pca", "--components", "50", "--data", dir.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "stderr: {err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON line");
    assert_eq!(v["components"], 50);
    assert_eq!(v["explained_variance_ratio"].as_array().unwrap().len(), 50);
    let test = v["test_loss"].as_f64().unwrap();
    assert!((test - 4.502).abs() < 0.01, "test loss {test}");
    assert!(v["fit_seconds"].is_number() && v["variance_kept"].as_f64().unwrap() < 1.0, "{v}");
}

#[test]
fn pca_on_the_synthetic_cloud() {
    let (code, out, err) = aeplay(&["pca", "--synthetic", "3d", "--components", "2", "--json"]);
    assert_eq!(code, 0, "stderr: {err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON line");
    assert_eq!((v["points"].as_u64(), v["components"].as_u64()), (Some(200), Some(2)));
    let kept = v["variance_kept"].as_f64().unwrap();
    let mse = v["reconstruction_mse"].as_f64().unwrap();
    // Standardised columns: the MSE is the discarded variance fraction (population variance).
    assert!((0.85..0.999).contains(&kept), "{v}");
    assert!((mse - (1.0 - kept)).abs() < 1e-3, "{v}");
    assert_one_line_failure(&["pca", "--synthetic", "3d", "--components", "4"], "between 1 and 3");
    assert_one_line_failure(&["pca", "--synthetic", "4d"], "4d");
}

fn done_line(out: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(out.lines().last().expect("output")).expect("JSON line");
    assert_eq!(v["event"], "done", "{out}");
    v
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("aeplay-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn save_then_load_continues_like_one_run() {
    let dir = common::mnist_dir();
    let d = dir.to_str().unwrap();
    let tmp = temp_dir("resume");
    // Adam (moments and t restored) and masking noise (numbered by the step counter).
    for name in ["relu_ae_adam", "dae_vincent"] {
        let file = tmp.join(format!("{name}.safetensors"));
        let f = file.to_str().unwrap();
        let common = ["--backend", "cpu", "--data", d, "--json", "--batch", "32", "--threads", "1"];
        let run = |extra: &[&str]| {
            let mut args = vec!["train"];
            args.extend_from_slice(&common);
            args.extend_from_slice(extra);
            let (code, out, err) = aeplay(&args);
            assert_eq!(code, 0, "{args:?}: {err}");
            done_line(&out)
        };
        let straight = run(&["--preset", name, "--seed", "9", "--steps", "30"]);
        let first = run(&["--preset", name, "--seed", "9", "--steps", "20", "--save", f]);
        assert_eq!(first["saved"], f);
        let resumed = run(&["--load", f, "--steps", "10"]);
        assert_eq!(resumed["steps"], 30);
        assert_eq!(resumed["seed"], 9);
        assert_eq!(resumed["preset"], *name);
        assert_eq!(resumed["test_loss"], straight["test_loss"], "{name}: resumed {resumed}, straight {straight}");
        // The same preset given again is accepted.
        run(&["--load", f, "--preset", name, "--steps", "1"]);
    }
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn bad_saved_models_and_mismatches_are_one_line_errors() {
    let dir = common::mnist_dir();
    let d = dir.to_str().unwrap();
    let tmp = temp_dir("badload");
    let good = tmp.join("good.safetensors");
    let g = good.to_str().unwrap();
    let (code, _, err) = aeplay(&["train", "--preset", "linear_50", "--steps", "2", "--data", d, "--save", g, "--json"]);
    assert_eq!(code, 0, "{err}");
    let bytes = std::fs::read(&good).unwrap();

    let truncated = tmp.join("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() - 100]).unwrap();
    assert_one_line_failure(&["train", "--load", truncated.to_str().unwrap(), "--data", d], "truncated");
    let text = tmp.join("notes.txt");
    std::fs::write(&text, "these are not weights").unwrap();
    assert_one_line_failure(&["train", "--load", text.to_str().unwrap(), "--data", d], "not a safetensors file");
    assert_one_line_failure(&["train", "--load", "/nonexistent/model.safetensors", "--data", d], "cannot read");
    assert_one_line_failure(&["train", "--load", g, "--preset", "tied_ae", "--data", d], "differs from preset tied_ae");
    assert_one_line_failure(&["train", "--load", g, "--preset", "linear_50", "--batch", "7", "--data", d], "batch: 50 in the file, 7 wanted");
    assert_one_line_failure(&["train", "--load", g, "--seed", "3", "--data", d], "trained with seed 1");
    assert_one_line_failure(&["train", "--steps", "1", "--data", d, "--save", "/nonexistent/dir/m.safetensors"], "does not exist");
    assert_one_line_failure(&["export", "--load", truncated.to_str().unwrap(), "--out", tmp.join("x").to_str().unwrap()], "truncated");
    // A refused file leaves the target of --save untouched: nothing was trained.
    assert_eq!(std::fs::read(&good).unwrap(), bytes);
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn export_writes_the_model_and_the_torch_script() {
    let dir = common::mnist_dir();
    let tmp = temp_dir("export");
    let file = tmp.join("m.safetensors");
    let (code, _, err) = aeplay(&["train", "--preset", "tied_ae", "--steps", "3", "--data", dir.to_str().unwrap(), "--save", file.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    let out_dir = tmp.join("torch");
    let (code, out, err) = aeplay(&["export", "--load", file.to_str().unwrap(), "--out", out_dir.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    let line: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(line["event"], "export");
    assert_eq!(line["files"].as_array().unwrap().len(), 2);
    let script = std::fs::read_to_string(out_dir.join("train_torch.py")).unwrap();
    assert_eq!(script, aeplay::io::export::TORCH_SCRIPT);
    let exported = aeplay::io::saved::from_safetensors(&std::fs::read(out_dir.join("model.safetensors")).unwrap()).unwrap();
    let saved = aeplay::io::saved::from_safetensors(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(exported, saved);
    assert_eq!(saved.step, 3);
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn export_of_a_preset_writes_its_untrained_model() {
    let tmp = temp_dir("export-fresh");
    let out_dir = tmp.join("torch");
    let (code, out, err) = aeplay(&["export", "--preset", "sparse_kl", "--seed", "7", "--out", out_dir.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    let line: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!((line["event"].as_str(), line["preset"].as_str(), line["steps"].as_u64()), (Some("export"), Some("sparse_kl"), Some(0)));
    let exported = aeplay::io::saved::from_safetensors(&std::fs::read(out_dir.join("model.safetensors")).unwrap()).unwrap();
    let fresh = aeplay::io::saved::SavedModel::fresh(&aeplay::core::config::preset("sparse_kl").unwrap(), 7).unwrap();
    assert_eq!(exported, fresh);
    let o = out_dir.to_str().unwrap();
    assert_one_line_failure(&["export", "--out", o], "--load");
    assert_one_line_failure(&["export", "--preset", "nope", "--out", o], "unknown preset 'nope'");
    assert_one_line_failure(&["export", "--preset", "sda", "--out", o], "recipe");
    assert_one_line_failure(&["export", "--preset", "tied_ae", "--load", "x.safetensors", "--out", o], "cannot be used with");
    assert_one_line_failure(&["export", "--load", "x.safetensors", "--seed", "2", "--out", o], "--seed applies to --preset");
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// Each recipe runs from the CLI with a step cap per phase: a `recipe` line, a `phase`
/// line per phase, an `epoch` line per phase (two beside each other for
/// pretrain_classifier), and a `done` line with the recipe's figure.
#[test]
fn every_recipe_runs_from_the_cli_with_a_step_cap() {
    // pretrain_classifier's split and sda's validation rows assume 60,000 training images.
    let dir = common::official_mnist_dir("every_recipe_runs_from_the_cli_with_a_step_cap");
    let d = dir.to_str().unwrap();
    for (name, phases, key) in [("stacked_greedy", 2, "test_loss"), ("sda", 4, "test_error"), ("pretrain_classifier", 2, "random_accuracy")] {
        let (code, out, err) = aeplay(&["train", "--preset", name, "--steps", "2", "--labelled", "300", "--data", d, "--json", "--batch", "10"]
            .into_iter()
            .filter(|a| name == "pretrain_classifier" || (*a != "--labelled" && *a != "300"))
            .collect::<Vec<_>>());
        assert_eq!(code, 0, "{name}: stderr: {err}");
        let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
        let count = |ev: &str| lines.iter().filter(|l| l["event"] == ev).count();
        assert_eq!(lines[0]["event"], "recipe", "{name}");
        assert_eq!(count("phase"), phases, "{name}: {out}");
        let epochs = if name == "pretrain_classifier" { 3 } else { phases };
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

/// `linear_3d_pca`: the linear 3→2→3 autoencoder on the synthetic cloud reaches PCA's
/// reconstruction error and spans PCA's plane; its options are checked.
#[test]
fn linear_3d_pca_finds_the_pca_plane() {
    let (code, out, err) = aeplay(&["train", "--preset", "linear_3d_pca", "--steps", "3000", "--json"]);
    assert_eq!(code, 0, "stderr: {err}");
    let done = done_line(&out);
    let (model, pca) = (done["model_mse"].as_f64().unwrap(), done["pca_mse"].as_f64().unwrap());
    assert!(model <= pca * 1.01 && model >= pca * 0.999, "{done}");
    assert!(done["max_angle_deg"].as_f64().unwrap() < 1.0, "{done}");
    assert_one_line_failure(&["train", "--preset", "linear_3d_pca", "--batch", "5"], "--steps, --seed and --backend only");
}

/// Runs aeplay, failing the test (and killing it) if it takes more than `secs`: a hang is
/// a failure, not a stuck test run.
fn aeplay_within(secs: u64, args: &[&str]) -> (i32, String, String) {
    use std::io::Read;
    let mut child = Command::new(env!("CARGO_BIN_EXE_aeplay"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run aeplay");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("aeplay {args:?} still running after {secs} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let (mut out, mut err) = (String::new(), String::new());
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    (status.code().unwrap_or(-1), out, err)
}

fn assert_one_line_failure_within(secs: u64, args: &[&str], needle: &str) {
    check_one_line_failure(args, aeplay_within(secs, args), needle);
}

#[test]
fn save_to_an_unusable_target_fails_before_training() {
    let dir = common::mnist_dir();
    let d = dir.to_str().unwrap();
    let tmp = temp_dir("unusable-save");
    // A directory as the file: it used to train, then fail to write (the run was lost).
    let args = ["train", "--steps", "3000", "--data", d, "--save", tmp.to_str().unwrap(), "--json"];
    let out = check_one_line_failure(&args, aeplay(&args), "is a directory");
    assert!(out.is_empty(), "nothing is trained: {out}");
    // A regular file where the directory should be; a device.
    let plain = tmp.join("plain");
    std::fs::write(&plain, "x").unwrap();
    assert_one_line_failure(&["train", "--steps", "3000", "--data", d, "--save", plain.join("m.safetensors").to_str().unwrap()], "does not exist");
    assert_one_line_failure(&["train", "--steps", "3000", "--data", d, "--save", "/dev/null"], "not a regular file");
    assert_eq!(std::fs::metadata("/dev/null").map(|m| m.is_file()).ok(), Some(false), "/dev/null is still a device");
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn absurd_epoch_counts_are_refused_not_wrapped() {
    let dir = common::mnist_dir();
    let d = dir.to_str().unwrap();
    // 2^63 + 1 epochs of 3,750 steps wrapped to one epoch, which ran and exited 0.
    assert_one_line_failure_within(60, &["train", "--epochs", "9223372036854775809", "--data", d], "more than 2^64 steps at 3750 steps per epoch: give at most 4919131752989213 epochs");
    assert_one_line_failure(&["train", "--epochs", "99999999999999999999999", "--data", d], "--epochs");
}

#[test]
fn devices_and_fifos_are_refused_without_blocking() {
    let dir = common::mnist_dir();
    let tmp = temp_dir("special-files");
    // /dev/zero as a data file: read without a limit before.
    for f in aeplay::data::FILES {
        let gz = dir.join(format!("{f}.gz"));
        let from = if gz.exists() { gz } else { dir.join(f) };
        std::os::unix::fs::symlink(&from, tmp.join(from.file_name().unwrap())).unwrap();
    }
    let victim = tmp.join("train-images-idx3-ubyte.gz");
    std::fs::remove_file(&victim).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &victim).unwrap();
    assert_one_line_failure_within(60, &["train", "--steps", "1", "--data", tmp.to_str().unwrap()], "is a device, not a regular file");
    // A FIFO as a model file: opening it blocked until someone wrote to it.
    let fifo = tmp.join("model.safetensors");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    assert_one_line_failure_within(60, &["train", "--load", fifo.to_str().unwrap(), "--data", dir.to_str().unwrap()], "FIFO");
    assert_one_line_failure_within(60, &["export", "--load", "/dev/zero", "--out", tmp.join("x").to_str().unwrap()], "is a device");
    std::fs::remove_dir_all(&tmp).unwrap();
}

/// The step named in a divergence message.
fn diverged_step(err: &str) -> u64 {
    let rest = err.split("training diverged at step ").nth(1).unwrap_or_else(|| panic!("no step in: {err}"));
    rest.split(':').next().unwrap().parse().unwrap()
}

#[test]
fn divergence_stops_training_at_its_step_and_keeps_the_last_good_weights() {
    let dir = common::mnist_dir();
    let d = dir.to_str().unwrap();
    let tmp = temp_dir("diverge");
    // vae_20 at an absurd learning rate turns NaN within a few steps (a NaN used to be
    // reported at the end of the epoch, as if it happened there); dae_vincent at 10 blows up
    // to a finite but absurd loss (it used to print a test loss of 10³² and exit 0).
    for (name, lr, suggested) in [("vae_20", "1e30", "1e29"), ("dae_vincent", "10", "1")] {
        let save = tmp.join(format!("{name}.safetensors"));
        let (code, out, err) = aeplay_within(
            300,
            &["train", "--preset", name, "--lr", lr, "--steps", "1000", "--data", d, "--json", "--threads", "1", "--save", save.to_str().unwrap()],
        );
        assert_eq!(code, 1, "{name}: {out}\n{err}");
        assert_eq!(err.trim().lines().count(), 1, "{name}: not one line: {err}");
        assert!(!out.contains("\"done\""), "{name}: no done line: {out}");
        let step = diverged_step(&err);
        assert!(step < 100, "{name}: found at step {step}: {err}");
        assert!(err.contains(&format!("at learning rate {lr}; try a smaller learning rate, e.g. {suggested} (--lr {suggested})")), "{name}: {err}");
        let kind = if name == "vae_20" { "the loss became NaN" } else { "more than 10× its first value" };
        assert!(err.contains(kind), "{name}: {err}");
        // The weights kept are saved under a name that says so, never over --save's file.
        assert!(!save.exists(), "{name}: the file asked for is not written by a diverged run");
        let kept_path = tmp.join(format!("{name}.before-divergence.safetensors"));
        assert!(err.contains(&format!("were saved to {}", kept_path.display())), "{name}: {err}");
        let kept = aeplay::io::saved::from_safetensors(&std::fs::read(&kept_path).unwrap()).unwrap();
        assert!(kept.step + 1 < step, "{name}: kept step {}, diverged at {step}", kept.step);
        assert!(err.contains(&format!("the weights of step {}, the last before it", kept.step)), "{name}: {err}");
        assert_eq!(kept.config.optimizer.lr(), lr.parse::<f32>().unwrap());
        // They train on from there at a smaller learning rate.
        let (code, out, err) = aeplay(&["train", "--load", kept_path.to_str().unwrap(), "--lr", "0.0001", "--steps", "5", "--data", d, "--json"]);
        assert_eq!(code, 0, "{name}: {err}");
        assert!(done_line(&out)["test_loss"].as_f64().unwrap().is_finite(), "{name}: {out}");
    }
    // Without --save nothing is written, and the message says so.
    let (code, _, err) = aeplay(&["train", "--preset", "vae_20", "--lr", "10", "--steps", "300", "--data", d]);
    assert_eq!(code, 1);
    assert!(err.contains("were not saved (no --save)"), "{err}");
    std::fs::remove_dir_all(&tmp).unwrap();
}
