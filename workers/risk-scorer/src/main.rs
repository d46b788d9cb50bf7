use std::process::ExitCode;

fn main() -> ExitCode {
    orderflow_runtime::worker_main::<risk_scorer::RiskScorer>(
        "Scores the fraud risk of every OrderPlaced and publishes OrderRiskAssessed.",
    )
}
