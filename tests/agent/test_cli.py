"""``lensguard agent`` on the command line: help, and refusals before anything starts."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from lensguard.agent.driver import SimulatedRobot
from lensguard.agent.runner import ConfigError
from lensguard.cli.agent import app, load_driver

SECRET = "lg_abcdefghijkl_VerySecretPart-123"
runner = CliRunner()


def key_file(tmp_path: Path, mode: int) -> Path:
    path = tmp_path / "device.key"
    path.write_text(SECRET)
    path.chmod(mode)
    return path


def test_help_explains_every_option_with_an_example() -> None:
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0
    for option in (
        "--server",
        "--credential-file",
        "--source",
        "--ca-file",
        "--width",
        "--height",
        "--fps",
        "--deadman-ms",
        "--max-peers",
        "--driver",
    ):
        assert option in result.output
    assert "lensguard agent --server https://" in result.output
    assert "mode 0600" in result.output


def test_a_readable_credential_file_is_refused_without_showing_it(tmp_path: Path) -> None:
    path = key_file(tmp_path, 0o644)
    result = runner.invoke(app, ["--server", "https://127.0.0.1:9", "--credential-file", str(path)])
    assert result.exit_code == 2
    assert "accessible to group or others (mode 0644); run: chmod 600" in result.output
    assert SECRET not in result.output


def test_a_plain_http_server_is_refused(tmp_path: Path) -> None:
    path = key_file(tmp_path, 0o600)
    result = runner.invoke(app, ["--server", "http://cams.example", "--credential-file", str(path)])
    assert result.exit_code == 2
    assert "must start with https://" in result.output
    assert SECRET not in result.output


def test_a_missing_camera_is_refused(tmp_path: Path) -> None:
    path = key_file(tmp_path, 0o600)
    result = runner.invoke(
        app,
        [
            "--server",
            "https://127.0.0.1:9",
            "--credential-file",
            str(path),
            "--source",
            "v4l2:/dev/video42",
        ],
    )
    assert result.exit_code == 2
    assert "camera /dev/video42 does not exist" in result.output


def test_drivers_are_loaded_by_name() -> None:
    assert isinstance(load_driver("simulated"), SimulatedRobot)
    assert isinstance(load_driver("lensguard.agent.driver:SimulatedRobot"), SimulatedRobot)
    with pytest.raises(ConfigError, match="lacks move"):
        load_driver("builtins:object")
    with pytest.raises(ConfigError, match="cannot load driver"):
        load_driver("no.such.module:factory")
    with pytest.raises(ConfigError, match="must be 'simulated'"):
        load_driver("robot")
