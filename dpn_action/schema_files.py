"""Names of the generated JSON Schema files (shared by the models and the fast checks).

They are published at the release tag, so a file naming its schema names the schema of the
dpn release that wrote it; the tag comes from the one version, `dpn_action.__version__`.
"""

from dpn_action import __version__

SCHEMA_BASE = f"https://raw.githubusercontent.com/dpn-dev/dpn/v{__version__}/schemas"
SCHEMA_FILES = {
    "blueprint": "blueprint.schema.json",
    "naming-values": "naming-values.schema.json",
    "naming-patterns": "naming-patterns.schema.json",
}
