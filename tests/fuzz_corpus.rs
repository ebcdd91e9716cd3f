//! The fuzz targets' corpus (fuzz/corpus/TARGET/*) replayed through the targets' own entry
//! points (`aeplay::fuzzing`), without a fuzzing engine: every crafted input of the issue
//! and every input the fuzzer kept stays harmless. `write_seed_corpus` (ignored) writes the
//! crafted seeds: `cargo test --release --test fuzz_corpus -- --ignored write_seed_corpus`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use aeplay::core::config::{Activation, LossKind, ModelConfig, NoiseKind, Optimizer, Sparsity};
use aeplay::data::idx::{write_images, write_labels};
use aeplay::fuzzing;
use aeplay::io::saved::{to_safetensors, SavedModel};
use safetensors::{Dtype, SafeTensors};

const TARGETS: [(&str, fn(&[u8])); 4] =
    [("idx", fuzzing::idx), ("saved", fuzzing::saved), ("saved_frame", fuzzing::saved_frame), ("urlstate", fuzzing::urlstate)];

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target)
}

#[test]
fn every_corpus_file_passes_its_target() {
    for (target, entry) in TARGETS {
        let dir = corpus_dir(target);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(files.len() >= 10, "{target}: only {} corpus files", files.len());
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            if std::panic::catch_unwind(|| entry(&bytes)).is_err() {
                panic!("{target}: {} fails (replay: cargo +nightly fuzz run {target} {})", f.display(), f.display());
            }
        }
    }
}

#[test]
fn the_crafted_seeds_are_in_the_corpus() {
    // By name: a saved model's header lists its metadata in hash-map order, so the bytes
    // of two writes may differ.
    for (target, files) in seeds() {
        for (name, _) in files {
            let path = corpus_dir(target).join(&name);
            assert!(path.is_file(), "{} is missing (run write_seed_corpus)", path.display());
        }
    }
}

#[test]
#[ignore = "writes fuzz/corpus: run by hand after changing the seeds"]
fn write_seed_corpus() {
    for (target, files) in seeds() {
        let dir = corpus_dir(target);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in files {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// The crafted seeds, per target: (file name, contents).
fn seeds() -> Vec<(&'static str, Vec<(String, Vec<u8>)>)> {
    let saved = saved_seeds();
    let frames = saved.iter().filter_map(|(n, b)| fuzzing::unframe(b).map(|f| (n.clone(), f))).collect();
    vec![("idx", idx_seeds()), ("saved", saved), ("saved_frame", frames), ("urlstate", url_seeds())]
}

fn idx_seeds() -> Vec<(String, Vec<u8>)> {
    let px: Vec<u8> = (0..3 * 4 * 5).map(|i| (i * 13) as u8).collect();
    let images = write_images(4, 5, &px);
    let labels = write_labels(&[1, 2, 9]);
    let mut v: Vec<(String, Vec<u8>)> = vec![
        ("images-raw".into(), images.clone()),
        ("images.gz".into(), gz(&images)),
        ("labels-raw".into(), labels.clone()),
        ("labels.gz".into(), gz(&labels)),
        ("truncated.gz".into(), gz(&images)[..20].to_vec()),
        ("header-only".into(), images[..16].to_vec()),
        ("label-12".into(), write_labels(&[3, 12])),
        ("14x56".into(), write_images(14, 56, &[5; 14 * 56])),
    ];
    // `cat a.gz b.gz`: once called truncated.
    let mut multi = gz(&images[..21]);
    multi.extend(gz(&images[21..]));
    v.push(("multi-member.gz".into(), multi));
    // Bytes after the gzip data: once ignored.
    let mut trailing = gz(&labels);
    trailing.extend_from_slice(b"GARBAGE");
    v.push(("trailing-garbage.gz".into(), trailing));
    // 5,478,275 images of 28×28 and 304 bytes of pixels: accepted on wasm32 (the size wrapped).
    let mut wrap = write_images(28, 28, &[0; 304]);
    wrap[4..8].copy_from_slice(&5_478_275u32.to_be_bytes());
    v.push(("wasm32-wrap".into(), wrap));
    // A valid header of 1.3 M images with zeros after it (1 GB decompressed: accepted).
    let mut big = write_images(28, 28, &[0; 784]);
    big[4..8].copy_from_slice(&1_300_000u32.to_be_bytes());
    big.extend(vec![0; 200_000]);
    v.push(("1.3M-images-header.gz".into(), gz(&big)));
    // A gzip bomb: 10 images declared, 4 MB of zeros (decompressed whole before).
    let mut bomb = write_images(28, 28, &[0; 7840]);
    bomb.extend(vec![0; 4_000_000]);
    v.push(("bomb.gz".into(), gz(&bomb)));
    v
}

/// A small model of each kind, with distinct values, as a file.
fn model(cfg: ModelConfig) -> SavedModel {
    cfg.validate().unwrap();
    let mut m = SavedModel::fresh(&cfg, 3).unwrap();
    m.params.iter_mut().enumerate().for_each(|(i, p)| *p = (i as f32 * 0.37).sin());
    for moment in &mut m.optim.moments {
        moment.iter_mut().enumerate().for_each(|(i, v)| *v = (i as f32 * 0.11).cos().abs());
    }
    (m.step, m.epoch, m.epoch_pos, m.train_rows, m.optim.t) = (9, 2, 1, 4, 9);
    m
}

/// Rebuilds a file with its metadata and tensors edited.
fn edit(bytes: &[u8], f: impl FnOnce(&mut Vec<(String, Dtype, Vec<usize>, Vec<u8>)>, &mut BTreeMap<String, String>)) -> Vec<u8> {
    let st = SafeTensors::deserialize(bytes).unwrap();
    let (_, header) = SafeTensors::read_metadata(bytes).unwrap();
    let mut meta: BTreeMap<String, String> = header.metadata().clone().unwrap_or_default().into_iter().collect();
    let mut tensors: Vec<_> = st.tensors().into_iter().map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec())).collect();
    f(&mut tensors, &mut meta);
    let views: Vec<_> =
        tensors.iter().map(|(n, d, s, b)| (n.clone(), safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap())).collect();
    safetensors::serialize(views, Some(meta.into_iter().collect())).unwrap()
}

fn saved_seeds() -> Vec<(String, Vec<u8>)> {
    use Activation::*;
    let base = ModelConfig { dims: vec![4, 3, 4], batch: 2, optimizer: Optimizer::Sgd { lr: 0.1 }, ..ModelConfig::default() };
    let sgd = to_safetensors(&model(base.clone()));
    let adam = to_safetensors(&model(ModelConfig {
        dims: vec![6, 4, 6],
        activations: vec![Elu, Identity],
        loss: LossKind::Mse,
        optimizer: Optimizer::adam(0.01),
        tied: true,
        l2: 1e-4,
        noise: NoiseKind::Gaussian { sigma: 0.1 },
        ..base.clone()
    }));
    let vae = to_safetensors(&model(ModelConfig {
        dims: vec![5, 4, 2, 4, 5],
        activations: vec![Elu, Identity, Elu, Sigmoid],
        variational: true,
        optimizer: Optimizer::Momentum { lr: 0.01, momentum: 0.9 },
        noise: NoiseKind::Masking { keep: 0.9 },
        ..base.clone()
    }));
    let classifier = to_safetensors(&model(ModelConfig {
        dims: vec![4, 3, 10],
        activations: vec![Sigmoid, Identity],
        loss: LossKind::SoftmaxCe,
        ..base.clone()
    }));
    let sparse = to_safetensors(&model(ModelConfig {
        dims: vec![4, 6, 4],
        activations: vec![Sigmoid, Identity],
        loss: LossKind::HalfSse,
        sparsity: Some(Sparsity { layer: 0, rho: 0.1, beta: 0.2 }),
        noise: NoiseKind::SaltPepper { p: 0.2 },
        ..base.clone()
    }));
    let set = |bytes: &[u8], pairs: &[(&str, &str)]| {
        edit(bytes, |_, m| {
            for (k, v) in pairs {
                m.insert(k.to_string(), v.to_string());
            }
        })
    };
    let mut v: Vec<(String, Vec<u8>)> = vec![
        ("sgd".into(), sgd.clone()),
        ("adam-tied".into(), adam.clone()),
        ("vae-momentum".into(), vae),
        ("classifier".into(), classifier.clone()),
        ("sparse".into(), sparse),
        // The issue's hang: epoch 10¹² (with 3 steps: refused; with as many steps: resumes at once).
        ("epoch-1e12".into(), set(&sgd, &[("epoch", "1000000000000")])),
        ("epoch-1e12-steps".into(), set(&sgd, &[("epoch", "1000000000000"), ("step", "1000000000001")])),
        // Adam's t at 2⁶⁴−1 (wrapped, then asserted) and at the largest accepted.
        ("optim-t-max".into(), set(&adam, &[("optim_t", "18446744073709551615")])),
        ("optim-t-2p53".into(), set(&adam, &[("optim_t", "9007199254740992"), ("step", "9007199254740992")])),
        ("history-bad".into(), set(&sgd, &[("history", "[1, 2")])),
        ("history".into(), set(&sgd, &[("history", r#"{"train":[[1,2.5],[9,1.25]],"test":[[9,1.5]]}"#)])),
        ("not-safetensors".into(), b"these are not weights".to_vec()),
        ("huge-header-length".into(), [0xff; 8].iter().copied().chain(*b"{}").collect()),
        ("truncated".into(), sgd[..sgd.len() - 5].to_vec()),
    ];
    // A classifier with 5 outputs (label 8 panicked).
    v.push((
        "classifier-5".into(),
        edit(&classifier, |t, m| {
            let c = m["config"].replace("[4,3,10]", "[4,3,5]");
            m.insert("config".into(), c);
            for (name, _, shape, data) in t.iter_mut() {
                if name.starts_with("layers.1.") {
                    shape[0] = 5;
                    data.truncate(data.len() / 2);
                }
            }
        }),
    ));
    let weight = |t: &mut Vec<(String, Dtype, Vec<usize>, Vec<u8>)>| t.iter_mut().position(|x| x.0 == "layers.0.weight").unwrap();
    let nan = edit(&sgd, |t, _| {
        let w = weight(t);
        t[w].3[..4].copy_from_slice(&f32::NAN.to_le_bytes())
    });
    v.push(("nan".into(), nan));
    let extra = edit(&sgd, |t, _| t.push(("layers.9.bias".into(), Dtype::F32, vec![1], vec![0; 4])));
    v.push(("extra-tensor".into(), extra));
    let f64s = edit(&sgd, |t, _| {
        let w = weight(t);
        t[w].1 = Dtype::F64;
        t[w].2[1] /= 2;
    });
    v.push(("f64".into(), f64s));
    // 200 tiny layers (the issue's 80,000 took 48 s to load): refused by the layer bound.
    let layers = 200;
    let deep = ModelConfig { dims: vec![2; layers + 1], activations: vec![Identity; layers], loss: LossKind::HalfSse, ..base };
    let total = aeplay::core::layout::ParamLayout::new(&deep).total;
    let mut m = model(ModelConfig { dims: vec![2, 2], activations: vec![Identity], loss: LossKind::HalfSse, ..deep.clone() });
    (m.config, m.params) = (deep, vec![0.25; total]);
    v.push(("200-layers".into(), to_safetensors(&m)));
    v
}

fn url_seeds() -> Vec<(String, Vec<u8>)> {
    let big = format!("?preset=custom&dims=784,{}784", "16384,".repeat(17));
    [
        ("issue-17-layers", big.as_str()),
        ("example", "?preset=dae_vincent&lr=0.02&batch=32&noise=masking:0.8&seed=7&backend=cpu&panels=recon,features&lecture=1&hide=lr,batch"),
        ("custom", "preset=custom&dims=784,256,64,256,784&act=tanh,relu,elu,sigmoid&opt=momentum&lr=0.0375&mom=0.95&init=uniform:0.2&noise=masking:0.7&l2=3e-5&tied=1"),
        ("adam", "preset=stacked_elu&opt=adam&beta1=0.8&beta2=0.99&eps=1e-7&batch=65536"),
        ("wide-batch", "preset=dae_vincent&dims=784,16384,784&batch=65536"),
        ("recipe", "preset=sda&cap=7&seed=3&backend=cpu&lr=0.5"),
        ("scene", "preset=linear_3d_pca&seed=42&lecture=1&dims=3,2,3"),
        ("bad-values", "lr=NaN&batch=0&noise=gaussian:20&backend=tpu&frobnicate=1&act=relu&seed=-4"),
        ("percent", "preset=tied_ae&noise=masking%3A0.5&hide=%zz,%4&panels=a+b#frag"),
        ("duplicates", "batch=8&batch=64&lr=1&lr=2&preset=vae_20&preset=nope"),
        ("together", "preset=dae_vincent&act=relu,identity&loss=mse&red=mean&dims=784,300,100,784&tied=1"),
        ("empty", ""),
        ("control", "preset=\u{0}&lr=\u{7f}0.1&é=ü"),
    ]
    .into_iter()
    .map(|(n, q)| (n.to_string(), q.as_bytes().to_vec()))
    .collect()
}
