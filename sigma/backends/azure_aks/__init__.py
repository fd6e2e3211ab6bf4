"""sigma-cli discovery leaf: the `sentinel` target of pySigma-pipeline-azure."""

from sigma_azure_aks.backend import SentinelBackend

backends = {"sentinel": SentinelBackend}

__all__ = ["SentinelBackend"]
