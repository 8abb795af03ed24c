"""The shared server's side: one settings loader for every server setting (settings.py) and the caps it reads
(limits.py), the job manager and its queue (jobs.py, job.py), the worker process and its protocol (worker.py,
protocol.py), and visitors' private workspaces (workspace.py).

May import: everything below it (config, text, model, runs, training, insight). Never TensorFlow: training runs in
the worker process, which imports it through training.trainer.
"""
