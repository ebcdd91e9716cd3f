//! Tests of saved models: every preset round-trips exactly, the tensors carry PyTorch's
//! names and shapes, and every kind of damaged, foreign or crafted file is refused with its
//! reason (or loads harmlessly), never a hang or a panic.

use safetensors::{Dtype, SafeTensors};

use super::*;
use crate::core::config::{preset, Optimizer, PRESET_NAMES};

/// A model with distinct values everywhere (so a transposition or mix-up shows).
fn sample(name: &str) -> SavedModel {
    let mut m = SavedModel::fresh(&preset(name).unwrap(), 7).unwrap();
    for (i, p) in m.params.iter_mut().enumerate() {
        *p = (i as f32 * 0.37).sin();
    }
    for (k, moment) in m.optim.moments.iter_mut().enumerate() {
        for (i, v) in moment.iter_mut().enumerate() {
            *v = ((i + 1000 * (k + 1)) as f32 * 0.11).cos().abs();
        }
    }
    m.optim.t = 123;
    m.step = 123;
    m.epoch = 2;
    m.epoch_pos = 480;
    m.train_rows = 60_000;
    m.history = LossHistory { train: vec![(10, 540.5), (120, 98.25)], test: vec![(120, 101.0)] };
    m
}

/// Rebuilds a file from its parts with `edit` applied to the tensors and metadata.
fn rebuild(bytes: &[u8], edit: impl FnOnce(&mut Vec<(String, Dtype, Vec<usize>, Vec<u8>)>, &mut BTreeMap<String, String>)) -> Vec<u8> {
    let st = SafeTensors::deserialize(bytes).unwrap();
    let (_, header) = SafeTensors::read_metadata(bytes).unwrap();
    let mut meta: BTreeMap<String, String> = header.metadata().clone().unwrap_or_default().into_iter().collect();
    let mut tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> =
        st.tensors().into_iter().map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec())).collect();
    edit(&mut tensors, &mut meta);
    let views: Vec<_> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.clone(), safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize(views, Some(meta.into_iter().collect())).unwrap()
}

fn err(bytes: &[u8]) -> LoadError {
    from_safetensors(bytes).expect_err("a bad file was accepted")
}

#[test]
fn every_preset_round_trips_exactly() {
    for name in PRESET_NAMES {
        let m = sample(name);
        let bytes = to_safetensors(&m);
        let back = from_safetensors(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(back, m, "{name}");
        // Same size again (the header's metadata order may vary: it is a hash map).
        assert!(to_safetensors(&back).len() == bytes.len());
    }
}

#[test]
fn the_loss_history_travels_with_the_model() {
    let mut m = sample("dae_vincent");
    // A diverged step's NaN is left out (JSON has no NaN).
    m.history.train.push((130, f64::NAN));
    let back = from_safetensors(&to_safetensors(&m)).unwrap();
    assert_eq!(back.history, LossHistory { train: vec![(10, 540.5), (120, 98.25)], test: vec![(120, 101.0)] });
    // Files without a history (older ones, the CLI's) load with none.
    let bytes = rebuild(&to_safetensors(&m), |_, meta| {
        meta.remove("history");
    });
    assert_eq!(from_safetensors(&bytes).unwrap().history, LossHistory::default());
    // A malformed one is refused, saying which entry.
    let bytes = rebuild(&to_safetensors(&m), |_, meta| {
        meta.insert("history".into(), "[1, 2".into());
    });
    let e = from_safetensors(&bytes).unwrap_err().to_string();
    assert!(e.contains("'history'"), "{e}");
}

#[test]
fn tensors_use_pytorch_names_and_shapes() {
    let m = sample("tied_ae");
    let bytes = to_safetensors(&m);
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut names = st.names();
    names.sort();
    assert_eq!(names, vec!["layers.0.bias", "layers.0.weight", "layers.1.bias"]);
    let w = st.tensor("layers.0.weight").unwrap();
    assert_eq!(w.shape(), &[500, 784]);
    // PyTorch's W[o][i] is our W[i][o] (stored fan_in × fan_out).
    let val = |o: usize, i: usize| {
        let k = 4 * (o * 784 + i);
        f32::from_le_bytes(w.data()[k..k + 4].try_into().unwrap())
    };
    assert_eq!(val(3, 5), m.params[5 * 500 + 3]);
    assert_eq!(val(499, 783), m.params[783 * 500 + 499]);

    let m = sample("stacked_elu");
    let bytes = to_safetensors(&m);
    let st = SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.len(), 3 * 8);
    assert_eq!(st.tensor("optim.exp_avg_sq.layers.2.weight").unwrap().shape(), &[300, 150]);
    assert_eq!(st.tensor("optim.exp_avg.layers.3.bias").unwrap().shape(), &[784]);
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let meta = header.metadata().as_ref().unwrap();
    assert_eq!(meta["format"], "aeplay-model");
    assert_eq!(meta["optim_t"], "123");
    let cfg: ModelConfig = serde_json::from_str(&meta["config"]).unwrap();
    assert_eq!(cfg, preset("stacked_elu").unwrap());
}

#[test]
fn momentum_state_round_trips() {
    let mut cfg = preset("linear_50").unwrap();
    cfg.optimizer = Optimizer::Momentum { lr: 0.01, momentum: 0.9 };
    let mut m = SavedModel::fresh(&cfg, 3).unwrap();
    m.optim.moments[0].iter_mut().enumerate().for_each(|(i, v)| *v = i as f32);
    let back = from_safetensors(&to_safetensors(&m)).unwrap();
    assert_eq!(back, m);
}

#[test]
fn oversized_short_and_foreign_bytes_are_refused() {
    let big = vec![0u8; MAX_FILE_BYTES + 1];
    assert!(matches!(err(&big), LoadError::TooLarge { .. }));
    assert!(matches!(err(b""), LoadError::NotSafetensors(_)));
    assert!(matches!(err(b"\x01\x02\x03"), LoadError::NotSafetensors(_)));
    // A PNG, a JSON file, a gzip file.
    assert!(matches!(err(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), LoadError::NotSafetensors(_)));
    assert!(matches!(err(br#"{"dims": [784, 500, 784]}"#), LoadError::NotSafetensors(_)));
    assert!(matches!(err(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03abc"), LoadError::NotSafetensors(_)));
    let msg = err(b"hello world, this is text").to_string();
    assert!(msg.contains("not a safetensors file"), "{msg}");
}

#[test]
fn truncated_files_are_refused() {
    let bytes = to_safetensors(&sample("linear_50"));
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    // Inside the header, and inside the tensor data, and one byte short.
    for cut in [9, 8 + n / 2, 8 + n + 10, bytes.len() / 2, bytes.len() - 1] {
        let e = err(&bytes[..cut]);
        assert!(matches!(e, LoadError::Truncated(_)), "cut at {cut}: {e}");
        assert!(e.to_string().contains("truncated"), "{e}");
    }
    // Bytes appended are refused too.
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0; 4]);
    assert!(matches!(err(&longer), LoadError::Truncated(_)));
}

#[test]
fn malformed_headers_are_refused() {
    let bytes = to_safetensors(&sample("linear_50"));
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    // Break the JSON: replace a closing brace with a space.
    let mut bad = bytes.clone();
    let close = 8 + bytes[8..8 + n].iter().rposition(|&b| b == b'}').unwrap();
    bad[close] = b' ';
    assert!(matches!(err(&bad), LoadError::HeaderMalformed(_)), "{}", err(&bad));
    // Invalid UTF-8 inside the header.
    let mut bad = bytes.clone();
    bad[8 + 3] = 0xff;
    assert!(matches!(err(&bad), LoadError::HeaderMalformed(_)));
    // Offsets that point outside the data.
    let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap();
    let first_end = header.find("\"data_offsets\":[0,").unwrap();
    let mut h = header.to_string();
    h.replace_range(first_end..first_end + 18, "\"data_offsets\":[1,");
    let mut bad = bytes[..8].to_vec();
    bad.extend_from_slice(h.as_bytes());
    bad.extend_from_slice(&bytes[8 + n..]);
    assert!(matches!(err(&bad), LoadError::HeaderMalformed(_)), "{}", err(&bad));
}

#[test]
fn foreign_and_future_metadata_are_refused() {
    let bytes = to_safetensors(&sample("linear_50"));
    let e = err(&rebuild(&bytes, |_, m| {
        m.remove("format");
    }));
    assert!(matches!(e, LoadError::NotAnAeplayModel(_)), "{e}");
    let e = err(&rebuild(&bytes, |_, m| {
        m.insert("format".into(), "pt".into());
    }));
    assert!(matches!(e, LoadError::NotAnAeplayModel(_)), "{e}");
    let e = err(&rebuild(&bytes, |_, m| {
        m.insert("format_version".into(), "2".into());
    }));
    assert!(matches!(e, LoadError::UnsupportedVersion(_)), "{e}");
    assert!(e.to_string().contains("update aeplay"));
    let e = err(&rebuild(&bytes, |_, m| {
        m.insert("format_version".into(), "one".into());
    }));
    assert!(matches!(e, LoadError::BadMetadata { key: "format_version", .. }), "{e}");
    // A weights-only file (no metadata at all).
    let e = err(&rebuild(&bytes, |_, m| m.clear()));
    assert!(matches!(e, LoadError::NotAnAeplayModel(_)), "{e}");
}

#[test]
fn missing_unparseable_or_invalid_config_is_refused() {
    let bytes = to_safetensors(&sample("linear_50"));
    let e = err(&rebuild(&bytes, |_, m| {
        m.remove("config");
    }));
    assert_eq!(e, LoadError::MissingMetadata("config"));
    let e = err(&rebuild(&bytes, |_, m| {
        m.insert("config".into(), "{not json".into());
    }));
    assert!(matches!(e, LoadError::BadConfig(_)), "{e}");
    let e = err(&rebuild(&bytes, |_, m| {
        let c = m["config"].replace("\"loss\":\"half_sse\"", "\"loss\":\"hinge\"");
        m.insert("config".into(), c);
    }));
    assert!(matches!(e, LoadError::BadConfig(_)), "{e}");
    assert!(e.to_string().contains("hinge"), "{e}");
    let e = err(&rebuild(&bytes, |_, m| {
        let c = m["config"].replace("\"batch\":50", "\"batch\":0");
        m.insert("config".into(), c);
    }));
    assert!(matches!(e, LoadError::InvalidConfig(_)), "{e}");
    assert!(e.to_string().contains("batch size 0"), "{e}");
    for key in ["step", "epoch", "seed", "optim_t"] {
        let e = err(&rebuild(&bytes, |_, m| {
            m.insert(key.into(), "-3".into());
        }));
        assert!(matches!(e, LoadError::BadMetadata { key: k, .. } if k == key), "{e}");
        let e = err(&rebuild(&bytes, |_, m| {
            m.remove(key);
        }));
        assert_eq!(e, LoadError::MissingMetadata(match key {
            "step" => "step",
            "epoch" => "epoch",
            "seed" => "seed",
            _ => "optim_t",
        }));
    }
    let e = err(&rebuild(&bytes, |_, m| {
        m.insert("epoch_pos".into(), "60000".into());
    }));
    assert!(matches!(e, LoadError::BadMetadata { key: "epoch_pos", .. }), "{e}");
}

#[test]
fn missing_extra_misshapen_mistyped_and_non_finite_tensors_are_refused() {
    let bytes = to_safetensors(&sample("stacked_elu"));
    let e = err(&rebuild(&bytes, |t, _| t.retain(|(n, ..)| n != "layers.2.bias")));
    assert_eq!(e, LoadError::MissingTensor("layers.2.bias".into()));
    let e = err(&rebuild(&bytes, |t, _| t.retain(|(n, ..)| n != "optim.exp_avg_sq.layers.0.weight")));
    assert_eq!(e, LoadError::MissingTensor("optim.exp_avg_sq.layers.0.weight".into()));
    let e = err(&rebuild(&bytes, |t, _| t.push(("layers.4.bias".into(), Dtype::F32, vec![2], vec![0; 8]))));
    assert_eq!(e, LoadError::ExtraTensor("layers.4.bias".into()));
    // The weight stored in our [in, out] orientation instead of PyTorch's [out, in].
    let e = err(&rebuild(&bytes, |t, _| {
        let w = t.iter_mut().find(|(n, ..)| n == "layers.0.weight").unwrap();
        w.2 = vec![784, 300];
    }));
    assert_eq!(e, LoadError::WrongShape { name: "layers.0.weight".into(), expected: vec![300, 784], found: vec![784, 300] });
    // F64 (as numpy saves by default).
    let e = err(&rebuild(&bytes, |t, _| {
        let b = t.iter_mut().find(|(n, ..)| n == "layers.1.bias").unwrap();
        b.1 = Dtype::F64;
        b.2 = vec![75];
    }));
    assert!(matches!(&e, LoadError::WrongDtype { name, found } if name == "layers.1.bias" && found == "F64"), "{e}");
    assert!(e.to_string().contains("F32"));
    // A NaN in a weight and an infinity in a moment.
    for (name, value) in [("layers.3.weight", f32::NAN), ("optim.exp_avg.layers.1.bias", f32::INFINITY)] {
        let e = err(&rebuild(&bytes, |t, _| {
            let w = t.iter_mut().find(|(n, ..)| n == name).unwrap();
            w.3[40..44].copy_from_slice(&value.to_le_bytes());
        }));
        assert!(matches!(&e, LoadError::NonFinite { name: n, index: 10, .. } if n == name), "{e}");
    }
    // A file for another optimizer: Adam moments under an SGD description.
    let e = err(&rebuild(&bytes, |_, m| {
        let c = m["config"].replace(r#""optimizer":{"kind":"adam","lr":0.01,"beta1":0.9,"beta2":0.999,"eps":1e-8}"#, r#""optimizer":{"kind":"sgd","lr":0.01}"#);
        assert_ne!(c, m["config"], "pattern not found in {}", m["config"]);
        m.insert("config".into(), c);
    }));
    assert!(matches!(&e, LoadError::ExtraTensor(n) if n.starts_with("optim.exp_avg")), "{e}");
}

#[test]
fn crafted_progress_numbers_are_refused_or_harmless() {
    let bytes = to_safetensors(&sample("linear_50"));
    // More completed epochs than steps: impossible, refused (it used to make resuming
    // replay every epoch's shuffle: 10⁵ took minutes, 10¹² years).
    for epoch in ["100000", "1000000000000", &u64::MAX.to_string()] {
        let e = err(&rebuild(&bytes, |_, m| {
            m.insert("epoch".into(), epoch.to_string());
        }));
        assert!(matches!(e, LoadError::BadMetadata { key: "epoch", .. }), "{e}");
        assert!(e.to_string().contains("more completed epochs than the 123 steps taken"), "{e}");
    }
    // Step counts past 2^53: an Adam count of 2^64−1 used to wrap to 0 at the next step.
    for key in ["step", "optim_t"] {
        let e = err(&rebuild(&bytes, |_, m| {
            m.insert(key.into(), u64::MAX.to_string());
        }));
        assert!(matches!(e, LoadError::BadMetadata { key: k, .. } if k == key), "{e}");
        assert!(e.to_string().contains("more steps than any run takes"), "{e}");
    }
    let e = err(&rebuild(&bytes, |_, m| {
        m.insert("train_rows".into(), "4000000000".into());
    }));
    assert!(matches!(e, LoadError::BadMetadata { key: "train_rows", .. }), "{e}");
    let e = err(&rebuild(&bytes, |_, m| {
        m.insert("train_rows".into(), "0".into());
        m.insert("epoch_pos".into(), "18446744073709551615".into());
    }));
    assert!(matches!(e, LoadError::BadMetadata { key: "epoch_pos", .. }), "{e}");
    // A classifier with fewer outputs than MNIST has digits: it loads (the file is
    // consistent), but training it on the digits is refused with the reason (label 8
    // used to panic in the one-hot gather).
    let mut cls = SavedModel::fresh(&ModelConfig {
        dims: vec![784, 20, 5],
        activations: vec![crate::core::Activation::Sigmoid, crate::core::Activation::Identity],
        loss: crate::core::LossKind::SoftmaxCe,
        ..ModelConfig::default()
    }, 1)
    .unwrap();
    cls.step = 3;
    let cls = from_safetensors(&to_safetensors(&cls)).unwrap();
    let e = cls.resume(crate::backend::cpu::CpuBackend::with(crate::backend::cpu::Isa::Scalar, 1), &tiny_data()).err().unwrap();
    assert_eq!(e, "the data have label 9 but the classifier has only 5 outputs");
}

#[test]
fn a_file_of_eighty_thousand_tiny_layers_is_refused_at_once() {
    // It loaded in 48 s (a quadratic check of its 160,000 tensors); now the layer
    // count in its description refuses it before any tensor is looked at.
    let layers = 80_000;
    let config = ModelConfig {
        dims: vec![2; layers + 1],
        activations: vec![crate::core::Activation::Identity; layers],
        loss: crate::core::LossKind::HalfSse,
        ..ModelConfig::default()
    };
    let total = ParamLayout::new(&config).total;
    let m = SavedModel {
        config,
        params: vec![0.5; total],
        optim: OptimState::default(),
        step: 1,
        epoch: 0,
        epoch_pos: 0,
        train_rows: 0,
        seed: 1,
        history: LossHistory::default(),
    };
    let bytes = to_safetensors(&m);
    assert!(bytes.len() > 10_000_000, "{} bytes", bytes.len());
    let e = err(&bytes);
    assert!(matches!(e, LoadError::InvalidConfig(_)), "{e}");
    assert!(e.to_string().contains("80000 layers, more than the 64"), "{e}");
}

#[test]
fn a_crafted_file_resumes_without_a_hang_or_a_panic() {
    // An Adam model at the largest step count a file may give (a larger one wrapped to
    // 0, then Adam asserted) and epoch 10¹² (replayed 10¹² shuffles): loads, resumes
    // and trains on.
    let mut m = sample("relu_ae_adam");
    m.optim.t = MAX_STEPS;
    m.step = 2_000_000_000_000;
    m.epoch = if cfg!(target_pointer_width = "64") { 1_000_000_000_000u64 as usize } else { u32::MAX as usize };
    let m = from_safetensors(&to_safetensors(&m)).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use crate::backend::cpu::{CpuBackend, Isa};
        let mut t = m.resume(CpuBackend::with(Isa::Scalar, 1), &tiny_data()).unwrap();
        for _ in 0..3 {
            t.step();
        }
        assert!(t.take_train_loss().unwrap().0.is_finite());
        tx.send((t.step, t.model.opt_steps)).unwrap();
    });
    let (step, t) = rx.recv_timeout(std::time::Duration::from_secs(60)).expect("resuming hangs or panics");
    assert_eq!((step, t), (2_000_000_000_003, MAX_STEPS + 3));
}

/// A tiny synthetic data set (100 training rows) so epochs are a few steps long.
fn tiny_data() -> Mnist {
    Mnist::pattern(100, 20)
}

#[test]
fn a_resumed_run_continues_exactly_like_an_uninterrupted_one() {
    use crate::backend::cpu::CpuBackend;
    let data = tiny_data();
    for name in ["dae_vincent", "stacked_elu"] {
        let mut cfg = preset(name).unwrap();
        cfg.batch = 16; // 7 steps per epoch (the last one partial)
        let mut straight = Trainer::new(CpuBackend::with(crate::backend::cpu::Isa::Scalar, 1), &cfg, &data, 5).unwrap();
        for _ in 0..20 {
            straight.step();
        }
        let mut first = Trainer::new(CpuBackend::with(crate::backend::cpu::Isa::Scalar, 1), &cfg, &data, 5).unwrap();
        for _ in 0..9 {
            first.step();
        }
        let saved = from_safetensors(&to_safetensors(&SavedModel::capture(&mut first))).unwrap();
        assert_eq!((saved.step, saved.epoch, saved.epoch_pos, saved.train_rows), (9, 1, 32, 100));
        let mut resumed = saved.resume(CpuBackend::with(crate::backend::cpu::Isa::Scalar, 1), &data).unwrap();
        for _ in 0..11 {
            resumed.step();
        }
        assert_eq!((resumed.step, resumed.epoch, resumed.pos), (straight.step, straight.epoch, straight.pos));
        let (a, b) = (SavedModel::capture(&mut straight), SavedModel::capture(&mut resumed));
        assert!(a == b, "{name}: the resumed run differs from the uninterrupted one");
    }
}

#[test]
fn config_differences_name_each_field() {
    let a = preset("dae_vincent").unwrap();
    let mut b = a.clone();
    b.batch = 32;
    b.name = "other".into();
    assert_eq!(config_differences(&a, &b), vec!["batch: 16 in the file, 32 wanted".to_string()]);
    assert!(config_differences(&a, &a).is_empty());
    let m = SavedModel::fresh(&a, 1).unwrap();
    let e = m.check_config(&preset("tied_ae").unwrap(), "preset tied_ae").unwrap_err();
    let s = e.to_string();
    assert!(s.contains("differs from preset tied_ae") && s.contains("tied: false in the file, true wanted"), "{s}");
}
