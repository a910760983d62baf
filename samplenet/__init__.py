"""The sample network: a deterministic local federation of unit sites served on loopback.

``generate`` builds it, ``server`` serves it (``running_network`` / ``serve_forever``), ``export`` writes
the registry the hub imports and the ground truth tests compare against. While it runs, items can be
published (``generate.publish_item``, POST /_control/publish), and deleted at the source and brought
back (``deletion``, POST /_control/delete and /_control/restore).
"""

from samplenet.generate import generate_network, publish_item
from samplenet.model import SampleItem, SampleNetwork, SampleSite

__all__ = ["SampleItem", "SampleNetwork", "SampleSite", "generate_network", "publish_item"]
