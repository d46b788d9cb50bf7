//! `orderflow dlq`: inspect and replay dead letters.

use crate::cli::DlqCommand;

/// Runs `orderflow dlq`.
pub async fn run(_command: DlqCommand) -> anyhow::Result<()> {
    anyhow::bail!("dlq is not available in this build")
}
