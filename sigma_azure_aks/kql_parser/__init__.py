"""Microsoft's Kusto parser (npm ``@kusto/language-service-next``), run offline from Python."""
