//! Training data generation (being written).

/// Options of `quarry data`.
#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> Result<(), String> {
    Err("`quarry data` is not built yet".into())
}
