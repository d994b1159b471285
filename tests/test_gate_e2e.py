"""The gate end to end on the embedded model: SmolLM2-135M scored twice on all 62 items of ``evalkit_arc_easy``
passes against itself, and the same model under a LoRA adapter with large random weights, scored by
``evalkit gate --score``, fails against it.

The tiny random test model answers at chance (about 0.25 on four choices), so damaging it cannot lower its
accuracy; the embedded model scores about 0.55 here and about 0.26 under the adapter, a loss the paired test sees
with 62 items. Slow: three scoring runs of the real model (minutes on a CPU).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from evalkit.checkpoints import local_model_dir, resolve
from evalkit.gate import GateResult
from evalkit.score import ScoreOptions, score
from evalkit.suites import SuiteEntry
from tests.tiny import save_random_lora

pytestmark = pytest.mark.slow

ARC = "evalkit_arc_easy"
POLICY = f"""\
name: e2e
suite: suite.yaml
checks:
  - {{name: arc-no-regression, kind: relative, metric: {ARC}.acc, max_drop: 0.05}}
  - {{name: arc-present, kind: tasks_present}}
"""


@pytest.fixture(scope="module")
def damaging_adapter(shared_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter on ``smollm2`` whose random weights are large enough to wreck its answers (seeded)."""
    return save_random_lora(local_model_dir(resolve("smollm2")), tmp_path_factory.mktemp("damaging-adapter"),
                            base_spec="smollm2", rank=8, alpha=64,
                            modules=("q_proj", "v_proj", "o_proj", "down_proj"))


def gate_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from evalkit.cli import run; run()", "gate", *args],
                          check=False, capture_output=True, text=True, env=dict(os.environ), timeout=900)


def test_gate_passes_the_embedded_model_against_itself_and_fails_it_under_a_damaging_adapter(
        shared_home: Path, tmp_path: Path, damaging_adapter: Path) -> None:
    (tmp_path / "suite.yaml").write_text(f"name: gate-e2e\ntasks:\n  - {ARC}\n", encoding="utf-8")
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    entries = [SuiteEntry(task=ARC)]
    baseline = score("smollm2", entries, ScoreOptions(), suite="gate-e2e")
    again = score("smollm2", entries, ScoreOptions(use_cache=False), suite="gate-e2e")
    assert again.tasks[0].cached_from is None and baseline.tasks[0].metrics[0].n == 62

    same = gate_cli("--policy", str(policy), "--candidate", again.run_id, "--baseline", baseline.run_id,
                    "--json", str(tmp_path / "same.json"))

    assert same.returncode == 0, same.stderr
    result = GateResult.model_validate_json((tmp_path / "same.json").read_text(encoding="utf-8"))
    relative = result.checks[0].evidence
    assert result.checks[0].verdict == "pass"
    assert (relative.delta, relative.gains, relative.losses, relative.n) == (0.0, 0, 0, 62)

    damaged = gate_cli("--policy", str(policy), "--score", str(damaging_adapter), "--baseline", baseline.run_id,
                       "--json", str(tmp_path / "damaged.json"), "--junit", str(tmp_path / "damaged.xml"), "--quiet")

    assert damaged.returncode == 1, damaged.stderr
    result = GateResult.model_validate_json((tmp_path / "damaged.json").read_text(encoding="utf-8"))
    [check, present] = result.checks
    assert (check.verdict, present.verdict) == ("fail", "pass")
    assert check.evidence.delta < -0.15 and check.evidence.ci_high < -0.05 and check.evidence.p_value < 0.01
    assert result.candidate.spec == str(damaging_adapter)
    failures = [case.get("name") for case in ElementTree.parse(tmp_path / "damaged.xml").getroot().iter("testcase")
                if case.find("failure") is not None]
    assert failures == ["arc-no-regression"]
