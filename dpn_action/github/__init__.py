"""The GitHub Action face: pull-request previews, apply on merge, the WAL as an artifact.

`action.py` is the `dpn action` entry; `api.py` a small REST client; `comment.py` renders
and finds the sticky comment; `event.py` reads the event payload; `git.py` reads the
repository at another commit; `preview.py` computes the name diff of a change.
"""
