"""Turns the failure suite's rows (target/chaos-report.jsonl) into a Markdown table."""

import json
import sys
import time


def main(source, target):
    rows = [json.loads(line) for line in open(source) if line.strip()]
    lines = [
        "# Failure suite report",
        "",
        f"`make chaos`, {time.strftime('%Y-%m-%d', time.gmtime())}. Lost and duplicated are counted by an",
        "independent `read_committed` reader with its own partition assignment (`orderflow verify`).",
        "Worst lag is the largest total consumer-group lag seen; recovery is the time from the",
        "last fault to lag 0 (-1: not measured for that scenario).",
        "",
        "| scenario | size | events | faults | lost | duplicated | worst lag | recovery s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['scenario']} | {row['size']} | {row['events']:,} | {row['faults']} | {row['lost']} | "
            f"{row['duplicated']} | {row['worst_lag']} | {row['recovery_seconds']:.1f} |"
        )
    with open(target, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
