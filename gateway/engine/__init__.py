"""The durable background engine: DBOS (durable workflows and queues on SQLite or
PostgreSQL), chosen in docs/engine.md.

- `../jobs.py` (beside this package, as services enqueue work too): where the engine keeps
  its state, and enqueueing work from any process, API replicas included (DBOSClient).
- `workflows.py`: what runs: provider webhooks, reconciliation, deliveries, backfills, each
  a durable workflow whose steps are checkpointed, so a killed worker's job resumes.
- `worker.py`: a process's worker: DBOS launched, a heartbeat, the recovery of dead
  workers' jobs, and the schedule that enqueues reconciliations.
"""
