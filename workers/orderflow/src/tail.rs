//! `orderflow tail`: decode any topic to JSON lines.

use crate::cli::TailArgs;

/// Runs `orderflow tail`.
pub async fn run(_args: TailArgs) -> anyhow::Result<()> {
    anyhow::bail!("tail is not available in this build")
}
