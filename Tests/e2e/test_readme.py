"""The README documents every environment variable the code reads (README is the only
place an operator looks)."""
import pathlib
import re

REPO = pathlib.Path(__file__).resolve().parents[2]


def variables_read_by(path, pattern):
    return set(re.findall(pattern, (REPO / path).read_text()))


def test_every_worker_variable_is_documented():
    readme = (REPO / "README.md").read_text()
    read = variables_read_by("Sources/OpsConfig/Config.swift", r'"(OPS_[A-Z0-9_]+)"')
    assert read, "found no OPS_ variables in Config.swift: the pattern is out of date"
    missing = sorted(v for v in read if f"`{v}`" not in readme)
    assert not missing, f"README.md does not document {missing}"


def test_every_run_env_key_is_documented():
    # The run.env that the running stack actually wrote, not a guess from the script.
    import os
    run_env = pathlib.Path(os.environ["OPS_STATE"]) / "run.env"
    keys = [line.split("=", 1)[0] for line in run_env.read_text().splitlines()
            if line and not line.startswith("#") and "=" in line]
    assert "OPS_URL" in keys, f"{run_env} has no OPS_URL: {keys}"
    readme = (REPO / "README.md").read_text()
    missing = sorted(k for k in keys if f"`{k}`" not in readme)
    assert not missing, f"README.md does not mention the run.env keys {missing}"
