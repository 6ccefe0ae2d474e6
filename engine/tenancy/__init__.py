"""Tenancy: tenants, organisation trees, business systems, users, roles, quotas and data scope.

One module per kind of object. Each public function takes the Engine and the acting
``Principal``, runs one write transaction that also appends the audit entry, and keeps tenant
isolation: another tenant's object is NotFound (404), never "forbidden". Permission checks
(``resource:action``) are the HTTP layer's; the rules that depend on the data (a tenant user never
reaches another tenant, nobody grants permissions they do not hold, quotas never overcommit) are
enforced here.
"""
