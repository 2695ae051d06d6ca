//! Bringing users over from BitlBee: its `storage_xml` files (one `<nick>.xml` per
//! user in its configuration directory) become Waggle users with their settings,
//! accounts, stored buddy nicks and channels.
//!
//! BitlBee keeps the login password as a salted MD5 hash and the IM passwords
//! RC4-encrypted under the login password, so nothing can be re-encrypted before the
//! user types that password. An imported user therefore starts with a *pending*
//! login: the old hash and the encrypted IM passwords wait in tables of their own
//! (migration 0004), and the `users` row carries [`PENDING_HASH`] instead of an
//! Argon2id hash. At the first identify, [`SqliteStore::authenticate`](waggle_core::Store::authenticate)
//! checks the password against the old hash, gives the user Argon2id credentials
//! with a fresh data key and seals the IM passwords under it, all in one transaction;
//! a wrong password converts nothing and fails like any wrong password.
//!
//! - [`parse`]: the XML file into records.
//! - [`legacy`]: BitlBee's hash, cipher and file-name rules.
//! - [`settings`] and [`plan`]: what Waggle takes of it, and why not the rest.
//! - [`write`]: storing one planned user; [`convert`]: the first identify.
//! - [`report`]: what a run did, for the admin.

mod convert;
mod legacy;
mod parse;
mod plan;
mod report;
mod settings;
mod write;

use std::path::{Path, PathBuf};

use waggle_core::{ProtocolRegistry, StoreError};

use crate::sqlite::SqliteStore;

pub(crate) use convert::{LegacyLogin, convert_legacy_login};
pub use legacy::LegacyError;
pub use parse::MAX_FILE_BYTES;
pub use report::{FileOutcome, FileReport, ImportReport, Skipped, UserImport};

/// What a `users` row holds as its password hash while its BitlBee login waits
/// for the first identify. It is no PHC string, so no password ever matches it.
pub const PENDING_HASH: &str = "bitlbee-import:pending";

/// What Waggle offers, to map BitlBee's names onto: the protocols built in (their
/// account settings, canonical names and aliases) and the IRC front end's rules
/// for nicks and channel names.
#[derive(Clone, Copy)]
pub struct Catalogue<'a> {
    /// The backends, with their account settings.
    pub protocols: &'a ProtocolRegistry,
    /// Whether a user or contact nick is usable.
    pub valid_nick: fn(&str) -> bool,
    /// Whether a channel name is usable.
    pub valid_channel: fn(&str) -> bool,
}

impl std::fmt::Debug for Catalogue<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalogue")
            .field("protocols", self.protocols)
            .finish_non_exhaustive()
    }
}

/// Why a file, or the whole import, failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The directory or a file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// What was being read.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// A file over [`MAX_FILE_BYTES`].
    #[error("{}: larger than {limit} bytes, which no BitlBee user file is", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit.
        limit: u64,
    },
    /// A file that is not a usable BitlBee user file.
    #[error("{}: {what}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
    /// The database failed.
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl SqliteStore {
    /// Import every `<nick>.xml` in BitlBee's configuration directory `dir`, in file
    /// name order. Each user is created in one transaction, or not at all; an
    /// existing Waggle user is never touched, and a user imported before is
    /// reported and left as it is, so a second run changes nothing.
    ///
    /// # Errors
    /// [`ImportError::Io`] when `dir` cannot be listed, [`ImportError::Store`] when the
    /// database fails. A file that cannot be read or understood is reported in its
    /// [`FileReport`] and the others are still imported.
    pub async fn import_bitlbee(
        &self,
        dir: &Path,
        catalogue: &Catalogue<'_>,
    ) -> Result<ImportReport, ImportError> {
        let mut report = ImportReport::default();
        for (path, stem) in user_files(dir)? {
            let outcome = match self.import_file(&path, &stem, catalogue).await {
                Ok(outcome) => outcome,
                Err(ImportError::Store(e)) => return Err(ImportError::Store(e)),
                Err(e) => FileOutcome::Failed(e),
            };
            report.files.push(FileReport {
                file: path,
                outcome,
            });
        }
        Ok(report)
    }

    async fn import_file(
        &self,
        path: &Path,
        stem: &str,
        catalogue: &Catalogue<'_>,
    ) -> Result<FileOutcome, ImportError> {
        let file = path.to_path_buf();
        let raw = tokio::task::spawn_blocking(move || parse::read_file(&file))
            .await
            .map_err(|e| {
                StoreError::Database(format!("reading {} failed: {e}", path.display()))
            })??;
        let planned = plan::plan(&raw, stem, catalogue).map_err(|what| ImportError::Format {
            path: path.to_path_buf(),
            what,
        })?;
        match planned {
            plan::Planned::NotImportable { user, reason } => {
                Ok(FileOutcome::NotImported { user, reason })
            }
            plan::Planned::User(plan) => {
                let source = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                Ok(write::store_plan(self, &plan, &source).await?)
            }
        }
    }
}

/// The `*.xml` regular files of `dir` with their stems, sorted by name. BitlBee's
/// temporary files (`nick.xml.XXXXXX`) do not end in `.xml` and are left out.
fn user_files(dir: &Path) -> Result<Vec<(PathBuf, String)>, ImportError> {
    let io = |source| ImportError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        let Some(stem) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".xml"))
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
        else {
            continue;
        };
        // Directories and the like are no user files; a file that cannot even be
        // looked at is kept, so that reading it reports why.
        if std::fs::metadata(&path).is_ok_and(|m| !m.is_file()) {
            continue;
        }
        files.push((path, stem));
    }
    files.sort();
    Ok(files)
}
