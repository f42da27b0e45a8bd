"""Names of the generated JSON Schema files (shared by the models and the fast checks)."""

SCHEMA_BASE = "https://raw.githubusercontent.com/dpn-dev/dpn/main/schemas"
SCHEMA_FILES = {
    "blueprint": "blueprint.schema.json",
    "naming-values": "naming-values.schema.json",
    "naming-patterns": "naming-patterns.schema.json",
}
