"""The one connector interface: the registry builds connectors by type name and says clearly
when a module is absent; errors carry distinct BPMN codes; values are validated and exact."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors import base, errors, registry
from connectors.base import Capacity, ResourceSpec, accelerator_profile, check_client_token, normalise_gpu_model


def test_every_provider_type_is_listed_and_every_present_module_implements_the_interface():
    assert registry.provider_types() == ["aws", "kubernetes", "nvml", "openstack", "simulator", "vsphere"]
    for name in ("simulator", "aws"):
        cls = registry.connector_class(name)
        assert issubclass(cls, base.Connector) and cls.provider_type == name and not cls.__abstractmethods__


def test_an_unknown_type_or_a_missing_module_is_a_clear_error(monkeypatch):
    with pytest.raises(errors.UnknownProvider, match="no connector for provider type 'gcp'"):
        registry.connect("gcp", None, None, {})
    monkeypatch.setitem(registry.PROVIDERS, "ghost", "connectors.ghost:GhostConnector")
    with pytest.raises(errors.UnknownProvider, match="connectors.ghost is not installed") as missing:
        registry.connect("ghost", "x", None, {})
    assert missing.value.code == "CONNECTOR_UNKNOWN_PROVIDER"
    monkeypatch.setitem(registry.PROVIDERS, "notaclass", "connectors.base:Status")
    with pytest.raises(errors.UnknownProvider, match="not a connectors.base.Connector"):
        registry.connect("notaclass", "x", None, {})


def test_missing_credentials_are_unauthorised_and_never_printed():
    with pytest.raises(errors.Unauthorised, match="lack secret_access_key"):
        registry.connect("aws", None, "us-east-1", {"access_key_id": "AKIA"})
    connector = registry.connect("simulator", "sim://x", None, {"api_key": "do-not-print-me"}, {"state_path": "/tmp/x"})
    assert "do-not-print-me" not in repr(connector) and "do-not-print-me" not in str(vars(connector).get("options"))


def test_errors_have_distinct_codes_retry_flags_and_survive_a_round_trip():
    codes = [cls.code for cls in errors.ERRORS]
    assert len(codes) == len(set(codes)) and all(c.startswith("CONNECTOR_") for c in codes)
    assert {cls.__name__ for cls in errors.ERRORS if cls.retryable} == {"Unreachable", "Timeout"}
    for cls in (errors.Unreachable, errors.Unauthorised, errors.ProviderQuotaExceeded, errors.NotFound,
                errors.Conflict, errors.Timeout):
        assert issubclass(cls, errors.ConnectorError)
        back = errors.from_dict(cls("m", provider="p", details={"k": 1}).as_dict())
        assert type(back) is cls and back.message == "m" and back.details == {"k": 1}


@pytest.mark.parametrize("token", ["", "x" * 65, "has space", None, 7, "semi;colon"])
def test_bad_client_tokens_are_refused(token):
    with pytest.raises(ValueError, match="client_token"):
        check_client_token(token)


def test_a_client_token_fits_every_provider():
    assert check_client_token("app-1:line-2.attempt_3") == "app-1:line-2.attempt_3"


def test_resource_spec_reads_exact_values_and_names_a_bad_field():
    spec = ResourceSpec.from_dict({"name": " vm ", "vcpu": 4, "memory_gib": "7.5", "gpus_by_model": {"H100": 2}})
    assert spec.name == "vm" and spec.memory_gib == Decimal("7.5") and spec.gpu_count == 2
    assert ResourceSpec.from_dict(spec.to_dict()) == spec
    for bad, field in (({"name": "v", "memory_gib": 1.5}, "memory_gib"), ({"name": "v", "vcpu": -1}, "vcpu"),
                       ({"name": ""}, "name"), ({"name": "v", "gpus_by_model": {"a:b": 1}}, "gpus_by_model")):
        with pytest.raises(ValueError, match=field):
            ResourceSpec.from_dict(bad)


def test_accelerator_names_and_kinds():
    assert normalise_gpu_model("NVIDIA H100 80GB HBM3") == "H100"
    assert normalise_gpu_model("NVIDIA A100-SXM4-40GB") == "A100"
    assert normalise_gpu_model("Tesla T4") == "T4"
    assert normalise_gpu_model("NVIDIA H200") == "H200"
    assert normalise_gpu_model("Some New Card") == "Some New Card"
    assert accelerator_profile("Ascend 910B") == (base.AcceleratorKind.NPU, base.AcceleratorUse.TRAINING)
    assert accelerator_profile("T4")[1] == base.AcceleratorUse.INFERENCE


def test_capacity_dimensions_use_the_vector_terms():
    cap = Capacity(scope="z", vcpu=base.Amounts(Decimal(8), Decimal(2)), accelerators=(
        base.AcceleratorCapacity("H100", base.Amounts(Decimal(4), Decimal(1))),
        base.AcceleratorCapacity("A100", base.Amounts(Decimal(2), Decimal(2)))))
    dims = cap.dimensions()
    assert list(dims) == ["vcpu", "memory_gib", "disk_gib", "gpus", "gpus:H100", "gpus:A100"]
    assert dims["gpus"].total == 6 and dims["gpus"].free == 3 and dims["vcpu"].free == 6
