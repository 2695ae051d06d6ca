//! The unattended key file: 32 random bytes in base64 on one line, mode 0600.
//! `waggle keygen` writes one; `[storage] unattended_key` names the one to load.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Read, Write};
use std::path::Path;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use waggle_store::{INSTANCE_KEY_LEN, InstanceKey};
use zeroize::Zeroizing;

/// A key file is one line; anything longer is not one.
const MAX_FILE_LEN: u64 = 256;

/// Write a new random key to `path` (mode 0600), refusing to replace a file.
pub fn generate(path: &Path) -> anyhow::Result<()> {
    let key = InstanceKey::generate()?;
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            bail!("{} already exists; not overwriting it", path.display())
        }
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
    };
    let mut line = Zeroizing::new(STANDARD.encode(key.as_bytes()));
    line.push('\n');
    file.write_all(line.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Read and check the key file at `path`: a regular file, readable by its owner
/// only, holding exactly one base64-encoded 32-byte key.
pub fn load(path: &Path) -> anyhow::Result<InstanceKey> {
    let shown = path.display();
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {shown}"))?;
    let meta = file
        .metadata()
        .with_context(|| format!("cannot read {shown}"))?;
    if !meta.is_file() {
        bail!("{shown} is not a regular file");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "{shown} is readable by others (mode {mode:04o}); whoever reads it and the \
                 database reads every unattended user's data: chmod 600 it"
            );
        }
    }
    if meta.len() > MAX_FILE_LEN {
        bail!("{shown} is not a key file (too long)");
    }
    let mut text = Zeroizing::new(String::new());
    file.take(MAX_FILE_LEN)
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read {shown}"))?;
    let bytes = Zeroizing::new(
        STANDARD
            .decode(text.trim())
            .map_err(|_| anyhow::anyhow!("{shown} is not a key file (not base64)"))?,
    );
    let mut key: [u8; INSTANCE_KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
        anyhow::anyhow!(
            "{shown} holds {} bytes, a key has {INSTANCE_KEY_LEN}",
            bytes.len()
        )
    })?;
    let loaded = InstanceKey::from_bytes(key);
    zeroize::Zeroize::zeroize(&mut key);
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_load_and_differ() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let (a, b) = (dir.path().join("a.key"), dir.path().join("b.key"));
        generate(&a)?;
        generate(&b)?;
        assert_ne!(load(&a)?, load(&b)?);
        assert!(generate(&a).is_err(), "never overwrites");
        Ok(())
    }

    #[cfg(unix)]
    #[test]
    fn bad_files_are_refused_with_a_reason() -> anyhow::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir()?;
        let write = |name: &str, text: &str, mode: u32| -> anyhow::Result<std::path::PathBuf> {
            let p = dir.path().join(name);
            std::fs::write(&p, text)?;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))?;
            Ok(p)
        };
        let good = STANDARD.encode([7u8; 32]);
        assert!(load(&write("ok", &format!("{good}\n"), 0o600)?).is_ok());
        let open = load(&write("open", &good, 0o644)?).map_err(|e| e.to_string());
        assert!(open.as_ref().is_err_and(|e| e.contains("0644")), "{open:?}");
        let group = load(&write("group", &good, 0o640)?).map_err(|e| e.to_string());
        assert!(group.is_err());
        let short = load(&write("short", &STANDARD.encode([7u8; 16]), 0o600)?);
        assert!(short.is_err_and(|e| e.to_string().contains("16 bytes")));
        assert!(load(&write("junk", "not base64 at all!", 0o600)?).is_err());
        assert!(load(&write("long", &"A".repeat(1000), 0o600)?).is_err());
        assert!(load(dir.path()).is_err(), "a directory");
        assert!(load(&dir.path().join("missing")).is_err());
        Ok(())
    }
}
