from tests.fakeslack import *  # noqa: F403 - TEMP shim
