"""Time the change calendar and every rule on a synthetic batch of canonical events.

.venv/bin/python -P bench/rules.py [N]   (-P: bench/features.py must not shadow the package)
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from models.scoring import RULES, RuleContext, parse_policy

POLICY = (
    """\
version: 1
timezone: Europe/Berlin
organization: {accounts: ['111122223333']}
windows:
  - {name: weekly-deploy, rrule: 'FREQ=WEEKLY;BYDAY=TU,TH;BYHOUR=10', duration: PT4H,
     scope: {identities: ['arn:aws:iam::*:role/deploy-*']}}
  - {name: nightly, cron: '0 2 * * *', duration: PT1H}
  - {name: weekdays, cron: '0 9 * * 1-5', duration: PT8H, scope: {regions: ['eu-*']}}
tickets:
"""
    + "".join(
        f"  - {{id: CHG-{i}, start: 2026-0{1 + i % 6}-1{i % 9}T10:00Z, end: 2026-0{1 + i % 6}-1{i % 9}T14:00Z,"
        f" owner: o, scope: {{resources: ['i-0{i:03d}*']}}}}\n"
        for i in range(200)
    )
    + """\
freezes:
  - {name: xmas, start: 2026-12-20, end: 2027-01-03}
automation:
  - {name: deploy, identities: ['arn:aws:iam::*:role/deploy-*'], clients: [terraform], networks: [10.0.0.0/8]}
"""
)


def synthetic(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-01-01", tz="UTC")
    times = start + pd.to_timedelta(np.sort(rng.integers(0, 180 * 86400, n)), unit="s")
    identities = np.array(
        [f"arn:aws:iam::111122223333:role/deploy-{i}" for i in range(20)]
        + [f"arn:aws:iam::111122223333:user/u{i}" for i in range(200)]
    )
    names = np.array(["RunInstances", "StopInstances", "TerminateInstances", "DescribeInstances"])
    actions = {
        "RunInstances": "create",
        "StopInstances": "stop",
        "TerminateInstances": "delete",
        "DescribeInstances": "read",
    }
    chosen = names[rng.integers(0, 4, n)]
    who = identities[rng.integers(0, len(identities), n)]
    return pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(n)],
            "event_time": times,
            "account_id": "111122223333",
            "region": np.array(["eu-central-1", "us-east-1"])[rng.integers(0, 2, n)],
            "event_source": "ec2.amazonaws.com",
            "event_name": chosen,
            "error_code": None,
            "resource_type": "instance",
            "action": [actions[x] for x in chosen],
            "is_compute_change": chosen != "DescribeInstances",
            "resource_ids": [[f"i-0{rng.integers(0, 999):03d}{'a' * 14}"] for _ in range(n)],
            "share_targets": [[] for _ in range(n)],
            "identity_key": who,
            "principal_arn": who,
            "identity_type": "AssumedRole",
            "by_service": False,
            "source_ip": "10.1.2.3",
            "network": "10.1.2.0/24",
            "client_family": "terraform",
            "client_version": "1.7.4",
            "user_agent": "Terraform/1.7.4",
        }
    )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    policy = parse_policy(POLICY)
    events = synthetic(n)
    history = synthetic(n, seed=1)
    history["event_time"] -= pd.Timedelta(days=200)
    tick = time.perf_counter()
    verdicts = policy.calendar.verdicts(events)
    took = time.perf_counter() - tick
    print(
        f"calendar.verdicts: {n} events in {took:.2f} s ({n / took:,.0f} events/s); "
        f"{verdicts['verdict'].value_counts().to_dict()}"
    )
    tick = time.perf_counter()
    context = RuleContext.build(history, policy=policy)
    print(f"RuleContext.build: history of {n} events in {time.perf_counter() - tick:.2f} s")
    for one in RULES:
        tick = time.perf_counter()
        hits = one(events, context)
        print(f"  {one.id:32s} {time.perf_counter() - tick:6.2f} s  {len(hits)} hits")


if __name__ == "__main__":
    main()
