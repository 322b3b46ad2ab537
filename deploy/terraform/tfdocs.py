#!/usr/bin/env python3
"""Generate the Inputs/Outputs tables of deploy/terraform/README.md.

The README holds blocks

    <!-- BEGIN_TF_DOCS module=modules/kafka -->
    ...generated...
    <!-- END_TF_DOCS -->

and this script rewrites each block from the module's variables.tf and
outputs.tf (a small parser for the subset of HCL those files use: one
attribute per line, brackets balanced). `--check` exits 1 when the README is
out of date (tests/deploy/run.sh runs it), so the tables cannot drift.

Usage: tfdocs.py [--check]      (run from anywhere; stdlib only)
"""
import pathlib
import re
import sys

HERE = pathlib.Path(__file__).resolve().parent
README = HERE / "README.md"
BLOCK = re.compile(r"(<!-- BEGIN_TF_DOCS module=(\S+) -->\n)(.*?)(<!-- END_TF_DOCS -->)", re.S)


def blocks(text, kind):
    """Yield (name, body) of every top-level `kind "name" { ... }` block."""
    for m in re.finditer(r'^%s "([^"]+)" \{\n' % kind, text, re.M):
        depth, i = 1, m.end()
        while depth and i < len(text):
            c = text[i]
            if c == '"':
                i += 1
                while text[i] != '"':
                    i += 2 if text[i] == "\\" else 1
            elif c in "{[(":
                depth += 1
            elif c in "}])":
                depth -= 1
            i += 1
        yield m.group(1), text[m.end():i - 1]


def attr(body, name):
    """Value text of a top-level attribute (may span lines until brackets balance)."""
    lines = body.split("\n")
    for n, line in enumerate(lines):
        m = re.match(r"^  %s\s*=\s*(.*)$" % name, line)
        if not m:
            continue
        value = m.group(1)
        while value.count("{") + value.count("[") + value.count("(") > \
                value.count("}") + value.count("]") + value.count(")"):
            n += 1
            value += "\n" + lines[n]
        return value.strip()
    return None


def unquote(s):
    if s and s.startswith('"') and s.endswith('"'):
        return s[1:-1].replace('\\"', '"')
    return s


def cell(s):
    s = re.sub(r"\s+", " ", s or "").strip()
    return s.replace("|", "\\|")


def render(module):
    d = HERE / module
    out = ["#### Inputs", "", "| Name | Description | Type | Default | Required |",
           "|------|-------------|------|---------|:--------:|"]
    text = (d / "variables.tf").read_text()
    for name, body in sorted(blocks(text, "variable")):
        default = attr(body, "default")
        out.append("| `%s` | %s | `%s` | %s | %s |" % (
            name, cell(unquote(attr(body, "description"))), cell(attr(body, "type")),
            "`%s`" % cell(default) if default is not None else "n/a",
            "no" if default is not None else "yes"))
    out += ["", "#### Outputs", "", "| Name | Description |", "|------|-------------|"]
    text = (d / "outputs.tf").read_text()
    for name, body in sorted(blocks(text, "output")):
        out.append("| `%s` | %s |" % (name, cell(unquote(attr(body, "description")))))
    return "\n".join(out) + "\n"


def main():
    check = "--check" in sys.argv[1:]
    old = README.read_text()
    new = BLOCK.sub(lambda m: m.group(1) + render(m.group(2)) + m.group(4), old)
    if check:
        if new != old:
            print("deploy/terraform/README.md is out of date: run deploy/terraform/tfdocs.py")
            return 1
        return 0
    README.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
