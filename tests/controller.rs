//! The page's engine without the page: the controller driven by commands, as the worker
//! drives it, on the CPU backend and a small synthetic data set. Each picture a frame
//! carries is checked for what it shows; so are the session changes the page makes.

use aeplay::app::controller::{Controller, Devices};
use aeplay::app::envelope::TestHook;
use aeplay::app::frame::Frame;
use aeplay::app::pictures::{PadOut, PcaView, Picture, PictureId, RecipeStatus};
use aeplay::app::protocol::{Command, Event, RunState, Status};
use aeplay::backend::block_on;
use aeplay::app::urlstate::Setup;
use aeplay::data::synthetic::tiny_mnist;

struct Driver {
    c: Controller,
    events: Vec<Event>,
}

impl Driver {
    fn new(setup: Setup) -> Driver {
        let (c, events) = block_on(Controller::new(tiny_mnist(400, 200), setup, Devices::CpuOnly)).unwrap();
        let mut d = Driver { c, events };
        d.settle();
        d
    }

    fn send(&mut self, cmd: Command) {
        let ev = block_on(self.c.handle(cmd));
        self.events.extend(ev);
    }

    /// Ticks until the controller has nothing left to do (not while training).
    fn settle(&mut self) {
        for _ in 0..10_000 {
            if !self.c.busy() || self.c.state() == RunState::Training {
                break;
            }
            let ev = block_on(self.c.tick());
            self.events.extend(ev);
        }
    }

    /// Ticks `n` times (training slices while training).
    fn ticks(&mut self, n: usize) {
        for _ in 0..n {
            let ev = block_on(self.c.tick());
            self.events.extend(ev);
        }
    }

    fn frames(&self) -> Vec<&Frame> {
        self.events.iter().filter_map(|e| if let Event::Frame(f) = e { Some(f.as_ref()) } else { None }).collect()
    }

    fn last_frame(&self) -> &Frame {
        self.frames().last().copied().expect("a frame")
    }

    fn status(&self) -> &Status {
        self.events.iter().rev().find_map(|e| if let Event::Status(s) = e { Some(s) } else { None }).expect("a status")
    }

    fn errors(&self) -> Vec<&str> {
        self.events.iter().filter_map(|e| if let Event::Error(s) = e { Some(s.as_str()) } else { None }).collect()
    }

    fn clear(&mut self) {
        self.events.clear();
    }
}

fn setup(preset: &str) -> Setup {
    Setup::new(aeplay::core::config::preset(preset).unwrap())
}

#[test]
fn a_model_trains_and_its_frames_carry_its_pictures() {
    let mut d = Driver::new(setup("dae_vincent"));
    assert_eq!(d.status().state, RunState::Ready);
    let first = d.last_frame().clone();
    // A fresh model's first frame: the grid (a corrupted row: masking noise), features, the
    // latent space, an empty pad.
    let Some(Picture::Recon(recon)) = first.picture(PictureId::Recon) else { panic!("the reconstruction grid") };
    assert_eq!(recon.clean.len(), 10 * 784);
    assert!(recon.noisy.is_some());
    let Some(Picture::Tiles(feats)) = first.picture(PictureId::Features) else { panic!("features") };
    assert_eq!((feats.shown, feats.units), (100, 500));
    let Some(Picture::Scatter(latent)) = first.picture(PictureId::Latent) else { panic!("latent space") };
    assert_eq!(latent.points.len(), 200);
    assert_eq!(first.picture(PictureId::Pad), Some(&Picture::Blank));
    assert!(first.picture(PictureId::Pca).is_none(), "dae_vincent is not linear");

    d.clear();
    d.send(Command::Train);
    assert_eq!(d.status().state, RunState::Training);
    d.ticks(300);
    let frames = d.frames();
    assert!(frames.len() >= 3, "{} frames in 300 slices", frames.len());
    // The first frame of a run comes after exactly one step (its loss is the reference).
    assert_eq!(frames[0].step, 1);
    let losses: Vec<f64> = frames.iter().filter_map(|f| f.train_loss).collect();
    assert!(losses.last().unwrap() < &(0.8 * losses[0]), "the loss fell: {losses:?}");
    let last = frames.last().unwrap();
    assert!(last.step > 50);
    let chart = last.chart.as_ref().expect("a chart");
    assert_eq!(chart.series[0].points.len(), losses.len(), "one chart point per read-back");

    // Pause: a frame with every picture; Step: exactly one more step.
    d.clear();
    d.send(Command::Pause);
    d.settle();
    assert_eq!(d.status().state, RunState::Paused);
    let paused = d.last_frame().step;
    d.send(Command::Step);
    d.settle();
    assert_eq!(d.last_frame().step, paused + 1);

    // The pad: the model's view of a drawing, and blank once cleared.
    let mut img = vec![0.0f32; 784];
    for r in 5..23 {
        img[r * 28 + 14] = 1.0;
    }
    d.send(Command::PadInk(Some(img.clone())));
    d.settle();
    let Some(Picture::Pad(pad)) = d.last_frame().picture(PictureId::Pad).cloned() else { panic!("the pad") };
    assert_eq!(pad.input, img);
    assert!(matches!(pad.out, PadOut::Image(ref o) if o.len() == 784));
    // The interpolation now starts from the drawing.
    d.send(Command::PadInk(None));
    d.settle();
    assert_eq!(d.last_frame().picture(PictureId::Pad), Some(&Picture::Blank));

    // Reset: step 0 again, an empty chart.
    d.send(Command::Reset);
    d.settle();
    assert_eq!(d.status().state, RunState::Ready);
    assert_eq!(d.last_frame().step, 0);
    assert!(d.last_frame().chart.as_ref().unwrap().series[0].points.is_empty());
    assert!(d.errors().is_empty(), "{:?}", d.errors());
}

/// The bug of the old page: after `linear_50`, other presets' charts kept its PCA line.
/// PCA belongs to the linear model's session and goes with it.
#[test]
fn pca_belongs_to_the_linear_model_and_leaves_with_it() {
    let mut d = Driver::new(setup("linear_50"));
    let f = d.last_frame();
    match f.picture(PictureId::Pca).expect("PCA beside linear_50") {
        Picture::Pca(PcaView::Ready { k, test_loss, recon, train_rows, .. }) => {
            assert_eq!((*k, *train_rows), (50, 400));
            assert!(test_loss.is_finite() && *test_loss > 0.0);
            assert_eq!(recon.len(), 10 * 784);
        }
        other => panic!("PCA should be fitted once the controller settles: {other:?}"),
    }
    let level = f.chart.as_ref().unwrap().level.clone().expect("the PCA line on the chart");
    assert!(level.0.contains("PCA"));
    assert!(d.status().session.pictures.contains(&PictureId::Pca));

    d.send(Command::SetPreset("vae_20".into()));
    d.settle();
    let f = d.last_frame();
    assert!(f.picture(PictureId::Pca).is_none(), "no PCA after leaving linear_50");
    assert!(f.chart.as_ref().unwrap().level.is_none(), "no PCA line on vae_20's chart");
    assert!(!d.status().session.pictures.contains(&PictureId::Pca));
    // The VAE generates digits.
    let Some(Picture::Digits(g)) = f.picture(PictureId::Generated) else { panic!("generated digits") };
    assert_eq!(g.images.len(), 32 * 784);
}

#[test]
fn a_diverging_run_stops_with_the_step_and_the_learning_rate_and_reset_restores_the_preset_rate() {
    let mut d = Driver::new(setup("dae_vincent"));
    d.send(Command::SetLearningRate(10.0));
    assert!(d.errors().is_empty());
    assert_eq!(d.status().session.config.as_ref().unwrap().optimizer.lr(), 10.0);
    d.send(Command::Train);
    d.ticks(200);
    let errors = d.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("diverged") && errors[0].contains("learning rate 10") && errors[0].contains("at step"), "{}", errors[0]);
    assert_eq!(d.status().state, RunState::Paused);
    d.send(Command::Reset);
    assert_eq!(d.status().session.config.as_ref().unwrap().optimizer.lr(), 0.01, "Reset goes back to the preset's learning rate");
    // The model after a Reset is guarded as the first one was.
    d.clear();
    d.send(Command::SetLearningRate(10.0));
    d.send(Command::Train);
    d.ticks(200);
    let errors = d.errors();
    assert_eq!(errors.len(), 1, "after Reset: {errors:?}");
    assert!(errors[0].contains("diverged") && errors[0].contains("learning rate 10"), "{}", errors[0]);
    assert_eq!(d.status().state, RunState::Paused);
}

#[test]
fn bad_values_are_refused_and_change_nothing() {
    let mut d = Driver::new(setup("stacked_elu"));
    for lr in [0.0, -1.0, f32::NAN, 11.0] {
        d.clear();
        d.send(Command::SetLearningRate(lr));
        assert!(d.errors()[0].contains("learning rate must be"), "{lr}: {:?}", d.errors());
        assert_eq!(d.status().session.config.as_ref().unwrap().optimizer.lr(), 0.01);
    }
    d.clear();
    d.send(Command::SetBatch(0));
    assert!(d.errors()[0].contains("batch size must be"));
    d.clear();
    d.send(Command::SetPreset("nope".into()));
    assert!(d.errors()[0].contains("nope"), "{:?}", d.errors());
    assert_eq!(d.status().session.id, "stacked_elu", "the old session stays");
    d.clear();
    d.send(Command::Load { bytes: b"not a model".to_vec(), name: "x.safetensors".into() });
    assert!(d.errors()[0].contains("x.safetensors was not loaded"), "{:?}", d.errors());
    assert_eq!(d.status().session.id, "stacked_elu");
    d.clear();
    d.send(Command::SetCap(Some(3)));
    assert!(d.errors()[0].contains("recipes"), "{:?}", d.errors());
}

#[test]
fn a_new_batch_size_keeps_the_step_and_save_then_load_continues_the_model() {
    let mut d = Driver::new(setup("stacked_elu"));
    d.send(Command::Train);
    d.ticks(20);
    d.send(Command::Pause);
    d.settle();
    let step = d.last_frame().step;
    d.send(Command::SetBatch(64));
    d.settle();
    assert_eq!(d.status().session.config.as_ref().unwrap().batch, 64);
    assert_eq!(d.last_frame().step, step);

    d.clear();
    d.send(Command::Save);
    let (name, bytes) = d.events.iter().find_map(|e| if let Event::Saved { name, bytes } = e { Some((name.clone(), bytes.clone())) } else { None }).expect("a saved file");
    assert_eq!(name, format!("stacked_elu-step{step}.safetensors"));
    d.send(Command::SetPreset("tied_ae".into()));
    d.settle();
    assert_eq!(d.last_frame().step, 0);
    d.send(Command::Load { bytes, name });
    d.settle();
    assert_eq!(d.status().session.id, "stacked_elu");
    assert_eq!(d.status().session.config.as_ref().unwrap().batch, 64);
    assert_eq!(d.last_frame().step, step, "the loaded model continues at its step");
    assert!(!d.last_frame().chart.as_ref().unwrap().series[0].points.is_empty(), "with its history");
}

/// The model's buffers hold max(batch, 500) rows: a batch size within them is a field (the
/// buffers stay as they are); a larger one rebuilds the model with buffers for it. Training
/// goes on either way.
#[test]
fn a_batch_within_the_buffers_changes_in_place() {
    let mut d = Driver::new(setup("stacked_elu"));
    let held = |d: &mut Driver| d.c.test_hook(TestHook::Probe).expect("a probe answer").allocated_bytes;
    let before = held(&mut d);
    d.send(Command::SetBatch(300));
    d.settle();
    assert!(d.errors().is_empty(), "{:?}", d.errors());
    assert_eq!(d.status().session.config.as_ref().unwrap().batch, 300);
    assert_eq!(held(&mut d), before, "a batch within the buffers allocates nothing");
    d.send(Command::SetBatch(800));
    d.settle();
    assert_eq!(d.status().session.config.as_ref().unwrap().batch, 800);
    assert!(held(&mut d) > before, "a batch beyond the buffers rebuilds them larger");
    d.send(Command::Step);
    d.settle();
    assert_eq!(d.last_frame().step, 1);
}

#[test]
fn a_recipe_runs_through_its_phases() {
    let mut d = Driver::new(setup("dae_vincent"));
    d.send(Command::SetPreset("stacked_greedy".into()));
    d.send(Command::SetCap(Some(4)));
    d.settle();
    assert_eq!(d.status().session.id, "stacked_greedy");
    assert!(d.status().session.settings.as_ref().unwrap().contains("Shortened"));
    d.send(Command::Train);
    d.ticks(40);
    assert_eq!(d.status().state, RunState::Paused, "a finished recipe stops");
    let Some(Picture::Recipe(view)) = d.last_frame().picture(PictureId::Recipe).cloned() else { panic!("the recipe panel") };
    assert_eq!(view.status, RecipeStatus::Done);
    assert_eq!(view.phases.len(), 2);
    assert!(view.summary.unwrap().contains("end-to-end test loss"));
    assert_eq!(d.last_frame().step, 8, "4 steps in each of 2 phases");
    assert!(d.errors().is_empty(), "{:?}", d.errors());
    // Saving a recipe says why not.
    d.send(Command::Save);
    assert!(d.errors()[0].contains("single models"));
}

#[test]
fn the_cloud_scene_finds_pcas_plane() {
    let mut d = Driver::new(setup("dae_vincent"));
    d.send(Command::SetPreset("linear_3d_pca".into()));
    d.settle();
    assert!(d.status().session.pictures.contains(&PictureId::Cloud) && !d.status().session.pictures.contains(&PictureId::Recon));
    d.send(Command::Train);
    d.ticks(250);
    let Some(Picture::Cloud(c)) = d.last_frame().picture(PictureId::Cloud).cloned() else { panic!("the cloud") };
    assert_eq!((c.points.len(), c.recon.len(), c.codes.len(), c.shade.len()), (600, 600, 400, 200));
    assert!(c.model_mse <= c.pca_mse * 1.01, "{} vs PCA {}", c.model_mse, c.pca_mse);
    assert!(c.angle_deg < 2.0, "{}°", c.angle_deg);
    assert!(d.status().state == RunState::Training);
}

/// A model that learns too slowly on the CPU path to show much in a minute gets advice,
/// and the advised batch size takes it away.
#[test]
fn a_slow_learner_gets_advice_and_the_advised_batch_clears_it() {
    let mut d = Driver::new(setup("sparse_kl"));
    let advice = d.status().session.advice.clone().expect("advice for batch 1000 on the CPU");
    assert!(advice.contains("Batch 100"), "{advice}");
    d.send(Command::SetBatch(aeplay::app::controller::WATCHABLE_BATCH));
    d.settle();
    assert_eq!(d.status().session.config.as_ref().unwrap().batch, 100);
    assert!(d.status().session.advice.is_none());
    // The reference set-up itself is unchanged by the advice: the preset keeps batch 1000.
    assert_eq!(aeplay::core::config::preset("sparse_kl").unwrap().batch, 1000);
}

#[test]
fn a_test_stop_pauses_at_its_exact_step() {
    let mut d = Driver::new(setup("dae_vincent"));
    d.c.test_hook(TestHook::PauseAt(Some(37)));
    d.clear();
    d.send(Command::Train);
    d.ticks(200);
    assert_eq!(d.status().state, RunState::Paused, "paused at the stop");
    assert_eq!(d.last_frame().step, 37, "exactly at the stop");
    // Train again: the stop holds; lifted, training goes on.
    d.send(Command::Train);
    d.ticks(5);
    assert_eq!(d.last_frame().step, 37);
    d.c.test_hook(TestHook::PauseAt(None));
    d.send(Command::Train);
    d.ticks(20);
    d.send(Command::Pause);
    d.settle();
    assert!(d.last_frame().step > 37);
}

#[test]
fn a_classifier_phase_shows_its_predictions_and_reads_the_pad_as_a_class() {
    let mut d = Driver::new(setup("dae_vincent"));
    d.send(Command::SetPreset("pretrain_classifier".into()));
    d.send(Command::SetCap(Some(4)));
    d.settle();
    let mut img = vec![0.0f32; 784];
    for r in 5..23 {
        img[r * 28 + 14] = 1.0;
    }
    d.send(Command::PadInk(Some(img)));
    d.send(Command::Train);
    d.ticks(60);
    assert_eq!(d.status().state, RunState::Paused, "a finished recipe stops");
    // The last phase is a classifier on pixels: its predictions in place of reconstructions.
    let p = d
        .frames()
        .iter()
        .rev()
        .find_map(|f| if let Some(Picture::Predictions(p)) = f.picture(PictureId::Recon) { Some(p.clone()) } else { None })
        .expect("a frame with the classifier's predictions");
    assert_eq!(p.rows, 200, "every test digit of the tiny set (fewer than 500)");
    assert_eq!(p.confusion.iter().sum::<u32>(), 200);
    assert_eq!((p.labels.len(), p.predicted.len()), (20, 20));
    assert!(p.mistakes() <= 200);
    let pad = d
        .frames()
        .iter()
        .rev()
        .find_map(|f| if let Some(Picture::Pad(v)) = f.picture(PictureId::Pad) { Some(v.clone()) } else { None })
        .expect("the pad");
    let PadOut::Class { digit, probability, probabilities } = pad.out else { panic!("the classifier reads the pad as a class: {:?}", pad.out) };
    assert_eq!(probabilities.len(), 10);
    assert_eq!(probabilities[digit as usize], probability);
    assert!((probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    assert!(d.errors().is_empty(), "{:?}", d.errors());
}

#[test]
fn training_starts_on_the_first_part_of_the_data_and_takes_in_the_rest() {
    let all = tiny_mnist(400, 200);
    let mut part = all.clone();
    part.train = all.train.first(100);
    part.test = all.test.first(120);
    let (mut c, events) = block_on(Controller::new(part, setup("dae_vincent"), Devices::CpuOnly)).unwrap();
    c.expect_more();
    let mut d = Driver { c, events };
    d.settle();
    assert!(!d.c.data_complete());
    // A recipe reads fixed rows of the whole set: picked now, it waits for the rest.
    d.send(Command::SetPreset("pretrain_classifier".into()));
    assert!(d.events.iter().any(|e| matches!(e, Event::Note(n) if n.contains("starts when all the training images are in (100 of them so far)"))), "the wait is said");
    d.send(Command::Load { bytes: vec![1, 2, 3], name: "m.safetensors".into() });
    assert!(d.errors().iter().any(|e| e.contains("100 of its images are in so far")), "a saved model waits too: {:?}", d.errors());
    d.clear();
    // The model trains on the 100 rows in: epochs of 100 rows.
    d.send(Command::Train);
    d.ticks(30);
    let batch = aeplay::core::config::preset("dae_vincent").unwrap().batch as f64;
    let f = d.last_frame();
    assert!(f.epoch >= 1.0, "whole epochs of the first part: epoch {} at step {}", f.epoch, f.step);
    let per_epoch = (100.0 / batch).ceil();
    assert!((f.epoch - f.step as f64 / per_epoch).abs() < 1.0, "epochs of 100 rows: epoch {} at step {}", f.epoch, f.step);
    // More arrives: taken in at the next epoch.
    let more = 100 * 784..300 * 784;
    block_on(d.c.grow(false, &all.train.pixels[more], &all.train.labels[100..300], false)).into_iter().for_each(|e| d.events.push(e));
    assert_eq!(d.c.data().train.items, 300);
    let per = |d: &Driver| d.frames().iter().rev().find_map(|f| f.chart.as_ref()).map(|c| c.x_per_epoch);
    assert_eq!(per(&d), Some(Some(per_epoch)), "epochs of the first part marked on the chart");
    let at = d.last_frame().step;
    d.ticks(30);
    assert!(d.last_frame().step > at, "it trains on");
    assert_eq!(per(&d), Some(None), "epochs of different lengths: none marked");
    assert!(d.errors().is_empty(), "{:?}", d.errors());
    // The training set's last part, then the test set's: all in, and the recipe picked
    // meanwhile is built.
    let ev = block_on(d.c.grow(false, &all.train.pixels[300 * 784..], &all.train.labels[300..], false));
    d.events.extend(ev);
    assert!(!d.c.data_complete());
    let ev = block_on(d.c.grow(true, &all.test.pixels[120 * 784..], &all.test.labels[120..], true));
    d.events.extend(ev);
    assert!(d.c.data_complete());
    assert_eq!(d.c.data().train, all.train, "the set, in order");
    assert_eq!(d.c.data().test, all.test, "the test set, in order");
    assert_eq!(d.status().session.id, "pretrain_classifier");
    assert_eq!(d.status().state, RunState::Ready);
    assert!(d.errors().is_empty(), "{:?}", d.errors());
}

/// Trains `setup` alone to step `steps` (the test stop): its last step's loss and weights.
fn alone(setup: Setup, steps: u64) -> ((u64, f64), Vec<f32>) {
    let mut d = Driver::new(setup);
    d.c.test_hook(TestHook::PauseAt(Some(steps)));
    d.send(Command::Train);
    d.ticks(400);
    assert_eq!(d.status().state, RunState::Paused);
    let loss = d.last_frame().step_loss.expect("the last step's loss");
    let (_, _, bytes) = block_on(d.c.saved()).unwrap();
    (loss, aeplay::io::saved::from_safetensors(&bytes).unwrap().params)
}

fn masking(keep: f32) -> aeplay::core::config::NoiseKind {
    aeplay::core::config::NoiseKind::Masking { keep }
}

#[test]
fn runs_compared_train_step_for_step_each_as_it_would_alone() {
    const STEPS: u64 = 60;
    let mut a = setup("dae_vincent");
    a.config.noise = aeplay::core::config::NoiseKind::None;
    a.seed = 5;
    let mut b = a.clone();
    b.config.noise = masking(0.7);
    let (loss_a, params_a) = alone(a.clone(), STEPS);
    let (loss_b, params_b) = alone(b, STEPS);
    assert_ne!(loss_a, loss_b, "the noise changes the run");

    // One page: A, then Compare (B, a copy of A, becomes the main run) and B's noise.
    let mut d = Driver::new(a);
    d.clear();
    d.send(Command::Compare);
    d.send(Command::SetNoise(masking(0.7)));
    let s = d.status().clone();
    assert_eq!(s.runs.len(), 2, "two rows");
    assert_eq!((s.runs[0].label.as_str(), s.runs[1].label.as_str()), ("A", "B"));
    assert_eq!(s.main, s.runs[1].id, "the new run is the main one");
    assert_eq!(s.runs[1].differs, "noise masking:0.7 (A: none)");
    assert_eq!(s.session.config.as_ref().unwrap().noise, masking(0.7), "the controls show B");
    d.c.test_hook(TestHook::PauseAt(Some(STEPS)));
    d.c.test_hook(TestHook::SetFrameInterval(1.0));
    d.send(Command::Train);
    // Step for step: the run furthest behind trains next.
    let mut max_gap = 0;
    for _ in 0..800 {
        d.ticks(1);
        let steps: Vec<u64> = s.runs.iter().filter_map(|r| d.frames().iter().rev().find(|f| f.run == r.id).map(|f| f.step)).collect();
        if steps.len() == 2 {
            max_gap = max_gap.max(steps[0].abs_diff(steps[1]));
        }
        if d.c.state() == RunState::Paused {
            break;
        }
    }
    assert_eq!(d.status().state, RunState::Paused, "both runs stopped at the test stop");
    assert!(max_gap <= 8, "the runs stay within a slice of each other ({max_gap} steps apart)");
    let last = |run: u32| d.frames().iter().rev().find(|f| f.run == run).map(|f| f.step_loss).unwrap();
    assert_eq!(last(s.runs[0].id), Some(loss_a), "run A as alone");
    assert_eq!(last(s.runs[1].id), Some(loss_b), "run B as alone");
    let weights = |d: &mut Driver, id: u32| {
        d.clear();
        d.send(Command::SaveRun(id));
        let Some(Event::Saved { name, bytes }) = d.events.iter().find(|e| matches!(e, Event::Saved { .. })).cloned() else { panic!("a file: {:?}", d.errors()) };
        (name, aeplay::io::saved::from_safetensors(&bytes).unwrap().params)
    };
    let (name_a, got_a) = weights(&mut d, s.runs[0].id);
    let (name_b, got_b) = weights(&mut d, s.runs[1].id);
    assert_eq!((name_a.as_str(), name_b.as_str()), ("dae_vincent-runA-step60.safetensors", "dae_vincent-runB-step60.safetensors"));
    assert!(got_a == params_a && got_b == params_b, "the same weights, bit for bit");

    // Make A the main one: the controls show it; remove B: one run again.
    d.clear();
    d.send(Command::MakeMain(s.runs[0].id));
    assert_eq!(d.status().main, s.runs[0].id);
    assert_eq!(d.status().session.config.as_ref().unwrap().noise, aeplay::core::config::NoiseKind::None);
    d.send(Command::RemoveRun(s.runs[1].id));
    assert!(d.status().runs.is_empty(), "one run trains alone");
    d.send(Command::RemoveRun(s.runs[0].id));
    assert_eq!(d.errors().len(), 1, "the last run stays: {:?}", d.errors());
}

#[test]
fn a_comparison_holds_four_runs_and_single_models_only() {
    let mut d = Driver::new(setup("tied_ae"));
    for _ in 0..3 {
        d.send(Command::Compare);
    }
    assert_eq!(d.status().runs.len(), 4);
    d.clear();
    d.send(Command::Compare);
    assert!(d.errors()[0].contains("At most 4 runs"), "{:?}", d.errors());
    // The main run's batch differs; the table says so.
    d.send(Command::SetBatch(32));
    let rows = d.status().runs.clone();
    assert_eq!(rows.iter().map(|r| r.label.as_str()).collect::<Vec<_>>(), ["A", "B", "C", "D"]);
    assert!(rows[3].differs.starts_with("batch 32 (A: "), "{}", rows[3].differs);
    assert!(rows[1].differs.starts_with("nothing yet"), "{}", rows[1].differs);
    // Removing B frees its letter for the next run.
    d.send(Command::RemoveRun(rows[1].id));
    d.send(Command::Compare);
    let labels: Vec<String> = d.status().runs.iter().map(|r| r.label.clone()).collect();
    assert_eq!(labels, ["A", "B", "C", "D"]);
    // A recipe trains alone: the comparison ends, said so.
    d.clear();
    d.send(Command::SetPreset("stacked_greedy".into()));
    assert!(d.status().runs.is_empty());
    assert!(d.events.iter().any(|e| matches!(e, Event::Note(n) if n.contains("The comparison ended"))));
    d.clear();
    d.send(Command::Compare);
    assert!(d.errors()[0].contains("single models"), "{:?}", d.errors());
}

#[test]
fn a_link_with_runs_compared_builds_them_in_its_order() {
    let mut s = setup("dae_vincent");
    let mut other = s.config.clone();
    other.noise = aeplay::core::config::NoiseKind::None;
    let linear = aeplay::core::config::preset("linear_50").unwrap();
    s.compare = vec![other.clone(), linear.clone()];
    s.main_at = 1;
    let q = aeplay::app::urlstate::encode(&s);
    assert!(q.contains("&compare=noise%3Dnone%7C%2A%7Cpreset%3Dlinear_50"), "{q}");
    let back = aeplay::app::urlstate::decode(&q);
    assert!(back.notes.is_empty(), "{:?}", back.notes);
    assert_eq!(back.setup, s);
    let d = Driver::new(back.setup);
    let st = d.status();
    let cfgs: Vec<_> = st.runs.iter().map(|r| r.config.clone()).collect();
    assert_eq!(cfgs, [other, s.config.clone(), linear]);
    assert_eq!(st.main, st.runs[1].id, "the link's own run is B");
    assert!(st.runs[2].differs.starts_with("preset linear_50 (A: dae_vincent)"), "{}", st.runs[2].differs);
}

#[test]
fn a_new_model_shape_restarts_the_main_run_and_the_table_names_it() {
    let mut d = Driver::new(setup("dae_vincent"));
    d.send(Command::Compare);
    let mut cfg = d.status().session.config.clone().unwrap();
    cfg.tied = true;
    cfg.dims[1] = 64;
    cfg.optimizer = aeplay::core::config::Optimizer::adam(0.001);
    d.clear();
    d.send(Command::SetModel(Box::new(cfg.clone())));
    assert!(d.errors().is_empty(), "{:?}", d.errors());
    let s = d.status().clone();
    assert_eq!(s.session.config.as_ref(), Some(&cfg), "the main run has the new model");
    assert_eq!(s.state, RunState::Ready, "from step 0");
    let differs = &s.runs[1].differs;
    for want in ["dims 784,64,784", "opt adam", "tied 1 (A: 0)"] {
        assert!(differs.contains(want), "{want} in {differs}");
    }
    // A model that cannot be built is refused, and the run stays.
    let mut bad = cfg.clone();
    bad.dims[1] = 0;
    d.clear();
    d.send(Command::SetModel(Box::new(bad)));
    assert!(d.errors()[0].contains("cannot be built"), "{:?}", d.errors());
    assert_eq!(d.status().session.config.as_ref(), Some(&cfg));
    // It trains from step 0 and catches up with the other run.
    d.c.test_hook(TestHook::PauseAt(Some(30)));
    d.send(Command::Train);
    d.ticks(300);
    assert_eq!(d.c.state(), RunState::Paused);
    let steps: Vec<u64> = s.runs.iter().map(|r| d.frames().iter().rev().find(|f| f.run == r.id).unwrap().step).collect();
    assert_eq!(steps, [30, 30]);
}
