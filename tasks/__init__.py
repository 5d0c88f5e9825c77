"""Workers' side: models, the job state machine, the stage runner, pipelines and providers.

Nothing in `tasks` imports `webapp`; the web app imports from here.
"""
