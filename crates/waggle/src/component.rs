//! The `[component]` section (the XMPP component, XEP-0114) and its wiring:
//! when the section is present, the component's connection runs beside the
//! gateway and every user gets a `gw` account.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use serde::Deserialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use waggle_component::{Component, ComponentConfig};
use waggle_core::{HostedStore, ProtocolRegistry};

/// `[component]`
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Section {
    /// The component's JID, e.g. `gw.example.org`.
    pub domain: String,
    /// The XMPP server's component port, `host:port`.
    pub server: String,
    /// The secret shared with the server.
    pub secret: Option<String>,
    /// A file holding the secret (its first line).
    pub secret_file: Option<PathBuf>,
}

impl Section {
    /// The component's settings, with the secret read: every check `check-config` makes.
    pub fn component_config(&self) -> anyhow::Result<ComponentConfig> {
        let secret = match (&self.secret, &self.secret_file) {
            (Some(_), Some(_)) => bail!("component: give secret or secret_file, not both"),
            (Some(s), None) => s.clone(),
            (None, Some(path)) => {
                let text = read_small(path).with_context(|| {
                    format!("component.secret_file: cannot read {}", path.display())
                })?;
                text.lines().next().unwrap_or_default().trim().to_string()
            }
            (None, None) => String::new(),
        };
        Ok(ComponentConfig::new(&self.domain, &self.server, &secret)?)
    }
}

/// A secret file's text; refuses anything that is not a small regular file.
fn read_small(path: &std::path::Path) -> anyhow::Result<String> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() || meta.len() > 4096 {
        bail!("not a small regular file");
    }
    Ok(std::fs::read_to_string(path)?)
}

/// The running component connection.
pub struct Running {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

/// Start the component of `section` (if any) over `store`, and register its
/// backend in `registry`.
pub fn start(
    section: Option<&Section>,
    store: Arc<dyn HostedStore>,
    registry: &mut ProtocolRegistry,
) -> anyhow::Result<Option<Running>> {
    let Some(section) = section else {
        return Ok(None);
    };
    let (component, backend) = Component::new(section.component_config()?, store)?;
    registry.register(Arc::new(backend));
    let stop = CancellationToken::new();
    let task = tokio::spawn(component.run(stop.clone()));
    Ok(Some(Running { stop, task }))
}

impl Running {
    /// Send the accounts' last presences and close the connection; call once
    /// the gateway has stopped.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn error(text: &str) -> String {
        Config::parse(text)
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default()
    }

    #[test]
    fn the_section_is_checked() {
        let ok = "[component]\ndomain = \"gw.example.org\"\nserver = \"127.0.0.1:5347\"\nsecret = \"s3\"\n";
        let c = Config::parse(ok).map_err(|e| e.to_string());
        assert!(c.as_ref().is_ok_and(|c| c.component.is_some()), "{c:?}");
        assert!(Config::parse("").is_ok_and(|c| c.component.is_none()));
        let missing = "[component]\ndomain = \"gw.example.org\"\nserver = \"127.0.0.1:5347\"\n";
        assert!(error(missing).contains("secret"), "{}", error(missing));
        let bad =
            "[component]\ndomain = \"gw.example.org\"\nserver = \"localhost\"\nsecret = \"s\"\n";
        assert!(error(bad).contains("component.server"), "{}", error(bad));
        let both = format!("{missing}secret = \"a\"\nsecret_file = \"/x\"\n");
        assert!(error(&both).contains("not both"), "{}", error(&both));
        let unknown = format!("{ok}port = 3\n");
        assert!(error(&unknown).contains("port"), "{}", error(&unknown));
    }

    #[test]
    fn the_secret_can_come_from_a_file() {
        let dir = tempfile::tempdir().map_err(|e| e.to_string());
        let Ok(dir) = dir else { return };
        let path = dir.path().join("secret");
        assert!(std::fs::write(&path, "from-file\n").is_ok());
        let text = format!(
            "[component]\ndomain = \"gw.example.org\"\nserver = \"127.0.0.1:5347\"\nsecret_file = \"{}\"\n",
            path.display()
        );
        let c = Config::parse(&text)
            .ok()
            .and_then(|c| c.component)
            .and_then(|s| s.component_config().ok());
        assert_eq!(c.map(|c| c.secret.0), Some("from-file".to_string()));
        let missing = text.replace("secret\"", "nope\"");
        assert!(
            error(&missing).contains("secret_file"),
            "{}",
            error(&missing)
        );
    }
}
