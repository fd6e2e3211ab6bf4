"""sigma-cli discovery leaf: the `sentinel` target of pySigma-pipeline-azure.

sigma-cli names a target's plugin after the module its class is defined in (`sigma.backends.<plugin>`),
so the target is listed through a subclass defined here: `sigma list targets` shows `azure_aks`.
"""

from sigma_azure_aks import backend as _backend


class SentinelBackend(_backend.SentinelBackend):
    """Microsoft Sentinel KQL with exact Sigma semantics (identifier `sentinel`), as sigma-cli lists it."""


backends = {"sentinel": SentinelBackend}

__all__ = ["SentinelBackend"]
