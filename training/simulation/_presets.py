"""Organisation presets: the small estate of the issue's user and a larger one.

A preset fixes the shape of the organisation (accounts, regions, activity, teams,
EKS clusters and their IRSA controllers, Lambda automation, where backups are
copied); the seed draws everything else. ``--accounts``, ``--regions`` and
``--scale`` override a preset's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from features import ConfigurationError

__all__ = ["CONTROLLERS", "LAMBDAS", "PRESETS", "Cluster", "OrgPreset", "preset"]

CONTROLLERS: Final = (
    "karpenter",
    "aws-load-balancer-controller",
    "ebs-csi-driver",
    "cluster-autoscaler",
    "airflow-worker",
)
"""IRSA controllers a cluster may run (see :mod:`._irsa`)."""

LAMBDAS: Final = (
    "instance-scheduler",
    "ci-runner-scaler",
    "ami-housekeeping",
    "backup-restore-test",
    "tag-compliance",
    "cost-optimizer",
)
"""Lambda automation an organisation may run (see :mod:`._lambdas`)."""


@dataclass(frozen=True, slots=True)
class Cluster:
    """An EKS cluster in the home region of the account with ``account`` role."""

    account: str
    name: str
    controllers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OrgPreset:
    """The shape of one organisation.

    Parameters
    ----------
    name : str
        ``small`` or ``large``.
    accounts : int
        Default number of accounts (the first of prod, staging, shared, dev,
        analytics, sandbox, backup).
    regions : tuple of str
        Default regions; the first is the home region, the second the disaster
        recovery region backups are copied to.
    scale : float
        Default activity multiplier.
    teams : tuple of str
        Teams of :data:`._roster.TEAMS` working there.
    clusters : tuple of Cluster
        EKS clusters and their IRSA controllers.
    lambdas : tuple of str
        Lambda automation (:data:`LAMBDAS`).
    gitlab_oidc : bool
        Whether a GitLab CI pipeline deploys through web identity too.
    summary : str
        One line for ``--help`` and the manifest.
    """

    name: str
    accounts: int
    regions: tuple[str, ...]
    scale: float
    teams: tuple[str, ...]
    clusters: tuple[Cluster, ...]
    lambdas: tuple[str, ...]
    gitlab_oidc: bool
    summary: str


_MAIN: Final = ("karpenter", "aws-load-balancer-controller", "ebs-csi-driver")

PRESETS: Final[dict[str, OrgPreset]] = {
    "small": OrgPreset(
        name="small",
        accounts=2,
        regions=("eu-central-1", "eu-west-1", "us-east-1"),
        scale=1.0,
        teams=("core",),
        clusters=(
            Cluster("prod", "main", _MAIN),
            Cluster("staging", "main", ("karpenter", "aws-load-balancer-controller")),
        ),
        lambdas=LAMBDAS[:5],
        gitlab_oidc=False,
        summary="two accounts (prod, staging), three regions, one team, two EKS clusters",
    ),
    "large": OrgPreset(
        name="large",
        accounts=7,
        regions=("eu-central-1", "eu-west-1", "us-east-1"),
        scale=1.5,
        teams=("core", "data", "us-platform"),
        clusters=(
            Cluster("prod", "main", _MAIN),
            Cluster("staging", "main", ("karpenter", "aws-load-balancer-controller")),
            Cluster(
                "analytics", "data", ("cluster-autoscaler", "ebs-csi-driver", "airflow-worker")
            ),
        ),
        lambdas=LAMBDAS,
        gitlab_oidc=True,
        summary="seven accounts (a backup account among them), three regions, three teams, "
        "three EKS clusters, more automation",
    ),
}
"""The organisation presets by name."""


def preset(name: str) -> OrgPreset:
    """Return the preset ``name`` or raise :class:`ConfigurationError` naming the known ones."""
    found = PRESETS.get(name)
    if found is None:
        raise ConfigurationError(
            f"unknown organisation {name!r}; expected one of: {', '.join(PRESETS)}"
        )
    return found
