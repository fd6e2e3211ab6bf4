"""Compile Sigma rules about Azure into Microsoft Sentinel KQL and analytics rules."""

__version__ = "0.1.0"
