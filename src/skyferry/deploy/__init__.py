"""``skyferry deploy``: each target's artifacts generated from the app's settings and services.

``model`` reads what the app needs (services, changed settings, secrets, tables); one module
per target renders it (``heroku``, ``docker``, ``sam``, ``web_adapter``, ``ecs``, ``kubernetes``,
``stepfunctions``) and checks its output offline with the tools that platform's users rely on;
``targets`` names them for the CLI.
"""
