"""TensorFlow's start-up lines never reach an `emt` command's stderr (`numerics.tf_quiet`),
whatever the CPU and whether or not the user set TF_CPP_MIN_LOG_LEVEL; other lines written
during the import (an error) still do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from emt.numerics import tf_quiet

STARTUP_LINES = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796546660.150317   12266 port.cc:153] oneDNN custom operations are on. You "
    "may see slightly different numerical results due to floating-point round-off errors from "
    "different computation orders. To turn them off, set the environment variable "
    "`TF_ENABLE_ONEDNN_OPTS=0`.",
    "I0000 00:00:1796546675.712125   12668 cpu_feature_guard.cc:227] This TensorFlow binary is "
    "optimized to use available CPU instructions in performance-critical operations.",
    "To enable the following instructions: AVX2 AVX512F AVX512_VNNI AVX512_BF16 AVX512_FP16 "
    "AVX_VNNI AMX_TILE AMX_INT8 AMX_BF16 FMA, in other operations, rebuild TensorFlow with the "
    "appropriate compiler flags.",
]


def test_the_startup_lines_are_recognised_and_nothing_else() -> None:
    assert all(tf_quiet.is_startup_noise(line) for line in STARTUP_LINES)
    for line in ["E0000 00:00:1796546660.150317   12266 cuda.cc:1] failed to load", "",
                 "Traceback (most recent call last):", "emt train: error: something",
                 "WARNING: something else"]:
        assert not tf_quiet.is_startup_noise(line), line


def test_other_lines_written_during_the_import_are_shown(monkeypatch, capfd) -> None:
    def noisy_import(name):
        if name == "tensorflow":
            os.write(2, ("\n".join(STARTUP_LINES) + "\nE0000 a real error\n").encode())

    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    monkeypatch.setattr(tf_quiet.importlib, "import_module", noisy_import)
    tf_quiet.load_tensorflow()
    assert capfd.readouterr().err.splitlines() == ["E0000 a real error"]


def test_a_training_command_writes_no_foreign_line_on_stderr(tmp_path) -> None:
    """A clean environment (no TF_CPP_MIN_LOG_LEVEL): every stderr line is one of ours."""
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    env["PYTHONPATH"] = str(root)
    run = subprocess.run([sys.executable, "-m", "emt", "train", "--task", "repeat-copy-4",
                          "--steps", "2", "--hidden", "8", "--quiet", "--out",
                          str(tmp_path / "run")], env=env, capture_output=True, text=True,
                         timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    foreign = [line for line in run.stderr.splitlines() if not line.startswith("emt ")]
    assert foreign == []
