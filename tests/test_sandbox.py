"""digits.sandbox: what a sandbox is given, and what happens on a host without bubblewrap.
(What a sandboxed job's code can and cannot reach is tried for real in tests/security.)"""

import os

import pytest

from digits import sandbox
from digits.accounts import Accounts
from digits.config import Settings


@pytest.fixture
def no_bubblewrap(monkeypatch, tmp_path):
    """A host where `bwrap` is not on the PATH."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    sandbox.unavailable_reason.cache_clear()
    yield
    monkeypatch.undo()
    sandbox.unavailable_reason.cache_clear()


def test_without_bubblewrap_user_code_runs_only_where_nobody_shares_the_server(
    no_bubblewrap, tmp_path
):
    settings = Settings(jobs_dir=tmp_path / "jobs")
    assert "bubblewrap is not installed" in sandbox.unavailable_reason()
    command, env = sandbox.confine(["run"], {"A": "1"}, sandbox.Confinement(), settings)
    assert (command, env) == (["run"], {"A": "1"})  # no accounts: as before, said at start
    Accounts(settings.jobs_dir).add("ann", "ann's password")
    with pytest.raises(sandbox.NoSandbox, match="DIGITS_ALLOW_UNSANDBOXED_CODE"):
        sandbox.confine(["run"], {}, sandbox.Confinement(), settings)
    allowed = settings.with_changes(allow_unsandboxed_code=True)
    assert sandbox.confine(["run"], {}, sandbox.Confinement(), allowed)[0] == ["run"]
    ours = sandbox.confine(["run"], {}, sandbox.Confinement(), settings, user_code=False)
    assert ours[0] == ["run"]  # our own code runs either way


@pytest.mark.skipif(not sandbox.available(), reason="needs bubblewrap")
def test_a_folder_that_is_a_link_is_never_given_to_a_sandbox(tmp_path):
    (tmp_path / "jobs" / "job").mkdir(parents=True)
    os.symlink(tmp_path / "jobs", tmp_path / "jobs" / "job" / "exports")
    planted = sandbox.Confinement(writable=(tmp_path / "jobs" / "job" / "exports",))
    with pytest.raises(sandbox.UnsafeMount):
        sandbox.wrap(["true"], planted)
    real = sandbox.Confinement(writable=(tmp_path / "jobs" / "job",))
    assert str(tmp_path / "jobs" / "job") in sandbox.wrap(["true"], real)
