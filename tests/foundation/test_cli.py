"""The command line through a real subprocess: version, help, user errors."""

from __future__ import annotations

import subprocess
import sys

import trialkit


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "trialkit", *args], capture_output=True, text=True, timeout=300
    )


def test_version():
    out = run("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"trialkit {trialkit.__version__}"


def test_no_command_prints_help_and_fails():
    out = run()
    assert out.returncode == 1
    assert "demo" in out.stdout


def test_unknown_command_is_a_usage_error():
    out = run("frobnicate")
    assert out.returncode == 2
    assert "invalid choice" in out.stderr


def test_lazy_public_namespace():
    import trialkit as tk

    assert tk.errors.DataError is tk.DataError
    assert "randomise" in dir(tk) and "follow_up" in dir(tk)
    try:
        tk.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("unknown attribute did not raise")


def test_backend_option_configures_executor(monkeypatch):
    from trialkit import _parallel, cli

    seen = {}

    def fake(args):
        seen.update(_parallel.get_config())
        return 0

    parser = cli.build_parser()
    args = parser.parse_args(["--backend", "joblib", "--n-jobs", "2", "demo"])
    monkeypatch.setattr(args, "func", fake, raising=False)
    monkeypatch.setattr(cli.argparse.ArgumentParser, "parse_args", lambda self, argv=None: args)
    try:
        assert cli.main([]) == 0
    finally:
        _parallel.configure()
    assert seen == {"backend": "joblib", "n_jobs": 2, "scheduler": None}
    bad = run("--backend", "spark", "demo")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
