"""The reproducers of the third hardening round (issue 27: limits, divergence, locale, full disks),
each kept as a test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
CONSLAW = [sys.executable, "-c", "from conslaw_cli.cli import main; main()"]
MLP = "input: 4\nlayers:\n  - linear: {out: 3}\n  - relu\n  - linear: {out: 2}\n"


def conslaw(args: list[str], cwd: Path, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    """The command as a user runs it, with `env` added to the environment; stdout as bytes."""
    return subprocess.run(CONSLAW + args, cwd=cwd, capture_output=True, timeout=timeout,
                          env=os.environ | {"PYTHONPATH": str(ROOT)} | env)


# --- environment: the locale (item 7) -----------------------------------------------------------

LOCALES = [{"LANG": "C", "LC_ALL": ""}, {"LC_ALL": "POSIX"}, {"PYTHONIOENCODING": "ascii"},
           {"PYTHONIOENCODING": "latin-1"}]


@pytest.mark.parametrize("locale", LOCALES, ids=lambda env: ",".join(f"{k}={v}" for k, v in env.items()))
def test_every_command_answers_in_any_locale(tmp_path, locale):
    (tmp_path / "net.yaml").write_text(MLP, encoding="utf-8")
    for args in (["count", "net.yaml"], ["laws", "net.yaml"], ["phi", "net.yaml", "-c", "2"], ["show", "net.yaml"],
                 ["report", "net.yaml", "-f", "latex"], ["count", "missing.yaml"]):
        run = conslaw(args, tmp_path, **locale)
        assert run.returncode == (2 if "missing.yaml" in args else 0), (args, run.stderr)
        assert b"Traceback" not in run.stderr and b"internal error" not in run.stderr, (args, run.stderr)
    if locale.get("PYTHONIOENCODING") == "ascii":  # the symbols are spelled in ASCII, not dropped
        text = conslaw(["laws", "net.yaml"], tmp_path, **locale).stdout.decode("ascii")
        assert "||linear1.weight[k]||^2 - ||linear2.weight[:,k]||^2" in text and "<=" in text


@pytest.mark.parametrize("locale", LOCALES[2:], ids=lambda env: ",".join(f"{k}={v}" for k, v in env.items()))
def test_json_is_utf8_whatever_the_locale(tmp_path, locale):
    (tmp_path / "net.yaml").write_text(MLP, encoding="utf-8")
    utf8 = conslaw(["count", "net.yaml", "--json"], tmp_path, PYTHONIOENCODING="utf-8")
    other = conslaw(["count", "net.yaml", "--json"], tmp_path, **locale)
    assert other.returncode == 0
    assert [{k: v for k, v in d.items() if k != "seconds"} for d in json.loads(other.stdout.decode("utf-8"))] == \
        [{k: v for k, v in d.items() if k != "seconds"} for d in json.loads(utf8.stdout.decode("utf-8"))]
    assert "§" in json.loads(other.stdout.decode("utf-8"))[0]["richness"]  # not spelled in ASCII


# --- environment: a full disk (item 8) ----------------------------------------------------------

@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("args", [["count", "net.yaml"], ["count", "net.yaml", "--json"], ["laws", "net.yaml"],
                                  ["report", "net.yaml", "-f", "latex"]])
def test_a_full_disk_behind_standard_output_is_a_message(tmp_path, args):
    (tmp_path / "net.yaml").write_text(MLP, encoding="utf-8")
    with open("/dev/full", "wb") as full:
        run = subprocess.run(CONSLAW + args, cwd=tmp_path, stdout=full, stderr=subprocess.PIPE, timeout=120,
                             env=os.environ | {"PYTHONPATH": str(ROOT)})
    assert run.returncode == 2
    assert run.stderr.decode().startswith("error: cannot write the output to standard output: No space left on device")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_full_disk_behind_output_names_the_file(tmp_path):
    (tmp_path / "net.yaml").write_text(MLP, encoding="utf-8")
    run = conslaw(["report", "net.yaml", "-o", "/dev/full"], tmp_path)
    assert run.returncode == 2
    assert run.stderr.decode().startswith("/dev/full:1:1: cannot write: No space left on device")


# --- tracebacks and memory before refusal (items 1-3) --------------------------------------------

def chain(layers: int, activation: str | None = None) -> str:
    step = "  - linear: {out: 2}\n" + (f"  - {activation}\n" if activation else "")
    return "input: 2\nlayers:\n" + step * layers


@pytest.mark.parametrize("args", [["phi", "net.yaml"], ["count", "net.yaml", "--flow", "sign"],
                                  ["count", "net.yaml", "--per-block"], ["report", "net.yaml", "-f", "json"]])
def test_a_5000_layer_chain_is_refused_with_its_estimate(tmp_path, args):
    # 2^5000 paths: the estimate once overflowed a float (exit 4, OverflowError)
    (tmp_path / "net.yaml").write_text(chain(5000), encoding="utf-8")
    run = conslaw(args, tmp_path, timeout=60)
    assert run.returncode == 2, run.stderr
    assert b"polynomial terms" in run.stderr or b"coupled parameters" in run.stderr


def test_phi_of_10_to_the_8_parameters_is_refused_before_any_allocation(tmp_path):
    # once 30-80 s, then a MemoryError traceback; raising --max-terms does not lift the memory limit
    (tmp_path / "net.yaml").write_text("input: 10000\nlayers:\n  - linear: {out: 10000}\n", encoding="utf-8")
    for args in (["phi", "net.yaml"], ["phi", "net.yaml", "--max-terms", "1000000000"],
                 ["count", "net.yaml", "--flow", "sign"]):
        run = conslaw(args, tmp_path, timeout=60)
        assert run.returncode == 2 and b"100,000,000 polynomial terms" in run.stderr, (args, run.stderr)
    assert b"memory limit 8 GB" in conslaw(["phi", "net.yaml", "--max-terms", "1000000000"], tmp_path).stderr


def test_the_sign_flow_is_refused_over_its_time_budget(tmp_path):
    # a 2,500-layer tanh chain has small pieces but D = 10,000: the sign flow once ran for minutes
    (tmp_path / "net.yaml").write_text(chain(2500, "tanh"), encoding="utf-8")
    run = conslaw(["count", "net.yaml", "--flow", "sign"], tmp_path, timeout=60)
    assert run.returncode == 2 and b"the sign flow needs" in run.stderr and b"budget 600 s" in run.stderr
    (tmp_path / "small.yaml").write_text(MLP, encoding="utf-8")
    assert b"budget 1e-06 s" in conslaw(["count", "small.yaml", "--flow", "sign", "--max-seconds", "1e-6"],
                                         tmp_path).stderr


def test_message_numbers_never_overflow():
    from conslaw_cli.limits import amount

    assert amount(999_999_999_999_999) == "999,999,999,999,999"
    assert amount(2**5000) == "1.41e+1505"  # no float conversion, no 1,500-digit text


# --- options without bounds, a diverged run (items 4, 5) ----------------------------------------

def test_a_diverged_run_is_a_result_with_its_figure(tmp_path):
    # --lr 1e10 once ended in exit 4 (OverflowError in the figure's axis)
    (tmp_path / "net.yaml").write_text(MLP, encoding="utf-8")
    run = conslaw(["verify", "net.yaml", "--lr", "1e10", "--lr", "1e-3", "--steps", "5", "--seeds", "2",
                   "--plot", "f.png", "--json"], tmp_path, timeout=300)
    assert run.returncode == 1, run.stderr  # a diverged run is not a pass
    result = json.loads(run.stdout.decode("utf-8"))[0]  # valid JSON: the infinite errors are null
    assert result["diverged"] and result["diverged"][0].startswith("τ = 1e+10 diverged: the values stopped being finite or ‖θ‖² grew")
    assert all(f["verdict"] == "no verdict: a run diverged (see below)" and f["passed"] is None for f in result["families"])
    assert result["families"][0]["final_error_mean"][0] is None
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"diverged" in run.stderr


@pytest.mark.parametrize("args, message", [
    (["--steps", "99999999999999999999999"], b"1<=x<=1000000"),
    (["--seeds", "99999999999999999999"], b"1<=x<=100"),
    (["--batch", "0"], b"1<=x<=1000000"),
    (["--lr", "inf"], b"positive and finite"),
    (["--lr", "nan"], b"positive and finite"),
    (["--weight-decay", "nan"], b"must be a finite number"),
    (["--max-seconds", "inf"], b"must be a finite number"),
])
def test_verify_options_are_checked_before_any_work(tmp_path, args, message):
    (tmp_path / "net.yaml").write_text(MLP, encoding="utf-8")
    run = conslaw(["verify", "net.yaml", *args], tmp_path, timeout=60)
    assert run.returncode == 2 and message in run.stderr, run.stderr


def test_verify_is_refused_over_its_time_budget(tmp_path):
    # --seeds 99999999999999999999 once ran for ever; within the ranges the product is estimated
    (tmp_path / "net.yaml").write_text(MLP, encoding="utf-8")
    run = conslaw(["verify", "net.yaml", "--steps", "1000000", "--seeds", "100"], tmp_path, timeout=60)
    assert run.returncode == 2
    assert b"training 100 seeds" in run.stderr and b"budget 600 s, 8 GB" in run.stderr


def test_the_api_checks_the_same_ranges():
    from conslaw_cli import api

    for options in ({"steps": 10**7}, {"seeds": 0}, {"learning_rates": [float("nan")]}, {"weight_decay": float("inf")},
                    {"learning_rates": [1e-3] * 21}):
        with pytest.raises(ValueError):
            api.verify(MLP_SPEC, **options)


MLP_SPEC = {"input": 4, "layers": [{"linear": {"out": 3}}, "relu", {"linear": {"out": 2}}]}
