"""aicmp's script sandbox: every BPMN/DMN expression and script runs through here.

Uploaded BPMN under Spiff's default environment is remote code execution
(../shared/docs/spiffworkflow-3.2-notes.md, sections 5 and 10); this package compiles with
RestrictedPython under a stricter policy and charges each call against a `Limits` budget;
`step_budget()` caps the sum of all calls made inside one process step.
"""

from .budget import Limits, StepBudget, step_budget
from .environment import SandboxEnvironment
from .errors import Problem, ScriptLimitExceeded, ScriptPolicyError
from .policy import check_source

__all__ = [
    "Limits", "Problem", "SandboxEnvironment", "ScriptLimitExceeded", "ScriptPolicyError", "StepBudget",
    "check_source", "step_budget",
]
