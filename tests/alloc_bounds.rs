//! "No allocation out of proportion to the input": the peak of heap memory while the
//! readers refuse crafted inputs, measured by a counting global allocator (so this file is
//! its own test binary, with one test, so nothing else allocates meanwhile).

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

struct Counting;

static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            PEAK.fetch_max(NOW.fetch_add(l.size(), Relaxed) + l.size(), Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        NOW.fetch_sub(l.size(), Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            // Old and new blocks may both exist during the copy.
            PEAK.fetch_max(NOW.load(Relaxed) + new, Relaxed);
            if new >= l.size() {
                NOW.fetch_add(new - l.size(), Relaxed);
            } else {
                NOW.fetch_sub(l.size() - new, Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static A: Counting = Counting;

/// The most memory held at once while `f` runs, beyond what was held before.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = NOW.load(Relaxed);
    PEAK.store(base, Relaxed);
    let r = f();
    (r, PEAK.load(Relaxed) - base)
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn crafted_inputs_cost_memory_in_proportion_to_what_they_declare() {
    use aeplay::data::idx::{read_images, read_labels, write_images, write_labels, IdxError};
    const MB: usize = 1 << 20;

    // A gzip bomb: a header of 10 images, then 150 MB of zeros (150 KB compressed). It was
    // decompressed whole (up to 1 GiB) before being refused.
    let mut bomb = write_images(28, 28, &[0; 7840]);
    bomb.extend(vec![0; 150 * MB]);
    let bomb = gz(&bomb);
    assert!(bomb.len() < MB);
    let (r, peak) = peak_during(|| read_images(bomb.clone()));
    assert_eq!(r, Err(IdxError::Longer { expected: 7840 }));
    assert!(peak < bomb.len() + 2 * MB, "peak {peak} bytes for a {}-byte file", bomb.len());

    // The issue's 1.3 M zero images behind a valid header (accepted, 2.09 GB): here with 50 MB
    // of zeros. Refused from the header.
    let mut big = write_images(28, 28, &[0; 784]);
    big[4..8].copy_from_slice(&1_300_000u32.to_be_bytes());
    big.extend(vec![0; 50 * MB]);
    let big = gz(&big);
    let (r, peak) = peak_during(|| read_images(big.clone()));
    assert!(matches!(r, Err(IdxError::BadDims { items: 1_300_000, .. })), "{r:?}");
    assert!(peak < big.len() + 2 * MB, "peak {peak} bytes for a {}-byte file", big.len());

    // A header that promises the most an image set may have, then nothing: nothing is
    // reserved on its word.
    let mut promise = write_images(28, 28, &[0; 784]);
    promise[4..8].copy_from_slice(&240_000u32.to_be_bytes());
    let promise = gz(&promise);
    let (r, peak) = peak_during(|| read_images(promise.clone()));
    assert!(matches!(r, Err(IdxError::WrongLength { .. })), "{r:?}");
    assert!(peak < 2 * MB, "peak {peak} bytes");
    let mut labels = write_labels(&[1; 10]);
    labels[4..8].copy_from_slice(&240_000u32.to_be_bytes());
    let (r, peak) = peak_during(|| read_labels(gz(&labels)));
    assert!(matches!(r, Err(IdxError::WrongLength { .. })), "{r:?}");
    assert!(peak < 2 * MB, "peak {peak} bytes");

    // A real-sized file costs about its own size (decompression grows the buffer as the
    // data arrive: at most twice).
    let px = vec![7u8; 60_000 * 784];
    let file = gz(&write_images(28, 28, &px));
    drop(px);
    let (r, peak) = peak_during(|| read_images(file.clone()).map(|im| im.items));
    assert_eq!(r, Ok(60_000));
    assert!(peak < file.len() + 2 * 60_000 * 784 + 2 * MB, "peak {peak} bytes");

    // A link for a 4.3 × 10⁹-parameter model decodes with a note and allocates nothing of it.
    let q = format!("?preset=custom&dims=784,{}784", "16384,".repeat(17));
    let (d, peak) = peak_during(|| aeplay::app::urlstate::decode(&q));
    assert!(d.notes.iter().any(|n| n.contains("parameters")), "{:?}", d.notes);
    assert!(peak < MB, "peak {peak} bytes");

    // A saved model that claims a huge header length: refused from the first 8 bytes.
    let mut file = u64::MAX.to_le_bytes().to_vec();
    file.extend_from_slice(br#"{"a":1}"#);
    let (r, peak) = peak_during(|| aeplay::io::saved::from_safetensors(&file).is_err());
    assert!(r);
    assert!(peak < MB, "peak {peak} bytes");
}
