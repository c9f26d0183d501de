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
import urllib.request

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("IOTPLAN_BIN", str(ROOT / "target" / "debug" / "iotplan"))
EXAMPLES = ROOT / "examples"
GITHUB = EXAMPLES / ".github" / "workflows" / "iotplan.yml"
GITHUB_DRIFT = EXAMPLES / ".github" / "workflows" / "iotplan-drift.yml"
GITLAB = EXAMPLES / ".gitlab-ci.yml"
VENV_BIN = pathlib.Path(os.sys.executable).parent
LINT_CONFIG = "{extends: default, rules: {line-length: {max: 160}, document-start: disable, truthy: {check-keys: false}}}"


def test_pipelines_and_manifests_are_lint_clean():
    files = [GITHUB, GITHUB_DRIFT, GITLAB, *sorted((EXAMPLES / "products").glob("*.yaml"))]
    result = subprocess.run(
        [VENV_BIN / "yamllint", "--strict", "-d", LINT_CONFIG, *files],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path,schema", [
    (GITHUB, "vendor.github-workflows"),
    (GITHUB_DRIFT, "vendor.github-workflows"),
    (GITLAB, "vendor.gitlab-ci"),
])
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


def github_step(name, path=GITHUB):
    workflow = yaml.safe_load(path.read_text())
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


ROLE = "acs:ram::1234567890123456:role/iotplan-deployer"
PROVIDER = "acs:ram::1234567890123456:oidc-provider/iotplan-emulator"


def github_oidc_env(path, endpoint, tmp_path):
    """The workflows' first choice: no AccessKey; iotplan asks the job for its OIDC token (here the
    emulator's GitHub-shaped token endpoint) and exchanges it with STS (the emulator's)."""
    env = base_env(path, endpoint, tmp_path)
    del env["ALIBABA_CLOUD_ACCESS_KEY_ID"], env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"]
    env.update({
        "ALIBABA_CLOUD_ROLE_ARN": ROLE,
        "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": PROVIDER,
        "ACTIONS_ID_TOKEN_REQUEST_URL": f"{endpoint}/_emulator/oidc/token?subject=repo:org/fleet:ref:refs/heads/main",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "job-request-token",
        "ALIBABA_CLOUD_STS_ENDPOINT": endpoint,
        "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
    })
    return env


def test_github_plan_then_apply_of_the_saved_plan(tmp_path, emulator):
    repo, path = repo_with(tmp_path, BIN)
    env = github_oidc_env(path, emulator, tmp_path)

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
    assert "iotplan-demo-secret" not in log and "job-request-token" not in log

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


def fake_gh(tmp_path, open_issue):
    """A `gh` that records its arguments and answers `issue list` with `open_issue`."""
    script = tmp_path / "gh"
    script.write_text(
        "#!/bin/sh\n"
        f"echo \"$*\" >> {tmp_path}/gh.log\n"
        f"if [ \"$1 $2\" = 'issue list' ]; then echo '{open_issue}'; fi\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def drift_then_issue(repo, path, env, tmp_path, open_issue):
    (tmp_path / "github-output").write_text("")
    drift = run_bash(github_step("Drift", GITHUB_DRIFT), repo, env)
    code = re.search(r"code=(\d)", (tmp_path / "github-output").read_text()).group(1)
    (tmp_path / "bin" / "gh").unlink(missing_ok=True)
    (tmp_path / "bin" / "gh").symlink_to(fake_gh(tmp_path, open_issue))
    (tmp_path / "gh.log").write_text("")
    issue = run_bash(github_step("Open, update or close the drift issue", GITHUB_DRIFT), repo, {**env, "CODE": code})
    return drift, code, issue, (tmp_path / "gh.log").read_text()


def test_github_drift_opens_updates_and_closes_one_issue(tmp_path, emulator):
    repo, path = repo_with(tmp_path, BIN)
    env = github_oidc_env(path, emulator, tmp_path)
    # Nothing applied yet: every declared device is missing.
    drift, code, issue, gh = drift_then_issue(repo, path, env, tmp_path, "")
    assert drift.returncode == 0 and code == "2", drift.stderr
    assert (repo / "drift.md").read_text().startswith("<!-- iotplan-drift -->\n### iotplan drift: drift found")
    assert issue.returncode == 0, issue.stderr
    assert gh.splitlines()[-1].startswith("issue create --title iotplan: drift") and "--body-file drift.md" in gh
    # Still drifting, the issue is open: it is updated.
    _, code, issue, gh = drift_then_issue(repo, path, env, tmp_path, "12")
    assert code == "2" and gh.splitlines()[-1] == "issue edit 12 --body-file drift.md", gh
    # Applied: in sync, and the open issue is closed.
    applied = run_bash('iotplan apply "$MANIFESTS" --auto-approve', repo, env)
    assert applied.returncode == 0, applied.stderr
    _, code, issue, gh = drift_then_issue(repo, path, env, tmp_path, "12")
    assert code == "0" and gh.splitlines()[-1].startswith("issue close 12"), gh
    # In sync with no open issue: nothing to do.
    _, code, issue, gh = drift_then_issue(repo, path, env, tmp_path, "")
    assert code == "0" and gh.splitlines() == ["issue list --state open --search iotplan-drift in:body --json number,body --jq "
                                              '[.[] | select(.body | startswith("<!-- iotplan-drift -->"))][0].number // empty'], gh


def test_github_drift_fails_when_it_cannot_sign_in(tmp_path, emulator):
    repo, path = repo_with(tmp_path, BIN)
    env = github_oidc_env(path, emulator, tmp_path)
    env["ALIBABA_CLOUD_ROLE_ARN"] = "acs:ram::1234567890123456:role/nobody"
    drift = run_bash(github_step("Drift", GITHUB_DRIFT), repo, env)
    assert drift.returncode == 1
    assert "EntityNotExist.Role" in drift.stderr


def test_gitlab_drift_reads_the_job_id_token(tmp_path, emulator):
    repo, path = repo_with(tmp_path, BIN)
    env = base_env(path, emulator, tmp_path)
    del env["ALIBABA_CLOUD_ACCESS_KEY_ID"], env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"]
    request = urllib.request.Request(f"{emulator}/_emulator/oidc/token?subject=project_path:org/fleet:ref_type:branch:ref:main",
                                     headers={"Authorization": "Bearer runner"})
    with urllib.request.urlopen(request, timeout=5) as answer:
        id_token = json.load(answer)["value"]
    env.update({
        "IOTPLAN_OIDC_TOKEN": id_token,
        "CI_BUILDS_DIR": str(tmp_path),
        "ALIBABA_CLOUD_ROLE_ARN": ROLE,
        "ALIBABA_CLOUD_OIDC_PROVIDER_ARN": PROVIDER,
        "ALIBABA_CLOUD_STS_ENDPOINT": emulator,
        "ALIBABA_CLOUD_ECS_METADATA_DISABLED": "true",
    })
    config = yaml.safe_load(GITLAB.read_text())
    token_step = config["default"]["before_script"][-1]
    drift_step = config["iotplan:drift"]["script"][0]
    result = run_bash(token_step + "\n" + drift_step, repo, env)
    assert result.returncode == 0, result.stderr
    assert (repo / "drift.code").read_text().strip() == "2"
    assert (repo / "drift.md").read_text().startswith("<!-- iotplan-drift -->")
    assert id_token not in result.stdout + result.stderr
