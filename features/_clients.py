"""User agent -> (client family, client version).

Rules are tried in order and the first match wins, so tools that embed an SDK
(Terraform, Pulumi, Karpenter embed the Go SDK; the AWS CLI embeds botocore) come
before the SDKs they embed. The version is the tool's own, not its SDK's.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

__all__ = ["client_of"]

_V = r"/?v?(\d+(?:\.\d+){0,3}(?:[-.][0-9A-Za-z]+)?)"

_RULES: Final[tuple[tuple[str, re.Pattern[str]], ...]] = tuple(
    (family, re.compile(pattern, re.IGNORECASE))
    for family, pattern in (
        ("terraform", r"\bTerraform" + _V),
        ("terraform", r"terraform-provider-aws" + _V),
        ("pulumi", r"\bpulumi(?:-aws)?" + _V),
        ("pulumi", r"\bpulumi\b()"),
        ("karpenter", r"\bkarpenter(?:\.sh)?-?" + _V),
        ("karpenter", r"\bkarpenter\b()"),
        ("cloudformation", r"^cloudformation\.amazonaws\.com()$"),
        ("cloudformation", r"\bCloudFormation\b()"),
        ("aws-cli", r"\baws-cli" + _V),
        ("console", r"^(?:console|signin)(?:\.[a-z0-9-]+)*\.amazonaws\.com()$"),
        ("console", r"^\[?(?:S3Console|AWS Console)" + r"(?:/(\d+(?:\.\d+)*))?"),
        ("console", r"^AWS Internal()$"),
        ("console", r"^Mozilla/5\.0()"),
        ("boto3", r"\bBoto3" + _V),
        ("boto3", r"\bBotocore" + _V),
        ("aws-sdk-go", r"\baws-sdk-go(?:-v2)?" + _V),
        ("aws-sdk-java", r"\baws-sdk-java" + _V),
        ("aws-sdk-js", r"\baws-sdk-(?:js|nodejs)(?:-v3)?" + _V),
        ("aws-sdk-js", r"\baws-sdk-js-v3\b()"),
        ("aws-sdk-other", r"\baws-sdk-(?:dotnet|ruby|php|cpp|rust|kotlin|swift)[a-z0-9-]*" + _V),
        ("aws-sdk-other", r"\baws-(?:sdk-)?powershell" + _V),
        ("aws-service", r"^[a-z0-9-]+(?:\.[a-z0-9-]+)*\.amazonaws\.com()$"),
        ("aws-service", r"^AWS (?:Service|Internal)\b()"),
        ("gcloud", r"\bgcloud" + _V),
        ("gcloud", r"\bgoogle-cloud-sdk\b()"),
        ("google-sdk", r"\bgoogle-api-(?:go|python|java|nodejs)-client" + _V),
        ("google-sdk", r"\bgccl/" + r"(\d+(?:\.\d+){0,3})"),
        ("google-sdk", r"\bgcloud-(?:python|java|node|go)" + _V),
        ("azure-cli", r"\bAZURECLI" + _V),
        ("azure-powershell", r"\bAzurePowershell" + _V),
        ("azure-sdk", r"\bazsdk-[a-z]+-[a-z.-]+" + _V),
        ("azure-sdk", r"\bazure-sdk-for-[a-z]+" + _V),
        ("curl", r"^curl" + _V),
        ("python-requests", r"^python-requests" + _V),
    )
)


@lru_cache(maxsize=65536)
def client_of(user_agent: str | None) -> tuple[str, str | None]:
    """Return the client family and version a user agent names.

    Parameters
    ----------
    user_agent : str or None
        CloudTrail ``userAgent``.

    Returns
    -------
    tuple of (str, str or None)
        One of :data:`features.CLIENT_FAMILIES` and the tool's version when the
        agent states it. ``("unknown", None)`` without a user agent, ``("other",
        None)`` for agents no rule knows.

    Examples
    --------
    >>> client_of("aws-cli/2.15.30 Python/3.11.8 Linux/6.5 exe/x86_64.ubuntu.22")
    ('aws-cli', '2.15.30')
    >>> client_of("APN/1.0 HashiCorp/1.0 Terraform/1.7.4 terraform-provider-aws/5.40.0")
    ('terraform', '1.7.4')
    """
    if not user_agent:
        return "unknown", None
    for family, pattern in _RULES:
        match = pattern.search(user_agent)
        if match is not None:
            version = match.group(1) if match.groups() else None
            return family, version or None
    return "other", None
