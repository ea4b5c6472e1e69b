"""The README's two set-up commands are the ones CI runs."""
from conftest import REPO


def test_ci_runs_the_readme_commands():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("```sh\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert len(block) == 2 and "kaohe build" in block[0] and "pytest" in block[1]
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert block[0] in ci and block[1] in ci
