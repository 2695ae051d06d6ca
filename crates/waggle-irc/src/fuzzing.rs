//! Root's command-line parsing without a session, for the fuzz targets and their
//! corpus replay (`fuzz/`). Not an API: it only reaches what a line typed to root
//! goes through before a handler runs.

use waggle_core::ProtocolRegistry;

use crate::root::{self, COMMANDS, Resolve};

/// What root makes of one command line before running it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootLine {
    /// The line split into words (quotes and backslashes resolved).
    pub words: Vec<String>,
    /// The command the first word names, if it names exactly one.
    pub command: Option<&'static str>,
    /// Whether the first word is a prefix of several commands.
    pub ambiguous: bool,
    /// The subcommand the second word names, if the command has that one.
    pub subcommand: Option<&'static str>,
    /// What `help` followed by these words would answer.
    pub help: Option<String>,
}

/// Split `line` as root does, resolve its command and subcommand in the registry,
/// and look up the help text for the same words (with `protocols`' settings).
pub fn root_line(line: &str, protocols: &ProtocolRegistry) -> RootLine {
    let words = root::split_words(line);
    let (command, ambiguous) = match words.first() {
        Some(first) => match root::resolve(COMMANDS, first, |d| d.name) {
            Ok(def) => (Some(def), false),
            Err(Resolve::Ambiguous) => (None, true),
            Err(Resolve::Unknown) => (None, false),
        },
        None => (None, false),
    };
    let subcommand = command.zip(words.get(1)).and_then(|(def, sub)| {
        root::resolve(def.subcommands, sub, |x| x.0)
            .ok()
            .map(|x| x.0)
    });
    let help = root::help::text(&words, protocols);
    RootLine {
        command: command.map(|d| d.name),
        ambiguous,
        subcommand,
        help,
        words,
    }
}
