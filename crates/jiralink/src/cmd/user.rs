//! `jiralink user add|list|remove`: the web app's accounts, kept in the store. Passwords come
//! from a hidden prompt or the first line of standard input, never from the arguments.

use std::io::{BufRead, IsTerminal};

use anyhow::Context;
use jiralink_web::Role;
use secrecy::SecretString;
use serde_json::json;

use super::UsageError;
use crate::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Add a user, or set an existing user's role and password.
    #[command(
        after_help = "Examples:\n  jiralink user add ann --role admin\n  printf '%s\\n' \"$PASSWORD\" | jiralink user add bob --password-stdin"
    )]
    Add {
        name: String,
        /// admin, member or viewer.
        #[arg(long, default_value = "member")]
        role: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users and roles.
    #[command(after_help = "Examples:\n  jiralink user list\n  jiralink --json user list")]
    List,
    /// Remove a user: their sessions end and their API tokens are revoked.
    #[command(after_help = "Examples:\n  jiralink user remove bob")]
    Remove { name: String },
}

fn read_password(stdin: bool) -> anyhow::Result<SecretString> {
    let value = if stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        let first = rpassword::prompt_password("password: ")
            .context("cannot read the password from the terminal")?;
        let again = rpassword::prompt_password("again: ")
            .context("cannot read the password from the terminal")?;
        if first != again {
            anyhow::bail!(UsageError("the two passwords differ".into()));
        }
        first
    };
    if value.is_empty() {
        anyhow::bail!(UsageError("the password is empty".into()));
    }
    Ok(SecretString::from(value))
}

pub fn run(args: Args, global: Global) -> anyhow::Result<()> {
    let app = super::serve::app(&global, String::new(), None)?;
    match args.command {
        Command::Add {
            name,
            role,
            password_stdin,
        } => {
            let role: Role = role.parse().map_err(UsageError)?;
            let password = read_password(password_stdin)?;
            let new = app
                .put_user(&name, role, Some(&password))
                .map_err(UsageError)?;
            if global.out.json {
                println!("{}", json!({"name": name, "role": role, "added": new}));
            } else if new {
                println!("added {name} ({})", role.as_str());
            } else {
                println!("updated {name} ({})", role.as_str());
            }
        }
        Command::List => {
            let users = app.users()?;
            if global.out.json {
                let v: Vec<_> = users
                    .iter()
                    .map(|u| json!({"name": u.name, "role": u.role, "created": u.created}))
                    .collect();
                println!("{}", serde_json::Value::Array(v));
            } else {
                for u in users {
                    println!("{:<24} {:<8} since {}", u.name, u.role, u.created);
                }
            }
        }
        Command::Remove { name } => {
            if !app.remove_user(&name)? {
                anyhow::bail!(UsageError(format!("there is no user '{name}'")));
            }
            if global.out.json {
                println!("{}", json!({"removed": name}));
            } else {
                println!("removed {name}");
            }
        }
    }
    Ok(())
}
