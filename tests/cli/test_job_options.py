"""JobOptions is the one definition of the options clone and edit share (and batch lines fill in)."""
from __future__ import annotations

from dataclasses import fields

import pytest
import typer.main

from stepaudio_cli.app import app
from stepaudio_cli.job_options import JobOptions, with_job_options


def _params(name: str) -> dict[str, object]:
    group = typer.main.get_command(app)
    return {p.name: p for p in group.commands[name].params}


@pytest.mark.parametrize("command", ["clone", "edit"])
def test_every_job_option_is_on_the_command(command: str) -> None:
    params = _params(command)
    for f in fields(JobOptions):
        assert set(params[f.name].opts) == set(f.metadata["option"].param_decls)
    assert list(params)[-1] == "json_out"  # --json stays last


def test_a_command_must_take_opts() -> None:
    def bare(ctx: typer.Context) -> None:
        pass

    with pytest.raises(TypeError, match="opts: JobOptions"):
        with_job_options(bare)


def test_the_command_gets_one_job_options_value() -> None:
    seen: list[JobOptions] = []

    @with_job_options
    def cmd(name: str = typer.Argument(...), opts: JobOptions = JobOptions()) -> None:
        seen.append(opts)

    probe = typer.Typer()
    probe.command()(cmd)
    probe.command("other")(lambda: None)
    from typer.testing import CliRunner

    result = CliRunner().invoke(probe, ["cmd", "x", "-o", "out.wav", "--seed", "7", "--candidates", "3", "-f"])
    assert result.exit_code == 0, result.output
    assert seen == [JobOptions(output="out.wav", seed=7, candidates=3, force=True)]
