"""Orchestration: the task and action-plan state machines (`transitions`), work items and action
plans, SLA clocks and calendars, the outbox relay, automation rules, alerts and webhooks."""
