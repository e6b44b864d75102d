//! The `switchboard` binary: the command line over the engine and its HTTP API.

mod cli;
mod config;
mod embedded;
mod logging;
mod publisher;
mod runner;
mod scaffold;
mod verify;

fn main() -> std::process::ExitCode {
    cli::main()
}
