"""The web UI of `stepaudio serve` (extra `web`): a Gradio app mounted at `/` next to the HTTP API.

It holds no model: every action goes to stepaudiod through stepaudio_serve's AsyncDaemonClient, the
client the HTTP API uses, so the CLI, the API and the UI share one lazily loaded model.

    actions.py   what the UI does, without Gradio (testable in-process against a real daemon)
    views.py     status and results rendered as tables and text
    ui.py        the Gradio Blocks: Clone, Edit, Voices, Models tabs
    mount.py     mounting on the FastAPI app, with the API key as the UI's password
"""
