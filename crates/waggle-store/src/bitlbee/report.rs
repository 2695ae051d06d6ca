//! What an import did, file by file, for the admin to read.

use std::fmt;
use std::path::PathBuf;

use super::ImportError;

/// Something the importer did not take, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// What it is (`global setting charset`, `account twitter (twitter, alice)` …).
    pub what: String,
    /// Why it was not taken.
    pub reason: String,
}

/// A user the importer created.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserImport {
    /// The Waggle user name (BitlBee's nick).
    pub user: String,
    /// What was taken, one entry per setting, account, buddy nick and channel.
    pub taken: Vec<String>,
    /// What was not taken.
    pub skipped: Vec<Skipped>,
    /// Differences the user should know about that are not skips.
    pub notes: Vec<String>,
}

/// What became of one file.
#[derive(Debug)]
pub enum FileOutcome {
    /// A new Waggle user was created from it.
    Imported(UserImport),
    /// An earlier import made this user: nothing was changed.
    AlreadyImported {
        /// The user name.
        user: String,
    },
    /// A Waggle user of that name exists that no import made: it was left alone.
    UserExists {
        /// The user name.
        user: String,
    },
    /// The file is BitlBee's, but its user cannot be brought over.
    NotImported {
        /// The user name.
        user: String,
        /// Why.
        reason: String,
    },
    /// The file could not be read.
    Failed(ImportError),
}

/// One file's outcome.
#[derive(Debug)]
pub struct FileReport {
    /// The file.
    pub file: PathBuf,
    /// What became of it.
    pub outcome: FileOutcome,
}

/// Everything one `import-bitlbee` run did.
#[derive(Debug, Default)]
pub struct ImportReport {
    /// One entry per `*.xml` file, by file name.
    pub files: Vec<FileReport>,
}

impl ImportReport {
    /// Whether any file could not be read.
    pub fn has_failures(&self) -> bool {
        self.files
            .iter()
            .any(|f| matches!(f.outcome, FileOutcome::Failed(_)))
    }

    /// The report of the file that made (or would have made) `user`.
    pub fn user(&self, user: &str) -> Option<&FileReport> {
        self.files.iter().find(|f| match &f.outcome {
            FileOutcome::Imported(u) => u.user.eq_ignore_ascii_case(user),
            FileOutcome::AlreadyImported { user: u }
            | FileOutcome::UserExists { user: u }
            | FileOutcome::NotImported { user: u, .. } => u.eq_ignore_ascii_case(user),
            FileOutcome::Failed(_) => false,
        })
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (mut imported, mut already, mut exists, mut not, mut failed) = (0, 0, 0, 0, 0);
        for file in &self.files {
            let name = file
                .file
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default();
            match &file.outcome {
                FileOutcome::Imported(u) => {
                    imported += 1;
                    writeln!(f, "{name}: imported user {}", u.user)?;
                    for t in &u.taken {
                        writeln!(f, "  took {t}")?;
                    }
                    for s in &u.skipped {
                        writeln!(f, "  skipped {}: {}", s.what, s.reason)?;
                    }
                    for n in &u.notes {
                        writeln!(f, "  note: {n}")?;
                    }
                }
                FileOutcome::AlreadyImported { user } => {
                    already += 1;
                    writeln!(
                        f,
                        "{name}: user {user} was imported before; nothing changed"
                    )?;
                }
                FileOutcome::UserExists { user } => {
                    exists += 1;
                    writeln!(
                        f,
                        "{name}: a Waggle user {user} already exists; not overwritten"
                    )?;
                }
                FileOutcome::NotImported { user, reason } => {
                    not += 1;
                    writeln!(f, "{name}: user {user} not imported: {reason}")?;
                }
                FileOutcome::Failed(e) => {
                    failed += 1;
                    writeln!(f, "{name}: error: {e}")?;
                }
            }
        }
        write!(
            f,
            "{} file(s): {imported} imported, {already} imported before, {exists} existing user(s) kept, {not} not importable, {failed} failed",
            self.files.len()
        )
    }
}
