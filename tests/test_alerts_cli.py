"""``xinlian alerts test|list`` against a loopback webhook receiver and a local SMTP server."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cli.main import build_app
from tests import test_alerts
from tests.test_alerts import SECRET, Receiver, Smtp

# The loopback webhook receiver and SMTP server of tests/test_alerts.py.
receiver = test_alerts.receiver
smtp = test_alerts.smtp


def run(config_file: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(), ["--config", str(config_file), *args], env={"COLUMNS": "300"})
    return result.exit_code, result.output


def with_alerts(config_file: Path, receiver: Receiver, smtp_port: int) -> Path:
    config_file.write_text(
        config_file.read_text(encoding="utf-8")
        + f'[alerts]\nsmtp_host = "127.0.0.1"\nsmtp_port = {smtp_port}\nsmtp_starttls = false\n'
        'email_to = ["ops@example.cn"]\n'
        f'[alerts.webhooks.ops]\nurl = "{receiver.url}"\nsecret = "{SECRET}"\n',
        encoding="utf-8",
    )
    return config_file


def test_alerts_test_sends_to_every_channel_and_says_so(
    config_file: Path, receiver: Receiver, smtp: Smtp
) -> None:
    config = with_alerts(config_file, receiver, smtp.port)
    code, output = run(config, "alerts", "test")
    assert code == 0, output
    assert f"sent webhook {receiver.url}" in output and "sent email ops@example.cn" in output
    (body,) = receiver.bodies()  # signature checked
    assert body["event"] == "test"
    (message,) = smtp.box.to("ops@example.cn")
    assert message["Subject"] == "[信链] 测试告警" and message["From"] == "xinlian@localhost"

    code, output = run(config, "alerts", "list")
    assert code == 0 and output.count("test") >= 2 and "sent" in output


def test_alerts_test_reports_a_failure_and_does_not_retry_it(config_file: Path, receiver: Receiver) -> None:
    receiver.statuses = [500]
    config = with_alerts(config_file, receiver, 9)  # port 9 (discard): nothing listens
    code, output = run(config, "alerts", "test", "--webhook", "ops")
    assert code == 1 and "failed webhook" in output and "HTTP 500" in output
    code, output = run(config, "alerts", "list", "--pending")
    assert code == 0 and "webhook" not in output  # given up, not left to the worker
    code, output = run(config, "alerts", "test", "--webhook", "nope")
    assert code == 2 and "no webhook named nope" in output
