"""One source per fact that crosses a boundary. Where the CLI/daemon may import it, they import
stepaudio_protos.facts; the engine must not import the protocol, so it keeps copies, and this test keeps the
copies equal (folder names and file lists: tests/cli/test_models.py)."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from stepaudio_protos import facts

REPO = Path(__file__).resolve().parent.parent
OURS = ("daemon", "stepaudio_cli", "protos", "stepaudio_serve")

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def test_the_engine_plans_the_cpu_bits_the_cli_names() -> None:
    from stepaudio_engine.llm.cpu_fast import plan_for

    assert {v: plan_for(v, "auto", "auto").bits for v in facts.VARIANTS} == facts.CPU_LLM_BITS


def test_the_engine_has_the_same_variants_and_limits() -> None:
    from stepaudio_engine import checks, pipeline
    from stepaudio_engine.llm.variants import NO_BNB_REPO, VARIANTS

    from stepaudio_cli.model_files import BNB_HINT

    assert tuple(VARIANTS) == facts.VARIANTS
    assert pipeline.MAX_CANDIDATES == facts.MAX_CANDIDATES and pipeline.MAX_ITERATIONS == facts.MAX_ITERATIONS
    for check in (False, True):
        for n in range(facts.MAX_CANDIDATES + 2):
            assert checks.checks_needed(check, n) == facts.checks_needed(check, n), (check, n)
    assert BNB_HINT == NO_BNB_REPO  # "no released bnb checkpoint" is said the same way by CLI and engine


@pytest.mark.parametrize("pattern, allowed", [
    (r"^VARIANTS\s*[:=]", {"protos/stepaudio_protos/facts.py", "daemon/stepaudio_engine/llm/variants.py"}),
    (r"^MAX_CANDIDATES\s*=", {"protos/stepaudio_protos/facts.py", "daemon/stepaudio_engine/pipeline.py"}),
    (r"^MAX_ITERATIONS\s*=", {"protos/stepaudio_protos/facts.py", "daemon/stepaudio_engine/pipeline.py"}),
    (r"^__version__\s*=", set()),
])
def test_a_fact_is_assigned_in_its_source_only(pattern: str, allowed: set[str]) -> None:
    found = {str(path.relative_to(REPO)) for folder in OURS if (REPO / folder).is_dir()
             for path in (REPO / folder).rglob("*.py")
             if re.search(pattern, path.read_text(errors="replace"), re.MULTILINE)}
    assert found <= allowed, f"{pattern} is assigned again in {sorted(found - allowed)}: import it instead"


def test_the_version_is_pyprojects() -> None:
    from importlib.metadata import version

    import stepaudio_protos

    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert stepaudio_protos._installed_version() == version("stepaudio") == declared


def test_doctor_checks_the_packages_pyproject_declares() -> None:
    from stepaudio_cli import doctor

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]

    def names(reqs: list[str]) -> set[str]:
        return {re.match(r"[A-Za-z0-9._-]+", r).group(0) for r in reqs if "python_version" not in r}

    groups = doctor.declared_packages()  # from the installed metadata: stale if pyproject changed since
    assert set(groups[""]) >= names(project["dependencies"]), "reinstall: pip install -e '.[engine,cpu,test]'"
    assert set(groups["engine"]) == names(project["optional-dependencies"]["engine"])
    assert set(doctor.OPTIONAL_PACKAGES) <= set(groups[""]) | set(groups["engine"])
    torch_pin = next(r for r in project["optional-dependencies"]["engine"] if r.startswith("torch"))
    assert doctor.pinned_torch(groups) == torch_pin.split("==")[1]
