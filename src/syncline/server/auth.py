"""Who is asking: one random token per person, made when the server starts.

The owner (who ran ``syncline serve``) sees everything; each annotator of the label schema gets
their own token and sees, writes and grades only the fields ``labels.yaml`` qualifies them for:

* labels: their own, of the fields they label — and everyone's of the fields they grade (a
  labeller who saw the others' answers would no longer be an independent rater);
* model predictions and evaluations: of the fields they grade only (no anchoring on the model);
* findings: about the data, about the fields they label or grade, and about themselves;
* queues: review items of the fields they label, grading items of the fields they grade.

Tokens live in memory only — a restart makes new ones, so a leaked login
URL dies with the server. A token arrives as ``Authorization: Bearer …`` or as the cookie that
``/login?token=…`` sets (HttpOnly, SameSite=Strict); comparisons are constant-time.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field

from syncline.annotate.schema import SCHEMA_FILE, LabelSchema, load_schema
from syncline.project import Project

COOKIE = "syncline_token"
OWNER = "owner"


@dataclass(frozen=True)
class Principal:
    """A person using the app: the owner, or an annotator with their qualified fields."""

    name: str
    role: str  # owner | annotator
    tier: str | None = None
    fields: tuple[str, ...] = ()
    grades: tuple[str, ...] = ()

    @property
    def is_owner(self) -> bool:
        return self.role == OWNER

    def may_see(self, field_name: str) -> bool:
        return self.is_owner or field_name in self.fields or field_name in self.grades

    def may_see_label(self, field_name: str, annotator: str | None) -> bool:
        return self.is_owner or field_name in self.grades or (field_name in self.fields and annotator == self.name)

    def may_see_model(self, field_name: str) -> bool:
        return self.is_owner or field_name in self.grades

    def visible_fields(self) -> list[str] | None:
        """None for the owner (everything), else the fields they label or grade."""
        return None if self.is_owner else sorted(set(self.fields) | set(self.grades))


@dataclass
class Tokens:
    """token -> Principal, and the other way round for printing login URLs."""

    by_token: dict[str, Principal] = field(default_factory=dict)

    def add(self, who: Principal, token: str | None = None) -> str:
        token = token or secrets.token_urlsafe(24)
        self.by_token[token] = who
        return token

    def lookup(self, token: str | None) -> Principal | None:
        if not token:
            return None
        for known, who in self.by_token.items():  # constant time per comparison
            if hmac.compare_digest(known.encode(), token.encode()):
                return who
        return None

    def tokens_of(self) -> dict[str, str]:
        return {who.name: tok for tok, who in self.by_token.items()}


def annotators(schema: LabelSchema) -> list[Principal]:
    return [Principal(name, "annotator", a.tier, tuple(a.fields), tuple(a.grades))
            for name, a in sorted(schema.annotators.items())]


def issue_tokens(project: Project) -> Tokens:
    """A token for the owner and one per annotator of the project's label schema (if any)."""
    tokens = Tokens()
    tokens.add(Principal(OWNER, OWNER))
    path = project.root / SCHEMA_FILE
    if path.exists():
        for who in annotators(load_schema(path)):
            tokens.add(who)
    return tokens
