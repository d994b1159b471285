"""Alert sinks: a generic webhook (JSON POST), a Slack-compatible incoming webhook, email over SMTP, and a local
JSON-lines file. A failed delivery is retried with exponential backoff and reported, never raised: an unreachable
sink must not stop the check."""

from __future__ import annotations

import json
import os
import smtplib
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage

from monitor.config import EmailSink, FileSink, SlackSink, WebhookSink
from monitor.rules import AlertEvent

SinkConfig = WebhookSink | SlackSink | EmailSink | FileSink
_ICONS = {"firing": ":rotating_light:", "resolved": ":white_check_mark:", "suppressed": ":zzz:"}


class _Permanent(Exception):
    """A failure that a retry cannot fix (an HTTP 4xx other than 429)."""


@dataclass(frozen=True)
class Delivery:
    """The outcome of delivering one alert to one sink."""

    sink: str
    sink_type: str
    status: str
    attempts: int
    error: str | None


def _post(url: str, body: dict[str, object], headers: dict[str, str], timeout: float) -> None:
    request = urllib.request.Request(url, data=json.dumps(body).encode("utf-8"), method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as error:
        if 400 <= error.code < 500 and error.code != 429:
            raise _Permanent(f"HTTP {error.code} {error.reason}") from None
        raise


def slack_payload(event: AlertEvent, sink: SlackSink) -> dict[str, object]:
    """Return the incoming-webhook body for an alert: ``text`` for notifications plus a ``blocks`` layout."""
    fields = [(f"*metric* `{event.rule.metric}` = {event.value if event.value is not None else 'n/a'} "
              f"(threshold {event.rule.op} {event.rule.threshold:g})"),
              f"*window* {event.window.start} .. {event.window.end}"]
    body: dict[str, object] = {
        "text": f"{_ICONS.get(event.kind, '')} {event.message}".strip(),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text",
                                        "text": f"{event.kind.upper()}: {event.rule.name} ({event.rule.severity})"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(fields)}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": event.rule.description or "evalkit monitor"}]},
        ],
    }
    if sink.channel:
        body["channel"] = sink.channel
    if sink.username:
        body["username"] = sink.username
    return body


def _email(event: AlertEvent, sink: EmailSink) -> None:
    message = EmailMessage()
    message["Subject"] = f"[evalkit monitor] {event.kind} {event.rule.severity}: {event.rule.name}"
    message["From"] = sink.sender
    message["To"] = ", ".join(sink.to)
    message.set_content(f"{event.message}\n\n{json.dumps(event.payload(), indent=2)}\n")
    with smtplib.SMTP(sink.host, sink.port, timeout=sink.timeout_s) as smtp:
        if sink.starttls:
            smtp.starttls()
        if sink.username:
            smtp.login(sink.username, os.environ.get(sink.password_env or "", ""))
        smtp.send_message(message)


def _append(event: AlertEvent, sink: FileSink) -> None:
    sink.path.parent.mkdir(parents=True, exist_ok=True)
    with open(sink.path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(event.payload()) + "\n")


def _send_once(event: AlertEvent, sink: SinkConfig) -> None:
    if isinstance(sink, WebhookSink):
        _post(sink.url, event.payload(), sink.headers, sink.timeout_s)
    elif isinstance(sink, SlackSink):
        _post(sink.url, slack_payload(event, sink), {}, sink.timeout_s)
    elif isinstance(sink, EmailSink):
        _email(event, sink)
    else:
        _append(event, sink)


def deliver(event: AlertEvent, name: str, sink: SinkConfig) -> Delivery:
    """Deliver one alert to one sink, retrying failures with exponential backoff.

    Args:
        event: the alert.
        name: the sink's name in the config.
        sink: its settings (``retries``, ``backoff_s`` and ``timeout_s`` included).

    Returns:
        ``ok`` after the first successful attempt, else ``failed`` with the last error; never raises for a
        network, HTTP, SMTP or file error.
    """
    error: str | None = None
    attempt = 0
    for attempt in range(1, sink.retries + 2):
        try:
            _send_once(event, sink)
            return Delivery(name, sink.type, "ok", attempt, None)
        except _Permanent as failure:
            return Delivery(name, sink.type, "failed", attempt, str(failure))
        except (OSError, smtplib.SMTPException, ValueError) as failure:
            error = f"{type(failure).__name__}: {failure}"
        if attempt <= sink.retries:
            time.sleep(sink.backoff_s * 2 ** (attempt - 1))
    return Delivery(name, sink.type, "failed", attempt, error)
