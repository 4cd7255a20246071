"""Time the whole Pulumi program under mocks and count resources per stack shape.

Not a test: it prints figures (goal: one evaluation <= 3 s).

    .venv/bin/python scripts/bench_mocks.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

_STARTED = time.perf_counter()
REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "glue-scripts")]

from tests.infra.harness import ProgramRun, run_stack  # noqa: E402

STACKS: dict[str, tuple[str, dict[str, str]]] = {
    "dev": ("dev", {}),
    "prod": ("prod", {}),
    "pr-123": ("pr-123", {}),
    "dev+cmk+quicksight": (
        "dev",
        {
            "customerManagedKey": "true",
            "quicksightEnabled": "true",
            "quicksightPrincipals": json.dumps(
                ["arn:aws:quicksight:eu-west-1:123456789012:group/default/analysts"]
            ),
        },
    ),
}


def count(run: ProgramRun) -> tuple[int, int]:
    """(AWS resources, components)."""
    components = sum(1 for r in run.resources if r.type.startswith("spotify:"))
    return len(run.resources) - components, components


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per stack and mode")
    options = parser.parse_args()

    run_stack("dev")
    cold = time.perf_counter() - _STARTED
    print(f"first evaluation, Pulumi and pulumi_aws imports included: {cold:.2f} s\n")

    header = ("stack", "mode", "AWS resources", "components", "median s", "max s")
    print("{:<22}{:<9}{:>14}{:>12}{:>10}{:>8}".format(*header))
    for label, (stack, config) in STACKS.items():
        for preview in (False, True):
            timings: list[float] = []
            run: ProgramRun | None = None
            for _ in range(options.repeat):
                started = time.perf_counter()
                run = run_stack(stack, config, preview=preview)
                timings.append(time.perf_counter() - started)
            assert run is not None
            resources, components = count(run)
            mode = "preview" if preview else "up"
            print(
                f"{label:<22}{mode:<9}{resources:>14}{components:>12}"
                f"{statistics.median(timings):>10.3f}{max(timings):>8.3f}"
            )


if __name__ == "__main__":
    main()
