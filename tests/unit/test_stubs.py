"""The committed stubs are exactly what protoc makes of proto/ today."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _load_generator():
    spec = importlib.util.spec_from_file_location("gen_proto", ROOT / "scripts" / "gen_proto.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_proto", module)
    spec.loader.exec_module(module)
    return module


def test_committed_stubs_match_a_fresh_generation(tmp_path: Path) -> None:
    generator = _load_generator()
    fresh = generator.generate(tmp_path)
    assert fresh, "protoc produced nothing"
    for path in fresh:
        relative = path.relative_to(tmp_path)
        committed = ROOT / relative
        assert committed.exists(), f"{relative} is generated but not committed; run scripts/gen_proto.py"
        assert committed.read_bytes() == path.read_bytes(), f"{relative} is stale; run scripts/gen_proto.py"


def test_wire_names_match_the_v1_contract() -> None:
    from scintirete_integrations._proto.scintirete.v1 import scintirete_pb2 as pb

    service = pb.DESCRIPTOR.services_by_name["ScintireteService"]
    assert service.full_name == "scintirete.v1.ScintireteService"
    assert len(service.methods) == 16
    search = pb.SearchRequest.DESCRIPTOR.fields_by_name
    assert {name: field.number for name, field in search.items()} == {
        "auth": 1,
        "db_name": 2,
        "collection_name": 3,
        "query_vector": 4,
        "top_k": 5,
        "ef_search": 6,
        "include_vector": 7,
    }
    assert pb.DistanceMetric.Value("INNER_PRODUCT") == 3
    item = pb.SearchResultItem.DESCRIPTOR.fields_by_name
    assert [item[n].number for n in ("vector", "distance", "id", "metadata")] == [1, 2, 3, 4]
