//! The entry points of the fuzz targets (`fuzz/`, run by `make fuzz`) and of the test that
//! replays their corpus (`tests/fuzz_corpus.rs`): each takes any bytes and checks the
//! properties every input must keep: no panic, no hang, nothing allocated out of proportion
//! to the input, and for what is accepted, invariants (the parsed sizes agree; a saved model
//! writes back to itself and resumes training; a decoded link validates and encodes to a
//! link that decodes to it without notes).

use crate::backend::cpu::{CpuBackend, Isa};
use crate::data::idx;
use crate::data::mnist::{Dataset, Mnist};
use crate::io::saved::{from_safetensors, to_safetensors, SavedModel};

/// The IDX reader: image and label files, raw or gzip, and the four files together.
pub fn idx(data: &[u8]) {
    let images = idx::read_images(data.to_vec());
    if let Ok(im) = &images {
        assert_eq!(im.pixels.len(), im.items * im.rows * im.cols);
        assert!(im.items <= idx::MAX_ITEMS && im.pixels.len() <= idx::MAX_BODY_BYTES);
    }
    // The checks below decompress the file again: only for sets of up to 1 MB (a fuzzed
    // gzip of 1 MB may declare and hold 200 MB, which is fine but slow to do four times).
    let images = images.map(|im| Some(im).filter(|im| im.pixels.len() <= SMALL_SET));
    if let Ok(Some(im)) = &images {
        // The same file as the training and the test set, with labels for it.
        let labels = idx::write_labels(&vec![7; im.items]);
        let files = [
            ("ti".to_string(), data.to_vec()),
            ("tl".to_string(), labels.clone()),
            ("vi".to_string(), data.to_vec()),
            ("vl".to_string(), labels),
        ];
        let m = Mnist::from_files(files).expect("a valid image file makes a valid set with itself");
        assert_eq!(m.train.items, im.items);
    }
    if let Ok(labels) = idx::read_labels(data.to_vec()) {
        assert!(labels.len() <= idx::MAX_ITEMS && labels.iter().all(|&l| l <= 9));
    }
    // A gzip file the reader accepts is what flate2's own multi-member decoder makes of it,
    // parsed raw (read only as far as the accepted size, so this costs no more).
    if let (true, Ok(Some(im))) = (idx::is_gzip(data), &images) {
        use std::io::Read;
        let mut whole = Vec::new();
        let cap = (idx::IMAGES_HEADER + im.pixels.len()) as u64 + 1;
        flate2::read::MultiGzDecoder::new(data).take(cap).read_to_end(&mut whole).expect("accepted gzip decodes");
        assert_eq!(idx::parse_images(whole).as_ref(), Ok(im));
    }
}

/// Largest image set [`idx`] reads more than once.
const SMALL_SET: usize = 1 << 20;

/// Largest model the saved-model targets train on after loading (small: the fuzzer runs
/// thousands of inputs a second).
const MAX_TRAINED_PARAMS: u64 = 200_000;

/// The saved-model loader on raw bytes; a model it accepts must write back to the same
/// model and resume training on data of its shape.
pub fn saved(data: &[u8]) {
    let Ok(m) = from_safetensors(data) else { return };
    let again = from_safetensors(&to_safetensors(&m)).expect("a loaded model writes a file that loads");
    assert_eq!(again, m, "a loaded model writes back to itself");
    let small = m.config.param_count().is_some_and(|p| p <= MAX_TRAINED_PARAMS)
        && m.config.device_floats().is_some_and(|f| f <= 4 * MAX_TRAINED_PARAMS)
        && m.config.input_dim() <= 4096;
    if small {
        train_a_little(&m);
    }
}

/// The saved-model loader behind a consistent safetensors frame: the input is a 2-byte
/// little-endian header length, the JSON header and the tensor data, and the frame's
/// 8-byte length always matches the header given, so the fuzzer works on the header.
pub fn saved_frame(data: &[u8]) {
    saved(&frame(data));
}

/// The safetensors file [`saved_frame`] builds from its input.
pub fn frame(data: &[u8]) -> Vec<u8> {
    let (len, rest) = match data {
        [a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]) as usize, rest),
        _ => (0, data),
    };
    let (header, body) = rest.split_at(len.min(rest.len()));
    let mut file = Vec::with_capacity(8 + data.len());
    file.extend_from_slice(&(header.len() as u64).to_le_bytes());
    file.extend_from_slice(header);
    file.extend_from_slice(body);
    file
}

/// The input of [`saved_frame`] that frames `file` (a safetensors file with a header
/// shorter than 64 KiB), for seeding its corpus.
pub fn unframe(file: &[u8]) -> Option<Vec<u8>> {
    let n = u64::from_le_bytes(file.get(..8)?.try_into().ok()?) as usize;
    let n16 = u16::try_from(n).ok()?;
    let mut out = n16.to_le_bytes().to_vec();
    out.extend_from_slice(file.get(8..)?);
    Some(out)
}

/// Resumes `m` on a few synthetic rows of its input width and trains two steps.
fn train_a_little(m: &SavedModel) {
    let d = m.config.input_dim();
    // Labels the model can take (a classifier may have fewer than 10 classes).
    let classes = if m.config.is_classifier() { m.config.output_dim().min(10) } else { 10 };
    let set = |items: usize| Dataset {
        items,
        rows: 1,
        cols: d,
        pixels: (0..items * d).map(|i| (i * 37 % 256) as u8).collect(),
        labels: (0..items).map(|i| (i % classes) as u8).collect(),
    };
    let data = Mnist { train: set(5), test: set(2) };
    let mut t = m.resume(CpuBackend::with(Isa::Scalar, 1), &data).expect("a loaded model resumes");
    t.step();
    t.step();
    let _ = t.take_train_loss();
    let _ = t.test_loss(None);
}

/// The URL decoder: any query decodes to a valid set-up that encodes to a query decoding to
/// the same set-up without notes.
pub fn urlstate(data: &[u8]) {
    use crate::app::urlstate::{decode, encode};
    let query = String::from_utf8_lossy(data);
    let d = decode(&query);
    d.setup.config.validate().expect("a decoded set-up validates");
    let p = crate::core::layout::ParamLayout::new(&d.setup.config);
    assert_eq!(Some(p.total as u64), d.setup.config.param_count());
    let again = decode(&encode(&d.setup));
    assert!(again.notes.is_empty(), "{:?}", again.notes);
    assert_eq!(again.setup, d.setup);
}
