"""Starts `iotplan emulator` for the official-SDK conformance tests."""

import os
import pathlib
import re
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("IOTPLAN_BIN", str(ROOT / "target" / "debug" / "iotplan"))
KEY_ID = "conformance-id"
KEY_SECRET = "conformance-secret"


class Emulator:
    def __init__(self, tmp_path, *extra):
        seed = tmp_path / "seed.yaml"
        seed.write_text(
            "instances: [iot-conform01]\n"
            "products:\n"
            "  - {key: a1BigFleet01, name: big_fleet, generate: {prefix: meter-, count: 10120, width: 5}}\n"
            "  - key: a1SqlFleet01\n"
            "    instance: iot-conform01\n"
            "    devices:\n"
            + "".join(
                f"      - {{name: sql-dev-{n:03}, nickname: Room_{n}, tags: {{room: '{100 + n}', floor: '3'}}}}\n"
                for n in range(1, 121)
            )
        )
        args = [
            BIN, "emulator", "--listen", "127.0.0.1:0",
            "--access-key-id", KEY_ID, "--access-key-secret", KEY_SECRET,
            "--apply-delay-ms", "200", "--seed", str(seed), *extra,
        ]
        self.proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        line = self.proc.stderr.readline()
        match = re.search(r"http://([0-9.]+:[0-9]+)", line)
        assert match, f"emulator did not start: {line!r}"
        self.host = match.group(1)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    emu = Emulator(tmp_path_factory.mktemp("emu"), "--qps-scale", "0")
    yield emu
    emu.stop()


@pytest.fixture(scope="session")
def throttled_emulator(tmp_path_factory):
    emu = Emulator(tmp_path_factory.mktemp("emu-throttled"))
    yield emu
    emu.stop()
