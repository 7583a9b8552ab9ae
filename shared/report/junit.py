"""JUnit XML for CI test-result publishers (Azure Pipelines ``PublishTestResults@2`` with
``testResultsFormat: JUnit``, GitHub actions that read JUnit such as ``dorny/test-reporter``).

Each target is a ``<testsuite>`` (named ``cluster -> vault``), each check a ``<testcase>``
(``classname`` the check's family, ``name`` the check id). ``fail`` and ``unknown`` are
``<failure>`` elements whose text is the detail and the fix; ``warn`` passes with the detail in
``<system-out>``; ``not-applicable`` is ``<skipped>``. The document validates against the
Jenkins/Ant JUnit schema (``tests/cli/junit-10.xsd``). Written one suite at a time: memory
stays flat on big estates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO
from xml.sax.saxutils import escape, quoteattr

from shared import catalog, ids
from shared.model import Finding, Status
from shared.verification import Verification


def _clean(text: str) -> str:
    """XML 1.0 forbids most control characters even escaped; drop them."""
    return "".join(ch for ch in text if ch in "\t\n\r" or ord(ch) >= 0x20)


def _family(check_id: str) -> str:
    spec = catalog.CHECKS.get(check_id)
    return spec.family if spec else check_id.split(".", 1)[0]


def _body(f: Finding) -> str:
    lines = [f.detail]
    if f.fix is not None:
        lines += [f"fix: {f.fix.summary}"] if f.fix.summary else []
        lines += [f.fix.command] if f.fix.command else []
        lines += [f.fix.doc] if f.fix.doc else []
    return escape(_clean("\n".join(lines)))


class JunitWriter:
    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        stream.write('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="aks-backup-guard">\n')

    def add(self, v: Verification) -> None:
        findings = v.findings
        failures = sum(1 for f in findings if f.status in (Status.FAIL, Status.UNKNOWN))
        skipped = sum(1 for f in findings if f.status is Status.NOT_APPLICABLE)
        name = f"{ids.name_of(v.target.cluster_id)} -> {ids.name_of(v.target.vault_id)} ({v.target.kind})"
        out = [
            f'  <testsuite name={quoteattr(_clean(name))} tests="{len(findings)}" failures="{failures}" '
            f'errors="0" skipped="{skipped}" time="0" package={quoteattr(_clean(v.target.cluster_id))}>',
            "    <properties>",
            f'      <property name="cluster_id" value={quoteattr(_clean(v.target.cluster_id))}/>',
            f'      <property name="vault_id" value={quoteattr(_clean(v.target.vault_id))}/>',
            f'      <property name="kind" value="{v.target.kind}"/>',
            "    </properties>",
        ]
        for f in findings:
            family = quoteattr("aks-backup-guard." + _family(f.check))
            case = f'    <testcase classname={family} name={quoteattr(f.check)} time="0"'
            if f.status in (Status.FAIL, Status.UNKNOWN):
                message = quoteattr(_clean(f"{f.status}: {f.detail}")[:500])
                failure = f'<failure type="{f.status}" message={message}>{_body(f)}</failure>'
                out.append(f"{case}>\n      {failure}\n    </testcase>")
            elif f.status is Status.NOT_APPLICABLE:
                out.append(
                    f"{case}>\n      <skipped message={quoteattr(_clean(f.detail)[:500])}/>\n    </testcase>"
                )
            elif f.status is Status.WARN:
                out.append(f"{case}>\n      <system-out>warn: {_body(f)}</system-out>\n    </testcase>")
            else:
                out.append(f"{case}/>")
        out.append("  </testsuite>\n")
        self.stream.write("\n".join(out))

    def close(self, summary: dict[str, int], problems: Sequence[str]) -> None:
        if problems:
            cases = "\n".join(
                f'    <testcase classname="aks-backup-guard.discovery" name="listing {i + 1}" time="0">\n'
                f'      <failure type="unknown" message={quoteattr(_clean(p)[:500])}>'
                f"{escape(_clean(p))}</failure>\n    </testcase>"
                for i, p in enumerate(problems)
            )
            self.stream.write(
                f'  <testsuite name="discovery" tests="{len(problems)}" failures="{len(problems)}" '
                f'errors="0" skipped="0" time="0">\n{cases}\n  </testsuite>\n'
            )
        self.stream.write("</testsuites>\n")
