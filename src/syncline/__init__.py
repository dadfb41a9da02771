"""syncline: the practice of building multimodal systems that survive real data, as software.

The catalog (``syncline.catalog``) is the hub; every capability reads and writes through it.
"""

__version__ = "0.1.0"
