"""Resource lifecycles are consistent: nothing is used before it exists or after it is gone."""

from __future__ import annotations

from typing import Any


def _items(container: Any, key: str) -> list[str]:
    if not isinstance(container, dict):
        return []
    return [item[key] for item in container.get("items", []) if key in item]


def test_lifecycles_are_consistent(simulated, records) -> None:
    pre = simulated.manifest["preexisting"]
    instances = set(pre["instances"])
    volumes = set(pre["volumes"])
    snapshots = set(pre["snapshots"])
    images = set(pre["images"])
    gone: set[str] = set()
    problems: list[str] = []

    def need(pool: set[str], resource: str, record: dict[str, Any]) -> None:
        if resource not in pool or resource in gone:
            problems.append(f"{record['eventTime']} {record['eventName']} {resource}")

    checked = 0
    for record in records:
        if "errorCode" in record:
            continue
        name = record["eventName"]
        request = record["requestParameters"] or {}
        response = record["responseElements"] or {}
        if name == "RunInstances":
            instances.update(_items(response.get("instancesSet"), "instanceId"))
        elif name == "CreateFleet":
            item = response["CreateFleetResponse"]["fleetInstanceSet"]["item"]["instanceIds"][
                "item"
            ]
            instances.update(item if isinstance(item, list) else [item])
        elif name in ("StopInstances", "StartInstances", "RebootInstances", "TerminateInstances"):
            for instance in _items(request.get("instancesSet"), "instanceId"):
                need(instances, instance, record)
                checked += 1
                if name == "TerminateInstances":
                    gone.add(instance)
        elif name == "TerminateInstanceInAutoScalingGroup":
            need(instances, request["instanceId"], record)
            checked += 1
        elif name in ("ModifyInstanceAttribute", "CreateImage"):
            need(instances, request["instanceId"], record)
            checked += 1
            if name == "CreateImage":
                images.add(response["imageId"])
        elif name == "CreateVolume":
            if request.get("snapshotId"):
                need(snapshots, request["snapshotId"], record)
                checked += 1
            volumes.add(response["volumeId"])
        elif name in ("AttachVolume", "DetachVolume"):
            need(volumes, request["volumeId"], record)
            need(instances, request["instanceId"], record)
            checked += 2
        elif name == "DeleteVolume":
            need(volumes, request["volumeId"], record)
            gone.add(request["volumeId"])
        elif name == "CreateSnapshot":
            need(volumes, request["volumeId"], record)
            checked += 1
            snapshots.add(response["snapshotId"])
        elif name in (
            "DeleteSnapshot",
            "ModifySnapshotAttribute",
            "ListSnapshotBlocks",
            "GetSnapshotBlock",
        ):
            need(snapshots, request["snapshotId"], record)
            checked += 1
            if name == "DeleteSnapshot":
                gone.add(request["snapshotId"])
        elif name == "CopySnapshot":
            need(snapshots, request["sourceSnapshotId"], record)
            checked += 1
            snapshots.add(response["snapshotId"])
        elif name == "CopyImage":
            need(images, request["sourceImageId"], record)
            checked += 1
            images.add(response["imageId"])
        elif name in ("ModifyImageAttribute", "DeregisterImage"):
            need(images, request["imageId"], record)
            checked += 1
            if name == "DeregisterImage":
                gone.add(request["imageId"])
    assert checked > 100
    assert problems == []


def test_stops_precede_starts_of_the_same_instance(records) -> None:
    state: dict[str, str] = {}
    for record in records:
        if "errorCode" in record or record["eventName"] not in ("StopInstances", "StartInstances"):
            continue
        for item in record["responseElements"]["instancesSet"]["items"]:
            if record["eventName"] == "StartInstances":
                assert state.get(item["instanceId"], "stopped") == "stopped", record["eventTime"]
                state[item["instanceId"]] = "running"
            else:
                assert state.get(item["instanceId"], "running") == "running", record["eventTime"]
                state[item["instanceId"]] = "stopped"
