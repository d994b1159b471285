"""``drift``: the production traffic the monitor checked lately holds a window metric within a threshold, e.g.
``drifted_columns_share <= 0.3`` or ``embedding_drift.prompt <= 0.7`` over the last checked windows.

It reads the monitor's window summaries in ``$EVALKIT_HOME`` (what ``evalkit monitor check`` stores). No checked
window, or a metric the monitor does not compute, is a :class:`GateError`: the gate fails closed.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from evalkit.errors import GateError
from evalkit.gate.checks.base import CheckBase, GateContext
from evalkit.gate.result import CheckResult, Evidence


class DriftCheck(CheckBase):
    """Every one of the last ``windows`` checked monitor windows has ``metric op value``."""

    kind: Literal["drift"] = "drift"
    metric: str = Field(description="A monitor window metric (evalkit monitor metrics), e.g. drifted_columns_share.")
    op: Literal[">=", "<="] = "<="
    value: float
    windows: int = Field(default=1, ge=1, description="How many of the latest checked windows must hold.")
    window: str | None = Field(default=None, description="Only windows of this size, e.g. 1h (default: any).")

    @field_validator("metric")
    @classmethod
    def _known(cls, metric: str) -> str:
        from monitor.catalog import require_window_metric

        return require_window_metric(metric)

    def evaluate(self, context: GateContext) -> CheckResult:
        values = _latest_values(self.metric, self.windows, self.window)
        broken = [value for _, value, _ in values if not (value >= self.value if self.op == ">=" else
                                                          value <= self.value)]
        worst = (min if self.op == ">=" else max)(value for _, value, _ in values)
        evidence = Evidence(metric=f"monitor.{self.metric}", candidate=worst, op=self.op, threshold=self.value,
                            n=sum(rows for _, _, rows in values))
        ends = ", ".join(end for end, _, _ in values)
        if broken:
            return self._result("fail", f"{len(broken)} of the last {len(values)} monitor windows have "
                                f"{self.metric} beyond {self.op} {self.value:g} (worst {worst:.4f}; windows ending "
                                f"{ends})", evidence)
        return self._result("pass", f"the last {len(values)} monitor windows hold {self.metric} {self.op} "
                            f"{self.value:g} (worst {worst:.4f})", evidence)


def _latest_values(metric: str, count: int, window: str | None) -> list[tuple[str, float, int]]:
    """``(window end, value, rows)`` of the latest ``count`` checked windows that have the metric, newest first."""
    from monitor.db import monitor_db

    query = ("SELECT w.end_ts, m.value, w.rows FROM monitor_windows w JOIN monitor_window_metrics m "
             "ON m.window_id = w.window_id WHERE w.status = 'ok' AND m.metric = ? AND m.value IS NOT NULL"
             + (" AND w.window_spec = ?" if window else "") + " ORDER BY w.end_ts DESC LIMIT ?")
    with monitor_db() as db:
        rows = db.execute(query, (metric, *([window] if window else []), count)).fetchall()
    if len(rows) < count:
        raise GateError(f"the drift check needs {count} checked monitor window(s) with {metric}, the store has "
                        f"{len(rows)}: run evalkit monitor ingest and evalkit monitor check first")
    return [(str(end), float(value), int(rows_in)) for end, value, rows_in in rows]
