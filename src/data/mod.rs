//! Data: IDX parsing and validation, the MNIST dataset kept as `u8` (and its PCA), the
//! preprocessing that turns a drawing into an MNIST-like input, the synthetic sets, and
//! reading a file from a path with a size cap.

pub mod draw;
pub mod file;
pub mod idx;
pub mod mnist;
pub mod synthetic;

pub use idx::IdxError;
pub use mnist::{DataError, Dataset, Mnist, FILES};

/// The SHA-256 of `bytes` as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    to_hex(&Sha256::digest(bytes))
}

/// A digest as lowercase hex digits.
pub fn to_hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks downloaded bytes against the SHA-256 a manifest gives for them (64 hex digits,
/// either case); the message says what to do.
pub fn verify_sha256(bytes: &[u8], hex: &str) -> Result<(), String> {
    verify_digest(&sha256_hex(bytes), hex)
}

/// [`verify_sha256`] for a SHA-256 already computed (`got`, lowercase hex), as of a file
/// hashed part by part as it arrived.
pub fn verify_digest(got: &str, hex: &str) -> Result<(), String> {
    let want = hex.trim().to_ascii_lowercase();
    if want.len() != 64 || !want.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("the manifest's SHA-256 '{}' is not 64 hex digits: the manifest is damaged, rebuild it with `make data FORCE=1`", hex.chars().take(80).collect::<String>()));
    }
    if got != want {
        return Err(format!(
            "the file's SHA-256 is {got}, not the manifest's {want}: it was damaged or changed on the way; reload the page (or run `make data FORCE=1`)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_checks_against_the_manifest() {
        // FIPS 180-2's example.
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_hex(b"abc"), abc);
        assert_eq!(verify_sha256(b"abc", abc), Ok(()));
        assert_eq!(verify_sha256(b"abc", &abc.to_uppercase()), Ok(()));
        let e = verify_sha256(b"abd", abc).unwrap_err();
        assert!(e.contains("not the manifest's ba7816bf"), "{e}");
        assert!(verify_sha256(b"abc", "xyz").unwrap_err().contains("not 64 hex digits"));
        assert!(verify_sha256(b"abc", &"g".repeat(64)).unwrap_err().contains("not 64 hex digits"));
    }
}
