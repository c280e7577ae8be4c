//! The command line in two stages: [`args`] is what the user typed (clap), [`config`] adds
//! what a `--config` file sets, [`validate`] turns both into the library's validated
//! configurations (`TryFrom`, usage errors), and [`commands`] runs them.

use anyhow::Result;
use clap::{CommandFactory, FromArgMatches};

/// A mistake in how kellect was called: exit code 2, like clap's own usage errors.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(pub(crate) String);

/// Returns a [`UsageError`] from the enclosing function.
macro_rules! usage {
    ($($arg:tt)*) => {
        return Err(UsageError(format!($($arg)*)).into())
    };
}

mod args;
mod commands;
mod config;
mod tree;
mod validate;

pub(crate) use commands::run;

use args::{Cli, Cmd};

/// Parses the command line (clap's own errors exit here, with code 2 for usage) and merges
/// in the `--config` file of `record` and `live`: a value the command line sets wins.
/// Errors: the configuration file cannot be read or parsed (usage errors).
pub(crate) fn parse() -> Result<Cli> {
    parse_from(std::env::args_os())
}

/// [`parse`] of `args` (the program's name first).
fn parse_from<I, T>(args: I) -> Result<Cli>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let matches = Cli::command().get_matches_from(args);
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    merge_config_file(&mut cli, &matches)?;
    Ok(cli)
}

/// Merges the `--config` file, if the command has one, into `cli` (`matches`: the same
/// command line, parsed, to tell what the user typed from clap's defaults).
fn merge_config_file(cli: &mut Cli, matches: &clap::ArgMatches) -> Result<()> {
    let Some((_, sub)) = matches.subcommand() else {
        return Ok(());
    };
    match &mut cli.command {
        Cmd::Record(a) => {
            if let Some(path) = &a.config {
                config::read::<config::RecordFile>(path)?.merge_into(sub, a);
            }
        }
        Cmd::Live(a) => {
            if let Some(path) = &a.config {
                config::read::<config::LiveFile>(path)?.merge_into(sub, a);
            }
        }
        _ => {}
    }
    Ok(())
}
