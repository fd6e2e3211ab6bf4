"""`python -m sigma_azure_aks.commands`: the `sigma-azure-aks` command."""

import sys

from . import main

sys.exit(main())
