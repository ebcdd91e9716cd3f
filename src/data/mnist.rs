//! The MNIST dataset as `u8` pixels (70,000 images = 55 MB; conversion to f32 happens per
//! batch), loaded from the four official IDX files.

use std::fmt;

use super::idx::{self, IdxError};
use crate::core::pca::{fill_pixels, Pca};

/// The four files, in the order [train images, train labels, test images, test labels].
pub const FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// A problem with one data file, naming the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataError {
    pub file: String,
    pub kind: DataErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataErrorKind {
    Missing(String),
    Idx(IdxError),
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            DataErrorKind::Missing(why) => write!(f, "data file {} could not be read: {why}", self.file),
            DataErrorKind::Idx(e) => write!(f, "data file {} is not valid MNIST: {e}", self.file),
        }
    }
}

impl std::error::Error for DataError {}

/// Images with their labels; `pixels` is items × dim bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dataset {
    pub items: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
    pub labels: Vec<u8>,
}

impl Dataset {
    pub fn dim(&self) -> usize {
        self.rows * self.cols
    }

    /// Builds a dataset from uncompressed-or-gzipped IDX bytes, naming the files in errors.
    pub fn from_idx(images: (&str, Vec<u8>), labels: (&str, Vec<u8>)) -> Result<Self, DataError> {
        fn wrap(file: &str) -> impl Fn(IdxError) -> DataError + '_ {
            move |e| DataError { file: file.to_string(), kind: DataErrorKind::Idx(e) }
        }
        let im = idx::read_images(images.1).map_err(wrap(images.0))?;
        let lb = idx::read_labels(labels.1).map_err(wrap(labels.0))?;
        if im.items != lb.len() {
            return Err(wrap(labels.0)(IdxError::CountMismatch { images: im.items, labels: lb.len() }));
        }
        Ok(Dataset { items: im.items, rows: im.rows, cols: im.cols, pixels: im.pixels, labels: lb })
    }

    /// Appends images that arrived after the first ones (their pixels and labels).
    pub fn extend(&mut self, pixels: &[u8], labels: &[u8]) -> Result<(), String> {
        if pixels.len() != labels.len() * self.dim() {
            return Err(format!("{} pixel bytes do not make {} images of {} pixels", pixels.len(), labels.len(), self.dim()));
        }
        self.pixels.extend_from_slice(pixels);
        self.labels.extend_from_slice(labels);
        self.items += labels.len();
        Ok(())
    }

    /// The first `items` images (the part of a set that has arrived).
    pub fn first(&self, items: usize) -> Dataset {
        let items = items.min(self.items);
        Dataset { items, rows: self.rows, cols: self.cols, pixels: self.pixels[..items * self.dim()].to_vec(), labels: self.labels[..items].to_vec() }
    }

    /// Pixels of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.pixels[i * self.dim()..(i + 1) * self.dim()]
    }

    /// Image `i` scaled to [0, 1].
    pub fn image_f32(&self, i: usize) -> Vec<f32> {
        self.image(i).iter().map(|&p| p as f32 / 255.0).collect()
    }

    /// Index of the first image of each digit 0..=9 (fixed examples for pictures).
    pub fn first_of_each_digit(&self) -> Vec<usize> {
        (0..10u8).filter_map(|d| self.labels.iter().position(|&l| l == d)).collect()
    }
}

/// PCA of a dataset's images as pixels/255, converted a chunk of rows at a time (never the
/// whole set as f32). Here rather than in `core::pca`, which knows nothing of datasets.
impl Pca {
    /// Fits `k` components to the images of `data`.
    pub fn fit_dataset(data: &Dataset, k: usize) -> Result<Pca, String> {
        Self::fit_with(data.items, data.dim(), k, |i, out| fill_pixels(data.image(i), out))
    }

    /// [`Pca::half_sse_loss`] on the images of `data`.
    pub fn half_sse_loss_dataset(&self, data: &Dataset) -> f64 {
        assert_eq!(data.dim(), self.dim, "the dataset's images have {} pixels, the PCA {}", data.dim(), self.dim);
        self.half_sse_loss_with(data.items, |i, out| fill_pixels(data.image(i), out))
    }
}

/// Training and test sets.
#[derive(Clone, Debug)]
pub struct Mnist {
    pub train: Dataset,
    pub test: Dataset,
}

impl Mnist {
    /// From the contents of the four files, in the order of [`FILES`]; each may be gzipped.
    pub fn from_files(files: [(String, Vec<u8>); 4]) -> Result<Self, DataError> {
        let [ti, tl, vi, vl] = files;
        let train = Dataset::from_idx((&ti.0, ti.1), (&tl.0, tl.1))?;
        let test = Dataset::from_idx((&vi.0, vi.1), (&vl.0, vl.1))?;
        Self::from_sets(train, test, &vi.0)
    }

    /// The two sets, checked to be of one data set (`test_file` named where they are not).
    pub fn from_sets(train: Dataset, test: Dataset, test_file: &str) -> Result<Self, DataError> {
        // The same size, not only the same number of pixels (14×56 is not 28×28).
        if (train.rows, train.cols) != (test.rows, test.cols) {
            return Err(DataError {
                file: test_file.to_string(),
                kind: DataErrorKind::Idx(IdxError::ShapeMismatch { train: (train.rows, train.cols), test: (test.rows, test.cols) }),
            });
        }
        Ok(Mnist { train, test })
    }

    /// A synthetic 28×28 set for tests: a fixed pattern of pixels, labels 0–9 in turn.
    #[cfg(test)]
    pub(crate) fn pattern(train: usize, test: usize) -> Mnist {
        let set = |items: usize, salt: usize| Dataset {
            items,
            rows: 28,
            cols: 28,
            pixels: (0..items * 784).map(|i| ((i * 7 + salt) % 251) as u8).collect(),
            labels: (0..items).map(|i| (i % 10) as u8).collect(),
        };
        Mnist { train: set(train, 0), test: set(test, 3) }
    }

    /// Loads the four files from a directory, as `NAME.gz` or `NAME`. A path that is not a
    /// regular file (a device, a FIFO) or is larger than [`idx::MAX_FILE_BYTES`] is refused
    /// before it is read.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load_dir(dir: &std::path::Path) -> Result<Self, DataError> {
        let read = |name: &str| -> Result<(String, Vec<u8>), DataError> {
            for candidate in [format!("{name}.gz"), name.to_string()] {
                let path = dir.join(&candidate);
                if path.exists() {
                    return super::file::read_file_capped(&path, idx::MAX_FILE_BYTES).map(|b| (path.display().to_string(), b)).map_err(|e| {
                        DataError { file: path.display().to_string(), kind: DataErrorKind::Missing(e.to_string()) }
                    });
                }
            }
            Err(DataError {
                file: dir.join(format!("{name}.gz")).display().to_string(),
                kind: DataErrorKind::Missing("no such file (run `make data`, or pass --data DIR)".into()),
            })
        };
        Self::from_files([read(FILES[0])?, read(FILES[1])?, read(FILES[2])?, read(FILES[3])?])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::idx::{write_images, write_labels};

    #[test]
    fn dataset_fit_matches_the_f32_fit() {
        let pixels: Vec<u8> = (0..40 * 4).map(|i| ((i * 37 + i / 4 * 11) % 256) as u8).collect();
        let data = Dataset { items: 40, rows: 2, cols: 2, pixels: pixels.clone(), labels: vec![0; 40] };
        let rows: Vec<f32> = pixels.iter().map(|&p| p as f32 / 255.0).collect();
        let a = Pca::fit_dataset(&data, 2).unwrap();
        let b = Pca::fit(&rows, 4, 2).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.half_sse_loss_dataset(&data), b.half_sse_loss(&rows));
    }

    #[test]
    fn count_mismatch_names_the_label_file() {
        let err = Dataset::from_idx(("im", write_images(2, 2, &[0; 12])), ("lb", write_labels(&[1, 2]))).unwrap_err();
        assert_eq!(err.file, "lb");
        assert_eq!(err.kind, DataErrorKind::Idx(IdxError::CountMismatch { images: 3, labels: 2 }));
        assert!(err.to_string().contains("3 images but the label file has 2"));
    }

    fn set(rows: usize, cols: usize, items: usize, name: &str) -> [(String, Vec<u8>); 2] {
        [
            (format!("{name}-images"), write_images(rows, cols, &vec![0; items * rows * cols])),
            (format!("{name}-labels"), write_labels(&vec![3; items])),
        ]
    }

    #[test]
    fn test_images_of_another_size_are_refused_by_their_size() {
        let [ti, tl] = set(28, 28, 3, "train");
        // 14×14 beside 28×28: the message gives both sizes (it used to call 10,000 images of
        // 14×14 "not a plausible image set").
        let [vi, vl] = set(14, 14, 2, "test");
        let err = Mnist::from_files([ti.clone(), tl.clone(), vi, vl]).unwrap_err();
        assert_eq!(err.file, "test-images");
        let msg = err.to_string();
        assert!(msg.contains("the test images are 14×14 but the training images are 28×28"), "{msg}");
        // 14×56 has as many pixels as 28×28 but is not the same picture.
        let [vi, vl] = set(14, 56, 2, "test");
        let err = Mnist::from_files([ti.clone(), tl.clone(), vi, vl]).unwrap_err();
        assert_eq!(err.kind, DataErrorKind::Idx(IdxError::ShapeMismatch { train: (28, 28), test: (14, 56) }));
        let [vi, vl] = set(28, 28, 2, "test");
        assert!(Mnist::from_files([ti, tl, vi, vl]).is_ok());
    }
}
