"""Demo data for the embedded default: tenants and the product's processes from bpmn/ and forms/."""

from seed.demo import seed

__all__ = ["seed"]
