//! Reading a CA file an account names (`cafile`). The path comes from a user,
//! so the daemon must not become a way to read anything else: only a regular
//! file of at most [`MAX_CAFILE`] bytes is read, never one under `/dev`,
//! `/proc` or `/sys` (symbolic links are resolved first), it is opened without
//! blocking (a FIFO can't hold a thread) and read with a bound, off the async
//! workers ([`load_cafile`]). Errors say what is wrong with the file but never
//! show its content.

use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// The largest CA file read, in bytes (1 MiB: a bundle of every public CA is
/// about 200 KiB).
pub const MAX_CAFILE: u64 = 1024 * 1024;

/// Directories whose files are never read: devices and the kernel's views.
const REFUSED: &[&str] = &["/dev", "/proc", "/sys"];

/// Why a CA file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CafileError {
    /// The file lies under a directory that is never read.
    #[error("cafile {path} is not allowed: files under /dev, /proc and /sys are never read")]
    NotAllowed {
        /// The file, as given.
        path: String,
    },
    /// The file is a directory, a device, a FIFO or a socket.
    #[error("cafile {path} is not a regular file")]
    NotRegular {
        /// The file, as given.
        path: String,
    },
    /// The file is larger than [`MAX_CAFILE`].
    #[error("cafile {path} is too large (more than {MAX_CAFILE} bytes)")]
    TooLarge {
        /// The file, as given.
        path: String,
    },
    /// The file could not be opened or read.
    #[error("Cannot read cafile {path}: {error}")]
    Read {
        /// The file, as given.
        path: String,
        /// What went wrong.
        error: std::io::Error,
    },
    /// The file holds something that is not PEM certificates.
    #[error("cafile {path} does not hold PEM certificates")]
    Parse {
        /// The file, as given.
        path: String,
    },
    /// The blocking read could not be run.
    #[error("Cannot read cafile {path}: the reading task failed")]
    Task {
        /// The file, as given.
        path: String,
    },
}

/// The PEM certificates in a CA file (possibly none), read with the checks
/// above. This blocks: from async code use [`load_cafile`].
pub fn read_cafile(path: &Path) -> Result<Vec<CertificateDer<'static>>, CafileError> {
    let shown = path.display().to_string();
    let read_error = |error| CafileError::Read {
        path: shown.clone(),
        error,
    };
    let real = std::fs::canonicalize(path).map_err(read_error)?;
    if REFUSED.iter().any(|dir| real.starts_with(dir)) {
        return Err(CafileError::NotAllowed { path: shown });
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_NOFOLLOW)
        .open(&real)
        .map_err(read_error)?;
    let meta = file.metadata().map_err(read_error)?;
    if !meta.is_file() {
        return Err(CafileError::NotRegular { path: shown });
    }
    if meta.len() > MAX_CAFILE {
        return Err(CafileError::TooLarge { path: shown });
    }
    let mut bytes = Vec::new();
    file.take(MAX_CAFILE + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_CAFILE {
        return Err(CafileError::TooLarge { path: shown });
    }
    CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| CafileError::Parse { path: shown })
}

/// [`read_cafile`] on tokio's blocking pool, so no async worker waits on the disk.
pub async fn load_cafile(path: PathBuf) -> Result<Vec<CertificateDer<'static>>, CafileError> {
    let shown = path.display().to_string();
    tokio::task::spawn_blocking(move || read_cafile(&path))
        .await
        .unwrap_or(Err(CafileError::Task { path: shown }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_kernel_files_are_refused() {
        for path in [
            "/dev/zero",
            "/dev/urandom",
            "/proc/self/environ",
            "/sys/kernel/notes",
        ] {
            let got = read_cafile(Path::new(path));
            assert!(
                matches!(got, Err(CafileError::NotAllowed { .. })),
                "{path}: {got:?}"
            );
        }
    }

    #[test]
    fn a_link_to_a_device_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("ca.pem");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        let got = read_cafile(&link);
        assert!(
            matches!(got, Err(CafileError::NotAllowed { .. })),
            "{got:?}"
        );
        let text = got.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            text.contains("ca.pem") && text.contains("not allowed"),
            "{text}"
        );
    }

    #[test]
    fn only_small_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let got = read_cafile(dir.path());
        assert!(
            matches!(got, Err(CafileError::NotRegular { .. })),
            "{got:?}"
        );
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            // Opened without blocking, then refused: no writer is needed.
            let got = read_cafile(&fifo);
            assert!(
                matches!(got, Err(CafileError::NotRegular { .. })),
                "{got:?}"
            );
        }
        let big = dir.path().join("big.pem");
        std::fs::write(&big, vec![b'-'; MAX_CAFILE as usize + 1]).unwrap();
        let got = read_cafile(&big);
        assert!(matches!(got, Err(CafileError::TooLarge { .. })), "{got:?}");
        let missing = read_cafile(&dir.path().join("missing.pem"));
        assert!(
            matches!(missing, Err(CafileError::Read { .. })),
            "{missing:?}"
        );
    }

    #[test]
    fn contents_are_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(
            &secret,
            "-----BEGIN CERTIFICATE-----\nhunter2 is the password\n",
        )
        .unwrap();
        let text = read_cafile(&secret)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(text.contains("does not hold PEM"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[tokio::test]
    async fn loads_off_the_async_workers() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        assert_eq!(load_cafile(empty).await.unwrap().len(), 0);
        let got = load_cafile(PathBuf::from("/dev/zero")).await;
        assert!(
            matches!(got, Err(CafileError::NotAllowed { .. })),
            "{got:?}"
        );
    }
}
