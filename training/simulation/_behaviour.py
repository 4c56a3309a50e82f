"""Benign activity: who does what, when, from where, with which tool.

Actors and their rhythm (``scale`` multiplies machine volume, its square root human
volume):

* **Auto Scaling** (service-linked role, invoked by ``autoscaling.amazonaws.com``):
  hourly, each group follows the day curve of its region's customers, launching and
  terminating instances; new instances bootstrap through their instance profile.
* **EKS controllers** (IRSA web-identity roles, :mod:`._irsa`): Karpenter, the AWS
  Load Balancer Controller, the EBS CSI driver, cluster-autoscaler, Airflow workers;
  sessions renewed every hour or so, changes all day.
* **AWS Backup** (service role, :mod:`._backup`): snapshots every backed-up volume at
  night, copies production's to the backup account or the disaster-recovery region,
  deletes what is older than the retention.
* **Monitoring vendor** (cross-account role from the vendor's network): polls every
  account and region every few minutes; most of the read-only noise.
* **AWS Config** (service-linked role): describes what every write changed.
* **Terraform pipeline** (``deploy-terraform`` from the CI runners): ``plan`` (reads)
  on workdays at any hour, ``apply`` (writes) only inside approved windows, never in
  a freeze or on a holiday.
* **Hosted CI** (GitHub Actions, GitLab CI; :mod:`._cicd`): application deploys, one
  web-identity session per run; the weekly golden-AMI build.
* **Lambda automation** (:mod:`._lambdas`): the instance scheduler, the CI-runner
  scaler, AMI housekeeping, the restore test, tag compliance, the cost optimiser.
* **People** (IAM Identity Center): workdays of their country, business hours of
  their time zone, office or home network by weekday, console or CLI; changes in
  production by administrators (planned work under a ticket); one data scientist
  launches GPU instances; the on-call administrator's night and weekend fixes
  (:mod:`._oncall`).
* **Legacy IAM user** (``ops-legacy``): a cron script daily, a clean-up weekly, a
  person now and then with its key.
* **Break-glass user**: one drill in the baseline.
"""

from __future__ import annotations

import random
from datetime import date

from training.simulation._backup import Backup
from training.simulation._cicd import GitHubDeploys, GitLabDeploys
from training.simulation._clusters import start_clusters
from training.simulation._engine import Simulation
from training.simulation._golden_ami import GoldenAmi
from training.simulation._inventory import ASGS
from training.simulation._lambdas import start_lambdas
from training.simulation._machines import AutoScalingGroup, ConfigRecorder, Monitor
from training.simulation._oncall import OnCall
from training.simulation._people import Human, Legacy, run_drill
from training.simulation._pipeline import Pipeline
from training.simulation._time import DAY, local_time, to_date

__all__ = ["start_behaviour"]


def start_behaviour(sim: Simulation) -> None:
    """Create every benign actor of the organisation and schedule its activity."""
    org = sim.org
    sim.registry["boot-rng"] = random.Random(f"boot:{org.seed}")
    sim.followups = ConfigRecorder(sim)
    interval = max(60, int(900 / max(0.05, org.scale)))
    for (_, region), zone in sorted(sim.zones.items(), key=lambda item: (item[0][0], item[0][1])):
        role = zone.account.role
        for name, base, amplitude, kind in ASGS.get(role, ()):
            if region == org.regions[0] or name == "web":
                AutoScalingGroup(sim, zone, name, base, amplitude, kind)
        if any(v.attrs.get("backup") for v in zone.volumes.values()):
            Backup(sim, zone)
        Monitor(sim, zone, interval)
    start_clusters(sim)
    Pipeline(sim)
    GitHubDeploys(sim)
    GoldenAmi(sim)
    if org.preset.gitlab_oidc:
        GitLabDeploys(sim)
    start_lambdas(sim)
    for person in org.people:
        if person.kind != "new-hire":
            Human(sim, person)
    OnCall(sim)
    Legacy(sim)
    baseline_days = (org.test_start - org.start) // DAY
    if baseline_days >= 6:
        day = to_date(org.start + (baseline_days // 2) * DAY)
        while day.weekday() != 2:
            day = date.fromordinal(day.toordinal() + 1)
        t = local_time(day, 14.5, "Europe/Berlin")
        if t < org.test_start:
            sim.at(t, run_drill, sim)
