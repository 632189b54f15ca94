"""The Dockerfile and Kubernetes renders, checked by hadolint, kubernetes-validate, checkov."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from lensguard.deploy import container, kubernetes
from lensguard.deploy.options import DeployOptions
from lensguard.settings import Settings

TOOLS = Path(__file__).resolve().parents[2] / ".venv-tools" / "bin"
DIGEST = "registry.example.org/lensguard@sha256:" + "ab" * 32


def validator(name: str) -> Path:
    found = TOOLS / name
    if not found.exists():
        pytest.skip(f"{name} is not installed (`make tools` installs it into .venv-tools)")
    return found


def run(*command: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in command], capture_output=True, text=True, timeout=120, check=False
    )


def checkov(path: Path) -> subprocess.CompletedProcess[str]:
    return run(
        validator("checkov"),
        "-f",
        path,
        "--framework",
        "kubernetes",
        "--quiet",
        "--compact",
        "--skip-download",
    )


def test_the_dockerfile_passes_hadolint_and_a_root_one_does_not(
    make_settings: Any, tmp_path: Path
) -> None:
    settings: Settings = make_settings()
    text = container.render(settings, DeployOptions())
    good = tmp_path / "Dockerfile"
    good.write_text(text)
    lint = run(validator("hadolint"), good)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "USER 10001:10001" in text and text.count("FROM ") == 2
    assert "HEALTHCHECK" in text and "/healthz" in text
    bad = tmp_path / "Dockerfile.bad"
    bad.write_text(
        text.replace("USER 10001:10001", "USER root").replace(container.BASE, "python:latest")
    )
    refused = run(validator("hadolint"), bad)
    assert refused.returncode != 0
    assert "DL3002" in refused.stdout and "DL3007" in refused.stdout


def test_the_manifests_validate_and_pass_checkov(make_settings: Any, tmp_path: Path) -> None:
    settings: Settings = make_settings()
    text = kubernetes.render(settings, DeployOptions(image=DIGEST))
    path = tmp_path / "lensguard.yaml"
    path.write_text(text)
    schema = run(validator("kubernetes-validate"), path)
    assert schema.returncode == 0, schema.stdout + schema.stderr
    scan = checkov(path)
    assert scan.returncode == 0, scan.stdout
    assert "Failed checks: 0" in scan.stdout
    docs = list(yaml.safe_load_all(text))
    kinds = [d["kind"] for d in docs]
    assert kinds.count("NetworkPolicy") == 2 and "Namespace" in kinds
    namespace = next(d for d in docs if d["kind"] == "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    pod = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]
    context = pod["containers"][0]["securityContext"]
    assert context["allowPrivilegeEscalation"] is False and context["readOnlyRootFilesystem"]
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert pod["containers"][0]["resources"]["limits"]["memory"]


def test_checkov_refuses_a_privileged_pod_and_a_tag_without_digest(
    make_settings: Any, tmp_path: Path
) -> None:
    settings: Settings = make_settings()
    docs = kubernetes.manifests(settings, DIGEST)
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    context = deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    context.update({"privileged": True, "allowPrivilegeEscalation": True})
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    scan = checkov(path)
    assert scan.returncode != 0
    assert "CKV_K8S_16" in scan.stdout and "CKV_K8S_20" in scan.stdout  # privileged, escalation
    tagged = tmp_path / "tagged.yaml"
    tagged.write_text(kubernetes.render(settings, DeployOptions()))
    by_tag = checkov(tagged)
    assert by_tag.returncode != 0 and "CKV_K8S_43" in by_tag.stdout  # image digest
