"""The Hugging Face Space: README.md's front matter configures it, ``deploy_space.sh`` stages and uploads it.

The upload itself needs the Hub, which can't be reached here: these tests check what would be uploaded
and that a Space could install it (the Python version that every pinned package accepts)."""

import importlib.metadata
import re
import subprocess

import pytest
from conftest import ROOT
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from mmsent.faces import DETECTOR_PACKAGE


def front_matter(readme: str) -> dict[str, str]:
    block = re.match(r"---\n(.*?)\n---\n", readme, re.S)
    assert block, "README.md must open with the Space's front matter"
    return {k.strip(): v.strip().strip('"') for k, v in (line.split(":", 1) for line in block[1].splitlines())}


def pins(requirements: str) -> dict[str, str]:
    out = {}
    for line in requirements.splitlines():
        line = line.split("#")[0].strip()
        if line:
            req = Requirement(line)
            out[req.name] = str(req.specifier).removeprefix("==")
    return out


def test_the_space_runs_a_python_and_gradio_that_every_pinned_package_accepts():
    space = front_matter((ROOT / "README.md").read_text())
    python = Version(space.get("python_version", "3.10"))  # without it, a Space runs its default (3.10 or older)
    pinned = pins((ROOT / "requirements.txt").read_text())
    refused = {}
    for name, version in pinned.items():
        meta = importlib.metadata.metadata(name)
        assert meta["Version"] == version, f"{name}: {meta['Version']} installed, {version} pinned"
        floor = meta["Requires-Python"]
        if floor and python not in SpecifierSet(floor):
            refused[name] = floor
    assert not refused, f"python_version {python} is refused by {refused}"
    assert space["sdk_version"] == pinned["gradio"]
    assert space["app_file"] == "app.py" and space["sdk"] == "gradio"
    # the Space ships the default model, whose weights carry their training data's terms (non-commercial): not MIT
    assert space["license"] == "other" and (ROOT / space["license_link"]).is_file()


def test_the_staged_space_is_the_committed_tree_with_the_face_detector(tmp_path):
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: deploy_space.sh stages the committed files")
    stage = tmp_path / "space"  # given as a relative path, from where the script runs (it was the repository's)
    subprocess.run(["bash", str(ROOT / "deploy_space.sh"), "--stage", "space"], cwd=tmp_path, check=True, timeout=120)
    committed = subprocess.run(["git", "ls-tree", "-r", "-z", "--name-only", "HEAD"], cwd=ROOT, check=True,
                               capture_output=True, text=True).stdout.split("\0")[:-1]
    assert sorted(p.relative_to(stage).as_posix() for p in stage.rglob("*") if p.is_file()) == sorted(committed)
    head_requirements = subprocess.run(["git", "show", "HEAD:requirements.txt"], cwd=ROOT, check=True,
                                       capture_output=True, text=True).stdout
    # the Space's requirements: the committed pins, and the detector's package that setup.sh adds --no-deps
    assert pins((stage / "requirements.txt").read_text()) == pins(head_requirements) | pins(DETECTOR_PACKAGE)
    assert (stage / "checkpoints" / "default" / "model.safetensors").stat().st_size > 1_000_000
