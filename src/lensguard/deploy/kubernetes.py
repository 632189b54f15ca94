"""Kubernetes manifests: restricted Pod Security, a NetworkPolicy, limits, no privilege.

One multi-document YAML: the namespace (Pod Security Standards ``restricted``,
enforced), a service account without a mounted token, the data volume claim, the
Deployment (non-root with a fixed uid, read-only root, every capability dropped,
``RuntimeDefault`` seccomp, no privilege escalation, requests and limits, probes), the
Service, and NetworkPolicies that deny everything but HTTPS in and DNS, PostgreSQL,
Redis and HTTPS out. Secrets come from a Secret named ``lensguard`` the operator makes.
Checked by kubernetes-validate and checkov in tests.
"""

from __future__ import annotations

from typing import Any

import yaml

from lensguard.deploy.container import PORT, UID, VAR
from lensguard.deploy.options import DeployOptions
from lensguard.settings import Settings

NAME = "lensguard"
LABELS = {"app.kubernetes.io/name": NAME}
EGRESS_PORTS = [("UDP", 53), ("TCP", 53), ("TCP", 5432), ("TCP", 6379), ("TCP", 443)]


def _meta(name: str = NAME, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": NAME, "labels": dict(LABELS), **extra}


def _container(port: int, image: str) -> dict[str, Any]:
    probe = {"httpGet": {"path": "/healthz", "port": port, "scheme": "HTTPS"}}
    return {
        "name": NAME,
        "image": image,
        "imagePullPolicy": "Always",
        "args": ["serve"],
        "ports": [{"name": "https", "containerPort": port, "protocol": "TCP"}],
        "env": [
            {"name": "LENSGUARD_MODE", "value": "production"},
            {"name": "LENSGUARD_VAR_DIR", "value": VAR},
            {"name": "LENSGUARD_SERVER__HOST", "value": "0.0.0.0"},  # noqa: S104  # nosec B104
            {"name": "LENSGUARD_SERVER__PORT", "value": str(port)},
        ],
        # LENSGUARD_SECRET_KEY, database and Redis URLs: from the operator's Secret.
        "envFrom": [{"secretRef": {"name": NAME}}],
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "resources": {
            "requests": {"cpu": "500m", "memory": "512Mi", "ephemeral-storage": "256Mi"},
            "limits": {"cpu": "2", "memory": "2Gi", "ephemeral-storage": "1Gi"},
        },
        "livenessProbe": {**probe, "periodSeconds": 20, "timeoutSeconds": 5},
        "readinessProbe": {**probe, "periodSeconds": 10, "timeoutSeconds": 5},
        "volumeMounts": [
            {"name": "var", "mountPath": VAR},
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108  # nosec B108
        ],
    }


def _deployment(port: int, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(
            annotations={
                # The server reads its secrets from the environment only (docs/secrets.md).
                "checkov.io/skip1": "CKV_K8S_35=settings read secrets from the environment",
            }
        ),
        "spec": {
            # One replica per data volume; a cluster of nodes shares PostgreSQL and Redis
            # and gives each node its own claim (docs/scale.md).
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": dict(LABELS)},
            "template": {
                "metadata": {"labels": dict(LABELS)},
                "spec": {
                    "serviceAccountName": NAME,
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": UID,
                        "runAsGroup": UID,
                        "fsGroup": UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [_container(port, image)],
                    "volumes": [
                        {"name": "var", "persistentVolumeClaim": {"claimName": NAME}},
                        {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
                    ],
                },
            },
        },
    }


def _policies(port: int) -> list[dict[str, Any]]:
    selector = {"matchLabels": dict(LABELS)}
    deny = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta("default-deny"),
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }
    allow = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(),
        "spec": {
            "podSelector": selector,
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"ports": [{"protocol": "TCP", "port": port}]}],
            "egress": [{"ports": [{"protocol": p, "port": n} for p, n in EGRESS_PORTS]}],
        },
    }
    return [deny, allow]


def manifests(settings: Settings, image: str) -> list[dict[str, Any]]:
    port = settings.server.port or PORT
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": NAME,
                "labels": {
                    **LABELS,
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                    "pod-security.kubernetes.io/audit": "restricted",
                    "pod-security.kubernetes.io/warn": "restricted",
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta(),
            "automountServiceAccountToken": False,
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": _meta(),
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "20Gi"}},
            },
        },
        _deployment(port, image),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(),
            "spec": {
                "type": "ClusterIP",
                "selector": dict(LABELS),
                "ports": [{"name": "https", "port": port, "targetPort": port, "protocol": "TCP"}],
            },
        },
        *_policies(port),
    ]


def render(settings: Settings, options: DeployOptions) -> str:
    """The manifests as one YAML stream (``kubectl apply -f``)."""
    header = (
        "# Generated by `lensguard deploy render kubernetes`; checked with kubernetes-validate\n"
        "# and checkov. Make the Secret first:\n"
        "#   kubectl -n lensguard create secret generic lensguard \\\n"
        '#     --from-literal=LENSGUARD_SECRET_KEY="$(lensguard secret generate)" ...\n'
        "# Media: the relay's ICE needs UDP to the pod; give devices and viewers TURN\n"
        "# (turn.urls), since a ClusterIP Service carries TCP only.\n"
    )
    return header + yaml.safe_dump_all(manifests(settings, options.image), sort_keys=False)
