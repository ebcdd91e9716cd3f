//! IDX file reader (the MNIST container format), gzip-compressed or raw.
//! Every way a file can be wrong has its own error, so the user is told what is wrong.
//!
//! Sizes come from the file, so every one is checked before it is used: the header's
//! dimensions are bounded ([`MAX_ITEMS`], [`MAX_SIDE`], [`MAX_BODY_BYTES`]) and multiplied
//! with checked arithmetic (a browser's `usize` is 32 bits wide). A gzip file is
//! decompressed only as far as its header first, and then no further than the size that
//! header declares, so a gzip bomb costs no more memory than the largest plausible image
//! set. A gzip file may have several members (as `cat a.gz b.gz` makes); bytes after the
//! last member are refused.

use std::fmt;
use std::io::Read;

/// Magic number of an IDX file of unsigned bytes with 3 dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with 1 dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Most images (and labels) in one file: EMNIST Digits, the largest set of digits in IDX
/// format, has 240,000 training images (MNIST: 60,000).
pub const MAX_ITEMS: usize = 250_000;
/// Longest side of an image: the widest input a model takes is
/// [`MAX_WIDTH`](crate::core::config::MAX_WIDTH) = 16,384 = 128 × 128 pixels.
pub const MAX_SIDE: usize = 128;
/// Most pixel bytes in one image file: EMNIST Digits' 240,000 images of 28×28 take
/// 188,160,000 (MNIST's training images 47,040,000). A gzip file never decompresses past
/// the size its header declares, and that is at most this.
pub const MAX_BODY_BYTES: usize = 200_000_000;
/// Largest data file read from disk, compressed or not: a raw image file at the limit, and
/// room for gzip's few bytes of overhead on incompressible data.
pub const MAX_FILE_BYTES: u64 = MAX_BODY_BYTES as u64 + (1 << 20);
/// Header sizes of the two kinds of IDX file.
pub const IMAGES_HEADER: usize = 16;
pub const LABELS_HEADER: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdxError {
    /// Starts like gzip but does not decompress.
    Gzip(String),
    /// Bytes after the end of the last gzip member.
    TrailingBytes { bytes: usize },
    /// Shorter than its header.
    TooShort { len: usize, header: usize },
    /// The magic number is not the expected kind of IDX file.
    BadMagic { found: u32, expected: u32 },
    /// Dimensions in the header are zero or absurd.
    BadDims { items: usize, rows: usize, cols: usize },
    /// The body is shorter or longer than the header says.
    WrongLength { expected: usize, found: usize },
    /// A gzip file decompresses to more than its header declares (not decompressed further).
    Longer { expected: usize },
    /// A label outside 0..=9.
    BadLabel { index: usize, value: u8 },
    /// Images and labels disagree on the number of items.
    CountMismatch { images: usize, labels: usize },
    /// The test images' size differs from the training images'.
    ShapeMismatch { train: (usize, usize), test: (usize, usize) },
    /// The header declares more pixel bytes than an image set may have.
    TooLarge { items: usize, rows: usize, cols: usize, limit: usize },
}

impl fmt::Display for IdxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdxError::Gzip(e) => write!(f, "the file looks gzip-compressed but does not decompress ({e}); it is probably truncated or damaged"),
            IdxError::TrailingBytes { bytes } => write!(
                f,
                "the file has {bytes} bytes of something else after its gzip data: it is damaged or something was appended to it; download or copy it again"
            ),
            IdxError::TooShort { len, header } => write!(f, "the file is {len} bytes long, shorter than the {header}-byte IDX header"),
            IdxError::BadMagic { found, expected } => write!(
                f,
                "magic number {found:#010x} is wrong: expected {expected:#010x} ({})",
                if *expected == IMAGES_MAGIC { "an IDX image file" } else { "an IDX label file" }
            ),
            IdxError::BadDims { items, rows, cols } => write!(
                f,
                "the header declares {items} items of {rows}×{cols}, which is not a plausible image set (at most {MAX_ITEMS} items of at most {MAX_SIDE}×{MAX_SIDE})"
            ),
            IdxError::WrongLength { expected, found } => {
                if found < expected {
                    write!(f, "the file is truncated: the header promises {expected} bytes of data, only {found} are there")
                } else {
                    write!(f, "the file has {} bytes after the {expected} its header declares", found - expected)
                }
            }
            IdxError::Longer { expected } => {
                write!(f, "the file decompresses to more than the {expected} bytes of data its header declares: it is damaged")
            }
            IdxError::BadLabel { index, value } => write!(f, "label {index} is {value}, outside 0..=9"),
            IdxError::CountMismatch { images, labels } => {
                write!(f, "the image file has {images} images but the label file has {labels} labels")
            }
            IdxError::ShapeMismatch { train, test } => write!(
                f,
                "the test images are {}×{} but the training images are {}×{}: the four files must come from one data set",
                test.0, test.1, train.0, train.1
            ),
            IdxError::TooLarge { items, rows, cols, limit } => write!(
                f,
                "the header declares {items} images of {rows}×{cols} pixels, more than the {limit} bytes an image set may have (MNIST's training images take 47,040,000)"
            ),
        }
    }
}

impl std::error::Error for IdxError {}

/// Is this gzip data (by its magic bytes)?
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
}

/// The bytes after the last gzip member, carried out of [`Members`] in an `io::Error`.
#[derive(Debug)]
struct Trailing(usize);

impl fmt::Display for Trailing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes after the gzip data", self.0)
    }
}

impl std::error::Error for Trailing {}

/// Decompresses every member of a gzip file in turn (RFC 1952 allows several); what
/// follows the last member must be nothing, not garbage.
struct Members<'a> {
    member: Option<flate2::bufread::GzDecoder<&'a [u8]>>,
}

impl<'a> Members<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Members { member: Some(flate2::bufread::GzDecoder::new(bytes)) }
    }
}

impl Read for Members<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let Some(member) = self.member.as_mut() else { return Ok(0) };
            let n = member.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            // This member ended (its CRC and length checked): what follows it?
            let rest = self.member.take().expect("a member is being read").into_inner();
            if rest.is_empty() {
                return Ok(0);
            }
            if !is_gzip(rest) {
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, Trailing(rest.len())));
            }
            self.member = Some(flate2::bufread::GzDecoder::new(rest));
        }
    }
}

fn gzip_error(e: std::io::Error) -> IdxError {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<Trailing>()) {
        Some(t) => IdxError::TrailingBytes { bytes: t.0 },
        None => IdxError::Gzip(e.to_string()),
    }
}

/// Reads up to `n` bytes (fewer only at the end of the data).
fn read_up_to(r: &mut impl Read, n: usize) -> Result<Vec<u8>, IdxError> {
    let mut out = Vec::with_capacity(n.min(1 << 16));
    r.take(n as u64).read_to_end(&mut out).map_err(gzip_error)?;
    Ok(out)
}

/// The product of a header's three dimensions in `U` (`usize` here; `u32` is a browser's
/// `usize`), or None where it overflows `U`.
pub fn checked_len<U: num_traits::CheckedMul + TryFrom<u32>>(items: u32, rows: u32, cols: u32) -> Option<U> {
    let (a, b, c) = (U::try_from(items).ok()?, U::try_from(rows).ok()?, U::try_from(cols).ok()?);
    a.checked_mul(&b)?.checked_mul(&c)
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

/// Checks an image file's 16-byte header; returns (items, rows, cols, pixel bytes).
fn images_header(h: &[u8]) -> Result<(usize, usize, usize, usize), IdxError> {
    if h.len() < IMAGES_HEADER {
        return Err(IdxError::TooShort { len: h.len(), header: IMAGES_HEADER });
    }
    let magic = be_u32(h, 0);
    if magic != IMAGES_MAGIC {
        return Err(IdxError::BadMagic { found: magic, expected: IMAGES_MAGIC });
    }
    let (n, r, c) = (be_u32(h, 4), be_u32(h, 8), be_u32(h, 12));
    let (items, rows, cols) = (n as usize, r as usize, c as usize);
    if items == 0 || items > MAX_ITEMS || rows == 0 || rows > MAX_SIDE || cols == 0 || cols > MAX_SIDE {
        return Err(IdxError::BadDims { items, rows, cols });
    }
    match checked_len::<usize>(n, r, c) {
        Some(bytes) if bytes <= MAX_BODY_BYTES => Ok((items, rows, cols, bytes)),
        _ => Err(IdxError::TooLarge { items, rows, cols, limit: MAX_BODY_BYTES }),
    }
}

/// Checks a label file's 8-byte header; returns the number of labels.
fn labels_header(h: &[u8]) -> Result<usize, IdxError> {
    if h.len() < LABELS_HEADER {
        return Err(IdxError::TooShort { len: h.len(), header: LABELS_HEADER });
    }
    let magic = be_u32(h, 0);
    if magic != LABELS_MAGIC {
        return Err(IdxError::BadMagic { found: magic, expected: LABELS_MAGIC });
    }
    let items = be_u32(h, 4) as usize;
    if items == 0 || items > MAX_ITEMS {
        return Err(IdxError::BadDims { items, rows: 1, cols: 1 });
    }
    Ok(items)
}

/// The whole file, uncompressed: raw bytes as they are, gzip decompressed header first and
/// then only as far as `body` (the header's declared data length) says.
fn read_checked(bytes: Vec<u8>, header: usize, body: impl Fn(&[u8]) -> Result<usize, IdxError>) -> Result<Vec<u8>, IdxError> {
    if !is_gzip(&bytes) {
        let expected = body(&bytes)?;
        let found = bytes.len() - header;
        if found != expected {
            return Err(IdxError::WrongLength { expected, found });
        }
        return Ok(bytes);
    }
    let mut members = Members::new(&bytes);
    let mut out = read_up_to(&mut members, header)?;
    let expected = body(&out)?;
    // Grown as it arrives (not reserved from the header's word), and never past it.
    members.take(expected as u64 + 1).read_to_end(&mut out).map_err(gzip_error)?;
    let found = out.len() - header;
    if found > expected {
        return Err(IdxError::Longer { expected });
    }
    if found < expected {
        return Err(IdxError::WrongLength { expected, found });
    }
    Ok(out)
}

/// Reads an IDX image file, gzip-compressed or raw.
pub fn read_images(bytes: Vec<u8>) -> Result<Images, IdxError> {
    parse_images(read_checked(bytes, IMAGES_HEADER, |h| images_header(h).map(|d| d.3))?)
}

/// Reads an IDX label file of digits 0..=9, gzip-compressed or raw.
pub fn read_labels(bytes: Vec<u8>) -> Result<Vec<u8>, IdxError> {
    parse_labels(read_checked(bytes, LABELS_HEADER, labels_header)?)
}

/// Parses an (uncompressed) IDX image file.
pub fn parse_images(mut bytes: Vec<u8>) -> Result<Images, IdxError> {
    let (items, rows, cols, expected) = images_header(&bytes)?;
    let found = bytes.len() - IMAGES_HEADER;
    if found != expected {
        return Err(IdxError::WrongLength { expected, found });
    }
    bytes.drain(..IMAGES_HEADER);
    Ok(Images { items, rows, cols, pixels: bytes })
}

/// Parses an (uncompressed) IDX label file of digits 0..=9.
pub fn parse_labels(mut bytes: Vec<u8>) -> Result<Vec<u8>, IdxError> {
    let items = labels_header(&bytes)?;
    let found = bytes.len() - LABELS_HEADER;
    if found != items {
        return Err(IdxError::WrongLength { expected: items, found });
    }
    bytes.drain(..LABELS_HEADER);
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

/// An IDX image file read as it arrives, part by part (consecutive byte ranges of the file,
/// gzip-compressed or raw): each [`ImageStream::push`] gives the pixels of the images that
/// became complete, so training can start on the first part. The header is checked as
/// soon as it is in, and nothing is decompressed past the size it declares (a gzip bomb in
/// a part costs no more than a whole file does); [`ImageStream::finish`] says whether the
/// file ended where its header said.
pub struct ImageStream {
    gz: Option<flate2::write::GzDecoder<Sink>>,
    raw: Option<Sink>,
    /// The first byte, held until the second says whether the file is gzip.
    first: Vec<u8>,
}

/// Where decompressed bytes go: the header first, then pixels not yet handed out.
struct Sink {
    head: Vec<u8>,
    dims: Option<(usize, usize, usize)>,
    body: usize,
    written: usize,
    pixels: Vec<u8>,
    err: Option<IdxError>,
}

impl std::io::Write for Sink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.err.is_some() {
            return Err(std::io::Error::other("refused"));
        }
        if self.dims.is_none() {
            let n = (IMAGES_HEADER - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..n]);
            if self.head.len() == IMAGES_HEADER {
                match images_header(&self.head) {
                    Ok((items, rows, cols, bytes)) => {
                        self.dims = Some((items, rows, cols));
                        self.body = bytes;
                    }
                    Err(e) => {
                        self.err = Some(e);
                        return Err(std::io::Error::other("bad header"));
                    }
                }
            }
            return Ok(n);
        }
        let room = self.body - self.written;
        if room == 0 && !data.is_empty() {
            self.err = Some(IdxError::Longer { expected: self.body });
            return Err(std::io::Error::other("longer"));
        }
        let n = room.min(data.len());
        self.pixels.extend_from_slice(&data[..n]);
        self.written += n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Sink {
    /// Why a write failed: what the sink refused, else what the decoder said.
    fn why(&mut self, e: std::io::Error) -> IdxError {
        self.err.take().unwrap_or_else(|| gzip_error(e))
    }
}

impl Default for ImageStream {
    fn default() -> Self {
        Self::new()
    }
}

impl ImageStream {
    pub fn new() -> Self {
        ImageStream { gz: None, raw: None, first: Vec::new() }
    }

    fn sink(&mut self) -> Option<&mut Sink> {
        match (&mut self.gz, &mut self.raw) {
            (Some(g), _) => Some(g.get_mut()),
            (None, Some(r)) => Some(r),
            _ => None,
        }
    }

    /// The header's (items, rows, cols), once it has arrived.
    pub fn dims(&mut self) -> Option<(usize, usize, usize)> {
        self.sink().and_then(|s| s.dims)
    }

    /// Takes the next part in; returns the pixels of the images it completed (whole images
    /// only: a part may end inside one).
    pub fn push(&mut self, part: &[u8]) -> Result<Vec<u8>, IdxError> {
        use std::io::Write;
        let joined;
        let mut part = part;
        if self.gz.is_none() && self.raw.is_none() {
            if self.first.len() + part.len() < 2 {
                self.first.extend_from_slice(part);
                return Ok(Vec::new());
            }
            joined = [std::mem::take(&mut self.first).as_slice(), part].concat();
            part = &joined;
            let sink = Sink { head: Vec::new(), dims: None, body: 0, written: 0, pixels: Vec::new(), err: None };
            if is_gzip(part) {
                self.gz = Some(flate2::write::GzDecoder::new(sink));
            } else {
                self.raw = Some(sink);
            }
        }
        let res = match (&mut self.gz, &mut self.raw) {
            (Some(g), _) => {
                let mut rest = part;
                let mut res = Ok(());
                while !rest.is_empty() {
                    match g.write(rest) {
                        // The gzip data ended before the part did.
                        Ok(0) => {
                            res = Err(IdxError::TrailingBytes { bytes: rest.len() });
                            break;
                        }
                        Ok(n) => rest = &rest[n..],
                        Err(e) => {
                            res = Err(g.get_mut().why(e));
                            break;
                        }
                    }
                }
                // What the decoder holds goes out to the sink now (its header checked).
                if res.is_ok() {
                    if let Err(e) = g.flush() {
                        res = Err(g.get_mut().why(e));
                    }
                }
                res
            }
            (None, Some(r)) => r.write_all(part).map_err(|e| r.why(e)),
            _ => Ok(()),
        };
        res?;
        let sink = self.sink().expect("started above");
        let Some((_, rows, cols)) = sink.dims else { return Ok(Vec::new()) };
        let whole = sink.pixels.len() / (rows * cols) * (rows * cols);
        let rest = sink.pixels.split_off(whole);
        Ok(std::mem::replace(&mut sink.pixels, rest))
    }

    /// Every part is in: the file must have ended (its gzip data complete and checked) with
    /// all the pixels its header declares. Returns (items, rows, cols).
    pub fn finish(mut self) -> Result<(usize, usize, usize), IdxError> {
        if let Some(g) = &mut self.gz {
            if let Err(e) = g.try_finish() {
                return Err(g.get_mut().why(e));
            }
        }
        let held = self.first.len();
        let sink = self.sink().ok_or(IdxError::TooShort { len: held, header: IMAGES_HEADER })?;
        let Some(dims) = sink.dims else {
            return Err(IdxError::TooShort { len: sink.head.len(), header: IMAGES_HEADER });
        };
        if sink.written != sink.body {
            return Err(IdxError::WrongLength { expected: sink.body, found: sink.written });
        }
        Ok(dims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn an_image_file_read_part_by_part_gives_whole_images_as_they_complete() {
        let (n, side) = (50usize, 28usize);
        let raw = images_file(n, side);
        let gzd = gz(&raw);
        for (bytes, cut) in [(&gzd, 97usize), (&gzd, 1), (&raw, 1000), (&gzd, gzd.len() / 3)] {
            let mut s = ImageStream::new();
            let mut got = Vec::new();
            let mut counts = Vec::new();
            for part in bytes.chunks(cut) {
                let px = s.push(part).unwrap();
                assert_eq!(px.len() % (side * side), 0, "only whole images");
                got.extend(px);
                counts.push(got.len() / (side * side));
            }
            assert_eq!(s.dims(), Some((n, side, side)));
            assert!(got == raw[IMAGES_HEADER..], "the pixels, in order ({} bytes, cut {cut})", got.len());
            assert!(counts.windows(2).all(|w| w[0] <= w[1]) && counts[0] < n, "images come as parts arrive: {counts:?}");
            assert_eq!(s.finish(), Ok((n, side, side)));
        }
    }

    #[test]
    fn a_streamed_image_file_that_is_cut_short_damaged_or_too_long_is_refused() {
        let raw = images_file(20, 28);
        let gzd = gz(&raw);
        // Cut short: the parts so far are fine, finishing is not.
        let mut s = ImageStream::new();
        s.push(&gzd[..gzd.len() / 2]).unwrap();
        assert!(s.finish().is_err());
        let mut s = ImageStream::new();
        s.push(&raw[..raw.len() - 5]).unwrap();
        assert!(matches!(s.finish(), Err(IdxError::WrongLength { .. })));
        // A bad header is named as soon as it is in.
        let mut bad = raw.clone();
        bad[3] = 1;
        assert!(matches!(ImageStream::new().push(&gz(&bad)), Err(IdxError::BadMagic { .. })));
        // More pixels than the header declares: refused, not decompressed on.
        let mut long = raw.clone();
        long.extend(vec![7u8; 784 * 3]);
        let mut s = ImageStream::new();
        assert_eq!(s.push(&gz(&long)).unwrap_err(), IdxError::Longer { expected: 20 * 784 });
        // Bytes after the gzip data.
        let mut trailing = gzd.clone();
        trailing.extend_from_slice(b"junk");
        let mut s = ImageStream::new();
        assert!(matches!(s.push(&trailing), Err(IdxError::TrailingBytes { bytes: 4 })));
        // Damaged deflate data.
        let mut broken = gzd.clone();
        let mid = broken.len() / 2;
        broken[mid..mid + 8].copy_from_slice(&[0xff; 8]);
        let mut s = ImageStream::new();
        let r = match s.push(&broken) {
            Ok(_) => s.finish().map(|_| ()),
            Err(e) => Err(e),
        };
        assert!(r.is_err(), "damaged gzip data must not pass");
    }

    /// `n` images of `side`×`side` with varied pixels.
    fn images_file(n: usize, side: usize) -> Vec<u8> {
        let px: Vec<u8> = (0..n * side * side).map(|i| ((i * 7919) % 251) as u8 & if i % 3 == 0 { 0xff } else { 0 }).collect();
        write_images(side, side, &px)
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    /// The four ways in: raw and gzipped, images and labels.
    fn images(bytes: Vec<u8>) -> Result<Images, IdxError> {
        read_images(bytes)
    }

    #[test]
    fn valid_files_parse_raw_and_gzipped() {
        let px: Vec<u8> = (0..3 * 4 * 5).map(|i| i as u8).collect();
        let file = write_images(4, 5, &px);
        let a = images(file.clone()).unwrap();
        let b = images(gz(&file)).unwrap();
        assert_eq!(a, b);
        assert_eq!((a.items, a.rows, a.cols), (3, 4, 5));
        assert_eq!(a.pixels, px);
        assert_eq!(read_labels(gz(&write_labels(&[1, 2, 9]))).unwrap(), vec![1, 2, 9]);
        assert_eq!(read_labels(write_labels(&[1, 2, 9])).unwrap(), vec![1, 2, 9]);
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
        assert!(matches!(images(g[..g.len() / 2].to_vec()), Err(IdxError::Gzip(_))));
        assert!(matches!(images(g[..g.len() - 1].to_vec()), Err(IdxError::Gzip(_))));
        // Messages say what is wrong.
        let msg = parse_images(file[..20].to_vec()).unwrap_err().to_string();
        assert!(msg.contains("truncated"), "{msg}");
    }

    #[test]
    fn a_multi_member_gzip_is_read_whole() {
        // `cat a.gz b.gz`: the header and some images in one member, the rest in another.
        // It used to be called truncated (only the first member was read).
        let px: Vec<u8> = (0..5 * 3 * 3).map(|i| (i * 7) as u8).collect();
        let file = write_images(3, 3, &px);
        let mut two = gz(&file[..20]);
        two.extend(gz(&file[20..]));
        assert_eq!(images(two.clone()).unwrap().pixels, px);
        // The split can fall inside the header, and empty members are fine.
        let mut three = gz(&file[..5]);
        three.extend(gz(&[]));
        three.extend(gz(&file[5..]));
        assert_eq!(images(three).unwrap().pixels, px);
    }

    #[test]
    fn bytes_after_the_gzip_data_are_refused() {
        let file = write_images(2, 2, &[9; 8]);
        let mut g = gz(&file);
        g.extend_from_slice(b"garbage!");
        // They used to be ignored.
        assert_eq!(images(g.clone()), Err(IdxError::TrailingBytes { bytes: 8 }));
        let mut lab = gz(&write_labels(&[1, 2]));
        lab.push(0);
        let e = read_labels(lab).unwrap_err();
        assert_eq!(e, IdxError::TrailingBytes { bytes: 1 });
        assert!(e.to_string().contains("1 bytes of something else after its gzip data"), "{e}");
    }

    /// A gzip file whose last bytes (the CRC) are damaged: decompressing it to the end fails.
    fn gz_with_bad_crc(bytes: &[u8]) -> Vec<u8> {
        let mut g = gz(bytes);
        let n = g.len();
        g[n - 8] ^= 0xff;
        let mut whole = Vec::new();
        let e = flate2::read::MultiGzDecoder::new(&g[..]).read_to_end(&mut whole).unwrap_err();
        assert!(e.to_string().contains("corrupt"), "{e}");
        g
    }

    #[test]
    fn the_header_is_checked_before_the_rest_is_decompressed() {
        // Each file is damaged at its very end, so an error other than Gzip proves the
        // reader stopped at the header (it used to decompress everything first).
        let mut label_as_image = write_labels(&[1; 4000]);
        label_as_image.extend([0; 100]);
        assert!(matches!(images(gz_with_bad_crc(&label_as_image)), Err(IdxError::BadMagic { found: LABELS_MAGIC, .. })));
        // The case: a valid header of 1.3 M images of 28×28 and zeros (1 GB once
        // decompressed, accepted before). Here with a short body: the header is enough.
        let mut big = write_images(28, 28, &[0; 784]);
        big[4..8].copy_from_slice(&1_300_000u32.to_be_bytes());
        big.extend(vec![0; 100_000]);
        let e = images(gz_with_bad_crc(&big)).unwrap_err();
        assert_eq!(e, IdxError::BadDims { items: 1_300_000, rows: 28, cols: 28 });
        // A header within the limits, then more data than it declares: decompression stops
        // one byte past the declared size.
        let mut more = write_images(28, 28, &[0; 10 * 784]);
        more.extend(vec![0; 1_000_000]);
        assert_eq!(images(gz_with_bad_crc(&more)), Err(IdxError::Longer { expected: 7840 }));
        let mut more_labels = write_labels(&[0; 10]);
        more_labels.extend(vec![0; 100_000]);
        assert_eq!(read_labels(gz_with_bad_crc(&more_labels)), Err(IdxError::Longer { expected: 10 }));
    }

    #[test]
    fn sizes_are_multiplied_with_the_browser_s_32_bit_usize_in_mind() {
        // The header: 5,478,275 images of 28×28 is 4,294,967,600 bytes, which wraps
        // to 304 in a 32-bit usize (wasm32), so 304 bytes of pixels passed the length check.
        assert_eq!(5_478_275u32.wrapping_mul(28).wrapping_mul(28), 304);
        assert_eq!(checked_len::<u32>(5_478_275, 28, 28), None);
        assert_eq!(checked_len::<u64>(5_478_275, 28, 28), Some(4_294_967_600));
        assert_eq!(checked_len::<u32>(60_000, 28, 28), Some(47_040_000));
        assert_eq!(checked_len::<u32>(u32::MAX, u32::MAX, u32::MAX), None);
        let mut file = write_images(28, 28, &[0; 304]);
        file[4..8].copy_from_slice(&5_478_275u32.to_be_bytes());
        assert!(images(file.clone()).is_err());
        assert!(images(gz(&file)).is_err());
        // Within the item and side limits, the byte limit still holds, on any usize.
        let mut wide = write_images(128, 128, &[0; 16384]);
        wide[4..8].copy_from_slice(&(MAX_ITEMS as u32).to_be_bytes());
        let e = images(wide).unwrap_err();
        assert_eq!(e, IdxError::TooLarge { items: MAX_ITEMS, rows: 128, cols: 128, limit: MAX_BODY_BYTES });
        assert!(e.to_string().contains("more than the 200000000 bytes"), "{e}");
        // The largest MNIST-like sets fit: EMNIST Digits' 240,000 training images.
        assert!(checked_len::<u32>(240_000, 28, 28).unwrap() as usize <= MAX_BODY_BYTES);
    }
}
