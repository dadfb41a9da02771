"""Ctrl-C while the ``syncline`` command is still starting (most of a second of imports) ends
with one line and status 130, not a traceback from inside an import."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


@pytest.mark.parametrize("delay", [0.15, 0.4])
def test_ctrl_c_during_startup_prints_one_line(delay: float) -> None:
    script = Path(sys.executable).parent / "syncline"
    proc = subprocess.Popen([str(script), "--help"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    assert proc.poll() is None, "the command finished before the signal: its startup is faster than this test assumes"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert "Traceback" not in err, err
    assert proc.returncode == 130 and err.strip() == "interrupted", (proc.returncode, err)
