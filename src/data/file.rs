//! Reading a file from a path, natively, with a size cap: the one way in from a path for
//! the MNIST files (`Mnist::load_dir`) and the CLI's saved models. Here, at the
//! bottom, so that `data` and `io` both use it without `data` reaching up into `io`.

/// Why [`read_file_capped`] refused a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// The path cannot be opened or read (the OS's reason).
    Io(String),
    /// A directory, device, FIFO or socket: reading it could block or never end.
    NotAFile(&'static str),
    /// Larger than `limit` bytes (`bytes` is its size as far as known).
    TooLarge { bytes: u64, limit: u64 },
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "{e}"),
            ReadError::NotAFile(kind) => write!(f, "it is a {kind}, not a regular file: give the path of a file"),
            ReadError::TooLarge { bytes, limit } => {
                write!(f, "it is {bytes} bytes long, more than the {limit} bytes such a file may have: is it the right file?")
            }
        }
    }
}

impl std::error::Error for ReadError {}

/// Reads a whole regular file of at most `limit` bytes. A directory, device (`/dev/zero`),
/// FIFO or socket is refused before it is opened (opening a FIFO blocks until someone
/// writes to it), a larger file before it is read, and a file that grows while it is read
/// stops being read at `limit` + 1 bytes.
#[cfg(not(target_arch = "wasm32"))]
pub fn read_file_capped(path: &std::path::Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    use std::io::Read;
    let meta = std::fs::metadata(path).map_err(|e| ReadError::Io(e.to_string()))?;
    if !meta.is_file() {
        return Err(ReadError::NotAFile(file_kind(&meta.file_type())));
    }
    if meta.len() > limit {
        return Err(ReadError::TooLarge { bytes: meta.len(), limit });
    }
    let file = std::fs::File::open(path).map_err(|e| ReadError::Io(e.to_string()))?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut bytes).map_err(|e| ReadError::Io(e.to_string()))?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge { bytes: bytes.len() as u64, limit });
    }
    Ok(bytes)
}

#[cfg(not(target_arch = "wasm32"))]
fn file_kind(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "FIFO (named pipe)";
        }
        if t.is_char_device() || t.is_block_device() {
            return "device";
        }
        if t.is_socket() {
            return "socket";
        }
    }
    if t.is_dir() {
        "directory"
    } else {
        "special file"
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn devices_fifos_directories_and_large_files_are_refused_before_reading() {
        let dir = std::env::temp_dir().join(format!("aeplay-read-capped-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // /dev/zero never ends; a FIFO with no writer blocks open(2) forever.
        assert_eq!(read_file_capped(std::path::Path::new("/dev/zero"), 100), Err(ReadError::NotAFile("device")));
        let fifo = dir.join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("run mkfifo");
        assert!(made.success(), "mkfifo failed");
        assert_eq!(read_file_capped(&fifo, 100), Err(ReadError::NotAFile("FIFO (named pipe)")));
        assert_eq!(read_file_capped(&dir, 100), Err(ReadError::NotAFile("directory")));
        let file = dir.join("f");
        std::fs::write(&file, [7u8; 101]).unwrap();
        assert_eq!(read_file_capped(&file, 100), Err(ReadError::TooLarge { bytes: 101, limit: 100 }));
        assert_eq!(read_file_capped(&file, 101).unwrap(), vec![7u8; 101]);
        assert!(read_file_capped(&dir.join("missing"), 100).unwrap_err().to_string().contains("No such file"));
        let msg = read_file_capped(std::path::Path::new("/dev/zero"), 100).unwrap_err().to_string();
        assert!(msg.contains("not a regular file"), "{msg}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
