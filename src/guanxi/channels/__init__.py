"""Channel connectors behind one contract (:mod:`guanxi.channels.base`).

Importing this package registers every connector, so ``connector_for(kind)`` knows them all.
A new connector lives in ``channels/<name>/``, decorates its class with ``@register`` and is
imported here; the contract test in ``tests/channels/test_contract.py`` then runs against it.
"""

import guanxi.channels.email.connector
import guanxi.channels.sandbox.connector  # noqa: F401 - the imports register the connectors
from guanxi.channels.base import REGISTRY, connector_for

__all__ = ["REGISTRY", "connector_for"]
