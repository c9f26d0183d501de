"""The fleet benchmark's quick mode in CI: with --check, every scenario (plan with prune off with
and without declared nicknames, plan by name, apply, plan with tags on the public and on an Enterprise Edition instance, at 1,000 and
10,000 devices) must make the minimum calls of its read plan (within the scenario's tolerance: sources that run side
by side overlap by the calls in flight when they meet) and draw no throttling
answer. Wall times are printed, never checked."""

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_quick_bench_makes_the_minimum_calls_without_throttling():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benches" / "fleet.py"), "--quick", "--check"],
        env=dict(os.environ), capture_output=True, text=True, timeout=1200,
    )
    report = result.stdout[-4000:] + result.stderr[-4000:]
    assert result.returncode == 0, report
    for scenario in ["plan 10000, no prune, no nicknames, 20 ms", "plan 10000, no prune, nickname on every 10th, 20 ms",
                     "plan 50 of 10000, 20 ms", "apply 10000 new, 20 ms",
                     "plan 1000, tags, public instance", "plan 1000, tags, enterprise instance"]:
        assert f"  {scenario}: calls" in result.stdout, f"{scenario} did not run:\n{report}"
