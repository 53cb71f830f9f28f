"""digitbot: read handwritten digits from phone photos.

This package holds the light code every process shares: settings, Redis key names, the job
payload, domain errors and the command line. It imports neither telegram nor tensorflow.
"""

__version__ = "0.1.0"
