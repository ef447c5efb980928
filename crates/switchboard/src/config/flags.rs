//! The flag layer: one clap argument per setting, made from the registry, and read back into
//! [`Layers`] like the file and the environment (clap itself reads no variable for a setting).

use super::layers::{ConfigError, Layers};
use super::registry::{Scope, settings};

/// The commands that run servers: they take every setting's flag; the others take the `Every` ones.
pub const SERVER_COMMANDS: [&str; 5] = ["serve", "receiver", "sender", "callcenter", "demo"];

/// `command` with a flag for every setting: `Every` ones global, the rest on each server command.
pub fn add_flags(mut command: clap::Command) -> clap::Command {
    for setting in settings().iter().filter(|s| s.scope == Scope::Every) {
        command = command.arg(setting.arg().global(true));
    }
    for name in SERVER_COMMANDS {
        command = command.mut_subcommand(name, |mut sub| {
            for setting in settings().iter().filter(|s| s.scope == Scope::Servers) {
                let limit = setting.key.contains("limits.");
                sub = sub.arg(
                    setting
                        .arg()
                        .help_heading(if limit { "Limits" } else { "Settings" })
                        .hide_short_help(limit),
                );
            }
            for setting in settings() {
                if let Some((owner, flag)) = setting.also
                    && owner == name
                {
                    sub = sub.arg(
                        clap::Arg::new(flag)
                            .long(flag.trim_start_matches("--"))
                            .value_name("ADDR")
                            .value_parser(clap::value_parser!(String))
                            .help(format!("Same as {}.", setting.flag)),
                    );
                }
            }
            sub
        });
    }
    command
}

/// Sets in `layers` every setting given on the command line that `matches` holds.
pub fn read_flags(layers: &mut Layers, matches: &clap::ArgMatches) -> Result<(), ConfigError> {
    let sub = matches.subcommand();
    for setting in settings() {
        // A global flag may come before or after the command's name.
        let given = sub
            .and_then(|(_, sub)| sub.try_get_one::<String>(&setting.key).ok().flatten())
            .or_else(|| matches.try_get_one::<String>(&setting.key).ok().flatten());
        if let Some(text) = given {
            layers.flag(setting, &setting.flag, text)?;
        }
        if let (Some((owner, flag)), Some((name, sub))) = (setting.also, sub)
            && owner == name
            && let Ok(Some(text)) = sub.try_get_one::<String>(flag)
        {
            layers.flag(setting, flag, text)?;
        }
    }
    Ok(())
}
