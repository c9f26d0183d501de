"""The CI pipeline examples: lint-clean YAML, valid against the GitHub Actions and GitLab CI
schemas, and their iotplan steps run for real (bash, as the runners do) against the emulator:
the plan step's exit-code handling, the comment body, the saved plan, and an apply of the saved
plan whose secrets never reach the log."""

import json
import os
import pathlib
import re
import shutil
import stat
import subprocess

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("IOTPLAN_BIN", str(ROOT / "target" / "debug" / "iotplan"))
EXAMPLES = ROOT / "examples"
GITHUB = EXAMPLES / ".github" / "workflows" / "iotplan.yml"
GITLAB = EXAMPLES / ".gitlab-ci.yml"
VENV_BIN = pathlib.Path(os.sys.executable).parent
LINT_CONFIG = "{extends: default, rules: {line-length: {max: 160}, document-start: disable, truthy: {check-keys: false}}}"


def test_pipelines_and_manifests_are_lint_clean():
    files = [GITHUB, GITLAB, *sorted((EXAMPLES / "products").glob("*.yaml"))]
    result = subprocess.run(
        [VENV_BIN / "yamllint", "--strict", "-d", LINT_CONFIG, *files],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path,schema", [(GITHUB, "vendor.github-workflows"), (GITLAB, "vendor.gitlab-ci")])
def test_pipelines_match_their_ci_schema(path, schema):
    result = subprocess.run(
        [VENV_BIN / "check-jsonschema", "--builtin-schema", schema, path],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture()
def emulator(tmp_path):
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        "products:\n"
        "  - key: a1MeterFleet\n"
        "  - key: a1OfficeLite\n"
        "    devices:\n"
        "      - {name: lobby-light-01, nickname: Old_name}\n"
    )
    proc = subprocess.Popen(
        [BIN, "emulator", "--listen", "127.0.0.1:0", "--qps-scale", "0", "--seed", str(seed)],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )
    match = re.search(r"(http://[0-9.]+:[0-9]+)", proc.stderr.readline())
    assert match, "emulator did not start"
    yield match.group(1)
    proc.terminate()
    proc.wait(timeout=10)


def repo_with(tmp_path, iotplan):
    """A copy of the example repo, and a PATH whose `iotplan` is `iotplan` (a path)."""
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES, repo)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "iotplan").symlink_to(iotplan)
    return repo, f"{bindir}:{os.environ['PATH']}"


def fake_iotplan(tmp_path, code):
    """An `iotplan` that prints a plan comment and exits with `code`."""
    script = tmp_path / f"fake-{code}"
    script.write_text(f"#!/bin/sh\necho '### iotplan: fake'\nexit {code}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def github_step(name):
    workflow = yaml.safe_load(GITHUB.read_text())
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if step.get("name") == name:
                return step["run"]
    raise AssertionError(f"no step {name!r}")


def run_bash(script, cwd, env):
    # GitHub runs `run:` with bash -e -o pipefail; GitLab's shell executor is equivalent.
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                          cwd=cwd, env=env, capture_output=True, text=True)


def base_env(path, endpoint, tmp_path):
    return {
        "PATH": path,
        "HOME": str(tmp_path),
        "MANIFESTS": "products/",
        "ALIBABA_CLOUD_ACCESS_KEY_ID": "iotplan-demo",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "iotplan-demo-secret",
        "ALIBABA_CLOUD_REGION_ID": "cn-shanghai",
        "IOTPLAN_ENDPOINT": endpoint,
        "GITHUB_OUTPUT": str(tmp_path / "github-output"),
        "RUNNER_TEMP": str(tmp_path),
    }


def test_github_plan_then_apply_of_the_saved_plan(tmp_path, emulator):
    repo, path = repo_with(tmp_path, BIN)
    env = base_env(path, emulator, tmp_path)

    validate = run_bash(github_step("Validate"), repo, env)
    assert validate.returncode == 0, validate.stderr
    plan = run_bash(github_step("Plan"), repo, env)
    assert plan.returncode == 0, plan.stderr
    assert "changes=true" in (tmp_path / "github-output").read_text()
    comment = (repo / "plan.md").read_text()
    assert comment.startswith("### iotplan:") and len(comment) <= 65_535
    saved = json.loads((repo / "plan.json").read_text())
    assert saved["format_version"] == 1

    apply = run_bash(github_step("Apply the saved plan"), repo, env)
    assert apply.returncode == 0, apply.stdout + apply.stderr
    secrets_file = tmp_path / "device-secrets.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    secrets = json.loads(secrets_file.read_text())["devices"]
    assert len(secrets) == 253
    log = plan.stdout + plan.stderr + apply.stdout + apply.stderr
    assert not any(entry["device_secret"] in log for entry in secrets)
    assert "iotplan-demo-secret" not in log

    # Planning again: no changes, so the step records changes=false and still succeeds.
    (tmp_path / "github-output").write_text("")
    again = run_bash(github_step("Plan"), repo, env)
    assert again.returncode == 0, again.stderr
    assert "changes=false" in (tmp_path / "github-output").read_text()


@pytest.mark.parametrize("code,succeeds,changes", [(0, True, "false"), (2, True, "true"), (1, False, None)])
def test_github_plan_step_fails_only_on_errors(tmp_path, code, succeeds, changes):
    repo, path = repo_with(tmp_path, fake_iotplan(tmp_path, code))
    env = base_env(path, "http://127.0.0.1:9", tmp_path)
    result = run_bash(github_step("Plan"), repo, env)
    assert (result.returncode == 0) == succeeds
    if changes:
        assert f"changes={changes}" in (tmp_path / "github-output").read_text()


def gitlab_plan_script():
    job = yaml.safe_load(GITLAB.read_text())["iotplan:plan"]
    return job["script"][0]


@pytest.mark.parametrize("code,succeeds", [(0, True), (2, True), (1, False)])
def test_gitlab_plan_script_fails_only_on_errors(tmp_path, code, succeeds):
    repo, path = repo_with(tmp_path, fake_iotplan(tmp_path, code))
    result = run_bash(gitlab_plan_script(), repo, base_env(path, "http://127.0.0.1:9", tmp_path))
    assert (result.returncode == 0) == succeeds


def test_gitlab_plan_script_saves_the_plan_and_its_note(tmp_path, emulator):
    repo, path = repo_with(tmp_path, BIN)
    result = run_bash(gitlab_plan_script(), repo, base_env(path, emulator, tmp_path))
    assert result.returncode == 0, result.stderr
    assert (repo / "plan.md").read_text().startswith("### iotplan:")
    assert json.loads((repo / "plan.json").read_text())["format_version"] == 1


def test_secrets_are_only_ever_written_encrypted():
    for text in (GITHUB.read_text(), GITLAB.read_text()):
        assert "--secrets-out" in text and "age --encrypt" in text and "shred --remove" in text
        assert not re.search(r"\bcat\b[^\n]*device-secrets", text)
        assert "apply --plan plan.json" in text
