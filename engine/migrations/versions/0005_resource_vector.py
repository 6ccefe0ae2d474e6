"""resource vector: GPUs per accelerator model

Specs, application lines and order lines get ``gpus_by_model`` ({"H100": 8}) beside the
``gpu_count`` total; quota rows may be ``gpus:<model>`` (wider ``dimension``) and get ``capped``.

Data: every existing spec and line's ``gpu_model`` + ``gpu_count`` becomes its ``gpus_by_model``;
every existing quota row is capped (as it was); applications holding quota (reserved or
committed) book their GPUs per model too, at their organisation, every ancestor and the tenant,
and their ``reserved`` amounts name the models, so a later release or commit gives them back.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 15:42:25.941685
"""

import uuid
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import engine.models.base

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
LINE_TABLES = ('application_items', 'order_items', 'product_specs')
QUANTUM = Decimal('0.001')


def _lines(name):
    return sa.table(name, sa.column('id', sa.String), sa.column('gpu_model', sa.String),
                    sa.column('gpu_count', sa.Integer), sa.column('gpus_by_model', JSON))


quotas = sa.table('quotas', sa.column('id', sa.String), sa.column('tenant_id', sa.String),
                  sa.column('organization_id', sa.String), sa.column('dimension', sa.String),
                  sa.column('total', sa.Numeric(18, 3)), sa.column('used', sa.Numeric(18, 3)),
                  sa.column('in_process', sa.Numeric(18, 3)), sa.column('capped', sa.Boolean),
                  sa.column('updated_at', engine.models.base.UTCDateTime(timezone=True)))
applications = sa.table('applications', sa.column('id', sa.String), sa.column('tenant_id', sa.String),
                        sa.column('organization_id', sa.String), sa.column('quota_state', sa.String),
                        sa.column('reserved', JSON))
items = sa.table('application_items', sa.column('application_id', sa.String), sa.column('gpu_model', sa.String),
                 sa.column('gpu_count', sa.Integer), sa.column('quantity', sa.Integer))
organizations = sa.table('organizations', sa.column('id', sa.String), sa.column('path', sa.String))


def upgrade() -> None:
    # server defaults fill the existing rows ('{}', capped), and adding a column with one needs no
    # table rebuild on SQLite when it is a plain string (a rebuild of product_specs would trip the foreign
    # keys that point at it)
    for name in LINE_TABLES:
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.add_column(sa.Column('gpus_by_model', JSON, server_default='{}', nullable=False))
    with op.batch_alter_table('quotas', schema=None) as batch_op:
        batch_op.add_column(sa.Column('capped', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.alter_column('dimension',
               existing_type=sa.VARCHAR(length=24),
               type_=sa.String(length=120),
               existing_nullable=False)

    conn = op.get_bind()
    # a spec's or line's one GPU model becomes its per-model split
    for name in LINE_TABLES:
        table = _lines(name)
        for row in conn.execute(sa.select(table.c.id, table.c.gpu_model, table.c.gpu_count)
                                .where(table.c.gpu_model.is_not(None), table.c.gpu_count > 0)).all():
            conn.execute(table.update().where(table.c.id == row.id)
                         .values(gpus_by_model={row.gpu_model: row.gpu_count}))
    _book_held_gpus_per_model(conn)


def _book_held_gpus_per_model(conn) -> None:
    """Quota an application holds (in process while reserved, used once committed) per GPU model."""
    now = datetime.now(UTC)
    held = conn.execute(sa.select(applications).where(applications.c.quota_state.in_(('reserved', 'committed'))))
    for app in held.all():
        reserved = dict(app.reserved or {})
        if not Decimal(str(reserved.get('gpus') or 0)):
            continue
        per_model = defaultdict(Decimal)
        for line in conn.execute(sa.select(items).where(items.c.application_id == app.id,
                                                        items.c.gpu_model.is_not(None), items.c.gpu_count > 0)):
            per_model[line.gpu_model] += Decimal(line.gpu_count * line.quantity)
        if not per_model:
            continue
        path = conn.execute(sa.select(organizations.c.path).where(organizations.c.id == app.organization_id)).scalar()
        levels = [None, *[i for i in (path or '').split('/') if i]]
        attr = 'in_process' if app.quota_state == 'reserved' else 'used'
        for model, amount in sorted(per_model.items()):
            dim = f'gpus:{model}'
            for org in levels:
                where = (quotas.c.tenant_id == app.tenant_id, quotas.c.dimension == dim,
                         quotas.c.organization_id.is_(None) if org is None else quotas.c.organization_id == org)
                row = conn.execute(sa.select(quotas.c.id, quotas.c[attr]).where(*where)).first()
                if row is None:
                    conn.execute(quotas.insert().values(
                        id=str(uuid.uuid4()), tenant_id=app.tenant_id, organization_id=org, dimension=dim, total=0,
                        capped=False, updated_at=now, **{'used': 0, 'in_process': 0, attr: amount}))
                else:
                    conn.execute(quotas.update().where(quotas.c.id == row.id)
                                 .values(**{attr: Decimal(row[1]) + amount, 'updated_at': now}))
            reserved[dim] = str(amount.quantize(QUANTUM))
        conn.execute(applications.update().where(applications.c.id == app.id).values(reserved=reserved))


def downgrade() -> None:
    conn = op.get_bind()
    conn.execute(quotas.delete().where(quotas.c.dimension.like('gpus:%')))
    for app in conn.execute(sa.select(applications.c.id, applications.c.reserved)).all():
        reserved = dict(app.reserved or {})
        if any(k.startswith('gpus:') for k in reserved):
            conn.execute(applications.update().where(applications.c.id == app.id).values(
                reserved={k: v for k, v in reserved.items() if not k.startswith('gpus:')}))
    with op.batch_alter_table('quotas', schema=None) as batch_op:
        batch_op.alter_column('dimension',
               existing_type=sa.String(length=120),
               type_=sa.VARCHAR(length=24),
               existing_nullable=False)
        batch_op.drop_column('capped')
    for name in reversed(LINE_TABLES):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_column('gpus_by_model')
