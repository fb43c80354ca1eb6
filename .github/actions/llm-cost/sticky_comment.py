"""Post or update the ONE sticky llm-cost diff comment on the pull request of this workflow run.

    GITHUB_TOKEN=... python sticky_comment.py COMMENT.md

The comment is the file's markdown, whose first line is the marker `<!-- llm-cost-diff -->`. The pull request's
comments are read page by page (`GET /repos/{repo}/issues/{number}/comments`); the first one by COMMENT_AUTHOR
(default github-actions[bot]) whose body starts with the marker is updated (PATCH), else a new one is posted.

Everything comes from the environment the runner sets: GITHUB_REPOSITORY, GITHUB_EVENT_PATH (the pull request's
number), GITHUB_EVENT_NAME, GITHUB_API_URL, GITHUB_OUTPUT (the `comment-url` output). The token is read from the
environment only, sent only to GITHUB_API_URL in an Authorization header that is never forwarded on a redirect,
and never printed. A pull_request run from a fork gets a read-only token: it is skipped with a warning. Standard
library only, so any Python 3 runs it. Exit 0 on success or a skip, 1 on an error (one `::error::` line).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

MARKER = "<!-- llm-cost-diff -->"
DEFAULT_AUTHOR = "github-actions[bot]"
DEFAULT_API = "https://api.github.com"
PER_PAGE = 100
MAX_PAGES = 300  # 30,000 comments: far past any pull request, and never an endless loop
MAX_BODY = 65_536  # GitHub's limit for a comment body, in characters
TIMEOUT = 30  # seconds per request
REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


class Failure(Exception):
    """A one-line reason the comment could not be written."""


def _one_line(text: str) -> str:
    """Workflow-command data escaping: a message cannot end its line or start another command."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _no_redirects() -> urllib.request.OpenerDirector:
    """An opener that refuses redirects: the API answers in place, and a redirect could lead the token away."""

    class Refuse(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    return urllib.request.build_opener(Refuse)


class GitHub:
    """The few REST calls the sticky comment needs."""

    def __init__(self, api: str, token: str) -> None:
        parsed = urllib.parse.urlsplit(api)
        if parsed.scheme != "https" and not (parsed.scheme == "http" and parsed.hostname in LOCAL_HOSTS):
            raise Failure(f"GITHUB_API_URL must be an https:// URL, not {api!r}")
        self.api = api.rstrip("/")
        self._token = token
        self._opener = _no_redirects()

    def call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        """One request; the decoded JSON answer, or a Failure naming the call and GitHub's message."""
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        request = urllib.request.Request(self.api + path, data=data, method=method)
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("X-GitHub-Api-Version", "2022-11-28")
        request.add_header("User-Agent", "llm-cost-action")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        request.add_unredirected_header("Authorization", f"Bearer {self._token}")
        try:
            with self._opener.open(request, timeout=TIMEOUT) as response:
                body = response.read()
        except urllib.error.HTTPError as error:
            where = path.split("?")[0]
            raise Failure(f"{method} {where}: HTTP {error.code} {_message(error)}{_hint(error.code)}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise Failure(f"{method} {path.split('?')[0]}: {type(error).__name__}: {reason}") from None
        return json.loads(body) if body else None


def _message(error: urllib.error.HTTPError) -> str:
    """GitHub's own `message`, else the reason phrase."""
    try:
        found = json.loads(error.read() or b"{}").get("message")
    except (ValueError, AttributeError, OSError):
        found = None
    return str(found or error.reason)


def _hint(status: int) -> str:
    if status in (401, 403, 404):
        return (
            " (the job needs `permissions: pull-requests: write`, and a pull request from a fork gets a read-only "
            "token)"
        )
    return ""


def find_comment(github: GitHub, repository: str, number: int, author: str) -> dict[str, Any] | None:
    """The first comment of the pull request by `author` whose body starts with the marker."""
    for page in range(1, MAX_PAGES + 1):
        path = f"/repos/{repository}/issues/{number}/comments?per_page={PER_PAGE}&page={page}"
        comments = github.call("GET", path)
        if not isinstance(comments, list):
            raise Failure(f"GET /repos/{repository}/issues/{number}/comments: expected a list of comments")
        for comment in comments:
            body = str(comment.get("body") or "")
            login = (comment.get("user") or {}).get("login")
            if login == author and body.splitlines()[:1] == [MARKER]:
                return dict(comment)
        if len(comments) < PER_PAGE:
            return None
    raise Failure(f"the pull request has more than {MAX_PAGES * PER_PAGE} comments; not searching further")


def fit(body: str) -> str:
    """The body cut to GitHub's limit, at a line, with a note (the step summary keeps the whole comparison)."""
    if len(body) <= MAX_BODY:
        return body
    note = "\n\n_The comparison is too long for a comment; the job's step summary has all of it._\n"
    cut = body[: MAX_BODY - len(note)]
    return cut[: cut.rfind("\n")] + note


def pull_request(event_path: str) -> tuple[int, dict[str, Any]]:
    """The pull request's number and object from the event payload."""
    try:
        event = json.loads(Path(event_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise Failure(f"cannot read the event payload GITHUB_EVENT_PATH: {error}") from None
    pr = event.get("pull_request") if isinstance(event, dict) else None
    number = pr.get("number") if isinstance(pr, dict) else None
    if not isinstance(number, int) or isinstance(number, bool) or number <= 0:
        raise Failure("the event payload has no pull_request.number: run diff's comment on pull_request events")
    assert isinstance(pr, dict)
    return number, pr


def write_output(name: str, value: str) -> None:
    target = os.environ.get("GITHUB_OUTPUT")
    if target and "\n" not in value and "\r" not in value:
        delimiter = f"LLM_COST_{secrets.token_hex(8)}"
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def run(body_file: str) -> int:
    token = os.environ.get("GITHUB_TOKEN", "")
    if not token.strip():
        raise Failure("no GitHub token: the github-token input is empty (its default is the job's GITHUB_TOKEN)")
    repository = os.environ.get("GITHUB_REPOSITORY", "")
    if not REPOSITORY.fullmatch(repository):
        raise Failure(f"GITHUB_REPOSITORY is not owner/name: {repository!r}")
    number, pr = pull_request(os.environ.get("GITHUB_EVENT_PATH", ""))
    head_repository = ((pr.get("head") or {}).get("repo") or {}).get("full_name")
    if os.environ.get("GITHUB_EVENT_NAME") == "pull_request" and head_repository not in (None, repository):
        print(
            f"::warning::llm-cost: pull request #{number} comes from the fork {_one_line(str(head_repository))}, "
            "whose token is read-only: no PR comment (the diff is in the step summary)"
        )
        return 0
    author = os.environ.get("COMMENT_AUTHOR") or DEFAULT_AUTHOR
    body = Path(body_file).read_text(encoding="utf-8")
    if body.splitlines()[:1] != [MARKER]:
        raise Failure(f"the comment must start with the marker line {MARKER}")
    github = GitHub(os.environ.get("GITHUB_API_URL") or DEFAULT_API, token)
    existing = find_comment(github, repository, number, author)
    payload = {"body": fit(body)}
    if existing is not None:
        comment = github.call("PATCH", f"/repos/{repository}/issues/comments/{int(existing['id'])}", payload)
        done = "updated"
    else:
        comment = github.call("POST", f"/repos/{repository}/issues/{number}/comments", payload)
        done = "posted"
    url = str((comment or {}).get("html_url") or "")
    print(f"llm-cost: {done} the cost comment on pull request #{number}: {_one_line(url)}")
    write_output("comment-url", url)
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: sticky_comment.py COMMENT.md", file=sys.stderr)
        return 2
    try:
        return run(argv[1])
    except Failure as failure:
        print(f"::error::llm-cost: no PR comment: {_one_line(str(failure))}")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
