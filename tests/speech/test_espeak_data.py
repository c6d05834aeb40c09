"""espeak-ng installed without its data files: one ERROR, the keypad IVR goes on.

libespeak-ng calls ``exit()`` when its data files are missing, so these tests
run the service and the CLI as real child processes, pointed at an empty data
folder with ``ESPEAK_DATA_PATH``.
"""

import asyncio
import os
import signal
import subprocess
import sys

from ari_app.doubles.asterisk import FakeAsterisk, ScriptedCaller, Step


def write_config(tmp_path, ari_url):
    path = tmp_path / "msp.conf"
    path.write_text(
        f"[ari]\nurl = {ari_url}\nusername = msp-intake\npassword = secret\n"
        f"[store]\npath = {tmp_path}/intake.sqlite3\nspool = {tmp_path}/spool.jsonl\n"
        "[triage]\nanswer_timeout = 2\ndigit_timeout = 1\n"
        "[service]\nshutdown_grace = 2\nlog_level = INFO\n"
        f"[speech]\nsounds_dir = {tmp_path}/sounds\n"
        f"recordings_dir = {tmp_path}/rec\nmodel_path = {tmp_path}/no-model\n"
    )
    return str(path)


def no_espeak_data(tmp_path):
    (tmp_path / "data" / "espeak-ng-data").mkdir(parents=True)
    return {**os.environ, "ESPEAK_DATA_PATH": str(tmp_path / "data")}


def test_prompts_render_says_what_to_install(tmp_path):
    conf = write_config(tmp_path, "http://127.0.0.1:1")
    result = subprocess.run(
        [sys.executable, "-m", "ari_app", "-c", conf, "prompts", "render"],
        capture_output=True,
        text=True,
        env=no_espeak_data(tmp_path),
        timeout=60,
    )
    assert result.returncode == 2
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("msp-intake: espeak-ng cannot start")
    assert "apt-get install --reinstall espeak-ng-data" in lines[0]


async def test_the_service_runs_keypad_only_without_espeak_data(tmp_path):
    async with FakeAsterisk(sound_seconds=0.2) as fake:
        conf = write_config(tmp_path, fake.url)
        log = open(tmp_path / "service.log", "w")
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ari_app",
            "-c",
            conf,
            "run",
            stdout=log,
            stderr=subprocess.STDOUT,
            env=no_espeak_data(tmp_path),
        )
        try:
            for _ in range(300):
                if fake.hub.sockets or proc.returncode is not None:
                    break
                await asyncio.sleep(0.05)
            assert proc.returncode is None, "the service exited"
            assert fake.hub.sockets, "never registered with Asterisk"
            call = await fake.place_call(
                ScriptedCaller(
                    steps=[
                        Step(dtmf="1", on_media="q-site-down", delay=0.1),
                        Step(dtmf="1", on_media="q-critical", delay=0.1),
                        Step(dtmf="5#", on_media="q-users", delay=0.1),
                    ]
                )
            )
            await call.wait_ended(timeout=30)
            assert call.hung_up_by == "app"
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 20)
            log.close()
    text = (tmp_path / "service.log").read_text()
    errors = [line for line in text.splitlines() if "ERROR" in line]
    assert len(errors) == 1, errors
    assert "apt-get install --reinstall espeak-ng-data" in errors[0]
    assert "Error processing file" in errors[0]
