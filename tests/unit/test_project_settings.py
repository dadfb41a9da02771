"""A broken ``syncline.yaml`` is refused with every problem, each with its key (as task.yaml's
are), not a pydantic dump cut after its first lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncline.project import Project, ProjectError, init_project


def test_every_settings_problem_is_named_with_its_key(tmp_path: Path) -> None:
    p = init_project(tmp_path / "p")
    settings = p.root / "syncline.yaml"
    good = settings.read_text(encoding="utf-8")
    settings.write_text(good.replace("workers: ", "workers: -3\nold_workers: ") + "copy_media: maybe\nbogus: 1\n",
                        encoding="utf-8")
    with pytest.raises(ProjectError) as info:
        Project.open(p.root)
    lines = str(info.value).splitlines()
    assert lines[0] == "invalid settings:" and len(lines) == 5, lines
    text = "\n".join(lines)
    assert "workers: must be >= 1; got -3" in text
    assert "copy_media: Input should be a valid boolean" in text and "'maybe'" in text
    assert "unknown key 'bogus'; allowed: name, copy_media" in text and "unknown key 'old_workers'" in text
    settings.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ProjectError, match="not valid YAML"):
        Project.open(p.root)
