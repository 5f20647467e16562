"""The worker: the Faust shell around the KPI core, as components wired by `app.create_app`."""
