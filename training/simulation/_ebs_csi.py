"""The EBS CSI driver: claim volumes following their pods (IRSA, Go SDK v2, ``aws-go-sdk-``)."""

from __future__ import annotations

from training.simulation import _calls as calls
from training.simulation._actors import curve, poisson
from training.simulation._ec2_actions import describe, on_drain
from training.simulation._engine import Resource, Simulation, Zone
from training.simulation._ids import resource_id
from training.simulation._irsa import Controller
from training.simulation._time import HOUR, MINUTE

__all__ = ["EbsCsiDriver"]


class EbsCsiDriver(Controller):
    """The EBS CSI driver: volumes of persistent volume claims, following their pods."""

    name = "ebs-csi-driver"

    def __init__(
        self,
        sim: Simulation,
        zone: Zone,
        cluster: str,
        *,
        start: int | None = None,
        label: tuple[str, str] | None = None,
    ) -> None:
        super().__init__(sim, zone, cluster, label=label)
        org = sim.org
        self.volumes: list[str] = []
        self.rate = 1.5 * org.scale * (1.0 if zone.account.role == "prod" else 0.5)
        on_drain(sim, zone, self.drain)
        first = org.start if start is None else start
        sim.at(first, self.install)
        for hour in range(first - first % HOUR + HOUR, org.end, HOUR):
            sim.at(hour + self.rng.randrange(HOUR), self.hourly)

    def _nodes(self, t: int, az: str | None = None) -> list[Resource]:
        return self.zone.usable(
            self.zone.instances,
            t,
            lambda r: (
                r.state == "running"
                and bool(r.attrs.get("karpenter") or r.attrs.get("asg") == f"eks-{self.cluster}")
                and (az is None or r.attrs.get("az") == az)
            ),
        )

    def install(self, t: int) -> None:
        """Start: describe what exists, then provision the claims already pending."""
        caller = self.caller(t)
        describe(self.sim, t, caller, self.zone, "DescribeAvailabilityZones")
        describe(self.sim, t + 2, caller, self.zone, "DescribeVolumes")
        for offset in range(self.rng.randrange(2, 5)):
            self.create(t + 30 + offset * self.rng.randrange(20, 90))

    def hourly(self, t: int) -> None:
        """Provision, move and delete volumes at the rate of the hour's scheduling."""
        level = max(0.15, curve(t, "Europe/Berlin"))
        for _ in range(poisson(self.rng, self.rate * level)):
            self.sim.at(t + self.rng.randrange(0, 50 * MINUTE), self.create)
        for _ in range(poisson(self.rng, 2 * self.rate * level)):
            self.sim.at(t + self.rng.randrange(0, 50 * MINUTE), self.move)
        for _ in range(poisson(self.rng, self.rate * level)):
            self.sim.at(t + self.rng.randrange(0, 50 * MINUTE), self.delete)

    def create(self, t: int) -> None:
        """``CreateVolume`` for a new claim, then attach it to a node of its zone."""
        nodes = self._nodes(t)
        if not nodes:
            return
        node = self.rng.choice(nodes)
        az, rng, caller = str(node.attrs["az"]), self.rng, self.caller(t)
        volume_id = resource_id("vol", rng)
        claim = f"pvc-{rng.getrandbits(128):032x}"
        size = rng.choice((8, 20, 50, 100))
        request, response = calls.create_volume(
            volume_id,
            zone=az,
            size=size,
            created=t,
            tags={
                "CSIVolumeName": claim,
                "ebs.csi.aws.com/cluster": "true",
                f"kubernetes.io/cluster/{self.cluster}": "owned",
            },
        )
        if not self.sim.call(t, caller, self.zone, "CreateVolume", request, response):
            return
        describe(self.sim, t + 2, caller, self.zone, "DescribeVolumes", [volume_id])
        self.zone.volumes[volume_id] = Resource(
            volume_id, t, t, "available", {"az": az, "csi": True, "size": size}
        )
        self.volumes.append(volume_id)
        self._attach(t + rng.randrange(5, 30), volume_id, node)

    def _attach(self, t: int, volume_id: str, node: Resource) -> None:
        volume = self.zone.volumes[volume_id]
        first, second = self.rng.randrange(15), self.rng.randrange(8)
        device = f"/dev/xvd{'bcdefghijklmnop'[first]}{'abcdefgh'[second]}"
        request, response = calls.attach_volume(volume_id, node.id, device, t)
        self.sim.call(t, self.caller(t), self.zone, "AttachVolume", request, response)
        volume.state, volume.last = "in-use", t
        volume.attrs.update(instance=node.id, device=device)
        node.last = max(node.last, t)

    def _detach(self, t: int, volume: Resource) -> None:
        node = self.zone.instances.get(str(volume.attrs.get("instance")))
        volume.attrs["instance"] = None
        volume.state, volume.last = "available", t
        if node is None:
            return
        request, response = calls.detach_volume(volume.id, node.id, str(volume.attrs["device"]), t)
        self.sim.call(t, self.caller(t), self.zone, "DetachVolume", request, response)

    def _mine(self, t: int, attached: bool) -> list[Resource]:
        found = []
        for volume_id in self.volumes:
            volume = self.zone.volumes.get(volume_id)
            if (
                volume is not None
                and volume.last <= t
                and bool(volume.attrs.get("instance")) == attached
            ):
                found.append(volume)
        return found

    def move(self, t: int) -> None:
        """Move a pod: detach its volume and attach it to another node of the same zone."""
        candidates = self._mine(t, attached=True) + self._mine(t, attached=False)
        if not candidates:
            return
        volume = self.rng.choice(candidates)
        nodes = [
            n
            for n in self._nodes(t, str(volume.attrs["az"]))
            if n.id != volume.attrs.get("instance")
        ]
        if not nodes:
            return
        self._detach(t, volume)
        self._attach(t + self.rng.randrange(10, 60), volume.id, self.rng.choice(nodes))

    def delete(self, t: int) -> None:
        """Delete a claim: detach its volume if attached, then delete it."""
        candidates = self._mine(t, attached=True) + self._mine(t, attached=False)
        if len(candidates) <= 2:
            return
        volume = self.rng.choice(candidates)
        when = t
        if volume.attrs.get("instance"):
            self._detach(t, volume)
            when += self.rng.randrange(10, 40)
        request, response = calls.delete_volume(volume.id)
        self.sim.call(when, self.caller(when), self.zone, "DeleteVolume", request, response)
        del self.zone.volumes[volume.id]
        self.volumes.remove(volume.id)

    def drain(self, t: int, instance_id: str) -> None:
        """Detach this driver's volumes from a node about to be terminated."""
        for volume in self._mine(t, attached=True):
            if volume.attrs.get("instance") == instance_id:
                self._detach(t, volume)
