//! `quarry-data`: the training data of Quarry's model, apart from the
//! serving binary.
//!
//! - `quarry-data generate` writes supervised samples for the four tasks,
//!   generated from the committed taxonomies, and a held-out test split
//!   (see [`generate`]);
//! - `quarry-data tokenize` turns them into the token ids that
//!   `training/train.py` trains on, through the engine's own prompt
//!   tokenization (see [`tokenize`]).
//!
//! `bash training/train.sh` runs both, then the trainer, export and
//! evaluation.

mod generate;
mod rng;
mod tokenize;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "quarry-data",
    version,
    about = "Training data for Quarry's model"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate supervised training data and a held-out test split from the
    /// taxonomies (deterministic by seed).
    Generate(generate::Args),
    /// Encode train.jsonl as token ids for training/train.py, with the
    /// engine's own prompt tokenization.
    Tokenize(tokenize::Args),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Generate(args) => generate::run(args),
        Command::Tokenize(args) => tokenize::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("quarry-data: {message}");
            ExitCode::FAILURE
        }
    }
}
