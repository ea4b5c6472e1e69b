"""Problems found in content, reported to content authors in Chinese.

Every problem names a file and, where there is one, a line: `path:line: 错误: what; how to fix`.
Stages collect problems in a `Report` and keep going, so an author sees every problem in one run;
`Report.raise_if_errors()` stops the pipeline before anything is written.
"""
from __future__ import annotations

from dataclasses import dataclass, field

ERROR = "错误"
WARNING = "警告"

# One message per (file, message shape) is enough for an author to find the pattern; a result file
# with 50,000 bad rows would otherwise print 50,000 lines.
MAX_SIMILAR = 20


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    line: int | None
    message: str
    level: str = ERROR

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.level}: {self.message}"


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    _similar: dict[tuple[str, str], int] = field(default_factory=dict)

    def error(self, path: str, line: int | None, message: str, *, group: str | None = None) -> None:
        self._add(Problem(path, line, message, ERROR), group)

    def warning(self, path: str, line: int | None, message: str, *, group: str | None = None) -> None:
        self._add(Problem(path, line, message, WARNING), group)

    def _add(self, problem: Problem, group: str | None) -> None:
        if group is not None:
            key = (problem.path, group)
            seen = self._similar.get(key, 0) + 1
            self._similar[key] = seen
            if seen > MAX_SIMILAR:
                return
        self.problems.append(problem)

    def extend(self, other: "Report") -> None:
        self.problems.extend(other.problems)
        for key, n in other._similar.items():
            self._similar[key] = self._similar.get(key, 0) + n

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level == WARNING]

    def suppressed(self) -> list[Problem]:
        """One summary line per group that had more problems than were listed."""
        out = []
        for (path, _group), n in sorted(self._similar.items()):
            if n > MAX_SIMILAR:
                out.append(Problem(path, None, f"同类问题另有 {n - MAX_SIMILAR} 处未逐条列出;请按上面的提示一并修改", ERROR))
        return out

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems + self.suppressed()]

    def raise_if_errors(self) -> None:
        if self.errors:
            raise ContentError(self)


class ContentError(Exception):
    """Raised when content has errors; carries the whole report. The CLI prints it without a traceback."""

    def __init__(self, report: Report):
        self.report = report
        super().__init__("\n".join(report.lines()))


def fail(path: str, line: int | None, message: str) -> ContentError:
    """A single-problem ContentError, for problems that stop a stage at once (unreadable file)."""
    report = Report()
    report.error(path, line, message)
    return ContentError(report)


class WorkerLost(RuntimeError):
    """A worker process ended without finishing its part (killed: out of memory, a signal). Not a bug in
    the content or in kaohe: the build stops, the site stays as it was, and trying again may succeed."""
