"""The naming core: resource-type catalogue, configs and the name engine."""
