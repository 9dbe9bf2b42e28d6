"""The consumer web app at ``/app``: server-rendered pages (Jinja2 + htmx) over the domain services,
signed in with a session cookie, in English and Traditional Chinese (ADR 0030)."""
