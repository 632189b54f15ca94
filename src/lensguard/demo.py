"""The embedded demo: a robot that `make run` starts beside the server.

On first start a device is registered and its credential written to
``<var_dir>/demo-device.key`` (mode 0600); the agent then runs inside the server
process, connecting to the server's own URL like any robot would, so a newcomer
sees live video and can drive within a minute. Dev mode only.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from av import VideoFrame

from lensguard.agent.driver import SimulatedRobot
from lensguard.agent.runner import Agent, AgentConfig
from lensguard.agent.sources import SyntheticScene
from lensguard.errors import ConfigurationError
from lensguard.identity.devices import register_device, rotate_credential
from lensguard.logs import get_logger
from lensguard.private import open_private
from lensguard.services import Services
from lensguard.settings import Settings
from lensguard.store.devices import list_devices
from lensguard.store.models import StreamSettings

CREDENTIAL_FILE = "demo-device.key"
log = get_logger("lensguard.demo")


async def ensure_demo_device(settings: Settings) -> Path:
    """Register the demo robot once; the path of its credential file."""
    if not settings.is_dev:
        raise ConfigurationError("the demo robot runs in dev mode only")
    path = settings.var_dir / CREDENTIAL_FILE
    services = Services.build(settings)
    db = services.db
    try:
        async with db.sessions() as session:
            existing = [
                d for d in await list_devices(session) if d.name == settings.demo.device_name
            ]
        if existing and path.is_file():
            return path
        if existing:  # the key file was lost: issue a fresh credential
            registered = await rotate_credential(services, device_id=existing[0].id, by=None)
        else:
            registered = await register_device(
                services,
                name=settings.demo.device_name,
                site=settings.demo.site,
                kind="robot",
                capabilities=["video", "control"],
                by=None,
            )
            async with db.transaction() as session:
                # Faces in the demo are redacted for everyone, as a site policy would.
                session.add(StreamSettings(device_id=registered.device.id, redact_faces=True))
    finally:
        await services.close()
    with open_private(path, "w") as fh:
        fh.write(registered.credential + "\n")
    log.info("demo_device_registered", device=settings.demo.device_name)
    return path


class FaceScene(SyntheticScene):
    """The demo scene with a real face in it (scikit-image's public-domain astronaut),
    so the redaction the demo stream is configured with has something to hide."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._face = _face_patch()

    async def recv(self) -> VideoFrame:
        frame = await super().recv()
        if self._face is None:
            return frame
        image = frame.to_ndarray(format="bgr24")
        h, w = self._face.shape[:2]
        top, left = image.shape[0] - h - 40, image.shape[1] - w - 20
        image[top : top + h, left : left + w] = self._face
        out = VideoFrame.from_ndarray(image, format="bgr24")
        out.pts, out.time_base = frame.pts, frame.time_base
        return out


def _face_patch() -> Any:
    try:
        import cv2
        from skimage import data
    except ImportError:  # a slim install without the demo extras: a plain scene
        return None
    photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)  # type: ignore[no-untyped-call]
    return cv2.resize(photo[10:250, 130:340], (230, 265))


async def run_demo_agent(
    settings: Settings, credential: Path, ca_file: Path | None, stop: asyncio.Event
) -> None:
    """Run the demo robot until ``stop`` is set."""
    host = settings.server.host
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - comparison only  # nosec B104
        host = "127.0.0.1"
    robot = SimulatedRobot()
    scene = FaceScene(640, 480, 30, viewport=robot.viewport)
    config = AgentConfig(
        server=f"https://{host}:{settings.server.port}", credential_file=credential, ca_file=ca_file
    )
    try:
        await Agent(config, scene, robot).run(stop)
    finally:
        scene.stop()
