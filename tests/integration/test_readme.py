"""The README's walkthrough, run as written against a fresh stack: a new user sees what it shows."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from complaints.city import load_city
from complaints_tools.demo import SAMPLES
from complaints_tools.fake_weibo import FakeWeibo

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _shell_block_after(marker: str) -> str:
    start = README.index(marker)
    return re.search(r"```sh\n(.*?)```", README[start:], re.S).group(1)


def _run(script: str, url: str) -> str:
    script = script.replace("localhost:3000", url.removeprefix("http://"))
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_walkthrough_shows_ticket_10001_answered_by_sms_and_10002_sent_and_answered_in_wechat(
    tmp_path, stack_process, wechat
):
    start_stack, stop_stack = stack_process
    weibo = FakeWeibo(samples=False).start()  # as `make run`'s own fake: no mentions until the demo adds them
    log = tmp_path / "stack.log"
    try:
        proc, stack = start_stack(weibo, log)
        try:
            # The walkthrough, then the answer loop in the same shell (its variables come from the first block).
            script = _shell_block_after("<!-- walkthrough") + _shell_block_after("<!-- loop")
            script += _shell_block_after("<!-- wechat") + _shell_block_after("<!-- car-moving")
            wechat.server_url = f"{stack.url}/wechat"  # the session's fake WeChat: this stack's account
            out = _run(script, stack.url).splitlines()
            assert '"ticket_no":10001,"status":"received"' in out[0]
            dispatched = '"status":"dispatched","category":"环境保护","department":"市生态环境局","district":"上望街道"'
            assert dispatched in out[1]
            assert "138" not in out[1]  # the contact never comes back
            assert out[2:6] == [
                "agency hbj@ruian.example",
                "agency +8613900000002",
                "copy shangwang@ruian.example",
                "copy +8613900000017",
            ]
            out = out[6:]  # the answer loop
            assert out[0].startswith('{"email": "wang@ruian.example", "agency": "eco"')
            assert out[1].startswith("10001 dispatched 2026-") and out[1].endswith("T17:30:00+08:00")
            assert out[2:4] == ["accepted", "answered"]
            assert out[4].startswith("sms +8613812345678 【瑞安】问题10001已答复：已安排执法人员到场处置")
            assert out[4].endswith("https://wenzheng.ruian.example/t/10001")
            assert out[5] == "closed"
            out = out[6:]  # WeChat: a picture, a location, a text; the ticket number and the answer in WeChat
            assert out[0] == "图片已收到。请再发送文字描述问题（10字以上），10分钟内有效。"
            assert out[1].startswith("位置已收到")
            assert out[2] == "已收到您反映的问题，正在登记，问题编号稍后发给您。"
            assert out[3].startswith(
                "custom 您反映的问题已登记，问题编号10002。进度：https://wenzheng.ruian.example/t/10002"
            )
            assert out[4:6] == ["accepted", "answered"]
            assert out[6].startswith(
                "custom 您反映的问题（编号10002）已由市生态环境局答复： 已到场处置，焚烧点已取缔。"
            )
            assert out[7:9] == ["问题10002：已答复", "答复：已到场处置，焚烧点已取缔。"]
            out = out[9:]  # moving a car: the registry, the code, the request; the owner's SMS and call
            assert '"imported": 1' in out[0]
            assert out[1:3] == ["code_sent", "notified"]
            sms, voice = out[3:5]
            assert sms.startswith("sms 【瑞安】您的车辆浙C12345停在万松路12号门口") and "/car-moving/owner/" in sms
            assert voice.startswith("voice 您好，这里是瑞安自助挪车。您的车辆浙C12345停在万松路12号门口")
            assert "13800000001" not in sms + voice

            first_screen = _shell_block_after("With `make run` up").replace("make demo", "#")
            out = _run(first_screen, stack.url)  # curl's answers end without a newline: one line
            assert '"ticket_no":10003,"status":"received"' in out  # after the walkthrough's 10001 and WeChat's 10002
            assert '"ticket_no": "10001"' in out and '"ticket_no": "10003"' not in out
            assert '"endpoint": "hbj@ruian.example"' in out and '"endpoint": "shangwang@ruian.example"' in out

            demo = subprocess.run(
                [sys.executable, "-m", "complaints_tools.cli", "demo", "--url", stack.url],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert demo.returncode == 0, demo.stdout + demo.stderr
            rows = [line.split() for line in demo.stdout.splitlines() if line.strip()[:5].isdigit()]
            assert len(rows) == len(SAMPLES), demo.stdout
            # As the README says: every department of the city file gets one, a town gets its local matter, and
            # the two texts with no evidence (English; greetings and a phone number) go to triage.
            dispatched_to = {r[2] for r in rows if r[1] == "dispatched"}
            departments = {
                a.name
                for a in load_city(Path(__file__).resolve().parents[2] / "city" / "ruian.toml").agencies
                if a.kind == "department"
            }
            assert departments <= dispatched_to, (departments - dispatched_to, demo.stdout)
            assert "东山街道办事处" in dispatched_to
            assert [r[1] for r in rows[-2:]] == ["triage", "triage"], demo.stdout
            assert "Weibo: 9 sample mentions of @瑞网议事厅 added" in demo.stdout
            assert demo.stdout.count("reply to mention") == 7
        finally:
            stop_stack(proc)
        assert "Stopped. Nothing was kept (no --state folder)." in log.read_text(encoding="utf-8")
    finally:
        weibo.stop()
