"""Where the relay's CPU goes with many viewers: a py-spy sample of the server process.

``profile(pid, seconds)`` records the running server for ``seconds`` (py-spy, from
the tools virtualenv, ``make tools``; the process is not stopped: ``--nonblocking``)
and returns the share of samples per function, by own time and by time inside it
(callees included). Idle threads are not sampled, so shares are of the busy time.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RATE = 200  # samples a second

# Functions whose inclusive share says where a packet's time goes (matched by name).
STAGES = {
    "RTP senders, one task per viewer (aiortc)": ("RTCRtpSender._run_rtp ",),
    "SRTP protect": ("Session.__process (pylibsrtp",),
    "UDP send, one datagram per packet per viewer": ("StunProtocol.send_data ",),
    "receiving from the device": ("RTCRtpReceiver._handle_rtp_packet ",),
    "the relay's fan-out (lensguard)": ("(lensguard/media/",),
    "signaling and API (lensguard)": ("(lensguard/signaling/", "(lensguard/api/"),
}


def py_spy() -> str | None:
    """The py-spy executable, or None when it is not installed."""
    local = ROOT / ".venv-tools" / "bin" / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def profile(pid: int, seconds: float) -> dict[str, Counter[str]] | None:
    """Own and inclusive sample counts per frame, plus ``total``; None without py-spy."""
    tool = py_spy()
    if tool is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "stacks.txt"
        subprocess.run(
            [tool, "record", "--pid", str(pid), "--duration", str(int(seconds)),
             "--rate", str(RATE), "--format", "raw", "--nonblocking", "--output", str(out)],
            check=True, capture_output=True, timeout=seconds + 60,
        )  # fmt: skip
        lines = out.read_text().splitlines()
    own: Counter[str] = Counter()
    inside: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            inside[frame] += n
        for stage, needles in STAGES.items():
            if any(x in frame for frame in frames for x in needles):
                stages[stage] += n
    return {
        "own": own,
        "inside": inside,
        "stages": stages,
        "total": Counter({"samples": total}),
    }


def report(result: dict[str, Counter[str]], viewers: int, top: int = 12) -> list[str]:
    """Printable lines: the top functions by own time, and the share of each stage."""
    total = max(1, result["total"]["samples"])
    lines = [f"  relay profile with {viewers} viewers ({total} busy samples at {RATE}/s):"]
    for frame, n in result["own"].most_common(top):
        lines.append(f"    {100 * n / total:5.1f}% own   {frame[:110]}")
    for stage, needles in STAGES.items():
        n = max((c for f, c in result["inside"].items() if any(x in f for x in needles)), default=0)
        lines.append(f"    {100 * n / total:5.1f}% in    {stage}")
    lines.append(
        "    (Runner.run's own time is the event loop's C code: uvloop's polling and callbacks)"
    )
    return lines
