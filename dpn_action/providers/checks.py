"""What `dpn doctor` reports: one `Check` per thing it looked at.

The checks that talk to a cloud live with that cloud's provider (`aws.diagnose`,
`databricks.diagnose`); the rest, and the order they run in, in `dpn_action.doctor`. This
module imports nothing heavy, so both sides can share the record.
"""

from __future__ import annotations

from dataclasses import dataclass

OK = "ok"
FAIL = "fail"
SKIP = "skip"


@dataclass(frozen=True, slots=True)
class Check:
    """One thing `dpn doctor` looked at: its name (`aws credentials`), `ok`, `fail` or
    `skip`, what it found or why it was skipped, and, on failure, how to fix it."""

    name: str
    status: str
    detail: str
    hint: str = ""

    @property
    def failed(self) -> bool:
        return self.status == FAIL

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "hint": self.hint}
