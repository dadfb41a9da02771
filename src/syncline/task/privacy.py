"""The cross-modal inference register: which combinations of signals could reveal something
about a person that no single one does, and what the team does about it.

A voice memo is a voice; a voice with a stall camera's timestamps and a phone photo's location
is a caretaker's daily whereabouts. Each entry names the signals (two or more of the task's
modalities), what they could reveal, about whom, and the mitigation. Reports show the register;
an entry without a mitigation is shown as open.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from syncline.task._base import _Strict

Reveals = Literal["identity", "health", "location", "behaviour", "membership", "other"]


class InferenceRisk(_Strict):
    signals: list[Annotated[str, Field(min_length=1)]] = Field(min_length=2)
    reveals: Reveals
    about: str = Field(min_length=1)  # whose: caretakers, visitors, animals' owners
    mitigation: str = ""  # empty: an open risk


class Privacy(_Strict):
    inferences: list[InferenceRisk] = Field(default_factory=list)

    def open_risks(self) -> list[InferenceRisk]:
        return [r for r in self.inferences if not r.mitigation.strip()]
