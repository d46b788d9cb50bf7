use std::process::ExitCode;

fn main() -> ExitCode {
    orderflow::main()
}
