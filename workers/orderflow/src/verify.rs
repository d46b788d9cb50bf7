//! `orderflow verify`: compares an input topic with a worker's outputs.

use clap::Args;

/// `orderflow verify`.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// Connection.
    #[command(flatten)]
    pub connection: crate::cli::ConnectionArgs,
}

/// Runs `orderflow verify`.
pub async fn run(_args: VerifyArgs) -> anyhow::Result<()> {
    anyhow::bail!("verify is not available in this build")
}
