//! IDX file reader (the MNIST container format), gzip-compressed or raw.
//! Every way a file can be wrong has its own error, so the user is told what is wrong.

use std::fmt;
use std::io::Read;

/// Magic number of an IDX file of unsigned bytes with 3 dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with 1 dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Upper bounds that no real image set reaches; beyond them the header is garbage.
pub const MAX_ITEMS: usize = 10_000_000;
pub const MAX_SIDE: usize = 1024;
/// Largest uncompressed file accepted (protects against gzip bombs).
pub const MAX_BYTES: usize = 1 << 30;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdxError {
    /// Starts like gzip but does not decompress.
    Gzip(String),
    /// Shorter than its header.
    TooShort { len: usize, header: usize },
    /// The magic number is not the expected kind of IDX file.
    BadMagic { found: u32, expected: u32 },
    /// Dimensions in the header are zero or absurd.
    BadDims { items: usize, rows: usize, cols: usize },
    /// The body is shorter or longer than the header says.
    WrongLength { expected: usize, found: usize },
    /// A label outside 0..=9.
    BadLabel { index: usize, value: u8 },
    /// Images and labels disagree on the number of items.
    CountMismatch { images: usize, labels: usize },
    /// Decompressed size exceeds MAX_BYTES.
    TooLarge,
}

impl fmt::Display for IdxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdxError::Gzip(e) => write!(f, "the file looks gzip-compressed but does not decompress ({e}); it is probably truncated or damaged"),
            IdxError::TooShort { len, header } => write!(f, "the file is {len} bytes long, shorter than the {header}-byte IDX header"),
            IdxError::BadMagic { found, expected } => write!(
                f,
                "magic number {found:#010x} is wrong: expected {expected:#010x} ({})",
                if *expected == IMAGES_MAGIC { "an IDX image file" } else { "an IDX label file" }
            ),
            IdxError::BadDims { items, rows, cols } => write!(
                f,
                "the header declares {items} items of {rows}×{cols}, which is not a plausible image set"
            ),
            IdxError::WrongLength { expected, found } => {
                if found < expected {
                    write!(f, "the file is truncated: the header promises {expected} bytes of data, only {found} are there")
                } else {
                    write!(f, "the file has {} bytes after the {expected} its header declares", found - expected)
                }
            }
            IdxError::BadLabel { index, value } => write!(f, "label {index} is {value}, outside 0..=9"),
            IdxError::CountMismatch { images, labels } => {
                write!(f, "the image file has {images} images but the label file has {labels} labels")
            }
            IdxError::TooLarge => write!(f, "the file decompresses to more than {MAX_BYTES} bytes"),
        }
    }
}

impl std::error::Error for IdxError {}

/// Decompresses gzip data (recognised by its magic bytes); raw data is returned as is.
pub fn maybe_gunzip(bytes: Vec<u8>) -> Result<Vec<u8>, IdxError> {
    if bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b {
        let mut out = Vec::with_capacity(bytes.len() * 5);
        let mut dec = flate2::read::GzDecoder::new(&bytes[..]).take(MAX_BYTES as u64 + 1);
        dec.read_to_end(&mut out).map_err(|e| IdxError::Gzip(e.to_string()))?;
        if out.len() > MAX_BYTES {
            return Err(IdxError::TooLarge);
        }
        Ok(out)
    } else {
        Ok(bytes)
    }
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Images of one IDX file: `pixels` holds `items × rows × cols` bytes, row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Images {
    pub items: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

/// Parses an (uncompressed) IDX image file.
pub fn parse_images(mut bytes: Vec<u8>) -> Result<Images, IdxError> {
    const HEADER: usize = 16;
    if bytes.len() < HEADER {
        return Err(IdxError::TooShort { len: bytes.len(), header: HEADER });
    }
    let magic = be_u32(&bytes, 0);
    if magic != IMAGES_MAGIC {
        return Err(IdxError::BadMagic { found: magic, expected: IMAGES_MAGIC });
    }
    let (items, rows, cols) = (be_u32(&bytes, 4) as usize, be_u32(&bytes, 8) as usize, be_u32(&bytes, 12) as usize);
    if items == 0 || items > MAX_ITEMS || rows == 0 || rows > MAX_SIDE || cols == 0 || cols > MAX_SIDE {
        return Err(IdxError::BadDims { items, rows, cols });
    }
    let expected = items * rows * cols;
    let found = bytes.len() - HEADER;
    if found != expected {
        return Err(IdxError::WrongLength { expected, found });
    }
    bytes.drain(..HEADER);
    Ok(Images { items, rows, cols, pixels: bytes })
}

/// Parses an (uncompressed) IDX label file of digits 0..=9.
pub fn parse_labels(mut bytes: Vec<u8>) -> Result<Vec<u8>, IdxError> {
    const HEADER: usize = 8;
    if bytes.len() < HEADER {
        return Err(IdxError::TooShort { len: bytes.len(), header: HEADER });
    }
    let magic = be_u32(&bytes, 0);
    if magic != LABELS_MAGIC {
        return Err(IdxError::BadMagic { found: magic, expected: LABELS_MAGIC });
    }
    let items = be_u32(&bytes, 4) as usize;
    if items == 0 || items > MAX_ITEMS {
        return Err(IdxError::BadDims { items, rows: 1, cols: 1 });
    }
    let found = bytes.len() - HEADER;
    if found != items {
        return Err(IdxError::WrongLength { expected: items, found });
    }
    bytes.drain(..HEADER);
    if let Some((index, &value)) = bytes.iter().enumerate().find(|(_, &v)| v > 9) {
        return Err(IdxError::BadLabel { index, value });
    }
    Ok(bytes)
}

/// Writes an IDX image file (used by tests and tools).
pub fn write_images(rows: usize, cols: usize, pixels: &[u8]) -> Vec<u8> {
    let items = pixels.len() / (rows * cols);
    let mut out = Vec::with_capacity(16 + pixels.len());
    for v in [IMAGES_MAGIC, items as u32, rows as u32, cols as u32] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(pixels);
    out
}

/// Writes an IDX label file.
pub fn write_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + labels.len());
    out.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
    out.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    out.extend_from_slice(labels);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn valid_files_parse_raw_and_gzipped() {
        let px: Vec<u8> = (0..3 * 4 * 5).map(|i| i as u8).collect();
        let file = write_images(4, 5, &px);
        let a = parse_images(maybe_gunzip(file.clone()).unwrap()).unwrap();
        let b = parse_images(maybe_gunzip(gz(&file)).unwrap()).unwrap();
        assert_eq!(a, b);
        assert_eq!((a.items, a.rows, a.cols), (3, 4, 5));
        assert_eq!(a.pixels, px);
        assert_eq!(parse_labels(maybe_gunzip(gz(&write_labels(&[1, 2, 9]))).unwrap()).unwrap(), vec![1, 2, 9]);
    }

    #[test]
    fn each_kind_of_corruption_has_its_error() {
        let file = write_images(2, 2, &[0; 12]);
        assert!(matches!(parse_images(file[..10].to_vec()), Err(IdxError::TooShort { .. })));
        assert!(matches!(parse_images(file[..20].to_vec()), Err(IdxError::WrongLength { expected: 12, found: 4 })));
        let mut long = file.clone();
        long.push(0);
        assert!(matches!(parse_images(long), Err(IdxError::WrongLength { expected: 12, found: 13 })));
        // A label file where an image file is expected.
        assert!(matches!(parse_images(write_labels(&[0; 20])), Err(IdxError::BadMagic { found: LABELS_MAGIC, .. })));
        assert!(matches!(parse_labels(file.clone()), Err(IdxError::BadMagic { found: IMAGES_MAGIC, .. })));
        let mut absurd = file.clone();
        absurd[8..12].copy_from_slice(&100_000u32.to_be_bytes());
        assert!(matches!(parse_images(absurd), Err(IdxError::BadDims { .. })));
        assert!(matches!(parse_labels(write_labels(&[3, 12])), Err(IdxError::BadLabel { index: 1, value: 12 })));
        let g = gz(&file);
        assert!(matches!(maybe_gunzip(g[..g.len() / 2].to_vec()), Err(IdxError::Gzip(_))));
        // Messages say what is wrong.
        let msg = parse_images(file[..20].to_vec()).unwrap_err().to_string();
        assert!(msg.contains("truncated"), "{msg}");
    }
}
