//! The database's files: its directory (mode 0700 when created), the file itself
//! (mode 0600 when created; SQLite gives its `-wal` and `-shm` the same mode), and
//! the lock beside it (`<database>.lock`) that every process holds while it opens
//! the database and brings its schema up to date, so two processes starting at
//! once (the daemon and `waggle user add`) never migrate side by side.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use waggle_core::StoreError;

/// How long an opener waits for another one to finish migrating.
const LOCK_WAIT: Duration = Duration::from_secs(60);
/// How often it looks again.
const LOCK_POLL: Duration = Duration::from_millis(20);

fn io_err(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Database(format!("{}: {e}", path.display()))
}

/// Create the database's directory (and its parents) if missing, mode 0700.
pub(crate) fn create_dir(path: &Path) -> Result<(), StoreError> {
    let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(());
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(parent).map_err(|e| io_err(parent, e))
}

fn private(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(options, 0o600);
    options
}

/// Create the (empty) database file with mode 0600 unless it exists. SQLite then
/// creates its `-wal` and `-shm` files with the same mode.
pub(crate) fn create_database(path: &Path) -> Result<(), StoreError> {
    match private(OpenOptions::new().write(true).create_new(true)).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            warn_if_shared(path);
            Ok(())
        }
        Err(e) => Err(io_err(path, e)),
    }
}

/// An existing database keeps its mode; say so when others may read it.
#[cfg_attr(not(unix), allow(unused_variables))]
fn warn_if_shared(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    mode = format_args!("{mode:04o}"),
                    "the database is readable by others; chmod 600 it and its -wal and -shm"
                );
            }
        }
    }
}

/// The path of the lock beside `database`.
fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// An exclusive advisory lock on `<database>.lock`, released when dropped.
#[derive(Debug)]
pub(crate) struct OpenLock(File);

impl Drop for OpenLock {
    fn drop(&mut self) {
        // Closing the file would release it as well; say so at once.
        let _ = self.0.unlock();
    }
}

/// Take the open lock, waiting (bounded) while another process holds it.
pub(crate) async fn lock(database: &Path) -> Result<OpenLock, StoreError> {
    let path = lock_path(database);
    let file = private(OpenOptions::new().read(true).write(true).create(true))
        .open(&path)
        .map_err(|e| io_err(&path, e))?;
    tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(OpenLock(file)),
                Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(LOCK_POLL);
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(StoreError::Database(format!(
                        "{}: another process has been opening the database for {} s",
                        path.display(),
                        LOCK_WAIT.as_secs()
                    )));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io_err(&path, e)),
            }
        }
    })
    .await
    .map_err(|e| StoreError::Database(format!("open lock: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_sits_beside_the_database() {
        assert_eq!(
            lock_path(Path::new("data/waggle.db")),
            PathBuf::from("data/waggle.db.lock")
        );
    }

    #[tokio::test]
    async fn a_second_opener_waits_for_the_first() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("w.db");
        let first = lock(&db).await?;
        let second = tokio::spawn({
            let db = db.clone();
            async move { lock(&db).await }
        });
        // Held: another handle cannot take it.
        let probe = File::open(lock_path(&db))?;
        assert!(matches!(
            probe.try_lock(),
            Err(std::fs::TryLockError::WouldBlock)
        ));
        assert!(!second.is_finished());
        drop(first);
        let second = second.await??;
        drop(second);
        Ok(())
    }
}
