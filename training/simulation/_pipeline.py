"""The CI/CD pipeline running Terraform: plans at any business hour, applies only in windows."""

from __future__ import annotations

import random

from training.simulation import _calls as calls
from training.simulation import _calls_scaling as scaling
from training.simulation._actors import (
    DEPLOY_DAYS,
    DEPLOY_HOUR,
    DEPLOY_TZ,
    automation_caller,
    poisson,
)
from training.simulation._ec2_actions import describe, launch_request, pick_pet
from training.simulation._engine import Caller, Resource, Simulation, Zone
from training.simulation._ids import resource_id
from training.simulation._machines import AutoScalingGroup
from training.simulation._org import Account
from training.simulation._time import DAY, HOUR, MINUTE, is_workday, local_time, to_date

__all__ = ["Pipeline", "roll_out"]


class Pipeline:
    """The CI/CD pipeline running Terraform against every account."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        org = sim.org
        self.rng = random.Random(f"pipeline:{org.seed}")
        sim.registry["pipeline"] = self
        for day_start in range(org.start, org.end, DAY):
            day = to_date(day_start)
            if not is_workday(day, "DE"):
                continue
            for account in org.accounts:
                for _ in range(poisson(self.rng, 3.0 * org.scale)):
                    hour = self.rng.uniform(8.0, 19.0)
                    sim.at(local_time(day, hour, DEPLOY_TZ), self.plan, account)
            if day.weekday() in DEPLOY_DAYS:
                start = local_time(day, DEPLOY_HOUR, DEPLOY_TZ)
                if self.frozen(start):
                    continue
                for account in org.accounts:
                    for _ in range(self.rng.choice((1, 1, 2))):
                        sim.at(
                            start + self.rng.randrange(10 * MINUTE, 3 * HOUR + 20 * MINUTE),
                            self.apply,
                            account,
                            1,
                        )

    def frozen(self, t: int) -> bool:
        """Whether a freeze covers ``t``."""
        return any(f["start_epoch"] <= t < f["end_epoch"] for f in self.sim.freezes)

    def refresh(self, t: int, caller: Caller, zone: Zone, scale: float = 1.0) -> int:
        """Terraform's refresh: many reads in a minute or two; returns the time after it."""
        rng = self.rng
        count = max(4, round(rng.randrange(15, 40) * scale))
        instance_ids = list(zone.instances)[:50]
        when = t
        for _ in range(count):
            name = rng.choice(
                (
                    "DescribeInstances",
                    "DescribeSecurityGroups",
                    "DescribeSubnets",
                    "DescribeVpcs",
                    "DescribeLaunchTemplates",
                    "DescribeLaunchTemplateVersions",
                    "DescribeVolumes",
                    "DescribeInstanceAttribute",
                    "DescribeTags",
                    "DescribeImages",
                    "DescribeRouteTables",
                    "DescribeAccountAttributes",
                    "DescribeInstanceTypes",
                )
            )
            ids = (
                [rng.choice(instance_ids)]
                if instance_ids
                and name in ("DescribeInstances", "DescribeInstanceAttribute", "DescribeTags")
                else None
            )
            when += rng.randrange(0, 3)
            describe(self.sim, when, caller, zone, name, ids)
        return when

    def plan(self, t: int, account: Account) -> None:
        """``terraform plan``: reads only, at any business hour."""
        caller = automation_caller(self.sim.org, account, t, self.rng)
        for region in self.sim.org.regions:
            zone = self.sim.zones[(account.index, region)]
            t = self.refresh(t, caller, zone, 0.5) + self.rng.randrange(2, 15)

    def apply(self, t: int, account: Account, size: int) -> None:
        """``terraform apply`` inside a window (see :meth:`apply_until`)."""
        self.apply_until(t, account, size)

    def apply_until(self, t: int, account: Account, size: int) -> int:
        """``terraform apply`` inside a window: refresh, then ``size`` times 1-3 changes."""
        org, rng = self.sim.org, self.rng
        caller = automation_caller(org, account, t, rng)
        region = org.regions[0] if rng.random() < 0.75 else rng.choice(org.regions)
        zone = self.sim.zones[(account.index, region)]
        when = self.refresh(t, caller, zone)
        for _ in range(size * rng.choice((1, 1, 2, 3))):
            when += rng.randrange(2, 20)
            change = rng.choice(
                ("template", "template", "rule", "bastion", "volume", "tags", "tags", "cleanup")
            )
            when = getattr(self, f"_change_{change}")(when, caller, zone)
        return when

    def _change_template(self, t: int, caller: Caller, zone: Zone) -> int:
        groups = [
            g
            for g in zone.templates
            if g != "karpenter"
            and f"asg:{zone.account.index}:{zone.region}:{g}" in self.sim.registry
        ]
        if not groups:
            return self._change_tags(t, caller, zone)
        return roll_out(self.sim, self.rng, t, caller, zone, self.rng.choice(groups))

    def _change_rule(self, t: int, caller: Caller, zone: Zone) -> int:
        group = zone.groups[self.rng.choice(("web", "db", "worker"))]
        port = self.rng.choice((443, 5432, 8080, 9200))
        request, response = calls.authorize_ingress(
            self.rng, group, zone.account.id, port, f"10.{self.rng.randrange(0, 64)}.0.0/16"
        )
        self.sim.call(t, caller, zone, "AuthorizeSecurityGroupIngress", request, response)
        return t + 2

    def _change_bastion(self, t: int, caller: Caller, zone: Zone) -> int:
        rng = self.rng
        old = zone.pick(zone.instances, t, rng, lambda r: r.attrs.get("name") == "bastion")
        if old is None:
            return self._change_tags(t, caller, zone)
        subnet, az = zone.subnet(rng)
        new_id = resource_id("i", rng)
        tags = {"Name": "bastion", "ManagedBy": "terraform"}
        request, response = launch_request(
            rng, zone, [new_id], "t3.micro", (subnet, az), t, group="bastion", tags=tags
        )
        self.sim.call(t, caller, zone, "RunInstances", request, response)
        zone.instances[new_id] = Resource(
            new_id,
            t,
            t,
            "running",
            {
                "name": "bastion",
                "type": "t3.micro",
                "az": az,
                "subnet": subnet,
                "pet": True,
                "volumes": [],
            },
        )
        when = t + rng.randrange(60, 240)
        request, response = calls.state_change(
            "TerminateInstances", [old.id], "running", "shutting-down"
        )
        self.sim.call(when, caller, zone, "TerminateInstances", request, response)
        del zone.instances[old.id]
        return when + 2

    def _change_volume(self, t: int, caller: Caller, zone: Zone) -> int:
        rng = self.rng
        host = pick_pet(
            zone, t, rng, with_data=False, test=lambda r: len(r.attrs.get("volumes", ())) < 4
        )
        if host is None:
            return self._change_tags(t, caller, zone)
        volume_id = resource_id("vol", rng)
        size = rng.choice((50, 100, 200))
        request, response = calls.create_volume(
            volume_id,
            zone=host.attrs["az"],
            size=size,
            created=t,
            tags={"Name": f"{host.attrs.get('name')}-data", "ManagedBy": "terraform"},
        )
        self.sim.call(t, caller, zone, "CreateVolume", request, response)
        when = t + rng.randrange(10, 40)
        device = f"/dev/sd{'fghijk'[len(host.attrs['volumes'])]}"
        request, response = calls.attach_volume(volume_id, host.id, device, when)
        self.sim.call(when, caller, zone, "AttachVolume", request, response)
        zone.volumes[volume_id] = Resource(
            volume_id,
            t,
            when,
            "in-use",
            {
                "size": size,
                "az": host.attrs["az"],
                "instance": host.id,
                "device": device,
                "backup": True,
                "terraform": True,
            },
        )
        host.attrs["volumes"].append(volume_id)
        host.last = when
        return when + 2

    def _change_cleanup(self, t: int, caller: Caller, zone: Zone) -> int:
        rng = self.rng
        volume = zone.pick(
            zone.volumes, t, rng, lambda v: bool(v.attrs.get("terraform")) and v.created < t - DAY
        )
        if volume is None:
            return self._change_volume(t, caller, zone)
        host = zone.instances.get(str(volume.attrs.get("instance")))
        if host is None or host.last > t:
            return self._change_tags(t, caller, zone)
        request, response = calls.detach_volume(volume.id, host.id, str(volume.attrs["device"]), t)
        self.sim.call(t, caller, zone, "DetachVolume", request, response)
        when = t + rng.randrange(20, 60)
        request, response = calls.delete_volume(volume.id)
        self.sim.call(when, caller, zone, "DeleteVolume", request, response)
        del zone.volumes[volume.id]
        host.attrs["volumes"].remove(volume.id)
        host.last = t
        return when + 2

    def _change_tags(self, t: int, caller: Caller, zone: Zone) -> int:
        rng = self.rng
        found = zone.usable(zone.instances, t, lambda r: bool(r.attrs.get("pet")))
        if not found:
            return t
        chosen = rng.sample(found, k=min(len(found), rng.randrange(1, 4)))
        request, response = calls.create_tags(
            [r.id for r in chosen],
            {"CostCenter": rng.choice(("platform", "search", "data")), "ManagedBy": "terraform"},
        )
        self.sim.call(t, caller, zone, "CreateTags", request, response)
        for resource in chosen:
            resource.last = max(resource.last, t)
        return t + 2


def roll_out(
    sim: Simulation,
    rng: random.Random,
    t: int,
    caller: Caller,
    zone: Zone,
    group: str,
    *,
    refresh: bool | None = None,
) -> int:
    """Roll an Auto Scaling group onto a new launch-template version; return the time after.

    ``CreateLaunchTemplateVersion``, ``ModifyLaunchTemplate`` (new default),
    ``UpdateAutoScalingGroup`` and, half the time (or when ``refresh``),
    ``StartInstanceRefresh``, after which the group replaces up to three instances.
    Terraform applies and the application's deploy workflows roll out the same way.
    """
    template = zone.templates[group]
    template[2] = int(template[2]) + 1
    image = next(iter(zone.images))
    asg: AutoScalingGroup = sim.registry[f"asg:{zone.account.index}:{zone.region}:{group}"]
    request, response = calls.create_launch_template_version(
        str(template[0]),
        str(template[1]),
        int(template[2]),
        image,
        asg.kind,
        t,
        caller.identity["arn"],
    )
    sim.call(t, caller, zone, "CreateLaunchTemplateVersion", request, response)
    sim.call(
        t + 2,
        caller,
        zone,
        "ModifyLaunchTemplate",
        {
            "ModifyLaunchTemplateRequest": {
                "LaunchTemplateId": template[0],
                "SetDefaultVersion": str(template[2]),
            }
        },
        {
            "ModifyLaunchTemplateResponse": {
                "requestId": "",
                "launchTemplate": {
                    "launchTemplateId": template[0],
                    "launchTemplateName": template[1],
                    "defaultVersionNumber": template[2],
                    "latestVersionNumber": template[2],
                },
            }
        },
    )
    request, response = calls.update_asg(
        asg.full_name, str(template[0]), len(asg.members), asg.base, asg.base + asg.amplitude + 4
    )
    sim.call(
        t + 4,
        caller,
        zone,
        "UpdateAutoScalingGroup",
        request,
        response,
        source="autoscaling.amazonaws.com",
    )
    if (rng.random() < 0.5 if refresh is None else refresh) and asg.members:
        request, response = scaling.start_instance_refresh(asg.full_name, resource_id("x", rng)[2:])
        sim.call(
            t + 6,
            caller,
            zone,
            "StartInstanceRefresh",
            request,
            response,
            source="autoscaling.amazonaws.com",
        )
        asg.replace(t + 120, min(3, len(asg.members)))
    return t + 8
