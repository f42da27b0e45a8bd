"""The resource-type reference (docs/resource-types.md), generated from the catalogue.

python -m dpn_action.naming.reference > docs/resource-types.md
"""

from __future__ import annotations

from dpn_action.inputs import size_text
from dpn_action.naming.catalogue import CATALOGUE
from dpn_action.naming.rules import CLOUD, Rule
from dpn_action.naming.sources import DISAGREEMENTS, MODEL_NAMES

_SCOPES = {
    "global": "every AWS account (global)",
    "account": "the account",
    "region": "the account and region",
    "workspace": "the workspace",
    "metastore": "the metastore",
    "parent": "its parent",
}


def render() -> str:
    lines = [
        "# Resource types",
        "",
        "Generated from `dpn_action/naming/catalogue.py` (with `name_rules.py`, `ranges.py` "
        "and `sources.py`) by `python -m dpn_action.naming.reference`; a test fails when it "
        "drifts.",
        "",
        "Each naming rule says whose it is:",
        "",
        "- **cloud**: a hard rule of the cloud; a create call with a name that breaks it is "
        "refused, so breaking it is an error.",
        "- **advice**: what the cloud's documentation recommends; **house**: dpn's own rule. "
        "Both are warnings, unless the rule's note gives the reason a name that breaks it "
        "would not work as planned: then they are errors, and say so.",
        "",
        "The AWS rules are taken from the API reference and botocore's service model of each "
        "type's create call (the name parameter's `min`, `max` and `pattern`); "
        "`tests/test_rule_sources.py` reads the installed botocore models and fails when a "
        "bound or pattern there differs from the cloud rules here without a recorded reason. "
        "The test extra pins the botocore it reads (`pyproject.toml`), so a new botocore is "
        "taken on deliberately: move the pin, run the test, record what changed. "
        "The Databricks rules are taken from the REST API reference and the SDK's docstrings. "
        "Where sources disagree, dpn takes the stricter reading; each type lists the cases.",
        "",
        "| type | blueprint collection | default pattern | unique in |",
        "|---|---|---|---|",
    ]
    for t in CATALOGUE.values():
        case = ", ignoring case" if t.case_insensitive else ""
        lines.append(
            f"| `{t.key}` | `{t.collection_label}` | `{t.pattern}` | "
            f"{_SCOPES[t.unique_scope]}{case} |"
        )
    lines.append("")
    for t in CATALOGUE.values():
        lines += [f"## `{t.key}` — {t.title}", ""]
        lines.append(
            f"- Pattern: `{t.pattern}`; required: "
            + (", ".join(f"`{v}`" for v in sorted(t.required)) or "none")
            + ("; optional: " + ", ".join(f"`{v}`" for v in t.optional) if t.optional else "")
            + (
                "; defaults: " + ", ".join(f"`{k}: {v}`" for k, v in t.defaults.items())
                if t.defaults
                else ""
            )
        )
        lines.append(
            f"- Values are normalised to `[{t.value_chars}]`"
            + (" in lower case" if t.lowercase else "")
            + f", separator `{t.separator}`."
        )
        if t.refs:
            lines.append(
                "- References: " + ", ".join(f"`{f}` → `{target}`" for f, target in t.refs.items())
            )
        if t.properties:
            lines.append("- Creation properties: " + ", ".join(f"`{p}`" for p in t.properties))
        for prop, keys in t.object_keys.items():
            lines.append(
                f"- `{prop}` takes only the keys "
                + ", ".join(f"`{k}`" for k in keys)
                + " (the SDK builds it from those and drops any other, so another key is "
                "`DPN011`)"
            )
        for f in t.local_files:
            lines.append(
                f"- `{f.label}` names a file: relative to the blueprint, inside the repository, "
                f"a regular file of at most {size_text(f.max_bytes)} ([source]({f.source}))"
            )
        model = MODEL_NAMES.get(t.key)
        if model is not None:
            lines.append(
                f"- Name parameter: `{model.label}` in botocore's service model "
                f"([API reference]({model.reference}))"
            )
        lines.append("- Rules:")
        for r in t.rules:
            lines.append(f"  - {_rule_line(r)}")
        disagreements = DISAGREEMENTS.get(t.key, ())
        if disagreements:
            lines.append("- Where sources disagree:")
            for d in disagreements:
                lines.append(f"  - {d.aspect}: {d.says}. dpn: {d.choice}, because {d.reason}.")
        lines.append("")
        if t.ranges:
            lines += [
                "Numeric settings: the range the cloud accepts (a value outside it, or not a "
                "whole number, is `DPN016`).",
                "",
                "| setting | allowed | source | note |",
                "|---|---|---|---|",
            ]
            for prop, rng in t.ranges.items():
                lines.append(
                    f"| `{prop}` | {rng.describe()} | [source]({rng.source}) | {rng.note} |"
                )
            lines.append("")
    return "\n".join(lines)


def _rule_line(r: Rule) -> str:
    line = f"{r.describe()} ([source]({r.source}))"
    if r.level == CLOUD:
        return line
    return f"*{r.level}, {r.severity.value}*: {line}: {r.note}"


if __name__ == "__main__":
    print(render())
