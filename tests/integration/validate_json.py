#!/usr/bin/python3
"""Validates a JSON document against a JSON Schema (draft 2020-12).

Usage: validate_json.py SCHEMA DOCUMENT. Exit 0 valid, 1 invalid (errors printed),
77 when python3-jsonschema is not installed (the test then skips).
"""
import json
import sys

try:
    import jsonschema
except ImportError:
    print("python3-jsonschema is not installed", file=sys.stderr)
    sys.exit(77)

with open(sys.argv[1]) as f:
    schema = json.load(f)
with open(sys.argv[2]) as f:
    doc = json.load(f)
validator = jsonschema.Draft202012Validator(schema)
errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
for e in errors:
    print("/".join(str(p) for p in e.path) + ": " + e.message, file=sys.stderr)
sys.exit(1 if errors else 0)
