"""Ctrl-C while the ``syncline`` command is still starting (most of a second of imports) ends
with one line and status 130, not a traceback from inside an import. The signal is sent by the
process itself at the moment it starts importing Typer (a ``sitecustomize`` import hook), so the
test does not depend on how fast the machine imports."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

HOOK = '''
import os, signal, sys

class _CtrlCOnImport:
    def find_spec(self, name, path=None, target=None):
        if name == {name!r}:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, _CtrlCOnImport())
'''


def test_the_console_script_is_the_guarded_entry() -> None:
    (script,) = entry_points(group="console_scripts", name="syncline")
    assert script.value == "syncline.entry:main"


@pytest.mark.parametrize("module", ["typer", "pyarrow"])
def test_ctrl_c_during_startup_prints_one_line(tmp_path: Path, module: str) -> None:
    script = Path(sys.executable).parent / "syncline"
    assert script.exists(), f"no console script beside {sys.executable}: install the project (make venv)"
    (tmp_path / "sitecustomize.py").write_text(HOOK.format(name=module))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([str(script), "--help"], capture_output=True, text=True, env=env, timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 130 and proc.stderr.strip() == "interrupted", (proc.returncode, proc.stderr)
    assert proc.stdout == ""  # interrupted before any help was printed
