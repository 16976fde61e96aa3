"""The demo's second act: people work in Jira and in Caspio, and both sides follow.

A triage lead moves issues through the workflow, changes a priority and comments in
Jira; a support agent comments on a record and changes another record's status in
Caspio. The act then reads both sides through their APIs and checks that each
change arrived once, and that nothing echoed back and forth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import click
import httpx

if TYPE_CHECKING:
    from caspira.demo import Stack

__all__ = ["WayBack"]

#: The person acting in Jira; the emulator signs people in with "<local part>-token".
TRIAGE_LEAD = ("priya.nair@example.com", "priya.nair-token")
TRIAGE_NAME = "Priya Nair"
JIRA_COMMENT = "Reproduced on an iPad Air; the fix ships in 4.1.1."
CASPIO_COMMENT = "Customer confirms it also happens on Android."
CASPIO_AUTHOR = "Sam Okafor"
#: The emulator's workflow: To Do -(21)-> In Progress -(31, needs resolution)-> Done.
START, FINISH = "21", "31"


@dataclass
class WayBack:
    """Plays the second act on the first five records of a settled demo."""

    stack: Stack
    keys: dict[str, str]
    lines: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    async def run(self, timeout: float) -> None:
        records = sorted(self.keys, key=int)[:5]
        if len(records) < 5:
            click.echo("(the way back needs five records; skipped)")
            return
        done, started, reprioritised, commented_in_caspio, moved_in_caspio = records
        self.plan = {
            done: ("Resolved", "Done"),
            started: ("Triaged", "In Progress"),
            reprioritised: ("New", "To Do"),
            commented_in_caspio: ("New", "To Do"),
            moved_in_caspio: ("Triaged", "In Progress"),
        }
        self.jira_comment_on = {done, started}
        self.caspio_comment_on = commented_in_caspio
        self.reprioritised = reprioritised

        click.echo("")
        click.echo("The way back: people work in Jira and in Caspio ...")
        async with httpx.AsyncClient(
            base_url=self.stack.endpoints.jira, auth=TRIAGE_LEAD, timeout=30
        ) as person:
            for record in (done, started):
                await self._transition(person, self.keys[record], START)
            await self._transition(
                person, self.keys[done], FINISH, {"resolution": {"name": "Fixed"}}
            )
            for record in self.jira_comment_on:
                await _ok(
                    person.post(
                        f"/rest/api/3/issue/{self.keys[record]}/comment",
                        json={"body": _adf(JIRA_COMMENT)},
                    )
                )
            await _ok(
                person.put(
                    f"/rest/api/3/issue/{self.keys[reprioritised]}",
                    json={"fields": {"priority": {"name": "Low"}}},
                )
            )
        caspio = self.stack.caspio
        await _ok(
            caspio.post(
                "/integrations/rest/v3/tables/BugComments/records",
                json={
                    "RecordID": int(commented_in_caspio),
                    "Body": CASPIO_COMMENT,
                    "Author": CASPIO_AUTHOR,
                },
            )
        )
        await _ok(
            caspio.put(
                "/integrations/rest/v3/tables/BugReports/records",
                params={"q.where": f"PK_ID={moved_in_caspio}"},
                json={"Status": "Triaged"},
            )
        )

        with anyio.move_on_after(timeout):
            while not await self._arrived():
                await anyio.sleep(0.25)
        await self._idle()
        await self._check()

    async def _transition(
        self,
        person: httpx.AsyncClient,
        key: str,
        transition: str,
        fields: dict[str, Any] | None = None,
    ) -> None:
        body: dict[str, Any] = {"transition": {"id": transition}}
        if fields:
            body["fields"] = fields
        await _ok(person.post(f"/rest/api/3/issue/{key}/transitions", json=body))

    async def _state(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        rows = await self.stack.records()
        comments = await _ok(
            self.stack.caspio.get(
                "/integrations/rest/v3/tables/BugComments/records",
                params={"q.pageSize": 1000},
            )
        )
        return rows, comments.json()["Result"]

    async def _arrived(self) -> bool:
        rows, comments = await self._state()
        statuses_ok = all(
            rows[record]["Status"] == status
            for record, (status, _) in self.plan.items()
        )
        copied = {str(c["RecordID"]) for c in comments} >= self.jira_comment_on
        return statuses_ok and copied and rows[self.reprioritised]["Severity"] == "Low"

    async def _idle(self) -> None:
        # Anything still bouncing between the two sides would keep the inbox busy.
        with anyio.move_on_after(10):
            quiet = 0
            while quiet < 8:
                counts = await anyio.to_thread.run_sync(self.stack.engine.store.counts)
                busy = counts["pending"] + counts["in_progress"]
                quiet = quiet + 1 if busy == 0 else 0
                await anyio.sleep(0.25)

    async def _check(self) -> None:
        rows, comments = await self._state()
        jira = self.stack.jira
        for record, (status, jira_status) in self.plan.items():
            key = self.keys[record]
            issue = (await jira.get(f"/rest/api/3/issue/{key}")).json()
            listed = (await jira.get(f"/rest/api/3/issue/{key}/comment")).json()
            in_jira = issue["fields"]["status"]["name"]
            in_caspio = rows[record]["Status"]
            copies = [c for c in comments if str(c["RecordID"]) == record]
            verdict = "ok"
            if in_caspio != status or in_jira != jira_status:
                self.problems.append(
                    f"record {record}: Caspio says {in_caspio!r} (wanted {status!r}), "
                    f"Jira says {in_jira!r} (wanted {jira_status!r})"
                )
                verdict = "FAIL"
            wanted_rows = 1 if record in self.jira_comment_on else 0
            wanted_rows += 1 if record == self.caspio_comment_on else 0
            wanted_jira = 1 if record in self.jira_comment_on else 0
            wanted_jira += 1 if record == self.caspio_comment_on else 0
            if len(copies) != wanted_rows or listed["total"] != wanted_jira:
                self.problems.append(
                    f"record {record}: {len(copies)} Caspio comment rows (wanted "
                    f"{wanted_rows}), {listed['total']} Jira comments (wanted "
                    f"{wanted_jira})"
                )
                verdict = "FAIL"
            if record == self.caspio_comment_on and not any(
                f"{CASPIO_AUTHOR} wrote in Caspio" in str(c["body"])
                for c in listed["comments"]
            ):
                self.problems.append(
                    f"record {record}: the Caspio comment is not in Jira"
                )
                verdict = "FAIL"
            if record in self.jira_comment_on and not any(
                c.get("Body") == JIRA_COMMENT and c.get("Author") == TRIAGE_NAME
                for c in copies
            ):
                self.problems.append(
                    f"record {record}: the Jira comment is not in Caspio"
                )
                verdict = "FAIL"
            self.lines.append(
                (
                    record,
                    self.keys[record],
                    in_jira,
                    in_caspio,
                    f"{len(copies)} {verdict}",
                )
            )
        if rows[self.reprioritised]["Severity"] != "Low":
            self.problems.append(
                f"record {self.reprioritised}: Severity is "
                f"{rows[self.reprioritised]['Severity']!r}, wanted 'Low' from Jira"
            )

    def report(self) -> None:
        if not self.lines:
            return
        click.echo("")
        click.echo(
            f"{'record':>6}  {'issue':<8} {'in Jira':<12} {'in Caspio':<10} "
            "comments (Caspio/Jira)  check"
        )
        for record, key, in_jira, in_caspio, tail in self.lines:
            click.echo(
                f"{record:>6}  {key:<8} {in_jira:<12} {in_caspio:<10} {tail:>31}"
            )


async def _ok(request: Any) -> httpx.Response:
    from caspira.demo import _ok as check

    response = await request
    check(response)
    return response


def _adf(text: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }
