"""The ``pprl`` logger: library code logs here and never prints."""

import logging

logger = logging.getLogger("pprl")
logger.addHandler(logging.NullHandler())
