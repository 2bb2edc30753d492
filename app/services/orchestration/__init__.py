"""Orchestration: the task and action-plan state machines (`state_machines`, `transitions`), work
items and action plans, SLA clocks and calendars, the outbox relay, the event catalogue, automation
rules, alerts and webhooks, and the /metrics exposition."""
