"""task kind (ticket task / work item); one priority vocabulary (low, medium, high, critical)

Revision ID: 29847f5bf1f3
Revises: 853da17fae4e
Create Date: 2026-12-02 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

from app.models.base import JSONType


# revision identifiers, used by Alembic.
revision = '29847f5bf1f3'
down_revision = '853da17fae4e'
branch_labels = None
depends_on = None

# Frozen here (not imported) so this migration means the same thing whatever the code says later.
KIND_CHECK = ("(kind = 'ticket_task' AND ticket_id IS NOT NULL) OR "
              "(kind = 'work_item' AND ticket_id IS NULL)")
# The seeds' words for our priorities. Before this revision work items said `urgent` (and could not
# say `critical`), tickets and their tasks said `critical` (and could not say `urgent`).
ALIASES = {"urgent": "critical", "normal": "medium"}

_rules = sa.table("automation_rules", sa.column("id", sa.Integer), sa.column("condition", JSONType),
                  sa.column("actions", JSONType))


def _priority(value):
    if isinstance(value, str):
        return ALIASES.get(value.strip().lower(), value)
    if isinstance(value, list):
        return [_priority(v) for v in value]
    return value


def _condition(node):
    """A rule condition with its comparisons on a `…priority` field read in the one vocabulary."""
    if not isinstance(node, dict):
        return node
    for key in ("all", "any"):
        if isinstance(node.get(key), list):
            return {**node, key: [_condition(c) for c in node[key]]}
    if "not" in node:
        return {**node, "not": _condition(node["not"])}
    field = node.get("field")
    if isinstance(field, str) and field.rsplit(".", 1)[-1].lower() == "priority" and "value" in node:
        return {**node, "value": _priority(node["value"])}
    return node


def _actions(actions, read):
    if not isinstance(actions, list):
        return actions
    return [{**a, "priority": read(a["priority"])} if isinstance(a, dict) and a.get("type") == "create_task"
            and "priority" in a else a for a in actions]


def _rewrite_rules(conn, condition, actions) -> None:
    for rule_id, old_condition, old_actions in conn.execute(sa.select(_rules.c.id, _rules.c.condition,
                                                                      _rules.c.actions)).all():
        new_condition, new_actions = condition(old_condition), actions(old_actions)
        if (new_condition, new_actions) != (old_condition, old_actions):
            conn.execute(sa.update(_rules).where(_rules.c.id == rule_id)
                         .values(condition=new_condition, actions=new_actions))


def _work_item_word(value):
    return "urgent" if value == "critical" else value


def upgrade():
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), nullable=True))
    op.execute("UPDATE tasks SET kind = CASE WHEN ticket_id IS NULL THEN 'work_item' ELSE 'ticket_task' END")
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.alter_column('kind', existing_type=sa.String(length=16), nullable=False)
        batch_op.create_check_constraint(op.f('ck_tasks_kind_matches_ticket'), KIND_CHECK)

    for table in ("tasks", "tickets"):
        for alias, value in ALIASES.items():
            op.execute(f"UPDATE {table} SET priority = '{value}' WHERE LOWER(priority) = '{alias}'")
    _rewrite_rules(op.get_bind(), _condition, lambda actions: _actions(actions, _priority))


def downgrade():
    # Work items and rule actions could not say `critical` before: theirs was `urgent`. Conditions keep
    # `critical` (ticket tasks said it too).
    op.execute("UPDATE tasks SET priority = 'urgent' WHERE kind = 'work_item' AND priority = 'critical'")
    _rewrite_rules(op.get_bind(), lambda condition: condition, lambda actions: _actions(actions, _work_item_word))
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_tasks_kind_matches_ticket'), type_='check')
        batch_op.drop_column('kind')
