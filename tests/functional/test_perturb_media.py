"""The red team's media perturbations do to real files what their names say, measured on the
decoded output: a siren adds energy around 450–950 Hz to a 3 kHz tone (which stays), rain raises the noise
floor, a low-bitrate MP3 keeps the tone and the duration, blur removes fine detail, low light
darkens, and a CRF-45 encode loses detail too."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from mediafiles import make_tone, make_video

from syncline.evaluate.perturb_media import perturb_file

pytestmark = pytest.mark.functional


def _audio(path: Path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        x = np.concatenate([f.to_ndarray().mean(axis=0) for f in c.decode(s)])
        return x.astype(np.float64), int(s.rate)


def _band(x: np.ndarray, rate: int, lo: float, hi: float) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / rate)
    return float(spec[(f >= lo) & (f < hi)].sum() / spec.sum())


def _frames(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="gray").astype(np.float64) for f in c.decode(video=0)])


def test_audio_perturbations(tmp_path: Path) -> None:
    src = make_tone(tmp_path, "tone.wav", seconds=3.0, sample_rate=16000, freq=3000.0)
    x, rate = _audio(src)
    assert _band(x, rate, 450, 950) < 1e-4
    siren = _audio(perturb_file(src, "audio", "siren", tmp_path, 16000))
    assert siren[1] == rate and abs(len(siren[0]) - len(x)) <= rate // 50
    assert _band(*siren, 450, 950) > 0.05 and _band(*siren, 2900, 3100) > 0.1  # the tone is still there
    rain = _audio(perturb_file(src, "audio", "rain", tmp_path, 16000))
    assert _band(*rain, 20, 400) > 100 * _band(x, rate, 20, 400)
    for name in ("dogs", "children", "crowd"):
        y = _audio(perturb_file(src, "audio", name, tmp_path, 16000))
        assert np.abs(y[0][: len(x)] - x[: len(y[0])]).mean() > 0.01, name  # something was mixed in
    mp3, mp3_rate = _audio(perturb_file(src, "audio", "codec", tmp_path, 16000))
    assert _band(mp3, mp3_rate, 2900, 3100) > 0.8 and abs(len(mp3) / mp3_rate - 3.0) < 0.15


def test_video_perturbations(tmp_path: Path) -> None:
    src = make_video(tmp_path, "clip.mp4", seconds=1.0, size=(320, 240), audio=False)
    x = _frames(src)

    def detail(f: np.ndarray) -> float:  # energy of neighbouring pixels' differences (blur keeps their sum)
        return float((np.diff(f, axis=2) ** 2).mean())

    blur, dark, codec = (_frames(perturb_file(src, "video", n, tmp_path)) for n in ("blur", "dark", "codec"))
    assert len(blur) == len(dark) == len(codec) == len(x)
    assert detail(blur) < 0.5 * detail(x)
    assert dark.mean() < 0.75 * x.mean()
    assert detail(codec) < detail(x)
    with pytest.raises(ValueError, match="cannot make the blur video copy"):
        perturb_file(tmp_path / "missing.mp4", "video", "blur", tmp_path)
