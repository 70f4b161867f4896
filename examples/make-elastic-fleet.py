#!/usr/bin/env python3
"""Writes examples/elastic-fleet: Elastic connector documents of a deployment whose connectors
service last ran 8.7, and the specs cutover checks them against (the data sources' default
configurations and service types, copied from tests/fixtures/elastic). Run it after
regenerating those fixtures; what it writes is committed.
"""
import importlib.util
import json
import pathlib
import shutil

root = pathlib.Path(__file__).resolve().parent
fixtures = root.parent / "tests" / "fixtures" / "elastic"
fleet = root / "elastic-fleet"
spec = importlib.util.spec_from_file_location("documents", fixtures / "documents.py")
documents = importlib.util.module_from_spec(spec)
spec.loader.exec_module(documents)

CONNECTORS = [
    # One database, SSL on (8.7: ssl_disabled = false), a scheduled full sync waiting.
    dict(id="crm-mysql", name="CRM database", service_type="mysql",
         values={"host": "db.crm.internal", "port": "3306", "user": "crm_reader", "password": "s3cr3t-crm", "database": "crm",
                 "ssl_disabled": "false", "ssl_ca": "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ2\n-----END CERTIFICATE-----", "fetch_size": "100"},
         jobs=[{"job_type": "full", "trigger_method": "scheduled", "status": "pending"}]),
    # As created, SSL off (the 8.7 default).
    dict(id="inventory-mysql", name="Inventory", service_type="mysql",
         values={"host": "10.0.4.17", "user": "search", "password": "inventory-pw", "database": "inventory"}, jobs=[]),
    # A custom ingest pipeline, which 9.0 keeps.
    dict(id="orders-mysql", name="Orders", service_type="mysql",
         values={"host": "orders-db.internal", "user": "search", "password": "orders-pw", "database": "orders", "ssl_disabled": "true"},
         jobs=[], extra={"pipeline": {"extract_binary_content": True, "name": "orders-enrich", "reduce_whitespace": True, "run_ml_inference": False}}),
    # Two databases: 8.8 takes one per connector, so it is pinned until it is split.
    dict(id="reporting-mysql", name="Reporting", service_type="mysql",
         values={"host": "reports.internal", "user": "search", "password": "r3ports", "database": "sales,finance"}, jobs=[]),
]

connections = fleet / "connections"
if connections.exists():
    shutil.rmtree(connections)
connections.mkdir(parents=True)
for c in CONNECTORS:
    doc = documents.document(version="8.7.0", **c)
    (connections / f"{c['id']}.json").write_text(json.dumps(doc, indent=2) + "\n")

specs = fleet / "specs" / "elastic"
if specs.exists():
    shutil.rmtree(specs)
specs.mkdir(parents=True)
shutil.copy(fixtures / "service-types.json", specs / "service-types.json")
for version_dir in sorted(p for p in fixtures.iterdir() if p.is_dir()):
    for defaults in sorted(version_dir.glob("*.json")):
        target = specs / defaults.stem / f"{version_dir.name}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(defaults, target)
print(f"wrote {len(CONNECTORS)} connectors and the specs into {fleet}")
