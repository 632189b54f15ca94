"""``AnomalyModel``: an IsolationForest baseline over feature windows, stored signed.

Training fits scikit-learn's IsolationForest on rows of ordinary history
(``threats.features``). Scoring maps each row to an anomaly score in (0, 1]: about 0.5
for a window like the history, towards 1 for one the forest isolates at once (the
score of Liu et al., ``-score_samples``).

The file is ``MAGIC``, one JSON header line (format version, feature schema, window
length, training range, row count, scikit-learn version), one line with the HMAC-SHA256
of header and body under a key derived from the master secret, then the pickled
forest. ``load`` checks the MAC in constant time **before** unpickling, so a file the
server did not write is never deserialised; a different feature schema, window length
or format is refused too. Rotating the master secret invalidates the file: train again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lensguard.threats.features import FEATURES, Row

if TYPE_CHECKING:
    from sklearn.ensemble import IsolationForest
# scikit-learn is imported where a model is fitted or loaded: importing it costs about
# 0.7 s, which every CLI command and server start would otherwise pay.

MAGIC = b"LENSGUARD-THREAT-MODEL\n"
FORMAT = 1
MIN_ROWS = 50


class ModelError(ValueError):
    """A model file that is not ours, is damaged, or does not fit these settings."""


@dataclass(frozen=True)
class Trained:
    """What a model was trained on."""

    window_seconds: float
    trained_from: float
    trained_to: float
    rows: int
    features: tuple[str, ...] = FEATURES


class AnomalyModel:
    """A fitted forest and what it was fitted on."""

    def __init__(self, forest: IsolationForest, trained: Trained) -> None:
        self.forest = forest
        self.trained = trained

    @classmethod
    def fit(cls, rows: Sequence[Row], *, window_seconds: float, trees: int = 100) -> AnomalyModel:
        """Fit on ``rows`` (ordinary history); raises ModelError with too few."""
        if len(rows) < MIN_ROWS:
            raise ModelError(
                f"only {len(rows)} feature windows in that range; at least {MIN_ROWS} are "
                "needed (train over a longer history)"
            )
        from sklearn.ensemble import IsolationForest

        forest = IsolationForest(n_estimators=trees, random_state=0)
        forest.fit(np.array([r.values for r in rows], dtype=float))
        starts = [r.start for r in rows]
        trained = Trained(float(window_seconds), min(starts), max(starts), len(rows))
        return cls(forest, trained)

    def scores(self, rows: Sequence[Row]) -> list[float]:
        """The anomaly score of each row, in (0, 1]."""
        if not rows:
            return []
        matrix = np.array([r.values for r in rows], dtype=float)
        return [float(-s) for s in self.forest.score_samples(matrix)]

    def header(self) -> dict[str, Any]:
        """What the file says about itself."""
        t = self.trained
        return {
            "format": FORMAT,
            "features": list(t.features),
            "window_seconds": t.window_seconds,
            "trained_from": t.trained_from,
            "trained_to": t.trained_to,
            "rows": t.rows,
            "sklearn": _sklearn_version(),
        }

    def save(self, path: Path, key: bytes) -> None:
        """Write the signed file atomically (owner-only)."""
        head = json.dumps(self.header(), sort_keys=True).encode()
        body = pickle.dumps(self.forest, protocol=pickle.HIGHEST_PROTOCOL)
        mac = _mac(key, head, body).encode()
        temporary = path.with_name(path.name + ".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(MAGIC + head + b"\n" + mac + b"\n" + body)
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(path)

    @classmethod
    def load(cls, path: Path, key: bytes, *, window_seconds: float) -> AnomalyModel:
        """Read a file ``save`` wrote with this key; raises ModelError otherwise."""
        data = path.read_bytes()
        if not data.startswith(MAGIC):
            raise ModelError(f"{path} is not a lensguard threat model")
        try:
            head, mac, body = data[len(MAGIC) :].split(b"\n", 2)
        except ValueError:
            raise ModelError(f"{path} is truncated") from None
        if not hmac.compare_digest(mac, _mac(key, head, body).encode()):
            raise ModelError(
                f"{path} was not written by this server (or the master secret changed): "
                "train again with `lensguard threats train`"
            )
        header = json.loads(head)
        if header.get("format") != FORMAT or tuple(header.get("features", ())) != FEATURES:
            raise ModelError(f"{path} has another format or feature schema: train again")
        if float(header.get("window_seconds", 0)) != float(window_seconds):
            raise ModelError(
                f"{path} was trained on {header.get('window_seconds')} s windows, the settings "
                f"say {window_seconds} s: train again or change threats.model.window_seconds"
            )
        from sklearn.ensemble import IsolationForest

        forest = pickle.loads(body)  # noqa: S301 - the MAC above proved we wrote it  # nosec B301
        if not isinstance(forest, IsolationForest):
            raise ModelError(f"{path} does not hold an IsolationForest")
        trained = Trained(
            float(header["window_seconds"]),
            float(header["trained_from"]),
            float(header["trained_to"]),
            int(header["rows"]),
        )
        return cls(forest, trained)


def _mac(key: bytes, head: bytes, body: bytes) -> str:
    digest = hmac.new(key, b"lensguard threat model\n", hashlib.sha256)
    digest.update(len(head).to_bytes(8, "big") + head)
    digest.update(body)
    return digest.hexdigest()


def _sklearn_version() -> str:
    import sklearn

    return str(sklearn.__version__)
