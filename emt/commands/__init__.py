"""The `emt` verbs, one module per verb group; each registers its parsers with ``register``."""
