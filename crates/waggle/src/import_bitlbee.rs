//! `waggle import-bitlbee DIR`: bring BitlBee's users over from its configuration
//! directory, and print what was taken and what was skipped.

use std::path::Path;

use anyhow::{Context, bail};
use waggle_store::SqliteStore;
use waggle_store::bitlbee::Catalogue;

/// Import every `<nick>.xml` in `dir` into the database at `database`. Fails (after
/// printing the whole report) when any file could not be read.
pub async fn run(database: &Path, dir: &Path) -> anyhow::Result<()> {
    let store = SqliteStore::open(database)
        .await
        .with_context(|| format!("cannot open database {}", database.display()))?;
    let protocols = crate::protocols();
    let catalogue = Catalogue {
        protocols: &protocols,
        valid_nick: waggle_irc::nick::is_valid_nick,
        valid_channel: waggle_irc::nick::is_valid_channel,
    };
    let result = store.import_bitlbee(dir, &catalogue).await;
    store.close().await;
    let report = result.with_context(|| format!("cannot import from {}", dir.display()))?;
    println!("{report}");
    if report.has_failures() {
        bail!("some files could not be imported");
    }
    Ok(())
}
